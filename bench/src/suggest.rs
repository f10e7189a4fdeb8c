//! `suggest`: the cost of ranking a shop's script library for a conversation, measured with the
//! server's own code ([`kefu_service::suggest::Prepared`], what the suggestion worker and
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
use kefu_search::Analyzer;
use kefu_service::suggest::{Prepared, ScriptEntry, SuggestConfig};
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

/// `suggest-live`: the time from sending a shopper message to the `suggestions` event at an agent's
/// console, against a running kefu (e.g. `kefu demo`). One message at a time, so this is latency,
/// not throughput; the shoppers' messages are real shopper turns from the corpus.
#[derive(Args, Clone)]
pub struct SuggestLiveArgs {
    /// Base URL of the server (plain HTTP on loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The shop's slug.
    #[arg(long, default_value = "demo")]
    shop: String,
    /// An agent of the shop who sees every conversation (admin or supervisor).
    #[arg(long)]
    email: String,
    #[arg(long, env = "KEFU_BENCH_PASSWORD")]
    password: String,
    /// The research data directory (the shopper turns are read from jddc_train.jsonl).
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Messages to time.
    #[arg(long, default_value_t = 300)]
    messages: usize,
    /// Shoppers the messages rotate over.
    #[arg(long, default_value_t = 30)]
    shoppers: usize,
}

pub async fn live(args: SuggestLiveArgs) -> Result<()> {
    use crate::{Client, host_port};
    use futures_util::StreamExt;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let addr = host_port(&args.url)?;
    let items = kefu_search::eval::read_items(&args.data.join("jddc_train.jsonl"))?;
    let questions: Vec<String> = items
        .iter()
        .filter_map(|it| it.context.last().cloned())
        .filter(|q| !q.trim().is_empty() && q.chars().count() <= 500)
        .take(args.messages)
        .collect();

    let mut client = Client::connect(&addr).await?;
    let login =
        serde_json::to_vec(&serde_json::json!({"email": args.email, "password": args.password}))?;
    let (status, body) = client.post("/api/v1/auth/login", None, &login).await?;
    if status != 200 {
        bail!("login: HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    let token = serde_json::from_slice::<serde_json::Value>(&body)?["token"]
        .as_str()
        .context("no token")?
        .to_owned();

    // The agent's console: every suggestions event, stamped on arrival.
    let arrived: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/ws?token={token}")).await?;
    let (_sink, mut stream) = ws.split();
    let seen = arrived.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if let WsMessage::Text(t) = msg
                && let Ok(ev) = serde_json::from_str::<serde_json::Value>(t.as_str())
                && ev["type"] == "suggestions"
                && let Some(id) = ev["message_id"].as_i64()
            {
                seen.lock().unwrap().insert(id, Instant::now());
            }
        }
    });
    // The connection warms the shop's engine; give the build time before timing.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut shoppers = Vec::new();
    for i in 0..args.shoppers.max(1) {
        let body = serde_json::to_vec(
            &serde_json::json!({"shop": args.shop, "name": format!("bench shopper {i}")}),
        )?;
        let (status, body) = client.post("/api/v1/widget/sessions", None, &body).await?;
        if status != 201 {
            bail!("session: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        shoppers.push(
            serde_json::from_slice::<serde_json::Value>(&body)?["visitor_token"]
                .as_str()
                .context("no visitor_token")?
                .to_owned(),
        );
    }

    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let mut samples = Vec::new();
    let mut missed = 0;
    for (i, q) in questions.iter().enumerate() {
        let body = serde_json::to_vec(
            &serde_json::json!({"body": q, "client_msg_id": format!("sl-{run}-{i}")}),
        )?;
        let sent = Instant::now();
        let (status, body) = client
            .post(
                "/api/v1/widget/messages",
                Some(&shoppers[i % shoppers.len()]),
                &body,
            )
            .await?;
        if status != 201 {
            bail!("message: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        let id = serde_json::from_slice::<serde_json::Value>(&body)?["id"]
            .as_i64()
            .context("no message id")?;
        let deadline = sent + Duration::from_secs(5);
        loop {
            if let Some(at) = arrived.lock().unwrap().get(&id) {
                samples.push(at.duration_since(sent).as_micros() as u32);
                break;
            }
            if Instant::now() > deadline {
                missed += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let p = percentiles(&mut samples);
    println!(
        "message sent → suggestions event at the agent: {} events ({missed} missed)\n  p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        samples.len(),
        p.p50_ms,
        p.p95_ms,
        p.p99_ms,
        p.max_ms
    );
    Ok(())
}
