//! Live delivery over WebSocket: new conversations, messages, typing, read marks, and who may hear.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::{Value, json};

fn conversation_of(e: &Value) -> Option<i64> {
    e["conversation_id"]
        .as_i64()
        .or(e["conversation"]["id"].as_i64())
}

both!(delivery, delivery_body);
async fn delivery_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Li Na").await;
    s.set_status(&agent, "online").await;
    let shop_b = s.create_shop("shop-b").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "Admin B").await;
    let mut ws_agent = s.agent_ws(&agent).await;
    let mut ws_b = s.agent_ws(&admin_b).await;
    let shopper = s.shopper().await;
    let mut ws_shopper = s.shopper_ws(&shopper).await;

    let sent = s.shopper_send(&shopper, "在吗？").await;
    let cid = sent["conversation_id"].as_i64().unwrap();
    let created = ws_agent.next_event("conversation.created", WAIT).await;
    assert_eq!(created["conversation"]["id"], cid);
    assert_eq!(
        created["conversation"]["customer"]["id"],
        shopper.customer_id
    );
    let e = ws_agent
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["id"] == sent["id"]
        })
        .await;
    let e = e.expect("message.created for the shopper's message");
    assert_eq!(e["conversation_id"], cid);
    assert_eq!(e["message"]["body"], "在吗？");
    assert_eq!(e["message"]["sender_type"], "customer");

    // Agent → shopper.
    let reply = s.agent_send(&agent, cid, "在的，请讲", false).await;
    let e = ws_shopper
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["sender_type"] == "agent"
        })
        .await;
    let e = e.expect("the shopper hears the reply");
    assert_eq!(e["message"]["id"], reply["id"]);
    assert_eq!(e["message"]["body"], "在的，请讲");

    // Typing both ways.
    ws_shopper.send(json!({"type": "typing"})).await;
    let t = ws_agent.next_event("typing", WAIT).await;
    assert_eq!(t["conversation_id"], cid);
    assert_eq!(t["sender_type"], "customer");
    ws_agent
        .send(json!({"type": "typing", "conversation_id": cid}))
        .await;
    let t = ws_shopper.next_event("typing", WAIT).await;
    assert_eq!(t["conversation_id"], cid);
    assert_eq!(t["sender_type"], "agent");
    assert_eq!(t["sender_name"], "Li Na");

    // Read marks both ways.
    // (An agent's own reply counts as read by agents, so mark a newer shopper message.)
    let later = s.shopper_send(&shopper, "耳机有黑色的吗？").await;
    let seq = later["seq"].as_i64().unwrap();
    assert_eq!(
        s.conversation(&agent, cid).await["unread_count"]
            .as_i64()
            .map(|n| n >= 1),
        Some(true)
    );
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/read"),
            Some(&agent.token),
            json!({"seq": seq}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["unread_count"], 0);
    let read = ws_shopper.next_event("read", WAIT).await;
    assert_eq!(read["reader_type"], "agent");
    assert_eq!(read["conversation_id"], cid);
    assert_eq!(read["seq"], seq);
    assert_eq!(s.shopper_history(&shopper, 0).await["agent_read_seq"], seq);
    let reply_seq = reply["seq"].as_i64().unwrap();
    ws_shopper
        .send(json!({"type": "read", "seq": reply_seq}))
        .await;
    let read = ws_agent.next_event("read", WAIT).await;
    assert_eq!(read["reader_type"], "customer");
    assert_eq!(read["seq"], reply_seq);
    assert_eq!(
        s.conversation(&agent, cid).await["customer_read_seq"],
        reply_seq
    );
    // And over HTTP.
    let r = s
        .post(
            "/api/v1/widget/read",
            Some(&shopper.token),
            json!({"seq": reply_seq}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        ws_agent.next_event("read", WAIT).await["reader_type"],
        "customer"
    );

    // The shopper's socket never carries agent-only events.
    for e in ws_shopper.drain(QUIET).await {
        assert!(
            !matches!(
                e["type"].as_str(),
                Some("conversation.created" | "agent.status")
            ),
            "{e}"
        );
    }
    // Shop B heard nothing of shop A.
    let foreign = ws_b.drain(QUIET).await;
    assert!(
        foreign.is_empty(),
        "shop B's agent received shop A's events: {foreign:#?}"
    );
}

both!(assigned_to_colleague, assigned_to_colleague_body);
async fn assigned_to_colleague_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "A1").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "A2").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&admin.token),
        json!({"agent_id": a1.id()}),
    )
    .await
    .expect(200);

    let mut ws1 = s.agent_ws(&a1).await;
    let mut ws2 = s.agent_ws(&a2).await;
    let mut ws_sup = s.agent_ws(&sup).await;
    let mut ws_shopper = s.shopper_ws(&shopper).await;
    let m = s.shopper_send(&shopper, "for a1 only").await;
    ws_shopper.send(json!({"type": "typing"})).await;
    for ws in [&mut ws1, &mut ws_sup] {
        let e = ws
            .find(WAIT, |e| {
                e["type"] == "message.created" && e["message"]["id"] == m["id"]
            })
            .await;
        assert!(e.is_some(), "assignee and supervisor hear the message");
        ws.next_event("typing", WAIT).await;
    }
    let leaked: Vec<Value> = ws2
        .drain(QUIET)
        .await
        .into_iter()
        .filter(|e| conversation_of(e) == Some(cid))
        .collect();
    assert!(
        leaked.is_empty(),
        "a2 received events of a1's conversation: {leaked:#?}"
    );

    // Reassigned to a2: a1 learns it left (conversation.updated), then hears nothing more.
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&sup.token),
        json!({"agent_id": a2.id()}),
    )
    .await
    .expect(200);
    let u = ws1.next_event("conversation.updated", WAIT).await;
    assert_eq!(u["conversation"]["assignee_id"], a2.id());
    let u = ws2.next_event("conversation.updated", WAIT).await;
    assert_eq!(u["conversation"]["assignee_id"], a2.id());
    let m = s.shopper_send(&shopper, "now for a2").await;
    let e = ws2
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["id"] == m["id"]
        })
        .await;
    assert!(e.is_some());
    let leaked: Vec<Value> = ws1
        .drain(QUIET)
        .await
        .into_iter()
        .filter(|e| e["type"] == "message.created" && conversation_of(e) == Some(cid))
        .collect();
    assert!(
        leaked.is_empty(),
        "a1 still hears a2's conversation: {leaked:#?}"
    );
}
