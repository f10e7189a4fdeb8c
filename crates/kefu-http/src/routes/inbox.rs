//! What a conversation is about (`kefu_service::inbox`): the agent reads and picks its current
//! order and product; the shop page tells it through the widget (`kefu.open({sku, order_no})`).

use crate::AppState;
use crate::auth::{Agent, ClientIp, Shopper};
use crate::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::inbox::ContextChange;
use kefu_core::model::{Conversation, Id, WidgetPosition, WidgetStyle};
use kefu_core::{Error, ErrorCode};
use kefu_service::inbox::ConversationContext;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/conversations/{id}/context",
            get(get_context).put(put_context),
        )
        .route("/api/v1/widget/context", post(widget_context))
}

#[derive(OpenApi)]
#[openapi(
    paths(get_context, put_context, widget_context),
    components(schemas(
        ConversationContext,
        ContextRequest,
        WidgetContextRequest,
        WidgetContextResponse,
        ContextResponse,
        WidgetStyle,
        WidgetPosition
    ))
)]
pub struct ApiDoc;

/// `null` and absent told apart: `Some(None)` clears, `None` leaves as is.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Id>>, D::Error> {
    Option::<Id>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct ContextRequest {
    /// The order the conversation is about (one of its customer's); `null` clears it; absent
    /// leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub order_id: Option<Option<Id>>,
    /// The product the conversation is about; `null` clears it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub product_id: Option<Option<Id>>,
}

#[derive(Serialize, ToSchema)]
pub struct ContextResponse {
    pub conversation: Conversation,
    /// The current order and product as cards.
    pub context: ConversationContext,
}

/// The conversation's current order and product as card snapshots (what script variables,
/// order cards and one-click tickets use).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/context", tag = "conversations",
    params(("id" = i64, Path)),
    responses((status = 200, body = ConversationContext),
        (status = 404, description = "no such conversation visible to the caller", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_context(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ConversationContext>> {
    Ok(Json(
        state.services.inbox.context_view(&agent.user, id).await?,
    ))
}

/// Picks (or clears) the order and/or product the conversation is about.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/context", tag = "conversations",
    params(("id" = i64, Path)), request_body = ContextRequest,
    responses((status = 200, body = ContextResponse),
        (status = 404, description = "no such conversation visible to the caller, order or product", body = ErrorBody),
        (status = 422, description = "nothing given, or an order of another customer", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_context(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<ContextRequest>,
) -> ApiResult<Json<ContextResponse>> {
    let change = ContextChange {
        order_id: req.order_id,
        product_id: req.product_id,
    };
    let inbox = &state.services.inbox;
    let conversation = inbox.agent_context(&agent.user, id, change).await?;
    let context = inbox.context_view(&agent.user, id).await?;
    Ok(Json(ContextResponse {
        conversation,
        context,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct WidgetContextRequest {
    /// The SKU of the product the shopper is looking at (one of the shop's products).
    pub sku: Option<String>,
    /// The number of the shopper's own order they are looking at.
    pub order_no: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetContextResponse {
    /// The conversation that is now about them; `null` when the shopper has not written yet
    /// (send it again after the first message).
    pub conversation_id: Option<Id>,
}

/// The shop page's context (`kefu.open({sku, order_no})`): the shopper's conversation is now
/// about this product and/or order, and a card of each that changed appears in the chat.
#[utoipa::path(post, path = "/api/v1/widget/context", tag = "widget", request_body = WidgetContextRequest,
    responses((status = 200, body = WidgetContextResponse),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no product with this SKU", body = ErrorBody),
        (status = 422, description = "nothing given, too long, or not one of the shopper's orders", body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn widget_context(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Shopper(visitor): Shopper,
    ApiJson(req): ApiJson<WidgetContextRequest>,
) -> ApiResult<Json<WidgetContextResponse>> {
    // It may post cards into the chat: the same allowance as the shopper's messages.
    if !state.limits.visitor_messages.check(&visitor.customer_id)
        || !state.limits.address_messages.check(&ip)
    {
        return Err(Error::new(ErrorCode::RateLimited, "sending too fast; slow down").into());
    }
    let conversation_id = state
        .services
        .inbox
        .shopper_context(&visitor, req.sku.as_deref(), req.order_no.as_deref())
        .await?;
    Ok(Json(WidgetContextResponse { conversation_id }))
}
