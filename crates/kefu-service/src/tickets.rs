//! Ticket flows: who may see and change a ticket, creating one (console/API, from a conversation
//! with its transcript and order, from the widget with the shopper's own order), changes, replies,
//! bulk actions and merges. Every committed change goes through [`TicketHooks::changed`].
//!
//! Entitlement follows conversations: admins and supervisors see every ticket of the shop, agents
//! their own and the unassigned ones; anything else answers 404 like an unknown id. A shopper sees
//! only their own tickets and, in them, only public replies and their own.

use crate::access::visible_conversation;
use crate::ticket_hooks::{TicketChange, TicketChangeKind, TicketHooks};
use kefu_core::commerce::OrderQuery;
use kefu_core::frames::entitled;
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::tickets::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// Messages of a conversation carried into a ticket's transcript.
pub const TRANSCRIPT_MESSAGES: i64 = 500;

/// A ticket created from a conversation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct FromConversation {
    /// Defaults to "会话 #id：<customer>" .
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub category_id: Option<Id>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// The order the ticket is about (an order of the conversation's customer); the customer's
    /// latest order when omitted. `0` links no order.
    #[serde(default)]
    pub order_id: Option<Id>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Show the ticket to the shopper in the widget (internal by default).
    #[serde(default)]
    pub shared_with_customer: bool,
}

/// What a shopper reports from the widget.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ShopperReport {
    /// One of the shopper's own orders (picked or typed); another's is refused with 422.
    #[serde(default)]
    pub order_no: Option<String>,
    pub description: String,
    #[serde(default)]
    pub subject: Option<String>,
    /// Photos uploaded before with `POST /api/v1/widget/ticket-attachments`.
    #[serde(default)]
    pub attachment_ids: Vec<Id>,
}

/// A ticket as its shopper sees it (no internal fields).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopperTicket {
    pub id: Id,
    pub display_number: String,
    pub subject: String,
    pub description: String,
    pub status: TicketStatus,
    #[schema(value_type = String)]
    pub created_at: Millis,
    #[schema(value_type = String)]
    pub updated_at: Millis,
}

impl From<&Ticket> for ShopperTicket {
    fn from(t: &Ticket) -> Self {
        ShopperTicket {
            id: t.id,
            display_number: t.display_number.clone(),
            subject: t.subject.clone(),
            description: t.description.clone(),
            status: t.status,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

fn transcript_line(m: &Message) -> String {
    let at = m.created_at.to_rfc3339();
    let at = at.get(..16).unwrap_or(&at).replace('T', " ");
    let who = if m.sender_name.trim().is_empty() {
        match m.sender_type {
            SenderType::Customer => "顾客",
            SenderType::Agent => "客服",
            SenderType::Bot | SenderType::System => "系统",
        }
    } else {
        m.sender_name.as_str()
    };
    format!("[{at}] {who}: {}", m.body)
}

/// Whether an agent may see a ticket: the rule of conversations.
pub fn agent_sees_ticket(ticket: &Ticket, user_id: Id, role: Role) -> bool {
    entitled(ticket.assignee_id, user_id, role)
}

/// Tickets: visibility, creation, changes, replies, merges.
pub struct TicketService {
    store: Arc<dyn Store>,
    hooks: Arc<TicketHooks>,
}

impl TicketService {
    pub fn new(store: Arc<dyn Store>, hooks: Arc<TicketHooks>) -> Arc<Self> {
        Arc::new(Self { store, hooks })
    }

    /// The ticket if `agent` may see it; `not_found` otherwise.
    pub async fn visible_ticket(&self, agent: &User, id: Id) -> Result<Ticket> {
        let t = self
            .store
            .ticket(agent.shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("ticket"))?;
        if !agent_sees_ticket(&t, agent.id, agent.role) {
            return Err(Error::not_found("ticket"));
        }
        Ok(t)
    }

    /// The ticket a typed number names (`T-000005`, `t5`; a bare number is not taken, it may be
    /// an order or a phone), if `agent` may see it. Global search's jump to a record.
    pub async fn by_typed_number(&self, agent: &User, text: &str) -> Result<Option<Ticket>> {
        let t = text.trim();
        if !t.starts_with(['T', 't']) {
            return Ok(None);
        }
        let Some(n) = kefu_core::tickets::parse_number(t) else {
            return Ok(None);
        };
        Ok(self
            .store
            .ticket_by_number(agent.shop_id, n)
            .await?
            .filter(|t| agent_sees_ticket(t, agent.id, agent.role)))
    }

    /// The shopper's own ticket, when it is shared with them (they opened it, or an agent shared
    /// it); `not_found` for anyone else's and for an agent's internal ticket about them.
    pub async fn shopper_ticket(&self, visitor: &Visitor, id: Id) -> Result<Ticket> {
        let t = self
            .store
            .ticket(visitor.shop_id, id)
            .await?
            .ok_or_else(|| Error::not_found("ticket"))?;
        if t.customer.as_ref().map(|c| c.id) != Some(visitor.customer_id) || !t.shared_with_customer
        {
            return Err(Error::not_found("ticket"));
        }
        Ok(t)
    }

    /// The files of a shopper's ticket they may see: their own uploads and those sent with public
    /// replies, never the files an agent attached to the ticket or to an internal note.
    pub async fn shopper_attachments(
        &self,
        visitor: &Visitor,
        ticket_id: Id,
        public_entries: &[TicketEntry],
    ) -> Result<Vec<TicketAttachment>> {
        let files = self
            .store
            .ticket_attachments(visitor.shop_id, ticket_id)
            .await?;
        Ok(files
            .into_iter()
            .filter(|f| {
                let kind = f
                    .entry_id
                    .and_then(|e| public_entries.iter().find(|p| p.id == e))
                    .map(|p| p.kind);
                f.shopper_may_see(kind)
            })
            .collect())
    }

    /// Whether a ticket file may be downloaded by the ticket's shopper (the same rule as
    /// [`Self::shopper_attachments`]); `not_found` otherwise, as for any file not theirs.
    pub async fn shopper_file(&self, visitor: &Visitor, file: &TicketAttachment) -> Result<()> {
        let gone = || Error::not_found("attachment");
        let ticket_id = file.ticket_id.ok_or_else(gone)?;
        self.shopper_ticket(visitor, ticket_id)
            .await
            .map_err(|_| gone())?;
        let kind = match file.entry_id {
            Some(entry) => self.store.ticket_entry_kind(visitor.shop_id, entry).await?,
            None => None,
        };
        if file.shopper_may_see(kind) {
            Ok(())
        } else {
            Err(gone())
        }
    }

    /// An agent (console or API) creates a ticket.
    pub async fn create_ticket(
        &self,
        agent: &User,
        mut ticket: NewTicket,
        channel: TicketChannel,
        entries: Vec<(EntryKind, String)>,
    ) -> Result<Ticket> {
        ticket.validate()?;
        let actor = Actor::agent(agent.id);
        let created = self
            .store
            .create_ticket(
                agent.shop_id,
                &ticket,
                &TicketOrigin {
                    channel,
                    actor,
                    entries,
                },
            )
            .await?;
        self.announce_created(&created, actor).await;
        Ok(created)
    }

    async fn announce_created(&self, t: &Ticket, actor: Actor) {
        self.hooks
            .changed(&TicketChange {
                kind: TicketChangeKind::Created,
                before: None,
                after: t.clone(),
                changes: vec![],
                actor,
            })
            .await;
    }

    async fn announce_update(&self, u: TicketUpdate, actor: Actor) -> Ticket {
        if !u.changes.is_empty() {
            self.hooks
                .changed(&TicketChange {
                    kind: TicketChangeKind::FieldsChanged,
                    before: Some(u.before),
                    after: u.after.clone(),
                    changes: u.changes,
                    actor,
                })
                .await;
        }
        u.after
    }

    /// One click in a conversation: a ticket carrying the conversation's transcript (a system
    /// entry), linked to the conversation and to the order (named, else the conversation's
    /// current order, else the customer's latest).
    pub async fn ticket_from_conversation(
        &self,
        agent: &User,
        conversation_id: Id,
        req: FromConversation,
    ) -> Result<Ticket> {
        let conversation = visible_conversation(&*self.store, agent, conversation_id).await?;
        let shop_id = agent.shop_id;
        let customer = &conversation.customer;
        let order = match req.order_id {
            Some(0) => None,
            Some(order_id) => {
                let o = self
                    .store
                    .order_detail(shop_id, order_id)
                    .await?
                    .ok_or_else(|| Error::not_found("order"))?;
                if o.order.customer_id != customer.id {
                    return Err(Error::validation(
                        "order_id: not an order of this conversation's customer",
                    ));
                }
                Some((o.order.id, o.order.order_no))
            }
            // What the conversation is about (kefu_core::inbox) while it is still the
            // customer's, else their latest order.
            None => {
                let current = match conversation.current_order_id {
                    Some(id) => self
                        .store
                        .order_detail(shop_id, id)
                        .await?
                        .filter(|o| o.order.customer_id == customer.id)
                        .map(|o| (o.order.id, o.order.order_no)),
                    None => None,
                };
                match current {
                    Some(found) => Some(found),
                    None => self
                        .store
                        .customer_orders(shop_id, customer.id, 1)
                        .await?
                        .unwrap_or_default()
                        .into_iter()
                        .next()
                        .map(|o| (o.order.id, o.order.order_no)),
                }
            }
        };
        let messages = self
            .store
            .messages(shop_id, conversation_id, 0, TRANSCRIPT_MESSAGES, false)
            .await?;
        let mut transcript = format!("会话 #{conversation_id} 记录（{}）\n", customer.name);
        for m in &messages {
            transcript.push_str(&transcript_line(m));
            transcript.push('\n');
        }
        let transcript: String = transcript.chars().take(MAX_TRANSCRIPT_CHARS).collect();
        let subject =
            req.subject
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| match &order {
                    Some((_, no)) => format!("{}：订单 {no} 的问题", customer.name),
                    None => format!("{}：会话 #{conversation_id} 的问题", customer.name),
                });
        let description = req.description.unwrap_or_else(|| {
            messages
                .iter()
                .rev()
                .find(|m| m.sender_type == SenderType::Customer)
                .map(|m| m.body.chars().take(500).collect())
                .unwrap_or_default()
        });
        let mut links = vec![NewTicketLink {
            kind: LinkKind::Conversation,
            ref_id: conversation_id,
        }];
        if let Some((order_id, _)) = order {
            links.push(NewTicketLink {
                kind: LinkKind::Order,
                ref_id: order_id,
            });
        }
        let ticket = NewTicket {
            subject,
            description,
            customer_id: Some(customer.id),
            category_id: req.category_id,
            priority: req.priority,
            assignee_id: Some(agent.id),
            team_id: conversation.team.as_ref().map(|t| t.id),
            tags: req.tags,
            links,
            shared_with_customer: req.shared_with_customer,
            ..Default::default()
        };
        self.create_ticket(
            agent,
            ticket,
            TicketChannel::Conversation,
            vec![(EntryKind::System, transcript)],
        )
        .await
    }

    /// A change by an agent who may see the ticket.
    pub async fn patch_ticket(
        &self,
        agent: &User,
        id: Id,
        mut patch: TicketPatch,
    ) -> Result<Ticket> {
        patch.validate()?;
        if patch.is_empty() {
            return Err(Error::validation("nothing to change"));
        }
        self.visible_ticket(agent, id).await?;
        let actor = Actor::agent(agent.id);
        let u = self
            .store
            .update_ticket(agent.shop_id, id, &patch, actor)
            .await?;
        Ok(self.announce_update(u, actor).await)
    }

    /// A public reply or an internal note by an agent.
    pub async fn agent_ticket_entry(
        &self,
        agent: &User,
        ticket_id: Id,
        kind: EntryKind,
        body: String,
        attachment_ids: Vec<Id>,
    ) -> Result<TicketEntry> {
        if !matches!(kind, EntryKind::Public | EntryKind::Note) {
            return Err(Error::validation("kind: must be public or note"));
        }
        self.visible_ticket(agent, ticket_id).await?;
        let mut entry = NewEntry {
            kind,
            actor: Actor::agent(agent.id),
            body,
            attachment_ids,
        };
        entry.validate()?;
        let added = self
            .store
            .add_ticket_entry(agent.shop_id, ticket_id, &entry)
            .await?;
        Ok(self.announce_entry(added, entry.actor).await)
    }

    async fn announce_entry(&self, added: EntryAdded, actor: Actor) -> TicketEntry {
        let entry_id = added.entry.id;
        let kind = match added.entry.kind {
            EntryKind::Public => TicketChangeKind::PublicReply { entry_id },
            EntryKind::Customer => TicketChangeKind::CustomerReply { entry_id },
            _ => TicketChangeKind::Note { entry_id },
        };
        self.hooks
            .changed(&TicketChange {
                kind,
                before: Some(added.before),
                after: added.after,
                changes: added.changes,
                actor,
            })
            .await;
        added.entry
    }

    /// The shopper answers on their own ticket.
    pub async fn shopper_ticket_reply(
        &self,
        visitor: &Visitor,
        ticket_id: Id,
        body: String,
        attachment_ids: Vec<Id>,
    ) -> Result<TicketEntry> {
        self.shopper_ticket(visitor, ticket_id).await?;
        let mut entry = NewEntry {
            kind: EntryKind::Customer,
            actor: Actor::customer(visitor.customer_id),
            body,
            attachment_ids,
        };
        entry.validate()?;
        let added = self
            .store
            .add_ticket_entry(visitor.shop_id, ticket_id, &entry)
            .await?;
        Ok(self.announce_entry(added, entry.actor).await)
    }

    /// The shopper reports a problem from the widget. An order number must be one of their own.
    pub async fn shopper_report(&self, visitor: &Visitor, req: ShopperReport) -> Result<Ticket> {
        if visitor.blocked {
            return Err(Error::new(
                kefu_core::ErrorCode::Blocked,
                "this shopper may not report problems",
            ));
        }
        let description = req.description.trim().to_owned();
        if description.is_empty() {
            return Err(Error::validation("description: tell us what went wrong"));
        }
        let order = match req
            .order_no
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(no) => {
                if no.chars().count() > 64 {
                    return Err(Error::validation("order_no: not one of your orders"));
                }
                let found = self
                    .store
                    .list_orders(
                        visitor.shop_id,
                        &OrderQuery {
                            customer_id: Some(visitor.customer_id),
                            q: Some(no.to_owned()),
                            limit: 20,
                            ..Default::default()
                        },
                    )
                    .await?;
                let o = found
                    .into_iter()
                    .find(|o| o.order_no == no)
                    .ok_or_else(|| Error::validation("order_no: not one of your orders"))?;
                Some((o.id, o.order_no))
            }
        };
        let subject =
            req.subject
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| match &order {
                    Some((_, no)) => format!("订单 {no} 的问题"),
                    None => description.chars().take(30).collect(),
                });
        let mut ticket = NewTicket {
            subject,
            description,
            customer_id: Some(visitor.customer_id),
            links: order
                .iter()
                .map(|(id, _)| NewTicketLink {
                    kind: LinkKind::Order,
                    ref_id: *id,
                })
                .collect(),
            attachment_ids: req.attachment_ids,
            ..Default::default()
        };
        ticket.validate()?;
        let actor = Actor::customer(visitor.customer_id);
        let created = self
            .store
            .create_ticket(
                visitor.shop_id,
                &ticket,
                &TicketOrigin {
                    channel: TicketChannel::Widget,
                    actor,
                    entries: vec![],
                },
            )
            .await?;
        self.announce_created(&created, actor).await;
        Ok(created)
    }

    /// Merges `sources` into `target`; every ticket must be visible to the agent.
    pub async fn merge_tickets(
        &self,
        agent: &User,
        target: Id,
        sources: Vec<Id>,
    ) -> Result<Ticket> {
        self.visible_ticket(agent, target).await?;
        for s in &sources {
            self.visible_ticket(agent, *s).await?;
        }
        let actor = Actor::agent(agent.id);
        let merged = self
            .store
            .merge_tickets(agent.shop_id, target, &sources, actor)
            .await?;
        for s in merged.sources {
            self.announce_update(s, actor).await;
        }
        Ok(self.announce_update(merged.target, actor).await)
    }

    /// A link, compensation or other side record changed the ticket: announce it as a field change.
    pub async fn ticket_touched(&self, agent: &User, before: Ticket, field: &str) {
        if let Ok(Some(after)) = self.store.ticket(agent.shop_id, before.id).await {
            self.hooks
                .changed(&TicketChange {
                    kind: TicketChangeKind::FieldsChanged,
                    before: Some(before),
                    after,
                    changes: vec![FieldChange {
                        field: field.to_owned(),
                        old_value: None,
                        new_value: None,
                    }],
                    actor: Actor::agent(agent.id),
                })
                .await;
        }
    }
}
