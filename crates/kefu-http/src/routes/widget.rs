//! Shopper-facing (public) endpoints used by the embeddable widget and the demo shop page.
//! Everything here is reachable without an account, so it is rate-limited and shop-scoped by the
//! visitor token: a shopper only ever sees their own conversation, and never private notes.

use crate::AppState;
use crate::auth::{ClientIp, Shopper, optional_bearer, visitor_from_token};
use crate::cors::check_origin_against;
use crate::error::{ApiJson, ApiQuery, ApiResult, ErrorBody};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kefu_core::model::*;
use kefu_core::{Error, ErrorCode, token};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub struct ShopQuery {
    /// The shop's slug (default: `default`).
    pub shop: Option<String>,
}

/// The shop a widget names (`default` when it names none), refusing pages the shop has not
/// allowed to embed its widget.
async fn shop_for(
    state: &AppState,
    slug: Option<&str>,
    headers: &HeaderMap,
) -> Result<Shop, Error> {
    let slug = slug.filter(|s| !s.is_empty()).unwrap_or("default");
    let shop = state
        .store
        .shop_by_slug(slug)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    check_origin_against(headers, &shop.settings)?;
    Ok(shop)
}

#[derive(Serialize, ToSchema)]
pub struct WidgetShop {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetConfig {
    pub shop: WidgetShop,
    pub greeting: String,
    pub offline_message: String,
    pub agents_online: bool,
    /// Whether the shop is within its business hours now (always true with business hours off),
    /// so the widget never says "online" while the after-hours reply says the shop is closed.
    pub open_now: bool,
    /// The pre-chat form a new shopper fills in before their first message.
    pub prechat: PrechatForm,
    /// The widget's look: colour, corner and the invitation beside its button.
    pub widget: WidgetStyle,
}

#[utoipa::path(get, path = "/api/v1/widget/config", tag = "widget", params(ShopQuery),
    responses((status = 200, body = WidgetConfig), (status = 404, body = ErrorBody)))]
pub async fn config(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ShopQuery>,
) -> ApiResult<Json<WidgetConfig>> {
    let shop = shop_for(&state, q.shop.as_deref(), &headers).await?;
    let agents_online = state.store.any_agent_online(shop.id).await?;
    let open_now = state
        .services
        .tools
        .auto_reply_rules(shop.id)
        .await?
        .business_hours
        .is_open(kefu_core::time::Millis::now());
    Ok(Json(WidgetConfig {
        shop: WidgetShop {
            slug: shop.slug,
            name: shop.name,
        },
        greeting: shop.settings.greeting,
        offline_message: shop.settings.offline_message,
        agents_online,
        open_now,
        prechat: shop.settings.prechat,
        widget: shop.settings.widget,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ProductsResponse {
    pub products: Vec<Product>,
}

#[utoipa::path(get, path = "/api/v1/widget/products", tag = "widget", params(ShopQuery),
    responses((status = 200, body = ProductsResponse), (status = 404, body = ErrorBody)))]
pub async fn products(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ShopQuery>,
) -> ApiResult<Json<ProductsResponse>> {
    let shop = shop_for(&state, q.shop.as_deref(), &headers).await?;
    Ok(Json(ProductsResponse {
        products: state.store.list_products(shop.id).await?,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct SessionRequest {
    pub shop: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    /// A returning shopper's token (also accepted as `Authorization: Bearer`).
    pub visitor_token: Option<String>,
    /// An identity signed by the shop's server (see docs/API.md, "Verified identity"): the
    /// shopper becomes the customer holding this external id, with their history.
    pub identity: Option<kefu_core::customers::SignedIdentity>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub visitor_token: String,
    pub customer_id: Id,
}

fn clean(field: &str, value: &Option<String>, max: usize) -> Result<Option<String>, Error> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(Error::validation(format!(
            "{field} must be at most {max} characters"
        ))),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

#[utoipa::path(post, path = "/api/v1/widget/sessions", tag = "widget", request_body = SessionRequest,
    responses((status = 201, body = SessionResponse), (status = 200, description = "a returning shopper", body = SessionResponse),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    // Over the body limit → the JSON 413 every other endpoint answers (not axum's plain text).
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::new(ErrorCode::PayloadTooLarge, "request body is too large")
        } else {
            Error::bad_request(r.body_text())
        }
    })?;
    // The body is optional: an anonymous shopper of the default shop may send nothing at all.
    let req: SessionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SessionRequest::default()
    } else {
        crate::error::refuse_nul_in_json(&body)?;
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::validation(e.to_string()),
            _ => Error::bad_request("malformed JSON"),
        })?
    };
    // Contact fields are normalized (phones, e-mails) and recorded as unverified identities.
    let contact = kefu_core::customers::normalize_contact(&NewCustomer {
        name: clean("name", &req.name, 100)?,
        email: clean("email", &req.email, 254)?,
        phone: clean("phone", &req.phone, 40)?,
        external_id: clean("external_id", &req.external_id, 200)?,
    })?;
    let shop = shop_for(&state, req.shop.as_deref(), &headers).await?;
    let sent_token = optional_bearer(&headers).or(req.visitor_token.clone());
    let mut current = None;
    if let Some(existing) = &sent_token
        && let Ok(visitor) = visitor_from_token(&state, existing).await
        && visitor.shop_id == shop.id
    {
        current = Some((existing.clone(), visitor.customer_id));
    }
    // A signed identity decides who the shopper is; a bad one fails before anything is stored.
    if let Some(found) = state
        .services
        .customers
        .session_customer(
            &shop,
            current.as_ref().map(|c| c.1),
            req.identity.as_ref(),
            &contact,
        )
        .await?
    {
        if let Some((existing, _)) = current.filter(|_| found.keep_token) {
            state.services.visitors.forget(&token::hash(&existing));
            let body = SessionResponse {
                visitor_token: existing,
                customer_id: found.customer_id,
            };
            return Ok((StatusCode::OK, Json(body)).into_response());
        }
        if !state.limits.sessions.check(&ip) {
            return Err(Error::new(
                ErrorCode::RateLimited,
                "too many new sessions; try again later",
            )
            .into());
        }
        let visitor_token = token::generate("kfv_");
        state
            .store
            .create_visitor_token(&token::hash(&visitor_token), shop.id, found.customer_id)
            .await?;
        let body = SessionResponse {
            visitor_token,
            customer_id: found.customer_id,
        };
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    // A returning shopper keeps their customer record and history.
    if let Some((existing, customer_id)) = current {
        let existing = refresh_visitor_token(&state, existing).await?;
        // An unverified external id never replaces the primary one (it may be a verified
        // customer's); it is recorded as an unverified identity below.
        let update = NewCustomer {
            external_id: None,
            ..contact.clone()
        };
        // A plain reload (no fields) writes nothing: that is every page view of a returning shopper.
        let gave_any = contact.name.is_some()
            || contact.email.is_some()
            || contact.phone.is_some()
            || contact.external_id.is_some();
        if gave_any {
            state
                .store
                .update_customer(shop.id, customer_id, &update)
                .await?;
            state
                .store
                .record_contact(shop.id, customer_id, &contact, "widget")
                .await?;
            state.services.visitors.forget(&token::hash(&existing));
            state
                .services
                .customers
                .customer_changed(shop.id, customer_id, None);
        }
        let body = SessionResponse {
            visitor_token: existing,
            customer_id,
        };
        return Ok((StatusCode::OK, Json(body)).into_response());
    }
    if !state.limits.sessions.check(&ip) {
        return Err(Error::new(
            ErrorCode::RateLimited,
            "too many new sessions; try again later",
        )
        .into());
    }
    let mut contact = contact;
    if contact.name.is_none() {
        contact.name = Some(format!("访客{:04}", rand_suffix()));
    }
    // create_customer records the contact fields as identities and sets the last contact itself.
    let customer = state.store.create_customer(shop.id, &contact).await?;
    let visitor_token = token::generate("kfv_");
    state
        .store
        .create_visitor_token(&token::hash(&visitor_token), shop.id, customer.id)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionResponse {
            visitor_token,
            customer_id: customer.id,
        }),
    )
        .into_response())
}

/// A returning shopper's page view: records the token's use (at most daily) and, once the token
/// is old enough, replaces it ([`crate::sessions`]). Returns the token the shopper keeps.
async fn refresh_visitor_token(state: &AppState, existing: String) -> Result<String, Error> {
    let now = kefu_core::time::Millis::now();
    let hash = token::hash(&existing);
    let Some((created, used)) = state.store.visitor_token_times(&hash).await? else {
        return Ok(existing);
    };
    let clock = &state.lifetimes;
    if clock.visitor_due_for_rotation(created, now) {
        return rotate(state, &existing, now)
            .await
            .map(|t| t.unwrap_or(existing));
    }
    if clock.visitor_due_for_touch(used, now) {
        state.store.touch_visitor_token(&hash, now).await?;
    }
    Ok(existing)
}

/// Replaces a visitor token; the old one works for a short overlap. `None`: unknown token.
async fn rotate(
    state: &AppState,
    existing: &str,
    now: kefu_core::time::Millis,
) -> Result<Option<String>, Error> {
    let fresh = token::generate("kfv_");
    let rotated = state
        .store
        .rotate_visitor_token(
            &token::hash(existing),
            &token::hash(&fresh),
            now,
            kefu_core::time::Millis(now.0 + crate::sessions::ROTATION_OVERLAP_MS),
        )
        .await?;
    Ok(rotated.then_some(fresh))
}

#[derive(Serialize, ToSchema)]
pub struct RotatedToken {
    /// The shopper's new token; the old one keeps working for ten minutes.
    pub visitor_token: String,
}

/// Replaces the shopper's visitor token (e.g. when they sign in on the shop's page).
#[utoipa::path(post, path = "/api/v1/widget/sessions/rotate", tag = "widget",
    responses((status = 200, body = RotatedToken), (status = 401, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn rotate_session(
    State(state): State<AppState>,
    Shopper(_visitor): Shopper,
    headers: HeaderMap,
) -> ApiResult<Json<RotatedToken>> {
    let existing = optional_bearer(&headers).unwrap_or_default();
    let fresh = rotate(&state, &existing, kefu_core::time::Millis::now())
        .await?
        .ok_or_else(|| Error::unauthorized("invalid visitor token"))?;
    state.services.visitors.forget(&token::hash(&existing));
    Ok(Json(RotatedToken {
        visitor_token: fresh,
    }))
}

/// Ends the shopper's visitor token at once (e.g. when they sign out of the shop): the widget
/// starts a new anonymous session next time.
#[utoipa::path(delete, path = "/api/v1/widget/sessions", tag = "widget",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn end_session(
    State(state): State<AppState>,
    Shopper(_visitor): Shopper,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let existing = optional_bearer(&headers).unwrap_or_default();
    let hash = token::hash(&existing);
    state.store.delete_visitor_token(&hash).await?;
    state.services.visitors.forget(&hash);
    Ok(StatusCode::NO_CONTENT)
}

fn rand_suffix() -> u32 {
    // Four digits from a fresh token: good enough to tell anonymous shoppers apart at a glance.
    let t = token::generate("");
    u32::from_str_radix(&t[..4], 16).unwrap_or(0) % 10_000
}

#[derive(Deserialize, ToSchema)]
pub struct ShopperSendRequest {
    pub body: String,
    pub client_msg_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShopperSendResponse {
    pub id: Id,
    pub conversation_id: Id,
    pub seq: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: kefu_core::time::Millis,
}

#[utoipa::path(post, path = "/api/v1/widget/messages", tag = "widget", request_body = ShopperSendRequest,
    responses((status = 201, body = ShopperSendResponse), (status = 200, description = "a retry", body = ShopperSendResponse),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn send(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Shopper(visitor): Shopper,
    ApiJson(req): ApiJson<ShopperSendRequest>,
) -> ApiResult<Response> {
    // Per shopper, and per address so that fresh sessions do not multiply the allowance.
    if !state.limits.visitor_messages.check(&visitor.customer_id)
        || !state.limits.address_messages.check(&ip)
    {
        return Err(Error::new(ErrorCode::RateLimited, "sending too fast; slow down").into());
    }
    let sent = state
        .services
        .chat
        .shopper_message(&visitor, &req.body, &req.client_msg_id)
        .await?;
    if !sent.duplicate {
        // An order number of theirs in the text makes it the conversation's (off this path).
        state
            .services
            .inbox
            .after_shopper_message(&visitor, &sent.message);
    }
    let m = sent.message;
    let body = ShopperSendResponse {
        id: m.id,
        conversation_id: m.conversation_id,
        seq: m.seq,
        created_at: m.created_at,
    };
    let status = if sent.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct ShopperMessagesQuery {
    pub after_seq: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ShopperMessagesResponse {
    pub conversation_id: Option<Id>,
    /// The highest seq an agent has read (for read marks).
    pub agent_read_seq: i64,
    pub queue_position: Option<i64>,
    pub status: Option<ConversationStatus>,
    pub messages: Vec<Message>,
}

#[utoipa::path(get, path = "/api/v1/widget/messages", tag = "widget", params(ShopperMessagesQuery),
    responses((status = 200, body = ShopperMessagesResponse), (status = 401, body = ErrorBody)), security(("visitor" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiQuery(q): ApiQuery<ShopperMessagesQuery>,
) -> ApiResult<Json<ShopperMessagesResponse>> {
    let Some(c) = state
        .store
        .customer_conversation(visitor.shop_id, visitor.customer_id)
        .await?
    else {
        return Ok(Json(ShopperMessagesResponse {
            conversation_id: None,
            agent_read_seq: 0,
            queue_position: None,
            status: None,
            messages: vec![],
        }));
    };
    let after = q.after_seq.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let messages = state
        .store
        .messages(visitor.shop_id, c.id, after, limit, false)
        .await?;
    Ok(Json(ShopperMessagesResponse {
        conversation_id: Some(c.id),
        agent_read_seq: c.agent_read_seq,
        queue_position: c.queue_position,
        status: Some(c.status),
        messages,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct ShopperReadRequest {
    pub seq: i64,
}

#[utoipa::path(post, path = "/api/v1/widget/read", tag = "widget", request_body = ShopperReadRequest,
    responses((status = 204), (status = 401, body = ErrorBody)), security(("visitor" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiJson(req): ApiJson<ShopperReadRequest>,
) -> ApiResult<StatusCode> {
    state.services.chat.shopper_read(&visitor, req.seq).await?;
    Ok(StatusCode::NO_CONTENT)
}
