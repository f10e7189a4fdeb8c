//! `kefu eval suggestions`: measures the reply-ranking engine (kefu-search) on JSON-lines items and
//! prints R@1/R@3/R@5/MRR next to the plain BM25 baseline computed by the same code on the same items.

use anyhow::{Context, Result, bail};
use kefu_search::eval::{FeatureTable, Item, history_pairs, id_number, read_items};
use kefu_search::{Analyzer, Engine, Feature, Params};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Options of `kefu eval suggestions`.
#[derive(clap::Args)]
pub struct SuggestionsArgs {
    /// Items to rank: JSON lines {"id","context":[…],"candidates":[…],"answer":i}.
    pub file: PathBuf,
    /// Past conversations in the same format; each item's real reply is the agent's answer to its
    /// context. An item of FILE never sees a history item with its own id.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Items of FILE whose id ends in a number below N become history; only the others are ranked.
    #[arg(long, value_name = "N")]
    pub split_at: Option<u64>,
    /// Rank only the first N items (after the split).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Tune the weights first on the history alone (its last 10% ranked against the other 90%),
    /// print them, and use them.
    #[arg(long)]
    pub tune: bool,
    /// Also print the figures with each feature switched off.
    #[arg(long)]
    pub ablation: bool,
    /// Switch a feature off (weight 0, also while tuning); repeatable. Names: bm25_context,
    /// bm25_latest, cues, history_similar, history_exact, popularity, length,
    /// association.
    #[arg(long, value_name = "FEATURE")]
    pub without: Vec<String>,
    /// Start from these parameters instead of the defaults: JSON, missing fields keep their default,
    /// e.g. '{"decay":0.7,"knn":20}'.
    #[arg(long, value_name = "JSON")]
    pub params: Option<String>,
}

/// Runs the evaluation and prints the figures.
pub fn suggestions(args: SuggestionsArgs) -> Result<()> {
    let mut items = read_items(&args.file)?;
    let mut history: Vec<Item> = match &args.history {
        Some(path) => read_items(path)?,
        None => Vec::new(),
    };
    if let Some(n) = args.split_at {
        let (past, rest): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|i| id_number(&i.id).is_some_and(|k| k < n));
        history.extend(past);
        items = rest;
    }
    if let Some(limit) = args.limit {
        items.truncate(limit);
    }
    if items.is_empty() {
        bail!("no items to rank");
    }
    let started = Instant::now();
    let analyzer = Arc::new(Analyzer::new());
    println!("analyzer ready in {:.2?}", started.elapsed());

    let mut off = Vec::new();
    for name in &args.without {
        match Feature::from_name(name) {
            Some(f) => off.push(f),
            None => bail!("unknown feature '{name}'"),
        }
    }
    let mut params = match &args.params {
        Some(json) => serde_json::from_str(json).context("--params")?,
        None => Params::default(),
    };
    for f in &off {
        params.weights[*f as usize] = 0.0;
    }
    if args.tune {
        params = tune(&analyzer, &history, params, &off);
    }
    println!("weights: {:?}", params.weights);

    let built = Instant::now();
    // Document frequencies: the history, plus the ranked items' candidates (the stand-in script
    // library; no labels) when there is no history.
    let background: Vec<&str> = if history.is_empty() {
        items
            .iter()
            .flat_map(|i| i.candidates.iter().map(String::as_str))
            .collect()
    } else {
        Vec::new()
    };
    let engine = Engine::build(
        analyzer.clone(),
        history_pairs(&history),
        background.clone(),
        params.clone(),
    );
    println!(
        "engine built from {} history pairs in {:.2?}",
        engine.history_len(),
        built.elapsed()
    );

    // Same document frequencies (built from the same texts), no history votes, all turns equal.
    let baseline_engine = Engine::build(
        analyzer,
        history_pairs(&history),
        background,
        Params::bm25_baseline(),
    );
    let baseline = FeatureTable::compute(&baseline_engine, &items);
    let b = baseline.metrics(&Params::bm25_baseline().weights);
    println!("bm25 baseline: {b}");

    let table = FeatureTable::compute(&engine, &items);
    let m = table.metrics(&params.weights);
    println!("kefu:          {m}");
    println!(
        "time per item (wall): analyse its candidates {:.0} µs, rank them {:.0} µs (baseline: {:.0} µs)",
        m.prepare_micros, m.rank_micros, b.rank_micros
    );

    if args.ablation {
        for (feature, m) in table.ablation(&params.weights) {
            println!("  without {:<16} {m}", feature.name());
        }
        for feature in Feature::ALL {
            let mut w = [0.0; kefu_search::rank::FEATURES];
            w[feature as usize] = 1.0;
            println!("  only    {:<16} {}", feature.name(), table.metrics(&w));
        }
    }
    Ok(())
}

/// Tunes `decay` and the weights on the history alone: its last 10% are ranked with the first 90% as
/// history. The evaluated items play no part.
fn tune(analyzer: &Arc<Analyzer>, history: &[Item], start: Params, fixed: &[Feature]) -> Params {
    if history.len() < 20 {
        println!("tune: history too small, keeping the default weights");
        return start;
    }
    let cut = history.len() - history.len() / 10;
    let (past, held) = history.split_at(cut);
    let mut best = (f64::MIN, start.clone());
    for decay in [0.6, 0.7, 0.85] {
        for knn in [20, 40] {
            for association_turns in [2, 3, 4] {
                let p = Params {
                    decay,
                    knn,
                    association_turns,
                    ..start.clone()
                };
                let engine = Engine::build(
                    analyzer.clone(),
                    history_pairs(past),
                    Vec::<&str>::new(),
                    p.clone(),
                );
                let table = FeatureTable::compute(&engine, held);
                let weights = table.tune(p.weights, fixed);
                let m = table.metrics(&weights);
                println!(
                    "tune: decay={decay} knn={knn} association_turns={association_turns} → {m}"
                );
                if m.mrr > best.0 {
                    best = (m.mrr, Params { weights, ..p });
                }
            }
        }
    }
    let p = best.1;
    println!(
        "tuned params: {}",
        serde_json::to_string(&p).unwrap_or_default()
    );
    p
}
