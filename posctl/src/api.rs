//! HTTP calls to central and the store nodes (JSON, bearer token). Request bodies are never logged or
//! put into errors: some carry passwords.

use std::time::Duration;

use anyhow::Context;
use pos_shared::page::{MAX_LIMIT, Page};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A call that got an answer other than 2xx.
#[derive(Debug, thiserror::Error)]
#[error("{method} {url} answered {status}: {detail}")]
pub struct HttpError {
    pub method: &'static str,
    pub url: String,
    pub status: u16,
    /// `error: message` from the API's error body, else the start of the body.
    pub detail: String,
}

/// The status of a failed call, when it got an answer.
pub fn status_of(error: &anyhow::Error) -> Option<u16> {
    error.downcast_ref::<HttpError>().map(|e| e.status)
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        Self::with_timeout(base, token, Duration::from_secs(30))
    }

    /// A client whose calls each give up after `timeout`.
    pub fn with_timeout(base: &str, token: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send("GET", path, request).await
    }

    /// Every item of a paginated list (`path` with or without a query), page after page.
    pub async fn get_all<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        let mut after = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let page_path = match after {
                None => format!("{path}{join}limit={MAX_LIMIT}"),
                Some(after) => format!("{path}{join}limit={MAX_LIMIT}&after={after}"),
            };
            let page: Page<T> = self.get(&page_path).await?;
            items.extend(page.items);
            match page.next {
                None => return Ok(items),
                next => after = next,
            }
        }
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send("POST", path, request).await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.http.patch(format!("{}{path}", self.base)).json(body);
        self.send("PATCH", path, request).await
    }

    /// A call answered with no body (204).
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let request = self.http.delete(format!("{}{path}", self.base));
        self.answer("DELETE", path, request).await.map(drop)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let (status, body) = self.answer(method, path, request).await?;
        serde_json::from_slice(&body)
            .with_context(|| format!("{method} {url}: unexpected answer ({status})"))
    }

    /// Sends the call; the status and body of a 2xx answer, else an [`HttpError`].
    async fn answer(
        &self,
        method: &'static str,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("{method} {url}: no answer"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        if !status.is_success() {
            return Err(HttpError {
                method,
                url,
                status: status.as_u16(),
                detail: error_detail(&body),
            }
            .into());
        }
        Ok((status, body.to_vec()))
    }
}

fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
        message: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => match e.message {
            Some(message) => format!("{} ({message})", e.error),
            None => e.error,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "empty body".to_owned()
            } else {
                text.chars().take(200).collect()
            }
        }
    }
}

/// `GET {base}/health`: the status code, or `None` when nothing answers.
pub async fn health(base: &str) -> Option<u16> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let response = http.get(format!("{base}/health")).send().await.ok()?;
    Some(response.status().as_u16())
}

/// Central's and the nodes' resources, as far as posctl reads them.
pub mod model {
    use serde::Deserialize;

    #[derive(Debug, Clone, Deserialize)]
    pub struct City {
        pub id: i32,
        pub name: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Node {
        pub city_id: i32,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Category {
        pub id: i32,
        pub name: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Product {
        pub id: i32,
        pub sku: String,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Store {
        pub id: i32,
        pub code: String,
        pub name: String,
        pub city_id: i32,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct Customer {
        pub email: Option<String>,
    }

    #[derive(Debug, Clone, Deserialize)]
    pub struct StockLine {
        pub product_id: i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_come_from_the_api_body() {
        assert_eq!(
            error_detail(br#"{"error":"validation_failed","message":"name: must not be empty"}"#),
            "validation_failed (name: must not be empty)"
        );
        assert_eq!(error_detail(b""), "empty body");
        assert_eq!(error_detail(b"oops"), "oops");
        let error: anyhow::Error = HttpError {
            method: "POST",
            url: "http://x/nodes".into(),
            status: 404,
            detail: "not_found".into(),
        }
        .into();
        assert_eq!(status_of(&error.context("registering")), Some(404));
    }
}
