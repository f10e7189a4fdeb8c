//! Notifications: stored for one user, then pushed to that user's open consoles
//! (`notification` frame). SLA warnings and breaches and automation notices use them.

use kefu_core::Result;
use kefu_core::events::{Event, EventSink};
use kefu_core::model::{Id, Role};
use kefu_core::sla_policies::NewNotification;
use kefu_core::store::Store;
use std::sync::Arc;

/// Stores and pushes notifications.
pub struct NotificationService {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
}

impl NotificationService {
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventSink>) -> Arc<Self> {
        Arc::new(Self { store, events })
    }

    /// Stores notifications and pushes each to its user's open consoles.
    pub async fn notify(&self, shop_id: Id, items: Vec<NewNotification>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        for n in self.store.add_notifications(shop_id, &items).await? {
            self.events.publish(Event::Notification {
                shop_id,
                notification: Arc::new(n),
            });
        }
        Ok(())
    }

    /// The shop's supervisors and admins.
    pub async fn supervisors(&self, shop_id: Id) -> Result<Vec<Id>> {
        Ok(self
            .store
            .list_agents(shop_id)
            .await?
            .into_iter()
            .filter(|a| matches!(a.user.role, Role::Admin | Role::Supervisor))
            .map(|a| a.user.id)
            .collect())
    }
}
