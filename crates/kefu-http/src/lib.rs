//! kefu-http: the HTTP and WebSocket face of kefu (axum).
//!
//! It owns routing of requests, authentication extractors, the live [`hub::Hub`] (the socket
//! registry and the single-node `EventSink`), WebSocket framing, the mapping of domain errors to
//! HTTP ([`error`]) and the OpenAPI document ([`openapi`]). The flows are kefu-service's
//! ([`AppState::services`]); handlers stay thin. It talks to storage only through
//! `kefu_core::store::Store` and never names a database.

pub mod attachments;
pub mod auth;
pub mod client_ip;
pub mod cors;
pub mod error;
#[cfg(test)]
mod frames_ts;
pub mod hub;
pub mod login_guard;
pub mod openapi;
pub mod ratelimit;
pub mod request_id;
pub mod routes;
pub mod security_headers;
pub mod server;
pub mod sessions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use kefu_core::store::Store;
use kefu_service::Services;
use ratelimit::RateLimiter;
use std::net::IpAddr;
use std::sync::Arc;

/// The largest request body accepted (JSON API).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Inbound commerce webhook deliveries allowed per client address and minute.
pub const COMMERCE_WEBHOOKS_PER_MINUTE: u32 = 1200;

/// Limits for the endpoints anyone can reach. Defaults suit a public shop; load tests raise them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Login attempts per client address and minute.
    pub login_per_minute: u32,
    /// New shopper sessions per client address and minute.
    pub sessions_per_minute: u32,
    /// Messages per shopper and minute.
    pub visitor_messages_per_minute: u32,
    /// Shopper messages per client address and minute, whatever number of sessions it opens
    /// (one address once sent 300 messages at once through 10 fresh sessions).
    pub address_messages_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Real-IP` name the real client.
    pub trusted_proxies: Vec<client_ip::Cidr>,
    /// How long a client may take to send a request's head, and how long a kept-alive
    /// connection may sit idle ([`server`]).
    pub header_read_timeout: std::time::Duration,
    /// Open connections (WebSockets included) per client address; 0 = no cap. Trusted proxies
    /// are exempt.
    pub max_connections_per_address: usize,
    /// How long sessions and visitor tokens live ([`sessions`]).
    pub lifetimes: sessions::Lifetimes,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            sessions_per_minute: 60,
            visitor_messages_per_minute: 120,
            address_messages_per_minute: 480,
            trusted_proxies: Vec::new(),
            header_read_timeout: std::time::Duration::from_secs(20),
            // A browser opens at most 6 connections to a host plus its WebSockets: this lets an
            // office of about 30 agents share one address.
            max_connections_per_address: 256,
            lifetimes: sessions::Lifetimes::default(),
        }
    }
}

/// Everything a handler needs, built once in the composition root and passed as axum state.
#[derive(Clone)]
pub struct AppState {
    /// The flows (kefu-service), wired once by the composition root.
    pub services: Services,
    /// The store of [`Services::store`], for plain reads and the flows not yet in kefu-service.
    pub store: Arc<dyn Store>,
    /// The live sockets; also the [`Services::events`] sink.
    pub hub: Arc<hub::Hub>,
    pub limits: Arc<RateLimits>,
    /// Idle timeouts and rotation of sessions and visitor tokens.
    pub lifetimes: Arc<sessions::SessionClock>,
    /// Send the session cookie only over HTTPS.
    pub secure_cookies: bool,
    /// Set by `kefu demo` only: enables the demo shop page's login and ordering endpoints.
    pub demo: Option<Arc<kefu_service::demo::DemoShop>>,
    /// Where attachments are stored (`<data-dir>/attachments`); set by the composition root.
    /// Without it, uploads and downloads answer `not_found`.
    pub attachments: Option<Arc<attachments::AttachmentFiles>>,
    /// Wrong passwords per account (delays that grow), beside the per-address login limit.
    pub login_guard: Arc<login_guard::LoginGuard>,
    /// The cap on argon2id checks running at once (memory under a login flood).
    pub password_checks: Arc<kefu_service::passwords::PasswordChecks>,
    /// Each shop's widget origins, so the check on every shopper request reads no database.
    pub widget_origins: Arc<cors::OriginCache>,
}

pub struct RateLimits {
    pub login: RateLimiter<IpAddr>,
    pub sessions: RateLimiter<IpAddr>,
    pub visitor_messages: RateLimiter<i64>,
    /// Shopper messages per client address (all its sessions together).
    pub address_messages: RateLimiter<IpAddr>,
    /// Proxies believed about the client's address ([`client_ip`]).
    pub trusted_proxies: Arc<Vec<client_ip::Cidr>>,
    /// Inbound commerce webhooks per client address (the endpoint is public).
    pub commerce_webhooks: RateLimiter<IpAddr>,
    /// Attachment uploads per shopper.
    pub visitor_uploads: RateLimiter<i64>,
}

impl AppState {
    /// The state over wired services whose event sink is `hub`.
    pub fn new(services: Services, hub: Arc<hub::Hub>, limits: &Limits) -> Self {
        let l = limits;
        AppState {
            store: services.store.clone(),
            services,
            hub,
            limits: Arc::new(RateLimits {
                login: RateLimiter::per_minute(l.login_per_minute, l.login_per_minute),
                sessions: RateLimiter::per_minute(l.sessions_per_minute, l.sessions_per_minute),
                visitor_messages: RateLimiter::per_minute(
                    l.visitor_messages_per_minute.div_ceil(4).max(10),
                    l.visitor_messages_per_minute,
                ),
                address_messages: RateLimiter::per_minute(
                    l.address_messages_per_minute.div_ceil(4).max(10),
                    l.address_messages_per_minute,
                ),
                trusted_proxies: Arc::new(l.trusted_proxies.clone()),
                // Shops send bursts (a sale, a batch of shipments); signatures are checked after this.
                commerce_webhooks: RateLimiter::per_minute(
                    COMMERCE_WEBHOOKS_PER_MINUTE,
                    COMMERCE_WEBHOOKS_PER_MINUTE,
                ),
                // Uploads cost far more than texts: a sixth of the message rate (20 by default).
                visitor_uploads: RateLimiter::per_minute(
                    (l.visitor_messages_per_minute / 6).div_ceil(4).max(5),
                    (l.visitor_messages_per_minute / 6).max(5),
                ),
            }),
            lifetimes: Arc::new(sessions::SessionClock::new(l.lifetimes.clone())),
            secure_cookies: false,
            demo: None,
            attachments: None,
            widget_origins: Arc::default(),
            login_guard: Arc::default(),
            password_checks: Arc::default(),
        }
    }

    /// A state with default services over `store` and a fresh hub (tests, tools).
    pub fn with_store(store: Arc<dyn Store>, limits: &Limits) -> Self {
        let hub = hub::Hub::new();
        let services = Services::new(store, hub.clone(), kefu_service::ServicesConfig::default());
        Self::new(services, hub, limits)
    }

    /// The current time as SLA clocks see it.
    pub fn now(&self) -> kefu_core::time::Millis {
        self.services.now()
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let trusted = state.limits.trusted_proxies.clone();
    routes::api(state.clone())
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(|| async { axum::Json(openapi::document()) }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Uploads have their own, larger limit (and stream with per-type limits).
        .merge(
            routes::attachments::router()
                .merge(routes::aftersales::upload_router())
                .layer(DefaultBodyLimit::max(attachments::MAX_UPLOAD_BODY)),
        )
        .merge(
            routes::tickets::upload_router()
                .layer(DefaultBodyLimit::max(attachments::MAX_UPLOAD_BODY)),
        )
        .merge(routes::web::router())
        // Outermost, so the widget's preflights are answered before routing (no route has OPTIONS).
        .layer(axum::middleware::from_fn(cors::widget_cors))
        // Around CORS too, so refusals and preflights carry nosniff and no-store as well.
        .layer(axum::middleware::from_fn(security_headers::harden))
        .layer(axum::middleware::from_fn(move |request, next| {
            client_ip::resolve_client_ip(trusted.clone(), request, next)
        }))
        // Outermost of all: every answer, preflights and refusals included, carries its id.
        .layer(axum::middleware::from_fn(request_id::tag_request))
        .with_state(state)
}
