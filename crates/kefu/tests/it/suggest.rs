//! Reply suggestions: a shopper's question reaches the agents' consoles with the fitting scripts
//! (live `suggestions` event and `GET /conversations/{id}/suggestions`); another shop's scripts are
//! never suggested; a personal script is suggested to its owner only; a script change is seen by
//! the next suggestion.

use crate::both;
use crate::harness::*;
use kefu_core::model::{Id, Role};
use serde_json::{Value, json};
use std::time::Duration;

/// Building the first engine loads jieba's dictionary, slow in a debug build.
const FIRST: Duration = Duration::from_secs(60);

async fn category_id(s: &TestServer, a: &Agent, name: &str) -> Id {
    s.get("/api/v1/script-categories", Some(&a.token))
        .await
        .expect(200)["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no category {name}"))["id"]
        .as_i64()
        .unwrap()
}

async fn create_script(s: &TestServer, a: &Agent, body: Value) -> Id {
    s.post("/api/v1/scripts", Some(&a.token), body)
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap()
}

fn ids(list: &Value) -> Vec<Id> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["script_id"].as_i64().unwrap())
        .collect()
}

async fn current(s: &TestServer, a: &Agent, conversation_id: Id) -> Value {
    s.get(
        &format!("/api/v1/conversations/{conversation_id}/suggestions"),
        Some(&a.token),
    )
    .await
    .expect(200)
    .clone()
}

both!(shipping_question_gets_shipping_scripts, shipping_body);
async fn shipping_body(backend: Backend) {
    let s = TestServer::start_suggesting(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let owner = s.agent(s.shop.id, Role::Agent, "小美").await;

    // Another shop with a script made to match the question word for word.
    let other = s.create_shop(&format!("other-{}", unique())).await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    let other_cat = category_id(&s, &other_admin, "运费解释").await;
    let foreign = create_script(
        &s,
        &other_admin,
        json!({"category_id": other_cat, "title": "运费怎么算", "body": "请问运费怎么算？包邮吗？运费怎么算，包邮吗"}),
    )
    .await;

    // The shop's default library is seeded; the owner adds a personal shipping script.
    let shipping_ids: Vec<Id> = s
        .get("/api/v1/scripts", Some(&admin.token))
        .await
        .expect(200)["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["category"] == "运费解释")
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    assert!(
        shipping_ids.len() >= 3,
        "the default library has 运费 scripts"
    );
    let cat = category_id(&s, &owner, "运费解释").await;
    let personal = create_script(
        &s,
        &owner,
        json!({"category_id": cat, "title": "我的运费怎么算话术", "personal": true,
               "body": "亲，运费怎么算要看收货地区，满99元包邮，包邮地区下单即可"}),
    )
    .await;

    let mut owner_ws = s.agent_ws(&owner).await;
    let mut admin_ws = s.agent_ws(&admin).await;
    let mut other_ws = s.agent_ws(&other_admin).await;
    let shopper = s.shopper().await;
    let sent = s.shopper_send(&shopper, "请问运费怎么算？包邮吗").await;
    let conversation_id = sent["conversation_id"].as_i64().unwrap();
    let message_id = sent["id"].as_i64().unwrap();

    // Live: each agent gets the top 3 meant for them.
    let ev = owner_ws.next_event("suggestions", FIRST).await;
    assert_eq!(ev["conversation_id"], conversation_id);
    assert_eq!(ev["message_id"], message_id);
    let got = ids(&ev["suggestions"]);
    assert!(got.len() <= 3 && !got.is_empty(), "{ev}");
    assert!(
        got.iter()
            .any(|id| shipping_ids.contains(id) || *id == personal),
        "a 运费 script in the owner's top 3: {ev}"
    );
    assert!(got.contains(&personal), "the owner's own script: {ev}");
    assert!(!got.contains(&foreign), "another shop's script: {ev}");
    assert!(ev["suggestions"][0].get("owner_id").is_none());
    assert_eq!(ev["suggestions"][0]["category"], "运费解释", "{ev}");

    let ev = admin_ws.next_event("suggestions", FIRST).await;
    let got = ids(&ev["suggestions"]);
    assert_eq!(got.len(), 3, "{ev}");
    assert!(got.iter().any(|id| shipping_ids.contains(id)), "{ev}");
    assert!(
        !got.contains(&personal),
        "someone else's personal script: {ev}"
    );
    assert!(!got.contains(&foreign), "{ev}");
    assert!(
        other_ws
            .find(Duration::from_millis(500), |e| e["type"] == "suggestions")
            .await
            .is_none(),
        "another shop's agents hear nothing"
    );

    // Read later: the same lists.
    let r = current(&s, &owner, conversation_id).await;
    assert_eq!(r["message_id"], message_id);
    assert!(ids(&r["suggestions"]).contains(&personal), "{r}");
    let r = current(&s, &admin, conversation_id).await;
    let got = ids(&r["suggestions"]);
    assert!(got.iter().any(|id| shipping_ids.contains(id)), "{r}");
    assert!(!got.contains(&personal) && !got.contains(&foreign), "{r}");
    s.get(
        &format!("/api/v1/conversations/{conversation_id}/suggestions"),
        Some(&other_admin.token),
    )
    .await
    .expect_error(404, "not_found");

    // Deleting the personal script takes it out of the next suggestions.
    s.request(
        reqwest::Method::DELETE,
        &format!("/api/v1/scripts/{personal}"),
        Some(&owner.token),
        None,
    )
    .await
    .expect(204);
    let r = current(&s, &owner, conversation_id).await;
    let got = ids(&r["suggestions"]);
    assert_eq!(got.len(), 3, "{r}");
    assert!(!got.contains(&personal), "a deleted script: {r}");

    // A later question about something else moves the suggestions with it.
    let sent = s
        .shopper_send(&shopper, "收到的商品坏了，我要退货退款")
        .await;
    let ev = admin_ws
        .find(FIRST, |e| {
            e["type"] == "suggestions" && e["message_id"] == sent["id"]
        })
        .await
        .expect("suggestions for the second message");
    let categories: Vec<&str> = ev["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["category"].as_str().unwrap())
        .collect();
    assert!(categories.contains(&"售后处理"), "{ev}");

    // A script sent from a suggestion is a pick: it becomes history (the question → the script).
    let picked = ev["suggestions"][0]["script_id"].as_i64().unwrap();
    let picked_body = ev["suggestions"][0]["body"].as_str().unwrap().to_owned();
    s.agent_send_raw(
        &admin,
        conversation_id,
        json!({"body": "亲，收到有问题的话我们负责退换，您放心", "client_msg_id": format!("a-{}", unique()), "script_id": picked}),
    )
    .await
    .expect(201);
    let picks = s
        .store
        .script_pick_exchanges(s.shop.id, 100)
        .await
        .expect("picks");
    assert!(
        picks.iter().any(|p| p.reply == picked_body
            && p.context == vec!["收到的商品坏了，我要退货退款".to_owned()]),
        "{picks:?}"
    );
    let turns = s
        .store
        .recent_public_turns(s.shop.id, 100)
        .await
        .expect("turns");
    let pairs = kefu_core::suggestions::exchanges(turns);
    assert!(
        pairs
            .iter()
            .any(|p| p.reply == "亲，收到有问题的话我们负责退换，您放心"
                && p.context.last().map(String::as_str) == Some("收到的商品坏了，我要退货退款")),
        "{pairs:?}"
    );
}
