//! The search service: owns the tantivy index (`kefu_search::index`) in `<data-dir>/search/` and
//! the indexer that keeps it following the database.
//!
//! The indexer is one background task. Every [`TICK`] it pulls what changed since its cursors, in
//! pages of [`PAGE`] rows, and commits each page to the index together with the cursors (the tantivy
//! commit payload), so a restart resumes exactly where the index is. It reads through the store
//! (`kefu_core::search::SearchStore`), so every write path — the shopper bulk path, imports, the
//! demo seed — is covered without touching the hot message path.
//!
//! * Messages by id. PostgreSQL hands out ids when a transaction inserts, not when it commits, so a
//!   lower id can become visible after a higher one: every id skipped between two seen ids is kept
//!   as a *hole* and looked up again for [`HOLE_TTL`] (a rolled-back id simply expires).
//! * Conversations, customers and orders by `(updated_at, id)`. Their timestamps are taken before
//!   the commit, so each pull starts [`OVERLAP_MS`] before the cursor; rows already indexed at the
//!   same `updated_at` are skipped, others are upserted (delete by key + add).
//! * An order change re-indexes its customer (order numbers find their customer).
//! * Scripts by `(updated_at, id)`: live rows and the tombstones of deleted ones (`gone`, migration
//!   0012) merged in that order, so a deletion leaves the index like any other change. Personal
//!   scripts keep their owner: the index shows them only to that agent.
//! * Conversation documents carry the conversation's tags; a tag change moves the conversation's
//!   `updated_at`, so it is followed like any other change.
//!
//! At start-up an index that cannot be opened (missing, corrupt, older schema) is rebuilt in the
//! background from the database while the server runs; meanwhile searches answer
//! `{"status":"rebuilding"}`. A search that fails on a damaged index triggers the same rebuild.

use crate::background::at_background_priority;
use kefu_core::model::Id;
use kefu_core::search::{
    SearchConversationRow, SearchCustomerRow, SearchMessageRow, SearchScriptRow,
};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_search::Analyzer;
use kefu_search::index::{
    ConversationDoc, CustomerDoc, DocKind, GenericDoc, MessageDoc, Op, SearchIndex, SearchQuery,
    SearchResults, normalize_id,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often the indexer looks for changes (the index follows writes within about this).
pub const TICK: Duration = Duration::from_millis(200);
/// Rows per page (one index commit each).
pub const PAGE: i64 = 2000;
/// How far before the cursor `(updated_at, id)` pulls start (late commits).
pub const OVERLAP_MS: i64 = 2000;
/// How long a skipped message id is looked for.
pub const HOLE_TTL: Duration = Duration::from_secs(10);
/// Most holes remembered (a burst of rollbacks must not grow memory).
const MAX_HOLES: usize = 10_000;
/// Every conversation comes from the web widget for now; the field is there for more channels.
pub const CHANNEL_WEB: &str = "web";

/// The indexer's position, stored with every index commit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
struct Cursors {
    message: Id,
    conversation: (i64, Id),
    customer: (i64, Id),
    order: (i64, Id),
    #[serde(default)]
    script: (i64, Id),
    /// What the documents hold, for indexes written by an older server: see [`CURSORS_VERSION`].
    #[serde(default)]
    version: u32,
}

/// Bumped when a kind of document gains content, so an existing index re-reads that kind instead
/// of waiting for each row's next change. 1: conversations carry their tags.
const CURSORS_VERSION: u32 = 1;

impl Cursors {
    /// Brings cursors stored by an older server up to date (re-reading what gained content).
    fn upgraded(mut self) -> Self {
        if self.version < 1 {
            self.conversation = (0, 0);
        }
        self.version = CURSORS_VERSION;
        self
    }

    fn fresh() -> Self {
        Self {
            version: CURSORS_VERSION,
            ..Self::default()
        }
    }
}

/// What a search answered.
pub enum Outcome {
    Ready(SearchResults),
    /// The index is being rebuilt; try again shortly.
    Rebuilding,
}

enum State {
    Ready(Arc<SearchIndex>),
    Rebuilding,
}

/// The search index and its indexer; one per server, shared through `AppState::search`.
pub struct SearchService {
    dir: PathBuf,
    analyzer: Arc<Analyzer>,
    state: RwLock<State>,
    /// Set by a failing search: the indexer drops the index and rebuilds it.
    broken: AtomicBool,
    /// Set by [`SearchService::stop`]; `stopped` once the indexer has let go of the index.
    stop: AtomicBool,
    stopped: AtomicBool,
}

impl std::fmt::Debug for SearchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchService({})", self.dir.display())
    }
}

impl SearchService {
    /// Starts the service on `dir` (`<data-dir>/search`) and its indexer task. Returns at once: the
    /// index is opened (or rebuilt) in the background.
    pub fn start(store: Arc<dyn Store>, dir: PathBuf, analyzer: Arc<Analyzer>) -> Arc<Self> {
        let me = Arc::new(Self {
            dir,
            analyzer,
            state: RwLock::new(State::Rebuilding),
            broken: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        let svc = me.clone();
        tokio::spawn(async move {
            svc.run(store).await;
            svc.set_state(State::Rebuilding);
            svc.stopped.store(true, Ordering::SeqCst);
        });
        me
    }

    /// Stops the indexer and closes the index (releasing its directory); waits up to 10 s.
    pub async fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..200 {
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether searches are answered (false while rebuilding).
    pub fn is_ready(&self) -> bool {
        matches!(
            *self.state.read().unwrap_or_else(|e| e.into_inner()),
            State::Ready(_)
        )
    }

    fn index(&self) -> Option<Arc<SearchIndex>> {
        match &*self.state.read().unwrap_or_else(|e| e.into_inner()) {
            State::Ready(ix) => Some(ix.clone()),
            State::Rebuilding => None,
        }
    }

    fn set_state(&self, s: State) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = s;
    }

    /// Runs a search on a blocking thread.
    pub async fn search(&self, q: SearchQuery) -> Outcome {
        let Some(ix) = self.index() else {
            return Outcome::Rebuilding;
        };
        match tokio::task::spawn_blocking(move || ix.search(&q)).await {
            Ok(Ok(r)) => Outcome::Ready(r),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "search failed; rebuilding the index");
                self.broken.store(true, Ordering::SeqCst);
                Outcome::Rebuilding
            }
            Err(e) => {
                tracing::error!(error = %e, "search task failed");
                Outcome::Rebuilding
            }
        }
    }

    async fn run(&self, store: Arc<dyn Store>) {
        while !self.stop.load(Ordering::SeqCst) {
            // Open or rebuild.
            let (dir, analyzer) = (self.dir.clone(), self.analyzer.clone());
            let opened =
                at_background_priority("kefu-index", move || open_index(&dir, analyzer)).await;
            let (ix, cursors, fresh) = match opened {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "search index unusable; retrying in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "search index task failed");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let mut indexer = Indexer::new(store.clone(), ix.clone(), cursors, fresh);
            if !fresh {
                self.set_state(State::Ready(ix.clone()));
            } else {
                tracing::info!(dir = %self.dir.display(), "search index: building from the database");
            }
            self.broken.store(false, Ordering::SeqCst);
            loop {
                match indexer.catch_up().await {
                    Ok(n) => {
                        if fresh && !self.is_ready() {
                            tracing::info!(docs = ix.num_docs(), "search index: built");
                            self.set_state(State::Ready(ix.clone()));
                        }
                        if n > 0 {
                            tracing::debug!(rows = n, "search index: followed changes");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "search indexer: will retry"),
                }
                if self.stop.load(Ordering::SeqCst) {
                    return;
                }
                if self.broken.load(Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(TICK).await;
            }
            // A search found the index damaged: drop it and rebuild from scratch.
            self.set_state(State::Rebuilding);
            drop(indexer);
            drop(ix);
            let dir = self.dir.clone();
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
        }
    }
}

/// Opens the index in `dir`, or builds a fresh one when it cannot be opened (the caller then
/// fills it). Returns the index, its cursors and whether it is fresh.
fn open_index(
    dir: &Path,
    analyzer: Arc<Analyzer>,
) -> Result<(Arc<SearchIndex>, Cursors, bool), String> {
    match SearchIndex::open_or_create(dir, analyzer.clone()) {
        Ok(ix) => {
            let cursors = ix
                .payload()
                .ok()
                .flatten()
                .and_then(|p| serde_json::from_str::<Cursors>(&p).ok());
            match cursors {
                Some(c) => Ok((Arc::new(ix), c.upgraded(), false)),
                // Created just now (or never committed): fill it from the start.
                None => Ok((Arc::new(ix), Cursors::fresh(), true)),
            }
        }
        Err(e) => {
            if is_lock_busy(&e.to_string()) {
                return Err(format!(
                    "{e} (is another kefu process using {}?)",
                    dir.display()
                ));
            }
            tracing::warn!(error = %e, dir = %dir.display(), "search index cannot be opened; rebuilding it");
            let ix = SearchIndex::create_fresh(dir, analyzer).map_err(|e| e.to_string())?;
            Ok((Arc::new(ix), Cursors::fresh(), true))
        }
    }
}

fn is_lock_busy(msg: &str) -> bool {
    msg.contains("LockBusy") || msg.contains("lock") && msg.contains("busy")
}

/// Rebuilds the index in `dir` from the database and returns the number of documents
/// (`kefu reindex`). Refuses while a server holds the index.
pub async fn reindex(
    store: Arc<dyn Store>,
    dir: &Path,
    analyzer: Arc<Analyzer>,
) -> Result<u64, String> {
    let d = dir.to_owned();
    let a = analyzer.clone();
    // Opening takes the writer lock: a running server makes this fail instead of being corrupted.
    let probe = tokio::task::spawn_blocking(move || SearchIndex::open_or_create(&d, a))
        .await
        .map_err(|e| e.to_string())?;
    match probe {
        Ok(ix) => drop(ix),
        Err(e) if is_lock_busy(&e.to_string()) => {
            return Err(format!(
                "the search index in {} is in use: stop the server first ({e})",
                dir.display()
            ));
        }
        Err(_) => {}
    }
    let d = dir.to_owned();
    let ix = tokio::task::spawn_blocking(move || SearchIndex::create_fresh(&d, analyzer))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let ix = Arc::new(ix);
    let mut indexer = Indexer::new(store, ix.clone(), Cursors::fresh(), true);
    indexer.catch_up().await.map_err(|e| e.to_string())?;
    Ok(ix.num_docs())
}

/// Pulls changes from the store into the index.
struct Indexer {
    store: Arc<dyn Store>,
    ix: Arc<SearchIndex>,
    cursors: Cursors,
    /// Filling an empty index: messages are added without deleting first (conversations and
    /// customers may change during the fill and are always replaced by key).
    fresh: bool,
    /// Message ids skipped between seen ids, with when they were first missed.
    holes: BTreeMap<Id, Instant>,
    /// `updated_at` already indexed for recent rows (inside the overlap window).
    seen_conversations: HashMap<Id, i64>,
    seen_customers: HashMap<Id, i64>,
    seen_orders: HashMap<Id, i64>,
    seen_scripts: HashMap<Id, i64>,
    /// Documents waiting for the next commit (replacing by key / only added).
    pending: Vec<Op>,
    pending_new: Vec<Op>,
    /// The cursors of the last commit.
    committed: Cursors,
}

impl Indexer {
    fn new(store: Arc<dyn Store>, ix: Arc<SearchIndex>, cursors: Cursors, fresh: bool) -> Self {
        Self {
            store,
            ix,
            cursors,
            fresh,
            holes: BTreeMap::new(),
            seen_conversations: HashMap::new(),
            seen_customers: HashMap::new(),
            seen_orders: HashMap::new(),
            seen_scripts: HashMap::new(),
            pending: Vec::new(),
            pending_new: Vec::new(),
            committed: cursors,
        }
    }

    /// Pulls until nothing is left; returns the number of rows indexed. Everything read in one
    /// call goes into as few commits as possible (one, unless more than [`PAGE`] rows changed):
    /// a commit is the expensive part, and it keeps the lag well under a second.
    async fn catch_up(&mut self) -> Result<usize, String> {
        let mut total = 0;
        total += self.conversations().await?;
        total += self.customers().await?;
        total += self.orders().await?;
        total += self.scripts().await?;
        total += self.messages().await?;
        self.flush().await?;
        // Once caught up, later rows may update documents added in this run.
        self.fresh = false;
        Ok(total)
    }

    /// Queues `ops` for the next commit (made at once when [`PAGE`] documents wait). `only_new`:
    /// the documents cannot be in the index yet (messages past the cursor while filling an empty
    /// index), so nothing is deleted first.
    async fn commit(&mut self, ops: Vec<Op>, only_new: bool) -> Result<(), String> {
        if only_new {
            self.pending_new.extend(ops);
        } else {
            self.pending.extend(ops);
        }
        if self.pending.len() + self.pending_new.len() >= PAGE as usize {
            self.flush().await?;
        }
        Ok(())
    }

    /// Commits what is queued together with the cursors (which never run ahead of a commit).
    async fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() && self.pending_new.is_empty() && self.committed == self.cursors
        {
            return Ok(());
        }
        let payload = serde_json::to_string(&self.cursors).map_err(|e| e.to_string())?;
        let ix = self.ix.clone();
        let upserts = std::mem::take(&mut self.pending);
        let new = std::mem::take(&mut self.pending_new);
        // At background priority: a commit restarts tantivy's indexing threads from this thread.
        let result = at_background_priority("kefu-index", move || {
            let r = ix
                .add_new(&new)
                .and_then(|_| ix.apply(&upserts, Some(&payload)));
            (r, upserts, new)
        })
        .await?;
        match result {
            (Ok(()), _, _) => {
                self.committed = self.cursors;
                Ok(())
            }
            // Keep them for the next try: the cursors have moved past their rows.
            (Err(e), upserts, new) => {
                self.pending = upserts;
                self.pending_new = new;
                Err(e.to_string())
            }
        }
    }

    async fn messages(&mut self) -> Result<usize, String> {
        let mut total = 0;
        // Late commits first.
        let now = Instant::now();
        self.holes
            .retain(|_, at| now.duration_since(*at) < HOLE_TTL);
        if !self.holes.is_empty() {
            let ids: Vec<Id> = self.holes.keys().copied().collect();
            let mut ops = Vec::new();
            for chunk in ids.chunks(PAGE as usize) {
                let rows = self
                    .store
                    .search_messages_by_ids(chunk)
                    .await
                    .map_err(|e| e.to_string())?;
                for r in rows {
                    self.holes.remove(&r.id);
                    ops.push(Op::Message(message_doc(r)));
                }
            }
            if !ops.is_empty() {
                total += ops.len();
                self.commit(ops, false).await?;
            }
        }
        loop {
            let rows = self
                .store
                .search_messages_after(self.cursors.message, PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let n = rows.len();
            let mut expected = self.cursors.message + 1;
            let mut ops = Vec::with_capacity(n);
            for r in rows {
                // Cap the scan: a huge jump (a restored dump) is not a list of holes.
                if r.id > expected
                    && self.holes.len() < MAX_HOLES
                    && r.id - expected < MAX_HOLES as i64
                {
                    for h in expected..r.id {
                        self.holes.insert(h, now);
                    }
                }
                expected = r.id + 1;
                self.cursors.message = r.id;
                ops.push(Op::Message(message_doc(r)));
            }
            if n == 0 {
                break;
            }
            total += n;
            self.commit(ops, self.fresh).await?;
            if (n as i64) < PAGE {
                break;
            }
        }
        Ok(total)
    }

    async fn conversations(&mut self) -> Result<usize, String> {
        self.follow(
            Feed::Conversations,
            |store, since, after| async move {
                store.search_conversations_changed(since, after, PAGE).await
            },
            |r| (r.updated_at.0, r.id),
            |r| Op::Conversation(conversation_doc(r)),
        )
        .await
    }

    async fn customers(&mut self) -> Result<usize, String> {
        self.follow(
            Feed::Customers,
            |store, since, after| async move {
                store.search_customers_changed(since, after, PAGE).await
            },
            |r| (r.updated_at.0, r.id),
            customer_op,
        )
        .await
    }

    async fn scripts(&mut self) -> Result<usize, String> {
        self.follow(
            Feed::Scripts,
            |store, since, after| async move {
                store.search_scripts_changed(since, after, PAGE).await
            },
            |r| (r.updated_at.0, r.id),
            script_op,
        )
        .await
    }

    /// The cursor and the versions already indexed of one `(updated_at, id)` feed.
    fn feed_state(&mut self, feed: Feed) -> (&mut (i64, Id), &mut HashMap<Id, i64>) {
        match feed {
            Feed::Conversations => (&mut self.cursors.conversation, &mut self.seen_conversations),
            Feed::Customers => (&mut self.cursors.customer, &mut self.seen_customers),
            Feed::Scripts => (&mut self.cursors.script, &mut self.seen_scripts),
        }
    }

    /// Follows one `(updated_at, id)` feed: pages from [`overlap`] before its cursor (rows committed
    /// late), skips rows already indexed at the same `updated_at`, commits each page with the cursor.
    async fn follow<R, Fut>(
        &mut self,
        feed: Feed,
        fetch: impl Fn(Arc<dyn Store>, Millis, Id) -> Fut,
        version: impl Fn(&R) -> (i64, Id),
        to_op: impl Fn(R) -> Op,
    ) -> Result<usize, String>
    where
        Fut: std::future::Future<Output = kefu_core::Result<Vec<R>>>,
    {
        let mut total = 0;
        let (mut since, mut after) = overlap(*self.feed_state(feed).0);
        loop {
            let rows = fetch(self.store.clone(), Millis(since), after)
                .await
                .map_err(|e| e.to_string())?;
            let n = rows.len();
            let mut ops = Vec::new();
            for r in rows {
                (since, after) = version(&r);
                let (cursor, seen) = self.feed_state(feed);
                *cursor = (*cursor).max((since, after));
                if seen.insert(after, since) == Some(since) {
                    continue;
                }
                ops.push(to_op(r));
            }
            total += ops.len();
            if !ops.is_empty() {
                self.commit(ops, false).await?;
            }
            if (n as i64) < PAGE {
                break;
            }
        }
        let (cursor, seen) = self.feed_state(feed);
        let cursor_ts = cursor.0;
        prune(seen, cursor_ts);
        Ok(total)
    }

    async fn orders(&mut self) -> Result<usize, String> {
        let mut total = 0;
        let (mut since, mut after) = overlap(self.cursors.order);
        loop {
            let rows = self
                .store
                .search_orders_changed(Millis(since), after, PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let n = rows.len();
            let mut customers = HashSet::new();
            for (updated, id, customer) in rows {
                (since, after) = (updated.0, id);
                self.cursors.order = self.cursors.order.max((since, after));
                if self.seen_orders.insert(id, updated.0) == Some(updated.0) {
                    continue;
                }
                customers.extend(customer);
            }
            if !customers.is_empty() {
                let ids: Vec<Id> = customers.into_iter().collect();
                let rows = self
                    .store
                    .search_customers_by_ids(&ids)
                    .await
                    .map_err(|e| e.to_string())?;
                let ops: Vec<Op> = rows.into_iter().map(customer_op).collect();
                total += ops.len();
                self.commit(ops, false).await?;
            }
            if (n as i64) < PAGE {
                break;
            }
        }
        prune(&mut self.seen_orders, self.cursors.order.0);
        Ok(total)
    }
}

/// The `(updated_at, id)` feeds the indexer follows with [`Indexer::follow`] (orders only point at
/// customers and have their own loop).
#[derive(Clone, Copy)]
enum Feed {
    Conversations,
    Customers,
    Scripts,
}

/// Where a `(updated_at, id)` pull starts: [`OVERLAP_MS`] before the cursor.
fn overlap(cursor: (i64, Id)) -> (i64, Id) {
    if cursor == (0, 0) {
        (i64::MIN, 0)
    } else {
        (cursor.0 - OVERLAP_MS, 0)
    }
}

fn prune(seen: &mut HashMap<Id, i64>, cursor_ts: i64) {
    seen.retain(|_, at| *at >= cursor_ts - OVERLAP_MS);
}

fn message_doc(r: SearchMessageRow) -> MessageDoc {
    MessageDoc {
        id: r.id,
        shop_id: r.shop_id,
        conversation_id: r.conversation_id,
        sender_type: r.sender_type,
        sender_name: r.sender_name,
        private: r.private,
        body: r.body,
        created_at: r.created_at.0,
    }
}

fn conversation_doc(r: SearchConversationRow) -> ConversationDoc {
    ConversationDoc {
        id: r.id,
        shop_id: r.shop_id,
        customer_id: r.customer_id,
        customer_name: r.customer_name,
        status: r.status,
        channel: CHANNEL_WEB.to_owned(),
        assignee_id: r.assignee_id,
        assignee_name: r.assignee_name,
        team_id: r.team_id,
        tags: r.tags,
        created_at: r.created_at.0,
    }
}

fn script_op(r: SearchScriptRow) -> Op {
    if r.gone {
        return Op::Delete(DocKind::Script, r.id);
    }
    Op::Generic(GenericDoc {
        kind: DocKind::Script,
        id: r.id,
        shop_id: r.shop_id,
        owner_id: r.owner_id,
        title: r.title,
        body: r.body,
        tags: r.tags,
        created_at: r.created_at.0,
    })
}

fn customer_op(r: SearchCustomerRow) -> Op {
    if r.merged {
        return Op::Delete(DocKind::Customer, r.id);
    }
    // The same value appears raw (profile column) and normalised (identity): show it once.
    let mut seen = HashSet::new();
    let contacts = r
        .contacts
        .into_iter()
        .filter(|c| seen.insert(normalize_id(c)))
        .collect();
    Op::Customer(CustomerDoc {
        id: r.id,
        shop_id: r.shop_id,
        name: r.name,
        contacts,
        order_nos: r.order_nos,
        tags: r.tags,
        created_at: r.created_at.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_cursors_reread_conversations_only() {
        // As stored by the first search release (no scripts cursor, no version).
        let old = r#"{"message":9,"conversation":[5,3],"customer":[6,4],"order":[7,2]}"#;
        let c = serde_json::from_str::<Cursors>(old).unwrap().upgraded();
        assert_eq!(c.conversation, (0, 0));
        assert_eq!((c.message, c.customer, c.order), (9, (6, 4), (7, 2)));
        assert_eq!(c.version, CURSORS_VERSION);
        // Current cursors are kept as they are.
        assert_eq!(c.upgraded(), c);
    }
}
