//! SLA flows: moving a ticket's clocks after each committed change (called from
//! [`crate::ticket_hooks`]), the ticket JSON's `sla` field, notifications (stored, then pushed to
//! the user's sockets) and the escalation task that fires warnings and breaches.
//!
//! **Exactly once.** The escalation scan may run on several nodes at the same moment. It reads
//! candidates from the `due_at` / `warn_at` indexes, then claims each with one conditional UPDATE
//! (`… SET escalated_at = now WHERE id = ? AND escalated_at IS NULL`); only the caller whose
//! UPDATE changed a row acts. A claim is committed before its actions run, so a crash between the
//! two loses an escalation rather than doubling it.

use crate::AppState;
use crate::ticket_hooks::{TicketChange, TicketChangeKind, ticket_changed};
use kefu_core::automation::Trigger;
use kefu_core::business_hours::Calendar;
use kefu_core::events::Event;
use kefu_core::model::{Id, Role};
use kefu_core::sla_policies::*;
use kefu_core::tickets::{
    Actor, ActorType, EntryKind, NewEntry, PolicyMatch, Priority, Ticket, TicketFacts, TicketPatch,
    TicketStatus, choose_policy,
};
use kefu_core::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the escalation task looks for clocks past their warning or due time.
pub const SCAN_EVERY: Duration = Duration::from_secs(5);
/// Clocks handled per scan query (the rest next round, at once).
const SCAN_BATCH: i64 = 200;

/// What one escalation scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub warnings: usize,
    pub breaches: usize,
}

/// Admins and supervisors edit calendars, policies and automation rules.
pub fn require_manager(user: &kefu_core::model::User) -> Result<()> {
    kefu_service::access::require_manager(user, "change SLA and automation settings")
}

impl AppState {
    /// The customer tier (segmentation) of a ticket's customer, if computed.
    pub(crate) async fn ticket_tier_segment(
        &self,
        t: &Ticket,
    ) -> Result<(Option<String>, Option<String>)> {
        let Some(c) = &t.customer else {
            return Ok((None, None));
        };
        match self.store.customer_segments(t.shop_id, c.id).await {
            Ok(Some(s)) => Ok((
                Some(s.tier.as_str().to_owned()),
                s.rfm_segment.map(|r| r.as_str().to_owned()),
            )),
            Ok(None)
            | Err(Error {
                code: kefu_core::ErrorCode::NotFound,
                ..
            }) => Ok((None, None)),
            Err(e) => Err(e),
        }
    }

    /// The policy that applies to a ticket now (enabled policies only) and its calendar.
    async fn policy_for(&self, t: &Ticket) -> Result<Option<(SlaPolicy, Calendar)>> {
        let policies: Vec<SlaPolicy> = self
            .store
            .sla_policies(t.shop_id)
            .await?
            .into_iter()
            .filter(|p| p.enabled)
            .collect();
        if policies.is_empty() {
            return Ok(None);
        }
        let (tier, _) = self.ticket_tier_segment(t).await?;
        let matches: Vec<(i64, PolicyMatch)> = policies
            .iter()
            .map(|p| (p.position, p.matches.clone()))
            .collect();
        let facts = TicketFacts {
            priority: t.priority,
            category: t
                .category
                .as_ref()
                .map(|c| (c.key.as_str(), c.parent_key.as_deref())),
            tier: tier.as_deref(),
        };
        let Some(i) = choose_policy(&matches, &facts) else {
            return Ok(None);
        };
        let policy = policies[i].clone();
        let cal = self.calendar_of(t.shop_id, policy.calendar_id).await?;
        Ok(Some((policy, cal)))
    }

    async fn calendar_of(&self, shop_id: Id, calendar_id: Id) -> Result<Calendar> {
        let stored = self
            .store
            .calendar(shop_id, calendar_id)
            .await?
            .ok_or_else(|| Error::internal(format!("calendar {calendar_id} is gone")))?;
        Calendar::from_spec(&stored.spec).map_err(Error::internal)
    }

    /// Moves the ticket's clocks for what just happened to it (the ticket as committed).
    pub async fn sla_ticket_changed(&self, t: &Ticket, events: &[SlaEvent]) -> Result<()> {
        let Some((policy, cal)) = self.policy_for(t).await? else {
            return Ok(());
        };
        let mut clocks = self.store.sla_clocks(t.shop_id, &[t.id]).await?;
        let before = clocks.clone();
        if clocks.is_empty()
            && !events.contains(&SlaEvent::Created)
            && !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed)
        {
            // A policy applies for the first time (e.g. a rule or a person raised the priority):
            // the clocks start from the ticket's creation, so the time already passed counts.
            let open = TicketStatus::Open;
            advance_clocks(
                &mut clocks,
                Some(&policy),
                &cal,
                open,
                &[SlaEvent::Created],
                t.id,
                t.created_at,
            );
            if let Some(replied) = t.first_public_reply_at {
                advance_clocks(
                    &mut clocks,
                    Some(&policy),
                    &cal,
                    open,
                    &[SlaEvent::AgentReplied],
                    t.id,
                    replied,
                );
            }
        }
        let removed = advance_clocks(
            &mut clocks,
            Some(&policy),
            &cal,
            t.status,
            events,
            t.id,
            self.now(),
        );
        if clocks == before && removed.is_empty() {
            return Ok(());
        }
        self.store
            .save_sla_clocks(t.shop_id, t.id, &clocks, &removed)
            .await
    }

    /// After a policy or calendar edit, re-times the clocks of the shop's open tickets (the
    /// policy re-chosen, the time already used kept), in the background: a shop may have many.
    pub fn sla_policies_changed(&self, shop_id: Id) {
        let state = self.clone();
        tokio::spawn(async move {
            let ids = match state.store.sla_open_tickets(shop_id).await {
                Ok(ids) => ids,
                Err(e) => return tracing::warn!(%e, shop_id, "SLA re-timing: cannot list tickets"),
            };
            for id in ids {
                let done = match state.store.ticket(shop_id, id).await {
                    Ok(Some(t)) => state.sla_ticket_changed(&t, &[]).await,
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    tracing::warn!(%e, ticket_id = id, "SLA re-timing failed");
                }
            }
        });
    }

    /// The `sla` field of these tickets (tickets without clocks are absent).
    pub async fn ticket_slas(
        &self,
        shop_id: Id,
        ticket_ids: &[Id],
    ) -> Result<HashMap<Id, TicketSla>> {
        let clocks = self.store.sla_clocks(shop_id, ticket_ids).await?;
        let now = self.now();
        let mut by_ticket: HashMap<Id, Vec<ClockRecord>> = HashMap::new();
        for c in clocks {
            by_ticket.entry(c.ticket_id).or_default().push(c);
        }
        Ok(by_ticket
            .into_iter()
            .filter_map(|(id, c)| ticket_sla(&c, now).map(|s| (id, s)))
            .collect())
    }

    /// Fills the tickets' `sla` field (one read for all of them). Called after a change is
    /// committed, so a failed read leaves `sla` empty (logged) instead of failing the answer.
    pub async fn fill_sla(&self, tickets: &mut [Ticket]) {
        let Some(shop_id) = tickets.first().map(|t| t.shop_id) else {
            return;
        };
        let ids: Vec<Id> = tickets.iter().map(|t| t.id).collect();
        match self.ticket_slas(shop_id, &ids).await {
            Ok(mut slas) => {
                for t in tickets.iter_mut() {
                    t.sla = slas.remove(&t.id);
                }
            }
            Err(e) => tracing::warn!(%e, "could not read SLA clocks"),
        }
    }

    /// Stores notifications and pushes each to its user's open consoles.
    pub async fn notify(&self, shop_id: Id, items: Vec<NewNotification>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        for n in self.store.add_notifications(shop_id, &items).await? {
            self.services.events.publish(Event::Notification {
                shop_id,
                notification: Arc::new(n),
            });
        }
        Ok(())
    }

    /// The shop's supervisors and admins.
    pub async fn supervisors(&self, shop_id: Id) -> Result<Vec<Id>> {
        Ok(self
            .store
            .list_agents(shop_id)
            .await?
            .into_iter()
            .filter(|a| matches!(a.user.role, Role::Admin | Role::Supervisor))
            .map(|a| a.user.id)
            .collect())
    }

    /// One pass of the escalation task: every clock past its warning or due time is claimed and,
    /// if this caller won the claim, acted on.
    pub async fn sla_scan(&self) -> Result<ScanReport> {
        let now = self.now();
        let mut report = ScanReport::default();
        for due in self.store.due_sla_clocks(now, SCAN_BATCH).await? {
            let claimed = if due.breach {
                self.store.claim_sla_breach(due.clock_id, now).await?
            } else {
                self.store.claim_sla_warning(due.clock_id, now).await?
            };
            if !claimed {
                continue;
            }
            let acted = if due.breach {
                report.breaches += 1;
                self.escalate(&due).await
            } else {
                report.warnings += 1;
                self.warn(&due).await
            };
            if let Err(e) = acted {
                tracing::warn!(%e, clock_id = due.clock_id, ticket_id = due.ticket_id, "SLA escalation failed");
            }
        }
        Ok(report)
    }

    async fn warn(&self, due: &DueClock) -> Result<()> {
        let Some(t) = self.store.ticket(due.shop_id, due.ticket_id).await? else {
            return Ok(());
        };
        let mut users: Vec<Id> = t.assignee_id.into_iter().collect();
        if users.is_empty() {
            users = self.supervisors(t.shop_id).await?;
        }
        let text = format!(
            "工单 {} 「{}」的{}即将超时",
            t.display_number,
            t.subject,
            metric_label(due.metric)
        );
        self.notify(
            t.shop_id,
            users
                .into_iter()
                .map(|user_id| NewNotification {
                    user_id,
                    kind: NotificationKind::SlaWarning,
                    ticket_id: Some(t.id),
                    text: text.clone(),
                })
                .collect(),
        )
        .await
    }

    /// A breach: the policy's escalation (reassign, raise priority) as one ticket change by the
    /// system actor (audited like any change, and passed through the ticket hook), then the
    /// notifications (the assignee, plus whom the policy names).
    async fn escalate(&self, due: &DueClock) -> Result<()> {
        let Some(t) = self.store.ticket(due.shop_id, due.ticket_id).await? else {
            return Ok(());
        };
        let policy = self.store.sla_policy(t.shop_id, due.policy_id).await?;
        let escalation = policy.map(|p| p.escalation).unwrap_or_default();
        let mut patch = TicketPatch::default();
        if escalation.raise_priority && t.priority != Priority::Urgent {
            patch.priority = Some(t.priority.raised());
        }
        if let Some(agent) = escalation.reassign_agent_id {
            patch.assignee_id = Some(Some(agent));
        }
        if let Some(team) = escalation.reassign_team_id {
            patch.team_id = Some(Some(team));
        }
        let mut ticket = t.clone();
        if !patch.is_empty() && !matches!(t.status, TicketStatus::Resolved | TicketStatus::Closed) {
            match self
                .update_ticket_as(t.shop_id, t.id, &patch, Actor::SYSTEM)
                .await
            {
                Ok(updated) => ticket = updated,
                Err(e) => {
                    tracing::warn!(%e, ticket_id = t.id, "SLA escalation could not change the ticket")
                }
            }
        }
        let mut users: Vec<Id> = t.assignee_id.into_iter().collect();
        users.extend(ticket.assignee_id);
        users.extend(escalation.notify_user_ids.iter().copied());
        if escalation.notify_supervisors || users.is_empty() {
            users.extend(self.supervisors(t.shop_id).await?);
        }
        users.sort_unstable();
        users.dedup();
        let text = format!(
            "工单 {} 「{}」的{}已超时",
            ticket.display_number,
            ticket.subject,
            metric_label(due.metric)
        );
        self.notify(
            t.shop_id,
            users
                .into_iter()
                .map(|user_id| NewNotification {
                    user_id,
                    kind: NotificationKind::SlaBreach,
                    ticket_id: Some(t.id),
                    text: text.clone(),
                })
                .collect(),
        )
        .await
    }
}

fn metric_label(m: SlaMetric) -> &'static str {
    match m {
        SlaMetric::FirstResponse => "首次响应",
        SlaMetric::NextResponse => "再次响应",
        SlaMetric::Resolution => "解决时限",
    }
}

/// Starts the escalation task: a scan every [`SCAN_EVERY`] (at once again while a scan found a
/// full batch). Several nodes may run it (see the module doc).
pub fn spawn_escalation(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            match state.sla_scan().await {
                Ok(r) if r.warnings + r.breaches >= SCAN_BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(%e, "SLA escalation scan failed"),
            }
            tokio::time::sleep(SCAN_EVERY).await;
        }
    })
}

/// The SLA and automation part of [`crate::ticket_hooks::ticket_changed`]: moves the ticket's
/// clocks, then runs the shop's automation rules (never for the system actor's own changes).
/// Failures are logged: the change itself is committed and stands.
pub async fn on_ticket_change(state: &AppState, change: &TicketChange) {
    let t = &change.after;
    let mut events = Vec::new();
    match change.kind {
        TicketChangeKind::Created => events.push(SlaEvent::Created),
        // Only a person's public reply answers the customer; an automatic one does not.
        TicketChangeKind::PublicReply { .. } if change.actor.kind == ActorType::Agent => {
            events.push(SlaEvent::AgentReplied)
        }
        _ => {}
    }
    if let Some((from, to)) = change.status_change() {
        events.push(SlaEvent::StatusChanged { from, to });
    }
    // After a status move: the shopper's reply reopens a pending ticket, then starts the clock.
    if let TicketChangeKind::CustomerReply { .. } = change.kind {
        events.push(SlaEvent::CustomerReplied);
    }
    if let Err(e) = state.sla_ticket_changed(t, &events).await {
        tracing::warn!(%e, ticket_id = t.id, "SLA clocks could not be moved");
    }
    let (trigger, entry_id) = match change.kind {
        TicketChangeKind::Created => (Trigger::Created, None),
        TicketChangeKind::FieldsChanged => (Trigger::Updated, None),
        TicketChangeKind::PublicReply { entry_id }
        | TicketChangeKind::CustomerReply { entry_id } => (Trigger::Updated, Some(entry_id)),
        TicketChangeKind::Note { .. } => return,
    };
    if let Err(e) = state
        .run_automation(t, trigger, change.actor, entry_id)
        .await
    {
        tracing::warn!(%e, ticket_id = t.id, "automation rules failed");
    }
}

type Hook<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Runs the ticket hook for a change made here (escalation, automation). Boxed: the hook is what
/// called us, and a future cannot contain itself.
fn hook<'a>(state: &'a AppState, change: &'a TicketChange) -> Hook<'a> {
    Box::pin(ticket_changed(state, change))
}

impl AppState {
    /// A change by `actor` (the system, for escalation and automation), audited by the store and
    /// passed through the ticket hook like any other.
    pub(crate) async fn update_ticket_as(
        &self,
        shop_id: Id,
        id: Id,
        patch: &TicketPatch,
        actor: Actor,
    ) -> Result<Ticket> {
        let mut patch = patch.clone();
        patch.validate()?;
        let u = self.store.update_ticket(shop_id, id, &patch, actor).await?;
        if !u.changes.is_empty() {
            let change = TicketChange {
                kind: TicketChangeKind::FieldsChanged,
                before: Some(u.before),
                after: u.after.clone(),
                changes: u.changes,
                actor,
            };
            hook(self, &change).await;
        }
        Ok(u.after)
    }

    /// An entry (an automatic public reply) by `entry.actor`, through the ticket hook.
    pub(crate) async fn add_entry_as(
        &self,
        shop_id: Id,
        ticket_id: Id,
        mut entry: NewEntry,
    ) -> Result<()> {
        entry.validate()?;
        let added = self
            .store
            .add_ticket_entry(shop_id, ticket_id, &entry)
            .await?;
        let entry_id = added.entry.id;
        let change = TicketChange {
            kind: match entry.kind {
                EntryKind::Public => TicketChangeKind::PublicReply { entry_id },
                EntryKind::Customer => TicketChangeKind::CustomerReply { entry_id },
                _ => TicketChangeKind::Note { entry_id },
            },
            before: Some(added.before),
            after: added.after,
            changes: added.changes,
            actor: entry.actor,
        };
        hook(self, &change).await;
        Ok(())
    }
}
