//! Endpoints of the agent KPIs (客服绩效): the report (JSON and a streamed CSV), the trend by day,
//! the shop's attribution settings, and a conversation's desk events. Who may see what is
//! `kefu_service::kpi`'s rule: managers everything, an agent their own row.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kefu_core::customers::csv_cell;
use kefu_core::kpi::*;
use kefu_core::model::Id;
use kefu_core::reports::{parse_report_time, report_utc_offset};
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use kefu_service::kpi::KpiRange;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/kpi", get(report))
        .route("/api/v1/reports/kpi.csv", get(report_csv))
        .route("/api/v1/reports/kpi/trend", get(trend))
        .route("/api/v1/settings/kpi", get(settings).put(put_settings))
        .route("/api/v1/conversations/{id}/events", get(events))
        .route("/api/v1/agents/{id}/events", get(agent_events))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        report,
        report_csv,
        trend,
        settings,
        put_settings,
        events,
        agent_events
    ),
    components(schemas(
        KpiReport,
        KpiRow,
        KpiFigures,
        KpiTrend,
        KpiDay,
        KpiSettings,
        KpiAttribution,
        ReminderOrders,
        KpiGroup,
        DeskEvent,
        DeskEventKind,
        EventsResponse
    ))
)]
pub struct ApiDoc;

#[derive(Deserialize, IntoParams)]
pub struct KpiParams {
    /// The first day, `YYYY-MM-DD` in the shop's time zone (or an RFC 3339 instant); default six
    /// days before `to`'s day (a week).
    pub from: Option<String>,
    /// The last day, included (`YYYY-MM-DD`), or an RFC 3339 instant, excluded; default today.
    pub to: Option<String>,
    /// `agent` (default), `team` or `shop`. Agents may ask for `agent` only.
    pub group: Option<String>,
    /// The trend's agent; absent: the whole shop (agents: themselves).
    pub agent_id: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

impl KpiParams {
    /// The range in the shop's zone.
    fn range(&self, zone: &str) -> Result<KpiRange> {
        let offset = report_utc_offset(zone)?;
        let today = local_day(Millis::now(), offset);
        let day_start = |day: i64| Millis(day * DAY_MS - i64::from(offset) * 60_000);
        let to = match &self.to {
            Some(raw) => parse_report_time("to", raw, offset, 1)?,
            None => day_start(today + 1),
        };
        let from = match &self.from {
            Some(raw) => parse_report_time("from", raw, offset, 0)?,
            None => day_start(local_day(Millis(to.0 - 1), offset) - 6),
        };
        KpiRange::new(from, to, zone)
    }

    fn group(&self) -> Result<KpiGroup> {
        match self.group.as_deref() {
            None | Some("") => Ok(KpiGroup::Agent),
            Some(g) => KpiGroup::parse(g)
                .map_err(|_| Error::invalid("group", "must be one of agent, team, shop")),
        }
    }

    fn agent_id(&self) -> Result<Option<Id>> {
        match self.agent_id.as_deref() {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse::<Id>()
                .ok()
                .filter(|id| *id > 0)
                .map(Some)
                .ok_or_else(|| Error::invalid("agent_id", "must be a positive id")),
        }
    }
}

/// The caller's shop's time zone.
async fn shop_zone(state: &AppState, agent: &Agent) -> Result<String> {
    let shop = state.store.shop_by_id(agent.user.shop_id).await?;
    Ok(shop
        .ok_or_else(|| Error::not_found("shop"))?
        .settings
        .time_zone)
}

#[utoipa::path(get, path = "/api/v1/reports/kpi", tag = "reports", params(KpiParams),
    responses((status = 200, body = KpiReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<KpiParams>,
) -> ApiResult<Json<KpiReport>> {
    let range = q.range(&shop_zone(&state, &agent).await?)?;
    let group = q.group()?;
    Ok(Json(
        state
            .services
            .kpi
            .report(&agent.user, &range, group)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/reports/kpi.csv", tag = "reports", params(KpiParams),
    responses((status = 200, description = "UTF-8 CSV with a BOM and Chinese headers: one line per agent (team, shop) and the shop's totals", content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report_csv(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<KpiParams>,
) -> ApiResult<Response> {
    let zone = shop_zone(&state, &agent).await?;
    let range = q.range(&zone)?;
    let group = q.group()?;
    let report = state
        .services
        .kpi
        .report(&agent.user, &range, group)
        .await?;
    let (label, with_team) = match group {
        KpiGroup::Agent => ("客服", true),
        KpiGroup::Team => ("团队", false),
        KpiGroup::Shop => ("店铺", false),
    };
    let line = |cells: Vec<String>| {
        let mut out = cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push_str("\r\n");
        Bytes::from(out)
    };
    let mut header = vec![label.to_owned()];
    if with_team {
        header.push("所属团队".into());
    }
    header.extend(CSV_HEADERS.iter().map(|h| (*h).to_owned()));
    // A BOM so spreadsheet programs read the Chinese text as UTF-8.
    let mut lines = vec![Bytes::from("\u{feff}"), line(header)];
    for row in &report.rows {
        let name = match (&row.name, group) {
            (n, KpiGroup::Team) if n.is_empty() => "未分组".to_owned(),
            (n, _) => n.clone(),
        };
        let mut cells = vec![name];
        if with_team {
            cells.push(row.team.clone().unwrap_or_default());
        }
        cells.extend(csv_cells(&row.figures));
        lines.push(line(cells));
    }
    if let Some(totals) = report.totals.as_ref().filter(|_| group != KpiGroup::Shop) {
        let mut cells = vec!["全店合计".to_owned()];
        if with_team {
            cells.push(String::new());
        }
        cells.extend(csv_cells(totals));
        lines.push(line(cells));
    }
    let offset = report_utc_offset(&zone)?;
    let filename = format!(
        "kpi-{}-{}.csv",
        day_label(local_day(range.from, offset)),
        day_label(local_day(Millis(range.to.0 - 1), offset))
    );
    // The figures are aggregated before the first byte; the lines then stream out one by one.
    let body = Body::from_stream(futures_util::stream::iter(
        lines.into_iter().map(Ok::<_, std::io::Error>),
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/reports/kpi/trend", tag = "reports", params(KpiParams),
    responses((status = 200, body = KpiTrend), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn trend(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<KpiParams>,
) -> ApiResult<Json<KpiTrend>> {
    let range = q.range(&shop_zone(&state, &agent).await?)?;
    let agent_id = q.agent_id()?;
    Ok(Json(
        state
            .services
            .kpi
            .trend(&agent.user, &range, agent_id)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/settings/kpi", tag = "reports",
    responses((status = 200, body = KpiSettings)), security(("bearer" = [])))]
pub async fn settings(State(state): State<AppState>, agent: Agent) -> ApiResult<Json<KpiSettings>> {
    Ok(Json(state.services.kpi.settings(&agent.user).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/kpi", tag = "reports", request_body = KpiSettings,
    responses((status = 200, body = KpiSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(body): ApiJson<KpiSettings>,
) -> ApiResult<Json<KpiSettings>> {
    Ok(Json(
        state.services.kpi.put_settings(&agent.user, body).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct EventsResponse {
    pub events: Vec<DeskEvent>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/events", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = EventsResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<EventsResponse>> {
    Ok(Json(EventsResponse {
        events: state
            .services
            .kpi
            .conversation_events(&agent.user, id)
            .await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/agents/{id}/events", tag = "agents", params(("id" = i64, Path), KpiParams),
    responses((status = 200, description = "the agent's presence changes (`agent_status` events) of the range, oldest first", body = EventsResponse),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn agent_events(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(q): ApiQuery<KpiParams>,
) -> ApiResult<Json<EventsResponse>> {
    let range = q.range(&shop_zone(&state, &agent).await?)?;
    Ok(Json(EventsResponse {
        events: state
            .services
            .kpi
            .agent_status_events(&agent.user, id, &range)
            .await?,
    }))
}
