//! The [`Store`] impl: shops, teams, users, sessions, visitors, conversations and their messages,
//! routing and the legacy product list. Queries shared with other areas live in
//! `conversations.rs`; the shopper's message path is each backend's own
//! (`append_shopper_message`).

use super::conversations::*;
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::kpi::DeskEventKind;
use kefu_core::model::*;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

#[async_trait]
impl Store for DbStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ready(&self) -> Result<()> {
        // A fresh round trip, bounded: a hung database must not hang the readiness probe.
        let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(self.reader());
        match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(crate::faults::connect_err(e)),
            Err(_) => Err(Error::unavailable(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            ))),
        }
    }

    async fn ensure_default_shop(&self) -> Result<Shop> {
        if let Some(shop) = self.shop_by_slug("default").await? {
            return Ok(shop);
        }
        match self.create_shop("default", "默认店铺").await {
            Ok(shop) => Ok(shop),
            Err(e) if e.code == kefu_core::ErrorCode::Conflict => self
                .shop_by_slug("default")
                .await?
                .ok_or_else(|| Error::not_found("shop")),
            Err(e) => Err(e),
        }
    }

    async fn create_shop(&self, slug: &str, name: &str) -> Result<Shop> {
        let (slug, name) = (slug.to_owned(), name.to_owned());
        tx!(self, |conn| {
            let now = Millis::now().0;
            let d = ShopSettings::default();
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO shops (slug, name, greeting, offline_message, default_max_concurrent, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(&slug)
                .bind(&name)
                .bind(&d.greeting)
                .bind(&d.offline_message)
                .bind(d.default_max_concurrent)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query("INSERT INTO teams (shop_id, name, is_default, created_at) VALUES ($1, '售前', TRUE, $2)")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            load_shop(conn, id).await
        })
    }

    async fn shop_by_slug(&self, slug: &str) -> Result<Option<Shop>> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE slug = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn shop_by_id(&self, id: Id) -> Result<Option<Shop>> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn update_shop_settings(&self, shop_id: Id, settings: &ShopSettings) -> Result<Shop> {
        let s = settings.clone();
        tx!(self, |conn| {
            sqlx::query(
                    "UPDATE shops SET greeting = $1, offline_message = $2, default_max_concurrent = $3, \
                     prechat = $5, time_zone = $6, widget_origins = $7, widget_style = $8 WHERE id = $4",
                )
                .bind(&s.greeting)
                .bind(&s.offline_message)
                .bind(s.default_max_concurrent)
                .bind(shop_id)
                .bind(serde_json::to_string(&s.prechat).map_err(Error::internal)?)
                .bind(&s.time_zone)
                .bind(serde_json::to_string(&s.widget_origins).map_err(Error::internal)?)
                .bind(serde_json::to_string(&s.widget).map_err(Error::internal)?)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            load_shop(conn, shop_id).await
        })
    }

    async fn create_team(&self, shop_id: Id, name: &str, is_default: bool) -> Result<Team> {
        let name = name.to_owned();
        tx!(self, |conn| {
            if is_default {
                sqlx::query("UPDATE teams SET is_default = FALSE WHERE shop_id = $1")
                    .bind(shop_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO teams (shop_id, name, is_default, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(shop_id)
                .bind(&name)
                .bind(is_default)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(Team {
                id,
                name: owned!(name),
                is_default,
                member_count: 0,
            })
        })
    }

    async fn list_teams(&self, shop_id: Id) -> Result<Vec<Team>> {
        super::members::list_teams(
            &mut *self.reader().acquire().await.map_err(db_err)?,
            shop_id,
        )
        .await
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        tx!(self, |conn| {
            if let Some(team_id) = user.team_id {
                let ok: Option<Id> =
                    sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND shop_id = $2")
                        .bind(team_id)
                        .bind(user.shop_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                ok.ok_or_else(|| Error::not_found("team"))?;
            }
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO users (shop_id, email, name, role, password_hash, team_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(user.shop_id)
                .bind(user.email.to_lowercase())
                .bind(&user.name)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(user.team_id)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| match db_err(e) {
                    e if e.code == kefu_core::ErrorCode::Conflict => Error::conflict("email is already used"),
                    e => e,
                })?;
            if let Some(team_id) = user.team_id {
                sqlx::query("INSERT INTO user_teams (user_id, team_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(team_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            load_user(conn, user.shop_id, id)
                .await?
                .ok_or_else(|| Error::not_found("user"))
        })
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let sql = format!("{USER_SELECT} WHERE u.email = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.to_lowercase())
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.get("password_hash")))),
            None => Ok(None),
        }
    }

    async fn user_by_id(&self, shop_id: Id, id: Id) -> Result<Option<User>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_user(&mut conn, shop_id, id).await
    }

    async fn list_agents(&self, shop_id: Id) -> Result<Vec<AgentSummary>> {
        use kefu_core::members::MemberStore;
        self.list_members(shop_id, false).await
    }

    async fn set_agent_status(
        &self,
        shop_id: Id,
        user_id: Id,
        status: AgentStatus,
    ) -> Result<User> {
        tx!(self, |conn| {
            // A deactivated account stays offline (it has no session to ask with anyway). Locked,
            // so two changes at once record each transition once, in order.
            let sql = format!(
                "SELECT status FROM users WHERE id = $1 AND shop_id = $2 \
                 AND deactivated_at IS NULL{FOR_NO_KEY_UPDATE}"
            );
            let before: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(user_id)
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            let before = before.ok_or_else(|| Error::not_found("user"))?;
            sqlx::query("UPDATE users SET status = $1 WHERE id = $2 AND shop_id = $3")
                .bind(status.as_str())
                .bind(user_id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if before != status.as_str() {
                super::kpi::record_agent_status(
                    conn,
                    shop_id,
                    user_id,
                    Millis::now().0,
                    status.as_str(),
                )
                .await?;
            }
            load_user(conn, shop_id, user_id)
                .await?
                .ok_or_else(|| Error::not_found("user"))
        })
    }

    async fn set_agent_max_concurrent(
        &self,
        shop_id: Id,
        user_id: Id,
        max_concurrent: Option<i64>,
    ) -> Result<User> {
        tx!(self, |conn| {
            let done =
                sqlx::query("UPDATE users SET max_concurrent = $1 WHERE id = $2 AND shop_id = $3")
                    .bind(max_concurrent)
                    .bind(user_id)
                    .bind(shop_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("user"));
            }
            load_user(conn, shop_id, user_id)
                .await?
                .ok_or_else(|| Error::not_found("user"))
        })
    }

    async fn any_agent_online(&self, shop_id: Id) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE shop_id = $1 AND status = 'online'",
        )
        .bind(shop_id)
        .fetch_one(self.reader())
        .await
        .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: Id,
        expires_at: Millis,
    ) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(&token_hash)
                    .bind(user_id)
                    .bind(Millis::now().0)
                    .bind(expires_at.0)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            Ok(())
        })
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: Millis,
        seen_since: Option<Millis>,
    ) -> Result<Option<User>> {
        // Deactivation deletes the sessions; the condition keeps a deactivated account out even
        // if one were left.
        let sql = format!(
            "{USER_SELECT} JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1 AND s.expires_at > $2 \
             AND COALESCE(s.last_seen_at, s.created_at) >= $3 AND u.deactivated_at IS NULL"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now.0)
            .bind(seen_since.map_or(i64::MIN, |m| m.0))
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn touch_session(&self, token_hash: &str, now: Millis) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(&token_hash)
                .bind(now.0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(&token_hash)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn create_customer(&self, shop_id: Id, customer: &NewCustomer) -> Result<CustomerRef> {
        let c = customer.clone();
        tx!(self, |conn| {
            let name = c.name.clone().unwrap_or_default();
            let id: Id = sqlx::query_scalar(
                "INSERT INTO customers (shop_id, name, email, phone, external_id, created_at, \
                     last_contact_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING id",
            )
            .bind(shop_id)
            .bind(&name)
            .bind(&c.email)
            .bind(&c.phone)
            .bind(&c.external_id)
            .bind(Millis::now().0)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            super::customers::record_identities(conn, shop_id, id, &c).await?;
            Ok(CustomerRef { id, name })
        })
    }

    async fn update_customer(
        &self,
        shop_id: Id,
        customer_id: Id,
        customer: &NewCustomer,
    ) -> Result<()> {
        let c = customer.clone();
        tx!(self, |conn| {
            let done = sqlx::query(
                "UPDATE customers SET name = COALESCE($1, name), email = COALESCE($2, email), \
                     phone = COALESCE($3, phone), external_id = COALESCE($4, external_id) \
                     WHERE id = $5 AND shop_id = $6",
            )
            .bind(&c.name)
            .bind(&c.email)
            .bind(&c.phone)
            .bind(&c.external_id)
            .bind(customer_id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if done.rows_affected() > 0 {
                super::customers::record_identities(conn, shop_id, customer_id, &c).await?;
            }
            Ok(())
        })
    }

    async fn create_visitor_token(
        &self,
        token_hash: &str,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query(
                    "INSERT INTO visitor_tokens (token_hash, shop_id, customer_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&token_hash)
                .bind(shop_id)
                .bind(customer_id)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn visitor(
        &self,
        token_hash: &str,
        now: Millis,
        used_since: Millis,
    ) -> Result<Option<Visitor>> {
        let row: Option<(Id, Id, String, bool)> = sqlx::query_as(
            "SELECT v.shop_id, v.customer_id, c.name, c.blocked FROM visitor_tokens v \
             JOIN customers c ON c.id = v.customer_id WHERE v.token_hash = $1 \
             AND (v.expires_at IS NULL OR v.expires_at > $2) \
             AND COALESCE(v.last_used_at, v.created_at) >= $3",
        )
        .bind(token_hash)
        .bind(now.0)
        .bind(used_since.0)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(
            row.map(|(shop_id, customer_id, customer_name, blocked)| Visitor {
                shop_id,
                customer_id,
                customer_name,
                blocked,
            }),
        )
    }

    async fn visitor_token_times(&self, token_hash: &str) -> Result<Option<(Millis, Millis)>> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT created_at, last_used_at FROM visitor_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(row.map(|(created, used)| (Millis(created), Millis(used.unwrap_or(created)))))
    }

    async fn touch_visitor_token(&self, token_hash: &str, now: Millis) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query("UPDATE visitor_tokens SET last_used_at = $2 WHERE token_hash = $1")
                .bind(&token_hash)
                .bind(now.0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn rotate_visitor_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: Millis,
        old_expires_at: Millis,
    ) -> Result<bool> {
        let (old_hash, new_hash) = (old_hash.to_owned(), new_hash.to_owned());
        tx!(self, |conn| {
            let inserted = sqlx::query(
                "INSERT INTO visitor_tokens (token_hash, shop_id, customer_id, created_at, last_used_at) \
                 SELECT $2, shop_id, customer_id, $3, $3 FROM visitor_tokens WHERE token_hash = $1",
            )
            .bind(&old_hash)
            .bind(&new_hash)
            .bind(now.0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if inserted.rows_affected() == 0 {
                return Ok(false);
            }
            // The old token ends soon, never later than it would have anyway.
            sqlx::query(
                "UPDATE visitor_tokens SET expires_at = $2 WHERE token_hash = $1 \
                 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(&old_hash)
            .bind(old_expires_at.0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(true)
        })
    }

    async fn delete_visitor_token(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_owned();
        tx!(self, |conn| {
            sqlx::query("DELETE FROM visitor_tokens WHERE token_hash = $1")
                .bind(&token_hash)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn append_customer_message(&self, msg: CustomerMessage<'_>) -> Result<Appended> {
        // The hot path: each backend's own (SQLite batches shoppers' messages in its writer).
        self.append_shopper_message(msg).await
    }

    async fn append_agent_message(&self, msg: AgentMessage<'_>) -> Result<Appended> {
        let (shop_id, conversation_id, private) = (msg.shop_id, msg.conversation_id, msg.private);
        let (agent_id, agent_name) = (msg.agent.id, msg.agent.name.clone());
        let (body, client_msg_id) = (msg.body.to_owned(), msg.client_msg_id.to_owned());
        let (kind, payload) = (msg.kind, msg.payload);
        let retry = (shop_id, SenderType::Agent, agent_id, &client_msg_id);
        message_tx!(self, retry, |conn| {
            if let Some(original) =
                find_retry(conn, SenderType::Agent, agent_id, &client_msg_id).await?
            {
                let conversation =
                    load_conversation(conn, shop_id, original.conversation_id).await?;
                return Ok(Appended {
                    message: original,
                    companions: vec![],
                    conversation,
                    conversation_started: false,
                    duplicate: true,
                });
            }
            // Scope check first: another shop's conversation is simply not found.
            lock_conversation(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::Agent,
                    sender_id: Some(agent_id),
                    sender_name: &agent_name,
                    body: &body,
                    private,
                    client_msg_id: Some(&client_msg_id),
                    now,
                    kind,
                    payload: payload.as_ref(),
                },
            )
            .await?;
            if !private {
                // A public reply means the agent has read everything before it.
                sqlx::query(
                    "UPDATE conversations SET unread_count = 0, agent_read_seq = $1 WHERE id = $2",
                )
                .bind(message.seq)
                .bind(conversation_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            let conversation = load_conversation(conn, shop_id, conversation_id).await?;
            Ok(Appended {
                message,
                companions: vec![],
                conversation,
                conversation_started: false,
                duplicate: false,
            })
        })
    }

    async fn append_system_message(
        &self,
        shop_id: Id,
        conversation_id: Id,
        body: &str,
        private: bool,
    ) -> Result<Appended> {
        let body = body.to_owned();
        tx!(self, |conn| {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::System,
                    sender_id: None,
                    sender_name: "",
                    body: &body,
                    private,
                    client_msg_id: None,
                    now: Millis::now().0,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?;
            let conversation = load_conversation(conn, shop_id, conversation_id).await?;
            Ok(Appended {
                message,
                companions: vec![],
                conversation,
                conversation_started: false,
                duplicate: false,
            })
        })
    }

    async fn conversation(&self, shop_id: Id, id: Id) -> Result<Option<Conversation>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        match load_conversation(&mut conn, shop_id, id).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.code == kefu_core::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn customer_conversation(
        &self,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<Option<Conversation>> {
        let sql = format!(
            "{CONVERSATION_SELECT} WHERE c.customer_id = $1 AND c.shop_id = $2 ORDER BY c.id DESC LIMIT 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(customer_id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn list_conversations(
        &self,
        shop_id: Id,
        q: ConversationQuery,
    ) -> Result<Vec<Conversation>> {
        // $1 shop, $2 status (NULL = any), $3 viewer, $4 assignee filter, $5 agent-only visibility,
        // $6 limit $8… the segment condition's values, when one is asked for.
        let (segment_sql, segment_values) = if q.segment == Default::default() {
            (String::new(), Vec::new())
        } else {
            let (fragment, values) = super::segments::segment_filter_sql(&q.segment, "m", 8);
            (
                format!(
                    " AND EXISTS (SELECT 1 FROM customer_metrics m \
                     WHERE m.customer_id = c.customer_id{fragment})"
                ),
                values,
            )
        };
        let filter = format!(
            "c.shop_id = $1 \
             AND (CAST($2 AS TEXT) IS NULL OR c.status = $2) \
             AND ($4 <> 'me' OR c.assignee_id = $3) \
             AND ($4 <> 'unassigned' OR c.assignee_id IS NULL) \
             AND (NOT $5 OR c.assignee_id IS NULL OR c.assignee_id = $3) \
             AND (CAST($7 AS BIGINT) IS NULL OR EXISTS (SELECT 1 FROM conversation_tags ct \
                  WHERE ct.conversation_id = c.id AND ct.tag_id = $7)) \
             {segment_sql}"
        );
        let sql = match q.sort {
            ConversationSort::Recent => format!(
                "{CONVERSATION_SELECT} WHERE {filter} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $6"
            ),
            // Two ordered ranges, each one page at most: the waiting ones oldest first (the
            // partial index `conversations_waiting`), then the rest by activity
            // (`conversations_shop_activity`), merged by a key that keeps each range's order.
            ConversationSort::Waiting => format!(
                "SELECT * FROM ( \
                   SELECT w.*, 0 AS sort_part, w.waiting_since AS sort_key, w.id AS sort_id FROM ( \
                     {CONVERSATION_SELECT} WHERE {filter} AND c.waiting_since IS NOT NULL \
                     ORDER BY c.waiting_since, c.id LIMIT $6) w \
                   UNION ALL \
                   SELECT r.*, 1, 0 - r.last_message_at, 0 - r.id FROM ( \
                     {CONVERSATION_SELECT} WHERE {filter} AND c.waiting_since IS NULL \
                     ORDER BY c.last_message_at DESC, c.id DESC LIMIT $6) r \
                 ) x ORDER BY sort_part, sort_key, sort_id LIMIT $6"
            ),
        };
        let assignee = match q.assignee {
            AssigneeFilter::Me => "me",
            AssigneeFilter::Unassigned => "unassigned",
            AssigneeFilter::All => "all",
        };
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(q.status.map(|s| s.as_str()))
            .bind(q.viewer_id)
            .bind(assignee)
            .bind(!q.viewer_role.sees_whole_shop())
            .bind(q.limit)
            .bind(q.tag_id);
        for value in segment_values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.reader()).await.map_err(db_err)?;
        rows.iter().map(conversation_from_row).collect()
    }

    async fn messages(
        &self,
        shop_id: Id,
        conversation_id: Id,
        after_seq: i64,
        limit: i64,
        include_private: bool,
    ) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND shop_id = $2 \
             AND seq > $3 AND ($4 OR NOT private) ORDER BY seq LIMIT $5"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation_id)
            .bind(shop_id)
            .bind(after_seq)
            .bind(include_private)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn assign_as(
        &self,
        shop_id: Id,
        conversation_id: Id,
        agent_id: Option<Id>,
        team_id: Option<Id>,
        actor: Option<Id>,
    ) -> Result<Conversation> {
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            let mut team = team_id.or(current.team.as_ref().map(|t| t.id));
            if let Some(agent_id) = agent_id {
                let agent = load_user(conn, shop_id, agent_id)
                    .await?
                    .ok_or_else(|| Error::not_found("agent"))?;
                if !agent.active {
                    return Err(Error::invalid("agent_id", "the member is deactivated"));
                }
                if team_id.is_none() {
                    team = agent.team.map(|t| t.id).or(team);
                }
            }
            if let Some(team_id) = team_id {
                let ok: Option<Id> =
                    sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND shop_id = $2")
                        .bind(team_id)
                        .bind(shop_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                ok.ok_or_else(|| Error::not_found("team"))?;
            }
            // Handing to a team (no agent) puts an open conversation back in that team's queue.
            let queued_at =
                (agent_id.is_none() && current.status == ConversationStatus::Open).then_some(now);
            sqlx::query(
                    "UPDATE conversations SET assignee_id = $1, team_id = $2, queued_at = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(agent_id)
                .bind(team)
                .bind(queued_at)
                .bind(now)
                .bind(conversation_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if let Some(agent_id) = agent_id {
                sqlx::query("UPDATE users SET last_assigned_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(agent_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            if agent_id != current.assignee_id || team != current.team.as_ref().map(|t| t.id) {
                let kind = if current.assignee_id.is_some() {
                    DeskEventKind::Transferred
                } else {
                    DeskEventKind::Assigned
                };
                super::kpi::record_conversation_event(
                    conn,
                    conversation_id,
                    now,
                    kind,
                    agent_id,
                    current.assignee_id,
                    actor,
                    "",
                )
                .await?;
            }
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn set_status_as(
        &self,
        shop_id: Id,
        conversation_id: Id,
        status: ConversationStatus,
        actor: Option<Id>,
    ) -> Result<Conversation> {
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            // Reopened and unassigned: back in the queue. Anything not open leaves the queue.
            let queued_at = (status == ConversationStatus::Open && current.assignee_id.is_none())
                .then_some(now);
            // A resolved conversation keeps nobody waiting (kefu_core::inbox).
            sqlx::query("UPDATE conversations SET status = $1, queued_at = $2, updated_at = $3, snoozed_until = NULL, \
                 waiting_since = CASE WHEN $1 = 'resolved' THEN NULL ELSE waiting_since END WHERE id = $4")
                    .bind(status.as_str())
                    .bind(queued_at)
                    .bind(now)
                    .bind(conversation_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if status != current.status {
                super::kpi::record_conversation_event(
                    conn,
                    conversation_id,
                    now,
                    DeskEventKind::Status,
                    current.assignee_id,
                    None,
                    actor,
                    status.as_str(),
                )
                .await?;
            }
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn mark_read_by_agent(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        tx!(self, |conn| {
            let current = load_conversation_locked(conn, shop_id, conversation_id).await?;
            let seq = seq.clamp(0, current.last_seq);
            if seq >= current.last_seq || current.unread_count > 0 {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE conversations SET agent_read_seq = {GREATEST}(agent_read_seq, $1), \
                     unread_count = CASE WHEN $1 >= last_seq THEN 0 ELSE unread_count END \
                     WHERE id = $2",
                )))
                .bind(seq)
                .bind(conversation_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn mark_read_by_customer(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        tx!(self, |conn| {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE conversations \
                 SET customer_read_seq = {GREATEST}(customer_read_seq, {LEAST}($1, last_seq)) \
                 WHERE id = $2 AND shop_id = $3",
            )))
            .bind(seq)
            .bind(conversation_id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn route_waiting(&self, shop_id: Id) -> Result<Vec<Conversation>> {
        tx!(self, |conn| { route_shop(conn, shop_id).await })
    }

    async fn waiting_queue(&self, shop_id: Id) -> Result<Vec<(Id, Id)>> {
        sqlx::query_as(
            "SELECT id, customer_id FROM conversations WHERE shop_id = $1 AND queued_at IS NOT NULL \
             ORDER BY queued_at, id",
        )
        .bind(shop_id)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)
    }

    async fn upsert_product(&self, shop_id: Id, p: &NewProduct) -> Result<Product> {
        let (sku, name, currency, image_url, description, price) = (
            p.sku.clone(),
            p.name.clone(),
            p.currency.clone(),
            p.image_url.clone(),
            p.description.clone(),
            p.price_cents,
        );
        tx!(self, |conn| {
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO products (shop_id, sku, name, price_cents, currency, image_url, description, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (shop_id, sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents, \
                     currency = excluded.currency, image_url = excluded.image_url, description = excluded.description \
                     RETURNING id",
                )
                .bind(shop_id)
                .bind(&sku)
                .bind(&name)
                .bind(price)
                .bind(&currency)
                .bind(&image_url)
                .bind(&description)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(Product {
                id,
                sku: owned!(sku),
                name: owned!(name),
                price_cents: price,
                currency: owned!(currency),
                image_url: owned!(image_url),
                description: owned!(description),
            })
        })
    }

    async fn list_products(&self, shop_id: Id) -> Result<Vec<Product>> {
        let rows: Vec<(Id, String, String, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, sku, name, price_cents, currency, image_url, description FROM products \
             WHERE shop_id = $1 ORDER BY id",
        )
        .bind(shop_id)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, sku, name, price_cents, currency, image_url, description)| Product {
                    id,
                    sku,
                    name,
                    price_cents,
                    currency,
                    image_url,
                    description,
                },
            )
            .collect())
    }
}
