//! Tenancy and visibility: other shops, other shoppers, colleagues' conversations.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::json;

both!(other_shop, other_shop_body);
async fn other_shop_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop_b = s.create_shop("shop-b").await;
    let admin_a = s.agent(s.shop.id, Role::Admin, "Admin A").await;
    let agent_a = s.agent(s.shop.id, Role::Agent, "Agent A").await;
    let admin_b = s.agent(shop_b.id, Role::Admin, "Admin B").await;
    let agent_b = s.agent(shop_b.id, Role::Agent, "Agent B").await;
    let mut ws_b = s.agent_ws(&admin_b).await;

    let shopper_a = s.shopper().await;
    let cid = s.shopper_send(&shopper_a, "shop A secret").await["conversation_id"]
        .as_i64()
        .unwrap();
    let shopper_b = s.shopper_of(Some("shop-b")).await;
    let cid_b = s.shopper_send(&shopper_b, "shop B question").await["conversation_id"]
        .as_i64()
        .unwrap();

    for b in [&admin_b, &agent_b] {
        let t = Some(b.token.as_str());
        let base = format!("/api/v1/conversations/{cid}");
        s.get(&base, t).await.expect_error(404, "not_found");
        s.get(&format!("{base}/messages"), t)
            .await
            .expect_error(404, "not_found");
        s.post(
            &format!("{base}/messages"),
            t,
            json!({"body": "hijack", "client_msg_id": format!("h-{}", unique())}),
        )
        .await
        .expect_error(404, "not_found");
        s.post(
            &format!("{base}/messages"),
            t,
            json!({"body": "hijack", "client_msg_id": "p", "private": true}),
        )
        .await
        .expect_error(404, "not_found");
        s.post(&format!("{base}/assign"), t, json!({"agent_id": b.id()}))
            .await
            .expect_error(404, "not_found");
        s.post(&format!("{base}/status"), t, json!({"status": "resolved"}))
            .await
            .expect_error(404, "not_found");
        s.post(&format!("{base}/read"), t, json!({"seq": 1}))
            .await
            .expect_error(404, "not_found");
        for q in ["", "?assignee=all", "?assignee=unassigned", "?status=open"] {
            let list = s.conversations(b, q).await;
            assert!(
                list.iter().all(|c| c["id"] != cid),
                "shop B lists shop A's conversation: {list:#?}"
            );
        }
        let agents = s.get("/api/v1/agents", t).await.expect(200).clone();
        assert!(
            agents["agents"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["id"] != admin_a.id() && a["id"] != agent_a.id())
        );
    }
    // Nothing of shop A changed.
    let msgs = s.agent_messages(&admin_a, cid, 0).await;
    assert!(msgs.iter().all(|m| m["body"] != "hijack"));
    assert_eq!(s.conversation(&admin_a, cid).await["status"], "open");
    // Shop A can't reach shop B either, nor assign to shop B's agents or teams.
    s.get(
        &format!("/api/v1/conversations/{cid_b}"),
        Some(&admin_a.token),
    )
    .await
    .expect_error(404, "not_found");
    let assign = format!("/api/v1/conversations/{cid}/assign");
    s.post(
        &assign,
        Some(&admin_a.token),
        json!({"agent_id": agent_b.id()}),
    )
    .await
    .expect_error(404, "not_found");
    let team_b = s.default_team(shop_b.id).await;
    s.post(&assign, Some(&admin_a.token), json!({"team": team_b.id}))
        .await
        .expect_error(404, "not_found");
    let c = s.conversation(&admin_a, cid).await;
    assert!(
        c["team"]["id"] != team_b.id,
        "conversation moved to another shop's team: {c}"
    );
    // Shop B's socket saw only shop B's conversation.
    for e in ws_b.drain(QUIET).await {
        let id = e["conversation_id"]
            .as_i64()
            .or(e["conversation"]["id"].as_i64());
        assert!(
            id.is_none() || id == Some(cid_b),
            "shop B's socket got a foreign event: {e}"
        );
        assert!(!e.to_string().contains("shop A secret"), "{e}");
    }
}

both!(shopper_sees_only_own, shopper_sees_only_own_body);
async fn shopper_sees_only_own_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    let alice = s.shopper().await;
    let bob = s.shopper().await;
    let cid_a = s.shopper_send(&alice, "alice here").await["conversation_id"]
        .as_i64()
        .unwrap();
    let mut bob_ws = s.shopper_ws(&bob).await;
    // Bob has no conversation yet: nothing of Alice's.
    let h = s.shopper_history(&bob, 0).await;
    assert!(h["conversation_id"].is_null(), "{h}");
    assert_eq!(h["messages"], json!([]));
    s.agent_send(&agent, cid_a, "reply to alice", false).await;
    let cid_b = s.shopper_send(&bob, "bob here").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert_ne!(cid_a, cid_b);
    let h = s.shopper_history(&bob, 0).await;
    assert_eq!(h["conversation_id"], cid_b);
    assert!(
        h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["conversation_id"] == cid_b),
        "{h}"
    );
    assert!(!h.to_string().contains("alice"), "{h}");
    for e in bob_ws.drain(QUIET).await {
        assert!(
            !e.to_string().contains("alice"),
            "Alice's events on Bob's socket: {e}"
        );
        if let Some(id) = e["conversation_id"]
            .as_i64()
            .or(e["conversation"]["id"].as_i64())
        {
            assert_eq!(id, cid_b, "{e}");
        }
    }
    // Bob's reads and typing never touch Alice's conversation.
    s.post("/api/v1/widget/read", Some(&bob.token), json!({"seq": 99}))
        .await;
    let c = s.conversation(&agent, cid_a).await;
    assert_eq!(c["customer_read_seq"], 0, "{c}");
    // A shopper token of shop B never resumes into shop A.
    s.create_shop("other").await;
    let r = s
        .post(
            "/api/v1/widget/sessions",
            Some(&alice.token),
            json!({"shop": "other"}),
        )
        .await;
    assert!(r.expect(201)["customer_id"].as_i64().is_some());
    assert_ne!(r.body["customer_id"], alice.customer_id);
    // The same shop: a returning shopper keeps their history.
    let r = s
        .post("/api/v1/widget/sessions", Some(&alice.token), json!({}))
        .await;
    assert_eq!(r.expect(200)["customer_id"], alice.customer_id);
}

both!(colleagues_conversation, colleagues_body);
async fn colleagues_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "A1").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "A2").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();
    // Unassigned: every agent sees it.
    assert!(
        s.conversations(&a2, "")
            .await
            .iter()
            .any(|c| c["id"] == cid)
    );
    s.conversation(&a2, cid).await;
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/assign"),
            Some(&admin.token),
            json!({"agent_id": a1.id()}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["assignee_id"], a1.id());

    let t = Some(a2.token.as_str());
    let base = format!("/api/v1/conversations/{cid}");
    s.get(&base, t).await.expect_error(404, "not_found");
    s.get(&format!("{base}/messages"), t)
        .await
        .expect_error(404, "not_found");
    s.post(
        &format!("{base}/messages"),
        t,
        json!({"body": "x", "client_msg_id": "x"}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(&format!("{base}/assign"), t, json!({"agent_id": a2.id()}))
        .await
        .expect_error(404, "not_found");
    s.post(&format!("{base}/status"), t, json!({"status": "resolved"}))
        .await
        .expect_error(404, "not_found");
    s.post(&format!("{base}/read"), t, json!({"seq": 1}))
        .await
        .expect_error(404, "not_found");
    for q in ["", "?assignee=all", "?assignee=me", "?status=open"] {
        assert!(
            s.conversations(&a2, q).await.iter().all(|c| c["id"] != cid),
            "a2 lists a1's conversation ({q})"
        );
    }
    // The assignee, supervisors and admins see it.
    for who in [&a1, &sup, &admin] {
        assert_eq!(s.conversation(who, cid).await["assignee_id"], a1.id());
        assert!(
            s.conversations(who, "")
                .await
                .iter()
                .any(|c| c["id"] == cid)
        );
        assert!(!s.agent_messages(who, cid, 0).await.is_empty());
    }
    assert!(
        s.conversations(&a1, "?assignee=me")
            .await
            .iter()
            .any(|c| c["id"] == cid)
    );
    assert!(
        s.conversations(&sup, "?assignee=me")
            .await
            .iter()
            .all(|c| c["id"] != cid)
    );
    assert!(
        s.conversations(&sup, "?assignee=unassigned")
            .await
            .iter()
            .all(|c| c["id"] != cid)
    );
}
