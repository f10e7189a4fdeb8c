//! kefu-store-sqlite: the embedded default storage.
//!
//! Layout: WAL journal, FULL durability (a commit is on disk before anyone hears of it: the writer
//! commits with `synchronous=NORMAL` and its companion thread fsyncs the WAL before answering),
//! `foreign_keys=ON`, one write connection owned by the group-committing [`writer::Writer`] task, a
//! connection that checkpoints the WAL off the writer's path (`checkpoint.rs`) and a small pool of
//! read connections. Reads never wait for writes (WAL) and see only committed data.
//! It depends on kefu-core only; the HTTP layer never sees sqlx.

mod aftersales;
mod attachments;
mod batch;
mod checkpoint;
mod commerce;
mod customers;
mod mail;
mod reminders;
mod reports;
mod scripts;
mod search;
mod segments;
mod sla;
mod suggestions;
mod tickets;
mod tools;
mod writer;

use async_trait::async_trait;
use kefu_core::model::*;
use kefu_core::routing::{Candidate, plan_assignments, reachable_by_team};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
// Dynamic SQL here is only ever our own constant fragments joined together, never input.
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use writer::{BoxFuture, Durability, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migration versions this backend carries (a test checks PostgreSQL carries the same).
pub fn migration_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

pub struct SqliteStore {
    reader: SqlitePool,
    writer: Writer,
    /// Bulk imports under way: the writer's page cache is large while any is (commerce.rs).
    bulk_imports: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Every connection's page cache, in KiB (an upper bound, not an allocation).
const CACHE_KIB: u32 = 32 * 1024;

/// The writer's page cache while a bulk import runs, in KiB: an import inserts into several
/// secondary indexes at random places, and once those outgrow the cache every commit and insert
/// goes to disk. Only for the import's duration, because a page cache, once filled, stays in the
/// process's memory.
pub(crate) const IMPORT_CACHE_KIB: u32 = 256 * 1024;

/// Sets `conn`'s page cache to `kib` KiB (shrinking it frees the pages above the new size).
pub(crate) async fn set_cache_kib(conn: &mut SqliteConnection, kib: u32) -> Result<()> {
    sqlx::query(AssertSqlSafe(format!("PRAGMA cache_size = -{kib}")))
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) fn db_err(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return Error::conflict("already exists");
        }
        if d.is_foreign_key_violation() {
            return Error::validation("refers to something that does not exist");
        }
    }
    Error::internal(e)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`) and runs migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::internal(format!("bad sqlite url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", format!("-{CACHE_KIB}"))
            .pragma("temp_store", "memory");
        // The bulk path's statements differ by batch shape (rows × conversations), so the writer
        // keeps more prepared statements than sqlx's default 100.
        // The writer's page cache is as small as the readers' except during a bulk import
        // (`begin_bulk_import`, commerce.rs), which gets [`IMPORT_CACHE_KIB`].
        // The writer commits with `synchronous=NORMAL` and its own thread fsyncs the WAL before
        // anyone is answered: FULL's promise without the writer waiting (writer.rs, `Durability`).
        let mut write_conn = options
            .clone()
            .synchronous(SqliteSynchronous::Normal)
            .statement_cache_capacity(1024)
            .connect()
            .await
            .map_err(Error::internal)?;
        MIGRATOR
            .run(&mut write_conn)
            .await
            .map_err(Error::internal)?;
        let durability = write_durability(&mut write_conn, options.get_filename()).await?;
        // A WAL file on disk is checkpointed by a connection of its own (checkpoint.rs); the
        // writer's automatic checkpoint becomes the rare backstop.
        let checkpoints = match durability {
            Durability::SyncWal(_) => {
                sqlx::query(AssertSqlSafe(format!(
                    "PRAGMA wal_autocheckpoint = {}",
                    checkpoint::WRITER_AUTOCHECKPOINT_PAGES
                )))
                .execute(&mut write_conn)
                .await
                .map_err(Error::internal)?;
                let conn = options
                    .clone()
                    .synchronous(SqliteSynchronous::Normal)
                    .connect()
                    .await
                    .map_err(Error::internal)?;
                Some(checkpoint::start(conn))
            }
            Durability::InCommit => None,
        };
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await
            .map_err(Error::internal)?;
        Ok(Self {
            reader,
            writer: Writer::start(write_conn, durability, checkpoints),
            bulk_imports: Default::default(),
        })
    }

    /// Opens the database file `kefu.db` inside `dir`.
    pub async fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::internal)?;
        Self::open(&format!("sqlite://{}", dir.join("kefu.db").display())).await
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.writer.write(f).await
    }
}

/// How the writer's commits become durable: through the WAL file, synced by the writer's companion
/// thread, or — for anything that is not a WAL database on disk — by `synchronous=FULL` itself.
async fn write_durability(conn: &mut SqliteConnection, file: &Path) -> Result<Durability> {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .map_err(Error::internal)?;
    let on_disk = !(file.as_os_str().is_empty() || file == Path::new(":memory:"));
    if mode.eq_ignore_ascii_case("wal") && on_disk {
        let mut wal = file.as_os_str().to_owned();
        wal.push("-wal");
        // What NORMAL left unsynced so far (the migrations), synced before anything else runs.
        match std::fs::File::open(&wal).and_then(|f| f.sync_data()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(format!("could not sync the WAL: {e}"))),
        }
        Ok(Durability::SyncWal(wal.into()))
    } else {
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await
            .map_err(Error::internal)?;
        Ok(Durability::InCommit)
    }
}

// ---------------------------------------------------------------------------------------------
// Row mapping and shared queries. Both the reader pool and the writer use these.

const SHOP_COLUMNS: &str = "id, slug, name, greeting, offline_message, default_max_concurrent, prechat, time_zone, \
     widget_origins";

fn shop_from_row(r: &SqliteRow) -> Shop {
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

fn user_from_row(r: &SqliteRow) -> Result<User> {
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

pub(crate) const CONVERSATION_SELECT: &str = "SELECT c.id, c.shop_id, c.status, c.assignee_id, \
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

/// [`CONVERSATION_SELECT`] without the queue position (NULL): counting the queue costs time in
/// proportion to its length, and the steady message path never shows it.
pub(crate) const CONVERSATION_SELECT_NO_QUEUE: &str = "SELECT c.id, c.shop_id, c.status, c.assignee_id, \
     u.name AS assignee_name, c.team_id, t.name AS team_name, c.customer_id, \
     cu.name AS customer_name, c.last_seq, c.last_message_at, c.last_message_preview, \
     c.unread_count, c.customer_read_seq, c.agent_read_seq, c.created_at, \
     c.tags, c.snoozed_until, \
     NULL AS queue_position \
     FROM conversations c \
     JOIN customers cu ON cu.id = c.customer_id \
     LEFT JOIN users u ON u.id = c.assignee_id \
     LEFT JOIN teams t ON t.id = c.team_id";

pub(crate) fn conversation_from_row(r: &SqliteRow) -> Result<Conversation> {
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

pub(crate) fn message_from_row(r: &SqliteRow) -> Result<Message> {
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
    conn: &mut SqliteConnection,
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

async fn load_shop(conn: &mut SqliteConnection, shop_id: Id) -> Result<Shop> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(shop_from_row(&row))
}

async fn load_user(conn: &mut SqliteConnection, shop_id: Id, id: Id) -> Result<Option<User>> {
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
    conn: &mut SqliteConnection,
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

/// Inserts a message at `last_seq + 1` and moves the conversation's counters. Runs only on the
/// writer (inside its transaction), which is what makes `seq` gap-free without locks.
///
/// A message leaves the conversation's `updated_at` alone: that column tells the search indexer
/// the conversation's own fields changed (status, assignee, team, tags), and moving it per message
/// made the indexer re-index every busy conversation several times a second.
pub(crate) async fn insert_message(conn: &mut SqliteConnection, m: Insert<'_>) -> Result<Message> {
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

pub(crate) struct OwnedCustomerMessage {
    shop_id: Id,
    customer_id: Id,
    body: String,
    client_msg_id: String,
    announce: bool,
}

pub(crate) async fn append_customer(
    conn: &mut SqliteConnection,
    m: &OwnedCustomerMessage,
) -> Result<Appended> {
    let now = Millis::now().0;
    if let Some(original) =
        find_retry(conn, SenderType::Customer, m.customer_id, &m.client_msg_id).await?
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
    let customer_name: String =
        sqlx::query_scalar("SELECT name FROM customers WHERE id = $1 AND shop_id = $2")
            .bind(m.customer_id)
            .bind(m.shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found("customer"))?;
    let latest: Option<(Id, String)> = sqlx::query_as(
        "SELECT id, status FROM conversations WHERE customer_id = $1 ORDER BY id DESC LIMIT 1",
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
            body: &m.body,
            private: false,
            client_msg_id: Some(&m.client_msg_id),
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

async fn route_shop(conn: &mut SqliteConnection, shop_id: Id) -> Result<Vec<Conversation>> {
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
    let mut agents: Vec<(Option<Id>, Candidate)> = rows
        .iter()
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
        .collect();
    // Only the head of each queue that free agents could take; the rest keeps waiting unread.
    let mut queue: Vec<(Id, Option<Id>, i64)> = Vec::new();
    for (team, reach) in reachable_by_team(&agents) {
        let head: Vec<(Id, Option<Id>, i64)> = sqlx::query_as(
            "SELECT id, team_id, queued_at FROM conversations WHERE shop_id = $1 AND team_id IS $2 \
             AND queued_at IS NOT NULL ORDER BY queued_at, id LIMIT $3",
        )
        .bind(shop_id)
        .bind(team)
        .bind(reach)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        queue.extend(head);
    }
    queue.sort_by_key(|(id, _, queued_at)| (*queued_at, *id));
    let queue: Vec<(Id, Option<Id>)> = queue.into_iter().map(|(id, team, _)| (id, team)).collect();
    if queue.is_empty() {
        return Ok(vec![]);
    }
    let now = Millis::now().0;
    let mut assigned = Vec::new();
    // Each team's queue is served by that team's agents.
    let mut teams: Vec<Option<Id>> = queue.iter().map(|(_, t)| *t).collect();
    teams.sort();
    teams.dedup();
    for team in teams {
        let team_queue: Vec<Id> = queue
            .iter()
            .filter(|(_, t)| *t == team)
            .map(|(id, _)| *id)
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

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
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
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn shop_by_slug(&self, slug: &str) -> Result<Option<Shop>> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE slug = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn shop_by_id(&self, id: Id) -> Result<Option<Shop>> {
        let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(shop_from_row))
    }

    async fn update_shop_settings(&self, shop_id: Id, settings: &ShopSettings) -> Result<Shop> {
        let s = settings.clone();
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn create_team(&self, shop_id: Id, name: &str, is_default: bool) -> Result<Team> {
        let name = name.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
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
                Ok(Team { id, name, is_default })
            })
        })
        .await
    }

    async fn list_teams(&self, shop_id: Id) -> Result<Vec<Team>> {
        let rows: Vec<(Id, String, bool)> =
            sqlx::query_as("SELECT id, name, is_default FROM teams WHERE shop_id = $1 ORDER BY id")
                .bind(shop_id)
                .fetch_all(&self.reader)
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
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(team_id) = user.team_id {
                    let ok: Option<Id> = sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND shop_id = $2")
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
                load_user(conn, user.shop_id, id).await?.ok_or_else(|| Error::not_found("user"))
            })
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let sql = format!("{USER_SELECT} WHERE u.email = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(email.to_lowercase())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, r.get("password_hash")))),
            None => Ok(None),
        }
    }

    async fn user_by_id(&self, shop_id: Id, id: Id) -> Result<Option<User>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        load_user(&mut conn, shop_id, id).await
    }

    async fn list_agents(&self, shop_id: Id) -> Result<Vec<AgentSummary>> {
        let sql = format!("{USER_SELECT} WHERE u.shop_id = $1 ORDER BY u.id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let counts: Vec<(Id, i64)> = sqlx::query_as(
            "SELECT assignee_id, COUNT(*) FROM conversations WHERE shop_id = $1 AND status = 'open' \
             AND assignee_id IS NOT NULL GROUP BY assignee_id",
        )
        .bind(shop_id)
        .fetch_all(&self.reader)
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
        self.write(move |conn| {
            Box::pin(async move {
                let done =
                    sqlx::query("UPDATE users SET status = $1 WHERE id = $2 AND shop_id = $3")
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
        })
        .await
    }

    async fn set_agent_max_concurrent(
        &self,
        shop_id: Id,
        user_id: Id,
        max_concurrent: Option<i64>,
    ) -> Result<User> {
        self.write(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE users SET max_concurrent = $1 WHERE id = $2 AND shop_id = $3",
                )
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
        })
        .await
    }

    async fn any_agent_online(&self, shop_id: Id) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE shop_id = $1 AND status = 'online'",
        )
        .bind(shop_id)
        .fetch_one(&self.reader)
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
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>> {
        let sql = format!(
            "{USER_SELECT} JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(&token_hash)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn create_customer(&self, shop_id: Id, customer: &NewCustomer) -> Result<CustomerRef> {
        let c = customer.clone();
        self.write(move |conn| {
            Box::pin(async move {
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
                customers::record_identities(conn, shop_id, id, &c).await?;
                Ok(CustomerRef { id, name })
            })
        })
        .await
    }

    async fn update_customer(
        &self,
        shop_id: Id,
        customer_id: Id,
        customer: &NewCustomer,
    ) -> Result<()> {
        let c = customer.clone();
        self.write(move |conn| {
            Box::pin(async move {
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
                    customers::record_identities(conn, shop_id, customer_id, &c).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn create_visitor_token(
        &self,
        token_hash: &str,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
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
        })
        .await
    }

    async fn visitor(&self, token_hash: &str) -> Result<Option<Visitor>> {
        let row: Option<(Id, Id, String, bool)> = sqlx::query_as(
            "SELECT v.shop_id, v.customer_id, c.name, c.blocked FROM visitor_tokens v \
             JOIN customers c ON c.id = v.customer_id WHERE v.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
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
        let owned = OwnedCustomerMessage {
            shop_id: msg.shop_id,
            customer_id: msg.customer_id,
            body: msg.body.to_owned(),
            client_msg_id: msg.client_msg_id.to_owned(),
            announce: msg.announce,
        };
        self.writer.append(owned).await
    }

    async fn append_agent_message(&self, msg: AgentMessage<'_>) -> Result<Appended> {
        let (shop_id, conversation_id, private) = (msg.shop_id, msg.conversation_id, msg.private);
        let (agent_id, agent_name) = (msg.agent.id, msg.agent.name.clone());
        let (body, client_msg_id) = (msg.body.to_owned(), msg.client_msg_id.to_owned());
        let (kind, payload) = (msg.kind, msg.payload);
        self.write(move |conn| {
            Box::pin(async move {
                if let Some(original) = find_retry(conn, SenderType::Agent, agent_id, &client_msg_id).await? {
                    let conversation = load_conversation(conn, shop_id, original.conversation_id).await?;
                    return Ok(Appended {
                        message: original,
                        companions: vec![],
                        conversation,
                        conversation_started: false,
                        duplicate: true,
                    });
                }
                // Scope check first: another shop's conversation is simply not found.
                load_conversation(conn, shop_id, conversation_id).await?;
                let now = Millis::now().0;
                let message = insert_message(conn, Insert {
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
                })
                .await?;
                if !private {
                    // A public reply means the agent has read everything before it.
                    sqlx::query("UPDATE conversations SET unread_count = 0, agent_read_seq = $1 WHERE id = $2")
                        .bind(message.seq)
                        .bind(conversation_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                let conversation = load_conversation(conn, shop_id, conversation_id).await?;
                Ok(Appended { message, companions: vec![], conversation, conversation_started: false, duplicate: false })
            })
        })
        .await
    }

    async fn append_system_message(
        &self,
        shop_id: Id,
        conversation_id: Id,
        body: &str,
        private: bool,
    ) -> Result<Appended> {
        let body = body.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                load_conversation(conn, shop_id, conversation_id).await?;
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
        })
        .await
    }

    async fn conversation(&self, shop_id: Id, id: Id) -> Result<Option<Conversation>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
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
            .fetch_optional(&self.reader)
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
            "{CONVERSATION_SELECT} WHERE c.shop_id = $1 AND ($2 IS NULL OR c.status = $2) \
             AND ($4 <> 'me' OR c.assignee_id = $3) \
             AND ($4 <> 'unassigned' OR c.assignee_id IS NULL) \
             AND (NOT $5 OR c.assignee_id IS NULL OR c.assignee_id = $3) \
             AND ($7 IS NULL OR EXISTS (SELECT 1 FROM conversation_tags ct \
                  WHERE ct.conversation_id = c.id AND ct.tag_id = $7)) \
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
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
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
            .fetch_all(&self.reader)
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
        self.write(move |conn| {
            Box::pin(async move {
                let current = load_conversation(conn, shop_id, conversation_id).await?;
                let now = Millis::now().0;
                let mut team = team_id.or(current.team.as_ref().map(|t| t.id));
                if let Some(agent_id) = agent_id {
                    let agent = load_user(conn, shop_id, agent_id).await?.ok_or_else(|| Error::not_found("agent"))?;
                    if team_id.is_none() {
                        team = agent.team.map(|t| t.id).or(team);
                    }
                }
                if let Some(team_id) = team_id {
                    let ok: Option<Id> = sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND shop_id = $2")
                        .bind(team_id)
                        .bind(shop_id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    ok.ok_or_else(|| Error::not_found("team"))?;
                }
                // Handing to a team (no agent) puts an open conversation back in that team's queue.
                let queued_at = (agent_id.is_none() && current.status == ConversationStatus::Open).then_some(now);
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
        })
        .await
    }

    async fn set_status(
        &self,
        shop_id: Id,
        conversation_id: Id,
        status: ConversationStatus,
    ) -> Result<Conversation> {
        self.write(move |conn| {
            Box::pin(async move {
                let current = load_conversation(conn, shop_id, conversation_id).await?;
                let now = Millis::now().0;
                // Reopened and unassigned: back in the queue. Anything not open leaves the queue.
                let queued_at = (status == ConversationStatus::Open && current.assignee_id.is_none()).then_some(now);
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
        })
        .await
    }

    async fn mark_read_by_agent(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        self.write(move |conn| {
            Box::pin(async move {
                let current = load_conversation(conn, shop_id, conversation_id).await?;
                let seq = seq.clamp(0, current.last_seq);
                if seq >= current.last_seq || current.unread_count > 0 {
                    sqlx::query(
                        "UPDATE conversations SET agent_read_seq = MAX(agent_read_seq, $1), \
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
        })
        .await
    }

    async fn mark_read_by_customer(
        &self,
        shop_id: Id,
        conversation_id: Id,
        seq: i64,
    ) -> Result<Conversation> {
        self.write(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE conversations SET customer_read_seq = MAX(customer_read_seq, MIN($1, last_seq)) \
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
        })
        .await
    }

    async fn route_waiting(&self, shop_id: Id) -> Result<Vec<Conversation>> {
        self.write(move |conn| Box::pin(route_shop(conn, shop_id)))
            .await
    }

    async fn waiting_queue(&self, shop_id: Id) -> Result<Vec<(Id, Id)>> {
        sqlx::query_as(
            "SELECT id, customer_id FROM conversations WHERE shop_id = $1 AND queued_at IS NOT NULL \
             ORDER BY queued_at, id",
        )
        .bind(shop_id)
        .fetch_all(&self.reader)
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
        self.write(move |conn| {
            Box::pin(async move {
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
                Ok(Product { id, sku, name, price_cents: price, currency, image_url, description })
            })
        })
        .await
    }

    async fn list_products(&self, shop_id: Id) -> Result<Vec<Product>> {
        let rows: Vec<(Id, String, String, i64, String, String, String)> = sqlx::query_as(
            "SELECT id, sku, name, price_cents, currency, image_url, description FROM products \
             WHERE shop_id = $1 ORDER BY id",
        )
        .bind(shop_id)
        .fetch_all(&self.reader)
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    }

    /// A database file commits with NORMAL and leaves the WAL's fsync to the writer's sync thread;
    /// anything else keeps FULL, so no configuration ends up with neither.
    #[tokio::test]
    async fn only_wal_files_move_the_fsync_out_of_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kefu.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let mut conn = options.connect().await.unwrap();
        let durability = write_durability(&mut conn, options.get_filename())
            .await
            .unwrap();
        let wal = dir.path().join("kefu.db-wal");
        assert!(matches!(durability, Durability::SyncWal(p) if p == wal));
        assert_eq!(synchronous(&mut conn).await, 1, "NORMAL");

        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .unwrap()
            .synchronous(SqliteSynchronous::Normal);
        let mut conn = options.connect().await.unwrap();
        let durability = write_durability(&mut conn, options.get_filename())
            .await
            .unwrap();
        assert!(matches!(durability, Durability::InCommit));
        assert_eq!(synchronous(&mut conn).await, 2, "FULL");
    }

    /// Writes are answered only through the sync thread, and answered at all: a burst of them
    /// from many tasks each sees its own row committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_answered_after_the_wal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open_dir(dir.path()).await.unwrap());
        let mut tasks = Vec::new();
        for i in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.create_shop(&format!("s{i}"), "shop").await.unwrap()
            }));
        }
        for t in tasks {
            let shop = t.await.unwrap();
            assert!(store.shop_by_slug(&shop.slug).await.unwrap().is_some());
        }
    }

    /// Commits reach the database file through the checkpointer, long before the writer's own
    /// checkpoint limit ([`checkpoint::WRITER_AUTOCHECKPOINT_PAGES`]) would copy them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let db = dir.path().join("kefu.db");
        let size = || std::fs::metadata(&db).unwrap().len();
        let before = size();
        // About 200 pages of new rows: far below the writer's limit of 8,192.
        let name = "店".repeat(1000);
        for i in 0..200 {
            store.create_shop(&format!("c{i}"), &name).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 100 * 4096 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was checkpointed: {} → {} bytes",
                before,
                size()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn writer_cache_kib(store: &SqliteStore) -> i64 {
        let pages: i64 = store
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query_scalar("PRAGMA cache_size")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)
                })
            })
            .await
            .unwrap();
        -pages
    }

    /// The writer's page cache is large only while a bulk import runs (also when two overlap),
    /// and an end without a begin (every start calls one) changes nothing.
    #[tokio::test]
    async fn the_writer_cache_is_large_only_during_bulk_imports() {
        use kefu_core::commerce::CommerceStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).await.unwrap();
        let (usual, import) = (i64::from(CACHE_KIB), i64::from(IMPORT_CACHE_KIB));
        assert_eq!(writer_cache_kib(&store).await, usual);
        store.end_bulk_import().await.unwrap();
        assert_eq!(writer_cache_kib(&store).await, usual);
        store.begin_bulk_import().await.unwrap();
        store.begin_bulk_import().await.unwrap();
        assert_eq!(writer_cache_kib(&store).await, import);
        store.end_bulk_import().await.unwrap();
        assert_eq!(
            writer_cache_kib(&store).await,
            import,
            "one import still runs"
        );
        store.end_bulk_import().await.unwrap();
        assert_eq!(writer_cache_kib(&store).await, usual);
    }
}
