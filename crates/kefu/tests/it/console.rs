//! What the console asks of the server for the actions where the agent is (issue 19): orders say
//! whether 申请售后 and 催付 apply (the same rules the writes check), tickets and after-sales
//! requests are found by their numbers in global search and by order number in their lists,
//! the customer timeline lists them (an agent only their own and unassigned ones), and a
//! customer nobody has talked to has no last contact (never 1970). Scoped by shop and role.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use kefu_core::time::Millis;
use serde_json::{Value, json};

/// Ingests one order (as an import would); `buyer` names a new customer when `customer_id` is
/// `None`. Returns the order id.
async fn ingest(s: &TestServer, shop_id: Id, mut doc: Value) -> Id {
    let now = Millis::now().0;
    doc["placed_at"] = json!(now - 86_400_000);
    doc["items"] = json!([
        {"sku": "AB-PRO", "name": "AirBuds Pro 降噪耳机", "quantity": 1, "unit_price_cents": 19900}
    ]);
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

fn paid(order_no: &str, customer_id: Id) -> Value {
    json!({"order_no": order_no, "customer_id": customer_id, "paid_at": Millis::now().0 - 80_000_000})
}

fn ids(v: &Value, list: &str) -> Vec<i64> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} in {v}"))
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

both!(
    orders_say_where_aftersales_and_reminders_apply,
    eligibility_body
);
async fn eligibility_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let c = customer(&s, s.shop.id).await;
    let p = unique();
    let unpaid = ingest(
        &s,
        s.shop.id,
        json!({"order_no": format!("U{p}"), "customer_id": c}),
    )
    .await;
    let paid_id = ingest(&s, s.shop.id, paid(&format!("P{p}"), c)).await;
    let cancelled = ingest(
        &s,
        s.shop.id,
        json!({"order_no": format!("C{p}"), "customer_id": c, "status": "cancelled"}),
    )
    .await;
    let refunded = ingest(
        &s,
        s.shop.id,
        json!({"order_no": format!("R{p}"), "customer_id": c, "paid_at": Millis::now().0 - 80_000_000,
               "refunds": [{"refund_no": format!("RF{p}"), "amount_cents": 19900, "status": "refunded"}]}),
    )
    .await;

    // The sidebar's list and the order's own page carry both flags.
    let list = s
        .get(
            &format!("/api/v1/customers/{c}/orders?limit=10"),
            Some(&admin.token),
        )
        .await;
    let list = list.expect(200).clone();
    let flags = |id: Id| {
        let o = list["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("order {id} listed"))
            .clone();
        (
            o["aftersales_allowed"].clone(),
            o["awaiting_payment"].clone(),
        )
    };
    assert_eq!(flags(unpaid), (json!(false), json!(true)), "unpaid");
    assert_eq!(flags(paid_id), (json!(true), json!(false)), "paid");
    assert_eq!(flags(cancelled), (json!(false), json!(false)), "cancelled");
    assert_eq!(
        flags(refunded),
        (json!(false), json!(false)),
        "refunded in full"
    );
    let one = s
        .get(&format!("/api/v1/orders/{paid_id}"), Some(&admin.token))
        .await;
    assert_eq!(one.expect(200)["aftersales_allowed"], true);

    // The writes agree with the flags: a request on the paid order only, a reminder on the
    // unpaid one only.
    for (id, allowed) in [
        (unpaid, false),
        (paid_id, true),
        (cancelled, false),
        (refunded, false),
    ] {
        let r = s
            .post(
                "/api/v1/aftersales",
                Some(&admin.token),
                json!({"order_id": id, "kind": "refund", "reason": "damaged",
                       "lines": [{"line_no": 1, "quantity": 1}]}),
            )
            .await;
        if allowed {
            r.expect(201);
        } else {
            r.expect_error(422, "validation_failed");
        }
    }
    for id in [paid_id, cancelled, refunded] {
        s.post(
            "/api/v1/reminders",
            Some(&admin.token),
            json!({"order_id": id}),
        )
        .await
        .expect_error(422, "validation_failed");
    }
}

both!(numbers_are_found_in_search_and_lists, numbers_body);
async fn numbers_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let a = s.agent(s.shop.id, Role::Agent, "客服甲").await;
    let b = s.agent(s.shop.id, Role::Agent, "客服乙").await;
    let c = customer(&s, s.shop.id).await;
    let p = unique();
    let order_no = format!("XM{p}");
    let oid = ingest(&s, s.shop.id, paid(&order_no, c)).await;
    let other_oid = ingest(&s, s.shop.id, paid(&format!("ZZ{p}"), c)).await;

    // A ticket about the order, assigned to 客服甲; another one about nothing.
    let ticket = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            json!({"subject": "改地址", "customer_id": c, "assignee_id": a.id(),
                   "links": [{"kind": "order", "ref_id": oid}]}),
        )
        .await;
    let ticket = ticket.expect(201).clone();
    let number = ticket["number"].as_i64().unwrap();
    assert_eq!(ticket["display_number"], format!("T-{number:06}"));
    let plain = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            json!({"subject": "发票", "customer_id": c}),
        )
        .await;
    let plain = plain.expect(201).clone();

    // Global search names it by its number, with or without the zeros and the dash.
    for q in [
        format!("T-{number:06}"),
        format!("t{number}"),
        format!("T{number}"),
    ] {
        let r = s
            .get(
                &format!("/api/v1/search?q={}", urlencode(&q)),
                Some(&admin.token),
            )
            .await;
        let r = r.expect(200).clone();
        let records = r["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{q}: {r}");
        assert_eq!(records[0]["kind"], "ticket");
        assert_eq!(records[0]["id"], ticket["id"]);
        assert_eq!(records[0]["number"], ticket["display_number"]);
        assert_eq!(records[0]["title"], "改地址");
        assert_eq!(records[0]["status"], "new");
    }
    // A bare number is an order or a phone, not a ticket; an unknown number is nothing.
    for q in [number.to_string(), "T-999999".into(), "改地址".into()] {
        let r = s
            .get(
                &format!("/api/v1/search?q={}", urlencode(&q)),
                Some(&admin.token),
            )
            .await;
        assert_eq!(r.expect(200)["records"], json!([]), "{q}");
    }
    // Agents: their own and unassigned tickets, as the list shows them.
    let q = format!("/api/v1/search?q=T-{number:06}");
    assert_eq!(
        s.get(&q, Some(&a.token)).await.expect(200)["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get(&q, Some(&b.token)).await.expect(200)["records"],
        json!([])
    );
    // Another shop's staff find nothing under that number.
    let shop2 = s.create_shop(&format!("con-{p}")).await;
    let stranger = s.agent(shop2.id, Role::Admin, "别家店长").await;
    assert_eq!(
        s.get(&q, Some(&stranger.token)).await.expect(200)["records"],
        json!([])
    );

    // The ticket list filters by order number (any part of it, any case).
    for filter in [order_no.clone(), order_no.to_lowercase(), p.to_string()] {
        let l = s
            .get(
                &format!("/api/v1/tickets?status=&order_no={}", urlencode(&filter)),
                Some(&admin.token),
            )
            .await;
        // Both orders carry the stamp; only the first has a ticket, and the plain one none.
        let got = ids(l.expect(200), "tickets");
        assert_eq!(got, vec![ticket["id"].as_i64().unwrap()], "{filter}");
        assert!(!got.contains(&plain["id"].as_i64().unwrap()));
    }
    let none = s
        .get("/api/v1/tickets?order_no=NOPE%25", Some(&admin.token))
        .await;
    assert!(none.expect(200)["tickets"].as_array().unwrap().is_empty());
    s.get(
        &format!("/api/v1/tickets?order_no={}", "x".repeat(65)),
        Some(&admin.token),
    )
    .await
    .expect_error(422, "validation_failed");

    // After-sales requests: by number in search, by number or order number in their list.
    let r1 = s
        .post(
            "/api/v1/aftersales",
            Some(&admin.token),
            json!({"order_id": oid, "kind": "refund", "reason": "damaged", "assignee_id": a.id(),
                   "lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await;
    let r1 = r1.expect(201).clone();
    let r2 = s
        .post(
            "/api/v1/aftersales",
            Some(&admin.token),
            json!({"order_id": other_oid, "kind": "refund", "reason": "quality",
                   "lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await;
    let r2 = r2.expect(201).clone();
    let no = r1["no"].as_str().unwrap().to_owned();
    let n: i64 = no.trim_start_matches("AS-").parse().unwrap();
    for q in [no.clone(), format!("as{n}"), format!("AS{n}")] {
        let r = s
            .get(
                &format!("/api/v1/search?q={}", urlencode(&q)),
                Some(&admin.token),
            )
            .await;
        let r = r.expect(200).clone();
        let records = r["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{q}: {r}");
        assert_eq!(records[0]["kind"], "aftersales");
        assert_eq!(records[0]["id"], r1["id"]);
        assert_eq!(records[0]["title"], order_no.as_str());
        assert_eq!(records[0]["status"], "requested");
    }
    let q = format!("/api/v1/search?q={no}");
    assert_eq!(
        s.get(&q, Some(&b.token)).await.expect(200)["records"],
        json!([])
    );
    assert_eq!(
        s.get(&q, Some(&stranger.token)).await.expect(200)["records"],
        json!([])
    );
    let by_no = s
        .get(
            &format!("/api/v1/aftersales?q={}", urlencode(&no)),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        ids(by_no.expect(200), "requests"),
        vec![r1["id"].as_i64().unwrap()]
    );
    let by_order = s
        .get(
            &format!(
                "/api/v1/aftersales?q={}",
                urlencode(&order_no.to_lowercase())
            ),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        ids(by_order.expect(200), "requests"),
        vec![r1["id"].as_i64().unwrap()]
    );
    let by_stamp = s
        .get(&format!("/api/v1/aftersales?q={p}"), Some(&admin.token))
        .await;
    let mut both = ids(by_stamp.expect(200), "requests");
    both.sort();
    let mut want = vec![r1["id"].as_i64().unwrap(), r2["id"].as_i64().unwrap()];
    want.sort();
    assert_eq!(both, want);
    // Wildcards are text, not patterns.
    let wild = s.get("/api/v1/aftersales?q=%25", Some(&admin.token)).await;
    assert!(wild.expect(200)["requests"].as_array().unwrap().is_empty());
    // Agent B sees neither (one is 客服甲's, the other unassigned: B sees that one only).
    let b_list = s
        .get(&format!("/api/v1/aftersales?q={p}"), Some(&b.token))
        .await;
    assert_eq!(
        ids(b_list.expect(200), "requests"),
        vec![r2["id"].as_i64().unwrap()]
    );
    s.get(
        &format!("/api/v1/aftersales?q={}", "x".repeat(65)),
        Some(&admin.token),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(timeline_lists_tickets_and_aftersales, timeline_body);
async fn timeline_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let a = s.agent(s.shop.id, Role::Agent, "客服甲").await;
    let b = s.agent(s.shop.id, Role::Agent, "客服乙").await;
    let c = customer(&s, s.shop.id).await;
    let p = unique();
    let oid = ingest(&s, s.shop.id, paid(&format!("TL{p}"), c)).await;
    let ticket = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            json!({"subject": "物流太慢", "customer_id": c, "assignee_id": a.id()}),
        )
        .await;
    let ticket = ticket.expect(201).clone();
    let request = s
        .post(
            "/api/v1/aftersales",
            Some(&admin.token),
            json!({"order_id": oid, "kind": "refund", "reason": "damaged",
                   "lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await;
    let request = request.expect(201).clone();

    let kinds = |v: &Value| -> Vec<(String, String, String, Option<i64>)> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["kind"].as_str().unwrap().to_owned(),
                    i["title"].as_str().unwrap().to_owned(),
                    i["summary"].as_str().unwrap().to_owned(),
                    i["ref_id"].as_i64(),
                )
            })
            .collect()
    };
    let tl = s
        .get(
            &format!("/api/v1/customers/{c}/timeline"),
            Some(&admin.token),
        )
        .await;
    let items = kinds(tl.expect(200));
    assert!(
        items.contains(&(
            "ticket.created".into(),
            ticket["display_number"].as_str().unwrap().into(),
            "物流太慢".into(),
            ticket["id"].as_i64()
        )),
        "{items:?}"
    );
    assert!(
        items.contains(&(
            "aftersales.created".into(),
            request["no"].as_str().unwrap().into(),
            format!("TL{p}"),
            request["id"].as_i64()
        )),
        "{items:?}"
    );
    let refs: Vec<_> = tl.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "ticket.created")
        .map(|i| i["ref_type"].clone())
        .collect();
    assert_eq!(refs, vec![json!("ticket")]);

    // 客服乙 does not see 客服甲's ticket on the timeline, but the unassigned request yes.
    let theirs = kinds(
        s.get(&format!("/api/v1/customers/{c}/timeline"), Some(&b.token))
            .await
            .expect(200),
    );
    assert!(
        !theirs.iter().any(|i| i.0 == "ticket.created"),
        "{theirs:?}"
    );
    assert!(
        theirs.iter().any(|i| i.0 == "aftersales.created"),
        "{theirs:?}"
    );
    let mine = kinds(
        s.get(&format!("/api/v1/customers/{c}/timeline"), Some(&a.token))
            .await
            .expect(200),
    );
    assert!(mine.iter().any(|i| i.0 == "ticket.created"), "{mine:?}");

    // Paging walks every item once, tickets and requests included.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(b) => format!("/api/v1/customers/{c}/timeline?limit=1&before={b}"),
            None => format!("/api/v1/customers/{c}/timeline?limit=1"),
        };
        let page = s.get(&path, Some(&admin.token)).await.expect(200).clone();
        seen.extend(kinds(&page));
        match page["next_cursor"].as_str() {
            Some(n) => before = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, items);
}

both!(imported_customers_have_no_last_contact, contact_body);
async fn contact_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let p = unique();
    // An imported order names a buyer nobody has talked to: a new customer.
    let oid = ingest(
        &s,
        s.shop.id,
        json!({"order_no": format!("IM{p}"), "buyer": {"external_id": format!("imp-{p}"), "name": "导入买家"}}),
    )
    .await;
    let order = s
        .get(&format!("/api/v1/orders/{oid}"), Some(&admin.token))
        .await;
    let cid = order.expect(200)["customer_id"].as_i64().unwrap();
    let profile = s
        .get(&format!("/api/v1/customers/{cid}"), Some(&admin.token))
        .await;
    let profile = profile.expect(200).clone();
    assert_eq!(profile["customer"]["id"], cid, "{profile}");
    assert_eq!(profile["customer"]["last_contact_at"], Value::Null);
    let list = s
        .get(
            &format!("/api/v1/customers?q={}", urlencode("导入买家")),
            Some(&admin.token),
        )
        .await;
    let list = list.expect(200).clone();
    let row = list["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cid)
        .unwrap_or_else(|| panic!("listed: {list}"))
        .clone();
    assert!(row.get("last_contact_at").is_some(), "{row}");
    assert_eq!(row["last_contact_at"], Value::Null);
    // A shopper who chatted has one.
    let shopper = s.shopper().await;
    s.shopper_send(&shopper, "在吗").await;
    let talked = s
        .get(
            &format!("/api/v1/customers/{}", shopper.customer_id),
            Some(&admin.token),
        )
        .await;
    let talked = talked.expect(200).clone();
    assert!(
        talked["customer"]["last_contact_at"].is_string(),
        "{talked}"
    );
    // The CSV export leaves the cell empty rather than writing 1970.
    let csv = s
        .get("/api/v1/customers/export.csv", Some(&admin.token))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.contains("导入买家"), "{}", csv.text);
    assert!(!csv.text.contains("1970-01-01"), "{}", csv.text);
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
