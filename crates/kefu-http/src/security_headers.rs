//! Defence-in-depth headers on every answer (issue 20, item 11).
//!
//! - Pages (the console, the demo shop) carry a Content-Security-Policy: scripts only from this
//!   server (no inline script, no `eval`), no plugins, and `frame-ancestors 'none'` (with
//!   `X-Frame-Options: DENY` for older browsers) so no other site can frame the console and trick
//!   an agent into clicks. Styles allow inline `style` attributes: Vue and ECharts set them.
//! - Every answer is `nosniff`, so a JSON answer or an uploaded file is never run as a script or
//!   page by a browser guessing its type.
//! - API answers are `no-store` unless the route chose its own caching: logins, visitor sessions
//!   and temporary passwords carry secrets that no cache (browser or proxy) may keep.
//! - `Referrer-Policy: same-origin`, so links out of the console never leak its paths.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The console's and demo page's policy. `connect-src 'self'` covers the same-host WebSocket
/// (CSP Level 3 matches `ws:`/`wss:` of this origin); images may be `data:` (inline icons) or
/// `blob:` (previews of files being uploaded).
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub async fn harden(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if is_page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
