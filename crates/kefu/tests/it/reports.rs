//! The complaints report through the API: counts by category and root cause, response and
//! resolution medians, compensation cost, trend buckets, the CSV export, roles and isolation.

use crate::both;
use crate::harness::*;
use kefu_core::model::{Id, Role};
use serde_json::{Value, json};

async fn category(s: &TestServer, a: &Agent, key: &str) -> Id {
    s.get("/api/v1/ticket-categories", Some(&a.token))
        .await
        .expect(200)["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no category {key}"))["id"]
        .as_i64()
        .unwrap()
}

async fn ticket(s: &TestServer, a: &Agent, subject: &str, category_id: Option<Id>) -> Id {
    let mut body = json!({"subject": subject, "priority": "normal"});
    if let Some(c) = category_id {
        body["category_id"] = json!(c);
    }
    s.post("/api/v1/tickets", Some(&a.token), body)
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap()
}

/// Today's date in Shanghai, and the date `days` before it.
fn shanghai_day(days_before: i64) -> String {
    let now = kefu_core::time::Millis::now().0 + 8 * 3_600_000 - days_before * 86_400_000;
    kefu_core::time::Millis(now).to_rfc3339()[..10].to_string()
}

both!(complaints_report_counts_and_exports, report_body);
async fn report_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let damaged = category(&s, &admin, "damaged_item").await;
    let late = category(&s, &admin, "late").await;

    let t1 = ticket(&s, &admin, "杯子破损", Some(damaged)).await;
    let _t2 = ticket(&s, &admin, "=HYPERLINK(\"x\") 碗也碎了", Some(damaged)).await;
    let _t3 = ticket(&s, &admin, "快递五天没到", Some(late)).await;
    let _t4 = ticket(&s, &admin, "发票怎么开", None).await;

    // t1: answered, compensated, resolved with its root causes.
    s.post(
        &format!("/api/v1/tickets/{t1}/entries"),
        Some(&admin.token),
        json!({"kind": "public", "body": "非常抱歉，马上为您处理"}),
    )
    .await
    .expect(201);
    s.post(
        &format!("/api/v1/tickets/{t1}/compensations"),
        Some(&admin.token),
        json!({"kind": "refund", "amount_cents": 3000, "cost_cents": 3000, "note": "部分退款"}),
    )
    .await
    .expect(201);
    s.request(
        reqwest::Method::PATCH,
        &format!("/api/v1/tickets/{t1}"),
        Some(&admin.token),
        Some(json!({"status": "resolved", "root_causes": ["包装不足"], "handling_result": "部分退款 30 元"})),
    )
    .await
    .expect(200);

    let (from, to) = (shanghai_day(6), shanghai_day(0));
    let path = format!("/api/v1/reports/complaints?from={from}&to={to}&tz=Asia/Shanghai");
    let report = s
        .get(&path, Some(&supervisor.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(report["scope"], "complaints");
    assert_eq!(report["granularity"], "day");
    let totals = &report["totals"];
    assert_eq!(totals["tickets"], 3, "{report}");
    assert_eq!(totals["resolved"], 1);
    assert_eq!(totals["open"], 2);
    assert_eq!(totals["compensation_cost_cents"], 3000);
    assert!(totals["median_first_response_ms"].is_i64());
    assert!(totals["median_resolution_ms"].is_i64());
    let by_category = report["by_category"].as_array().unwrap();
    assert_eq!(by_category[0]["key"], "error");
    assert_eq!(by_category[0]["tickets"], 2);
    assert_eq!(by_category[0]["resolved"], 1);
    assert_eq!(by_category[0]["compensation_cost_cents"], 3000);
    assert_eq!(by_category[0]["children"][0]["key"], "damaged_item");
    assert_eq!(by_category[0]["children"][0]["name"], "破损");
    assert_eq!(by_category[1]["key"], "delivery");
    assert_eq!(
        report["by_root_cause"],
        json!([{"root_cause": "包装不足", "tickets": 1}])
    );
    assert_eq!(report["compensation_by_kind"][0]["kind"], "refund");
    let trend = report["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 7, "one bucket a day, {from}..={to}");
    assert_eq!(trend[6]["bucket"], to.as_str());
    assert_eq!(trend[6]["tickets"], 3);
    assert_eq!(trend[6]["by_category"]["error"], 2);
    assert!(report["sla"].is_array());

    // Every ticket, the uncategorised one too.
    let all = s
        .get(&format!("{path}&scope=all"), Some(&admin.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(all["totals"]["tickets"], 4);

    // Before the tickets existed: nothing.
    let before = s
        .get(
            &format!(
                "/api/v1/reports/complaints?from={}&to={}",
                shanghai_day(20),
                shanghai_day(10)
            ),
            Some(&admin.token),
        )
        .await;
    assert_eq!(before.expect(200)["totals"]["tickets"], 0);

    // The CSV: a BOM, a header, one line per complaint, formulas defused.
    let csv = s
        .get(
            &format!("/api/v1/reports/complaints.csv?from={from}&to={to}"),
            Some(&admin.token),
        )
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.text.clone();
    assert!(text.starts_with('\u{feff}'));
    let lines: Vec<&str> = text.trim_end().lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("number,created_at,subject,category,sub_category"));
    assert!(lines[1].starts_with("T-000001,"));
    assert!(lines[1].contains("差错") && lines[1].contains("破损") && lines[1].contains("30.00"));
    assert!(lines[1].contains("包装不足"));
    assert!(
        !text.contains(",=HYPERLINK"),
        "a formula cell was not defused: {text}"
    );

    // Managers only; bad input names the field.
    s.get(&path, Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    s.get("/api/v1/reports/complaints.csv", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    for (query, field) in [
        ("tz=America/New_York", "tz"),
        ("tz=Nowhere/City", "tz"),
        ("from=2026-02-30", "from"),
        ("from=yesterday", "from"),
        ("from=2026-11-10&to=2026-11-01", "to"),
        ("from=2024-01-01&to=2026-01-01", "to"),
    ] {
        let r = s
            .get(
                &format!("/api/v1/reports/complaints?{query}"),
                Some(&admin.token),
            )
            .await;
        r.expect_error(422, "validation_failed");
        assert!(r.text.contains(field), "{query}: {}", r.text);
    }
    let r = s
        .get(
            "/api/v1/reports/complaints?granularity=hour",
            Some(&admin.token),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);

    // Another shop counts only its own tickets.
    let other = s.create_shop("reports-other").await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    let theirs = s
        .get(&format!("{path}&scope=all"), Some(&other_admin.token))
        .await;
    assert_eq!(theirs.expect(200)["totals"]["tickets"], 0);
    let theirs_csv = s
        .get(
            &format!("/api/v1/reports/complaints.csv?from={from}&to={to}&scope=all"),
            Some(&other_admin.token),
        )
        .await;
    assert_eq!(theirs_csv.text.trim_end().lines().count(), 1);
    let _: Value = theirs_csv.body;
}
