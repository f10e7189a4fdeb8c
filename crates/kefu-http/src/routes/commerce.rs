//! Products, orders, shipments, refunds: batch upserts, CSV import, signed webhooks, product/order cards and payment reminders.
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].
//!
//! Writes (batch upserts, import) need an admin or supervisor; any agent of the shop may read.
//! The webhook endpoint is public and authenticated by the shop's HMAC signature instead.

use crate::AppState;
use crate::auth::{Agent, ClientIp};
use crate::error::{ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kefu_core::commerce::csv_import::{self, BadLine, ImportReport, import_orders};
use kefu_core::commerce::webhook::{self, WebhookEvent};
use kefu_core::commerce::*;
use kefu_core::model::{Id, Role, User};
use kefu_core::tabular;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result, token};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Batch bodies: up to 1,000 orders with their lines fit comfortably.
pub const MAX_BATCH_BODY_BYTES: usize = 16 * 1024 * 1024;
/// CSV uploads (about 300,000 order lines).
pub const MAX_IMPORT_BODY_BYTES: usize = 50 * 1024 * 1024;
/// Webhook bodies: one event.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    let batch = || DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES);
    Router::new()
        .route(
            "/api/v1/products/batch",
            post(upsert_products).layer(batch()),
        )
        .route("/api/v1/products", get(list_products))
        .route("/api/v1/orders/batch", post(upsert_orders).layer(batch()))
        .route(
            "/api/v1/orders/import",
            post(import_csv).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY_BYTES)),
        )
        .route("/api/v1/orders/import/template", get(import_template))
        .route("/api/v1/orders", get(list_orders))
        .route("/api/v1/orders/{id}", get(get_order))
        .route(
            "/api/v1/shipments/batch",
            post(upsert_shipments).layer(batch()),
        )
        .route("/api/v1/refunds/batch", post(upsert_refunds).layer(batch()))
        .route("/api/v1/customers/{id}/orders", get(customer_orders))
        .route("/api/v1/commerce/webhook", get(get_webhook_settings))
        .route(
            "/api/v1/commerce/webhook/rotate",
            post(rotate_webhook_secret),
        )
        .route(
            "/api/v1/webhooks/commerce/{shop_slug}",
            post(receive_webhook).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY_BYTES)),
        )
}

fn require_writer(user: &User) -> Result<()> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins and supervisors may import commerce data",
        ))
    }
}

/// The readable items of a batch (with their index) and the reports of the unreadable ones.
type ReadItems<T> = (Vec<(usize, T)>, Vec<ItemResult>);

/// Reads `{<key>: [item, …]}` and deserializes each item on its own, so one malformed item is
/// reported at its index while the others go on.
fn batch_items<T: DeserializeOwned>(body: &Bytes, key: &str) -> Result<ReadItems<T>> {
    crate::error::refuse_nul_in_json(body)?;
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Error::bad_request("malformed JSON"))?;
    let items = value
        .get(key)
        .and_then(|v| v.as_array())
        .ok_or_else(|| Error::validation(format!("{key}: must be an array")))?;
    if items.is_empty() {
        return Err(Error::validation(format!("{key}: must not be empty")));
    }
    if items.len() > MAX_BATCH_ITEMS {
        return Err(Error::validation(format!(
            "{key}: at most {MAX_BATCH_ITEMS} items per request"
        )));
    }
    let mut good = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // The path names the field at fault (`orders[3].lines[0].quantity: invalid type …`).
        match serde_path_to_error::deserialize::<_, T>(item) {
            Ok(v) => good.push((i, v)),
            Err(e) => {
                let path = e.path().to_string();
                let at = if path == "." {
                    String::new()
                } else {
                    format!(".{path}")
                };
                bad.push(ItemResult::failed(
                    i,
                    key_of(item),
                    &Error::validation(format!("{key}[{i}]{at}: {}", e.inner())),
                ))
            }
        }
    }
    Ok((good, bad))
}

/// The item's own id, for reports of items that could not even be read.
fn key_of(item: &serde_json::Value) -> String {
    ["order_no", "sku", "refund_no", "tracking_no"]
        .iter()
        .find_map(|k| item.get(k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

/// Validates each item, stores the valid ones (each all or nothing) and reports every item.
async fn run_batch<T: DeserializeOwned, D>(
    state: &AppState,
    agent: &Agent,
    body: Bytes,
    key: &str,
    validate: impl Fn(&str, &T) -> Result<D>,
    key_fn: impl Fn(&T) -> String,
    change: impl FnOnce(Vec<(usize, D)>) -> CommerceChange,
) -> ApiResult<Json<BatchOutcome>> {
    require_writer(&agent.user)?;
    let (items, unreadable) = batch_items::<T>(&body, key)?;
    let mut outcome = BatchOutcome::default();
    for r in unreadable {
        outcome.push(r);
    }
    let mut docs = Vec::with_capacity(items.len());
    for (i, item) in items {
        match validate(&format!("{key}[{i}]."), &item) {
            Ok(d) => docs.push((i, d)),
            Err(e) => outcome.push(ItemResult::failed(i, key_fn(&item), &e)),
        }
    }
    if !docs.is_empty() {
        let stored = state
            .store
            .apply_commerce(agent.user.shop_id, change(docs), None)
            .await?;
        // Store-level errors name fields relative to the item; say which item.
        for mut item in stored.items {
            if let Some(e) = &mut item.error {
                e.message = format!("{key}[{}].{}", item.index, e.message);
            }
            outcome.push(item);
        }
        outcome.touched_customer_ids = stored.touched_customer_ids;
    }
    outcome.finish();
    state
        .services
        .commerce
        .after_ingest(agent.user.shop_id, &outcome.touched_customer_ids)
        .await;
    Ok(Json(outcome))
}

#[derive(Deserialize, ToSchema)]
pub struct ProductsBatch {
    /// Up to 1,000 products, upserted by `sku`.
    pub products: Vec<ProductInput>,
}

#[utoipa::path(post, path = "/api/v1/products/batch", tag = "commerce", request_body = ProductsBatch,
    responses((status = 200, body = BatchOutcome, description = "per item: created | updated | unchanged | failed (with index and field)"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upsert_products(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<BatchOutcome>> {
    run_batch(
        &state,
        &agent,
        body,
        "products",
        validate_product,
        |p: &ProductInput| p.sku.clone(),
        CommerceChange::Products,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct OrdersBatch {
    /// Up to 1,000 orders, upserted by `order_no`, each with its items and optional shipments and refunds.
    pub orders: Vec<OrderInput>,
}

#[utoipa::path(post, path = "/api/v1/orders/batch", tag = "commerce", request_body = OrdersBatch,
    responses((status = 200, body = BatchOutcome, description = "per item: created | updated | unchanged | failed (with index and field)"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upsert_orders(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<BatchOutcome>> {
    run_batch(
        &state,
        &agent,
        body,
        "orders",
        validate_order,
        |o: &OrderInput| o.order_no.clone(),
        CommerceChange::Orders,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct ShipmentsBatch {
    /// Up to 1,000 shipments, each with `order_no`, upserted by `carrier` + `tracking_no`.
    pub shipments: Vec<ShipmentInput>,
}

#[utoipa::path(post, path = "/api/v1/shipments/batch", tag = "commerce", request_body = ShipmentsBatch,
    responses((status = 200, body = BatchOutcome), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upsert_shipments(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<BatchOutcome>> {
    run_batch(
        &state,
        &agent,
        body,
        "shipments",
        |prefix: &str, s: &ShipmentInput| {
            let order_no = order_no_field(prefix, s.order_no.as_deref())?;
            Ok(ShipmentUpsert {
                order_no,
                shipment: validate_shipment(prefix, s)?,
            })
        },
        |s: &ShipmentInput| format!("{}/{}", s.carrier, s.tracking_no),
        CommerceChange::Shipments,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct RefundsBatch {
    /// Up to 1,000 refunds, each with `order_no`, upserted by `refund_no`.
    pub refunds: Vec<RefundInput>,
}

#[utoipa::path(post, path = "/api/v1/refunds/batch", tag = "commerce", request_body = RefundsBatch,
    responses((status = 200, body = BatchOutcome), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upsert_refunds(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<BatchOutcome>> {
    run_batch(
        &state,
        &agent,
        body,
        "refunds",
        |prefix: &str, r: &RefundInput| {
            let order_no = order_no_field(prefix, r.order_no.as_deref())?;
            Ok(RefundUpsert {
                order_no,
                refund: validate_refund(prefix, r)?,
            })
        },
        |r: &RefundInput| r.refund_no.clone(),
        CommerceChange::Refunds,
    )
    .await
}

fn order_no_field(prefix: &str, v: Option<&str>) -> Result<String> {
    match v.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(Error::validation(format!(
            "{prefix}order_no: must not be empty"
        ))),
    }
}

#[utoipa::path(post, path = "/api/v1/orders/import", tag = "commerce",
    request_body(content = Vec<u8>, content_type = "text/csv",
        description = "one row per order line (see docs/API.md for the columns and their Chinese names): \
            CSV in UTF-8 (with or without BOM), GBK/GB18030 or UTF-16 with BOM (tab-separated), or an XLSX \
            workbook (first sheet); the format is judged by the content"),
    responses((status = 200, body = ImportReport, description = "counts and every bad line (file line number, field, reason code, message)"),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "an unreadable file (field `file`) or a missing required column (field `header`)")),
    security(("bearer" = [])))]
pub async fn import_csv(
    State(state): State<AppState>,
    agent: Agent,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    require_writer(&agent.user)?;
    if body.is_empty() {
        return Err(Error::validation("file: must not be empty").into());
    }
    let zone = shop_zone(&state, agent.user.shop_id).await?;
    let report = import_orders(
        state.store.as_ref(),
        agent.user.shop_id,
        &zone,
        std::io::Cursor::new(body),
    )
    .await?;
    state
        .services
        .commerce
        .after_ingest(agent.user.shop_id, &report.touched_customer_ids)
        .await;
    Ok(Json(report))
}

/// The shop's time zone, in which an import reads times without an offset.
pub(crate) async fn shop_zone(state: &AppState, shop_id: Id) -> Result<String> {
    Ok(state
        .store
        .shop_by_id(shop_id)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?
        .settings
        .time_zone)
}

#[derive(Deserialize, IntoParams)]
pub struct TemplateQuery {
    /// `csv` (UTF-8 with BOM, Chinese headers; the default) or `xlsx`.
    pub format: Option<String>,
}

/// An import template download: the Chinese headers and example rows as CSV (UTF-8 with a BOM,
/// CRLF, so Excel opens it right) or XLSX.
pub(crate) fn template_download(
    name: &str,
    sheet: &str,
    format: Option<&str>,
    headers: &[&str],
    examples: &[&[&str]],
) -> Result<Response> {
    use axum::http::header;
    let (bytes, content_type, ext) = match tabular::template_format(format)? {
        "xlsx" => (
            tabular::template_xlsx(sheet, headers, examples)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        _ => (
            tabular::template_csv(headers, examples),
            "text/csv; charset=utf-8",
            "csv",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-template.{ext}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/orders/import/template", tag = "commerce", params(TemplateQuery),
    responses((status = 200, description = "the order import template: Chinese headers and one example order (CSV with a UTF-8 BOM, or XLSX)",
            content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_template(
    agent: Agent,
    ApiQuery(q): ApiQuery<TemplateQuery>,
) -> ApiResult<Response> {
    require_writer(&agent.user)?;
    let headers = csv_import::template_headers();
    Ok(template_download(
        "orders",
        "订单",
        q.format.as_deref(),
        &headers,
        csv_import::TEMPLATE_EXAMPLES,
    )?)
}

// ---------------------------------------------------------------------------------------------
// Reads.

#[derive(Deserialize, IntoParams)]
pub struct OrdersParams {
    pub customer_id: Option<Id>,
    /// created | paid | shipped | delivered | completed | cancelled
    pub status: Option<String>,
    /// unpaid | paid | partially_refunded | refunded
    pub payment_status: Option<String>,
    /// Order number prefix.
    pub q: Option<String>,
    /// Placed at or after (ms or RFC 3339).
    pub from: Option<String>,
    /// Placed before (ms or RFC 3339).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct OrdersPage {
    pub orders: Vec<Order>,
    /// Pass as `cursor` for the next (older) page; null at the end.
    pub next_cursor: Option<String>,
}

fn time_param(field: &str, v: &Option<String>) -> Result<Option<Millis>> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                Error::validation(format!("{field}: must be a time (ms or RFC 3339)"))
            })
        })
        .transpose()
}

fn limit_param(v: Option<i64>, default: i64, max: i64) -> Result<i64> {
    match v {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => Err(Error::validation(format!(
            "limit: must be between 1 and {max}"
        ))),
    }
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "commerce", params(OrdersParams),
    responses((status = 200, body = OrdersPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_orders(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<OrdersParams>,
) -> ApiResult<Json<OrdersPage>> {
    let limit = limit_param(p.limit, 50, 200)?;
    let before = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let parsed = c
                .split_once('_')
                .and_then(|(a, b)| Some((Millis(a.parse().ok()?), b.parse::<Id>().ok()?)));
            Some(parsed.ok_or_else(|| Error::validation("cursor: not a cursor from this API"))?)
        }
    };
    let empty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let query = OrderQuery {
        customer_id: p.customer_id,
        status: empty(&p.status)
            .map(|s| OrderStatus::parse_field("status", &s))
            .transpose()?,
        payment_status: empty(&p.payment_status)
            .map(|s| PaymentStatus::parse_field("payment_status", &s))
            .transpose()?,
        q: empty(&p.q),
        placed_from: time_param("from", &p.from)?,
        placed_to: time_param("to", &p.to)?,
        before,
        limit: limit + 1,
    };
    let mut orders = state.store.list_orders(agent.user.shop_id, &query).await?;
    let next_cursor = if orders.len() as i64 > limit {
        orders.truncate(limit as usize);
        orders.last().map(|o| format!("{}_{}", o.placed_at.0, o.id))
    } else {
        None
    };
    Ok(Json(OrdersPage {
        orders,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "commerce", params(("id" = i64, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_order(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<OrderDetail>> {
    let order = state
        .store
        .order_detail(agent.user.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?;
    Ok(Json(order))
}

#[derive(Deserialize, IntoParams)]
pub struct CustomerOrdersParams {
    /// 1-50, default 10.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerOrders {
    /// Newest first, each with its items and latest logistics.
    pub orders: Vec<CustomerOrder>,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/orders", tag = "commerce", params(("id" = i64, Path), CustomerOrdersParams),
    responses((status = 200, body = CustomerOrders), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn customer_orders(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(p): ApiQuery<CustomerOrdersParams>,
) -> ApiResult<Json<CustomerOrders>> {
    let limit = limit_param(p.limit, 10, 50)?;
    let orders = state
        .store
        .customer_orders(agent.user.shop_id, id, limit)
        .await?
        .ok_or_else(|| Error::not_found("customer"))?;
    Ok(Json(CustomerOrders { orders }))
}

#[derive(Deserialize, IntoParams)]
pub struct ProductsParams {
    /// SKU or name contains.
    pub q: Option<String>,
    pub category: Option<String>,
    /// `next_after` of the previous page.
    pub after: Option<Id>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductsPage {
    pub products: Vec<CatalogProduct>,
    /// Pass as `after` for the next page; null at the end.
    pub next_after: Option<Id>,
}

#[utoipa::path(get, path = "/api/v1/products", tag = "commerce", params(ProductsParams),
    responses((status = 200, body = ProductsPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_products(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(p): ApiQuery<ProductsParams>,
) -> ApiResult<Json<ProductsPage>> {
    let limit = limit_param(p.limit, 50, 200)?;
    let query = ProductQuery {
        q: p.q.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        category: p
            .category
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        after_id: p.after,
        limit: limit + 1,
    };
    let mut products = state.store.list_catalog(agent.user.shop_id, &query).await?;
    let next_after = if products.len() as i64 > limit {
        products.truncate(limit as usize);
        products.last().map(|p| p.id)
    } else {
        None
    };
    Ok(Json(ProductsPage {
        products,
        next_after,
    }))
}

// ---------------------------------------------------------------------------------------------
// Webhooks.

#[derive(Serialize, ToSchema)]
pub struct WebhookSettings {
    /// The shop's signing secret (admins only).
    pub secret: String,
    /// Where the shop posts events, relative to kefu's public address.
    pub endpoint_path: String,
    pub timestamp_header: String,
    pub signature_header: String,
    /// How to sign a delivery.
    pub recipe: String,
    pub event_types: Vec<String>,
}

fn require_admin(user: &User) -> Result<()> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins may see or rotate the webhook secret",
        ))
    }
}

async fn webhook_settings(state: &AppState, user: &User) -> Result<WebhookSettings> {
    let secret = state
        .store
        .commerce_webhook_secret(user.shop_id, &token::generate("whsec_"))
        .await?;
    let shop = state
        .store
        .shop_by_id(user.shop_id)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(WebhookSettings {
        secret,
        endpoint_path: format!("/api/v1/webhooks/commerce/{}", shop.slug),
        timestamp_header: "X-Kefu-Timestamp".into(),
        signature_header: "X-Kefu-Signature".into(),
        recipe: "X-Kefu-Timestamp: <unix seconds>; X-Kefu-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + \".\" + raw body)); timestamps older or newer than 5 minutes and repeated event ids are refused".into(),
        event_types: webhook::EVENT_TYPES.iter().map(|s| (*s).to_owned()).collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/commerce/webhook", tag = "commerce",
    responses((status = 200, body = WebhookSettings), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_webhook_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<WebhookSettings>> {
    require_admin(&agent.user)?;
    Ok(Json(webhook_settings(&state, &agent.user).await?))
}

#[utoipa::path(post, path = "/api/v1/commerce/webhook/rotate", tag = "commerce",
    responses((status = 200, body = WebhookSettings, description = "the new secret; the old one stops working at once"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<WebhookSettings>> {
    require_admin(&agent.user)?;
    state
        .store
        .rotate_commerce_webhook_secret(agent.user.shop_id, &token::generate("whsec_"))
        .await?;
    tracing::info!(
        shop_id = agent.user.shop_id,
        user_id = agent.user.id,
        "commerce webhook secret rotated"
    );
    Ok(Json(webhook_settings(&state, &agent.user).await?))
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAccepted {
    pub event_id: String,
    pub outcome: BatchOutcome,
}

#[utoipa::path(post, path = "/api/v1/webhooks/commerce/{shop_slug}", tag = "commerce",
    params(("shop_slug" = String, Path),
        ("X-Kefu-Timestamp" = String, Header, description = "unix seconds"),
        ("X-Kefu-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of timestamp.body>")),
    request_body = WebhookEvent,
    responses((status = 200, body = WebhookAccepted), (status = 401, body = ErrorBody, description = "bad or missing signature, stale timestamp"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "replay: event id or signature seen before"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn receive_webhook(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(slug): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<WebhookAccepted>> {
    if !state.limits.commerce_webhooks.check(&ip) {
        return Err(Error::new(
            ErrorCode::RateLimited,
            "too many webhook deliveries; slow down",
        )
        .into());
    }
    let shop = state
        .store
        .shop_by_slug(&slug)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    let secret = state
        .store
        .commerce_webhook_secret(shop.id, &token::generate("whsec_"))
        .await?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = Millis::now();
    webhook::verify(
        &secret,
        header(webhook::TIMESTAMP_HEADER),
        header(webhook::SIGNATURE_HEADER),
        &body,
        now.0 / 1000,
    )?;
    crate::error::refuse_nul_in_json(&body)?;
    let event: WebhookEvent = serde_json::from_slice(&body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::validation(format!("body: {e}")),
        _ => Error::bad_request("malformed JSON"),
    })?;
    let change = event.to_change()?;
    let delivery = WebhookDelivery {
        event_id: event.id.trim().to_owned(),
        signature: header(webhook::SIGNATURE_HEADER)
            .unwrap_or("")
            .trim()
            .to_owned(),
        event_type: event.event_type.clone(),
        received_at: now,
    };
    let outcome = state
        .store
        .apply_commerce(shop.id, change, Some(delivery))
        .await?;
    state
        .services
        .commerce
        .after_ingest(shop.id, &outcome.touched_customer_ids)
        .await;
    Ok(Json(WebhookAccepted {
        event_id: event.id,
        outcome,
    }))
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        upsert_products,
        list_products,
        upsert_orders,
        import_csv,
        import_template,
        list_orders,
        get_order,
        upsert_shipments,
        upsert_refunds,
        customer_orders,
        get_webhook_settings,
        rotate_webhook_secret,
        receive_webhook
    ),
    components(schemas(
        ProductsBatch,
        OrdersBatch,
        ShipmentsBatch,
        RefundsBatch,
        ProductInput,
        OrderInput,
        OrderItemInput,
        ShipmentInput,
        ShipmentEventInput,
        RefundInput,
        BuyerInput,
        TimeInput,
        BatchOutcome,
        ItemResult,
        ItemError,
        UpsertStatus,
        ImportReport,
        BadLine,
        OrdersPage,
        Order,
        OrderDetail,
        OrderItem,
        Shipment,
        ShipmentEvent,
        Refund,
        CustomerOrders,
        CustomerOrder,
        ShipmentBrief,
        ProductsPage,
        CatalogProduct,
        OrderStatus,
        PaymentStatus,
        ShipmentStatus,
        RefundStatus,
        ProductStatus,
        WebhookSettings,
        WebhookAccepted,
        WebhookEvent
    ))
)]
pub struct ApiDoc;
