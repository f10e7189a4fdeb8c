//! Negative reviews (中差评): batch and CSV imports (idempotent, per-row errors), follow-up tasks for
//! low ratings with their target times and overdue judgement, outcomes, settings, role scoping and
//! isolation between shops.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use kefu_core::reviews::{HOUR_MS, ReviewInput, validate_review};
use kefu_core::time::Millis;
use serde_json::{Value, json};

async fn order_of(s: &TestServer, shop_id: Id, order_no: &str, phone: &str) -> (Id, Id) {
    let input: OrderInput = serde_json::from_value(json!({
        "order_no": order_no, "buyer": {"phone": phone, "name": "评价买家"}, "placed_at": Millis::now().0 - 86_400_000,
        "paid_at": Millis::now().0 - 86_000_000,
        "items": [{"sku": "MUG", "quantity": 1, "unit_price_cents": 3900}]
    }))
    .unwrap();
    let out = s
        .store
        .apply_commerce(
            shop_id,
            CommerceChange::Orders(vec![(0, validate_order("", &input).unwrap())]),
            None,
        )
        .await
        .unwrap();
    (out.items[0].id.unwrap(), out.touched_customer_ids[0])
}

fn review(id: &str, rating: i64, order_no: Option<&str>) -> Value {
    json!({"review_id": id, "platform": "taobao", "rating": rating, "text": format!("评价 {id}"),
           "order_no": order_no, "reviewed_at": "2026-11-20 10:00"})
}

async fn batch(s: &TestServer, a: &Agent, reviews: Value) -> Resp {
    s.post(
        "/api/v1/reviews",
        Some(&a.token),
        json!({ "reviews": reviews }),
    )
    .await
}

async fn followups(s: &TestServer, a: &Agent, q: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/review-followups{q}"), Some(&a.token))
        .await
        .expect(200)["followups"]
        .as_array()
        .unwrap()
        .clone()
}

both!(batch_import_is_idempotent_and_opens_followups, batch_body);
async fn batch_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let (oid, cid) = order_of(&s, s.shop.id, "RV-1", "13800000001").await;
    let items = json!([
        review("T-1", 1, Some("RV-1")),
        review("T-2", 5, None),
        review("T-3", 3, Some("NOPE")),
        review("T-4", 9, None)
    ]);
    let r = batch(&s, &admin, items.clone()).await;
    let out = r.expect(200).clone();
    assert_eq!(
        (out["created"].as_i64(), out["failed"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(out["followups_opened"], 2);
    assert_eq!(out["items"][3]["status"], "failed");
    assert_eq!(out["items"][3]["key"], "T-4");
    assert!(
        out["items"][3]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("reviews[3].rating")
    );

    // The same batch again: nothing new, no second task.
    let again = batch(&s, &admin, items).await;
    let again = again.expect(200).clone();
    assert_eq!(
        (again["unchanged"].as_i64(), again["created"].as_i64()),
        (Some(3), Some(0))
    );
    assert_eq!(again["followups_opened"], 0);
    let queue = followups(&s, &admin, "").await;
    assert_eq!(queue.len(), 2);
    let linked = queue
        .iter()
        .find(|f| f["review"]["review_id"] == "T-1")
        .unwrap();
    assert_eq!(linked["review"]["order_id"], oid);
    assert_eq!(linked["review"]["customer"]["id"], cid);
    assert_eq!(linked["status"], "open");
    assert_eq!(linked["overdue"], false);
    // Due 24 h (the default) after the import.
    let due = kefu_core::commerce::parse_time(linked["due_at"].as_str().unwrap()).unwrap();
    let created = kefu_core::commerce::parse_time(linked["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(due.0 - created.0, 24 * HOUR_MS);
    let unknown = queue
        .iter()
        .find(|f| f["review"]["review_id"] == "T-3")
        .unwrap();
    assert!(unknown["review"]["order_id"].is_null());

    // A changed review is updated; raised above the threshold, its open task records the revision.
    let revised = batch(&s, &admin, json!([review("T-1", 5, Some("RV-1"))])).await;
    assert_eq!(revised.expect(200)["updated"], 1);
    let closed = followups(&s, &admin, "?status=review_revised").await;
    assert_eq!(closed.len(), 1);
    assert!(closed[0]["closed_at"].is_string());
    assert_eq!(followups(&s, &admin, "").await.len(), 1);

    // The list filters.
    let list = |q: &'static str| {
        let s = &s;
        let t = admin.token.clone();
        async move {
            s.get(&format!("/api/v1/reviews{q}"), Some(&t))
                .await
                .expect(200)["reviews"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    assert_eq!(list("").await.len(), 3);
    assert_eq!(list("?rating_max=3").await.len(), 1);
    assert_eq!(list("?rating=5").await.len(), 2);
    assert_eq!(list("?status=open").await.len(), 1);
    for q in [
        "?rating=0",
        "?status=closed",
        "?overdue=maybe",
        "?limit=500",
    ] {
        s.get(&format!("/api/v1/reviews{q}"), Some(&admin.token))
            .await
            .expect_error(422, "validation_failed");
    }
    // Bad batches change nothing.
    batch(&s, &admin, json!([]))
        .await
        .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/reviews",
        Some(&admin.token),
        json!({"reviews": "x"}),
    )
    .await
    .expect_error(422, "validation_failed");
    assert_eq!(list("").await.len(), 3);
}

both!(csv_import_reports_bad_rows_and_reimports_cleanly, csv_body);
async fn csv_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    order_of(&s, s.shop.id, "CSV-1", "13800000002").await;
    let csv = "review_id,platform,rating,text,order_no,reviewed_at\n\
               C-1,jd,1,\"到货破损, 客服也不理\",CSV-1,2026-11-20 10:00\n\
               C-2,jd,six,bad,,2026-11-20 10:00\n\
               C-3,pdd,2,慢,,not a date\n\
               C-4,douyin,5,很好,,2026-11-21\n\
               C-1,jd,1,dup,,2026-11-20\n";
    let post = |body: &'static str| {
        let s = &s;
        let t = admin.token.clone();
        async move {
            let r = s
                .http
                .post(s.url("/api/v1/reviews/import"))
                .bearer_auth(&t)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            Resp {
                status,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }
        }
    };
    let r = post(csv).await;
    let rep = r.expect(200).clone();
    assert_eq!(rep["rows"], 5);
    assert_eq!(rep["created"], 2);
    assert_eq!(rep["rejected"], 3);
    assert_eq!(rep["followups_opened"], 1);
    let bad: Vec<(i64, String)> = rep["bad_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["line"].as_i64().unwrap(),
                b["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        vec![
            (3, "rating".to_owned()),
            (4, "reviewed_at".to_owned()),
            (6, "review_id".to_owned())
        ]
    );
    // Re-importing: no duplicates, the same bad rows.
    let again = post(csv).await;
    let again = again.expect(200).clone();
    assert_eq!(
        (again["created"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(2))
    );
    let reviews = s.get("/api/v1/reviews", Some(&admin.token)).await;
    let reviews = reviews.expect(200)["reviews"].as_array().unwrap().clone();
    assert_eq!(reviews.len(), 2);
    let c1 = reviews.iter().find(|r| r["review_id"] == "C-1").unwrap();
    assert_eq!(c1["text"], "到货破损, 客服也不理");
    assert!(c1["customer"]["id"].is_i64());
    assert_eq!(followups(&s, &admin, "").await.len(), 1);
    // What a platform export saved by Excel looks like: GBK, CRLF, Chinese headers, 差评 and
    // `2026/12/6 16:00` in the shop's zone; the bad row's line is the file's own (a quoted cell
    // spans two lines), its code and column as the file names it.
    let zh = "评价编号,平台,评分,评价内容,订单号,评价时间\r\n\
              Z-1,淘宝,差评,\"破损\r\n很失望\",CSV-1,2026/12/6 16:00\r\n\
              Z-2,京东,9星,,,2026/12/6\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(zh);
    let r = s
        .http
        .post(s.url("/api/v1/reviews/import"))
        .bearer_auth(&admin.token)
        .body(gbk.into_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["created"], 1, "{rep}");
    let b = &rep["bad_rows"][0];
    assert_eq!(
        (b["line"].as_i64(), b["code"].as_str()),
        (Some(4), Some("bad_value")),
        "{rep}"
    );
    assert_eq!(b["column"], "评分");
    let reviews = s.get("/api/v1/reviews", Some(&admin.token)).await;
    let reviews = reviews.expect(200)["reviews"].as_array().unwrap().clone();
    let z1 = reviews.iter().find(|r| r["review_id"] == "Z-1").unwrap();
    assert_eq!(
        (z1["rating"].as_i64(), z1["platform"].as_str()),
        (Some(1), Some("taobao"))
    );
    assert_eq!(z1["reviewed_at"], "2026-12-06T08:00:00.000Z");
    // The XLSX template imports its example review as it is.
    let r = s
        .http
        .get(s.url("/api/v1/reviews/import/template?format=xlsx"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let xlsx = r.bytes().await.unwrap().to_vec();
    let r = s
        .http
        .post(s.url("/api/v1/reviews/import"))
        .bearer_auth(&admin.token)
        .body(xlsx)
        .send()
        .await
        .unwrap();
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["created"], 1, "{rep}");
    // A file without a required column, or empty, fails whole.
    post("review_id,rating\nX,1\n")
        .await
        .expect_error(422, "validation_failed");
    post("").await.expect_error(422, "validation_failed");
    // Agents do not import.
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    let r = s
        .http
        .post(s.url("/api/v1/reviews/import"))
        .bearer_auth(&agent.token)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    batch(&s, &agent, json!([review("A-1", 1, None)]))
        .await
        .expect_error(403, "forbidden");
}

both!(overdue_settings_and_outcomes, overdue_body);
async fn overdue_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服甲").await;
    let other = s.agent(s.shop.id, Role::Agent, "客服乙").await;

    // Settings: managers only, checked.
    s.put(
        "/api/v1/reviews/settings",
        Some(&agent.token),
        json!({"low_rating_threshold": 4, "followup_hours": 2}),
    )
    .await
    .expect_error(403, "forbidden");
    s.put(
        "/api/v1/reviews/settings",
        Some(&admin.token),
        json!({"low_rating_threshold": 6, "followup_hours": 2}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.put(
        "/api/v1/reviews/settings",
        Some(&admin.token),
        json!({"low_rating_threshold": 4, "followup_hours": 0}),
    )
    .await
    .expect_error(422, "validation_failed");
    let put = s
        .put(
            "/api/v1/reviews/settings",
            Some(&admin.token),
            json!({"low_rating_threshold": 4, "followup_hours": 2}),
        )
        .await;
    assert_eq!(put.expect(200)["low_rating_threshold"], 4);
    assert_eq!(
        s.get("/api/v1/reviews/settings", Some(&agent.token))
            .await
            .expect(200)["followup_hours"],
        2
    );

    // One imported three hours ago (due an hour ago: overdue), one now (due in two hours).
    let doc = |id: &str, rating| {
        let input: ReviewInput = serde_json::from_value(review(id, rating, None)).unwrap();
        validate_review("", &input).unwrap()
    };
    let past = Millis(Millis::now().0 - 3 * HOUR_MS);
    s.store
        .import_reviews(s.shop.id, vec![(0, doc("O-1", 2))], past)
        .await
        .unwrap();
    // 4 stars is low now that the threshold is 4.
    let r = batch(
        &s,
        &admin,
        json!([review("O-2", 4, None), review("O-3", 5, None)]),
    )
    .await;
    assert_eq!(r.expect(200)["followups_opened"], 1);
    let queue = followups(&s, &admin, "").await;
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0]["review"]["review_id"], "O-1", "overdue first");
    assert_eq!(queue[0]["overdue"], true);
    assert_eq!(queue[1]["overdue"], false);
    let overdue = followups(&s, &admin, "?overdue=true").await;
    assert_eq!(overdue.len(), 1);
    let reviews = s
        .get("/api/v1/reviews?overdue=true", Some(&admin.token))
        .await;
    assert_eq!(reviews.expect(200)["reviews"].as_array().unwrap().len(), 1);
    let late = queue[0]["id"].as_i64().unwrap();
    let fresh = queue[1]["id"].as_i64().unwrap();

    // Assignment: the admin gives the late one to agent A; B no longer sees it.
    let p = s
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/review-followups/{late}"),
            Some(&admin.token),
            Some(json!({"assignee_id": agent.id()})),
        )
        .await;
    assert_eq!(p.expect(200)["assignee"]["id"], agent.id());
    s.get(
        &format!("/api/v1/review-followups/{late}"),
        Some(&other.token),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(followups(&s, &other, "").await.len(), 1);
    assert_eq!(followups(&s, &agent, "").await.len(), 2);
    let patch = |id: Id, who: &Agent, body: Value| {
        let s = &s;
        let t = who.token.clone();
        async move {
            s.request(
                reqwest::Method::PATCH,
                &format!("/api/v1/review-followups/{id}"),
                Some(&t),
                Some(body),
            )
            .await
        }
    };
    // B may take the unassigned one, but not hand it on.
    patch(fresh, &other, json!({"assignee_id": agent.id()}))
        .await
        .expect_error(403, "forbidden");
    patch(fresh, &other, json!({"assignee_id": other.id()}))
        .await
        .expect(200);
    patch(
        fresh,
        &agent,
        json!({"status": "resolved", "outcome_note": "x"}),
    )
    .await
    .expect_error(404, "not_found");

    // Outcomes need a note, happen once, and `open` is not one.
    patch(late, &agent, json!({"status": "resolved"}))
        .await
        .expect_error(422, "validation_failed");
    patch(late, &agent, json!({"status": "open", "outcome_note": "x"}))
        .await
        .expect_error(422, "validation_failed");
    patch(late, &agent, json!({"status": "gone", "outcome_note": "x"}))
        .await
        .expect_error(422, "validation_failed");
    patch(late, &agent, json!({}))
        .await
        .expect_error(422, "validation_failed");
    let done = patch(
        late,
        &agent,
        json!({"status": "no_response", "outcome_note": "电话两次未接"}),
    )
    .await;
    let done = done.expect(200).clone();
    assert_eq!(done["status"], "no_response");
    assert_eq!(done["overdue"], false);
    assert_eq!(done["closed_by"]["id"], agent.id());
    assert!(done["closed_at"].is_string());
    let e = patch(
        late,
        &agent,
        json!({"status": "resolved", "outcome_note": "again"}),
    )
    .await;
    e.expect_error(409, "conflict");
    assert!(
        e.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_response")
    );
    assert!(followups(&s, &admin, "?overdue=true").await.is_empty());
    assert_eq!(followups(&s, &admin, "?status=all").await.len(), 2);

    // Another shop sees none of it.
    let shop2 = s.create_shop(&format!("rv-{}", unique())).await;
    let stranger = s.agent(shop2.id, Role::Admin, "别家").await;
    s.get(
        &format!("/api/v1/review-followups/{fresh}"),
        Some(&stranger.token),
    )
    .await
    .expect_error(404, "not_found");
    patch(
        fresh,
        &stranger,
        json!({"status": "resolved", "outcome_note": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    assert!(followups(&s, &stranger, "?status=all").await.is_empty());
    let theirs = s.get("/api/v1/reviews", Some(&stranger.token)).await;
    assert!(theirs.expect(200)["reviews"].as_array().unwrap().is_empty());
    // The same review id in another shop is another review.
    let r = batch(&s, &stranger, json!([review("O-2", 1, None)])).await;
    assert_eq!(r.expect(200)["created"], 1);
    // Their settings are their own (defaults).
    assert_eq!(
        s.get("/api/v1/reviews/settings", Some(&stranger.token))
            .await
            .expect(200)["low_rating_threshold"],
        3
    );
}

both!(
    low_ratings_and_returns_make_demanding_customers,
    demanding_body
);
async fn demanding_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let segments = |id: Id| {
        let s = &s;
        let t = admin.token.clone();
        async move {
            s.get(&format!("/api/v1/customers/{id}/segments"), Some(&t))
                .await
                .expect(200)["segments"]
                .clone()
        }
    };
    // One paid order each; two low ratings make a demanding customer (2 ≥ 2 and ≥ 30 % of one order).
    let (_, picky) = order_of(&s, s.shop.id, "DM-1", "13800000011").await;
    let r = batch(
        &s,
        &admin,
        json!([
            review("D-1", 1, Some("DM-1")),
            review("D-2", 2, Some("DM-1")),
            review("D-3", 5, Some("DM-1"))
        ]),
    )
    .await;
    r.expect(200);
    let seg = segments(picky).await;
    assert_eq!(seg["metrics"]["signals"]["low_ratings"], 2, "{seg}");
    assert_eq!(seg["groups"]["demanding"], true, "{seg}");

    // A return request (not refunded) and one low rating: demanding; cancelling the request
    // withdraws it.
    let (oid, returner) = order_of(&s, s.shop.id, "DM-2", "13800000012").await;
    batch(&s, &admin, json!([review("D-4", 3, Some("DM-2"))]))
        .await
        .expect(200);
    let seg = segments(returner).await;
    assert_eq!(seg["metrics"]["signals"]["low_ratings"], 1);
    assert_eq!(seg["groups"]["demanding"], false);
    let req = s
        .post(
            "/api/v1/aftersales",
            Some(&admin.token),
            json!({"order_id": oid, "kind": "return", "reason": "quality", "lines": [{"line_no": 1, "quantity": 1}]}),
        )
        .await;
    let id = req.expect(201)["id"].as_i64().unwrap();
    let seg = segments(returner).await;
    assert_eq!(seg["metrics"]["signals"]["refunds"], 1, "{seg}");
    assert_eq!(seg["groups"]["demanding"], true, "{seg}");
    s.post(
        &format!("/api/v1/aftersales/{id}/actions"),
        Some(&admin.token),
        json!({"type": "cancel"}),
    )
    .await
    .expect(200);
    assert_eq!(segments(returner).await["groups"]["demanding"], false);
}

both!(complaint_tickets_make_demanding_customers, complaints_body);
async fn complaints_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let segments = |id: Id| {
        let s = &s;
        let t = admin.token.clone();
        async move {
            s.get(&format!("/api/v1/customers/{id}/segments"), Some(&t))
                .await
                .expect(200)["segments"]
                .clone()
        }
    };
    let category = |key: &'static str| {
        let s = &s;
        let t = admin.token.clone();
        async move {
            s.get("/api/v1/ticket-categories", Some(&t))
                .await
                .expect(200)["categories"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["key"] == key)
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let (_, buyer) = order_of(&s, s.shop.id, "CP-1", "13800000021").await;
    let damaged = category("damaged_item").await;
    let ticket = |category_id: Option<i64>| {
        let mut body = json!({"subject": "杯子破损", "customer_id": buyer});
        if let Some(c) = category_id {
            body["category_id"] = json!(c);
        }
        body
    };
    // A question (no category) is not a complaint.
    s.post("/api/v1/tickets", Some(&admin.token), ticket(None))
        .await
        .expect(201);
    assert_eq!(segments(buyer).await["metrics"]["signals"]["complaints"], 0);
    // Two complaints make a demanding customer (2 ≥ 2 and ≥ 30 % of one order).
    let first = s
        .post("/api/v1/tickets", Some(&admin.token), ticket(Some(damaged)))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let second = s
        .post("/api/v1/tickets", Some(&admin.token), ticket(Some(damaged)))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let seg = segments(buyer).await;
    assert_eq!(seg["metrics"]["signals"]["complaints"], 2, "{seg}");
    assert_eq!(seg["groups"]["demanding"], true, "{seg}");
    // A duplicate merged into the first counts once.
    s.post(
        &format!("/api/v1/tickets/{first}/merge"),
        Some(&admin.token),
        json!({"source_ids": [second]}),
    )
    .await
    .expect(200);
    let seg = segments(buyer).await;
    assert_eq!(seg["metrics"]["signals"]["complaints"], 1, "{seg}");
    assert_eq!(seg["groups"]["demanding"], false, "{seg}");
}

both!(
    segments_filter_the_conversation_list,
    conversation_segment_body
);
async fn conversation_segment_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let picky = s.shopper().await;
    let calm = s.shopper().await;
    let c_picky = s.shopper_send(&picky, "杯子又碎了").await["conversation_id"]
        .as_i64()
        .unwrap();
    let c_calm = s.shopper_send(&calm, "请问有货吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    let damaged = s
        .get("/api/v1/ticket-categories", Some(&admin.token))
        .await
        .expect(200)["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "damaged_item")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for _ in 0..2 {
        s.post(
            "/api/v1/tickets",
            Some(&admin.token),
            json!({"subject": "破损", "customer_id": picky.customer_id, "category_id": damaged}),
        )
        .await
        .expect(201);
    }
    // Segments are computed for both (the calm one is in no group).
    s.post("/api/v1/segments/recompute", Some(&admin.token), json!({}))
        .await
        .expect(200);
    let ids = |v: &Value| -> Vec<i64> {
        v["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    let all = s.get("/api/v1/conversations", Some(&admin.token)).await;
    let all = ids(all.expect(200));
    assert!(all.contains(&c_picky) && all.contains(&c_calm));
    let demanding = s
        .get("/api/v1/conversations?group=demanding", Some(&admin.token))
        .await;
    assert_eq!(ids(demanding.expect(200)), vec![c_picky]);
    // Conditions combine: the demanding shopper's conversation is open, none is resolved.
    let open = s
        .get(
            "/api/v1/conversations?group=demanding&status=open",
            Some(&admin.token),
        )
        .await;
    assert_eq!(ids(open.expect(200)), vec![c_picky]);
    let resolved = s
        .get(
            "/api/v1/conversations?group=demanding&status=resolved",
            Some(&admin.token),
        )
        .await;
    assert!(ids(resolved.expect(200)).is_empty());
    let r = s
        .get("/api/v1/conversations?group=grumpy", Some(&admin.token))
        .await;
    r.expect_error(422, "validation_failed");
    assert!(r.text.contains("group"), "{}", r.text);
}
