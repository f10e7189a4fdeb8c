//! The route table. One module per audience: agents, shoppers (widget), live sockets, web assets.

pub mod aftersales;
pub mod agent;
pub mod attachments;
pub mod commerce;
pub mod customers;
pub mod demo;
pub mod inbox;
pub mod kpi;
pub mod mail;
pub mod members;
pub mod reminders;
pub mod reports;
pub mod reviews;
pub mod scripts;
pub mod search;
pub mod segments;
pub mod sla;
pub mod suggest;
pub mod tickets;
pub mod tools;
pub mod web;
pub mod widget;
pub mod ws;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody, error_response};
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post, put};
use kefu_core::ErrorCode;

pub fn api(_state: AppState) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/auth/login", post(agent::login))
        .route("/api/v1/auth/logout", post(agent::logout))
        .route("/api/v1/me", get(agent::me).patch(members::update_me))
        .route("/api/v1/me/status", put(agent::set_my_status))
        .route("/api/v1/agents", get(agent::list_agents))
        .route("/api/v1/agents/{id}/cap", put(agent::set_agent_cap))
        .route("/api/v1/agents/{id}/unlock", post(agent::unlock_agent))
        .route(
            "/api/v1/teams",
            get(agent::list_teams).post(members::create_team),
        )
        .route("/api/v1/conversations", get(agent::list_conversations))
        .route("/api/v1/conversations/{id}", get(agent::get_conversation))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(agent::list_messages).post(agent::send_message),
        )
        .route("/api/v1/conversations/{id}/assign", post(agent::assign))
        .route("/api/v1/conversations/{id}/status", post(agent::set_status))
        .route("/api/v1/conversations/{id}/read", post(agent::mark_read))
        .route(
            "/api/v1/shop/settings",
            get(agent::get_settings).put(agent::put_settings),
        )
        .route("/api/v1/widget/config", get(widget::config))
        .route("/api/v1/widget/products", get(widget::products))
        .route(
            "/api/v1/widget/sessions",
            post(widget::create_session).delete(widget::end_session),
        )
        .route(
            "/api/v1/widget/sessions/rotate",
            post(widget::rotate_session),
        )
        .route(
            "/api/v1/widget/messages",
            get(widget::history).post(widget::send),
        )
        .route("/api/v1/widget/read", post(widget::read))
        .merge(customers::router())
        .merge(mail::router())
        .merge(members::router())
        .merge(reports::router())
        .merge(kpi::router())
        .merge(commerce::router())
        .merge(segments::router())
        .merge(reminders::router())
        .merge(suggest::router())
        .merge(scripts::router())
        .merge(tools::router())
        .merge(search::router())
        .merge(sla::router())
        .merge(tickets::router())
        .merge(demo::router())
        .merge(aftersales::router())
        .merge(reviews::router())
        .merge(inbox::router())
        .route("/api/v1/ws", get(ws::agent_ws))
        .route("/api/v1/widget/ws", get(ws::visitor_ws))
        .method_not_allowed_fallback(|| async {
            error_response(ErrorCode::BadRequest, "method not allowed on this endpoint")
        })
}

/// Liveness: the process answers. It says nothing about the database (see `/readyz`), so a
/// supervisor does not restart a healthy process because PostgreSQL is away.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "the server is up")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Readiness, for load balancers: the database answers within 2 s, or 503 `unavailable` with
/// `Retry-After`.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, body = Readiness, description = "ready to serve"),
    (status = 503, body = ErrorBody, description = "the database cannot be reached"),
))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<axum::Json<Readiness>> {
    state.store.ready().await?;
    Ok(axum::Json(Readiness {
        status: "ready",
        database: state.store.backend(),
    }))
}
