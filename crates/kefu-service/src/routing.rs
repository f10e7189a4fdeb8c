//! Routing: hands waiting conversations to free agents (the rule is `kefu_core::routing`, applied
//! atomically by `Store::route_waiting`) and tells everyone affected — assigned conversations to
//! their agents and shoppers, new queue positions to those still waiting.

use kefu_core::Result;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::{Conversation, Id};
use kefu_core::store::Store;
use std::sync::Arc;

/// Waits before each retry of a routing run that failed after a message was stored.
const ROUTING_RETRY_MS: [u64; 4] = [200, 1_000, 5_000, 30_000];

/// Routes a shop's waiting conversations and publishes the outcome.
pub struct RoutingService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
}

impl RoutingService {
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(Self { store, events })
    }

    fn publish(&self, event: Event) {
        self.events.publish(event);
    }

    /// Runs routing for the shop and tells everyone affected: assigned conversations to agents and
    /// their shoppers, and new queue positions to those still waiting. `changed` is the conversation
    /// that prompted the run, whose shopper learns their position even when nothing moved.
    pub async fn route(&self, shop_id: Id, changed: Option<&Conversation>) -> Result<()> {
        let assigned = self.store.route_waiting(shop_id).await?;
        for conversation in &assigned {
            self.publish(Event::QueuePosition {
                shop_id,
                customer_id: conversation.customer.id,
                conversation_id: conversation.id,
                position: 0,
            });
            self.publish(Event::ConversationUpdated {
                conversation: Arc::new(conversation.clone()),
                previous_assignee: None,
            });
        }
        if !assigned.is_empty() {
            // Everyone behind moved up.
            self.publish_queue(shop_id).await?;
        } else if let Some(c) = changed
            && let Some(fresh) = self.store.conversation(shop_id, c.id).await?
            && let Some(position) = fresh.queue_position
        {
            self.publish(Event::QueuePosition {
                shop_id,
                customer_id: fresh.customer.id,
                conversation_id: fresh.id,
                position,
            });
        }
        Ok(())
    }

    /// Routing for a conversation whose message is already committed and will be answered 201.
    /// A failure is logged and routing is retried in the background (a few times, then the next
    /// routing run of the shop — an agent coming online, a conversation closing — places it).
    pub async fn route_after_commit(
        self: &Arc<Self>,
        shop_id: Id,
        conversation: &Arc<Conversation>,
    ) {
        let Err(e) = self.route(shop_id, Some(conversation)).await else {
            return;
        };
        tracing::warn!(%e, shop_id, conversation_id = conversation.id, "routing after a stored message failed; retrying");
        let routing = self.clone();
        let conversation = conversation.clone();
        tokio::spawn(async move {
            for delay_ms in ROUTING_RETRY_MS {
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                match routing.route(shop_id, Some(&conversation)).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(%e, shop_id, conversation_id = conversation.id, "routing retry failed")
                    }
                }
            }
        });
    }

    pub async fn publish_queue(&self, shop_id: Id) -> Result<()> {
        for (index, (conversation_id, customer_id)) in self
            .store
            .waiting_queue(shop_id)
            .await?
            .into_iter()
            .enumerate()
        {
            self.publish(Event::QueuePosition {
                shop_id,
                customer_id,
                conversation_id,
                position: index as i64 + 1,
            });
        }
        Ok(())
    }
}
