//! Commerce in the conversation: product/order cards sent by agents, the product picker, and
//! payment reminders (催付) with templates, settings and outcomes. Flows are in `kefu_service::cards`.
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_core::cards::{OrderCard, OrderCardItem, OrderCardLogistics, ProductCard};
use kefu_core::inbox::ContextChange;
use kefu_core::model::*;
use kefu_core::reminders::{
    self, AgentOutcomeStats, NewReminderTemplate, OutcomeStats, Reminder, ReminderCandidate,
    ReminderOutcome, ReminderSettings, ReminderTemplate,
};
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use kefu_service::cards::CardTarget;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/conversations/{id}/cards", post(send_card))
        .route("/api/v1/cards/products", get(search_products))
        .route("/api/v1/reminders", get(list_reminders).post(send_reminder))
        .route("/api/v1/reminders/candidates", get(candidates))
        .route(
            "/api/v1/reminders/settings",
            get(get_settings).put(put_settings),
        )
        .route(
            "/api/v1/reminders/templates",
            get(list_templates).post(create_template),
        )
        .route(
            "/api/v1/reminders/templates/{id}",
            put(update_template).delete(delete_template),
        )
}

/// Settings and templates are the shop's: admins and supervisors change them.
fn require_manager(user: &User) -> Result<()> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins and supervisors change reminder settings and templates",
        ))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CardRequest {
    /// A product of the shop (exactly one of `product_id`, `order_id`).
    pub product_id: Option<Id>,
    /// An order of this conversation's customer.
    pub order_id: Option<Id>,
    /// The sender's own id for this message: a retry with the same id stores nothing new.
    pub client_msg_id: String,
}

/// Sends a product or order card into the conversation (a snapshot taken now).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/cards", tag = "cards",
    params(("id" = i64, Path)), request_body = CardRequest,
    responses((status = 201, body = Message), (status = 200, description = "a retry: the original message", body = Message),
        (status = 404, description = "conversation, product or order not found (or another shop's)", body = ErrorBody),
        (status = 422, description = "bad input, or the order belongs to another customer", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_card(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<CardRequest>,
) -> ApiResult<Response> {
    let target = match (req.product_id, req.order_id) {
        (Some(p), None) => CardTarget::Product(p),
        (None, Some(o)) => CardTarget::Order(o),
        _ => {
            return Err(Error::validation("product_id, order_id: give exactly one of them").into());
        }
    };
    let context = match target {
        CardTarget::Product(p) => ContextChange::product(p),
        CardTarget::Order(o) => ContextChange::order(o),
    };
    let sent = state
        .services
        .cards
        .agent_card(&agent.user, id, target, &req.client_msg_id)
        .await?;
    if !sent.duplicate {
        // The conversation is now about what the card shows (script variables, tickets).
        state
            .services
            .inbox
            .card_sent(&agent.user, id, context)
            .await;
    }
    let status = if sent.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(sent.message)).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct ProductSearchQuery {
    /// Part of the name or SKU (case-insensitive); all products when empty.
    pub q: Option<String>,
    /// At most this many (default 20, max 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductSearchResponse {
    pub products: Vec<Product>,
}

/// The composer's product picker: the shop's products by name or SKU.
#[utoipa::path(get, path = "/api/v1/cards/products", tag = "cards", params(ProductSearchQuery),
    responses((status = 200, body = ProductSearchResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn search_products(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ProductSearchQuery>,
) -> ApiResult<Json<ProductSearchResponse>> {
    let query = q.q.as_deref().unwrap_or("").trim();
    if query.chars().count() > 100 {
        return Err(Error::validation("q: must be at most 100 characters").into());
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    Ok(Json(ProductSearchResponse {
        products: state
            .store
            .search_products(agent.user.shop_id, query, limit)
            .await?,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct CandidatesQuery {
    /// Override the shop's consult window (hours, 1–720).
    pub window_hours: Option<i64>,
    /// At most this many (default 200, max 1000).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CandidatesResponse {
    pub window_hours: i64,
    pub candidates: Vec<ReminderCandidate>,
}

/// Unpaid orders whose buyers consulted within the window, most recently consulted first.
#[utoipa::path(get, path = "/api/v1/reminders/candidates", tag = "reminders", params(CandidatesQuery),
    responses((status = 200, body = CandidatesResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn candidates(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<CandidatesQuery>,
) -> ApiResult<Json<CandidatesResponse>> {
    let window_hours = match q.window_hours {
        Some(h) if !(1..=720).contains(&h) => {
            return Err(Error::validation("window_hours: must be between 1 and 720").into());
        }
        Some(h) => h,
        None => {
            state
                .store
                .reminder_settings(agent.user.shop_id)
                .await?
                .consult_window_hours
        }
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let candidates = state
        .services
        .cards
        .reminder_candidates(&agent.user, window_hours, limit)
        .await?;
    Ok(Json(CandidatesResponse {
        window_hours,
        candidates,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct SendReminderRequest {
    pub order_id: Id,
    /// The template to use; the shop's default when absent.
    pub template_id: Option<Id>,
    /// Send even if the order was reminded within the outcome window.
    #[serde(default)]
    pub force: bool,
}

/// Sends a reminder (text + order card) into the buyer's current conversation and records it.
#[utoipa::path(post, path = "/api/v1/reminders", tag = "reminders", request_body = SendReminderRequest,
    responses((status = 201, body = Reminder),
        (status = 404, description = "order, template or conversation not found", body = ErrorBody),
        (status = 409, description = "already reminded within the outcome window (use force)", body = ErrorBody),
        (status = 422, description = "the order is not awaiting payment, or its buyer has no conversation", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn send_reminder(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<SendReminderRequest>,
) -> ApiResult<Response> {
    let reminder = state
        .services
        .cards
        .send_reminder(&agent.user, req.order_id, req.template_id, req.force)
        .await?;
    Ok((StatusCode::CREATED, Json(reminder)).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct RemindersQuery {
    /// Reminders of the last this many days (default 30, 1–365).
    pub days: Option<i64>,
    /// At most this many reminders listed (default 500, max 5000); the statistics count them.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReminderStats {
    pub overall: OutcomeStats,
    pub per_agent: Vec<AgentOutcomeStats>,
}

#[derive(Serialize, ToSchema)]
pub struct RemindersResponse {
    /// The window (hours after a reminder) a payment must fall in to count.
    pub outcome_hours: i64,
    pub reminders: Vec<Reminder>,
    pub stats: ReminderStats,
}

/// Reminders sent, newest first, each with its outcome, and the paid-after-reminder rate overall and
/// per agent.
#[utoipa::path(get, path = "/api/v1/reminders", tag = "reminders", params(RemindersQuery),
    responses((status = 200, body = RemindersResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_reminders(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<RemindersQuery>,
) -> ApiResult<Json<RemindersResponse>> {
    let days = q.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(Error::validation("days: must be between 1 and 365").into());
    }
    let limit = q.limit.unwrap_or(500).clamp(1, 5000);
    let shop_id = agent.user.shop_id;
    let settings = state.store.reminder_settings(shop_id).await?;
    let now = Millis::now();
    let since = Millis(now.0 - days * 24 * reminders::HOUR_MS);
    let list = state
        .store
        .list_reminders(shop_id, since, settings.outcome_hours, now, limit)
        .await?;
    let (overall, per_agent) = reminders::stats(&list);
    Ok(Json(RemindersResponse {
        outcome_hours: settings.outcome_hours,
        reminders: list,
        stats: ReminderStats { overall, per_agent },
    }))
}

#[utoipa::path(get, path = "/api/v1/reminders/settings", tag = "reminders",
    responses((status = 200, body = ReminderSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<ReminderSettings>> {
    Ok(Json(
        state.store.reminder_settings(agent.user.shop_id).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/reminders/settings", tag = "reminders", request_body = ReminderSettings,
    responses((status = 200, body = ReminderSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(settings): ApiJson<ReminderSettings>,
) -> ApiResult<Json<ReminderSettings>> {
    require_manager(&agent.user)?;
    settings.validate()?;
    Ok(Json(
        state
            .store
            .put_reminder_settings(agent.user.shop_id, &settings)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TemplatesResponse {
    pub templates: Vec<ReminderTemplate>,
    /// The variables a template may use, e.g. `customer.name` for `{customer.name}`.
    pub variables: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/reminders/templates", tag = "reminders",
    responses((status = 200, body = TemplatesResponse)), security(("bearer" = [])))]
pub async fn list_templates(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<TemplatesResponse>> {
    Ok(Json(TemplatesResponse {
        templates: state.store.reminder_templates(agent.user.shop_id).await?,
        variables: reminders::TEMPLATE_VARIABLES
            .iter()
            .map(|v| (*v).to_owned())
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/reminders/templates", tag = "reminders", request_body = NewReminderTemplate,
    responses((status = 201, body = ReminderTemplate), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_template(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(t): ApiJson<NewReminderTemplate>,
) -> ApiResult<Response> {
    require_manager(&agent.user)?;
    t.validate()?;
    // Seeds the default first, so a shop's first own template does not silently replace it.
    state.store.reminder_templates(agent.user.shop_id).await?;
    let saved = state
        .store
        .create_reminder_template(agent.user.shop_id, &t)
        .await?;
    Ok((StatusCode::CREATED, Json(saved)).into_response())
}

#[utoipa::path(put, path = "/api/v1/reminders/templates/{id}", tag = "reminders", params(("id" = i64, Path)),
    request_body = NewReminderTemplate,
    responses((status = 200, body = ReminderTemplate), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_template(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(t): ApiJson<NewReminderTemplate>,
) -> ApiResult<Json<ReminderTemplate>> {
    require_manager(&agent.user)?;
    t.validate()?;
    Ok(Json(
        state
            .store
            .update_reminder_template(agent.user.shop_id, id, &t)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/reminders/templates/{id}", tag = "reminders", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the default template", body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_template(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user)?;
    state
        .store
        .delete_reminder_template(agent.user.shop_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        send_card,
        search_products,
        candidates,
        send_reminder,
        list_reminders,
        get_settings,
        put_settings,
        list_templates,
        create_template,
        update_template,
        delete_template
    ),
    components(schemas(
        CardRequest,
        ProductSearchResponse,
        CandidatesResponse,
        SendReminderRequest,
        RemindersResponse,
        ReminderStats,
        TemplatesResponse,
        ProductCard,
        OrderCard,
        OrderCardItem,
        OrderCardLogistics,
        ReminderCandidate,
        Reminder,
        ReminderOutcome,
        ReminderSettings,
        ReminderTemplate,
        NewReminderTemplate,
        OutcomeStats,
        AgentOutcomeStats,
        MessageKind
    ))
)]
pub struct ApiDoc;
