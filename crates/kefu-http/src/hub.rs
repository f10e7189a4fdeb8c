//! The live hub: every connected WebSocket, and the fan-out of [`Event`]s to those entitled to them.
//!
//! Each connection owns a bounded queue of ready-to-send text frames. Publishing serializes an event
//! once per audience (agents, shopper) and `try_send`s the shared frame to each entitled connection;
//! a connection whose queue is full is a slow or dead client and is dropped, so one bad socket can
//! never hold up the rest. Agents are indexed by shop, shoppers by customer, so a shopper's message
//! touches only their own sockets and their shop's agents.

use kefu_core::events::{Event, EventSink};
use kefu_core::model::{Conversation, Id, Role, SenderType};
use kefu_core::suggestions::Suggestion;
use kefu_core::tickets::Ticket;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// A serialized text frame, shared by every connection it goes to.
pub type Frame = Arc<str>;

/// Frames a connection may have waiting before it counts as too slow and is dropped.
pub const CONNECTION_QUEUE: usize = 512;

struct AgentConn {
    conn_id: u64,
    user_id: Id,
    role: Role,
    tx: mpsc::Sender<Frame>,
}

struct VisitorConn {
    conn_id: u64,
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Connections {
    agents_by_shop: HashMap<Id, Vec<AgentConn>>,
    visitors_by_customer: HashMap<Id, Vec<VisitorConn>>,
}

#[derive(Default)]
pub struct Hub {
    connections: RwLock<Connections>,
    next_conn_id: AtomicU64,
}

/// Removes its connection from the hub when dropped (the socket task ends).
pub struct Registration {
    hub: Arc<Hub>,
    conn_id: u64,
    key: Key,
}

#[derive(Clone, Copy)]
enum Key {
    Agent { shop_id: Id },
    Visitor { customer_id: Id },
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.remove(self.key, self.conn_id);
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Hub::default())
    }

    pub fn register_agent(
        self: &Arc<Self>,
        shop_id: Id,
        user_id: Id,
        role: Role,
    ) -> (Registration, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let conn_id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        self.write()
            .agents_by_shop
            .entry(shop_id)
            .or_default()
            .push(AgentConn {
                conn_id,
                user_id,
                role,
                tx,
            });
        (
            Registration {
                hub: self.clone(),
                conn_id,
                key: Key::Agent { shop_id },
            },
            rx,
        )
    }

    pub fn register_visitor(
        self: &Arc<Self>,
        customer_id: Id,
    ) -> (Registration, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let conn_id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        self.write()
            .visitors_by_customer
            .entry(customer_id)
            .or_default()
            .push(VisitorConn { conn_id, tx });
        (
            Registration {
                hub: self.clone(),
                conn_id,
                key: Key::Visitor { customer_id },
            },
            rx,
        )
    }

    /// Whether any agent of the shop is connected.
    pub fn has_agents(&self, shop_id: Id) -> bool {
        self.read().agents_by_shop.contains_key(&shop_id)
    }

    /// Live connections (agents, shoppers), for metrics and tests.
    pub fn counts(&self) -> (usize, usize) {
        let c = self.read();
        (
            c.agents_by_shop.values().map(Vec::len).sum(),
            c.visitors_by_customer.values().map(Vec::len).sum(),
        )
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Connections> {
        self.connections.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Connections> {
        self.connections.write().unwrap_or_else(|p| p.into_inner())
    }

    fn remove(&self, key: Key, conn_id: u64) {
        let mut c = self.write();
        match key {
            Key::Agent { shop_id } => {
                if let Some(list) = c.agents_by_shop.get_mut(&shop_id) {
                    list.retain(|a| a.conn_id != conn_id);
                    if list.is_empty() {
                        c.agents_by_shop.remove(&shop_id);
                    }
                }
            }
            Key::Visitor { customer_id } => {
                if let Some(list) = c.visitors_by_customer.get_mut(&customer_id) {
                    list.retain(|v| v.conn_id != conn_id);
                    if list.is_empty() {
                        c.visitors_by_customer.remove(&customer_id);
                    }
                }
            }
        }
    }

    /// Sends `frame` to the shop's agents for whom `entitled(user_id, role)` holds.
    fn to_agents(&self, shop_id: Id, frame: &Frame, entitled: impl Fn(Id, Role) -> bool) {
        let mut slow = Vec::new();
        if let Some(list) = self.read().agents_by_shop.get(&shop_id) {
            for a in list.iter().filter(|a| entitled(a.user_id, a.role)) {
                if a.tx.try_send(frame.clone()).is_err() {
                    slow.push(a.conn_id);
                }
            }
        }
        for conn_id in slow {
            tracing::warn!(conn_id, "dropping a slow agent connection");
            self.remove(Key::Agent { shop_id }, conn_id);
        }
    }

    fn to_visitor(&self, customer_id: Id, frame: &Frame) {
        let mut slow = Vec::new();
        if let Some(list) = self.read().visitors_by_customer.get(&customer_id) {
            for v in list {
                if v.tx.try_send(frame.clone()).is_err() {
                    slow.push(v.conn_id);
                }
            }
        }
        for conn_id in slow {
            tracing::warn!(conn_id, "dropping a slow shopper connection");
            self.remove(Key::Visitor { customer_id }, conn_id);
        }
    }
}

/// Whether an agent may see a conversation: admins and supervisors see the whole shop, agents see
/// their own and the unassigned ones.
pub fn agent_sees(conversation: &Conversation, user_id: Id, role: Role) -> bool {
    role.sees_whole_shop()
        || conversation.assignee_id.is_none()
        || conversation.assignee_id == Some(user_id)
}

/// Whether an agent may see a ticket: the same rule as conversations (admins and supervisors the
/// whole shop, agents their own and the unassigned ones).
pub fn agent_sees_ticket(ticket: &Ticket, user_id: Id, role: Role) -> bool {
    role.sees_whole_shop() || ticket.assignee_id.is_none() || ticket.assignee_id == Some(user_id)
}

fn frame(value: serde_json::Value) -> Frame {
    Arc::from(value.to_string())
}

/// What shoppers may know of their conversation (no internal fields).
fn shopper_view(c: &Conversation) -> serde_json::Value {
    json!({"id": c.id, "status": c.status, "assignee_name": c.assignee_name, "queue_position": c.queue_position})
}

impl Hub {
    /// Whether anyone connected could receive an event of this shop and shopper (so a server
    /// without live clients does not serialize frames for nobody).
    fn anyone_for(&self, shop_id: Id, customer_id: Option<Id>) -> bool {
        let c = self.read();
        c.agents_by_shop.contains_key(&shop_id)
            || customer_id.is_some_and(|id| c.visitors_by_customer.contains_key(&id))
    }
}

impl EventSink for Hub {
    fn publish(&self, event: Event) {
        let audience = match &event {
            Event::MessageCreated { conversation, .. }
            | Event::ConversationCreated { conversation }
            | Event::ConversationUpdated { conversation, .. }
            | Event::Typing { conversation, .. }
            | Event::Read { conversation, .. } => {
                self.anyone_for(conversation.shop_id, Some(conversation.customer.id))
            }
            Event::QueuePosition {
                shop_id,
                customer_id,
                ..
            } => self.anyone_for(*shop_id, Some(*customer_id)),
            Event::AgentStatus { shop_id, .. }
            | Event::CustomerUpdated { shop_id, .. }
            | Event::OrdersChanged { shop_id, .. }
            | Event::Mention { shop_id, .. } => self.anyone_for(*shop_id, None),
            Event::Suggestions { conversation, .. } => self.anyone_for(conversation.shop_id, None),
            Event::TicketChanged { ticket, .. } => {
                self.anyone_for(ticket.shop_id, ticket.customer.as_ref().map(|c| c.id))
            }
        };
        if !audience {
            return;
        }
        match event {
            Event::MessageCreated {
                conversation,
                message,
            } => {
                let f = frame(json!({
                    "type": "message.created",
                    "conversation_id": conversation.id,
                    "message": &*message,
                }));
                self.to_agents(conversation.shop_id, &f, |u, r| {
                    agent_sees(&conversation, u, r)
                });
                if !message.private {
                    self.to_visitor(conversation.customer.id, &f);
                }
            }
            Event::ConversationCreated { conversation } => {
                let f =
                    frame(json!({"type": "conversation.created", "conversation": &*conversation}));
                self.to_agents(conversation.shop_id, &f, |u, r| {
                    agent_sees(&conversation, u, r)
                });
            }
            Event::ConversationUpdated {
                conversation,
                previous_assignee,
            } => {
                let f =
                    frame(json!({"type": "conversation.updated", "conversation": &*conversation}));
                self.to_agents(conversation.shop_id, &f, |u, r| {
                    agent_sees(&conversation, u, r) || previous_assignee == Some(u)
                });
                let f = frame(
                    json!({"type": "conversation.updated", "conversation": shopper_view(&conversation)}),
                );
                self.to_visitor(conversation.customer.id, &f);
            }
            Event::Typing {
                conversation,
                sender_type,
                sender_name,
            } => {
                let f = frame(json!({
                    "type": "typing",
                    "conversation_id": conversation.id,
                    "sender_type": sender_type,
                    "sender_name": sender_name,
                }));
                if sender_type == SenderType::Customer {
                    self.to_agents(conversation.shop_id, &f, |u, r| {
                        agent_sees(&conversation, u, r)
                    });
                } else {
                    self.to_visitor(conversation.customer.id, &f);
                }
            }
            Event::Read {
                conversation,
                reader_type,
                seq,
            } => {
                let f = frame(json!({
                    "type": "read",
                    "conversation_id": conversation.id,
                    "reader_type": reader_type,
                    "seq": seq,
                }));
                if reader_type == SenderType::Customer {
                    self.to_agents(conversation.shop_id, &f, |u, r| {
                        agent_sees(&conversation, u, r)
                    });
                } else {
                    self.to_visitor(conversation.customer.id, &f);
                }
            }
            Event::QueuePosition {
                customer_id,
                conversation_id,
                position,
                ..
            } => {
                let f = frame(json!({
                    "type": "queue.position",
                    "conversation_id": conversation_id,
                    "position": position,
                }));
                self.to_visitor(customer_id, &f);
            }
            Event::AgentStatus {
                shop_id,
                agent_id,
                status,
            } => {
                let f =
                    frame(json!({"type": "agent.status", "agent_id": agent_id, "status": status}));
                self.to_agents(shop_id, &f, |_, _| true);
            }
            Event::CustomerUpdated {
                shop_id,
                customer_id,
                merged_into,
            } => {
                // Every agent of the shop may read customers, so all of them hear of changes.
                let f = frame(json!({
                    "type": "customer.updated",
                    "customer_id": customer_id,
                    "merged_into": merged_into,
                }));
                self.to_agents(shop_id, &f, |_, _| true);
            }
            Event::OrdersChanged {
                shop_id,
                customer_id,
            } => {
                let f = frame(json!({
                    "type": "orders.changed",
                    "customer_id": customer_id,
                }));
                self.to_agents(shop_id, &f, |_, _| true);
            }
            Event::Mention {
                shop_id,
                agent_id,
                mention,
            } => {
                let f = frame(json!({
                    "type": "mention",
                    "id": mention.id,
                    "conversation_id": mention.conversation_id,
                    "message_id": mention.message_id,
                    "by": &mention.by,
                    "excerpt": &mention.excerpt,
                    "customer": &mention.customer,
                    "created_at": mention.created_at,
                }));
                self.to_agents(shop_id, &f, |u, _| u == agent_id);
            }
            Event::Suggestions {
                conversation,
                message_id,
                suggestions,
            } => self.suggestions_to_agents(&conversation, message_id, &suggestions),
            Event::TicketChanged {
                ticket,
                created,
                previous_assignee,
                public_reply,
            } => {
                let kind = if created {
                    "ticket.created"
                } else {
                    "ticket.updated"
                };
                let f = frame(json!({"type": kind, "ticket": &*ticket}));
                self.to_agents(ticket.shop_id, &f, |u, r| {
                    agent_sees_ticket(&ticket, u, r) || previous_assignee == Some(u)
                });
                if public_reply && let Some(customer) = &ticket.customer {
                    // The shopper learns only that their ticket has a new reply; the widget
                    // reads it with its own token.
                    let f = frame(json!({"type": "ticket.reply", "ticket_id": ticket.id}));
                    self.to_visitor(customer.id, &f);
                }
            }
        }
    }
}

/// Suggestions shown per shopper message.
pub const SUGGESTIONS_SHOWN: usize = 3;

/// The first [`SUGGESTIONS_SHOWN`] suggestions meant for `agent`: shop-wide scripts and the agent's
/// own personal ones (another agent's personal script is never shown).
pub fn suggestions_for(suggestions: &[Suggestion], agent: Id) -> Vec<&Suggestion> {
    suggestions
        .iter()
        .filter(|s| s.owner_id.is_none_or(|o| o == agent))
        .take(SUGGESTIONS_SHOWN)
        .collect()
}

impl Hub {
    /// Each entitled agent gets the top suggestions meant for them. Agents whose lists are the same
    /// (no personal script among them, the usual case) share one serialized frame.
    fn suggestions_to_agents(
        &self,
        conversation: &Conversation,
        message_id: Id,
        suggestions: &[Suggestion],
    ) {
        let shared = suggestions_for(suggestions, 0);
        let shared_frame = suggestions_frame(conversation.id, message_id, &shared);
        let has_personal = suggestions.iter().any(|s| s.owner_id.is_some());
        let mut slow = Vec::new();
        if let Some(list) = self.read().agents_by_shop.get(&conversation.shop_id) {
            for a in list
                .iter()
                .filter(|a| agent_sees(conversation, a.user_id, a.role))
            {
                let own;
                let f = if has_personal && suggestions.iter().any(|s| s.owner_id == Some(a.user_id))
                {
                    own = suggestions_frame(
                        conversation.id,
                        message_id,
                        &suggestions_for(suggestions, a.user_id),
                    );
                    &own
                } else {
                    &shared_frame
                };
                if a.tx.try_send(f.clone()).is_err() {
                    slow.push(a.conn_id);
                }
            }
        }
        for conn_id in slow {
            tracing::warn!(conn_id, "dropping a slow agent connection");
            self.remove(
                Key::Agent {
                    shop_id: conversation.shop_id,
                },
                conn_id,
            );
        }
    }
}

fn suggestions_frame(conversation_id: Id, message_id: Id, list: &[&Suggestion]) -> Frame {
    frame(json!({
        "type": "suggestions",
        "conversation_id": conversation_id,
        "message_id": message_id,
        "suggestions": list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_core::model::{ConversationStatus, CustomerRef, Message, MessageKind};
    use kefu_core::time::Millis;

    fn conversation(customer_id: Id) -> Arc<Conversation> {
        Arc::new(Conversation {
            id: 7,
            shop_id: 1,
            status: ConversationStatus::Open,
            assignee_id: None,
            assignee_name: None,
            team: None,
            customer: CustomerRef {
                id: customer_id,
                name: "c".into(),
            },
            last_seq: 1,
            last_message_at: Millis(0),
            last_message_preview: String::new(),
            unread_count: 0,
            customer_read_seq: 0,
            agent_read_seq: 0,
            queue_position: None,
            created_at: Millis(0),
            tags: vec![],
            snoozed_until: None,
        })
    }

    fn message(seq: i64) -> Arc<Message> {
        Arc::new(Message {
            id: seq,
            conversation_id: 7,
            seq,
            sender_type: SenderType::Customer,
            sender_id: Some(42),
            sender_name: "c".into(),
            body: "hi".into(),
            private: false,
            client_msg_id: None,
            created_at: Millis(0),
            kind: MessageKind::Text,
            payload: None,
        })
    }

    /// A client that never reads fills its queue and is dropped; everyone else keeps receiving,
    /// and publishing never waits.
    #[test]
    fn a_stalled_socket_is_dropped_without_holding_up_others() {
        let hub = Hub::new();
        let (_stalled, _never_read) = hub.register_visitor(42);
        let (_agent, mut agent_rx) = hub.register_agent(1, 5, Role::Agent);
        let c = conversation(42);
        for seq in 0..(CONNECTION_QUEUE as i64 + 10) {
            hub.publish(Event::MessageCreated {
                conversation: c.clone(),
                message: message(seq),
            });
            // The agent drains as a healthy client would.
            assert!(agent_rx.try_recv().is_ok(), "the agent got message {seq}");
        }
        assert_eq!(
            hub.counts(),
            (1, 0),
            "the stalled shopper socket was dropped"
        );
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

    fn ids(frame: &str) -> Vec<i64> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["script_id"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn personal_suggestions_reach_their_owner_only() {
        let hub = Hub::new();
        let (_a, mut owner_rx) = hub.register_agent(1, 5, Role::Agent);
        let (_b, mut other_rx) = hub.register_agent(1, 6, Role::Admin);
        let (_c, mut other_shop_rx) = hub.register_agent(2, 7, Role::Admin);
        hub.publish(Event::Suggestions {
            conversation: conversation(42),
            message_id: 9,
            suggestions: Arc::new(vec![
                suggestion(1, Some(5)),
                suggestion(2, None),
                suggestion(3, Some(6)),
                suggestion(4, None),
                suggestion(5, None),
            ]),
        });
        let owner_frame = owner_rx.try_recv().unwrap();
        assert_eq!(ids(&owner_frame), vec![1, 2, 4]);
        assert!(!owner_frame.contains("owner_id"), "{owner_frame}");
        assert_eq!(ids(&other_rx.try_recv().unwrap()), vec![2, 3, 4]);
        assert!(other_shop_rx.try_recv().is_err());
    }

    #[test]
    fn private_notes_never_reach_shoppers() {
        let hub = Hub::new();
        let (_shopper, mut shopper_rx) = hub.register_visitor(42);
        let mut note = (*message(1)).clone();
        note.private = true;
        hub.publish(Event::MessageCreated {
            conversation: conversation(42),
            message: Arc::new(note),
        });
        assert!(shopper_rx.try_recv().is_err());
        hub.publish(Event::MessageCreated {
            conversation: conversation(42),
            message: message(2),
        });
        assert!(shopper_rx.try_recv().is_ok());
    }
}
