//! Who a head-office request is from, and what they may do. Two kinds of bearer: the bootstrap admin
//! token (`POS_ADMIN_TOKEN`, for automation) and a named account's session token (`POST /sessions`),
//! known to the database by its SHA-256 only. Each account has a role: `viewer` (reports, orders, the
//! dashboard), `manager` (that, and master data) or `admin` (everything: nodes, credentials,
//! replication, accounts, the audit trail).
//!
//! Passwords are hashed with Argon2id (RustCrypto's `argon2`, its default parameters: 19 MiB, 2 passes,
//! the OWASP recommendation), on the blocking pool: a hash costs tens of milliseconds of CPU.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pos_shared::auth::{Principal, TokenRegistry};
use pos_shared::error::ApiError;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// What an account may do, in order of rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Manager,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "manager" => Some(Self::Manager),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Manager => "manager",
            Self::Admin => "admin",
        }
    }
}

/// The audit trail's name for the bootstrap admin token.
pub const ADMIN_TOKEN_ACTOR: &str = "admin-token";

/// Who a request is from.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The account's name, or [`ADMIN_TOKEN_ACTOR`].
    pub name: String,
    pub role: Role,
    /// The session it came with (`None` for the admin token itself).
    pub session_id: Option<i64>,
    /// Its account (`None` for the admin token and its sessions).
    pub account_id: Option<i32>,
}

pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The actor of a bearer `token`: the admin token, or a live session's account; `None` for neither.
pub async fn actor_of(
    state: &AppState,
    registry: &TokenRegistry,
    token: &str,
) -> Result<Option<Actor>, ApiError> {
    if registry.principal(token) == Some(Principal::Admin) {
        return Ok(Some(Actor {
            name: ADMIN_TOKEN_ACTOR.to_owned(),
            role: Role::Admin,
            session_id: None,
            account_id: None,
        }));
    }
    let client = crate::routes::client(state).await?;
    let session = crate::db::accounts::live_session(&client, &token_sha256(token)).await?;
    Ok(session.and_then(|session| {
        let (name, role) = match (session.username, session.role) {
            (Some(name), Some(role)) => (name, Role::parse(&role)?),
            _ => (ADMIN_TOKEN_ACTOR.to_owned(), Role::Admin),
        };
        Some(Actor {
            name,
            role,
            session_id: Some(session.id),
            account_id: session.account_id,
        })
    }))
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The request's actor, if it has at least `needed`: 401 without a valid bearer, 403 without the role.
async fn authorize(req: HttpRequest, needed: Role) -> Result<Actor, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .context("the application state is not configured")?;
    let registry = req
        .app_data::<web::Data<TokenRegistry>>()
        .context("the token registry is not configured")?;
    let token = bearer(&req).ok_or(ApiError::Unauthorized)?;
    let actor = actor_of(state, registry, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if actor.role < needed {
        return Err(ApiError::Forbidden(format!(
            "this needs the {} role (yours: {})",
            needed.as_str(),
            actor.role.as_str()
        )));
    }
    Ok(actor)
}

macro_rules! access {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        pub struct $name(pub Actor);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let req = req.clone();
                Box::pin(async move { authorize(req, $role).await.map($name) })
            }
        }
    };
}

access!(
    /// Extractor: an admin (the admin token, or an account with the `admin` role).
    AdminAccess,
    Role::Admin
);
access!(
    /// Extractor: a manager or an admin (master data and reports).
    ManagerAccess,
    Role::Manager
);
access!(
    /// Extractor: any head-office account (reports, orders, the dashboard).
    ViewerAccess,
    Role::Viewer
);

fn argon2_hash(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// An Argon2id PHC string of `password` with a fresh salt.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || argon2_hash(&password))
        .await
        .context("the password hashing task")?
}

/// The hash of a random password nobody knows: a login for a name that does not exist is checked
/// against it, so that it costs what one for a real name does (the timing does not tell which names
/// exist).
static NO_ACCOUNT_HASH: std::sync::LazyLock<Option<String>> =
    std::sync::LazyLock::new(|| argon2_hash(&pos_shared::auth::generate_token()).ok());

/// Whether `password` matches `hash` (`None`: no such account, checked against a hash nothing matches).
pub async fn password_matches(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let exists = hash.is_some();
        let hash = hash
            .or_else(|| NO_ACCOUNT_HASH.clone())
            .context("hashing the password of no account")?;
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("a stored hash: {e}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(exists && matches)
    })
    .await
    .context("the password checking task")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_is_hashed_with_argon2id_and_only_it_matches() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(
            password_matches("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !password_matches("wrong horse battery".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!password_matches("anything".into(), None).await.unwrap());
    }

    #[test]
    fn roles_are_ordered_by_rights() {
        assert!(Role::Viewer < Role::Manager && Role::Manager < Role::Admin);
        for role in [Role::Viewer, Role::Manager, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
