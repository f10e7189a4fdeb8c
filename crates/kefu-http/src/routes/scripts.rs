//! The scripts library (话术): categories, shop-wide and personal scripts, the composer's picker
//! search, rendering with variables, import/export (JSON, CSV) and usage statistics.
//! Flows and permission rules are in [`crate::scripts`].
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_core::model::*;
use kefu_core::scripts::{
    self, ImportError, ImportReport, NewScript, NewScriptCategory, Rendered, Script,
    ScriptCategory, ScriptRecord, ScriptStats,
};
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use kefu_service::scripts::{RenderSource, rank, require_manager, validate_query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Imports may be larger than ordinary JSON requests (a whole library).
pub const MAX_IMPORT_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/script-categories",
            get(list_categories).post(create_category),
        )
        .route(
            "/api/v1/script-categories/{id}",
            put(update_category).delete(delete_category),
        )
        .route("/api/v1/scripts", get(list_scripts).post(create_script))
        .route("/api/v1/scripts/search", get(search))
        .route("/api/v1/scripts/render", post(render))
        .route("/api/v1/scripts/variables", get(variables))
        .route("/api/v1/scripts/export", get(export))
        .route(
            "/api/v1/scripts/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES)),
        )
        .route("/api/v1/scripts/import/template", get(import_template))
        .route("/api/v1/scripts/stats", get(stats))
        .route(
            "/api/v1/scripts/{id}",
            get(get_script).put(update_script).delete(delete_script),
        )
}

// ---- categories ----

#[derive(Serialize, ToSchema)]
#[schema(as = ScriptCategoriesResponse)]
pub struct CategoriesResponse {
    pub categories: Vec<ScriptCategory>,
}

/// The shop's script categories by position (the default library is seeded on the first read).
#[utoipa::path(get, path = "/api/v1/script-categories", tag = "scripts",
    responses((status = 200, body = CategoriesResponse)), security(("bearer" = [])))]
pub async fn list_categories(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<CategoriesResponse>> {
    Ok(Json(CategoriesResponse {
        categories: state.store.script_categories(agent.user.shop_id).await?,
    }))
}

/// A new category (admins and supervisors).
#[utoipa::path(post, path = "/api/v1/script-categories", tag = "scripts", request_body = NewScriptCategory,
    responses((status = 201, body = ScriptCategory), (status = 403, body = ErrorBody),
        (status = 409, description = "the name is taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(mut req): ApiJson<NewScriptCategory>,
) -> ApiResult<Response> {
    require_manager(&agent.user)?;
    req.validate()?;
    let c = state
        .store
        .create_script_category(agent.user.shop_id, &req)
        .await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// Renames or moves a category (admins and supervisors).
#[utoipa::path(put, path = "/api/v1/script-categories/{id}", tag = "scripts", params(("id" = i64, Path)),
    request_body = NewScriptCategory,
    responses((status = 200, body = ScriptCategory), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(mut req): ApiJson<NewScriptCategory>,
) -> ApiResult<Json<ScriptCategory>> {
    require_manager(&agent.user)?;
    req.validate()?;
    let c = state
        .store
        .update_script_category(agent.user.shop_id, id, &req)
        .await?;
    // Suggestions show category names.
    state.services.scripts_changed(agent.user.shop_id);
    Ok(Json(c))
}

/// Deletes an empty category (admins and supervisors); `409` while it holds scripts.
#[utoipa::path(delete, path = "/api/v1/script-categories/{id}", tag = "scripts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user)?;
    state
        .store
        .delete_script_category(agent.user.shop_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- scripts ----

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only this category.
    pub category: Option<Id>,
    /// Title, body, shortcut or pinyin (as the picker matches); results stay in library order.
    pub q: Option<String>,
    /// `shop` (shop-wide only), `mine` (the caller's personal only); both when omitted.
    pub owner: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScriptsResponse {
    pub scripts: Vec<Script>,
}

#[derive(Clone, Copy, PartialEq)]
enum OwnerFilter {
    All,
    Shop,
    Mine,
}

fn owner_filter(owner: Option<&str>) -> Result<OwnerFilter> {
    match owner.unwrap_or("") {
        "" | "all" => Ok(OwnerFilter::All),
        "shop" => Ok(OwnerFilter::Shop),
        "mine" => Ok(OwnerFilter::Mine),
        _ => Err(Error::validation("owner: must be shop or mine")),
    }
}

fn keep(filter: OwnerFilter, s: &Script) -> bool {
    match filter {
        OwnerFilter::All => true,
        OwnerFilter::Shop => s.owner_id.is_none(),
        OwnerFilter::Mine => s.owner_id.is_some(),
    }
}

/// The scripts the caller can use: shop-wide ones and their own personal ones.
#[utoipa::path(get, path = "/api/v1/scripts", tag = "scripts", params(ListQuery),
    responses((status = 200, body = ScriptsResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_scripts(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ScriptsResponse>> {
    let filter = owner_filter(q.owner.as_deref())?;
    let query = validate_query(q.q.as_deref().unwrap_or(""))?;
    let all = state
        .store
        .list_scripts(agent.user.shop_id, agent.user.id)
        .await?;
    let mut scripts: Vec<Script> = all
        .into_iter()
        .filter(|s| keep(filter, s) && q.category.is_none_or(|c| s.category_id == c))
        .collect();
    if !query.is_empty() {
        let matching: std::collections::HashSet<Id> = rank(scripts.clone(), &query)
            .iter()
            .map(|(s, _)| s.id)
            .collect();
        scripts.retain(|s| matching.contains(&s.id));
    }
    Ok(Json(ScriptsResponse { scripts }))
}

#[derive(Deserialize, ToSchema)]
pub struct ScriptRequest {
    pub category_id: Id,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub shortcut: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A personal script of the caller (any agent); shop-wide otherwise (admins and supervisors).
    #[serde(default)]
    pub personal: bool,
}

impl ScriptRequest {
    fn into_new(self) -> Result<NewScript> {
        let mut s = NewScript {
            category_id: self.category_id,
            title: self.title,
            body: self.body,
            shortcut: self.shortcut,
            tags: self.tags,
        };
        s.validate()?;
        Ok(s)
    }
}

/// A new script: personal (any agent) or shop-wide (admins and supervisors).
#[utoipa::path(post, path = "/api/v1/scripts", tag = "scripts", request_body = ScriptRequest,
    responses((status = 201, body = Script), (status = 403, body = ErrorBody),
        (status = 404, description = "unknown category", body = ErrorBody),
        (status = 409, description = "the shortcut is taken in this scope", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_script(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<ScriptRequest>,
) -> ApiResult<Response> {
    let owner = if req.personal {
        Some(agent.user.id)
    } else {
        require_manager(&agent.user)?;
        None
    };
    let new = req.into_new()?;
    let s = state
        .store
        .create_script(agent.user.shop_id, owner, &new)
        .await?;
    state.services.scripts_changed(agent.user.shop_id);
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

#[utoipa::path(get, path = "/api/v1/scripts/{id}", tag = "scripts", params(("id" = i64, Path)),
    responses((status = 200, body = Script), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_script(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<Script>> {
    Ok(Json(
        state
            .services
            .scripts
            .visible_script(&agent.user, id)
            .await?,
    ))
}

/// Replaces a script's content (its scope does not change; `personal` is ignored).
#[utoipa::path(put, path = "/api/v1/scripts/{id}", tag = "scripts", params(("id" = i64, Path)),
    request_body = ScriptRequest,
    responses((status = 200, body = Script), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_script(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<ScriptRequest>,
) -> ApiResult<Json<Script>> {
    state
        .services
        .scripts
        .manageable_script(&agent.user, id)
        .await?;
    let new = req.into_new()?;
    let s = state
        .store
        .update_script(agent.user.shop_id, id, &new)
        .await?;
    state.services.scripts_changed(agent.user.shop_id);
    Ok(Json(s))
}

/// Deletes a script and its usage records.
#[utoipa::path(delete, path = "/api/v1/scripts/{id}", tag = "scripts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_script(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    state
        .services
        .scripts
        .manageable_script(&agent.user, id)
        .await?;
    state.store.delete_script(agent.user.shop_id, id).await?;
    state.services.scripts_changed(agent.user.shop_id);
    Ok(StatusCode::NO_CONTENT)
}

// ---- picker, rendering ----

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// What the agent typed after `/`: shortcut, title or body words, pinyin initials (`tk`) or
    /// full pinyin (`tuikuan`).
    pub q: Option<String>,
    /// At most this many (default 10, max 50).
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct ScriptHit {
    #[serde(flatten)]
    pub script: Script,
    /// Higher is better: shortcut > title > pinyin of the title > body.
    pub score: u32,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ScriptSearchResponse)]
pub struct SearchResponse {
    pub scripts: Vec<ScriptHit>,
}

/// The composer's picker: the caller's scripts best first.
#[utoipa::path(get, path = "/api/v1/scripts/search", tag = "scripts", params(SearchQuery),
    responses((status = 200, body = SearchResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchResponse>> {
    let query = validate_query(q.q.as_deref().unwrap_or(""))?;
    let limit = q.limit.unwrap_or(10).clamp(1, 50);
    let all = state
        .store
        .list_scripts(agent.user.shop_id, agent.user.id)
        .await?;
    let scripts = rank(all, &query)
        .into_iter()
        .take(limit)
        .map(|(script, score)| ScriptHit { script, score })
        .collect();
    Ok(Json(SearchResponse { scripts }))
}

#[derive(Deserialize, ToSchema)]
pub struct RenderRequest {
    /// A script the caller can use (exactly one of `script_id`, `text`).
    pub script_id: Option<Id>,
    /// A text with variables, e.g. the composer's edited draft.
    pub text: Option<String>,
    pub conversation_id: Id,
    /// Fill `{order.*}` from this order of the conversation's customer (default: the
    /// conversation's current order, else their latest).
    pub order_id: Option<Id>,
    /// Fill `{product.*}` from this product (default: the conversation's current product, else
    /// the order's first line).
    pub product_id: Option<Id>,
}

#[derive(Serialize, ToSchema)]
pub struct RenderResponse {
    /// Known variables with a value are filled; the others stay as `{name}`.
    pub text: String,
    /// Variables without a value: the text cannot be sent until they are filled or removed.
    pub missing: Vec<String>,
    pub script_id: Option<Id>,
}

/// Fills a script's (or a text's) variables from the conversation's context.
#[utoipa::path(post, path = "/api/v1/scripts/render", tag = "scripts", request_body = RenderRequest,
    responses((status = 200, body = RenderResponse),
        (status = 404, description = "conversation, script, order or product not found (or not yours)", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn render(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<RenderRequest>,
) -> ApiResult<Json<RenderResponse>> {
    let source = match (req.script_id, req.text.as_deref()) {
        (Some(id), None) => RenderSource::Script(id),
        (None, Some(t)) => {
            if t.chars().count() > MAX_MESSAGE_CHARS {
                return Err(Error::validation(format!(
                    "text: must be at most {MAX_MESSAGE_CHARS} characters"
                ))
                .into());
            }
            RenderSource::Text(t)
        }
        _ => return Err(Error::validation("script_id, text: give exactly one of them").into()),
    };
    let (Rendered { text, missing }, script_id) = state
        .services
        .scripts
        .render_script(
            &agent.user,
            req.conversation_id,
            source,
            req.order_id,
            req.product_id,
        )
        .await?;
    Ok(Json(RenderResponse {
        text,
        missing,
        script_id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Variable {
    pub name: String,
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub struct VariablesResponse {
    pub variables: Vec<Variable>,
}

/// The variables a script may use.
#[utoipa::path(get, path = "/api/v1/scripts/variables", tag = "scripts",
    responses((status = 200, body = VariablesResponse)), security(("bearer" = [])))]
pub async fn variables(_agent: Agent) -> Json<VariablesResponse> {
    Json(VariablesResponse {
        variables: scripts::VARIABLES
            .iter()
            .map(|(n, l)| Variable {
                name: (*n).to_owned(),
                label: (*l).to_owned(),
            })
            .collect(),
    })
}

// ---- import / export ----

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// `shop` (default: the shop-wide library) or `mine` (the caller's personal scripts).
    pub owner: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExportDocument {
    pub version: u32,
    pub scripts: Vec<ScriptRecord>,
}

fn scope(owner: Option<&str>) -> Result<OwnerFilter> {
    match owner_filter(owner)? {
        OwnerFilter::All => Ok(OwnerFilter::Shop),
        f => Ok(f),
    }
}

/// One scope of the library as JSON (`{"version":1,"scripts":[…]}`) or CSV
/// (`id,category,title,body,shortcut,tags`, tags joined by `|`). Either imports back unchanged.
#[utoipa::path(get, path = "/api/v1/scripts/export", tag = "scripts", params(ExportQuery),
    responses((status = 200, description = "the scripts (JSON or CSV)", body = ExportDocument), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let filter = scope(q.owner.as_deref())?;
    let scripts: Vec<Script> = state
        .store
        .list_scripts(agent.user.shop_id, agent.user.id)
        .await?
        .into_iter()
        .filter(|s| keep(filter, s))
        .collect();
    let name = if filter == OwnerFilter::Mine {
        "my-scripts"
    } else {
        "scripts"
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let doc = ExportDocument {
                version: 1,
                scripts: scripts
                    .into_iter()
                    .map(|s| ScriptRecord {
                        id: Some(s.id),
                        category: s.category,
                        title: s.title,
                        body: s.body,
                        shortcut: s.shortcut,
                        tags: s.tags,
                    })
                    .collect(),
            };
            let disposition = format!("attachment; filename=\"{name}.json\"");
            Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(doc)).into_response())
        }
        "csv" => {
            let disposition = format!("attachment; filename=\"{name}.csv\"");
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                scripts::export_csv(&scripts),
            )
                .into_response())
        }
        _ => Err(Error::validation("format: must be json or csv").into()),
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `json` (default), `csv` or `xlsx`: the format of the request body (a spreadsheet is
    /// recognised by its content whatever this says).
    pub format: Option<String>,
    /// `shop` (default; admins and supervisors) or `mine` (the caller's personal scripts).
    pub owner: Option<String>,
}

/// Imports scripts (the body is the JSON or CSV of the export, or a CSV/XLSX with the Chinese
/// headers of the template: any encoding Excel writes, see docs/API.md). A row with an `id` of this scope
/// updates that script; otherwise a script of the scope with the same category and title is
/// updated, else one is created (missing categories are created). Bad rows are reported by line
/// and skipped; the others are stored. Importing the same file twice changes nothing new.
#[utoipa::path(post, path = "/api/v1/scripts/import", tag = "scripts", params(ImportQuery),
    request_body(content = Vec<u8>, description = "JSON or CSV, as exported; or CSV (UTF-8, GBK, UTF-16) / XLSX with the template's Chinese headers"),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, description = "the file as a whole is unreadable", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let owner = match scope(q.owner.as_deref())? {
        OwnerFilter::Mine => Some(agent.user.id),
        _ => {
            require_manager(&agent.user)?;
            None
        }
    };
    if body.is_empty() {
        return Err(Error::validation("file: must not be empty").into());
    }
    // A spreadsheet is read as one whatever `format` says (it is judged by its content).
    let spreadsheet =
        body.starts_with(b"PK\x03\x04") || body.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let rows = match q.format.as_deref().unwrap_or("json") {
        _ if spreadsheet => scripts::parse_import_csv(std::io::Cursor::new(body))?,
        "json" => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| Error::validation("file: the file must be UTF-8 text"))?;
            crate::error::refuse_nul_in_json(&body)?;
            scripts::parse_import_json(text)?
        }
        "csv" | "xlsx" => scripts::parse_import_csv(std::io::Cursor::new(body))?,
        _ => return Err(Error::validation("format: must be json, csv or xlsx").into()),
    };
    let report = state
        .store
        .import_scripts(agent.user.shop_id, owner, rows)
        .await?;
    state.services.scripts_changed(agent.user.shop_id);
    Ok(Json(report))
}

/// The script import template: Chinese headers and one example script (CSV with a UTF-8 BOM, or
/// XLSX). Anyone may download it (agents import their personal scripts).
#[utoipa::path(get, path = "/api/v1/scripts/import/template", tag = "scripts",
    params(super::commerce::TemplateQuery),
    responses((status = 200, description = "the template (CSV with a UTF-8 BOM, or XLSX)", content_type = "text/csv", body = String),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_template(
    _agent: Agent,
    ApiQuery(q): ApiQuery<super::commerce::TemplateQuery>,
) -> ApiResult<Response> {
    Ok(super::commerce::template_download(
        "scripts",
        "话术",
        q.format.as_deref(),
        &scripts::template_headers(),
        scripts::TEMPLATE_EXAMPLES,
    )?)
}

// ---- statistics ----

#[derive(Deserialize, IntoParams)]
pub struct StatsQuery {
    /// Uses within this many days (1–365, default 30).
    pub days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ScriptStatsRow {
    pub script_id: Id,
    pub title: String,
    pub category: String,
    pub owner_id: Option<Id>,
    #[serde(flatten)]
    pub stats: ScriptStats,
}

#[derive(Serialize, ToSchema)]
pub struct StatsResponse {
    pub since: Millis,
    /// Hours after a use within which an order counts as led to by it.
    pub order_window_hours: i64,
    /// Every script the caller can use, most used first.
    pub scripts: Vec<ScriptStatsRow>,
}

/// Usage per script: times used, conversations, and the share of those conversations whose
/// customer placed an order within 48 h after a use.
#[utoipa::path(get, path = "/api/v1/scripts/stats", tag = "scripts", params(StatsQuery),
    responses((status = 200, body = StatsResponse), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<StatsResponse>> {
    let days = q.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(Error::validation("days: must be between 1 and 365").into());
    }
    let since = Millis(Millis::now().0 - days * 24 * 3600 * 1000);
    let shop = agent.user.shop_id;
    let visible = state.store.list_scripts(shop, agent.user.id).await?;
    let mut by_id: std::collections::HashMap<Id, ScriptStats> = state
        .store
        .script_stats(shop, since)
        .await?
        .into_iter()
        .map(|s| (s.script_id, s))
        .collect();
    let mut scripts: Vec<ScriptStatsRow> = visible
        .into_iter()
        .map(|s| ScriptStatsRow {
            stats: by_id
                .remove(&s.id)
                .unwrap_or_else(|| ScriptStats::new(s.id, 0, 0, 0, None)),
            script_id: s.id,
            title: s.title,
            category: s.category,
            owner_id: s.owner_id,
        })
        .collect();
    scripts.sort_by_key(|s| std::cmp::Reverse(s.stats.uses));
    Ok(Json(StatsResponse {
        since,
        order_window_hours: scripts::ORDER_WINDOW_MS / 3_600_000,
        scripts,
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_categories,
        create_category,
        update_category,
        delete_category,
        list_scripts,
        create_script,
        get_script,
        update_script,
        delete_script,
        search,
        render,
        variables,
        export,
        import,
        import_template,
        stats
    ),
    components(schemas(
        ScriptCategory,
        NewScriptCategory,
        CategoriesResponse,
        Script,
        ScriptsResponse,
        ScriptRequest,
        ScriptHit,
        SearchResponse,
        RenderRequest,
        RenderResponse,
        Variable,
        VariablesResponse,
        ExportDocument,
        ScriptRecord,
        ImportReport,
        ImportError,
        ScriptStats,
        ScriptStatsRow,
        StatsResponse
    ))
)]
pub struct ApiDoc;
