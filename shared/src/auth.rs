//! Bearer-token authentication. Tokens are compared by their SHA-256 digest, so neither the tokens nor
//! their comparison timing leak through the lookup. Roles: `admin` (head office) and `cashier` (one store).

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::{Arc, PoisonError, RwLock};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Admin,
    /// One store's till. `credential` is the one head office issued (`None`: a token of the node's own
    /// configuration, `POS_CASHIER_TOKENS`).
    Cashier {
        store_id: i32,
        credential: Option<Credential>,
    },
}

/// A credential head office issued: its id (sales record it, receipts print its cashier and terminal)
/// and whether it is a store manager's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    pub id: i32,
    pub manager: bool,
}

type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// A token's SHA-256 digest in hex: how head office stores a cashier credential (never the token).
pub fn token_digest_hex(token: &str) -> String {
    hex::encode(digest(token))
}

/// The tokens a service accepts: those of its configuration, and (at a store node) the cashier
/// credentials head office issued, replicated to the node and reloaded when they change.
#[derive(Debug, Clone, Default)]
pub struct TokenRegistry {
    tokens: Arc<HashMap<TokenDigest, Principal>>,
    admin: Arc<RwLock<Vec<TokenDigest>>>,
    issued: Arc<RwLock<HashMap<TokenDigest, Principal>>>,
}

/// The digests of `POS_ADMIN_TOKEN`: one token, or while it is rotated the new one and the old one
/// separated by a comma (both are accepted until the old one is dropped from the setting).
fn admin_digests(admin: &SecretString) -> Vec<TokenDigest> {
    admin
        .expose_secret()
        .split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(digest)
        .collect()
}

impl TokenRegistry {
    /// `admin` is `POS_ADMIN_TOKEN` (see [`admin_digests`]); `cashiers` the node's own `POS_CASHIER_TOKENS`.
    pub fn new(admin: Option<&SecretString>, cashiers: &[(i32, SecretString)]) -> Self {
        let mut tokens = HashMap::new();
        for (store_id, token) in cashiers {
            tokens.insert(
                digest(token.expose_secret()),
                Principal::Cashier {
                    store_id: *store_id,
                    credential: None,
                },
            );
        }
        Self {
            tokens: Arc::new(tokens),
            admin: Arc::new(RwLock::new(admin.map(admin_digests).unwrap_or_default())),
            issued: Arc::default(),
        }
    }

    /// Replaces head office's tokens (a rotation read from `POS_ADMIN_TOKEN_FILE`).
    pub fn set_admin(&self, admin: &SecretString) {
        *self.admin.write().unwrap_or_else(PoisonError::into_inner) = admin_digests(admin);
    }

    pub fn principal(&self, token: &str) -> Option<Principal> {
        let digest = digest(token);
        if self
            .admin
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&digest)
        {
            return Some(Principal::Admin);
        }
        self.tokens.get(&digest).copied().or_else(|| {
            self.issued
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&digest)
                .copied()
        })
    }

    /// Replaces the issued cashier credentials: (SHA-256 digest in hex, store, credential). A digest
    /// that is not 64 hex digits is skipped; how many were taken is returned.
    pub fn set_issued<'a>(
        &self,
        cashiers: impl IntoIterator<Item = (&'a str, i32, Credential)>,
    ) -> usize {
        let issued: HashMap<TokenDigest, Principal> = cashiers
            .into_iter()
            .filter_map(|(hex_digest, store_id, credential)| {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_digest, &mut digest).ok()?;
                Some((
                    digest,
                    Principal::Cashier {
                        store_id,
                        credential: Some(credential),
                    },
                ))
            })
            .collect();
        let count = issued.len();
        *self.issued.write().unwrap_or_else(PoisonError::into_inner) = issued;
        count
    }
}

/// How often `POS_ADMIN_TOKEN_FILE` is read again for a rotation.
pub const ADMIN_TOKEN_RELOAD: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads `path` (`POS_ADMIN_TOKEN_FILE`) every [`ADMIN_TOKEN_RELOAD`] and puts what it holds into
/// `registry` when it changes: head office's token is rotated by rewriting the file (`NEW,OLD` while
/// clients move, then `NEW`), with no restart. A file that cannot be read, or holds no token, leaves
/// the tokens as they are and is said once as a warning.
pub fn watch_admin_token_file(
    path: std::path::PathBuf,
    registry: TokenRegistry,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = None::<String>;
        let mut warned = false;
        loop {
            tokio::time::sleep(ADMIN_TOKEN_RELOAD).await;
            match tokio::fs::read_to_string(&path).await {
                Ok(text) if !text.trim().is_empty() => {
                    let text = text.trim().to_owned();
                    if last.as_ref() != Some(&text) {
                        if last.is_some() {
                            tracing::warn!(file = %path.display(), "head office's token was rotated");
                        }
                        registry.set_admin(&SecretString::from(text.clone()));
                        last = Some(text);
                    }
                    warned = false;
                }
                result => {
                    if !warned {
                        let why = result
                            .err()
                            .map_or_else(|| "it is empty".to_owned(), |e| e.to_string());
                        tracing::warn!(file = %path.display(), why, "head office's token file cannot be read; the tokens stay as they are");
                        warned = true;
                    }
                }
            }
        }
    })
}

/// The one token an endpoint of its own may ask for (`POS_METRICS_TOKEN` for `/metrics`), compared
/// by digest like the others; none configured lets every request through.
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointToken(Option<TokenDigest>);

impl EndpointToken {
    pub fn new(token: Option<&SecretString>) -> Self {
        Self(token.map(|t| digest(t.expose_secret())))
    }

    pub fn is_required(&self) -> bool {
        self.0.is_some()
    }

    /// Whether `req` may pass: no token is required, or it carries this one as its bearer token.
    pub fn admits(&self, req: &HttpRequest) -> bool {
        match self.0 {
            None => true,
            Some(expected) => bearer(req).is_some_and(|token| digest(token) == expected),
        }
    }
}

/// Parses `POS_CASHIER_TOKENS`: `STORE_ID=TOKEN` pairs separated by commas.
pub fn parse_cashier_tokens(text: &SecretString) -> anyhow::Result<Vec<(i32, SecretString)>> {
    let mut out = Vec::new();
    for (index, pair) in text
        .expose_secret()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let Some((store, token)) = pair.split_once('=') else {
            bail!(
                "POS_CASHIER_TOKENS: entry {} is not STORE_ID=TOKEN",
                index + 1
            );
        };
        let store_id: i32 = store.trim().parse().with_context(|| {
            format!("POS_CASHIER_TOKENS: entry {} has a bad store id", index + 1)
        })?;
        if token.trim().len() < 16 {
            bail!(
                "POS_CASHIER_TOKENS: the token of store {store_id} is shorter than 16 characters"
            );
        }
        out.push((store_id, SecretString::from(token.trim().to_owned())));
    }
    Ok(out)
}

/// A fresh random token (hex, 256 bits).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let registry = req
        .app_data::<web::Data<TokenRegistry>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("token registry is not configured")))?;
    bearer(req)
        .and_then(|token| registry.principal(token))
        .ok_or(ApiError::Unauthorized)
}

/// Extractor: a request from head office.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match authenticate(req) {
            Ok(Principal::Admin) => Ok(Admin),
            Ok(Principal::Cashier { .. }) => Err(ApiError::Forbidden(
                "this endpoint is for head office (admin) only".into(),
            )),
            Err(e) => Err(e),
        })
    }
}

/// Extractor: a cashier, bound to one store.
#[derive(Debug, Clone, Copy)]
pub struct Cashier {
    pub store_id: i32,
    pub credential: Option<Credential>,
}

impl FromRequest for Cashier {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match authenticate(req) {
            Ok(Principal::Cashier {
                store_id,
                credential,
            }) => Ok(Cashier {
                store_id,
                credential,
            }),
            Ok(Principal::Admin) => Err(ApiError::Forbidden(
                "this endpoint is for a store's cashiers".into(),
            )),
            Err(e) => Err(e),
        })
    }
}

/// Extractor: any authenticated caller (read-only endpoints both roles may use).
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(Authenticated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cashier_tokens_parse_and_resolve() {
        let text = SecretString::from("1=aaaaaaaaaaaaaaaaaaaa, 2=bbbbbbbbbbbbbbbbbbbb".to_owned());
        let cashiers = parse_cashier_tokens(&text).unwrap();
        let admin = SecretString::from("cccccccccccccccccccc".to_owned());
        let registry = TokenRegistry::new(Some(&admin), &cashiers);
        assert_eq!(
            registry.principal("bbbbbbbbbbbbbbbbbbbb"),
            Some(Principal::Cashier {
                store_id: 2,
                credential: None
            })
        );
        assert_eq!(
            registry.principal("cccccccccccccccccccc"),
            Some(Principal::Admin)
        );
        assert_eq!(registry.principal("nope"), None);
    }

    #[test]
    fn an_admin_token_being_rotated_is_accepted_beside_the_new_one_until_dropped() {
        let (new, old) = (generate_token(), generate_token());
        let rotating = TokenRegistry::new(Some(&SecretString::from(format!("{new}, {old}"))), &[]);
        assert_eq!(rotating.principal(&new), Some(Principal::Admin));
        assert_eq!(rotating.principal(&old), Some(Principal::Admin));
        assert_eq!(rotating.principal(&format!("{new}, {old}")), None);
        let rotated = TokenRegistry::new(Some(&SecretString::from(new.clone())), &[]);
        assert_eq!(rotated.principal(&new), Some(Principal::Admin));
        assert_eq!(rotated.principal(&old), None);
    }

    #[test]
    fn issued_tokens_resolve_until_replaced() {
        let registry = TokenRegistry::new(None, &[]);
        let token = generate_token();
        let manager = Credential {
            id: 3,
            manager: true,
        };
        assert_eq!(
            registry.set_issued([
                (token_digest_hex(&token).as_str(), 7, manager),
                ("zz", 8, manager)
            ]),
            1
        );
        assert_eq!(
            registry.principal(&token),
            Some(Principal::Cashier {
                store_id: 7,
                credential: Some(manager)
            })
        );
        registry.set_issued([]);
        assert_eq!(
            registry.principal(&token),
            None,
            "a revoked credential stops working"
        );
    }

    #[test]
    fn an_endpoint_token_admits_its_bearer_only() {
        let request = |authorization: Option<&str>| {
            let mut req = actix_web::test::TestRequest::default();
            if let Some(value) = authorization {
                req = req.insert_header(("Authorization", value));
            }
            req.to_http_request()
        };
        let open = EndpointToken::new(None);
        assert!(!open.is_required());
        assert!(open.admits(&request(None)));
        let token = SecretString::from("scrape-scrape-scrape".to_owned());
        let guarded = EndpointToken::new(Some(&token));
        assert!(guarded.is_required());
        assert!(guarded.admits(&request(Some("Bearer scrape-scrape-scrape"))));
        assert!(guarded.admits(&request(Some("bearer scrape-scrape-scrape"))));
        assert!(!guarded.admits(&request(None)));
        assert!(!guarded.admits(&request(Some("Bearer scrape-scrape-scrap"))));
        assert!(!guarded.admits(&request(Some("Basic scrape-scrape-scrape"))));
        assert!(!format!("{guarded:?}").contains("scrape"));
    }

    #[test]
    fn malformed_cashier_tokens_do_not_echo_the_token() {
        let text = SecretString::from("x=supersecretsupersecret".to_owned());
        let err = format!("{:#}", parse_cashier_tokens(&text).unwrap_err());
        assert!(!err.contains("supersecret"), "{err}");
        let short = SecretString::from("1=short".to_owned());
        assert!(parse_cashier_tokens(&short).is_err());
    }
}
