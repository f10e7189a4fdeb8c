//! What the full-text indexer reads from storage: changed rows of every shop, by cursor.
//!
//! The indexer (kefu-http/src/search.rs) follows messages by id and conversations, customers,
//! orders and scripts by `(updated_at, id)`; these reads are index-backed (primary keys, the
//! `*_updated` indexes of migration 0008 and the scripts ones of 0012) and never touch the write
//! path.

use crate::Result;
use crate::model::Id;
use crate::time::Millis;
use async_trait::async_trait;

/// A message as the index needs it.
#[derive(Debug, Clone)]
pub struct SearchMessageRow {
    pub id: Id,
    pub shop_id: Id,
    pub conversation_id: Id,
    pub sender_type: String,
    pub sender_name: String,
    pub private: bool,
    pub body: String,
    pub created_at: Millis,
}

/// A conversation as the index needs it.
#[derive(Debug, Clone)]
pub struct SearchConversationRow {
    pub id: Id,
    pub shop_id: Id,
    pub customer_id: Id,
    pub customer_name: String,
    pub status: String,
    pub assignee_id: Option<Id>,
    pub assignee_name: Option<String>,
    pub team_id: Option<Id>,
    /// The conversation's own tags (daily tools; a tag change moves `updated_at`).
    pub tags: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A customer as the index needs it: contacts (phone, e-mail, external id and every identity),
/// the most recent order numbers, tags. `merged` customers leave the index.
#[derive(Debug, Clone)]
pub struct SearchCustomerRow {
    pub id: Id,
    pub shop_id: Id,
    pub name: String,
    pub contacts: Vec<String>,
    pub order_nos: Vec<String>,
    pub tags: Vec<String>,
    pub merged: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A service script (话术) as the index needs it. `gone`: deleted — a tombstone (migration 0012,
/// written by `delete_script` in the same transaction) whose `updated_at` is the deletion time and
/// whose other fields are empty; the script leaves the index.
#[derive(Debug, Clone)]
pub struct SearchScriptRow {
    pub id: Id,
    pub shop_id: Id,
    /// `None`: shop-wide; `Some(agent)`: that agent's personal script.
    pub owner_id: Option<Id>,
    pub title: String,
    /// Body and shortcut, as searchable text.
    pub body: String,
    pub tags: Vec<String>,
    pub gone: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Order numbers indexed per customer (most recent first).
pub const MAX_ORDER_NOS_PER_CUSTOMER: i64 = 50;

/// Separator used when a store aggregates several values into one column.
pub const LIST_SEPARATOR: char = '\u{1f}';

/// Splits a column aggregated with [`LIST_SEPARATOR`].
pub fn split_list(s: Option<String>) -> Vec<String> {
    s.map(|s| {
        s.split(LIST_SEPARATOR)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Storage for the indexer. All methods read every shop (the index holds all shops; every search
/// is filtered by shop inside the index).
#[async_trait]
pub trait SearchStore {
    /// Messages with `id > after_id`, by id.
    async fn search_messages_after(
        &self,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchMessageRow>>;
    /// Messages with these ids (ones committed late, after higher ids were seen).
    async fn search_messages_by_ids(&self, ids: &[Id]) -> Result<Vec<SearchMessageRow>>;
    /// Conversations with `(updated_at, id) > (since, after_id)`, in that order.
    async fn search_conversations_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchConversationRow>>;
    /// Customers with `(updated_at, id) > (since, after_id)`, in that order.
    async fn search_customers_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchCustomerRow>>;
    async fn search_customers_by_ids(&self, ids: &[Id]) -> Result<Vec<SearchCustomerRow>>;
    /// Scripts with `(updated_at, id) > (since, after_id)`, in that order: live scripts and the
    /// tombstones of deleted ones (`gone`, at their deletion time) merged. A tombstone whose id is
    /// in use again (SQLite may hand out the id of the highest deleted row once more) is left
    /// out: the live row stands for that id.
    async fn search_scripts_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchScriptRow>>;
    /// Orders with `(updated_at, id) > (since, after_id)`: `(updated_at, order id, customer id)`.
    async fn search_orders_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<(Millis, Id, Option<Id>)>>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_split_and_drop_blanks() {
        let s = format!("a{0}{0} {0}b", super::LIST_SEPARATOR);
        assert_eq!(super::split_list(Some(s)), ["a", "b"]);
        assert!(super::split_list(None).is_empty());
    }
}
