//! Endpoints of SLAs, escalation notifications and automation rules: business calendars, SLA
//! policies, the shop's SLA overview, a user's notifications, and ticket automation rules. Any
//! agent of the shop reads; admins and supervisors write. Flows are in `kefu_service::sla` and
//! `crate::automation`.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::automation::*;
use kefu_core::business_hours::CalendarSpec;
use kefu_core::model::Id;
use kefu_core::sla_policies::*;
use kefu_core::tickets::PolicyMatch;
use kefu_core::{Error, Result};
use kefu_service::sla::require_manager;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sla/calendars",
            get(list_calendars).post(create_calendar),
        )
        .route(
            "/api/v1/sla/calendars/{id}",
            get(get_calendar)
                .put(update_calendar)
                .delete(delete_calendar),
        )
        .route(
            "/api/v1/sla/policies",
            get(list_policies).post(create_policy),
        )
        .route(
            "/api/v1/sla/policies/{id}",
            get(get_policy).put(update_policy).delete(delete_policy),
        )
        .route("/api/v1/sla/overview", get(overview))
        .route("/api/v1/notifications", get(list_notifications))
        .route("/api/v1/notifications/read", post(read_all_notifications))
        .route("/api/v1/notifications/{id}/read", post(read_notification))
        .route(
            "/api/v1/automation-rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/api/v1/automation-rules/{id}",
            get(get_rule).put(update_rule).delete(delete_rule),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_calendars,
        create_calendar,
        get_calendar,
        update_calendar,
        delete_calendar,
        list_policies,
        create_policy,
        get_policy,
        update_policy,
        delete_policy,
        overview,
        list_notifications,
        read_all_notifications,
        read_notification,
        list_rules,
        create_rule,
        get_rule,
        update_rule,
        delete_rule
    ),
    components(schemas(
        BusinessCalendar,
        CalendarSpec,
        CalendarInput,
        CalendarsResponse,
        CalendarResponse,
        SlaPolicy,
        SlaPolicyInput,
        PolicyMatch,
        Escalation,
        PoliciesResponse,
        PolicyResponse,
        SlaOverview,
        Notification,
        NotificationKind,
        NotificationsResponse,
        ReadResponse,
        AutomationRule,
        AutomationRuleInput,
        Conditions,
        Actions,
        RulesResponse,
        RuleResponse,
        TicketSla,
        SlaClockView,
        SlaState,
        SlaMetric
    ))
)]
pub struct ApiDoc;

// ---- calendars ----

#[derive(Serialize, ToSchema)]
pub struct CalendarsResponse {
    pub calendars: Vec<BusinessCalendar>,
    /// The zones a calendar may use (fixed offsets: SLA arithmetic counts whole local days).
    pub time_zones: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CalendarResponse {
    pub calendar: BusinessCalendar,
}

fn fixed_zones() -> Vec<String> {
    kefu_core::tools::time_zones()
        .into_iter()
        .filter(|z| kefu_core::tools::fixed_utc_offset(z).is_some())
        .map(str::to_owned)
        .collect()
}

#[utoipa::path(get, path = "/api/v1/sla/calendars", tag = "sla",
    responses((status = 200, body = CalendarsResponse)), security(("bearer" = [])))]
pub async fn list_calendars(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<CalendarsResponse>> {
    Ok(Json(CalendarsResponse {
        calendars: state.store.calendars(agent.user.shop_id).await?,
        time_zones: fixed_zones(),
    }))
}

#[utoipa::path(post, path = "/api/v1/sla/calendars", tag = "sla", request_body = CalendarInput,
    responses((status = 201, body = CalendarResponse), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_calendar(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(input): ApiJson<CalendarInput>,
) -> ApiResult<(StatusCode, Json<CalendarResponse>)> {
    require_manager(&agent.user)?;
    let name = validate_calendar(&input)?;
    let calendar = state
        .store
        .create_calendar(agent.user.shop_id, &name, &input.spec, input.is_default)
        .await?;
    Ok((StatusCode::CREATED, Json(CalendarResponse { calendar })))
}

#[utoipa::path(get, path = "/api/v1/sla/calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 200, body = CalendarResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_calendar(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<CalendarResponse>> {
    let calendar = state
        .store
        .calendar(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("calendar"))?;
    Ok(Json(CalendarResponse { calendar }))
}

#[utoipa::path(put, path = "/api/v1/sla/calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    request_body = CalendarInput,
    responses((status = 200, body = CalendarResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_calendar(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<CalendarInput>,
) -> ApiResult<Json<CalendarResponse>> {
    require_manager(&agent.user)?;
    let name = validate_calendar(&input)?;
    let calendar = state
        .store
        .update_calendar(agent.user.shop_id, id, &name, &input.spec, input.is_default)
        .await?;
    state.services.sla.policies_changed(agent.user.shop_id);
    Ok(Json(CalendarResponse { calendar }))
}

#[utoipa::path(delete, path = "/api/v1/sla/calendars/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_calendar(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user)?;
    state.store.delete_calendar(agent.user.shop_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- policies ----

#[derive(Serialize, ToSchema)]
pub struct PoliciesResponse {
    pub policies: Vec<SlaPolicy>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyResponse {
    pub policy: SlaPolicy,
}

#[utoipa::path(get, path = "/api/v1/sla/policies", tag = "sla",
    responses((status = 200, body = PoliciesResponse)), security(("bearer" = [])))]
pub async fn list_policies(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<PoliciesResponse>> {
    Ok(Json(PoliciesResponse {
        policies: state.store.sla_policies(agent.user.shop_id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/sla/policies", tag = "sla", request_body = SlaPolicyInput,
    responses((status = 201, body = PolicyResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(input): ApiJson<SlaPolicyInput>,
) -> ApiResult<(StatusCode, Json<PolicyResponse>)> {
    require_manager(&agent.user)?;
    let input = input.validated()?;
    let policy = state
        .store
        .create_sla_policy(agent.user.shop_id, &input)
        .await?;
    state.services.sla.policies_changed(agent.user.shop_id);
    Ok((StatusCode::CREATED, Json(PolicyResponse { policy })))
}

#[utoipa::path(get, path = "/api/v1/sla/policies/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 200, body = PolicyResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<PolicyResponse>> {
    let policy = state
        .store
        .sla_policy(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("SLA policy"))?;
    Ok(Json(PolicyResponse { policy }))
}

#[utoipa::path(put, path = "/api/v1/sla/policies/{id}", tag = "sla", params(("id" = i64, Path)),
    request_body = SlaPolicyInput,
    responses((status = 200, body = PolicyResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<SlaPolicyInput>,
) -> ApiResult<Json<PolicyResponse>> {
    require_manager(&agent.user)?;
    let input = input.validated()?;
    let policy = state
        .store
        .update_sla_policy(agent.user.shop_id, id, &input)
        .await?;
    state.services.sla.policies_changed(agent.user.shop_id);
    Ok(Json(PolicyResponse { policy }))
}

#[utoipa::path(delete, path = "/api/v1/sla/policies/{id}", tag = "sla", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user)?;
    state
        .store
        .delete_sla_policy(agent.user.shop_id, id)
        .await?;
    state.services.sla.policies_changed(agent.user.shop_id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/sla/overview", tag = "sla",
    responses((status = 200, body = SlaOverview), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
/// The shop's open tickets by SLA state, now.
pub async fn overview(State(state): State<AppState>, agent: Agent) -> ApiResult<Json<SlaOverview>> {
    require_manager(&agent.user)?;
    Ok(Json(
        state
            .store
            .sla_overview(Some(agent.user.shop_id), state.now())
            .await?,
    ))
}

// ---- notifications ----

#[derive(Deserialize, IntoParams)]
pub struct NotificationsQuery {
    /// Only unread ones (default false).
    pub unread: Option<bool>,
    /// 1-200 (default 50), newest first.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationsResponse {
    pub notifications: Vec<Notification>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = NotificationsReadResponse)]
pub struct ReadResponse {
    pub changed: i64,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "sla", params(NotificationsQuery),
    responses((status = 200, body = NotificationsResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
/// The caller's own notifications (SLA warnings and breaches, automation notices).
pub async fn list_notifications(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> ApiResult<Json<NotificationsResponse>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::validation("limit: must be 1-200").into());
    }
    let notifications = state
        .store
        .notifications(
            agent.user.shop_id,
            agent.user.id,
            q.unread.unwrap_or(false),
            limit,
        )
        .await?;
    Ok(Json(NotificationsResponse { notifications }))
}

#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "sla",
    responses((status = 200, body = ReadResponse)), security(("bearer" = [])))]
pub async fn read_all_notifications(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<ReadResponse>> {
    let changed = state
        .store
        .mark_notifications_read(agent.user.shop_id, agent.user.id, None)
        .await?;
    Ok(Json(ReadResponse { changed }))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "sla", params(("id" = i64, Path)),
    responses((status = 200, body = ReadResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn read_notification(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ReadResponse>> {
    let changed = state
        .store
        .mark_notifications_read(agent.user.shop_id, agent.user.id, Some(id))
        .await?;
    Ok(Json(ReadResponse { changed }))
}

// ---- automation rules ----

#[derive(Serialize, ToSchema)]
pub struct RulesResponse {
    pub rules: Vec<AutomationRule>,
}

#[derive(Serialize, ToSchema)]
pub struct RuleResponse {
    pub rule: AutomationRule,
}

#[utoipa::path(get, path = "/api/v1/automation-rules", tag = "automation",
    responses((status = 200, body = RulesResponse)), security(("bearer" = [])))]
pub async fn list_rules(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<RulesResponse>> {
    Ok(Json(RulesResponse {
        rules: state.store.automation_rules(agent.user.shop_id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/automation-rules", tag = "automation",
    request_body = AutomationRuleInput,
    responses((status = 201, body = RuleResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_rule(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(input): ApiJson<AutomationRuleInput>,
) -> ApiResult<(StatusCode, Json<RuleResponse>)> {
    require_manager(&agent.user)?;
    let input = checked_rule(input)?;
    let rule = state
        .store
        .create_automation_rule(agent.user.shop_id, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(RuleResponse { rule })))
}

fn checked_rule(input: AutomationRuleInput) -> Result<AutomationRuleInput> {
    input.validated()
}

#[utoipa::path(get, path = "/api/v1/automation-rules/{id}", tag = "automation", params(("id" = i64, Path)),
    responses((status = 200, body = RuleResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_rule(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<RuleResponse>> {
    let rule = state
        .store
        .automation_rule(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("automation rule"))?;
    Ok(Json(RuleResponse { rule }))
}

#[utoipa::path(put, path = "/api/v1/automation-rules/{id}", tag = "automation", params(("id" = i64, Path)),
    request_body = AutomationRuleInput,
    responses((status = 200, body = RuleResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_rule(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(input): ApiJson<AutomationRuleInput>,
) -> ApiResult<Json<RuleResponse>> {
    require_manager(&agent.user)?;
    let input = checked_rule(input)?;
    let rule = state
        .store
        .update_automation_rule(agent.user.shop_id, id, &input)
        .await?;
    Ok(Json(RuleResponse { rule }))
}

#[utoipa::path(delete, path = "/api/v1/automation-rules/{id}", tag = "automation", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_rule(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user)?;
    state
        .store
        .delete_automation_rule(agent.user.shop_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
