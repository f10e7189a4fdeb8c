//! The single SQLite writer: a task that owns the one write connection and commits in groups.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of letting many
//! connections fight over the write lock, every write is sent here as a job. The task takes all jobs
//! waiting at that moment (up to [`MAX_BATCH`]), runs them in one transaction, each inside its own
//! SAVEPOINT so a failing job is rolled back alone, commits once, and only then tells each caller its
//! result. A caller therefore never hears "done" before its write is on disk, and under load one
//! fsync covers hundreds of writes.

use crate::OwnedCustomerMessage;
use crate::batch::Known;
use kefu_core::model::Appended;
use kefu_core::{Error, Result};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// The most jobs committed together.
const MAX_BATCH: usize = 512;

/// What a job hands back after running: whether it succeeded (else its savepoint is rolled back)
/// and the callback that delivers its result once the commit outcome is known.
type Finish = (bool, Deliver);
/// Hands a job's result to its caller once the commit's outcome is known.
type Deliver = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;
type GenericJob = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Finish> + Send>;

/// A shopper's message: the hot path, stored in bulk with the others of its batch when it can be.
struct Append {
    msg: OwnedCustomerMessage,
    reply: oneshot::Sender<Result<Appended>>,
}

enum Job {
    Generic(GenericJob),
    Append(Append),
}

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
        let job: GenericJob = Box::new(move |conn| {
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
                (ok, Box::new(finish) as Deliver)
            })
        });
        self.jobs
            .send(Job::Generic(job))
            .await
            .map_err(|_| Error::internal("the writer has stopped"))?;
        rx.await
            .map_err(|_| Error::internal("the writer dropped a job"))?
    }

    /// Stores a shopper's message in the next group commit (see [`crate::batch`]).
    pub async fn append(&self, msg: OwnedCustomerMessage) -> Result<Appended> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Append(Append { msg, reply }))
            .await
            .map_err(|_| Error::internal("the writer has stopped"))?;
        rx.await
            .map_err(|_| Error::internal("the writer dropped a job"))?
    }
}

/// Opens the savepoint that isolates one job; `false` if even that failed.
async fn begin_job(conn: &mut SqliteConnection) -> bool {
    match sqlx::query("SAVEPOINT job").execute(&mut *conn).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, "savepoint failed");
            false
        }
    }
}

/// Closes the job's savepoint, undoing the job's changes first when it failed.
async fn end_job(conn: &mut SqliteConnection, ok: bool) {
    if !ok {
        let _ = sqlx::query("ROLLBACK TO job").execute(&mut *conn).await;
    }
    let _ = sqlx::query("RELEASE job").execute(&mut *conn).await;
}

/// Stores a batch of shopper messages: the steady ones in bulk, the rest one by one, inside the
/// transaction the caller has open.
async fn run_appends(
    conn: &mut SqliteConnection,
    appends: Vec<Append>,
    finishes: &mut Vec<Deliver>,
) {
    let mut done: Vec<Option<Appended>> = (0..appends.len()).map(|_| None).collect();
    if begin_job(conn).await {
        let msgs: Vec<&OwnedCustomerMessage> = appends.iter().map(|a| &a.msg).collect();
        // Inside someone else's transaction: nothing learnt here may be remembered.
        let result = crate::batch::append_steady(conn, &msgs, None, &mut Known::new()).await;
        end_job(conn, result.is_ok()).await;
        match result {
            Ok(steady) => done = steady.done,
            Err(e) => tracing::warn!(error = %e, "bulk append failed; storing one by one"),
        }
    }
    finish_appends(conn, appends, done, finishes).await;
}

/// Stores the messages the bulk path left (`None`) one by one, each in its own savepoint, and
/// queues every caller's answer for after the commit.
async fn finish_appends(
    conn: &mut SqliteConnection,
    appends: Vec<Append>,
    done: Vec<Option<Appended>>,
    finishes: &mut Vec<Deliver>,
) {
    for (append, done) in appends.into_iter().zip(done) {
        let Append { msg, reply } = append;
        let result = match done {
            Some(appended) => Ok(appended),
            None if begin_job(conn).await => {
                let r = crate::append_customer(conn, &msg).await;
                end_job(conn, r.is_ok()).await;
                r
            }
            None => Err(Error::internal("savepoint failed")),
        };
        finishes.push(Box::new(move |commit_error: Option<&sqlx::Error>| {
            let result = match commit_error {
                Some(e) => Err(Error::internal(format!("commit failed: {e}"))),
                None => result,
            };
            let _ = reply.send(result);
        }));
    }
}

/// A batch of shopper messages only — the common case under load — in as few round trips as
/// possible: the transaction opens with the bulk reads and, when every message is steady, commits
/// with the bulk writes (two thread hand-offs for the whole batch). Returns `true` when it
/// committed; otherwise the transaction is open and the caller commits.
async fn run_appends_only(
    conn: &mut SqliteConnection,
    appends: Vec<Append>,
    finishes: &mut Vec<Deliver>,
    known: &mut Known,
) -> bool {
    let framing = crate::batch::Framing {
        begin: "BEGIN IMMEDIATE; SAVEPOINT job; ",
        commit: "; RELEASE job; COMMIT",
    };
    let msgs: Vec<&OwnedCustomerMessage> = appends.iter().map(|a| &a.msg).collect();
    let result = crate::batch::append_steady(conn, &msgs, Some(framing), known).await;
    drop(msgs);
    if !matches!(&result, Ok(steady) if steady.committed) {
        known.clear(); // other paths are about to write conversations
    }
    match result {
        Ok(steady) if steady.committed => {
            finishes.extend(appends.into_iter().zip(steady.done).map(|(append, done)| {
                let result = done.ok_or_else(|| Error::internal("bulk append left a message"));
                Box::new(move |_: Option<&sqlx::Error>| {
                    let _ = append.reply.send(result);
                }) as Deliver
            }));
            true
        }
        Ok(steady) => {
            end_job(conn, true).await;
            finish_appends(conn, appends, steady.done, finishes).await;
            false
        }
        Err(e) => {
            // Where it failed is unknown (even BEGIN or COMMIT): undo everything, start afresh
            // and store the batch one by one. A conflict is expected: a late retry of a message
            // the remembered path could not see (the unique index caught it).
            if e.code == kefu_core::ErrorCode::Conflict {
                tracing::debug!(error = %e, "bulk append met a retry; storing one by one");
            } else {
                tracing::warn!(error = %e, "bulk append failed; storing one by one");
            }
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await {
                tracing::error!(error = %e, "sqlite writer could not begin a transaction");
                return true; // nothing to commit; every caller's job is dropped (internal error)
            }
            let none = (0..appends.len()).map(|_| None).collect();
            finish_appends(conn, appends, none, finishes).await;
            false
        }
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut known = Known::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut finishes = Vec::with_capacity(batch.len());
        let mut generics = Vec::new();
        let mut appends = Vec::new();
        for job in batch.drain(..) {
            match job {
                Job::Generic(job) => generics.push(job),
                Job::Append(append) => appends.push(append),
            }
        }
        if generics.is_empty() {
            if run_appends_only(&mut conn, appends, &mut finishes, &mut known).await {
                finishes.into_iter().for_each(|f| f(None));
                continue;
            }
        } else {
            // Any other job may change conversations: forget what the bulk path remembered.
            known.clear();
            if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await {
                // Run nothing: each caller sees its job dropped, which surfaces as an internal error.
                tracing::error!(error = %e, "sqlite writer could not begin a transaction");
                continue;
            }
            for job in generics {
                // A job whose savepoint failed is dropped: its caller gets an internal error.
                if begin_job(&mut conn).await {
                    let (ok, finish) = job(&mut conn).await;
                    end_job(&mut conn, ok).await;
                    finishes.push(finish);
                }
            }
            // Appends after the other jobs of the batch: they were all in flight at once, so any
            // order is one their senders could have seen.
            if !appends.is_empty() {
                run_appends(&mut conn, appends, &mut finishes).await;
            }
        }
        match sqlx::raw_sql("COMMIT").execute(&mut conn).await {
            Ok(_) => finishes.into_iter().for_each(|f| f(None)),
            Err(e) => {
                tracing::error!(error = %e, "sqlite group commit failed");
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
                finishes.into_iter().for_each(|f| f(Some(&e)));
            }
        }
    }
    let _ = conn.close().await;
}
