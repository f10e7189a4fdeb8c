//! `suggest`: the cost of ranking a shop's script library for a conversation, measured with the
//! server's own code ([`kefu_http::suggest::Prepared`], what the suggestion worker and
//! `GET /api/v1/conversations/{id}/suggestions` call) on real service dialogues.
//!
//! The engine history is built from the research dialogues in `../shared/data` (read from there,
//! never copied): every JDDC item (context → the agent's real reply) plus the raw JDDC chat sample
//! turned into exchanges by the same rule the store's history goes through
//! ([`kefu_core::suggestions::exchanges`]), capped at the server's default of 20,000 pairs. Two
//! libraries are ranked: the default script library a new shop gets, and that library plus
//! thousands of distinct agent replies from the corpus (a large shop's library; a share of them
//! personal, so the owner filter runs too). Conversations are the corpus's contexts (their last
//! [`CONTEXT_TURNS`] turns, as the server reads them).

use crate::percentiles;
use anyhow::{Context, Result, bail};
use clap::Args;
use kefu_core::suggestions::{CONTEXT_TURNS, PastExchange, PastTurn, exchanges};
use kefu_http::suggest::{Prepared, ScriptEntry, SuggestConfig};
use kefu_search::Analyzer;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Clone)]
pub struct SuggestArgs {
    /// The research data directory (jddc_train.jsonl, jddc_chats_sample.tsv).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Scripts in the large library (the default library plus corpus replies).
    #[arg(long, default_value_t = 5000)]
    large_library: usize,
    /// Conversations ranked per library.
    #[arg(long, default_value_t = 2000)]
    conversations: usize,
}

/// One measured configuration.
fn measure(name: &str, prepared: &Prepared, contexts: &[Vec<String>]) {
    // warm-up: the first rankings touch cold caches
    for c in contexts.iter().take(50) {
        std::hint::black_box(prepared.rank(c, None));
    }
    let mut all = Vec::with_capacity(contexts.len());
    let mut viewer = Vec::with_capacity(contexts.len());
    for (i, c) in contexts.iter().enumerate() {
        let t = Instant::now();
        std::hint::black_box(prepared.rank(c, None));
        all.push(t.elapsed().as_micros() as u32);
        let t = Instant::now();
        std::hint::black_box(prepared.rank(c, Some((i % 5) as i64 + 1)));
        viewer.push(t.elapsed().as_micros() as u32);
    }
    let a = percentiles(&mut all);
    let v = percentiles(&mut viewer);
    println!(
        "{name}: {} scripts, {} history pairs, {} conversations\n  event (all agents): p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n  one agent (GET):    p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        prepared.scripts_len(),
        prepared.history_len(),
        contexts.len(),
        a.p50_ms,
        a.p95_ms,
        a.p99_ms,
        a.max_ms,
        v.p50_ms,
        v.p95_ms,
        v.p99_ms,
        v.max_ms,
    );
}

fn read_chat_sample(path: &std::path::Path) -> Result<Vec<PastTurn>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut sessions: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut turns = Vec::new();
    for (seq, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 7 {
            continue;
        }
        let next = sessions.len() as i64 + 1;
        let conversation_id = *sessions.entry(cols[0].to_owned()).or_insert(next);
        turns.push(PastTurn {
            conversation_id,
            seq: seq as i64,
            from_customer: cols[2] == "0",
            body: cols[6].to_owned(),
        });
    }
    Ok(turns)
}

pub fn run(args: SuggestArgs) -> Result<()> {
    let items_path = args.data.join("jddc_train.jsonl");
    if !items_path.exists() {
        bail!(
            "{} not found: pass --data pointing at the research data directory",
            items_path.display()
        );
    }
    let items = kefu_search::eval::read_items(&items_path)?;
    let sample = read_chat_sample(&args.data.join("jddc_chats_sample.tsv"))?;

    let mut history: Vec<PastExchange> = items
        .iter()
        .map(|it| PastExchange {
            conversation_id: 0,
            context: it.context.clone(),
            reply: it.candidates[it.answer].clone(),
        })
        .collect();
    history.extend(exchanges(sample));
    history.truncate(SuggestConfig::default().history_pairs);

    let t = Instant::now();
    let analyzer = Arc::new(Analyzer::new());
    println!(
        "analyzer (jieba dictionary) loaded in {} ms",
        t.elapsed().as_millis()
    );

    let default_library: Vec<ScriptEntry> = kefu_core::scripts::default_library()
        .into_iter()
        .flat_map(|c| {
            let category = c.name;
            c.scripts.into_iter().map(move |s| (category.clone(), s))
        })
        .enumerate()
        .map(|(i, (category, s))| ScriptEntry {
            id: i as i64 + 1,
            owner_id: None,
            title: s.title,
            body: s.body,
            category,
        })
        .collect();
    let mut large = default_library.clone();
    let mut seen: HashSet<&str> = HashSet::new();
    for it in &items {
        if large.len() >= args.large_library {
            break;
        }
        let reply = it.candidates[it.answer].as_str();
        if reply.chars().count() < 6 || !seen.insert(reply) {
            continue;
        }
        let n = large.len() as i64 + 1;
        large.push(ScriptEntry {
            id: n,
            // one in ten personal, spread over five agents
            owner_id: (n % 10 == 0).then_some(n % 5 + 1),
            title: reply.chars().take(12).collect(),
            body: reply.to_owned(),
            category: String::new(),
        });
    }

    let contexts: Vec<Vec<String>> = items
        .iter()
        .rev()
        .take(args.conversations)
        .map(|it| {
            let from = it.context.len().saturating_sub(CONTEXT_TURNS);
            it.context[from..].to_vec()
        })
        .collect();

    let t = Instant::now();
    let small = Prepared::build(analyzer.clone(), history.clone(), default_library);
    println!(
        "engine + default library built in {} ms ({} history pairs)",
        t.elapsed().as_millis(),
        small.history_len()
    );
    measure("default library", &small, &contexts);
    drop(small);

    let t = Instant::now();
    let big = Prepared::build(analyzer, history, large);
    println!(
        "engine + large library built in {} ms",
        t.elapsed().as_millis()
    );
    measure("large library", &big, &contexts);
    Ok(())
}
