//! Full-text search (`GET /api/v1/search`): Chinese, English and mixed text, identifiers finding
//! their customer, filters, shop isolation, agent entitlement, the index following writes within
//! 1 s (scripts: created, edited and deleted; conversation tags), rebuild after corruption and
//! `reindex`, and odd query syntax never answering 5xx.

use crate::both;
use crate::harness::{Agent, Backend, Resp, TestServer, analyzer, unique};
use kefu_core::model::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn enc(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn search(s: &TestServer, a: &Agent, q: &str, extra: &str) -> Resp {
    s.get(
        &format!("/api/v1/search?q={}{extra}", enc(q)),
        Some(&a.token),
    )
    .await
}

/// The ids of one kind's hits (the answer must be `ready`).
fn ids(v: &Value, kind: &str) -> Vec<i64> {
    assert_eq!(v["status"], "ready", "{v}");
    let mut out: Vec<i64> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|g| g["kind"] == kind)
        .flat_map(|g| g["hits"].as_array().cloned().unwrap_or_default())
        .map(|h| h["id"].as_i64().expect("id"))
        .collect();
    out.sort();
    out
}

/// Polls until `kind` hits of `q` equal `want` (or panics after `within`); returns the time taken.
async fn until(
    s: &TestServer,
    a: &Agent,
    q: &str,
    extra: &str,
    kind: &str,
    want: &[i64],
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let r = search(s, a, q, extra).await;
        let v = r.expect(200);
        if v["status"] == "ready" && ids(v, kind) == want {
            return start.elapsed();
        }
        if start.elapsed() > within {
            panic!("{q} {extra}: wanted {kind} {want:?} within {within:?}, got {v}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const SECOND: Duration = Duration::from_secs(1);
/// For setup steps (ready after start-up); the 1-second promise is checked separately.
const SETUP: Duration = Duration::from_secs(15);

async fn languages(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let shopper = s.shopper().await;
    // Wait for the index to be built so the 1 s promise is measured on a running indexer.
    until(&s, &admin, "nothing-here", "", "message", &[], SETUP).await;

    let m1 = s.shopper_send(&shopper, "我想退货怎么办").await["id"]
        .as_i64()
        .unwrap();
    let took = until(&s, &admin, "退货", "", "message", &[m1], SECOND).await;
    assert!(took <= SECOND, "{took:?}");

    let m2 = s
        .shopper_send(&shopper, "I asked for a refund last week")
        .await["id"]
        .as_i64()
        .unwrap();
    let m3 = s
        .shopper_send(&shopper, "ｉＰｈｏｎｅ12的屏幕有色差吗")
        .await["id"]
        .as_i64()
        .unwrap();
    until(&s, &admin, "refunds", "", "message", &[m2], SECOND).await;
    until(&s, &admin, "iPhone 色差", "", "message", &[m3], SECOND).await;
    until(&s, &admin, "\"屏幕有色差\"", "", "message", &[m3], SECOND).await;

    // Snippets: plain text with UTF-16 highlight ranges.
    let v = search(&s, &admin, "退货", "&kind=message")
        .await
        .expect(200)
        .clone();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    let hit = &v["results"][0]["hits"][0];
    assert_eq!(hit["snippet"]["text"], "我想退货怎么办");
    assert_eq!(hit["snippet"]["highlights"], json!([[2, 4]]));
    assert!(hit["conversation_id"].is_i64());

    // A private note is found by agents; an agent's reply too.
    let conv = hit["conversation_id"].as_i64().unwrap();
    let note = s
        .agent_send(&admin, conv, "内部备注：客户很着急要退款", true)
        .await["id"]
        .as_i64()
        .unwrap();
    let v = until(&s, &admin, "着急", "", "message", &[note], SECOND).await;
    assert!(v <= SECOND);
    let r = search(&s, &admin, "着急", "&kind=message").await;
    assert_eq!(r.expect(200)["results"][0]["hits"][0]["private"], true);
}
both!(chinese_english_and_mixed_text, languages);

async fn identifiers(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let r = s
        .post(
            "/api/v1/widget/sessions",
            None,
            json!({"name": "王小明", "phone": "138-1234-5678", "email": "Xiaoming@Example.com"}),
        )
        .await;
    let customer = r.expect(201)["customer_id"].as_i64().unwrap();
    until(
        &s,
        &admin,
        "13812345678",
        "",
        "customer",
        &[customer],
        SETUP,
    )
    .await;
    until(&s, &admin, "5678", "", "customer", &[customer], SECOND).await;
    until(
        &s,
        &admin,
        "xiaoming@example.com",
        "",
        "customer",
        &[customer],
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "wangxiaoming",
        "",
        "customer",
        &[customer],
        SECOND,
    )
    .await;
    until(&s, &admin, "王小明", "", "customer", &[customer], SECOND).await;
    // A middle piece of the number is not a match.
    until(
        &s,
        &admin,
        "1234",
        "&kind=customer",
        "customer",
        &[],
        SECOND,
    )
    .await;

    // An order number finds its buyer (created by the order import).
    let order_no = format!("SO2026{}", 100_000 + unique());
    let r = s
        .post(
            "/api/v1/orders/batch",
            Some(&admin.token),
            json!({"orders": [{
                "order_no": order_no,
                "buyer": {"phone": "13900001111", "name": "李四"},
                "placed_at": "2026-11-20 10:00:00",
                "items": [{"sku": "EAR-01", "name": "蓝牙耳机", "quantity": 1, "unit_price_cents": 19900}]
            }]}),
        )
        .await;
    let buyer = r.expect(200)["touched_customer_ids"][0].as_i64().unwrap();
    until(&s, &admin, &order_no, "", "customer", &[buyer], SECOND).await;
    until(
        &s,
        &admin,
        &order_no.to_lowercase(),
        "",
        "customer",
        &[buyer],
        SECOND,
    )
    .await;
    until(&s, &admin, "1111", "", "customer", &[buyer], SECOND).await;
    let r = search(&s, &admin, &order_no, "&kind=customer").await;
    let hit = &r.expect(200)["results"][0]["hits"][0];
    assert_eq!(hit["title"], "李四");
    assert!(
        hit["snippet"]["text"].as_str().unwrap().contains(&order_no),
        "{hit}"
    );
    assert!(
        !hit["snippet"]["highlights"].as_array().unwrap().is_empty(),
        "{hit}"
    );

    // An order for the existing customer makes its number find them too.
    let second = format!("SO2026{}", 200_000 + unique());
    s.post(
        "/api/v1/orders/batch",
        Some(&admin.token),
        json!({"orders": [{
            "order_no": second,
            "buyer": {"phone": "13812345678"},
            "placed_at": "2026-11-21 10:00:00",
            "items": [{"sku": "EAR-01", "name": "蓝牙耳机", "quantity": 1, "unit_price_cents": 19900}]
        }]}),
    )
    .await
    .expect(200);
    until(&s, &admin, &second, "", "customer", &[customer], SECOND).await;

    // Tags: the filter and the text.
    s.put(
        &format!("/api/v1/customers/{customer}/tags"),
        Some(&admin.token),
        json!({"tags": ["VIP"]}),
    )
    .await
    .expect(200);
    until(
        &s,
        &admin,
        "5678",
        "&tag=vip",
        "customer",
        &[customer],
        SECOND,
    )
    .await;
    until(&s, &admin, "1111", "&tag=VIP", "customer", &[], SECOND).await;
}
both!(phone_email_and_order_numbers_find_the_customer, identifiers);

async fn scoping(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let other = s.create_shop(&format!("other-{}", unique())).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "Agent One").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "Agent Two").await;
    let other_admin = s.agent(other.id, Role::Admin, "Other").await;

    let send = |body: &'static str, shop: Option<String>| {
        let s = &s;
        async move {
            let sh = s.shopper_of(shop.as_deref()).await;
            let v = s.shopper_send(&sh, body).await;
            (
                v["id"].as_i64().unwrap(),
                v["conversation_id"].as_i64().unwrap(),
            )
        }
    };
    let (m_own, c_own) = send("快递到了吗，包裹破损了", None).await;
    let (m_other, c_other) = send("包裹破损了怎么赔", None).await;
    let (m_free, c_free) = send("包裹破损可以补发吗", None).await;
    let (m_b, _) = send("包裹破损", Some(other.slug.clone())).await;
    for (c, a) in [(c_own, &a1), (c_other, &a2)] {
        s.post(
            &format!("/api/v1/conversations/{c}/assign"),
            Some(&admin.token),
            json!({"agent_id": a.id()}),
        )
        .await
        .expect(200);
    }
    s.post(
        &format!("/api/v1/conversations/{c_other}/status"),
        Some(&admin.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);

    let all = {
        let mut v = vec![m_own, m_other, m_free];
        v.sort();
        v
    };
    until(&s, &admin, "破损", "", "message", &all, SETUP).await;
    until(&s, &sup, "破损", "", "message", &all, SECOND).await;
    // Agents: their own and unassigned conversations, as in the conversation list.
    let mut own_free = vec![m_own, m_free];
    own_free.sort();
    until(&s, &a1, "破损", "", "message", &own_free, SECOND).await;
    let mut other_free = vec![m_other, m_free];
    other_free.sort();
    until(&s, &a2, "破损", "", "message", &other_free, SECOND).await;
    // Conversations are found by the customer's name (every shopper here is "shopper N").
    let mut convs = vec![c_own, c_free];
    convs.sort();
    until(
        &s,
        &a1,
        "shopper",
        "&kind=conversation",
        "conversation",
        &convs,
        SECOND,
    )
    .await;
    // The other shop sees only its own.
    until(&s, &other_admin, "破损", "", "message", &[m_b], SECOND).await;

    // Filters.
    until(
        &s,
        &admin,
        "破损",
        "&status=resolved",
        "message",
        &[m_other],
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "破损",
        &format!("&agent_id={}", a1.id()),
        "message",
        &[m_own],
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "破损",
        "&agent_id=0",
        "message",
        &[m_free],
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "破损",
        "&channel=web&status=open",
        "message",
        &{
            let mut v = vec![m_own, m_free];
            v.sort();
            v
        },
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "破损",
        "&from=2000-01-01&to=2000-01-02",
        "message",
        &[],
        SECOND,
    )
    .await;
    until(
        &s,
        &admin,
        "破损",
        "&from=2000-01-01",
        "message",
        &all,
        SECOND,
    )
    .await;
    // A conversation filter leaves customers and scripts out.
    let v = search(&s, &admin, "破损", "&status=open")
        .await
        .expect(200)
        .clone();
    assert!(ids(&v, "customer").is_empty());
    // Kinds asked for are the only groups.
    let v = search(&s, &admin, "破损", "&kind=message,customer")
        .await
        .expect(200)
        .clone();
    let kinds: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message", "customer"]);

    // Bad filters are a 422, never a 5xx; no token is a 401.
    search(&s, &admin, "x", "&status=closed")
        .await
        .expect_error(422, "validation_failed");
    search(&s, &admin, "x", "&kind=orders")
        .await
        .expect_error(422, "validation_failed");
    search(&s, &admin, "x", "&from=yesterday")
        .await
        .expect_error(422, "validation_failed");
    search(&s, &admin, "x", "&agent_id=abc")
        .await
        .expect_error(400, "bad_request");
    s.get("/api/v1/search?q=x", None)
        .await
        .expect_error(401, "unauthorized");
    // Shoppers cannot search.
    let sh = s.shopper().await;
    assert_eq!(
        s.get("/api/v1/search?q=x", Some(&sh.token)).await.status,
        401
    );
}
both!(filters_shop_isolation_and_entitlement, scoping);

async fn odd(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sh = s.shopper().await;
    let m = s.shopper_send(&sh, "退货 AND 换货 (急)").await["id"]
        .as_i64()
        .unwrap();
    until(&s, &admin, "退货", "", "message", &[m], SETUP).await;
    let long = "退货*".repeat(3000);
    for q in [
        "\"",
        "*",
        "AND OR (",
        "((",
        ")",
        "NOT",
        "\"\"",
        "title:退货",
        "body:\"x",
        "[1 TO 5]",
        "{}",
        "~",
        "^2",
        "\\",
        "%",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "😀",
        &long,
    ] {
        let r = search(&s, &admin, q, "").await;
        assert_eq!(r.status, 200, "{q:?}: {}", r.text);
    }
    // A NUL is refused like on every other path (422 naming the parameter), never a 5xx.
    let r = search(&s, &admin, "\u{0}", "").await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "q");
    // Operators mean nothing; the words still match.
    until(&s, &admin, "退货 AND (换货", "", "message", &[m], SECOND).await;
    // Snippets are plain text: markup in a message comes back as the same characters.
    let m2 = s.shopper_send(&sh, "<b>退款</b>").await["id"]
        .as_i64()
        .unwrap();
    until(&s, &admin, "<b>退款</b>", "", "message", &[m2], SECOND).await;
    let r = search(&s, &admin, "退款", "&kind=message").await;
    assert_eq!(
        r.expect(200)["results"][0]["hits"][0]["snippet"]["text"],
        "<b>退款</b>"
    );
    // Limit bounds.
    assert_eq!(search(&s, &admin, "退货", "&limit=0").await.status, 200);
    assert_eq!(
        search(&s, &admin, "退货", "&limit=100000").await.status,
        200
    );
}
both!(odd_query_syntax_never_fails, odd);

async fn rebuild(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sh = s.shopper().await;
    let m = s.shopper_send(&sh, "我想退货怎么办").await["id"]
        .as_i64()
        .unwrap();
    until(&s, &admin, "退货", "", "message", &[m], SETUP).await;
    let (svc, dir) = s.search.clone().expect("search");

    // Stop the server's index, damage every file, start again on the same directory.
    svc.stop().await;
    let r = search(&s, &admin, "退货", "").await;
    assert_eq!(r.expect(200)["status"], "rebuilding");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::write(&p, b"garbage").unwrap();
        }
    }
    assert!(kefu_search::index::SearchIndex::open_or_create(&dir, analyzer()).is_err());
    let svc2 = kefu_http::search::SearchService::start(s.store.clone(), dir.clone(), analyzer());
    // Meanwhile it answers "rebuilding" (or already the result), never an error.
    let q = kefu_search::index::SearchQuery {
        shop_id: s.shop.id,
        viewer: kefu_search::index::Viewer {
            agent_id: admin.id(),
            sees_whole_shop: true,
        },
        text: "退货".into(),
        kinds: vec![],
        status: None,
        channel: None,
        agent_id: None,
        team_id: None,
        from: None,
        to: None,
        tag: None,
        limit: 10,
    };
    let start = Instant::now();
    loop {
        match svc2.search(q.clone()).await {
            kefu_http::search::Outcome::Rebuilding => {}
            kefu_http::search::Outcome::Ready(r) => {
                let hits: Vec<i64> = r.groups[0].1.iter().map(|h| h.id).collect();
                assert_eq!(hits, [m]);
                break;
            }
        }
        assert!(start.elapsed() < SETUP, "not rebuilt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It keeps following writes.
    let m2 = s.shopper_send(&sh, "退货地址是哪里").await["id"]
        .as_i64()
        .unwrap();
    let start = Instant::now();
    loop {
        if let kefu_http::search::Outcome::Ready(r) = svc2.search(q.clone()).await
            && r.groups[0].1.len() == 2
        {
            break;
        }
        assert!(start.elapsed() < SECOND * 2, "m2 {m2} not indexed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    svc2.stop().await;

    // `kefu reindex` (the same function): rebuilds from the database.
    std::fs::remove_dir_all(&dir).unwrap();
    let docs = kefu_http::search::reindex(s.store.clone(), &dir, analyzer())
        .await
        .expect("reindex");
    // 2 messages (+ greeting/notices), 1 conversation, 1 customer at least.
    assert!(docs >= 4, "{docs}");
    let ix = kefu_search::index::SearchIndex::open_or_create(&dir, analyzer()).unwrap();
    assert!(
        ix.payload().unwrap().is_some(),
        "cursors stored with the rebuild"
    );
    let r = ix.search(&q).unwrap();
    assert_eq!(r.groups[0].1.len(), 2);
    // A second writer on the same directory (a running server) makes reindex refuse.
    let err = kefu_http::search::reindex(s.store.clone(), &dir, analyzer())
        .await
        .unwrap_err();
    assert!(err.contains("in use"), "{err}");
    drop(ix);
}
both!(rebuild_after_corruption_and_reindex, rebuild);

/// The id of the shop's first script category (reading it seeds the default library).
async fn first_category(s: &TestServer, a: &Agent) -> i64 {
    s.get("/api/v1/script-categories", Some(&a.token))
        .await
        .expect(200)["categories"][0]["id"]
        .as_i64()
        .expect("a category")
}

async fn new_script(s: &TestServer, a: &Agent, body: Value) -> i64 {
    s.post("/api/v1/scripts", Some(&a.token), body)
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap()
}

async fn scripts(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let other = s.create_shop(&format!("other-{}", unique())).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "Agent One").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "Agent Two").await;
    let other_admin = s.agent(other.id, Role::Admin, "Other").await;
    until(&s, &admin, "nothing-here", "", "script", &[], SETUP).await;
    let cat = first_category(&s, &admin).await;
    let other_cat = first_category(&s, &other_admin).await;

    // Another agent's personal script and another shop's script, with the same words.
    let mine = new_script(
        &s,
        &a2,
        json!({"category_id": cat, "title": "我的暗号", "body": "防震泡沫，芝麻开门", "personal": true}),
    )
    .await;
    let theirs = new_script(
        &s,
        &other_admin,
        json!({"category_id": other_cat, "title": "琉璃礼盒", "body": "防震泡沫包好"}),
    )
    .await;
    // Created last: on SQLite its id is the highest, the one handed out again after a delete.
    let sid = new_script(
        &s,
        &admin,
        json!({"category_id": cat, "title": "琉璃礼盒", "body": "亲，琉璃摆件已用防震泡沫包好",
               "shortcut": "glassgift", "tags": ["包装"]}),
    )
    .await;

    // A word of its body, its title's pinyin (whole and initials), its shortcut, its tag.
    let took = until(&s, &a1, "防震", "", "script", &[sid], SECOND).await;
    assert!(took <= SECOND, "{took:?}");
    until(&s, &a1, "liulilihe", "", "script", &[sid], SECOND).await;
    until(&s, &a1, "lllh", "&kind=script", "script", &[sid], SECOND).await;
    until(&s, &a1, "glassgift", "", "script", &[sid], SECOND).await;
    until(&s, &a1, "琉璃", "&tag=包装", "script", &[sid], SECOND).await;
    let v = search(&s, &a1, "防震", "&kind=script")
        .await
        .expect(200)
        .clone();
    let hit = &v["results"][0]["hits"][0];
    assert_eq!(hit["title"], "琉璃礼盒");
    assert!(
        hit["snippet"]["text"]
            .as_str()
            .unwrap()
            .contains("防震泡沫"),
        "{hit}"
    );
    // Personal scripts: only their owner, not even an admin; other shops: never.
    let mut both = vec![sid, mine];
    both.sort();
    until(&s, &a2, "防震", "", "script", &both, SECOND).await;
    assert_eq!(
        ids(search(&s, &admin, "防震", "").await.expect(200), "script"),
        [sid]
    );
    assert_eq!(
        ids(search(&s, &a1, "芝麻", "").await.expect(200), "script"),
        Vec::<i64>::new()
    );
    until(&s, &other_admin, "防震", "", "script", &[theirs], SECOND).await;
    assert_eq!(
        ids(search(&s, &a1, "liulilihe", "").await.expect(200), "script"),
        [sid]
    );

    // Editing updates the hit (old words gone, new ones found).
    s.put(
        &format!("/api/v1/scripts/{sid}"),
        Some(&admin.token),
        json!({"category_id": cat, "title": "琉璃礼盒", "body": "亲，琉璃摆件已用气泡膜包好"}),
    )
    .await
    .expect(200);
    let took = until(&s, &a1, "气泡膜", "", "script", &[sid], SECOND).await;
    assert!(took <= SECOND, "{took:?}");
    until(&s, &a1, "防震", "", "script", &[], SECOND).await;
    until(&s, &a1, "glassgift", "", "script", &[], SECOND).await;

    // Deleting removes it within a second; the personal and the other shop's stay.
    s.request(
        reqwest::Method::DELETE,
        &format!("/api/v1/scripts/{sid}"),
        Some(&admin.token),
        None,
    )
    .await
    .expect(204);
    let took = until(&s, &a1, "气泡膜", "", "script", &[], SECOND).await;
    assert!(took <= SECOND, "{took:?}");
    until(&s, &a1, "liulilihe", "", "script", &[], SECOND).await;
    until(&s, &a2, "防震", "", "script", &[mine], SECOND).await;
    until(&s, &other_admin, "防震", "", "script", &[theirs], SECOND).await;

    // A script created next (SQLite may give it the deleted id) is found, the deleted one is not.
    let again = new_script(
        &s,
        &admin,
        json!({"category_id": cat, "title": "再来一次", "body": "琉璃摆件补发说明"}),
    )
    .await;
    until(&s, &a1, "补发说明", "", "script", &[again], SECOND).await;
    until(&s, &a1, "气泡膜", "", "script", &[], SECOND).await;
    // A personal script deleted by its owner leaves too.
    s.request(
        reqwest::Method::DELETE,
        &format!("/api/v1/scripts/{mine}"),
        Some(&a2.token),
        None,
    )
    .await
    .expect(204);
    until(&s, &a2, "芝麻", "", "script", &[], SECOND).await;
}
both!(scripts_are_found_updated_and_removed, scripts);

async fn conversation_tags(backend: Backend) {
    let s = TestServer::start_search(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    until(&s, &admin, "nothing-here", "", "message", &[], SETUP).await;
    let send = |body: &'static str| {
        let s = &s;
        async move {
            let sh = s.shopper().await;
            let v = s.shopper_send(&sh, body).await;
            (
                v["id"].as_i64().unwrap(),
                v["conversation_id"].as_i64().unwrap(),
            )
        }
    };
    let (m1, c1) = send("麻烦开一张发票").await;
    let (m2, c2) = send("发票抬头写公司").await;
    let mut all = vec![m1, m2];
    all.sort();
    until(&s, &admin, "发票", "", "message", &all, SETUP).await;

    // Tagging moves the conversation: the tag filter finds it and its messages within a second.
    s.post(
        &format!("/api/v1/conversations/{c1}/tags"),
        Some(&agent.token),
        json!({"tag": "VIP"}),
    )
    .await
    .expect(200);
    let took = until(&s, &admin, "发票", "&tag=vip", "message", &[m1], SECOND).await;
    assert!(took <= SECOND, "{took:?}");
    until(
        &s,
        &admin,
        "shopper",
        "&tag=vip&kind=conversation",
        "conversation",
        &[c1],
        SECOND,
    )
    .await;
    // Agents too (unassigned conversations); another tag finds nothing; no tag finds both
    // (conversations are found by their customer's name, every shopper here is "shopper N").
    until(&s, &agent, "发票", "&tag=VIP", "message", &[m1], SECOND).await;
    assert!(
        ids(
            search(&s, &admin, "发票", "&tag=退货").await.expect(200),
            "message"
        )
        .is_empty()
    );
    let mut convs = vec![c1, c2];
    convs.sort();
    until(
        &s,
        &admin,
        "shopper",
        "&kind=conversation",
        "conversation",
        &convs,
        SECOND,
    )
    .await;

    // Removing the tag takes it out of the filter.
    s.request(
        reqwest::Method::DELETE,
        &format!("/api/v1/conversations/{c1}/tags/VIP"),
        Some(&agent.token),
        None,
    )
    .await
    .expect(200);
    until(&s, &admin, "发票", "&tag=vip", "message", &[], SECOND).await;
    until(
        &s,
        &admin,
        "shopper",
        "&tag=vip&kind=conversation",
        "conversation",
        &[],
        SECOND,
    )
    .await;
}
both!(
    conversation_tags_filter_conversations_and_messages,
    conversation_tags
);
