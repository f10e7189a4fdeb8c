//! kefu-http: the HTTP and WebSocket face of kefu (axum).
//!
//! It owns routing of requests, authentication extractors, the live [`hub::Hub`], the mapping of
//! domain errors to HTTP ([`error`]) and the OpenAPI document ([`openapi`]). Business flows that
//! span several store calls and events live in [`chat`]; handlers stay thin. It talks to storage
//! only through `kefu_core::store::Store` and never names a database.

pub mod aftersales;
pub mod attachments;
pub mod auth;
pub mod automation;
mod background;
pub mod cards;
pub mod chat;
pub mod client_ip;
pub mod cors;
pub mod customers;
pub mod error;
pub mod hub;
pub mod login_guard;
pub mod mail;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod scripts;
pub mod search;
pub mod sla;
pub mod suggest;
pub mod ticket_hooks;
pub mod tickets;
pub mod tools;
pub mod visitors;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use kefu_core::store::Store;
use kefu_core::time::{Clock, SystemClock};
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            sessions_per_minute: 60,
            visitor_messages_per_minute: 120,
            address_messages_per_minute: 480,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Everything a handler needs, built once in the composition root and passed as axum state.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub hub: Arc<hub::Hub>,
    pub limits: Arc<RateLimits>,
    pub visitors: Arc<visitors::VisitorCache>,
    /// Send the session cookie only over HTTPS.
    pub secure_cookies: bool,
    /// Set by `kefu demo` only: enables the demo shop page's login and ordering endpoints.
    pub demo: Option<Arc<routes::demo::DemoShop>>,
    /// Where attachments are stored (`<data-dir>/attachments`); set by the composition root.
    /// Without it, uploads and downloads answer `not_found`.
    pub attachments: Option<Arc<attachments::AttachmentFiles>>,
    /// The daily tools' caches and the snooze task's wake-up signal.
    pub tools: Arc<tools::ToolsState>,
    /// The full-text index and its indexer ([`search`]); set by the composition root from
    /// `--data-dir`. `None`: search answers `disabled`.
    pub search: Option<Arc<search::SearchService>>,
    /// Reply suggestions; `None` turns them off (the endpoint then answers an empty list). The
    /// composition root starts it ([`AppState::with_suggestions`]).
    pub suggest: Option<Arc<suggest::Suggester>>,
    /// The outbound mail sender's wake-up signal ([`mail::spawn_sender`]).
    pub mail: Arc<mail::MailState>,
    /// Wrong passwords per account (delays that grow), beside the per-address login limit.
    pub login_guard: Arc<login_guard::LoginGuard>,
    /// The cap on argon2id checks running at once (memory under a login flood).
    pub password_checks: Arc<auth::PasswordChecks>,
    /// Each shop's widget origins, so the check on every shopper request reads no database.
    pub widget_origins: Arc<cors::OriginCache>,
    /// "Now" for SLA clocks and escalation ([`AppState::now`]): the system clock, or a manual one
    /// in tests that compute due times exactly.
    pub clock: Arc<dyn Clock>,
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
    pub fn new(store: Arc<dyn Store>, limits: &Limits) -> Self {
        let l = limits;
        AppState {
            store,
            hub: hub::Hub::new(),
            visitors: Arc::default(),
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
            secure_cookies: false,
            demo: None,
            attachments: None,
            tools: Arc::default(),
            search: None,
            suggest: None,
            mail: Arc::default(),
            widget_origins: Arc::default(),
            login_guard: Arc::default(),
            password_checks: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The current time as SLA clocks see it.
    pub fn now(&self) -> kefu_core::time::Millis {
        self.clock.now()
    }

    /// Starts the reply-suggestion service (needs a Tokio runtime).
    pub fn with_suggestions(mut self, config: suggest::SuggestConfig) -> Self {
        self.suggest = Some(suggest::Suggester::start(
            self.store.clone(),
            self.hub.clone(),
            config,
        ));
        self
    }
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let trusted = state.limits.trusted_proxies.clone();
    routes::api(state.clone())
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
        .layer(axum::middleware::from_fn(move |request, next| {
            client_ip::resolve_client_ip(trusted.clone(), request, next)
        }))
        .with_state(state)
}
