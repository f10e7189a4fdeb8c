//! Tickets (工单): creation by the API, from a conversation (transcript, order) and from the widget
//! (own vs another's order number, photos); filters and keyset pages; the status state machine
//! and the complaint gate; compensations; audit rows; merges; bulk actions with per-id results;
//! saved views per agent; role scoping, isolation between shops and shoppers; bad input.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use serde_json::{Value, json};

async fn delete(s: &TestServer, path: &str, token: &str) -> Resp {
    s.request(reqwest::Method::DELETE, path, Some(token), None)
        .await
}

async fn patch(s: &TestServer, path: &str, token: &str, body: Value) -> Resp {
    s.request(reqwest::Method::PATCH, path, Some(token), Some(body))
        .await
}

async fn order_for(s: &TestServer, shop_id: Id, customer_id: Id, order_no: &str) -> Id {
    let input: OrderInput = serde_json::from_value(json!({
        "order_no": order_no,
        "customer_id": customer_id,
        "placed_at": 1_790_000_000_000i64,
        "items": [{"sku": "CUP-1", "name": "骨瓷杯", "quantity": 2, "unit_price_cents": 4900}]
    }))
    .expect("order input");
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
    let orders = s
        .store
        .list_orders(
            shop_id,
            &kefu_core::commerce::OrderQuery {
                customer_id: Some(customer_id),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    orders.iter().find(|o| o.order_no == order_no).unwrap().id
}

async fn categories(s: &TestServer, a: &Agent) -> Vec<Value> {
    s.get("/api/v1/ticket-categories", Some(&a.token))
        .await
        .expect(200)["categories"]
        .as_array()
        .unwrap()
        .clone()
}

async fn category(s: &TestServer, a: &Agent, key: &str) -> Id {
    categories(s, a)
        .await
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no category {key}"))["id"]
        .as_i64()
        .unwrap()
}

async fn create(s: &TestServer, a: &Agent, body: Value) -> Value {
    s.post("/api/v1/tickets", Some(&a.token), body)
        .await
        .expect(201)
        .clone()
}

async fn list(s: &TestServer, a: &Agent, query: &str) -> Value {
    s.get(&format!("/api/v1/tickets{query}"), Some(&a.token))
        .await
        .expect(200)
        .clone()
}

fn numbers(page: &Value) -> Vec<String> {
    page["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["display_number"].as_str().unwrap().to_owned())
        .collect()
}

fn id(v: &Value) -> Id {
    v["id"].as_i64().expect("id")
}

both!(create_filter_and_page, create_filter_and_page_body);
async fn create_filter_and_page_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;

    // The default complaint categories are there, with their sub-categories.
    let cats = categories(&s, &admin).await;
    let keys: Vec<&str> = cats.iter().map(|c| c["key"].as_str().unwrap()).collect();
    for want in [
        "error",
        "damaged_item",
        "attitude",
        "price",
        "delivery",
        "not_upstairs",
        "other",
    ] {
        assert!(keys.contains(&want), "{keys:?}");
    }
    let error_id = category(&s, &admin, "error").await;
    let damaged = cats.iter().find(|c| c["key"] == "damaged_item").unwrap();
    assert_eq!(damaged["parent_id"].as_i64(), Some(error_id));
    assert_eq!(damaged["name"], "破损");
    let damaged_id = id(damaged);
    let price_id = category(&s, &admin, "price").await;

    let shopper = s.shopper().await;
    let t1 = create(
        &s,
        &admin,
        json!({"subject": "杯子破损", "category_id": damaged_id, "priority": "high",
               "customer_id": shopper.customer_id, "tags": ["破损", "加急"]}),
    )
    .await;
    assert_eq!(t1["status"], "new");
    assert_eq!(t1["channel"], "api");
    assert_eq!(t1["display_number"], "T-000001");
    assert_eq!(t1["category"]["parent_key"], "error");
    assert_eq!(t1["category"]["is_complaint"], true);
    assert_eq!(t1["customer"]["id"].as_i64(), Some(shopper.customer_id));
    let console = s
        .http
        .post(s.url("/api/v1/tickets"))
        .bearer_auth(&agent.token)
        .header("x-kefu-client", "console")
        .json(
            &json!({"subject": "价格比别家贵", "category_id": price_id, "assignee_id": agent.id()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(console.status().as_u16(), 201);
    let t2: Value = console.json().await.unwrap();
    assert_eq!(t2["channel"], "console");
    assert_eq!(t2["display_number"], "T-000002");
    for i in 0..5 {
        create(
            &s,
            &admin,
            json!({"subject": format!("咨询 {i}"), "priority": "low"}),
        )
        .await;
    }

    // Bad input changes nothing.
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "  "}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "x", "priority": "asap"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "x", "category_id": 999_999}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "x", "assignee_id": 999_999}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "x", "links": [{"kind": "order", "ref_id": 999_999}]}),
    )
    .await
    .expect_error(404, "not_found");
    s.raw(
        reqwest::Method::POST,
        "/api/v1/tickets",
        Some(&admin.token),
        "{bad",
    )
    .await
    .expect_error(400, "bad_request");
    assert_eq!(
        list(&s, &admin, "?limit=200").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        7
    );

    // Filters.
    assert_eq!(
        numbers(&list(&s, &admin, &format!("?category={error_id}")).await),
        vec!["T-000001"],
        "a parent category includes its sub-categories"
    );
    assert_eq!(
        numbers(&list(&s, &admin, "?priority=high,normal").await),
        vec!["T-000002", "T-000001"]
    );
    assert_eq!(
        numbers(&list(&s, &agent, "?assignee=me").await),
        vec!["T-000002"]
    );
    assert_eq!(
        list(&s, &admin, "?assignee=unassigned").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        numbers(&list(&s, &admin, "?tag=加急").await),
        vec!["T-000001"]
    );
    assert_eq!(
        numbers(&list(&s, &admin, "?q=T-000002").await),
        vec!["T-000002"]
    );
    assert_eq!(
        numbers(&list(&s, &admin, "?q=破损").await),
        vec!["T-000001"]
    );
    assert_eq!(
        numbers(&list(&s, &admin, &format!("?customer={}", shopper.customer_id)).await),
        vec!["T-000001"]
    );
    assert_eq!(
        numbers(&list(&s, &admin, "?channel=console").await),
        vec!["T-000002"]
    );
    assert_eq!(
        list(&s, &admin, "?status=open,resolved").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        list(&s, &admin, "?q=100%25").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "% is literal"
    );
    for bad in [
        "?status=done",
        "?assignee=someone",
        "?sort=random",
        "?limit=0",
        "?limit=201",
        "?cursor=zzz",
        "?colour=red",
        "?created_from=yesterday",
    ] {
        s.get(&format!("/api/v1/tickets{bad}"), Some(&admin.token))
            .await
            .expect_error(422, "validation_failed");
    }

    // Keyset pages: every ticket once, in order, for both sort keys.
    for sort in ["updated_desc", "created_asc"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("?limit=3&sort={sort}&cursor={c}"),
                None => format!("?limit=3&sort={sort}"),
            };
            let page = list(&s, &admin, &q).await;
            seen.extend(numbers(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "{sort}: {seen:?}");
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 7);
        if sort == "created_asc" {
            assert_eq!(seen[0], "T-000001");
            assert_eq!(seen[6], "T-000007");
        }
    }

    // Several statuses are merged from one range per status; pages still cover each ticket once.
    let all = list(&s, &admin, "?limit=200").await;
    for t in all["tickets"].as_array().unwrap().iter().step_by(2) {
        patch(
            &s,
            &format!("/api/v1/tickets/{}", id(t)),
            &admin.token,
            json!({"status": "open"}),
        )
        .await
        .expect(200);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=2&status=new,open&cursor={c}"),
            None => "?limit=2&status=open,new,open".to_owned(),
        };
        let page = list(&s, &admin, &q).await;
        seen.extend(numbers(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!((seen.len(), dedup.len()), (7, 7), "{seen:?}");
    assert_eq!(
        seen[0],
        numbers(&list(&s, &admin, "?limit=1").await)[0],
        "newest change first"
    );
    assert_eq!(
        list(&s, &admin, "?status=open").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

both!(status_machine_and_complaint_gate, status_machine_body);
async fn status_machine_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let damaged = category(&s, &admin, "damaged_item").await;
    let t = create(
        &s,
        &admin,
        json!({"subject": "破损", "category_id": damaged}),
    )
    .await;
    let path = format!("/api/v1/tickets/{}", id(&t));

    let r = patch(&s, &path, &admin.token, json!({"status": "closed"})).await;
    r.expect_error(409, "conflict");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("new") && msg.contains("closed"), "{msg}");
    patch(&s, &path, &admin.token, json!({"status": "weird"}))
        .await
        .expect_error(422, "validation_failed");
    patch(&s, &path, &admin.token, json!({}))
        .await
        .expect_error(422, "validation_failed");
    let open = patch(
        &s,
        &path,
        &admin.token,
        json!({"status": "open", "priority": "urgent"}),
    )
    .await;
    assert_eq!(open.expect(200)["status"], "open");
    patch(&s, &path, &admin.token, json!({"status": "new"}))
        .await
        .expect_error(409, "conflict");

    // A complaint cannot be resolved without root causes and a handling result.
    let r = patch(&s, &path, &admin.token, json!({"status": "resolved"})).await;
    r.expect_error(422, "validation_failed");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("root_causes") && msg.contains("handling_result"),
        "{msg}"
    );
    let r = patch(
        &s,
        &path,
        &admin.token,
        json!({"status": "resolved", "root_causes": ["包装不牢"]}),
    )
    .await;
    r.expect_error(422, "validation_failed");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        !msg.contains("root_causes") && msg.contains("handling_result"),
        "{msg}"
    );
    // Nothing of the refused change was stored.
    let cur = s.get(&path, Some(&admin.token)).await.expect(200)["ticket"].clone();
    assert_eq!(cur["status"], "open");
    assert_eq!(cur["root_causes"], json!([]));

    // A required custom field must be filled too.
    s.post("/api/v1/ticket-fields", Some(&admin.token),
        json!({"key": "carrier", "label": "快递公司", "kind": "select", "options": ["顺丰", "中通"], "required": true}))
        .await
        .expect(201);
    let r = patch(
        &s,
        &path,
        &admin.token,
        json!({"status": "resolved", "root_causes": ["包装不牢"], "handling_result": "补发并致歉"}),
    )
    .await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("custom_fields.carrier")
    );
    patch(
        &s,
        &path,
        &admin.token,
        json!({"custom_fields": {"carrier": "圆通"}}),
    )
    .await
    .expect_error(422, "validation_failed");
    patch(
        &s,
        &path,
        &admin.token,
        json!({"custom_fields": {"nope": "x"}}),
    )
    .await
    .expect_error(422, "validation_failed");
    let resolved = patch(&s, &path, &admin.token,
        json!({"status": "resolved", "root_causes": ["包装不牢", "包装不牢"], "handling_result": "补发并致歉",
               "custom_fields": {"carrier": "顺丰"}})).await;
    let resolved = resolved.expect(200);
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["root_causes"], json!(["包装不牢"]));
    assert!(resolved["resolved_at"].is_string());
    // Taking the handling result away from a resolved complaint is refused.
    patch(&s, &path, &admin.token, json!({"handling_result": null}))
        .await
        .expect_error(422, "validation_failed");
    patch(
        &s,
        &path,
        &admin.token,
        json!({"status": "pending_customer"}),
    )
    .await
    .expect_error(409, "conflict");
    let closed = patch(&s, &path, &admin.token, json!({"status": "closed"})).await;
    assert!(closed.expect(200)["closed_at"].is_string());
    patch(&s, &path, &admin.token, json!({"status": "open"}))
        .await
        .expect_error(409, "conflict");
    patch(&s, &path, &admin.token, json!({"subject": "改标题"}))
        .await
        .expect_error(409, "conflict");
    // Closed: notes yes, public replies no.
    s.post(
        &format!("{path}/entries"),
        Some(&admin.token),
        json!({"kind": "public", "body": "还在吗"}),
    )
    .await
    .expect_error(409, "conflict");
    s.post(
        &format!("{path}/entries"),
        Some(&admin.token),
        json!({"kind": "note", "body": "归档备注"}),
    )
    .await
    .expect(201);
    s.post(
        &format!("{path}/entries"),
        Some(&admin.token),
        json!({"kind": "secret", "body": "x"}),
    )
    .await
    .expect_error(422, "validation_failed");

    // Every change is in the audit, with its actor.
    let audit = s
        .get(&format!("{path}/audit"), Some(&admin.token))
        .await
        .expect(200)["audit"]
        .clone();
    let rows = audit.as_array().unwrap();
    let fields: Vec<&str> = rows.iter().map(|r| r["field"].as_str().unwrap()).collect();
    assert_eq!(fields[0], "created");
    for f in [
        "priority",
        "root_causes",
        "handling_result",
        "custom_fields.carrier",
    ] {
        assert!(fields.contains(&f), "{fields:?}");
    }
    let statuses: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r["field"] == "status")
        .map(|r| {
            (
                r["old_value"].as_str().unwrap().into(),
                r["new_value"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("new".into(), "open".into()),
            ("open".into(), "resolved".into()),
            ("resolved".into(), "closed".into())
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["actor_id"].as_i64() == Some(admin.id()))
    );
    assert_eq!(rows[1]["actor_name"], "店长");

    // A new ticket's first public reply opens it and stamps the first reply.
    let t2 = create(&s, &admin, json!({"subject": "一般咨询"})).await;
    let e = s
        .post(
            &format!("/api/v1/tickets/{}/entries", id(&t2)),
            Some(&admin.token),
            json!({"kind": "public", "body": "您好，已收到"}),
        )
        .await;
    assert_eq!(e.expect(201)["kind"], "public");
    let t2 = s
        .get(&format!("/api/v1/tickets/{}", id(&t2)), Some(&admin.token))
        .await
        .expect(200)["ticket"]
        .clone();
    assert_eq!(t2["status"], "open");
    assert!(t2["first_public_reply_at"].is_string());
    // A non-complaint ticket resolves without causes (the required field still applies).
    let p2 = format!("/api/v1/tickets/{}", id(&t2));
    patch(
        &s,
        &p2,
        &admin.token,
        json!({"status": "resolved", "custom_fields": {"carrier": "中通"}}),
    )
    .await
    .expect(200);
}

both!(compensations_validated_and_audited, compensations_body);
async fn compensations_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let other = s.agent(s.shop.id, Role::Agent, "小王").await;
    let t = create(&s, &admin, json!({"subject": "少件"})).await;
    let path = format!("/api/v1/tickets/{}/compensations", id(&t));
    for bad in [
        json!({"kind": "refund", "amount_cents": 0}),
        json!({"kind": "coupon"}),
        json!({"kind": "gift", "amount_cents": -5}),
        json!({"kind": "cash", "amount_cents": 100}),
        json!({"kind": "refund", "amount_cents": 100, "currency": "yuan"}),
        json!({"kind": "refund", "amount_cents": 100, "note": "很".repeat(501)}),
    ] {
        s.post(&path, Some(&agent.token), bad)
            .await
            .expect_error(422, "validation_failed");
    }
    let refund = s
        .post(
            &path,
            Some(&agent.token),
            json!({"kind": "refund", "amount_cents": 3000, "cost_cents": 3000, "note": "部分退款"}),
        )
        .await;
    let refund = refund.expect(201).clone();
    assert_eq!(refund["currency"], "CNY");
    assert_eq!(refund["created_by"].as_i64(), Some(agent.id()));
    s.post(
        &path,
        Some(&agent.token),
        json!({"kind": "reshipment", "cost_cents": 1500}),
    )
    .await
    .expect(201);
    let list = s.get(&path, Some(&admin.token)).await.expect(200)["compensations"].clone();
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Only the creator or a manager deletes.
    let del = format!("{path}/{}", id(&refund));
    delete(&s, &del, &other.token)
        .await
        .expect_error(403, "forbidden");
    delete(&s, &del, &agent.token).await.expect(204);
    delete(&s, &del, &agent.token)
        .await
        .expect_error(404, "not_found");
    let audit = s
        .get(
            &format!("/api/v1/tickets/{}/audit", id(&t)),
            Some(&admin.token),
        )
        .await
        .expect(200)["audit"]
        .clone();
    let comp: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["field"] == "compensation")
        .collect();
    assert_eq!(comp.len(), 3, "two added, one removed: {comp:?}");
    assert!(comp[0]["new_value"].as_str().unwrap().contains("30.00"));
    assert!(comp[2]["old_value"].as_str().unwrap().contains("refund"));
}

both!(
    from_conversation_with_transcript_and_order,
    from_conversation_body
);
async fn from_conversation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let shopper = s.shopper().await;
    let sent = s.shopper_send(&shopper, "收到的杯子破损了，碎了一个").await;
    let cid = sent["conversation_id"].as_i64().unwrap();
    s.agent_send(&agent, cid, "非常抱歉，请拍照给我们", false)
        .await;
    s.agent_send(&agent, cid, "内部：找仓库核实", true).await;
    let older = order_for(&s, s.shop.id, shopper.customer_id, "A1001").await;
    let other_shopper = s.shopper().await;
    let foreign = order_for(&s, s.shop.id, other_shopper.customer_id, "B2002").await;
    let damaged = category(&s, &agent, "damaged_item").await;

    let path = format!("/api/v1/conversations/{cid}/ticket");
    s.post(&path, Some(&agent.token), json!({"order_id": foreign}))
        .await
        .expect_error(422, "validation_failed");
    let t = s
        .post(&path, Some(&agent.token), json!({"category_id": damaged}))
        .await
        .expect(201)
        .clone();
    assert_eq!(t["channel"], "conversation");
    assert_eq!(t["customer"]["id"].as_i64(), Some(shopper.customer_id));
    assert_eq!(t["assignee_id"].as_i64(), Some(agent.id()));
    assert!(
        t["subject"].as_str().unwrap().contains("A1001"),
        "{}",
        t["subject"]
    );
    assert_eq!(t["description"], "收到的杯子破损了，碎了一个");
    let tid = id(&t);
    let detail = s
        .get(&format!("/api/v1/tickets/{tid}"), Some(&agent.token))
        .await
        .expect(200)
        .clone();
    let links = detail["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .any(|l| l["kind"] == "conversation" && l["ref_id"].as_i64() == Some(cid))
    );
    assert!(links.iter().any(|l| l["kind"] == "order"
        && l["ref_id"].as_i64() == Some(older)
        && l["label"] == "A1001"));
    let entries = s
        .get(
            &format!("/api/v1/tickets/{tid}/entries"),
            Some(&agent.token),
        )
        .await
        .expect(200)["entries"]
        .clone();
    let transcript = &entries[0];
    assert_eq!(transcript["kind"], "system");
    let body = transcript["body"].as_str().unwrap();
    assert!(
        body.contains("碎了一个") && body.contains("请拍照"),
        "{body}"
    );
    assert!(
        !body.contains("找仓库核实"),
        "private notes stay out of the transcript"
    );
    let listed = s
        .get(
            &format!("/api/v1/conversations/{cid}/tickets"),
            Some(&agent.token),
        )
        .await
        .expect(200)["tickets"]
        .clone();
    assert_eq!(listed[0]["id"].as_i64(), Some(tid));
    // No order: `order_id: 0`.
    let t2 = s
        .post(
            &path,
            Some(&agent.token),
            json!({"order_id": 0, "subject": "只关联会话"}),
        )
        .await
        .expect(201)
        .clone();
    let d2 = s
        .get(&format!("/api/v1/tickets/{}", id(&t2)), Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(d2["links"].as_array().unwrap().len(), 1);

    // Another shop cannot see it, nor make one from this conversation.
    let shop_b = s.create_shop("tk-b").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "B").await;
    s.post(&path, Some(&admin_b.token), json!({}))
        .await
        .expect_error(404, "not_found");
    s.get(
        &format!("/api/v1/conversations/{cid}/tickets"),
        Some(&admin_b.token),
    )
    .await
    .expect_error(404, "not_found");
}

/// A `multipart/form-data` body with one `file` part.
fn form(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("----kefu-tk-{}", unique());
    let mut body = Vec::new();
    body.extend_from_slice(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
    ).as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

async fn upload(s: &TestServer, path: &str, token: &str) -> Resp {
    let (ct, body) = form("photo.png", &png());
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

both!(widget_reports_and_shopper_isolation, widget_body);
async fn widget_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let alice = s.shopper().await;
    let bob = s.shopper().await;
    order_for(&s, s.shop.id, alice.customer_id, "A-1").await;
    order_for(&s, s.shop.id, bob.customer_id, "B-1").await;
    let mut agent_ws = s.agent_ws(&admin).await;

    let orders = s
        .get("/api/v1/widget/tickets/orders", Some(&alice.token))
        .await
        .expect(200)["orders"]
        .clone();
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["order_no"], "A-1");

    // Another shopper's order number is refused; so is an empty description.
    let r = s
        .post(
            "/api/v1/widget/tickets",
            Some(&alice.token),
            json!({"order_no": "B-1", "description": "破了"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order_no")
    );
    s.post(
        "/api/v1/widget/tickets",
        Some(&alice.token),
        json!({"order_no": "A-1", "description": "  "}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post("/api/v1/widget/tickets", None, json!({"description": "x"}))
        .await
        .expect_error(401, "unauthorized");

    // A photo, then the report carrying it.
    let photo = upload(&s, "/api/v1/widget/ticket-attachments", &alice.token).await;
    let photo_id = id(photo.expect(201));
    // Bob cannot attach Alice's upload.
    s.post(
        "/api/v1/widget/tickets",
        Some(&bob.token),
        json!({"description": "x", "attachment_ids": [photo_id]}),
    )
    .await
    .expect_error(422, "validation_failed");
    let created = s
        .post(
            "/api/v1/widget/tickets",
            Some(&alice.token),
            json!({"order_no": "A-1", "description": "杯子破损了", "attachment_ids": [photo_id]}),
        )
        .await;
    let created = created.expect(201).clone();
    assert!(
        created.get("assignee_id").is_none(),
        "no internal fields: {created}"
    );
    let tid = id(&created);
    let ev = agent_ws.next_event("ticket.created", WAIT).await;
    assert_eq!(ev["ticket"]["id"].as_i64(), Some(tid));
    assert_eq!(ev["ticket"]["channel"], "widget");
    let detail = s
        .get(&format!("/api/v1/tickets/{tid}"), Some(&admin.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(detail["links"][0]["label"], "A-1");
    assert_eq!(detail["attachments"][0]["id"].as_i64(), Some(photo_id));
    // The photo: the agent and Alice may download it; Bob and another shop may not.
    for (token, status) in [(&admin.token, 200), (&alice.token, 200), (&bob.token, 404)] {
        let r = s
            .http
            .get(s.url(&format!("/api/v1/ticket-attachments/{photo_id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
    }

    // The agent answers publicly and notes internally: Alice sees the reply only.
    let mut alice_ws = s.shopper_ws(&alice).await;
    s.post(
        &format!("/api/v1/tickets/{tid}/entries"),
        Some(&admin.token),
        json!({"kind": "note", "body": "内部：查仓库"}),
    )
    .await
    .expect(201);
    s.post(
        &format!("/api/v1/tickets/{tid}/entries"),
        Some(&admin.token),
        json!({"kind": "public", "body": "已为您补发"}),
    )
    .await
    .expect(201);
    let ev = alice_ws.next_event("ticket.reply", WAIT).await;
    assert_eq!(ev["ticket_id"].as_i64(), Some(tid));
    patch(
        &s,
        &format!("/api/v1/tickets/{tid}"),
        &admin.token,
        json!({"status": "pending_customer"}),
    )
    .await
    .expect(200);
    let mine = s
        .get(&format!("/api/v1/widget/tickets/{tid}"), Some(&alice.token))
        .await
        .expect(200)
        .clone();
    let bodies: Vec<&str> = mine["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["已为您补发"]);
    assert_eq!(mine["ticket"]["status"], "pending_customer");
    assert!(mine["ticket"].get("root_causes").is_none());

    // Alice replies: the ticket waiting on her opens again.
    s.post(
        &format!("/api/v1/widget/tickets/{tid}/replies"),
        Some(&alice.token),
        json!({"body": "收到，谢谢"}),
    )
    .await
    .expect(201);
    let t = s
        .get(&format!("/api/v1/tickets/{tid}"), Some(&admin.token))
        .await
        .expect(200)["ticket"]
        .clone();
    assert_eq!(t["status"], "open");
    s.post(
        &format!("/api/v1/widget/tickets/{tid}/replies"),
        Some(&alice.token),
        json!({"body": ""}),
    )
    .await
    .expect_error(422, "validation_failed");

    // Bob: not his ticket, 404 everywhere; his list is empty.
    s.get(&format!("/api/v1/widget/tickets/{tid}"), Some(&bob.token))
        .await
        .expect_error(404, "not_found");
    s.post(
        &format!("/api/v1/widget/tickets/{tid}/replies"),
        Some(&bob.token),
        json!({"body": "hi"}),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(
        s.get("/api/v1/widget/tickets", Some(&bob.token))
            .await
            .expect(200)["tickets"],
        json!([])
    );
    let alices = s
        .get("/api/v1/widget/tickets", Some(&alice.token))
        .await
        .expect(200)["tickets"]
        .clone();
    assert_eq!(alices[0]["id"].as_i64(), Some(tid));
    s.get("/api/v1/widget/tickets/999999", Some(&alice.token))
        .await
        .expect_error(404, "not_found");
}

both!(merge_and_bulk, merge_and_bulk_body);
async fn merge_and_bulk_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let shopper = s.shopper().await;
    let sent = s.shopper_send(&shopper, "快递没送上楼").await;
    let cid = sent["conversation_id"].as_i64().unwrap();
    let target = create(&s, &admin, json!({"subject": "没送上楼", "tags": ["配送"]})).await;
    let dup = s
        .post(
            &format!("/api/v1/conversations/{cid}/ticket"),
            Some(&admin.token),
            json!({"tags": ["重复"]}),
        )
        .await
        .expect(201)
        .clone();
    let dup2 = create(&s, &admin, json!({"subject": "重复 2"})).await;
    s.post(
        &format!("/api/v1/tickets/{}/entries", id(&dup2)),
        Some(&admin.token),
        json!({"kind": "note", "body": "dup2 的备注"}),
    )
    .await
    .expect(201);
    let mpath = format!("/api/v1/tickets/{}/merge", id(&target));
    s.post(
        &mpath,
        Some(&admin.token),
        json!({"source_ids": [id(&target)]}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(&mpath, Some(&admin.token), json!({"source_ids": []}))
        .await
        .expect_error(422, "validation_failed");
    s.post(&mpath, Some(&admin.token), json!({"source_ids": [999_999]}))
        .await
        .expect_error(404, "not_found");
    let merged = s
        .post(
            &mpath,
            Some(&admin.token),
            json!({"source_ids": [id(&dup), id(&dup2)]}),
        )
        .await;
    let merged = merged.expect(200).clone();
    let mut tags: Vec<&str> = merged["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, vec!["配送", "重复"]);
    for d in [&dup, &dup2] {
        let t = s
            .get(&format!("/api/v1/tickets/{}", id(d)), Some(&admin.token))
            .await
            .expect(200)["ticket"]
            .clone();
        assert_eq!(t["status"], "closed");
        assert_eq!(t["merged_into_id"].as_i64(), Some(id(&target)));
    }
    let detail = s
        .get(
            &format!("/api/v1/tickets/{}", id(&target)),
            Some(&admin.token),
        )
        .await
        .expect(200)
        .clone();
    assert!(
        detail["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "conversation"),
        "links came over"
    );
    assert_eq!(detail["merged"].as_array().unwrap().len(), 2);
    let entries = s
        .get(
            &format!("/api/v1/tickets/{}/entries", id(&target)),
            Some(&admin.token),
        )
        .await
        .expect(200)["entries"]
        .clone();
    let bodies: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains("dup2 的备注")),
        "{bodies:?}"
    );
    assert!(
        bodies.iter().any(|b| b.contains("快递没送上楼")),
        "the transcript came over"
    );
    assert!(bodies.iter().any(|b| b.starts_with("合并了工单")));
    s.post(
        &mpath,
        Some(&admin.token),
        json!({"source_ids": [id(&dup)]}),
    )
    .await
    .expect_error(409, "conflict");
    patch(
        &s,
        &format!("/api/v1/tickets/{}", id(&dup)),
        &admin.token,
        json!({"priority": "high"}),
    )
    .await
    .expect_error(409, "conflict");
    let audit = s
        .get(
            &format!("/api/v1/tickets/{}/audit", id(&dup)),
            Some(&admin.token),
        )
        .await
        .expect(200)["audit"]
        .clone();
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["field"] == "merged_into" && r["new_value"] == target["display_number"])
    );
    // Closed merged tickets leave the default list.
    let all = list(&s, &admin, "").await;
    assert_eq!(
        numbers(&all),
        vec![target["display_number"].as_str().unwrap().to_owned()]
    );

    // Bulk: per-id results; a closed ticket and another shop's id fail alone.
    let a = create(&s, &admin, json!({"subject": "a"})).await;
    let b = create(&s, &admin, json!({"subject": "b"})).await;
    let shop_b = s.create_shop("tk-bulk").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "B").await;
    let foreign = create(&s, &admin_b, json!({"subject": "b-shop"})).await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let r = s.post("/api/v1/tickets/bulk", Some(&admin.token), json!({
        "ids": [id(&a), id(&b), id(&dup), id(&foreign)], "status": "open", "assignee_id": agent.id(),
        "priority": "high", "add_tags": ["批量"]})).await;
    let r = r.expect(200).clone();
    assert_eq!(r["succeeded"], 2);
    assert_eq!(r["failed"], 2);
    for res in r["results"].as_array().unwrap() {
        let rid = res["id"].as_i64().unwrap();
        if rid == id(&a) || rid == id(&b) {
            assert_eq!(res["ticket"]["status"], "open");
            assert_eq!(res["ticket"]["assignee_name"], "小美");
            assert_eq!(res["ticket"]["tags"], json!(["批量"]));
        } else if rid == id(&dup) {
            assert_eq!(res["error"]["code"], "conflict");
        } else {
            assert_eq!(res["error"]["code"], "not_found");
        }
    }
    let untouched = s
        .get(
            &format!("/api/v1/tickets/{}", id(&foreign)),
            Some(&admin_b.token),
        )
        .await
        .expect(200)["ticket"]
        .clone();
    assert_eq!(untouched["status"], "new");
    s.post(
        "/api/v1/tickets/bulk",
        Some(&admin.token),
        json!({"ids": [], "status": "open"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/tickets/bulk",
        Some(&admin.token),
        json!({"ids": [id(&a)]}),
    )
    .await
    .expect_error(422, "validation_failed");
    let many: Vec<i64> = (1..=101).collect();
    s.post(
        "/api/v1/tickets/bulk",
        Some(&admin.token),
        json!({"ids": many, "status": "open"}),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(saved_views_per_agent, views_body);
async fn views_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let mei = s.agent(s.shop.id, Role::Agent, "小美").await;
    let wang = s.agent(s.shop.id, Role::Agent, "小王").await;
    let v = s.post("/api/v1/ticket-views", Some(&mei.token),
        json!({"name": "我的紧急", "filters": {"assignee": "me", "priority": "urgent,high", "status": "new,open"}})).await;
    let v = v.expect(201).clone();
    assert_eq!(v["filters"]["assignee"], "me");
    s.post(
        "/api/v1/ticket-views",
        Some(&mei.token),
        json!({"name": "我的紧急"}),
    )
    .await
    .expect_error(409, "conflict");
    s.post(
        "/api/v1/ticket-views",
        Some(&mei.token),
        json!({"name": "坏", "filters": {"status": "done"}}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/ticket-views",
        Some(&mei.token),
        json!({"name": ""}),
    )
    .await
    .expect_error(422, "validation_failed");
    // Wang has the same name for himself and cannot see or touch Mei's.
    s.post(
        "/api/v1/ticket-views",
        Some(&wang.token),
        json!({"name": "我的紧急"}),
    )
    .await
    .expect(201);
    let wangs = s
        .get("/api/v1/ticket-views", Some(&wang.token))
        .await
        .expect(200)["views"]
        .clone();
    assert_eq!(wangs.as_array().unwrap().len(), 1);
    assert_ne!(wangs[0]["id"], v["id"]);
    let vpath = format!("/api/v1/ticket-views/{}", id(&v));
    s.put(&vpath, Some(&wang.token), json!({"name": "抢"}))
        .await
        .expect_error(404, "not_found");
    delete(&s, &vpath, &wang.token)
        .await
        .expect_error(404, "not_found");
    let renamed = s
        .put(
            &vpath,
            Some(&mei.token),
            json!({"name": "紧急", "filters": {"priority": "urgent"}}),
        )
        .await;
    assert_eq!(renamed.expect(200)["name"], "紧急");
    delete(&s, &vpath, &mei.token).await.expect(204);
    assert_eq!(
        s.get("/api/v1/ticket-views", Some(&mei.token))
            .await
            .expect(200)["views"],
        json!([])
    );
}

both!(roles_and_shop_isolation, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let mei = s.agent(s.shop.id, Role::Agent, "小美").await;
    let wang = s.agent(s.shop.id, Role::Agent, "小王").await;
    let mut mei_ws = s.agent_ws(&mei).await;
    let wangs = create(
        &s,
        &admin,
        json!({"subject": "王的", "assignee_id": wang.id()}),
    )
    .await;
    let open_one = create(&s, &admin, json!({"subject": "无人认领"})).await;
    // Mei hears of the unassigned ticket, not of Wang's.
    let ev = mei_ws.next_event("ticket.created", WAIT).await;
    assert_eq!(
        ev["ticket"]["id"], open_one["id"],
        "the first event Mei gets is the unassigned one"
    );

    let wpath = format!("/api/v1/tickets/{}", id(&wangs));
    for p in ["", "/entries", "/audit", "/links", "/compensations"] {
        s.get(&format!("{wpath}{p}"), Some(&mei.token))
            .await
            .expect_error(404, "not_found");
    }
    patch(&s, &wpath, &mei.token, json!({"priority": "low"}))
        .await
        .expect_error(404, "not_found");
    s.get(&wpath, Some(&sup.token)).await.expect(200);
    assert_eq!(
        numbers(&list(&s, &mei, "").await),
        vec![open_one["display_number"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        list(&s, &sup, "").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Reassigning away: Wang's list drops it (an event tells him).
    let mut wang_ws = s.agent_ws(&wang).await;
    patch(&s, &wpath, &sup.token, json!({"assignee_id": mei.id()}))
        .await
        .expect(200);
    let ev = wang_ws.next_event("ticket.updated", WAIT).await;
    assert_eq!(ev["ticket"]["assignee_id"].as_i64(), Some(mei.id()));
    s.get(&wpath, Some(&wang.token))
        .await
        .expect_error(404, "not_found");

    // Categories and fields: managers only.
    s.post(
        "/api/v1/ticket-categories",
        Some(&mei.token),
        json!({"name": "退换货"}),
    )
    .await
    .expect_error(403, "forbidden");
    let cat = s
        .post(
            "/api/v1/ticket-categories",
            Some(&admin.token),
            json!({"name": "退换货", "is_complaint": false}),
        )
        .await;
    let cat = cat.expect(201).clone();
    assert!(cat["key"].as_str().unwrap().starts_with("cat_"));
    let parent = category(&s, &admin, "delivery").await;
    let sub = s
        .post(
            "/api/v1/ticket-categories",
            Some(&admin.token),
            json!({"name": "丢件", "key": "lost", "parent_id": parent}),
        )
        .await;
    let sub = sub.expect(201).clone();
    assert_eq!(sub["is_complaint"], true, "inherits the parent's flag");
    s.post(
        "/api/v1/ticket-categories",
        Some(&admin.token),
        json!({"name": "孙", "parent_id": id(&sub)}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/ticket-categories",
        Some(&admin.token),
        json!({"name": "重复", "key": "lost"}),
    )
    .await
    .expect_error(409, "conflict");
    s.post(
        "/api/v1/ticket-categories",
        Some(&admin.token),
        json!({"name": "坏键", "key": "Bad Key"}),
    )
    .await
    .expect_error(422, "validation_failed");
    let t = create(
        &s,
        &admin,
        json!({"subject": "丢件了", "category_id": id(&sub)}),
    )
    .await;
    delete(
        &s,
        &format!("/api/v1/ticket-categories/{}", id(&sub)),
        &admin.token,
    )
    .await
    .expect_error(409, "conflict");
    patch(
        &s,
        &format!("/api/v1/ticket-categories/{}", id(&sub)),
        &admin.token,
        json!({"archived": true, "name": "丢件（旧）"}),
    )
    .await
    .expect(200);
    s.post(
        "/api/v1/tickets",
        Some(&admin.token),
        json!({"subject": "x", "category_id": id(&sub)}),
    )
    .await
    .expect_error(422, "validation_failed");
    let kept = s
        .get(&format!("/api/v1/tickets/{}", id(&t)), Some(&admin.token))
        .await
        .expect(200)["ticket"]
        .clone();
    assert_eq!(kept["category"]["name"], "丢件（旧）");
    delete(
        &s,
        &format!("/api/v1/ticket-categories/{}", id(&cat)),
        &admin.token,
    )
    .await
    .expect(204);

    // Another shop: every id of this shop is unknown there, and its categories are its own.
    let shop_b = s.create_shop("tk-iso").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "B").await;
    let tpath = format!("/api/v1/tickets/{}", id(&t));
    for p in ["", "/entries", "/audit", "/links", "/compensations"] {
        s.get(&format!("{tpath}{p}"), Some(&admin_b.token))
            .await
            .expect_error(404, "not_found");
    }
    patch(&s, &tpath, &admin_b.token, json!({"priority": "low"}))
        .await
        .expect_error(404, "not_found");
    s.post(
        &format!("{tpath}/entries"),
        Some(&admin_b.token),
        json!({"kind": "note", "body": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        &format!("{tpath}/compensations"),
        Some(&admin_b.token),
        json!({"kind": "gift"}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        &format!("{tpath}/merge"),
        Some(&admin_b.token),
        json!({"source_ids": [id(&open_one)]}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/tickets",
        Some(&admin_b.token),
        json!({"subject": "x", "category_id": id(&sub)}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/tickets",
        Some(&admin_b.token),
        json!({"subject": "x", "assignee_id": mei.id()}),
    )
    .await
    .expect_error(404, "not_found");
    patch(
        &s,
        &format!("/api/v1/ticket-categories/{}", id(&sub)),
        &admin_b.token,
        json!({"name": "抢"}),
    )
    .await
    .expect_error(404, "not_found");
    let b_first = create(&s, &admin_b, json!({"subject": "B 店第一单"})).await;
    assert_eq!(
        b_first["display_number"], "T-000001",
        "numbers are per shop"
    );
    assert_eq!(
        list(&s, &admin_b, "").await["tickets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let own = patch(
        &s,
        &format!("/api/v1/tickets/{}", id(&b_first)),
        &admin_b.token,
        json!({"category_id": id(&sub)}),
    )
    .await;
    own.expect_error(404, "not_found");
    s.get("/api/v1/tickets", None)
        .await
        .expect_error(401, "unauthorized");
}

both!(customer_merge_moves_tickets, customer_merge_body);
async fn customer_merge_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let keep = s.shopper().await;
    let gone = s.shopper().await;
    let t = s
        .post(
            "/api/v1/widget/tickets",
            Some(&gone.token),
            json!({"description": "漏发了一件"}),
        )
        .await
        .expect(201)
        .clone();
    s.post(
        &format!("/api/v1/customers/{}/merge", keep.customer_id),
        Some(&admin.token),
        json!({"source_id": gone.customer_id}),
    )
    .await
    .expect(200);
    let ticket = s
        .get(&format!("/api/v1/tickets/{}", id(&t)), Some(&admin.token))
        .await
        .expect(200)["ticket"]
        .clone();
    assert_eq!(ticket["customer"]["id"].as_i64(), Some(keep.customer_id));
    let mine = s
        .get("/api/v1/widget/tickets", Some(&keep.token))
        .await
        .expect(200)["tickets"]
        .clone();
    assert_eq!(mine[0]["id"], t["id"]);
}

both!(
    agent_tickets_are_internal_unless_shared,
    internal_tickets_body
);
async fn internal_tickets_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let alice = s.shopper().await;
    let mut alice_ws = s.shopper_ws(&alice).await;

    // An agent's ticket about Alice, with a file: internal.
    let file = upload(&s, "/api/v1/ticket-attachments", &admin.token).await;
    let file_id = id(file.expect(201));
    let internal = create(
        &s,
        &admin,
        json!({"subject": "内部：疑似职业索赔，不要退款", "description": "同一地址三次投诉",
               "customer_id": alice.customer_id, "attachment_ids": [file_id]}),
    )
    .await;
    let tid = id(&internal);
    assert_eq!(internal["shared_with_customer"], false);
    let listed = s.get("/api/v1/widget/tickets", Some(&alice.token)).await;
    assert_eq!(listed.expect(200)["tickets"], json!([]), "{}", listed.text);
    s.get(&format!("/api/v1/widget/tickets/{tid}"), Some(&alice.token))
        .await
        .expect_error(404, "not_found");
    s.post(
        &format!("/api/v1/widget/tickets/{tid}/replies"),
        Some(&alice.token),
        json!({"body": "?"}),
    )
    .await
    .expect_error(404, "not_found");
    let raw = s
        .http
        .get(s.url(&format!("/api/v1/ticket-attachments/{file_id}")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.status().as_u16(),
        404,
        "the agent's file stays internal"
    );
    // A public reply on an internal ticket does not reach Alice's socket either.
    s.post(
        &format!("/api/v1/tickets/{tid}/entries"),
        Some(&admin.token),
        json!({"kind": "public", "body": "已核实"}),
    )
    .await
    .expect(201);
    assert!(
        alice_ws
            .find(std::time::Duration::from_millis(500), |e| e["type"]
                == "ticket.reply")
            .await
            .is_none(),
        "an internal ticket told its shopper"
    );

    // Shared explicitly (and audited): now Alice sees it and its public replies, never the
    // agent's file attached to the ticket itself.
    let shared = patch(
        &s,
        &format!("/api/v1/tickets/{tid}"),
        &admin.token,
        json!({"shared_with_customer": true}),
    )
    .await;
    assert_eq!(
        shared.expect(200)["shared_with_customer"],
        true,
        "{}",
        shared.text
    );
    let mine = s
        .get(&format!("/api/v1/widget/tickets/{tid}"), Some(&alice.token))
        .await
        .expect(200)
        .clone();
    assert!(mine["ticket"].get("assignee_id").is_none());
    assert_eq!(mine["attachments"], json!([]), "{mine}");
    let listed = s.get("/api/v1/widget/tickets", Some(&alice.token)).await;
    assert_eq!(listed.expect(200)["tickets"][0]["id"].as_i64(), Some(tid));
    let raw = s
        .http
        .get(s.url(&format!("/api/v1/ticket-attachments/{file_id}")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 404);

    // Created shared from the start.
    let open = create(
        &s,
        &admin,
        json!({"subject": "补发进度", "customer_id": alice.customer_id, "shared_with_customer": true}),
    )
    .await;
    assert_eq!(open["shared_with_customer"], true);
    let listed = s.get("/api/v1/widget/tickets", Some(&alice.token)).await;
    assert_eq!(listed.expect(200)["tickets"].as_array().unwrap().len(), 2);

    // Made internal again: gone from the widget.
    patch(
        &s,
        &format!("/api/v1/tickets/{tid}"),
        &admin.token,
        json!({"shared_with_customer": false}),
    )
    .await
    .expect(200);
    s.get(&format!("/api/v1/widget/tickets/{tid}"), Some(&alice.token))
        .await
        .expect_error(404, "not_found");
}
