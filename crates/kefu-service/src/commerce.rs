//! What follows every committed commerce ingest (API batches, CSV imports, webhooks, refunds of
//! after-sales, the demo shop's orders): the touched customers' segments and `orders.changed`.

use kefu_core::events::{Event, EventSink};
use kefu_core::model::Id;
use kefu_core::store::Store;
use std::sync::Arc;

/// The most touched customers recomputed before an ingest answers.
const INLINE_RECOMPUTE_MAX: usize = 1_000;
/// The most touched customers announced one by one with `orders.changed`.
const ANNOUNCE_MAX: usize = 100;

/// The follow-up of commerce writes.
pub struct CommerceService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
}

impl CommerceService {
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(Self { store, events })
    }

    /// Every ingest path ends here, after its writes are committed, with the customers whose orders
    /// changed: their segments follow (incremental recompute) and open sidebars reload.
    pub async fn after_ingest(&self, shop_id: Id, touched: &[Id]) {
        if touched.is_empty() {
            return;
        }
        let mut ids = touched.to_vec();
        ids.sort_unstable();
        ids.dedup();
        // Small changes are scored before the answer, so a client that reads segments next sees them;
        // a large import recomputes in the background (the store switches to a full pass by itself).
        // Either way a failure only delays segments: the orders are committed, and the next
        // recompute catches up, so it must not fail the ingest.
        if ids.len() <= INLINE_RECOMPUTE_MAX {
            if let Err(e) = self.store.recompute_customers(shop_id, &ids).await {
                tracing::warn!(shop_id, error = %e, "segments recompute after ingest failed");
            }
        } else {
            let store = self.store.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                if let Err(e) = store.recompute_customers(shop_id, &ids).await {
                    tracing::warn!(shop_id, error = %e, "segments recompute after import failed");
                }
            });
        }
        // One event per customer would flood every agent socket during a bulk import; sidebars of a
        // large import's customers refresh when next opened.
        if ids.len() <= ANNOUNCE_MAX {
            for customer_id in ids {
                self.events.publish(Event::OrdersChanged {
                    shop_id,
                    customer_id,
                });
            }
        }
    }
}
