//! Authentication: argon2id passwords, agent sessions (Bearer token or the console's cookie) and
//! shopper visitor tokens. Tokens are random and stored hashed ([`kefu_core::token`]).

use crate::AppState;
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use kefu_core::model::{User, Visitor};
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result, token};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "kefu_session";
/// How long an agent session lasts.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Hashes a password with argon2id off the async runtime (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        // 128 random bits, hex-encoded (hex is valid salt alphabet).
        let random = token::generate("");
        let salt = SaltString::from_b64(&random[..32]).map_err(Error::internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(Error::internal)
    })
    .await
    .map_err(Error::internal)?
}

/// Checks a password against a stored hash, off the async runtime.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A dummy hash verified when the e-mail is unknown, so timing does not reveal which e-mails exist.
/// Password checks that may run at once, and how many may wait for one.
///
/// Each argon2id check takes 19 MiB and tens of milliseconds of a core: without a cap, 300
/// simultaneous logins from 300 addresses took the server to 2.3 GB. Past the queue, a login is
/// told to come back (429) instead of piling up.
pub struct PasswordChecks {
    running: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl PasswordChecks {
    pub fn new(concurrent: usize, max_waiting: usize) -> Self {
        Self {
            running: tokio::sync::Semaphore::new(concurrent.max(1)),
            waiting: Default::default(),
            max_waiting,
        }
    }

    /// [`verify_password`] within the cap; `rate_limited` when too many are already queued.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(
                ErrorCode::RateLimited,
                "too many sign-ins at once; try again in a moment",
            ));
        }
        let permit = self.running.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(Error::internal)?;
        Ok(verify_password(password, hash).await)
    }
}

impl Default for PasswordChecks {
    /// Two at once (one per core of a small server), 64 waiting.
    fn default() -> Self {
        Self::new(2, 64)
    }
}

pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9aW1XjVvfbJKk1b8yXoZp8FvT2dDDXv7w4sUZf3bq1o";

fn bearer(parts: &Parts) -> Option<String> {
    let header = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';').find_map(|kv| {
                let (k, val) = kv.trim().split_once('=')?;
                (k == name).then(|| val.to_owned())
            })
        })
}

/// Looks up the agent owning a session token.
pub async fn agent_from_token(state: &AppState, token: &str) -> Result<User> {
    state
        .store
        .session_user(&token::hash(token), Millis::now())
        .await?
        .ok_or_else(|| Error::unauthorized("invalid or expired token"))
}

/// Looks up the shopper owning a visitor token.
pub async fn visitor_from_token(state: &AppState, token: &str) -> Result<Visitor> {
    let hash = token::hash(token);
    if let Some(visitor) = state.visitors.get(&hash) {
        return Ok(visitor);
    }
    let visitor = state
        .store
        .visitor(&hash)
        .await?
        .ok_or_else(|| Error::unauthorized("invalid visitor token"))?;
    state.visitors.put(hash, visitor.clone());
    Ok(visitor)
}

/// An authenticated agent (any role) with the token they used.
pub struct Agent {
    pub user: User,
    pub token: String,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .or_else(|| cookie(parts, SESSION_COOKIE))
            .ok_or_else(|| Error::unauthorized("missing credentials"))?;
        let user = agent_from_token(state, &token).await?;
        Ok(Agent { user, token })
    }
}

/// An authenticated shopper.
pub struct Shopper(pub Visitor);

impl FromRequestParts<AppState> for Shopper {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| Error::unauthorized("missing visitor token"))?;
        let visitor = visitor_from_token(state, &token).await?;
        crate::cors::check_widget_origin(state, &parts.headers, visitor.shop_id).await?;
        Ok(Shopper(visitor))
    }
}

/// The shopper's token if one was sent (returning visitors), without failing when absent.
pub fn optional_bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    let header = parts.get(AUTHORIZATION)?.to_str().ok()?;
    header.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// The client's address (for rate limits): the peer, or the client behind a trusted proxy
/// ([`crate::client_ip`]). Falls back to 0.0.0.0 when unknown (oneshot tests).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<crate::client_ip::ResolvedClientIp>()
            .map(|c| c.0)
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_checks_queue_is_bounded() {
        let checks = PasswordChecks::new(1, 0);
        let e = checks
            .verify("x".into(), DUMMY_HASH.into())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        let checks = PasswordChecks::new(1, 4);
        assert!(!checks.verify("x".into(), DUMMY_HASH.into()).await.unwrap());
        assert_eq!(checks.waiting.load(std::sync::atomic::Ordering::Acquire), 0);
    }
}
