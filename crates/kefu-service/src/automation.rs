//! Ticket automation: the shop's rules run inside the ticket hook after a change by a person, the
//! API or the shopper, and their combined actions are applied as one change by the system actor.
//!
//! Loop protection (see `kefu_core::automation`): a change whose actor is the system (rules,
//! escalation) never runs rules, so a rule's own change cannot trigger rules again.

use crate::ticket_hooks::TicketHooks;
use kefu_core::Result;
use kefu_core::automation::*;
use kefu_core::model::Id;
use kefu_core::scripts::RenderContext;
use kefu_core::sla_policies::{NewNotification, NotificationKind};
use kefu_core::tickets::{Actor, ActorType, EntryKind, NewEntry, Ticket, TicketPatch};

/// Automation runs inside the ticket hook (it changes tickets through the hook's own
/// [`TicketHooks::update_as`] and [`TicketHooks::add_entry_as`]).
impl TicketHooks {
    /// Runs the shop's rules for a ticket that was just created or changed by `actor`.
    /// `entry_text` is the body of the entry the change added (a reply), if any.
    pub(crate) async fn run_automation(
        &self,
        t: &Ticket,
        trigger: Trigger,
        actor: Actor,
        entry_id: Option<Id>,
    ) -> Result<()> {
        if actor.kind == ActorType::System {
            return Ok(());
        }
        let rules = self.store.automation_rules(t.shop_id).await?;
        if !rules.iter().any(|r| r.enabled) {
            return Ok(());
        }
        // The new entry's text, read only when some rule looks for keywords.
        let mut entry_text = String::new();
        if let Some(entry_id) = entry_id
            && rules
                .iter()
                .any(|r| r.enabled && !r.conditions.keywords.is_empty())
        {
            let entries = self.store.ticket_entries(t.shop_id, t.id, false).await?;
            if let Some(e) = entries.iter().find(|e| e.id == entry_id) {
                entry_text = e.body.clone();
            }
        }
        let categories = self.store.ticket_categories(t.shop_id).await?;
        let parent_of = |key: &str| {
            let c = categories.iter().find(|c| c.key == key)?;
            let parent = c.parent_id?;
            categories
                .iter()
                .find(|p| p.id == parent)
                .map(|p| p.key.clone())
        };
        let (tier, segment) = self.sla().ticket_tier_segment(t).await?;
        let facts = RuleFacts {
            priority: t.priority,
            category: t
                .category
                .as_ref()
                .map(|c| (c.key.clone(), c.parent_key.clone())),
            text: [
                t.subject.as_str(),
                t.description.as_str(),
                entry_text.as_str(),
            ]
            .join("\n"),
            tier,
            segment,
            channel: Some(t.channel.as_str().to_owned()),
        };
        let plan = plan(&rules, trigger, facts, parent_of);
        if plan.is_empty() {
            return Ok(());
        }
        let mut patch = TicketPatch {
            priority: plan.priority,
            status: plan.status,
            assignee_id: plan.assign_agent_id.map(Some),
            team_id: plan.assign_team_id.map(Some),
            add_tags: plan.add_tags.clone(),
            ..Default::default()
        };
        if let Some(key) = &plan.category {
            match categories.iter().find(|c| &c.key == key && !c.archived) {
                Some(c) => patch.category_id = Some(Some(c.id)),
                None => tracing::warn!(
                    key,
                    ticket_id = t.id,
                    "automation names an unknown category"
                ),
            }
        }
        let mut ticket = t.clone();
        if !patch.is_empty() {
            match self.update_as(t.shop_id, t.id, &patch, Actor::SYSTEM).await {
                Ok(after) => ticket = after,
                // An illegal move (e.g. resolving a complaint without its result) is skipped, not
                // fatal: the person's change stands.
                Err(e) => {
                    tracing::warn!(%e, ticket_id = t.id, "automation could not change the ticket")
                }
            }
        }
        if !plan.replies.is_empty() {
            let ctx = self.reply_context(&ticket).await?;
            for template in &plan.replies {
                let rendered =
                    render_reply(template, &ticket.display_number, &ticket.subject, &ctx);
                if !rendered.missing.is_empty() {
                    tracing::warn!(missing = ?rendered.missing, ticket_id = t.id, "automation reply not sent: variables without a value");
                    continue;
                }
                let entry = NewEntry {
                    kind: EntryKind::Public,
                    actor: Actor::SYSTEM,
                    body: rendered.text,
                    attachment_ids: Vec::new(),
                };
                if let Err(e) = self.add_entry_as(t.shop_id, t.id, entry).await {
                    tracing::warn!(%e, ticket_id = t.id, "automation reply failed");
                }
            }
        }
        let mut users = plan.notify_user_ids.clone();
        if plan.notify_supervisors {
            users.extend(self.notify.supervisors(t.shop_id).await?);
        }
        users.sort_unstable();
        users.dedup();
        let names: Vec<&str> = rules
            .iter()
            .filter(|r| plan.rule_ids.contains(&r.id))
            .map(|r| r.name.as_str())
            .collect();
        let text = format!(
            "自动化规则「{}」：工单 {} 「{}」",
            names.join("、"),
            ticket.display_number,
            ticket.subject
        );
        self.notify
            .notify(
                t.shop_id,
                users
                    .into_iter()
                    .map(|user_id: Id| NewNotification {
                        user_id,
                        kind: NotificationKind::Automation,
                        ticket_id: Some(t.id),
                        text: text.clone(),
                    })
                    .collect(),
            )
            .await
    }

    /// What a reply template may fill: the customer's name and the shop's name.
    async fn reply_context(&self, t: &Ticket) -> Result<RenderContext> {
        let shop = self.store.shop_by_id(t.shop_id).await?;
        Ok(RenderContext {
            customer_name: t
                .customer
                .as_ref()
                .map(|c| c.name.clone())
                .filter(|n| !n.trim().is_empty()),
            shop_name: shop.map(|s| s.name),
            agent_name: None,
            order: None,
            product: None,
        })
    }
}
