//! Presence and requeue (issue 19): every change of an agent's status — their own choice, a
//! sign-in or sign-out, a console socket coming or going, activity and idleness — and the scan
//! that turns idle agents away, gone agents offline, and hands the waiting chats of absent agents
//! on to the queue and to teammates with room.
//!
//! The rules are `kefu_core::presence` (pure) and each change is one store transaction with its
//! KPI event; this service adds what only a running server knows: which agents have a console
//! socket open and when each was last active. That knowledge is this node's (the hub's sockets
//! are too); several nodes would share it over the bus (ARCHITECTURE.md, "Not built yet").

use crate::routing::RoutingService;
use crate::tools::ToolsService;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::{AgentStatus, Id, User};
use kefu_core::presence::*;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the background scan runs (`spawn_presence_scan`).
pub const SCAN_EVERY: Duration = Duration::from_secs(2);

/// What this node knows of an agent's consoles.
#[derive(Debug, Clone, Copy)]
struct Live {
    sockets: usize,
    /// When the last socket closed (meaningful with `sockets == 0`).
    gone_since: Millis,
    last_active: Millis,
    /// The status was set automatically (idle, gone, logout): the next activity restores the
    /// agent's choice.
    needs_return: bool,
}

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub away: usize,
    pub offline: usize,
    pub released: usize,
}

pub struct PresenceService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    routing: Arc<RoutingService>,
    tools: Arc<ToolsService>,
    started: Millis,
    live: Mutex<HashMap<Id, Live>>,
    /// Whether each shop had an agent taking chats when last published to the widgets.
    available: Mutex<HashMap<Id, bool>>,
}

impl PresenceService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        routing: Arc<RoutingService>,
        tools: Arc<ToolsService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            routing,
            tools,
            started: Millis::now(),
            live: Mutex::new(HashMap::new()),
            available: Mutex::new(HashMap::new()),
        })
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Live>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shop's settings.
    pub async fn settings(&self, shop_id: Id) -> Result<PresenceSettings> {
        self.store.presence_settings(shop_id).await
    }

    /// Saves the shop's settings (admins).
    pub async fn put_settings(
        &self,
        by: &User,
        settings: &PresenceSettings,
    ) -> Result<PresenceSettings> {
        if by.role != kefu_core::model::Role::Admin {
            return Err(Error::forbidden("only admins change presence settings"));
        }
        settings.validate()?;
        self.store
            .put_presence_settings(by.shop_id, settings, Millis::now())
            .await
    }

    /// The agent picks a status (and a note for `away` or `busy`).
    pub async fn choose(
        &self,
        agent: &User,
        status: AgentStatus,
        note: Option<&str>,
    ) -> Result<User> {
        let note = validate_note(note)?;
        let request = PresenceRequest::Choose { status, note };
        match self.apply(agent.shop_id, agent.id, &request).await? {
            Some(user) => Ok(user),
            None => self
                .store
                .user_by_id(agent.shop_id, agent.id)
                .await?
                .ok_or_else(|| Error::not_found("user")),
        }
    }

    /// A sign-in: the agent's last choice (online at first).
    pub async fn login(&self, agent: &User) -> Result<User> {
        Ok(self
            .apply(agent.shop_id, agent.id, &PresenceRequest::Login)
            .await?
            .unwrap_or_else(|| agent.clone()))
    }

    /// A sign-out: offline at once (a console still open with another session restores the
    /// choice on its next activity).
    pub async fn logout(&self, agent: &User) {
        if let Err(e) = self
            .apply(agent.shop_id, agent.id, &PresenceRequest::Logout)
            .await
        {
            tracing::warn!(%e, agent = agent.id, "presence after a sign-out failed");
        }
    }

    /// A console socket of the agent opened: counted, and an automatic status gives way to the
    /// agent's choice.
    pub async fn socket_opened(&self, agent: &User) {
        let now = Millis::now();
        {
            let mut live = self.live();
            let l = live.entry(agent.id).or_insert(Live {
                sockets: 0,
                gone_since: now,
                last_active: now,
                needs_return: false,
            });
            l.sockets += 1;
            l.last_active = now;
        }
        self.returned(agent).await;
    }

    /// A console socket of the agent closed; the scan turns them offline once none has been
    /// open for the shop's offline time.
    pub fn socket_closed(&self, agent: &User) {
        let mut live = self.live();
        if let Some(l) = live.get_mut(&agent.id) {
            l.sockets = l.sockets.saturating_sub(1);
            if l.sockets == 0 {
                l.gone_since = Millis::now();
            }
        }
    }

    /// The agent did something in their console (a client frame): an automatic away ends.
    pub async fn activity(&self, agent: &User) {
        let needs_return = {
            let mut live = self.live();
            match live.get_mut(&agent.id) {
                Some(l) => {
                    l.last_active = Millis::now();
                    l.needs_return
                }
                None => false,
            }
        };
        if needs_return {
            self.returned(agent).await;
        }
    }

    async fn returned(&self, agent: &User) {
        match self
            .apply(agent.shop_id, agent.id, &PresenceRequest::Returned)
            .await
        {
            Ok(_) => {
                if let Some(l) = self.live().get_mut(&agent.id) {
                    l.needs_return = false;
                }
            }
            Err(e) => tracing::debug!(%e, agent = agent.id, "presence on return not changed"),
        }
    }

    /// Applies a request, then tells the shop: the `agent.status` frame, routing when the agent
    /// now takes chats, the widgets when the shop's availability flipped.
    async fn apply(
        &self,
        shop_id: Id,
        agent_id: Id,
        request: &PresenceRequest,
    ) -> Result<Option<User>> {
        let changed = self
            .store
            .change_presence(shop_id, agent_id, request, Millis::now())
            .await?;
        let Some(user) = changed else {
            return Ok(None);
        };
        if matches!(
            user.status_cause,
            Some(StatusCause::AutoIdle | StatusCause::SocketGone | StatusCause::Logout)
        ) && let Some(l) = self.live().get_mut(&agent_id)
        {
            l.needs_return = true;
        }
        self.events.publish(Event::AgentStatus {
            shop_id,
            agent_id,
            status: user.status,
            cause: user.status_cause,
            note: user.status_note.clone(),
        });
        if user.status == AgentStatus::Online {
            let routed = async {
                self.routing.route(shop_id, None).await?;
                self.routing.publish_queue(shop_id).await
            };
            if let Err(e) = routed.await {
                tracing::warn!(%e, shop_id, "routing after a presence change failed");
            }
        }
        self.shop_changed(shop_id).await;
        Ok(Some(user))
    }

    /// Publishes `shop.presence` to the shop's widgets when whether an agent takes chats flipped
    /// (or was never published). Also called after a deactivation.
    pub async fn shop_changed(&self, shop_id: Id) {
        let result = async {
            let online = self.store.any_agent_online(shop_id).await?;
            let flipped = {
                let mut available = self.available.lock().unwrap_or_else(|p| p.into_inner());
                available.insert(shop_id, online) != Some(online)
            };
            if flipped {
                let open_now = self
                    .tools
                    .auto_reply_rules(shop_id)
                    .await?
                    .business_hours
                    .is_open(Millis::now());
                self.events.publish(Event::ShopPresence {
                    shop_id,
                    agents_online: online,
                    open_now,
                });
            }
            Ok::<_, Error>(())
        };
        if let Err(e) = result.await {
            tracing::warn!(%e, shop_id, "the shop's presence could not be published");
        }
    }

    /// One pass: idle agents away, gone agents offline, absent agents' waiting chats released
    /// and routed. Safe to run on two nodes at once (each change is conditional under row locks).
    pub async fn scan(&self) -> Result<ScanReport> {
        let now = Millis::now();
        let mut report = ScanReport::default();
        for agent in self.store.present_agents().await? {
            let live = self.live().get(&agent.agent_id).copied();
            let s = agent.settings;
            let request = match live {
                Some(l) if l.sockets > 0 => {
                    let idle = now.0 - l.last_active.0;
                    (s.away_after_seconds > 0
                        && matches!(agent.status, AgentStatus::Online | AgentStatus::Busy)
                        && idle >= s.away_after_seconds * 1000)
                        .then_some(PresenceRequest::Idle)
                }
                _ => {
                    // Never connected to this node since it started: gone since the start (or
                    // since the status was set, if later — an API-only sign-in).
                    let gone_since = live.map_or_else(
                        || self.started.0.max(agent.since.map_or(0, |m| m.0)),
                        |l| l.gone_since.0,
                    );
                    (now.0 - gone_since >= s.offline_after_seconds * 1000)
                        .then_some(PresenceRequest::SocketGone)
                }
            };
            let Some(request) = request else { continue };
            match self.apply(agent.shop_id, agent.agent_id, &request).await {
                Ok(Some(user)) if user.status == AgentStatus::Away => report.away += 1,
                Ok(Some(user)) if user.status == AgentStatus::Offline => report.offline += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!(%e, agent = agent.agent_id, "presence scan change failed"),
            }
        }
        let mut shops = Vec::new();
        for due in self.store.requeue_due(now).await? {
            let released = self
                .store
                .release_waiting(due.shop_id, due.agent_id, due.target, now)
                .await?;
            report.released += released.conversations.len();
            for conversation in released.conversations {
                let conversation = Arc::new(conversation);
                for notice in released
                    .notices
                    .iter()
                    .filter(|m| m.conversation_id == conversation.id)
                {
                    self.events.publish(Event::MessageCreated {
                        conversation: conversation.clone(),
                        message: Arc::new(notice.clone()),
                    });
                }
                self.events.publish(Event::ConversationUpdated {
                    conversation,
                    previous_assignee: Some(due.agent_id),
                });
            }
            if !shops.contains(&due.shop_id) {
                shops.push(due.shop_id);
            }
            tracing::info!(
                shop = due.shop_id,
                agent = due.agent_id,
                "waiting chats of an absent agent handed on"
            );
        }
        for shop_id in shops {
            let routed = async {
                self.routing.route(shop_id, None).await?;
                self.routing.publish_queue(shop_id).await
            };
            if let Err(e) = routed.await {
                tracing::warn!(%e, shop_id, "routing after a requeue failed");
            }
        }
        Ok(report)
    }
}

/// Runs the presence scan every [`SCAN_EVERY`].
pub fn spawn_presence_scan(presence: &Arc<PresenceService>) -> tokio::task::JoinHandle<()> {
    let presence = presence.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SCAN_EVERY).await;
            if let Err(e) = presence.scan().await {
                tracing::warn!(%e, "presence scan failed");
            }
        }
    })
}
