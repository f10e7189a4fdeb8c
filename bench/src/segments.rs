//! `segments`: the segmentation benchmark against a running kefu whose shop already holds the
//! orders (e.g. 1,000,000 orders of 200,000 customers from `gen-orders` + `kefu import orders`).
//!
//! 1. Logs in as an admin or supervisor and times `POST /api/v1/segments/recompute` (a full
//!    recompute of every customer, as the server reports it and as seen by the client).
//! 2. Samples customer ids from the segment list at random offsets, then reads
//!    `GET /api/v1/customers/{id}/segments` (the sidebar's badges) closed-loop on a few keep-alive
//!    connections and reports p50/p95/p99.

use crate::{Client, host_port, percentiles};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use std::time::Instant;

#[derive(Args, Clone)]
pub struct SegmentsArgs {
    /// Base URL of the server (plain HTTP on loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin or supervisor of the shop.
    #[arg(long)]
    email: String,
    #[arg(long, env = "KEFU_BENCH_PASSWORD")]
    password: String,
    /// Skip the timed full recompute (only measure reads).
    #[arg(long)]
    no_recompute: bool,
    /// Sidebar reads to time.
    #[arg(long, default_value_t = 5000)]
    reads: usize,
    /// Keep-alive connections for the reads.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

/// xorshift64: a deterministic sample of offsets.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

pub async fn run(args: SegmentsArgs) -> Result<()> {
    let addr = host_port(&args.url)?;
    let mut client = Client::connect(&addr).await?;
    let login =
        serde_json::to_vec(&serde_json::json!({"email": args.email, "password": args.password}))?;
    let (status, body) = client.post("/api/v1/auth/login", None, &login).await?;
    if status != 200 {
        bail!("login: HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    let token: String = serde_json::from_slice::<serde_json::Value>(&body)?["token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token"))?
        .to_owned();

    let mut summary = serde_json::json!({});
    if !args.no_recompute {
        let started = Instant::now();
        let (status, body) = client
            .post("/api/v1/segments/recompute", Some(&token), b"{}")
            .await?;
        let wall = started.elapsed().as_secs_f64();
        if status != 200 {
            bail!(
                "recompute: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let report: serde_json::Value = serde_json::from_slice(&body)?;
        println!(
            "full recompute: {} customers, server {} ms, client {:.2} s",
            report["customers"], report["took_ms"], wall
        );
        summary["recompute"] = serde_json::json!({"report": report, "client_seconds": wall});
    }

    // Sample customer ids from the list at deterministic pseudo-random offsets.
    let (status, body) = client
        .get("/api/v1/segments/customers?limit=1", Some(&token))
        .await?;
    if status != 200 {
        bail!("list: HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    let total = serde_json::from_slice::<serde_json::Value>(&body)?["total"]
        .as_u64()
        .unwrap_or(0);
    if total == 0 {
        bail!("the shop has no computed segments");
    }
    let mut ids = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20 {
        let offset = next(&mut state) % total.saturating_sub(200).max(1);
        let (_, body) = client
            .get(
                &format!("/api/v1/segments/customers?limit=200&offset={offset}"),
                Some(&token),
            )
            .await?;
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        for item in page["items"].as_array().into_iter().flatten() {
            if let Some(id) = item["customer"]["id"].as_i64() {
                ids.push(id);
            }
        }
    }
    println!("sampled {} customer ids of {total}", ids.len());

    let conns = args.connections.max(1);
    let per = args.reads / conns;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = addr.clone();
        let token = token.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await?;
            let mut samples = Vec::with_capacity(per);
            let mut state = 0xD1B5_4A32_D192_ED03u64 ^ c as u64;
            for _ in 0..per {
                let id = ids[(next(&mut state) % ids.len() as u64) as usize];
                let t = Instant::now();
                let (status, body) = client
                    .get(&format!("/api/v1/customers/{id}/segments"), Some(&token))
                    .await?;
                samples.push(t.elapsed().as_micros() as u32);
                if status != 200 {
                    bail!("read: HTTP {status}: {}", String::from_utf8_lossy(&body));
                }
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await??);
    }
    let wall = started.elapsed().as_secs_f64();
    let p = percentiles(&mut samples);
    println!(
        "sidebar segments read: {} reads on {conns} connections in {wall:.1} s ({:.0}/s): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        samples.len() as f64 / wall,
        p.p50_ms,
        p.p95_ms,
        p.p99_ms,
        p.max_ms
    );
    summary["reads"] = serde_json::json!({
        "count": samples.len(), "connections": conns, "per_second": samples.len() as f64 / wall,
        "p50_ms": p.p50_ms, "p95_ms": p.p95_ms, "p99_ms": p.p99_ms, "max_ms": p.max_ms,
    });
    if let Some(path) = args.json_out {
        std::fs::write(path, serde_json::to_vec_pretty(&summary)?)?;
    }
    Ok(())
}
