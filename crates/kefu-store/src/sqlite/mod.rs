//! The embedded default backend: SQLite.
//!
//! Layout: WAL journal, FULL durability (a commit is on disk before anyone hears of it: the writer
//! commits with `synchronous=NORMAL` and its companion thread fsyncs the WAL before answering),
//! `foreign_keys=ON`, one write connection owned by the group-committing [`writer::Writer`] task, a
//! connection that checkpoints the WAL off the writer's path (`checkpoint.rs`) and a small pool of
//! read connections. Reads never wait for writes (WAL) and see only committed data.
//!
//! The areas (`src/areas/`) are compiled here over [`prelude`]; SQLite's own speed paths sit
//! beside them: the writer and its batched shopper messages (`writer.rs`, `batch.rs`), the
//! checkpointer (`checkpoint.rs`) and the bulk order import (`bulk_import.rs`).

// The shared areas, compiled for SQLite (the PostgreSQL module compiles the same files).
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

pub mod backup;
mod batch;
mod bulk_import;
mod checkpoint;
#[cfg(test)]
mod kpi_plans;
mod prelude;
mod writer;

use kefu_core::model::{Appended, CustomerMessage, Id};
use kefu_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
// Dynamic SQL here is only ever our own constant fragments joined together, never input.
use sqlx::{AssertSqlSafe, ConnectOptions, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use writer::{BoxFuture, Durability, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The migration versions this backend carries (a test checks PostgreSQL carries the same).
pub fn migration_versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

pub struct SqliteStore {
    reader: SqlitePool,
    writer: Writer,
    /// Bulk imports under way: the writer's page cache is large while any is (bulk_import.rs).
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
    crate::faults::connect_err(e)
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

    /// The read connections.
    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// A shopper's message goes to the writer's batched path (`batch.rs`).
    async fn append_shopper_message(&self, msg: CustomerMessage<'_>) -> Result<Appended> {
        let owned = OwnedCustomerMessage {
            shop_id: msg.shop_id,
            customer_id: msg.customer_id,
            body: msg.body.to_owned(),
            client_msg_id: msg.client_msg_id.to_owned(),
            announce: msg.announce,
        };
        self.writer.append(owned).await
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

/// A shopper's message as the writer task holds it until its batch runs.
pub(crate) struct OwnedCustomerMessage {
    shop_id: Id,
    customer_id: Id,
    body: String,
    client_msg_id: String,
    announce: bool,
}

impl OwnedCustomerMessage {
    pub(crate) fn as_message(&self) -> CustomerMessage<'_> {
        CustomerMessage {
            shop_id: self.shop_id,
            customer_id: self.customer_id,
            body: &self.body,
            client_msg_id: &self.client_msg_id,
            announce: self.announce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_core::store::Store;

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
