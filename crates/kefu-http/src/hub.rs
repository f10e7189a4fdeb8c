//! The live hub: every connected WebSocket, and the single-node [`EventSink`].
//!
//! Who receives an event and in what frame is `kefu_core::frames::deliveries` (pure); the hub only
//! holds the sockets. Each connection owns a bounded queue of ready-to-send text frames. Publishing
//! serializes each delivery's frame once and `try_send`s it to each connection of its audience;
//! a connection whose queue is full is a slow or dead client and is dropped, so one bad socket can
//! never hold up the rest. Agents are indexed by shop, shoppers by customer, so a shopper's message
//! touches only their own sockets and their shop's agents.

use kefu_core::events::{Event, EventSink};
use kefu_core::frames::{AgentAudience, Delivery, deliveries};
use kefu_core::model::{Id, Role};
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
    /// The hash of the session token the socket was opened with: ending that session (logout,
    /// password change, deactivation) closes the socket.
    session: Arc<str>,
    tx: mpsc::Sender<Frame>,
}

struct VisitorConn {
    conn_id: u64,
    shop_id: Id,
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Connections {
    agents_by_shop: HashMap<Id, Vec<AgentConn>>,
    visitors_by_customer: HashMap<Id, Vec<VisitorConn>>,
    /// Shopper sockets per shop, so a shop-wide frame (`shop.presence`) to a shop without
    /// shoppers connected costs nothing.
    visitors_per_shop: HashMap<Id, usize>,
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

    /// Registers an agent's socket, opened with the session whose token hashes to `session`.
    pub fn register_agent(
        self: &Arc<Self>,
        shop_id: Id,
        user_id: Id,
        role: Role,
        session: &str,
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
                session: Arc::from(session),
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
        shop_id: Id,
        customer_id: Id,
    ) -> (Registration, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let conn_id = self.next_conn_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut c = self.write();
            c.visitors_by_customer
                .entry(customer_id)
                .or_default()
                .push(VisitorConn {
                    conn_id,
                    shop_id,
                    tx,
                });
            *c.visitors_per_shop.entry(shop_id).or_default() += 1;
        }
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
                let mut gone_from = None;
                if let Some(list) = c.visitors_by_customer.get_mut(&customer_id) {
                    if let Some(v) = list.iter().find(|v| v.conn_id == conn_id) {
                        gone_from = Some(v.shop_id);
                    }
                    list.retain(|v| v.conn_id != conn_id);
                    if list.is_empty() {
                        c.visitors_by_customer.remove(&customer_id);
                    }
                }
                if let Some(shop_id) = gone_from
                    && let Some(n) = c.visitors_per_shop.get_mut(&shop_id)
                {
                    *n -= 1;
                    if *n == 0 {
                        c.visitors_per_shop.remove(&shop_id);
                    }
                }
            }
        }
    }

    /// Sends `frame` to the shop's agents' connections for which `entitled(user_id, role,
    /// session)` holds; with `then_close`, those connections are dropped after it (their queue
    /// closes: the socket's writer sends what is queued, then a Close frame).
    fn to_agents(
        &self,
        shop_id: Id,
        frame: &Frame,
        then_close: bool,
        entitled: impl Fn(Id, Role, &str) -> bool,
    ) {
        let mut slow = Vec::new();
        let mut done = Vec::new();
        if let Some(list) = self.read().agents_by_shop.get(&shop_id) {
            for a in list
                .iter()
                .filter(|a| entitled(a.user_id, a.role, &a.session))
            {
                if a.tx.try_send(frame.clone()).is_err() {
                    slow.push(a.conn_id);
                } else if then_close {
                    done.push(a.conn_id);
                }
            }
        }
        for conn_id in slow {
            tracing::warn!(conn_id, "dropping a slow agent connection");
            self.remove(Key::Agent { shop_id }, conn_id);
        }
        for conn_id in done {
            self.remove(Key::Agent { shop_id }, conn_id);
        }
    }

    /// A member's role changed: their sockets are entitled by the new one from now on.
    fn set_role(&self, shop_id: Id, user_id: Id, role: Role) {
        if let Some(list) = self.write().agents_by_shop.get_mut(&shop_id) {
            for a in list.iter_mut().filter(|a| a.user_id == user_id) {
                a.role = role;
            }
        }
    }

    /// Sends `frame` to every shopper socket of the shop (rare shop-wide frames: a walk over the
    /// connected shoppers).
    fn to_shop_visitors(&self, shop_id: Id, frame: &Frame) {
        let mut slow = Vec::new();
        for (customer_id, list) in &self.read().visitors_by_customer {
            for v in list.iter().filter(|v| v.shop_id == shop_id) {
                if v.tx.try_send(frame.clone()).is_err() {
                    slow.push((*customer_id, v.conn_id));
                }
            }
        }
        for (customer_id, conn_id) in slow {
            tracing::warn!(conn_id, "dropping a slow shopper connection");
            self.remove(Key::Visitor { customer_id }, conn_id);
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

impl Hub {
    /// Whether anyone connected could receive an event of this shop and shopper (so a server
    /// without live clients does not frame events for nobody).
    fn anyone_for(&self, event: &Event) -> bool {
        let shop_id = event.shop_id();
        let c = self.read();
        if let Event::ShopPresence { .. } = event {
            return c.visitors_per_shop.contains_key(&shop_id);
        }
        c.agents_by_shop.contains_key(&shop_id)
            || event
                .shopper()
                .is_some_and(|id| c.visitors_by_customer.contains_key(&id))
    }

    /// Serialises the delivery's frame once, if anyone of its audience is connected, and queues
    /// it for each of them.
    fn deliver(&self, d: Delivery) {
        let (to_agents, to_shopper, to_shop) = {
            let c = self.read();
            (
                d.agents != AgentAudience::Nobody && c.agents_by_shop.contains_key(&d.shop_id),
                d.shopper
                    .filter(|id| c.visitors_by_customer.contains_key(id)),
                d.all_shoppers && c.visitors_per_shop.contains_key(&d.shop_id),
            )
        };
        if !to_agents && to_shopper.is_none() && !to_shop {
            return;
        }
        let frame: Frame = match serde_json::to_string(&d.frame) {
            Ok(text) => Arc::from(text),
            Err(e) => {
                tracing::error!(error = %e, frame = d.frame.variant(), "a live frame could not be serialised");
                return;
            }
        };
        if to_agents {
            self.to_agents(d.shop_id, &frame, d.then_close, |u, r, session| {
                d.agents.admits_connection(u, r, session)
            });
        }
        if let Some(customer_id) = to_shopper {
            self.to_visitor(customer_id, &frame);
        }
        if to_shop {
            self.to_shop_visitors(d.shop_id, &frame);
        }
    }
}

/// The hub is the single-node [`EventSink`]: who receives what is decided by
/// [`kefu_core::frames::deliveries`]; the hub only frames and queues.
impl EventSink for Hub {
    fn publish(&self, event: Event) {
        if !self.anyone_for(&event) {
            return;
        }
        if let Event::MembersChanged {
            shop_id,
            member_id: Some(member),
            role: Some(role),
        } = &event
        {
            self.set_role(*shop_id, *member, *role);
        }
        for d in deliveries(event) {
            self.deliver(d);
        }
    }

    fn reaches_agents(&self, shop_id: Id) -> bool {
        self.has_agents(shop_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_core::model::{
        Conversation, ConversationStatus, CustomerRef, Message, MessageKind, SenderType,
    };
    use kefu_core::suggestions::Suggestion;
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
            last_customer_message_preview: String::new(),
            waiting_since: None,
            current_order_id: None,
            current_product_id: None,
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
        let (_stalled, _never_read) = hub.register_visitor(1, 42);
        let (_agent, mut agent_rx) = hub.register_agent(1, 5, Role::Agent, "s5");
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
        let (_a, mut owner_rx) = hub.register_agent(1, 5, Role::Agent, "s5");
        let (_b, mut other_rx) = hub.register_agent(1, 6, Role::Admin, "s6");
        let (_c, mut other_shop_rx) = hub.register_agent(2, 7, Role::Admin, "s7");
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

    /// Ending a session closes exactly the sockets opened with it, after telling them why; a
    /// role change re-entitles the member's open sockets.
    #[tokio::test]
    async fn ended_sessions_close_their_sockets_only() {
        use kefu_core::members::{SessionEndReason, SessionSet};
        let hub = Hub::new();
        let (_a, mut phone) = hub.register_agent(1, 5, Role::Agent, "phone");
        let (_b, mut desk) = hub.register_agent(1, 5, Role::Agent, "desk");
        let (_c, mut colleague) = hub.register_agent(1, 6, Role::Agent, "other");
        hub.publish(Event::SessionsEnded {
            shop_id: 1,
            user_id: 5,
            sessions: SessionSet::AllBut("desk".into()),
            reason: SessionEndReason::PasswordChanged,
        });
        assert!(phone.recv().await.unwrap().contains("session.ended"));
        assert!(phone.recv().await.is_none(), "the phone's socket is closed");
        assert!(desk.try_recv().is_err());
        assert!(colleague.try_recv().is_err());
        assert_eq!(hub.counts(), (2, 0));
        // Agent 6 becomes a supervisor: an event of agent 5's conversation now reaches them.
        let mut c = (*conversation(42)).clone();
        c.assignee_id = Some(5);
        hub.publish(Event::MembersChanged {
            shop_id: 1,
            member_id: Some(6),
            role: Some(Role::Supervisor),
        });
        assert!(colleague.try_recv().unwrap().contains("member.updated"));
        hub.publish(Event::MessageCreated {
            conversation: Arc::new(c),
            message: message(3),
        });
        assert!(colleague.try_recv().unwrap().contains("message.created"));
    }

    #[test]
    fn private_notes_never_reach_shoppers() {
        let hub = Hub::new();
        let (_shopper, mut shopper_rx) = hub.register_visitor(1, 42);
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

    #[test]
    fn shop_presence_reaches_every_shopper_of_the_shop_only() {
        let hub = Hub::new();
        let (_a, mut a) = hub.register_visitor(1, 42);
        let (_b, mut b) = hub.register_visitor(1, 43);
        let (_c, mut c) = hub.register_visitor(2, 44);
        hub.publish(Event::ShopPresence {
            shop_id: 1,
            agents_online: false,
            open_now: true,
        });
        for rx in [&mut a, &mut b] {
            let frame = rx.try_recv().expect("a shopper of the shop hears it");
            assert!(
                frame.contains("\"shop.presence\"") && frame.contains("\"agents_online\":false")
            );
        }
        assert!(c.try_recv().is_err(), "another shop's shopper does not");
        // Once its shoppers are gone, the shop's frame is not even framed.
        drop((_a, _b));
        hub.publish(Event::ShopPresence {
            shop_id: 1,
            agents_online: true,
            open_now: true,
        });
        assert!(!hub.read().visitors_per_shop.contains_key(&1));
    }
}
