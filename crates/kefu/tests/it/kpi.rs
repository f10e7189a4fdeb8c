//! Agent KPIs (客服绩效): the desk events written with the changes they record, and the figures of a
//! hand-built day — two agents, eight shoppers, orders paid inside and outside the window, a
//! transfer, a bot hand-off, a payment reminder and a silent order — against hand-computed values,
//! under each attribution setting; roles, the CSV, the trend, bad input and isolation.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, NewCustomer, Role};
use kefu_core::time::Millis;
use serde_json::{Value, json};

/// 2026-03-02 00:00 in Shanghai (the shop's zone): the day the scenario happens.
const T0: i64 = 1_772_380_800_000;
const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// `HH:MM:SS` of the scenario's day, in ms.
fn at(h: i64, m: i64, s: i64) -> i64 {
    T0 + h * HOUR + m * MIN + s * SEC
}

/// An order of `customer_id` with its times (unpaid when `paid_at` is `None`).
async fn order(
    s: &TestServer,
    shop_id: Id,
    customer_id: Id,
    no: &str,
    cents: i64,
    placed_at: i64,
    paid_at: Option<i64>,
) -> Id {
    let mut doc = json!({
        "order_no": no, "customer_id": customer_id, "placed_at": placed_at,
        "items": [{"sku": format!("SKU-{no}"), "name": "降噪耳机", "quantity": 1, "unit_price_cents": cents}]
    });
    if let Some(p) = paid_at {
        doc["paid_at"] = json!(p);
    }
    let input: OrderInput = serde_json::from_value(doc).expect("order input");
    let out = s
        .store
        .apply_commerce(
            shop_id,
            CommerceChange::Orders(vec![(0, validate_order("", &input).expect("valid order"))]),
            None,
        )
        .await
        .expect("order stored");
    assert_eq!(out.failed, 0, "{out:?}");
    out.items[0].id.expect("order id")
}

/// Moves what the API stored "now" to the scenario's times: messages by (conversation, seq),
/// desk events by (conversation, kind). The same statements run on both databases.
#[derive(Default)]
struct Times(Vec<String>);

impl Times {
    fn message(&mut self, conversation: Id, seq: i64, t: i64) {
        self.0.push(format!(
            "UPDATE messages SET created_at = {t} WHERE conversation_id = {conversation} AND seq = {seq}"
        ));
    }
    fn event(&mut self, conversation: Id, kind: &str, t: i64) {
        self.0.push(format!(
            "UPDATE desk_events SET at = {t} WHERE conversation_id = {conversation} AND kind = '{kind}'"
        ));
    }
    async fn apply(&self, s: &TestServer) {
        let sql: Vec<&str> = self.0.iter().map(String::as_str).collect();
        s.execute_sql(&sql, &sql).await;
    }
}

fn seq(v: &Value) -> i64 {
    v["seq"].as_i64().expect("seq")
}

fn cid(v: &Value) -> Id {
    v["conversation_id"].as_i64().expect("conversation_id")
}

async fn assign(s: &TestServer, by: &Agent, conversation: Id, agent: &Agent) {
    s.post(
        &format!("/api/v1/conversations/{conversation}/assign"),
        Some(&by.token),
        json!({"agent_id": agent.id()}),
    )
    .await
    .expect(200);
}

/// The row of `id` in a report.
fn row(report: &Value, id: Id) -> &Value {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id} in {report}"))
}

/// Asserts some figures of a row (`figures` object) by name.
#[track_caller]
fn expect_figures(figures: &Value, want: &[(&str, Value)]) {
    for (name, value) in want {
        assert_eq!(&figures[*name], value, "{name} in {figures}");
    }
}

struct Day {
    admin: Agent,
    a: Agent,
    b: Agent,
    c6: Id,
}

/// The scenario (times of 2026-03-02, Shanghai):
/// - S1 10:00 asks, A answers at 10:00:20; S1 writes 10:01:00 and 10:01:30, A answers 10:03:30
///   (150 s: slow). S1 orders 10:05 and pays 10:10 (199.00): A's sale.
/// - S2 11:00, A answers 11:00:40; S2 11:02; the admin transfers to B at 11:03; B answers 11:05
///   (180 s: slow). S2 orders 11:10 and pays 12:00 (300.00): B spoke last, B's sale.
/// - S3 paid an order the day before (after-sale); asks 12:00, B answers 12:00:10: served, not 询单.
/// - S4 asks 13:00, assigned to A, never answered.
/// - S5 orders at 14:00 and pays 14:01 (59.00) without any conversation: a silent order.
/// - S6 asks 15:00, A answers 15:00:05; orders 15:10 (129.00) unpaid; A sends a payment reminder
///   at 15:20 (text + order card); S6 pays 15:30: closed by the reminder.
/// - S7 asks 16:00, A answers 16:00:30; orders three days and an hour later (outside the window).
/// - S8 asks 17:00 of a bot, which hands off at 17:05; B answers 17:05:20 (20 s from the hand-off).
async fn build_day(s: &TestServer) -> Day {
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "店长").await;
    let a = s.agent(shop, Role::Agent, "李娜").await;
    let b = s.agent(shop, Role::Agent, "张伟").await;
    let mut times = Times::default();

    // S1
    let s1 = s.shopper().await;
    let m = s.shopper_send(&s1, "这款耳机戴眼镜压耳朵吗？").await;
    let c1 = cid(&m);
    times.message(c1, seq(&m), at(10, 0, 0));
    times.event(c1, "started", at(10, 0, 0));
    assign(s, &admin, c1, &a).await;
    times.event(c1, "assigned", at(10, 0, 1));
    let r = s.agent_send(&a, c1, "不压耳朵哦", false).await;
    times.message(c1, seq(&r), at(10, 0, 20));
    let m = s.shopper_send(&s1, "降噪怎么样").await;
    times.message(c1, seq(&m), at(10, 1, 0));
    let m = s.shopper_send(&s1, "地铁上能用吗").await;
    times.message(c1, seq(&m), at(10, 1, 30));
    let r = s.agent_send(&a, c1, "地铁完全没问题", false).await;
    times.message(c1, seq(&r), at(10, 3, 30));
    // A private note is no reply.
    let note = s.agent_send(&a, c1, "顾客关心佩戴", true).await;
    times.message(c1, seq(&note), at(10, 4, 0));
    order(
        s,
        shop,
        s1.customer_id,
        "K-O1",
        19_900,
        at(10, 5, 0),
        Some(at(10, 10, 0)),
    )
    .await;

    // S2
    let s2 = s.shopper().await;
    let m = s.shopper_send(&s2, "手表防水吗").await;
    let c2 = cid(&m);
    times.message(c2, seq(&m), at(11, 0, 0));
    times.event(c2, "started", at(11, 0, 0));
    assign(s, &admin, c2, &a).await;
    times.event(c2, "assigned", at(11, 0, 1));
    let r = s.agent_send(&a, c2, "50 米防水", false).await;
    times.message(c2, seq(&r), at(11, 0, 40));
    let m = s.shopper_send(&s2, "游泳可以戴吗").await;
    times.message(c2, seq(&m), at(11, 2, 0));
    assign(s, &admin, c2, &b).await;
    times.event(c2, "transferred", at(11, 3, 0));
    let r = s.agent_send(&b, c2, "可以的，游泳没问题", false).await;
    times.message(c2, seq(&r), at(11, 5, 0));
    order(
        s,
        shop,
        s2.customer_id,
        "K-O2",
        30_000,
        at(11, 10, 0),
        Some(at(12, 0, 0)),
    )
    .await;

    // S3: an order paid yesterday.
    let s3 = s.shopper().await;
    order(
        s,
        shop,
        s3.customer_id,
        "K-O3",
        8_800,
        at(10, 0, 0) - DAY,
        Some(at(10, 5, 0) - DAY),
    )
    .await;
    let m = s.shopper_send(&s3, "我昨天买的什么时候发货").await;
    let c3 = cid(&m);
    times.message(c3, seq(&m), at(12, 0, 0));
    times.event(c3, "started", at(12, 0, 0));
    assign(s, &admin, c3, &b).await;
    times.event(c3, "assigned", at(12, 0, 1));
    let r = s.agent_send(&b, c3, "今天发出", false).await;
    times.message(c3, seq(&r), at(12, 0, 10));

    // S4: never answered.
    let s4 = s.shopper().await;
    let m = s.shopper_send(&s4, "在吗").await;
    let c4 = cid(&m);
    times.message(c4, seq(&m), at(13, 0, 0));
    times.event(c4, "started", at(13, 0, 0));
    assign(s, &admin, c4, &a).await;
    times.event(c4, "assigned", at(13, 0, 1));

    // S5: a silent order.
    let s5 = s
        .store
        .create_customer(
            shop,
            &NewCustomer {
                name: Some("静默买家".into()),
                ..Default::default()
            },
        )
        .await
        .expect("customer");
    order(
        s,
        shop,
        s5.id,
        "K-O5",
        5_900,
        at(14, 0, 0),
        Some(at(14, 1, 0)),
    )
    .await;

    // S6: reminded, then paid.
    let s6 = s.shopper().await;
    let m = s.shopper_send(&s6, "充电宝能带上飞机吗").await;
    let c6 = cid(&m);
    times.message(c6, seq(&m), at(15, 0, 0));
    times.event(c6, "started", at(15, 0, 0));
    assign(s, &admin, c6, &a).await;
    times.event(c6, "assigned", at(15, 0, 1));
    let r = s.agent_send(&a, c6, "可以带上飞机", false).await;
    let answered = seq(&r);
    times.message(c6, answered, at(15, 0, 5));
    let o6 = order(s, shop, s6.customer_id, "K-O6", 12_900, at(15, 10, 0), None).await;
    s.post("/api/v1/reminders", Some(&a.token), json!({"order_id": o6}))
        .await
        .expect(201);
    // The reminder's text and its order card.
    times.message(c6, answered + 1, at(15, 20, 0));
    times.message(c6, answered + 2, at(15, 20, 0));
    times.0.push(format!(
        "UPDATE reminders SET sent_at = {} WHERE conversation_id = {c6}",
        at(15, 20, 0)
    ));

    // S7: orders outside the window.
    let s7 = s.shopper().await;
    let m = s.shopper_send(&s7, "键盘是什么轴").await;
    let c7 = cid(&m);
    times.message(c7, seq(&m), at(16, 0, 0));
    times.event(c7, "started", at(16, 0, 0));
    assign(s, &admin, c7, &a).await;
    times.event(c7, "assigned", at(16, 0, 1));
    let r = s.agent_send(&a, c7, "红轴", false).await;
    times.message(c7, seq(&r), at(16, 0, 30));
    order(
        s,
        shop,
        s7.customer_id,
        "K-O7",
        32_900,
        at(17, 0, 30) + 3 * DAY,
        Some(at(17, 1, 30) + 3 * DAY),
    )
    .await;

    // S8: a bot hands off at 17:05.
    let s8 = s.shopper().await;
    let m = s.shopper_send(&s8, "有发票吗").await;
    let c8 = cid(&m);
    times.message(c8, seq(&m), at(17, 0, 0));
    times.event(c8, "started", at(17, 0, 0));
    assign(s, &admin, c8, &b).await;
    times.event(c8, "assigned", at(17, 5, 0));
    times.0.push(format!(
        "INSERT INTO desk_events (shop_id, at, kind, conversation_id, seq, value) \
         VALUES ({shop}, {}, 'bot_handoff', {c8}, {}, '')",
        at(17, 5, 0),
        seq(&m)
    ));
    let r = s.agent_send(&b, c8, "可以开电子发票", false).await;
    times.message(c8, seq(&r), at(17, 5, 20));

    times.apply(s).await;
    // S6 pays after the reminder (an ordinary payment update, after the reminder's time moved).
    s.store
        .apply_commerce(
            shop,
            CommerceChange::MarkPaid {
                order_no: "K-O6".into(),
                paid_at: Millis(at(15, 30, 0)),
            },
            None,
        )
        .await
        .expect("paid");
    Day { admin, a, b, c6 }
}

const DAY_RANGE: &str = "from=2026-03-02&to=2026-03-02";

async fn report(s: &TestServer, who: &Agent, query: &str) -> Value {
    s.get(&format!("/api/v1/reports/kpi?{query}"), Some(&who.token))
        .await
        .expect(200)
        .clone()
}

both!(hand_built_day_gives_hand_computed_kpis, hand_built_body);
async fn hand_built_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let d = build_day(&s).await;

    let r = report(&s, &d.admin, &format!("{DAY_RANGE}&group=agent")).await;
    assert_eq!(r["group"], "agent");
    assert_eq!(r["from"], "2026-03-01T16:00:00.000Z");
    assert_eq!(r["to"], "2026-03-02T16:00:00.000Z");
    assert_eq!(r["settings"]["window_days"], 3);
    let a = &row(&r, d.a.id())["figures"];
    expect_figures(
        a,
        &[
            ("served", json!(4)),
            ("consulted", json!(4)),
            ("ordered", json!(2)),
            ("ordered_paid", json!(2)),
            ("paid", json!(1)),
            ("paid_orders", json!(1)),
            ("sales_cents", json!(19_900)),
            ("consult_to_order_rate", json!(0.5)),
            ("consult_conversion_rate", json!(0.25)),
            ("order_to_pay_rate", json!(1.0)),
            ("avg_order_value_cents", json!(19_900)),
            ("replies", json!(7)),
            ("answered_messages", json!(6)),
            ("reply_ratio", json!(1.1667)),
            ("responses", json!(5)),
            ("avg_response_ms", json!(49_000)),
            ("slow_responses", json!(1)),
            ("slow_response_rate", json!(0.2)),
            ("sessions", json!(5)),
            ("answered_sessions", json!(4)),
            ("avg_first_response_ms", json!(23_750)),
            ("within_30s_rate", json!(0.6)),
            ("unanswered_sessions", json!(1)),
            ("unanswered_rate", json!(0.2)),
            ("reminders", json!(1)),
            ("reminded_orders", json!(1)),
            ("reminder_paid_orders", json!(1)),
            ("reminder_pending_orders", json!(0)),
            ("reminder_paid_cents", json!(12_900)),
            ("reminder_success_rate", json!(1.0)),
            ("silent_orders", Value::Null),
        ],
    );
    let b = &row(&r, d.b.id())["figures"];
    expect_figures(
        b,
        &[
            ("served", json!(3)),
            ("consulted", json!(2)),
            ("ordered", json!(1)),
            ("paid", json!(1)),
            ("sales_cents", json!(30_000)),
            ("consult_conversion_rate", json!(0.5)),
            ("replies", json!(3)),
            ("answered_messages", json!(3)),
            ("reply_ratio", json!(1.0)),
            ("responses", json!(3)),
            ("avg_response_ms", json!(70_000)),
            ("slow_responses", json!(1)),
            ("sessions", json!(2)),
            ("avg_first_response_ms", json!(15_000)),
            ("within_30s_rate", json!(1.0)),
            ("unanswered_sessions", json!(0)),
            ("reminders", json!(0)),
            ("reminder_success_rate", Value::Null),
        ],
    );
    // The admin served nobody: no row of their own.
    assert!(
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["id"] != d.admin.id()),
        "{r}"
    );
    // The shop: distinct shoppers, not the sum of the agents.
    let shop = &r["totals"];
    expect_figures(
        shop,
        &[
            ("served", json!(6)),
            ("consulted", json!(5)),
            ("ordered", json!(3)),
            ("paid", json!(2)),
            ("sales_cents", json!(49_900)),
            ("consult_conversion_rate", json!(0.4)),
            ("replies", json!(10)),
            ("responses", json!(8)),
            ("avg_response_ms", json!(56_875)),
            ("slow_responses", json!(2)),
            ("sessions", json!(7)),
            ("answered_sessions", json!(6)),
            ("avg_first_response_ms", json!(20_833)),
            ("within_30s_rate", json!(0.7143)),
            ("unanswered_rate", json!(0.1429)),
            ("silent_orders", json!(1)),
            ("silent_buyers", json!(1)),
            ("silent_paid_buyers", json!(1)),
            ("silent_paid_cents", json!(5_900)),
            ("silent_conversion_rate", json!(1.0)),
            ("reminder_paid_orders", json!(1)),
        ],
    );

    // By team (both agents are in the default team): the shop's figures without silent orders.
    let t = report(&s, &d.admin, &format!("{DAY_RANGE}&group=team")).await;
    let team = s.default_team(s.shop.id).await;
    let tf = &row(&t, team.id)["figures"];
    expect_figures(
        tf,
        &[
            ("served", json!(6)),
            ("consulted", json!(5)),
            ("paid", json!(2)),
            ("sessions", json!(7)),
            ("silent_orders", Value::Null),
        ],
    );
    let shop_group = report(&s, &d.admin, &format!("{DAY_RANGE}&group=shop")).await;
    assert_eq!(shop_group["rows"].as_array().unwrap().len(), 1);
    assert_eq!(shop_group["rows"][0]["figures"], r["totals"]);

    // A range that starts inside a shopper's turn (10:02–10:05, as instants): A's answer at
    // 10:03:30 is still timed from the turn's start at 10:01, its questions are not this range's
    // messages, and S1's order placed at 10:05 (just after) still counts for the consultation.
    let r = report(
        &s,
        &d.admin,
        "from=2026-03-02T02:02:00Z&to=2026-03-02T02:05:00Z",
    )
    .await;
    expect_figures(
        &row(&r, d.a.id())["figures"],
        &[
            ("replies", json!(1)),
            ("responses", json!(1)),
            ("avg_response_ms", json!(150_000)),
            ("slow_responses", json!(1)),
            ("answered_messages", json!(0)),
            ("reply_ratio", Value::Null),
            ("sessions", json!(0)),
            ("served", json!(1)),
            ("consulted", json!(1)),
            ("ordered", json!(1)),
            ("paid", json!(1)),
            ("sales_cents", json!(19_900)),
        ],
    );

    // Another day: nothing.
    let before = report(&s, &d.admin, "from=2026-03-01&to=2026-03-01").await;
    assert_eq!(before["totals"]["served"], 0);
    assert_eq!(before["totals"]["consult_conversion_rate"], Value::Null);

    // Orders closed by a reminder counted in the sales too.
    let put = |body: Value| {
        let s = &s;
        let token = d.admin.token.clone();
        async move {
            s.put("/api/v1/settings/kpi", Some(&token), body)
                .await
                .expect(200)
                .clone()
        }
    };
    put(json!({"window_days": 3, "attribution": "last_replier", "reminder_orders": "included", "slow_response_seconds": 100})).await;
    let r = report(&s, &d.admin, DAY_RANGE).await;
    expect_figures(
        &row(&r, d.a.id())["figures"],
        &[
            ("paid", json!(2)),
            ("sales_cents", json!(32_800)),
            ("reminder_paid_orders", json!(1)),
        ],
    );
    assert_eq!(r["settings"]["reminder_orders"], "included");
    // The first agent who replied within the window gets the order: S2's goes to A.
    put(json!({"window_days": 3, "attribution": "first_replier", "reminder_orders": "separate", "slow_response_seconds": 100})).await;
    let r = report(&s, &d.admin, DAY_RANGE).await;
    expect_figures(
        &row(&r, d.a.id())["figures"],
        &[
            ("ordered", json!(3)),
            ("paid", json!(2)),
            ("sales_cents", json!(49_900)),
        ],
    );
    expect_figures(
        &row(&r, d.b.id())["figures"],
        &[
            ("ordered", json!(0)),
            ("paid", json!(0)),
            ("sales_cents", json!(0)),
        ],
    );
    // A four-day window takes in S7's order; a 200 s limit makes no response slow.
    put(json!({"window_days": 4, "attribution": "last_replier", "reminder_orders": "separate", "slow_response_seconds": 200})).await;
    let r = report(&s, &d.admin, DAY_RANGE).await;
    expect_figures(
        &row(&r, d.a.id())["figures"],
        &[
            ("ordered", json!(3)),
            ("paid", json!(2)),
            ("sales_cents", json!(19_900 + 32_900)),
            ("slow_responses", json!(0)),
        ],
    );

    // An agent sees their own row only, without the shop's totals.
    let own = report(&s, &d.a, DAY_RANGE).await;
    assert_eq!(own["rows"].as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own["rows"][0]["id"], d.a.id());
    assert_eq!(own["rows"][0]["figures"]["served"], 4);
    assert_eq!(own["totals"], Value::Null);
    for group in ["team", "shop"] {
        s.get(
            &format!("/api/v1/reports/kpi?{DAY_RANGE}&group={group}"),
            Some(&d.a.token),
        )
        .await
        .expect_error(403, "forbidden");
    }

    // The trend by day: A's two days, the first empty.
    let trend = s
        .get(
            &format!(
                "/api/v1/reports/kpi/trend?from=2026-03-01&to=2026-03-02&agent_id={}",
                d.a.id()
            ),
            Some(&d.admin.token),
        )
        .await
        .expect(200)
        .clone();
    let days = trend["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{trend}");
    assert_eq!(days[0]["day"], "2026-03-01");
    assert_eq!(days[0]["figures"]["served"], 0);
    assert_eq!(days[1]["day"], "2026-03-02");
    assert_eq!(days[1]["figures"]["served"], 4);
    assert_eq!(days[1]["figures"]["replies"], 7);
    let shop_trend = s
        .get(
            "/api/v1/reports/kpi/trend?from=2026-03-02&to=2026-03-02",
            Some(&d.admin.token),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(shop_trend["agent_id"], Value::Null);
    assert_eq!(shop_trend["days"][0]["figures"]["silent_orders"], 1);
    // An agent's own trend, never a colleague's.
    s.get(
        "/api/v1/reports/kpi/trend?from=2026-03-02&to=2026-03-02",
        Some(&d.a.token),
    )
    .await
    .expect(200);
    s.get(
        &format!(
            "/api/v1/reports/kpi/trend?from=2026-03-02&to=2026-03-02&agent_id={}",
            d.b.id()
        ),
        Some(&d.a.token),
    )
    .await
    .expect_error(403, "forbidden");

    // The CSV: a BOM, Chinese headers, one line per agent and the shop's totals.
    let csv = s
        .get(
            &format!("/api/v1/reports/kpi.csv?{DAY_RANGE}"),
            Some(&d.admin.token),
        )
        .await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.text.starts_with('\u{feff}'));
    let lines: Vec<&str> = csv.text.trim_end().lines().collect();
    assert!(
        lines[0].starts_with("\u{feff}客服,所属团队,接待人数,询单人数"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 4, "{}", csv.text);
    let li = lines
        .iter()
        .find(|l| l.starts_with("李娜,"))
        .expect("A's line");
    assert!(li.contains(",4,4,"), "{li}");
    assert!(lines[3].starts_with("全店合计,"), "{}", lines[3]);
    let own_csv = s
        .get(
            &format!("/api/v1/reports/kpi.csv?{DAY_RANGE}"),
            Some(&d.a.token),
        )
        .await;
    assert_eq!(
        own_csv.text.trim_end().lines().count(),
        2,
        "{}",
        own_csv.text
    );

    // The reminder conversation's events, oldest first.
    let events = s
        .get(
            &format!("/api/v1/conversations/{}/events", d.c6),
            Some(&d.admin.token),
        )
        .await
        .expect(200)
        .clone();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["started", "assigned"]);
}

both!(events_are_written_with_their_changes, events_body);
async fn events_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let a = s.agent(s.shop.id, Role::Agent, "小美").await;
    let b = s.agent(s.shop.id, Role::Agent, "小刚").await;
    s.set_status(&a, "online").await;
    // Routing assigns the new conversation to the online agent.
    let shopper = s.shopper().await;
    let first = s.shopper_send(&shopper, "你好").await;
    let c = cid(&first);
    s.post(
        &format!("/api/v1/conversations/{c}/assign"),
        Some(&admin.token),
        json!({"agent_id": b.id(), "note": "售后问题"}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/api/v1/conversations/{c}/status"),
        Some(&b.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    // Setting the same status again changes nothing and records nothing.
    s.post(
        &format!("/api/v1/conversations/{c}/status"),
        Some(&admin.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    let again = s.shopper_send(&shopper, "还有一个问题").await;
    assert_eq!(cid(&again), c, "the resolved conversation reopens");

    let events = s
        .get(
            &format!("/api/v1/conversations/{c}/events"),
            Some(&admin.token),
        )
        .await
        .expect(200)["events"]
        .as_array()
        .unwrap()
        .clone();
    let summary: Vec<(String, Value, Value, Value, String)> = events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["agent_id"].clone(),
                e["previous_agent_id"].clone(),
                e["actor_id"].clone(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "started".into(),
                Value::Null,
                Value::Null,
                Value::Null,
                "new".into()
            ),
            (
                "assigned".into(),
                json!(a.id()),
                Value::Null,
                Value::Null,
                String::new()
            ),
            (
                "transferred".into(),
                json!(b.id()),
                json!(a.id()),
                json!(admin.id()),
                String::new()
            ),
            (
                "status".into(),
                json!(b.id()),
                Value::Null,
                json!(b.id()),
                "resolved".into()
            ),
            (
                "started".into(),
                Value::Null,
                Value::Null,
                Value::Null,
                "reopened".into()
            ),
            // Reopened without an agent: routing gives it to the online one.
            (
                "assigned".into(),
                json!(a.id()),
                Value::Null,
                Value::Null,
                String::new()
            ),
        ],
        "{events:?}"
    );
    // `started` carries the shopper's message; every event its conversation's team.
    assert_eq!(events[0]["seq"], first["seq"]);
    assert_eq!(events[4]["seq"], again["seq"]);
    let team = s.default_team(s.shop.id).await;
    assert!(events.iter().all(|e| e["team_id"] == team.id), "{events:?}");

    // Assigning to the agent who has it already changes nothing and records nothing.
    s.post(
        &format!("/api/v1/conversations/{c}/assign"),
        Some(&admin.token),
        json!({"agent_id": a.id()}),
    )
    .await
    .expect(200);
    // Snoozing and waking are status changes too.
    s.post(
        &format!("/api/v1/conversations/{c}/snooze"),
        Some(&a.token),
        json!({"until": Millis(Millis::now().0 + 3_600_000)}),
    )
    .await
    .expect(200);
    s.shopper_send(&shopper, "在吗").await;
    let kinds = |events: &Value| -> Vec<String> {
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["kind"].as_str().unwrap(),
                    e["value"].as_str().unwrap()
                )
            })
            .collect()
    };
    let mut woke = false;
    for _ in 0..50 {
        let events = s
            .get(
                &format!("/api/v1/conversations/{c}/events"),
                Some(&admin.token),
            )
            .await
            .expect(200)
            .clone();
        let k = kinds(&events);
        if k.len() == 8 && k.ends_with(&["status:pending".into(), "status:open".into()]) {
            woke = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(woke, "snooze and wake-up recorded");

    // Presence: each change once, in order; the same status again records nothing.
    s.set_status(&a, "away").await;
    s.set_status(&a, "away").await;
    s.set_status(&a, "offline").await;
    let presence = s
        .get(
            &format!("/api/v1/agents/{}/events", a.id()),
            Some(&admin.token),
        )
        .await
        .expect(200)
        .clone();
    let values: Vec<&str> = presence["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["online", "away", "offline"], "{presence}");
    assert!(
        presence["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "agent_status" && e["agent_id"] == a.id())
    );
    // An agent sees their own presence, not a colleague's.
    s.get(&format!("/api/v1/agents/{}/events", a.id()), Some(&a.token))
        .await
        .expect(200);
    s.get(&format!("/api/v1/agents/{}/events", a.id()), Some(&b.token))
        .await
        .expect_error(403, "forbidden");

    // Another shop's conversation and agent are not found.
    let other = s.create_shop("kpi-other").await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    s.get(
        &format!("/api/v1/conversations/{c}/events"),
        Some(&other_admin.token),
    )
    .await
    .expect_error(404, "not_found");
    s.get(
        &format!("/api/v1/agents/{}/events", a.id()),
        Some(&other_admin.token),
    )
    .await
    .expect_error(404, "not_found");
}

both!(kpi_input_roles_and_isolation, input_body);
async fn input_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;

    // Defaults until an admin saves rules; everyone reads them.
    let defaults = s
        .get("/api/v1/settings/kpi", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        defaults,
        json!({"window_days": 3, "attribution": "last_replier", "reminder_orders": "separate", "slow_response_seconds": 100})
    );
    // Only admins change them; bad values name their field and change nothing.
    let good = json!({"window_days": 7, "attribution": "first_replier", "reminder_orders": "included", "slow_response_seconds": 60});
    s.put(
        "/api/v1/settings/kpi",
        Some(&supervisor.token),
        good.clone(),
    )
    .await
    .expect_error(403, "forbidden");
    for (body, field) in [
        (
            json!({"window_days": 0, "attribution": "last_replier", "reminder_orders": "separate", "slow_response_seconds": 100}),
            "window_days",
        ),
        (
            json!({"window_days": 31, "attribution": "last_replier", "reminder_orders": "separate", "slow_response_seconds": 100}),
            "window_days",
        ),
        (
            json!({"window_days": 3, "attribution": "last_replier", "reminder_orders": "separate", "slow_response_seconds": 5}),
            "slow_response_seconds",
        ),
    ] {
        let r = s
            .put("/api/v1/settings/kpi", Some(&admin.token), body)
            .await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.body["error"]["field"], field, "{}", r.text);
    }
    let r = s
        .put(
            "/api/v1/settings/kpi",
            Some(&admin.token),
            json!({"window_days": 3, "attribution": "whoever", "reminder_orders": "separate", "slow_response_seconds": 100}),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);
    assert_eq!(
        s.get("/api/v1/settings/kpi", Some(&admin.token))
            .await
            .expect(200),
        &defaults
    );
    assert_eq!(
        s.put("/api/v1/settings/kpi", Some(&admin.token), good.clone())
            .await
            .expect(200),
        &good
    );
    assert_eq!(
        s.get("/api/v1/settings/kpi", Some(&agent.token))
            .await
            .expect(200),
        &good
    );

    // The default range is the last seven days of the shop; every agent has a row.
    let r = s
        .get("/api/v1/reports/kpi", Some(&supervisor.token))
        .await
        .expect(200)
        .clone();
    let span = kefu_core::time::Millis::now();
    assert_eq!(r["rows"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rows"][0]["name"], "小美");
    assert_eq!(r["rows"][0]["figures"]["served"], 0);
    assert!(r["to"].as_str().unwrap() > span.to_rfc3339().as_str());

    for (query, field) in [
        ("group=everyone", "group"),
        ("from=2026-02-30", "from"),
        ("from=yesterday", "from"),
        ("from=2026-03-10&to=2026-03-01", "to"),
        ("from=2024-01-01&to=2026-01-01", "to"),
    ] {
        let r = s
            .get(&format!("/api/v1/reports/kpi?{query}"), Some(&admin.token))
            .await;
        r.expect_error(422, "validation_failed");
        assert!(r.text.contains(field), "{query}: {}", r.text);
    }
    let r = s
        .get("/api/v1/reports/kpi/trend?agent_id=abc", Some(&admin.token))
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "agent_id");
    s.get(
        "/api/v1/reports/kpi/trend?agent_id=999999",
        Some(&admin.token),
    )
    .await
    .expect_error(404, "not_found");
    s.get("/api/v1/reports/kpi", None)
        .await
        .expect_error(401, "unauthorized");

    // Another shop sees only its own agents and figures.
    let other = s.create_shop("kpi-iso").await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    let theirs = report(&s, &other_admin, "").await;
    assert!(theirs["rows"].as_array().unwrap().is_empty(), "{theirs}");
    s.get(
        &format!("/api/v1/reports/kpi/trend?agent_id={}", agent.id()),
        Some(&other_admin.token),
    )
    .await
    .expect_error(404, "not_found");
    // Their settings are their own.
    assert_eq!(
        s.get("/api/v1/settings/kpi", Some(&other_admin.token))
            .await
            .expect(200),
        &defaults
    );
}
