//! Live reply suggestions: when a shopper's message is stored, the shop's scripts are ranked for the
//! conversation and the agents who see it receive a `suggestions` event; the console can also ask
//! for the current suggestions of a conversation ([`Suggester::current`]).
//!
//! Per shop the [`Suggester`] keeps a ranking [`Engine`] (kefu-search) built from the shop's latest
//! (shopper message → agent reply) pairs plus the pairs its agents made by picking a script, and the
//! shop's script library (shop-wide and every agent's personal scripts) prepared against it.
//! Building reads the store and then runs jieba and the engine's statistics on the blocking pool:
//! it never runs on the async runtime, and never on the path of a message.
//!
//! The message path only calls [`Suggester::on_shopper_message`], which is a `try_send` into a
//! bounded queue: when the worker falls behind, new jobs are dropped (suggestions are a hint, the
//! message is what matters) and the jobs it drains together are coalesced to the latest message per
//! conversation. A job whose shop has no current engine waits in that shop's slot until the
//! background build finishes, so the worker itself never waits for a build.
//!
//! Invalidation: script changes call [`Suggester::invalidate`] (a generation counter); the next job
//! or read rebuilds the prepared library first (and the engine too while the shop's history is
//! small, since document frequencies then come from the scripts). History is refreshed in the
//! background once an engine is older than [`SuggestConfig::refresh`]; until the new one is ready
//! the old one keeps answering.

use crate::background::BackgroundThread;
use kefu_core::events::{Event, EventSink};
use kefu_core::frames::SUGGESTIONS_SHOWN;
use kefu_core::model::{Conversation, Id, MessageKind, SenderType};
use kefu_core::store::Store;
use kefu_core::suggestions::{CONTEXT_TURNS, PastExchange, Suggestion, exchanges};
use kefu_core::{Error, Result};
use kefu_search::{Analyzer, Candidate, Engine, Feature, HistoryPair, Params};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Tuning of the suggestion service.
#[derive(Debug, Clone)]
pub struct SuggestConfig {
    /// The most (shopper → agent) pairs of a shop's history the engine learns from.
    pub history_pairs: usize,
    /// An engine older than this is rebuilt in the background with the newer history.
    pub refresh: Duration,
    /// Jobs waiting for the worker; more are dropped.
    pub queue: usize,
}

impl Default for SuggestConfig {
    fn default() -> Self {
        Self {
            history_pairs: 20_000,
            refresh: Duration::from_secs(600),
            queue: 1024,
        }
    }
}

/// Below this many history pairs the learned features (similar past conversations, term
/// association) are off; they reach their tuned weight at [`FULL_LEARNING_HISTORY`]. With a handful
/// of pairs one coincidence (a digit in the question and an order card's "×1" in a past reply)
/// outweighs the script text itself, so a young shop is ranked by its library and the cues alone.
const MIN_LEARNING_HISTORY: usize = 300;
const FULL_LEARNING_HISTORY: usize = 3_000;

/// The engine's parameters for a history of `pairs` pairs: the tuned defaults, with the features
/// learned from history scaled by how much history there is.
pub fn params_for_history(pairs: usize) -> Params {
    let mut params = Params::default();
    let confidence = pairs.saturating_sub(MIN_LEARNING_HISTORY) as f32
        / (FULL_LEARNING_HISTORY - MIN_LEARNING_HISTORY) as f32;
    let confidence = confidence.min(1.0);
    for feature in [
        Feature::HistorySimilar,
        Feature::HistoryExact,
        Feature::Popularity,
        Feature::Association,
    ] {
        params.weights[feature as usize] *= confidence;
    }
    params
}

/// Below this many history pairs, a script change rebuilds the whole engine (cheap then), so that
/// document frequencies, which come mostly from the scripts, follow the library.
const SMALL_HISTORY: usize = 2_000;

/// How long a read waits for a shop's first engine.
const BUILD_WAIT: Duration = Duration::from_secs(60);

/// Jobs parked per shop while its engine builds (the latest per conversation).
const PARKED_PER_SHOP: usize = 256;

/// A script as suggestions see it.
#[derive(Debug, Clone)]
pub struct ScriptEntry {
    pub id: Id,
    /// `Some(agent)`: a personal script, suggested to that agent only.
    pub owner_id: Option<Id>,
    pub title: String,
    pub body: String,
    pub category: String,
}

/// A shop's engine and its prepared script library.
pub struct Prepared {
    engine: Arc<Engine>,
    scripts: Vec<ScriptEntry>,
    candidates: Vec<Candidate>,
    /// The script generation this library was loaded at.
    generation: u64,
}

impl Prepared {
    /// Builds the engine from the history and prepares the scripts (blocking: call it on the
    /// blocking pool). `history` are past exchanges, oldest or newest first.
    pub fn build(
        analyzer: Arc<Analyzer>,
        history: Vec<PastExchange>,
        scripts: Vec<ScriptEntry>,
    ) -> Self {
        let params = params_for_history(history.len());
        let pairs: Vec<HistoryPair> = history
            .into_iter()
            .enumerate()
            .map(|(i, e)| HistoryPair {
                id: i.to_string(),
                context: e.context,
                reply: e.reply,
            })
            .collect();
        let engine = Engine::build(
            analyzer,
            pairs,
            scripts.iter().map(|s| s.body.as_str()),
            params,
        );
        Self::with_engine(Arc::new(engine), scripts, 0)
    }

    /// Prepares `scripts` against an existing engine.
    pub fn with_engine(engine: Arc<Engine>, scripts: Vec<ScriptEntry>, generation: u64) -> Self {
        // Title and body: agents name scripts by what they answer ("运费说明"), which helps the
        // terms match the shopper's words.
        let candidates = scripts
            .iter()
            .map(|s| engine.prepare(&format!("{}\n{}", s.title, s.body)))
            .collect();
        Self {
            engine,
            scripts,
            candidates,
            generation,
        }
    }

    /// Number of history pairs the engine learnt from.
    pub fn history_len(&self) -> usize {
        self.engine.history_len()
    }

    /// Number of scripts.
    pub fn scripts_len(&self) -> usize {
        self.scripts.len()
    }

    /// Ranks the library for a conversation (`context`: its latest turns, oldest first) and keeps
    /// what any agent would be shown: everything down to the [`SUGGESTIONS_SHOWN`]th shop-wide
    /// script (a personal script ranked above it is in its owner's top 3). With `viewer`, only
    /// that agent's top 3 (shop-wide and their own personal scripts).
    pub fn rank(&self, context: &[String], viewer: Option<Id>) -> Vec<Suggestion> {
        if self.candidates.is_empty() || context.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut shared = 0;
        for (i, score) in self.engine.rank(context, &self.candidates, None) {
            let s = &self.scripts[i];
            if let Some(v) = viewer {
                if s.owner_id.is_some_and(|o| o != v) {
                    continue;
                }
                if out.len() == SUGGESTIONS_SHOWN {
                    break;
                }
            } else if s.owner_id.is_none() {
                if shared == SUGGESTIONS_SHOWN {
                    break;
                }
                shared += 1;
            }
            out.push(Suggestion {
                script_id: s.id,
                title: s.title.clone(),
                body: s.body.clone(),
                category: s.category.clone(),
                score,
                owner_id: s.owner_id,
            });
        }
        out
    }
}

struct Job {
    conversation: Arc<Conversation>,
    message_id: Id,
    seq: i64,
    /// When the message was committed: the latency measured is from here to the event.
    at: Instant,
}

#[derive(Default)]
struct ShopState {
    prepared: Option<Arc<Prepared>>,
    built_at: Option<Instant>,
    building: bool,
    parked: Vec<Job>,
}

struct Shop {
    /// Bumped by [`Suggester::invalidate`].
    generation: AtomicU64,
    state: Mutex<ShopState>,
    /// Counts finished builds, so readers can wait for one.
    built: watch::Sender<u64>,
}

/// Recent latencies (message committed → event published), for logs and tests.
#[derive(Default)]
struct Latencies {
    micros: Vec<u32>,
    next: usize,
    recorded: u64,
}

/// Every this many events the recent latencies are logged (info).
const LATENCY_LOG_EVERY: u64 = 256;

const LATENCY_WINDOW: usize = 1024;

/// The suggestion service; see the module documentation.
pub struct Suggester {
    store: Arc<dyn Store>,
    events: Arc<dyn EventSink>,
    config: SuggestConfig,
    analyzer: OnceLock<Arc<Analyzer>>,
    shops: Mutex<HashMap<Id, Arc<Shop>>>,
    jobs: mpsc::Sender<Job>,
    dropped: AtomicU64,
    latencies: Mutex<Latencies>,
    /// Where the per-message rankings run: a thread at background priority, so that under a
    /// burst the message path keeps the CPU and suggestions come later (or are skipped when the
    /// queue is full) instead of slowing every message. `None` if the thread could not start:
    /// then the blocking pool.
    ranking: Option<BackgroundThread>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Suggester {
    /// Starts the service and its worker (needs a Tokio runtime).
    pub fn start(
        store: Arc<dyn Store>,
        events: Arc<dyn EventSink>,
        config: SuggestConfig,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let this = Arc::new(Self {
            store,
            events,
            config,
            analyzer: OnceLock::new(),
            shops: Mutex::default(),
            jobs: tx,
            dropped: AtomicU64::new(0),
            latencies: Mutex::default(),
            ranking: BackgroundThread::start("kefu-suggest")
                .inspect_err(|e| tracing::warn!(error = %e, "no background thread for suggestions"))
                .ok(),
        });
        tokio::spawn(Self::worker(Arc::downgrade(&this), rx));
        this
    }

    /// Uses `analyzer` (the one the search index has) instead of loading jieba's dictionary a
    /// second time: each copy costs tens of megabytes. Only before the first build.
    pub fn share_analyzer(&self, analyzer: Arc<Analyzer>) {
        let _ = self.analyzer.set(analyzer);
    }

    /// The shared analyzer (jieba's dictionary loads once, on the blocking pool).
    fn analyzer(&self) -> Arc<Analyzer> {
        self.analyzer
            .get_or_init(|| Arc::new(Analyzer::new()))
            .clone()
    }

    fn shop(&self, shop_id: Id) -> Arc<Shop> {
        lock(&self.shops)
            .entry(shop_id)
            .or_insert_with(|| {
                Arc::new(Shop {
                    generation: AtomicU64::new(0),
                    state: Mutex::default(),
                    built: watch::channel(0).0,
                })
            })
            .clone()
    }

    /// The shop's scripts changed: the next suggestion uses the new library.
    pub fn invalidate(self: &Arc<Self>, shop_id: Id) {
        let shop = self.shop(shop_id);
        shop.generation.fetch_add(1, Ordering::SeqCst);
        // Rebuild now if an engine is in use, so the next message finds it ready.
        if lock(&shop.state).prepared.is_some() {
            self.ensure_building(shop_id, &shop);
        }
    }

    /// An agent of the shop connected: build the shop's library now (in the background) so that
    /// the first shopper message does not wait for it.
    pub fn warm(self: &Arc<Self>, shop_id: Id) {
        let shop = self.shop(shop_id);
        if lock(&shop.state).prepared.is_none() {
            self.ensure_building(shop_id, &shop);
        }
    }

    /// Called after a shopper's message is committed and published; never waits.
    pub fn on_shopper_message(&self, conversation: Arc<Conversation>, message_id: Id, seq: i64) {
        // No agent connected to the shop: nobody would see the event; a console that opens the
        // conversation later asks with [`Suggester::current`].
        if !self.events.reaches_agents(conversation.shop_id) {
            return;
        }
        let job = Job {
            conversation,
            message_id,
            seq,
            at: Instant::now(),
        };
        if self.jobs.try_send(job).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "suggestion queue full; suggestions skipped");
            }
        }
    }

    /// Jobs dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// (median, p95, count) of the recent message → event latencies.
    pub fn latency(&self) -> Option<(Duration, Duration, usize)> {
        let mut v = lock(&self.latencies).micros.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: f64| Duration::from_micros(u64::from(v[((v.len() - 1) as f64 * q) as usize]));
        Some((at(0.5), at(0.95), v.len()))
    }

    fn record_latency(&self, d: Duration) {
        let report = {
            let mut l = lock(&self.latencies);
            let us = d.as_micros().min(u128::from(u32::MAX)) as u32;
            if l.micros.len() < LATENCY_WINDOW {
                l.micros.push(us);
            } else {
                let i = l.next;
                l.micros[i] = us;
            }
            l.next = (l.next + 1) % LATENCY_WINDOW;
            l.recorded += 1;
            l.recorded.is_multiple_of(LATENCY_LOG_EVERY)
        };
        if report && let Some((p50, p95, n)) = self.latency() {
            tracing::info!(
                p50_us = p50.as_micros() as u64,
                p95_us = p95.as_micros() as u64,
                events = n,
                dropped = self.dropped(),
                "suggestion latency (message committed → event published)"
            );
        }
    }

    async fn worker(this: std::sync::Weak<Self>, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512
                && let Ok(job) = rx.try_recv()
            {
                batch.push(job);
            }
            let Some(this) = this.upgrade() else { return };
            // The latest message per conversation: an older one's suggestions would be replaced
            // before anyone read them.
            let mut latest: HashMap<Id, Job> = HashMap::new();
            for job in batch {
                match latest.get(&job.conversation.id) {
                    Some(j) if j.seq >= job.seq => {}
                    _ => {
                        latest.insert(job.conversation.id, job);
                    }
                }
            }
            let mut jobs: Vec<Job> = latest.into_values().collect();
            jobs.sort_by_key(|j| j.at);
            for job in jobs {
                this.run(job).await;
            }
        }
    }

    async fn run(self: &Arc<Self>, job: Job) {
        let shop_id = job.conversation.shop_id;
        let Some((prepared, job)) = self.ready_or_park(shop_id, job) else {
            return;
        };
        if let Err(e) = self.suggest_and_publish(&prepared, job).await {
            tracing::warn!(%e, shop_id, "could not rank suggestions");
        }
    }

    /// The shop's current library, or `None` after parking the job until the build finishes.
    fn ready_or_park(self: &Arc<Self>, shop_id: Id, job: Job) -> Option<(Arc<Prepared>, Job)> {
        let shop = self.shop(shop_id);
        let generation = shop.generation.load(Ordering::SeqCst);
        let mut st = lock(&shop.state);
        if let Some(p) = &st.prepared
            && p.generation == generation
        {
            let p = p.clone();
            let stale = st
                .built_at
                .is_some_and(|t| t.elapsed() > self.config.refresh);
            drop(st);
            if stale {
                self.ensure_building(shop_id, &shop);
            }
            return Some((p, job));
        }
        if let Some(i) = st
            .parked
            .iter()
            .position(|j| j.conversation.id == job.conversation.id)
        {
            st.parked[i] = job;
        } else if st.parked.len() < PARKED_PER_SHOP {
            st.parked.push(job);
        }
        drop(st);
        self.ensure_building(shop_id, &shop);
        None
    }

    /// Starts a background build of the shop's library unless one is running.
    fn ensure_building(self: &Arc<Self>, shop_id: Id, shop: &Arc<Shop>) {
        {
            let mut st = lock(&shop.state);
            if st.building {
                return;
            }
            st.building = true;
        }
        let this = self.clone();
        let shop = shop.clone();
        tokio::spawn(async move {
            loop {
                let generation = shop.generation.load(Ordering::SeqCst);
                let (previous, built_at) = {
                    let st = lock(&shop.state);
                    (st.prepared.clone(), st.built_at)
                };
                // Keep the engine when only the scripts changed and the history is large and fresh.
                let reuse = previous.filter(|p| {
                    p.engine.history_len() >= SMALL_HISTORY
                        && built_at.is_some_and(|t| t.elapsed() <= this.config.refresh)
                });
                let started = Instant::now();
                let result = this.build(shop_id, reuse.clone(), generation).await;
                let parked = {
                    let mut st = lock(&shop.state);
                    let failed = result.is_err();
                    match result {
                        Ok(p) => {
                            tracing::info!(
                                shop_id,
                                history = p.history_len(),
                                scripts = p.scripts_len(),
                                engine_reused = reuse.is_some(),
                                ms = started.elapsed().as_millis() as u64,
                                "suggestion engine ready"
                            );
                            st.prepared = Some(Arc::new(p));
                            if reuse.is_none() {
                                st.built_at = Some(started);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(%e, shop_id, "could not build the suggestion engine");
                        }
                    }
                    // Scripts changed while building: go again before answering parked jobs.
                    if !failed
                        && shop.generation.load(Ordering::SeqCst) != generation
                        && st.prepared.is_some()
                    {
                        None
                    } else {
                        st.building = false;
                        let parked = std::mem::take(&mut st.parked);
                        // After a failure the parked jobs are dropped: re-queued they would only
                        // start the next failing build at once.
                        Some(if failed { Vec::new() } else { parked })
                    }
                };
                shop.built.send_modify(|n| *n += 1);
                if let Some(parked) = parked {
                    for job in parked {
                        if this.jobs.try_send(job).is_err() {
                            this.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    break;
                }
            }
        });
    }

    /// Reads what the library needs and builds it on the blocking pool.
    async fn build(
        self: &Arc<Self>,
        shop_id: Id,
        engine: Option<Arc<Prepared>>,
        generation: u64,
    ) -> Result<Prepared> {
        let scripts = load_scripts(&*self.store, shop_id).await?;
        let this = self.clone();
        if let Some(previous) = engine {
            let engine = previous.engine.clone();
            return tokio::task::spawn_blocking(move || {
                Prepared::with_engine(engine, scripts, generation)
            })
            .await
            .map_err(Error::internal);
        }
        // Each reply needs its shopper turn before it, and a few turns of context: three messages
        // per pair covers a typical exchange.
        let limit = (self.config.history_pairs * 3) as i64;
        let turns = self.store.recent_public_turns(shop_id, limit).await?;
        let picks = load_script_picks(&*self.store, shop_id, self.config.history_pairs).await?;
        let history_pairs = self.config.history_pairs;
        tokio::task::spawn_blocking(move || {
            let mut history = exchanges(turns);
            // Keep the newest when a long conversation made more pairs than asked for.
            if history.len() > history_pairs {
                history.drain(..history.len() - history_pairs);
            }
            history.extend(picks);
            let mut p = Prepared::build(this.analyzer(), history, scripts);
            p.generation = generation;
            p
        })
        .await
        .map_err(Error::internal)
    }

    /// The shop's current library, waiting for a build if there is none (reads only; the
    /// message path never waits).
    async fn ready(self: &Arc<Self>, shop_id: Id) -> Result<Arc<Prepared>> {
        let shop = self.shop(shop_id);
        let deadline = Instant::now() + BUILD_WAIT;
        loop {
            let mut built = shop.built.subscribe();
            let generation = shop.generation.load(Ordering::SeqCst);
            let current = lock(&shop.state).prepared.clone();
            match current {
                Some(p) if p.generation == generation => return Ok(p),
                _ => self.ensure_building(shop_id, &shop),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, built.changed()).await.is_err() {
                return Err(Error::internal("the suggestion engine is not ready"));
            }
            let st = lock(&shop.state);
            if st.prepared.is_none() && !st.building {
                // The build failed (logged); do not start another one per waiting request.
                return Err(Error::internal("the suggestion engine could not be built"));
            }
        }
    }

    /// The latest turns of the conversation up to and including the shopper message `seq`
    /// (`None`: up to the latest shopper message), and that message's id.
    async fn context(
        &self,
        conversation: &Conversation,
        seq: Option<i64>,
    ) -> Result<Option<(Id, Vec<String>)>> {
        // Enough messages back to find the turns among notes, cards and system messages.
        const WINDOW: i64 = 40;
        let last = seq.unwrap_or(conversation.last_seq);
        let messages = self
            .store
            .messages(
                conversation.shop_id,
                conversation.id,
                (last - WINDOW).max(0),
                WINDOW,
                false,
            )
            .await?;
        let turns: Vec<_> = messages
            .iter()
            .filter(|m| {
                m.seq <= last
                    && m.kind == MessageKind::Text
                    && matches!(m.sender_type, SenderType::Customer | SenderType::Agent)
            })
            .collect();
        let Some(end) = turns
            .iter()
            .rposition(|m| m.sender_type == SenderType::Customer)
        else {
            return Ok(None);
        };
        let from = (end + 1).saturating_sub(CONTEXT_TURNS);
        Ok(Some((
            turns[end].id,
            turns[from..=end].iter().map(|m| m.body.clone()).collect(),
        )))
    }

    async fn suggest_and_publish(
        self: &Arc<Self>,
        prepared: &Arc<Prepared>,
        job: Job,
    ) -> Result<()> {
        let Some((message_id, context)) = self.context(&job.conversation, Some(job.seq)).await?
        else {
            return Ok(());
        };
        if message_id != job.message_id {
            return Ok(());
        }
        let p = prepared.clone();
        let rank = move || p.rank(&context, None);
        let suggestions = match &self.ranking {
            Some(thread) => thread.run(rank).await.map_err(Error::internal)?,
            None => tokio::task::spawn_blocking(rank)
                .await
                .map_err(Error::internal)?,
        };
        self.events.publish(Event::Suggestions {
            conversation: job.conversation.clone(),
            message_id,
            suggestions: Arc::new(suggestions),
        });
        let took = job.at.elapsed();
        self.record_latency(took);
        if took > Duration::from_millis(50) {
            tracing::warn!(
                conversation_id = job.conversation.id,
                ms = took.as_millis() as u64,
                "suggestions later than 50 ms"
            );
        } else {
            tracing::debug!(
                conversation_id = job.conversation.id,
                us = took.as_micros() as u64,
                "suggestions published"
            );
        }
        Ok(())
    }

    /// The suggestions for the conversation's latest shopper message, as `viewer` would be shown
    /// them: `(message_id, top 3)`, or `None` when the shopper has not written yet.
    pub async fn current(
        self: &Arc<Self>,
        conversation: &Conversation,
        viewer: Id,
    ) -> Result<Option<(Id, Vec<Suggestion>)>> {
        let Some((message_id, context)) = self.context(conversation, None).await? else {
            return Ok(None);
        };
        let prepared = self.ready(conversation.shop_id).await?;
        let suggestions =
            tokio::task::spawn_blocking(move || prepared.rank(&context, Some(viewer)))
                .await
                .map_err(Error::internal)?;
        Ok(Some((message_id, suggestions)))
    }
}

/// Every script of the shop: the shop-wide ones and each agent's personal ones (the store lists
/// a viewer's scripts, so the agents are asked in turn; shops have few agents and this runs only
/// when the library is rebuilt).
async fn load_scripts(store: &dyn Store, shop_id: Id) -> Result<Vec<ScriptEntry>> {
    let mut out: Vec<ScriptEntry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let agents = store.list_agents(shop_id).await?;
    // Without agents nobody could be shown a suggestion; still load the shop-wide library (any
    // id sees it) so that reads behave the same.
    let viewers: Vec<Id> = if agents.is_empty() {
        vec![0]
    } else {
        agents.iter().map(|a| a.user.id).collect()
    };
    for viewer in viewers {
        for s in store.list_scripts(shop_id, viewer).await? {
            if seen.insert(s.id) {
                out.push(ScriptEntry {
                    id: s.id,
                    owner_id: s.owner_id,
                    title: s.title,
                    body: s.body,
                    category: s.category,
                });
            }
        }
    }
    Ok(out)
}

/// Exchanges made by agents picking a script: the shopper's message before the pick → the script.
async fn load_script_picks(
    store: &dyn Store,
    shop_id: Id,
    limit: usize,
) -> Result<Vec<PastExchange>> {
    store.script_pick_exchanges(shop_id, limit as i64).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_features_grow_with_the_history() {
        let tuned = Params::default().weights;
        let learned = [Feature::HistorySimilar, Feature::Association];
        for f in learned {
            assert!(tuned[f as usize] != 0.0, "{f:?} is tuned on");
            assert_eq!(params_for_history(0).weights[f as usize], 0.0);
            assert_eq!(
                params_for_history(MIN_LEARNING_HISTORY).weights[f as usize],
                0.0
            );
            let half = params_for_history((MIN_LEARNING_HISTORY + FULL_LEARNING_HISTORY) / 2);
            assert!((half.weights[f as usize] - tuned[f as usize] / 2.0).abs() < 1e-3);
            assert_eq!(
                params_for_history(20_000).weights[f as usize],
                tuned[f as usize]
            );
        }
        // What the library alone decides is never scaled.
        for f in [Feature::Bm25Context, Feature::Bm25Latest, Feature::Cues] {
            assert_eq!(params_for_history(0).weights[f as usize], tuned[f as usize]);
        }
    }
}
