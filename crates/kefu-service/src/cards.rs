//! Commerce in the conversation: product and order cards and payment reminders (催付). Like
//! [`crate::chat`], each flow stores first (durably), then publishes.

use crate::access::{agent_sees, visible_conversation};
use crate::sent::Sent;
use kefu_core::cards::{self, OrderCard, ProductCard};
use kefu_core::events::{Event, EventSink};
use kefu_core::model::*;
use kefu_core::reminders::{
    self, HOUR_MS, NewReminder, Reminder, ReminderOutcome, ReminderSettings, TemplateContext,
};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::sync::Arc;

/// Which card to send.
pub enum CardTarget {
    Product(Id),
    Order(Id),
}

/// Cards and payment reminders.
pub struct CardService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
}

impl CardService {
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(Self { store, events })
    }

    /// A product card with the shop's link filled in; `not_found` for another shop's product.
    pub async fn product_card(
        &self,
        shop_id: Id,
        product_id: Id,
        settings: &ReminderSettings,
    ) -> Result<ProductCard> {
        let p = self
            .store
            .card_product(shop_id, product_id)
            .await?
            .ok_or_else(|| Error::not_found("product"))?;
        let id = p.id.to_string();
        Ok(ProductCard {
            product_id: p.id,
            url: cards::fill_link(
                &settings.product_url_template,
                &[("sku", &p.sku), ("product_id", &id)],
            ),
            sku: p.sku,
            name: p.name,
            image_url: p.image_url,
            price_cents: p.price_cents,
            currency: p.currency,
        })
    }

    /// An order card of `customer_id`'s order: `not_found` for another shop's (or unknown) order,
    /// `validation_failed` for another customer's.
    pub async fn order_card(
        &self,
        shop_id: Id,
        order_id: Id,
        customer_id: Id,
        settings: &ReminderSettings,
    ) -> Result<OrderCard> {
        let found = self
            .store
            .order_for_card(shop_id, order_id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        if found.customer_id != customer_id {
            return Err(Error::validation(
                "order_id: the order belongs to another customer than this conversation's",
            ));
        }
        let mut card = found.card;
        let id = card.order_id.to_string();
        card.url = cards::fill_link(
            &settings.order_url_template,
            &[("order_no", &card.order_no), ("order_id", &id)],
        );
        Ok(card)
    }

    /// An agent sends a product or order card into a conversation they may see.
    pub async fn agent_card(
        &self,
        agent: &User,
        conversation_id: Id,
        target: CardTarget,
        client_msg_id: &str,
    ) -> Result<Sent> {
        validate_client_msg_id(client_msg_id)?;
        let conversation = visible_conversation(&*self.store, agent, conversation_id).await?;
        let settings = self.store.reminder_settings(agent.shop_id).await?;
        let (kind, body, payload) = match target {
            CardTarget::Product(id) => {
                let card = self.product_card(agent.shop_id, id, &settings).await?;
                (
                    MessageKind::ProductCard,
                    cards::product_body(&card),
                    serde_json::to_value(&card),
                )
            }
            CardTarget::Order(id) => {
                let card = self
                    .order_card(agent.shop_id, id, conversation.customer.id, &settings)
                    .await?;
                (
                    MessageKind::OrderCard,
                    cards::order_body(&card),
                    serde_json::to_value(&card),
                )
            }
        };
        let appended = self
            .store
            .append_agent_message(AgentMessage {
                shop_id: agent.shop_id,
                conversation_id,
                agent,
                body: &body,
                client_msg_id,
                private: false,
                kind,
                payload: Some(payload.map_err(Error::internal)?),
            })
            .await?;
        if !appended.duplicate {
            self.events.publish(Event::MessageCreated {
                conversation: Arc::new(appended.conversation),
                message: Arc::new(appended.message.clone()),
            });
        }
        Ok(Sent {
            message: appended.message,
            duplicate: appended.duplicate,
        })
    }

    /// Unpaid orders whose buyers consulted within the window; agents (not supervisors) see only
    /// those whose conversation they may work on.
    pub async fn reminder_candidates(
        &self,
        agent: &User,
        window_hours: i64,
        limit: i64,
    ) -> Result<Vec<reminders::ReminderCandidate>> {
        let since = Millis(Millis::now().0 - window_hours * HOUR_MS);
        let mut found = self
            .store
            .reminder_candidates(agent.shop_id, since, limit)
            .await?;
        if !agent.role.sees_whole_shop() {
            found.retain(|c| c.conversation_assignee_id.is_none_or(|a| a == agent.id));
        }
        Ok(found)
    }

    /// Sends a payment reminder for an unpaid order into its buyer's current conversation: the
    /// template's text, then the order card; records it. `conflict` when the order was reminded
    /// within the outcome window, unless `force`.
    pub async fn send_reminder(
        &self,
        agent: &User,
        order_id: Id,
        template_id: Option<Id>,
        force: bool,
    ) -> Result<Reminder> {
        let shop_id = agent.shop_id;
        let settings = self.store.reminder_settings(shop_id).await?;
        let found = self
            .store
            .order_for_card(shop_id, order_id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        if !kefu_core::reminders::awaiting_payment(&found.card.payment_status, &found.card.status) {
            return Err(Error::validation(format!(
                "order_id: the order is {} / {}, not awaiting payment",
                found.card.payment_status, found.card.status
            )));
        }
        let conversation = self
            .store
            .customer_conversation(shop_id, found.customer_id)
            .await?
            .ok_or_else(|| {
                Error::validation("order_id: the buyer has no conversation to send a reminder into")
            })?;
        if !agent_sees(&conversation, agent.id, agent.role) {
            return Err(Error::not_found("conversation"));
        }
        let templates = self.store.reminder_templates(shop_id).await?;
        let template = match template_id {
            Some(id) => templates.iter().find(|t| t.id == id),
            None => templates
                .iter()
                .find(|t| t.is_default)
                .or(templates.first()),
        }
        .ok_or_else(|| Error::not_found("template"))?;
        let shop = self
            .store
            .shop_by_id(shop_id)
            .await?
            .ok_or_else(|| Error::not_found("shop"))?;
        let card = self
            .order_card(shop_id, order_id, found.customer_id, &settings)
            .await?;
        let text = reminders::render(
            &template.body,
            &TemplateContext {
                customer_name: &conversation.customer.name,
                shop_name: &shop.name,
                order: &card,
            },
        );
        let now = Millis::now();
        let sent = self
            .store
            .send_reminder(NewReminder {
                shop_id,
                order_id,
                customer_id: found.customer_id,
                conversation_id: conversation.id,
                agent,
                template_id: Some(template.id),
                text: &text,
                card_body: &cards::order_body(&card),
                card_payload: serde_json::to_value(&card).map_err(Error::internal)?,
                force,
                repeat_guard_since: Millis(now.0 - settings.outcome_hours * HOUR_MS),
            })
            .await?;
        let conversation = Arc::new(sent.conversation);
        let message_id = sent.messages[0].id;
        let sent_at = sent.messages[0].created_at;
        for message in sent.messages {
            self.events.publish(Event::MessageCreated {
                conversation: conversation.clone(),
                message: Arc::new(message),
            });
        }
        Ok(Reminder {
            id: sent.reminder_id,
            order_id,
            order_no: card.order_no,
            total_cents: card.total_cents,
            currency: card.currency,
            customer: conversation.customer.clone(),
            conversation_id: conversation.id,
            message_id,
            agent_id: Some(agent.id),
            agent_name: agent.name.clone(),
            template_id: Some(template.id),
            body: text,
            forced: force,
            sent_at,
            paid_at: None,
            outcome: ReminderOutcome::Pending,
        })
    }
}
