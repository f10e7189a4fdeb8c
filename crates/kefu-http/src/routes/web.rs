//! Serves the embedded console (SPA with history routes), `widget.js` and the demo shop page:
//! precompressed (Brotli or gzip, as the client accepts) with strong ETags, so a reload answers
//! 304 and a first visit moves a fraction of the bytes.

use crate::AppState;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/demo/shop", get(demo_shop))
        .route("/demo/identity", get(demo_identity))
        .fallback(get(asset))
}

fn serve(path: &str, request: &HeaderMap) -> Option<Response> {
    let text = |name| {
        request
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let asset = kefu_web::get(path, text(header::ACCEPT_ENCODING))?;
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut headers = HeaderMap::new();
    let mut set = |name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::CACHE_CONTROL, cache);
    set(header::ETAG, &asset.etag);
    if asset.varies {
        set(header::VARY, "Accept-Encoding");
    }
    if kefu_web::etag_matches(text(header::IF_NONE_MATCH), &asset.etag) {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    set(header::CONTENT_TYPE, &asset.content_type);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(encoding) = asset.encoding {
        set(header::CONTENT_ENCODING, encoding);
    }
    Some((headers, asset.bytes.into_owned()).into_response())
}

async fn demo_shop(request: HeaderMap) -> Response {
    serve("demo/shop.html", &request)
        .unwrap_or_else(|| (StatusCode::NOT_FOUND, "the web assets are not built").into_response())
}

#[derive(serde::Deserialize)]
struct DemoIdentityQuery {
    #[serde(rename = "as")]
    as_: String,
}

/// Plays the demo shop's own server: signs the identity of one of the demo shoppers (external ids
/// `demo-…`, seeded by `kefu demo`) so `/demo/shop?as=demo-u1001` shows a logged-in shopper whose
/// history follows them to any device. Only the `demo` shop and only its `demo-` customers, so it
/// can never vouch for a real shop's shopper.
async fn demo_identity(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(q): axum::extract::Query<DemoIdentityQuery>,
) -> Response {
    use kefu_core::customers::{CustomerFilter, SignedIdentity, sign_identity};
    let not_found =
        || crate::error::error_response(kefu_core::ErrorCode::NotFound, "no such demo shopper");
    if !q.as_.starts_with("demo-") {
        return not_found();
    }
    let Ok(Some(shop)) = state.store.shop_by_slug("demo").await else {
        return not_found();
    };
    let filter = CustomerFilter {
        q: Some(q.as_.clone()),
        limit: 5,
        ..Default::default()
    };
    let Ok(page) = state.store.list_customers(shop.id, &filter).await else {
        return not_found();
    };
    let Some(c) = page
        .customers
        .into_iter()
        .find(|c| c.external_id.as_deref() == Some(q.as_.as_str()))
    else {
        return not_found();
    };
    let Ok(secret) = state.store.identity_secret(shop.id).await else {
        return not_found();
    };
    let mut identity = SignedIdentity {
        external_id: q.as_.clone(),
        name: Some(c.name),
        email: c.email,
        phone: c.phone,
        timestamp: kefu_core::time::Millis::now().0 / 1000,
        signature: String::new(),
    };
    identity.signature = sign_identity(&secret, &shop.slug, &identity);
    axum::Json(serde_json::json!({
        "identity": {
            "external_id": identity.external_id,
            "name": identity.name,
            "email": identity.email,
            "phone": identity.phone,
            "timestamp": identity.timestamp,
            "signature": identity.signature,
        }
    }))
    .into_response()
}

async fn asset(uri: Uri, request: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return crate::error::error_response(kefu_core::ErrorCode::NotFound, "no such endpoint");
    }
    if let Some(found) = serve(if path.is_empty() { "index.html" } else { path }, &request) {
        return found;
    }
    // Unknown non-file paths are console routes (history mode): hand them the SPA.
    if !path.contains('.')
        && let Some(index) = serve("index.html", &request)
    {
        return index;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}
