//! kefu-store's implementation of [`kefu_core::tools::ToolsStore`]: conversation tags, snooze,
//! @mentions, a shopper's past conversations and the auto-reply rules with their send log.
//!
//! Every write is one transaction; edits of one conversation lock its row first.

use super::conversations::{
    CONVERSATION_SELECT, Insert, conversation_from_row, insert_message, load_conversation,
    load_conversation_locked, lock_conversation,
};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::model::*;
use kefu_core::time::Millis;
use kefu_core::tools::*;
use kefu_core::{Error, Result};

/// Rewrites the tag list kept on the conversation row from `conversation_tags`, moving
/// `updated_at` so the search indexer (which follows conversations by it) sees the change.
async fn refresh_tags(conn: &mut Conn, conversation_id: Id) -> Result<()> {
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT n.name FROM conversation_tags ct JOIN conversation_tag_names n ON n.id = ct.tag_id \
         WHERE ct.conversation_id = $1",
    )
    .bind(conversation_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    names.sort();
    let json = serde_json::to_string(&names).map_err(Error::internal)?;
    sqlx::query("UPDATE conversations SET tags = $1, updated_at = $2 WHERE id = $3")
        .bind(json)
        .bind(Millis::now().0)
        .bind(conversation_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

const MENTION_SELECT: &str = "SELECT m.id, m.conversation_id, m.message_id, m.agent_id, m.by_agent_id, \
     u.name AS by_name, m.excerpt, c.customer_id, cu.name AS customer_name, m.created_at, m.read_at \
     FROM mentions m JOIN users u ON u.id = m.by_agent_id \
     JOIN conversations c ON c.id = m.conversation_id \
     JOIN customers cu ON cu.id = c.customer_id";

fn mention_from_row(r: &DbRow) -> Mention {
    Mention {
        id: r.get("id"),
        conversation_id: r.get("conversation_id"),
        message_id: r.get("message_id"),
        agent_id: r.get("agent_id"),
        by: AgentRef {
            id: r.get("by_agent_id"),
            name: r.get("by_name"),
        },
        excerpt: r.get("excerpt"),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        created_at: Millis(r.get("created_at")),
        read_at: r.get::<Option<i64>, _>("read_at").map(Millis),
    }
}

#[async_trait]
impl ToolsStore for DbStore {
    async fn add_conversation_tag(
        &self,
        shop_id: Id,
        conversation_id: Id,
        name: &str,
    ) -> Result<Conversation> {
        let name = normalize_tag(name)?;
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            if current.tags.contains(&name) {
                return Ok(current);
            }
            if current.tags.len() >= MAX_TAGS_PER_CONVERSATION {
                return Err(Error::validation(format!(
                    "a conversation carries at most {MAX_TAGS_PER_CONVERSATION} tags"
                )));
            }
            let now = Millis::now().0;
            let existing: Option<Id> = sqlx::query_scalar(
                "SELECT id FROM conversation_tag_names WHERE shop_id = $1 AND name = $2",
            )
            .bind(shop_id)
            .bind(&name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let tag_id = match existing {
                Some(id) => id,
                None => {
                    let count: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM conversation_tag_names WHERE shop_id = $1",
                    )
                    .bind(shop_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    if count >= MAX_TAGS_PER_SHOP {
                        return Err(Error::validation(format!(
                            "a shop keeps at most {MAX_TAGS_PER_SHOP} tag names"
                        )));
                    }
                    // A concurrent first use of the same name (PostgreSQL) waits here and then
                    // finds it.
                    let inserted: Option<Id> = sqlx::query_scalar(
                        "INSERT INTO conversation_tag_names (shop_id, name, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (shop_id, name) DO NOTHING RETURNING id",
                    )
                    .bind(shop_id)
                    .bind(&name)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    match inserted {
                        Some(id) => id,
                        None => sqlx::query_scalar(
                            "SELECT id FROM conversation_tag_names WHERE shop_id = $1 AND name = $2",
                        )
                        .bind(shop_id)
                        .bind(&name)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?,
                    }
                }
            };
            sqlx::query(
                "INSERT INTO conversation_tags (conversation_id, tag_id, shop_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(conversation_id)
            .bind(tag_id)
            .bind(shop_id)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            refresh_tags(conn, conversation_id).await?;
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn remove_conversation_tag(
        &self,
        shop_id: Id,
        conversation_id: Id,
        name: &str,
    ) -> Result<Conversation> {
        let name = normalize_tag(name)?;
        tx!(self, |conn| {
            lock_conversation(conn, shop_id, conversation_id).await?;
            sqlx::query(
                "DELETE FROM conversation_tags WHERE conversation_id = $1 AND tag_id IN \
                     (SELECT id FROM conversation_tag_names WHERE shop_id = $2 AND name = $3)",
            )
            .bind(conversation_id)
            .bind(shop_id)
            .bind(&name)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            refresh_tags(conn, conversation_id).await?;
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn conversation_tags(&self, shop_id: Id) -> Result<Vec<TagCount>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT n.name, (SELECT COUNT(*) FROM conversation_tags ct WHERE ct.tag_id = n.id) AS used \
             FROM conversation_tag_names n WHERE n.shop_id = $1 ORDER BY used DESC, n.name LIMIT 1000",
        )
        .bind(shop_id)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(name, conversations)| TagCount {
                name,
                conversations,
            })
            .collect())
    }

    async fn conversation_tag_id(&self, shop_id: Id, name: &str) -> Result<Option<Id>> {
        sqlx::query_scalar("SELECT id FROM conversation_tag_names WHERE shop_id = $1 AND name = $2")
            .bind(shop_id)
            .bind(name)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)
    }

    async fn snooze(
        &self,
        shop_id: Id,
        conversation_id: Id,
        until: Millis,
    ) -> Result<Conversation> {
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            if current.status == ConversationStatus::Resolved {
                return Err(Error::validation(
                    "a resolved conversation cannot be snoozed",
                ));
            }
            sqlx::query(
                    "UPDATE conversations SET status = 'pending', snoozed_until = $1, queued_at = NULL, \
                     updated_at = $2 WHERE id = $3",
                )
                .bind(until.0)
                .bind(Millis::now().0)
                .bind(conversation_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if current.status != ConversationStatus::Pending {
                super::kpi::record_conversation_event(
                    conn,
                    conversation_id,
                    Millis::now().0,
                    kefu_core::kpi::DeskEventKind::Status,
                    current.assignee_id,
                    None,
                    None,
                    ConversationStatus::Pending.as_str(),
                )
                .await?;
            }
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn wake_snoozed(
        &self,
        shop_id: Id,
        conversation_id: Id,
        due: Option<Millis>,
    ) -> Result<Option<Conversation>> {
        tx!(self, |conn| {
            let now = Millis::now().0;
            // Unassigned: back in the queue, as a reopen does.
            let woke: Option<Id> = sqlx::query_scalar(
                    "UPDATE conversations SET status = 'open', snoozed_until = NULL, \
                     queued_at = CASE WHEN assignee_id IS NULL THEN $1 ELSE NULL END, updated_at = $1 \
                     WHERE id = $2 AND shop_id = $3 AND snoozed_until IS NOT NULL \
                     AND (CAST($4 AS BIGINT) IS NULL OR snoozed_until <= $4) RETURNING id",
                )
                .bind(now)
                .bind(conversation_id)
                .bind(shop_id)
                .bind(due.map(|d| d.0))
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            match woke {
                Some(_) => {
                    let conversation = load_conversation(conn, shop_id, conversation_id).await?;
                    super::kpi::record_conversation_event(
                        conn,
                        conversation_id,
                        now,
                        kefu_core::kpi::DeskEventKind::Status,
                        conversation.assignee_id,
                        None,
                        None,
                        ConversationStatus::Open.as_str(),
                    )
                    .await?;
                    Ok(Some(conversation))
                }
                None => Ok(None),
            }
        })
    }

    async fn due_snoozes(&self, now: Millis, limit: i64) -> Result<Vec<(Id, Id)>> {
        sqlx::query_as(
            "SELECT shop_id, id FROM conversations WHERE snoozed_until IS NOT NULL \
             AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT $2",
        )
        .bind(now.0)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)
    }

    async fn next_snooze(&self) -> Result<Option<Millis>> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(snoozed_until) FROM conversations WHERE snoozed_until IS NOT NULL",
        )
        .fetch_one(self.reader())
        .await
        .map_err(db_err)?;
        Ok(at.map(Millis))
    }

    async fn add_mentions(
        &self,
        shop_id: Id,
        conversation_id: Id,
        message_id: Id,
        by: &User,
        agent_ids: &[Id],
        excerpt: &str,
    ) -> Result<Vec<Mention>> {
        let (by_id, agent_ids, excerpt) = (by.id, agent_ids.to_vec(), excerpt.to_owned());
        tx!(self, |conn| {
            let found: Option<Id> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE id = $1 AND conversation_id = $2 AND shop_id = $3",
            )
            .bind(message_id)
            .bind(conversation_id)
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            found.ok_or_else(|| Error::not_found("message"))?;
            let now = Millis::now().0;
            let mut created = Vec::new();
            for &agent_id in &agent_ids {
                let mine: Option<Id> =
                    sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND shop_id = $2")
                        .bind(agent_id)
                        .bind(shop_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                mine.ok_or_else(|| Error::not_found("agent"))?;
                let id: Option<Id> = sqlx::query_scalar(
                    "INSERT INTO mentions (shop_id, conversation_id, message_id, agent_id, \
                         by_agent_id, excerpt, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (message_id, agent_id) DO NOTHING RETURNING id",
                )
                .bind(shop_id)
                .bind(conversation_id)
                .bind(message_id)
                .bind(agent_id)
                .bind(by_id)
                .bind(&excerpt)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                if let Some(id) = id {
                    let sql = format!("{MENTION_SELECT} WHERE m.id = $1");
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    created.push(mention_from_row(&row));
                }
            }
            Ok(created)
        })
    }

    async fn mentions(
        &self,
        shop_id: Id,
        agent_id: Id,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Mention>> {
        let sql = format!(
            "{MENTION_SELECT} WHERE m.shop_id = $1 AND m.agent_id = $2 \
             AND (NOT $3 OR m.read_at IS NULL) ORDER BY m.id DESC LIMIT $4"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(agent_id)
            .bind(unread_only)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(mention_from_row).collect())
    }

    async fn mark_mentions_read(
        &self,
        shop_id: Id,
        agent_id: Id,
        mention_id: Option<Id>,
        conversation_id: Option<Id>,
    ) -> Result<i64> {
        tx!(self, |conn| {
            let changed = sqlx::query(
                "UPDATE mentions SET read_at = $1 WHERE shop_id = $2 AND agent_id = $3 \
                     AND read_at IS NULL AND (CAST($4 AS BIGINT) IS NULL OR id = $4) \
                     AND (CAST($5 AS BIGINT) IS NULL OR conversation_id = $5)",
            )
            .bind(Millis::now().0)
            .bind(shop_id)
            .bind(agent_id)
            .bind(mention_id)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected() as i64;
            if let Some(id) = mention_id
                && changed == 0
            {
                let mine: Option<Id> = sqlx::query_scalar(
                    "SELECT id FROM mentions WHERE id = $1 AND shop_id = $2 AND agent_id = $3",
                )
                .bind(id)
                .bind(shop_id)
                .bind(agent_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                mine.ok_or_else(|| Error::not_found("mention"))?;
            }
            Ok(changed)
        })
    }

    async fn is_mentioned(&self, shop_id: Id, agent_id: Id, conversation_id: Id) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM mentions WHERE conversation_id = $1 AND agent_id = $2 AND shop_id = $3 LIMIT 1",
        )
        .bind(conversation_id)
        .bind(agent_id)
        .bind(shop_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn customer_conversations(
        &self,
        shop_id: Id,
        customer_id: Id,
        limit: i64,
    ) -> Result<Vec<Conversation>> {
        let sql = format!(
            "{CONVERSATION_SELECT} WHERE c.customer_id = $1 AND c.shop_id = $2 ORDER BY c.id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .bind(shop_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn auto_reply_rules(&self, shop_id: Id) -> Result<AutoReplyRules> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT rules FROM auto_reply_rules WHERE shop_id = $1")
                .bind(shop_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
        match json {
            Some(j) => serde_json::from_str(&j).map_err(Error::internal),
            None => Ok(AutoReplyRules::default()),
        }
    }

    async fn put_auto_reply_rules(&self, shop_id: Id, rules: &AutoReplyRules) -> Result<()> {
        let json = serde_json::to_string(rules).map_err(Error::internal)?;
        tx!(self, |conn| {
            sqlx::query(
                    "INSERT INTO auto_reply_rules (shop_id, rules, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (shop_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
                )
                .bind(shop_id)
                .bind(&json)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn send_auto_reply(
        &self,
        shop_id: Id,
        conversation_id: Id,
        rule_key: &str,
        not_since: Millis,
        body: &str,
    ) -> Result<Option<Appended>> {
        let (rule_key, body) = (rule_key.to_owned(), body.to_owned());
        tx!(self, |conn| {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            let claimed: Option<i64> = sqlx::query_scalar(
                "INSERT INTO auto_reply_log (conversation_id, rule_key, shop_id, sent_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, rule_key) \
                     DO UPDATE SET sent_at = excluded.sent_at WHERE auto_reply_log.sent_at < $5 \
                     RETURNING sent_at",
            )
            .bind(conversation_id)
            .bind(&rule_key)
            .bind(shop_id)
            .bind(now)
            .bind(not_since.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            if claimed.is_none() {
                return Ok(None);
            }
            let shop_name: String = sqlx::query_scalar("SELECT name FROM shops WHERE id = $1")
                .bind(shop_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::Bot,
                    sender_id: None,
                    sender_name: &shop_name,
                    body: &body,
                    private: false,
                    client_msg_id: None,
                    now,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?;
            let conversation = load_conversation(conn, shop_id, conversation_id).await?;
            Ok(Some(Appended {
                message,
                companions: vec![],
                conversation,
                conversation_started: false,
                duplicate: false,
            }))
        })
    }
}
