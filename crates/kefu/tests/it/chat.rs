//! Chat both ways, private notes, idempotent retries, reconnecting with `after_seq`.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::{Value, json};

both!(both_ways, chat_both_ways);
async fn chat_both_ways(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Li Na").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;

    let first = s.shopper_send(&shopper, "你好，耳机有货吗？").await;
    let cid = first["conversation_id"].as_i64().expect("conversation_id");
    assert_eq!(
        first["seq"], 2,
        "the greeting is seq 1, the shopper's first message seq 2"
    );

    let history = s.shopper_history(&shopper, 0).await;
    let msgs = history["messages"].as_array().unwrap();
    assert_eq!(
        msgs.len(),
        2,
        "agent online: greeting + message, no offline notice: {msgs:#?}"
    );
    assert_eq!(msgs[0]["sender_type"], "bot");
    assert_eq!(msgs[0]["seq"], 1);
    assert_eq!(msgs[1]["sender_type"], "customer");
    assert_eq!(msgs[1]["body"], "你好，耳机有货吗？");
    assert_eq!(msgs[1]["id"], first["id"]);

    let list = s.conversations(&agent, "").await;
    let c = list
        .iter()
        .find(|c| c["id"] == cid)
        .expect("the agent sees the new conversation");
    assert_eq!(
        c["assignee_id"],
        agent.id(),
        "routed to the only online agent"
    );
    assert_eq!(c["last_seq"], 2);
    assert_eq!(c["customer"]["id"], shopper.customer_id);

    let reply = s
        .agent_send(&agent, cid, "有的，今天下单今天发货", false)
        .await;
    assert_eq!(reply["seq"], 3);
    assert_eq!(reply["sender_type"], "agent");
    assert_eq!(reply["sender_id"], agent.id());
    assert_eq!(reply["conversation_id"], cid);
    s.shopper_send(&shopper, "好的，谢谢").await;
    s.agent_send(&agent, cid, "不客气", false).await;

    let history = s.shopper_history(&shopper, 0).await;
    let msgs = history["messages"].as_array().unwrap();
    assert_eq!(history["conversation_id"], cid);
    assert_eq!(msgs.len(), 5);
    assert_gap_free(msgs, 1);
    assert_eq!(msgs[2]["body"], "有的，今天下单今天发货");
    assert_eq!(msgs[4]["sender_type"], "agent");

    let agent_view = s.agent_messages(&agent, cid, 0).await;
    assert_eq!(agent_view.len(), 5);
    assert_gap_free(&agent_view, 1);
    let tail = s.agent_messages(&agent, cid, 3).await;
    assert_eq!(tail.len(), 2);
    assert_gap_free(&tail, 4);
}

both!(private_notes, private_notes_body);
async fn private_notes_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hello").await["conversation_id"]
        .as_i64()
        .unwrap();
    let mut ws = s.shopper_ws(&shopper).await;

    let note = s
        .agent_send(&agent, cid, "VIP customer, be nice", true)
        .await;
    assert_eq!(note["private"], true);
    let public = s
        .agent_send(&agent, cid, "Hi! How can I help?", false)
        .await;

    // The shopper's socket gets the public reply and never the note.
    let e = ws.next_event("message.created", WAIT).await;
    assert_eq!(
        e["message"]["id"], public["id"],
        "the first message on the shopper's socket must be the public one: {e}"
    );
    for e in ws.drain(QUIET).await {
        assert_ne!(
            e["message"]["private"], true,
            "private note leaked on the shopper socket: {e}"
        );
    }

    let agent_view = s.agent_messages(&agent, cid, 0).await;
    let stored = agent_view
        .iter()
        .find(|m| m["id"] == note["id"])
        .expect("agents see the note");
    assert_eq!(stored["private"], true);
    assert_eq!(stored["body"], "VIP customer, be nice");

    let shopper_view = s.shopper_history(&shopper, 0).await;
    let msgs = shopper_view["messages"].as_array().unwrap();
    assert!(
        msgs.iter()
            .all(|m| m["private"] != true && m["id"] != note["id"]),
        "note in shopper history: {msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m["id"] == public["id"]));
    // after_seq around the note's seq still hides it.
    let after = s
        .shopper_history(&shopper, note["seq"].as_i64().unwrap() - 1)
        .await;
    assert!(
        after["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"] != note["id"])
    );
}

both!(idempotent_retry, idempotent_retry_body);
async fn idempotent_retry_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;

    let a = s.shopper_send_raw(&shopper, "first", "retry-1").await;
    let a = a.expect(201).clone();
    let b = s.shopper_send_raw(&shopper, "first", "retry-1").await;
    let b = b.expect(200).clone();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["seq"], b["seq"]);
    assert_eq!(a["conversation_id"], b["conversation_id"]);
    let cid = a["conversation_id"].as_i64().unwrap();
    let count =
        |msgs: &[Value], cmid: &str| msgs.iter().filter(|m| m["client_msg_id"] == cmid).count();
    assert_eq!(count(&s.agent_messages(&agent, cid, 0).await, "retry-1"), 1);

    let body = json!({ "body": "reply", "client_msg_id": "agent-retry-1" });
    let x = s
        .agent_send_raw(&agent, cid, body.clone())
        .await
        .expect(201)
        .clone();
    let y = s
        .agent_send_raw(&agent, cid, body)
        .await
        .expect(200)
        .clone();
    assert_eq!(x["id"], y["id"]);
    assert_eq!(x["seq"], y["seq"]);
    assert_eq!(
        count(&s.agent_messages(&agent, cid, 0).await, "agent-retry-1"),
        1
    );

    // 20 concurrent retries of the same message: exactly one stored, one 201, the rest 200.
    let sends = (0..20).map(|_| s.shopper_send_raw(&shopper, "burst", "burst-1"));
    let answers = futures_util::future::join_all(sends).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert!(
        answers.iter().all(|r| r.status == 201 || r.status == 200),
        "{answers:#?}"
    );
    assert_eq!(created, 1, "exactly one 201: {answers:#?}");
    assert!(
        answers
            .iter()
            .all(|r| r.body["id"] == answers[0].body["id"]
                && r.body["seq"] == answers[0].body["seq"])
    );

    let body = json!({ "body": "agent burst", "client_msg_id": "agent-burst-1" });
    let sends = (0..20).map(|_| s.agent_send_raw(&agent, cid, body.clone()));
    let answers = futures_util::future::join_all(sends).await;
    assert_eq!(
        answers.iter().filter(|r| r.status == 201).count(),
        1,
        "{answers:#?}"
    );
    assert!(
        answers
            .iter()
            .all(|r| matches!(r.status, 200 | 201) && r.body["id"] == answers[0].body["id"])
    );

    let all = s.agent_messages(&agent, cid, 0).await;
    assert_eq!(count(&all, "burst-1"), 1);
    assert_eq!(count(&all, "agent-burst-1"), 1);
    assert_gap_free(&all, 1);

    // The same client_msg_id from a different sender is a different message.
    let other = s.shopper().await;
    s.shopper_send_raw(&other, "first", "retry-1")
        .await
        .expect(201);
}

both!(concurrent_first_message, concurrent_first_message_body);
async fn concurrent_first_message_body(backend: Backend) {
    // 20 concurrent retries of a shopper's *first* message (the one that creates the conversation).
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let shopper = s.shopper().await;
    let sends = (0..20).map(|_| s.shopper_send_raw(&shopper, "hello?", "first-1"));
    let answers = futures_util::future::join_all(sends).await;
    assert_eq!(
        answers.iter().filter(|r| r.status == 201).count(),
        1,
        "{answers:#?}"
    );
    assert!(
        answers
            .iter()
            .all(|r| matches!(r.status, 200 | 201) && r.body["id"] == answers[0].body["id"]),
        "{answers:#?}"
    );
    let cid = answers[0].body["conversation_id"].as_i64().unwrap();
    let all = s.agent_messages(&admin, cid, 0).await;
    assert_eq!(
        all.iter()
            .filter(|m| m["sender_type"] == "customer")
            .count(),
        1,
        "{all:#?}"
    );
    assert_eq!(
        all.iter().filter(|m| m["sender_type"] == "bot").count(),
        1,
        "one greeting: {all:#?}"
    );
    assert_gap_free(&all, 1);
    assert_eq!(s.conversations(&admin, "").await.len(), 1);
}

both!(reconnect_after_seq, reconnect_body);
async fn reconnect_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();

    let mut ws = s.shopper_ws(&shopper).await;
    let live = s.agent_send(&agent, cid, "live one", false).await;
    let e = ws.next_event("message.created", WAIT).await;
    assert_eq!(e["message"]["id"], live["id"]);
    let last_seen = e["message"]["seq"].as_i64().unwrap();
    ws.close().await;

    let m1 = s.agent_send(&agent, cid, "missed 1", false).await;
    let m2 = s.shopper_send(&shopper, "sent from another tab").await;
    let m3 = s.agent_send(&agent, cid, "missed 3", false).await;

    let missed = s.shopper_history(&shopper, last_seen).await;
    let msgs = missed["messages"].as_array().unwrap();
    let ids: Vec<&Value> = msgs.iter().map(|m| &m["id"]).collect();
    assert_eq!(
        ids,
        vec![&m1["id"], &m2["id"], &m3["id"]],
        "exactly the missed ones: {msgs:#?}"
    );
    assert_gap_free(msgs, last_seen + 1);

    // Reconnected: live again, nothing replayed twice.
    let mut ws = s.shopper_ws(&shopper).await;
    let m4 = s.agent_send(&agent, cid, "after reconnect", false).await;
    let e = ws.next_event("message.created", WAIT).await;
    assert_eq!(
        e["message"]["id"], m4["id"],
        "no replay of old messages on the socket: {e}"
    );
    assert_eq!(e["message"]["seq"].as_i64(), Some(last_seen + 4));
    let full = s.shopper_history(&shopper, 0).await;
    let msgs = full["messages"].as_array().unwrap();
    assert_gap_free(msgs, 1);
    let mut ids: Vec<i64> = msgs.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), msgs.len());
}

both!(concurrent_bursts_keep_counters_exact, concurrent_bursts);
/// Many shoppers writing at once into their open conversations: the writer stores such messages in
/// bulk (SQLite) or in parallel transactions (PostgreSQL). Seqs, unread counts, previews and
/// retries must come out exactly as if each message had been stored alone.
async fn concurrent_bursts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Supervisor, "Zhou").await;
    s.set_status(&agent, "online").await;
    let mut shoppers = Vec::new();
    for _ in 0..12 {
        let shopper = s.shopper().await;
        let first = s.shopper_send(&shopper, "第一条").await;
        shoppers.push((shopper, first["conversation_id"].as_i64().unwrap()));
    }
    const BURST: usize = 8;
    let mut sends = Vec::new();
    for (n, (shopper, _)) in shoppers.iter().enumerate() {
        for k in 0..BURST {
            let id = format!("burst-{n}-{k}");
            sends.push((shopper.clone(), format!("消息 {n}-{k}"), id.clone()));
            if k % 3 == 0 {
                // The same message again, racing its original.
                sends.push((shopper.clone(), format!("消息 {n}-{k}"), id));
            }
        }
    }
    let answers = futures_util::future::join_all(
        sends
            .iter()
            .map(|(shopper, body, id)| s.shopper_send_raw(shopper, body, id)),
    )
    .await;
    let mut by_id: std::collections::HashMap<&str, Vec<&Value>> = Default::default();
    for ((_, _, id), answer) in sends.iter().zip(&answers) {
        assert!(answer.status == 201 || answer.status == 200, "{answer:?}");
        by_id.entry(id.as_str()).or_default().push(&answer.body);
    }
    for (id, copies) in &by_id {
        let created = copies
            .iter()
            .map(|c| (&c["id"], &c["seq"]))
            .collect::<Vec<_>>();
        assert!(
            created.windows(2).all(|w| w[0] == w[1]),
            "{id}: a retry got a different message: {created:?}"
        );
    }
    for (shopper, cid) in &shoppers {
        let history = s.shopper_history(shopper, 0).await;
        let messages = history["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            2 + BURST,
            "greeting, first message, the burst once each"
        );
        assert_gap_free(messages, 1);
        let conversation = s.conversation(&agent, *cid).await;
        assert_eq!(conversation["last_seq"], (2 + BURST) as i64);
        assert_eq!(conversation["unread_count"], (1 + BURST) as i64);
        assert_eq!(
            conversation["last_message_preview"],
            messages.last().unwrap()["body"]
        );
    }
}

both!(late_retry_returns_the_original, late_retry);
/// A retry that arrives after newer messages (the client never saw the first answer) still finds
/// the original, on every storage path, and leaves no gap in the seqs after it.
async fn late_retry(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shopper = s.shopper().await;
    s.shopper_send(&shopper, "第一条").await;
    let original = s
        .shopper_send_raw(&shopper, "第二条", "late-1")
        .await
        .expect(201)
        .clone();
    s.shopper_send(&shopper, "第三条").await;
    s.shopper_send(&shopper, "第四条").await;
    let again = s.shopper_send_raw(&shopper, "第二条", "late-1").await;
    let again = again.expect(200);
    assert_eq!(again["id"], original["id"]);
    assert_eq!(again["seq"], original["seq"]);
    let next = s.shopper_send(&shopper, "第五条").await;
    let history = s.shopper_history(&shopper, 0).await;
    let messages = history["messages"].as_array().unwrap();
    assert_gap_free(messages, 1);
    assert_eq!(messages.last().unwrap()["seq"], next["seq"]);
    assert_eq!(messages.iter().filter(|m| m["body"] == "第二条").count(), 1);
}
