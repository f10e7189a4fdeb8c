//! Authentication: agent sessions (Bearer token or the console's cookie) and shopper visitor
//! tokens (passwords are `kefu_service::passwords`). Tokens are random and stored hashed ([`kefu_core::token`]).

use crate::AppState;
use crate::error::ApiError;
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
    let now = Millis::now();
    let hash = token::hash(token);
    let clock = &state.lifetimes;
    let user = state
        .store
        .session_user(&hash, now, clock.agent_seen_since(now))
        .await?
        .ok_or_else(|| Error::unauthorized("invalid or expired token"))?;
    if clock.agent_due_for_touch(&hash, now) {
        state.store.touch_session(&hash, now).await?;
    }
    Ok(user)
}

/// Looks up the shopper owning a visitor token.
pub async fn visitor_from_token(state: &AppState, token: &str) -> Result<Visitor> {
    let hash = token::hash(token);
    if let Some(visitor) = state.services.visitors.get(&hash) {
        return Ok(visitor);
    }
    let now = Millis::now();
    let visitor = state
        .store
        .visitor(&hash, now, state.lifetimes.visitor_used_since(now))
        .await?
        .ok_or_else(|| Error::unauthorized("invalid visitor token"))?;
    state.services.visitors.put(hash, visitor.clone());
    Ok(visitor)
}

/// An authenticated agent (any role) with the token they used.
pub struct Agent {
    pub user: User,
    pub token: String,
}

impl Agent {
    /// The hash of the session token, as sessions are stored and sockets remember them.
    pub fn session_hash(&self) -> String {
        token::hash(&self.token)
    }
}

/// What a member signed in with a temporary password may still do: read who they are, choose
/// their own password, and log out.
const BEFORE_OWN_PASSWORD: &[(&str, &str)] = &[
    ("GET", "/api/v1/me"),
    ("PUT", "/api/v1/me/password"),
    ("POST", "/api/v1/auth/logout"),
];

/// `password_change_required` for a member still on a temporary password.
pub fn require_own_password(user: &User) -> Result<()> {
    if user.must_change_password {
        return Err(Error::new(
            ErrorCode::PasswordChangeRequired,
            "choose your own password first (PUT /api/v1/me/password)",
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = match bearer(parts) {
            Some(token) => token,
            None => {
                let token = cookie(parts, SESSION_COOKIE)
                    .ok_or_else(|| Error::unauthorized("missing credentials"))?;
                check_same_origin(parts)?;
                token
            }
        };
        let user = agent_from_token(state, &token).await?;
        let allowed = BEFORE_OWN_PASSWORD
            .iter()
            .any(|(m, p)| parts.method.as_str() == *m && parts.uri.path() == *p);
        if !allowed {
            require_own_password(&user)?;
        }
        Ok(Agent { user, token })
    }
}

/// A request the browser authenticated by itself (the console's cookie) that changes something
/// must come from the console's own pages. SameSite=Strict already keeps the cookie off
/// cross-site requests in today's browsers; this is the second wall for the others and for
/// same-site neighbours (another app on a sibling subdomain), which SameSite lets through.
/// Browsers say where a request comes from in `Sec-Fetch-Site` (all current ones) or `Origin`
/// (every cross-origin POST since 2020); a client sending neither is not a browser, and cannot be
/// tricked into sending someone else's cookie. Bearer tokens are never sent by themselves, so
/// requests carrying one need no check.
pub fn check_same_origin(parts: &Parts) -> Result<()> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let refused = || Error::forbidden("cross-site request refused: send it from the console");
    if let Some(site) = text("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(refused()),
        };
    }
    if let Some(origin) = text("origin") {
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let host = text("host");
        return match (authority, host) {
            (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => Ok(()),
            _ => Err(refused()),
        };
    }
    Ok(())
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
