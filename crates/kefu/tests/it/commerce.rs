//! Integration scenarios of the commerce area, against both backends: batch upserts (idempotent,
//! item-level all or nothing, errors naming fields), CSV import (bad lines, re-import), signed
//! webhooks (good, bad signature, stale, replay), reads, buyer resolution and shop isolation.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::webhook::sign;
use kefu_core::model::{NewCustomer, Role};
use serde_json::{Value, json};

fn order(order_no: &str, phone: &str) -> Value {
    json!({
        "order_no": order_no,
        "buyer": {"phone": phone, "name": "张三"},
        "placed_at": "2026-11-20 10:00:00",
        "items": [
            {"sku": "EAR-01", "quantity": 2, "unit_price_cents": 19900},
            {"sku": "CAB-01", "name": "数据线", "quantity": 1, "unit_price_cents": 2990}
        ],
        "discount_cents": 1000,
        "shipping_fee_cents": 800
    })
}

async fn csv(s: &TestServer, token: &str, body: &str) -> Resp {
    let r = s
        .http
        .post(s.url("/api/v1/orders/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn webhook(s: &TestServer, slug: &str, ts: &str, sig: &str, body: &str) -> Resp {
    let r = s
        .http
        .post(s.url(&format!("/api/v1/webhooks/commerce/{slug}")))
        .header("content-type", "application/json")
        .header("X-Kefu-Timestamp", ts)
        .header("X-Kefu-Signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Sends a correctly signed event with the current time.
async fn signed(s: &TestServer, slug: &str, secret: &str, event: &Value) -> Resp {
    let body = event.to_string();
    let ts = now_secs().to_string();
    webhook(s, slug, &ts, &sign(secret, &ts, body.as_bytes()), &body).await
}

fn statuses(outcome: &Value) -> Vec<String> {
    outcome["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_owned())
        .collect()
}

both!(batch_upsert_is_idempotent, batch_upsert_body);
async fn batch_upsert_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());

    let products = json!({"products": [
        {"sku": "EAR-01", "name": "小蜜蜂蓝牙耳机", "price_cents": 19900, "category": "耳机",
         "images": ["https://img.example/ear-1.jpg", "https://img.example/ear-2.jpg"]},
        {"sku": "CAB-01", "name": "Type-C 数据线", "price_cents": 2990}
    ]});
    let r = s.post("/api/v1/products/batch", t, products.clone()).await;
    assert_eq!(statuses(r.expect(200)), ["created", "created"]);
    let r = s.post("/api/v1/products/batch", t, products).await;
    assert_eq!(statuses(r.expect(200)), ["unchanged", "unchanged"]);
    let page = s.get("/api/v1/products?q=耳机", t).await;
    let found = page.expect(200)["products"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["images"].as_array().unwrap().len(), 2);
    assert_eq!(found[0]["category"], "耳机");

    let mut a2 = order("A2", "13900139000");
    a2["paid_at"] = json!("2026-11-20 10:05:00");
    a2["shipments"] = json!([{
        "carrier": "顺丰", "tracking_no": "SF100",
        "events": [
            {"at": "2026-11-20 18:00:00", "status": "in_transit", "description": "快件已揽收", "location": "深圳"},
            {"at": "2026-11-21 09:00:00", "status": "out_for_delivery", "description": "派送中", "location": "上海"}
        ]
    }]);
    a2["refunds"] = json!([{"refund_no": "R1", "amount_cents": 2990, "reason": "数据线不要了"}]);
    let batch = json!({"orders": [order("A1", "13800138000"), a2]});
    let r = s.post("/api/v1/orders/batch", t, batch.clone()).await;
    let out = r.expect(200).clone();
    assert_eq!(statuses(&out), ["created", "created"]);
    assert_eq!(out["created"], 2);
    assert_eq!(out["touched_customer_ids"].as_array().unwrap().len(), 2);

    // Re-sending the same documents changes nothing and touches nobody.
    let r = s.post("/api/v1/orders/batch", t, batch).await;
    let again = r.expect(200);
    assert_eq!(statuses(again), ["unchanged", "unchanged"]);
    assert_eq!(again["touched_customer_ids"], json!([]));

    // A changed document is an update (its lines are replaced, not added).
    let mut a1 = order("A1", "13800138000");
    a1["items"][0]["quantity"] = json!(3);
    let r = s
        .post("/api/v1/orders/batch", t, json!({"orders": [a1]}))
        .await;
    assert_eq!(statuses(r.expect(200)), ["updated"]);

    let list = s.get("/api/v1/orders", t).await;
    let orders = list.expect(200)["orders"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 2, "no duplicates");
    let a1 = orders.iter().find(|o| o["order_no"] == "A1").unwrap();
    assert_eq!(a1["items_cents"], 3 * 19900 + 2990);
    assert_eq!(a1["total_cents"], 3 * 19900 + 2990 - 1000 + 800);
    assert_eq!(a1["status"], "created");
    assert_eq!(a1["payment_status"], "unpaid");
    assert_eq!(a1["currency"], "CNY");

    let a2_id = orders.iter().find(|o| o["order_no"] == "A2").unwrap()["id"]
        .as_i64()
        .unwrap();
    let detail = s.get(&format!("/api/v1/orders/{a2_id}"), t).await;
    let d = detail.expect(200);
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        d["items"][0]["name"], "小蜜蜂蓝牙耳机",
        "name from the catalogue"
    );
    assert!(d["items"][0]["product_id"].is_i64());
    assert_eq!(d["shipments"][0]["carrier"], "顺丰");
    assert_eq!(d["shipments"][0]["status"], "out_for_delivery");
    assert_eq!(
        d["shipments"][0]["events"][0]["description"], "派送中",
        "newest first"
    );
    assert_eq!(d["shipments"][0]["events"].as_array().unwrap().len(), 2);
    assert_eq!(d["refunds"][0]["refund_no"], "R1");
    assert_eq!(d["refunded_cents"], 2990);
    assert_eq!(d["payment_status"], "partially_refunded");
    assert_eq!(d["status"], "shipped");

    // Shipment and refund upserts by their own ids.
    let ship = json!({"shipments": [{"order_no": "A2", "carrier": "顺丰", "tracking_no": "SF100", "status": "delivered",
        "events": [{"at": "2026-11-21 15:00:00", "status": "delivered", "description": "已签收，本人签收"}]}]});
    let r = s.post("/api/v1/shipments/batch", t, ship.clone()).await;
    assert_eq!(statuses(r.expect(200)), ["updated"]);
    let r = s.post("/api/v1/shipments/batch", t, ship).await;
    assert_eq!(statuses(r.expect(200)), ["unchanged"]);
    let refund = json!({"refunds": [{"order_no": "A2", "refund_no": "R2", "amount_cents": 100, "status": "requested"}]});
    let r = s.post("/api/v1/refunds/batch", t, refund.clone()).await;
    assert_eq!(statuses(r.expect(200)), ["created"]);
    let r = s.post("/api/v1/refunds/batch", t, refund).await;
    assert_eq!(statuses(r.expect(200)), ["unchanged"]);
    let d = s.get(&format!("/api/v1/orders/{a2_id}"), t).await;
    let d = d.expect(200);
    assert_eq!(d["status"], "delivered");
    assert!(d["delivered_at"].is_string());
    assert_eq!(
        d["refunded_cents"], 2990,
        "a requested refund does not count yet"
    );
    assert_eq!(d["refunds"].as_array().unwrap().len(), 2);

    // The sidebar: newest first, items and the latest logistics event.
    let cid = d["customer_id"].as_i64().unwrap();
    let side = s.get(&format!("/api/v1/customers/{cid}/orders"), t).await;
    let side = side.expect(200)["orders"].as_array().unwrap().clone();
    assert_eq!(side.len(), 1);
    assert_eq!(side[0]["shipment"]["status"], "delivered");
    assert_eq!(
        side[0]["shipment"]["latest_event"]["description"],
        "已签收，本人签收"
    );
    assert_eq!(side[0]["items"].as_array().unwrap().len(), 2);

    // Agents may read but not write.
    let agent = s.agent(s.shop.id, Role::Agent, "客服小李").await;
    let ta = Some(agent.token.as_str());
    s.get("/api/v1/orders", ta).await.expect(200);
    s.get(&format!("/api/v1/customers/{cid}/orders"), ta)
        .await
        .expect(200);
    s.post(
        "/api/v1/orders/batch",
        ta,
        json!({"orders": [order("A9", "13800000009")]}),
    )
    .await
    .expect_error(403, "forbidden");
    s.get("/api/v1/orders", None)
        .await
        .expect_error(401, "unauthorized");
}

both!(batch_items_are_all_or_nothing, batch_items_body);
async fn batch_items_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let t = Some(admin.token.as_str());

    let mut zero = order("B2", "13800000002");
    zero["items"][1]["quantity"] = json!(0);
    let mut wrong_type = order("B3", "13800000003");
    wrong_type["items"][0]["quantity"] = json!("two");
    let mut bad_status = order("B4", "13800000004");
    bad_status["payment_status"] = json!("maybe");
    // Valid on its own but its parcel belongs to another order: the whole order is refused.
    let mut stolen = order("B5", "13800000005");
    stolen["shipments"] = json!([{"carrier": "中通", "tracking_no": "ZT1"}]);
    let mut first = order("B1", "13800000001");
    first["shipments"] = json!([{"carrier": "中通", "tracking_no": "ZT1"}]);
    let r = s
        .post(
            "/api/v1/orders/batch",
            t,
            json!({"orders": [first, zero, wrong_type, bad_status, stolen]}),
        )
        .await;
    let out = r.expect(200).clone();
    assert_eq!(
        statuses(&out),
        ["created", "failed", "failed", "failed", "failed"]
    );
    let items = out["items"].as_array().unwrap();
    assert_eq!(
        items[1]["error"]["message"],
        "orders[1].items[1].quantity: must be at least 1"
    );
    assert_eq!(items[1]["error"]["code"], "validation_failed");
    assert_eq!(items[1]["key"], "B2");
    assert!(
        items[2]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("orders[2].items[0].quantity: invalid type"),
        "the field at fault is named: {}",
        items[2]["error"]["message"]
    );
    assert!(
        items[3]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("orders[3].payment_status: must be one of")
    );
    assert_eq!(
        items[4]["error"]["message"],
        "orders[4].shipments[0].tracking_no: already used by order 'B1'"
    );
    assert_eq!(out["created"], 1);
    assert_eq!(out["failed"], 4);

    let list = s.get("/api/v1/orders", t).await;
    let orders = list.expect(200)["orders"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 1, "failed orders leave nothing behind");
    // B5's buyer was resolved (created) inside its savepoint and rolled back with it.
    let before = s.get("/api/v1/orders?q=B5", t).await;
    assert_eq!(before.expect(200)["orders"], json!([]));

    // Whole-request errors.
    s.post("/api/v1/orders/batch", t, json!({"orders": []}))
        .await
        .expect_error(422, "validation_failed");
    s.post("/api/v1/orders/batch", t, json!({"nope": []}))
        .await
        .expect_error(422, "validation_failed");
    let many: Vec<Value> = (0..1001)
        .map(|i| order(&format!("M{i}"), "13800000000"))
        .collect();
    let r = s
        .post("/api/v1/orders/batch", t, json!({"orders": many}))
        .await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1000")
    );
    s.raw(
        reqwest::Method::POST,
        "/api/v1/orders/batch",
        t,
        "{not json",
    )
    .await
    .expect_error(400, "bad_request");
    // Missing buyer identity and a bad phone name their fields.
    let mut nobody = order("B6", "13800000006");
    nobody["buyer"] = json!({"name": "无名"});
    let mut phone = order("B7", "call me");
    phone["placed_at"] = json!("2026-11-20 10:00:00");
    let r = s
        .post(
            "/api/v1/orders/batch",
            t,
            json!({"orders": [nobody, phone]}),
        )
        .await;
    let out = r.expect(200);
    assert!(
        out["items"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("orders[0].buyer:")
    );
    assert_eq!(
        out["items"][1]["error"]["message"],
        "orders[1].buyer.phone: must be 5-20 digits"
    );

    // A refund beyond what the order took: refused for that item alone, naming the field; the
    // order keeps its money (no negative revenue).
    let before = s.get("/api/v1/orders?q=B1", t).await.expect(200)["orders"][0].clone();
    let total = before["total_cents"].as_i64().unwrap();
    let r = s
        .post(
            "/api/v1/refunds/batch",
            t,
            json!({"refunds": [
                {"order_no": "B1", "refund_no": "R-HUGE", "amount_cents": 10_000_000_000_000i64},
                {"order_no": "B1", "refund_no": "R-OVER", "amount_cents": total + 1, "status": "refunded"},
            ]}),
        )
        .await;
    let out = r.expect(200);
    for item in 0..2 {
        assert_eq!(
            out["items"][item]["error"]["code"], "validation_failed",
            "{out}"
        );
        assert!(
            out["items"][item]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("more than the"),
            "{out}"
        );
    }
    let after = s.get("/api/v1/orders?q=B1", t).await.expect(200)["orders"][0].clone();
    assert_eq!(after["refunded_cents"], before["refunded_cents"]);
    assert_eq!(after["payment_status"], before["payment_status"]);

    // Shipments and refunds for unknown orders.
    let r = s
        .post(
            "/api/v1/refunds/batch",
            t,
            json!({"refunds": [{"order_no": "NOPE", "refund_no": "R9", "amount_cents": 10}]}),
        )
        .await;
    let out = r.expect(200);
    assert_eq!(out["items"][0]["error"]["code"], "not_found");
    assert!(
        out["items"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("refunds[0].order_no:")
    );
}

both!(csv_import_reports_lines, csv_import_body);
async fn csv_import_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = admin.token.as_str();
    let file = "order_no,placed_at,buyer_external_id,buyer_name,buyer_phone,buyer_email,sku,item_name,quantity,unit_price,discount,shipping_fee,currency,payment_status,paid_at,carrier,tracking_no\n\
        C1,2026-11-01 10:00,u-1,王芳,13800138001,,EAR-01,蓝牙耳机,1,199.00,10.00,0,CNY,paid,2026-11-01 10:02,圆通,YT001\n\
        C1,,,,,,CAB-01,数据线,2,19.90,,,,,,,\n\
        C2,2026-11-02 11:00,u-2,刘洋,,liu@example.com,PB-01,充电宝,1,99.9,,,,,,,\n\
        C3,2026-11-03 12:00,u-3,陈静,,,PB-01,充电宝,0,99,,,,,,,\n\
        C4,2026-11-03 12:00,u-4,赵磊,,,PB-01,充电宝,1,abc,,,,,,,\n\
        C5,2026-11-04 12:00,u-5,孙丽,,,CASE-1,手机壳,1,39,,,,,,,\n\
        C5,2026-11-04 12:00,u-5,孙丽,,,CASE-2,手机壳,1,1.234,,,,,,,\n\
        C6,not a date,u-6,周杰,,,CASE-1,手机壳,1,39,,,,,,,\n";
    let r = csv(&s, t, file).await;
    let rep = r.expect(200).clone();
    assert_eq!(rep["rows"], 8);
    assert_eq!(rep["orders"], 6);
    assert_eq!(rep["created"], 2, "{rep}");
    assert_eq!(rep["rejected"], 4);
    let bad = rep["bad_lines"].as_array().unwrap();
    let line = |n: u64| {
        bad.iter()
            .find(|b| b["line"] == n)
            .unwrap_or_else(|| panic!("line {n} not reported: {rep}"))
    };
    assert_eq!(line(5)["field"], "quantity");
    assert_eq!(line(5)["message"], "must be at least 1");
    assert_eq!(line(5)["order_no"], "C3");
    assert_eq!(line(6)["field"], "unit_price");
    assert_eq!(line(8)["field"], "unit_price");
    assert!(
        line(7)["message"].as_str().unwrap().contains("rejected"),
        "C5's good line explained"
    );
    assert_eq!(line(9)["field"], "placed_at");
    assert_eq!(bad.len(), 5);

    // Exact yuan → cents.
    let list = s.get("/api/v1/orders?q=C1", Some(t)).await;
    let c1 = list.expect(200)["orders"][0].clone();
    assert_eq!(c1["items_cents"], 19900 + 2 * 1990);
    assert_eq!(c1["total_cents"], 19900 + 2 * 1990 - 1000);
    assert_eq!(c1["payment_status"], "paid");
    assert_eq!(c1["status"], "shipped");
    let list = s.get("/api/v1/orders?q=C2", Some(t)).await;
    assert_eq!(list.expect(200)["orders"][0]["total_cents"], 9990);

    // Re-import: nothing new; fixing the bad rows adds exactly those orders.
    let r = csv(&s, t, file).await;
    let rep = r.expect(200);
    assert_eq!(rep["created"], 0);
    assert_eq!(rep["unchanged"], 2);
    let fixed = file
        .replace(",0,99,", ",1,99,")
        .replace(",abc,", ",88,")
        .replace(",1.234,", ",1.23,")
        .replace("not a date", "2026-11-05");
    let r = csv(&s, t, &fixed).await;
    let rep = r.expect(200);
    assert_eq!(rep["created"], 4, "{rep}");
    assert_eq!(rep["unchanged"], 2);
    assert_eq!(rep["bad_lines"], json!([]));
    let all = s.get("/api/v1/orders?limit=200", Some(t)).await;
    assert_eq!(all.expect(200)["orders"].as_array().unwrap().len(), 6);

    // A missing column fails the whole file; agents may not import; empty bodies are refused.
    csv(&s, t, "order_no,sku\nX,Y\n")
        .await
        .expect_error(422, "validation_failed");
    csv(&s, t, "").await.expect_error(422, "validation_failed");
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    csv(&s, &agent.token, file)
        .await
        .expect_error(403, "forbidden");
}

async fn upload(s: &TestServer, token: &str, body: Vec<u8>) -> Resp {
    let r = s
        .http
        .post(s.url("/api/v1/orders/import"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

both!(excel_files_import, excel_files_body);
async fn excel_files_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = admin.token.as_str();
    // What Excel on a Chinese Windows saves: GBK, CRLF, Chinese headers, a quoted cell with a
    // line break, `2026/12/6 16:00` times and `1,329.00` amounts.
    let text = "订单号,下单时间,买家昵称,手机号,商品编码,商品名称,数量,实付金额,状态,快递公司,运单号,备注\r\n\
        G1,2026/12/6 16:00,小王,13800138000,EAR-1,\"蓝牙耳机\r\n（白色）\",1,\"1,329.00\",已发货,顺丰,SF100200300,送人\r\n\
        G2,2026年12月6日 16:05,小李,13900139000,CAB-1,数据线,两个,29.90,已付款,,,\r\n\
        G3,2026/12/6 16:10,小张,13700137000,CAB-1,数据线,1,\"1,32\",已付款,,,\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let rep = upload(&s, t, gbk.into_owned()).await.expect(200).clone();
    assert_eq!(rep["created"], 1, "{rep}");
    assert_eq!(rep["rejected"], 2);
    let bad = rep["bad_lines"].as_array().unwrap();
    // The quoted cell spans lines 2–3: G2 is on the file's line 4, G3 on line 5.
    assert_eq!(bad[0]["line"], 4, "{rep}");
    assert_eq!(bad[0]["field"], "quantity");
    assert_eq!(bad[0]["code"], "not_whole_number");
    assert_eq!(bad[1]["line"], 5);
    assert_eq!(bad[1]["field"], "line_total");
    assert_eq!(bad[1]["code"], "ambiguous_amount");
    let list = s.get("/api/v1/orders?q=G1", Some(t)).await;
    let g1 = list.expect(200)["orders"][0].clone();
    assert_eq!(g1["total_cents"], 132_900);
    assert_eq!(g1["status"], "shipped");
    // 16:00 in the shop's zone (Asia/Shanghai) is 08:00 UTC.
    assert_eq!(g1["placed_at"], "2026-12-06T08:00:00.000Z");
    // The buyer became a customer who has not contacted the shop yet: no 1970 last contact.
    let cid = g1["customer_id"].as_i64().unwrap();
    let c = s.get(&format!("/api/v1/customers/{cid}"), Some(t)).await;
    let c = c.expect(200);
    assert!(c["last_contact_at"].is_null(), "{c}");

    // The XLSX template, filled in by Excel: the example order imports as it is.
    let r = s
        .http
        .get(s.url("/api/v1/orders/import/template?format=xlsx"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let xlsx = r.bytes().await.unwrap().to_vec();
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let rep = upload(&s, t, xlsx).await.expect(200).clone();
    assert_eq!(rep["created"], 1, "{rep}");
    assert_eq!(rep["bad_lines"], json!([]));
    let list = s.get("/api/v1/orders?q=E2026120600001", Some(t)).await;
    let e = list.expect(200)["orders"][0].clone();
    assert_eq!(e["items_cents"], 132_900 + 2 * 2990);
    // The CSV template: UTF-8 with a BOM and the Chinese headers; the same order, unchanged.
    let r = s
        .http
        .get(s.url("/api/v1/orders/import/template?format=csv"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    let csv_t = r.bytes().await.unwrap().to_vec();
    assert!(csv_t.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert!(String::from_utf8_lossy(&csv_t).contains("订单号,下单时间"));
    let rep = upload(&s, t, csv_t).await.expect(200).clone();
    assert_eq!(rep["unchanged"], 1, "{rep}");
    s.get("/api/v1/orders/import/template?format=pdf", Some(t))
        .await
        .expect_error(422, "validation_failed");
    // Not a spreadsheet at all, and a broken one: refused on the file, nothing stored.
    let r = upload(&s, t, b"PK\x03\x04garbage".to_vec()).await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "file");
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    s.get("/api/v1/orders/import/template", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
}

// SQLite only: PostgreSQL prepares nothing for a large import (the trait's defaults), and storing
// 20,000 orders there takes over a minute in a debug build, crowding the suite's other tests.
mod large_import_is_the_same_import {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::large_import_body(crate::harness::Backend::Sqlite).await
    }
}

/// An import of more than one full chunk. SQLite, importing into an empty `orders` table, builds
/// the orders' secondary indexes once at the end instead of row by row; nothing of that may show:
/// the report, the sidebar's newest-first orders with lines and parcels and the re-import are what
/// any import gives, and the indexes are back afterwards. Ending a bulk import (what opening the
/// store does, for an import cut short by a crash) restores indexes a begun one dropped.
async fn large_import_body(backend: Backend) {
    use kefu_core::commerce::{IMPORT_CHUNK_ORDERS, csv_import::import_orders};
    let s = TestServer::start(backend).await;
    let deferred = ["orders_customer", "orders_payment", "orders_recent"];
    // The deferred indexes present, each with its definition (PostgreSQL: nothing to look at).
    let index_sql = || async {
        let Some(file) = s.sqlite_file() else {
            return Vec::new();
        };
        let url = format!("sqlite://{}?mode=ro", file.display());
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("open sqlite");
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' \
             AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .expect("indexes");
        found
            .into_iter()
            .filter(|(name, _)| deferred.contains(&name.as_str()))
            .collect::<Vec<_>>()
    };
    let migrated = index_sql().await;
    let indexes_present = || async {
        if backend == Backend::Postgres {
            return deferred.len();
        }
        let now = index_sql().await;
        // Rebuilt exactly as migration 0004 made them.
        assert!(now.iter().all(|i| migrated.contains(i)), "{now:?}");
        now.len()
    };
    if backend == Backend::Sqlite {
        assert_eq!(migrated.len(), 3, "{migrated:?}");
    }
    s.store.begin_bulk_import().await.expect("begin");
    if backend == Backend::Sqlite {
        assert_eq!(indexes_present().await, 0, "dropped for an empty table");
    }
    s.store.end_bulk_import().await.expect("end");
    assert_eq!(indexes_present().await, 3, "restored");

    let n = IMPORT_CHUNK_ORDERS + 50;
    let mut file = String::from(
        "order_no,placed_at,buyer_external_id,buyer_name,buyer_phone,sku,item_name,quantity,unit_price,payment_status,paid_at,carrier,tracking_no\n",
    );
    for i in 0..n {
        let c = i % 300;
        // Orders of one buyer are placed out of file order, so newest-first is a real sort.
        let day = 1 + (i * 7919) % 28;
        let (paid, paid_at, carrier, tracking) = if i.is_multiple_of(4) {
            ("unpaid", String::new(), "", String::new())
        } else {
            (
                "paid",
                format!("2026-10-{day:02} 11:00"),
                "顺丰",
                format!("SF{i:09}"),
            )
        };
        file.push_str(&format!(
            "L{i:06},2026-10-{day:02} 10:{:02},u{c},买家{c},138{c:08},EAR-01,耳机,1,19.90,{paid},{paid_at},{carrier},{tracking}\n",
            i % 60
        ));
        if i.is_multiple_of(3) {
            file.push_str(&format!("L{i:06},,,,,CAB-01,数据线,2,9.90,,,,\n"));
        }
    }
    let import = |file: String| {
        import_orders(
            s.store.as_ref(),
            s.shop.id,
            "Asia/Shanghai",
            std::io::Cursor::new(file),
        )
    };
    let rep = import(file.clone()).await.expect("import");
    assert_eq!(rep.orders, n);
    assert_eq!(rep.created, n, "{:?}", rep.bad_lines);
    assert_eq!(rep.rejected, 0);
    assert_eq!(rep.touched_customer_ids.len(), 300);
    assert_eq!(indexes_present().await, 3, "built at the end");

    // The sidebar of one buyer: its orders newest first, with lines and parcels.
    let customer = rep.touched_customer_ids[7];
    let orders = s
        .store
        .customer_orders(s.shop.id, customer, 1000)
        .await
        .expect("sidebar")
        .expect("the shop's customer");
    let mine: Vec<usize> = (0..n)
        .filter(|i| i % 300 == orders_buyer(&orders))
        .collect();
    assert_eq!(orders.len(), mine.len());
    assert!(
        orders
            .windows(2)
            .all(|w| (w[0].order.placed_at, w[0].order.id) > (w[1].order.placed_at, w[1].order.id))
    );
    for o in &orders {
        let i: usize = o.order.order_no[1..].parse().unwrap();
        assert_eq!(o.items.len(), if i.is_multiple_of(3) { 2 } else { 1 });
        assert_eq!(
            o.shipment.is_some(),
            !i.is_multiple_of(4),
            "{}",
            o.order.order_no
        );
    }

    // Re-import: nothing new, nothing changed.
    let again = import(file).await.expect("re-import");
    assert_eq!((again.created, again.updated), (0, 0));
    assert_eq!(again.unchanged, n);
    assert_eq!(indexes_present().await, 3);
}

/// The buyer number (`u<c>` → c) of a sidebar's orders, from the first order's number.
fn orders_buyer(orders: &[kefu_core::commerce::CustomerOrder]) -> usize {
    let i: usize = orders[0].order.order_no[1..].parse().unwrap();
    i % 300
}

both!(webhooks_are_signed_and_replay_protected, webhooks_body);
async fn webhooks_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());
    let agent = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    s.get("/api/v1/commerce/webhook", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    let settings = s.get("/api/v1/commerce/webhook", t).await;
    let settings = settings.expect(200).clone();
    let secret = settings["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    let slug = s.shop.slug.clone();
    assert_eq!(
        settings["endpoint_path"],
        format!("/api/v1/webhooks/commerce/{slug}")
    );
    // Stable until rotated.
    assert_eq!(
        s.get("/api/v1/commerce/webhook", t).await.expect(200)["secret"],
        secret.as_str()
    );

    let created = json!({"id": "evt-1", "type": "order.created", "occurred_at": "2026-11-20T02:00:00Z",
        "data": order("W1", "13700137000")});
    let r = signed(&s, &slug, &secret, &created).await;
    let body = r.expect(200);
    assert_eq!(body["outcome"]["created"], 1);
    assert_eq!(
        body["outcome"]["touched_customer_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The same delivery again: 409, nothing changes.
    let raw = created.to_string();
    let ts = now_secs().to_string();
    let sig = sign(&secret, &ts, raw.as_bytes());
    webhook(&s, &slug, &ts, &sig, &raw)
        .await
        .expect_error(409, "conflict");
    // The same event id with a fresh signature is a replay too.
    let later = (now_secs() + 1).to_string();
    webhook(
        &s,
        &slug,
        &later,
        &sign(&secret, &later, raw.as_bytes()),
        &raw,
    )
    .await
    .expect_error(409, "conflict");

    // Bad signatures and stale timestamps: 401 and nothing stored.
    let paid = json!({"id": "evt-2", "type": "order.paid", "occurred_at": now_secs() * 1000,
        "data": {"order_no": "W1"}});
    let paid_raw = paid.to_string();
    let ts = now_secs().to_string();
    let r = webhook(
        &s,
        &slug,
        &ts,
        &sign("wrong-secret", &ts, paid_raw.as_bytes()),
        &paid_raw,
    )
    .await;
    r.expect_error(401, "unauthorized");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
    let r = webhook(&s, &slug, &ts, "sha256=00", &paid_raw).await;
    r.expect_error(401, "unauthorized");
    let tampered = paid_raw.replace("W1", "W2");
    webhook(
        &s,
        &slug,
        &ts,
        &sign(&secret, &ts, paid_raw.as_bytes()),
        &tampered,
    )
    .await
    .expect_error(401, "unauthorized");
    let stale = (now_secs() - 301).to_string();
    let r = webhook(
        &s,
        &slug,
        &stale,
        &sign(&secret, &stale, paid_raw.as_bytes()),
        &paid_raw,
    )
    .await;
    r.expect_error(401, "unauthorized");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("window")
    );
    let r = s
        .http
        .post(s.url(&format!("/api/v1/webhooks/commerce/{slug}")))
        .body(paid_raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "unsigned");
    let list = s.get("/api/v1/orders?q=W1", t).await;
    assert_eq!(list.expect(200)["orders"][0]["payment_status"], "unpaid");

    // The genuine paid event goes through once.
    signed(&s, &slug, &secret, &paid).await.expect(200);
    let list = s.get("/api/v1/orders?q=W1", t).await;
    let w1 = list.expect(200)["orders"][0].clone();
    assert_eq!(w1["payment_status"], "paid");
    assert_eq!(w1["status"], "paid");

    let shipped = json!({"id": "evt-3", "type": "order.shipped", "occurred_at": now_secs() * 1000,
        "data": {"order_no": "W1", "carrier": "中通", "tracking_no": "ZT900",
            "events": [{"at": now_secs() * 1000, "status": "in_transit", "description": "已发货"}]}});
    signed(&s, &slug, &secret, &shipped).await.expect(200);
    let delivered = json!({"id": "evt-4", "type": "order.delivered", "occurred_at": now_secs() * 1000 + 1000,
        "data": {"order_no": "W1", "carrier": "中通", "tracking_no": "ZT900"}});
    signed(&s, &slug, &secret, &delivered).await.expect(200);
    let refunded = json!({"id": "evt-5", "type": "order.refunded", "occurred_at": now_secs() * 1000,
        "data": {"order_no": "W1", "refund_no": "RW1", "amount_cents": w1["total_cents"], "reason": "七天无理由"}});
    signed(&s, &slug, &secret, &refunded).await.expect(200);
    let id = w1["id"].as_i64().unwrap();
    let d = s.get(&format!("/api/v1/orders/{id}"), t).await;
    let d = d.expect(200);
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["shipments"][0]["status"], "delivered");
    assert_eq!(d["payment_status"], "refunded");
    assert_eq!(d["refunded_cents"], w1["total_cents"]);

    // Money stays consistent: a refund beyond what the order took is refused with 422 naming
    // the field, leaving the order as it was and the event id usable.
    let greedy = json!({"id": "evt-5b", "type": "order.refunded", "occurred_at": now_secs() * 1000,
        "data": {"order_no": "W1", "refund_no": "RW2", "amount_cents": 100, "reason": "再退一点"}});
    let r = signed(&s, &slug, &secret, &greedy).await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "amount_cents", "{}", r.text);
    let d = s.get(&format!("/api/v1/orders/{id}"), t).await;
    let d = d.expect(200);
    assert_eq!(d["refunded_cents"], w1["total_cents"]);
    assert_eq!(
        d["refunds"].as_array().unwrap().len(),
        1,
        "the refused refund left no row"
    );

    // A valid signature over an invalid event: 422 naming the field, and the id stays usable.
    let bad = json!({"id": "evt-6", "type": "order.paid", "occurred_at": 1, "data": {"order_no": "NOPE"}});
    signed(&s, &slug, &secret, &bad)
        .await
        .expect_error(404, "not_found");
    let bad_type = json!({"id": "evt-6", "type": "order.lost", "occurred_at": 1, "data": {}});
    let r = signed(&s, &slug, &secret, &bad_type).await;
    r.expect_error(422, "validation_failed");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("type:")
    );

    // Rotation: the old secret stops working at once.
    let rotated = s
        .post("/api/v1/commerce/webhook/rotate", t, json!({}))
        .await;
    let new_secret = rotated.expect(200)["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let next =
        json!({"id": "evt-7", "type": "order.paid", "occurred_at": 1, "data": {"order_no": "W1"}});
    signed(&s, &slug, &secret, &next)
        .await
        .expect_error(401, "unauthorized");
    signed(&s, &slug, &new_secret, &next).await.expect(200);
    s.post(
        "/api/v1/commerce/webhook/rotate",
        Some(&agent.token),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");

    // Unknown shop.
    signed(&s, "no-such-shop", &new_secret, &next)
        .await
        .expect_error(404, "not_found");
}

both!(buyers_resolve_to_customers, buyers_body);
async fn buyers_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());
    let by_ext = s
        .store
        .create_customer(
            s.shop.id,
            &NewCustomer {
                name: Some("老客户".into()),
                external_id: Some("member-7".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let by_phone = s
        .store
        .create_customer(
            s.shop.id,
            &NewCustomer {
                name: Some("电话客户".into()),
                phone: Some("13600136000".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let by_mail = s
        .store
        .create_customer(
            s.shop.id,
            &NewCustomer {
                name: Some("邮件客户".into()),
                email: Some("mail@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mk = |no: &str, buyer: Value| {
        let mut o = order(no, "1");
        o["buyer"] = buyer;
        o
    };
    let r = s
        .post(
            "/api/v1/orders/batch",
            t,
            json!({"orders": [
                mk("E1", json!({"external_id": "member-7", "phone": "13611112222"})),
                mk("E2", json!({"phone": "136-0013-6000"})),
                mk("E3", json!({"email": "MAIL@example.com"})),
                mk("E4", json!({"name": "新客户", "phone": "13500135000"})),
                mk("E5", json!({"phone": "13500135000"})),
                // E1 filled member-7's missing phone: the next order with it finds them.
                mk("E7", json!({"phone": "13611112222"})),
                {"order_no": "E6", "customer_id": by_mail.id, "placed_at": 1_700_000_000_000_i64,
                 "items": [{"sku": "X", "quantity": 1, "unit_price_cents": 1}]},
            ]}),
        )
        .await;
    let out = r.expect(200).clone();
    assert_eq!(out["created"], 7, "{out}");
    let customer_of = |no: &str| {
        let no = no.to_owned();
        let s = &s;
        async move {
            let r = s.get(&format!("/api/v1/orders?q={no}"), t).await;
            r.expect(200)["orders"][0]["customer_id"].as_i64().unwrap()
        }
    };
    assert_eq!(customer_of("E1").await, by_ext.id, "external id first");
    assert_eq!(customer_of("E7").await, by_ext.id);
    assert_eq!(customer_of("E2").await, by_phone.id);
    assert_eq!(customer_of("E3").await, by_mail.id);
    let new_one = customer_of("E4").await;
    assert!(![by_ext.id, by_phone.id, by_mail.id].contains(&new_one));
    assert_eq!(
        customer_of("E5").await,
        new_one,
        "the customer made for E4 is found again"
    );
    assert_eq!(customer_of("E6").await, by_mail.id);
    let list = s.get("/api/v1/orders?q=E4", t).await;
    assert_eq!(list.expect(200)["orders"][0]["customer_name"], "新客户");
    let mut touched: Vec<i64> = out["touched_customer_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    touched.sort_unstable();
    let mut expected = vec![by_ext.id, by_phone.id, by_mail.id, new_one];
    expected.sort_unstable();
    assert_eq!(touched, expected);
}

both!(buyers_match_through_identities, buyer_identities_body);
/// Buyers meet customers through the customers area's identities (normalized values), never a
/// merged-away customer, and customers made or filled by orders get the buyer's identities; the
/// one-by-one path and SQLite's bulk path (32+ new orders) agree.
async fn buyer_identities_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());
    let widget = |body: Value| {
        let s = &s;
        async move {
            s.post("/api/v1/widget/sessions", None, body)
                .await
                .expect(201)["customer_id"]
                .as_i64()
                .unwrap()
        }
    };
    let typed = widget(json!({"name": "网购客", "phone": "+86 138-0013-8000"})).await;
    let gone = widget(json!({"name": "旧号", "phone": "13700001111"})).await;
    let survivor = widget(json!({"name": "新号", "phone": "13900002222"})).await;
    s.post(
        &format!("/api/v1/customers/{survivor}/merge"),
        t,
        json!({"source_id": gone}),
    )
    .await
    .expect(200);

    let mk = |no: &str, buyer: Value| {
        let mut o = order(no, "1");
        o["buyer"] = buyer;
        o
    };
    let customer_of = |no: String| {
        let s = &s;
        async move {
            let r = s.get(&format!("/api/v1/orders?q={no}"), t).await;
            r.expect(200)["orders"][0]["customer_id"].as_i64().unwrap()
        }
    };
    let identities = |id: i64| {
        let s = &s;
        async move {
            s.get(&format!("/api/v1/customers/{id}"), t)
                .await
                .expect(200)["customer"]["identities"]
                .clone()
        }
    };

    // One by one (a small batch).
    s.post(
        "/api/v1/orders/batch",
        t,
        json!({"orders": [
            mk("I1", json!({"phone": "13800138000"})),
            mk("I2", json!({"phone": "137 0000 1111"})),
            mk("I3", json!({"name": "下单客", "phone": "+86 135 0000 3333",
                            "email": "Buyer@Example.com"})),
        ]}),
    )
    .await
    .expect(200);
    assert_eq!(customer_of("I1".into()).await, typed, "normalized phone");
    assert_eq!(
        customer_of("I2".into()).await,
        survivor,
        "merged-away customer's buyer goes to the survivor"
    );
    let made = customer_of("I3".into()).await;
    assert!(![typed, gone, survivor].contains(&made));
    let ids = identities(made).await;
    for (kind, value) in [("phone", "13500003333"), ("email", "buyer@example.com")] {
        assert!(
            ids.as_array().unwrap().iter().any(|i| i["kind"] == kind
                && i["value"] == value
                && i["verified"] == false
                && i["source"] == "order"),
            "{kind} {value} recorded: {ids}"
        );
    }

    // In bulk: the same rules, and a customer made here is found again by its identity.
    let buyers = [
        json!({"phone": "138 0013 8000"}),
        json!({"phone": "+8613700001111"}),
        json!({"phone": "13500003333"}),
        json!({"name": "批量客", "phone": "+86 133-1111-2222"}),
    ];
    let orders: Vec<Value> = (0..40)
        .map(|i| mk(&format!("IB{i:02}"), buyers[i % 4].clone()))
        .collect();
    let out = s
        .post("/api/v1/orders/batch", t, json!({"orders": orders}))
        .await
        .expect(200)
        .clone();
    assert_eq!(out["created"], 40, "{out}");
    assert_eq!(customer_of("IB00".into()).await, typed);
    assert_eq!(customer_of("IB01".into()).await, survivor);
    assert_eq!(customer_of("IB02".into()).await, made);
    let bulk_made = customer_of("IB03".into()).await;
    assert!(![typed, gone, survivor, made].contains(&bulk_made));
    for i in (7..40).step_by(4) {
        assert_eq!(customer_of(format!("IB{i:02}")).await, bulk_made);
    }
    let ids = identities(bulk_made).await;
    assert!(
        ids.as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "phone" && i["value"] == "13311112222" && i["source"] == "order"),
        "{ids}"
    );
    s.post(
        "/api/v1/orders/batch",
        t,
        json!({"orders": [mk("I9", json!({"phone": "13311112222"}))]}),
    )
    .await
    .expect(200);
    assert_eq!(customer_of("I9".into()).await, bulk_made);
}

both!(orders_list_filters_and_pages, orders_list_body);
async fn orders_list_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());
    let orders: Vec<Value> = (0..25)
        .map(|i| {
            let mut o = order(&format!("P{i:03}"), &format!("1380000{:04}", i % 3));
            o["placed_at"] = json!(1_700_000_000_000_i64 + i * 60_000);
            if i % 2 == 0 {
                o["paid_at"] = json!(1_700_000_000_000_i64 + i * 60_000 + 1000);
            }
            o
        })
        .collect();
    s.post("/api/v1/orders/batch", t, json!({"orders": orders}))
        .await
        .expect(200);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s
            .get(&format!("/api/v1/orders?limit=10&cursor={cursor}"), t)
            .await;
        let page = r.expect(200).clone();
        for o in page["orders"].as_array().unwrap() {
            seen.push(o["order_no"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("P{i:03}")).collect();
    assert_eq!(seen, expected, "newest first, every order once");

    let unpaid = s
        .get("/api/v1/orders?payment_status=unpaid&limit=200", t)
        .await;
    assert_eq!(unpaid.expect(200)["orders"].as_array().unwrap().len(), 12);
    let paid = s.get("/api/v1/orders?status=paid&limit=200", t).await;
    assert_eq!(paid.expect(200)["orders"].as_array().unwrap().len(), 13);
    let range = s
        .get(
            &format!(
                "/api/v1/orders?from={}&to={}",
                1_700_000_000_000_i64 + 60_000,
                1_700_000_000_000_i64 + 3 * 60_000
            ),
            t,
        )
        .await;
    assert_eq!(range.expect(200)["orders"].as_array().unwrap().len(), 2);
    let some = s.get("/api/v1/orders?q=P00", t).await;
    assert_eq!(some.expect(200)["orders"].as_array().unwrap().len(), 10);
    let cid = some.body["orders"][0]["customer_id"].as_i64().unwrap();
    let mine = s
        .get(&format!("/api/v1/orders?customer_id={cid}&limit=200"), t)
        .await;
    let mine = mine.expect(200)["orders"].as_array().unwrap().clone();
    assert!(mine.iter().all(|o| o["customer_id"] == cid) && !mine.is_empty());
    let side = s
        .get(&format!("/api/v1/customers/{cid}/orders?limit=3"), t)
        .await;
    assert_eq!(side.expect(200)["orders"].as_array().unwrap().len(), 3);

    for bad in [
        "/api/v1/orders?status=lost",
        "/api/v1/orders?payment_status=x",
        "/api/v1/orders?limit=0",
        "/api/v1/orders?cursor=zzz",
        "/api/v1/orders?from=yesterday",
    ] {
        s.get(bad, t).await.expect_error(422, "validation_failed");
    }
    s.get("/api/v1/orders/999999", t)
        .await
        .expect_error(404, "not_found");
    s.get("/api/v1/customers/999999/orders", t)
        .await
        .expect_error(404, "not_found");
}

both!(other_shops_commerce_is_invisible, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop_b = s.create_shop("shop-b").await;
    let admin_a = s.agent(s.shop.id, Role::Admin, "Admin A").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "Admin B").await;
    let ta = Some(admin_a.token.as_str());
    let tb = Some(admin_b.token.as_str());
    let mut a1 = order("SAME-1", "13800138000");
    a1["shipments"] = json!([{"carrier": "顺丰", "tracking_no": "SF-SHARED"}]);
    let out = s
        .post("/api/v1/orders/batch", ta, json!({"orders": [a1.clone()]}))
        .await;
    out.expect(200);
    let a_order = s.get("/api/v1/orders", ta).await.expect(200)["orders"][0].clone();
    let (oid, cid) = (
        a_order["id"].as_i64().unwrap(),
        a_order["customer_id"].as_i64().unwrap(),
    );

    s.get(&format!("/api/v1/orders/{oid}"), tb)
        .await
        .expect_error(404, "not_found");
    s.get(&format!("/api/v1/customers/{cid}/orders"), tb)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        s.get("/api/v1/orders", tb).await.expect(200)["orders"],
        json!([])
    );
    assert_eq!(
        s.get(&format!("/api/v1/orders?customer_id={cid}"), tb)
            .await
            .expect(200)["orders"],
        json!([])
    );
    // The same order number, tracking number and phone in shop B are B's own.
    let out = s
        .post("/api/v1/orders/batch", tb, json!({"orders": [a1]}))
        .await;
    assert_eq!(statuses(out.expect(200)), ["created"]);
    let b_order = s.get("/api/v1/orders", tb).await.expect(200)["orders"][0].clone();
    assert_ne!(
        b_order["customer_id"], cid,
        "a customer of shop A is never used for shop B"
    );
    // A's customer id in B's batch is unknown there.
    let r = s
        .post(
            "/api/v1/orders/batch",
            tb,
            json!({"orders": [{"order_no": "X1", "customer_id": cid, "placed_at": 1, "items": [{"sku": "S", "quantity": 1, "unit_price_cents": 1}]}]}),
        )
        .await;
    assert_eq!(r.expect(200)["items"][0]["error"]["code"], "not_found");
    // Shipments of A's order cannot be touched from B.
    let r = s
        .post(
            "/api/v1/shipments/batch",
            tb,
            json!({"shipments": [{"order_no": "NOT-B", "carrier": "顺丰", "tracking_no": "SF-SHARED"}]}),
        )
        .await;
    assert_eq!(r.expect(200)["items"][0]["error"]["code"], "not_found");
    assert_eq!(
        s.get("/api/v1/products", tb).await.expect(200)["products"],
        json!([])
    );

    // A's webhook secret does not sign for B.
    let secret_a = s.get("/api/v1/commerce/webhook", ta).await.expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret_b = s.get("/api/v1/commerce/webhook", tb).await.expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(secret_a, secret_b);
    let ev = json!({"id": "x-1", "type": "order.paid", "occurred_at": 1, "data": {"order_no": "SAME-1"}});
    signed(&s, "shop-b", &secret_a, &ev)
        .await
        .expect_error(401, "unauthorized");
    // Event ids are per shop: the same id is fine in each.
    signed(&s, "shop-b", &secret_b, &ev).await.expect(200);
    signed(&s, &s.shop.slug, &secret_a, &ev).await.expect(200);
}

both!(large_batches_match_one_by_one, large_batch_body);
/// Batches of 32+ orders take SQLite's bulk path; everything one-by-one storage guarantees must
/// still hold: per-item outcomes, clashes reported, buyers shared, re-sends unchanged.
async fn large_batch_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let t = Some(admin.token.as_str());
    let known = s
        .store
        .create_customer(
            s.shop.id,
            &NewCustomer {
                name: Some("老顾客".into()),
                phone: Some("13900000007".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut first = order("L-PRE", "13900000001");
    first["shipments"] = json!([{"carrier": "顺丰", "tracking_no": "SF-TAKEN"}]);
    s.post(
        "/api/v1/orders/batch",
        t,
        json!({"orders": [first, order("L-CHG", "13900000002")]}),
    )
    .await
    .expect(200);

    let mut orders: Vec<Value> = (0..40)
        .map(|i| {
            let mut o = order(&format!("L{i:02}"), &format!("1390000{:04}", i % 8));
            o["buyer"]["external_id"] = json!(format!("m-{}", i % 8));
            o["shipments"] = json!([{"carrier": "中通", "tracking_no": format!("ZT-L{i:02}")}]);
            o
        })
        .collect();
    orders[3]["shipments"][0]["tracking_no"] = json!("SF-TAKEN");
    orders[3]["shipments"][0]["carrier"] = json!("顺丰");
    orders[5]["shipments"][0]["tracking_no"] = json!("ZT-L04");
    let mut changed = order("L-CHG", "13900000002");
    changed["items"][0]["quantity"] = json!(5);
    orders.push(changed);
    orders.push(order("L-PRE", "13900000001")); // differs from the stored one (no parcel now)
    let r = s
        .post("/api/v1/orders/batch", t, json!({"orders": orders.clone()}))
        .await;
    let out = r.expect(200).clone();
    let st = statuses(&out);
    assert_eq!(st.len(), 42);
    assert_eq!(st[3], "failed");
    assert_eq!(
        out["items"][3]["error"]["message"],
        "orders[3].shipments[0].tracking_no: already used by order 'L-PRE'"
    );
    // Two orders of the batch with one parcel: the first keeps it, the second is refused.
    assert_eq!(st[4], "created");
    assert_eq!(st[5], "failed");
    assert_eq!(st[40], "updated");
    assert_eq!(st[41], "updated");
    assert_eq!(out["created"], 38);
    for (i, item) in out["items"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["index"], i);
    }
    // Eight buyers (by external id) plus the phone match: the known customer got an external id.
    let touched = out["touched_customer_ids"].as_array().unwrap();
    assert!(touched.contains(&json!(known.id)), "{touched:?}");
    let list = s
        .get(
            &format!("/api/v1/orders?customer_id={}&limit=200", known.id),
            t,
        )
        .await;
    assert_eq!(
        list.expect(200)["orders"].as_array().unwrap().len(),
        5,
        "L07, L15, L23, L31, L39"
    );
    let all = s.get("/api/v1/orders?limit=200", t).await;
    let all = all.expect(200)["orders"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2 + 38);
    let mut buyers: Vec<i64> = all
        .iter()
        .map(|o| o["customer_id"].as_i64().unwrap())
        .collect();
    buyers.sort_unstable();
    buyers.dedup();
    // Phones …01 and …02 are L-PRE's and L-CHG's buyers, …07 the known customer: 5 new ones.
    assert_eq!(buyers.len(), 3 + 5);
    let l12 = all.iter().find(|o| o["order_no"] == "L12").unwrap();
    let d = s.get(&format!("/api/v1/orders/{}", l12["id"]), t).await;
    let d = d.expect(200);
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    assert_eq!(d["shipments"][0]["tracking_no"], "ZT-L12");
    assert_eq!(d["status"], "shipped");

    let r = s
        .post("/api/v1/orders/batch", t, json!({"orders": orders}))
        .await;
    let again = r.expect(200);
    assert_eq!(again["unchanged"], 40, "{again}");
    assert_eq!(again["failed"], 2);
    assert_eq!(again["touched_customer_ids"], json!([]));
}
