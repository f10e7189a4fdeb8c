//! Flows of the agent's daily tools: notes with @mentions, conversation tags, snooze (and the
//! background task that wakes snoozed conversations), and the shop's auto-replies.
//!
//! Entitlement (who may read a conversation), beyond the spine's rule (admins and supervisors see
//! the whole shop, agents their own and the unassigned ones):
//! - an agent @mentioned in a note of a conversation may read it and add internal notes to it,
//!   even when it is assigned to someone else (but not reply to the shopper, assign or close it);
//! - an agent who may see a shopper's latest conversation may read that shopper's earlier
//!   conversations (the history one click away), read-only.
//!
//! Auto-replies run after the shopper's message is committed and answered, on a spawned task, and
//! only when the shop has an active rule: the rules are cached per shop (30 s), so a shop without
//! rules costs the message path one map lookup.

use crate::access::{agent_sees, visible_conversation};
use crate::routing::RoutingService;
use crate::sent::Sent;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::tools::*;
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a shop's cached auto-reply rules are trusted (another node may have changed them).
const RULES_TTL: Duration = Duration::from_secs(30);
/// The longest the snooze task sleeps without looking (snoozes set on other nodes).
const SNOOZE_POLL: Duration = Duration::from_secs(30);

/// The daily tools: notes with mentions, tags, snoozes and auto-replies.
pub struct ToolsService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    routing: Arc<RoutingService>,
    rules: RulesCache,
    /// Wakes the snooze task when a snooze is set (its next wake-up may be earlier).
    snoozes_changed: Notify,
}

/// The shops' auto-reply rules as last read.
#[derive(Default)]
struct RulesCache {
    rules: RwLock<HashMap<Id, (Instant, Arc<AutoReplyRules>)>>,
}

/// What the cache knows of a shop's rules.
enum Cached {
    Fresh(Arc<AutoReplyRules>),
    /// Older than [`RULES_TTL`]: still used for the decision, and reloaded in the background.
    Stale(Arc<AutoReplyRules>),
    Missing,
}

impl RulesCache {
    /// The message path's view: never waits for a reload. A stale entry is marked fresh at once
    /// (so one message, not every message, triggers the reload).
    fn peek_rules(&self, shop_id: Id) -> Cached {
        {
            let map = self.rules.read().unwrap_or_else(|p| p.into_inner());
            match map.get(&shop_id) {
                None => return Cached::Missing,
                Some((at, r)) if at.elapsed() < RULES_TTL => return Cached::Fresh(r.clone()),
                Some(_) => {}
            }
        }
        let mut map = self.rules.write().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(&shop_id) {
            Some((at, r)) if at.elapsed() >= RULES_TTL => {
                *at = Instant::now();
                Cached::Stale(r.clone())
            }
            Some((_, r)) => Cached::Fresh(r.clone()),
            None => Cached::Missing,
        }
    }

    fn cached_rules(&self, shop_id: Id) -> Option<Arc<AutoReplyRules>> {
        let map = self.rules.read().unwrap_or_else(|p| p.into_inner());
        map.get(&shop_id)
            .filter(|(at, _)| at.elapsed() < RULES_TTL)
            .map(|(_, r)| r.clone())
    }

    fn cache_rules(&self, shop_id: Id, rules: Arc<AutoReplyRules>) {
        let mut map = self.rules.write().unwrap_or_else(|p| p.into_inner());
        map.insert(shop_id, (Instant::now(), rules));
    }
}

impl ToolsService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        routing: Arc<RoutingService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            routing,
            rules: RulesCache::default(),
            snoozes_changed: Notify::new(),
        })
    }

    fn emit(&self, event: Event) {
        self.events.publish(event);
    }

    fn updated(&self, conversation: Conversation, previous_assignee: Option<Id>) -> Conversation {
        self.emit(Event::ConversationUpdated {
            conversation: Arc::new(conversation.clone()),
            previous_assignee,
        });
        conversation
    }

    /// The conversation if this agent may read it (see the module doc); otherwise `not_found`.
    pub async fn readable_conversation(
        &self,
        agent: &User,
        conversation_id: Id,
    ) -> Result<Conversation> {
        let conversation = self
            .store
            .conversation(agent.shop_id, conversation_id)
            .await?
            .ok_or_else(|| Error::not_found("conversation"))?;
        if agent_sees(&conversation, agent.id, agent.role)
            || self
                .store
                .is_mentioned(agent.shop_id, agent.id, conversation_id)
                .await?
        {
            return Ok(conversation);
        }
        // The shopper's history: readable to whoever may see their latest conversation.
        if let Some(latest) = self
            .store
            .customer_conversation(agent.shop_id, conversation.customer.id)
            .await?
            && latest.id != conversation.id
            && agent_sees(&latest, agent.id, agent.role)
        {
            return Ok(conversation);
        }
        Err(Error::not_found("conversation"))
    }

    /// Where an agent may add an internal note: conversations they see, or were mentioned in.
    pub async fn notable_conversation(
        &self,
        agent: &User,
        conversation_id: Id,
    ) -> Result<Conversation> {
        let conversation = self
            .store
            .conversation(agent.shop_id, conversation_id)
            .await?
            .ok_or_else(|| Error::not_found("conversation"))?;
        if agent_sees(&conversation, agent.id, agent.role)
            || self
                .store
                .is_mentioned(agent.shop_id, agent.id, conversation_id)
                .await?
        {
            Ok(conversation)
        } else {
            Err(Error::not_found("conversation"))
        }
    }

    /// An internal note that @mentions colleagues of the same shop: stored, published, and each
    /// mentioned agent told live (`mention` event). Every id is checked against the shop before
    /// the note is stored, so a note never goes out with a refused mention. The mention rows are
    /// written right after the note; a retry of the same `client_msg_id` completes them and
    /// notifies only those not yet recorded.
    pub async fn note_with_mentions(
        &self,
        agent: &User,
        conversation_id: Id,
        body: &str,
        client_msg_id: &str,
        mentions: &[Id],
    ) -> Result<Sent> {
        validate_body(body)?;
        validate_client_msg_id(client_msg_id)?;
        if mentions.len() > MAX_MENTIONS {
            return Err(Error::validation(format!(
                "mentions: at most {MAX_MENTIONS} agents"
            )));
        }
        let mut ids: Vec<Id> = mentions
            .iter()
            .copied()
            .filter(|id| *id != agent.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in &ids {
            // Another shop's agent is as unknown as a missing one.
            self.store
                .user_by_id(agent.shop_id, *id)
                .await?
                .ok_or_else(|| Error::not_found("agent"))?;
        }
        self.notable_conversation(agent, conversation_id).await?;
        let appended = self
            .store
            .append_agent_message(AgentMessage {
                shop_id: agent.shop_id,
                conversation_id,
                agent,
                body,
                client_msg_id,
                private: true,
                kind: MessageKind::Text,
                payload: None,
            })
            .await?;
        if !appended.duplicate {
            self.emit(Event::MessageCreated {
                conversation: Arc::new(appended.conversation.clone()),
                message: Arc::new(appended.message.clone()),
            });
        }
        if !appended.message.private {
            // A retry of a public reply's client_msg_id: nothing to mention.
            return Err(Error::conflict(
                "client_msg_id was already used for a public reply",
            ));
        }
        if ids.is_empty() {
            return Ok(Sent {
                message: appended.message,
                duplicate: appended.duplicate,
            });
        }
        let created = self
            .store
            .add_mentions(
                agent.shop_id,
                conversation_id,
                appended.message.id,
                agent,
                &ids,
                &excerpt(&appended.message.body),
            )
            .await?;
        for mention in created {
            self.emit(Event::Mention {
                shop_id: agent.shop_id,
                agent_id: mention.agent_id,
                mention: Arc::new(mention),
            });
        }
        Ok(Sent {
            message: appended.message,
            duplicate: appended.duplicate,
        })
    }

    pub async fn add_tag(&self, by: &User, conversation_id: Id, tag: &str) -> Result<Conversation> {
        visible_conversation(&*self.store, by, conversation_id).await?;
        let c = self
            .store
            .add_conversation_tag(by.shop_id, conversation_id, tag)
            .await?;
        Ok(self.updated(c, None))
    }

    pub async fn remove_tag(
        &self,
        by: &User,
        conversation_id: Id,
        tag: &str,
    ) -> Result<Conversation> {
        visible_conversation(&*self.store, by, conversation_id).await?;
        let c = self
            .store
            .remove_conversation_tag(by.shop_id, conversation_id, tag)
            .await?;
        Ok(self.updated(c, None))
    }

    /// Snoozes: `pending` until `until` (which frees the agent's slot, so routing runs).
    pub async fn snooze(
        &self,
        by: &User,
        conversation_id: Id,
        until: Millis,
    ) -> Result<Conversation> {
        validate_snooze(until, Millis::now())?;
        let before = visible_conversation(&*self.store, by, conversation_id).await?;
        let c = self
            .store
            .snooze(by.shop_id, conversation_id, until)
            .await?;
        self.snoozes_changed.notify_one();
        let c = self.updated(c, before.assignee_id);
        self.routing.route(by.shop_id, Some(&c)).await?;
        Ok(c)
    }

    /// Wakes a snoozed conversation now; `validation_failed` if it is not snoozed.
    pub async fn unsnooze(&self, by: &User, conversation_id: Id) -> Result<Conversation> {
        visible_conversation(&*self.store, by, conversation_id).await?;
        self.wake(by.shop_id, conversation_id, None)
            .await?
            .ok_or_else(|| Error::validation("the conversation is not snoozed"))
    }

    /// Wakes a snoozed conversation (if still snoozed, and due by `due` when given), tells
    /// everyone and lets routing place it.
    async fn wake(
        &self,
        shop_id: Id,
        conversation_id: Id,
        due: Option<Millis>,
    ) -> Result<Option<Conversation>> {
        let Some(c) = self
            .store
            .wake_snoozed(shop_id, conversation_id, due)
            .await?
        else {
            return Ok(None);
        };
        let c = self.updated(c, None);
        self.routing.route(shop_id, Some(&c)).await?;
        Ok(Some(
            self.store
                .conversation(shop_id, conversation_id)
                .await?
                .unwrap_or(c),
        ))
    }

    /// Called once a shopper's message is committed and published: wakes the conversation if it
    /// was snoozed and runs the shop's auto-replies — both on a spawned task, and the latter only
    /// when the shop has an active rule, so the bulk message path stays as it was.
    pub fn after_shopper_message(self: &Arc<Self>, conversation: &Conversation, message: &Message) {
        let snoozed = conversation.snoozed_until.is_some();
        let shop_id = conversation.shop_id;
        let (replies, reload) = match self.rules.peek_rules(shop_id) {
            Cached::Fresh(r) => (r.active(), false),
            Cached::Stale(r) => (r.active(), true),
            // Unknown yet: the task loads (and caches) them.
            Cached::Missing => (true, false),
        };
        if reload {
            let state = self.clone();
            tokio::spawn(async move {
                match state.store.auto_reply_rules(shop_id).await {
                    Ok(rules) => state.rules.cache_rules(shop_id, Arc::new(rules)),
                    Err(e) => tracing::warn!(%e, shop_id, "could not reload auto-reply rules"),
                }
            });
        }
        if !snoozed && !replies {
            return;
        }
        let state = self.clone();
        let conversation_id = conversation.id;
        let body = message.body.clone();
        tokio::spawn(async move {
            if snoozed && let Err(e) = state.wake(shop_id, conversation_id, None).await {
                tracing::warn!(%e, conversation_id, "could not wake a snoozed conversation");
            }
            if replies && let Err(e) = state.auto_reply(shop_id, conversation_id, &body).await {
                tracing::warn!(%e, conversation_id, "auto-reply failed");
            }
        });
    }

    /// The shop's auto-reply rules, from the cache when fresh.
    pub async fn auto_reply_rules(&self, shop_id: Id) -> Result<Arc<AutoReplyRules>> {
        if let Some(rules) = self.rules.cached_rules(shop_id) {
            return Ok(rules);
        }
        let rules = Arc::new(self.store.auto_reply_rules(shop_id).await?);
        self.rules.cache_rules(shop_id, rules.clone());
        Ok(rules)
    }

    pub async fn put_auto_reply_rules(
        &self,
        shop_id: Id,
        mut rules: AutoReplyRules,
    ) -> Result<AutoReplyRules> {
        rules.validate()?;
        self.store.put_auto_reply_rules(shop_id, &rules).await?;
        self.rules.cache_rules(shop_id, Arc::new(rules.clone()));
        Ok(rules)
    }

    /// Sends what the rules call for after a shopper's message: the after-hours reply (once per
    /// conversation and closed period) and the first matching keyword reply (once per cool-down).
    async fn auto_reply(&self, shop_id: Id, conversation_id: Id, body: &str) -> Result<()> {
        let rules = self.auto_reply_rules(shop_id).await?;
        let now = Millis::now();
        if rules.after_hours.enabled
            && let Some(closed_since) = rules.business_hours.closed_since(now)
        {
            let text = rules.after_hours.text.trim();
            if !text.is_empty() {
                self.send_bot(
                    shop_id,
                    conversation_id,
                    AFTER_HOURS_KEY,
                    closed_since,
                    text,
                )
                .await?;
            }
        }
        if let Some(rule) = rules.keyword_match(body) {
            let text = self
                .keyword_reply_text(shop_id, conversation_id, rule)
                .await?;
            if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
                let not_since = Millis(now.0 - rule.cooldown_minutes * 60_000);
                self.send_bot(
                    shop_id,
                    conversation_id,
                    &keyword_key(rule),
                    not_since,
                    &text,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The text a keyword rule replies with: its script rendered for the conversation (the bot
    /// speaks for the shop, so `{agent.name}` is the shop's name), or its text. A script that is
    /// gone, personal, or would leave a variable unfilled falls back to the rule's text — a
    /// shopper never sees `{order.no}` — and without one nothing is sent.
    async fn keyword_reply_text(
        &self,
        shop_id: Id,
        conversation_id: Id,
        rule: &KeywordRule,
    ) -> Result<Option<String>> {
        let fallback = Some(rule.reply.clone()).filter(|r| !r.trim().is_empty());
        let Some(script_id) = rule.script_id else {
            return Ok(fallback);
        };
        let Some(script) = self
            .store
            .script(shop_id, script_id)
            .await?
            .filter(|s| s.owner_id.is_none())
        else {
            tracing::warn!(
                script_id,
                "keyword rule names a missing script; using its text"
            );
            return Ok(fallback);
        };
        let mut ctx = self
            .store
            .script_context(shop_id, conversation_id, None, None)
            .await?
            .unwrap_or_default();
        ctx.agent_name = ctx.shop_name.clone();
        let rendered = kefu_core::scripts::render(&script.body, &ctx);
        if rendered.missing.is_empty() {
            Ok(Some(rendered.text))
        } else {
            Ok(fallback)
        }
    }

    async fn send_bot(
        &self,
        shop_id: Id,
        conversation_id: Id,
        key: &str,
        not_since: Millis,
        text: &str,
    ) -> Result<()> {
        if let Some(sent) = self
            .store
            .send_auto_reply(shop_id, conversation_id, key, not_since, text)
            .await?
        {
            self.emit(Event::MessageCreated {
                conversation: Arc::new(sent.conversation),
                message: Arc::new(sent.message),
            });
        }
        Ok(())
    }
}

/// Starts the task that wakes snoozed conversations when their time comes. The wake-up times
/// are stored, so after a restart it wakes whatever fell due meanwhile at once. Several nodes
/// may run it: waking is a conditional update, so each conversation wakes once.
pub fn spawn_snooze_waker(tools: &Arc<ToolsService>) -> tokio::task::JoinHandle<()> {
    let state = tools.clone();
    tokio::spawn(async move {
        loop {
            let now = Millis::now();
            let mut wait = SNOOZE_POLL;
            match state.store.due_snoozes(now, 100).await {
                Ok(due) => {
                    let full = due.len() == 100;
                    for (shop_id, conversation_id) in due {
                        if let Err(e) = state.wake(shop_id, conversation_id, Some(now)).await {
                            tracing::warn!(%e, conversation_id, "could not wake a snoozed conversation");
                        }
                    }
                    if full {
                        continue;
                    }
                    match state.store.next_snooze().await {
                        Ok(Some(next)) => {
                            let ms = (next.0 - Millis::now().0)
                                .clamp(20, SNOOZE_POLL.as_millis() as i64);
                            wait = Duration::from_millis(ms as u64);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(%e, "could not read the next snooze"),
                    }
                }
                Err(e) => {
                    tracing::warn!(%e, "could not read due snoozes");
                    wait = Duration::from_secs(5);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.snoozes_changed.notified() => {}
            }
        }
    })
}
