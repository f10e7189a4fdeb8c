//! `tickets-seed` and `tickets`: the ticket list and SLA evaluation at 1,000,000 tickets.
//!
//! `tickets-seed` creates a SQLite data dir through the store (schema, shop, default categories,
//! an SLA policy, an admin) and then bulk-inserts the tickets and their SLA clocks with set-based
//! SQL (a recursive CTE per chunk of 100,000), since a million single-ticket writes would measure
//! the seeding rather than the reads. `tickets` runs against a server on that data dir: the first
//! page of a filtered view (`status=open&priority=high&category=…`), the `sla=breached` view, and
//! the SLA evaluation of every open ticket (`GET /api/v1/sla/overview`, one set-based statement).

use crate::{Client, host_port, percentiles};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use kefu_core::model::{NewUser, Role};
use kefu_core::sla_policies::SlaStore;
use kefu_core::store::Store;
use kefu_core::tickets::TicketStore;
use kefu_core::time::Millis;
use sqlx::Connection;
use std::time::Instant;

#[derive(Args, Clone)]
pub struct SeedArgs {
    /// The data dir to create (must not hold a database yet).
    #[arg(long)]
    data_dir: std::path::PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// The admin account created for the benchmark.
    #[arg(long, default_value = "bench@tickets.kefu")]
    email: String,
    #[arg(long, env = "KEFU_BENCH_PASSWORD")]
    password: String,
}

const DAY: i64 = 86_400_000;
const CHUNK: i64 = 100_000;

pub async fn seed(args: SeedArgs) -> Result<()> {
    let db = args.data_dir.join("kefu.db");
    if db.exists() {
        bail!("{} exists: seed a fresh data dir", db.display());
    }
    let started = Instant::now();
    let store = kefu_store::SqliteStore::open_dir(&args.data_dir).await?;
    let shop = store.ensure_default_shop().await?;
    let categories = store.ticket_categories(shop.id).await?;
    let category_ids: Vec<i64> = categories
        .iter()
        .filter(|c| c.parent_id.is_some())
        .map(|c| c.id)
        .collect();
    if category_ids.is_empty() {
        bail!("no sub-categories were seeded");
    }
    let input: kefu_core::sla_policies::SlaPolicyInput = serde_json::from_value(
        serde_json::json!({"name": "标准", "first_response_minutes": 240, "resolution_minutes": 2880}),
    )?;
    let policy = store
        .create_sla_policy(shop.id, &input.validated()?)
        .await?;
    let hash = kefu_service::passwords::hash_password(args.password.clone()).await?;
    store
        .create_user(NewUser {
            shop_id: shop.id,
            email: args.email.clone(),
            name: "Bench".into(),
            role: Role::Admin,
            team_id: None,
            password_hash: hash,
        })
        .await?;
    drop(store);

    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await?;
    let now = Millis::now().0;
    let cats = category_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let k = category_ids.len();
    // Statuses: 30% open, 10% new, 10% pending on the customer, 5% on a third party, 25% resolved,
    // 20% closed. Priorities cycle low/normal/high/urgent; created over the last 365 days.
    let status_case = "CASE WHEN n % 20 < 6 THEN 'open' WHEN n % 20 < 8 THEN 'new' \
         WHEN n % 20 < 10 THEN 'pending_customer' WHEN n % 20 < 11 THEN 'pending_third_party' \
         WHEN n % 20 < 16 THEN 'resolved' ELSE 'closed' END";
    let mut from = 1;
    while from <= args.tickets {
        let to = (from + CHUNK - 1).min(args.tickets);
        let mut tx = conn.begin().await?;
        let sql = format!(
            "WITH RECURSIVE seq(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM seq WHERE n < {to}), \
             cats(pos, id) AS (SELECT key, value FROM json_each('[{cats}]')) \
             INSERT INTO tickets (shop_id, number, subject, description, category_id, priority, status, \
               channel, created_at, updated_at, resolved_at) \
             SELECT {shop}, n, '工单 ' || n, '', (SELECT id FROM cats WHERE pos = n % {k}), \
               CASE n % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'normal' WHEN 2 THEN 'high' ELSE 'urgent' END, \
               {status_case}, 'api', {now} - (n * 7919) % (365 * {DAY}), {now} - (n * 7919) % (365 * {DAY}) + (n % 1000) * 1000, \
               CASE WHEN n % 20 >= 11 THEN {now} - (n * 7919) % (365 * {DAY}) + 3600000 END \
             FROM seq",
            shop = shop.id,
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .context("insert tickets")?;
        tx.commit().await?;
        from = to + 1;
    }
    sqlx::query("INSERT INTO ticket_counters (shop_id, last_number) VALUES ($1, $2) ON CONFLICT (shop_id) DO UPDATE SET last_number = excluded.last_number")
        .bind(shop.id)
        .bind(args.tickets)
        .execute(&mut conn)
        .await?;
    // Clocks: first response and resolution for every ticket not resolved or closed. Open and new
    // ones run (due times spread from 3 days ago to 3 days ahead, so some are breached and some
    // warned); pending ones are paused. Resolved and closed tickets have met clocks.
    for (metric, target) in [
        ("first_response", 240 * 60_000i64),
        ("resolution", 2880 * 60_000),
    ] {
        let sql = format!(
            "INSERT INTO ticket_sla_clocks (shop_id, ticket_id, metric, policy_id, target_ms, used_ms, \
               running_since, met_at, due_at, warn_at, updated_at) \
             SELECT shop_id, id, '{metric}', {policy}, {target}, \
               CASE WHEN status IN ('pending_customer', 'pending_third_party') THEN {target} / 2 ELSE 0 END, \
               CASE WHEN status IN ('open', 'new') THEN created_at END, \
               CASE WHEN status IN ('resolved', 'closed') THEN resolved_at END, \
               CASE WHEN status IN ('open', 'new') THEN {now} + (id * 104729) % (6 * {DAY}) - 3 * {DAY} END, \
               CASE WHEN status IN ('open', 'new') THEN {now} + (id * 104729) % (6 * {DAY}) - 3 * {DAY} - 1800000 END, \
               {now} FROM tickets WHERE shop_id = {shop}",
            policy = policy.id,
            shop = shop.id,
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .context("insert clocks")?;
    }
    // A running server would have warned and escalated what is already past: mark it so, so the
    // escalation task only handles clocks falling due during the run (about one a second).
    for sql in [
        format!("UPDATE ticket_sla_clocks SET warned_at = warn_at WHERE warn_at <= {now}"),
        format!(
            "UPDATE ticket_sla_clocks SET escalated_at = due_at, breached_at = due_at WHERE due_at <= {now}"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .context("mark past warnings and breaches")?;
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT ticket_id) FROM ticket_sla_clocks WHERE met_at IS NULL",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    println!(
        "seeded {} tickets ({open} with open SLA clocks) in {:.1} s; admin {}",
        args.tickets,
        started.elapsed().as_secs_f64(),
        args.email
    );
    Ok(())
}

#[derive(Args, Clone)]
pub struct ListArgs {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value = "bench@tickets.kefu")]
    email: String,
    #[arg(long, env = "KEFU_BENCH_PASSWORD")]
    password: String,
    /// Requests per measured view.
    #[arg(long, default_value_t = 500)]
    requests: usize,
    /// SLA evaluations (`/api/v1/sla/overview`) to time.
    #[arg(long, default_value_t = 20)]
    evaluations: usize,
    /// The sub-category key of the filtered view.
    #[arg(long, default_value = "damaged_item")]
    category: String,
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

async fn timed(
    client: &mut Client,
    path: &str,
    token: &str,
    n: usize,
) -> Result<(crate::Percentiles, serde_json::Value)> {
    let mut samples = Vec::with_capacity(n);
    let mut last = serde_json::Value::Null;
    for _ in 0..n {
        let started = Instant::now();
        let (status, body) = client.get(path, Some(token)).await?;
        samples.push(started.elapsed().as_micros() as u32);
        if status != 200 {
            bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        last = serde_json::from_slice(&body)?;
    }
    Ok((percentiles(&mut samples), last))
}

pub async fn list(args: ListArgs) -> Result<()> {
    let addr = host_port(&args.url)?;
    let mut client = Client::connect(&addr).await?;
    let login =
        serde_json::to_vec(&serde_json::json!({"email": args.email, "password": args.password}))?;
    let (status, body) = client.post("/api/v1/auth/login", None, &login).await?;
    if status != 200 {
        bail!("login: HTTP {status}: {}", String::from_utf8_lossy(&body));
    }
    let token = serde_json::from_slice::<serde_json::Value>(&body)?["token"]
        .as_str()
        .ok_or_else(|| anyhow!("no token"))?
        .to_owned();
    let (_, body) = client
        .get("/api/v1/ticket-categories", Some(&token))
        .await?;
    let cats: serde_json::Value = serde_json::from_slice(&body)?;
    let category = cats["categories"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["key"] == args.category.as_str()))
        .and_then(|c| c["id"].as_i64())
        .ok_or_else(|| anyhow!("no category {}", args.category))?;
    let mut summary = serde_json::json!({});
    for (name, path, n) in [
        (
            "filtered view (status=open&priority=high&category)",
            format!("/api/v1/tickets?status=open&priority=high&category={category}"),
            args.requests,
        ),
        (
            "open tickets, newest change first",
            "/api/v1/tickets?status=open".to_owned(),
            args.requests,
        ),
        (
            "breached SLA view (sla=breached)",
            "/api/v1/tickets?sla=breached".to_owned(),
            args.requests,
        ),
        (
            "SLA evaluation of all open tickets (/api/v1/sla/overview)",
            "/api/v1/sla/overview".to_owned(),
            args.evaluations,
        ),
    ] {
        // One warm-up request (page cache, prepared statements).
        client.get(&path, Some(&token)).await?;
        let (p, last) = timed(&mut client, &path, &token, n).await?;
        let shown = match last.get("tickets") {
            Some(t) => format!("{} tickets on the page", t.as_array().map_or(0, Vec::len)),
            None => last.to_string(),
        };
        println!(
            "{name}: {n} requests, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({shown})",
            p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
        summary[name] = serde_json::to_value(p)?;
    }
    if let Some(out) = args.json_out {
        std::fs::write(out, serde_json::to_vec_pretty(&summary)?)?;
    }
    Ok(())
}
