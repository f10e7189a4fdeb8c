//! Cross-origin access for the widget, which a shop embeds on its own site
//! (`<script src="https://KEFU/widget.js" data-shop="acme">`): every call it makes to kefu is
//! then cross-origin, and without CORS the browser never lets a shopper's message through.
//!
//! Only the shopper-facing routes ([`is_widget_path`]) answer preflights and carry
//! `Access-Control-Allow-Origin: *`. That is safe because the widget authenticates with a bearer
//! visitor token, never a cookie: a wildcard origin forbids credentialed requests, so no page can
//! ride on an agent's session cookie. Agent routes get no CORS headers at all.
//!
//! A shop may still list the sites allowed to embed its widget (`ShopSettings::widget_origins`);
//! [`check_widget_origin`] refuses a request whose `Origin` is another site. The list is cached
//! per shop for a short time so the check costs no database read on the message path.

use crate::AppState;
use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HOST, ORIGIN,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kefu_core::model::{Id, ShopSettings, widget_origin_allowed};
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a shop's origin list is trusted before it is read again (a settings change clears it
/// at once on this node).
const ORIGINS_TTL: Duration = Duration::from_secs(30);

/// Whether a path belongs to the shopper's side, reached from the shop's pages: the widget API
/// and the attachment downloads the widget fetches with its token.
pub fn is_widget_path(method: &Method, path: &str) -> bool {
    path.starts_with("/api/v1/widget/")
        || (path.starts_with("/api/v1/attachments/")
            && (method == Method::GET || method == Method::OPTIONS))
}

/// The middleware: answers the widget routes' preflights and marks their responses readable
/// from any origin. Other routes pass untouched (a preflight there gets no CORS headers, so the
/// browser refuses the cross-origin call).
pub async fn widget_cors(request: Request, next: Next) -> Response {
    let widget = is_widget_path(request.method(), request.uri().path());
    if !widget {
        return next.run(request).await;
    }
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return response;
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    // The widget waits as long as a 429 says.
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    response
}

/// The shops' widget origin lists, read at most every [`ORIGINS_TTL`].
#[derive(Default)]
pub struct OriginCache {
    entries: Mutex<HashMap<Id, (Vec<String>, Instant)>>,
}

impl OriginCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, (Vec<String>, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, shop_id: Id) -> Option<Vec<String>> {
        let entries = self.lock();
        let (origins, at) = entries.get(&shop_id)?;
        (at.elapsed() < ORIGINS_TTL).then(|| origins.clone())
    }

    /// Remembers a shop's list as just read (also how a settings change updates it).
    pub fn put(&self, shop_id: Id, origins: Vec<String>) {
        self.lock().insert(shop_id, (origins, Instant::now()));
    }
}

/// The request's `Origin` when it names another site than kefu itself (`None` for same-origin
/// requests, which kefu's own demo page makes, and for clients that send no `Origin`).
fn foreign_origin(headers: &HeaderMap) -> Option<&str> {
    let origin = headers.get(ORIGIN)?.to_str().ok()?;
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => None,
        _ => Some(origin),
    }
}

/// Refuses a widget request from a page the shop has not listed (when it lists any).
pub fn check_origin_against(headers: &HeaderMap, settings: &ShopSettings) -> Result<()> {
    refuse_unlisted(foreign_origin(headers), &settings.widget_origins)
}

fn refuse_unlisted(origin: Option<&str>, allowed: &[String]) -> Result<()> {
    match origin {
        Some(origin) if !widget_origin_allowed(allowed, origin) => Err(Error::forbidden(
            "this site is not allowed to embed the shop's chat widget",
        )),
        _ => Ok(()),
    }
}

/// [`check_origin_against`] for a shop known by id (a shopper's token), from the cache.
pub async fn check_widget_origin(state: &AppState, headers: &HeaderMap, shop_id: Id) -> Result<()> {
    let Some(origin) = foreign_origin(headers) else {
        return Ok(());
    };
    let allowed = match state.widget_origins.get(shop_id) {
        Some(allowed) => allowed,
        None => {
            let shop = state
                .store
                .shop_by_id(shop_id)
                .await?
                .ok_or_else(|| Error::not_found("shop"))?;
            let allowed = shop.settings.widget_origins;
            state.widget_origins.put(shop_id, allowed.clone());
            allowed
        }
    };
    refuse_unlisted(Some(origin), &allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn widget_paths_only() {
        assert!(is_widget_path(&Method::POST, "/api/v1/widget/messages"));
        assert!(is_widget_path(&Method::OPTIONS, "/api/v1/widget/sessions"));
        assert!(is_widget_path(&Method::GET, "/api/v1/attachments/7/thumb"));
        assert!(!is_widget_path(&Method::DELETE, "/api/v1/attachments/7"));
        assert!(!is_widget_path(&Method::POST, "/api/v1/auth/login"));
        assert!(!is_widget_path(&Method::GET, "/api/v1/conversations"));
    }

    #[test]
    fn listed_origins_only_when_listed() {
        let listed = ShopSettings {
            widget_origins: vec!["https://shop.example".into()],
            ..ShopSettings::default()
        };
        let any = ShopSettings::default();
        let evil = headers(Some("https://evil.example"), "kefu.example");
        assert!(check_origin_against(&evil, &any).is_ok());
        assert!(check_origin_against(&evil, &listed).is_err());
        assert!(
            check_origin_against(
                &headers(Some("https://shop.example"), "kefu.example"),
                &listed
            )
            .is_ok()
        );
        // kefu's own pages and clients without Origin are never refused.
        assert!(
            check_origin_against(
                &headers(Some("https://kefu.example"), "kefu.example"),
                &listed
            )
            .is_ok()
        );
        assert!(check_origin_against(&headers(None, "kefu.example"), &listed).is_ok());
    }
}
