//! Customer profiles, identities, merging, timeline, blocklist, custom fields and CSV export (agent API).
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].
//!
//! Roles: every agent of the shop may read and edit profiles (name, contacts, tags, notes,
//! addresses, custom values, unverified identities). Merging, blocking, the CSV export and custom
//! field definitions need an admin or supervisor; the identity secret is admin-only.

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use kefu_core::Error;
use kefu_core::customers::*;
use kefu_core::model::Id;
use kefu_service::access::{require_admin, require_manager};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/customers", get(list_customers))
        .route("/api/v1/customers/export.csv", get(export_csv))
        .route(
            "/api/v1/customers/merge-suggestions",
            get(merge_suggestions),
        )
        .route(
            "/api/v1/customers/{id}",
            get(get_customer).patch(patch_customer),
        )
        .route("/api/v1/customers/{id}/tags", put(put_tags))
        .route("/api/v1/customers/{id}/notes", post(add_note))
        .route(
            "/api/v1/customers/{id}/notes/{note_id}",
            axum::routing::delete(delete_note),
        )
        .route("/api/v1/customers/{id}/identities", post(add_identity))
        .route(
            "/api/v1/customers/{id}/identities/{identity_id}",
            axum::routing::delete(delete_identity),
        )
        .route("/api/v1/customers/{id}/addresses", post(add_address))
        .route(
            "/api/v1/customers/{id}/addresses/{address_id}",
            put(update_address).delete(delete_address),
        )
        .route("/api/v1/customers/{id}/merge", post(merge))
        .route("/api/v1/customers/{id}/timeline", get(timeline))
        .route("/api/v1/customers/{id}/block", post(block))
        .route("/api/v1/customers/{id}/unblock", post(unblock))
        .route(
            "/api/v1/customer-fields",
            get(list_fields).post(create_field),
        )
        .route(
            "/api/v1/customer-fields/{id}",
            put(update_field).delete(delete_field),
        )
        .route("/api/v1/shop/identity-secret", get(get_secret))
        .route("/api/v1/shop/identity-secret/rotate", post(rotate_secret))
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_customers,
        export_csv,
        merge_suggestions,
        get_customer,
        patch_customer,
        put_tags,
        add_note,
        delete_note,
        add_identity,
        delete_identity,
        add_address,
        update_address,
        delete_address,
        merge,
        timeline,
        block,
        unblock,
        list_fields,
        create_field,
        update_field,
        delete_field,
        get_secret,
        rotate_secret,
    ),
    components(schemas(
        CustomerProfile,
        CustomerSummary,
        CustomerPage,
        CustomerPatch,
        Identity,
        IdentityKind,
        Address,
        NewAddress,
        Note,
        FieldDef,
        NewFieldDef,
        FieldKind,
        SourceChannel,
        MergeSuggestion,
        TimelineItem,
        TimelinePage,
        SignedIdentity
    ))
)]
pub struct ApiDoc;

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Name (substring), phone, e-mail or external id (exact or prefix).
    pub q: Option<String>,
    pub tag: Option<String>,
    /// search|ad|referral|marketplace|phone|social|other
    pub source: Option<String>,
    /// Last contact at or after (YYYY-MM-DD or RFC 3339).
    pub contact_from: Option<String>,
    /// Last contact before (YYYY-MM-DD or RFC 3339).
    pub contact_to: Option<String>,
    /// `true`: the blocklist; `false`: everyone else.
    pub blocked: Option<bool>,
    /// Tier: key|suitable|general (computed segments).
    pub tier: Option<String>,
    /// Value-added group: high_volume|long_standing|key|demanding.
    pub group: Option<String>,
    /// RFM segment, e.g. important_value.
    pub rfm: Option<String>,
    /// Churn risk: any|low|medium|high.
    pub churn: Option<String>,
    /// Paid spend at least, in yuan (e.g. `100` or `99.50`).
    pub spend_min: Option<String>,
    /// Paid spend below, in yuan.
    pub spend_max: Option<String>,
    /// `last_contact` (default) or `created`, newest first.
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1-200 (default 50).
    pub limit: Option<i64>,
}

impl ListQuery {
    fn filter(&self) -> Result<CustomerFilter, Error> {
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(Error::validation("limit: must be 1-200"));
        }
        Ok(CustomerFilter {
            q: nonempty(&self.q),
            tag: nonempty(&self.tag).map(|t| t.trim().to_owned()),
            source: nonempty(&self.source)
                .map(|s| SourceChannel::parse(s.trim()))
                .transpose()?,
            contact_from: nonempty(&self.contact_from)
                .map(|s| parse_time("contact_from", &s))
                .transpose()?,
            contact_to: nonempty(&self.contact_to)
                .map(|s| parse_time("contact_to", &s))
                .transpose()?,
            blocked: self.blocked,
            segment: crate::routes::segments::parse_filter(
                &self.tier,
                &self.group,
                &self.rfm,
                &self.churn,
            )?,
            spend_min_cents: nonempty(&self.spend_min)
                .map(|v| spend_cents("spend_min", &v))
                .transpose()?,
            spend_max_cents: nonempty(&self.spend_max)
                .map(|v| spend_cents("spend_max", &v))
                .transpose()?,
            sort: match self.sort.as_deref() {
                None | Some("" | "last_contact") => CustomerSort::LastContact,
                Some("created") => CustomerSort::Created,
                Some(_) => return Err(Error::validation("sort: must be last_contact or created")),
            },
            after: nonempty(&self.cursor)
                .map(|c| decode_cursor(&c))
                .transpose()?,
            limit,
        })
    }
}

/// A spend bound in yuan (`100`, `99.5`, `99.50`) as exact minor units; never negative.
fn spend_cents(field: &str, raw: &str) -> Result<i64, Error> {
    kefu_core::commerce::money::parse_yuan(field, raw)
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(ListQuery),
    responses((status = 200, body = CustomerPage), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_customers(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<CustomerPage>> {
    let filter = q.filter()?;
    Ok(Json(
        state
            .store
            .list_customers(agent.user.shop_id, &filter)
            .await?,
    ))
}

/// Customers read per page of the streamed export.
const EXPORT_PAGE: i64 = 500;

#[utoipa::path(get, path = "/api/v1/customers/export.csv", tag = "customers", params(ListQuery),
    responses((status = 200, description = "UTF-8 CSV with a BOM", content_type = "text/csv", body = String),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn export_csv(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    require_manager(&agent.user, "export customers")?;
    let mut filter = q.filter()?;
    filter.limit = EXPORT_PAGE;
    filter.after = None;
    let shop_id = agent.user.shop_id;
    // Streamed a page at a time: memory stays one page whatever the number of customers. Bad input
    // was refused above with a 4xx; a storage error mid-way can only cut the download short (the
    // status line is gone by then), which the client sees as an incomplete transfer.
    let pages = futures_util::stream::unfold(
        (state, filter, true, false),
        move |(state, mut filter, first, done)| async move {
            if done {
                return None;
            }
            let mut out = String::new();
            if first {
                // A BOM so spreadsheet programs read the Chinese text as UTF-8.
                out.push('\u{feff}');
                out.push_str(
                    "id,name,phone,email,external_id,source,tags,blocked,created_at,last_contact_at\r\n",
                );
            }
            let page = match state.store.list_customers(shop_id, &filter).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(%e, shop_id, "customer export cut short");
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        (state, filter, false, true),
                    ));
                }
            };
            for c in &page.customers {
                let cells = [
                    c.id.to_string(),
                    c.name.clone(),
                    c.phone.clone().unwrap_or_default(),
                    c.email.clone().unwrap_or_default(),
                    c.external_id.clone().unwrap_or_default(),
                    c.source.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    c.tags.join(","),
                    c.blocked.to_string(),
                    c.created_at.to_rfc3339(),
                    c.last_contact_at
                        .map(kefu_core::time::Millis::to_rfc3339)
                        .unwrap_or_default(),
                ];
                let line: Vec<String> = cells.iter().map(|v| csv_cell(v)).collect();
                out.push_str(&line.join(","));
                out.push_str("\r\n");
            }
            let done = match page.next_cursor.as_deref().map(decode_cursor) {
                Some(Ok(after)) => {
                    filter.after = Some(after);
                    false
                }
                _ => true,
            };
            Some((
                Ok(axum::body::Bytes::from(out)),
                (state, filter, false, done),
            ))
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        axum::body::Body::from_stream(pages),
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
#[schema(as = MergeSuggestionsResponse)]
pub struct SuggestionsResponse {
    pub suggestions: Vec<MergeSuggestion>,
}

#[utoipa::path(get, path = "/api/v1/customers/merge-suggestions", tag = "customers",
    responses((status = 200, body = SuggestionsResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn merge_suggestions(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<SuggestionsResponse>> {
    require_manager(&agent.user, "merge customers")?;
    Ok(Json(SuggestionsResponse {
        suggestions: state
            .store
            .merge_suggestions(agent.user.shop_id, 100)
            .await?,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct CustomerResponse {
    pub customer: CustomerProfile,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, description = "the profile; a merged record has `merged_into` set", body = CustomerResponse),
        (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<CustomerResponse>> {
    Ok(Json(CustomerResponse {
        customer: state
            .services
            .customers
            .customer(agent.user.shop_id, id)
            .await?,
    }))
}

#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    request_body = CustomerPatch,
    responses((status = 200, body = CustomerResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> ApiResult<Json<CustomerResponse>> {
    let shop_id = agent.user.shop_id;
    let defs = state.store.list_field_defs(shop_id).await?;
    let change = patch.validate(&defs)?;
    state
        .store
        .update_customer_profile(shop_id, id, &change)
        .await?;
    // A new name shows in the widget's cached visitor at once too.
    state.services.visitors.forget_customer(id);
    state.services.customers.customer_changed(shop_id, id, None);
    Ok(Json(CustomerResponse {
        customer: state.services.customers.customer(shop_id, id).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct TagsRequest {
    pub tags: Vec<String>,
}

#[utoipa::path(put, path = "/api/v1/customers/{id}/tags", tag = "customers", params(("id" = i64, Path)),
    request_body = TagsRequest,
    responses((status = 200, body = CustomerResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_tags(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<TagsRequest>,
) -> ApiResult<Json<CustomerResponse>> {
    let change = CustomerChange {
        tags: Some(normalize_tags(&req.tags)?),
        ..Default::default()
    };
    let shop_id = agent.user.shop_id;
    state
        .store
        .update_customer_profile(shop_id, id, &change)
        .await?;
    state.services.customers.customer_changed(shop_id, id, None);
    Ok(Json(CustomerResponse {
        customer: state.services.customers.customer(shop_id, id).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteRequest {
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct NoteResponse {
    pub note: Note,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/notes", tag = "customers", params(("id" = i64, Path)),
    request_body = NoteRequest,
    responses((status = 201, body = NoteResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_note(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> ApiResult<(StatusCode, Json<NoteResponse>)> {
    let body = validate_note(&req.body)?;
    let u = &agent.user;
    let note = state
        .store
        .add_note(u.shop_id, id, Some(u.id), &u.name, &body)
        .await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok((StatusCode::CREATED, Json(NoteResponse { note })))
}

#[utoipa::path(delete, path = "/api/v1/customers/{id}/notes/{note_id}", tag = "customers",
    params(("id" = i64, Path), ("note_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_note(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, note_id)): ApiPath<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let u = &agent.user;
    // Agents remove their own notes; admins and supervisors anyone's.
    if !u.role.sees_whole_shop() {
        let profile = state.services.customers.customer(u.shop_id, id).await?;
        let note = profile
            .notes
            .iter()
            .find(|n| n.id == note_id)
            .ok_or_else(|| Error::not_found("note"))?;
        if note.author_id != Some(u.id) {
            return Err(Error::forbidden("agents may delete only their own notes").into());
        }
    }
    state.store.delete_note(u.shop_id, id, note_id).await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct IdentityRequest {
    /// phone|email|external_id
    pub kind: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityResponse {
    pub identity: Identity,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/identities", tag = "customers", params(("id" = i64, Path)),
    request_body = IdentityRequest,
    responses((status = 201, description = "added unverified (agents cannot vouch for an identity)", body = IdentityResponse),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_identity(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<IdentityRequest>,
) -> ApiResult<(StatusCode, Json<IdentityResponse>)> {
    let kind = IdentityKind::parse(req.kind.trim())?;
    let value = normalize_identity(kind, "value", &req.value)?;
    let u = &agent.user;
    let identity = state
        .store
        .add_identity(u.shop_id, id, kind, &value, "agent")
        .await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok((StatusCode::CREATED, Json(IdentityResponse { identity })))
}

#[utoipa::path(delete, path = "/api/v1/customers/{id}/identities/{identity_id}", tag = "customers",
    params(("id" = i64, Path), ("identity_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, description = "verified identities stay", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_identity(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, identity_id)): ApiPath<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let u = &agent.user;
    state
        .store
        .delete_identity(u.shop_id, id, identity_id)
        .await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct AddressResponse {
    pub address: Address,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/addresses", tag = "customers", params(("id" = i64, Path)),
    request_body = NewAddress,
    responses((status = 201, body = AddressResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_address(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NewAddress>,
) -> ApiResult<(StatusCode, Json<AddressResponse>)> {
    let a = req.normalized()?;
    let u = &agent.user;
    let address = state.store.add_address(u.shop_id, id, &a).await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok((StatusCode::CREATED, Json(AddressResponse { address })))
}

#[utoipa::path(put, path = "/api/v1/customers/{id}/addresses/{address_id}", tag = "customers",
    params(("id" = i64, Path), ("address_id" = i64, Path)), request_body = NewAddress,
    responses((status = 200, body = AddressResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_address(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, address_id)): ApiPath<(Id, Id)>,
    ApiJson(req): ApiJson<NewAddress>,
) -> ApiResult<Json<AddressResponse>> {
    let a = req.normalized()?;
    let u = &agent.user;
    let address = state
        .store
        .update_address(u.shop_id, id, address_id, &a)
        .await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok(Json(AddressResponse { address }))
}

#[utoipa::path(delete, path = "/api/v1/customers/{id}/addresses/{address_id}", tag = "customers",
    params(("id" = i64, Path), ("address_id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_address(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, address_id)): ApiPath<(Id, Id)>,
) -> ApiResult<StatusCode> {
    let u = &agent.user;
    state
        .store
        .delete_address(u.shop_id, id, address_id)
        .await?;
    state
        .services
        .customers
        .customer_changed(u.shop_id, id, None);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[schema(as = CustomerMergeRequest)]
pub struct MergeRequest {
    /// The record merged into this one (it disappears from lists; reading it says where it went).
    pub source_id: Id,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers", params(("id" = i64, Path)),
    request_body = MergeRequest,
    responses((status = 200, description = "the merged (target) profile", body = CustomerResponse),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "already merged, or two different verified external ids", body = ErrorBody),
        (status = 422, description = "merging a customer into itself", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn merge(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> ApiResult<Json<CustomerResponse>> {
    require_manager(&agent.user, "merge customers")?;
    Ok(Json(CustomerResponse {
        customer: state
            .services
            .customers
            .merge_customer(&agent.user, id, req.source_id)
            .await?,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct TimelineQuery {
    /// The `cursor` of the last item seen (or `next_cursor`).
    pub before: Option<String>,
    /// 1-100 (default 30).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = i64, Path), TimelineQuery),
    responses((status = 200, body = TimelinePage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn timeline(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<TimelinePage>> {
    let limit = q.limit.unwrap_or(30);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation("limit: must be 1-100").into());
    }
    let before = q.before.as_deref().filter(|b| !b.is_empty());
    Ok(Json(
        state
            .store
            .timeline(
                agent.user.shop_id,
                id,
                before,
                limit,
                (!agent.user.role.sees_whole_shop()).then_some(agent.user.id),
            )
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct BlockRequest {
    /// Why (shown in the profile and the timeline), 1-200 characters.
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/block", tag = "customers", params(("id" = i64, Path)),
    request_body = BlockRequest,
    responses((status = 200, body = CustomerResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn block(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<BlockRequest>,
) -> ApiResult<Json<CustomerResponse>> {
    require_manager(&agent.user, "block customers")?;
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::validation("reason: must be 1-200 characters").into());
    }
    Ok(Json(CustomerResponse {
        customer: state
            .services
            .customers
            .block_customer(&agent.user, id, true, Some(reason))
            .await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/unblock", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unblock(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<CustomerResponse>> {
    require_manager(&agent.user, "unblock customers")?;
    Ok(Json(CustomerResponse {
        customer: state
            .services
            .customers
            .block_customer(&agent.user, id, false, None)
            .await?,
    }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = CustomerFieldsResponse)]
pub struct FieldsResponse {
    pub fields: Vec<FieldDef>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldResponse {
    pub field: FieldDef,
}

#[utoipa::path(get, path = "/api/v1/customer-fields", tag = "customers",
    responses((status = 200, body = FieldsResponse)), security(("bearer" = [])))]
pub async fn list_fields(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<FieldsResponse>> {
    Ok(Json(FieldsResponse {
        fields: state.store.list_field_defs(agent.user.shop_id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/customer-fields", tag = "customers", request_body = NewFieldDef,
    responses((status = 201, body = FieldResponse), (status = 403, body = ErrorBody),
        (status = 409, description = "the key is taken", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_field(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(req): ApiJson<NewFieldDef>,
) -> ApiResult<(StatusCode, Json<FieldResponse>)> {
    require_manager(&agent.user, "define customer fields")?;
    let def = req.validate()?;
    let field = state
        .store
        .create_field_def(agent.user.shop_id, &def)
        .await?;
    Ok((StatusCode::CREATED, Json(FieldResponse { field })))
}

#[utoipa::path(put, path = "/api/v1/customer-fields/{id}", tag = "customers", params(("id" = i64, Path)),
    request_body = NewFieldDef,
    responses((status = 200, body = FieldResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_field(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
    ApiJson(req): ApiJson<NewFieldDef>,
) -> ApiResult<Json<FieldResponse>> {
    require_manager(&agent.user, "define customer fields")?;
    let def = req.validate()?;
    let field = state
        .store
        .update_field_def(agent.user.shop_id, id, &def)
        .await?;
    Ok(Json(FieldResponse { field }))
}

#[utoipa::path(delete, path = "/api/v1/customer-fields/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_field(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<StatusCode> {
    require_manager(&agent.user, "define customer fields")?;
    state.store.delete_field_def(agent.user.shop_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SecretResponse {
    /// The HMAC-SHA256 key the shop's server signs shopper identities with. Keep it server-side.
    pub secret: String,
}

#[utoipa::path(get, path = "/api/v1/shop/identity-secret", tag = "shop",
    responses((status = 200, body = SecretResponse), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_secret(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<SecretResponse>> {
    require_admin(&agent.user, "read the identity secret")?;
    Ok(Json(SecretResponse {
        secret: state.store.identity_secret(agent.user.shop_id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/shop/identity-secret/rotate", tag = "shop",
    responses((status = 200, description = "the new secret; identities signed with the old one fail from now on", body = SecretResponse),
        (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<Json<SecretResponse>> {
    require_admin(&agent.user, "rotate the identity secret")?;
    let secret = state
        .store
        .rotate_identity_secret(agent.user.shop_id, &generate_identity_secret())
        .await?;
    tracing::info!(
        shop_id = agent.user.shop_id,
        by = agent.user.id,
        "identity secret rotated"
    );
    Ok(Json(SecretResponse { secret }))
}
