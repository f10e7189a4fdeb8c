//! Backups of the SQLite database while the server runs, and their restore (issue 20, item 13).
//!
//! `VACUUM INTO` writes a consistent, compact copy of the database as one read transaction sees
//! it: under WAL the server keeps writing meanwhile, and what was committed before the copy began
//! is in it. The copy is checked (`PRAGMA integrity_check`) before it counts. The binary's
//! `kefu backup` / `kefu restore` add the attachments and a manifest around these.

use kefu_core::{Error, ErrorCode, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// What a backup or a restored database holds, for the manifest and the operator's log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DatabaseSummary {
    /// The newest migration applied (the schema's version).
    pub schema_version: i64,
    pub shops: i64,
    pub conversations: i64,
    pub messages: i64,
    pub customers: i64,
    pub orders: i64,
    pub tickets: i64,
}

fn fail(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {e}"))
}

async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    let url = format!("sqlite://{}", path.display());
    let mut options = SqliteConnectOptions::from_str(&url)
        .map_err(|e| fail("bad database path", e))?
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(30));
    if !read_only {
        options = options.journal_mode(SqliteJournalMode::Delete);
    }
    options
        .connect()
        .await
        .map_err(|e| fail(&format!("cannot open {}", path.display()), e))
}

/// Writes a consistent copy of the database at `source` to `dest` (which must not exist) and
/// checks it. Safe while a server writes to `source`.
pub async fn backup_database(source: &Path, dest: &Path) -> Result<DatabaseSummary> {
    if !source.exists() {
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("no database at {}", source.display()),
        ));
    }
    if dest.exists() {
        return Err(Error::conflict(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let mut conn = connect(source, true).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(dest.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| fail("VACUUM INTO", e))?;
    conn.close().await.ok();
    check_database(dest).await
}

/// Checks a database file (`PRAGMA integrity_check`) and summarises what it holds.
pub async fn check_database(path: &Path) -> Result<DatabaseSummary> {
    let mut conn = connect(path, true).await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| fail("integrity check", e))?;
    if verdict != "ok" {
        return Err(Error::internal(format!(
            "{} is damaged: {verdict}",
            path.display()
        )));
    }
    let count = |table: &'static str| {
        // Table names are our own constants, never input.
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
    };
    let mut n = Vec::new();
    for table in [
        "shops",
        "conversations",
        "messages",
        "customers",
        "orders",
        "tickets",
    ] {
        n.push(
            count(table)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| fail(table, e))?,
        );
    }
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| fail("migrations", e))?;
    conn.close().await.ok();
    Ok(DatabaseSummary {
        schema_version,
        shops: n[0],
        conversations: n[1],
        messages: n[2],
        customers: n[3],
        orders: n[4],
        tickets: n[5],
    })
}
