//! The one place every committed ticket change passes through.
//!
//! Whatever changes a ticket — creation (console, API, conversation, widget), a patch, a bulk
//! action, a merge, a reply, a note, a link or a compensation — calls [`ticket_changed`] once per
//! ticket after the change is committed. It publishes the live event, then moves the ticket's SLA
//! clocks and runs the shop's automation rules ([`crate::sla::on_ticket_change`]), so no write
//! path can forget them.

use crate::AppState;
use kefu_core::events::Event;
use kefu_core::model::Id;
use kefu_core::tickets::{Actor, FieldChange, Ticket, TicketStatus};
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

/// Called after every committed ticket change.
pub async fn ticket_changed(state: &AppState, change: &TicketChange) {
    state.services.events.publish(Event::TicketChanged {
        ticket: Arc::new(change.after.clone()),
        created: change.is_created(),
        previous_assignee: change
            .before
            .as_ref()
            .and_then(|b| b.assignee_id)
            .filter(|prev| Some(*prev) != change.after.assignee_id),
        public_reply: matches!(change.kind, TicketChangeKind::PublicReply { .. }),
    });
    crate::sla::on_ticket_change(state, change).await;
    complaint_segments(state, change).await;
    if let TicketChangeKind::PublicReply { entry_id } = change.kind {
        // A public reply also reaches the requester by e-mail when the shop's mail is set up.
        crate::mail::mail_ticket_reply(state, &change.after, entry_id).await;
    }
}

/// Complaints count toward the requester's "demanding customer" group: when a ticket appears, moves
/// to another category or customer, or is merged away, the customers it belongs (or belonged) to
/// are recomputed. Best effort: a failure only delays segments, the ticket is stored.
async fn complaint_segments(state: &AppState, change: &TicketChange) {
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
    if let Err(e) = state
        .store
        .recompute_customers(after.shop_id, &customers)
        .await
    {
        tracing::warn!(shop_id = after.shop_id, error = %e, "segments recompute after a ticket change failed");
    }
}
