//! `kefu-bench search`: the full-text index at scale, without HTTP or a database.
//!
//! 1. Reads real service utterances from the research corpus (`jddc_train.jsonl`: every context turn
//!    and candidate reply) at run time — the text never enters the repository.
//! 2. Builds N messages from them (cycling through the utterances), spread over shops and
//!    conversations of 10 messages, plus a conversation document per conversation (random status and
//!    assignee among 20 agents) and a customer per conversation with a phone number.
//! 3. Indexes them into an on-disk index the way the server's indexer does (pages of 2,000, one
//!    commit each; `--upsert` uses the live path, delete-by-key + add) and reports messages/s.
//! 4. Runs a query mix through `SearchIndex::search` (all kinds, limit 10, snippets included — what
//!    the console's search box asks) and reports p50/p95/p99.

use crate::percentiles;
use anyhow::{Context, Result};
use clap::Args;
use kefu_search::Analyzer;
use kefu_search::index::{
    ConversationDoc, CustomerDoc, DocKind, MessageDoc, Op, SearchIndex, SearchQuery, Viewer,
};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args)]
pub struct SearchArgs {
    /// The eval-item corpus whose turns and replies become message bodies.
    #[arg(long, default_value = "../shared/data/jddc_train.jsonl")]
    corpus: PathBuf,
    /// Messages to index.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Shops the messages are spread over (every query is filtered by one shop).
    #[arg(long, default_value_t = 10)]
    shops: i64,
    /// Queries to time.
    #[arg(long, default_value_t = 2000)]
    queries: usize,
    /// Where the index is written (emptied first). Default: a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Index through the live path (delete by key + add, as for changed rows) instead of the
    /// fill path (add only, as when rebuilding).
    #[arg(long)]
    upsert: bool,
}

/// A tiny deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn utterances(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (see ../shared/data/README.md)",
            path.display()
        )
    })?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let turns = v["context"].as_array().into_iter().flatten();
        let cands = v["candidates"].as_array().into_iter().flatten();
        for t in turns.chain(cands).filter_map(|t| t.as_str()) {
            let t = t.trim();
            if !t.is_empty() && seen.insert(t.to_owned()) {
                out.push(t.to_owned());
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no utterances in {}", path.display());
    Ok(out)
}

const STATUSES: [&str; 3] = ["open", "pending", "resolved"];
const PAGE: usize = 2000;

pub fn run(args: SearchArgs) -> Result<()> {
    let t0 = Instant::now();
    let texts = utterances(&args.corpus)?;
    println!(
        "corpus: {} distinct utterances from {} ({:.1} s)",
        texts.len(),
        args.corpus.display(),
        t0.elapsed().as_secs_f64()
    );
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("kefu-bench-search-{}", std::process::id()));
            tmp.clone()
        }
    };
    let analyzer = Arc::new(Analyzer::new());
    let ix = SearchIndex::create_fresh(&dir, analyzer.clone())?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let per_conv = 10usize;
    let conversations = args.messages.div_ceil(per_conv);
    let base_ms = 1_767_225_600_000i64; // 2026-01-01

    // Conversations and customers first (the server indexes them alongside messages).
    let started = Instant::now();
    let mut ops = Vec::with_capacity(PAGE);
    for c in 0..conversations as i64 {
        let shop = 1 + c % args.shops;
        let assignee = rng.below(21) as i64; // 0 = unassigned
        ops.push(Op::Conversation(ConversationDoc {
            id: c + 1,
            shop_id: shop,
            customer_id: c + 1,
            customer_name: format!("顾客{}", c + 1),
            status: STATUSES[rng.below(3)].to_owned(),
            channel: "web".into(),
            assignee_id: (assignee > 0).then_some(assignee),
            assignee_name: None,
            team_id: Some(1),
            tags: Vec::new(),
            created_at: base_ms + c * 60_000,
        }));
        ops.push(Op::Customer(CustomerDoc {
            id: c + 1,
            shop_id: shop,
            name: format!("顾客{}", c + 1),
            contacts: vec![format!("13{:09}", c + 1)],
            order_nos: vec![format!("SO{:010}", c + 1)],
            tags: Vec::new(),
            created_at: base_ms + c * 60_000,
        }));
        if ops.len() >= PAGE {
            ix.add_new(&ops)?;
            ix.apply(&[], Some("{}"))?;
            ops.clear();
        }
    }
    ix.add_new(&ops)?;
    ix.apply(&[], Some("{}"))?;
    ops.clear();
    let side = started.elapsed().as_secs_f64();
    println!(
        "indexed {conversations} conversations + {conversations} customers in {side:.1} s ({:.0} docs/s)",
        2.0 * conversations as f64 / side
    );

    let started = Instant::now();
    let mut commits = 0;
    for i in 0..args.messages {
        let conv = (i / per_conv) as i64 + 1;
        let shop = 1 + (conv - 1) % args.shops;
        ops.push(Op::Message(MessageDoc {
            id: i as i64 + 1,
            shop_id: shop,
            conversation_id: conv,
            sender_type: if i % 2 == 0 { "customer" } else { "agent" }.into(),
            sender_name: String::new(),
            private: false,
            body: texts[i % texts.len()].clone(),
            created_at: base_ms + i as i64 * 1000,
        }));
        if ops.len() >= PAGE || i + 1 == args.messages {
            if args.upsert {
                ix.apply(&ops, Some("{}"))?;
            } else {
                ix.add_new(&ops)?;
                ix.apply(&[], Some("{}"))?;
            }
            commits += 1;
            ops.clear();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "indexed {} messages in {secs:.1} s: {:.0} msg/s ({commits} commits of {PAGE}, {} path)",
        args.messages,
        args.messages as f64 / secs,
        if args.upsert { "upsert" } else { "fill" }
    );
    println!("documents: {}", ix.num_docs());

    // The query mix: words and word pairs taken from real utterances (so most queries hit, as a
    // searching agent's would), quoted phrases, phone tails and whole order numbers, and a share
    // with conversation filters or an agent's entitlement (joins).
    let mut queries = Vec::with_capacity(args.queries);
    while queries.len() < args.queries {
        let text = &texts[rng.below(texts.len())];
        let terms: Vec<String> = analyzer
            .analyze(text)
            .into_iter()
            .map(|t| text[t.from..t.to].to_owned())
            .filter(|t| t.chars().count() >= 2 && !t.starts_with('['))
            .collect();
        if terms.is_empty() {
            continue;
        }
        let k = rng.below(100);
        let shop = 1 + rng.below(args.shops as usize) as i64;
        let mut q = SearchQuery {
            shop_id: shop,
            viewer: Viewer {
                agent_id: 1,
                sees_whole_shop: true,
            },
            text: String::new(),
            kinds: Vec::new(),
            status: None,
            channel: None,
            agent_id: None,
            team_id: None,
            from: None,
            to: None,
            tag: None,
            limit: 10,
        };
        let a = &terms[rng.below(terms.len())];
        q.text = match k {
            0..40 => a.clone(),
            40..60 => format!("{a} {}", terms[rng.below(terms.len())]),
            60..70 if terms.len() >= 2 => {
                let i = rng.below(terms.len() - 1);
                format!("\"{}{}\"", terms[i], terms[i + 1])
            }
            70..80 => format!("{:04}", rng.below(conversations) % 10_000),
            80..85 => format!("SO{:010}", 1 + rng.below(conversations)),
            85..93 => {
                q.viewer = Viewer {
                    agent_id: 1 + rng.below(20) as i64,
                    sees_whole_shop: false,
                };
                a.clone()
            }
            _ => {
                q.status = Some("open".into());
                a.clone()
            }
        };
        queries.push(q);
    }
    // Warm the page cache and the searcher once, as a running server would be.
    for q in queries.iter().take(50) {
        ix.search(q)?;
    }
    let mut samples = Vec::with_capacity(queries.len());
    let mut hits = 0usize;
    let mut empty = 0usize;
    for q in &queries {
        let t = Instant::now();
        let r = ix.search(q)?;
        samples.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        let n: usize = r.groups.iter().map(|(_, h)| h.len()).sum();
        hits += n;
        if r.groups
            .iter()
            .all(|(k, h)| *k != DocKind::Message || h.is_empty())
        {
            empty += 1;
        }
    }
    let p = percentiles(&mut samples);
    println!(
        "search × {}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.1} hits per query, {} without message hits)",
        queries.len(),
        p.p50_ms,
        p.p95_ms,
        p.p99_ms,
        p.max_ms,
        hits as f64 / queries.len() as f64,
        empty
    );
    drop(ix);
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
