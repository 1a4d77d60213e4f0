//! Transport: HTTPS on the services' listener and the metrics token; the certificate helpers that
//! `database_tls` shares. Certificates are made here, at test time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use central::startup::Application;
use pos_shared::tls::TlsFiles;
use secrecy::{ExposeSecret, SecretString};

use crate::common::{central_config, central_database, replication_config};

/// A self-signed certificate for `names` and its key, as PEM.
fn self_signed(names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// A CA made now, and a certificate it issued for `names`: `(ca, certificate, key)`, as PEM.
pub(crate) fn issued_by_a_new_ca(names: &[&str]) -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pos test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certificate = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), certificate.pem(), key.serialize_pem())
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn with_query(url: &SecretString, query: &str) -> SecretString {
    SecretString::from(format!("{}?{query}", url.expose_secret()))
}

/// Whether the session `client` is on came in over TLS, as the server sees it.
pub(crate) async fn session_ssl(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A client that trusts `ca_pem` alone.
fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_serves_with_the_configured_certificate_and_plain_http_is_not_served() {
    let (instance, db) = central_database().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["localhost", "127.0.0.1"]);
    let (mut config, admin) = central_config(
        instance.app_url(&db),
        Some(instance.owner_url(&db)),
        replication_config(),
    );
    config.common.tls = Some(TlsFiles {
        cert: write(dir.path(), "cert.pem", &cert),
        key: write(dir.path(), "key.pem", &key),
    });
    let app = Application::build(config).await.expect("central starts");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());

    let https = https_client(&cert);
    for host in ["localhost", "127.0.0.1"] {
        let health = https
            .get(format!("https://{host}:{port}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{host}");
    }
    let cities = https
        .get(format!("https://127.0.0.1:{port}/cities"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(cities.status(), 200);
    assert!(cities.json::<serde_json::Value>().await.unwrap()["items"].is_array());

    // Plain HTTP to the same port gets no answer: the server expects a TLS handshake and hangs up.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    // A client that does not trust the certificate refuses the server: it really is that certificate.
    let (stranger, _) = self_signed(&["localhost"]);
    let untrusted = https_client(&stranger)
        .get(format!("https://localhost:{port}/health"))
        .send()
        .await;
    assert!(untrusted.is_err(), "{untrusted:?}");
}

#[tokio::test]
async fn unusable_certificate_files_stop_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["localhost"]);
    let (_, other_key) = self_signed(&["localhost"]);
    let cert_file = write(dir.path(), "cert.pem", &cert);
    let cases = [
        (
            TlsFiles {
                cert: dir.path().join("missing.pem"),
                key: write(dir.path(), "key.pem", &key),
            },
            "POS_TLS_CERT: reading certificates from",
        ),
        (
            TlsFiles {
                cert: cert_file.clone(),
                key: cert_file.clone(),
            },
            "POS_TLS_KEY: reading a private key from",
        ),
        (
            TlsFiles {
                cert: cert_file.clone(),
                key: write(dir.path(), "other.pem", &other_key),
            },
            "is not the certificate's",
        ),
        (
            TlsFiles {
                cert: write(dir.path(), "empty.pem", ""),
                key: write(dir.path(), "key2.pem", &key),
            },
            "holds no certificate",
        ),
    ];
    for (files, expected) in cases {
        // Read before the database is opened: this URL is never connected to.
        let (mut config, _) = central_config(
            SecretString::from("postgres://pos_app:never-used@127.0.0.1:1/none".to_owned()),
            None,
            replication_config(),
        );
        config.common.tls = Some(files.clone());
        let err = match Application::build(config).await {
            Ok(_) => panic!("central started with {files:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expected), "{files:?}: {err}");
        assert!(
            !err.contains("BEGIN") && !err.contains("never-used"),
            "no PEM text nor password in the message: {err}"
        );
    }
}

#[tokio::test]
async fn the_metrics_token_guards_metrics_and_nothing_else() {
    let (instance, db) = central_database().await;
    let token = pos_shared::auth::generate_token();
    let (mut config, admin) = central_config(
        instance.app_url(&db),
        Some(instance.owner_url(&db)),
        replication_config(),
    );
    config.common.metrics_token = Some(SecretString::from(token.clone()));
    let app = Application::build(config).await.expect("central starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let metrics = |bearer: Option<&str>| {
        let mut request = http.get(format!("{url}/metrics"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };

    for (who, bearer) in [
        ("no token", None),
        ("the admin token", Some(admin.as_str())),
        ("a wrong token", Some("0123456789abcdef0123456789abcdef")),
    ] {
        let refused = metrics(bearer).await.unwrap();
        assert_eq!(refused.status(), 401, "{who}");
        assert_eq!(refused.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{who}: {body}");
        assert!(body["message"].is_string());
    }
    let scraped = metrics(Some(&token)).await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("pos_http_requests_total"), "{text}");
    // The 401s were counted like any request: the scrape sees them.
    assert!(text.contains("status=\"401\""), "{text}");

    // The rest is as without the token.
    let health = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let doc: serde_json::Value = http
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operation = &doc["paths"]["/metrics"]["get"];
    assert_eq!(
        operation["security"],
        serde_json::json!([{}, { "metrics_token": [] }]),
        "the document says the token may be needed"
    );
    assert!(operation["responses"].get("401").is_some());
    let scheme = &doc["components"]["securitySchemes"][pos_shared::openapi::METRICS_TOKEN];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
}
