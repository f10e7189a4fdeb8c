//! The agent's daily tools: notes with @mentions, conversation tags, snooze, transfer notes, a
//! shopper's previous conversations, after-hours and keyword auto-replies — and their bad input.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use kefu_core::time::Millis;
use serde_json::{Value, json};
use std::time::Duration;

fn note(body: &str, mentions: Value) -> Value {
    json!({"body": body, "client_msg_id": format!("n-{}", unique()), "private": true, "mentions": mentions})
}

/// A shopper's conversation routed to `agent` (the only one online at that moment).
async fn routed_conversation(s: &TestServer, agent: &Agent) -> (Shopper, i64) {
    s.set_status(agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "你好，我想问一下").await["conversation_id"]
        .as_i64()
        .unwrap();
    let c = s.conversation(agent, cid).await;
    assert_eq!(c["assignee_id"], agent.id());
    (shopper, cid)
}

async fn delete(s: &TestServer, path: &str, token: &str) -> Resp {
    s.request(reqwest::Method::DELETE, path, Some(token), None)
        .await
}

both!(
    mentions_notify_only_the_mentioned,
    mentions_notify_only_the_mentioned_body
);
async fn mentions_notify_only_the_mentioned_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.agent(s.shop.id, Role::Agent, "王芳").await;
    let b = s.agent(s.shop.id, Role::Agent, "李娜").await;
    let c = s.agent(s.shop.id, Role::Agent, "张伟").await;
    let (shopper, cid) = routed_conversation(&s, &a).await;
    s.set_status(&a, "offline").await;

    // Before any mention, B may not read A's conversation.
    s.get(&format!("/api/v1/conversations/{cid}"), Some(&b.token))
        .await
        .expect_error(404, "not_found");

    let mut ws_b = s.agent_ws(&b).await;
    let mut ws_c = s.agent_ws(&c).await;
    let body = note("@李娜 这位客户要开发票，你来处理一下", json!([b.id()]));
    let sent = s.agent_send_raw(&a, cid, body.clone()).await;
    let msg = sent.expect(201).clone();
    assert_eq!(msg["private"], true);

    let event = ws_b.next_event("mention", WAIT).await;
    assert_eq!(event["conversation_id"], cid);
    assert_eq!(event["message_id"], msg["id"]);
    assert_eq!(event["by"]["id"], a.id());
    assert_eq!(event["by"]["name"], "王芳");
    assert!(event["excerpt"].as_str().unwrap().contains("开发票"));
    let others = ws_c.drain(QUIET).await;
    assert!(
        others.iter().all(|e| e["type"] != "mention"),
        "only the mentioned agent hears of it: {others:#?}"
    );

    // A retry stores nothing and notifies nobody again.
    s.agent_send_raw(&a, cid, body).await.expect(200);
    let again = ws_b.drain(QUIET).await;
    assert!(again.iter().all(|e| e["type"] != "mention"), "{again:#?}");

    // B's list, and B may now read (and add notes to) A's conversation, but not reply publicly.
    let list = s.get("/api/v1/mentions?unread=true", Some(&b.token)).await;
    let mentions = list.expect(200)["mentions"].as_array().unwrap().clone();
    assert_eq!(mentions.len(), 1);
    assert_eq!(mentions[0]["conversation_id"], cid);
    assert_eq!(mentions[0]["customer"]["id"], shopper.customer_id);
    assert!(mentions[0]["read_at"].is_null());
    let history = s.agent_messages(&b, cid, 0).await;
    assert!(history.iter().any(|m| m["id"] == msg["id"]));
    s.agent_send(&b, cid, "好的，我来开", true).await;
    s.agent_send_raw(
        &b,
        cid,
        json!({"body": "您好", "client_msg_id": format!("r-{}", unique())}),
    )
    .await
    .expect_error(404, "not_found");
    // C was not mentioned: still nothing.
    s.get(
        &format!("/api/v1/conversations/{cid}/messages"),
        Some(&c.token),
    )
    .await
    .expect_error(404, "not_found");
    assert!(
        s.get("/api/v1/mentions", Some(&c.token)).await.expect(200)["mentions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Mark read: one, then the list of unread ones is empty.
    let id = mentions[0]["id"].as_i64().unwrap();
    let r = s
        .post(
            &format!("/api/v1/mentions/{id}/read"),
            Some(&b.token),
            json!({}),
        )
        .await;
    assert_eq!(r.expect(200)["changed"], 1);
    let unread = s.get("/api/v1/mentions?unread=true", Some(&b.token)).await;
    assert!(
        unread.expect(200)["mentions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let all = s.get("/api/v1/mentions", Some(&b.token)).await;
    assert!(all.expect(200)["mentions"][0]["read_at"].is_string());
    // Someone else's mention is not found.
    s.post(
        &format!("/api/v1/mentions/{id}/read"),
        Some(&c.token),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    // All of a conversation at once.
    s.agent_send_raw(&a, cid, note("@李娜 还有一件事", json!([b.id()])))
        .await
        .expect(201);
    let r = s
        .post(
            "/api/v1/mentions/read",
            Some(&b.token),
            json!({"conversation_id": cid}),
        )
        .await;
    assert_eq!(r.expect(200)["changed"], 1);
}

both!(mentions_across_shops_are_refused, cross_shop_mentions_body);
async fn cross_shop_mentions_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.agent(s.shop.id, Role::Agent, "Ann").await;
    let other = s.create_shop("other-tools").await;
    let x = s.agent(other.id, Role::Agent, "Xu").await;
    let (_shopper, cid) = routed_conversation(&s, &a).await;
    let before = s.agent_messages(&a, cid, 0).await.len();
    let mut ws_x = s.agent_ws(&x).await;

    s.agent_send_raw(&a, cid, note("@Xu look", json!([x.id()])))
        .await
        .expect_error(404, "not_found");
    s.agent_send_raw(&a, cid, note("@nobody", json!([999_999_999])))
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        s.agent_messages(&a, cid, 0).await.len(),
        before,
        "a refused mention stores no note"
    );
    assert!(
        ws_x.drain(QUIET)
            .await
            .iter()
            .all(|e| e["type"] != "mention")
    );
    // Mentions belong on internal notes only; a wrong shape is a 422.
    let public =
        json!({"body": "hi", "client_msg_id": format!("p-{}", unique()), "mentions": [a.id()]});
    s.agent_send_raw(&a, cid, public)
        .await
        .expect_error(422, "validation_failed");
    s.agent_send_raw(&a, cid, note("x", json!(["not-an-id"])))
        .await
        .expect_error(422, "validation_failed");
    // The other shop's agent cannot read the conversation, mentioned or not.
    s.get(&format!("/api/v1/conversations/{cid}"), Some(&x.token))
        .await
        .expect_error(404, "not_found");
}

both!(tags_filter_and_isolation, tags_body);
async fn tags_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    let a = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let (_s1, c1) = routed_conversation(&s, &a).await;
    let shopper2 = s.shopper().await;
    let c2 = s.shopper_send(&shopper2, "hello").await["conversation_id"]
        .as_i64()
        .unwrap();

    let r = s
        .post(
            &format!("/api/v1/conversations/{c1}/tags"),
            Some(&a.token),
            json!({"tag": "  VIP  "}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["tags"], json!(["VIP"]));
    let r = s
        .post(
            &format!("/api/v1/conversations/{c1}/tags"),
            Some(&a.token),
            json!({"tag": "退货"}),
        )
        .await;
    let tags = r.expect(200)["conversation"]["tags"].clone();
    assert_eq!(tags.as_array().unwrap().len(), 2);
    // Adding it again keeps one.
    s.post(
        &format!("/api/v1/conversations/{c1}/tags"),
        Some(&a.token),
        json!({"tag": "VIP"}),
    )
    .await
    .expect(200);
    s.post(
        &format!("/api/v1/conversations/{c2}/tags"),
        Some(&admin.token),
        json!({"tag": "退货"}),
    )
    .await
    .expect(200);

    let list = s.conversations(&admin, "").await;
    let row = list.iter().find(|c| c["id"] == c1).unwrap();
    assert_eq!(
        row["tags"].as_array().unwrap().len(),
        2,
        "tags show in the list"
    );
    let vip = s.conversations(&admin, "?tag=VIP").await;
    assert_eq!(vip.len(), 1);
    assert_eq!(vip[0]["id"], c1);
    let returns = s.conversations(&admin, "?tag=%E9%80%80%E8%B4%A7").await;
    assert_eq!(returns.len(), 2);
    assert!(s.conversations(&admin, "?tag=never-used").await.is_empty());

    let vocab = s.get("/api/v1/conversation-tags", Some(&a.token)).await;
    let vocab = vocab.expect(200)["tags"].as_array().unwrap().clone();
    assert_eq!(vocab[0]["name"], "退货");
    assert_eq!(vocab[0]["conversations"], 2);

    // Remove (URL-encoded name); removing again is harmless.
    let r = delete(
        &s,
        &format!("/api/v1/conversations/{c1}/tags/VIP"),
        &a.token,
    )
    .await;
    assert_eq!(r.expect(200)["conversation"]["tags"], json!(["退货"]));
    delete(
        &s,
        &format!("/api/v1/conversations/{c1}/tags/VIP"),
        &a.token,
    )
    .await
    .expect(200);
    assert!(s.conversations(&admin, "?tag=VIP").await.is_empty());

    // Another shop: its own VIP tag, none of ours visible or touchable.
    let other = s.create_shop("other-tags").await;
    let x = s.agent(other.id, Role::Admin, "Xu").await;
    s.post(
        &format!("/api/v1/conversations/{c1}/tags"),
        Some(&x.token),
        json!({"tag": "VIP"}),
    )
    .await
    .expect_error(404, "not_found");
    delete(
        &s,
        &format!("/api/v1/conversations/{c1}/tags/退货"),
        &x.token,
    )
    .await
    .expect_error(404, "not_found");
    assert!(
        s.conversations(&x, "?tag=%E9%80%80%E8%B4%A7")
            .await
            .is_empty()
    );
    let theirs = s.get("/api/v1/conversation-tags", Some(&x.token)).await;
    assert!(theirs.expect(200)["tags"].as_array().unwrap().is_empty());

    // Bad input.
    for bad in [
        json!({"tag": "   "}),
        json!({"tag": "x".repeat(33)}),
        json!({"tag": 5}),
        json!({}),
    ] {
        s.post(
            &format!("/api/v1/conversations/{c1}/tags"),
            Some(&a.token),
            bad,
        )
        .await
        .expect_error(422, "validation_failed");
    }
    s.conversations(&admin, "?tag=%20").await; // blank filter = no filter
    let r = s
        .get(
            &format!("/api/v1/conversations?tag={}", "y".repeat(40)),
            Some(&admin.token),
        )
        .await;
    r.expect_error(422, "validation_failed");
}

both!(snooze_wakes_by_time_and_by_shopper, snooze_body);
async fn snooze_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let (shopper, cid) = routed_conversation(&s, &a).await;
    let mut ws = s.agent_ws(&a).await;

    // Wakes by time.
    let until = Millis(Millis::now().0 + 1500);
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/snooze"),
            Some(&a.token),
            json!({"until": until.to_rfc3339()}),
        )
        .await;
    let c = r.expect(200)["conversation"].clone();
    assert_eq!(c["status"], "pending");
    assert_eq!(c["snoozed_until"], until.to_rfc3339());
    let woke = ws
        .find(Duration::from_secs(8), |e| {
            e["type"] == "conversation.updated"
                && e["conversation"]["id"] == cid
                && e["conversation"]["status"] == "open"
        })
        .await
        .expect("the snooze woke the conversation");
    assert!(woke["conversation"]["snoozed_until"].is_null());
    assert!(Millis::now().0 >= until.0, "not before its time");
    assert_eq!(
        s.conversation(&a, cid).await["assignee_id"],
        a.id(),
        "still Amy's"
    );

    // Wakes when the shopper writes.
    let later = Millis(Millis::now().0 + 3_600_000);
    s.post(
        &format!("/api/v1/conversations/{cid}/snooze"),
        Some(&a.token),
        json!({"until": later.0}),
    )
    .await
    .expect(200);
    s.shopper_send(&shopper, "在吗？").await;
    ws.find(WAIT, |e| {
        e["type"] == "conversation.updated"
            && e["conversation"]["id"] == cid
            && e["conversation"]["status"] == "open"
    })
    .await
    .expect("the shopper's message woke it");

    // Unsnooze by hand; unsnoozing what is not snoozed is refused.
    s.post(
        &format!("/api/v1/conversations/{cid}/snooze"),
        Some(&a.token),
        json!({"until": later.0}),
    )
    .await
    .expect(200);
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/unsnooze"),
            Some(&a.token),
            json!({}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["status"], "open");
    s.post(
        &format!("/api/v1/conversations/{cid}/unsnooze"),
        Some(&a.token),
        json!({}),
    )
    .await
    .expect_error(422, "validation_failed");
    // Setting a status by hand ends a snooze.
    s.post(
        &format!("/api/v1/conversations/{cid}/snooze"),
        Some(&a.token),
        json!({"until": later.0}),
    )
    .await
    .expect(200);
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/status"),
            Some(&a.token),
            json!({"status": "open"}),
        )
        .await;
    assert!(r.expect(200)["conversation"]["snoozed_until"].is_null());

    // Bad input.
    let path = format!("/api/v1/conversations/{cid}/snooze");
    for bad in [
        json!({"until": Millis(Millis::now().0 - 1000).to_rfc3339()}),
        json!({"until": Millis::now().0 + 91 * 24 * 3_600_000}),
        json!({"until": "tomorrow"}),
        json!({}),
    ] {
        s.post(&path, Some(&a.token), bad)
            .await
            .expect_error(422, "validation_failed");
    }
    let other = s.create_shop("other-snooze").await;
    let x = s.agent(other.id, Role::Admin, "Xu").await;
    s.post(&path, Some(&x.token), json!({"until": later.0}))
        .await
        .expect_error(404, "not_found");
    s.post(
        "/api/v1/conversations/999999999/snooze",
        Some(&a.token),
        json!({"until": later.0}),
    )
    .await
    .expect_error(404, "not_found");
}

both!(snooze_survives_a_restart, snooze_restart_body);
async fn snooze_restart_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let (_shopper, cid) = routed_conversation(&s, &a).await;
    // Stored straight through the store (no signal to the running task, as if set before a
    // restart); a freshly started task must find it and wake it when due.
    let until = Millis(Millis::now().0 + 300);
    s.store.snooze(s.shop.id, cid, until).await.unwrap();
    let fresh = kefu_service::Services::new(
        s.store.clone(),
        std::sync::Arc::new(kefu_core::events::NoEvents),
        Default::default(),
    );
    let task = kefu_service::tools::spawn_snooze_waker(&fresh.tools);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        let c = s.conversation(&a, cid).await;
        if c["status"] == "open" {
            assert!(c["snoozed_until"].is_null());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never woke: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
}

both!(transfer_note_reaches_the_receiver, transfer_note_body);
async fn transfer_note_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let b = s.agent(s.shop.id, Role::Agent, "Bob").await;
    let (shopper, cid) = routed_conversation(&s, &a).await;
    let mut ws_b = s.agent_ws(&b).await;
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/assign"),
            Some(&a.token),
            json!({"agent_id": b.id(), "note": "客户要换货，订单已核实"}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["assignee_id"], b.id());
    let e = ws_b
        .find(WAIT, |e| {
            e["type"] == "message.created"
                && e["message"]["body"]
                    .as_str()
                    .unwrap_or("")
                    .contains("订单已核实")
        })
        .await
        .expect("the receiver hears the note live");
    assert_eq!(e["message"]["private"], true);
    let msgs = s.agent_messages(&b, cid, 0).await;
    let n = msgs
        .iter()
        .find(|m| m["body"].as_str().unwrap().contains("客户要换货"))
        .expect("the note is in the conversation");
    assert_eq!(n["private"], true);
    assert!(n["body"].as_str().unwrap().contains("Bob"));
    let shopper_view = s.shopper_history(&shopper, 0).await;
    assert!(
        shopper_view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !m["body"].as_str().unwrap().contains("换货")),
        "the shopper never sees it"
    );
    // A note over the limit is refused.
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&b.token),
        json!({"agent_id": a.id(), "note": "x".repeat(1001)}),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(previous_conversations, previous_conversations_body);
async fn previous_conversations_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    let a = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let b = s.agent(s.shop.id, Role::Agent, "Bob").await;
    let c = s.agent(s.shop.id, Role::Agent, "Cai").await;
    // An earlier conversation (Bob's) and a current one (Amy's); merging the two shopper
    // records makes both one shopper's.
    let (old_shopper, old_cid) = routed_conversation(&s, &b).await;
    s.agent_send(&b, old_cid, "上次的回复", false).await;
    s.post(
        &format!("/api/v1/conversations/{old_cid}/status"),
        Some(&b.token),
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);
    s.set_status(&b, "offline").await;
    let (shopper, cid) = routed_conversation(&s, &a).await;
    s.post(
        &format!("/api/v1/customers/{}/merge", shopper.customer_id),
        Some(&admin.token),
        json!({"source_id": old_shopper.customer_id}),
    )
    .await
    .expect(200);

    let r = s
        .get(
            &format!("/api/v1/customers/{}/conversations", shopper.customer_id),
            Some(&a.token),
        )
        .await;
    let list = r.expect(200)["conversations"].as_array().unwrap().clone();
    let ids: Vec<i64> = list.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![cid, old_cid], "newest first");
    assert_eq!(list[1]["status"], "resolved");

    // Amy serves the shopper now, so she may read the earlier one (Bob's); Cai may not.
    let history = s.agent_messages(&a, old_cid, 0).await;
    assert!(history.iter().any(|m| m["body"] == "上次的回复"));
    s.get(
        &format!("/api/v1/conversations/{old_cid}/messages"),
        Some(&c.token),
    )
    .await
    .expect_error(404, "not_found");
    // Read-only: Amy cannot write into it.
    s.agent_send_raw(
        &a,
        old_cid,
        json!({"body": "hi", "client_msg_id": format!("h-{}", unique())}),
    )
    .await
    .expect_error(404, "not_found");

    // Scoped and checked.
    let other = s.create_shop("other-prev").await;
    let x = s.agent(other.id, Role::Admin, "Xu").await;
    s.get(
        &format!("/api/v1/customers/{}/conversations", shopper.customer_id),
        Some(&x.token),
    )
    .await
    .expect_error(404, "not_found");
    s.get(
        &format!(
            "/api/v1/customers/{}/conversations?limit=0",
            shopper.customer_id
        ),
        Some(&a.token),
    )
    .await
    .expect_error(422, "validation_failed");
    s.get(
        &format!(
            "/api/v1/customers/{}/conversations?limit=x",
            shopper.customer_id
        ),
        Some(&a.token),
    )
    .await
    .expect_error(400, "bad_request");
}

/// Waits until the conversation holds `n` bot messages with `body`, then checks no more come.
async fn expect_bot_replies(s: &TestServer, agent: &Agent, cid: i64, body: &str, n: usize) {
    let count = |msgs: &[Value]| {
        msgs.iter()
            .filter(|m| m["sender_type"] == "bot" && m["body"] == body)
            .count()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let msgs = s.agent_messages(agent, cid, 0).await;
        let got = count(&msgs);
        if got >= n {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} × {body:?}: {msgs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(QUIET).await;
    let msgs = s.agent_messages(agent, cid, 0).await;
    assert_eq!(count(&msgs), n, "exactly {n} × {body:?}: {msgs:#?}");
}

fn all_days(ranges: Value) -> Value {
    json!([ranges, ranges, ranges, ranges, ranges, ranges, ranges])
}

both!(after_hours_reply_once, after_hours_body);
async fn after_hours_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    // Closed all week: every moment is after hours.
    let rules = json!({
        "business_hours": {"enabled": true, "time_zone": "Asia/Shanghai", "days": all_days(json!([]))},
        "after_hours": {"enabled": true, "text": "现在是非工作时间，我们明早回复您"},
        "keywords": []
    });
    let r = s
        .put("/api/v1/auto-replies", Some(&admin.token), rules)
        .await;
    let saved = r.expect(200).clone();
    assert_eq!(saved["open_now"], false);
    // The widget learns it too, so it never shows "online" beside the after-hours reply.
    let config = s.get("/api/v1/widget/config", None).await;
    assert_eq!(config.expect(200)["open_now"], false);
    assert!(
        saved["time_zones"]
            .as_array()
            .unwrap()
            .iter()
            .any(|z| z == "Asia/Shanghai")
    );

    let shopper = s.shopper().await;
    let mut sws = s.shopper_ws(&shopper).await;
    let cid = s.shopper_send(&shopper, "有人吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    let live = sws
        .find(WAIT, |e| {
            e["type"] == "message.created"
                && e["message"]["sender_type"] == "bot"
                && e["message"]["body"] == "现在是非工作时间，我们明早回复您"
        })
        .await;
    assert!(live.is_some(), "the shopper gets it live");
    s.shopper_send(&shopper, "还在吗").await;
    s.shopper_send(&shopper, "？").await;
    expect_bot_replies(&s, &admin, cid, "现在是非工作时间，我们明早回复您", 1).await;

    // Open round the clock: no after-hours reply for a new shopper.
    let open = json!({
        "business_hours": {"enabled": true, "time_zone": "UTC",
            "days": all_days(json!([{"start": "00:00", "end": "24:00"}]))},
        "after_hours": {"enabled": true, "text": "现在是非工作时间，我们明早回复您"},
    });
    let r = s
        .put("/api/v1/auto-replies", Some(&admin.token), open)
        .await;
    assert_eq!(r.expect(200)["open_now"], true);
    let other = s.shopper().await;
    let cid2 = s.shopper_send(&other, "有人吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    expect_bot_replies(&s, &admin, cid2, "现在是非工作时间，我们明早回复您", 0).await;
    let got = s.get("/api/v1/auto-replies", Some(&admin.token)).await;
    assert_eq!(
        got.expect(200)["rules"]["business_hours"]["time_zone"],
        "UTC"
    );
}

both!(keyword_reply_with_cooldown, keyword_body);
async fn keyword_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    let rules = json!({
        "keywords": [
            {"keywords": ["发货", "shipping"], "reply": "下单后48小时内发货", "cooldown_minutes": 30},
            {"keywords": ["在吗"], "match": "exact", "reply": "在的，请问有什么可以帮您？"}
        ]
    });
    let r = s
        .put("/api/v1/auto-replies", Some(&admin.token), rules)
        .await;
    let saved = r.expect(200)["rules"]["keywords"].clone();
    assert!(
        saved[0]["id"].as_str().is_some_and(|id| !id.is_empty()),
        "rules get ids"
    );

    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "请问什么时候发货？").await["conversation_id"]
        .as_i64()
        .unwrap();
    expect_bot_replies(&s, &admin, cid, "下单后48小时内发货", 1).await;
    // Within the cool-down: no repeat, however it is asked.
    s.shopper_send(&shopper, "发货了吗").await;
    s.shopper_send(&shopper, "SHIPPING?").await;
    expect_bot_replies(&s, &admin, cid, "下单后48小时内发货", 1).await;
    // Exact match only on the exact text; another rule has its own cool-down.
    s.shopper_send(&shopper, "在吗？我想问问").await;
    expect_bot_replies(&s, &admin, cid, "在的，请问有什么可以帮您？", 0).await;
    s.shopper_send(&shopper, "在吗").await;
    expect_bot_replies(&s, &admin, cid, "在的，请问有什么可以帮您？", 1).await;
    // Another conversation has its own cool-down.
    let other = s.shopper().await;
    let cid2 = s.shopper_send(&other, "ＳＨＩＰＰＩＮＧ").await["conversation_id"]
        .as_i64()
        .unwrap();
    expect_bot_replies(&s, &admin, cid2, "下单后48小时内发货", 1).await;
    // The rules of another shop do not apply.
    let shop2 = s.create_shop("other-kw").await;
    let stranger = s.shopper_of(Some(&shop2.slug)).await;
    let x = s.agent(shop2.id, Role::Admin, "Xu").await;
    let cid3 = s.shopper_send(&stranger, "发货").await["conversation_id"]
        .as_i64()
        .unwrap();
    expect_bot_replies(&s, &x, cid3, "下单后48小时内发货", 0).await;
}

both!(auto_reply_bad_input, auto_reply_bad_input_body);
async fn auto_reply_bad_input_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Amy").await;
    let ok = json!({"keywords": [{"keywords": ["a"], "reply": "b"}]});
    s.put("/api/v1/auto-replies", Some(&agent.token), ok.clone())
        .await
        .expect_error(403, "forbidden");
    s.get("/api/v1/auto-replies", Some(&agent.token))
        .await
        .expect(200);
    let week = all_days(json!([]));
    for bad in [
        json!({"business_hours": {"enabled": true, "time_zone": "Mars/Base", "days": week}}),
        json!({"business_hours": {"enabled": true, "time_zone": "UTC", "days": [[]]}}),
        json!({"business_hours": {"enabled": true, "time_zone": "UTC",
            "days": all_days(json!([{"start": "18:00", "end": "09:00"}]))}}),
        json!({"business_hours": {"enabled": true, "time_zone": "UTC",
            "days": all_days(json!([{"start": "9am", "end": "18:00"}]))}}),
        json!({"after_hours": {"enabled": true, "text": "  "}}),
        json!({"keywords": [{"keywords": [], "reply": "b"}]}),
        json!({"keywords": [{"keywords": ["a"], "reply": ""}]}),
        json!({"keywords": [{"keywords": ["a"], "reply": "b", "cooldown_minutes": 0}]}),
        json!({"keywords": [{"keywords": ["a"], "reply": "b", "match": "regex"}]}),
        json!({"keywords": [{"keywords": ["a"], "reply": "x".repeat(1001)}]}),
        json!({"keywords": "a"}),
    ] {
        s.put("/api/v1/auto-replies", Some(&admin.token), bad.clone())
            .await
            .expect_error(422, "validation_failed");
    }
    let r = s
        .raw(
            reqwest::Method::PUT,
            "/api/v1/auto-replies",
            Some(&admin.token),
            "{not json",
        )
        .await;
    r.expect_error(400, "bad_request");
    s.get("/api/v1/mentions?limit=0", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
    s.get("/api/v1/mentions?unread=maybe", Some(&agent.token))
        .await
        .expect_error(400, "bad_request");
    s.get("/api/v1/mentions", None)
        .await
        .expect_error(401, "unauthorized");
    // Nothing was saved by the refused attempts.
    let got = s.get("/api/v1/auto-replies", Some(&admin.token)).await;
    assert!(
        got.expect(200)["rules"]["keywords"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

both!(keyword_reply_with_a_script, keyword_script_body);
async fn keyword_script_body(backend: Backend) {
    use kefu_core::scripts::{NewScript, NewScriptCategory};
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Boss").await;
    let category = s
        .store
        .create_script_category(
            s.shop.id,
            &NewScriptCategory {
                name: "自动回复测试".into(),
                position: None,
            },
        )
        .await
        .unwrap();
    let script = |body: &str, title: &str| NewScript {
        category_id: category.id,
        title: title.into(),
        body: body.into(),
        shortcut: None,
        tags: vec![],
    };
    let shop_wide = s
        .store
        .create_script(
            s.shop.id,
            None,
            &script("{customer.name}您好，满99包邮哦～", "包邮"),
        )
        .await
        .unwrap();
    let needs_order = s
        .store
        .create_script(s.shop.id, None, &script("您的订单{order.no}已发出", "订单"))
        .await
        .unwrap();
    let personal = s
        .store
        .create_script(s.shop.id, Some(admin.id()), &script("私人话术", "私人"))
        .await
        .unwrap();
    let rules = json!({"keywords": [
        {"keywords": ["运费"], "script_id": shop_wide.id},
        {"keywords": ["订单"], "script_id": needs_order.id, "reply": "订单问题请稍等，客服马上为您查询"},
    ]});
    s.put("/api/v1/auto-replies", Some(&admin.token), rules)
        .await
        .expect(200);

    let session = s
        .post("/api/v1/widget/sessions", None, json!({"name": "林小雨"}))
        .await
        .expect(201)
        .clone();
    let shopper = Shopper {
        token: session["visitor_token"].as_str().unwrap().to_owned(),
        customer_id: session["customer_id"].as_i64().unwrap(),
    };
    let cid = s.shopper_send(&shopper, "运费多少").await["conversation_id"]
        .as_i64()
        .unwrap();
    expect_bot_replies(&s, &admin, cid, "林小雨您好，满99包邮哦～", 1).await;
    // A script whose variable has no value here falls back to the rule's text, never `{order.no}`.
    s.shopper_send(&shopper, "我的订单呢").await;
    expect_bot_replies(&s, &admin, cid, "订单问题请稍等，客服马上为您查询", 1).await;

    // Only shop-wide scripts of this shop may be named.
    for id in [personal.id, 999_999_999] {
        let bad = json!({"keywords": [{"keywords": ["x"], "script_id": id}]});
        s.put("/api/v1/auto-replies", Some(&admin.token), bad)
            .await
            .expect_error(422, "validation_failed");
    }
}
