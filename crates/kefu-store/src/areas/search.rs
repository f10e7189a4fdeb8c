//! kefu-store's implementation of [`kefu_core::search::SearchStore`]: what the search indexer
//! reads. Every read is a range over a primary key or one of the `*_updated` indexes (migrations
//! 0008 and 0012), written once for both backends.

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::Result;
use kefu_core::model::Id;
use kefu_core::search::*;
use kefu_core::time::Millis;

const MESSAGE_COLUMNS: &str =
    "id, shop_id, conversation_id, sender_type, sender_name, private, body, created_at";

fn message_row(r: &DbRow) -> SearchMessageRow {
    SearchMessageRow {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        conversation_id: r.get("conversation_id"),
        sender_type: r.get("sender_type"),
        sender_name: r.get("sender_name"),
        private: r.get("private"),
        body: r.get("body"),
        created_at: Millis(r.get("created_at")),
    }
}

/// Customers with their contacts, recent order numbers and tags aggregated (char 31, the unit
/// separator, between them: it never occurs in a name or a number).
const CUSTOMER_SELECT: &str = "SELECT c.id, c.shop_id, c.name, c.created_at, c.updated_at, \
     c.merged_into IS NOT NULL AS merged, \
     (SELECT string_agg(v, '\u{1f}') FROM (SELECT value AS v FROM customer_identities i \
        WHERE i.customer_id = c.id UNION SELECT c.phone UNION SELECT c.email \
        UNION SELECT c.external_id) x) AS contacts, \
     (SELECT string_agg(order_no, '\u{1f}') FROM (SELECT order_no FROM orders o \
        WHERE o.shop_id = c.shop_id AND o.customer_id = c.id ORDER BY o.placed_at DESC LIMIT 50) y) \
        AS order_nos, \
     (SELECT string_agg(tag, '\u{1f}') FROM customer_tags t WHERE t.customer_id = c.id) AS tags \
     FROM customers c";

fn customer_row(r: &DbRow) -> SearchCustomerRow {
    SearchCustomerRow {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        name: r.get("name"),
        contacts: split_list(r.get("contacts")),
        order_nos: split_list(r.get("order_nos")),
        tags: split_list(r.get("tags")),
        merged: r.get("merged"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    }
}

/// A JSON array of strings as kept in a `tags` column (conversations, scripts).
fn json_list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

/// Live scripts and the tombstones of deleted ones, merged in `(updated_at, id)` order. Each side
/// is an index range (`scripts_updated`, `script_tombstones_deleted`) limited on its own, so the
/// merge sorts at most twice the page. A tombstone whose id is in use again is left out.
const SCRIPTS_CHANGED: &str = "SELECT * FROM (SELECT s.id, s.shop_id, s.owner_id, s.title, s.body, \
       s.shortcut, s.tags, s.created_at, s.updated_at, FALSE AS gone FROM scripts s \
       WHERE s.updated_at >= $1 AND (s.updated_at > $1 OR s.id > $2) \
       ORDER BY s.updated_at, s.id LIMIT $3) live \
     UNION ALL \
     SELECT * FROM (SELECT t.script_id AS id, t.shop_id, CAST(NULL AS BIGINT) AS owner_id, '' AS title, '' AS body, \
       CAST(NULL AS TEXT) AS shortcut, '[]' AS tags, t.deleted_at AS created_at, t.deleted_at AS updated_at, \
       TRUE AS gone FROM script_tombstones t \
       WHERE t.deleted_at >= $1 AND (t.deleted_at > $1 OR t.script_id > $2) \
         AND NOT EXISTS (SELECT 1 FROM scripts x WHERE x.id = t.script_id) \
       ORDER BY t.deleted_at, t.script_id LIMIT $3) dead \
     ORDER BY updated_at, id LIMIT $3";

fn script_row(r: &DbRow) -> SearchScriptRow {
    let body: String = r.get("body");
    let shortcut: Option<String> = r.get("shortcut");
    SearchScriptRow {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        owner_id: r.get("owner_id"),
        title: r.get("title"),
        // The shortcut is searchable (and shown) the way agents type it.
        body: match shortcut {
            Some(sc) if !sc.is_empty() => format!("{body}\n/{sc}"),
            _ => body,
        },
        tags: json_list(r.get("tags")),
        gone: r.get("gone"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    }
}

#[async_trait]
impl SearchStore for DbStore {
    async fn search_messages_after(
        &self,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchMessageRow>> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(message_row).collect())
    }

    async fn search_messages_by_ids(&self, ids: &[Id]) -> Result<Vec<SearchMessageRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id {} ORDER BY id",
            in_ids("$1")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_list(ids))
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(message_row).collect())
    }

    async fn search_conversations_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchConversationRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.shop_id, c.customer_id, cu.name AS customer_name, c.status, c.assignee_id, \
             u.name AS assignee_name, c.team_id, c.tags, c.created_at, c.updated_at \
             FROM conversations c JOIN customers cu ON cu.id = c.customer_id \
             LEFT JOIN users u ON u.id = c.assignee_id \
             WHERE c.updated_at >= $1 AND (c.updated_at > $1 OR c.id > $2) \
             ORDER BY c.updated_at, c.id LIMIT $3",
        )
        .bind(since.0)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| SearchConversationRow {
                id: r.get("id"),
                shop_id: r.get("shop_id"),
                customer_id: r.get("customer_id"),
                customer_name: r.get("customer_name"),
                status: r.get("status"),
                assignee_id: r.get("assignee_id"),
                assignee_name: r.get("assignee_name"),
                team_id: r.get("team_id"),
                tags: json_list(r.get("tags")),
                created_at: Millis(r.get("created_at")),
                updated_at: Millis(r.get("updated_at")),
            })
            .collect())
    }

    async fn search_customers_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchCustomerRow>> {
        let sql = format!(
            "{CUSTOMER_SELECT} WHERE c.updated_at >= $1 AND (c.updated_at > $1 OR c.id > $2) \
             ORDER BY c.updated_at, c.id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since.0)
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(customer_row).collect())
    }

    async fn search_customers_by_ids(&self, ids: &[Id]) -> Result<Vec<SearchCustomerRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{CUSTOMER_SELECT} WHERE c.id {}", in_ids("$1"));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_list(ids))
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(customer_row).collect())
    }

    async fn search_orders_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<(Millis, Id, Option<Id>)>> {
        let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT updated_at, id, customer_id FROM orders \
             WHERE updated_at >= $1 AND (updated_at > $1 OR id > $2) ORDER BY updated_at, id LIMIT $3",
        )
        .bind(since.0)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(u, i, c)| (Millis(u), i, c))
            .collect())
    }

    async fn search_scripts_changed(
        &self,
        since: Millis,
        after_id: Id,
        limit: i64,
    ) -> Result<Vec<SearchScriptRow>> {
        let rows = sqlx::query(SCRIPTS_CHANGED)
            .bind(since.0)
            .bind(after_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(script_row).collect())
    }
}
