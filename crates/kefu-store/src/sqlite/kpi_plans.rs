//! The KPI aggregates (`areas/kpi.rs`) read index ranges, never a whole table: SQLite's query
//! plans of each statement, for every grouping, with and without the split by day.

use super::SqliteStore;
use super::kpi::{reminders_sql, replies_sql, sales_sql, sessions_sql, silent_sql};
use kefu_core::kpi::{KpiGroup, KpiQuery, KpiSettings};
use kefu_core::time::Millis;
use sqlx::AssertSqlSafe;

/// The plan's lines of `sql` (parameters unbound: the plan does not depend on their values).
async fn plan(store: &SqliteStore, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(store.reader())
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    rows.into_iter()
        .map(|r| format!("{}<{} {}", r.0, r.1, r.3))
        .collect()
}

/// What a plan may scan whole: the statements' own intermediate results (CTEs, the union of
/// partial counts), never a table. Every table alias in `areas/kpi.rs` differs from these names.
const RESULTS: &[&str] = &[
    "r", "q", "oc", "ob", "ok", "parts", "a", "cs", "cp", "w", "wt", "resp", "s", "f", "g", "rk",
];

#[tokio::test]
async fn kpi_aggregates_search_indexes_and_scan_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    for group in [KpiGroup::Agent, KpiGroup::Team, KpiGroup::Shop] {
        for day_offset_min in [None, Some(480)] {
            let q = KpiQuery {
                shop_id: 1,
                from: Millis(0),
                to: Millis(1),
                group,
                agent_id: None,
                day_offset_min,
                settings: KpiSettings::default(),
                reminder_outcome_hours: 24,
                now: Millis(0),
            };
            for (name, sql) in [
                ("sales", sales_sql(&q)),
                ("replies", replies_sql(&q)),
                ("sessions", sessions_sql(&q)),
                ("reminders", reminders_sql(&q)),
                ("silent", silent_sql(&q)),
            ] {
                let lines = plan(&store, &sql).await;
                // A full scan reads "SCAN <name>"; tables must only ever appear under SEARCH.
                for line in &lines {
                    let detail = line.split_once(' ').map_or(line.as_str(), |(_, d)| d);
                    if let Some(rest) = detail.strip_prefix("SCAN ") {
                        let what = rest.split(' ').next().unwrap_or_default();
                        assert!(
                            RESULTS.contains(&what) || what.starts_with("(subquery-"),
                            "{name} ({group:?}, {day_offset_min:?}) scans {what}: {line}\n{lines:#?}"
                        );
                    }
                }
                println!(
                    "{name} {group:?} {day_offset_min:?}\n  {}",
                    lines.join("\n  ")
                );
            }
        }
    }
}
