//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that grows the WAL past its limit: the
//! committing connection copies every new page into the database file and fsyncs both files while
//! the single writer — and every caller waiting on it — stands still. Under a chat burst that was
//! about 15 % of the writer's time and most of its latency spikes.
//!
//! Here a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)` shortly after commits. A
//! passive checkpoint takes no write lock, so the writer goes on committing meanwhile. Because the
//! writer keeps committing, this checkpoint seldom catches the WAL's very end, and SQLite starts the
//! WAL file over only after a checkpoint has caught it. The writer's own automatic checkpoint stays
//! as the backstop for that, at a much larger limit ([`WRITER_AUTOCHECKPOINT_PAGES`]): when it fires,
//! almost everything is already copied, so it costs the writer a few pages and two fsyncs once per
//! tens of megabytes instead of a full copy every 4 MiB.
//!
//! Durability is unchanged: a checkpoint syncs the WAL before copying from it and the database after.

use sqlx::SqliteConnection;
use std::time::Duration;
use tokio::sync::mpsc;

/// The writer's own automatic checkpoint limit, in pages (32 MiB of 4 KiB pages): the backstop
/// that lets the WAL file start over under continuous writes. SQLite's default is 1,000.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8192;

/// How long commits are gathered before a checkpoint: each checkpoint costs two fsyncs, so fewer,
/// larger ones are cheaper, and the backstop above bounds what is left.
const GATHER: Duration = Duration::from_millis(50);

/// Tells the checkpointer that something was committed. Cheap enough for every commit; when the
/// writer drops it, the checkpointer closes its connection and ends.
pub(crate) struct Committed(mpsc::Sender<()>);

impl Committed {
    pub(crate) fn notify(&self) {
        // Full means a wake-up is already pending: this commit is covered by it.
        let _ = self.0.try_send(());
    }
}

/// Starts the checkpoint task on `conn`, a connection of its own to the writer's database.
pub(crate) fn start(mut conn: SqliteConnection) -> Committed {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(GATHER).await;
            // (busy, frames in the WAL, frames copied). A failure is logged, never fatal: the
            // writer's own checkpoint still bounds the WAL.
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut conn)
                .await
            {
                Ok((_, frames, copied)) => tracing::trace!(frames, copied, "sqlite checkpoint"),
                Err(e) => tracing::warn!(error = %e, "sqlite checkpoint failed"),
            }
        }
        let _ = sqlx::Connection::close(conn).await;
    });
    Committed(tx)
}
