//! The error → HTTP mapping, in one place: every failure leaves as `{"error":{"code","message"}}`
//! with the status from [`ErrorCode::http_status`]. Extractor rejections (bad JSON, wrong types,
//! oversized bodies, bad query strings) are mapped here too, so no handler ever answers with
//! axum's plain-text errors.

use crate::request_id;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use kefu_core::{Error, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `Retry-After` of a 503 `unavailable`: about how long a lost database connection takes to
/// come back or fail over.
const UNAVAILABLE_RETRY_AFTER_SECONDS: &str = "5";

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    /// A human-readable explanation (English).
    pub message: String,
    /// The request field a validation error is about (`phone`, `items[2].qty`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// On an internal error: the id of the request (also in the `X-Request-Id` header), under
    /// which the server logged the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

pub fn error_response(code: ErrorCode, message: impl Into<String>) -> Response {
    ApiError(Error::new(code, message)).into_response()
}

impl From<Error> for ErrorDetail {
    fn from(e: Error) -> Self {
        ErrorDetail {
            code: e.code.as_str().to_owned(),
            message: e.message,
            field: e.field,
            request_id: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let request = request_id::current();
        if self.0.code == ErrorCode::Internal {
            // The one log line of an internal error: its whole cause chain (the Display of
            // `Error`) under the id the client was given.
            let error = &self.0;
            match &request {
                Some(r) => tracing::error!(
                    request_id = %r.id, method = %r.method, path = %r.path, %error,
                    "request failed"
                ),
                None => tracing::error!(%error, "request failed"),
            }
        }
        let code = self.0.code;
        if code == ErrorCode::Unavailable {
            let error = &self.0;
            let id = request.as_ref().map(|r| r.id.clone()).unwrap_or_default();
            tracing::warn!(request_id = %id, %error, "request refused: database unreachable");
        }
        let mut error: ErrorDetail = self.0.into();
        if code == ErrorCode::Internal {
            error.request_id = request.map(|r| r.id.to_string());
        }
        let mut response = (status, axum::Json(ErrorBody { error })).into_response();
        if code == ErrorCode::Unavailable {
            // Come back in a few seconds rather than retrying at once or hanging on.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// `axum::Json` with kefu's error mapping: malformed JSON → 400, wrong types/missing fields →
/// 422, too large → 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes =
            match axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
            {
                Ok(bytes) => bytes,
                Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(Error::new(
                        ErrorCode::PayloadTooLarge,
                        "request body is too large",
                    )
                    .into());
                }
                Err(r) => return Err(Error::bad_request(r.body_text()).into()),
            };
        refuse_nul_in_json(&bytes)?;
        match axum::Json::<T>::from_request(Request::from_parts(parts, bytes.into()), state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

/// Refuses a JSON body with a NUL character (`\u0000`) in any string, naming the field.
/// PostgreSQL cannot store NUL in text and SQLite would keep it silently; one answer for both
/// databases, before anything is stored. Bodies without the escape (all real ones) are not parsed
/// twice.
pub fn refuse_nul_in_json(bytes: &[u8]) -> Result<(), Error> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(()); // malformed: the JSON extractor answers that
    };
    match nul_path(&value, String::new()) {
        Some(field) => Err(Error::invalid(
            if field.is_empty() {
                "body".to_owned()
            } else {
                field
            },
            "must not contain the NUL character (U+0000)",
        )),
        None => Ok(()),
    }
}

/// The path (`items[2].name`) of the first string holding a NUL, in keys or values.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(at)
            } else {
                nul_path(v, at)
            }
        }),
        _ => None,
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::new(ErrorCode::PayloadTooLarge, "request body is too large");
    }
    match r {
        JsonRejection::JsonDataError(e) => Error::validation(e.body_text()),
        JsonRejection::JsonSyntaxError(_) => Error::bad_request("malformed JSON"),
        JsonRejection::MissingJsonContentType(_) => {
            Error::bad_request("expected Content-Type: application/json")
        }
        other => Error::bad_request(other.body_text()),
    }
}

/// `axum::extract::Query` with a JSON 400 on a bad query string.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        refuse_nul_in_query(parts.uri.query().unwrap_or(""))?;
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError(Error::bad_request(e.body_text())))
    }
}

/// Refuses a query string with a NUL character (`%00`) in a name or value, naming the parameter.
fn refuse_nul_in_query(query: &str) -> Result<(), Error> {
    if !query.to_ascii_lowercase().contains("%00") {
        return Ok(());
    }
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.contains('\0') || value.contains('\0') {
            return Err(Error::invalid(
                name.replace('\0', ""),
                "must not contain the NUL character (U+0000)",
            ));
        }
    }
    Ok(())
}

/// `axum::extract::Path` with JSON errors; a malformed id is as unknown as a missing one (404).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_: PathRejection| ApiError(Error::not_found("resource")))
    }
}
