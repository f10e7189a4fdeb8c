//! Integration scenarios of the customers area, against both backends: profiles and validation,
//! identities from widget sessions and signed identities, merging, suggestions, the timeline, the
//! blocklist, the CSV export and isolation between shops.

use crate::both;
use crate::harness::*;
use kefu_core::customers::{SignedIdentity, sign_identity};
use kefu_core::model::Role;
use kefu_core::time::Millis;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn cpath(id: i64) -> String {
    format!("/api/v1/customers/{id}")
}

async fn profile(s: &TestServer, a: &Agent, id: i64) -> Value {
    s.get(&cpath(id), Some(&a.token)).await.expect(200)["customer"].clone()
}

async fn patch(s: &TestServer, a: &Agent, id: i64, body: Value) -> Resp {
    s.request(Method::PATCH, &cpath(id), Some(&a.token), Some(body))
        .await
}

async fn delete(s: &TestServer, a: &Agent, path: &str) -> Resp {
    s.request(Method::DELETE, path, Some(&a.token), None).await
}

async fn session(s: &TestServer, body: Value, token: Option<&str>) -> Resp {
    s.post("/api/v1/widget/sessions", token, body).await
}

async fn secret(s: &TestServer, admin: &Agent) -> String {
    s.get("/api/v1/shop/identity-secret", Some(&admin.token))
        .await
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn signed(secret: &str, shop: &str, ext: &str, name: Option<&str>, ts_secs: i64) -> Value {
    let mut id = SignedIdentity {
        external_id: ext.into(),
        name: name.map(Into::into),
        email: None,
        phone: None,
        timestamp: ts_secs,
        signature: String::new(),
    };
    id.signature = sign_identity(secret, shop, &id);
    json!({
        "external_id": id.external_id, "name": id.name, "timestamp": id.timestamp,
        "signature": id.signature,
    })
}

fn now_secs() -> i64 {
    Millis::now().0 / 1000
}

fn ids(list: &Value) -> Vec<i64> {
    list["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

async fn list(s: &TestServer, a: &Agent, query: &str) -> Value {
    s.get(&format!("/api/v1/customers{query}"), Some(&a.token))
        .await
        .expect(200)
        .clone()
}

#[track_caller]
fn expect_field_error(r: &Resp, status: u16, field: &str) {
    r.expect_error(
        status,
        if status == 422 {
            "validation_failed"
        } else {
            "unauthorized"
        },
    );
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with(field), "message should name {field}: {msg}");
}

both!(profile_crud_and_validation, profile_body);
async fn profile_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let r = session(
        &s,
        json!({"name": "林小雨", "email": " Lin.XiaoYu@Example.COM ", "phone": "+86 138-0000-1111"}),
        None,
    )
    .await;
    let id = r.expect(201)["customer_id"].as_i64().unwrap();
    let p = profile(&s, &agent, id).await;
    assert_eq!(p["email"], "lin.xiaoyu@example.com");
    assert_eq!(p["phone"], "13800001111");
    let idents = p["identities"].as_array().unwrap();
    assert_eq!(idents.len(), 2, "{idents:?}");
    assert!(
        idents
            .iter()
            .all(|i| i["verified"] == false && i["source"] == "contact")
    );

    // Custom fields are defined by admins/supervisors only.
    let def = json!({"key": "vip_level", "label": "会员等级", "kind": "select", "options": ["金卡", "银卡"]});
    s.post("/api/v1/customer-fields", Some(&agent.token), def.clone())
        .await
        .expect_error(403, "forbidden");
    s.post("/api/v1/customer-fields", Some(&admin.token), def.clone())
        .await
        .expect(201);
    s.post("/api/v1/customer-fields", Some(&admin.token), def)
        .await
        .expect_error(409, "conflict");
    let bad_key = s
        .post(
            "/api/v1/customer-fields",
            Some(&admin.token),
            json!({"key": "Bad Key", "label": "x", "kind": "text"}),
        )
        .await;
    expect_field_error(&bad_key, 422, "key:");
    let bad_kind = s
        .post(
            "/api/v1/customer-fields",
            Some(&admin.token),
            json!({"key": "birthday", "label": "生日", "kind": "colour"}),
        )
        .await;
    expect_field_error(&bad_kind, 422, "kind:");
    s.post(
        "/api/v1/customer-fields",
        Some(&admin.token),
        json!({"key": "birthday", "label": "生日", "kind": "date"}),
    )
    .await
    .expect(201);

    // An agent edits the profile.
    let p = patch(
        &s,
        &agent,
        id,
        json!({"name": "林小雨（老客）", "source": "referral", "consent_sms": true,
               "tags": ["VIP", "复购", "VIP"], "custom_fields": {"vip_level": "金卡", "birthday": "1995-04-12"}}),
    )
    .await
    .expect(200)["customer"]
        .clone();
    assert_eq!(p["name"], "林小雨（老客）");
    assert_eq!(p["source"], "referral");
    assert_eq!(p["consent_sms"], true);
    assert_eq!(p["consent_email"], false);
    assert_eq!(p["tags"], json!(["VIP", "复购"]));
    assert_eq!(p["custom_fields"]["vip_level"], "金卡");
    assert_eq!(p["custom_fields"]["birthday"], "1995-04-12");

    // Bad input names the field and changes nothing.
    for (body, field) in [
        (json!({"phone": "12ab"}), "phone:"),
        (json!({"email": "not-an-email"}), "email:"),
        (json!({"source": "tv"}), "source:"),
        (json!({"name": "  "}), "name:"),
        (json!({"tags": [""]}), "tags:"),
        (
            json!({"custom_fields": {"nope": "1"}}),
            "custom_fields.nope:",
        ),
        (
            json!({"custom_fields": {"vip_level": "铜卡"}}),
            "custom_fields.vip_level:",
        ),
        (
            json!({"custom_fields": {"birthday": "1995-02-30"}}),
            "custom_fields.birthday:",
        ),
        (json!({"name": "changed", "phone": "x"}), "phone:"),
    ] {
        let r = patch(&s, &agent, id, body).await;
        expect_field_error(&r, 422, field);
    }
    patch(&s, &agent, id, json!({"consent_sms": "yes"}))
        .await
        .expect_error(422, "validation_failed");
    let again = profile(&s, &agent, id).await;
    assert_eq!(again["name"], "林小雨（老客）");
    assert_eq!(again["phone"], "13800001111");
    // Clearing with "" / null.
    let p = patch(
        &s,
        &agent,
        id,
        json!({"source": "", "custom_fields": {"birthday": null}}),
    )
    .await
    .expect(200)["customer"]
        .clone();
    assert!(p["source"].is_null());
    assert!(p["custom_fields"].get("birthday").is_none());

    // Notes, addresses, identities.
    let note = s
        .post(
            &format!("{}/notes", cpath(id)),
            Some(&agent.token),
            json!({"body": "喜欢降噪耳机，对价格敏感"}),
        )
        .await;
    let note_id = note.expect(201)["note"]["id"].as_i64().unwrap();
    assert_eq!(note.body["note"]["author_name"], "Agent");
    let r = s
        .post(
            &format!("{}/notes", cpath(id)),
            Some(&agent.token),
            json!({"body": " "}),
        )
        .await;
    expect_field_error(&r, 422, "body:");
    let a1 = s
        .post(
            &format!("{}/addresses", cpath(id)),
            Some(&agent.token),
            json!({"recipient": "林小雨", "phone": "138 0000 1111", "region": "上海市 浦东新区", "detail": "世纪大道 100 号"}),
        )
        .await
        .expect(201)["address"]
        .clone();
    assert_eq!(a1["is_default"], true, "the first address is the default");
    assert_eq!(a1["phone"], "13800001111");
    let a2 = s
        .post(
            &format!("{}/addresses", cpath(id)),
            Some(&agent.token),
            json!({"recipient": "林小雨", "region": "杭州市", "detail": "文三路 1 号", "is_default": true}),
        )
        .await
        .expect(201)["address"]
        .clone();
    let r = s
        .post(
            &format!("{}/addresses", cpath(id)),
            Some(&agent.token),
            json!({"recipient": "", "detail": "x"}),
        )
        .await;
    expect_field_error(&r, 422, "recipient:");
    let p = profile(&s, &agent, id).await;
    let addrs = p["addresses"].as_array().unwrap();
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[0]["id"], a2["id"], "the new default comes first");
    assert_eq!(addrs[1]["is_default"], false);
    s.put(
        &format!("{}/addresses/{}", cpath(id), a1["id"]),
        Some(&agent.token),
        json!({"recipient": "林先生", "detail": "世纪大道 200 号"}),
    )
    .await
    .expect(200);
    delete(&s, &agent, &format!("{}/addresses/{}", cpath(id), a2["id"]))
        .await
        .expect(204);
    let ident = s
        .post(
            &format!("{}/identities", cpath(id)),
            Some(&agent.token),
            json!({"kind": "phone", "value": "021-6888 1234"}),
        )
        .await
        .expect(201)["identity"]
        .clone();
    assert_eq!(ident["value"], "02168881234");
    assert_eq!(ident["verified"], false);
    let r = s
        .post(
            &format!("{}/identities", cpath(id)),
            Some(&agent.token),
            json!({"kind": "fax", "value": "1"}),
        )
        .await;
    expect_field_error(&r, 422, "kind:");
    let r = s
        .post(
            &format!("{}/identities", cpath(id)),
            Some(&agent.token),
            json!({"kind": "email", "value": "nope"}),
        )
        .await;
    expect_field_error(&r, 422, "value:");
    delete(
        &s,
        &agent,
        &format!("{}/identities/{}", cpath(id), ident["id"]),
    )
    .await
    .expect(204);
    // Agents delete their own notes only.
    let other = s.agent(s.shop.id, Role::Agent, "Other").await;
    delete(&s, &other, &format!("{}/notes/{note_id}", cpath(id)))
        .await
        .expect_error(403, "forbidden");
    delete(&s, &agent, &format!("{}/notes/{note_id}", cpath(id)))
        .await
        .expect(204);
    delete(&s, &agent, &format!("{}/notes/{note_id}", cpath(id)))
        .await
        .expect_error(404, "not_found");
    let p = profile(&s, &agent, id).await;
    assert!(p["notes"].as_array().unwrap().is_empty());
    assert_eq!(p["addresses"][0]["recipient"], "林先生");
    s.get("/api/v1/customers/999999", Some(&agent.token))
        .await
        .expect_error(404, "not_found");
}

both!(list_filters_and_pages, list_body);
async fn list_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let r = session(
            &s,
            json!({"name": format!("顾客{i}"), "phone": format!("1390000000{i}")}),
            None,
        )
        .await;
        made.push(r.expect(201)["customer_id"].as_i64().unwrap());
    }
    patch(
        &s,
        &agent,
        made[1],
        json!({"tags": ["VIP"], "source": "ad"}),
    )
    .await
    .expect(200);
    // Search by a phone typed differently, by name, by tag and source.
    assert_eq!(
        ids(&list(&s, &agent, "?q=%2B86%20139-0000-0003").await),
        vec![made[3]]
    );
    assert_eq!(
        ids(&list(&s, &agent, "?q=%E9%A1%BE%E5%AE%A24").await),
        vec![made[4]]
    );
    assert_eq!(ids(&list(&s, &agent, "?tag=VIP").await), vec![made[1]]);
    assert_eq!(ids(&list(&s, &agent, "?source=ad").await), vec![made[1]]);
    assert!(ids(&list(&s, &agent, "?contact_from=2999-01-01").await).is_empty());
    assert_eq!(
        ids(&list(&s, &agent, "?contact_from=2000-01-01&sort=created").await).len(),
        5
    );
    // Keyset pages: all rows, no repeats.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list(
            &s,
            &agent,
            &format!("?limit=2&sort=created&cursor={cursor}"),
        )
        .await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let mut expected = made.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, every customer once");
    for (q, field) in [
        ("?source=tv", "source:"),
        ("?limit=0", "limit:"),
        ("?sort=name", "sort:"),
        ("?cursor=zz", "cursor:"),
        ("?contact_from=yesterday", "contact_from:"),
    ] {
        let r = s
            .get(&format!("/api/v1/customers{q}"), Some(&agent.token))
            .await;
        expect_field_error(&r, 422, field);
    }
}

both!(widget_identities, widget_identities_body);
async fn widget_identities_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let shopper = s.shopper().await;
    // Fields given later are recorded as unverified identities.
    session(
        &s,
        json!({"email": "later@example.com"}),
        Some(&shopper.token),
    )
    .await
    .expect(200);
    let p = profile(&s, &agent, shopper.customer_id).await;
    assert_eq!(p["email"], "later@example.com");
    assert!(
        p["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "email"
                && i["value"] == "later@example.com"
                && i["verified"] == false)
    );
    let r = session(&s, json!({"phone": "call me"}), None).await;
    expect_field_error(&r, 422, "phone:");

    // A verified customer exists; a stranger claiming the same external id unsigned stays apart.
    let secret = secret(&s, &admin).await;
    let verified = session(
        &s,
        json!({"identity": signed(&secret, "default", "u-42", Some("真会员"), now_secs())}),
        None,
    )
    .await
    .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    let claim = session(&s, json!({"external_id": "u-42", "name": "冒充者"}), None).await;
    let stranger = claim.expect(201)["customer_id"].as_i64().unwrap();
    assert_ne!(stranger, verified);
    let p = profile(&s, &agent, verified).await;
    assert_eq!(p["name"], "真会员");
    assert_eq!(p["external_id"], "u-42");
    // The stranger's later claim on the same token changes nothing of the verified record.
    let st = claim.body["visitor_token"].as_str().unwrap();
    session(&s, json!({"external_id": "u-42"}), Some(st))
        .await
        .expect(200);
    assert_eq!(profile(&s, &agent, verified).await["name"], "真会员");
}

both!(signed_identity, signed_identity_body);
async fn signed_identity_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    for who in [&sup, &agent] {
        s.get("/api/v1/shop/identity-secret", Some(&who.token))
            .await
            .expect_error(403, "forbidden");
    }
    let secret = secret(&s, &admin).await;
    assert_eq!(
        secret,
        self::secret(&s, &admin).await,
        "stable until rotated"
    );
    let count = |v: Value| v["customers"].as_array().unwrap().len();
    let before = count(list(&s, &agent, "?limit=200").await);

    // A bad signature, an expired timestamp, a malformed signature: 4xx naming the field, nothing created.
    let mut bad = signed(&secret, "default", "u-1", Some("A"), now_secs());
    bad["name"] = json!("B");
    expect_field_error(
        &session(&s, json!({"identity": bad}), None).await,
        401,
        "identity.signature",
    );
    let wrong_key = signed("not-the-secret", "default", "u-1", None, now_secs());
    expect_field_error(
        &session(&s, json!({"identity": wrong_key}), None).await,
        401,
        "identity.signature",
    );
    let old = signed(&secret, "default", "u-1", None, now_secs() - 3600);
    expect_field_error(
        &session(&s, json!({"identity": old}), None).await,
        401,
        "identity.timestamp",
    );
    let mut garbled = signed(&secret, "default", "u-1", None, now_secs());
    garbled["signature"] = json!("xyz");
    expect_field_error(
        &session(&s, json!({"identity": garbled}), None).await,
        422,
        "identity.signature",
    );
    let missing = json!({"identity": {"external_id": "u-1"}});
    session(&s, missing, None)
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(count(list(&s, &agent, "?limit=200").await), before);

    // A good one creates the verified customer; replaying it within the window is the same person.
    let good = signed(&secret, "default", "u-1", Some("会员一号"), now_secs());
    let a = session(&s, json!({"identity": good.clone()}), None).await;
    let id = a.expect(201)["customer_id"].as_i64().unwrap();
    let b = session(&s, json!({"identity": good.clone()}), None).await;
    assert_eq!(b.expect(201)["customer_id"].as_i64().unwrap(), id);
    let p = profile(&s, &agent, id).await;
    let ext = p["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "external_id")
        .unwrap()
        .clone();
    assert_eq!(ext["verified"], true);
    assert_eq!(ext["source"], "signed");
    // Verified identities cannot be deleted by hand.
    delete(
        &s,
        &agent,
        &format!("{}/identities/{}", cpath(id), ext["id"]),
    )
    .await
    .expect_error(409, "conflict");
    // The timeline says so.
    let tl = s
        .get(&format!("{}/timeline", cpath(id)), Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert!(
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "identity.verified")
    );

    // Rotating the secret: old signatures fail, new ones work; agents may not rotate.
    s.post(
        "/api/v1/shop/identity-secret/rotate",
        Some(&agent.token),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    let rotated = s
        .post(
            "/api/v1/shop/identity-secret/rotate",
            Some(&admin.token),
            json!({}),
        )
        .await
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, secret);
    expect_field_error(
        &session(&s, json!({"identity": good}), None).await,
        401,
        "identity.signature",
    );
    let fresh = signed(&rotated, "default", "u-1", None, now_secs());
    assert_eq!(
        session(&s, json!({"identity": fresh}), None)
            .await
            .expect(201)["customer_id"],
        id
    );
}

both!(verified_login_keeps_history, devices_body);
async fn devices_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let secret = secret(&s, &admin).await;
    let identity =
        || json!({"identity": signed(&secret, "default", "buyer-7", Some("王女士"), now_secs())});

    // Device 1: chats anonymously, then logs in on the shop page: the same record becomes verified.
    let d1 = s.shopper().await;
    s.shopper_send(&d1, "耳机什么时候发货？").await;
    let r = session(&s, identity(), Some(&d1.token)).await;
    assert_eq!(
        r.expect(200)["customer_id"].as_i64().unwrap(),
        d1.customer_id
    );
    assert_eq!(r.body["visitor_token"], d1.token.as_str());

    // Device 2 (new browser): logging in brings the history along.
    let r = session(&s, identity(), None).await;
    let d2 = Shopper {
        token: r.expect(201)["visitor_token"].as_str().unwrap().to_owned(),
        customer_id: r.body["customer_id"].as_i64().unwrap(),
    };
    assert_eq!(d2.customer_id, d1.customer_id);
    let h = s.shopper_history(&d2, 0).await;
    assert!(
        h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == "耳机什么时候发货？"),
        "{h}"
    );

    // Device 3 chatted anonymously first: logging in merges that chat into the verified record.
    let d3 = s.shopper().await;
    let conv3 = s.shopper_send(&d3, "换个手机问一下").await["conversation_id"]
        .as_i64()
        .unwrap();
    let r = session(&s, identity(), Some(&d3.token)).await;
    assert_eq!(
        r.expect(200)["customer_id"].as_i64().unwrap(),
        d1.customer_id
    );
    let gone = profile(&s, &admin, d3.customer_id).await;
    assert_eq!(gone["merged_into"], d1.customer_id);
    assert_eq!(
        s.conversation(&admin, conv3).await["customer"]["id"],
        d1.customer_id
    );
    // Its token now speaks for the verified customer.
    let sent = s.shopper_send(&d3, "还在吗").await;
    assert_eq!(sent["conversation_id"].as_i64().unwrap(), conv3);

    // A device logged in as someone else is not merged: it gets a new token instead.
    let other = json!({"identity": signed(&secret, "default", "buyer-8", None, now_secs())});
    let r = session(&s, other, Some(&d2.token)).await;
    let eight = r.expect(201)["customer_id"].as_i64().unwrap();
    assert_ne!(eight, d1.customer_id);
    assert_ne!(r.body["visitor_token"], d2.token.as_str());
    assert!(profile(&s, &admin, d1.customer_id).await["merged_into"].is_null());
}

both!(merge_and_conflicts, merge_body);
async fn merge_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let a = session(&s, json!({"name": "张三", "phone": "13700001111"}), None)
        .await
        .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    let b_shopper = s.shopper().await;
    let b = b_shopper.customer_id;
    session(
        &s,
        json!({"email": "zs@example.com", "phone": "+86 137 0000 1111"}),
        Some(&b_shopper.token),
    )
    .await
    .expect(200);
    let conv_b = s.shopper_send(&b_shopper, "我是张三，换了个号").await["conversation_id"]
        .as_i64()
        .unwrap();
    patch(&s, &agent, a, json!({"tags": ["VIP"], "source": "search"}))
        .await
        .expect(200);
    patch(
        &s,
        &agent,
        b,
        json!({"tags": ["退货多", "VIP"], "source": "ad", "consent_email": true}),
    )
    .await
    .expect(200);
    s.post(
        &format!("{}/notes", cpath(b)),
        Some(&agent.token),
        json!({"body": "B 的备注"}),
    )
    .await
    .expect(201);

    // The suggestion: same phone, typed differently.
    let sug = s
        .get("/api/v1/customers/merge-suggestions", Some(&admin.token))
        .await
        .expect(200)["suggestions"]
        .clone();
    let pair = sug
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["a"]["id"] == a && p["b"]["id"] == b)
        .unwrap_or_else(|| panic!("no suggestion for {a}/{b}: {sug}"));
    assert_eq!(pair["reason"], "phone");
    assert_eq!(pair["value"], "13700001111");
    s.get("/api/v1/customers/merge-suggestions", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");

    let merge = |target: i64, source: i64, who: &Agent| {
        let token = who.token.clone();
        let s = &s;
        async move {
            s.post(
                &format!("{}/merge", cpath(target)),
                Some(&token),
                json!({"source_id": source}),
            )
            .await
        }
    };
    merge(a, b, &agent).await.expect_error(403, "forbidden");
    merge(a, a, &admin)
        .await
        .expect_error(422, "validation_failed");
    let merged = merge(a, b, &admin).await.expect(200)["customer"].clone();
    // Target wins, the source fills gaps, nothing is lost.
    assert_eq!(merged["name"], "张三");
    assert_eq!(merged["source"], "search");
    assert_eq!(merged["email"], "zs@example.com");
    assert_eq!(merged["consent_email"], true);
    assert_eq!(merged["tags"], json!(["VIP", "退货多"]));
    assert_eq!(merged["notes"][0]["body"], "B 的备注");
    let idents = merged["identities"].as_array().unwrap();
    assert_eq!(
        idents.iter().filter(|i| i["kind"] == "phone").count(),
        1,
        "a shared phone stays once: {idents:?}"
    );
    assert_eq!(s.conversation(&admin, conv_b).await["customer"]["id"], a);
    // The source is gone from lists, and reading it says where it went.
    assert!(!ids(&list(&s, &agent, "?limit=200").await).contains(&b));
    assert_eq!(profile(&s, &agent, b).await["merged_into"], a);
    patch(&s, &agent, b, json!({"name": "x"}))
        .await
        .expect_error(404, "not_found");
    merge(a, b, &admin).await.expect_error(409, "conflict");
    // B's old widget token now speaks for A.
    let sent = s.shopper_send(&b_shopper, "还在吗").await;
    assert_eq!(sent["conversation_id"].as_i64().unwrap(), conv_b);
    // No suggestion left for the pair.
    let sug = s
        .get("/api/v1/customers/merge-suggestions", Some(&admin.token))
        .await
        .expect(200)["suggestions"]
        .clone();
    assert!(sug.as_array().unwrap().iter().all(|p| p["b"]["id"] != b));
    // The timeline shows the merge.
    let tl = s
        .get(&format!("{}/timeline", cpath(a)), Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert!(
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "customer.merged" && i["ref_id"] == b)
    );

    // Two customers with different verified external ids are different people: 409.
    let secret = secret(&s, &admin).await;
    let x = session(
        &s,
        json!({"identity": signed(&secret, "default", "x-1", None, now_secs())}),
        None,
    )
    .await
    .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    let y = session(
        &s,
        json!({"identity": signed(&secret, "default", "y-1", None, now_secs())}),
        None,
    )
    .await
    .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    let r = merge(x, y, &admin).await;
    r.expect_error(409, "conflict");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verified external ids")
    );
    // A verified one absorbs an unverified one.
    merge(x, a, &admin).await.expect(200);
    merge(a, x, &admin).await.expect_error(409, "conflict");
    merge(x, 999_999, &admin)
        .await
        .expect_error(404, "not_found");
}

both!(timeline_newest_first, timeline_body);
async fn timeline_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let shopper = s.shopper().await;
    let id = shopper.customer_id;
    let conv = s.shopper_send(&shopper, "第一次咨询").await["conversation_id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.post(
        &format!("/api/v1/conversations/{conv}/status"),
        Some(&admin.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.post(
        &format!("{}/notes", cpath(id)),
        Some(&admin.token),
        json!({"body": "备注一"}),
    )
    .await
    .expect(201);
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.post(
        &format!("{}/block", cpath(id)),
        Some(&admin.token),
        json!({"reason": "辱骂客服"}),
    )
    .await
    .expect(200);
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.post(
        &format!("{}/unblock", cpath(id)),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect(200);
    // Writing again after the resolution reopens the conversation: on the timeline too (recorded
    // just after the shopper's answer, so wait for it).
    s.shopper_send(&shopper, "又来问一下").await;
    let mut reopened = false;
    for _ in 0..50 {
        let tl = s
            .get(&format!("{}/timeline", cpath(id)), Some(&admin.token))
            .await
            .expect(200)
            .clone();
        if tl["items"][0]["kind"] == "conversation.reopened" {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened, "no conversation.reopened item");
    let all = s
        .get(&format!("{}/timeline", cpath(id)), Some(&admin.token))
        .await
        .expect(200)
        .clone();
    let kinds: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "conversation.reopened",
            "customer.unblocked",
            "customer.blocked",
            "note",
            "conversation.resolved",
            "conversation.started"
        ]
    );
    assert_eq!(all["items"][0]["ref_id"], conv);
    assert_eq!(all["items"][2]["summary"], "辱骂客服");
    assert_eq!(all["items"][5]["ref_type"], "conversation");
    assert_eq!(all["items"][5]["ref_id"], conv);
    // Pages of two: the same items, in order, none twice.
    let mut paged = Vec::new();
    let mut before = String::new();
    loop {
        let page = s
            .get(
                &format!("{}/timeline?limit=2&before={before}", cpath(id)),
                Some(&admin.token),
            )
            .await
            .expect(200)
            .clone();
        for i in page["items"].as_array().unwrap() {
            paged.push(i["kind"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => before = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(paged, kinds);
    let r = s
        .get(
            &format!("{}/timeline?before=nope", cpath(id)),
            Some(&admin.token),
        )
        .await;
    expect_field_error(&r, 422, "before:");
}

both!(block_stops_new_chats_at_once, block_body);
async fn block_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let shopper = s.shopper().await;
    let conv = s.shopper_send(&shopper, "你好").await["conversation_id"]
        .as_i64()
        .unwrap();
    // The visitor cache now holds the shopper as not blocked.
    s.post(
        &format!("/api/v1/conversations/{conv}/status"),
        Some(&admin.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    let path = format!("{}/block", cpath(shopper.customer_id));
    s.post(&path, Some(&agent.token), json!({"reason": "spam"}))
        .await
        .expect_error(403, "forbidden");
    expect_field_error(
        &s.post(&path, Some(&sup.token), json!({"reason": " "}))
            .await,
        422,
        "reason:",
    );
    let p = s
        .post(&path, Some(&sup.token), json!({"reason": "恶意刷单"}))
        .await
        .expect(200)["customer"]
        .clone();
    assert_eq!(p["blocked"], true);
    assert_eq!(p["blocked_reason"], "恶意刷单");
    // Immediately: no new conversation.
    s.shopper_send_raw(&shopper, "再来", &format!("c-{}", unique()))
        .await
        .expect_error(403, "blocked");
    // Still visible, on the blocklist filter only.
    assert_eq!(
        ids(&list(&s, &agent, "?blocked=true").await),
        vec![shopper.customer_id]
    );
    assert!(!ids(&list(&s, &agent, "?blocked=false").await).contains(&shopper.customer_id));
    profile(&s, &agent, shopper.customer_id).await;
    s.post(
        &format!("{}/unblock", cpath(shopper.customer_id)),
        Some(&agent.token),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    let p = s
        .post(
            &format!("{}/unblock", cpath(shopper.customer_id)),
            Some(&admin.token),
            json!({}),
        )
        .await
        .expect(200)["customer"]
        .clone();
    assert_eq!(p["blocked"], false);
    assert!(p["blocked_reason"].is_null());
    s.shopper_send(&shopper, "可以了").await;
}

both!(csv_export, csv_body);
async fn csv_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let evil = session(&s, json!({"name": "=HYPERLINK(\"http://x\")"}), None)
        .await
        .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    let comma = session(
        &s,
        json!({"name": "王, 小明", "phone": "+852 9123 4567"}),
        None,
    )
    .await
    .expect(201)["customer_id"]
        .as_i64()
        .unwrap();
    patch(&s, &agent, comma, json!({"tags": ["VIP", "@home"]}))
        .await
        .expect(200);
    s.get("/api/v1/customers/export.csv", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    let r = s
        .get("/api/v1/customers/export.csv", Some(&admin.token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let text = r.text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,name,phone,email,external_id,source,tags,blocked,created_at,last_contact_at"
    );
    assert_eq!(lines.len(), 3);
    let evil_line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{evil},")))
        .unwrap();
    assert!(
        evil_line.starts_with(&format!("{evil},\"'=HYPERLINK(\"\"http://x\"\")\",")),
        "{evil_line}"
    );
    let comma_line = lines
        .iter()
        .find(|l| l.starts_with(&format!("{comma},")))
        .unwrap();
    assert!(
        comma_line.starts_with(&format!(
            "{comma},\"王, 小明\",'+85291234567,,,,\"VIP,@home\",false,"
        )),
        "{comma_line}"
    );
    // The same filters as the list.
    let r = s
        .get("/api/v1/customers/export.csv?tag=VIP", Some(&admin.token))
        .await;
    assert_eq!(r.text.split("\r\n").filter(|l| !l.is_empty()).count(), 2);

    // Past one page (the export streams 500 at a time): every customer exactly once.
    for i in 0..1_050 {
        s.store
            .create_customer(
                s.shop.id,
                &kefu_core::model::NewCustomer {
                    name: Some(format!("导出{i}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let r = s
        .get("/api/v1/customers/export.csv", Some(&admin.token))
        .await;
    assert_eq!(r.status, 200);
    let rows: Vec<&str> = r
        .text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        rows.len(),
        1_052,
        "two earlier customers and 1,050 new ones"
    );
    let mut ids: Vec<&str> = rows.iter().map(|l| l.split(',').next().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1_052, "no customer twice across pages");
}

both!(last_contact_and_live_updates, live_body);
async fn live_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let shopper = s.shopper().await;
    let created = profile(&s, &agent, shopper.customer_id).await["last_contact_at"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.shopper_send(&shopper, "在吗").await;
    // Recorded just after the start, off the shopper's response path.
    let mut moved = false;
    for _ in 0..50 {
        if profile(&s, &agent, shopper.customer_id).await["last_contact_at"] != created {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        moved,
        "last_contact_at did not move after a conversation start"
    );
    let mut ws = s.agent_ws(&agent).await;
    patch(&s, &agent, shopper.customer_id, json!({"name": "新名字"}))
        .await
        .expect(200);
    let e = ws
        .find(Duration::from_secs(5), |e| e["type"] == "customer.updated")
        .await
        .expect("customer.updated");
    assert_eq!(e["customer_id"], shopper.customer_id);
}

both!(other_shop_gets_404, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop_b = s.create_shop("shop-b").await;
    let admin_a = s.agent(s.shop.id, Role::Admin, "Admin A").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "Admin B").await;
    let a = s.shopper().await.customer_id;
    let b = s.shopper_of(Some("shop-b")).await.customer_id;
    let note = s
        .post(
            &format!("{}/notes", cpath(a)),
            Some(&admin_a.token),
            json!({"body": "n"}),
        )
        .await
        .expect(201)["note"]["id"]
        .clone();
    let addr = s
        .post(
            &format!("{}/addresses", cpath(a)),
            Some(&admin_a.token),
            json!({"recipient": "r", "detail": "d"}),
        )
        .await
        .expect(201)["address"]["id"]
        .clone();
    let ident = s
        .post(
            &format!("{}/identities", cpath(a)),
            Some(&admin_a.token),
            json!({"kind": "email", "value": "a@example.com"}),
        )
        .await
        .expect(201)["identity"]["id"]
        .clone();
    let field = s
        .post(
            "/api/v1/customer-fields",
            Some(&admin_a.token),
            json!({"key": "level", "label": "L", "kind": "text"}),
        )
        .await
        .expect(201)["field"]["id"]
        .clone();
    let t = Some(admin_b.token.as_str());
    let p = cpath(a);
    for r in [
        s.get(&p, t).await,
        s.request(Method::PATCH, &p, t, Some(json!({"name": "x"})))
            .await,
        s.put(&format!("{p}/tags"), t, json!({"tags": ["x"]})).await,
        s.post(&format!("{p}/notes"), t, json!({"body": "x"})).await,
        s.request(Method::DELETE, &format!("{p}/notes/{note}"), t, None)
            .await,
        s.post(
            &format!("{p}/identities"),
            t,
            json!({"kind": "phone", "value": "13800000000"}),
        )
        .await,
        s.request(Method::DELETE, &format!("{p}/identities/{ident}"), t, None)
            .await,
        s.post(
            &format!("{p}/addresses"),
            t,
            json!({"recipient": "r", "detail": "d"}),
        )
        .await,
        s.put(
            &format!("{p}/addresses/{addr}"),
            t,
            json!({"recipient": "r", "detail": "d"}),
        )
        .await,
        s.request(Method::DELETE, &format!("{p}/addresses/{addr}"), t, None)
            .await,
        s.post(&format!("{p}/merge"), t, json!({"source_id": b}))
            .await,
        s.post(&format!("{}/merge", cpath(b)), t, json!({"source_id": a}))
            .await,
        s.get(&format!("{p}/timeline"), t).await,
        s.post(&format!("{p}/block"), t, json!({"reason": "x"}))
            .await,
        s.post(&format!("{p}/unblock"), t, json!({})).await,
        s.put(
            &format!("/api/v1/customer-fields/{field}"),
            t,
            json!({"key": "level", "label": "L", "kind": "text"}),
        )
        .await,
        s.request(
            Method::DELETE,
            &format!("/api/v1/customer-fields/{field}"),
            t,
            None,
        )
        .await,
    ] {
        r.expect_error(404, "not_found");
    }
    // Lists, suggestions, fields and exports of shop B show nothing of shop A.
    assert_eq!(ids(&list(&s, &admin_b, "?limit=200").await), vec![b]);
    let fields = s
        .get("/api/v1/customer-fields", t)
        .await
        .expect(200)
        .clone();
    assert!(fields["fields"].as_array().unwrap().is_empty());
    let csv = s.get("/api/v1/customers/export.csv", t).await;
    assert!(!csv.text.contains(&format!("\r\n{a},")));
    assert_ne!(secret(&s, &admin_a).await, secret(&s, &admin_b).await);
    // A signature made with shop A's secret does not work at shop B.
    let sig = signed(
        &secret(&s, &admin_a).await,
        "shop-b",
        "u-1",
        None,
        now_secs(),
    );
    expect_field_error(
        &session(&s, json!({"shop": "shop-b", "identity": sig}), None).await,
        401,
        "identity.signature",
    );
    // Shop A's profile is untouched.
    let p = profile(&s, &admin_a, a).await;
    assert_eq!(p["notes"].as_array().unwrap().len(), 1);
    assert!(p["merged_into"].is_null());
    assert_eq!(p["blocked"], false);
}
