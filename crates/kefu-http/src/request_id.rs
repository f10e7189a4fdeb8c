//! A request id on every response (`X-Request-Id`), and the one place internal errors are logged.
//!
//! The id is the caller's own `X-Request-Id` when it is a short token (a proxy or the console may
//! set one to follow a request across systems), otherwise a new random one. It lives in a
//! task-local for the duration of the request, so [`crate::error::ApiError`] can name it in the
//! body of a 500 and in the single log line that carries the error's cause: a person who reports
//! "编号 3f9c…" leads an operator straight to the log entry.

use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

pub const HEADER: &str = "x-request-id";

/// What the log needs to know about the request an error happened in.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub id: Arc<str>,
    pub method: Method,
    /// The path without the query string: queries can hold search terms and tokens.
    pub path: Arc<str>,
}

tokio::task_local! {
    static CURRENT: RequestInfo;
}

/// The request being answered by this task, if any.
pub fn current() -> Option<RequestInfo> {
    CURRENT.try_with(Clone::clone).ok()
}

/// A caller's id is kept only when it is 1–64 characters of `[A-Za-z0-9._-]`, so it can be
/// logged and echoed without escaping.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// 64 random bits in hex: unique enough to find one request in the logs.
fn new_id() -> String {
    let mut id = kefu_core::token::generate("");
    id.truncate(16);
    id
}

/// Middleware: gives the request an id, runs it inside that id's scope, and answers with the id.
pub async fn tag_request(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(new_id);
    let info = RequestInfo {
        id: id.as_str().into(),
        method: request.method().clone(),
        path: request.uri().path().into(),
    };
    let mut response = CURRENT.scope(info, next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_from_the_caller() {
        assert!(acceptable("3f9c0a1b2c3d4e5f"));
        assert!(acceptable("req-2026.12.07_1"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("id with space"));
        assert!(!acceptable("evil\r\nheader"));
        assert_eq!(new_id().len(), 16);
        assert_ne!(new_id(), new_id());
    }
}

#[cfg(test)]
mod http_tests {
    use crate::error::ApiError;
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/boom",
                get(|| async {
                    Err::<(), _>(ApiError(kefu_core::Error::internal_from(
                        std::io::Error::other("disk on fire"),
                    )))
                }),
            )
            .route(
                "/missing",
                get(|| async { Err::<(), _>(ApiError(kefu_core::Error::not_found("order"))) }),
            )
            .layer(axum::middleware::from_fn(super::tag_request))
    }

    async fn call(path: &str, id: Option<&str>) -> (String, serde_json::Value) {
        let mut request = Request::get(path);
        if let Some(id) = id {
            request = request.header(super::HEADER, id);
        }
        let response = app()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = response.headers()[super::HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (header, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn an_internal_error_names_its_request_and_hides_its_cause() {
        let (header, body) = call("/boom", None).await;
        assert_eq!(header.len(), 16);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error");
        assert_eq!(body["error"]["request_id"], header.as_str());
        assert!(!body.to_string().contains("disk on fire"), "{body}");

        let (header, body) = call("/boom", Some("trace-42")).await;
        assert_eq!(
            (header.as_str(), &body["error"]["request_id"]),
            ("trace-42", &serde_json::json!("trace-42"))
        );

        // A caller's id that cannot be echoed safely is replaced.
        let (header, _) = call("/boom", Some("no spaces allowed")).await;
        assert_ne!(header, "no spaces allowed");
    }

    #[tokio::test]
    async fn other_errors_carry_the_id_in_the_header_only() {
        let (header, body) = call("/missing", None).await;
        assert_eq!(header.len(), 16);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"].get("request_id").is_none());
    }
}
