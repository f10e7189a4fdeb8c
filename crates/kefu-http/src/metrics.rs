//! Prometheus metrics (issue 20, item 13), served on a listener of their own
//! (`--metrics-listen`, off by default) so they are never public with the API.
//!
//! - `kefu_http_requests_total{method,route,status}` and `kefu_http_request_duration_seconds`
//!   (histogram) per route template (`/api/v1/conversations/{id}`), never per raw path, so the
//!   number of series stays bounded;
//! - `kefu_messages_persisted_total{sender}` (kefu-service), `kefu_sqlite_writer_batch_jobs` and
//!   `kefu_sqlite_writer_batch_seconds` (kefu-store's writer);
//! - at each scrape: `kefu_sockets{kind}` (agent and shopper WebSockets), the database pool
//!   (`kefu_db_pool_connections`, `kefu_db_pool_idle`) and the queue
//!   (`kefu_conversations_open`, `kefu_conversations_unassigned`).
//!
//! Without `--metrics-listen` no recorder is installed and every `metrics::` call is a no-op.

use crate::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether a recorder is installed: until then the request middleware does nothing at all, not
/// even build its labels.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the process-wide recorder (once; later calls return `None`).
pub fn install() -> Option<PrometheusHandle> {
    let handle = build()?;
    INSTALLED.store(true, Ordering::Relaxed);
    Some(handle)
}

fn build() -> Option<PrometheusHandle> {
    const SECONDS: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    const JOBS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .ok()?
        .set_buckets_for_metric(Matcher::Suffix("_jobs".into()), JOBS)
        .ok()?
        .install_recorder()
        .ok()
}

/// Middleware: counts each request and times it by its route template.
pub async fn track(request: Request, next: Next) -> Response {
    if !INSTALLED.load(Ordering::Relaxed) {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        // Unrouted paths (console pages, assets, probes of nothing) share one label.
        .unwrap_or_else(|| "other".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("kefu_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("kefu_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[derive(Clone)]
struct MetricsState {
    app: AppState,
    handle: PrometheusHandle,
}

/// The metrics listener's router: `GET /metrics` in Prometheus' text format.
pub fn router(app: AppState, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { app, handle })
}

async fn scrape(State(s): State<MetricsState>) -> Response {
    let (agents, shoppers) = s.app.hub.counts();
    metrics::gauge!("kefu_sockets", "kind" => "agent").set(agents as f64);
    metrics::gauge!("kefu_sockets", "kind" => "shopper").set(shoppers as f64);
    match s.app.store.operational_figures().await {
        Ok(f) => {
            metrics::gauge!("kefu_db_pool_connections").set(f64::from(f.pool_size));
            metrics::gauge!("kefu_db_pool_idle").set(f64::from(f.pool_idle));
            metrics::gauge!("kefu_conversations_open").set(f.open_conversations as f64);
            metrics::gauge!("kefu_conversations_unassigned").set(f.unassigned_conversations as f64);
            metrics::gauge!("kefu_db_up").set(1.0);
        }
        Err(_) => metrics::gauge!("kefu_db_up").set(0.0),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.handle.render(),
    )
        .into_response()
}
