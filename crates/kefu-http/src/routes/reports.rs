//! Endpoints of the reports (admins and supervisors): the complaints report as JSON for the
//! console's charts and as CSV, one line per ticket. Counting is in `kefu_core::reports`.

use crate::AppState;
use crate::auth::Agent;
use crate::customers::require_manager;
use crate::error::{ApiQuery, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kefu_core::customers::csv_cell;
use kefu_core::reports::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/complaints", get(complaints))
        .route("/api/v1/reports/complaints.csv", get(complaints_csv))
}

#[derive(OpenApi)]
#[openapi(
    paths(complaints, complaints_csv),
    components(schemas(
        ComplaintReport,
        ComplaintTotals,
        CategoryCount,
        RootCauseCount,
        CompensationTotal,
        SlaAttainment,
        TrendPoint,
        ReportScope,
        Granularity
    ))
)]
pub struct ApiDoc;

#[derive(Deserialize, IntoParams)]
pub struct ReportQuery {
    /// The first day (`YYYY-MM-DD`, local midnight in `tz`) or an RFC 3339 instant; default 30
    /// days before `to`.
    pub from: Option<String>,
    /// The last day, included (`YYYY-MM-DD`), or an RFC 3339 instant, excluded; default now.
    pub to: Option<String>,
    /// A time zone without daylight saving (default: the shop's): days and weeks are cut there.
    pub tz: Option<String>,
    /// `day`, `week` or `month`; chosen from the range's length when absent.
    pub granularity: Option<Granularity>,
    /// `complaints` (default: complaint categories only) or `all` tickets.
    pub scope: Option<ReportScope>,
}

const DAY_MS: i64 = 86_400_000;

impl ReportQuery {
    /// The range asked for; days are the shop's (`shop_zone`) unless `tz` names another zone.
    fn range(&self, shop_zone: &str) -> Result<ReportRange> {
        let tz = self.tz.as_deref().unwrap_or(shop_zone);
        let offset = report_utc_offset(tz)?;
        let to = match &self.to {
            // A day is included whole: the range ends at the next local midnight.
            Some(raw) => parse_report_time("to", raw, offset, 1)?,
            None => Millis::now(),
        };
        let from = match &self.from {
            Some(raw) => parse_report_time("from", raw, offset, 0)?,
            None => Millis(to.0 - 30 * DAY_MS),
        };
        ReportRange::new(
            from,
            to,
            tz,
            self.granularity,
            self.scope.unwrap_or_default(),
        )
    }
}

#[utoipa::path(get, path = "/api/v1/reports/complaints", tag = "reports", params(ReportQuery),
    responses((status = 200, body = ComplaintReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complaints(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<ComplaintReport>> {
    require_manager(&agent.user, "see reports")?;
    let range = q.range(&shop_zone(&state, &agent).await?)?;
    let data = state
        .store
        .complaint_report_data(agent.user.shop_id, range.from, range.to)
        .await?;
    Ok(Json(ComplaintReport::build(&range, &data)))
}

/// The caller's shop's time zone.
async fn shop_zone(state: &AppState, agent: &Agent) -> Result<String> {
    let shop = state.store.shop_by_id(agent.user.shop_id).await?;
    Ok(shop
        .ok_or_else(|| Error::not_found("shop"))?
        .settings
        .time_zone)
}

fn hours(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{:.2}", ms as f64 / 3_600_000.0))
        .unwrap_or_default()
}

#[utoipa::path(get, path = "/api/v1/reports/complaints.csv", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "UTF-8 CSV with a BOM, one line per ticket", content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complaints_csv(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    require_manager(&agent.user, "export reports")?;
    let range = q.range(&shop_zone(&state, &agent).await?)?;
    let data = state
        .store
        .complaint_report_data(agent.user.shop_id, range.from, range.to)
        .await?;
    // A BOM so spreadsheet programs read the Chinese text as UTF-8.
    let mut out = String::from("\u{feff}");
    out.push_str(
        "number,created_at,subject,category,sub_category,priority,status,root_causes,\
         first_response_hours,resolution_hours,first_response_sla,resolution_sla,compensation_cost\r\n",
    );
    for line in ComplaintReport::lines(&range, &data) {
        let t = line.ticket;
        let (category, sub) = match (line.parent, line.category) {
            (Some(parent), Some(cat)) => (parent.name.clone(), cat.name.clone()),
            (None, Some(cat)) => (cat.name.clone(), String::new()),
            _ => (String::new(), String::new()),
        };
        let resolved = is_resolved(&t.status);
        let cells = [
            format!("T-{:06}", t.number),
            t.created_at.to_local(range.utc_offset_min),
            t.subject.clone(),
            category,
            sub,
            t.priority.clone(),
            t.status.clone(),
            t.root_causes.join("; "),
            hours(t.first_public_reply_at.map(|at| at.0 - t.created_at.0)),
            hours(
                t.resolved_at
                    .filter(|_| resolved)
                    .map(|at| at.0 - t.created_at.0),
            ),
            line.first_response_sla.to_string(),
            line.resolution_sla.to_string(),
            kefu_core::commerce::money::format_yuan(line.compensation_cost_cents),
        ];
        let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"complaints.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
