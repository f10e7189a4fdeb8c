//! kefu-service: the application flows of kefu as services, each holding only what it uses.
//!
//! A flow is what follows a request or a timer beyond one store call: check who may do it, store
//! the change (durably), publish its event through the [`EventSink`] port, and let routing, the
//! daily tools or suggestions react. kefu-http's handlers, the WebSocket readers, the CLI and the
//! periodic jobs all call these, so every path behaves the same.
//!
//! It depends on kefu-core (types, rules, ports) and kefu-search (ranking, the index); never on
//! axum, sqlx or kefu-http. [`Services`] bundles them; it is built once in the composition root
//! (`crates/kefu/src/main.rs`) and handed to kefu-http's `AppState` — an explicit struct, no
//! globals. Tests build a fresh one per server.
//!
//! Module graph (no cycles): `access`, `sent`, `visitors`, `background`, `notify`, `sla`, `mail`,
//! `commerce` are leaves; `kpi` → access; `tools`, `members` → routing; `chat` → routing, tools,
//! suggest; `customers`, `cards`, `scripts` → access; `inbox` → access, cards; `ticket_hooks` → sla,
//! notify, mail, inbox; `automation` extends ticket_hooks; `tickets` → ticket_hooks; `escalation` →
//! ticket_hooks, notify; `aftersales` → commerce, inbox; `jobs` → the store only.

pub mod access;
pub mod aftersales;
pub mod automation;
mod background;
pub mod cards;
pub mod chat;
pub mod commerce;
pub mod customers;
pub mod demo;
pub mod escalation;
pub mod inbox;
pub mod jobs;
pub mod kpi;
pub mod mail;
pub mod members;
pub mod notify;
pub mod passwords;
pub mod presence;
pub mod routing;
pub mod scripts;
pub mod search;
pub mod sent;
pub mod sla;
pub mod suggest;
pub mod ticket_hooks;
pub mod tickets;
pub mod tools;
pub mod visitors;

use kefu_core::events::EventSink;
use kefu_core::store::Store;
use kefu_core::time::{Clock, Millis, SystemClock};
use std::sync::Arc;

/// What the composition root decides about the optional services.
pub struct ServicesConfig {
    /// Reply suggestions (`None`: off; the endpoint answers an empty list).
    pub suggestions: Option<suggest::SuggestConfig>,
    /// "Now" for SLA clocks and escalation: the system clock, or a manual one in tests.
    pub clock: Arc<dyn Clock>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            suggestions: None,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Every service, wired once. Cloning shares them.
#[derive(Clone)]
pub struct Services {
    /// The store, for plain reads that are no flow (a list, a lookup).
    pub store: Arc<dyn Store>,
    /// Where events go once a change is durable (the hub on one node).
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
    /// Token → shopper, remembered for a short while; flows that change a shopper forget them.
    pub visitors: Arc<visitors::VisitorCache>,
    pub routing: Arc<routing::RoutingService>,
    pub tools: Arc<tools::ToolsService>,
    pub chat: Arc<chat::ChatService>,
    pub customers: Arc<customers::CustomerService>,
    pub cards: Arc<cards::CardService>,
    /// Conversations' current order and product; the shopper's notices.
    pub inbox: Arc<inbox::InboxService>,
    pub scripts: Arc<scripts::ScriptService>,
    pub commerce: Arc<commerce::CommerceService>,
    pub aftersales: Arc<aftersales::AftersalesService>,
    pub notify: Arc<notify::NotificationService>,
    pub sla: Arc<sla::SlaService>,
    pub mail: Arc<mail::MailService>,
    /// Members, teams, own accounts and sessions (issue 19).
    pub members: Arc<members::MembersService>,
    pub presence: Arc<presence::PresenceService>,
    /// What follows every committed ticket change (events, SLA, automation, mail, segments).
    pub ticket_hooks: Arc<ticket_hooks::TicketHooks>,
    pub tickets: Arc<tickets::TicketService>,
    pub escalation: Arc<escalation::EscalationService>,
    /// Agent KPIs (客服绩效): reports, trends, attribution settings, desk events.
    pub kpi: Arc<kpi::KpiService>,
    /// Reply suggestions, when on.
    pub suggest: Option<Arc<suggest::Suggester>>,
    /// The full-text index and its indexer, when the server has a data directory.
    pub search: Option<Arc<search::SearchService>>,
}

impl Services {
    /// Wires the services over a store and an event sink (needs a Tokio runtime when suggestions
    /// are on: their worker starts here).
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventSink>, config: ServicesConfig) -> Self {
        let visitors = Arc::new(visitors::VisitorCache::default());
        let routing = routing::RoutingService::new(store.clone(), events.clone());
        let tools = tools::ToolsService::new(store.clone(), events.clone(), routing.clone());
        let suggest = config
            .suggestions
            .map(|c| suggest::Suggester::start(store.clone(), events.clone(), c));
        let chat = chat::ChatService::new(
            store.clone(),
            events.clone(),
            routing.clone(),
            tools.clone(),
            suggest.clone(),
        );
        let presence = presence::PresenceService::new(
            store.clone(),
            events.clone(),
            routing.clone(),
            tools.clone(),
        );
        let commerce = commerce::CommerceService::new(store.clone(), events.clone());
        let notify = notify::NotificationService::new(store.clone(), events.clone());
        let sla = sla::SlaService::new(store.clone(), config.clock.clone());
        let mail = mail::MailService::new(store.clone());
        let cards = cards::CardService::new(store.clone(), events.clone());
        let inbox = inbox::InboxService::new(store.clone(), events.clone(), cards.clone());
        let ticket_hooks = ticket_hooks::TicketHooks::new(
            store.clone(),
            events.clone(),
            sla.clone(),
            notify.clone(),
            mail.clone(),
            inbox.clone(),
        );
        Services {
            aftersales: aftersales::AftersalesService::new(
                store.clone(),
                events.clone(),
                commerce.clone(),
                inbox.clone(),
            ),
            tickets: tickets::TicketService::new(store.clone(), ticket_hooks.clone()),
            escalation: escalation::EscalationService::new(
                store.clone(),
                config.clock.clone(),
                ticket_hooks.clone(),
                notify.clone(),
            ),
            members: members::MembersService::new(
                store.clone(),
                events.clone(),
                routing.clone(),
                presence.clone(),
            ),
            presence,
            kpi: kpi::KpiService::new(store.clone()),
            commerce,
            notify,
            sla,
            mail,
            ticket_hooks,
            customers: customers::CustomerService::new(
                store.clone(),
                events.clone(),
                visitors.clone(),
            ),
            cards,
            inbox,
            scripts: scripts::ScriptService::new(store.clone()),
            store,
            events,
            clock: config.clock,
            visitors,
            routing,
            tools,
            chat,
            suggest,
            search: None,
        }
    }

    /// The current time as SLA clocks see it.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The shop's script library changed (a script or category created, edited, deleted or
    /// imported): suggestions rebuild their prepared library before the next ranking.
    pub fn scripts_changed(&self, shop_id: kefu_core::model::Id) {
        if let Some(s) = &self.suggest {
            s.invalidate(shop_id);
        }
    }
}
