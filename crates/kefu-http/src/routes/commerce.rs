//! Products, orders, shipments, refunds: batch upserts, CSV import, signed webhooks, product/order cards and payment reminders.
//!
//! [`router`] is merged into the API by [`super::api`]; [`ApiDoc`] is merged into the OpenAPI
//! document by [`crate::openapi::document`].

use crate::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
}

/// This area's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct ApiDoc;
