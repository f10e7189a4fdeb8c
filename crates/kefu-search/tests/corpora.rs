//! Checks on the real dialogue corpora in `../shared/data/` (see its README). They are research data
//! kept outside the repository: every test here skips, with a note, when the files are absent.

use kefu_search::eval::{FeatureTable, Item, history_pairs, id_number, read_items};
use kefu_search::{Analyzer, Candidate, Engine, Params};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn corpus(name: &str) -> Option<Vec<Item>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    if !path.exists() {
        eprintln!("skipped: {} is absent", path.display());
        return None;
    }
    Some(read_items(&path).expect("corpus parses"))
}

/// A small honest split (history ids < 3000, ranked ids 9000..9300) so that it runs in a debug build:
/// the engine must beat plain BM25 computed on the same items.
#[test]
fn jddc_engine_beats_bm25_on_a_held_out_split() {
    let Some(items) = corpus("jddc_train.jsonl") else {
        return;
    };
    let num = |i: &Item| id_number(&i.id).unwrap_or(0);
    let history: Vec<Item> = items.iter().filter(|i| num(i) < 3000).cloned().collect();
    let ranked: Vec<Item> = items
        .iter()
        .filter(|i| (9000..9300).contains(&num(i)))
        .cloned()
        .collect();
    let analyzer = Arc::new(Analyzer::new());
    let engine = Engine::build(
        analyzer.clone(),
        history_pairs(&history),
        [],
        Params::default(),
    );
    let baseline = Engine::build(
        analyzer,
        history_pairs(&history),
        [],
        Params::bm25_baseline(),
    );
    let k = FeatureTable::compute(&engine, &ranked).metrics(&Params::default().weights);
    let b = FeatureTable::compute(&baseline, &ranked).metrics(&Params::bm25_baseline().weights);
    println!("bm25 {b}\nkefu {k}");
    assert!(k.mrr > b.mrr + 0.02, "kefu {k} vs bm25 {b}");
    assert!(k.r3 > b.r3, "kefu {k} vs bm25 {b}");
}

/// Latency against a library of thousands of scripts: every distinct JD reply of ids < 9000 (≈7,000
/// texts) is one script; 200 conversations of ids ≥ 9000 are ranked against all of them.
/// Run in release: `cargo test --release -p kefu-search --test corpora -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn ranking_a_large_library_is_fast() {
    let Some(items) = corpus("jddc_train.jsonl") else {
        return;
    };
    let (history, rest): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|i| id_number(&i.id).is_some_and(|n| n < 9000));
    let analyzer = Arc::new(Analyzer::new());
    let engine = Engine::build(analyzer, history_pairs(&history), [], Params::default());
    let mut texts: Vec<&str> = history
        .iter()
        .map(|i| i.candidates[i.answer].as_str())
        .collect();
    texts.sort_unstable();
    texts.dedup();
    let t = Instant::now();
    let library: Vec<Candidate> = texts.iter().map(|t| engine.prepare(t)).collect();
    println!("prepared {} scripts in {:.2?}", library.len(), t.elapsed());
    let mut times: Vec<f64> = rest
        .iter()
        .take(200)
        .map(|item| {
            let t = Instant::now();
            let ranked = engine.rank(&item.context, &library, None);
            assert_eq!(ranked.len(), library.len());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "rank against {} scripts: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        library.len(),
        p(0.5),
        p(0.95),
        p(1.0)
    );
}
