//! The PostgreSQL backend.
//!
//! It owns the PostgreSQL schema (`migrations/postgres`, the same versions as SQLite's) and
//! compiles the shared areas (`src/areas/`) over [`prelude`]; it behaves exactly like the SQLite
//! backend (same results, same error codes), which the store tests and the integration suite check
//! on both.
//!
//! Concurrency: where SQLite serialises every write in one writer task, here each write runs in
//! its own READ COMMITTED transaction and takes row locks so that the outcome is one the SQLite
//! store could also produce:
//! - a message insert bumps `conversations.last_seq` with `UPDATE … RETURNING`, which row-locks the
//!   conversation until commit, so `seq` is gap-free and increasing per conversation;
//! - a shopper's message first locks the shopper's row, so two first messages cannot open two
//!   conversations and a retry always sees the original;
//! - read-modify-write methods (assign, status, read marks, agent/system messages) lock the
//!   conversation row before reading it;
//! - routing takes a per-shop advisory lock and locks the queued conversations and online agents;
//! - outbox mail is leased with `FOR UPDATE SKIP LOCKED`, so several nodes can send.
//!
//! A concurrent duplicate that still reaches the `messages_idempotency` index is rolled back and
//! answered with the original (`duplicate = true`); a deadlock is retried a few times. Both are
//! recognised by [`prelude::TxFailure`], not by error text.

// The shared areas, compiled for PostgreSQL (the SQLite module compiles the same files).
#[path = "../areas/aftersales.rs"]
mod aftersales;
#[path = "../areas/attachments.rs"]
mod attachments;
#[path = "../areas/commerce.rs"]
mod commerce;
#[path = "../areas/conversations.rs"]
mod conversations;
#[path = "../areas/customers.rs"]
mod customers;
#[path = "../areas/inbox.rs"]
mod inbox;
#[path = "../areas/kpi.rs"]
mod kpi;
#[path = "../areas/mail.rs"]
mod mail;
#[path = "../areas/members.rs"]
mod members;
#[path = "../areas/presence.rs"]
mod presence;
#[path = "../areas/reminders.rs"]
mod reminders;
#[path = "../areas/reports.rs"]
mod reports;
#[path = "../areas/scripts.rs"]
mod scripts;
#[path = "../areas/search.rs"]
mod search;
#[path = "../areas/segments.rs"]
mod segments;
#[path = "../areas/sla.rs"]
mod sla;
#[path = "../areas/spine.rs"]
mod spine;
#[path = "../areas/suggestions.rs"]
mod suggestions;
#[path = "../areas/tickets.rs"]
mod tickets;
#[path = "../areas/tools.rs"]
mod tools;

mod prelude;

use kefu_core::model::{Appended, CustomerMessage, Id, SenderType};
use kefu_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
// Dynamic SQL here is only ever our own constant fragments joined together (and a schema name
// checked to be a plain identifier), never input.
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The migration versions this backend carries (a test checks SQLite carries the same).
pub fn migration_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// The most connections the pool opens.
const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresStore {
    pool: PgPool,
}

/// Maps a database error to the domain's; a deadlock or a duplicate-message race is also noted
/// for the transaction it happened in ([`prelude::TxFailure`]).
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    match prelude::TxFailure::of(&e) {
        Some(failure @ prelude::TxFailure::Retry) => {
            prelude::record(failure);
            // Never shown: the transaction runs again, or fails for good with its own error.
            return Error::new(
                kefu_core::ErrorCode::Internal,
                "transaction must be retried",
            );
        }
        Some(failure @ prelude::TxFailure::DuplicateMessage) => {
            prelude::record(failure);
            return Error::conflict("already exists");
        }
        None => {}
    }
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return Error::conflict("already exists");
        }
        if d.is_foreign_key_violation() {
            return Error::validation("refers to something that does not exist");
        }
    }
    crate::faults::connect_err(e)
}

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
        let mut conn = options
            .connect()
            .await
            .map_err(crate::faults::connect_err)?;
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
        // One plain connection first: when the database cannot be reached this fails at once
        // with the real cause ("connection refused"), where the pool would wait out its acquire
        // timeout and report only that it timed out.
        let probe = options
            .connect()
            .await
            .map_err(crate::faults::connect_err)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // Waiting longer for a connection only hides an unreachable database: answer 503
            // with Retry-After within seconds instead (see faults.rs).
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(crate::faults::connect_err)?;
        MIGRATOR.run(&pool).await.map_err(Error::internal)?;
        Ok(Self { pool })
    }

    /// The read connections (the one pool).
    pub(crate) fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// A shopper's message: one transaction (the shopper's row lock serialises their messages).
    async fn append_shopper_message(&self, msg: CustomerMessage<'_>) -> Result<Appended> {
        let retry = (
            msg.shop_id,
            SenderType::Customer,
            msg.customer_id,
            msg.client_msg_id,
        );
        prelude::message_tx!(self, retry, |conn| {
            conversations::append_customer(conn, &msg).await
        })
    }

    /// SQLite's bulk import preparation; nothing to prepare here.
    pub(crate) async fn prepare_bulk_import(&self) -> Result<()> {
        Ok(())
    }

    /// SQLite's bulk import clean-up; nothing to undo here.
    pub(crate) async fn finish_bulk_import(&self) -> Result<()> {
        Ok(())
    }

    /// The answer to a retry whose concurrent original won the race to the idempotency index.
    pub(crate) async fn original(
        &self,
        shop_id: Id,
        sender_type: SenderType,
        sender_id: Id,
        client_msg_id: &str,
    ) -> Result<Appended> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let original = conversations::find_retry(&mut conn, sender_type, sender_id, client_msg_id)
            .await?
            .ok_or_else(|| Error::conflict("already exists"))?;
        let conversation =
            conversations::load_conversation(&mut conn, shop_id, original.conversation_id).await?;
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
