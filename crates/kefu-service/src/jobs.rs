//! Scheduled jobs of a running server.
//!
//! Segments depend on time, not only on orders: a customer who buys nothing drifts from "recent" to
//! "lapsed" and into churn risk while no order arrives to trigger the incremental recompute. So every
//! shop is fully recomputed once a day, at a quiet hour.

use kefu_core::store::Store;
use std::sync::Arc;
use std::time::Duration;

const DAY_SECS: u64 = 86_400;

/// Seconds from `now_secs` (Unix time) until the next `hour_utc`:00 UTC (a full day when it is exactly now).
pub fn secs_until_daily(now_secs: u64, hour_utc: u8) -> u64 {
    let target = u64::from(hour_utc % 24) * 3_600;
    let today = now_secs % DAY_SECS;
    if today < target {
        target - today
    } else {
        DAY_SECS - today + target
    }
}

/// Runs the daily full segment recompute of every shop at `hour_utc` until the process ends.
/// Failures are logged and retried the next day; one shop's failure does not stop the others.
pub fn spawn_daily_segment_recompute(store: Arc<dyn Store>, hour_utc: u8) {
    tokio::spawn(async move {
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(secs_until_daily(now, hour_utc))).await;
            recompute_all(store.as_ref()).await;
        }
    });
}

async fn recompute_all(store: &dyn Store) {
    let shops = match store.segmented_shops().await {
        Ok(shops) => shops,
        Err(e) => {
            tracing::warn!(error = %e, "daily segment recompute: cannot list shops");
            return;
        }
    };
    for shop_id in shops {
        match store.recompute_shop(shop_id).await {
            Ok(report) => tracing::info!(
                shop_id,
                customers = report.customers,
                took_ms = report.took_ms,
                "daily segment recompute"
            ),
            Err(e) => tracing::warn!(shop_id, error = %e, "daily segment recompute failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_is_the_coming_hour_never_now() {
        let midnight = 20_780 * DAY_SECS; // 2026-11-23 00:00 UTC
        assert_eq!(secs_until_daily(midnight, 20), 20 * 3_600);
        assert_eq!(secs_until_daily(midnight + 20 * 3_600, 20), DAY_SECS);
        assert_eq!(secs_until_daily(midnight + 21 * 3_600, 20), 23 * 3_600);
        assert_eq!(secs_until_daily(midnight + 19 * 3_600 + 59 * 60, 20), 60);
    }
}
