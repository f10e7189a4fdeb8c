//! Product and order cards in conversations, and payment reminders (催付): live delivery, idempotent
//! retries, the shopper's history, ownership checks, candidates, duplicates, outcomes, isolation.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, NewProduct, Role};
use kefu_core::reminders::{HOUR_MS, ReminderOutcome};
use kefu_core::time::Millis;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

async fn product(s: &TestServer, shop_id: Id, sku: &str, name: &str, price_cents: i64) -> Id {
    s.store
        .upsert_product(
            shop_id,
            &NewProduct {
                sku: sku.into(),
                name: name.into(),
                price_cents,
                currency: "CNY".into(),
                image_url: format!("https://img.example.com/{sku}.jpg"),
                description: String::new(),
            },
        )
        .await
        .expect("product")
        .id
}

/// An order of `customer_id` through the commerce store (unpaid unless `paid`), with a shipment
/// when `tracking` is given.
async fn order(
    s: &TestServer,
    shop_id: Id,
    customer_id: Id,
    order_no: &str,
    paid: bool,
    tracking: Option<&str>,
) -> Id {
    let now = Millis::now().0;
    let mut doc = json!({
        "order_no": order_no,
        "customer_id": customer_id,
        "placed_at": now - 3_600_000,
        "items": [
            {"sku": "AB-PRO", "name": "AirBuds Pro 降噪耳机", "quantity": 1, "unit_price_cents": 19900},
            {"sku": "CBL-1", "name": "快充数据线", "quantity": 2, "unit_price_cents": 2900}
        ]
    });
    if paid {
        doc["paid_at"] = json!(now - 1_800_000);
    }
    if let Some(t) = tracking {
        doc["shipped_at"] = json!(now - 600_000);
        doc["shipments"] =
            json!([{"carrier": "顺丰速运", "tracking_no": t, "status": "in_transit"}]);
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

async fn mark_paid(s: &TestServer, shop_id: Id, order_no: &str, at: Millis) {
    let out = s
        .store
        .apply_commerce(
            shop_id,
            CommerceChange::MarkPaid {
                order_no: order_no.into(),
                paid_at: at,
            },
            None,
        )
        .await
        .expect("mark paid");
    assert_eq!(out.failed, 0, "{out:?}");
}

async fn card(s: &TestServer, agent: &Agent, cid: Id, body: Value) -> Resp {
    s.post(
        &format!("/api/v1/conversations/{cid}/cards"),
        Some(&agent.token),
        body,
    )
    .await
}

/// An online agent, a shopper who wrote once (conversation routed to the agent), and both sockets.
async fn chat(s: &TestServer) -> (Agent, Shopper, Id) {
    let agent = s.agent(s.shop.id, Role::Agent, "王小美").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "请问这款耳机还有货吗？").await["conversation_id"]
        .as_i64()
        .unwrap();
    (agent, shopper, cid)
}

both!(product_cards, product_cards_body);
async fn product_cards_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let pid = product(&s, s.shop.id, "AB-PRO", "AirBuds Pro", 19900).await;
    let mut agent_ws = s.agent_ws(&agent).await;
    let mut shopper_ws = s.shopper_ws(&shopper).await;

    let sent = card(
        &s,
        &agent,
        cid,
        json!({"product_id": pid, "client_msg_id": "p-1"}),
    )
    .await;
    let m = sent.expect(201).clone();
    assert_eq!(m["kind"], "product_card");
    assert_eq!(m["body"], "[商品] AirBuds Pro 199.00元");
    assert_eq!(m["sender_type"], "agent");
    assert_eq!(m["payload"]["product_id"], pid);
    assert_eq!(m["payload"]["name"], "AirBuds Pro");
    assert_eq!(m["payload"]["price_cents"], 19900);
    assert_eq!(m["payload"]["sku"], "AB-PRO");
    assert_eq!(
        m["payload"]["image_url"],
        "https://img.example.com/AB-PRO.jpg"
    );
    assert_eq!(m["payload"]["url"], "", "no link template set");

    for ws in [&mut agent_ws, &mut shopper_ws] {
        let e = ws
            .find(WAIT, |e| {
                e["type"] == "message.created" && e["message"]["id"] == m["id"]
            })
            .await
            .expect("the card is delivered live");
        assert_eq!(e["message"]["kind"], "product_card");
        assert_eq!(e["message"]["payload"]["name"], "AirBuds Pro");
    }

    // A retry with the same client_msg_id returns the original and stores nothing.
    let again = card(
        &s,
        &agent,
        cid,
        json!({"product_id": pid, "client_msg_id": "p-1"}),
    )
    .await;
    assert_eq!(again.expect(200)["id"], m["id"]);
    let history = s.shopper_history(&shopper, 0).await;
    let cards: Vec<&Value> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "product_card")
        .collect();
    assert_eq!(cards.len(), 1, "stored once: {history:#}");
    assert_eq!(cards[0]["payload"]["price_cents"], 19900);
    // Shopper messages stay plain text with no payload.
    let first = &history["messages"].as_array().unwrap()[1];
    assert_eq!(first["kind"], "text");
    assert!(first["payload"].is_null());
    // The conversation list shows the fallback text.
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["last_message_preview"], "[商品] AirBuds Pro 199.00元");

    // Links come from the shop's template.
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    s.put(
        "/api/v1/reminders/settings",
        Some(&admin.token),
        json!({"consult_window_hours": 72, "outcome_hours": 24,
               "product_url_template": "https://shop.example.com/item/{sku}", "order_url_template": ""}),
    )
    .await
    .expect(200);
    let linked = card(
        &s,
        &agent,
        cid,
        json!({"product_id": pid, "client_msg_id": "p-2"}),
    )
    .await;
    assert_eq!(
        linked.expect(201)["payload"]["url"],
        "https://shop.example.com/item/AB-PRO"
    );

    // Bad input changes nothing.
    card(&s, &agent, cid, json!({"client_msg_id": "p-3"}))
        .await
        .expect_error(422, "validation_failed");
    card(
        &s,
        &agent,
        cid,
        json!({"product_id": pid, "order_id": 1, "client_msg_id": "p-3"}),
    )
    .await
    .expect_error(422, "validation_failed");
    card(
        &s,
        &agent,
        cid,
        json!({"product_id": pid, "client_msg_id": "bad id with spaces"}),
    )
    .await
    .expect_error(422, "validation_failed");
    card(
        &s,
        &agent,
        cid,
        json!({"product_id": 999_999, "client_msg_id": "p-4"}),
    )
    .await
    .expect_error(404, "not_found");
    card(
        &s,
        &agent,
        cid,
        json!({"product_id": "x", "client_msg_id": "p-4"}),
    )
    .await
    .expect_error(422, "validation_failed");

    // Another shop's product is not found; so is this conversation for another shop's agent.
    let other = s.create_shop(&format!("other{}", unique())).await;
    let foreign = product(&s, other.id, "AB-PRO", "Other AirBuds", 100).await;
    card(
        &s,
        &agent,
        cid,
        json!({"product_id": foreign, "client_msg_id": "p-5"}),
    )
    .await
    .expect_error(404, "not_found");
    let outsider = s.agent(other.id, Role::Admin, "Outsider").await;
    card(
        &s,
        &outsider,
        cid,
        json!({"product_id": foreign, "client_msg_id": "p-6"}),
    )
    .await
    .expect_error(404, "not_found");
    let found = s
        .get("/api/v1/cards/products?q=airbuds", Some(&outsider.token))
        .await;
    let names: Vec<&str> = found.expect(200)["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Other AirBuds"], "search is per shop");
    let total = s.agent_messages(&agent, cid, 0).await;
    assert_eq!(
        total.iter().filter(|x| x["kind"] == "product_card").count(),
        2
    );
}

both!(product_search, product_search_body);
async fn product_search_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    product(&s, s.shop.id, "AB-PRO", "AirBuds Pro 降噪耳机", 19900).await;
    product(&s, s.shop.id, "WATCH-5", "小蜜蜂手表 5", 59900).await;
    product(&s, s.shop.id, "100%_OFF", "清仓 100%_特价", 100).await;
    let names = |r: &Resp| -> Vec<String> {
        r.expect(200)["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = s.get("/api/v1/cards/products", Some(&agent.token)).await;
    assert_eq!(names(&all).len(), 3);
    let by_name = s
        .get(
            "/api/v1/cards/products?q=%E8%80%B3%E6%9C%BA",
            Some(&agent.token),
        )
        .await;
    assert_eq!(names(&by_name), ["AB-PRO"]);
    let by_sku = s
        .get("/api/v1/cards/products?q=watch", Some(&agent.token))
        .await;
    assert_eq!(names(&by_sku), ["WATCH-5"]);
    // % and _ match themselves, not "anything".
    let literal = s
        .get("/api/v1/cards/products?q=%25_", Some(&agent.token))
        .await;
    assert_eq!(names(&literal), ["100%_OFF"]);
    s.get(
        &format!("/api/v1/cards/products?q={}", "x".repeat(101)),
        Some(&agent.token),
    )
    .await
    .expect_error(422, "validation_failed");
    s.get("/api/v1/cards/products", None)
        .await
        .expect_error(401, "unauthorized");
}

both!(order_cards, order_cards_body);
async fn order_cards_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let oid = order(
        &s,
        s.shop.id,
        shopper.customer_id,
        "D20261123001",
        true,
        Some("SF1234567890"),
    )
    .await;
    let mut agent_ws = s.agent_ws(&agent).await;
    let mut shopper_ws = s.shopper_ws(&shopper).await;

    let m = card(
        &s,
        &agent,
        cid,
        json!({"order_id": oid, "client_msg_id": "o-1"}),
    )
    .await
    .expect(201)
    .clone();
    assert_eq!(m["kind"], "order_card");
    let p = &m["payload"];
    assert_eq!(p["order_id"], oid);
    assert_eq!(p["order_no"], "D20261123001");
    assert_eq!(p["total_cents"], 19900 + 2 * 2900);
    assert_eq!(p["payment_status"], "paid");
    assert_eq!(p["item_count"], 3);
    assert_eq!(p["items_summary"], "AirBuds Pro 降噪耳机 ×1 等 3 件");
    assert_eq!(p["items"].as_array().unwrap().len(), 2);
    assert_eq!(p["logistics"]["carrier"], "顺丰速运");
    assert_eq!(p["logistics"]["tracking_no"], "SF1234567890");
    assert_eq!(
        m["body"],
        "[订单] D20261123001 AirBuds Pro 降噪耳机 ×1 等 3 件 257.00元 已发货"
    );
    for ws in [&mut agent_ws, &mut shopper_ws] {
        let e = ws
            .find(WAIT, |e| {
                e["type"] == "message.created" && e["message"]["id"] == m["id"]
            })
            .await
            .expect("the order card is delivered live");
        assert_eq!(e["message"]["payload"]["order_no"], "D20261123001");
    }
    card(
        &s,
        &agent,
        cid,
        json!({"order_id": oid, "client_msg_id": "o-1"}),
    )
    .await
    .expect(200);
    let history = s.shopper_history(&shopper, 0).await;
    let shown: Vec<&Value> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "order_card")
        .collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["payload"]["logistics"]["status"], "in_transit");

    // Another customer's order (same shop): refused with a clear message.
    let stranger = s.shopper().await;
    let theirs = order(&s, s.shop.id, stranger.customer_id, "D-OTHER", false, None).await;
    let r = card(
        &s,
        &agent,
        cid,
        json!({"order_id": theirs, "client_msg_id": "o-2"}),
    )
    .await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("order_id:")
    );
    // Another shop's order: not found. Unknown: not found.
    let other = s.create_shop(&format!("o{}", unique())).await;
    let far = s.shopper_of(Some(&other.slug)).await;
    let foreign = order(&s, other.id, far.customer_id, "D-FAR", false, None).await;
    card(
        &s,
        &agent,
        cid,
        json!({"order_id": foreign, "client_msg_id": "o-3"}),
    )
    .await
    .expect_error(404, "not_found");
    card(
        &s,
        &agent,
        cid,
        json!({"order_id": 987_654, "client_msg_id": "o-4"}),
    )
    .await
    .expect_error(404, "not_found");
    let cards = s
        .agent_messages(&agent, cid, 0)
        .await
        .into_iter()
        .filter(|x| x["kind"] == "order_card")
        .count();
    assert_eq!(cards, 1, "failed sends stored nothing");
}

both!(reminders, reminders_body);
async fn reminders_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let unpaid = order(&s, s.shop.id, shopper.customer_id, "R-1001", false, None).await;
    let second = order(&s, s.shop.id, shopper.customer_id, "R-1002", false, None).await;
    order(&s, s.shop.id, shopper.customer_id, "R-PAID", true, None).await;
    // A buyer who never wrote is not a candidate.
    let silent = s.shopper().await;
    order(&s, s.shop.id, silent.customer_id, "R-SILENT", false, None).await;

    let r = s
        .get("/api/v1/reminders/candidates", Some(&agent.token))
        .await;
    let body = r.expect(200);
    assert_eq!(body["window_hours"], 72);
    let mut nos: Vec<&str> = body["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["order_no"].as_str().unwrap())
        .collect();
    nos.sort();
    assert_eq!(nos, ["R-1001", "R-1002"]);
    let c0 = &body["candidates"][0];
    assert_eq!(c0["conversation_id"], cid);
    assert_eq!(c0["customer"]["id"], shopper.customer_id);
    assert_eq!(c0["reminder_count"], 0);
    // The window: consulted before `since` does not count.
    let later = Millis(Millis::now().0 + HOUR_MS);
    assert!(
        s.store
            .reminder_candidates(s.shop.id, later, 100)
            .await
            .unwrap()
            .is_empty()
    );
    s.get(
        "/api/v1/reminders/candidates?window_hours=0",
        Some(&agent.token),
    )
    .await
    .expect_error(422, "validation_failed");

    // Send: a text from the default template, then the order card, live to the shopper.
    let mut shopper_ws = s.shopper_ws(&shopper).await;
    let sent = s
        .post(
            "/api/v1/reminders",
            Some(&agent.token),
            json!({"order_id": unpaid}),
        )
        .await;
    let rem = sent.expect(201).clone();
    assert_eq!(rem["outcome"], "pending");
    assert_eq!(rem["order_no"], "R-1001");
    assert_eq!(rem["conversation_id"], cid);
    assert_eq!(rem["agent_id"], agent.id());
    let text = rem["body"].as_str().unwrap();
    assert!(
        text.contains("R-1001") && text.contains("257.00元") && !text.contains('{'),
        "{text}"
    );
    let e1 = shopper_ws.next_event("message.created", WAIT).await;
    assert_eq!(e1["message"]["body"], text);
    let e2 = shopper_ws.next_event("message.created", WAIT).await;
    assert_eq!(e2["message"]["kind"], "order_card");
    assert_eq!(e2["message"]["payload"]["order_no"], "R-1001");
    assert_eq!(e2["message"]["payload"]["payment_status"], "unpaid");

    // A second reminder within the outcome window: refused unless forced.
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": unpaid}),
    )
    .await
    .expect_error(409, "conflict");
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": unpaid, "force": true}),
    )
    .await
    .expect(201);
    // The other order, with a custom template.
    let tpl = s
        .post(
            "/api/v1/reminders/templates",
            Some(&supervisor.token),
            json!({"name": "简短", "body": "{customer.name}，订单{order.no}待付款{order.amount}"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(tpl["is_default"], false, "the seeded default stays default");
    let r2 = s
        .post(
            "/api/v1/reminders",
            Some(&agent.token),
            json!({"order_id": second, "template_id": tpl["id"]}),
        )
        .await
        .expect(201)
        .clone();
    assert!(
        r2["body"]
            .as_str()
            .unwrap()
            .ends_with("订单R-1002待付款257.00元")
    );

    let c = s
        .get("/api/v1/reminders/candidates", Some(&agent.token))
        .await;
    let first = c.expect(200)["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["order_id"] == unpaid)
        .cloned()
        .unwrap();
    assert_eq!(first["reminder_count"], 2);
    assert!(first["last_reminded_at"].is_string());

    // Payment arrives: the reminder succeeded; the order leaves the candidates.
    mark_paid(&s, s.shop.id, "R-1001", Millis::now()).await;
    let list = s.get("/api/v1/reminders", Some(&agent.token)).await;
    let list = list.expect(200);
    let reminders = list["reminders"].as_array().unwrap();
    assert_eq!(reminders.len(), 3);
    let outcomes: Vec<(&str, &str)> = reminders
        .iter()
        .map(|r| {
            (
                r["order_no"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("R-1002", "pending"),
            ("R-1001", "paid"),
            ("R-1001", "paid")
        ]
    );
    assert_eq!(list["stats"]["overall"]["sent"], 3);
    assert_eq!(list["stats"]["overall"]["paid"], 2);
    assert_eq!(list["stats"]["overall"]["pending"], 1);
    assert_eq!(list["stats"]["overall"]["rate"], 1.0);
    assert_eq!(list["stats"]["per_agent"][0]["agent_id"], agent.id());
    assert_eq!(list["stats"]["per_agent"][0]["sent"], 3);
    let c = s
        .get("/api/v1/reminders/candidates", Some(&agent.token))
        .await;
    assert!(
        c.expect(200)["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["order_id"] != unpaid)
    );
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": unpaid, "force": true}),
    )
    .await
    .expect_error(422, "validation_failed");

    // Judged after the window, the unpaid one did not work; a payment after it does not count.
    let judged = s
        .store
        .list_reminders(
            s.shop.id,
            Millis(0),
            24,
            Millis(Millis::now().0 + 25 * HOUR_MS),
            100,
        )
        .await
        .unwrap();
    let late = judged.iter().find(|r| r.order_no == "R-1002").unwrap();
    assert_eq!(late.outcome, ReminderOutcome::NotPaid);
    mark_paid(
        &s,
        s.shop.id,
        "R-1002",
        Millis(Millis::now().0 + 30 * HOUR_MS),
    )
    .await;
    let judged = s
        .store
        .list_reminders(
            s.shop.id,
            Millis(0),
            24,
            Millis(Millis::now().0 + 31 * HOUR_MS),
            100,
        )
        .await
        .unwrap();
    let late = judged.iter().find(|r| r.order_no == "R-1002").unwrap();
    assert_eq!(late.outcome, ReminderOutcome::NotPaid);

    // Bad input.
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": 424_242}),
    )
    .await
    .expect_error(404, "not_found");
    s.post("/api/v1/reminders", Some(&agent.token), json!({}))
        .await
        .expect_error(422, "validation_failed");
    let third = order(&s, s.shop.id, shopper.customer_id, "R-1003", false, None).await;
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": third, "template_id": 777_777}),
    )
    .await
    .expect_error(404, "not_found");
    // A buyer without any conversation cannot be reminded in one.
    let ghost = s.shopper().await;
    let ghost_order = order(&s, s.shop.id, ghost.customer_id, "R-GHOST", false, None).await;
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": ghost_order}),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(templates_and_settings, templates_and_settings_body);
async fn templates_and_settings_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    let list = s
        .get("/api/v1/reminders/templates", Some(&agent.token))
        .await;
    let list = list.expect(200);
    let templates = list["templates"].as_array().unwrap();
    assert_eq!(templates.len(), 1, "the default is seeded once");
    assert_eq!(templates[0]["is_default"], true);
    assert!(
        list["variables"]
            .as_array()
            .unwrap()
            .contains(&json!("order.no"))
    );
    let default_id = templates[0]["id"].clone();

    s.post(
        "/api/v1/reminders/templates",
        Some(&agent.token),
        json!({"name": "x", "body": "y"}),
    )
    .await
    .expect_error(403, "forbidden");
    let r = s
        .post(
            "/api/v1/reminders/templates",
            Some(&admin.token),
            json!({"name": "x", "body": "{order.total}"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("body:")
    );
    s.post(
        "/api/v1/reminders/templates",
        Some(&admin.token),
        json!({"name": "", "body": "hi"}),
    )
    .await
    .expect_error(422, "validation_failed");
    let new = s
        .post(
            "/api/v1/reminders/templates",
            Some(&admin.token),
            json!({"name": "温柔版", "body": "{customer.name}您好", "is_default": true}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(new["is_default"], true);
    let r = s
        .post(
            "/api/v1/reminders/templates",
            Some(&admin.token),
            json!({"name": "温柔版", "body": "again"}),
        )
        .await;
    r.expect_error(409, "conflict");
    let list = s
        .get("/api/v1/reminders/templates", Some(&agent.token))
        .await;
    let templates = list.expect(200)["templates"].as_array().unwrap().clone();
    assert_eq!(templates.len(), 2);
    assert_eq!(templates[0]["id"], new["id"], "the default comes first");
    assert_eq!(
        templates.iter().filter(|t| t["is_default"] == true).count(),
        1
    );
    // The default cannot be deleted; the other one can.
    let del = |id: &Value| {
        let path = format!("/api/v1/reminders/templates/{id}");
        let token = admin.token.clone();
        let s = &s;
        async move {
            s.request(reqwest::Method::DELETE, &path, Some(&token), None)
                .await
        }
    };
    del(&new["id"]).await.expect_error(409, "conflict");
    assert_eq!(del(&default_id).await.status, 204);
    del(&default_id).await.expect_error(404, "not_found");
    let updated = s
        .put(
            &format!("/api/v1/reminders/templates/{}", new["id"]),
            Some(&admin.token),
            json!({"name": "温柔版2", "body": "{order.no}", "is_default": false}),
        )
        .await;
    let updated = updated.expect(200);
    assert_eq!(updated["name"], "温柔版2");
    assert_eq!(
        updated["is_default"], true,
        "the only default stays default"
    );

    // Settings.
    let got = s
        .get("/api/v1/reminders/settings", Some(&agent.token))
        .await;
    assert_eq!(got.expect(200)["outcome_hours"], 24);
    let settings = json!({"consult_window_hours": 48, "outcome_hours": 12,
        "product_url_template": "/demo/shop?sku={sku}", "order_url_template": ""});
    s.put(
        "/api/v1/reminders/settings",
        Some(&agent.token),
        settings.clone(),
    )
    .await
    .expect_error(403, "forbidden");
    s.put(
        "/api/v1/reminders/settings",
        Some(&admin.token),
        json!({"consult_window_hours": 0, "outcome_hours": 12,
            "product_url_template": "", "order_url_template": ""}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.put(
        "/api/v1/reminders/settings",
        Some(&admin.token),
        json!({"consult_window_hours": 48, "outcome_hours": 12,
            "product_url_template": "javascript:alert(1)", "order_url_template": ""}),
    )
    .await
    .expect_error(422, "validation_failed");
    // Paths a browser reads as another host are refused too (`\` counts as `/` there).
    for sneaky in [
        "/\\evil.example/{sku}",
        "//evil.example/{sku}",
        "/\t/evil.example",
    ] {
        s.put(
            "/api/v1/reminders/settings",
            Some(&admin.token),
            json!({"consult_window_hours": 48, "outcome_hours": 12,
                "product_url_template": "", "order_url_template": sneaky}),
        )
        .await
        .expect_error(422, "validation_failed");
    }
    s.put(
        "/api/v1/reminders/settings",
        Some(&admin.token),
        settings.clone(),
    )
    .await
    .expect(200);
    let got = s
        .get("/api/v1/reminders/settings", Some(&agent.token))
        .await;
    assert_eq!(got.expect(200), &settings);
    let c = s
        .get("/api/v1/reminders/candidates", Some(&agent.token))
        .await;
    assert_eq!(c.expect(200)["window_hours"], 48);
}

both!(isolation, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, _cid) = chat(&s).await;
    let unpaid = order(&s, s.shop.id, shopper.customer_id, "I-1", false, None).await;
    s.post(
        "/api/v1/reminders",
        Some(&agent.token),
        json!({"order_id": unpaid}),
    )
    .await
    .expect(201);

    let other = s.create_shop(&format!("iso{}", unique())).await;
    let outsider = s.agent(other.id, Role::Admin, "Outsider").await;
    let c = s
        .get("/api/v1/reminders/candidates", Some(&outsider.token))
        .await;
    assert!(c.expect(200)["candidates"].as_array().unwrap().is_empty());
    let l = s.get("/api/v1/reminders", Some(&outsider.token)).await;
    assert!(l.expect(200)["reminders"].as_array().unwrap().is_empty());
    s.post(
        "/api/v1/reminders",
        Some(&outsider.token),
        json!({"order_id": unpaid, "force": true}),
    )
    .await
    .expect_error(404, "not_found");
    // Each shop has its own templates and settings.
    let mine = s
        .get("/api/v1/reminders/templates", Some(&agent.token))
        .await;
    let my_id = mine.expect(200)["templates"][0]["id"].clone();
    s.put(
        &format!("/api/v1/reminders/templates/{my_id}"),
        Some(&outsider.token),
        json!({"name": "hijack", "body": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    let theirs = s
        .get("/api/v1/reminders/templates", Some(&outsider.token))
        .await;
    assert_ne!(theirs.expect(200)["templates"][0]["id"], my_id);
    s.put(
        "/api/v1/reminders/settings",
        Some(&outsider.token),
        json!({"consult_window_hours": 5, "outcome_hours": 5,
            "product_url_template": "", "order_url_template": ""}),
    )
    .await
    .expect(200);
    let mine = s
        .get("/api/v1/reminders/settings", Some(&agent.token))
        .await;
    assert_eq!(mine.expect(200)["consult_window_hours"], 72);
    s.get("/api/v1/reminders", None)
        .await
        .expect_error(401, "unauthorized");
}
