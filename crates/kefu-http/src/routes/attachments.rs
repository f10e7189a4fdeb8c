//! Attachment endpoints: uploads by agents and shoppers (multipart, sent as a message at once) and
//! downloads for those entitled to the conversation. Flows are in [`crate::attachments`].
//!
//! [`router`] is merged by [`crate::router`] outside the JSON API's 64 KiB body limit, with its
//! own limit ([`crate::attachments::MAX_UPLOAD_BODY`]); [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].

use crate::AppState;
use crate::auth::{Agent, Shopper};
use crate::error::{ApiError, ApiPath, ApiResult, ErrorBody, error_response};
use axum::body::Body;
use axum::extract::{FromRequestParts, Multipart, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::attachments::{self, AttachmentPayload};
use kefu_core::model::*;
use kefu_core::{Error, ErrorCode};
use kefu_service::chat::Viewer;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/attachments", post(agent_upload))
        .route("/api/v1/widget/attachments", post(shopper_upload))
        .route("/api/v1/attachments/{id}", get(download))
        .route("/api/v1/attachments/{id}/thumb", get(thumb))
        .method_not_allowed_fallback(|| async {
            error_response(ErrorCode::BadRequest, "method not allowed on this endpoint")
        })
}

/// A multipart upload: the file and the sender's message id.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart form for OpenAPI only
pub struct UploadForm {
    /// The file (images: jpeg, png, gif, webp up to 10 MB; files: pdf, txt, csv, zip, docx,
    /// xlsx, pptx, mp4 up to 20 MB). Its type is judged by its content; the name's extension and
    /// the part's content type must agree with it.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The sender's own id for this message: a retry with the same id stores nothing new.
    pub client_msg_id: String,
}

/// Multipart extraction with kefu's JSON errors.
pub struct Upload(pub Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Multipart::from_request(req, state)
            .await
            .map(Upload)
            .map_err(|e| {
                ApiError(Error::bad_request(format!(
                    "expected a multipart/form-data body: {}",
                    e.body_text()
                )))
            })
    }
}

fn sent_response(sent: kefu_service::sent::Sent) -> Response {
    let status = if sent.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(sent.message)).into_response()
}

/// An agent sends a file or image into a conversation they may see. The answer is the stored
/// message (`kind = "attachment"`, payload [`AttachmentPayload`]); it also arrives over the
/// WebSocket like any message.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/attachments", tag = "attachments",
    params(("id" = i64, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Message), (status = 200, description = "a retry: the original message", body = Message),
        (status = 404, description = "conversation not found or not visible to this agent", body = ErrorBody),
        (status = 413, description = "file larger than its type's limit", body = ErrorBody),
        (status = 415, description = "content type not accepted, or not matching the name/claimed type", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn agent_upload(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    Upload(multipart): Upload,
) -> ApiResult<Response> {
    let files = state.attachment_files()?;
    // Entitlement before the body is read: nothing is stored for a stranger.
    state
        .services
        .chat
        .visible_conversation(&agent.user, id)
        .await?;
    let received = crate::attachments::receive(files, multipart).await?;
    let sent = state
        .services
        .chat
        .agent_attachment(
            &agent.user,
            id,
            received.attachment,
            &received.client_msg_id,
        )
        .await?;
    Ok(sent_response(sent))
}

/// A shopper sends a file or image (starting or reopening their conversation like a message).
#[utoipa::path(post, path = "/api/v1/widget/attachments", tag = "widget",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Message), (status = 200, description = "a retry", body = Message),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_upload(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    Upload(multipart): Upload,
) -> ApiResult<Response> {
    if !state.limits.visitor_uploads.check(&visitor.customer_id) {
        return Err(Error::new(ErrorCode::RateLimited, "uploading too fast; slow down").into());
    }
    let files = state.attachment_files()?;
    if visitor.blocked {
        return Err(Error::new(ErrorCode::Blocked, "this shopper may not start chats").into());
    }
    let received = crate::attachments::receive(files, multipart).await?;
    let sent = state
        .services
        .chat
        .shopper_attachment(&visitor, received.attachment, &received.client_msg_id)
        .await?;
    Ok(sent_response(sent))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    /// An agent's session (Bearer or the console's cookie) first, then a shopper's visitor token.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Ok(agent) = Agent::from_request_parts(parts, state).await {
            return Ok(Viewer::Agent(agent.user));
        }
        let Shopper(visitor) = Shopper::from_request_parts(parts, state).await?;
        Ok(Viewer::Shopper(visitor))
    }
}

/// Streams a stored file (chat, ticket and after-sales files) under `name` with headers that keep
/// a browser from running it: the stored (sniffed) type, `nosniff`, a sandboxing CSP, and
/// `attachment` for everything but images (`inline`).
pub(crate) async fn serve_file(
    path: std::path::PathBuf,
    mime: &str,
    name: &str,
    inline: bool,
) -> ApiResult<Response> {
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(%e, path = %path.display(), "attachment file missing");
        Error::not_found("attachment file")
    })?;
    let len = file.metadata().await.map_err(Error::internal)?.len();
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let content_type = if mime == "text/plain" {
        "text/plain; charset=utf-8".to_owned()
    } else {
        mime.to_owned()
    };
    let disposition = attachments::content_disposition(name, inline);
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).map_err(Error::internal);
    h.insert(header::CONTENT_TYPE, value(&content_type)?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_DISPOSITION, value(&disposition)?);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ),
    );
    // Content never changes for an id, but access does: private caches only.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// The attachment itself, for the shop's agents entitled to the conversation (admins and
/// supervisors all, agents their own and unassigned ones) and the conversation's shopper.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments",
    params(("id" = i64, Path)),
    responses((status = 200, description = "the file (Content-Disposition: inline for images, attachment otherwise)"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "unknown, another shop's, or a conversation the caller may not see", body = ErrorBody)),
    security(("bearer" = []), ("visitor" = [])))]
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Response> {
    let files = state
        .attachments
        .clone()
        .ok_or_else(|| Error::not_found("attachment"))?;
    let a = state.services.chat.entitled_attachment(&viewer, id).await?;
    serve_file(files.path(&a.sha256), &a.mime, &a.name, a.is_image()).await
}

/// An image's thumbnail (at most 320 px; the original when it is that small already).
#[utoipa::path(get, path = "/api/v1/attachments/{id}/thumb", tag = "attachments",
    params(("id" = i64, Path)),
    responses((status = 200, description = "a JPEG or PNG image"), (status = 401, body = ErrorBody),
        (status = 404, description = "not an image, unknown, another shop's, or not entitled", body = ErrorBody)),
    security(("bearer" = []), ("visitor" = [])))]
pub async fn thumb(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Response> {
    let files = state
        .attachments
        .clone()
        .ok_or_else(|| Error::not_found("attachment"))?;
    let a = state.services.chat.entitled_attachment(&viewer, id).await?;
    if !a.is_image() {
        return Err(Error::not_found("thumbnail").into());
    }
    if !a.has_thumb {
        return serve_file(files.path(&a.sha256), &a.mime, &a.name, a.is_image()).await;
    }
    serve_thumb(&files, &a.sha256, &a.name).await
}

/// Serves the stored thumbnail of `sha256`: JPEG, or PNG when the image has transparency.
pub(crate) async fn serve_thumb(
    files: &crate::attachments::AttachmentFiles,
    sha256: &str,
    name: &str,
) -> ApiResult<Response> {
    let path = files.thumb_path(sha256);
    let mut magic = [0u8; 4];
    {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|_| Error::not_found("thumbnail"))?;
        f.read_exact(&mut magic).await.map_err(Error::internal)?;
    }
    let mime = if magic == *b"\x89PNG" {
        "image/png"
    } else {
        "image/jpeg"
    };
    serve_file(path, mime, name, true).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(agent_upload, shopper_upload, download, thumb),
    components(schemas(UploadForm, AttachmentPayload))
)]
pub struct ApiDoc;
