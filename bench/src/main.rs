//! `kefu-bench`: the load generator for kefu's shopper path and the bare baseline server it is
//! compared with.
//!
//! * `baseline-server` — the same three widget endpoints (sessions, messages, ws) with no storage,
//!   no auth beyond a token lookup, no routing: the ceiling of "HTTP + JSON + WebSocket fan-out" on
//!   this machine, so kefu's figures can be quoted as a ratio of it.
//! * `http` — closed-loop throughput of `POST /api/v1/widget/messages` on N keep-alive connections.
//! * `ws` — open-loop fixed rate with thousands of shopper WebSockets connected; times each message
//!   from the moment its request is written to the moment its `message.created` echo arrives on the
//!   shopper's own socket, and samples the server's RSS.
//!
//! The HTTP/1.1 client and server are hand-rolled over tokio (a few dozen lines each) so the
//! generator adds no dependencies and costs as little CPU as possible: it shares the machine with the
//! server under test.

mod orders;
mod search;
mod segments;
mod suggest;
mod tickets;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Parser)]
#[command(
    name = "kefu-bench",
    about = "Load generator for kefu's shopper path, and a bare baseline server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A storage-free server with the same widget endpoints (sessions, messages, ws).
    BaselineServer {
        #[arg(long, default_value = "127.0.0.1:9080")]
        listen: SocketAddr,
        /// Per-socket WebSocket read buffer in bytes. The default is tungstenite's (and axum's,
        /// hence kefu's) 128 KiB, allocated and touched per socket; pass e.g. 4096 to see its cost.
        #[arg(long, default_value_t = 128 * 1024)]
        ws_read_buffer: usize,
    },
    /// Closed-loop message throughput on keep-alive connections.
    Http(HttpArgs),
    /// Fixed-rate messages with every shopper's WebSocket connected; send-to-delivery latency.
    Ws(WsArgs),
    /// Segments: time a full recompute over HTTP and the sidebar's segment read (p50/p95/p99).
    Segments(segments::SegmentsArgs),
    /// Reply suggestions: ranking latency of the server's suggestion code on the research
    /// dialogues (no server needed; build with --release).
    Suggest(suggest::SuggestArgs),
    /// Reply suggestions end to end against a running kefu: shopper message sent → `suggestions`
    /// event at a connected agent.
    SuggestLive(suggest::SuggestLiveArgs),
    /// Latency of the customer sidebar's recent orders (`GET /api/v1/customers/{id}/orders`),
    /// sequential requests on one keep-alive connection.
    Sidebar {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An agent account of the shop.
        #[arg(long)]
        email: String,
        #[arg(long, env = "KEFU_BENCH_PASSWORD")]
        password: String,
        /// The customer whose orders are read.
        #[arg(long)]
        customer: i64,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
    },
    /// Full-text search: index N messages built from the research corpus, then time a query mix.
    Search(search::SearchArgs),
    /// Create a SQLite data dir holding N tickets with SLA clocks (bulk SQL), an SLA policy and
    /// an admin, for `tickets`.
    TicketsSeed(tickets::SeedArgs),
    /// Ticket list views and the SLA evaluation of all open tickets against a running kefu.
    Tickets(tickets::ListArgs),
    /// Write a CSV of orders for `kefu import orders` (the import benchmark).
    GenOrders {
        /// How many orders.
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// How many distinct buyers.
        #[arg(long, default_value_t = 200_000)]
        customers: u64,
        /// Seed of the deterministic generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Order number prefix (files meant for the same shop need different ones).
        #[arg(long, default_value = "XM")]
        prefix: String,
        /// The CSV file to write.
        file: std::path::PathBuf,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// Base URL of the server, e.g. http://127.0.0.1:8080 (plain HTTP on loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The shop's slug.
    #[arg(long, default_value = "demo")]
    shop: String,
    /// Keep-alive HTTP connections used to send messages.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Length of the measured window (e.g. 20s, 500ms, 1m).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Server process to sample (RSS, CPU) from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Skip the priming pass (one message per shopper, which creates the conversations) before
    /// the measured window.
    #[arg(long)]
    no_prime: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

#[derive(Args, Clone)]
struct HttpArgs {
    #[command(flatten)]
    common: Common,
    /// Shopper sessions created up front; messages go round-robin over them.
    #[arg(long, default_value_t = 1000)]
    shoppers: usize,
}

#[derive(Args, Clone)]
struct WsArgs {
    #[command(flatten)]
    common: Common,
    /// Shopper sessions, each with its own WebSocket.
    #[arg(long, default_value_t = 5000)]
    shoppers: usize,
    /// Total messages per second (open loop, spread over --connections senders).
    #[arg(long, default_value_t = 5000)]
    rate: u64,
    /// How long to wait after the window for late deliveries.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    grace: Duration,
    /// Agent console sockets to connect as well (kefu only; the baseline has no agents). All are
    /// one login of `--agent-email`, like one person's console tabs. An admin or supervisor sees
    /// every conversation, so each socket receives every message: the widest fan-out there is.
    /// A connected agent also turns on reply suggestions for the shop's shopper messages.
    #[arg(long, default_value_t = 0)]
    agents: usize,
    #[arg(long, default_value = "wang.dian@demo.kefu")]
    agent_email: String,
    #[arg(long, env = "KEFU_BENCH_PASSWORD", default_value = "demo1234")]
    agent_password: String,
}

fn ws_config(read_buffer: usize) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| format!("bad duration '{s}'"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in '{s}' (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::BaselineServer {
            listen,
            ws_read_buffer,
        } => rt.block_on(baseline::serve(listen, ws_read_buffer)),
        Command::Http(args) => rt.block_on(http_load(args)),
        Command::Ws(args) => rt.block_on(ws_load(args)),
        Command::Segments(args) => rt.block_on(segments::run(args)),
        Command::Search(args) => search::run(args),
        Command::TicketsSeed(args) => rt.block_on(tickets::seed(args)),
        Command::Tickets(args) => rt.block_on(tickets::list(args)),
        Command::Suggest(args) => suggest::run(args),
        Command::SuggestLive(args) => rt.block_on(suggest::live(args)),
        Command::Sidebar {
            url,
            email,
            password,
            customer,
            requests,
        } => rt.block_on(sidebar(url, email, password, customer, requests)),
        Command::GenOrders {
            orders,
            customers,
            seed,
            prefix,
            file,
        } => {
            let (orders, rows) = orders::generate(&file, orders, customers, seed, &prefix)?;
            println!("wrote {} ({orders} orders, {rows} lines)", file.display());
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clock: every timestamp is microseconds since one process-wide instant, so the body of a message
// can carry its send time and the WebSocket reader can subtract it.

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 over tokio, shared by the client and the baseline server.

struct Head {
    /// Request line or status line.
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one message head from `stream` into `buf` (which may already hold bytes) and removes it
/// from `buf`. `Ok(None)` on a clean EOF between messages.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<Head>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = std::str::from_utf8(&buf[..end]).context("non-UTF-8 head")?;
            let mut lines = text.split("\r\n");
            let first = lines.next().unwrap_or_default().to_owned();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            buf.drain(..end + 4);
            return Ok(Some(Head { first, headers }));
        }
        if buf.len() > 64 * 1024 {
            bail!("head too large");
        }
        if stream.read_buf(buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("connection closed mid-head");
        }
    }
}

/// Reads exactly `n` body bytes (after the head) into a fresh Vec.
async fn read_exact_body(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Result<Vec<u8>> {
    while buf.len() < n {
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed mid-body");
        }
    }
    Ok(buf.drain(..n).collect())
}

async fn read_body(stream: &mut TcpStream, buf: &mut Vec<u8>, head: &Head) -> Result<Vec<u8>> {
    if let Some(len) = head.header("content-length") {
        let n: usize = len.parse().context("bad content-length")?;
        return read_exact_body(stream, buf, n).await;
    }
    if head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                if stream.read_buf(buf).await? == 0 {
                    bail!("closed mid-chunk");
                }
            };
            let size_text = std::str::from_utf8(&buf[..line_end])?
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let size = usize::from_str_radix(&size_text, 16).context("bad chunk size")?;
            buf.drain(..line_end + 2);
            let chunk = read_exact_body(stream, buf, size + 2).await?;
            if size == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(Vec::new())
}

/// One keep-alive client connection.
struct Client {
    addr: String,
    stream: TcpStream,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl Client {
    async fn connect(addr: &str) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            addr: addr.to_owned(),
            stream,
            buf: Vec::with_capacity(8192),
            out: Vec::with_capacity(1024),
        })
    }

    async fn reconnect(&mut self) -> Result<()> {
        *self = Client::connect(&self.addr.clone()).await?;
        Ok(())
    }

    async fn post(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        self.send("POST", path, token, body).await
    }

    async fn get(&mut self, path: &str, token: Option<&str>) -> Result<(u16, Vec<u8>)> {
        self.send("GET", path, token, b"").await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        use std::io::Write;
        self.out.clear();
        write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        )?;
        if let Some(t) = token {
            write!(self.out, "authorization: Bearer {t}\r\n")?;
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await?;
        let head = read_head(&mut self.stream, &mut self.buf)
            .await?
            .ok_or_else(|| anyhow!("server closed"))?;
        let status: u16 = head
            .first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("bad status line '{}'", head.first))?;
        let body = read_body(&mut self.stream, &mut self.buf, &head).await?;
        if head
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.reconnect().await?;
        }
        Ok((status, body))
    }
}

fn host_port(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url must start with http://"))?;
    Ok(rest.trim_end_matches('/').to_owned())
}

// ---------------------------------------------------------------------------------------------
// /proc sampling (Linux): the server's RSS, and CPU seconds of the server and of this generator.

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime in seconds (assumes the usual 100 clock ticks per second).
fn cpu_secs(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

struct CpuWindow {
    server_pid: Option<u32>,
    start: Instant,
    server0: Option<f64>,
    self0: Option<f64>,
}

impl CpuWindow {
    fn start(server_pid: Option<u32>) -> Self {
        CpuWindow {
            server_pid,
            start: Instant::now(),
            server0: server_pid.and_then(|p| cpu_secs(&p.to_string())),
            self0: cpu_secs("self"),
        }
    }
    /// (server cores, generator cores) averaged over the window.
    fn finish(&self) -> (Option<f64>, Option<f64>) {
        let wall = self.start.elapsed().as_secs_f64();
        let server = match (self.server_pid, self.server0) {
            (Some(p), Some(c0)) => cpu_secs(&p.to_string()).map(|c| (c - c0) / wall),
            _ => None,
        };
        let me = self
            .self0
            .and_then(|c0| cpu_secs("self").map(|c| (c - c0) / wall));
        (server, me)
    }
}

fn spawn_rss_sampler(
    pid: Option<u32>,
    stop: Arc<AtomicBool>,
) -> Option<tokio::task::JoinHandle<u64>> {
    let pid = pid?;
    Some(tokio::spawn(async move {
        let mut peak = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            if let Some(kb) = rss_kb(pid) {
                peak = peak.max(kb);
            }
        }
        peak
    }))
}

// ---------------------------------------------------------------------------------------------
// The customer sidebar's recent orders.

/// Logs an agent in and returns their token.
async fn login(addr: &str, email: &str, password: &str) -> Result<String> {
    let mut client = Client::connect(addr).await?;
    let login = serde_json::json!({"email": email, "password": password}).to_string();
    let (status, body) = client
        .post("/api/v1/auth/login", None, login.as_bytes())
        .await?;
    if status != 200 {
        bail!("login failed: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(serde_json::from_slice::<serde_json::Value>(&body)?["token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token in the login answer"))?
        .to_owned())
}

async fn sidebar(
    url: String,
    email: String,
    password: String,
    customer: i64,
    requests: usize,
) -> Result<()> {
    let addr = host_port(&url)?;
    let mut client = Client::connect(&addr).await?;
    let token = login(&addr, &email, &password).await?;
    let path = format!("/api/v1/customers/{customer}/orders");
    // Warm-up: the first requests pay for cold caches and prepared statements.
    let (status, body) = client.get(&path, Some(&token)).await?;
    if status != 200 {
        bail!("{path}: {status} {}", String::from_utf8_lossy(&body));
    }
    let orders = serde_json::from_slice::<serde_json::Value>(&body)?["orders"]
        .as_array()
        .map_or(0, Vec::len);
    for _ in 0..20 {
        client.get(&path, Some(&token)).await?;
    }
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let (status, _) = client.get(&path, Some(&token)).await?;
        if status != 200 {
            bail!("{path}: {status}");
        }
        samples.push(started.elapsed().as_micros() as u32);
    }
    let p = percentiles(&mut samples);
    println!(
        "GET {path} ({orders} orders per answer) × {requests}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Percentiles over microsecond samples.

#[derive(Serialize, Default, Clone, Copy)]
pub(crate) struct Percentiles {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn percentiles(samples: &mut [u32]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_unstable();
    let at = |q: f64| {
        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64 / 1000.0
    };
    Percentiles {
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: *samples.last().unwrap() as f64 / 1000.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared steps: create sessions, prime conversations.

async fn create_sessions(addr: &str, shop: &str, n: usize, conns: usize) -> Result<Vec<String>> {
    let started = Instant::now();
    let conns = conns.clamp(1, n.max(1));
    let body = serde_json::to_vec(&serde_json::json!({ "shop": shop }))?;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let count = n / conns + usize::from(c < n % conns);
        let addr = addr.to_owned();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await?;
            let mut tokens = Vec::with_capacity(count);
            for _ in 0..count {
                let (status, resp) = client.post("/api/v1/widget/sessions", None, &body).await?;
                if status != 201 && status != 200 {
                    bail!("session: HTTP {status}: {}", String::from_utf8_lossy(&resp));
                }
                let v: serde_json::Value = serde_json::from_slice(&resp)?;
                let t = v["visitor_token"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no visitor_token"))?;
                tokens.push(t.to_owned());
            }
            Ok::<_, anyhow::Error>(tokens)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "created {} sessions in {:.1} s ({:.0}/s)",
        all.len(),
        secs,
        all.len() as f64 / secs
    );
    Ok(all)
}

/// One message per shopper: this creates each conversation (greeting, offline notice, routing), the
/// heavier first-message path, so the measured window is the steady-state message path.
async fn prime(addr: &str, tokens: &Arc<Vec<String>>, conns: usize, run: u64) -> Result<f64> {
    let started = Instant::now();
    let conns = conns.clamp(1, tokens.len().max(1));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let addr = addr.to_owned();
        let tokens = tokens.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await?;
            for i in (c..tokens.len()).step_by(conns) {
                let body = format!(r#"{{"body":"kp:{i}","client_msg_id":"p{run}-{i}"}}"#);
                let (status, resp) = client
                    .post("/api/v1/widget/messages", Some(&tokens[i]), body.as_bytes())
                    .await?;
                if status != 201 {
                    bail!("prime: HTTP {status}: {}", String::from_utf8_lossy(&resp));
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "primed {} conversations in {:.1} s ({:.0}/s)",
        tokens.len(),
        secs,
        tokens.len() as f64 / secs
    );
    Ok(tokens.len() as f64 / secs)
}

fn write_json<T: Serialize>(path: &Option<std::path::PathBuf>, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    if let Some(p) = path {
        std::fs::write(p, text + "\n").with_context(|| format!("write {}", p.display()))?;
    }
    Ok(())
}

/// A per-run id so client_msg_ids never collide with an earlier run against the same database.
fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// `http`: closed loop, as fast as possible.

#[derive(Serialize)]
struct HttpSummary {
    mode: &'static str,
    url: String,
    shoppers: usize,
    connections: usize,
    duration_s: f64,
    sessions_per_s: f64,
    prime_msgs_per_s: Option<f64>,
    requests: u64,
    ok_201: u64,
    errors: u64,
    error_statuses: HashMap<String, u64>,
    requests_per_s: f64,
    persisted_per_s: f64,
    latency: Percentiles,
    server_cpu_cores: Option<f64>,
    generator_cpu_cores: Option<f64>,
    server_rss_peak_mb: Option<f64>,
}

async fn http_load(args: HttpArgs) -> Result<()> {
    let c = &args.common;
    let addr = host_port(&c.url)?;
    let run = run_id();
    let t0 = Instant::now();
    let tokens = Arc::new(create_sessions(&addr, &c.shop, args.shoppers, c.connections).await?);
    let sessions_per_s = tokens.len() as f64 / t0.elapsed().as_secs_f64();
    let prime_rate = if c.no_prime {
        None
    } else {
        Some(prime(&addr, &tokens, c.connections, run).await?)
    };

    let stop = Arc::new(AtomicBool::new(false));
    let rss = spawn_rss_sampler(c.server_pid, stop.clone());
    let counter = Arc::new(AtomicU64::new(0));
    let cpu = CpuWindow::start(c.server_pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + c.duration;
    let mut tasks = Vec::new();
    for _ in 0..c.connections {
        let addr = addr.clone();
        let tokens = tokens.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await?;
            let mut lat: Vec<u32> = Vec::with_capacity(1 << 16);
            let (mut ok, mut requests) = (0u64, 0u64);
            let mut errors: HashMap<String, u64> = HashMap::new();
            let mut body = Vec::with_capacity(128);
            while tokio::time::Instant::now() < deadline {
                use std::io::Write;
                let k = counter.fetch_add(1, Ordering::Relaxed);
                let token = &tokens[(k % tokens.len() as u64) as usize];
                body.clear();
                write!(
                    body,
                    r#"{{"body":"hello {k}","client_msg_id":"h{run}-{k}"}}"#
                )?;
                let sent = Instant::now();
                let result = tokio::time::timeout_at(
                    deadline + Duration::from_secs(5),
                    client.post("/api/v1/widget/messages", Some(token), &body),
                )
                .await;
                requests += 1;
                match result {
                    Ok(Ok((201, _))) => {
                        ok += 1;
                        lat.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    Ok(Ok((status, _))) => *errors.entry(status.to_string()).or_default() += 1,
                    Ok(Err(e)) => {
                        *errors.entry(format!("io: {e}")).or_default() += 1;
                        client.reconnect().await?;
                    }
                    Err(_) => {
                        *errors.entry("timeout".into()).or_default() += 1;
                        break;
                    }
                }
            }
            Ok::<_, anyhow::Error>((lat, ok, requests, errors))
        }));
    }
    let mut lat = Vec::new();
    let (mut ok, mut requests) = (0, 0);
    let mut errors: HashMap<String, u64> = HashMap::new();
    for t in tasks {
        let (l, o, r, e) = t.await??;
        lat.extend(l);
        ok += o;
        requests += r;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let (server_cpu, gen_cpu) = cpu.finish();
    stop.store(true, Ordering::Relaxed);
    let peak = match rss {
        Some(h) => Some(h.await? as f64 / 1024.0),
        None => None,
    };
    let summary = HttpSummary {
        mode: "http",
        url: c.url.clone(),
        shoppers: tokens.len(),
        connections: c.connections,
        duration_s: wall,
        sessions_per_s,
        prime_msgs_per_s: prime_rate,
        requests,
        ok_201: ok,
        errors: requests - ok,
        error_statuses: errors,
        requests_per_s: requests as f64 / wall,
        persisted_per_s: ok as f64 / wall,
        latency: percentiles(&mut lat),
        server_cpu_cores: server_cpu,
        generator_cpu_cores: gen_cpu,
        server_rss_peak_mb: peak,
    };
    write_json(&c.json_out, &summary)
}

// ---------------------------------------------------------------------------------------------
// `ws`: open loop at a fixed rate, deliveries timed on the shoppers' own sockets.

#[derive(Serialize)]
struct WsSummary {
    mode: &'static str,
    url: String,
    shoppers: usize,
    sockets_connected: usize,
    connections: usize,
    target_rate: u64,
    duration_s: f64,
    sessions_per_s: f64,
    prime_msgs_per_s: Option<f64>,
    /// rate × duration: what an infinitely fast server would have received.
    scheduled: u64,
    sent: u64,
    ok_201: u64,
    errors: u64,
    error_statuses: HashMap<String, u64>,
    persisted_per_s: f64,
    delivered: u64,
    delivered_in_window: u64,
    undelivered: i64,
    sockets_closed_by_server: u64,
    http_latency: Percentiles,
    delivery_latency: Percentiles,
    /// Agent sockets connected (`--agents`), and what they received of the stamped messages:
    /// every socket should receive every persisted one (`agent_expected`).
    agent_sockets: usize,
    agent_expected: u64,
    agent_delivered: u64,
    agent_delivery_latency: Percentiles,
    max_send_lag_ms: f64,
    server_cpu_cores: Option<f64>,
    generator_cpu_cores: Option<f64>,
    server_rss_idle_mb: Option<f64>,
    server_rss_after_connect_mb: Option<f64>,
    server_rss_peak_mb: Option<f64>,
}

/// Extracts the send timestamp from a `message.created` frame whose body is `kb:{us}:{id}`,
/// without a full JSON parse (the reader runs 5,000 times a second next to the server).
fn bench_stamp(frame: &str) -> Option<u64> {
    if !frame.contains("\"message.created\"") {
        return None;
    }
    let at = frame.find("\"body\":\"kb:")? + "\"body\":\"kb:".len();
    let rest = &frame[at..];
    rest[..rest.find(':')?].parse().ok()
}

async fn ws_load(args: WsArgs) -> Result<()> {
    let c = &args.common;
    let addr = host_port(&c.url)?;
    let run = run_id();
    let idle_rss = c.server_pid.and_then(rss_kb).map(|kb| kb as f64 / 1024.0);
    let t0 = Instant::now();
    let tokens = Arc::new(create_sessions(&addr, &c.shop, args.shoppers, c.connections).await?);
    let sessions_per_s = tokens.len() as f64 / t0.elapsed().as_secs_f64();

    // Open every shopper's socket (64 handshakes in flight at a time).
    let window_start = Arc::new(AtomicU64::new(u64::MAX));
    let window_end = Arc::new(AtomicU64::new(u64::MAX));
    let latencies: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 17)));
    let delivered = Arc::new(AtomicU64::new(0));
    let delivered_in_window = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let connect_started = Instant::now();
    let ws_base = format!("ws://{addr}/api/v1/widget/ws?token=");
    let mut readers = Vec::with_capacity(tokens.len());
    let results: Vec<Result<_>> = futures_util::stream::iter(tokens.iter().cloned())
        .map(|t| {
            let url = format!("{ws_base}{t}");
            async move {
                // Small buffers on the generator side: 5,000 sockets must not cost it 640 MB.
                let (ws, _) =
                    tokio_tungstenite::connect_async_with_config(url, Some(ws_config(4096)), true)
                        .await?;
                Ok(ws)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut connected = 0;
    for r in results {
        let mut ws = match r {
            Ok(ws) => ws,
            Err(e) => {
                eprintln!("ws connect failed: {e:#}");
                continue;
            }
        };
        connected += 1;
        let (latencies, delivered, in_window, closed) = (
            latencies.clone(),
            delivered.clone(),
            delivered_in_window.clone(),
            closed.clone(),
        );
        let window_end = window_end.clone();
        readers.push(tokio::spawn(async move {
            while let Some(msg) = ws.next().await {
                let text = match msg {
                    Ok(WsMessage::Text(t)) => t,
                    Ok(WsMessage::Close(_)) | Err(_) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(_) => continue,
                };
                if let Some(sent) = bench_stamp(text.as_str()) {
                    let now = now_us();
                    delivered.fetch_add(1, Ordering::Relaxed);
                    if now <= window_end.load(Ordering::Relaxed) {
                        in_window.fetch_add(1, Ordering::Relaxed);
                    }
                    // A few thousand pushes a second: an uncontended lock is cheaper than batching.
                    latencies
                        .lock()
                        .unwrap()
                        .push(now.saturating_sub(sent).min(u32::MAX as u64) as u32);
                }
            }
        }));
    }
    eprintln!(
        "connected {connected}/{} shopper WebSockets in {:.1} s",
        tokens.len(),
        connect_started.elapsed().as_secs_f64()
    );
    let agent_delivered = Arc::new(AtomicU64::new(0));
    let agent_latencies: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(Vec::new()));
    let mut agent_sockets = 0;
    if args.agents > 0 {
        let token = login(&addr, &args.agent_email, &args.agent_password).await?;
        for _ in 0..args.agents {
            let url = format!("ws://{addr}/api/v1/ws?token={token}");
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .context("agent socket")?;
            agent_sockets += 1;
            let (delivered, latencies) = (agent_delivered.clone(), agent_latencies.clone());
            readers.push(tokio::spawn(async move {
                while let Some(Ok(msg)) = ws.next().await {
                    if let WsMessage::Text(text) = msg
                        && let Some(sent) = bench_stamp(text.as_str())
                    {
                        let took = now_us().saturating_sub(sent).min(u32::MAX as u64) as u32;
                        delivered.fetch_add(1, Ordering::Relaxed);
                        latencies.lock().unwrap().push(took);
                    }
                }
            }));
        }
        eprintln!("connected {agent_sockets} agent sockets");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_connect = c.server_pid.and_then(rss_kb).map(|kb| kb as f64 / 1024.0);
    let prime_rate = if c.no_prime {
        None
    } else {
        Some(prime(&addr, &tokens, c.connections, run).await?)
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Priming messages echoed on the sockets are not counted (their body is not `kb:`).

    let stop = Arc::new(AtomicBool::new(false));
    let rss = spawn_rss_sampler(c.server_pid, stop.clone());
    let cpu = CpuWindow::start(c.server_pid);
    let conns = c.connections.max(1);
    let period = Duration::from_secs_f64(conns as f64 / args.rate.max(1) as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let deadline = start + c.duration;
    window_start.store(now_us() + 20_000, Ordering::Relaxed);
    window_end.store(
        now_us() + 20_000 + c.duration.as_micros() as u64,
        Ordering::Relaxed,
    );
    let ids = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for s in 0..conns {
        let addr = addr.clone();
        let tokens = tokens.clone();
        let ids = ids.clone();
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(&addr).await?;
            // Stagger the senders across one period so the load is smooth.
            let first = start + period.mul_f64(s as f64 / conns as f64);
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((s as u64 + 1) * 0x2545_F491_4F6C_DD1D);
            let (mut scheduled, mut sent, mut ok) = (0u64, 0u64, 0u64);
            let mut errors: HashMap<String, u64> = HashMap::new();
            let mut lat: Vec<u32> = Vec::new();
            let mut max_lag = Duration::ZERO;
            let mut body = Vec::with_capacity(128);
            loop {
                let due = first + period.mul_f64(scheduled as f64);
                // Open loop: what was not sent by the end of the window is not sent at all (a
                // server slower than the rate shows up as sent < scheduled, not as a longer run).
                if due >= deadline || tokio::time::Instant::now() >= deadline {
                    break;
                }
                scheduled += 1;
                let now = tokio::time::Instant::now();
                if now < due {
                    tokio::time::sleep_until(due).await;
                } else {
                    max_lag = max_lag.max(now - due);
                }
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let token = &tokens[(rng % tokens.len() as u64) as usize];
                let id = ids.fetch_add(1, Ordering::Relaxed);
                body.clear();
                {
                    use std::io::Write;
                    write!(
                        body,
                        r#"{{"body":"kb:{}:{id}","client_msg_id":"w{run}-{id}"}}"#,
                        now_us()
                    )?;
                }
                let t = Instant::now();
                sent += 1;
                match client
                    .post("/api/v1/widget/messages", Some(token), &body)
                    .await
                {
                    Ok((201, _)) => {
                        ok += 1;
                        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    Ok((status, _)) => *errors.entry(status.to_string()).or_default() += 1,
                    Err(e) => {
                        *errors.entry(format!("io: {e}")).or_default() += 1;
                        client.reconnect().await?;
                    }
                }
            }
            Ok::<_, anyhow::Error>((scheduled, sent, ok, errors, lat, max_lag))
        }));
    }
    let (mut sent, mut ok) = (0, 0);
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut http_lat = Vec::new();
    let mut max_lag = Duration::ZERO;
    for t in senders {
        let (_scheduled, se, o, e, l, lag) = t.await??;
        sent += se;
        ok += o;
        http_lat.extend(l);
        max_lag = max_lag.max(lag);
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    let wall = c
        .duration
        .as_secs_f64()
        .max((tokio::time::Instant::now() - start).as_secs_f64());
    let (server_cpu, gen_cpu) = cpu.finish();
    tokio::time::sleep(args.grace).await;
    stop.store(true, Ordering::Relaxed);
    let peak = match rss {
        Some(h) => Some(h.await? as f64 / 1024.0),
        None => None,
    };
    for r in &readers {
        r.abort();
    }
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    let delivered = delivered.load(Ordering::Relaxed);
    let mut agent_lat = std::mem::take(&mut *agent_latencies.lock().unwrap());
    let summary = WsSummary {
        mode: "ws",
        url: c.url.clone(),
        shoppers: tokens.len(),
        sockets_connected: connected,
        connections: conns,
        target_rate: args.rate,
        duration_s: wall,
        sessions_per_s,
        prime_msgs_per_s: prime_rate,
        scheduled: (args.rate as f64 * c.duration.as_secs_f64()) as u64,
        sent,
        ok_201: ok,
        errors: sent - ok,
        error_statuses: errors,
        persisted_per_s: ok as f64 / wall,
        delivered,
        delivered_in_window: delivered_in_window.load(Ordering::Relaxed),
        undelivered: ok as i64 - delivered as i64,
        sockets_closed_by_server: closed.load(Ordering::Relaxed),
        http_latency: percentiles(&mut http_lat),
        delivery_latency: percentiles(&mut lat),
        agent_sockets,
        agent_expected: ok * agent_sockets as u64,
        agent_delivered: agent_delivered.load(Ordering::Relaxed),
        agent_delivery_latency: percentiles(&mut agent_lat),
        max_send_lag_ms: max_lag.as_secs_f64() * 1000.0,
        server_cpu_cores: server_cpu,
        generator_cpu_cores: gen_cpu,
        server_rss_idle_mb: idle_rss,
        server_rss_after_connect_mb: rss_after_connect,
        server_rss_peak_mb: peak,
    };
    write_json(&c.json_out, &summary)
}

// ---------------------------------------------------------------------------------------------
// The baseline server.

mod baseline {
    use super::*;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;

    /// A visitor: their live sockets and their conversation's next seq.
    struct Visitor {
        customer_id: u64,
        seq: u64,
        sockets: Vec<(u64, mpsc::Sender<Arc<str>>)>,
    }

    #[derive(Default)]
    struct State {
        visitors: Mutex<HashMap<String, Visitor>>,
        next_id: AtomicU64,
        ws_read_buffer: usize,
    }

    pub async fn serve(listen: SocketAddr, ws_read_buffer: usize) -> Result<()> {
        let listener = TcpListener::bind(listen).await?;
        eprintln!("baseline server listening on {}", listener.local_addr()?);
        let state = Arc::new(State {
            ws_read_buffer,
            ..State::default()
        });
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            tokio::spawn(async move {
                let _ = connection(stream, state).await;
            });
        }
    }

    fn response(out: &mut Vec<u8>, status: &str, body: &[u8]) {
        use std::io::Write;
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        out.extend_from_slice(body);
    }

    fn error(out: &mut Vec<u8>, status: &str, code: &str) {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"{code}"}}}}"#);
        response(out, status, body.as_bytes());
    }

    async fn connection(mut stream: TcpStream, state: Arc<State>) -> Result<()> {
        let mut buf = Vec::with_capacity(8192);
        let mut out = Vec::with_capacity(1024);
        while let Some(head) = read_head(&mut stream, &mut buf).await? {
            let body = read_body(&mut stream, &mut buf, &head).await?;
            let mut parts = head.first.split(' ');
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            out.clear();
            match (method, path) {
                ("POST", "/api/v1/widget/sessions") => {
                    #[derive(serde::Deserialize)]
                    struct Req {
                        #[allow(dead_code)]
                        shop: Option<String>,
                    }
                    if !body.is_empty() && serde_json::from_slice::<Req>(&body).is_err() {
                        error(&mut out, "400 Bad Request", "bad_request");
                    } else {
                        let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                        let token = format!("kfv_{id:016x}{:016x}", run_id());
                        state.visitors.lock().unwrap().insert(
                            token.clone(),
                            Visitor {
                                customer_id: id,
                                seq: 0,
                                sockets: vec![],
                            },
                        );
                        let resp = serde_json::to_vec(
                            &serde_json::json!({ "visitor_token": token, "customer_id": id }),
                        )?;
                        response(&mut out, "201 Created", &resp);
                    }
                }
                ("POST", "/api/v1/widget/messages") => {
                    #[derive(serde::Deserialize)]
                    struct Req {
                        body: String,
                        client_msg_id: String,
                    }
                    let token = head
                        .header("authorization")
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or("");
                    match serde_json::from_slice::<Req>(&body) {
                        Err(_) => error(&mut out, "400 Bad Request", "bad_request"),
                        Ok(req) => {
                            let id = state.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                            let created_at = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_millis() as u64)
                                .unwrap_or(0);
                            let sockets_and_frame = {
                                let mut visitors = state.visitors.lock().unwrap();
                                visitors.get_mut(token).map(|v| {
                                    v.seq += 1;
                                    (
                                        v.customer_id,
                                        v.seq,
                                        v.sockets
                                            .iter()
                                            .map(|(_, s)| s.clone())
                                            .collect::<Vec<_>>(),
                                    )
                                })
                            };
                            match sockets_and_frame {
                                None => error(&mut out, "401 Unauthorized", "unauthorized"),
                                Some((customer_id, seq, sockets)) => {
                                    // The same shape as kefu's message.created frame.
                                    let frame: Arc<str> = serde_json::json!({
                                        "type": "message.created",
                                        "conversation_id": customer_id,
                                        "message": {
                                            "id": id, "conversation_id": customer_id, "seq": seq,
                                            "sender_type": "customer", "sender_id": customer_id, "sender_name": "visitor",
                                            "body": req.body, "private": false, "client_msg_id": req.client_msg_id,
                                            "created_at": created_at,
                                        }
                                    })
                                    .to_string()
                                    .into();
                                    for s in sockets {
                                        let _ = s.try_send(frame.clone());
                                    }
                                    let resp = serde_json::to_vec(&serde_json::json!({
                                        "id": id, "conversation_id": customer_id, "seq": seq, "created_at": created_at
                                    }))?;
                                    response(&mut out, "201 Created", &resp);
                                }
                            }
                        }
                    }
                }
                ("GET", "/api/v1/widget/ws") => {
                    let token = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("token="))
                        .unwrap_or("")
                        .to_owned();
                    let key = head.header("sec-websocket-key").map(str::to_owned);
                    let known = state.visitors.lock().unwrap().contains_key(&token);
                    match key {
                        Some(key) if known => {
                            let accept = derive_accept_key(key.as_bytes());
                            let resp = format!(
                                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
                            );
                            stream.write_all(resp.as_bytes()).await?;
                            let ws = WebSocketStream::from_partially_read(
                                stream,
                                std::mem::take(&mut buf),
                                Role::Server,
                                Some(ws_config(state.ws_read_buffer)),
                            )
                            .await;
                            return websocket(ws, token, state).await;
                        }
                        Some(_) => error(&mut out, "401 Unauthorized", "unauthorized"),
                        None => error(&mut out, "400 Bad Request", "bad_request"),
                    }
                }
                _ => error(&mut out, "404 Not Found", "not_found"),
            }
            stream.write_all(&out).await?;
        }
        Ok(())
    }

    async fn websocket(
        ws: WebSocketStream<TcpStream>,
        token: String,
        state: Arc<State>,
    ) -> Result<()> {
        static SOCKET_IDS: AtomicU64 = AtomicU64::new(0);
        let socket_id = SOCKET_IDS.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::channel::<Arc<str>>(256);
        if let Some(v) = state.visitors.lock().unwrap().get_mut(&token) {
            v.sockets.push((socket_id, tx));
        }
        let (mut sink, mut stream) = ws.split();
        let writer = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if sink
                    .send(WsMessage::Text(frame.as_ref().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        while let Some(Ok(msg)) = stream.next().await {
            if msg.is_close() {
                break;
            }
        }
        if let Some(v) = state.visitors.lock().unwrap().get_mut(&token) {
            v.sockets.retain(|(id, _)| *id != socket_id);
        }
        writer.abort();
        Ok(())
    }
}
