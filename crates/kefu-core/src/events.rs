//! Live events: what happened, addressed by shop, conversation and the people entitled to see it.
//!
//! Handlers publish an [`Event`] after the change is committed; an [`EventSink`] delivers it. The
//! single-node sink is the WebSocket hub in kefu-http; a multi-node deployment puts a bus (NATS) in
//! between, which is why events carry everything needed to address them and nothing borrowed.

use crate::members::{SessionEndReason, SessionSet};
use crate::model::{AgentStatus, Conversation, Id, Message, Role, SenderType};
use crate::presence::StatusCause;
use crate::sla_policies::Notification;
use crate::suggestions::Suggestion;
use crate::tickets::Ticket;
use crate::tools::Mention;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Event {
    MessageCreated {
        conversation: Arc<Conversation>,
        message: Arc<Message>,
    },
    ConversationCreated {
        conversation: Arc<Conversation>,
    },
    /// `previous_assignee` lets an agent who just lost the conversation drop it from view.
    ConversationUpdated {
        conversation: Arc<Conversation>,
        previous_assignee: Option<Id>,
    },
    Typing {
        conversation: Arc<Conversation>,
        sender_type: SenderType,
        sender_name: String,
    },
    Read {
        conversation: Arc<Conversation>,
        reader_type: SenderType,
        seq: i64,
    },
    /// The shopper's place in the waiting queue changed (0 = assigned).
    QueuePosition {
        shop_id: Id,
        customer_id: Id,
        conversation_id: Id,
        position: i64,
    },
    /// An agent's presence changed (every agent of the shop): the status, what caused it and the
    /// agent's note.
    AgentStatus {
        shop_id: Id,
        agent_id: Id,
        status: AgentStatus,
        cause: Option<StatusCause>,
        note: Option<String>,
    },
    /// Whether the shop has an agent who takes new chats changed (from none to some or back):
    /// every shopper's widget of the shop updates its header (`open_now`: within business hours).
    ShopPresence {
        shop_id: Id,
        agents_online: bool,
        open_now: bool,
    },
    /// A customer's profile changed (edited, tagged, noted, merged, blocked): open sidebars and
    /// pages of the shop's agents reload it. `merged_into` is set when the record went away.
    CustomerUpdated {
        shop_id: Id,
        customer_id: Id,
        merged_into: Option<Id>,
    },
    /// A customer's orders changed (placed, paid, shipped …): sidebars showing them reload. Goes
    /// to the shop's agents; it carries ids only.
    OrdersChanged {
        shop_id: Id,
        customer_id: Id,
    },
    /// An agent was @mentioned in an internal note: goes to that agent only, whether or not the
    /// conversation is theirs.
    Mention {
        shop_id: Id,
        agent_id: Id,
        mention: Arc<Mention>,
    },
    /// A stored notification (SLA warning or breach, automation notice) for one user: goes to
    /// that user's sockets only.
    Notification {
        shop_id: Id,
        notification: Arc<Notification>,
    },
    /// An after-sales request was created or changed. Goes to the agents who may see it
    /// (admins and supervisors, its assignee, everyone when it has none) and its previous
    /// assignee, so an open list or page reloads it.
    AftersalesUpdated {
        shop_id: Id,
        request_id: Id,
        /// The request's state (wire form).
        state: &'static str,
        assignee_id: Option<Id>,
        previous_assignee: Option<Id>,
    },
    /// Scripts ranked for a shopper's message, best first. Goes to the agents who see the
    /// conversation; each gets the top 3 of those meant for them (shop-wide scripts and their own
    /// personal ones), so the list holds a few more than 3 when personal scripts rank high.
    Suggestions {
        conversation: Arc<Conversation>,
        message_id: Id,
        suggestions: Arc<Vec<Suggestion>>,
    },
    /// A ticket was created (`created`) or changed: goes to the shop's agents who may see it
    /// (admins and supervisors all, agents their own and unassigned ones) and to whoever was its
    /// assignee before, so their list drops it. `public_reply` also tells the ticket's shopper
    /// (their widget reloads the thread; notes never produce it).
    TicketChanged {
        ticket: Arc<Ticket>,
        created: bool,
        previous_assignee: Option<Id>,
        public_reply: bool,
    },
    /// A member's account or teams changed (created, edited, deactivated, reactivated, a team
    /// renamed or deleted): every agent of the shop reloads what shows members (the member
    /// themselves their own account). `role` is the member's new role when it changed: live
    /// sockets carry their owner's role for entitlement and take the new one at once.
    MembersChanged {
        shop_id: Id,
        member_id: Option<Id>,
        role: Option<Role>,
    },
    /// Sessions of a member ended (logout, a password change or reset, deactivation): the
    /// sockets opened with them are told why and closed.
    SessionsEnded {
        shop_id: Id,
        user_id: Id,
        sessions: SessionSet,
        reason: SessionEndReason,
    },
}

/// Where events go once a change is durable.
pub trait EventSink: Send + Sync {
    fn publish(&self, event: Event);

    /// Whether an agent of the shop could receive an event now. Work done only to be shown live
    /// (ranking reply suggestions) is skipped when not; a sink that cannot tell says yes.
    fn reaches_agents(&self, _shop_id: Id) -> bool {
        true
    }
}

/// A sink that drops everything (CLI commands that run without a server).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn publish(&self, _event: Event) {}
}
