//! Negative reviews (中差评): the batch import API and CSV upload (admins and supervisors), the
//! review list, the follow-up queue and outcomes, and the shop's settings (threshold, target hours).
//! Rules are in `kefu_core::reviews`.
//!
//! Follow-up tasks are scoped like conversations: admins and supervisors see and assign all;
//! agents see the tasks assigned to them and the unassigned ones, record outcomes on those, and may
//! take an unassigned task for themselves.
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] into the OpenAPI document.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::aftersales::AgentRef;
use kefu_core::commerce::{BatchOutcome, ItemResult};
use kefu_core::model::{Id, User};
use kefu_core::reviews::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// CSV uploads: about 20,000 reviews.
pub const MAX_IMPORT_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/reviews",
            get(list_reviews)
                .post(import_batch)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES)),
        )
        .route(
            "/api/v1/reviews/import",
            post(import_csv).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES)),
        )
        .route("/api/v1/reviews/import/template", get(import_template))
        .route(
            "/api/v1/reviews/settings",
            get(get_settings).put(put_settings),
        )
        .route("/api/v1/review-followups", get(list_followups))
        .route(
            "/api/v1/review-followups/{id}",
            get(get_followup).patch(patch_followup),
        )
}

/// Low ratings count toward the demanding group: the linked customers' segments follow an import
/// (inline for a few, in the background for many). Best effort: the reviews are stored either way.
async fn segments_follow(state: &AppState, shop_id: Id, touched: Vec<Id>) {
    if touched.is_empty() {
        return;
    }
    let inline = touched.len() <= 1_000;
    let store = state.store.clone();
    let run = async move {
        if let Err(e) = store.recompute_customers(shop_id, &touched).await {
            tracing::warn!(shop_id, error = %e, "segments recompute after a review import failed");
        }
    };
    if inline {
        run.await;
    } else {
        tokio::spawn(run);
    }
}

fn require_manager(user: &User, what: &str) -> Result<()> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only admins and supervisors may {what}"
        )))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ReviewBatch {
    /// At most 1000.
    pub reviews: Vec<ReviewInput>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewBatchOutcome {
    #[serde(flatten)]
    pub outcome: BatchOutcome,
    /// Follow-up tasks opened for low ratings by this batch.
    pub followups_opened: usize,
}

/// Imports reviews, idempotent on `review_id`: each all or nothing (a bad one is reported by index
/// and the others are stored); a re-sent review updates or changes nothing, never duplicates.
#[utoipa::path(post, path = "/api/v1/reviews", tag = "reviews", request_body = ReviewBatch,
    responses((status = 200, body = ReviewBatchOutcome, description = "per item: created / updated / unchanged / failed"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_batch(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(batch): ApiJson<ReviewBatch>,
) -> ApiResult<Json<ReviewBatchOutcome>> {
    require_manager(&agent.user, "import reviews")?;
    if batch.reviews.is_empty() || batch.reviews.len() > MAX_BATCH_REVIEWS {
        return Err(
            Error::validation(format!("reviews: send 1 to {MAX_BATCH_REVIEWS} reviews")).into(),
        );
    }
    let mut failed = Vec::new();
    let mut docs = Vec::new();
    for (i, r) in batch.reviews.iter().enumerate() {
        match validate_review(&format!("reviews[{i}]."), r) {
            Ok(d) => docs.push((i, d)),
            Err(e) => failed.push(ItemResult::failed(i, r.review_id.trim(), &e)),
        }
    }
    let (mut outcome, opened) = state
        .store
        .import_reviews(agent.user.shop_id, docs, Millis::now())
        .await?;
    for f in failed {
        outcome.push(f);
    }
    outcome.finish();
    segments_follow(
        &state,
        agent.user.shop_id,
        outcome.touched_customer_ids.clone(),
    )
    .await;
    Ok(Json(ReviewBatchOutcome {
        outcome,
        followups_opened: opened,
    }))
}

/// Imports a CSV or XLSX of reviews (columns `review_id, platform, rating, text, order_no,
/// reviewed_at` or their Chinese names; see docs/API.md). Each row is all or nothing; every bad row
/// is reported with its line number, column, reason code and message; re-importing the same file
/// changes nothing.
#[utoipa::path(post, path = "/api/v1/reviews/import", tag = "reviews",
    request_body(content = Vec<u8>, content_type = "text/csv",
        description = "CSV (UTF-8, GBK/GB18030 or UTF-16) or XLSX, judged by the content"),
    responses((status = 200, body = ReviewImportReport), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "an unreadable file (field `file`) or a missing required column (field `header`)")),
    security(("bearer" = [])))]
pub async fn import_csv(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<ReviewImportReport>> {
    require_manager(&agent.user, "import reviews")?;
    if body.is_empty() {
        return Err(Error::validation("file: must not be empty").into());
    }
    let zone = super::commerce::shop_zone(&state, agent.user.shop_id).await?;
    let (good, bad, rows) =
        tokio::task::spawn_blocking(move || parse_csv(std::io::Cursor::new(body), &zone))
            .await
            .map_err(Error::internal)??;
    let mut report = ReviewImportReport {
        rows,
        rejected: bad.len(),
        bad_rows: bad,
        ..Default::default()
    };
    let mut touched = Vec::new();
    let lines: std::collections::HashMap<String, u64> = good
        .iter()
        .map(|(l, d)| (d.review_id.clone(), *l as u64))
        .collect();
    for chunk in good.chunks(MAX_BATCH_REVIEWS) {
        let (outcome, opened) = state
            .store
            .import_reviews(agent.user.shop_id, chunk.to_vec(), Millis::now())
            .await?;
        report.created += outcome.created;
        report.updated += outcome.updated;
        report.unchanged += outcome.unchanged;
        report.rejected += outcome.failed;
        report.followups_opened += opened;
        touched.extend(outcome.touched_customer_ids);
        for item in outcome.items {
            if let Some(e) = item.error {
                let (field, message) = match e.message.split_once(": ") {
                    Some((f, m)) => (f.to_owned(), m.to_owned()),
                    None => ("-".to_owned(), e.message.clone()),
                };
                report.bad_rows.push(BadRow {
                    line: lines.get(&item.key).copied().unwrap_or(0),
                    review_id: item.key,
                    field,
                    column: None,
                    code: kefu_core::tabular::Reason::of_message(&message)
                        .as_str()
                        .to_owned(),
                    other_line: None,
                    message,
                });
            }
        }
    }
    report.bad_rows.sort_by_key(|b| b.line);
    report.bad_rows.truncate(1000);
    touched.sort_unstable();
    touched.dedup();
    segments_follow(&state, agent.user.shop_id, touched).await;
    Ok(Json(report))
}

fn bool_param(field: &str, v: &Option<String>) -> Result<bool> {
    match v.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        _ => Err(Error::validation(format!("{field}: must be true or false"))),
    }
}

fn status_param(v: &Option<String>) -> Result<Option<FollowupStatus>> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            FollowupStatus::parse(s).ok_or_else(|| {
                Error::validation(
                    "status: must be one of open, resolved, review_revised, no_response",
                )
            })
        })
        .transpose()
}

fn limit_param(v: Option<i64>) -> Result<i64> {
    match v {
        None => Ok(50),
        Some(l) if (1..=200).contains(&l) => Ok(l),
        Some(_) => Err(Error::validation("limit: must be between 1 and 200")),
    }
}

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

fn rating_param(field: &str, v: Option<i64>) -> Result<Option<i64>> {
    match v {
        Some(r) if !(1..=5).contains(&r) => Err(Error::validation(format!(
            "{field}: must be between 1 and 5"
        ))),
        other => Ok(other),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ReviewParams {
    /// Exactly this rating.
    pub rating: Option<i64>,
    /// At most this rating (e.g. 3 for 中差评).
    pub rating_max: Option<i64>,
    /// The follow-up's status: open | resolved | review_revised | no_response.
    pub status: Option<String>,
    /// `true`: only reviews whose follow-up is overdue.
    pub overdue: Option<String>,
    pub platform: Option<String>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewsPage {
    /// Newest review first.
    pub reviews: Vec<Review>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", params(ReviewParams),
    responses((status = 200, body = ReviewsPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_reviews(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<ReviewParams>,
) -> ApiResult<Json<ReviewsPage>> {
    let query = ReviewQuery {
        rating: rating_param("rating", p.rating)?,
        rating_max: rating_param("rating_max", p.rating_max)?,
        status: status_param(&p.status)?,
        overdue: bool_param("overdue", &p.overdue)?,
        platform: p
            .platform
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty()),
        before: cursor_param(&p.cursor)?,
        limit: limit_param(p.limit)?,
    };
    let reviews = state
        .store
        .list_reviews(agent.user.shop_id, &query, Millis::now())
        .await?;
    let next_cursor = (reviews.len() as i64 == query.limit)
        .then(|| {
            reviews
                .last()
                .map(|r| format!("{}:{}", r.reviewed_at.0, r.id))
        })
        .flatten();
    Ok(Json(ReviewsPage {
        reviews,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/reviews/settings", tag = "reviews",
    responses((status = 200, body = ReviewSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<ReviewSettings>> {
    Ok(Json(state.store.review_settings(agent.user.shop_id).await?))
}

/// Changes the threshold and target hours (admins and supervisors). Tasks already open keep
/// their due times; the new values apply to later imports.
#[utoipa::path(put, path = "/api/v1/reviews/settings", tag = "reviews", request_body = ReviewSettings,
    responses((status = 200, body = ReviewSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(settings): ApiJson<ReviewSettings>,
) -> ApiResult<Json<ReviewSettings>> {
    require_manager(&agent.user, "change review settings")?;
    settings.validate()?;
    let saved = state
        .store
        .put_review_settings(agent.user.shop_id, &settings)
        .await?;
    // The threshold decides which ratings are low for the demanding group: rescore the shop in
    // the background (the next scheduled recompute would too).
    let (store, shop_id) = (state.store.clone(), agent.user.shop_id);
    tokio::spawn(async move {
        if let Err(e) = store.recompute_shop(shop_id).await {
            tracing::warn!(shop_id, error = %e, "segments recompute after review settings failed");
        }
    });
    Ok(Json(saved))
}

#[derive(Deserialize, IntoParams)]
pub struct FollowupParams {
    /// open (default) | resolved | review_revised | no_response | all
    pub status: Option<String>,
    /// `true`: only open tasks past their due time.
    pub overdue: Option<String>,
    pub assignee_id: Option<Id>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct FollowupsPage {
    /// Soonest due first: overdue tasks lead.
    pub followups: Vec<Followup>,
    pub next_cursor: Option<String>,
}

/// The follow-up queue (agents: their own and unassigned tasks), soonest due first.
#[utoipa::path(get, path = "/api/v1/review-followups", tag = "reviews", params(FollowupParams),
    responses((status = 200, body = FollowupsPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_followups(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<FollowupParams>,
) -> ApiResult<Json<FollowupsPage>> {
    let u = &agent.user;
    let status = match p.status.as_deref().map(str::trim) {
        None | Some("") => Some(FollowupStatus::Open),
        Some("all") => None,
        Some(_) => status_param(&p.status)?,
    };
    let query = FollowupQuery {
        status,
        overdue: bool_param("overdue", &p.overdue)?,
        assignee_id: p.assignee_id,
        visible_to: (!u.role.sees_whole_shop()).then_some(u.id),
        after: cursor_param(&p.cursor)?,
        limit: limit_param(p.limit)?,
    };
    let followups = state
        .store
        .list_followups(u.shop_id, &query, Millis::now())
        .await?;
    let next_cursor = (followups.len() as i64 == query.limit)
        .then(|| followups.last().map(|f| format!("{}:{}", f.due_at.0, f.id)))
        .flatten();
    Ok(Json(FollowupsPage {
        followups,
        next_cursor,
    }))
}

async fn visible_followup(state: &AppState, u: &User, id: Id) -> Result<Followup> {
    let f = state
        .store
        .followup(u.shop_id, id, Millis::now())
        .await?
        .ok_or_else(|| Error::not_found("follow-up"))?;
    if !kefu_service::aftersales::sees_request(u, f.assignee.as_ref().map(|a| a.id)) {
        return Err(Error::not_found("follow-up"));
    }
    Ok(f)
}

#[utoipa::path(get, path = "/api/v1/review-followups/{id}", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = Followup), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_followup(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Followup>> {
    Ok(Json(visible_followup(&state, &agent.user, id).await?))
}

/// Records the outcome (`resolved`, `review_revised`, `no_response`, with a note; once, 409 after)
/// and/or changes the assignee (admins and supervisors; an agent may take an unassigned task).
#[utoipa::path(patch, path = "/api/v1/review-followups/{id}", tag = "reviews", params(("id" = i64, Path)),
    request_body = FollowupPatch,
    responses((status = 200, body = Followup), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "the task already has an outcome", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_followup(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<FollowupPatch>,
) -> ApiResult<Json<Followup>> {
    let u = &agent.user;
    let current = visible_followup(&state, u, id).await?;
    if let Some(to) = patch.assignee_id
        && !u.role.sees_whole_shop()
        && (to != Some(u.id) || current.assignee.is_some())
    {
        return Err(Error::forbidden(
            "agents may only take an unassigned follow-up for themselves",
        )
        .into());
    }
    let actor = AgentRef {
        id: u.id,
        name: u.name.clone(),
    };
    Ok(Json(
        state
            .store
            .update_followup(u.shop_id, id, patch, actor, Millis::now())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/reviews/import/template", tag = "reviews",
    params(super::commerce::TemplateQuery),
    responses((status = 200, description = "the review import template: Chinese headers and one example row (CSV with a UTF-8 BOM, or XLSX)",
            content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_template(
    agent: Agent,
    ApiQuery(q): ApiQuery<super::commerce::TemplateQuery>,
) -> ApiResult<axum::response::Response> {
    require_manager(&agent.user, "import reviews")?;
    Ok(super::commerce::template_download(
        "reviews",
        "评价",
        q.format.as_deref(),
        &template_headers(),
        TEMPLATE_EXAMPLES,
    )?)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        import_batch,
        import_csv,
        import_template,
        list_reviews,
        get_settings,
        put_settings,
        list_followups,
        get_followup,
        patch_followup
    ),
    components(schemas(
        ReviewBatch,
        ReviewBatchOutcome,
        ReviewInput,
        ReviewImportReport,
        BadRow,
        Review,
        ReviewsPage,
        ReviewSettings,
        Followup,
        FollowupStatus,
        FollowupPatch,
        FollowupsPage
    ))
)]
pub struct ApiDoc;
