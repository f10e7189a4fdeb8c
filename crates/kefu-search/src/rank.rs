//! The reply-ranking engine: given a conversation (turns, oldest first) and candidate replies (the shop's
//! scripts, or an evaluation item's candidates), score and rank the candidates.
//!
//! Features of a candidate (see [`Feature`]), combined linearly with [`Params::weights`]:
//! - **BM25** of the candidate against the context, every turn weighted by `decay^age` (the latest turn
//!   has age 0), and BM25 against the latest turn alone. Both are divided by the best candidate's score
//!   so that weights mean the same for every conversation.
//! - **Cues**: cosine of the context's intent-cue vector (recency-weighted, [`crate::cues`]) and the
//!   candidate's.
//! - **History** (what agents answered to similar questions): the `knn` past conversations most similar
//!   to this one (TF-IDF cosine of recency-weighted contexts) vote with their similarity for the reply the
//!   agent gave there: a candidate scores the similarity-weighted sum of its cosine to those replies
//!   (computed as one dot product with the summed reply vector, so it costs the same per candidate however
//!   many neighbours vote), plus the same sum over replies that are textually identical to it.
//! - **Priors**: how often the candidate's text was an agent reply in the whole history (log), and its
//!   length in terms (log): generic one-liners and long templates behave differently.
//!
//! Everything is in memory and built once ([`Engine::build`]); ranking allocates a few small maps per
//! call. Candidates are analysed once with [`Engine::prepare`] (a script library is prepared when it is
//! loaded), so a ranking call analyses only the conversation.

use crate::analyzer::Analyzer;
use crate::cues::{CUE_COUNT, CueDetector};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Number of features.
pub const FEATURES: usize = 8;

/// The features, in the order of [`Params::weights`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// BM25 against the recency-weighted context.
    Bm25Context = 0,
    /// BM25 against the latest turn only.
    Bm25Latest = 1,
    /// Cosine of intent-cue vectors.
    Cues = 2,
    /// Similarity to the replies agents gave in similar past conversations.
    HistorySimilar = 3,
    /// Identical text to the replies agents gave in similar past conversations.
    HistoryExact = 4,
    /// log(1 + how often this text was an agent reply in the history).
    Popularity = 5,
    /// log(1 + number of terms).
    Length = 6,
    /// Learned term association: how strongly the candidate's words follow the latest turns' words
    /// in past (context → reply) pairs (positive PMI).
    Association = 7,
}

impl Feature {
    /// All features in weight order.
    pub const ALL: [Feature; FEATURES] = [
        Feature::Bm25Context,
        Feature::Bm25Latest,
        Feature::Cues,
        Feature::HistorySimilar,
        Feature::HistoryExact,
        Feature::Popularity,
        Feature::Length,
        Feature::Association,
    ];

    /// The feature with this [`Feature::name`].
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Bm25Context => "bm25_context",
            Feature::Bm25Latest => "bm25_latest",
            Feature::Cues => "cues",
            Feature::HistorySimilar => "history_similar",
            Feature::HistoryExact => "history_exact",
            Feature::Popularity => "popularity",
            Feature::Length => "length",
            Feature::Association => "association",
        }
    }
}

/// Tunable parameters. [`Params::default`] holds the weights tuned on the JD corpus (docs/SUGGESTIONS.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Weight of a context turn is `decay^age`, age 0 = the latest turn.
    pub decay: f32,
    /// BM25 k1.
    pub k1: f32,
    /// BM25 b.
    pub b: f32,
    /// Number of past conversations that vote.
    pub knn: usize,
    /// Sharpening of the neighbours' votes: a neighbour votes with `similarity^vote_power`.
    pub vote_power: f32,
    /// How many of the latest turns the association feature reads.
    pub association_turns: usize,
    /// Minimum number of past pairs a (context term, reply term) association must be seen in.
    pub association_min_count: u32,
    /// One weight per [`Feature`].
    pub weights: [f32; FEATURES],
}

impl Default for Params {
    /// Tuned by `kefu eval suggestions --tune --without popularity --without history_exact` on the
    /// JD items with ids below 9000 (their last 10% ranked against the rest); see docs/SUGGESTIONS.md.
    /// `history_exact` and `popularity` stay at 0: the JD candidates are drawn from the corpus's own
    /// replies, which makes both measure that artefact rather than relevance.
    fn default() -> Self {
        Self {
            decay: 0.85,
            k1: 1.2,
            b: 0.75,
            knn: 40,
            vote_power: 2.0,
            association_turns: 3,
            association_min_count: 3,
            weights: [0.2, 0.05, 0.2, 1.5, 0.0, 0.0, -0.2, 0.5],
        }
    }
}

impl Params {
    /// Plain BM25 of the whole context (all turns weighing the same) against each candidate: the
    /// baseline the engine is measured against.
    pub fn bm25_baseline() -> Self {
        let mut weights = [0.0; FEATURES];
        weights[Feature::Bm25Context as usize] = 1.0;
        Self {
            decay: 1.0,
            knn: 0,
            weights,
            ..Self::default()
        }
    }
}

/// A past conversation and the reply the agent gave to it.
#[derive(Debug, Clone)]
pub struct HistoryPair {
    /// An id, so that an evaluation item never learns from its own reply.
    pub id: String,
    /// Turns, oldest first.
    pub context: Vec<String>,
    /// The agent's reply.
    pub reply: String,
}

/// A candidate reply, analysed once.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Term → count, sorted by term.
    tf: Vec<(u64, f32)>,
    /// Number of terms.
    len: f32,
    /// TF-IDF, L2-normalised, sorted by term.
    tfidf: Vec<(u64, f32)>,
    /// Hash of the term sequence: identical texts up to punctuation and case share it.
    key: u64,
    cues: [f32; CUE_COUNT],
}

/// Document frequencies of the background collection (replies and context turns of the history).
#[derive(Debug, Default)]
struct Stats {
    df: Map<u64, u32>,
    docs: f32,
    total_len: f64,
}

impl Stats {
    fn add(&mut self, terms: &[u64]) {
        let mut seen: Vec<u64> = terms.to_vec();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *self.df.entry(t).or_default() += 1;
        }
        self.docs += 1.0;
        self.total_len += terms.len() as f64;
    }

    fn idf(&self, t: u64) -> f32 {
        let df = self.df.get(&t).copied().unwrap_or(0) as f32;
        (1.0 + (self.docs - df + 0.5) / (df + 0.5)).ln()
    }

    fn avg_len(&self) -> f32 {
        if self.docs > 0.0 {
            (self.total_len / self.docs as f64) as f32
        } else {
            10.0
        }
    }
}

/// The ranking engine; see the module documentation.
#[derive(Debug)]
pub struct Engine {
    analyzer: Arc<Analyzer>,
    cues: CueDetector,
    params: Params,
    stats: Stats,
    /// History contexts as normalised TF-IDF vectors, by term: term → (pair index, weight).
    postings: Map<u64, Vec<(u32, f32)>>,
    /// Per pair: its id, the reply as a candidate.
    pairs: Vec<(String, Candidate)>,
    /// Reply key → how many pairs have it.
    popularity: Map<u64, u32>,
    /// (term of the latest context turns, term of the reply) → positive PMI over the history.
    /// Stored by context term, so that a conversation expands its terms once into a map
    /// reply term → strongest association, and each candidate then costs one lookup per term.
    association: Map<u64, Vec<(u64, f32)>>,
}

/// Hasher for keys that are already well-mixed 64-bit hashes (term ids, reply keys): a multiply and a
/// rotate instead of SipHash, which dominated the ranking time of a large library. Not exposed to
/// untrusted keys in a way that matters: the keys are FNV hashes of the shop's own texts.
#[derive(Default, Clone, Copy)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;

/// FNV-1a: term ids are hashes, so candidates never seen at build time need no vocabulary.
fn term_id(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn counts(ids: &[u64]) -> Vec<(u64, f32)> {
    let mut v: Vec<u64> = ids.to_vec();
    v.sort_unstable();
    let mut out: Vec<(u64, f32)> = Vec::with_capacity(v.len());
    for t in v {
        match out.last_mut() {
            Some((last, c)) if *last == t => *c += 1.0,
            _ => out.push((t, 1.0)),
        }
    }
    out
}

fn normalise(v: &mut [(u64, f32)]) {
    let n = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|(_, w)| *w /= n);
    }
}

fn cosine(a: &[f32; CUE_COUNT], b: &[f32; CUE_COUNT]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na > 0.0 && nb > 0.0 {
        dot / (na * nb)
    } else {
        0.0
    }
}

/// The distinct terms of the `n` latest turns.
fn latest_terms(turns: &[Vec<u64>], n: usize) -> Vec<u64> {
    let mut q: Vec<u64> = turns.iter().rev().take(n).flatten().copied().collect();
    q.sort_unstable();
    q.dedup();
    q
}

/// Positive PMI of (latest-turn term, reply term) pairs seen in at least `min_count` past pairs.
fn association(
    analysed: &[(Vec<Vec<u64>>, Vec<u64>)],
    turns_read: usize,
    min_count: u32,
) -> Map<u64, Vec<(u64, f32)>> {
    let mut n_q: Map<u64, u32> = Map::default();
    let mut n_r: Map<u64, u32> = Map::default();
    let mut n_qr: Map<(u64, u64), u32> = Map::default();
    for (turns, reply) in analysed {
        let q = latest_terms(turns, turns_read);
        let mut r = reply.clone();
        r.sort_unstable();
        r.dedup();
        for &a in &q {
            *n_q.entry(a).or_default() += 1;
        }
        for &b in &r {
            *n_r.entry(b).or_default() += 1;
            for &a in &q {
                *n_qr.entry((a, b)).or_default() += 1;
            }
        }
    }
    let n = analysed.len() as f32;
    let mut out: Map<u64, Vec<(u64, f32)>> = Map::default();
    for ((a, b), c) in n_qr {
        if c < min_count {
            continue;
        }
        let pmi = (c as f32 * n / (n_q[&a] as f32 * n_r[&b] as f32)).ln();
        if pmi > 0.0 {
            out.entry(a).or_default().push((b, pmi));
        }
    }
    out
}

/// Mean (over the square root of the count) of the candidate's terms' strongest association.
fn associated(expanded: &Map<u64, f32>, c: &Candidate) -> f32 {
    if expanded.is_empty() || c.tf.is_empty() {
        return 0.0;
    }
    let sum: f32 = c.tf.iter().filter_map(|(r, _)| expanded.get(r)).sum();
    sum / (c.tf.len() as f32).sqrt()
}

impl Engine {
    /// Builds the engine from past (context → reply) pairs. Document frequencies come from the pairs'
    /// replies and context turns plus `background` texts (e.g. the script library itself; pass the
    /// candidates when there is no history).
    pub fn build<'a>(
        analyzer: Arc<Analyzer>,
        history: Vec<HistoryPair>,
        background: impl IntoIterator<Item = &'a str>,
        params: Params,
    ) -> Self {
        let mut stats = Stats::default();
        let ids = |t: &str| {
            analyzer
                .terms(t)
                .iter()
                .map(|s| term_id(s))
                .collect::<Vec<u64>>()
        };
        let mut analysed = Vec::with_capacity(history.len());
        for p in &history {
            let turns: Vec<Vec<u64>> = p.context.iter().map(|t| ids(t)).collect();
            let reply = ids(&p.reply);
            for t in &turns {
                stats.add(t);
            }
            stats.add(&reply);
            analysed.push((turns, reply));
        }
        for text in background {
            stats.add(&ids(text));
        }
        let mut engine = Self {
            cues: CueDetector::new(),
            params,
            stats,
            postings: Map::default(),
            pairs: Vec::with_capacity(history.len()),
            popularity: Map::default(),
            association: Map::default(),
            analyzer: analyzer.clone(),
        };
        engine.association = association(
            &analysed,
            engine.params.association_turns,
            engine.params.association_min_count,
        );
        for (i, (p, (turns, reply))) in history.into_iter().zip(analysed).enumerate() {
            for (t, w) in engine.context_vector(&turns) {
                engine.postings.entry(t).or_default().push((i as u32, w));
            }
            let cand = engine.candidate_from(&p.reply, reply);
            *engine.popularity.entry(cand.key).or_default() += 1;
            engine.pairs.push((p.id, cand));
        }
        engine
    }

    /// The parameters in use.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Replaces the parameters (weights can change without rebuilding; `decay` applies to history
    /// contexts indexed from now on only, so a tuner rebuilds when it changes `decay`).
    pub fn set_params(&mut self, params: Params) {
        self.params = params;
    }

    /// The analyzer.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Number of history pairs.
    pub fn history_len(&self) -> usize {
        self.pairs.len()
    }

    /// Analyses a candidate reply once for many rankings.
    pub fn prepare(&self, text: &str) -> Candidate {
        let ids: Vec<u64> = self
            .analyzer
            .terms(text)
            .iter()
            .map(|s| term_id(s))
            .collect();
        self.candidate_from(text, ids)
    }

    fn candidate_from(&self, text: &str, ids: Vec<u64>) -> Candidate {
        let tf = counts(&ids);
        let mut tfidf: Vec<(u64, f32)> = tf
            .iter()
            .map(|&(t, c)| (t, (1.0 + c.ln()) * self.stats.idf(t)))
            .collect();
        normalise(&mut tfidf);
        let key = ids.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, t| {
            (h ^ t).wrapping_mul(0x0100_0000_01b3)
        });
        Candidate {
            len: ids.len() as f32,
            tf,
            tfidf,
            key,
            cues: self.cues.cue_vector(text),
        }
    }

    /// Recency-weighted TF-IDF vector of a context (normalised, sorted by term).
    fn context_vector(&self, turns: &[Vec<u64>]) -> Vec<(u64, f32)> {
        let mut acc: Map<u64, f32> = Map::default();
        for (age, turn) in turns.iter().rev().enumerate() {
            let w = self.params.decay.powi(age as i32);
            if w < 0.01 {
                break;
            }
            for &t in turn {
                *acc.entry(t).or_default() += w;
            }
        }
        let mut v: Vec<(u64, f32)> = acc
            .into_iter()
            .map(|(t, w)| (t, (1.0 + w).ln() * self.stats.idf(t)))
            .collect();
        v.sort_unstable_by_key(|&(t, _)| t);
        normalise(&mut v);
        v
    }

    fn bm25(&self, query: &Map<u64, f32>, c: &Candidate) -> f32 {
        let Params { k1, b, .. } = self.params;
        let norm = k1 * (1.0 - b + b * c.len / self.stats.avg_len());
        c.tf.iter()
            .filter_map(|&(t, tf)| {
                query
                    .get(&t)
                    .map(|qw| qw * self.stats.idf(t) * tf * (k1 + 1.0) / (tf + norm))
            })
            .sum()
    }

    /// Feature vectors of `candidates` for the conversation `context` (oldest turn first). History pairs
    /// whose id is `exclude` are ignored (an evaluation item must not see its own reply).
    pub fn features(
        &self,
        context: &[String],
        candidates: &[Candidate],
        exclude: Option<&str>,
    ) -> Vec<[f32; FEATURES]> {
        let turns: Vec<Vec<u64>> = context
            .iter()
            .map(|t| self.analyzer.terms(t).iter().map(|s| term_id(s)).collect())
            .collect();

        // queries: recency-weighted context, latest turn
        let mut q_ctx: Map<u64, f32> = Map::default();
        let mut ctx_cues = [0f32; CUE_COUNT];
        for (age, (turn, text)) in turns.iter().zip(context).rev().enumerate() {
            let w = self.params.decay.powi(age as i32);
            for &t in turn {
                *q_ctx.entry(t).or_default() += w;
            }
            if w >= 0.05 {
                let cv = self.cues.cue_vector(text);
                ctx_cues.iter_mut().zip(cv).for_each(|(a, b)| *a += w * b);
            }
        }
        let mut q_last: Map<u64, f32> = Map::default();
        if let Some(last) = turns.last() {
            for &t in last {
                *q_last.entry(t).or_default() += 1.0;
            }
        }

        // reply term → its strongest association with a term of the latest turns
        let mut expanded: Map<u64, f32> = Map::default();
        if self.params.weights[Feature::Association as usize] != 0.0 {
            for q in latest_terms(&turns, self.params.association_turns) {
                for &(r, pmi) in self.association.get(&q).map_or(&[][..], Vec::as_slice) {
                    let e = expanded.entry(r).or_default();
                    *e = e.max(pmi);
                }
            }
        }
        // history: neighbours by context similarity, then the summed vector of their replies
        let (reply_vec, exact) = self.neighbour_votes(&turns, exclude);

        let mut out: Vec<[f32; FEATURES]> = candidates
            .iter()
            .map(|c| {
                let mut f = [0f32; FEATURES];
                f[Feature::Bm25Context as usize] = self.bm25(&q_ctx, c);
                f[Feature::Bm25Latest as usize] = self.bm25(&q_last, c);
                f[Feature::Cues as usize] = cosine(&ctx_cues, &c.cues);
                f[Feature::HistorySimilar as usize] = c
                    .tfidf
                    .iter()
                    .filter_map(|(t, w)| reply_vec.get(t).map(|r| r * w))
                    .sum();
                f[Feature::HistoryExact as usize] = exact.get(&c.key).copied().unwrap_or(0.0);
                f[Feature::Popularity as usize] =
                    (1.0 + self.popularity.get(&c.key).copied().unwrap_or(0) as f32).ln();
                f[Feature::Length as usize] = (1.0 + c.len).ln();
                f[Feature::Association as usize] = associated(&expanded, c);
                f
            })
            .collect();
        // scale-free BM25: divide by the best candidate's score
        for k in [
            Feature::Bm25Context as usize,
            Feature::Bm25Latest as usize,
            Feature::Association as usize,
        ] {
            let max = out.iter().map(|f| f[k]).fold(0.0, f32::max);
            if max > 0.0 {
                out.iter_mut().for_each(|f| f[k] /= max);
            }
        }
        out
    }

    /// (summed TF-IDF vector of the neighbours' replies, reply key → summed vote), votes normalised to 1.
    fn neighbour_votes(
        &self,
        turns: &[Vec<u64>],
        exclude: Option<&str>,
    ) -> (Map<u64, f32>, Map<u64, f32>) {
        let mut reply_vec = Map::default();
        let mut exact = Map::default();
        if self.pairs.is_empty() || self.params.knn == 0 {
            return (reply_vec, exact);
        }
        let q = self.context_vector(turns);
        // dense accumulator: one f32 per past conversation beats a hash map by far
        let mut scores = vec![0f32; self.pairs.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (t, w) in &q {
            if let Some(list) = self.postings.get(t) {
                for &(i, hw) in list {
                    let s = &mut scores[i as usize];
                    if *s == 0.0 {
                        touched.push(i);
                    }
                    *s += w * hw;
                }
            }
        }
        let mut top: Vec<(u32, f32)> = touched
            .into_iter()
            .filter(|&i| exclude.is_none_or(|x| self.pairs[i as usize].0 != x))
            .map(|i| (i, scores[i as usize]))
            .collect();
        let k = self.params.knn.min(top.len());
        if k == 0 {
            return (reply_vec, exact);
        }
        top.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        top.truncate(k);
        let votes: Vec<(u32, f32)> = top
            .into_iter()
            .map(|(i, s)| (i, s.max(0.0).powf(self.params.vote_power)))
            .collect();
        let total: f32 = votes.iter().map(|v| v.1).sum();
        if total <= 0.0 {
            return (reply_vec, exact);
        }
        for (i, v) in votes {
            let reply = &self.pairs[i as usize].1;
            let v = v / total;
            for &(t, w) in &reply.tfidf {
                *reply_vec.entry(t).or_default() += v * w;
            }
            *exact.entry(reply.key).or_default() += v;
        }
        (reply_vec, exact)
    }

    /// The score of each feature vector under the current weights.
    pub fn score(&self, f: &[f32; FEATURES]) -> f32 {
        f.iter().zip(&self.params.weights).map(|(x, w)| x * w).sum()
    }

    /// Candidate indices, best first, with their scores. Ties keep the candidates' order.
    pub fn rank(
        &self,
        context: &[String],
        candidates: &[Candidate],
        exclude: Option<&str>,
    ) -> Vec<(usize, f32)> {
        let mut scored: Vec<(usize, f32)> = self
            .features(context, candidates, exclude)
            .iter()
            .map(|f| self.score(f))
            .enumerate()
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn analyzer() -> Arc<Analyzer> {
        static A: OnceLock<Arc<Analyzer>> = OnceLock::new();
        A.get_or_init(|| Arc::new(Analyzer::new())).clone()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const SCRIPTS: &[&str] = &[
        "亲，本店满99元包邮，偏远地区需补运费哦",
        "我们的商品都是正品，支持专柜验货，质量有保障",
        "收到商品有任何问题，七天无理由退货，退款会原路返回",
        "由于拍摄光线不同，实物和图片可能有轻微色差，请以实物为准",
        "您好，欢迎光临，有什么可以帮您的？",
    ];

    #[test]
    fn bm25_and_cues_pick_the_right_script() {
        let e = Engine::build(
            analyzer(),
            vec![],
            SCRIPTS.iter().copied(),
            Params::default(),
        );
        let c: Vec<Candidate> = SCRIPTS.iter().map(|t| e.prepare(t)).collect();
        let cases = [
            ("我想退货怎么办", 2),
            ("包邮吗？运费多少", 0),
            ("是正品吗", 1),
            ("颜色和图片差别大吗", 3),
            ("在吗", 4),
        ];
        for (q, want) in cases {
            let r = e.rank(&s(&[q]), &c, None);
            assert_eq!(r[0].0, want, "{q}: {r:?}");
        }
    }

    #[test]
    fn latest_turn_matters_most() {
        let e = Engine::build(
            analyzer(),
            vec![],
            SCRIPTS.iter().copied(),
            Params::default(),
        );
        let c: Vec<Candidate> = SCRIPTS.iter().map(|t| e.prepare(t)).collect();
        let r = e.rank(
            &s(&["运费多少", "好的", "那质量怎么样，是正品吗"]),
            &c,
            None,
        );
        assert_eq!(r[0].0, 1, "{r:?}");
    }

    #[test]
    fn history_votes_for_what_agents_said_and_excludes_the_item_itself() {
        let history = vec![
            HistoryPair {
                id: "a".into(),
                context: s(&["发票怎么开"]),
                reply: "订单完成后在订单详情里申请电子发票".into(),
            },
            HistoryPair {
                id: "b".into(),
                context: s(&["发票怎么开呢"]),
                reply: "订单完成后在订单详情里申请电子发票".into(),
            },
        ];
        let e = Engine::build(
            analyzer(),
            history,
            SCRIPTS.iter().copied(),
            Params::default(),
        );
        let mut texts: Vec<&str> = SCRIPTS.to_vec();
        texts.push("订单完成后在订单详情里申请电子发票");
        let c: Vec<Candidate> = texts.iter().map(|t| e.prepare(t)).collect();
        let f = e.features(&s(&["请问发票怎么开"]), &c, None);
        assert!(f[5][Feature::HistoryExact as usize] > 0.9, "{f:?}");
        // without the two pairs' own votes nothing is left
        let f = e.features(&s(&["发票怎么开"]), &c, Some("a"));
        assert!(f[5][Feature::HistoryExact as usize] > 0.0);
        let only_a = Engine::build(
            analyzer(),
            vec![HistoryPair {
                id: "a".into(),
                context: s(&["发票怎么开"]),
                reply: "x".into(),
            }],
            [],
            Params::default(),
        );
        let c2 = vec![only_a.prepare("x")];
        assert_eq!(
            only_a.features(&s(&["发票怎么开"]), &c2, Some("a"))[0][Feature::HistoryExact as usize],
            0.0
        );
    }
}
