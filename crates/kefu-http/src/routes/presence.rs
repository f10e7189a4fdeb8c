//! Endpoints of presence (issue 19): the shop's presence settings. An agent's own status is
//! `PUT /api/v1/me/status` (routes/agent.rs); the rest of presence is automatic
//! (`kefu_service::presence`).

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiResult, ErrorBody};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kefu_core::presence::{PresenceSettings, RequeueTarget, StatusCause};
use utoipa::OpenApi;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/settings/presence", get(settings).put(put_settings))
}

#[derive(OpenApi)]
#[openapi(
    paths(settings, put_settings),
    components(schemas(PresenceSettings, RequeueTarget, StatusCause))
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/api/v1/settings/presence", tag = "agents",
    responses((status = 200, description = "the shop's presence settings (the defaults until saved)", body = PresenceSettings)),
    security(("bearer" = [])))]
pub async fn settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<PresenceSettings>> {
    Ok(Json(
        state.services.presence.settings(agent.user.shop_id).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/settings/presence", tag = "agents", request_body = PresenceSettings,
    responses((status = 200, body = PresenceSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(body): ApiJson<PresenceSettings>,
) -> ApiResult<Json<PresenceSettings>> {
    Ok(Json(
        state
            .services
            .presence
            .put_settings(&agent.user, &body)
            .await?,
    ))
}
