//! The single SQLite writer: a task that owns the one write connection and commits in groups.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of letting many
//! connections fight over the write lock, every write is sent here as a job. The task takes all jobs
//! waiting at that moment (up to [`MAX_BATCH`]), runs them in one transaction, each inside its own
//! SAVEPOINT so a failing job is rolled back alone, commits once, and only then tells each caller its
//! result. A caller therefore never hears "done" before its write is on disk, and under load one
//! fsync covers hundreds of writes.

use kefu_core::{Error, Result};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// The most jobs committed together.
const MAX_BATCH: usize = 512;

/// What a job hands back after running: whether it succeeded (else its savepoint is rolled back)
/// and the callback that delivers its result once the commit outcome is known.
type Finish = (bool, Box<dyn FnOnce(Option<&sqlx::Error>) + Send>);
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Finish> + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// The future a write job returns; it borrows the write connection.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl Writer {
    /// Starts the writer task on `conn`.
    pub fn start(conn: SqliteConnection) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(8192);
        tokio::spawn(run(conn, rx));
        Writer { jobs }
    }

    /// Runs `f` on the write connection inside the next group commit and returns its result once
    /// that commit is durable. If `f` fails, its changes are rolled back and nothing else is affected.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = f(conn).await;
                let ok = result.is_ok();
                let finish = move |commit_error: Option<&sqlx::Error>| {
                    let result = match commit_error {
                        Some(e) => Err(Error::internal(format!("commit failed: {e}"))),
                        None => result,
                    };
                    let _ = tx.send(result);
                };
                (
                    ok,
                    Box::new(finish) as Box<dyn FnOnce(Option<&sqlx::Error>) + Send>,
                )
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| Error::internal("the writer has stopped"))?;
        rx.await
            .map_err(|_| Error::internal("the writer dropped a job"))?
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut finishes = Vec::with_capacity(batch.len());
        let begun = sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await;
        if let Err(e) = begun {
            // Run nothing: each caller sees its job dropped, which surfaces as an internal error.
            tracing::error!(error = %e, "sqlite writer could not begin a transaction");
            batch.clear();
            continue;
        }
        for job in batch.drain(..) {
            if let Err(e) = sqlx::query("SAVEPOINT job").execute(&mut conn).await {
                tracing::error!(error = %e, "savepoint failed");
                continue; // the job is dropped; its caller gets an internal error
            }
            let (ok, finish) = job(&mut conn).await;
            if !ok {
                let _ = sqlx::query("ROLLBACK TO job").execute(&mut conn).await;
            }
            let _ = sqlx::query("RELEASE job").execute(&mut conn).await;
            finishes.push(finish);
        }
        match sqlx::query("COMMIT").execute(&mut conn).await {
            Ok(_) => finishes.into_iter().for_each(|f| f(None)),
            Err(e) => {
                tracing::error!(error = %e, "sqlite group commit failed");
                let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
                finishes.into_iter().for_each(|f| f(Some(&e)));
            }
        }
    }
    let _ = conn.close().await;
}
