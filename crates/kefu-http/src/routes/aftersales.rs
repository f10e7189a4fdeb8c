//! After-sales requests (售后): create, read, list, act (the state machine), assign, evidence photos.
//! Flows are in [`crate::aftersales`]; the rules in `kefu_core::aftersales`.
//!
//! [`router`] is merged into the JSON API by [`super::api`]; [`upload_router`] (the evidence upload)
//! is merged by [`crate::router`] with the upload body limit. [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use crate::routes::attachments::{Upload, UploadForm, serve_file, serve_thumb};
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_core::aftersales::*;
use kefu_core::commerce::parse_time;
use kefu_core::model::Id;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/aftersales", get(list).post(create))
        .route("/api/v1/aftersales/{id}", get(get_one))
        .route("/api/v1/aftersales/{id}/actions", post(act))
        .route("/api/v1/aftersales/{id}/assignee", put(assign))
        .route(
            "/api/v1/aftersales/{id}/evidence/{evidence_id}",
            get(download_evidence),
        )
        .route(
            "/api/v1/aftersales/{id}/evidence/{evidence_id}/thumb",
            get(evidence_thumb),
        )
}

/// The evidence upload (and its list, on the same path), outside the JSON API's body limit.
pub fn upload_router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/aftersales/{id}/evidence",
        get(list_evidence).post(upload_evidence),
    )
}

/// Opens a request for lines of an order. The lines are checked against the order (each a line of
/// it, quantities within what was ordered less what other open requests claim); the refundable
/// amount follows from them.
#[utoipa::path(post, path = "/api/v1/aftersales", tag = "aftersales", request_body = NewRequestInput,
    responses((status = 201, body = RequestDetail),
        (status = 403, description = "an agent naming another assignee", body = ErrorBody),
        (status = 404, description = "order or conversation not found (or another shop's / not visible)", body = ErrorBody),
        (status = 422, description = "bad input: reason, lines (foreign line, quantity over what is left), unpaid order …", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiJson(input): ApiJson<NewRequestInput>,
) -> ApiResult<(StatusCode, Json<RequestDetail>)> {
    let detail = state
        .services
        .aftersales
        .create_aftersales(&agent.user, input)
        .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[utoipa::path(get, path = "/api/v1/aftersales/{id}", tag = "aftersales", params(("id" = i64, Path)),
    responses((status = 200, body = RequestDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<RequestDetail>> {
    Ok(Json(
        state
            .services
            .aftersales
            .visible_request(&agent.user, id)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// requested | approved | awaiting_return | return_shipped | received | inspected | refunded |
    /// reshipped | completed | rejected | cancelled
    pub state: Option<String>,
    /// return | exchange | refund
    pub kind: Option<String>,
    pub customer_id: Option<Id>,
    pub order_id: Option<Id>,
    /// A request number (`AS-000007`, `as7`) or part of an order number (any case, at most 64
    /// characters).
    pub q: Option<String>,
    /// Created at or after (ms, RFC 3339 or `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Created before.
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestsPage {
    /// Newest first.
    pub requests: Vec<AftersalesRequest>,
    pub next_cursor: Option<String>,
}

fn time_param(field: &str, v: &Option<String>) -> Result<Option<Millis>> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                Error::validation(format!("{field}: must be a time (ms or RFC 3339)"))
            })
        })
        .transpose()
}

/// `created_ms:id`.
fn cursor_param(v: &Option<String>) -> Result<Option<(Millis, Id)>> {
    let Some(c) = v.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || Error::validation("cursor: not a cursor from this list");
    let (t, id) = c.split_once(':').ok_or_else(bad)?;
    Ok(Some((
        Millis(t.parse().map_err(|_| bad())?),
        id.parse().map_err(|_| bad())?,
    )))
}

fn limit_param(v: Option<i64>) -> Result<i64> {
    match v {
        None => Ok(50),
        Some(l) if (1..=200).contains(&l) => Ok(l),
        Some(_) => Err(Error::validation("limit: must be between 1 and 200")),
    }
}

/// The shop's requests (agents: their own and unassigned ones), newest first.
#[utoipa::path(get, path = "/api/v1/aftersales", tag = "aftersales", params(ListParams),
    responses((status = 200, body = RequestsPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<RequestsPage>> {
    let u = &agent.user;
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 64) {
        return Err(Error::validation("q: at most 64 characters").into());
    }
    let query = RequestQuery {
        state: p
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                State::parse(s).ok_or_else(|| {
                    Error::validation(format!(
                        "state: must be one of {}",
                        ALL_STATES.map(State::as_str).join(", ")
                    ))
                })
            })
            .transpose()?,
        kind: p
            .kind
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                RequestKind::parse(s).ok_or_else(|| {
                    Error::validation("kind: must be one of return, exchange, refund")
                })
            })
            .transpose()?,
        customer_id: p.customer_id,
        order_id: p.order_id,
        number: q.and_then(parse_request_no),
        order_no: q
            .filter(|q| parse_request_no(q).is_none())
            .map(str::to_owned),
        created_from: time_param("from", &p.from)?,
        created_to: time_param("to", &p.to)?,
        visible_to: (!u.role.sees_whole_shop()).then_some(u.id),
        before: cursor_param(&p.cursor)?,
        limit: limit_param(p.limit)?,
    };
    let requests = state.store.list_aftersales(u.shop_id, &query).await?;
    let next_cursor = (requests.len() as i64 == query.limit)
        .then(|| {
            requests
                .last()
                .map(|r| format!("{}:{}", r.created_at.0, r.id))
        })
        .flatten();
    Ok(Json(RequestsPage {
        requests,
        next_cursor,
    }))
}

/// Takes a step: `{"type": "decide", "decision": {"type": "partial_refund", "amount_cents": 3000}}`,
/// `{"type": "ship_return", "carrier", "tracking_no"}`, `{"type": "receive"}`,
/// `{"type": "inspect", "passed", "note"}`, `{"type": "refund", "amount_cents"}` (records the refund
/// on the order), `{"type": "reship", "carrier", "tracking_no"}`, `{"type": "complete"}`,
/// `{"type": "cancel"}`. A step the current state does not allow is 409, naming the state and
/// what it needs.
#[utoipa::path(post, path = "/api/v1/aftersales/{id}/actions", tag = "aftersales", params(("id" = i64, Path)),
    request_body = Action,
    responses((status = 200, body = RequestDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "the action is not allowed in the request's state", body = ErrorBody),
        (status = 422, description = "bad values (amount over the cap, empty reason, bad tracking number …)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn act(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(action): ApiJson<Action>,
) -> ApiResult<Json<RequestDetail>> {
    Ok(Json(
        state
            .services
            .aftersales
            .act_aftersales(&agent.user, id, action)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AftersalesAssignRequest)]
pub struct AssignRequest {
    /// An agent of the shop, or null for the shop's pool.
    pub assignee_id: Option<Id>,
}

/// Hands the request to an agent (admins and supervisors), or takes an unassigned one (agents).
#[utoipa::path(put, path = "/api/v1/aftersales/{id}/assignee", tag = "aftersales", params(("id" = i64, Path)),
    request_body = AssignRequest,
    responses((status = 200, body = RequestDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> ApiResult<Json<RequestDetail>> {
    Ok(Json(
        state
            .services
            .aftersales
            .assign_aftersales(&agent.user, id, req.assignee_id)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct EvidenceList {
    pub evidence: Vec<Evidence>,
}

#[utoipa::path(get, path = "/api/v1/aftersales/{id}/evidence", tag = "aftersales", params(("id" = i64, Path)),
    responses((status = 200, body = EvidenceList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_evidence(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<EvidenceList>> {
    let detail = state
        .services
        .aftersales
        .visible_request(&agent.user, id)
        .await?;
    Ok(Json(EvidenceList {
        evidence: detail.evidence,
    }))
}

/// Adds an evidence photo (multipart field `file`; jpeg, png, gif or webp up to 10 MB, judged by
/// its content; at most 20 per request). `client_msg_id` is not needed here.
#[utoipa::path(post, path = "/api/v1/aftersales/{id}/evidence", tag = "aftersales", params(("id" = i64, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Evidence), (status = 404, body = ErrorBody),
        (status = 409, description = "the request is closed", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, description = "not a photo, or content not matching the name", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_evidence(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    Upload(multipart): Upload,
) -> ApiResult<Response> {
    let files = state.attachment_files()?;
    // Entitlement before the body is read: nothing is stored for a stranger.
    state
        .services
        .aftersales
        .visible_request(&agent.user, id)
        .await?;
    let photo = crate::attachments::receive_photo(files, multipart).await?;
    let evidence = state
        .services
        .aftersales
        .add_evidence(&agent.user, id, photo)
        .await?;
    Ok((StatusCode::CREATED, Json(evidence)).into_response())
}

async fn visible_evidence(
    state: &AppState,
    agent: &Agent,
    id: Id,
    evidence_id: Id,
) -> Result<(
    std::sync::Arc<crate::attachments::AttachmentFiles>,
    Evidence,
)> {
    let files = state
        .attachments
        .clone()
        .ok_or_else(|| Error::not_found("evidence"))?;
    state
        .services
        .aftersales
        .visible_request(&agent.user, id)
        .await?;
    let e = state
        .store
        .aftersales_evidence(agent.user.shop_id, id, evidence_id)
        .await?
        .ok_or_else(|| Error::not_found("evidence"))?;
    Ok((files, e))
}

/// The photo itself (for agents who may see the request).
#[utoipa::path(get, path = "/api/v1/aftersales/{id}/evidence/{evidence_id}", tag = "aftersales",
    params(("id" = i64, Path), ("evidence_id" = i64, Path)),
    responses((status = 200, description = "the image"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn download_evidence(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath((id, evidence_id)): ApiPath<(Id, Id)>,
) -> ApiResult<Response> {
    let (files, e) = visible_evidence(&state, &agent, id, evidence_id).await?;
    serve_file(files.path(&e.sha256), &e.mime, &e.name, true).await
}

/// Its thumbnail (at most 320 px; the original when it is that small).
#[utoipa::path(get, path = "/api/v1/aftersales/{id}/evidence/{evidence_id}/thumb", tag = "aftersales",
    params(("id" = i64, Path), ("evidence_id" = i64, Path)),
    responses((status = 200, description = "a JPEG or PNG image"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn evidence_thumb(
    AxState(state): AxState<AppState>,
    agent: Agent,
    ApiPath((id, evidence_id)): ApiPath<(Id, Id)>,
) -> ApiResult<Response> {
    let (files, e) = visible_evidence(&state, &agent, id, evidence_id).await?;
    if !e.has_thumb {
        return serve_file(files.path(&e.sha256), &e.mime, &e.name, true).await;
    }
    serve_thumb(&files, &e.sha256, &e.name).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create,
        get_one,
        list,
        act,
        assign,
        list_evidence,
        upload_evidence,
        download_evidence,
        evidence_thumb
    ),
    components(schemas(
        NewRequestInput,
        LineInput,
        RequestDetail,
        AftersalesRequest,
        RequestLine,
        HistoryEntry,
        Evidence,
        EvidenceList,
        RequestsPage,
        AssignRequest,
        Action,
        Decision,
        RequestKind,
        State,
        ReturnShippingPayer,
        Parcel,
        Inspection,
        AgentRef
    ))
)]
pub struct ApiDoc;
