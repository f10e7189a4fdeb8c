//! After-sales requests (售后): each kind and decision end to end, every class of illegal step,
//! line validation against the order, the refund recorded on the order, evidence photos, role
//! scoping, isolation between shops, list filters and live events.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use kefu_core::time::Millis;
use serde_json::{Value, json};

/// A paid order of `customer_id` (one earphone at 199.00, two cables at 29.00, 10.00 shipping).
/// Returns the order id.
async fn paid_order(s: &TestServer, shop_id: Id, customer_id: Id, order_no: &str) -> Id {
    order(s, shop_id, customer_id, order_no, true).await
}

async fn order(s: &TestServer, shop_id: Id, customer_id: Id, order_no: &str, paid: bool) -> Id {
    let now = Millis::now().0;
    let mut doc = json!({
        "order_no": order_no,
        "customer_id": customer_id,
        "placed_at": now - 86_400_000,
        "shipping_fee_cents": 1000,
        "items": [
            {"sku": "AB-PRO", "name": "AirBuds Pro 降噪耳机", "quantity": 1, "unit_price_cents": 19900},
            {"sku": "CBL-1", "name": "快充数据线", "quantity": 2, "unit_price_cents": 2900}
        ]
    });
    if paid {
        doc["paid_at"] = json!(now - 80_000_000);
    }
    let input: OrderInput = serde_json::from_value(doc).expect("order input");
    let out = s
        .store
        .apply_commerce(
            shop_id,
            CommerceChange::Orders(vec![(0, validate_order("", &input).expect("valid"))]),
            None,
        )
        .await
        .expect("order stored");
    assert_eq!(out.failed, 0, "{out:?}");
    out.items[0].id.expect("order id")
}

async fn customer(s: &TestServer, shop_id: Id) -> Id {
    s.store
        .create_customer(
            shop_id,
            &kefu_core::model::NewCustomer {
                name: Some(format!("买家{}", unique())),
                ..Default::default()
            },
        )
        .await
        .expect("customer")
        .id
}

async fn create(s: &TestServer, a: &Agent, body: Value) -> Resp {
    s.post("/api/v1/aftersales", Some(&a.token), body).await
}

async fn act(s: &TestServer, a: &Agent, id: Id, action: Value) -> Resp {
    s.post(
        &format!("/api/v1/aftersales/{id}/actions"),
        Some(&a.token),
        action,
    )
    .await
}

async fn order_json(s: &TestServer, a: &Agent, id: Id) -> Value {
    s.get(&format!("/api/v1/orders/{id}"), Some(&a.token))
        .await
        .expect(200)
        .clone()
}

fn id_of(v: &Value) -> Id {
    v["id"].as_i64().expect("id")
}

both!(
    refund_only_partial_refund_keeping_goods,
    partial_refund_body
);
async fn partial_refund_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-P-1").await;

    let r = create(
        &s,
        &admin,
        json!({"order_id": oid, "kind": "refund", "reason": "damaged", "description": "外壳有划痕",
               "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    let req = r.expect(201).clone();
    let id = id_of(&req);
    assert_eq!(req["no"], "AS-000001");
    assert_eq!(req["state"], "requested");
    assert_eq!(req["customer"]["id"], c);
    // 199.00 of a 257.00 item total, no discount: the line's own amount.
    assert_eq!(req["refundable_cents"], 19900);
    assert_eq!(req["lines"][0]["sku"], "AB-PRO");
    assert_eq!(req["allowed_actions"], json!(["decide", "cancel"]));

    // A second request numbers on.
    let second = create(
        &s,
        &admin,
        json!({"order_id": oid, "kind": "refund", "reason": "quality", "lines": [{"line_no": 2, "quantity": 1}]}),
    )
    .await;
    assert_eq!(second.expect(201)["no"], "AS-000002");

    let decided = act(
        &s,
        &admin,
        id,
        json!({"type": "decide", "decision": {"type": "partial_refund", "amount_cents": 3000}}),
    )
    .await;
    let decided = decided.expect(200);
    assert_eq!(decided["state"], "approved");
    assert_eq!(decided["allowed_actions"], json!(["refund", "cancel"]));
    // More than decided is a bad value, not a bad state.
    act(
        &s,
        &admin,
        id,
        json!({"type": "refund", "amount_cents": 3001}),
    )
    .await
    .expect_error(422, "validation_failed");
    let refunded = act(
        &s,
        &admin,
        id,
        json!({"type": "refund", "amount_cents": 3000}),
    )
    .await;
    let refunded = refunded.expect(200).clone();
    assert_eq!(refunded["state"], "refunded");
    assert_eq!(refunded["refunded_cents"], 3000);
    assert!(refunded["refund_id"].is_i64());

    // The refund is on the order: amount, payment status, and the refund row.
    let o = order_json(&s, &admin, oid).await;
    assert_eq!(o["refunded_cents"], 3000);
    assert_eq!(o["payment_status"], "partially_refunded");
    assert_eq!(o["refunds"][0]["refund_no"], "AS-000001");
    assert_eq!(o["refunds"][0]["status"], "refunded");

    let done = act(&s, &admin, id, json!({"type": "complete"})).await;
    let done = done.expect(200).clone();
    assert_eq!(done["state"], "completed");
    assert!(done["closed_at"].is_string());
    let steps: Vec<&str> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["create", "decide", "refund", "complete"]);
    assert_eq!(done["history"][1]["actor_name"], "店长");
    assert_eq!(
        done["history"][1]["detail"]["decision"]["amount_cents"],
        3000
    );
    assert_eq!(done["history"][2]["from_state"], "approved");
    // A finished request takes nothing more.
    let e = act(&s, &admin, id, json!({"type": "cancel"})).await;
    e.expect_error(409, "conflict");
    assert!(
        e.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("completed")
    );
}

both!(return_with_full_refund_refunds_the_order, full_return_body);
async fn full_return_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-R-1").await;
    // The whole order comes back: everything paid is refundable, shipping included.
    let req = create(
        &s,
        &admin,
        json!({"order_id": oid, "kind": "return", "reason": "no_longer_wanted",
               "lines": [{"line_no": 1, "quantity": 1}, {"line_no": 2, "quantity": 2}]}),
    )
    .await;
    let req = req.expect(201).clone();
    let id = id_of(&req);
    assert_eq!(req["refundable_cents"], 19900 + 5800 + 1000);

    // Who pays the shipping back must be said when goods come back.
    act(
        &s,
        &admin,
        id,
        json!({"type": "decide", "decision": {"type": "full_refund", "return_goods": true}}),
    )
    .await
    .expect_error(422, "validation_failed");
    let d = act(
        &s,
        &admin,
        id,
        json!({"type": "decide", "decision": {"type": "full_refund", "return_goods": true, "return_shipping_paid_by": "customer"}}),
    )
    .await;
    let d = d.expect(200).clone();
    assert_eq!(d["state"], "awaiting_return");
    assert_eq!(d["return_shipping_paid_by"], "customer");
    // No refund before the goods are back and inspected.
    let e = act(
        &s,
        &admin,
        id,
        json!({"type": "refund", "amount_cents": 100}),
    )
    .await;
    e.expect_error(409, "conflict");
    let msg = e.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("refund") && msg.contains("awaiting_return"),
        "{msg}"
    );
    // A bad tracking number is a bad value.
    act(
        &s,
        &admin,
        id,
        json!({"type": "ship_return", "carrier": "顺丰", "tracking_no": "x"}),
    )
    .await
    .expect_error(422, "validation_failed");
    let shipped = act(
        &s,
        &admin,
        id,
        json!({"type": "ship_return", "carrier": "顺丰", "tracking_no": "SF1234567890"}),
    )
    .await;
    assert_eq!(
        shipped.expect(200)["return_parcel"]["tracking_no"],
        "SF1234567890"
    );
    // Cancelling is for before the goods are on their way.
    act(&s, &admin, id, json!({"type": "cancel"}))
        .await
        .expect_error(409, "conflict");
    act(&s, &admin, id, json!({"type": "receive"}))
        .await
        .expect(200);
    let inspected = act(
        &s,
        &admin,
        id,
        json!({"type": "inspect", "passed": true, "note": "完好"}),
    )
    .await;
    let inspected = inspected.expect(200).clone();
    assert_eq!(inspected["inspection"]["passed"], true);
    assert_eq!(inspected["allowed_actions"], json!(["refund"]));
    act(
        &s,
        &admin,
        id,
        json!({"type": "reship", "carrier": "EMS", "tracking_no": "E1234567"}),
    )
    .await
    .expect_error(409, "conflict");
    act(
        &s,
        &admin,
        id,
        json!({"type": "refund", "amount_cents": 26700}),
    )
    .await
    .expect(200);
    let o = order_json(&s, &admin, oid).await;
    assert_eq!(o["refunded_cents"], 26700);
    assert_eq!(o["payment_status"], "refunded");
    // Nothing is left to ask for.
    create(
        &s,
        &admin,
        json!({"order_id": oid, "kind": "refund", "reason": "other", "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(exchange_and_failed_inspection_and_rejection, exchange_body);
async fn exchange_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-X-1").await;
    let mk = |line: i64, kind: &str| json!({"order_id": oid, "kind": kind, "reason": "wrong_item", "lines": [{"line_no": line, "quantity": 1}]});
    // Exchange: back, inspected, replacement shipped, completed.
    let x = id_of(create(&s, &admin, mk(1, "exchange")).await.expect(201));
    // An exchange request is not refunded in full.
    act(
        &s,
        &admin,
        x,
        json!({"type": "decide", "decision": {"type": "full_refund", "return_goods": false}}),
    )
    .await
    .expect_error(422, "validation_failed");
    act(&s, &admin, x, json!({"type": "decide", "decision": {"type": "exchange", "return_shipping_paid_by": "shop"}}))
        .await
        .expect(200);
    act(
        &s,
        &admin,
        x,
        json!({"type": "decide", "decision": {"type": "reject", "reason": "no"}}),
    )
    .await
    .expect_error(409, "conflict");
    act(&s, &admin, x, json!({"type": "receive"}))
        .await
        .expect(200);
    act(&s, &admin, x, json!({"type": "complete"}))
        .await
        .expect_error(409, "conflict");
    act(
        &s,
        &admin,
        x,
        json!({"type": "inspect", "passed": true, "note": ""}),
    )
    .await
    .expect(200);
    act(
        &s,
        &admin,
        x,
        json!({"type": "refund", "amount_cents": 100}),
    )
    .await
    .expect_error(409, "conflict");
    let r = act(
        &s,
        &admin,
        x,
        json!({"type": "reship", "carrier": "中通", "tracking_no": "ZT99887766"}),
    )
    .await;
    assert_eq!(r.expect(200)["reship_parcel"]["carrier"], "中通");
    let done = act(&s, &admin, x, json!({"type": "complete"})).await;
    assert_eq!(done.expect(200)["state"], "completed");
    // The order was not refunded.
    assert_eq!(order_json(&s, &admin, oid).await["refunded_cents"], 0);

    // A failed inspection rejects the return; it needs a note.
    let y = id_of(create(&s, &admin, mk(2, "return")).await.expect(201));
    act(&s, &admin, y, json!({"type": "decide", "decision": {"type": "full_refund", "return_goods": true, "return_shipping_paid_by": "shop"}}))
        .await
        .expect(200);
    act(&s, &admin, y, json!({"type": "receive"}))
        .await
        .expect(200);
    act(
        &s,
        &admin,
        y,
        json!({"type": "inspect", "passed": false, "note": " "}),
    )
    .await
    .expect_error(422, "validation_failed");
    let rej = act(
        &s,
        &admin,
        y,
        json!({"type": "inspect", "passed": false, "note": "已使用，影响二次销售"}),
    )
    .await;
    assert_eq!(rej.expect(200)["state"], "rejected");

    // A refund-only request cannot be an exchange; a rejection needs its reason.
    let z = id_of(create(&s, &admin, mk(2, "refund")).await.expect(201));
    act(&s, &admin, z, json!({"type": "decide", "decision": {"type": "exchange", "return_shipping_paid_by": "shop"}}))
        .await
        .expect_error(422, "validation_failed");
    act(
        &s,
        &admin,
        z,
        json!({"type": "decide", "decision": {"type": "reject", "reason": ""}}),
    )
    .await
    .expect_error(422, "validation_failed");
    let rejected = act(
        &s,
        &admin,
        z,
        json!({"type": "decide", "decision": {"type": "reject", "reason": "超过七天无理由期限"}}),
    )
    .await;
    let rejected = rejected.expect(200).clone();
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["decision"]["reason"], "超过七天无理由期限");
    assert_eq!(rejected["allowed_actions"], json!([]));
    // Every step on a rejected request is refused, naming its state.
    for a in [
        json!({"type": "receive"}),
        json!({"type": "complete"}),
        json!({"type": "cancel"}),
    ] {
        let e = act(&s, &admin, z, a).await;
        e.expect_error(409, "conflict");
        assert!(
            e.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("rejected")
        );
    }
    // Unknown actions and malformed bodies are input errors.
    act(&s, &admin, z, json!({"type": "teleport"}))
        .await
        .expect_error(422, "validation_failed");
    s.raw(
        reqwest::Method::POST,
        &format!("/api/v1/aftersales/{z}/actions"),
        Some(&admin.token),
        "{",
    )
    .await
    .expect_error(400, "bad_request");

    // Cancelled before a decision; the quantity it held is free again.
    let w = id_of(create(&s, &admin, mk(2, "refund")).await.expect(201));
    assert_eq!(
        act(&s, &admin, w, json!({"type": "cancel"}))
            .await
            .expect(200)["state"],
        "cancelled"
    );
}

both!(lines_are_validated_against_the_order, lines_body);
async fn lines_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-L-1").await;
    let other = paid_order(&s, s.shop.id, c, "AS-L-2").await;
    let foreign_item = order_json(&s, &admin, other).await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let own_item = order_json(&s, &admin, oid).await["items"][1]["id"]
        .as_i64()
        .unwrap();
    let body = |lines: Value| json!({"order_id": oid, "kind": "return", "reason": "quality", "lines": lines});

    let check = |r: Resp, field: &str| {
        r.expect_error(422, "validation_failed");
        let msg = r.body["error"]["message"].as_str().unwrap().to_owned();
        assert!(msg.starts_with(field), "{msg} should name {field}");
    };
    check(
        create(
            &s,
            &admin,
            body(json!([{"order_item_id": foreign_item, "quantity": 1}])),
        )
        .await,
        "lines[0].order_item_id",
    );
    check(
        create(&s, &admin, body(json!([{"line_no": 7, "quantity": 1}]))).await,
        "lines[0].line_no",
    );
    check(
        create(&s, &admin, body(json!([{"line_no": 2, "quantity": 3}]))).await,
        "lines[0].quantity",
    );
    check(
        create(&s, &admin, body(json!([{"line_no": 2, "quantity": 0}]))).await,
        "lines[0].quantity",
    );
    check(
        create(
            &s,
            &admin,
            body(json!([{"line_no": 1, "order_item_id": own_item, "quantity": 1}])),
        )
        .await,
        "lines[0]",
    );
    check(
        create(
            &s,
            &admin,
            body(json!([{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": 1}])),
        )
        .await,
        "lines[1]",
    );
    check(create(&s, &admin, body(json!([]))).await, "lines");
    check(
        create(&s, &admin, json!({"order_id": oid, "kind": "return", "reason": "because", "lines": [{"line_no": 1, "quantity": 1}]})).await,
        "reason",
    );
    check(
        create(&s, &admin, json!({"order_id": oid, "kind": "return", "reason": "quality", "ticket_id": -5, "lines": [{"line_no": 1, "quantity": 1}]})).await,
        "ticket_id",
    );
    create(&s, &admin, json!({"order_id": oid, "kind": "swap", "reason": "quality", "lines": [{"line_no": 1, "quantity": 1}]}))
        .await
        .expect_error(422, "validation_failed");
    create(&s, &admin, json!({"order_id": 99_999_999, "kind": "return", "reason": "quality", "lines": [{"line_no": 1, "quantity": 1}]}))
        .await
        .expect_error(404, "not_found");
    // An unpaid order has nothing to give back.
    let unpaid = order(&s, s.shop.id, c, "AS-L-3", false).await;
    check(
        create(&s, &admin, json!({"order_id": unpaid, "kind": "refund", "reason": "quality", "lines": [{"line_no": 1, "quantity": 1}]})).await,
        "order_id",
    );

    // By item id works; one cable of two, then the second; a third is over what was ordered.
    let first = create(
        &s,
        &admin,
        body(json!([{"order_item_id": own_item, "quantity": 1}])),
    )
    .await;
    let first = first.expect(201).clone();
    assert_eq!(first["lines"][0]["line_no"], 2);
    assert_eq!(first["refundable_cents"], 2900);
    create(&s, &admin, body(json!([{"line_no": 2, "quantity": 1}])))
        .await
        .expect(201);
    let over = create(&s, &admin, body(json!([{"line_no": 2, "quantity": 1}]))).await;
    check(over, "lines[0].quantity");
    // Cancelling the first frees its cable.
    act(&s, &admin, id_of(&first), json!({"type": "cancel"}))
        .await
        .expect(200);
    create(&s, &admin, body(json!([{"line_no": 2, "quantity": 1}])))
        .await
        .expect(201);
    // Nothing was stored by the refused attempts: 3 requests exist for the order.
    let list = s
        .get(
            &format!("/api/v1/aftersales?order_id={oid}"),
            Some(&admin.token),
        )
        .await;
    assert_eq!(list.expect(200)["requests"].as_array().unwrap().len(), 3);
}

/// A 1×1 PNG made by the image crate.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn upload(s: &TestServer, token: &str, id: Id, name: &str, ct: &str, bytes: &[u8]) -> Resp {
    let boundary = format!("----kefu-as-{}", unique());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = s
        .http
        .post(s.url(&format!("/api/v1/aftersales/{id}/evidence")))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
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

both!(evidence_photos_are_checked_by_content, evidence_body);
async fn evidence_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-E-1").await;
    let id = id_of(
        create(&s, &admin, json!({"order_id": oid, "kind": "refund", "reason": "damaged", "lines": [{"line_no": 1, "quantity": 1}]}))
            .await
            .expect(201),
    );
    let big = png(800, 600);
    let e = upload(&s, &admin.token, id, "破损.png", "image/png", &big).await;
    let e = e.expect(201).clone();
    assert_eq!(e["mime"], "image/png");
    assert_eq!(e["width"], 800);
    let url = e["url"].as_str().unwrap().to_owned();
    let thumb = e["thumb_url"].as_str().unwrap().to_owned();
    let got = s
        .http
        .get(s.url(&url))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().len(), big.len());
    let t = s
        .http
        .get(s.url(&thumb))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(t.status().as_u16(), 200);
    assert_eq!(t.headers()["content-type"], "image/jpeg");

    // Not a photo, or disguised as one: refused by content.
    upload(
        &s,
        &admin.token,
        id,
        "invoice.pdf",
        "application/pdf",
        b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n",
    )
    .await
    .expect_error(415, "unsupported_media_type");
    upload(
        &s,
        &admin.token,
        id,
        "photo.png",
        "image/png",
        b"MZ\x90\x00 this is no image at all",
    )
    .await
    .expect_error(415, "unsupported_media_type");
    upload(
        &s,
        &admin.token,
        id,
        "notes.png",
        "image/png",
        &png(4, 4)[..40],
    )
    .await
    .expect_error(415, "unsupported_media_type");
    let list = s
        .get(
            &format!("/api/v1/aftersales/{id}/evidence"),
            Some(&admin.token),
        )
        .await;
    assert_eq!(list.expect(200)["evidence"].as_array().unwrap().len(), 1);
    let detail = s
        .get(&format!("/api/v1/aftersales/{id}"), Some(&admin.token))
        .await;
    let detail = detail.expect(200);
    assert_eq!(detail["evidence"].as_array().unwrap().len(), 1);
    assert_eq!(
        detail["history"].as_array().unwrap().last().unwrap()["action"],
        "evidence"
    );

    // Another shop sees none of it.
    let shop2 = s.create_shop(&format!("as-e-{}", unique())).await;
    let other = s.agent(shop2.id, Role::Admin, "别家").await;
    upload(&s, &other.token, id, "x.png", "image/png", &png(4, 4))
        .await
        .expect_error(404, "not_found");
    let r = s
        .http
        .get(s.url(&url))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // A closed request takes no more evidence.
    act(&s, &admin, id, json!({"type": "cancel"}))
        .await
        .expect(200);
    upload(&s, &admin.token, id, "late.png", "image/png", &png(4, 4))
        .await
        .expect_error(409, "conflict");
}

both!(requests_are_scoped_by_shop_and_role, scoping_body);
async fn scoping_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let boss = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let a = s.agent(s.shop.id, Role::Agent, "客服甲").await;
    let b = s.agent(s.shop.id, Role::Agent, "客服乙").await;
    let c = customer(&s, s.shop.id).await;
    let oid = paid_order(&s, s.shop.id, c, "AS-S-1").await;
    let body = json!({"order_id": oid, "kind": "refund", "reason": "damaged", "lines": [{"line_no": 1, "quantity": 1}]});

    let mut ws_b = s.agent_ws(&b).await;
    let mut ws_boss = s.agent_ws(&boss).await;
    // An agent's own request is theirs; naming someone else is refused.
    let mut other = body.clone();
    other["assignee_id"] = json!(b.id());
    create(&s, &a, other).await.expect_error(403, "forbidden");
    let mine = create(&s, &a, body.clone()).await;
    let mine = mine.expect(201).clone();
    let id = id_of(&mine);
    assert_eq!(mine["assignee"]["id"], a.id());
    let ev = ws_boss.next_event("aftersales.updated", WAIT).await;
    assert_eq!(ev["request_id"], id);
    assert_eq!(ev["state"], "requested");
    // Agent B neither sees it nor hears of it; the supervisor does.
    s.get(&format!("/api/v1/aftersales/{id}"), Some(&b.token))
        .await
        .expect_error(404, "not_found");
    act(&s, &b, id, json!({"type": "cancel"}))
        .await
        .expect_error(404, "not_found");
    let listed = s.get("/api/v1/aftersales", Some(&b.token)).await;
    assert!(
        listed.expect(200)["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.get(&format!("/api/v1/aftersales/{id}"), Some(&boss.token))
        .await
        .expect(200);
    assert!(
        ws_b.find(QUIET, |e| e["type"] == "aftersales.updated")
            .await
            .is_none()
    );

    // The supervisor hands it to B (A no longer sees it, B does and hears of it).
    let moved = s
        .put(
            &format!("/api/v1/aftersales/{id}/assignee"),
            Some(&boss.token),
            json!({"assignee_id": b.id()}),
        )
        .await;
    assert_eq!(moved.expect(200)["assignee"]["id"], b.id());
    let ev = ws_b.next_event("aftersales.updated", WAIT).await;
    assert_eq!(ev["assignee_id"], b.id());
    s.get(&format!("/api/v1/aftersales/{id}"), Some(&a.token))
        .await
        .expect_error(404, "not_found");
    act(
        &s,
        &b,
        id,
        json!({"type": "decide", "decision": {"type": "partial_refund", "amount_cents": 500}}),
    )
    .await
    .expect(200);
    // Agents cannot hand requests around; an unknown assignee is bad input.
    s.put(
        &format!("/api/v1/aftersales/{id}/assignee"),
        Some(&b.token),
        json!({"assignee_id": a.id()}),
    )
    .await
    .expect_error(403, "forbidden");
    s.put(
        &format!("/api/v1/aftersales/{id}/assignee"),
        Some(&boss.token),
        json!({"assignee_id": 99_999_999}),
    )
    .await
    .expect_error(422, "validation_failed");
    // Unassigned (the pool): every agent sees it and may take it.
    s.put(
        &format!("/api/v1/aftersales/{id}/assignee"),
        Some(&boss.token),
        json!({"assignee_id": null}),
    )
    .await
    .expect(200);
    s.put(
        &format!("/api/v1/aftersales/{id}/assignee"),
        Some(&a.token),
        json!({"assignee_id": a.id()}),
    )
    .await
    .expect(200);

    // Another shop: its order, its requests and ours are strangers to each other.
    let shop2 = s.create_shop(&format!("as-s-{}", unique())).await;
    let stranger = s.agent(shop2.id, Role::Admin, "别家店长").await;
    s.get(&format!("/api/v1/aftersales/{id}"), Some(&stranger.token))
        .await
        .expect_error(404, "not_found");
    act(&s, &stranger, id, json!({"type": "cancel"}))
        .await
        .expect_error(404, "not_found");
    s.put(
        &format!("/api/v1/aftersales/{id}/assignee"),
        Some(&stranger.token),
        json!({"assignee_id": stranger.id()}),
    )
    .await
    .expect_error(404, "not_found");
    create(&s, &stranger, body.clone())
        .await
        .expect_error(404, "not_found");
    assert!(
        s.get("/api/v1/aftersales", Some(&stranger.token))
            .await
            .expect(200)["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Their own order numbers start at 1.
    let c2 = customer(&s, shop2.id).await;
    let o2 = paid_order(&s, shop2.id, c2, "AS-S-1").await;
    let theirs = create(&s, &stranger, json!({"order_id": o2, "kind": "refund", "reason": "damaged", "lines": [{"line_no": 1, "quantity": 1}]})).await;
    assert_eq!(theirs.expect(201)["no"], "AS-000001");
    // Without a session: 401.
    s.get("/api/v1/aftersales", None)
        .await
        .expect_error(401, "unauthorized");
}

both!(conversation_links_and_list_filters, filters_body);
async fn filters_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    s.set_status(&agent, "online").await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "耳机收到就坏了").await["conversation_id"]
        .as_i64()
        .unwrap();
    let oid = paid_order(&s, s.shop.id, shopper.customer_id, "AS-F-1").await;
    let other_customer = customer(&s, s.shop.id).await;
    let other_order = paid_order(&s, s.shop.id, other_customer, "AS-F-2").await;

    let r = create(
        &s,
        &agent,
        json!({"order_id": oid, "kind": "return", "reason": "damaged", "conversation_id": cid, "ticket_id": 4242,
               "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    let r = r.expect(201).clone();
    assert_eq!(r["conversation_id"], cid);
    assert_eq!(r["ticket_id"], 4242);
    // A conversation with someone else than the buyer does not fit.
    create(
        &s,
        &admin,
        json!({"order_id": other_order, "kind": "return", "reason": "damaged", "conversation_id": cid, "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await
    .expect_error(422, "validation_failed");
    for i in 0..3 {
        create(
            &s,
            &admin,
            json!({"order_id": other_order, "kind": if i == 0 { "exchange" } else { "refund" }, "reason": "quality",
                   "lines": [{"line_no": 2, "quantity": 1}]}),
        )
        .await;
    }
    let get = |q: &str| {
        let q = q.to_owned();
        let s = &s;
        let token = admin.token.clone();
        async move {
            s.get(&format!("/api/v1/aftersales{q}"), Some(&token))
                .await
                .expect(200)
                .clone()
        }
    };
    assert_eq!(get("").await["requests"].as_array().unwrap().len(), 3);
    assert_eq!(
        get(&format!("?customer_id={}", shopper.customer_id)).await["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get("?kind=exchange").await["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get("?state=requested&kind=return").await["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get("?state=completed").await["requests"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let future = Millis::now().0 + 3_600_000;
    assert_eq!(
        get(&format!("?from={future}")).await["requests"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Keyset pages: newest first, no repeats.
    let p1 = get("?limit=2").await;
    assert_eq!(p1["requests"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap().to_owned();
    let p2 = get(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(p2["requests"].as_array().unwrap().len(), 1);
    assert!(p1["requests"][0]["id"].as_i64() > p1["requests"][1]["id"].as_i64());
    // Bad filters are named.
    for q in [
        "?state=lost",
        "?kind=swap",
        "?from=yesterday",
        "?limit=0",
        "?cursor=abc",
    ] {
        let r = s
            .get(&format!("/api/v1/aftersales{q}"), Some(&admin.token))
            .await;
        r.expect_error(422, "validation_failed");
    }
}
