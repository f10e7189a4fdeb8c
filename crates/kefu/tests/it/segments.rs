//! Integration scenarios of the segments area, against both backends: metrics and tiers for a known
//! set of orders, exact Pareto numbers, churn evidence, rules validation, incremental recompute
//! after new orders, isolation between shops.
//!
//! Orders go in through the commerce store (`apply_commerce`, the path every ingest shares) and the
//! touched customers are recomputed with `recompute_customers`, as the ingest paths do.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use kefu_core::segments::DAY_MS;
use kefu_core::time::Millis;
use serde_json::{Value, json};
use std::sync::LazyLock;

/// One "now" for every order of the run, so intervals between orders are exact whole days.
static BASE: LazyLock<i64> = LazyLock::new(|| Millis::now().0);

/// One order of `buyer`, `days_ago` days ago, for `cents`; `refund` cents refunded (0: none).
fn order(buyer: &str, n: usize, days_ago: i64, cents: i64, paid: bool, refund: i64) -> Value {
    let placed = *BASE - days_ago * DAY_MS;
    let mut o = json!({
        "order_no": format!("{buyer}-{n}"),
        "buyer": {"external_id": buyer, "name": buyer},
        "placed_at": placed,
        "items": [{"sku": "SKU-1", "name": "数据线", "quantity": 1, "unit_price_cents": cents}],
    });
    if paid {
        o["paid_at"] = json!(placed + 60_000);
    }
    if refund > 0 {
        o["refunds"] = json!([{"refund_no": format!("R-{buyer}-{n}"), "amount_cents": refund}]);
    }
    o
}

/// Stores one buyer's orders and recomputes them (as ingest does); returns the customer id.
async fn buy(s: &TestServer, shop_id: Id, orders: Vec<Value>) -> Id {
    let docs = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let input: OrderInput = serde_json::from_value(o.clone()).expect("order input");
            (
                i,
                validate_order(&format!("orders[{i}]"), &input).expect("valid order"),
            )
        })
        .collect();
    let outcome = s
        .store
        .apply_commerce(shop_id, CommerceChange::Orders(docs), None)
        .await
        .expect("apply orders");
    assert_eq!(outcome.failed, 0, "{:?}", outcome.items);
    assert_eq!(outcome.touched_customer_ids.len(), 1);
    let id = outcome.touched_customer_ids[0];
    s.store
        .recompute_customers(shop_id, &[id])
        .await
        .expect("recompute");
    id
}

async fn recompute(s: &TestServer, admin: &Agent) -> Value {
    s.post("/api/v1/segments/recompute", Some(&admin.token), json!({}))
        .await
        .expect(200)
        .clone()
}

async fn segments_of(s: &TestServer, agent: &Agent, customer: Id) -> Value {
    s.get(
        &format!("/api/v1/customers/{customer}/segments"),
        Some(&agent.token),
    )
    .await
    .expect(200)["segments"]
        .clone()
}

fn count(summary: &Value, dim: &str, key: &str) -> i64 {
    summary[dim]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no {dim}.{key} in {summary}"))["count"]
        .as_i64()
        .unwrap()
}

both!(metrics_and_tiers, metrics_and_tiers_body);
async fn metrics_and_tiers_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    // Alice: six orders of ¥100 over 250 days, ¥50 of one refunded.
    let alice = buy(
        &s,
        shop,
        (0..6)
            .map(|i| {
                order(
                    "alice",
                    i,
                    251 - i as i64 * 50,
                    10_000,
                    true,
                    if i == 2 { 5_000 } else { 0 },
                )
            })
            .collect(),
    )
    .await;
    // Bob: one big order. Carol: two small ones, both partly refunded. Dave: one small one.
    let bob = buy(&s, shop, vec![order("bob", 0, 20, 200_000, true, 0)]).await;
    let carol = buy(
        &s,
        shop,
        vec![
            order("carol", 0, 40, 3_000, true, 1_000),
            order("carol", 1, 30, 3_000, true, 1_000),
        ],
    )
    .await;
    let dave = buy(&s, shop, vec![order("dave", 0, 10, 1_000, true, 0)]).await;
    // Erin never paid.
    let erin = buy(&s, shop, vec![order("erin", 0, 5, 9_999, false, 0)]).await;

    let report = recompute(&s, &admin).await;
    assert_eq!(report["full"], true);
    assert_eq!(report["customers"], 5);

    let a = segments_of(&s, &agent, alice).await;
    assert_eq!(a["metrics"]["paid_orders"], 6);
    assert_eq!(a["metrics"]["revenue_cents"], 55_000);
    assert_eq!(a["metrics"]["signals"]["refunds"], 1);
    assert_eq!(a["metrics"]["median_interval_ms"], 50 * DAY_MS);
    assert_eq!(a["tier"], "suitable");
    assert_eq!(a["groups"]["high_volume"], true);
    assert_eq!(a["groups"]["demanding"], false);
    // Top 20 % of four buyers is one: Bob.
    let b = segments_of(&s, &agent, bob).await;
    assert_eq!(b["tier"], "key");
    assert_eq!(b["groups"]["key"], true);
    // Four buyers fill quintiles 1-4 (like NTILE(5)); the top one scores highest.
    assert_eq!(b["m_score"], 4);
    let c = segments_of(&s, &agent, carol).await;
    assert_eq!(c["tier"], "suitable");
    assert_eq!(c["metrics"]["revenue_cents"], 4_000);
    assert_eq!(c["groups"]["demanding"], true, "{c}");
    let d = segments_of(&s, &agent, dave).await;
    assert_eq!(d["tier"], "general");
    assert!(d["rfm_segment"].is_string());
    let e = segments_of(&s, &agent, erin).await;
    assert_eq!(e["tier"], "general");
    assert_eq!(e["metrics"]["paid_orders"], 0);
    assert_eq!(e["r_score"], 0);
    assert!(e["rfm_segment"].is_null());

    let summary = s
        .get("/api/v1/segments/summary", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(summary["customers"], 5);
    assert_eq!(summary["buyers"], 4);
    assert_eq!(count(&summary, "tiers", "key"), 1);
    assert_eq!(count(&summary, "tiers", "suitable"), 2);
    assert_eq!(count(&summary, "tiers", "general"), 2);
    assert_eq!(count(&summary, "groups", "high_volume"), 1);
    assert_eq!(count(&summary, "groups", "demanding"), 1);
    let rfm_total: i64 = summary["rfm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_i64().unwrap())
        .sum();
    assert_eq!(rfm_total, 4);
    assert_eq!(summary["thresholds"]["buyers"], 4);

    // Lists by tier and group, with the customer's name and evidence columns.
    let list = s
        .get(
            "/api/v1/segments/customers?tier=suitable",
            Some(&agent.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(list["total"], 2);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["customer"]["id"], alice); // highest revenue first
    assert_eq!(items[0]["customer"]["name"], "alice");
    assert_eq!(items[1]["customer"]["id"], carol);
    let list = s
        .get(
            "/api/v1/segments/customers?group=demanding",
            Some(&agent.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["customer"]["id"], carol);
    // Paging.
    let page = s
        .get(
            "/api/v1/segments/customers?limit=2&offset=2",
            Some(&agent.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["customer"]["id"], carol);
    // Bad filters name the parameter.
    for (q, field) in [
        ("tier=gold", "tier:"),
        ("group=vip", "group:"),
        ("rfm=best", "rfm:"),
        ("churn=maybe", "churn:"),
        ("sort=name", "sort:"),
        ("limit=0", "limit:"),
        ("offset=-1", "offset:"),
    ] {
        let r = s
            .get(
                &format!("/api/v1/segments/customers?{q}"),
                Some(&agent.token),
            )
            .await;
        r.expect_error(422, "validation_failed");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{q}: {}",
            r.text
        );
    }
    // Unauthenticated: 401.
    s.get("/api/v1/segments/summary", None)
        .await
        .expect_error(401, "unauthorized");
}

both!(pareto_exact, pareto_exact_body);
async fn pareto_exact_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let revenues = [6000, 2000, 400, 400, 300, 300, 200, 200, 100, 100];
    let mut ids = Vec::new();
    for (i, cents) in revenues.iter().enumerate() {
        let buyer = format!("p{i}");
        ids.push(
            buy(
                &s,
                shop,
                vec![order(&buyer, 0, 10 + i as i64, *cents, true, 0)],
            )
            .await,
        );
    }
    recompute(&s, &admin).await;
    let p = s
        .get("/api/v1/segments/pareto?top_limit=5", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    let pareto = &p["pareto"];
    assert_eq!(pareto["buyers"], 10);
    assert_eq!(pareto["total_revenue_cents"], 10_000);
    assert_eq!(pareto["top_customers"], 2);
    assert_eq!(pareto["top_revenue_cents"], 8_000);
    assert_eq!(pareto["top_customer_share"], 0.2);
    assert_eq!(pareto["target_percent"], 80);
    let points = pareto["points"].as_array().unwrap();
    assert_eq!(points.len(), 11);
    assert_eq!(points[0]["revenue_cents"], 0);
    assert_eq!(points[1]["revenue_cents"], 6_000);
    assert_eq!(points[1]["revenue_share"], 0.6);
    assert_eq!(points[10]["revenue_share"], 1.0);
    // The top group is listed (two, though five were allowed), highest first.
    let top = p["top"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0]["customer"]["id"], ids[0]);
    assert_eq!(top[1]["customer"]["id"], ids[1]);
    s.get("/api/v1/segments/pareto?top_limit=500", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
}

both!(churn_evidence, churn_evidence_body);
async fn churn_evidence_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    // Every 30 days, but the last order was 100 days ago: 3.3 × the usual interval.
    let drifting = buy(
        &s,
        shop,
        (0..4)
            .map(|i| order("drift", i, 190 - i as i64 * 30, 5_000, true, 0))
            .collect(),
    )
    .await;
    // Every 30 days, the last 10 days ago: on rhythm.
    let steady = buy(
        &s,
        shop,
        (0..4)
            .map(|i| order("steady", i, 100 - i as i64 * 30, 5_000, true, 0))
            .collect(),
    )
    .await;
    recompute(&s, &admin).await;

    let d = segments_of(&s, &agent, drifting).await;
    let churn = &d["churn"];
    assert_eq!(churn["level"], "medium", "{d}");
    assert_eq!(churn["usual_interval_days"], 30);
    assert_eq!(churn["days_since_last"], 100);
    assert_eq!(churn["days_overdue"], 70);
    assert_eq!(churn["last_order_at"], d["metrics"]["last_order_at"]);
    assert!(segments_of(&s, &agent, steady).await["churn"].is_null());

    let list = s
        .get(
            "/api/v1/segments/customers?churn=any&sort=overdue",
            Some(&agent.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(item["customer"]["id"], drifting);
    assert_eq!(item["segments"]["churn"]["days_overdue"], 70);
    assert!(item["latest_conversation_id"].is_null());
    for (level, n) in [("low", 0), ("medium", 1), ("high", 0)] {
        let list = s
            .get(
                &format!("/api/v1/segments/customers?churn={level}"),
                Some(&agent.token),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(list["total"], n, "churn={level}");
    }
    let summary = s
        .get("/api/v1/segments/summary", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(count(&summary, "churn", "medium"), 1);
    // Drifting customers are not long-standing; neither reached a year anyway.
    assert_eq!(d["groups"]["long_standing"], false);
}

both!(rules_validation, rules_validation_body);
async fn rules_validation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let supervisor = s.agent(shop, Role::Supervisor, "Sup").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let r = s
        .get("/api/v1/segments/rules", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(r["rules"], r["defaults"]);
    assert_eq!(r["rules"]["key"]["top_percent"], 20);

    // Agents may not change rules nor recompute.
    s.put(
        "/api/v1/segments/rules",
        Some(&agent.token),
        json!({"key": {"top_percent": 10}}),
    )
    .await
    .expect_error(403, "forbidden");
    s.post("/api/v1/segments/recompute", Some(&agent.token), json!({}))
        .await
        .expect_error(403, "forbidden");

    for (body, field) in [
        (json!({"key": {"top_percent": 150}}), "key.top_percent"),
        (
            json!({"key": {"min_revenue_cents": -5}}),
            "key.min_revenue_cents",
        ),
        (
            json!({"key": {"min_revenue_cents": 10_000}, "suitable": {"min_revenue_cents": 20_000}}),
            "suitable.min_revenue_cents",
        ),
        (
            json!({"suitable": {"min_orders": 0}}),
            "suitable.min_orders",
        ),
        (
            json!({"churn": {"factor_percent": 50}}),
            "churn.factor_percent",
        ),
        (
            json!({"demanding": {"min_ratio_percent": 101}}),
            "demanding.min_ratio_percent",
        ),
        (
            json!({"long_standing": {"min_days": 0}}),
            "long_standing.min_days",
        ),
        (json!({"key": {"top_percent": "ten"}}), "key.top_percent"),
        (json!({"key": {"top_pct": 10}}), "top_pct"),
    ] {
        let r = s
            .put("/api/v1/segments/rules", Some(&admin.token), body.clone())
            .await;
        r.expect_error(422, "validation_failed");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            r.text
        );
    }
    // Nothing changed.
    let r = s
        .get("/api/v1/segments/rules", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(r["rules"], r["defaults"]);

    // A partial document is completed with defaults; supervisors may change rules.
    let saved = s
        .put(
            "/api/v1/segments/rules",
            Some(&supervisor.token),
            json!({"key": {"top_percent": 10, "min_revenue_cents": 1_000_000}}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(saved["recompute"]["full"], true);
    assert_eq!(saved["rules"]["key"]["min_revenue_cents"], 1_000_000);
    assert_eq!(saved["rules"]["churn"]["factor_percent"], 200);
    let r = s
        .get("/api/v1/segments/rules", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(r["rules"]["key"]["top_percent"], 10);
}

both!(new_orders_change_tier, new_orders_change_tier_body);
async fn new_orders_change_tier_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    // The first recompute of a shop is a full one (no thresholds yet).
    let first = buy(&s, shop, vec![order("first", 0, 50, 100_000, true, 0)]).await;
    let dave = buy(&s, shop, vec![order("dave", 0, 30, 1_000, true, 0)]).await;
    assert_eq!(segments_of(&s, &admin, dave).await["tier"], "general");
    assert_eq!(segments_of(&s, &admin, first).await["tier"], "key");
    // A second order: incremental recompute, against the stored thresholds.
    let report = s
        .store
        .recompute_customers(shop, &[dave])
        .await
        .expect("recompute");
    assert!(!report.full);
    buy(&s, shop, vec![order("dave", 1, 1, 1_000, true, 0)]).await;
    let d = segments_of(&s, &admin, dave).await;
    assert_eq!(d["tier"], "suitable");
    assert_eq!(d["metrics"]["paid_orders"], 2);
    // Stricter rules: recomputed at once.
    s.put(
        "/api/v1/segments/rules",
        Some(&admin.token),
        json!({"suitable": {"min_orders": 3}}),
    )
    .await
    .expect(200);
    assert_eq!(segments_of(&s, &admin, dave).await["tier"], "general");
    // Ids of another shop are ignored by an incremental recompute.
    let other = s.create_shop("seg-other").await;
    let report = s
        .store
        .recompute_customers(other.id, &[dave])
        .await
        .expect("recompute");
    assert_eq!(report.customers, 0);
}

both!(isolation, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop_b = s.create_shop("seg-b").await;
    let admin_a = s.agent(s.shop.id, Role::Admin, "Admin A").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "Admin B").await;
    let alice = buy(&s, s.shop.id, vec![order("alice", 0, 3, 50_000, true, 0)]).await;
    recompute(&s, &admin_a).await;
    recompute(&s, &admin_b).await;
    segments_of(&s, &admin_a, alice).await;
    for path in [
        format!("/api/v1/customers/{alice}/segments"),
        "/api/v1/customers/999999/segments".to_owned(),
        "/api/v1/customers/abc/segments".to_owned(),
    ] {
        s.get(&path, Some(&admin_b.token))
            .await
            .expect_error(404, "not_found");
    }
    let list = s
        .get("/api/v1/segments/customers", Some(&admin_b.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(list["total"], 0);
    let summary = s
        .get("/api/v1/segments/summary", Some(&admin_b.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(summary["customers"], 0);
    let p = s
        .get("/api/v1/segments/pareto", Some(&admin_b.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(p["pareto"]["buyers"], 0);
    assert_eq!(p["top"].as_array().unwrap().len(), 0);
    // Shop B's rules are its own.
    s.put(
        "/api/v1/segments/rules",
        Some(&admin_b.token),
        json!({"key": {"top_percent": 50}}),
    )
    .await
    .expect(200);
    let a = s
        .get("/api/v1/segments/rules", Some(&admin_a.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(a["rules"]["key"]["top_percent"], 20);
    // A customer without computed segments shows as not computed (general, no badges).
    let fresh = s.shopper().await;
    let r = s
        .get(
            &format!("/api/v1/customers/{}/segments", fresh.customer_id),
            Some(&admin_a.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(r["computed"], false);
    assert_eq!(r["segments"]["tier"], "general");
}

// ---- across areas: ingest → segments, the customers list filtered by segments, merge ----

both!(
    ingest_segments_filters_merge,
    ingest_segments_filters_merge_body
);
async fn ingest_segments_filters_merge_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let t = Some(admin.token.as_str());
    // Orders arrive through the batch API: the ingest path itself must score the buyers.
    let mut orders: Vec<Value> = (0..5)
        .map(|i| order("big", i, 200 - i as i64 * 40, 100_000, true, 0))
        .collect();
    orders.push(order("small", 0, 30, 1_000, true, 0));
    orders.push(order("dup", 0, 20, 5_000, true, 0));
    s.post("/api/v1/orders/batch", t, json!({ "orders": orders }))
        .await
        .expect(200);
    let list = |query: &'static str| {
        let s = &s;
        async move {
            let page = s.get(&format!("/api/v1/customers?{query}"), t).await;
            let page = page.expect(200).clone();
            let mut names: Vec<String> = page["customers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(list("").await, ["big", "dup", "small"]);
    // Spend bounds are yuan, exact: big spent ¥5,000, dup ¥50, small ¥10.
    assert_eq!(list("spend_min=5000").await, ["big"]);
    assert_eq!(list("spend_min=10&spend_max=50").await, ["small"]);
    assert_eq!(
        list("spend_min=10.00&spend_max=50.01").await,
        ["dup", "small"]
    );
    // The tier the segments area gave the big buyer filters the customers list too.
    let big_id = s.get("/api/v1/customers?q=big", t).await.expect(200)["customers"][0]["id"]
        .as_i64()
        .unwrap();
    let big = segments_of(&s, &admin, big_id).await;
    let tier = big["tier"].as_str().unwrap().to_owned();
    let by_tier = s.get(&format!("/api/v1/customers?tier={tier}"), t).await;
    let ids: Vec<i64> = by_tier.expect(200)["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&big_id), "tier {tier}: {ids:?}");
    // Bad filters are 422s naming the parameter, and change nothing.
    s.get("/api/v1/customers?tier=gold", t)
        .await
        .expect_error(422, "validation_failed");
    let r = s.get("/api/v1/customers?spend_min=abc", t).await;
    r.expect_error(422, "validation_failed");
    assert!(r.body.to_string().contains("spend_min"), "{}", r.body);

    // Merge: the survivor owns the source's orders and its metrics count them; the source leaves
    // the segment lists.
    let dup_id = s.get("/api/v1/customers?q=dup", t).await.expect(200)["customers"][0]["id"]
        .as_i64()
        .unwrap();
    s.post(
        &format!("/api/v1/customers/{big_id}/merge"),
        t,
        json!({ "source_id": dup_id }),
    )
    .await
    .expect(200);
    let orders = s
        .get(&format!("/api/v1/orders?customer_id={big_id}"), t)
        .await;
    assert_eq!(orders.expect(200)["orders"].as_array().unwrap().len(), 6);
    let merged = segments_of(&s, &admin, big_id).await;
    assert_eq!(merged["metrics"]["paid_orders"], 6);
    assert_eq!(merged["metrics"]["revenue_cents"], 505_000);
    let listed = s.get("/api/v1/segments/customers?limit=50", t).await;
    let listed_ids: Vec<i64> = listed.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["customer"]["id"].as_i64().unwrap())
        .collect();
    assert!(!listed_ids.contains(&dup_id), "{listed_ids:?}");
    assert_eq!(list("").await, ["big", "small"]);
    // The survivor's timeline shows the orders, its own and the merged one's, newest first.
    let timeline = s
        .get(&format!("/api/v1/customers/{big_id}/timeline?limit=50"), t)
        .await;
    let items = timeline.expect(200)["items"].as_array().unwrap().clone();
    let placed: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "order.placed")
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        placed,
        ["dup-0", "big-4", "big-3", "big-2", "big-1", "big-0"]
    );
    let paid = items.iter().find(|i| i["kind"] == "order.paid").unwrap();
    assert_eq!(paid["title"], "dup-0");
    assert_eq!(paid["summary"], "¥50.00");
}
