//! The demo shop page's ordering (`/demo/shop`), so the flow shop page → order → agent sidebar →
//! order card → widget can be seen end to end.
//!
//! Safety: these endpoints exist only when the server runs as `kefu demo` ([`AppState::demo`] is
//! set), and only for the demo shop's visitors; everywhere else they answer 404. A visitor "logs
//! in" as one of the demo shop's seeded shoppers (no password: it is a demo), which gives the widget
//! a visitor token of that customer. Orders are created through the commerce store exactly like
//! imported ones (unpaid, one line, the catalogue price), never with a price from the client.

use crate::AppState;
use crate::auth::Shopper;
use crate::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kefu_core::cards::OrderCard;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Visitor};
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result, token};
use kefu_service::demo::{DemoShop, DemoShopper};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/demo/shoppers", get(shoppers))
        .route("/api/v1/demo/login", post(login))
        .route("/api/v1/demo/orders", get(my_orders).post(place_order))
        .route("/api/v1/demo/orders/{id}/pay", post(pay))
}

fn demo(state: &AppState) -> Result<&DemoShop> {
    state.demo.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::NotFound,
            "the demo endpoints exist only when running `kefu demo`",
        )
    })
}

/// The logged-in demo shopper behind this visitor token.
fn demo_shopper<'a>(state: &'a AppState, visitor: &Visitor) -> Result<&'a DemoShopper> {
    let d = demo(state)?;
    if visitor.shop_id != d.shop_id {
        return Err(Error::not_found("demo shop"));
    }
    d.shoppers
        .iter()
        .find(|s| s.customer_id == visitor.customer_id)
        .ok_or_else(|| Error::forbidden("log in as a demo shopper first"))
}

#[derive(Serialize, ToSchema)]
pub struct DemoShoppersResponse {
    pub shoppers: Vec<DemoShopper>,
}

/// The demo shoppers one may log in as.
#[utoipa::path(get, path = "/api/v1/demo/shoppers", tag = "demo",
    responses((status = 200, body = DemoShoppersResponse), (status = 404, description = "not running as `kefu demo`", body = ErrorBody)))]
pub async fn shoppers(State(state): State<AppState>) -> ApiResult<Json<DemoShoppersResponse>> {
    Ok(Json(DemoShoppersResponse {
        shoppers: demo(&state)?.shoppers.clone(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DemoLoginRequest {
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct DemoLoginResponse {
    /// The widget's visitor token for this shopper (store it as the widget does).
    pub visitor_token: String,
    pub customer_id: Id,
    pub name: String,
}

/// "Logs in" as a demo shopper: a fresh visitor token of that customer.
#[utoipa::path(post, path = "/api/v1/demo/login", tag = "demo", request_body = DemoLoginRequest,
    responses((status = 201, body = DemoLoginResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DemoLoginRequest>,
) -> ApiResult<Response> {
    let d = demo(&state)?;
    let shopper = d
        .shoppers
        .iter()
        .find(|s| s.key == req.key)
        .ok_or_else(|| Error::validation("key: not a demo shopper"))?;
    let visitor_token = token::generate("kfv_");
    state
        .store
        .create_visitor_token(&token::hash(&visitor_token), d.shop_id, shopper.customer_id)
        .await?;
    let body = DemoLoginResponse {
        visitor_token,
        customer_id: shopper.customer_id,
        name: shopper.name.clone(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct DemoOrdersResponse {
    pub shopper: DemoShopper,
    /// The shopper's latest orders, newest first (as order cards show them).
    pub orders: Vec<OrderCard>,
}

/// The logged-in demo shopper's latest orders.
#[utoipa::path(get, path = "/api/v1/demo/orders", tag = "demo",
    responses((status = 200, body = DemoOrdersResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn my_orders(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
) -> ApiResult<Json<DemoOrdersResponse>> {
    let shopper = demo_shopper(&state, &visitor)?.clone();
    let orders = state
        .store
        .customer_orders(visitor.shop_id, visitor.customer_id, 10)
        .await?
        .unwrap_or_default();
    let mut cards = Vec::with_capacity(orders.len());
    for o in orders {
        if let Some(found) = state
            .store
            .order_for_card(visitor.shop_id, o.order.id)
            .await?
        {
            cards.push(found.card);
        }
    }
    Ok(Json(DemoOrdersResponse {
        shopper,
        orders: cards,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DemoOrderRequest {
    pub product_id: Id,
    /// 1–99 (default 1).
    pub quantity: Option<i64>,
}

/// Places an unpaid order for one product of the demo shop at its catalogue price.
#[utoipa::path(post, path = "/api/v1/demo/orders", tag = "demo", request_body = DemoOrderRequest,
    responses((status = 201, body = OrderCard), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn place_order(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiJson(req): ApiJson<DemoOrderRequest>,
) -> ApiResult<Response> {
    demo_shopper(&state, &visitor)?;
    if !state.limits.visitor_messages.check(&visitor.customer_id) {
        return Err(Error::new(ErrorCode::RateLimited, "ordering too fast; slow down").into());
    }
    let quantity = req.quantity.unwrap_or(1);
    if !(1..=99).contains(&quantity) {
        return Err(Error::validation("quantity: must be between 1 and 99").into());
    }
    let product = state
        .store
        .card_product(visitor.shop_id, req.product_id)
        .await?
        .ok_or_else(|| Error::not_found("product"))?;
    let now = Millis::now();
    // Unique enough for a demo and readable: XMF + time + 4 random hex digits.
    let order_no = format!(
        "XMF{}{}",
        now.0,
        &token::generate("")[..4].to_ascii_uppercase()
    );
    let input: OrderInput = serde_json::from_value(serde_json::json!({
        "order_no": order_no,
        "customer_id": visitor.customer_id,
        "placed_at": now.0,
        "currency": product.currency,
        "receiver_name": visitor.customer_name,
        "items": [{
            "sku": product.sku,
            "name": product.name,
            "quantity": quantity,
            "unit_price_cents": product.price_cents,
        }],
    }))
    .map_err(Error::internal)?;
    let doc = validate_order("", &input)?;
    let out = state
        .store
        .apply_commerce(
            visitor.shop_id,
            CommerceChange::Orders(vec![(0, doc)]),
            None,
        )
        .await?;
    let item = out
        .items
        .first()
        .ok_or_else(|| Error::internal("demo order: no result"))?;
    if let Some(e) = &item.error {
        return Err(Error::validation(e.message.clone()).into());
    }
    let order_id = item
        .id
        .ok_or_else(|| Error::internal("demo order: no id"))?;
    // The same follow-up as every other ingest: segments and open sidebars.
    state
        .services
        .commerce
        .after_ingest(visitor.shop_id, &[visitor.customer_id])
        .await;
    let card = state
        .store
        .order_for_card(visitor.shop_id, order_id)
        .await?
        .ok_or_else(|| Error::internal("demo order vanished"))?
        .card;
    Ok((StatusCode::CREATED, Json(card)).into_response())
}

/// Pays one of the demo shopper's orders (a stand-in for the payment provider), so reminder
/// outcomes can be seen.
#[utoipa::path(post, path = "/api/v1/demo/orders/{id}/pay", tag = "demo", params(("id" = i64, Path)),
    responses((status = 200, body = OrderCard), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn pay(
    State(state): State<AppState>,
    Shopper(visitor): Shopper,
    ApiPath(id): ApiPath<Id>,
) -> ApiResult<Json<OrderCard>> {
    demo_shopper(&state, &visitor)?;
    let found = state
        .store
        .order_for_card(visitor.shop_id, id)
        .await?
        .filter(|o| o.customer_id == visitor.customer_id)
        .ok_or_else(|| Error::not_found("order"))?;
    if found.card.payment_status != "unpaid" || found.card.status == "cancelled" {
        return Err(Error::validation("id: the order is not awaiting payment").into());
    }
    let out = state
        .store
        .apply_commerce(
            visitor.shop_id,
            CommerceChange::MarkPaid {
                order_no: found.card.order_no.clone(),
                paid_at: Millis::now(),
            },
            None,
        )
        .await?;
    if let Some(e) = out.items.first().and_then(|i| i.error.as_ref()) {
        return Err(Error::validation(e.message.clone()).into());
    }
    // The same follow-up as every other ingest: segments and open sidebars.
    state
        .services
        .commerce
        .after_ingest(visitor.shop_id, &[visitor.customer_id])
        .await;
    let card = state
        .store
        .order_for_card(visitor.shop_id, id)
        .await?
        .ok_or_else(|| Error::not_found("order"))?
        .card;
    Ok(Json(card))
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(shoppers, login, my_orders, place_order, pay),
    components(schemas(
        DemoShopper,
        DemoShoppersResponse,
        DemoLoginRequest,
        DemoLoginResponse,
        DemoOrdersResponse,
        DemoOrderRequest
    ))
)]
pub struct ApiDoc;
