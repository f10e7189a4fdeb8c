//! Tickets (工单): the list with filters and keyset pages, a ticket's detail, changes, thread,
//! audit, links, compensations, merges and bulk actions; categories, custom fields and saved
//! views; one-click tickets from conversations; the shopper's side in the widget; ticket files.
//! Flows and entitlement are in [`crate::tickets`]; every change ends in
//! `kefu_service::ticket_hooks::TicketHooks::changed`.
//!
//! [`router`] is merged into the API by [`super::api`]; [`upload_router`] by [`crate::router`]
//! outside the JSON body limit; [`ApiDoc`] into the OpenAPI document.

use crate::AppState;
use crate::attachments::receive_upload;
use crate::auth::{Agent, Shopper};
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, error_response};
use crate::routes::attachments::{Upload, serve_file};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_core::model::*;
use kefu_core::tickets::*;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};
use kefu_service::access::require_manager;
use kefu_service::chat::Viewer;
use kefu_service::tickets::{FromConversation, ShopperReport, ShopperTicket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets", get(list).post(create))
        .route("/api/v1/tickets/bulk", post(bulk))
        .route("/api/v1/tickets/{id}", get(detail).patch(patch))
        .route("/api/v1/tickets/{id}/entries", get(entries).post(add_entry))
        .route("/api/v1/tickets/{id}/audit", get(audit))
        .route("/api/v1/tickets/{id}/links", get(links).post(add_link))
        .route(
            "/api/v1/tickets/{id}/links/{link_id}",
            axum::routing::delete(remove_link),
        )
        .route(
            "/api/v1/tickets/{id}/compensations",
            get(compensations).post(add_compensation),
        )
        .route(
            "/api/v1/tickets/{id}/compensations/{compensation_id}",
            axum::routing::delete(delete_compensation),
        )
        .route("/api/v1/tickets/{id}/merge", post(merge))
        .route(
            "/api/v1/ticket-categories",
            get(list_categories).post(create_category),
        )
        .route(
            "/api/v1/ticket-categories/{id}",
            axum::routing::patch(update_category).delete(delete_category),
        )
        .route("/api/v1/ticket-fields", get(list_fields).post(create_field))
        .route("/api/v1/ticket-fields/{id}", put(update_field))
        .route("/api/v1/ticket-views", get(list_views).post(create_view))
        .route(
            "/api/v1/ticket-views/{id}",
            put(update_view).delete(delete_view),
        )
        .route("/api/v1/conversations/{id}/ticket", post(from_conversation))
        .route(
            "/api/v1/conversations/{id}/tickets",
            get(conversation_tickets),
        )
        .route(
            "/api/v1/widget/tickets",
            get(shopper_list).post(shopper_create),
        )
        .route("/api/v1/widget/tickets/orders", get(shopper_orders))
        .route("/api/v1/widget/tickets/{id}", get(shopper_get))
        .route("/api/v1/widget/tickets/{id}/replies", post(shopper_reply))
}

/// Ticket file uploads and downloads (multipart, with the attachments' own body limit).
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ticket-attachments", post(agent_upload))
        .route("/api/v1/widget/ticket-attachments", post(shopper_upload))
        .route("/api/v1/ticket-attachments/{id}", get(download))
        .route("/api/v1/ticket-attachments/{id}/thumb", get(thumb))
        .method_not_allowed_fallback(|| async {
            error_response(ErrorCode::BadRequest, "method not allowed on this endpoint")
        })
}

// ---- list, create, detail, patch ----

#[derive(Serialize, ToSchema)]
pub struct TicketsPage {
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Tickets the caller may see, filtered, one keyset page at a time. Query parameters:
/// `status` (comma-separated), `priority` (comma-separated), `category` (includes its
/// sub-categories), `assignee` (`me`, `unassigned` or an id), `team`, `tag`, `customer`,
/// `channel`, `created_from`/`created_to` (RFC 3339 or ms), `q` (subject text or a number like
/// `T-000123`), `order_no` (tickets linked to an order whose number contains this text), `sort` (`updated_desc` default, `updated_asc`, `created_desc`, `created_asc`),
/// `include_merged`, `sla` (tickets with a clock in one of these states: `ok`, `warning`,
/// `breached`, `paused`, comma-separated), `cursor`, `limit` (≤ 200, default 50). Every ticket
/// carries `sla`: its clocks' due times and states.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets",
    params(("status" = Option<String>, Query), ("priority" = Option<String>, Query),
        ("category" = Option<i64>, Query), ("assignee" = Option<String>, Query),
        ("team" = Option<i64>, Query), ("tag" = Option<String>, Query), ("customer" = Option<i64>, Query),
        ("channel" = Option<String>, Query), ("created_from" = Option<String>, Query),
        ("created_to" = Option<String>, Query), ("q" = Option<String>, Query), ("order_no" = Option<String>, Query),
        ("sort" = Option<String>, Query), ("sla" = Option<String>, Query),
        ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = TicketsPage), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(mut params): ApiQuery<BTreeMap<String, String>>,
) -> ApiResult<Json<TicketsPage>> {
    let cursor = params
        .remove("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| Cursor::decode(&c))
        .transpose()?;
    let limit = match params.remove("limit") {
        None => 50,
        Some(l) => l
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| Error::validation(format!("limit: must be 1-{MAX_PAGE}")))?,
    };
    let mut filter = TicketFilter::from_params(&params)?;
    filter.sla_now = state.now();
    let sort = filter.sort;
    let user = &agent.user;
    let mut tickets = state
        .store
        .list_tickets(
            user.shop_id,
            &TicketQuery {
                filter,
                restrict_to_agent: (!user.role.sees_whole_shop()).then_some(user.id),
                viewer_id: user.id,
                cursor,
                limit,
            },
        )
        .await?;
    let next_cursor = (tickets.len() as i64 == limit)
        .then(|| tickets.last().map(|t| Cursor::after(t, sort).encode()))
        .flatten();
    state.services.sla.fill_sla(&mut tickets).await;
    Ok(Json(TicketsPage {
        tickets,
        next_cursor,
    }))
}

/// Creates a ticket (status `new`). `channel` is `console` when the console sends
/// `X-Kefu-Client: console`, else `api`.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = NewTicket,
    responses((status = 201, body = Ticket), (status = 404, description = "a referenced id is not the shop's", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    agent: Agent,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<NewTicket>,
) -> ApiResult<Response> {
    let channel = if headers
        .get("x-kefu-client")
        .is_some_and(|v| v.as_bytes() == b"console")
    {
        TicketChannel::Console
    } else {
        TicketChannel::Api
    };
    let mut t = state
        .services
        .tickets
        .create_ticket(&agent.user, req, channel, vec![])
        .await?;
    state
        .services
        .sla
        .fill_sla(std::slice::from_mut(&mut t))
        .await;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub links: Vec<TicketLink>,
    /// Files attached when the ticket was created (entries carry their own).
    pub attachments: Vec<TicketAttachment>,
    pub compensations: Vec<CompensationRecord>,
    /// The tickets merged into this one.
    pub merged: Vec<Ticket>,
}

/// A ticket with its links, files and compensations.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = TicketDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn detail(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<TicketDetail>> {
    let mut ticket = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    state
        .services
        .sla
        .fill_sla(std::slice::from_mut(&mut ticket))
        .await;
    let shop = agent.user.shop_id;
    let merged = if ticket.merged_into_id.is_none() {
        state
            .store
            .list_tickets(
                shop,
                &TicketQuery {
                    filter: TicketFilter {
                        merged_into_id: Some(id),
                        ..Default::default()
                    },
                    restrict_to_agent: None,
                    viewer_id: agent.user.id,
                    cursor: None,
                    limit: MAX_PAGE,
                },
            )
            .await?
    } else {
        vec![]
    };
    Ok(Json(TicketDetail {
        links: state.store.ticket_links(shop, id).await?,
        attachments: state.store.ticket_attachments(shop, id).await?,
        compensations: state.store.compensations(shop, id).await?,
        merged,
        ticket,
    }))
}

/// Changes fields; each change is audited. A status move must be allowed (409 names both
/// statuses); resolving a complaint needs `root_causes` and `handling_result` (422 names the
/// missing ones); `null` clears `customer_id`, `category_id`, `assignee_id`, `team_id`,
/// `handling_result`.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = TicketPatch,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody),
        (status = 409, description = "illegal status move, or a closed/merged ticket", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<TicketPatch>,
) -> ApiResult<Json<Ticket>> {
    let mut t = state
        .services
        .tickets
        .patch_ticket(&agent.user, id, req)
        .await?;
    state
        .services
        .sla
        .fill_sla(std::slice::from_mut(&mut t))
        .await;
    Ok(Json(t))
}

// ---- thread and audit ----

#[derive(Serialize, ToSchema)]
pub struct EntriesResponse {
    pub entries: Vec<TicketEntry>,
}

/// The thread, oldest first, with the entries of tickets merged into this one.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/entries", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = EntriesResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn entries(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<EntriesResponse>> {
    state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    Ok(Json(EntriesResponse {
        entries: state
            .store
            .ticket_entries(agent.user.shop_id, id, false)
            .await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NewEntryRequest {
    /// `public` (the shopper sees it) or `note` (agents only).
    pub kind: String,
    #[serde(default)]
    pub body: String,
    /// Files uploaded before with `POST /api/v1/ticket-attachments`.
    #[serde(default)]
    pub attachment_ids: Vec<Id>,
}

/// A public reply or an internal note. A first public reply opens a `new` ticket; a closed
/// ticket takes notes only (409).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/entries", tag = "tickets", params(("id" = i64, Path)),
    request_body = NewEntryRequest,
    responses((status = 201, body = TicketEntry), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_entry(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NewEntryRequest>,
) -> ApiResult<Response> {
    let kind = match req.kind.as_str() {
        "public" => EntryKind::Public,
        "note" => EntryKind::Note,
        _ => return Err(Error::validation("kind: must be public or note").into()),
    };
    let e = state
        .services
        .tickets
        .agent_ticket_entry(&agent.user, id, kind, req.body, req.attachment_ids)
        .await?;
    Ok((StatusCode::CREATED, Json(e)).into_response())
}

#[derive(Serialize, ToSchema)]
#[schema(as = TicketAuditResponse)]
pub struct AuditResponse {
    pub audit: Vec<AuditEntry>,
}

/// Every change of the ticket, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/audit", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = AuditResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<AuditResponse>> {
    state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    Ok(Json(AuditResponse {
        audit: state.store.ticket_audit(agent.user.shop_id, id).await?,
    }))
}

// ---- links ----

#[derive(Serialize, ToSchema)]
pub struct LinksResponse {
    pub links: Vec<TicketLink>,
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}/links", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = LinksResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn links(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<LinksResponse>> {
    state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    Ok(Json(LinksResponse {
        links: state.store.ticket_links(agent.user.shop_id, id).await?,
    }))
}

/// Links a conversation or an order of the shop (an existing link is returned as is).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/links", tag = "tickets", params(("id" = i64, Path)),
    request_body = NewTicketLink,
    responses((status = 201, body = TicketLink), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_link(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NewTicketLink>,
) -> ApiResult<Response> {
    let before = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    let link = state
        .store
        .add_ticket_link(agent.user.shop_id, id, &req, Actor::agent(agent.user.id))
        .await?;
    state
        .services
        .tickets
        .ticket_touched(&agent.user, before, "links")
        .await;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tickets/{id}/links/{link_id}", tag = "tickets",
    params(("id" = i64, Path), ("link_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_link(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, link_id)): ApiPath<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let before = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    state
        .store
        .remove_ticket_link(agent.user.shop_id, id, link_id, Actor::agent(agent.user.id))
        .await?;
    state
        .services
        .tickets
        .ticket_touched(&agent.user, before, "links")
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- compensations ----

#[derive(Serialize, ToSchema)]
pub struct CompensationsResponse {
    pub compensations: Vec<CompensationRecord>,
}

#[utoipa::path(get, path = "/api/v1/tickets/{id}/compensations", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = CompensationsResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn compensations(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<CompensationsResponse>> {
    state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    Ok(Json(CompensationsResponse {
        compensations: state.store.compensations(agent.user.shop_id, id).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CompensationRequest {
    #[serde(flatten)]
    pub compensation: Compensation,
    /// ISO currency code (default `CNY`).
    #[serde(default)]
    pub currency: Option<String>,
}

/// Records a compensation (refund, coupon, gift, re-shipment, apology call) with its face amount
/// and its cost to the shop; refunds and coupons need an amount.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/compensations", tag = "tickets", params(("id" = i64, Path)),
    request_body = CompensationRequest,
    responses((status = 201, body = CompensationRecord), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_compensation(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<CompensationRequest>,
) -> ApiResult<Response> {
    let mut c = req.compensation;
    c.note = c.note.trim().to_owned();
    c.validate()?;
    let currency = req
        .currency
        .map(|c| c.trim().to_uppercase())
        .unwrap_or_else(|| "CNY".to_owned());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Error::validation("currency: a 3-letter code such as CNY").into());
    }
    let before = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    let r = state
        .store
        .add_compensation(
            agent.user.shop_id,
            id,
            &c,
            &currency,
            Actor::agent(agent.user.id),
        )
        .await?;
    state
        .services
        .tickets
        .ticket_touched(&agent.user, before, "compensation")
        .await;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

/// Deletes a compensation record (its creator, admins and supervisors).
#[utoipa::path(delete, path = "/api/v1/tickets/{id}/compensations/{compensation_id}", tag = "tickets",
    params(("id" = i64, Path), ("compensation_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_compensation(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, compensation_id)): ApiPath<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let before = state
        .services
        .tickets
        .visible_ticket(&agent.user, id)
        .await?;
    let shop = agent.user.shop_id;
    let record = state
        .store
        .compensations(shop, id)
        .await?
        .into_iter()
        .find(|c| c.id == compensation_id)
        .ok_or_else(|| Error::not_found("compensation"))?;
    if record.created_by != Some(agent.user.id) {
        require_manager(&agent.user, "delete others' compensation records")?;
    }
    state
        .store
        .delete_compensation(shop, id, compensation_id, Actor::agent(agent.user.id))
        .await?;
    state
        .services
        .tickets
        .ticket_touched(&agent.user, before, "compensation")
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- merge and bulk ----

#[derive(Deserialize, ToSchema)]
pub struct MergeRequest {
    /// Duplicates to close into this ticket (1-100).
    pub source_ids: Vec<Id>,
}

/// Merges duplicates into this ticket: each source is closed with `merged_into_id`, its links and
/// tags move over and its entries show in this ticket's thread; both sides are audited.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/merge", tag = "tickets", params(("id" = i64, Path)),
    request_body = MergeRequest,
    responses((status = 200, body = Ticket), (status = 404, body = ErrorBody),
        (status = 409, description = "a ticket is closed or merged already", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> ApiResult<Json<Ticket>> {
    if req.source_ids.is_empty() || req.source_ids.len() > MAX_BULK {
        return Err(Error::validation(format!("source_ids: 1-{MAX_BULK} tickets")).into());
    }
    let mut t = state
        .services
        .tickets
        .merge_tickets(&agent.user, id, req.source_ids)
        .await?;
    state
        .services
        .sla
        .fill_sla(std::slice::from_mut(&mut t))
        .await;
    Ok(Json(t))
}

#[derive(Deserialize, ToSchema)]
pub struct BulkRequest {
    /// 1-100 ticket ids.
    pub ids: Vec<Id>,
    pub status: Option<TicketStatus>,
    pub priority: Option<Priority>,
    /// An agent id, or `null` to unassign.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<Id>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<Option<Id>>,
    #[serde(default)]
    pub add_tags: Vec<String>,
}

fn some<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct BulkResult {
    pub id: Id,
    pub ok: bool,
    pub ticket: Option<Ticket>,
    pub error: Option<crate::error::ErrorDetail>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkResponse {
    pub results: Vec<BulkResult>,
    pub succeeded: usize,
    pub failed: usize,
}

/// Applies one change to many tickets. Each ticket is changed on its own (its own transaction,
/// audit rows and event): the answer lists a result per id, so one illegal status move or an
/// invisible ticket fails alone and the others are kept.
#[utoipa::path(post, path = "/api/v1/tickets/bulk", tag = "tickets", request_body = BulkRequest,
    responses((status = 200, body = BulkResponse), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn bulk(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<BulkRequest>,
) -> ApiResult<Json<BulkResponse>> {
    let mut ids = req.ids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(Error::validation(format!("ids: 1-{MAX_BULK} tickets")).into());
    }
    let mut patch = TicketPatch {
        status: req.status,
        priority: req.priority,
        assignee_id: req.assignee_id,
        team_id: req.team_id,
        add_tags: req.add_tags,
        ..Default::default()
    };
    patch.validate()?;
    if patch.is_empty() {
        return Err(Error::validation("nothing to change").into());
    }
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let r = state
            .services
            .tickets
            .patch_ticket(&agent.user, id, patch.clone())
            .await;
        results.push(match r {
            Ok(mut t) => BulkResult {
                ticket: {
                    state
                        .services
                        .sla
                        .fill_sla(std::slice::from_mut(&mut t))
                        .await;
                    Some(t)
                },
                id,
                ok: true,
                error: None,
            },
            Err(e) => BulkResult {
                id,
                ok: false,
                ticket: None,
                error: Some(e.into()),
            },
        });
    }
    let succeeded = results.iter().filter(|r| r.ok).count();
    Ok(Json(BulkResponse {
        failed: results.len() - succeeded,
        succeeded,
        results,
    }))
}

// ---- categories ----

#[derive(Serialize, ToSchema)]
pub struct CategoriesResponse {
    pub categories: Vec<TicketCategory>,
}

/// The shop's ticket categories, parents each followed by their sub-categories (the default
/// complaint categories are seeded on the first read).
#[utoipa::path(get, path = "/api/v1/ticket-categories", tag = "tickets",
    responses((status = 200, body = CategoriesResponse)), security(("bearer" = [])))]
pub async fn list_categories(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<CategoriesResponse>> {
    Ok(Json(CategoriesResponse {
        categories: state.store.ticket_categories(agent.user.shop_id).await?,
    }))
}

/// A new category or sub-category (admins and supervisors).
#[utoipa::path(post, path = "/api/v1/ticket-categories", tag = "tickets", request_body = NewTicketCategory,
    responses((status = 201, body = TicketCategory), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(mut req): ApiJson<NewTicketCategory>,
) -> ApiResult<Response> {
    require_manager(&agent.user, "edit ticket categories")?;
    req.validate()?;
    let c = state
        .store
        .create_ticket_category(agent.user.shop_id, &req)
        .await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// Renames, moves, flags or archives a category (admins and supervisors).
#[utoipa::path(patch, path = "/api/v1/ticket-categories/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = TicketCategoryPatch,
    responses((status = 200, body = TicketCategory), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(mut req): ApiJson<TicketCategoryPatch>,
) -> ApiResult<Json<TicketCategory>> {
    require_manager(&agent.user, "edit ticket categories")?;
    req.validate()?;
    Ok(Json(
        state
            .store
            .update_ticket_category(agent.user.shop_id, id, &req)
            .await?,
    ))
}

/// Deletes an unused category (admins and supervisors); 409 while tickets or sub-categories use
/// it (archive it instead).
#[utoipa::path(delete, path = "/api/v1/ticket-categories/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_category(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user, "edit ticket categories")?;
    state
        .store
        .delete_ticket_category(agent.user.shop_id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- custom fields ----

#[derive(Serialize, ToSchema)]
pub struct FieldsResponse {
    pub fields: Vec<TicketFieldDef>,
}

#[utoipa::path(get, path = "/api/v1/ticket-fields", tag = "tickets",
    responses((status = 200, body = FieldsResponse)), security(("bearer" = [])))]
pub async fn list_fields(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<FieldsResponse>> {
    Ok(Json(FieldsResponse {
        fields: state.store.ticket_field_defs(agent.user.shop_id).await?,
    }))
}

/// A custom ticket field (admins and supervisors). `required` fields must be filled to resolve.
#[utoipa::path(post, path = "/api/v1/ticket-fields", tag = "tickets", request_body = NewTicketFieldDef,
    responses((status = 201, body = TicketFieldDef), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_field(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<NewTicketFieldDef>,
) -> ApiResult<Response> {
    require_manager(&agent.user, "edit ticket fields")?;
    let input = req.validate()?;
    let f = state
        .store
        .create_ticket_field_def(agent.user.shop_id, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(f)).into_response())
}

/// Changes a field's label, options, position, `required` or `archived` (key and kind stay).
#[utoipa::path(put, path = "/api/v1/ticket-fields/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = NewTicketFieldDef,
    responses((status = 200, body = TicketFieldDef), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_field(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NewTicketFieldDef>,
) -> ApiResult<Json<TicketFieldDef>> {
    require_manager(&agent.user, "edit ticket fields")?;
    let input = req.validate()?;
    Ok(Json(
        state
            .store
            .update_ticket_field_def(agent.user.shop_id, id, &input)
            .await?,
    ))
}

// ---- saved views ----

#[derive(Serialize, ToSchema)]
pub struct ViewsResponse {
    pub views: Vec<TicketView>,
}

/// The caller's saved views (each agent has their own).
#[utoipa::path(get, path = "/api/v1/ticket-views", tag = "tickets",
    responses((status = 200, body = ViewsResponse)), security(("bearer" = [])))]
pub async fn list_views(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<ViewsResponse>> {
    Ok(Json(ViewsResponse {
        views: state
            .store
            .ticket_views(agent.user.shop_id, agent.user.id)
            .await?,
    }))
}

/// Saves a view: a name and list filters (they must parse as `GET /api/v1/tickets` filters).
#[utoipa::path(post, path = "/api/v1/ticket-views", tag = "tickets", request_body = NewTicketView,
    responses((status = 201, body = TicketView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_view(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(mut req): ApiJson<NewTicketView>,
) -> ApiResult<Response> {
    req.validate()?;
    let v = state
        .store
        .create_ticket_view(agent.user.shop_id, agent.user.id, &req)
        .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// Replaces one of the caller's views (another agent's is 404).
#[utoipa::path(put, path = "/api/v1/ticket-views/{id}", tag = "tickets", params(("id" = i64, Path)),
    request_body = NewTicketView,
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_view(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(mut req): ApiJson<NewTicketView>,
) -> ApiResult<Json<TicketView>> {
    req.validate()?;
    Ok(Json(
        state
            .store
            .update_ticket_view(agent.user.shop_id, agent.user.id, id, &req)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/ticket-views/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_view(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_ticket_view(agent.user.shop_id, agent.user.id, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- conversations ----

/// One click: a ticket from the conversation, carrying its transcript (a system entry), linked
/// to the conversation and the order (the one named, else the customer's latest), assigned to the
/// caller.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/ticket", tag = "tickets", params(("id" = i64, Path)),
    request_body = FromConversation,
    responses((status = 201, body = Ticket), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn from_conversation(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<FromConversation>,
) -> ApiResult<Response> {
    let mut t = state
        .services
        .tickets
        .ticket_from_conversation(&agent.user, id, req)
        .await?;
    state
        .services
        .sla
        .fill_sla(std::slice::from_mut(&mut t))
        .await;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ConversationTickets {
    pub tickets: Vec<Ticket>,
}

/// Tickets linked to a conversation the caller may see.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/tickets", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, body = ConversationTickets), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conversation_tickets(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ConversationTickets>> {
    state
        .services
        .chat
        .visible_conversation(&agent.user, id)
        .await?;
    let user = &agent.user;
    let mut tickets: Vec<Ticket> = state
        .store
        .conversation_tickets(user.shop_id, id)
        .await?
        .into_iter()
        .filter(|t| kefu_service::tickets::agent_sees_ticket(t, user.id, user.role))
        .collect();
    state.services.sla.fill_sla(&mut tickets).await;
    Ok(Json(ConversationTickets { tickets }))
}

// ---- the shopper's side ----

fn shopper_rate(state: &AppState, visitor: &Visitor) -> Result<()> {
    if state.limits.visitor_messages.check(&visitor.customer_id) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::RateLimited,
            "too many requests; slow down",
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ShopperTickets {
    pub tickets: Vec<ShopperTicket>,
}

/// The shopper's own tickets, newest first.
#[utoipa::path(get, path = "/api/v1/widget/tickets", tag = "widget",
    responses((status = 200, body = ShopperTickets), (status = 401, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_list(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
) -> ApiResult<Json<ShopperTickets>> {
    let tickets = state
        .store
        .list_tickets(
            visitor.shop_id,
            &TicketQuery {
                filter: TicketFilter {
                    customer_id: Some(visitor.customer_id),
                    shared_only: true,
                    sort: TicketSort::CreatedDesc,
                    ..Default::default()
                },
                restrict_to_agent: None,
                viewer_id: 0,
                cursor: None,
                limit: 50,
            },
        )
        .await?;
    Ok(Json(ShopperTickets {
        tickets: tickets.iter().map(ShopperTicket::from).collect(),
    }))
}

/// Reports a problem: a description, optionally one of the shopper's own orders (another order
/// number is refused with 422) and photos uploaded before.
#[utoipa::path(post, path = "/api/v1/widget/tickets", tag = "widget", request_body = ShopperReport,
    responses((status = 201, body = ShopperTicket), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_create(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiJson(req): ApiJson<ShopperReport>,
) -> ApiResult<Response> {
    shopper_rate(&state, &visitor)?;
    let t = state.services.tickets.shopper_report(&visitor, req).await?;
    Ok((StatusCode::CREATED, Json(ShopperTicket::from(&t))).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ShopperOrder {
    pub order_no: String,
    #[schema(value_type = String)]
    pub placed_at: Millis,
    pub total_cents: i64,
    pub currency: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShopperOrders {
    pub orders: Vec<ShopperOrder>,
}

/// The shopper's recent orders, to pick the one a problem is about.
#[utoipa::path(get, path = "/api/v1/widget/tickets/orders", tag = "widget",
    responses((status = 200, body = ShopperOrders), (status = 401, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_orders(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
) -> ApiResult<Json<ShopperOrders>> {
    let orders = state
        .store
        .list_orders(
            visitor.shop_id,
            &kefu_core::commerce::OrderQuery {
                customer_id: Some(visitor.customer_id),
                limit: 20,
                ..Default::default()
            },
        )
        .await?;
    Ok(Json(ShopperOrders {
        orders: orders
            .into_iter()
            .map(|o| ShopperOrder {
                order_no: o.order_no,
                placed_at: o.placed_at,
                total_cents: o.total_cents,
                currency: o.currency,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ShopperTicketDetail {
    pub ticket: ShopperTicket,
    /// Public replies and the shopper's own, oldest first (never internal notes).
    pub entries: Vec<TicketEntry>,
    /// Files sent with the report.
    pub attachments: Vec<TicketAttachment>,
}

/// One of the shopper's tickets with its public thread; anyone else's is 404.
#[utoipa::path(get, path = "/api/v1/widget/tickets/{id}", tag = "widget", params(("id" = i64, Path)),
    responses((status = 200, body = ShopperTicketDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_get(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<ShopperTicketDetail>> {
    let t = state.services.tickets.shopper_ticket(&visitor, id).await?;
    let mut entries = state
        .store
        .ticket_entries(visitor.shop_id, id, true)
        .await?;
    // Agents' internal identities stay internal; the shopper sees the reply, not who is who.
    for e in &mut entries {
        e.author_id = None;
    }
    let attachments = state
        .services
        .tickets
        .shopper_attachments(&visitor, id, &entries)
        .await?;
    Ok(Json(ShopperTicketDetail {
        ticket: ShopperTicket::from(&t),
        entries,
        attachments,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ShopperReplyRequest {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub attachment_ids: Vec<Id>,
}

/// The shopper replies on their own ticket (a ticket waiting on them, or resolved, opens again).
#[utoipa::path(post, path = "/api/v1/widget/tickets/{id}/replies", tag = "widget", params(("id" = i64, Path)),
    request_body = ShopperReplyRequest,
    responses((status = 201, body = TicketEntry), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_reply(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<ShopperReplyRequest>,
) -> ApiResult<Response> {
    shopper_rate(&state, &visitor)?;
    let mut e = state
        .services
        .tickets
        .shopper_ticket_reply(&visitor, id, req.body, req.attachment_ids)
        .await?;
    e.author_id = None;
    Ok((StatusCode::CREATED, Json(e)).into_response())
}

// ---- files ----

async fn store_upload(
    state: &AppState,
    shop_id: Id,
    uploader: Actor,
    multipart: axum::extract::Multipart,
) -> Result<TicketAttachment> {
    let files = state.attachment_files()?;
    let (attachment, _) = receive_upload(files, multipart).await?;
    state
        .store
        .add_ticket_attachment(shop_id, uploader, attachment)
        .await
}

/// Uploads a file for a ticket (multipart field `file`; the chat attachments' types and limits).
/// Attach it with `attachment_ids` when creating a ticket or adding an entry.
#[utoipa::path(post, path = "/api/v1/ticket-attachments", tag = "tickets",
    request_body(content = crate::routes::attachments::UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = TicketAttachment), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn agent_upload(
    State(state): State<AppState>,
    agent: Agent,
    Upload(multipart): Upload,
) -> ApiResult<Response> {
    let a = store_upload(
        &state,
        agent.user.shop_id,
        Actor::agent(agent.user.id),
        multipart,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// A shopper uploads a photo for a report or a reply (rate-limited like chat uploads).
#[utoipa::path(post, path = "/api/v1/widget/ticket-attachments", tag = "widget",
    request_body(content = crate::routes::attachments::UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = TicketAttachment), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn shopper_upload(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    Upload(multipart): Upload,
) -> ApiResult<Response> {
    if !state.limits.visitor_uploads.check(&visitor.customer_id) {
        return Err(Error::new(ErrorCode::RateLimited, "uploading too fast; slow down").into());
    }
    let a = store_upload(
        &state,
        visitor.shop_id,
        Actor::customer(visitor.customer_id),
        multipart,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// The file if the viewer may see it: agents who see its ticket (or uploaded it and it waits for
/// one); the ticket's shopper for files not in internal notes (or their own upload).
async fn entitled_file(state: &AppState, viewer: &Viewer, id: Id) -> Result<TicketAttachment> {
    let shop_id = match viewer {
        Viewer::Agent(u) => u.shop_id,
        Viewer::Shopper(v) => v.shop_id,
    };
    let gone = || Error::not_found("attachment");
    let a = state
        .store
        .ticket_attachment(shop_id, id)
        .await?
        .ok_or_else(gone)?;
    let (own_type, own_id) = match viewer {
        Viewer::Agent(u) => (ActorType::Agent, u.id),
        Viewer::Shopper(v) => (ActorType::Customer, v.customer_id),
    };
    let uploaded_by_viewer = a.uploader_type == own_type && a.uploader_id == own_id;
    let Some(ticket_id) = a.ticket_id else {
        return if uploaded_by_viewer {
            Ok(a)
        } else {
            Err(gone())
        };
    };
    match viewer {
        Viewer::Agent(u) => {
            // A file of a merged ticket shows in its target's thread too.
            let t = state
                .store
                .ticket(shop_id, ticket_id)
                .await?
                .ok_or_else(gone)?;
            let seen = state.services.tickets.visible_ticket(u, t.id).await.is_ok()
                || match t.merged_into_id {
                    Some(target) => state
                        .services
                        .tickets
                        .visible_ticket(u, target)
                        .await
                        .is_ok(),
                    None => false,
                };
            if seen { Ok(a) } else { Err(gone()) }
        }
        Viewer::Shopper(v) => {
            state.services.tickets.shopper_file(v, &a).await?;
            Ok(a)
        }
    }
}

/// A ticket file for those entitled (see `entitled_file`): agents seeing its ticket, its
/// shopper (never files of internal notes).
#[utoipa::path(get, path = "/api/v1/ticket-attachments/{id}", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, description = "the file"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("visitor" = [])))]
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Response> {
    let files = state.attachment_files()?;
    let a = entitled_file(&state, &viewer, id).await?;
    let image = a.mime.starts_with("image/");
    serve_file(files.path(&a.sha256), &a.mime, &a.name, image).await
}

/// An image file's thumbnail (the original when small).
#[utoipa::path(get, path = "/api/v1/ticket-attachments/{id}/thumb", tag = "tickets", params(("id" = i64, Path)),
    responses((status = 200, description = "a JPEG or PNG image"), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("visitor" = [])))]
pub async fn thumb(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Response> {
    let files = state.attachment_files()?;
    let a = entitled_file(&state, &viewer, id).await?;
    if !a.mime.starts_with("image/") {
        return Err(Error::not_found("thumbnail").into());
    }
    if !a.thumb {
        return serve_file(files.path(&a.sha256), &a.mime, &a.name, true).await;
    }
    let path = files.thumb_path(&a.sha256);
    let mut magic = [0u8; 4];
    {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(&path)
            .await
            .map_err(|_| Error::not_found("thumbnail"))?;
        f.read_exact(&mut magic).await.map_err(Error::internal)?;
    }
    let mime = if magic == *b"\x89PNG" {
        "image/png"
    } else {
        "image/jpeg"
    };
    serve_file(path, mime, &a.name, true).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        detail,
        patch,
        entries,
        add_entry,
        audit,
        links,
        add_link,
        remove_link,
        compensations,
        add_compensation,
        delete_compensation,
        merge,
        bulk,
        list_categories,
        create_category,
        update_category,
        delete_category,
        list_fields,
        create_field,
        update_field,
        list_views,
        create_view,
        update_view,
        delete_view,
        from_conversation,
        conversation_tickets,
        shopper_list,
        shopper_create,
        shopper_orders,
        shopper_get,
        shopper_reply,
        agent_upload,
        shopper_upload,
        download,
        thumb
    ),
    components(schemas(
        Ticket,
        TicketsPage,
        TicketDetail,
        TicketPatch,
        NewTicket,
        TicketStatus,
        Priority,
        TicketChannel,
        EntryKind,
        ActorType,
        LinkKind,
        CategoryRef,
        TicketCategory,
        NewTicketCategory,
        TicketCategoryPatch,
        TicketFieldDef,
        NewTicketFieldDef,
        TicketEntry,
        TicketAttachment,
        TicketLink,
        NewTicketLink,
        AuditEntry,
        CompensationRecord,
        Compensation,
        CompensationKind,
        TicketView,
        NewTicketView,
        EntriesResponse,
        NewEntryRequest,
        AuditResponse,
        LinksResponse,
        CompensationsResponse,
        CompensationRequest,
        MergeRequest,
        BulkRequest,
        BulkResult,
        BulkResponse,
        CategoriesResponse,
        FieldsResponse,
        ViewsResponse,
        FromConversation,
        ConversationTickets,
        ShopperTicket,
        ShopperTickets,
        ShopperReport,
        ShopperOrder,
        ShopperOrders,
        ShopperTicketDetail,
        ShopperReplyRequest
    ))
)]
pub struct ApiDoc;
