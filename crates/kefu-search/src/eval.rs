//! Offline evaluation of the ranking engine on items `{"id", "context", "candidates", "answer"}`
//! (JSON lines): recall at 1/3/5, MRR, time per item, weight tuning and feature ablation.
//!
//! Leakage rule: an item is never ranked with the help of its own real reply. When the history file
//! and the evaluated file share items (same id), the item's own pair is excluded from the neighbours
//! while it is ranked ([`Engine::features`]'s `exclude`).

use crate::rank::{Candidate, Engine, FEATURES, Feature, HistoryPair};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

/// An evaluation item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// Unique id.
    pub id: String,
    /// Turns, oldest first.
    pub context: Vec<String>,
    /// Candidate replies.
    pub candidates: Vec<String>,
    /// Index of the real reply in `candidates`.
    pub answer: usize,
}

/// Errors of reading an item file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a valid item.
    #[error("{path}:{line}: {message}")]
    Item {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads a JSON-lines item file (blank lines are skipped).
pub fn read_items(path: &Path) -> Result<Vec<Item>, EvalError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| EvalError::Io {
        path: p.clone(),
        source,
    })?;
    let mut items = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| EvalError::Io {
            path: p.clone(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let item: Item = serde_json::from_str(&line).map_err(|e| EvalError::Item {
            path: p.clone(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if item.answer >= item.candidates.len() {
            return Err(EvalError::Item {
                path: p,
                line: i + 1,
                message: "answer is not a candidate index".into(),
            });
        }
        items.push(item);
    }
    Ok(items)
}

/// The items as history: each item's real reply is the agent's answer to its context.
pub fn history_pairs(items: &[Item]) -> Vec<HistoryPair> {
    items
        .iter()
        .map(|i| HistoryPair {
            id: i.id.clone(),
            context: i.context.clone(),
            reply: i.candidates[i.answer].clone(),
        })
        .collect()
}

/// The numeric suffix of an id (`jddc-train-9001` → 9001).
pub fn id_number(id: &str) -> Option<u64> {
    let digits: String = id
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Ranking quality over a set of items.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    /// Number of items.
    pub items: usize,
    /// Share of items whose real reply is ranked first.
    pub r1: f64,
    /// … within the top 3.
    pub r3: f64,
    /// … within the top 5.
    pub r5: f64,
    /// Mean reciprocal rank of the real reply.
    pub mrr: f64,
    /// Mean wall time per item to analyse its candidates, in microseconds.
    pub prepare_micros: f64,
    /// Mean wall time per item to rank its (analysed) candidates for its context, in microseconds.
    pub rank_micros: f64,
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "items={} R@1={:.4} R@3={:.4} R@5={:.4} MRR={:.4}",
            self.items, self.r1, self.r3, self.r5, self.mrr
        )
    }
}

/// The features of every candidate of every item, with the answer index: enough to score any weights
/// without running the engine again.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    rows: Vec<(Vec<[f32; FEATURES]>, usize)>,
    prepare_micros: f64,
    rank_micros: f64,
}

impl FeatureTable {
    /// Computes the table, timing separately the analysis of the candidates (done once per script
    /// library in the product) and the ranking work proper (analysing the conversation, neighbours,
    /// features).
    pub fn compute(engine: &Engine, items: &[Item]) -> Self {
        let mut prepare = Duration::ZERO;
        let mut rank = Duration::ZERO;
        let rows = items
            .iter()
            .map(|item| {
                let t = Instant::now();
                let cands: Vec<Candidate> =
                    item.candidates.iter().map(|c| engine.prepare(c)).collect();
                prepare += t.elapsed();
                let t = Instant::now();
                let f = engine.features(&item.context, &cands, Some(&item.id));
                rank += t.elapsed();
                (f, item.answer)
            })
            .collect::<Vec<_>>();
        let n = items.len().max(1) as f64;
        Self {
            rows,
            prepare_micros: prepare.as_secs_f64() * 1e6 / n,
            rank_micros: rank.as_secs_f64() * 1e6 / n,
        }
    }

    /// Metrics under `weights`.
    pub fn metrics(&self, weights: &[f32; FEATURES]) -> Metrics {
        let mut m = Metrics {
            items: self.rows.len(),
            prepare_micros: self.prepare_micros,
            rank_micros: self.rank_micros,
            ..Metrics::default()
        };
        for (feats, answer) in &self.rows {
            let scores: Vec<f32> = feats
                .iter()
                .map(|f| f.iter().zip(weights).map(|(x, w)| x * w).sum())
                .collect();
            let mine = scores[*answer];
            // ties count against the answer for candidates before it (the engine's stable order)
            let rank = 1 + scores
                .iter()
                .enumerate()
                .filter(|&(i, &s)| s > mine || (s == mine && i < *answer))
                .count();
            m.r1 += f64::from(u8::from(rank <= 1));
            m.r3 += f64::from(u8::from(rank <= 3));
            m.r5 += f64::from(u8::from(rank <= 5));
            m.mrr += 1.0 / rank as f64;
        }
        let n = self.rows.len().max(1) as f64;
        m.r1 /= n;
        m.r3 /= n;
        m.r5 /= n;
        m.mrr /= n;
        m
    }

    /// Coordinate ascent on MRR from `start`: each weight in turn takes the best of a grid, three rounds.
    /// Features in `fixed` keep their start weight.
    pub fn tune(&self, start: [f32; FEATURES], fixed: &[Feature]) -> [f32; FEATURES] {
        const GRID: &[f32] = &[
            -1.0, -0.5, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0,
        ];
        let mut w = start;
        let mut best = self.metrics(&w).mrr;
        for _ in 0..3 {
            let mut improved = false;
            for k in 0..FEATURES {
                if fixed.iter().any(|f| *f as usize == k) {
                    continue;
                }
                for &g in GRID {
                    let mut t = w;
                    t[k] = g;
                    let m = self.metrics(&t).mrr;
                    if m > best + 1e-9 {
                        best = m;
                        w = t;
                        improved = true;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        w
    }

    /// Metrics with each feature's weight set to zero in turn.
    pub fn ablation(&self, weights: &[f32; FEATURES]) -> Vec<(Feature, Metrics)> {
        Feature::ALL
            .iter()
            .map(|&f| {
                let mut w = *weights;
                w[f as usize] = 0.0;
                (f, self.metrics(&w))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        assert_eq!(id_number("jddc-train-9001"), Some(9001));
        assert_eq!(id_number("x"), None);
    }

    #[test]
    fn metrics_count_ranks() {
        let t = FeatureTable {
            rows: vec![
                (vec![[1.0, 0., 0., 0., 0., 0., 0., 0.], [0.0; FEATURES]], 0),
                (vec![[1.0, 0., 0., 0., 0., 0., 0., 0.], [0.0; FEATURES]], 1),
            ],
            prepare_micros: 0.0,
            rank_micros: 0.0,
        };
        let m = t.metrics(&[1.0, 0., 0., 0., 0., 0., 0., 0.]);
        assert_eq!(m.items, 2);
        assert!((m.r1 - 0.5).abs() < 1e-9);
        assert!((m.mrr - 0.75).abs() < 1e-9);
    }
}
