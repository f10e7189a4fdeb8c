//! kefu-store-postgres: the PostgreSQL implementation of kefu's [`Store`] trait.
//!
//! It owns the PostgreSQL schema (`migrations/`, the same versions as kefu-store-sqlite) and every
//! query kefu runs against PostgreSQL; it behaves exactly like the SQLite store (same results, same
//! error codes), which the shared integration suite checks. It depends on kefu-core only; the HTTP
//! layer never sees sqlx.
//!
//! Concurrency: where SQLite serializes every write in one writer task, here each write method runs
//! in its own READ COMMITTED transaction and takes row locks so that the outcome is one the SQLite
//! store could also produce:
//! - a message insert bumps `conversations.last_seq` with `UPDATE … RETURNING`, which row-locks the
//!   conversation until commit, so `seq` is gap-free and increasing per conversation;
//! - a shopper's message first locks the shopper's row, so two first messages cannot open two
//!   conversations and a retry always sees the original;
//! - read-modify-write methods (assign, status, read marks, agent/system messages) lock the
//!   conversation row before reading it;
//! - routing takes a per-shop advisory lock and locks the queued conversations and online agents.
//!
//! A concurrent duplicate that still reaches the `messages_idempotency` index is rolled back and
//! answered with the original (`duplicate = true`); a deadlock is retried a few times.

mod commerce;
mod customers;
mod search;
mod segments;
mod suggestions;

use async_trait::async_trait;
use kefu_core::model::*;
use kefu_core::routing::{Candidate, plan_assignments, reachable_by_team};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
// Dynamic SQL here is only ever our own constant fragments joined together (and a schema name
// checked to be a plain identifier), never input.
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, PgPool, Row};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migration versions this backend carries (a test checks SQLite carries the same).
pub fn migration_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// The most connections the pool opens.
const MAX_CONNECTIONS: u32 = 16;
/// How often a transaction that deadlocked (or failed to serialize) is run again.
const MAX_RETRIES: u32 = 5;
/// The message of the private error that marks a retryable transaction failure.
const RETRY_MARKER: &str = "transaction must be retried";
/// The message of the private error that marks a concurrent duplicate message insert.
const DUPLICATE_MARKER: &str = "duplicate client_msg_id";

pub struct PostgresStore {
    pool: PgPool,
}

pub(crate) fn db_err(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(d) = &e {
        if matches!(d.code().as_deref(), Some("40P01" | "40001")) {
            // Deadlock or serialization failure: the transaction runs again (see `write_tx!`).
            return Error::new(ErrorCode::Internal, RETRY_MARKER);
        }
        if d.is_unique_violation() {
            if d.constraint() == Some("messages_idempotency") {
                return Error::conflict(DUPLICATE_MARKER);
            }
            return Error::conflict("already exists");
        }
        if d.is_foreign_key_violation() {
            return Error::validation("refers to something that does not exist");
        }
    }
    Error::internal(e)
}

fn is_retry(e: &Error) -> bool {
    e.code == ErrorCode::Internal && e.message == RETRY_MARKER
}

fn is_duplicate(e: &Error) -> bool {
    e.code == ErrorCode::Conflict && e.message == DUPLICATE_MARKER
}

/// Runs `$body` (an async block using `$conn: &mut PgConnection`) in a transaction and commits it.
/// On error the transaction is rolled back; after a deadlock it runs again (up to [`MAX_RETRIES`]).
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 0u32;
        loop {
            let mut tx = $store.pool.begin().await.map_err(db_err)?;
            let result: Result<_> = {
                let $conn: &mut PgConnection = &mut tx;
                $body.await
            };
            let result = match result {
                Ok(v) => tx.commit().await.map_err(db_err).map(|()| v),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            match result {
                Err(e) if is_retry(&e) && attempt < MAX_RETRIES => attempt += 1,
                Err(e) if is_retry(&e) => {
                    break Err(Error::internal("transaction kept deadlocking"));
                }
                other => break other,
            }
        }
    }};
}
// Path-based so area modules declared above the macro can use it (`use crate::write_tx`).
pub(crate) use write_tx;

// After `write_tx!`, which they use (macro_rules are visible only below their definition).
mod aftersales;
mod attachments;
mod mail;
mod reminders;
mod reports;
mod scripts;
mod sla;
mod tickets;
mod tools;

impl PostgresStore {
    /// Connects to `url` (`postgres://…`, which may carry `?options=-c%20search_path%3D…`) and
    /// runs migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(parse_url(url)?).await
    }

    /// Like [`PostgresStore::open`], but everything (tables, migrations) lives in `schema`, which
    /// is created if missing. `schema` must be a plain identifier (ASCII letters, digits, `_`).
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<Self> {
        let plain = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !plain {
            return Err(Error::validation("schema must be a plain identifier"));
        }
        let options = parse_url(url)?;
        let mut conn = options.connect().await.map_err(Error::internal)?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut conn)
        .await
        .map_err(db_err)?;
        let _ = conn.close().await;
        Self::open_with(options.options([("search_path", schema)])).await
    }

    async fn open_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(Error::internal)?;
        MIGRATOR.run(&pool).await.map_err(Error::internal)?;
        Ok(Self { pool })
    }

    /// The answer to a retry whose concurrent original won the race to the idempotency index.
    async fn original(
        &self,
        shop_id: Id,
        sender_type: SenderType,
        sender_id: Id,
        client_msg_id: &str,
    ) -> Result<Appended> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let original = find_retry(&mut conn, sender_type, sender_id, client_msg_id)
            .await?
            .ok_or_else(|| Error::conflict("already exists"))?;
        let conversation = load_conversation(&mut conn, shop_id, original.conversation_id).await?;
        Ok(Appended {
            message: original,
            companions: vec![],
            conversation,
            conversation_started: false,
            duplicate: true,
        })
    }
}

fn parse_url(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| Error::internal(format!("bad postgres url: {e}")))
}

/// Locks a conversation of the shop for the rest of the transaction; `not_found` if there is none.
pub(crate) async fn lock_conversation(conn: &mut PgConnection, shop_id: Id, id: Id) -> Result<()> {
    let found: Option<Id> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE id = $1 AND shop_id = $2 FOR NO KEY UPDATE",
    )
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found("conversation"))
}

// ---------------------------------------------------------------------------------------------
// Row mapping and shared queries. Reads and write transactions both use these.

const SHOP_COLUMNS: &str = "id, slug, name, greeting, offline_message, default_max_concurrent, prechat, time_zone, \
     widget_origins";

fn shop_from_row(r: &PgRow) -> Shop {
    Shop {
        id: r.get("id"),
        slug: r.get("slug"),
        name: r.get("name"),
        settings: ShopSettings {
            greeting: r.get("greeting"),
            offline_message: r.get("offline_message"),
            default_max_concurrent: r.get("default_max_concurrent"),
            // Stored as JSON; a value this version cannot read falls back to "off".
            prechat: serde_json::from_str(r.get::<&str, _>("prechat")).unwrap_or_default(),
            time_zone: r.get("time_zone"),
            widget_origins: serde_json::from_str(r.get::<&str, _>("widget_origins"))
                .unwrap_or_default(),
        },
    }
}

const USER_SELECT: &str = "SELECT u.id, u.shop_id, u.name, u.email, u.role, u.status, u.team_id, \
     t.name AS team_name, u.max_concurrent, u.password_hash \
     FROM users u LEFT JOIN teams t ON t.id = u.team_id";

fn user_from_row(r: &PgRow) -> Result<User> {
    let team_id: Option<Id> = r.get("team_id");
    Ok(User {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        name: r.get("name"),
        email: r.get("email"),
        role: Role::parse(r.get("role"))?,
        status: AgentStatus::parse(r.get("status"))?,
        team: team_id.map(|id| TeamRef {
            id,
            name: r.get("team_name"),
        }),
        max_concurrent: r.get("max_concurrent"),
    })
}

const CONVERSATION_SELECT: &str = "SELECT c.id, c.shop_id, c.status, c.assignee_id, \
     u.name AS assignee_name, c.team_id, t.name AS team_name, c.customer_id, \
     cu.name AS customer_name, c.last_seq, c.last_message_at, c.last_message_preview, \
     c.unread_count, c.customer_read_seq, c.agent_read_seq, c.created_at, \
     c.tags, c.snoozed_until, \
     CASE WHEN c.queued_at IS NULL THEN NULL ELSE ( \
        SELECT COUNT(*) FROM conversations q WHERE q.shop_id = c.shop_id \
        AND q.queued_at IS NOT NULL \
        AND (q.queued_at, q.id) <= (c.queued_at, c.id)) \
     END AS queue_position \
     FROM conversations c \
     JOIN customers cu ON cu.id = c.customer_id \
     LEFT JOIN users u ON u.id = c.assignee_id \
     LEFT JOIN teams t ON t.id = c.team_id";

fn conversation_from_row(r: &PgRow) -> Result<Conversation> {
    let team_id: Option<Id> = r.get("team_id");
    Ok(Conversation {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        status: ConversationStatus::parse(r.get("status"))?,
        assignee_id: r.get("assignee_id"),
        assignee_name: r.get("assignee_name"),
        team: team_id.map(|id| TeamRef {
            id,
            name: r.get("team_name"),
        }),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        last_seq: r.get("last_seq"),
        last_message_at: Millis(r.get("last_message_at")),
        last_message_preview: r.get("last_message_preview"),
        unread_count: r.get("unread_count"),
        customer_read_seq: r.get("customer_read_seq"),
        agent_read_seq: r.get("agent_read_seq"),
        queue_position: r.get("queue_position"),
        created_at: Millis(r.get("created_at")),
        tags: serde_json::from_str(r.get("tags")).map_err(Error::internal)?,
        snoozed_until: r.get::<Option<i64>, _>("snoozed_until").map(Millis),
    })
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sender_type, sender_id, sender_name, body, \
     private, client_msg_id, created_at, kind, payload";

pub(crate) fn message_from_row(r: &PgRow) -> Result<Message> {
    let payload: Option<String> = r.get("payload");
    Ok(Message {
        id: r.get("id"),
        conversation_id: r.get("conversation_id"),
        seq: r.get("seq"),
        sender_type: SenderType::parse(r.get("sender_type"))?,
        sender_id: r.get("sender_id"),
        sender_name: r.get("sender_name"),
        body: r.get("body"),
        private: r.get("private"),
        client_msg_id: r.get("client_msg_id"),
        created_at: Millis(r.get("created_at")),
        kind: MessageKind::parse(r.get("kind"))?,
        payload: payload
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(Error::internal)?,
    })
}

pub(crate) async fn load_conversation(
    conn: &mut PgConnection,
    shop_id: Id,
    id: Id,
) -> Result<Conversation> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.id = $1 AND c.shop_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("conversation"))?;
    conversation_from_row(&row)
}

async fn load_shop(conn: &mut PgConnection, shop_id: Id) -> Result<Shop> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(shop_from_row(&row))
}

async fn load_user(conn: &mut PgConnection, shop_id: Id, id: Id) -> Result<Option<User>> {
    let sql = format!("{USER_SELECT} WHERE u.id = $1 AND u.shop_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(user_from_row).transpose()
}

/// Finds the message a sender already stored under `client_msg_id`.
async fn find_retry(
    conn: &mut PgConnection,
    sender_type: SenderType,
    sender_id: Id,
    client_msg_id: &str,
) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE sender_type = $1 AND sender_id = $2 AND client_msg_id = $3"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(sender_type.as_str())
        .bind(sender_id)
        .bind(client_msg_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(message_from_row).transpose()
}

/// A message to insert with the next seq of its conversation.
pub(crate) struct Insert<'a> {
    shop_id: Id,
    conversation_id: Id,
    sender_type: SenderType,
    sender_id: Option<Id>,
    sender_name: &'a str,
    body: &'a str,
    private: bool,
    client_msg_id: Option<&'a str>,
    now: i64,
    /// `text` (and no payload) for everything but cards.
    kind: MessageKind,
    payload: Option<&'a serde_json::Value>,
}

/// Inserts a message at `last_seq + 1` and moves the conversation's counters. The `UPDATE …
/// RETURNING last_seq` row-locks the conversation until the transaction ends, which is what makes
/// `seq` gap-free: a concurrent insert waits and then reads the committed `last_seq`.
///
/// A message leaves the conversation's `updated_at` alone: that column tells the search indexer
/// the conversation's own fields changed (status, assignee, team, tags), and moving it per message
/// made the indexer re-index every busy conversation several times a second.
pub(crate) async fn insert_message(conn: &mut PgConnection, m: Insert<'_>) -> Result<Message> {
    let counts_unread = m.sender_type == SenderType::Customer;
    let shows_in_preview = !m.private;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, \
         last_message_at = CASE WHEN $1 THEN $2 ELSE last_message_at END, \
         last_message_preview = CASE WHEN $1 THEN $3 ELSE last_message_preview END, \
         unread_count = unread_count + CASE WHEN $4 THEN 1 ELSE 0 END \
         WHERE id = $5 RETURNING last_seq",
    )
    .bind(shows_in_preview)
    .bind(m.now)
    .bind(preview(m.body))
    .bind(counts_unread)
    .bind(m.conversation_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let payload = m.payload.map(serde_json::Value::to_string);
    let id: Id = sqlx::query_scalar(
        "INSERT INTO messages (shop_id, conversation_id, seq, sender_type, sender_id, sender_name, \
         body, private, client_msg_id, created_at, kind, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(m.shop_id)
    .bind(m.conversation_id)
    .bind(seq)
    .bind(m.sender_type.as_str())
    .bind(m.sender_id)
    .bind(m.sender_name)
    .bind(m.body)
    .bind(m.private)
    .bind(m.client_msg_id)
    .bind(m.now)
    .bind(m.kind.as_str())
    .bind(payload)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(Message {
        id,
        conversation_id: m.conversation_id,
        seq,
        sender_type: m.sender_type,
        sender_id: m.sender_id,
        sender_name: m.sender_name.to_owned(),
        body: m.body.to_owned(),
        private: m.private,
        client_msg_id: m.client_msg_id.map(str::to_owned),
        created_at: Millis(m.now),
        kind: m.kind,
        payload: m.payload.cloned(),
    })
}

async fn append_customer(conn: &mut PgConnection, m: &CustomerMessage<'_>) -> Result<Appended> {
    let now = Millis::now().0;
    // Serialize per shopper: two first messages cannot open two conversations, and a retry that
    // waited here sees its committed original.
    let customer: Option<(Id, String)> =
        sqlx::query_as("SELECT shop_id, name FROM customers WHERE id = $1 FOR NO KEY UPDATE")
            .bind(m.customer_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if let Some(original) =
        find_retry(conn, SenderType::Customer, m.customer_id, m.client_msg_id).await?
    {
        let conversation = load_conversation(conn, m.shop_id, original.conversation_id).await?;
        return Ok(Appended {
            message: original,
            companions: vec![],
            conversation,
            conversation_started: false,
            duplicate: true,
        });
    }
    let customer_name = match customer {
        Some((shop_id, name)) if shop_id == m.shop_id => name,
        _ => return Err(Error::not_found("customer")),
    };
    let latest: Option<(Id, String)> = sqlx::query_as(
        "SELECT id, status FROM conversations WHERE customer_id = $1 ORDER BY id DESC LIMIT 1 \
         FOR NO KEY UPDATE",
    )
    .bind(m.customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;

    let mut companions = Vec::new();
    let mut is_new = false;
    let (conversation_id, started) = match latest {
        Some((id, status)) if status != "resolved" => (id, false),
        Some((id, _resolved)) => {
            // The shopper writes again: the conversation reopens and waits for an agent anew.
            sqlx::query(
                "UPDATE conversations SET status = 'open', assignee_id = NULL, queued_at = $1, \
                 updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            (id, true)
        }
        None => {
            let team_id: Option<Id> = sqlx::query_scalar(
                "SELECT id FROM teams WHERE shop_id = $1 ORDER BY is_default DESC, id LIMIT 1",
            )
            .bind(m.shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let id: Id = sqlx::query_scalar(
                "INSERT INTO conversations (shop_id, customer_id, status, team_id, last_message_at, \
                 queued_at, created_at, updated_at) VALUES ($1, $2, 'open', $3, $4, $4, $4, $4) RETURNING id",
            )
            .bind(m.shop_id)
            .bind(m.customer_id)
            .bind(team_id)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            is_new = true;
            (id, true)
        }
    };
    // Greeting and offline notice are the shop's, read in this transaction, only at a start.
    let announcement: Option<(String, String, String, i64)> = if started && m.announce {
        sqlx::query_as(
            "SELECT s.name, s.greeting, s.offline_message, \
             (SELECT COUNT(*) FROM users u WHERE u.shop_id = s.id AND u.status = 'online') \
             FROM shops s WHERE s.id = $1",
        )
        .bind(m.shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
    } else {
        None
    };
    if is_new
        && let Some((shop_name, greeting, _, _)) = &announcement
        && !greeting.trim().is_empty()
    {
        companions.push(
            insert_message(
                conn,
                Insert {
                    shop_id: m.shop_id,
                    conversation_id,
                    sender_type: SenderType::Bot,
                    sender_id: None,
                    sender_name: shop_name,
                    body: greeting,
                    private: false,
                    client_msg_id: None,
                    now,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?,
        );
    }
    let message = insert_message(
        conn,
        Insert {
            shop_id: m.shop_id,
            conversation_id,
            sender_type: SenderType::Customer,
            sender_id: Some(m.customer_id),
            sender_name: &customer_name,
            body: m.body,
            private: false,
            client_msg_id: Some(m.client_msg_id),
            now,
            kind: MessageKind::Text,
            payload: None,
        },
    )
    .await?;
    let mut trailing = None;
    if let Some((_, _, notice, 0)) = &announcement
        && !notice.trim().is_empty()
    {
        trailing = Some(
            insert_message(
                conn,
                Insert {
                    shop_id: m.shop_id,
                    conversation_id,
                    sender_type: SenderType::System,
                    sender_id: None,
                    sender_name: "",
                    body: notice,
                    private: false,
                    client_msg_id: None,
                    now,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?,
        );
    }
    companions.extend(trailing);
    let conversation = load_conversation(conn, m.shop_id, conversation_id).await?;
    Ok(Appended {
        message,
        companions,
        conversation,
        conversation_started: started,
        duplicate: false,
    })
}

async fn route_shop(conn: &mut PgConnection, shop_id: Id) -> Result<Vec<Conversation>> {
    // One router per shop at a time; the lock is released at commit.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // How much of each team's queue free agents could take (read again under lock below); a long
    // queue with busy agents is then not read at all.
    let reach = reachable_by_team(&online_agents(conn, shop_id).await?);
    // Lock the heads of the queues: a conversation assigned or closed meanwhile drops out instead
    // of being assigned twice.
    let mut queue: Vec<(Id, Option<Id>, i64)> = Vec::new();
    for (team, limit) in reach {
        let head: Vec<(Id, Option<Id>, i64)> = sqlx::query_as(
            "SELECT id, team_id, queued_at FROM conversations WHERE shop_id = $1 \
             AND team_id IS NOT DISTINCT FROM $2 AND queued_at IS NOT NULL \
             ORDER BY queued_at, id LIMIT $3 FOR NO KEY UPDATE",
        )
        .bind(shop_id)
        .bind(team)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        queue.extend(head);
    }
    queue.sort_by_key(|(id, _, queued_at)| (*queued_at, *id));
    queue.dedup_by_key(|(id, _, _)| *id);
    if queue.is_empty() {
        return Ok(vec![]);
    }
    // Lock the online agents before counting their load, so a concurrent manual assignment either
    // is counted or commits after this routing.
    sqlx::query(
        "SELECT id FROM users WHERE shop_id = $1 AND status = 'online' ORDER BY id \
         FOR NO KEY UPDATE",
    )
    .bind(shop_id)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut agents = online_agents(conn, shop_id).await?;
    if agents.is_empty() {
        return Ok(vec![]);
    }
    let now = Millis::now().0;
    let mut assigned = Vec::new();
    // Each team's queue is served by that team's agents.
    let mut teams: Vec<Option<Id>> = queue.iter().map(|(_, t, _)| *t).collect();
    teams.sort();
    teams.dedup();
    for team in teams {
        let team_queue: Vec<Id> = queue
            .iter()
            .filter(|(_, t, _)| *t == team)
            .map(|(id, _, _)| *id)
            .collect();
        // One load table for every team's plan, so an agent filled by one queue is full for the next.
        let mut candidates: Vec<Candidate> = agents
            .iter()
            .filter(|(agent_team, _)| team.is_none() || *agent_team == team)
            .map(|(_, c)| c.clone())
            .collect();
        let plan = plan_assignments(&team_queue, &mut candidates, now);
        for c in candidates {
            if let Some((_, shared)) = agents.iter_mut().find(|(_, a)| a.agent_id == c.agent_id) {
                *shared = c;
            }
        }
        for (conversation_id, agent_id) in plan {
            sqlx::query(
                "UPDATE conversations SET assignee_id = $1, queued_at = NULL, updated_at = $2 WHERE id = $3",
            )
            .bind(agent_id)
            .bind(now)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query("UPDATE users SET last_assigned_at = $1 WHERE id = $2")
                .bind(now)
                .bind(agent_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            assigned.push(conversation_id);
        }
    }
    let mut out = Vec::with_capacity(assigned.len());
    for id in assigned {
        out.push(load_conversation(conn, shop_id, id).await?);
    }
    Ok(out)
}

/// The shop's online agents with their team and current load.
async fn online_agents(
    conn: &mut PgConnection,
    shop_id: Id,
) -> Result<Vec<(Option<Id>, Candidate)>> {
    let rows: Vec<(Id, Option<Id>, i64, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.team_id, COALESCE(u.max_concurrent, s.default_max_concurrent), \
         u.last_assigned_at, \
         (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = u.id AND c.status = 'open') \
         FROM users u JOIN shops s ON s.id = u.shop_id \
         WHERE u.shop_id = $1 AND u.status = 'online'",
    )
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.1,
                Candidate {
                    agent_id: r.0,
                    max_concurrent: r.2,
                    last_assigned_at: r.3,
                    open_count: r.4,
                },
            )
        })
        .collect())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
        write_tx!(self, |conn| async move {
            let now = Millis::now().0;
            let d = ShopSettings::default();
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO shops (slug, name, greeting, offline_message, default_max_concurrent, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(slug)
                .bind(name)
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn shop_by_id(&self, id: Id) -> Result<Option<Shop>> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn update_shop_settings(&self, shop_id: Id, settings: &ShopSettings) -> Result<Shop> {
        let s = settings;
        write_tx!(self, |conn| async move {
            sqlx::query(
                    "UPDATE shops SET greeting = $1, offline_message = $2, default_max_concurrent = $3, \
                     prechat = $5, time_zone = $6, widget_origins = $7 WHERE id = $4",
                )
                .bind(&s.greeting)
                .bind(&s.offline_message)
                .bind(s.default_max_concurrent)
                .bind(shop_id)
                .bind(serde_json::to_string(&s.prechat).map_err(Error::internal)?)
                .bind(&s.time_zone)
                .bind(serde_json::to_string(&s.widget_origins).map_err(Error::internal)?)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            load_shop(conn, shop_id).await
        })
    }

    async fn create_team(&self, shop_id: Id, name: &str, is_default: bool) -> Result<Team> {
        write_tx!(self, |conn| async move {
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
                .bind(name)
                .bind(is_default)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(Team {
                id,
                name: name.to_owned(),
                is_default,
            })
        })
    }

    async fn list_teams(&self, shop_id: Id) -> Result<Vec<Team>> {
        let rows: Vec<(Id, String, bool)> =
            sqlx::query_as("SELECT id, name, is_default FROM teams WHERE shop_id = $1 ORDER BY id")
                .bind(shop_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, is_default)| Team {
                id,
                name,
                is_default,
            })
            .collect())
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        let user = &user;
        write_tx!(self, |conn| async move {
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
            load_user(conn, user.shop_id, id)
                .await?
                .ok_or_else(|| Error::not_found("user"))
        })
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let sql = format!("{USER_SELECT} WHERE u.email = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.get("password_hash")))),
            None => Ok(None),
        }
    }

    async fn user_by_id(&self, shop_id: Id, id: Id) -> Result<Option<User>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        load_user(&mut conn, shop_id, id).await
    }

    async fn list_agents(&self, shop_id: Id) -> Result<Vec<AgentSummary>> {
        let sql = format!("{USER_SELECT} WHERE u.shop_id = $1 ORDER BY u.id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let counts: Vec<(Id, i64)> = sqlx::query_as(
            "SELECT assignee_id, COUNT(*) FROM conversations WHERE shop_id = $1 AND status = 'open' \
             AND assignee_id IS NOT NULL GROUP BY assignee_id",
        )
        .bind(shop_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let user = user_from_row(r)?;
                let open_count = counts
                    .iter()
                    .find(|(id, _)| *id == user.id)
                    .map_or(0, |c| c.1);
                Ok(AgentSummary { user, open_count })
            })
            .collect()
    }

    async fn set_agent_status(
        &self,
        shop_id: Id,
        user_id: Id,
        status: AgentStatus,
    ) -> Result<User> {
        write_tx!(self, |conn| async move {
            let done = sqlx::query("UPDATE users SET status = $1 WHERE id = $2 AND shop_id = $3")
                .bind(status.as_str())
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

    async fn set_agent_max_concurrent(
        &self,
        shop_id: Id,
        user_id: Id,
        max_concurrent: Option<i64>,
    ) -> Result<User> {
        write_tx!(self, |conn| async move {
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
        .fetch_one(&self.pool)
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
        write_tx!(self, |conn| async move {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(Millis::now().0)
            .bind(expires_at.0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(())
        })
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>> {
        let sql = format!(
            "{USER_SELECT} JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        write_tx!(self, |conn| async move {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn create_customer(&self, shop_id: Id, customer: &NewCustomer) -> Result<CustomerRef> {
        let c = customer;
        write_tx!(self, |conn| async move {
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
            customers::record_identities(conn, shop_id, id, c).await?;
            Ok(CustomerRef { id, name })
        })
    }

    async fn update_customer(
        &self,
        shop_id: Id,
        customer_id: Id,
        customer: &NewCustomer,
    ) -> Result<()> {
        let c = customer;
        write_tx!(self, |conn| async move {
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
                customers::record_identities(conn, shop_id, customer_id, c).await?;
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
        write_tx!(self, |conn| async move {
            sqlx::query(
                    "INSERT INTO visitor_tokens (token_hash, shop_id, customer_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(shop_id)
                .bind(customer_id)
                .bind(Millis::now().0)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn visitor(&self, token_hash: &str) -> Result<Option<Visitor>> {
        let row: Option<(Id, Id, String, bool)> = sqlx::query_as(
            "SELECT v.shop_id, v.customer_id, c.name, c.blocked FROM visitor_tokens v \
             JOIN customers c ON c.id = v.customer_id WHERE v.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
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

    async fn append_customer_message(&self, msg: CustomerMessage<'_>) -> Result<Appended> {
        match write_tx!(self, |conn| append_customer(conn, &msg)) {
            Err(e) if is_duplicate(&e) => {
                self.original(
                    msg.shop_id,
                    SenderType::Customer,
                    msg.customer_id,
                    msg.client_msg_id,
                )
                .await
            }
            other => other,
        }
    }

    async fn append_agent_message(&self, msg: AgentMessage<'_>) -> Result<Appended> {
        let (shop_id, conversation_id, private) = (msg.shop_id, msg.conversation_id, msg.private);
        let (agent_id, agent_name) = (msg.agent.id, msg.agent.name.as_str());
        let (body, client_msg_id) = (msg.body, msg.client_msg_id);
        let (kind, payload) = (msg.kind, &msg.payload);
        let result = write_tx!(self, |conn| async move {
            if let Some(original) =
                find_retry(conn, SenderType::Agent, agent_id, client_msg_id).await?
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
                    sender_name: agent_name,
                    body,
                    private,
                    client_msg_id: Some(client_msg_id),
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
        });
        match result {
            Err(e) if is_duplicate(&e) => {
                self.original(shop_id, SenderType::Agent, agent_id, client_msg_id)
                    .await
            }
            other => other,
        }
    }

    async fn append_system_message(
        &self,
        shop_id: Id,
        conversation_id: Id,
        body: &str,
        private: bool,
    ) -> Result<Appended> {
        write_tx!(self, |conn| async move {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let message = insert_message(
                conn,
                Insert {
                    shop_id,
                    conversation_id,
                    sender_type: SenderType::System,
                    sender_id: None,
                    sender_name: "",
                    body,
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
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
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
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn list_conversations(
        &self,
        shop_id: Id,
        q: ConversationQuery,
    ) -> Result<Vec<Conversation>> {
        // $1 shop, $2 status (NULL = any), $3 viewer, $4 assignee filter, $5 agent-only visibility, $6 limit
        // $8… the segment condition's values, when one is asked for.
        let (segment_sql, segment_values) = if q.segment == Default::default() {
            (String::new(), Vec::new())
        } else {
            let (fragment, values) = crate::segments::segment_filter_sql(&q.segment, "m", 8);
            (
                format!(
                    " AND EXISTS (SELECT 1 FROM customer_metrics m \
                     WHERE m.customer_id = c.customer_id{fragment})"
                ),
                values,
            )
        };
        let sql = format!(
            "{CONVERSATION_SELECT} WHERE c.shop_id = $1 AND ($2::text IS NULL OR c.status = $2::text) \
             AND ($4 <> 'me' OR c.assignee_id = $3) \
             AND ($4 <> 'unassigned' OR c.assignee_id IS NULL) \
             AND (NOT $5 OR c.assignee_id IS NULL OR c.assignee_id = $3) \
             AND ($7::bigint IS NULL OR EXISTS (SELECT 1 FROM conversation_tags ct \
                  WHERE ct.conversation_id = c.id AND ct.tag_id = $7::bigint)) \
             {segment_sql} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $6"
        );
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
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
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
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn assign(
        &self,
        shop_id: Id,
        conversation_id: Id,
        agent_id: Option<Id>,
        team_id: Option<Id>,
    ) -> Result<Conversation> {
        write_tx!(self, |conn| async move {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let current = load_conversation(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            let mut team = team_id.or(current.team.as_ref().map(|t| t.id));
            if let Some(agent_id) = agent_id {
                let agent = load_user(conn, shop_id, agent_id)
                    .await?
                    .ok_or_else(|| Error::not_found("agent"))?;
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
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn set_status(
        &self,
        shop_id: Id,
        conversation_id: Id,
        status: ConversationStatus,
    ) -> Result<Conversation> {
        write_tx!(self, |conn| async move {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let current = load_conversation(conn, shop_id, conversation_id).await?;
            let now = Millis::now().0;
            // Reopened and unassigned: back in the queue. Anything not open leaves the queue.
            let queued_at = (status == ConversationStatus::Open && current.assignee_id.is_none())
                .then_some(now);
            sqlx::query("UPDATE conversations SET status = $1, queued_at = $2, updated_at = $3, snoozed_until = NULL WHERE id = $4")
                    .bind(status.as_str())
                    .bind(queued_at)
                    .bind(now)
                    .bind(conversation_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            load_conversation(conn, shop_id, conversation_id).await
        })
    }

    async fn mark_read_by_agent(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        write_tx!(self, |conn| async move {
            lock_conversation(conn, shop_id, conversation_id).await?;
            let current = load_conversation(conn, shop_id, conversation_id).await?;
            let seq = seq.clamp(0, current.last_seq);
            if seq >= current.last_seq || current.unread_count > 0 {
                sqlx::query(
                        "UPDATE conversations SET agent_read_seq = GREATEST(agent_read_seq, $1), \
                         unread_count = CASE WHEN $1 >= last_seq THEN 0 ELSE unread_count END WHERE id = $2",
                    )
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
        write_tx!(self, |conn| async move {
            sqlx::query(
                    "UPDATE conversations SET customer_read_seq = GREATEST(customer_read_seq, LEAST($1, last_seq)) \
                     WHERE id = $2 AND shop_id = $3",
                )
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
        write_tx!(self, |conn| route_shop(conn, shop_id))
    }

    async fn waiting_queue(&self, shop_id: Id) -> Result<Vec<(Id, Id)>> {
        sqlx::query_as(
            "SELECT id, customer_id FROM conversations WHERE shop_id = $1 AND queued_at IS NOT NULL \
             ORDER BY queued_at, id",
        )
        .bind(shop_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn upsert_product(&self, shop_id: Id, p: &NewProduct) -> Result<Product> {
        let (sku, name, currency, image_url, description, price) = (
            &p.sku,
            &p.name,
            &p.currency,
            &p.image_url,
            &p.description,
            p.price_cents,
        );
        write_tx!(self, |conn| async move {
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO products (shop_id, sku, name, price_cents, currency, image_url, description, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (shop_id, sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents, \
                     currency = excluded.currency, image_url = excluded.image_url, description = excluded.description \
                     RETURNING id",
                )
                .bind(shop_id)
                .bind(sku)
                .bind(name)
                .bind(price)
                .bind(currency)
                .bind(image_url)
                .bind(description)
                .bind(Millis::now().0)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(Product {
                id,
                sku: sku.clone(),
                name: name.clone(),
                price_cents: price,
                currency: currency.clone(),
                image_url: image_url.clone(),
                description: description.clone(),
            })
        })
    }

    async fn list_products(&self, shop_id: Id) -> Result<Vec<Product>> {
        let rows: Vec<(Id, String, String, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, sku, name, price_cents, currency, image_url, description FROM products \
             WHERE shop_id = $1 ORDER BY id",
        )
        .bind(shop_id)
        .fetch_all(&self.pool)
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
