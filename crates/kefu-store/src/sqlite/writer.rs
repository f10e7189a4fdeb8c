//! The single SQLite writer: a task that owns the one write connection and commits in groups.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of letting many
//! connections fight over the write lock, every write is sent here as a job. The task takes all jobs
//! waiting at that moment (up to [`MAX_BATCH`]), runs them in one transaction, each inside its own
//! SAVEPOINT so a failing job is rolled back alone, commits once, and only then tells each caller its
//! result. A caller therefore never hears "done" before its write is on disk, and under load one
//! fsync covers hundreds of writes.
//!
//! The fsync itself is not on the writer's path (see [`Durability`]): the write connection commits
//! with `synchronous=NORMAL` and a second thread syncs the WAL file before any caller is answered,
//! so batch N's fsync overlaps batch N+1's SQLite work.

use super::OwnedCustomerMessage;
use super::batch::Known;
use kefu_core::model::Appended;
use kefu_core::{Error, Result};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

/// The most jobs committed together.
const MAX_BATCH: usize = 512;

/// What a job hands back after running: whether it succeeded (else its savepoint is rolled back)
/// and the callback that delivers its result once the commit outcome is known.
type Finish = (bool, Deliver);
/// Hands a job's result to its caller once the commit's outcome is known: `None` when it is durable,
/// else why it is not.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;
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

/// How committed batches become durable before their callers are answered.
///
/// SQLite's `synchronous=FULL` fsyncs the WAL inside every COMMIT, while the single writer waits
/// and no other batch can start. `synchronous=NORMAL` in WAL mode does everything FULL does except
/// that one fsync (the WAL is still synced before each checkpoint, the database after it, and the
/// WAL header when the file is reused), so NORMAL plus an fsync of the WAL file after the COMMIT
/// and before answering is FULL's promise exactly: nothing is acknowledged before it is on disk,
/// and a power cut loses only unacknowledged commits (WAL recovery keeps the longest valid prefix).
/// Doing that fsync on its own thread lets the writer run the next batch meanwhile, and one fsync
/// covers every batch committed before it started.
///
/// One difference from FULL, accepted: for the fsync's duration (about half a millisecond) the
/// read connections can already see a commit nobody has been told about. Only a power cut in
/// that window makes the difference visible, and then only to a reader, never to the writer's
/// caller, who was not answered and retries with the same `client_msg_id`.
pub enum Durability {
    /// The database file's WAL, synced by a companion thread after each commit (file databases).
    SyncWal(std::path::PathBuf),
    /// The connection commits with `synchronous=FULL` itself (anything that is not a WAL file).
    InCommit,
}

/// Answers handed to the sync thread: one `Vec` per committed batch.
type Committed = std::sync::mpsc::Sender<Vec<Deliver>>;

/// Starts the thread that syncs `wal` and then answers every batch committed before the sync began.
fn spawn_wal_sync(wal: std::path::PathBuf) -> Committed {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<Deliver>>();
    std::thread::Builder::new()
        .name("kefu-wal-sync".into())
        .spawn(move || {
            let (mut syncs, mut syncing) = (0u32, std::time::Duration::ZERO);
            while let Ok(mut waiting) = rx.recv() {
                // Everything committed so far: one fsync covers them all.
                while let Ok(more) = rx.try_recv() {
                    waiting.extend(more);
                }
                let started = std::time::Instant::now();
                // Opened for each sync, not kept: SQLite may delete and recreate the WAL file
                // (it does when the last connection closes), and an old handle would sync a
                // file nobody reads.
                let file = match std::fs::File::open(&wal) {
                    Ok(file) => file,
                    Err(e) => {
                        // No WAL to sync (the data directory was removed under a running server,
                        // as tests do when they drop one): nothing was made durable, so say so,
                        // but nothing is known to be lost either — no reason to stop.
                        tracing::error!(error = %e, wal = %wal.display(), "could not open the WAL to sync it");
                        let why = format!("could not make the commit durable: {e}");
                        waiting.into_iter().for_each(|deliver| deliver(Some(&why)));
                        continue;
                    }
                };
                match file.sync_data() {
                    Ok(()) => {
                        syncs += 1;
                        syncing += started.elapsed();
                        if syncs == 5000 {
                            let mean_us = syncing.as_micros() as u64 / u64::from(syncs);
                            tracing::debug!(syncs, mean_us, "sqlite WAL sync");
                            (syncs, syncing) = (0, std::time::Duration::ZERO);
                        }
                        waiting.into_iter().for_each(|deliver| deliver(None))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, wal = %wal.display(), "could not sync the WAL; stopping");
                        let why = format!("could not make the commit durable: {e}");
                        waiting.into_iter().for_each(|deliver| deliver(Some(&why)));
                        // After a failed fsync the kernel may have dropped the dirty pages and a
                        // later fsync can report success for data that never reached the disk.
                        // The one safe way on is a restart that recovers from what is on disk.
                        std::process::abort();
                    }
                }
            }
        })
        .expect("could not start the WAL sync thread");
    tx
}

/// The future a write job returns; it borrows the write connection.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

impl Writer {
    /// Starts the writer task on `conn`, which must commit with `synchronous=NORMAL` when
    /// `durability` is [`Durability::SyncWal`] and `FULL` otherwise.
    ///
    /// `checkpoints`, when given, is told of every commit (see [`super::checkpoint`]).
    pub fn start(
        conn: SqliteConnection,
        durability: Durability,
        checkpoints: Option<super::checkpoint::Committed>,
    ) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(8192);
        let committed = match durability {
            Durability::SyncWal(wal) => Some(spawn_wal_sync(wal)),
            Durability::InCommit => None,
        };
        tokio::spawn(run(conn, rx, committed, checkpoints));
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
                let finish = move |commit_error: Option<&str>| {
                    let _ = tx.send(after_commit(result, commit_error));
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

    /// Stores a shopper's message in the next group commit (see [`super::batch`]).
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

/// A job's result as its caller hears it: unchanged once its commit is durable, else the reason
/// it is not.
fn after_commit<T>(result: Result<T>, commit_error: Option<&str>) -> Result<T> {
    match commit_error {
        Some(e) => Err(Error::internal(format!("commit failed: {e}"))),
        None => result,
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
        let result = super::batch::append_steady(conn, &msgs, None, &mut Known::new()).await;
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
                let r = super::conversations::append_customer(conn, &msg.as_message()).await;
                end_job(conn, r.is_ok()).await;
                r
            }
            None => Err(Error::internal("savepoint failed")),
        };
        finishes.push(Box::new(move |commit_error: Option<&str>| {
            let _ = reply.send(after_commit(result, commit_error));
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
    let framing = super::batch::Framing {
        begin: "BEGIN IMMEDIATE; SAVEPOINT job; ",
        commit: "; RELEASE job; COMMIT",
        begin_whole: "BEGIN IMMEDIATE; ",
        commit_whole: "; COMMIT",
    };
    let msgs: Vec<&OwnedCustomerMessage> = appends.iter().map(|a| &a.msg).collect();
    let result = super::batch::append_steady(conn, &msgs, Some(framing), known).await;
    drop(msgs);
    if !matches!(&result, Ok(steady) if steady.committed) {
        known.clear(); // other paths are about to write conversations
    }
    match result {
        Ok(steady) if steady.committed => {
            finishes.extend(appends.into_iter().zip(steady.done).map(|(append, done)| {
                let result = done.ok_or_else(|| Error::internal("bulk append left a message"));
                Box::new(move |commit_error: Option<&str>| {
                    let _ = append.reply.send(after_commit(result, commit_error));
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

/// What the writer logs (at debug level) every [`Stats::EVERY`] batches: how full its batches were
/// and how long it spent on them, which is what to look at when the write path is the bottleneck.
#[derive(Default)]
struct Stats {
    batches: u64,
    jobs: u64,
    busy: std::time::Duration,
    longest: std::time::Duration,
    started: Option<std::time::Instant>,
}

impl Stats {
    const EVERY: u64 = 5000;

    fn batch_started(&mut self, jobs: usize) {
        self.jobs += jobs as u64;
        metrics::histogram!("kefu_sqlite_writer_batch_jobs").record(jobs as f64);
        self.started = Some(std::time::Instant::now());
    }

    fn batch_done(&mut self) {
        let Some(started) = self.started.take() else {
            return;
        };
        let took = started.elapsed();
        metrics::histogram!("kefu_sqlite_writer_batch_seconds").record(took.as_secs_f64());
        self.batches += 1;
        self.busy += took;
        self.longest = self.longest.max(took);
        if self.batches == Self::EVERY {
            tracing::debug!(
                batches = self.batches,
                jobs_per_batch = self.jobs as f64 / self.batches as f64,
                mean_us = self.busy.as_micros() as u64 / self.batches,
                longest_us = self.longest.as_micros() as u64,
                "sqlite writer"
            );
            *self = Stats::default();
        }
    }
}

/// Answers a committed batch: now when the commit synced itself, else once the WAL is synced.
fn committed(finishes: Vec<Deliver>, sync: Option<&Committed>) {
    if finishes.is_empty() {
        return;
    }
    match sync {
        Some(sync) => {
            if let Err(std::sync::mpsc::SendError(finishes)) = sync.send(finishes) {
                // The sync thread is gone (it aborts the process on failure; this is shutdown).
                finishes
                    .into_iter()
                    .for_each(|f| f(Some("the WAL sync thread has stopped")));
            }
        }
        None => finishes.into_iter().for_each(|f| f(None)),
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Job>,
    sync: Option<Committed>,
    checkpoints: Option<super::checkpoint::Committed>,
) {
    let checkpoint_soon = || {
        if let Some(c) = &checkpoints {
            c.notify();
        }
    };
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut known = Known::new();
    let mut stats = Stats::default();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        stats.batch_started(batch.len());
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
                committed(finishes, sync.as_ref());
                checkpoint_soon();
                stats.batch_done();
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
            Ok(_) => {
                committed(finishes, sync.as_ref());
                checkpoint_soon();
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite group commit failed");
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
                let why = e.to_string();
                finishes.into_iter().for_each(|f| f(Some(&why)));
            }
        }
        stats.batch_done();
    }
    let _ = conn.close().await;
}
