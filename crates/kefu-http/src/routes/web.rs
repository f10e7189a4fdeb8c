//! Serves the embedded console (SPA with history routes), `widget.js` and the demo shop page.

use crate::AppState;
use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/demo/shop", get(demo_shop))
        .fallback(get(asset))
}

fn serve(path: &str) -> Option<Response> {
    let asset = kefu_web::get(path)?;
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Some(
        (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, cache.to_owned()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            asset.bytes.into_owned(),
        )
            .into_response(),
    )
}

async fn demo_shop() -> Response {
    serve("demo/shop.html")
        .unwrap_or_else(|| (StatusCode::NOT_FOUND, "the web assets are not built").into_response())
}

async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return crate::error::error_response(kefu_core::ErrorCode::NotFound, "no such endpoint");
    }
    if let Some(found) = serve(if path.is_empty() { "index.html" } else { path }) {
        return found;
    }
    // Unknown non-file paths are console routes (history mode): hand them the SPA.
    if !path.contains('.')
        && let Some(index) = serve("index.html")
    {
        return index;
    }
    (StatusCode::NOT_FOUND, "not found").into_response()
}
