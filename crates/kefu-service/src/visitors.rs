//! A short-lived cache of visitor tokens → shoppers.
//!
//! Every shopper request carries its token; looking it up in the database each time costs a round
//! trip on the hottest path. Entries live [`TTL`], so a change to the shopper (a block, a new name)
//! shows within that time at worst; the widget-session endpoint drops the entry it updates at once.

use kefu_core::model::Visitor;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub struct VisitorCache {
    entries: Mutex<HashMap<String, (Visitor, Instant)>>,
}

impl VisitorCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Visitor, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, token_hash: &str) -> Option<Visitor> {
        let entries = self.lock();
        let (visitor, at) = entries.get(token_hash)?;
        (at.elapsed() < TTL).then(|| visitor.clone())
    }

    pub fn put(&self, token_hash: String, visitor: Visitor) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_hash, (visitor, Instant::now()));
    }

    pub fn forget(&self, token_hash: &str) {
        self.lock().remove(token_hash);
    }

    /// Drops every cached token of a customer (blocked, unblocked, merged away), so the change
    /// holds from the shopper's next request instead of after [`TTL`]. A scan, but blocks and
    /// merges are rare admin actions.
    pub fn forget_customer(&self, customer_id: i64) {
        self.lock().retain(|_, (v, _)| v.customer_id != customer_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets() {
        let cache = VisitorCache::default();
        let v = Visitor {
            shop_id: 1,
            customer_id: 2,
            customer_name: "a".into(),
            blocked: false,
        };
        assert!(cache.get("h").is_none());
        cache.put("h".into(), v);
        assert_eq!(cache.get("h").map(|v| v.customer_id), Some(2));
        cache.forget("h");
        assert!(cache.get("h").is_none());
        let v = |customer_id| Visitor {
            shop_id: 1,
            customer_id,
            customer_name: "a".into(),
            blocked: false,
        };
        cache.put("x".into(), v(7));
        cache.put("y".into(), v(7));
        cache.put("z".into(), v(8));
        cache.forget_customer(7);
        assert!(cache.get("x").is_none() && cache.get("y").is_none());
        assert!(cache.get("z").is_some());
    }
}
