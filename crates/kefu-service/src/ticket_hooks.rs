//! The one place every committed ticket change passes through.
//!
//! Whatever changes a ticket — creation (console, API, conversation, widget), a patch, a bulk
//! action, a merge, a reply, a note, a link or a compensation — calls [`TicketHooks::changed`]
//! once per ticket after the change is committed. It publishes the live event, then moves the
//! ticket's SLA clocks and runs the shop's automation rules (`crate::automation`), queues the
//! reply mail, recomputes complaint segments and tells the shopper in the chat when the ticket is
//! resolved, so no write path can forget them. Failures
//! there are logged: the change itself is committed and stands.

use crate::inbox::InboxService;
use crate::mail::MailService;
use crate::notify::NotificationService;
use crate::sla::SlaService;
use kefu_core::Result;
use kefu_core::automation::Trigger;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::Id;
use kefu_core::sla_policies::SlaEvent;
use kefu_core::store::Store;
use kefu_core::tickets::{
    Actor, ActorType, EntryKind, FieldChange, NewEntry, Ticket, TicketPatch, TicketStatus,
};
use std::sync::Arc;

/// What happened to a ticket.
#[derive(Debug, Clone)]
pub enum TicketChangeKind {
    /// The ticket was created.
    Created,
    /// Fields changed (a patch, a bulk action, a merge, a link or a compensation); `changes` are
    /// the audited ones (a status change is among them as `status`).
    FieldsChanged,
    /// An agent's reply the shopper sees.
    PublicReply { entry_id: Id },
    /// The shopper replied (widget).
    CustomerReply { entry_id: Id },
    /// An internal note.
    Note { entry_id: Id },
}

/// A committed change of one ticket.
#[derive(Debug, Clone)]
pub struct TicketChange {
    pub kind: TicketChangeKind,
    /// The ticket before the change (`None` when it was created).
    pub before: Option<Ticket>,
    /// The ticket as committed.
    pub after: Ticket,
    /// The audited field changes (status moves caused by a reply included).
    pub changes: Vec<FieldChange>,
    pub actor: Actor,
}

impl TicketChange {
    /// `(from, to)` when the status moved.
    pub fn status_change(&self) -> Option<(TicketStatus, TicketStatus)> {
        let before = self.before.as_ref()?;
        (before.status != self.after.status).then_some((before.status, self.after.status))
    }

    pub fn is_created(&self) -> bool {
        matches!(self.kind, TicketChangeKind::Created)
    }
}

/// What follows every committed ticket change.
pub struct TicketHooks {
    pub(crate) store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    sla: Arc<SlaService>,
    pub(crate) notify: Arc<NotificationService>,
    mail: Arc<MailService>,
    /// The shopper hears in the chat when a ticket about their conversation is resolved.
    inbox: Arc<InboxService>,
}

impl TicketHooks {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        sla: Arc<SlaService>,
        notify: Arc<NotificationService>,
        mail: Arc<MailService>,
        inbox: Arc<InboxService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            sla,
            notify,
            mail,
            inbox,
        })
    }

    pub(crate) fn sla(&self) -> &SlaService {
        &self.sla
    }

    /// Called after every committed ticket change.
    pub async fn changed(&self, change: &TicketChange) {
        self.events.publish(Event::TicketChanged {
            ticket: Arc::new(change.after.clone()),
            created: change.is_created(),
            previous_assignee: change
                .before
                .as_ref()
                .and_then(|b| b.assignee_id)
                .filter(|prev| Some(*prev) != change.after.assignee_id),
            public_reply: matches!(change.kind, TicketChangeKind::PublicReply { .. }),
        });
        self.sla_and_automation(change).await;
        self.complaint_segments(change).await;
        if let TicketChangeKind::PublicReply { entry_id } = change.kind {
            // A public reply also reaches the requester by e-mail when the shop's mail is set up.
            self.mail.mail_ticket_reply(&change.after, entry_id).await;
        }
        if let Some((_, TicketStatus::Resolved)) = change.status_change() {
            self.inbox.ticket_resolved(&change.after).await;
        }
    }

    /// Complaints count toward the requester's "demanding customer" group: when a ticket appears, moves
    /// to another category or customer, or is merged away, the customers it belongs (or belonged) to
    /// are recomputed. Best effort: a failure only delays segments, the ticket is stored.
    async fn complaint_segments(&self, change: &TicketChange) {
        let after = &change.after;
        let customer = |t: &Ticket| t.customer.as_ref().map(|c| c.id);
        let category = |t: &Ticket| t.category.as_ref().map(|c| c.id);
        let moved = match &change.before {
            None => true,
            Some(before) => {
                category(before) != category(after)
                    || customer(before) != customer(after)
                    || before.merged_into_id != after.merged_into_id
            }
        };
        if !moved {
            return;
        }
        let mut customers: Vec<Id> = change.before.iter().filter_map(customer).collect();
        customers.extend(customer(after));
        customers.sort_unstable();
        customers.dedup();
        if customers.is_empty() {
            return;
        }
        if let Err(e) = self
            .store
            .recompute_customers(after.shop_id, &customers)
            .await
        {
            tracing::warn!(shop_id = after.shop_id, error = %e, "segments recompute after a ticket change failed");
        }
    }

    /// The SLA and automation part of [`TicketHooks::changed`]: moves the ticket's
    /// clocks, then runs the shop's automation rules (never for the system actor's own changes).
    /// Failures are logged: the change itself is committed and stands.
    async fn sla_and_automation(&self, change: &TicketChange) {
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
        if let Err(e) = self.sla.ticket_changed(t, &events).await {
            tracing::warn!(%e, ticket_id = t.id, "SLA clocks could not be moved");
        }
        let (trigger, entry_id) = match change.kind {
            TicketChangeKind::Created => (Trigger::Created, None),
            TicketChangeKind::FieldsChanged => (Trigger::Updated, None),
            TicketChangeKind::PublicReply { entry_id }
            | TicketChangeKind::CustomerReply { entry_id } => (Trigger::Updated, Some(entry_id)),
            TicketChangeKind::Note { .. } => return,
        };
        if let Err(e) = self
            .run_automation(t, trigger, change.actor, entry_id)
            .await
        {
            tracing::warn!(%e, ticket_id = t.id, "automation rules failed");
        }
    }
}

type Hook<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Runs the ticket hook for a change made here (escalation, automation). Boxed: the hook is what
/// called us, and a future cannot contain itself.
fn hook<'a>(hooks: &'a TicketHooks, change: &'a TicketChange) -> Hook<'a> {
    Box::pin(hooks.changed(change))
}

impl TicketHooks {
    /// A change by `actor` (the system, for escalation and automation), audited by the store and
    /// passed through the ticket hook like any other.
    pub async fn update_as(
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
    pub async fn add_entry_as(
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
