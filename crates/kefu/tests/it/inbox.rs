//! The inbox (issue 19): what waits (the shopper's preview, the wait, "longest wait first"), the
//! order and product a conversation is about (named by the shopper, sent from the shop page,
//! picked by the agent) and what fills script variables and tickets from it, the widget's look,
//! and the notices a shopper reads in the chat.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, NewProduct, Role};
use kefu_core::time::Millis;
use serde_json::{Value, json};
use std::time::Duration;

/// An order of one line for `customer_id`: paid and shipped, or unpaid.
async fn order(
    s: &TestServer,
    customer_id: Id,
    order_no: &str,
    name: &str,
    hours_ago: i64,
    shipped: bool,
) -> Id {
    let placed = Millis::now().0 - hours_ago * 3_600_000;
    let mut doc = json!({
        "order_no": order_no,
        "customer_id": customer_id,
        "placed_at": placed,
        "items": [{"sku": format!("SKU-{order_no}"), "name": name, "quantity": 1, "unit_price_cents": 19900}]
    });
    if shipped {
        doc["paid_at"] = json!(placed + 60_000);
        doc["shipped_at"] = json!(placed + 120_000);
        doc["shipments"] = json!([{"carrier": "顺丰速运", "tracking_no": format!("SF{order_no}"), "status": "in_transit"}]);
    }
    let input: OrderInput = serde_json::from_value(doc).expect("order input");
    let out = s
        .store
        .apply_commerce(
            s.shop.id,
            CommerceChange::Orders(vec![(0, validate_order("", &input).expect("valid order"))]),
            None,
        )
        .await
        .expect("order stored");
    assert_eq!(out.failed, 0, "{out:?}");
    out.items[0].id.expect("order id")
}

async fn product(s: &TestServer, shop_id: Id, sku: &str, name: &str) -> Id {
    s.store
        .upsert_product(
            shop_id,
            &NewProduct {
                sku: sku.into(),
                name: name.into(),
                price_cents: 59900,
                currency: "CNY".into(),
                image_url: String::new(),
                description: String::new(),
            },
        )
        .await
        .expect("product")
        .id
}

async fn render(s: &TestServer, agent: &Agent, cid: Id, text: &str) -> String {
    s.post(
        "/api/v1/scripts/render",
        Some(&agent.token),
        json!({"conversation_id": cid, "text": text}),
    )
    .await
    .expect(200)["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(list: &[Value]) -> Vec<Id> {
    list.iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

both!(the_list_shows_what_waits, list_body);
async fn list_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    // Nobody online: each start stores the greeting before and the offline notice after.
    let first = s.shopper().await;
    let cid1 = s.shopper_send(&first, "我的耳机到哪了？\n麻烦查一下").await["conversation_id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = s.shopper().await;
    let cid2 = s.shopper_send(&second, "在吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let third = s.shopper().await;
    let cid3 = s.shopper_send(&third, "能开发票吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.agent_send(&admin, cid3, "可以的，下单时填写抬头即可", false)
        .await;

    let list = s.conversations(&admin, "?status=open").await;
    let row = list.iter().find(|c| c["id"] == cid1).unwrap();
    assert_eq!(row["last_customer_message_preview"], "我的耳机到哪了？");
    assert_ne!(
        row["last_message_preview"], row["last_customer_message_preview"],
        "the last message is the offline notice"
    );
    let since = row["waiting_since"].as_str().expect("waits").to_owned();
    let answered = list.iter().find(|c| c["id"] == cid3).unwrap();
    assert!(answered["waiting_since"].is_null(), "{answered}");
    assert_eq!(answered["last_customer_message_preview"], "能开发票吗");
    assert_eq!(
        ids(&list)[0],
        cid3,
        "the default order: latest activity first"
    );

    let waiting = s.conversations(&admin, "?status=open&sort=waiting").await;
    assert_eq!(ids(&waiting), vec![cid1, cid2, cid3]);
    let one = s.conversations(&admin, "?sort=waiting&limit=1").await;
    assert_eq!(ids(&one), vec![cid1]);
    let r = s
        .get("/api/v1/conversations?sort=oldest", Some(&admin.token))
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "sort");

    // A note does not answer; a public reply does; the next message waits anew.
    s.agent_send(&admin, cid1, "查物流中", true).await;
    let c = s.conversation(&admin, cid1).await;
    assert_eq!(c["waiting_since"].as_str(), Some(since.as_str()));
    s.agent_send(&admin, cid1, "已经在路上了", false).await;
    assert!(s.conversation(&admin, cid1).await["waiting_since"].is_null());
    s.shopper_send(&first, "好的谢谢").await;
    let c = s.conversation(&admin, cid1).await;
    assert_eq!(c["last_customer_message_preview"], "好的谢谢");
    assert!(c["waiting_since"].as_str().unwrap() > since.as_str());
    let waiting = s.conversations(&admin, "?status=open&sort=waiting").await;
    assert_eq!(ids(&waiting), vec![cid2, cid1, cid3]);

    // Resolving ends a wait.
    s.post(
        &format!("/api/v1/conversations/{cid2}/status"),
        Some(&admin.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    assert!(s.conversation(&admin, cid2).await["waiting_since"].is_null());
}

both!(the_conversation_is_about_the_order_named, named_order_body);
async fn named_order_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "王小美").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let earbuds = order(
        &s,
        shopper.customer_id,
        "XMF202611230001",
        "降噪蓝牙耳机 Pro",
        5,
        true,
    )
    .await;
    let cable = order(
        &s,
        shopper.customer_id,
        "XMF202611230002",
        "快充数据线",
        2,
        false,
    )
    .await;
    let other = s.shopper().await;
    let foreign = order(
        &s,
        other.customer_id,
        "XMF202611239999",
        "别人的订单",
        1,
        false,
    )
    .await;
    let cid = s.shopper_send(&shopper, "你好，我的耳机到哪了？").await["conversation_id"]
        .as_i64()
        .unwrap();
    let script = "订单{order.no}目前是{order.status}";
    // Nothing named yet: the customer's latest order (the unpaid cable).
    assert_eq!(
        render(&s, &agent, cid, script).await,
        "订单XMF202611230002目前是待付款"
    );

    // The shopper names the earbuds' order: the conversation is about it, live.
    let mut ws = s.agent_ws(&agent).await;
    s.shopper_send(&shopper, "订单号是 XMF202611230001，麻烦查下物流")
        .await;
    let updated = ws
        .find(WAIT, |e| {
            e["type"] == "conversation.updated" && e["conversation"]["current_order_id"] == earbuds
        })
        .await
        .expect("conversation.updated with the named order");
    assert_eq!(updated["conversation"]["id"], cid);
    assert_eq!(
        render(&s, &agent, cid, script).await,
        "订单XMF202611230001目前是已发货"
    );
    // Another shopper's order number is not theirs to name.
    s.shopper_send(&shopper, "还有 XMF202611239999 这个").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        s.conversation(&agent, cid).await["current_order_id"],
        earbuds
    );

    // The sidebar: the current order as a card; the agent picks another.
    let path = format!("/api/v1/conversations/{cid}/context");
    let ctx = s.get(&path, Some(&agent.token)).await.expect(200).clone();
    assert_eq!(ctx["order"]["order_no"], "XMF202611230001");
    assert_eq!(ctx["order"]["logistics"]["carrier"], "顺丰速运");
    assert!(ctx["product"].is_null());
    let picked = s
        .put(&path, Some(&agent.token), json!({"order_id": cable}))
        .await
        .expect(200)
        .clone();
    assert_eq!(picked["conversation"]["current_order_id"], cable);
    assert_eq!(picked["context"]["order"]["order_no"], "XMF202611230002");
    assert_eq!(
        render(&s, &agent, cid, script).await,
        "订单XMF202611230002目前是待付款"
    );
    let r = s
        .put(&path, Some(&agent.token), json!({"order_id": foreign}))
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "order_id");
    s.put(&path, Some(&agent.token), json!({"order_id": 9_999_999}))
        .await
        .expect_error(404, "not_found");
    s.put(&path, Some(&agent.token), json!({}))
        .await
        .expect_error(422, "validation_failed");
    s.put(&path, Some(&agent.token), json!({"order_id": "x"}))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(
        s.conversation(&agent, cid).await["current_order_id"],
        cable,
        "refused changes changed nothing"
    );

    // An order card sent by the agent makes its order current.
    s.post(
        &format!("/api/v1/conversations/{cid}/cards"),
        Some(&agent.token),
        json!({"order_id": earbuds, "client_msg_id": "card-1"}),
    )
    .await
    .expect(201);
    assert_eq!(
        s.conversation(&agent, cid).await["current_order_id"],
        earbuds
    );

    // 创建工单 links the current order, not the latest.
    let t = s
        .post(
            &format!("/api/v1/conversations/{cid}/ticket"),
            Some(&agent.token),
            json!({}),
        )
        .await
        .expect(201)
        .clone();
    assert!(
        t["subject"].as_str().unwrap().contains("XMF202611230001"),
        "{}",
        t["subject"]
    );

    // Clearing it: back to the latest order.
    s.put(&path, Some(&agent.token), json!({"order_id": null}))
        .await
        .expect(200);
    assert_eq!(
        render(&s, &agent, cid, script).await,
        "订单XMF202611230002目前是待付款"
    );

    // Another shop's agent and an agent who may not see it: 404.
    let other_shop = s.create_shop("elsewhere").await;
    let outsider = s.agent(other_shop.id, Role::Admin, "别家").await;
    s.get(&path, Some(&outsider.token))
        .await
        .expect_error(404, "not_found");
    s.put(&path, Some(&outsider.token), json!({"order_id": cable}))
        .await
        .expect_error(404, "not_found");
    let colleague = s.agent(s.shop.id, Role::Agent, "李娜").await;
    s.get(&path, Some(&colleague.token))
        .await
        .expect_error(404, "not_found");
}

both!(the_shop_page_names_product_and_order, shop_page_body);
async fn shop_page_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "王小美").await;
    s.set_status(&agent, "online").await;
    let pid = product(&s, s.shop.id, "XMF-EAR-01", "降噪蓝牙耳机 Pro").await;
    let shopper = s.shopper().await;
    let oid = order(
        &s,
        shopper.customer_id,
        "XMF202611230001",
        "降噪蓝牙耳机 Pro",
        5,
        true,
    )
    .await;
    let ctx = |body: Value| {
        let s = &s;
        let token = shopper.token.clone();
        async move { s.post("/api/v1/widget/context", Some(&token), body).await }
    };

    // Before the first message there is no conversation to be about anything yet.
    let r = ctx(json!({"sku": "XMF-EAR-01"})).await;
    assert!(r.expect(200)["conversation_id"].is_null());
    let cid = s.shopper_send(&shopper, "这款有现货吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    let mut shopper_ws = s.shopper_ws(&shopper).await;
    let r = ctx(json!({"sku": "XMF-EAR-01", "order_no": "XMF202611230001"})).await;
    assert_eq!(r.expect(200)["conversation_id"], cid);
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["current_product_id"], pid);
    assert_eq!(c["current_order_id"], oid);
    let cards: Vec<Value> = s
        .agent_messages(&agent, cid, 0)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "product_card" || m["kind"] == "order_card")
        .collect();
    assert_eq!(cards.len(), 2, "{cards:#?}");
    assert_eq!(cards[0]["sender_type"], "system");
    assert_eq!(cards[0]["payload"]["sku"], "XMF-EAR-01");
    assert_eq!(cards[1]["payload"]["order_no"], "XMF202611230001");
    let seen = shopper_ws.next_event("message.created", WAIT).await;
    assert_eq!(
        seen["message"]["kind"], "product_card",
        "the shopper sees it too"
    );
    // "这款" fills from the product the page named.
    assert_eq!(
        render(&s, &agent, cid, "{product.name} 有现货").await,
        "降噪蓝牙耳机 Pro 有现货"
    );
    // The same page again: nothing new in the chat.
    ctx(json!({"sku": "XMF-EAR-01"})).await.expect(200);
    assert_eq!(
        s.agent_messages(&agent, cid, 0)
            .await
            .iter()
            .filter(|m| m["kind"] == "product_card")
            .count(),
        1
    );

    // Refused: nothing, an unknown SKU, another shopper's order, a NUL, no token.
    ctx(json!({})).await.expect_error(422, "validation_failed");
    ctx(json!({"sku": "NOPE"}))
        .await
        .expect_error(404, "not_found");
    let other = s.shopper().await;
    order(&s, other.customer_id, "XMF202611239999", "别人的", 1, false).await;
    let r = ctx(json!({"order_no": "XMF202611239999"})).await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "order_no");
    ctx(json!({"sku": "a\u{0}b"}))
        .await
        .expect_error(422, "validation_failed");
    ctx(json!({"order_no": "9".repeat(65)}))
        .await
        .expect_error(422, "validation_failed");
    s.post("/api/v1/widget/context", None, json!({"sku": "XMF-EAR-01"}))
        .await
        .expect_error(401, "unauthorized");
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["current_order_id"], oid, "refused calls changed nothing");

    // Resolved: a finished inquiry. The page's context waits for the next message, which
    // reopens the conversation about something new.
    s.post(
        &format!("/api/v1/conversations/{cid}/status"),
        Some(&agent.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    let r = ctx(json!({"order_no": "XMF202611230001"})).await;
    assert!(r.expect(200)["conversation_id"].is_null(), "{}", r.text);
    s.shopper_send(&shopper, "又来问一下").await;
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["status"], "open");
    assert!(
        c["current_order_id"].is_null(),
        "the reopened inquiry starts afresh: {c}"
    );
    assert!(c["current_product_id"].is_null());
    let r = ctx(json!({"order_no": "XMF202611230001"})).await;
    assert_eq!(r.expect(200)["conversation_id"], cid);
    assert_eq!(s.conversation(&agent, cid).await["current_order_id"], oid);
}

both!(widget_look_is_the_shops, widget_look_body);
async fn widget_look_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        config["widget"],
        json!({"color": "#2563eb", "position": "right", "greeting": ""})
    );
    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    settings["widget"] =
        json!({"color": " #E4393C ", "position": "left", "greeting": "有问题随时问我们"});
    let saved = s
        .put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(saved["widget"]["color"], "#e4393c");
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        config["widget"],
        json!({"color": "#e4393c", "position": "left", "greeting": "有问题随时问我们"})
    );

    for (bad, field) in [
        (
            json!({"color": "red", "position": "left", "greeting": ""}),
            "widget.color",
        ),
        (
            json!({"color": "#12345", "position": "left", "greeting": ""}),
            "widget.color",
        ),
        (
            json!({"color": "#123456", "position": "left", "greeting": "字".repeat(61)}),
            "widget.greeting",
        ),
    ] {
        let mut body = settings.clone();
        body["widget"] = bad;
        let r = s
            .put("/api/v1/shop/settings", Some(&admin.token), body)
            .await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.body["error"]["field"], field);
    }
    let mut body = settings.clone();
    body["widget"]["position"] = json!("top");
    s.put("/api/v1/shop/settings", Some(&admin.token), body)
        .await
        .expect_error(422, "validation_failed");
    s.put(
        "/api/v1/shop/settings",
        Some(&agent.token),
        settings.clone(),
    )
    .await
    .expect_error(403, "forbidden");
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        config["widget"]["color"], "#e4393c",
        "refused saves changed nothing"
    );
}

/// The system notices a shopper reads in the chat, in order of arrival.
async fn notices(s: &TestServer, shopper: &Shopper) -> Vec<String> {
    s.shopper_history(shopper, 0).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_type"] == "system" && m["kind"] == "text")
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

both!(the_shopper_hears_what_happens, notices_body);
async fn notices_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let first = s.agent(s.shop.id, Role::Agent, "王小美").await;
    let second = s.agent(s.shop.id, Role::Agent, "李娜").await;
    s.set_status(&first, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "耳机坏了，想退货").await["conversation_id"]
        .as_i64()
        .unwrap();
    let c = s.conversation(&admin, cid).await;
    assert_eq!(c["assignee_id"], first.id(), "routed to the online agent");
    let mut shopper_ws = s.shopper_ws(&shopper).await;

    // A transfer: the shopper hears who serves them now; the colleagues' note stays internal.
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&first.token),
        json!({"agent_id": second.id(), "note": "售后问题，转给李娜"}),
    )
    .await
    .expect(200);
    let told = shopper_ws
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["sender_type"] == "system"
        })
        .await
        .expect("a notice");
    assert_eq!(
        told["message"]["body"],
        "您的会话已转接给客服「李娜」，请稍候，马上为您服务。"
    );
    assert_eq!(told["message"]["private"], false);
    let said = notices(&s, &shopper).await;
    assert!(
        !said.iter().any(|n| n.contains("售后问题")),
        "the internal note never reaches the shopper: {said:?}"
    );
    // Handing it to a team's queue.
    let team = s.create_team(s.shop.id, "售后").await;
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&admin.token),
        json!({"team": team.id}),
    )
    .await
    .expect(200);
    assert!(
        notices(&s, &shopper)
            .await
            .iter()
            .any(|n| n.contains("已转接至「售后」组")),
    );

    // A ticket about the conversation, shared with the shopper, resolved (an internal one would
    // tell the shopper nothing).
    let t = s
        .post(
            &format!("/api/v1/conversations/{cid}/ticket"),
            Some(&admin.token),
            json!({"shared_with_customer": true}),
        )
        .await
        .expect(201)
        .clone();
    let tpath = format!("/api/v1/tickets/{}", t["id"]);
    for status in ["open", "resolved"] {
        s.request(
            reqwest::Method::PATCH,
            &tpath,
            Some(&admin.token),
            Some(json!({"status": status})),
        )
        .await
        .expect(200);
    }
    let display = t["display_number"].as_str().unwrap();
    assert!(
        notices(&s, &shopper)
            .await
            .iter()
            .any(|n| n.contains(display) && n.contains("已处理完成")),
        "{:?}",
        notices(&s, &shopper).await
    );

    // Each after-sales step.
    let oid = order(
        &s,
        shopper.customer_id,
        "XMF202611230001",
        "降噪蓝牙耳机 Pro",
        48,
        true,
    )
    .await;
    let req = s
        .post(
            "/api/v1/aftersales",
            Some(&admin.token),
            json!({"order_id": oid, "kind": "return", "reason": "quality", "description": "左耳没声音",
                   "lines": [{"line_no": 1, "quantity": 1}], "conversation_id": cid}),
        )
        .await
        .expect(201)
        .clone();
    let rid = req["id"].as_i64().unwrap();
    let no = req["no"].as_str().unwrap().to_owned();
    let act = |action: Value| {
        let s = &s;
        let token = admin.token.clone();
        async move {
            s.post(
                &format!("/api/v1/aftersales/{rid}/actions"),
                Some(&token),
                action,
            )
            .await
            .expect(200)
            .clone()
        }
    };
    act(json!({"type": "decide", "decision": {"type": "full_refund", "return_goods": true, "return_shipping_paid_by": "shop"}})).await;
    act(json!({"type": "ship_return", "carrier": "顺丰速运", "tracking_no": "SF1234567"})).await;
    act(json!({"type": "receive"})).await;
    act(json!({"type": "inspect", "passed": true, "note": ""})).await;
    act(json!({"type": "refund", "amount_cents": 19900})).await;
    let said: Vec<String> = notices(&s, &shopper)
        .await
        .into_iter()
        .filter(|n| n.contains(&no))
        .collect();
    let wanted = [
        "已提交",
        "请将商品寄回（运费由店铺承担）",
        "已收到您寄回的商品",
        "检验通过",
        "已退款 199.00元",
    ];
    assert_eq!(said.len(), wanted.len(), "{said:#?}");
    for (n, w) in said.iter().zip(wanted) {
        assert!(n.contains(w), "{n} should say {w}");
    }
}
