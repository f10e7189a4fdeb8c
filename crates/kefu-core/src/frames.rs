//! Live frames: the wire form of every [`Event`] a WebSocket client receives, and who receives it.
//!
//! Fan-out is two pure functions of an event, so it can be tested without sockets and moved
//! behind a bus unchanged: [`deliveries`] says *who* may see the event (an [`AgentAudience`] of
//! the shop's agents and/or one shopper's sockets) and *what frame* each of them gets. A sink
//! (the hub in kefu-http) serialises each delivery's frame once and hands the same bytes to every
//! connection of its audience.
//!
//! [`ServerFrame`] is the one definition of the wire: its `type` names are what the console and
//! the widget switch on, its schema is in the OpenAPI document, and the TypeScript types in
//! `web/src/types/frames.gen.ts` are generated from it (a kefu-http test fails when they differ).
//!
//! The rules: admins and supervisors see every conversation, ticket and after-sales request of
//! their shop; agents see their own and the unassigned ones; an agent who just lost one hears of
//! it once more so their view drops it; a shopper hears only of their own conversation and
//! tickets, never of private notes or internal fields.

use crate::events::Event;
use crate::members::{SessionEndReason, SessionSet};
use crate::model::{
    AgentStatus, Conversation, ConversationStatus, CustomerRef, Id, Message, Role, SenderType,
};
use crate::presence::StatusCause;
use crate::sla_policies::Notification;
use crate::suggestions::Suggestion;
use crate::tickets::Ticket;
use crate::time::Millis;
use crate::tools::AgentRef;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// Suggestions shown per shopper message.
pub const SUGGESTIONS_SHOWN: usize = 3;

/// A frame the server sends on a WebSocket (`/api/v1/ws` for agents, `/api/v1/widget/ws` for
/// shoppers), tagged by `type`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum ServerFrame {
    /// A message was stored (agents who see the conversation; its shopper unless private).
    #[serde(rename = "message.created")]
    MessageCreated {
        conversation_id: Id,
        #[schema(value_type = Message)]
        message: Arc<Message>,
    },
    /// A shopper started a conversation (agents who see it).
    #[serde(rename = "conversation.created")]
    ConversationCreated {
        #[schema(value_type = Conversation)]
        conversation: Arc<Conversation>,
    },
    /// A conversation changed (agents who see it, and its previous assignee).
    #[serde(rename = "conversation.updated")]
    ConversationUpdated {
        #[schema(value_type = Conversation)]
        conversation: Arc<Conversation>,
    },
    /// A conversation changed, as its shopper sees it (no internal fields).
    #[serde(rename = "conversation.updated")]
    ShopperConversationUpdated { conversation: ShopperConversation },
    /// Someone is typing: a shopper (to agents) or an agent (to the shopper).
    #[serde(rename = "typing")]
    Typing {
        conversation_id: Id,
        sender_type: SenderType,
        sender_name: String,
    },
    /// Someone read up to `seq`: a shopper (to agents) or an agent (to the shopper).
    #[serde(rename = "read")]
    Read {
        conversation_id: Id,
        reader_type: SenderType,
        seq: i64,
    },
    /// The shopper's place in the waiting queue (0 = assigned).
    #[serde(rename = "queue.position")]
    QueuePosition { conversation_id: Id, position: i64 },
    /// An agent's availability changed (every agent of the shop): the status, what caused it
    /// (`manual`, `login`, `activity`, `auto_idle`, `socket_gone`, `logout`, `deactivated`) and
    /// the agent's note for `away` or `busy`.
    #[serde(rename = "agent.status")]
    AgentStatus {
        agent_id: Id,
        status: AgentStatus,
        cause: Option<StatusCause>,
        note: Option<String>,
    },
    /// Whether the shop has an agent taking new chats now, and whether it is within business
    /// hours (every shopper's widget of the shop, when the first agent comes or the last goes).
    #[serde(rename = "shop.presence")]
    ShopPresence { agents_online: bool, open_now: bool },
    /// A customer's profile changed; `merged_into` when the record went away (every agent).
    #[serde(rename = "customer.updated")]
    CustomerUpdated {
        customer_id: Id,
        merged_into: Option<Id>,
    },
    /// A customer's orders changed (every agent).
    #[serde(rename = "orders.changed")]
    OrdersChanged { customer_id: Id },
    /// A stored notification for one user (SLA warning or breach, automation notice).
    #[serde(rename = "notification")]
    Notification {
        #[schema(value_type = Notification)]
        notification: Arc<Notification>,
    },
    /// The receiving agent was @mentioned in an internal note.
    #[serde(rename = "mention")]
    Mention {
        id: Id,
        conversation_id: Id,
        message_id: Id,
        by: AgentRef,
        excerpt: String,
        customer: CustomerRef,
        created_at: Millis,
    },
    /// An after-sales request was created or changed (agents who may see it, and its previous
    /// assignee). `state` is the request's state.
    #[serde(rename = "aftersales.updated")]
    AftersalesUpdated {
        request_id: Id,
        state: &'static str,
        assignee_id: Option<Id>,
    },
    /// Scripts ranked for a shopper's message, best first: the top [`SUGGESTIONS_SHOWN`] meant
    /// for the receiving agent (shop-wide scripts and their own personal ones).
    #[serde(rename = "suggestions")]
    Suggestions {
        conversation_id: Id,
        message_id: Id,
        suggestions: Vec<Suggestion>,
    },
    /// A ticket was created (agents who may see it).
    #[serde(rename = "ticket.created")]
    TicketCreated {
        #[schema(value_type = Ticket)]
        ticket: Arc<Ticket>,
    },
    /// A ticket changed (agents who may see it, and its previous assignee).
    #[serde(rename = "ticket.updated")]
    TicketUpdated {
        #[schema(value_type = Ticket)]
        ticket: Arc<Ticket>,
    },
    /// The shopper's ticket has a new public reply; the widget reads it with its own token.
    #[serde(rename = "ticket.reply")]
    TicketReply { ticket_id: Id },
    /// The shop's members or teams changed (every agent): lists of members reload; when
    /// `member_id` is the receiver, their own account changed (role, name, teams).
    #[serde(rename = "member.updated")]
    MemberUpdated { member_id: Option<Id> },
    /// The session this socket was opened with ended (logged out, password changed or reset,
    /// account deactivated); the server closes the socket right after this frame.
    #[serde(rename = "session.ended")]
    SessionEnded { reason: SessionEndReason },
}

/// Who receives a kind of frame; the generated TypeScript splits the frames by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receivers {
    Agents,
    Shoppers,
    Both,
}

impl ServerFrame {
    /// Every variant in declaration order (the order of the schema's `oneOf`): its name, its
    /// `type` and who receives it. A unit test holds it to the enum.
    pub const VARIANTS: &'static [(&'static str, &'static str, Receivers)] = &[
        ("MessageCreated", "message.created", Receivers::Both),
        (
            "ConversationCreated",
            "conversation.created",
            Receivers::Agents,
        ),
        (
            "ConversationUpdated",
            "conversation.updated",
            Receivers::Agents,
        ),
        (
            "ShopperConversationUpdated",
            "conversation.updated",
            Receivers::Shoppers,
        ),
        ("Typing", "typing", Receivers::Both),
        ("Read", "read", Receivers::Both),
        ("QueuePosition", "queue.position", Receivers::Shoppers),
        ("AgentStatus", "agent.status", Receivers::Agents),
        ("ShopPresence", "shop.presence", Receivers::Shoppers),
        ("CustomerUpdated", "customer.updated", Receivers::Agents),
        ("OrdersChanged", "orders.changed", Receivers::Agents),
        ("Notification", "notification", Receivers::Agents),
        ("Mention", "mention", Receivers::Agents),
        ("AftersalesUpdated", "aftersales.updated", Receivers::Agents),
        ("Suggestions", "suggestions", Receivers::Agents),
        ("TicketCreated", "ticket.created", Receivers::Agents),
        ("TicketUpdated", "ticket.updated", Receivers::Agents),
        ("TicketReply", "ticket.reply", Receivers::Shoppers),
        ("MemberUpdated", "member.updated", Receivers::Agents),
        ("SessionEnded", "session.ended", Receivers::Agents),
    ];

    /// The variant's name in [`ServerFrame::VARIANTS`].
    pub fn variant(&self) -> &'static str {
        match self {
            ServerFrame::MessageCreated { .. } => "MessageCreated",
            ServerFrame::ConversationCreated { .. } => "ConversationCreated",
            ServerFrame::ConversationUpdated { .. } => "ConversationUpdated",
            ServerFrame::ShopperConversationUpdated { .. } => "ShopperConversationUpdated",
            ServerFrame::Typing { .. } => "Typing",
            ServerFrame::Read { .. } => "Read",
            ServerFrame::QueuePosition { .. } => "QueuePosition",
            ServerFrame::AgentStatus { .. } => "AgentStatus",
            ServerFrame::ShopPresence { .. } => "ShopPresence",
            ServerFrame::CustomerUpdated { .. } => "CustomerUpdated",
            ServerFrame::OrdersChanged { .. } => "OrdersChanged",
            ServerFrame::Notification { .. } => "Notification",
            ServerFrame::Mention { .. } => "Mention",
            ServerFrame::AftersalesUpdated { .. } => "AftersalesUpdated",
            ServerFrame::Suggestions { .. } => "Suggestions",
            ServerFrame::TicketCreated { .. } => "TicketCreated",
            ServerFrame::TicketUpdated { .. } => "TicketUpdated",
            ServerFrame::TicketReply { .. } => "TicketReply",
            ServerFrame::MemberUpdated { .. } => "MemberUpdated",
            ServerFrame::SessionEnded { .. } => "SessionEnded",
        }
    }
}

/// What a shopper may know of their conversation (no internal fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopperConversation {
    pub id: Id,
    pub status: ConversationStatus,
    pub assignee_name: Option<String>,
    pub queue_position: Option<i64>,
}

impl From<&Conversation> for ShopperConversation {
    fn from(c: &Conversation) -> Self {
        ShopperConversation {
            id: c.id,
            status: c.status,
            assignee_name: c.assignee_name.clone(),
            queue_position: c.queue_position,
        }
    }
}

/// The entitlement rule of conversations, tickets and after-sales requests: admins and
/// supervisors see the whole shop, agents their own and the unassigned ones.
pub fn entitled(assignee: Option<Id>, user_id: Id, role: Role) -> bool {
    role.sees_whole_shop() || assignee.is_none_or(|a| a == user_id)
}

/// Which of a shop's agents receive a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAudience {
    /// No agent.
    Nobody,
    /// Every agent of the shop.
    Everyone,
    /// The agents [`entitled`] to something with this assignee, plus `also` (its previous
    /// assignee, whose view must drop it).
    Entitled {
        assignee: Option<Id>,
        also: Option<Id>,
    },
    /// The entitled agents except `except` (they get a frame of their own).
    EntitledExcept {
        assignee: Option<Id>,
        except: Vec<Id>,
    },
    /// One user, if entitled.
    EntitledUser { assignee: Option<Id>, user: Id },
    /// One user, whatever they see.
    User(Id),
    /// The connections of one user opened with a session of the set (their token's hash).
    Sessions { user: Id, sessions: SessionSet },
}

impl AgentAudience {
    /// Whether the agent `user_id` with `role` is in the audience.
    pub fn admits(&self, user_id: Id, role: Role) -> bool {
        match self {
            AgentAudience::Nobody => false,
            AgentAudience::Everyone => true,
            AgentAudience::Entitled { assignee, also } => {
                entitled(*assignee, user_id, role) || *also == Some(user_id)
            }
            AgentAudience::EntitledExcept { assignee, except } => {
                entitled(*assignee, user_id, role) && !except.contains(&user_id)
            }
            AgentAudience::EntitledUser { assignee, user } => {
                *user == user_id && entitled(*assignee, user_id, role)
            }
            AgentAudience::User(user) | AgentAudience::Sessions { user, .. } => *user == user_id,
        }
    }

    /// [`Self::admits`] for one connection, opened with the session whose token hashes to
    /// `session`: a [`AgentAudience::Sessions`] audience also needs the session in its set.
    pub fn admits_connection(&self, user_id: Id, role: Role, session: &str) -> bool {
        match self {
            AgentAudience::Sessions { user, sessions } => {
                *user == user_id && sessions.contains(session)
            }
            other => other.admits(user_id, role),
        }
    }
}

/// One frame and everyone who receives it (serialised once for all of them).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub shop_id: Id,
    pub agents: AgentAudience,
    /// The customer whose shopper sockets receive the frame.
    pub shopper: Option<Id>,
    /// Every shopper socket of the shop receives the frame.
    pub all_shoppers: bool,
    pub frame: ServerFrame,
    /// The agents' connections that receive the frame are closed after it (their session ended).
    pub then_close: bool,
}

impl Delivery {
    fn agents(shop_id: Id, agents: AgentAudience, frame: ServerFrame) -> Self {
        Delivery {
            shop_id,
            agents,
            shopper: None,
            all_shoppers: false,
            frame,
            then_close: false,
        }
    }

    fn shopper(shop_id: Id, customer_id: Id, frame: ServerFrame) -> Self {
        Delivery {
            shop_id,
            agents: AgentAudience::Nobody,
            shopper: Some(customer_id),
            all_shoppers: false,
            frame,
            then_close: false,
        }
    }
}

impl Event {
    /// The shop the event belongs to.
    pub fn shop_id(&self) -> Id {
        match self {
            Event::MessageCreated { conversation, .. }
            | Event::ConversationCreated { conversation }
            | Event::ConversationUpdated { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::Read { conversation, .. }
            | Event::Suggestions { conversation, .. } => conversation.shop_id,
            Event::QueuePosition { shop_id, .. }
            | Event::AgentStatus { shop_id, .. }
            | Event::ShopPresence { shop_id, .. }
            | Event::CustomerUpdated { shop_id, .. }
            | Event::OrdersChanged { shop_id, .. }
            | Event::Mention { shop_id, .. }
            | Event::Notification { shop_id, .. }
            | Event::AftersalesUpdated { shop_id, .. }
            | Event::MembersChanged { shop_id, .. }
            | Event::SessionsEnded { shop_id, .. } => *shop_id,
            Event::TicketChanged { ticket, .. } => ticket.shop_id,
        }
    }

    /// The customer whose shopper sockets may receive a frame of the event, if any: a sink with
    /// neither this shopper nor an agent of the shop connected skips the event unframed.
    pub fn shopper(&self) -> Option<Id> {
        match self {
            Event::MessageCreated { conversation, .. }
            | Event::ConversationUpdated { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::Read { conversation, .. } => Some(conversation.customer.id),
            Event::QueuePosition { customer_id, .. } => Some(*customer_id),
            Event::TicketChanged {
                ticket,
                public_reply: true,
                ..
            } => ticket.customer.as_ref().map(|c| c.id),
            _ => None,
        }
    }
}

/// The top [`SUGGESTIONS_SHOWN`] suggestions meant for `agent`: shop-wide scripts and the agent's
/// own personal ones (another agent's personal script is never shown).
pub fn suggestions_for(suggestions: &[Suggestion], agent: Id) -> Vec<Suggestion> {
    suggestions
        .iter()
        .filter(|s| s.owner_id.is_none_or(|o| o == agent))
        .take(SUGGESTIONS_SHOWN)
        .cloned()
        .collect()
}

/// The audience and frame of an event: what each receiver gets. Pure: the hub (or a bus
/// consumer on another node) applies it to the connections it holds.
pub fn deliveries(event: Event) -> Vec<Delivery> {
    let shop_id = event.shop_id();
    match event {
        Event::MessageCreated {
            conversation,
            message,
        } => vec![Delivery {
            shop_id,
            agents: AgentAudience::Entitled {
                assignee: conversation.assignee_id,
                also: None,
            },
            // Private notes never reach the shopper.
            shopper: (!message.private).then_some(conversation.customer.id),
            all_shoppers: false,
            frame: ServerFrame::MessageCreated {
                conversation_id: conversation.id,
                message,
            },
            then_close: false,
        }],
        Event::ConversationCreated { conversation } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Entitled {
                assignee: conversation.assignee_id,
                also: None,
            },
            ServerFrame::ConversationCreated { conversation },
        )],
        Event::ConversationUpdated {
            conversation,
            previous_assignee,
        } => vec![
            Delivery::shopper(
                shop_id,
                conversation.customer.id,
                ServerFrame::ShopperConversationUpdated {
                    conversation: ShopperConversation::from(&*conversation),
                },
            ),
            Delivery::agents(
                shop_id,
                AgentAudience::Entitled {
                    assignee: conversation.assignee_id,
                    also: previous_assignee,
                },
                ServerFrame::ConversationUpdated { conversation },
            ),
        ],
        Event::Typing {
            conversation,
            sender_type,
            sender_name,
        } => {
            let frame = ServerFrame::Typing {
                conversation_id: conversation.id,
                sender_type,
                sender_name,
            };
            vec![towards_other_side(&conversation, sender_type, frame)]
        }
        Event::Read {
            conversation,
            reader_type,
            seq,
        } => {
            let frame = ServerFrame::Read {
                conversation_id: conversation.id,
                reader_type,
                seq,
            };
            vec![towards_other_side(&conversation, reader_type, frame)]
        }
        Event::QueuePosition {
            customer_id,
            conversation_id,
            position,
            ..
        } => vec![Delivery::shopper(
            shop_id,
            customer_id,
            ServerFrame::QueuePosition {
                conversation_id,
                position,
            },
        )],
        Event::AgentStatus {
            agent_id,
            status,
            cause,
            note,
            ..
        } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Everyone,
            ServerFrame::AgentStatus {
                agent_id,
                status,
                cause,
                note,
            },
        )],
        Event::ShopPresence {
            agents_online,
            open_now,
            ..
        } => vec![Delivery {
            shop_id,
            agents: AgentAudience::Nobody,
            shopper: None,
            all_shoppers: true,
            frame: ServerFrame::ShopPresence {
                agents_online,
                open_now,
            },
            then_close: false,
        }],
        // Every agent of the shop may read customers and orders.
        Event::CustomerUpdated {
            customer_id,
            merged_into,
            ..
        } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Everyone,
            ServerFrame::CustomerUpdated {
                customer_id,
                merged_into,
            },
        )],
        Event::OrdersChanged { customer_id, .. } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Everyone,
            ServerFrame::OrdersChanged { customer_id },
        )],
        Event::Notification { notification, .. } => vec![Delivery::agents(
            shop_id,
            AgentAudience::User(notification.user_id),
            ServerFrame::Notification { notification },
        )],
        Event::Mention {
            agent_id, mention, ..
        } => vec![Delivery::agents(
            shop_id,
            AgentAudience::User(agent_id),
            ServerFrame::Mention {
                id: mention.id,
                conversation_id: mention.conversation_id,
                message_id: mention.message_id,
                by: mention.by.clone(),
                excerpt: mention.excerpt.clone(),
                customer: mention.customer.clone(),
                created_at: mention.created_at,
            },
        )],
        Event::AftersalesUpdated {
            request_id,
            state,
            assignee_id,
            previous_assignee,
            ..
        } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Entitled {
                assignee: assignee_id,
                also: previous_assignee,
            },
            ServerFrame::AftersalesUpdated {
                request_id,
                state,
                assignee_id,
            },
        )],
        Event::Suggestions {
            conversation,
            message_id,
            suggestions,
        } => suggestion_deliveries(&conversation, message_id, &suggestions),
        Event::TicketChanged {
            ticket,
            created,
            previous_assignee,
            public_reply,
        } => {
            let mut out = Vec::with_capacity(2);
            // The shopper hears of replies only on tickets shared with them: an agent's
            // internal ticket about them stays out of the widget.
            if public_reply
                && ticket.shared_with_customer
                && let Some(customer) = &ticket.customer
            {
                out.push(Delivery::shopper(
                    shop_id,
                    customer.id,
                    ServerFrame::TicketReply {
                        ticket_id: ticket.id,
                    },
                ));
            }
            let agents = AgentAudience::Entitled {
                assignee: ticket.assignee_id,
                also: previous_assignee,
            };
            let frame = if created {
                ServerFrame::TicketCreated { ticket }
            } else {
                ServerFrame::TicketUpdated { ticket }
            };
            out.push(Delivery::agents(shop_id, agents, frame));
            out
        }
        Event::MembersChanged { member_id, .. } => vec![Delivery::agents(
            shop_id,
            AgentAudience::Everyone,
            ServerFrame::MemberUpdated { member_id },
        )],
        Event::SessionsEnded {
            user_id,
            sessions,
            reason,
            ..
        } => vec![Delivery {
            then_close: true,
            ..Delivery::agents(
                shop_id,
                AgentAudience::Sessions {
                    user: user_id,
                    sessions,
                },
                ServerFrame::SessionEnded { reason },
            )
        }],
    }
}

/// Typing and read receipts go to the other side of the conversation: a shopper's to the agents
/// who see it, an agent's (or the bot's) to the shopper.
fn towards_other_side(
    conversation: &Conversation,
    from: SenderType,
    frame: ServerFrame,
) -> Delivery {
    if from == SenderType::Customer {
        Delivery::agents(
            conversation.shop_id,
            AgentAudience::Entitled {
                assignee: conversation.assignee_id,
                also: None,
            },
            frame,
        )
    } else {
        Delivery::shopper(conversation.shop_id, conversation.customer.id, frame)
    }
}

/// Each entitled agent gets the top suggestions meant for them: one shared frame for everyone
/// whose list has none of their own personal scripts (the usual case), and a frame of their own
/// for each agent with a personal script among the ranked ones.
fn suggestion_deliveries(
    conversation: &Conversation,
    message_id: Id,
    suggestions: &[Suggestion],
) -> Vec<Delivery> {
    let assignee = conversation.assignee_id;
    let mut owners: Vec<Id> = suggestions.iter().filter_map(|s| s.owner_id).collect();
    owners.sort_unstable();
    owners.dedup();
    let frame = |list| ServerFrame::Suggestions {
        conversation_id: conversation.id,
        message_id,
        suggestions: list,
    };
    let mut out = Vec::with_capacity(1 + owners.len());
    for owner in &owners {
        out.push(Delivery::agents(
            conversation.shop_id,
            AgentAudience::EntitledUser {
                assignee,
                user: *owner,
            },
            frame(suggestions_for(suggestions, *owner)),
        ));
    }
    let shared = suggestions_for(suggestions, 0);
    let audience = if owners.is_empty() {
        AgentAudience::Entitled {
            assignee,
            also: None,
        }
    } else {
        AgentAudience::EntitledExcept {
            assignee,
            except: owners,
        }
    };
    out.push(Delivery::agents(
        conversation.shop_id,
        audience,
        frame(shared),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationStatus, MessageKind};

    const SHOP: Id = 1;
    const SHOPPER: Id = 42;

    fn conversation(assignee: Option<Id>) -> Arc<Conversation> {
        Arc::new(Conversation {
            id: 7,
            shop_id: SHOP,
            status: ConversationStatus::Open,
            assignee_id: assignee,
            assignee_name: assignee.map(|a| format!("agent {a}")),
            team: None,
            customer: CustomerRef {
                id: SHOPPER,
                name: "c".into(),
            },
            last_seq: 1,
            last_message_at: Millis(0),
            last_message_preview: String::new(),
            unread_count: 3,
            customer_read_seq: 0,
            agent_read_seq: 0,
            queue_position: None,
            created_at: Millis(0),
            tags: vec![],
            snoozed_until: None,
            last_customer_message_preview: String::new(),
            waiting_since: None,
            current_order_id: None,
            current_product_id: None,
        })
    }

    fn message(private: bool) -> Arc<Message> {
        Arc::new(Message {
            id: 1,
            conversation_id: 7,
            seq: 1,
            sender_type: SenderType::Agent,
            sender_id: Some(5),
            sender_name: "a".into(),
            body: "hi".into(),
            private,
            client_msg_id: None,
            created_at: Millis(0),
            kind: MessageKind::Text,
            payload: None,
        })
    }

    /// Who of these agents (user id, role) a delivery admits.
    fn admitted(d: &Delivery) -> Vec<Id> {
        [
            (5, Role::Agent),
            (6, Role::Agent),
            (7, Role::Supervisor),
            (8, Role::Admin),
        ]
        .into_iter()
        .filter(|(u, r)| d.agents.admits(*u, *r))
        .map(|(u, _)| u)
        .collect()
    }

    #[test]
    fn managers_see_all_agents_their_own_and_unassigned() {
        let assigned = deliveries(Event::ConversationCreated {
            conversation: conversation(Some(5)),
        });
        assert_eq!(admitted(&assigned[0]), vec![5, 7, 8]);
        let unassigned = deliveries(Event::ConversationCreated {
            conversation: conversation(None),
        });
        assert_eq!(admitted(&unassigned[0]), vec![5, 6, 7, 8]);
        assert_eq!(
            unassigned[0].shopper, None,
            "a new conversation is for agents"
        );
    }

    #[test]
    fn private_notes_never_reach_the_shopper() {
        let note = deliveries(Event::MessageCreated {
            conversation: conversation(Some(5)),
            message: message(true),
        });
        assert_eq!(note.len(), 1);
        assert_eq!(note[0].shopper, None);
        assert_eq!(admitted(&note[0]), vec![5, 7, 8]);
        let reply = deliveries(Event::MessageCreated {
            conversation: conversation(Some(5)),
            message: message(false),
        });
        assert_eq!(
            reply[0].shopper,
            Some(SHOPPER),
            "one frame for agents and shopper"
        );
    }

    #[test]
    fn the_previous_assignee_hears_of_a_handover_and_the_shopper_sees_no_internals() {
        let d = deliveries(Event::ConversationUpdated {
            conversation: conversation(Some(5)),
            previous_assignee: Some(6),
        });
        let to_agents = d.iter().find(|d| d.shopper.is_none()).unwrap();
        assert_eq!(admitted(to_agents), vec![5, 6, 7, 8]);
        let to_shopper = d.iter().find(|d| d.shopper == Some(SHOPPER)).unwrap();
        assert_eq!(to_shopper.agents, AgentAudience::Nobody);
        let json = serde_json::to_value(&to_shopper.frame).unwrap();
        assert_eq!(json["type"], "conversation.updated");
        assert_eq!(json["conversation"]["assignee_name"], "agent 5");
        assert!(json["conversation"].get("unread_count").is_none(), "{json}");
        assert!(json["conversation"].get("assignee_id").is_none(), "{json}");
    }

    #[test]
    fn typing_and_reads_go_to_the_other_side() {
        let from_shopper = deliveries(Event::Typing {
            conversation: conversation(Some(5)),
            sender_type: SenderType::Customer,
            sender_name: "c".into(),
        });
        assert_eq!(from_shopper[0].shopper, None);
        assert_eq!(admitted(&from_shopper[0]), vec![5, 7, 8]);
        let from_agent = deliveries(Event::Read {
            conversation: conversation(Some(5)),
            reader_type: SenderType::Agent,
            seq: 3,
        });
        assert_eq!(from_agent[0].shopper, Some(SHOPPER));
        assert!(admitted(&from_agent[0]).is_empty());
    }

    #[test]
    fn personal_notices_reach_one_agent() {
        let n = deliveries(Event::Notification {
            shop_id: SHOP,
            notification: Arc::new(Notification {
                id: 1,
                user_id: 6,
                kind: crate::sla_policies::NotificationKind::SlaBreach,
                ticket_id: None,
                text: String::new(),
                created_at: Millis(0),
                read_at: None,
            }),
        });
        assert_eq!(admitted(&n[0]), vec![6], "not even admins see another's");
        let status = deliveries(Event::AgentStatus {
            shop_id: SHOP,
            agent_id: 5,
            status: AgentStatus::Away,
            cause: None,
            note: None,
        });
        assert_eq!(admitted(&status[0]), vec![5, 6, 7, 8]);
    }

    fn suggestion(script_id: Id, owner_id: Option<Id>) -> Suggestion {
        Suggestion {
            script_id,
            title: format!("s{script_id}"),
            body: String::new(),
            category: String::new(),
            score: 1.0,
            owner_id,
        }
    }

    fn ids(frame: &ServerFrame) -> Vec<Id> {
        match frame {
            ServerFrame::Suggestions { suggestions, .. } => {
                suggestions.iter().map(|s| s.script_id).collect()
            }
            other => panic!("not suggestions: {other:?}"),
        }
    }

    #[test]
    fn personal_suggestions_reach_their_owner_only() {
        let d = deliveries(Event::Suggestions {
            conversation: conversation(None),
            message_id: 9,
            suggestions: Arc::new(vec![
                suggestion(1, Some(5)),
                suggestion(2, None),
                suggestion(3, Some(8)),
                suggestion(4, None),
                suggestion(5, None),
            ]),
        });
        let lists: Vec<(Vec<Id>, Vec<Id>)> =
            d.iter().map(|d| (admitted(d), ids(&d.frame))).collect();
        assert_eq!(
            lists,
            vec![
                (vec![5], vec![1, 2, 4]),
                (vec![8], vec![2, 3, 4]),
                (vec![6, 7], vec![2, 4, 5]),
            ]
        );
        let json = serde_json::to_string(&d[0].frame).unwrap();
        assert!(!json.contains("owner_id"), "{json}");
    }

    #[test]
    fn a_public_ticket_reply_tells_its_shopper_and_notes_do_not() {
        let ticket = |public_reply, shared_with_customer| {
            let t = Ticket {
                id: 3,
                shop_id: SHOP,
                number: 3,
                display_number: "T-000003".into(),
                subject: "s".into(),
                description: String::new(),
                customer: Some(CustomerRef {
                    id: SHOPPER,
                    name: "c".into(),
                }),
                category: None,
                priority: crate::tickets::Priority::Normal,
                status: crate::tickets::TicketStatus::Open,
                assignee_id: Some(6),
                assignee_name: None,
                team: None,
                channel: crate::tickets::TicketChannel::Api,
                shared_with_customer,
                custom_fields: Default::default(),
                tags: vec![],
                root_causes: vec![],
                handling_result: None,
                merged_into_id: None,
                created_by: None,
                created_at: Millis(0),
                updated_at: Millis(0),
                first_public_reply_at: None,
                resolved_at: None,
                closed_at: None,
                sla: None,
            };
            deliveries(Event::TicketChanged {
                ticket: Arc::new(t),
                created: false,
                previous_assignee: Some(5),
                public_reply,
            })
        };
        let reply = ticket(true, true);
        assert_eq!(reply.len(), 2);
        assert_eq!(reply[0].shopper, Some(SHOPPER));
        assert!(matches!(reply[0].frame, ServerFrame::TicketReply { .. }));
        assert_eq!(admitted(&reply[1]), vec![5, 6, 7, 8]);
        let note = ticket(false, true);
        assert_eq!(note.len(), 1);
        assert_eq!(note[0].shopper, None);
        // An internal ticket (not shared with its customer): agents only, whatever the reply.
        let internal = ticket(true, false);
        assert_eq!(internal.len(), 1);
        assert_eq!(internal[0].shopper, None);
    }

    #[test]
    fn an_ended_session_closes_only_its_own_sockets() {
        let d = deliveries(Event::SessionsEnded {
            shop_id: SHOP,
            user_id: 5,
            sessions: SessionSet::AllBut("kept".into()),
            reason: SessionEndReason::PasswordChanged,
        });
        assert_eq!(d.len(), 1);
        assert!(d[0].then_close);
        assert!(d[0].agents.admits_connection(5, Role::Agent, "other"));
        assert!(!d[0].agents.admits_connection(5, Role::Agent, "kept"));
        assert!(!d[0].agents.admits_connection(6, Role::Admin, "other"));
        assert_eq!(
            serde_json::to_value(&d[0].frame).unwrap(),
            serde_json::json!({"type": "session.ended", "reason": "password_changed"})
        );
        let logout = deliveries(Event::SessionsEnded {
            shop_id: SHOP,
            user_id: 5,
            sessions: SessionSet::Only("mine".into()),
            reason: SessionEndReason::LoggedOut,
        });
        assert!(logout[0].agents.admits_connection(5, Role::Agent, "mine"));
        assert!(!logout[0].agents.admits_connection(5, Role::Agent, "other"));
        // Ordinary audiences ignore the session.
        let status = deliveries(Event::AgentStatus {
            shop_id: SHOP,
            agent_id: 5,
            status: AgentStatus::Away,
            cause: None,
            note: None,
        });
        assert!(!status[0].then_close);
        assert!(status[0].agents.admits_connection(6, Role::Agent, "any"));
    }

    #[test]
    fn the_variant_table_follows_the_enum() {
        let frame = ServerFrame::TicketReply { ticket_id: 1 };
        assert!(
            ServerFrame::VARIANTS
                .iter()
                .any(|(name, tag, _)| *name == frame.variant() && *tag == "ticket.reply")
        );
        let json = serde_json::to_value(&frame).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "ticket.reply", "ticket_id": 1})
        );
    }
}
