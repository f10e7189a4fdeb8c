//! The scripts library (话术): the seeded default library, CRUD and permissions (shop-wide vs
//! personal), isolation between shops, variables filled from the conversation and missing ones
//! refused at send time, the pinyin picker, import/export round trips with bad rows, and usage
//! statistics with orders inside and outside the 48 h window.

use crate::both;
use crate::harness::*;
use kefu_core::commerce::{CommerceChange, OrderInput, validate_order};
use kefu_core::model::{Id, Role};
use kefu_core::time::Millis;
use serde_json::{Value, json};

async fn delete(s: &TestServer, path: &str, token: &str) -> Resp {
    s.request(reqwest::Method::DELETE, path, Some(token), None)
        .await
}

async fn categories(s: &TestServer, a: &Agent) -> Vec<Value> {
    s.get("/api/v1/script-categories", Some(&a.token))
        .await
        .expect(200)["categories"]
        .as_array()
        .unwrap()
        .clone()
}

async fn category_id(s: &TestServer, a: &Agent, name: &str) -> Id {
    categories(s, a)
        .await
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no category {name}"))["id"]
        .as_i64()
        .unwrap()
}

async fn scripts(s: &TestServer, a: &Agent, query: &str) -> Vec<Value> {
    s.get(&format!("/api/v1/scripts{query}"), Some(&a.token))
        .await
        .expect(200)["scripts"]
        .as_array()
        .unwrap()
        .clone()
}

fn titles(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|s| s["title"].as_str().unwrap().to_owned())
        .collect()
}

/// An order of `customer_id` placed at `placed_at`.
async fn order_at(s: &TestServer, shop_id: Id, customer_id: Id, order_no: &str, placed_at: i64) {
    let input: OrderInput = serde_json::from_value(json!({
        "order_no": order_no,
        "customer_id": customer_id,
        "placed_at": placed_at,
        "shipping_fee_cents": 800,
        "items": [{"sku": "BAG-1", "name": "真皮手提包", "quantity": 1, "unit_price_cents": 39900}]
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
}

both!(library_and_crud, library_and_crud_body);
async fn library_and_crud_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let other = s.agent(s.shop.id, Role::Agent, "小王").await;

    // The default library is there on the first read, every category, ≥ 60 scripts.
    let cats = categories(&s, &agent).await;
    let names: Vec<&str> = cats.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "欢迎语",
        "议价应对",
        "异议处理",
        "售后处理",
        "催付款",
        "结束语",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let all = scripts(&s, &agent, "").await;
    assert!(all.len() >= 60, "{}", all.len());
    assert!(all.iter().all(|x| x["owner_id"].is_null()));
    // Read twice: seeded once.
    assert_eq!(scripts(&s, &admin, "").await.len(), all.len());

    let after_sale = category_id(&s, &admin, "售后处理").await;
    // A plain agent cannot write shop-wide scripts or categories.
    let shop_script = json!({"category_id": after_sale, "title": "极速退款", "body": "{customer.name}，已为您极速退款。", "shortcut": "fast", "tags": ["退款"]});
    s.post("/api/v1/scripts", Some(&agent.token), shop_script.clone())
        .await
        .expect_error(403, "forbidden");
    s.post(
        "/api/v1/script-categories",
        Some(&agent.token),
        json!({"name": "新分类"}),
    )
    .await
    .expect_error(403, "forbidden");
    // An admin can.
    let created = s
        .post("/api/v1/scripts", Some(&admin.token), shop_script)
        .await
        .expect(201)
        .clone();
    let sid = created["id"].as_i64().unwrap();
    assert_eq!(created["category"], "售后处理");
    assert_eq!(created["shortcut"], "fast");
    // Shortcut unique within the shop-wide scope; limits are checked.
    s.post(
        "/api/v1/scripts",
        Some(&admin.token),
        json!({"category_id": after_sale, "title": "另一个", "body": "b", "shortcut": "fast"}),
    )
    .await
    .expect_error(409, "conflict");
    for bad in [
        json!({"category_id": after_sale, "title": "", "body": "b"}),
        json!({"category_id": after_sale, "title": "t", "body": "字".repeat(2001)}),
        json!({"category_id": after_sale, "title": "t", "body": "b", "shortcut": "退款"}),
        json!({"category_id": after_sale, "title": "t", "body": "b", "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
    ] {
        s.post("/api/v1/scripts", Some(&admin.token), bad)
            .await
            .expect_error(422, "validation_failed");
    }
    s.post(
        "/api/v1/scripts",
        Some(&admin.token),
        json!({"category_id": 999_999, "title": "t", "body": "b"}),
    )
    .await
    .expect_error(404, "not_found");

    // Personal scripts: any agent, visible to the owner only; same shortcut allowed per scope.
    let mine = s
        .post(
            "/api/v1/scripts",
            Some(&agent.token),
            json!({"category_id": after_sale, "title": "我的退款话术", "body": "亲，退款马上到～", "shortcut": "fast", "personal": true}),
        )
        .await
        .expect(201)
        .clone();
    let mid = mine["id"].as_i64().unwrap();
    assert_eq!(mine["owner_id"], agent.id());
    assert!(titles(&scripts(&s, &agent, "?owner=mine").await) == vec!["我的退款话术"]);
    assert!(
        !titles(&scripts(&s, &other, "").await).contains(&"我的退款话术".to_owned()),
        "another agent's personal script leaked"
    );
    s.get(&format!("/api/v1/scripts/{mid}"), Some(&other.token))
        .await
        .expect_error(404, "not_found");
    s.put(
        &format!("/api/v1/scripts/{mid}"),
        Some(&other.token),
        json!({"category_id": after_sale, "title": "x", "body": "y"}),
    )
    .await
    .expect_error(404, "not_found");
    // Admins see the shop-wide library plus their own; they cannot touch an agent's personal one either.
    delete(&s, &format!("/api/v1/scripts/{mid}"), &admin.token)
        .await
        .expect_error(404, "not_found");
    // Filters: category, owner, q.
    let in_cat = scripts(&s, &agent, &format!("?category={after_sale}&owner=shop")).await;
    assert!(in_cat.iter().all(|x| x["category_id"] == after_sale));
    assert!(titles(&in_cat).contains(&"极速退款".to_owned()));
    assert!(!titles(&in_cat).contains(&"我的退款话术".to_owned()));
    s.get("/api/v1/scripts?owner=nobody", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");

    // The owner edits and deletes; an agent cannot edit a shop-wide one.
    let edited = s
        .put(
            &format!("/api/v1/scripts/{mid}"),
            Some(&agent.token),
            json!({"category_id": after_sale, "title": "我的退款话术 v2", "body": "亲，退款已到账～", "tags": ["退款", "退款", " 售后 "]}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(edited["title"], "我的退款话术 v2");
    assert_eq!(edited["tags"], json!(["退款", "售后"]));
    assert_eq!(edited["owner_id"], agent.id());
    s.put(
        &format!("/api/v1/scripts/{sid}"),
        Some(&agent.token),
        json!({"category_id": after_sale, "title": "x", "body": "y"}),
    )
    .await
    .expect_error(403, "forbidden");
    delete(&s, &format!("/api/v1/scripts/{mid}"), &agent.token)
        .await
        .expect(204);
    s.get(&format!("/api/v1/scripts/{mid}"), Some(&agent.token))
        .await
        .expect_error(404, "not_found");

    // Categories: create, rename, refuse deleting a non-empty one, delete an empty one.
    let c = s
        .post(
            "/api/v1/script-categories",
            Some(&admin.token),
            json!({"name": "  直播间话术 "}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(c["name"], "直播间话术");
    let cid = c["id"].as_i64().unwrap();
    assert!(c["position"].as_i64().unwrap() > 120);
    s.post(
        "/api/v1/script-categories",
        Some(&admin.token),
        json!({"name": "直播间话术"}),
    )
    .await
    .expect_error(409, "conflict");
    s.put(
        &format!("/api/v1/script-categories/{cid}"),
        Some(&admin.token),
        json!({"name": "直播话术", "position": 0}),
    )
    .await
    .expect(200);
    assert_eq!(categories(&s, &agent).await[0]["name"], "直播话术");
    delete(
        &s,
        &format!("/api/v1/script-categories/{after_sale}"),
        &admin.token,
    )
    .await
    .expect_error(409, "conflict");
    delete(
        &s,
        &format!("/api/v1/script-categories/{cid}"),
        &admin.token,
    )
    .await
    .expect(204);
    delete(
        &s,
        &format!("/api/v1/script-categories/{cid}"),
        &admin.token,
    )
    .await
    .expect_error(404, "not_found");

    // Deleting every shop-wide script does not bring the default library back.
    for x in scripts(&s, &admin, "?owner=shop").await {
        delete(&s, &format!("/api/v1/scripts/{}", x["id"]), &admin.token)
            .await
            .expect(204);
    }
    assert!(scripts(&s, &agent, "").await.is_empty());
}

both!(isolation, isolation_body);
async fn isolation_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let other_shop = s.create_shop("scripts-other").await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let foreign = s.agent(other_shop.id, Role::Admin, "隔壁店长").await;
    let cat = category_id(&s, &admin, "欢迎语").await;
    let x = s
        .post(
            "/api/v1/scripts",
            Some(&admin.token),
            json!({"category_id": cat, "title": "本店专属", "body": "只属于本店"}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    // The other shop got its own library, without this shop's script.
    let theirs = scripts(&s, &foreign, "").await;
    assert!(theirs.len() >= 60);
    assert!(!titles(&theirs).contains(&"本店专属".to_owned()));
    // Another shop's script, category or conversation answers 404.
    s.get(&format!("/api/v1/scripts/{x}"), Some(&foreign.token))
        .await
        .expect_error(404, "not_found");
    s.put(
        &format!("/api/v1/scripts/{x}"),
        Some(&foreign.token),
        json!({"category_id": cat, "title": "t", "body": "b"}),
    )
    .await
    .expect_error(404, "not_found");
    delete(&s, &format!("/api/v1/scripts/{x}"), &foreign.token)
        .await
        .expect_error(404, "not_found");
    s.put(
        &format!("/api/v1/script-categories/{cat}"),
        Some(&foreign.token),
        json!({"name": "偷改"}),
    )
    .await
    .expect_error(404, "not_found");
    delete(
        &s,
        &format!("/api/v1/script-categories/{cat}"),
        &foreign.token,
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/scripts",
        Some(&foreign.token),
        json!({"category_id": cat, "title": "t", "body": "b"}),
    )
    .await
    .expect_error(404, "not_found");
    let shopper = s.shopper().await;
    let conv = s.shopper_send(&shopper, "在吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.post(
        "/api/v1/scripts/render",
        Some(&foreign.token),
        json!({"text": "{customer.name}", "conversation_id": conv}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        "/api/v1/scripts/render",
        Some(&admin.token),
        json!({"script_id": x, "conversation_id": conv}),
    )
    .await
    .expect(200);
    let their_script = theirs[0]["id"].as_i64().unwrap();
    s.post(
        "/api/v1/scripts/render",
        Some(&admin.token),
        json!({"script_id": their_script, "conversation_id": conv}),
    )
    .await
    .expect_error(404, "not_found");
}

both!(variables_and_send, variables_and_send_body);
async fn variables_and_send_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let conv = s.shopper_send(&shopper, "我要退款").await["conversation_id"]
        .as_i64()
        .unwrap();
    let name = s.conversation(&agent, conv).await["customer"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let render = |body: Value| s.post("/api/v1/scripts/render", Some(&agent.token), body);

    // No order yet: customer, agent and shop are filled, order variables are missing.
    let r = render(json!({"text": "{customer.name}您好，我是{agent.name}，{shop.name}为您服务。订单{order.no}金额{order.amount}，{x}", "conversation_id": conv}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        r["text"],
        format!(
            "{name}您好，我是小美，{}为您服务。订单{{order.no}}金额{{order.amount}}，{{x}}",
            s.shop.name
        )
    );
    assert_eq!(r["missing"], json!(["order.no", "order.amount"]));

    // Sending a text that still holds a known variable is refused; unknown braces are fine.
    let send = |body: &str, script_id: Option<Id>| {
        s.agent_send_raw(
            &agent,
            conv,
            json!({"body": body, "client_msg_id": format!("m-{}", unique()), "script_id": script_id}),
        )
    };
    send(r["text"].as_str().unwrap(), None)
        .await
        .expect_error(422, "missing_variables");
    send("{x} 没关系", None).await.expect(201);
    // A private note may mention variables.
    s.agent_send(&agent, conv, "提醒：用{order.no}", true).await;

    // With orders, the latest one and its first line fill the order and product variables.
    let now = Millis::now().0;
    order_at(
        &s,
        s.shop.id,
        shopper.customer_id,
        "OLD-1",
        now - 86_400_000,
    )
    .await;
    order_at(&s, s.shop.id, shopper.customer_id, "NEW-2", now - 3_600_000).await;
    let r = render(json!({"text": "{order.no} {order.amount} 运费{order.shipping_fee} {order.status} {product.name} {product.price}", "conversation_id": conv}))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        r["text"],
        "NEW-2 ¥407.00 运费¥8.00 待付款 真皮手提包 ¥399.00"
    );
    assert_eq!(r["missing"], json!([]));

    // A stored script by id; an explicitly chosen order of this customer.
    let refund = s
        .get("/api/v1/scripts/search?q=tuikuan", Some(&agent.token))
        .await
        .expect(200)["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["body"].as_str().unwrap().contains("{customer.name}"))
        .expect("a 退款 script with {customer.name}")
        .clone();
    let rid = refund["id"].as_i64().unwrap();
    let r = render(json!({"script_id": rid, "conversation_id": conv}))
        .await
        .expect(200)
        .clone();
    assert!(r["text"].as_str().unwrap().contains(&name), "{r}");
    assert_eq!(r["script_id"], rid);
    // Exactly one of script_id and text.
    render(json!({"conversation_id": conv}))
        .await
        .expect_error(422, "validation_failed");
    // Someone else's order is not this conversation's.
    let other = s.shopper().await;
    order_at(&s, s.shop.id, other.customer_id, "OTHER-1", now).await;
    let others = s
        .get("/api/v1/orders?q=OTHER-1", Some(&agent.token))
        .await
        .expect(200)["orders"]
        .clone();
    render(json!({"text": "{order.no}", "conversation_id": conv, "order_id": others[0]["id"]}))
        .await
        .expect_error(404, "not_found");
    // An explicit order of this customer (the older one) is used instead of the latest.
    let own = s
        .get("/api/v1/orders?q=OLD-1", Some(&agent.token))
        .await
        .expect(200)["orders"][0]["id"]
        .clone();
    let r_old = render(json!({"text": "{order.no}", "conversation_id": conv, "order_id": own}))
        .await
        .expect(200)
        .clone();
    assert_eq!(r_old["text"], "OLD-1");

    // Sent with script_id: the use is recorded (the stats count it).
    let msg = send(r["text"].as_str().unwrap(), Some(rid))
        .await
        .expect(201)
        .clone();
    assert!(msg["body"].as_str().unwrap().contains(&name));
    // An unknown script id never fails the send.
    send("好的", Some(987_654)).await.expect(201);
    let stats = s
        .get("/api/v1/scripts/stats", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    let row = stats["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["script_id"] == rid)
        .unwrap()
        .clone();
    assert_eq!(row["uses"], 1);
    assert_eq!(row["conversations"], 1);
}

both!(pinyin_picker, pinyin_picker_body);
async fn pinyin_picker_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let search = |q: &str| {
        let path = format!("/api/v1/scripts/search?q={}", urlencode(q));
        let token = agent.token.clone();
        let s = &s;
        async move {
            s.get(&path, Some(&token)).await.expect(200)["scripts"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    for q in ["tk", "tuikuan", "退款", "TK"] {
        let hits = search(q).await;
        assert!(!hits.is_empty(), "{q}: nothing found");
        let top = hits[0]["title"].as_str().unwrap();
        assert!(
            top.contains("退款"),
            "{q}: top hit {top} is not a 退款 script"
        );
    }
    // Shortcut exact beats everything.
    let hits = search("refund").await;
    assert_eq!(hits[0]["shortcut"], "refund");
    assert!(
        hits[0]["score"].as_u64().unwrap()
            > hits.get(1).map_or(0, |h| h["score"].as_u64().unwrap())
    );
    // Nothing for nonsense; limits; odd syntax never 5xx.
    assert!(search("zzzzqqq").await.is_empty());
    assert_eq!(
        s.get("/api/v1/scripts/search?q=&limit=3", Some(&agent.token))
            .await
            .expect(200)["scripts"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for q in ["%", "\"", "{", "*?", "'); DROP"] {
        search(q).await;
    }
    s.get(
        &format!("/api/v1/scripts/search?q={}", "a".repeat(101)),
        Some(&agent.token),
    )
    .await
    .expect_error(422, "validation_failed");
    // The list's q uses the same matcher.
    let listed = scripts(&s, &agent, "?q=tk").await;
    assert!(titles(&listed).iter().any(|t| t.contains("退款")));
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

both!(import_export, import_export_body);
async fn import_export_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let before = scripts(&s, &admin, "?owner=shop").await.len();

    // JSON export → import into the same shop changes nothing (idempotent by id).
    let exported = s
        .get("/api/v1/scripts/export?format=json", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(exported["scripts"].as_array().unwrap().len(), before);
    let report = s
        .raw(
            reqwest::Method::POST,
            "/api/v1/scripts/import?format=json",
            Some(&admin.token),
            exported.to_string(),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(report["created"], 0);
    assert_eq!(report["updated"], before);
    assert_eq!(report["failed"], 0);
    assert_eq!(scripts(&s, &admin, "?owner=shop").await.len(), before);

    // Into another shop: ids of this shop are refused per row; without ids, (category, title)
    // matches the other shop's own default scripts, new titles are created, new categories too.
    let other = s.create_shop("import-other").await;
    let other_admin = s.agent(other.id, Role::Admin, "隔壁").await;
    let rows = json!([
        {"id": exported["scripts"][0]["id"], "category": "欢迎语", "title": "带 id", "body": "x"},
        {"category": "欢迎语", "title": "通用欢迎", "body": "改过的欢迎语 {customer.name}"},
        {"category": "新品推荐", "title": "新品上架", "body": "新品到了！", "tags": ["上新"]},
        {"category": "欢迎语", "title": "", "body": "no title"},
        {"category": "欢迎语", "title": "超长", "body": "字".repeat(2001)},
        {"title": "no category"}
    ]);
    let report = s
        .raw(
            reqwest::Method::POST,
            "/api/v1/scripts/import",
            Some(&other_admin.token),
            rows.to_string(),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["failed"], 4, "{report}");
    let lines: Vec<i64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![1, 4, 5, 6]);
    let theirs = scripts(&s, &other_admin, "").await;
    let welcome = theirs.iter().find(|x| x["title"] == "通用欢迎").unwrap();
    assert_eq!(welcome["body"], "改过的欢迎语 {customer.name}");
    assert!(
        theirs
            .iter()
            .any(|x| x["title"] == "新品上架" && x["category"] == "新品推荐")
    );
    // This shop's scripts were not touched.
    let ours = scripts(&s, &admin, "").await;
    assert!(!ours.iter().any(|x| x["title"] == "带 id"));

    // CSV round trip of personal scripts, with quotes, commas, newlines and a formula-like body.
    let cat = category_id(&s, &agent, "售后处理").await;
    s.post(
        "/api/v1/scripts",
        Some(&agent.token),
        json!({"category_id": cat, "title": "退款, \"加急\"", "body": "=先别急\n马上处理", "shortcut": "my-tk", "tags": ["退款", "加急"], "personal": true}),
    )
    .await
    .expect(201);
    let resp = s
        .http
        .get(s.url("/api/v1/scripts/export?format=csv&owner=mine"))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("id,category,title,body,shortcut,tags\n"));
    assert!(csv.contains("'=先别急"), "formula guard: {csv}");
    // A plain agent cannot import shop-wide, but can import their own.
    s.raw(
        reqwest::Method::POST,
        "/api/v1/scripts/import?format=csv",
        Some(&agent.token),
        csv.clone(),
    )
    .await
    .expect_error(403, "forbidden");
    let with_bad =
        format!("{csv}abc,售后处理,坏 id,b,,\n,售后处理,,空标题,,\n,售后处理,新增的,新内容,,a|b\n");
    let report = s
        .raw(
            reqwest::Method::POST,
            "/api/v1/scripts/import?format=csv&owner=mine",
            Some(&agent.token),
            with_bad,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["failed"], 2, "{report}");
    // The exported body spans two lines, so the bad rows are on lines 4 and 5.
    assert_eq!(report["errors"][0]["line"], 4, "{report}");
    assert_eq!(report["errors"][1]["line"], 5, "{report}");
    let mine = scripts(&s, &agent, "?owner=mine").await;
    assert_eq!(mine.len(), 2);
    let urgent = mine.iter().find(|x| x["shortcut"] == "my-tk").unwrap();
    assert_eq!(urgent["body"], "=先别急\n马上处理");
    assert_eq!(urgent["title"], "退款, \"加急\"");
    assert_eq!(urgent["tags"], json!(["退款", "加急"]));
    let added = mine.iter().find(|x| x["title"] == "新增的").unwrap();
    assert_eq!(added["tags"], json!(["a", "b"]));
    assert_eq!(added["owner_id"], agent.id());
    // A Chinese Excel file: GBK with Chinese headers, sent as bytes; the template as XLSX
    // (recognised by its content whatever `format` says). A taken shortcut is `already_used`.
    let zh = "分类,标题,内容,快捷短语,标签\r\n售后处理,发货时间,\"亲，今天下单\r\n明天发货\",fh,发货\r\n售后处理,重复快捷,内容,fh,\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(zh);
    let r = s
        .http
        .post(s.url("/api/v1/scripts/import?format=csv&owner=mine"))
        .bearer_auth(&agent.token)
        .body(gbk.into_owned())
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["errors"][0]["line"], 4, "{report}");
    assert_eq!(report["errors"][0]["code"], "already_used", "{report}");
    let mine = scripts(&s, &agent, "?owner=mine").await;
    let fh = mine.iter().find(|x| x["shortcut"] == "fh").unwrap();
    assert_eq!(fh["body"], "亲，今天下单\r\n明天发货");
    let r = s
        .http
        .get(s.url("/api/v1/scripts/import/template?format=xlsx"))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    let xlsx = r.bytes().await.unwrap().to_vec();
    let r = s
        .http
        .post(s.url("/api/v1/scripts/import?format=json&owner=mine"))
        .bearer_auth(&agent.token)
        .body(xlsx)
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    // Whole-file errors.
    for (fmt, body) in [
        ("json", "{not json"),
        ("csv", "a,b\n1,2\n"),
        ("xml", "<x/>"),
    ] {
        s.raw(
            reqwest::Method::POST,
            &format!("/api/v1/scripts/import?format={fmt}&owner=mine"),
            Some(&agent.token),
            body,
        )
        .await
        .expect_error(422, "validation_failed");
    }
}

both!(stats, stats_body);
async fn stats_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    s.set_status(&agent, "online").await;
    let cat = category_id(&s, &agent, "催付款").await;
    let script = s
        .post(
            "/api/v1/scripts",
            Some(&agent.token),
            json!({"category_id": cat, "title": "我的催付", "body": "亲，记得付款哦", "personal": true}),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    // Three conversations get the script; the first customer orders within 48 h, the second
    // after 48 h, the third never (and an order placed before the use does not count).
    let mut customers = Vec::new();
    for i in 0..3 {
        let shopper = s.shopper().await;
        let conv = s.shopper_send(&shopper, "我再想想").await["conversation_id"]
            .as_i64()
            .unwrap();
        for _ in 0..(if i == 0 { 2 } else { 1 }) {
            s.agent_send_raw(
                &agent,
                conv,
                json!({"body": "亲，记得付款哦", "client_msg_id": format!("m-{}", unique()), "script_id": script}),
            )
            .await
            .expect(201);
        }
        customers.push(shopper.customer_id);
    }
    let now = Millis::now().0;
    let hour = 3_600_000;
    order_at(&s, s.shop.id, customers[0], "IN-48H", now + 5 * hour).await;
    order_at(&s, s.shop.id, customers[1], "AFTER-48H", now + 50 * hour).await;
    order_at(&s, s.shop.id, customers[2], "BEFORE", now - 5 * hour).await;
    let stats = s
        .get("/api/v1/scripts/stats?days=7", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(stats["order_window_hours"], 48);
    let rows = stats["scripts"].as_array().unwrap();
    let row = rows.iter().find(|x| x["script_id"] == script).unwrap();
    assert_eq!(row["uses"], 4, "{row}");
    assert_eq!(row["conversations"], 3, "{row}");
    assert_eq!(row["converted"], 1, "{row}");
    let rate = row["conversion_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / 3.0).abs() < 1e-9, "{rate}");
    assert_eq!(rows[0]["script_id"], script, "most used first");
    // Unused scripts are listed with zeros; another agent does not see this personal script.
    assert!(
        rows.iter()
            .any(|x| x["uses"] == 0 && x["conversion_rate"] == 0.0)
    );
    let other = s.agent(s.shop.id, Role::Agent, "小王").await;
    let theirs = s
        .get("/api/v1/scripts/stats", Some(&other.token))
        .await
        .expect(200)
        .clone();
    assert!(
        !theirs["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["script_id"] == script)
    );
    s.get("/api/v1/scripts/stats?days=0", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
    // Deleting the script deletes its uses.
    delete(&s, &format!("/api/v1/scripts/{script}"), &agent.token)
        .await
        .expect(204);
}
