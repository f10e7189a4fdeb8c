//! Reply suggestions for a conversation: the scripts ranked for its latest shopper message. The
//! same list reaches connected consoles live as a `suggestions` event (`kefu_service::suggest`); this
//! endpoint serves a console that opens the conversation later.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiPath, ApiResult, ErrorBody};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use kefu_core::model::Id;
use kefu_core::suggestions::Suggestion;
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/conversations/{id}/suggestions",
        get(conversation_suggestions),
    )
}

#[derive(Serialize, ToSchema)]
pub struct SuggestionsResponse {
    /// The shopper message the suggestions answer (`null` before the shopper wrote).
    pub message_id: Option<Id>,
    /// Best first, at most 3: shop-wide scripts and the caller's own personal ones.
    pub suggestions: Vec<Suggestion>,
}

/// The top scripts for the conversation's latest shopper message, for the calling agent.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/suggestions", tag = "suggestions",
    params(("id" = i64, Path)),
    responses((status = 200, body = SuggestionsResponse),
        (status = 404, description = "no such conversation visible to the caller", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conversation_suggestions(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<SuggestionsResponse>> {
    let conversation = state
        .services
        .chat
        .visible_conversation(&agent.user, id)
        .await?;
    let found = match &state.services.suggest {
        Some(s) => s.current(&conversation, agent.user.id).await?,
        None => None,
    };
    let (message_id, suggestions) = match found {
        Some((m, s)) => (Some(m), s),
        None => (None, Vec::new()),
    };
    Ok(Json(SuggestionsResponse {
        message_id,
        suggestions,
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(conversation_suggestions),
    components(schemas(SuggestionsResponse, Suggestion))
)]
pub struct ApiDoc;
