//! Flows of the scripts library (话术): who may see and change which script, the picker's search
//! (pinyin-aware, [`kefu_search::pinyin`]), rendering a script for a conversation, and recording a
//! use after a message was sent from a script.
//!
//! Visibility: every agent of the shop reads the shop-wide scripts and their own personal ones;
//! another agent's personal script is `not_found` (never a hint it exists). Admins and supervisors
//! change shop-wide scripts and the categories; everyone changes their own personal scripts.

use crate::access::visible_conversation;
use kefu_core::model::{Id, User};
use kefu_core::scripts::{Rendered, Script, render, unfilled_variables};
use kefu_core::store::Store;
use kefu_core::{Error, ErrorCode, Result};
use kefu_search::pinyin::{ScriptKeys, normalize_query, rank_script};
use std::sync::Arc;

/// The longest picker or list query.
pub const MAX_QUERY_CHARS: usize = 100;

/// What to render: a stored script or a text the agent is editing.
pub enum RenderSource<'a> {
    Script(Id),
    Text(&'a str),
}

/// Whether `user` may read `script` (it is the shop's: the store scoped it).
pub fn may_read(user: &User, script: &Script) -> bool {
    script.owner_id.is_none() || script.owner_id == Some(user.id)
}

/// Whether `user` may change `script`.
pub fn may_manage(user: &User, script: &Script) -> bool {
    match script.owner_id {
        None => user.role.sees_whole_shop(),
        Some(owner) => owner == user.id,
    }
}

/// Changing shop-wide scripts or categories needs an admin or supervisor.
pub fn require_manager(user: &User) -> Result<()> {
    if user.role.sees_whole_shop() {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins and supervisors change shop-wide scripts and categories",
        ))
    }
}

pub fn validate_query(q: &str) -> Result<String> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::validation(format!(
            "q: must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(normalize_query(q))
}

/// Scripts ranked for a picker query, best first (ties: library order). An empty query keeps
/// the library order.
pub fn rank(scripts: Vec<Script>, query: &str) -> Vec<(Script, u32)> {
    if query.is_empty() {
        return scripts.into_iter().map(|s| (s, 0)).collect();
    }
    let mut hits: Vec<(usize, Script, u32)> = scripts
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let keys = ScriptKeys::new(s.shortcut.as_deref(), &s.title, &s.body);
            rank_script(query, &keys).map(|score| (i, s, score))
        })
        .collect();
    hits.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    hits.into_iter().map(|(_, s, score)| (s, score)).collect()
}

/// The scripts library's flows: visibility, rendering for a conversation, recording uses.
pub struct ScriptService {
    store: Arc<dyn Store>,
}

impl ScriptService {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self { store })
    }

    /// A script `agent` may read; `not_found` otherwise.
    pub async fn visible_script(&self, agent: &User, id: Id) -> Result<Script> {
        match self.store.script(agent.shop_id, id).await? {
            Some(s) if may_read(agent, &s) => Ok(s),
            _ => Err(Error::not_found("script")),
        }
    }

    /// A script `agent` may change: `not_found` if they cannot even read it, `forbidden` for a
    /// shop-wide script and a plain agent.
    pub async fn manageable_script(&self, agent: &User, id: Id) -> Result<Script> {
        let s = self.visible_script(agent, id).await?;
        if !may_manage(agent, &s) {
            return Err(Error::forbidden(
                "only admins and supervisors change shop-wide scripts",
            ));
        }
        Ok(s)
    }

    /// Fills a script (or text) with what the conversation knows: its customer, the agent, the
    /// shop, and an order/product (the named ones, else the customer's latest order and its first
    /// line).
    pub async fn render_script(
        &self,
        agent: &User,
        conversation_id: Id,
        source: RenderSource<'_>,
        order_id: Option<Id>,
        product_id: Option<Id>,
    ) -> Result<(Rendered, Option<Id>)> {
        visible_conversation(&*self.store, agent, conversation_id).await?;
        let (body, script_id) = match source {
            RenderSource::Script(id) => (self.visible_script(agent, id).await?.body, Some(id)),
            RenderSource::Text(t) => (t.to_owned(), None),
        };
        let mut ctx = self
            .store
            .script_context(agent.shop_id, conversation_id, order_id, product_id)
            .await?
            .ok_or_else(|| Error::not_found("conversation"))?;
        ctx.agent_name = Some(agent.name.clone());
        Ok((render(&body, &ctx), script_id))
    }

    /// Records that a message was sent from a script. Never fails the send: the message is
    /// already stored, so a failure here (a script deleted meanwhile, another agent's personal
    /// script) is only logged.
    pub async fn record_script_use_quietly(
        &self,
        agent: &User,
        script_id: Id,
        conversation_id: Id,
        message_id: Id,
    ) {
        let allowed = match self.store.script(agent.shop_id, script_id).await {
            Ok(Some(s)) => may_read(agent, &s),
            _ => false,
        };
        if !allowed {
            tracing::debug!(script_id, "script use not recorded: script not visible");
            return;
        }
        if let Err(e) = self
            .store
            .record_script_use(
                agent.shop_id,
                script_id,
                agent.id,
                conversation_id,
                Some(message_id),
            )
            .await
        {
            tracing::warn!(script_id, error = %e, "script use not recorded");
        }
    }
}

/// Refuses a shopper-visible text that still holds a known variable without a value.
pub fn refuse_unfilled(body: &str) -> Result<()> {
    let missing = unfilled_variables(body);
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing.iter().map(|v| format!("{{{v}}}")).collect();
    Err(Error::new(
        ErrorCode::MissingVariables,
        format!(
            "fill or remove these variables before sending: {}",
            list.join(", ")
        ),
    ))
}
