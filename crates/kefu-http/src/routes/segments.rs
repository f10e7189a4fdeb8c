//! Segmentation: RFM, tiers, value-added groups, churn risk, the Pareto view and the shop's segmentation rules.
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`]. Every agent of the shop may read segments (badges,
//! lists, the Pareto view); changing the rules and recomputing are for admins and supervisors.
//! The definitions are in docs/SEGMENTS.md; the rules themselves in `kefu_core::segments`.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use kefu_core::Error;
use kefu_core::model::{Id, User};
use kefu_core::segments::*;
use kefu_core::time::Millis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers/{id}/segments", get(customer_segments))
        .route("/api/v1/segments/summary", get(summary))
        .route("/api/v1/segments/customers", get(list_customers))
        .route("/api/v1/segments/pareto", get(pareto_view))
        .route("/api/v1/segments/rules", get(get_rules).put(put_rules))
        .route("/api/v1/segments/recompute", post(recompute))
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        customer_segments,
        summary,
        list_customers,
        pareto_view,
        get_rules,
        put_rules,
        recompute
    ),
    components(schemas(
        CustomerSegmentsResponse,
        CustomerSegments,
        CustomerMetrics,
        DemandSignals,
        Groups,
        ChurnRisk,
        ChurnLevel,
        Tier,
        Group,
        RfmSegment,
        SegmentSummary,
        SegmentCount,
        Thresholds,
        Cuts,
        SegmentList,
        SegmentListItem,
        ParetoResponse,
        Pareto,
        ParetoPoint,
        RulesResponse,
        SegmentRules,
        KeyRule,
        SuitableRule,
        HighVolumeRule,
        LongStandingRule,
        DemandingRule,
        ChurnRule,
        PutRulesResponse,
        RecomputeReport
    ))
)]
pub struct ApiDoc;

fn require_manager(user: &User) -> Result<(), Error> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins and supervisors change segmentation",
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerSegmentsResponse {
    /// `false` until the customer's segments were first computed (then `segments` shows a
    /// customer without orders: general tier, no badges).
    pub computed: bool,
    pub segments: CustomerSegments,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/segments", tag = "segments",
    params(("id" = i64, Path)),
    responses((status = 200, body = CustomerSegmentsResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn customer_segments(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<CustomerSegmentsResponse>> {
    let stored = state
        .store
        .customer_segments(agent.user.shop_id, id)
        .await?;
    let computed = stored.is_some();
    let segments = match stored {
        Some(s) => s,
        None => segment(
            id,
            CustomerMetrics::default(),
            None,
            &SegmentRules::default(),
            Millis::now(),
        ),
    };
    Ok(Json(CustomerSegmentsResponse { computed, segments }))
}

#[utoipa::path(get, path = "/api/v1/segments/summary", tag = "segments",
    responses((status = 200, body = SegmentSummary), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<SegmentSummary>> {
    Ok(Json(state.store.segment_summary(agent.user.shop_id).await?))
}

/// Filters of a segment list; the customers list accepts the same names.
#[derive(Deserialize, IntoParams, Default)]
pub struct SegmentQuery {
    /// `key`, `suitable` or `general`.
    pub tier: Option<String>,
    /// `high_volume`, `long_standing`, `key` or `demanding`.
    pub group: Option<String>,
    /// An RFM segment, e.g. `important_value`.
    pub rfm: Option<String>,
    /// `any` (every customer at risk), `low`, `medium` or `high`.
    pub churn: Option<String>,
    /// `revenue` (default; highest first), `last_order` (oldest first) or `overdue` (most first).
    pub sort: Option<String>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
    /// At most this many (default 50, max 200).
    pub limit: Option<i64>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Parses the segment filters of a query string; errors name the parameter. Public so the
/// customers list can take the same filters.
pub fn parse_filter(
    tier: &Option<String>,
    group: &Option<String>,
    rfm: &Option<String>,
    churn: &Option<String>,
) -> Result<SegmentFilter, Error> {
    let named = |field: &'static str, allowed: &'static str| {
        move |_| Error::validation(format!("{field}: must be one of {allowed}"))
    };
    Ok(SegmentFilter {
        tier: given(tier)
            .map(|t| Tier::parse(t).map_err(named("tier", "key, suitable, general")))
            .transpose()?,
        group: given(group)
            .map(|g| {
                Group::parse(g)
                    .map_err(named("group", "high_volume, long_standing, key, demanding"))
            })
            .transpose()?,
        rfm: given(rfm)
            .map(|r| {
                RfmSegment::parse(r).map_err(named(
                    "rfm",
                    "important_value, important_development, important_retain, \
                     important_winback, general_value, general_development, general_retain, \
                     general_winback",
                ))
            })
            .transpose()?,
        churn: given(churn).map(ChurnFilter::parse).transpose()?,
    })
}

#[utoipa::path(get, path = "/api/v1/segments/customers", tag = "segments", params(SegmentQuery),
    responses((status = 200, body = SegmentList), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<SegmentQuery>,
) -> ApiResult<Json<SegmentList>> {
    let filter = parse_filter(&q.tier, &q.group, &q.rfm, &q.churn)?;
    let sort = given(&q.sort)
        .map(|s| {
            SegmentSort::parse(s)
                .map_err(|_| Error::validation("sort: must be revenue, last_order or overdue"))
        })
        .transpose()?
        .unwrap_or(SegmentSort::Revenue);
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::validation("offset: must not be negative").into());
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::validation("limit: must be between 1 and 200").into());
    }
    Ok(Json(
        state
            .store
            .list_segment_customers(agent.user.shop_id, filter, sort, offset, limit)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct ParetoQuery {
    /// How many of the top group to list (default 20, max 200).
    pub top_limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ParetoResponse {
    pub pareto: Pareto,
    /// The first `top_limit` customers of the top group, highest revenue first.
    pub top: Vec<SegmentListItem>,
}

#[utoipa::path(get, path = "/api/v1/segments/pareto", tag = "segments", params(ParetoQuery),
    responses((status = 200, body = ParetoResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pareto_view(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ParetoQuery>,
) -> ApiResult<Json<ParetoResponse>> {
    let top_limit = q.top_limit.unwrap_or(20);
    if !(0..=200).contains(&top_limit) {
        return Err(Error::validation("top_limit: must be between 0 and 200").into());
    }
    let shop_id = agent.user.shop_id;
    let pareto = pareto(&state.store.buyer_revenues(shop_id).await?);
    let limit = top_limit.min(pareto.top_customers);
    let top = if limit > 0 {
        state
            .store
            .list_segment_customers(
                shop_id,
                SegmentFilter::default(),
                SegmentSort::Revenue,
                0,
                limit,
            )
            .await?
            .items
    } else {
        Vec::new()
    };
    Ok(Json(ParetoResponse { pareto, top }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = SegmentRulesResponse)]
pub struct RulesResponse {
    pub rules: SegmentRules,
    /// kefu's defaults, for "reset" in the console.
    pub defaults: SegmentRules,
}

#[utoipa::path(get, path = "/api/v1/segments/rules", tag = "segments",
    responses((status = 200, body = RulesResponse)), security(("bearer" = [])))]
pub async fn get_rules(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<RulesResponse>> {
    Ok(Json(RulesResponse {
        rules: state.store.segment_rules(agent.user.shop_id).await?,
        defaults: SegmentRules::default(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PutRulesResponse {
    pub rules: SegmentRules,
    /// The recompute the new rules triggered.
    pub recompute: RecomputeReport,
}

#[utoipa::path(put, path = "/api/v1/segments/rules", tag = "segments", request_body = SegmentRules,
    responses((status = 200, body = PutRulesResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_rules(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(rules): ApiJson<SegmentRules>,
) -> ApiResult<Json<PutRulesResponse>> {
    require_manager(&agent.user)?;
    rules.validate()?;
    let recompute = state
        .store
        .put_segment_rules(agent.user.shop_id, &rules)
        .await?;
    Ok(Json(PutRulesResponse { rules, recompute }))
}

#[utoipa::path(post, path = "/api/v1/segments/recompute", tag = "segments",
    responses((status = 200, body = RecomputeReport), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn recompute(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<RecomputeReport>> {
    require_manager(&agent.user)?;
    Ok(Json(state.store.recompute_shop(agent.user.shop_id).await?))
}
