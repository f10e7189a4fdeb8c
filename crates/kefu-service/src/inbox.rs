//! Inbox flows (`kefu_core::inbox`): what a conversation is about — its current order and product,
//! set by the agent's pick, the shop page (`kefu.open({sku, order_no})`), a card the agent sent
//! or an order number the shopper named — and the notices that tell a shopper in the chat what
//! happened to their conversation, ticket or after-sales request.
//!
//! Like the other flows: store first, then publish (`conversation.updated`, `message.created`).
//! Detection and notices follow a change that is already committed, so a failure there is logged
//! and never undoes it.

use crate::access::visible_conversation;
use crate::cards::CardService;
use kefu_core::aftersales::AftersalesRequest;
use kefu_core::cards::{self, OrderCard, ProductCard};
use kefu_core::events::{Event, EventSink};
use kefu_core::inbox::{
    self, ContextChange, MAX_ORDER_NO_CHARS, MAX_SKU_CHARS, order_number_candidates, page_value,
};
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::tickets::{LinkKind, Ticket};
use kefu_core::{Error, Result};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// What the console shows of a conversation's current order and product: card snapshots.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationContext {
    pub order: Option<OrderCard>,
    pub product: Option<ProductCard>,
}

/// Conversations' current order and product, and the shopper's notices.
pub struct InboxService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    cards: Arc<CardService>,
}

impl InboxService {
    pub fn new(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        cards: Arc<CardService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            cards,
        })
    }

    /// Stores a context change and announces the conversation when it changed.
    async fn set_context(
        &self,
        shop_id: Id,
        conversation_id: Id,
        change: ContextChange,
        previous_assignee: Option<Id>,
    ) -> Result<(Conversation, bool)> {
        let set = self
            .store
            .set_conversation_context(shop_id, conversation_id, change)
            .await?;
        if set.changed {
            self.events.publish(Event::ConversationUpdated {
                conversation: Arc::new(set.conversation.clone()),
                previous_assignee,
            });
        }
        Ok((set.conversation, set.changed))
    }

    /// The agent picks (or clears) the order and/or product a conversation they may see is about.
    pub async fn agent_context(
        &self,
        agent: &User,
        conversation_id: Id,
        change: ContextChange,
    ) -> Result<Conversation> {
        if change.is_empty() {
            return Err(Error::validation(
                "order_id, product_id: give at least one of them",
            ));
        }
        visible_conversation(&*self.store, agent, conversation_id).await?;
        Ok(self
            .set_context(agent.shop_id, conversation_id, change, None)
            .await?
            .0)
    }

    /// The current order and product of a conversation the agent may see, as card snapshots
    /// (an order that is no longer the customer's, or a product gone, shows as none).
    pub async fn context_view(
        &self,
        agent: &User,
        conversation_id: Id,
    ) -> Result<ConversationContext> {
        let c = visible_conversation(&*self.store, agent, conversation_id).await?;
        let settings = self.store.reminder_settings(agent.shop_id).await?;
        let order = match c.current_order_id {
            Some(id) => self
                .cards
                .order_card(agent.shop_id, id, c.customer.id, &settings)
                .await
                .ok(),
            None => None,
        };
        let product = match c.current_product_id {
            Some(id) => self
                .cards
                .product_card(agent.shop_id, id, &settings)
                .await
                .ok(),
            None => None,
        };
        Ok(ConversationContext { order, product })
    }

    /// An agent sent a card: the conversation is now about that order or product. The card is
    /// stored, so a failure here is only logged.
    pub async fn card_sent(&self, agent: &User, conversation_id: Id, change: ContextChange) {
        if let Err(e) = self
            .set_context(agent.shop_id, conversation_id, change, None)
            .await
        {
            tracing::warn!(%e, conversation_id, "the card's order/product was not made current");
        }
    }

    /// After a shopper's message is committed: an order number of theirs in the text makes that
    /// order current. Off the shopper's response path (a spawned task), and only for messages
    /// that hold a candidate at all.
    pub fn after_shopper_message(self: &Arc<Self>, visitor: &Visitor, message: &Message) {
        let candidates = order_number_candidates(&message.body);
        if candidates.is_empty() {
            return;
        }
        let this = self.clone();
        let (shop_id, customer_id, conversation_id) = (
            visitor.shop_id,
            visitor.customer_id,
            message.conversation_id,
        );
        tokio::spawn(async move {
            let found = this
                .store
                .customer_order_by_numbers(shop_id, customer_id, &candidates)
                .await;
            let result = match found {
                Ok(Some(order_id)) => this
                    .set_context(
                        shop_id,
                        conversation_id,
                        ContextChange::order(order_id),
                        None,
                    )
                    .await
                    .map(|_| ()),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(%e, conversation_id, "the named order was not made current");
            }
        });
    }

    /// The shop page tells which product and/or order the shopper is looking at
    /// (`kefu.open({sku, order_no})`). With a conversation, it becomes the current one and a card
    /// of each that changed is shown in the chat; the answer's `conversation_id` is `None` when
    /// the shopper has no open conversation yet (none, or a resolved one): the widget sends it
    /// again after their next message.
    /// Another shop's SKU or another shopper's order answers as unknown.
    pub async fn shopper_context(
        &self,
        visitor: &Visitor,
        sku: Option<&str>,
        order_no: Option<&str>,
    ) -> Result<Option<Id>> {
        let sku = page_value("sku", sku, MAX_SKU_CHARS)?;
        let order_no = page_value("order_no", order_no, MAX_ORDER_NO_CHARS)?;
        if sku.is_none() && order_no.is_none() {
            return Err(Error::validation(
                "sku, order_no: give at least one of them",
            ));
        }
        let shop_id = visitor.shop_id;
        let product = match &sku {
            Some(sku) => Some(
                self.store
                    .product_by_sku(shop_id, sku)
                    .await?
                    .ok_or_else(|| Error::not_found("product"))?,
            ),
            None => None,
        };
        let order_id = match &order_no {
            Some(no) => Some(
                self.store
                    .customer_order_by_numbers(
                        shop_id,
                        visitor.customer_id,
                        std::slice::from_ref(no),
                    )
                    .await?
                    .ok_or_else(|| Error::invalid("order_no", "not one of your orders"))?,
            ),
            None => None,
        };
        // A resolved conversation is a finished inquiry: the next message reopens it about
        // something new (clearing its order and product), so the widget sends this again then.
        let Some(conversation) = self
            .store
            .customer_conversation(shop_id, visitor.customer_id)
            .await?
            .filter(|c| c.status != ConversationStatus::Resolved)
        else {
            return Ok(None);
        };
        let before = (
            conversation.current_order_id,
            conversation.current_product_id,
        );
        let change = ContextChange {
            order_id: order_id.map(Some),
            product_id: product.as_ref().map(|p| Some(p.id)),
        };
        let (after, changed) = self
            .set_context(shop_id, conversation.id, change, None)
            .await?;
        if changed {
            let settings = self.store.reminder_settings(shop_id).await?;
            if let Some(p) = &product
                && before.1 != Some(p.id)
            {
                let card = self.cards.product_card(shop_id, p.id, &settings).await?;
                self.post_card(
                    &after,
                    MessageKind::ProductCard,
                    cards::product_body(&card),
                    serde_json::to_value(&card),
                )
                .await?;
            }
            if let Some(id) = order_id
                && before.0 != Some(id)
            {
                let card = self
                    .cards
                    .order_card(shop_id, id, visitor.customer_id, &settings)
                    .await?;
                self.post_card(
                    &after,
                    MessageKind::OrderCard,
                    cards::order_body(&card),
                    serde_json::to_value(&card),
                )
                .await?;
            }
        }
        Ok(Some(conversation.id))
    }

    async fn post_card(
        &self,
        conversation: &Conversation,
        kind: MessageKind,
        body: String,
        payload: serde_json::Result<serde_json::Value>,
    ) -> Result<()> {
        let appended = self
            .store
            .append_context_card(
                conversation.shop_id,
                conversation.id,
                kind,
                &body,
                payload.map_err(Error::internal)?,
            )
            .await?;
        self.events.publish(Event::MessageCreated {
            conversation: Arc::new(appended.conversation),
            message: Arc::new(appended.message),
        });
        Ok(())
    }

    /// Tells a shopper something in their chat: a public `system` message in their current
    /// (latest) conversation, the one the widget shows. Nothing when they never chatted. Called
    /// after the change it reports is committed, so a failure is only logged.
    pub async fn notify_shopper(&self, shop_id: Id, customer_id: Id, text: &str) {
        let result = async {
            let Some(c) = self
                .store
                .customer_conversation(shop_id, customer_id)
                .await?
            else {
                return Ok(());
            };
            let noted = self
                .store
                .append_system_message(shop_id, c.id, text, false)
                .await?;
            self.events.publish(Event::MessageCreated {
                conversation: Arc::new(noted.conversation),
                message: Arc::new(noted.message),
            });
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(%e, customer_id, "the shopper's notice was not stored");
        }
    }

    /// A ticket was resolved: its shopper hears of it when the ticket is about a conversation and
    /// shared with them (an agent's internal ticket stays unknown to the shopper).
    pub async fn ticket_resolved(&self, ticket: &Ticket) {
        let Some(customer) = &ticket.customer else {
            return;
        };
        if !ticket.shared_with_customer {
            return;
        }
        match self.store.ticket_links(ticket.shop_id, ticket.id).await {
            Ok(links) if links.iter().any(|l| l.kind == LinkKind::Conversation) => {
                let text = inbox::ticket_resolved_notice(&ticket.display_number);
                self.notify_shopper(ticket.shop_id, customer.id, &text)
                    .await;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%e, ticket_id = ticket.id, "ticket links not read"),
        }
    }

    /// An after-sales request was opened or moved: its shopper hears of each step.
    pub async fn aftersales_step(&self, shop_id: Id, request: &AftersalesRequest) {
        if let Some(text) = inbox::aftersales_notice(request) {
            self.notify_shopper(shop_id, request.customer.id, &text)
                .await;
        }
    }
}
