//! Routing and queueing, offline notices, assignment and transfer, conversation status.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::{Value, json};

both!(queue_until_online, queue_until_online_body);
async fn queue_until_online_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(config["agents_online"], false);
    assert_eq!(
        config["open_now"], true,
        "business hours are off by default"
    );
    let shopper = s.shopper().await;
    let mut ws_shopper = s.shopper_ws(&shopper).await;
    let sent = s.shopper_send(&shopper, "anyone?").await;
    let cid = sent["conversation_id"].as_i64().unwrap();

    let q = ws_shopper.next_event("queue.position", WAIT).await;
    assert_eq!(q["position"], 1);
    assert_eq!(q["conversation_id"], cid);
    let h = s.shopper_history(&shopper, 0).await;
    assert_eq!(h["queue_position"], 1);
    let msgs = h["messages"].as_array().unwrap();
    let kinds: Vec<&str> = msgs
        .iter()
        .map(|m| m["sender_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["bot", "customer", "system"],
        "greeting, message, offline notice: {msgs:#?}"
    );
    assert_gap_free(msgs, 1);
    assert_eq!(msgs[2]["body"], config["offline_message"]);
    assert_eq!(msgs[2]["private"], false);
    let c = s.conversation(&admin, cid).await;
    assert!(c["assignee_id"].is_null());
    assert_eq!(c["queue_position"], 1);

    // The agent comes online: the waiting conversation is theirs.
    let mut ws_agent = s.agent_ws(&agent).await;
    s.set_status(&agent, "online").await;
    let u = ws_agent
        .find(WAIT, |e| {
            e["type"] == "conversation.updated" && e["conversation"]["id"] == cid
        })
        .await;
    assert_eq!(
        u.expect("conversation.updated")["conversation"]["assignee_id"],
        agent.id()
    );
    let q = ws_shopper.next_event("queue.position", WAIT).await;
    assert_eq!(q["position"], 0);
    let u = ws_shopper.next_event("conversation.updated", WAIT).await;
    assert_eq!(u["conversation"]["assignee_name"], "Agent");
    assert!(
        u["conversation"].get("assignee_id").is_none(),
        "shoppers get the reduced view: {u}"
    );
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["assignee_id"], agent.id());
    assert!(c["queue_position"].is_null());
    assert_eq!(
        s.shopper_history(&shopper, 0).await["queue_position"],
        Value::Null
    );
    assert_eq!(
        s.get("/api/v1/widget/config", None).await.expect(200)["agents_online"],
        true
    );

    // With an agent online, a new conversation gets no offline notice.
    let other = s.shopper().await;
    s.shopper_send(&other, "hi").await;
    let kinds: Vec<String> = s.shopper_history(&other, 0).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sender_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["bot", "customer"]);
    // Away agents get nothing new.
    s.set_status(&agent, "away").await;
    let third = s.shopper().await;
    let cid3 = s.shopper_send(&third, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert!(s.conversation(&admin, cid3).await["assignee_id"].is_null());
}

both!(caps_and_fairness, caps_body);
async fn caps_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    settings["default_max_concurrent"] = json!(1);
    s.put("/api/v1/shop/settings", Some(&admin.token), settings)
        .await
        .expect(200);
    let a1 = s.agent(s.shop.id, Role::Agent, "A1").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "A2").await;
    s.set_status(&a1, "online").await;
    s.set_status(&a2, "online").await;

    let mut cids = Vec::new();
    let mut shoppers = Vec::new();
    for i in 0..3 {
        let sh = s.shopper().await;
        cids.push(
            s.shopper_send(&sh, &format!("shopper {i}")).await["conversation_id"]
                .as_i64()
                .unwrap(),
        );
        shoppers.push(sh);
    }
    let mut ws3 = s.shopper_ws(&shoppers[2]).await;
    let assignees: Vec<Value> = {
        let mut v = Vec::new();
        for cid in &cids {
            v.push(s.conversation(&admin, *cid).await["assignee_id"].clone());
        }
        v
    };
    assert!(
        !assignees[0].is_null() && !assignees[1].is_null(),
        "{assignees:?}"
    );
    assert_ne!(assignees[0], assignees[1], "one each (fewest open first)");
    assert!(assignees[2].is_null(), "the third waits: {assignees:?}");
    assert_eq!(s.conversation(&admin, cids[2]).await["queue_position"], 1);
    assert_eq!(
        s.shopper_history(&shoppers[2], 0).await["queue_position"],
        1
    );
    let agents = s
        .get("/api/v1/agents", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    for a in agents["agents"].as_array().unwrap() {
        if a["id"] == a1.id() || a["id"] == a2.id() {
            assert_eq!(a["open_count"], 1, "{a}");
        }
    }
    // A fourth waits behind the third.
    let fourth = s.shopper().await;
    let cid4 = s.shopper_send(&fourth, "shopper 3").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert_eq!(s.conversation(&admin, cid4).await["queue_position"], 2);
    let mut ws4 = s.shopper_ws(&fourth).await;

    // Resolving frees a slot: the oldest waiting goes to the freed agent, the next moves up.
    let freed = assignees[0].as_i64().unwrap();
    let who = if freed == a1.id() { &a1 } else { &a2 };
    let r = s
        .post(
            &format!("/api/v1/conversations/{}/status", cids[0]),
            Some(&who.token),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(r.expect(200)["conversation"]["status"], "resolved");
    let c3 = s.conversation(&admin, cids[2]).await;
    assert_eq!(c3["assignee_id"], freed, "{c3}");
    assert!(c3["queue_position"].is_null());
    assert_eq!(ws3.next_event("queue.position", WAIT).await["position"], 0);
    assert_eq!(ws4.next_event("queue.position", WAIT).await["position"], 1);
    assert_eq!(s.conversation(&admin, cid4).await["queue_position"], 1);

    // Raising the cap routes the rest at once.
    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    settings["default_max_concurrent"] = json!(5);
    s.put("/api/v1/shop/settings", Some(&admin.token), settings)
        .await
        .expect(200);
    assert!(!s.conversation(&admin, cid4).await["assignee_id"].is_null());
    assert_eq!(ws4.next_event("queue.position", WAIT).await["position"], 0);
}

both!(assign_and_status, assign_body);
async fn assign_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "王店长").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "李娜").await;
    let a2 = s.agent(s.shop.id, Role::Agent, "张伟").await;
    let after_sale = s.create_team(s.shop.id, "售后").await;
    let default_team = s.default_team(s.shop.id).await;
    let teams = s
        .get("/api/v1/teams", Some(&a1.token))
        .await
        .expect(200)
        .clone();
    assert!(
        teams["teams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "售后" && t["id"] == after_sale.id)
    );
    s.set_status(&a1, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "我要退货").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert_eq!(s.conversation(&admin, cid).await["assignee_id"], a1.id());
    let path = format!("/api/v1/conversations/{cid}/assign");

    // To another agent, with a note: stored as a private system message.
    let r = s
        .post(
            &path,
            Some(&a1.token),
            json!({"agent_id": a2.id(), "note": "客户要退货，请跟进"}),
        )
        .await;
    let c = r.expect(200)["conversation"].clone();
    assert_eq!(c["assignee_id"], a2.id());
    assert_eq!(c["assignee_name"], "张伟");
    let msgs = s.agent_messages(&admin, cid, 0).await;
    // The colleagues' note, then the shopper's public notice of the transfer.
    let note = &msgs[msgs.len() - 2];
    assert_eq!(note["sender_type"], "system");
    assert_eq!(note["private"], true);
    let told = msgs.last().unwrap();
    assert_eq!(told["private"], false);
    assert!(told["body"].as_str().unwrap().contains("张伟"), "{told}");
    assert!(
        note["body"]
            .as_str()
            .unwrap()
            .contains("客户要退货，请跟进"),
        "{note}"
    );
    assert_gap_free(&msgs, 1);
    let shopper_view = s.shopper_history(&shopper, 0).await;
    assert!(
        shopper_view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["private"] != true && m["id"] != note["id"])
    );
    // a1 lost it.
    s.get(&format!("/api/v1/conversations/{cid}"), Some(&a1.token))
        .await
        .expect_error(404, "not_found");

    // To a team by name (nobody of 售后 online: it waits in that team's queue).
    let r = s
        .post(&path, Some(&admin.token), json!({"team": "售后"}))
        .await;
    let c = r.expect(200)["conversation"].clone();
    assert_eq!(c["team"]["id"], after_sale.id);
    assert_eq!(c["team"]["name"], "售后");
    assert!(c["assignee_id"].is_null(), "{c}");
    let msgs = s.agent_messages(&admin, cid, 0).await;
    assert_eq!(msgs[msgs.len() - 2]["private"], true);
    assert!(
        msgs.last().unwrap()["body"]
            .as_str()
            .unwrap()
            .contains("「售后」组")
    );
    // A 售后 agent coming online takes it.
    let a3 = s
        .agent_in(s.shop.id, Role::Agent, "陈静", Some(after_sale.id))
        .await;
    s.set_status(&a3, "online").await;
    assert_eq!(s.conversation(&admin, cid).await["assignee_id"], a3.id());

    // To a team by id (back to the default team, where a1 is online).
    let r = s
        .post(
            &path,
            Some(&admin.token),
            json!({"team": default_team.id, "note": "转回售前"}),
        )
        .await;
    let c = r.expect(200)["conversation"].clone();
    assert_eq!(c["team"]["id"], default_team.id);
    let c = s.conversation(&admin, cid).await;
    assert_eq!(
        c["assignee_id"],
        a1.id(),
        "routed to the default team's online agent: {c}"
    );
    let msgs = s.agent_messages(&admin, cid, 0).await;
    assert_eq!(
        msgs.iter()
            .filter(|m| m["sender_type"] == "system" && m["private"] == true)
            .count(),
        3
    );
    assert_gap_free(&msgs, 1);

    // Status: pending, resolved, reopened; unknown → 422.
    let status = format!("/api/v1/conversations/{cid}/status");
    for st in ["pending", "resolved", "open", "resolved"] {
        let r = s
            .post(&status, Some(&admin.token), json!({"status": st}))
            .await;
        assert_eq!(r.expect(200)["conversation"]["status"], st);
        assert_eq!(s.conversation(&admin, cid).await["status"], st);
    }
    s.post(&status, Some(&admin.token), json!({"status": "closed"}))
        .await
        .expect_error(422, "validation_failed");
    s.post(&status, Some(&admin.token), json!({"status": 1}))
        .await;
    assert_eq!(
        s.conversations(&admin, "?status=resolved")
            .await
            .iter()
            .filter(|c| c["id"] == cid)
            .count(),
        1
    );
    assert!(
        s.conversations(&admin, "?status=open")
            .await
            .iter()
            .all(|c| c["id"] != cid)
    );

    // The shopper writes again: the conversation is open again and seqs continue.
    let m = s.shopper_send(&shopper, "还有个问题").await;
    let c = s
        .conversation(&admin, m["conversation_id"].as_i64().unwrap())
        .await;
    assert_eq!(c["status"], "open");
    assert_gap_free(&s.agent_messages(&admin, cid, 0).await, 1);
    // The shopper's view skips the private notes but stays in seq order.
    let h = s.shopper_history(&shopper, 0).await;
    let seqs: Vec<i64> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seqs.last().copied(), m["seq"].as_i64());
}

both!(per_agent_cap, per_agent_cap_body);
async fn per_agent_cap_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let a1 = s.agent(s.shop.id, Role::Agent, "A1").await;
    let cap = |id: i64| format!("/api/v1/agents/{id}/cap");

    // Bad input names the field and changes nothing; agents may not set caps.
    for bad in [json!({"max_concurrent": 0}), json!({"max_concurrent": 101})] {
        let r = s.put(&cap(a1.id()), Some(&admin.token), bad).await;
        r.expect_error(422, "validation_failed");
        assert!(r.text.contains("max_concurrent"), "{}", r.text);
    }
    s.put(
        &cap(a1.id()),
        Some(&admin.token),
        json!({"max_concurrent": "two"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.put(&cap(a1.id()), Some(&a1.token), json!({"max_concurrent": 5}))
        .await
        .expect_error(403, "forbidden");
    s.put(
        &cap(999_999),
        Some(&admin.token),
        json!({"max_concurrent": 5}),
    )
    .await
    .expect_error(404, "not_found");
    let other = s.create_shop("caps-other").await;
    let stranger = s.agent(other.id, Role::Agent, "Stranger").await;
    s.put(
        &cap(stranger.id()),
        Some(&admin.token),
        json!({"max_concurrent": 5}),
    )
    .await
    .expect_error(404, "not_found");

    // A cap of 1: the second shopper waits while the shop default (8) would have let them in.
    let set = s
        .put(
            &cap(a1.id()),
            Some(&supervisor.token),
            json!({"max_concurrent": 1}),
        )
        .await;
    assert_eq!(set.expect(200)["user"]["max_concurrent"], 1);
    s.set_status(&a1, "online").await;
    let first = s.shopper().await;
    let c1 = s.shopper_send(&first, "first").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert_eq!(s.conversation(&admin, c1).await["assignee_id"], a1.id());
    let second = s.shopper().await;
    let c2 = s.shopper_send(&second, "second").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert!(s.conversation(&admin, c2).await["assignee_id"].is_null());
    let listed = s
        .get("/api/v1/agents", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    let me = listed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == a1.id())
        .cloned()
        .unwrap();
    assert_eq!(me["max_concurrent"], 1);

    // Back to the shop's default (null): the waiting shopper is routed at once.
    let mut ws2 = s.shopper_ws(&second).await;
    let reset = s
        .put(
            &cap(a1.id()),
            Some(&admin.token),
            json!({"max_concurrent": null}),
        )
        .await;
    assert!(reset.expect(200)["user"]["max_concurrent"].is_null());
    assert_eq!(s.conversation(&admin, c2).await["assignee_id"], a1.id());
    assert_eq!(ws2.next_event("queue.position", WAIT).await["position"], 0);
}

both!(prechat_form_settings, prechat_body);
async fn prechat_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        config["prechat"]["enabled"], false,
        "off by default: {config}"
    );

    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    // Enabled without any field: refused, naming the field, nothing changed.
    settings["prechat"] = json!({"enabled": true, "name": "off", "phone": "off", "email": "off"});
    let r = s
        .put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert!(r.text.contains("prechat"), "{}", r.text);
    settings["prechat"] =
        json!({"enabled": true, "name": "required", "phone": "optional", "email": "weird"});
    let r = s
        .put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.text);
    assert_eq!(
        s.get("/api/v1/widget/config", None).await.body["prechat"]["enabled"],
        false
    );

    settings["prechat"] =
        json!({"enabled": true, "name": "required", "phone": "optional", "email": "off"});
    let saved = s
        .put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await;
    assert_eq!(saved.expect(200)["prechat"]["name"], "required");
    let config = s
        .get("/api/v1/widget/config", None)
        .await
        .expect(200)
        .clone();
    assert_eq!(
        config["prechat"],
        json!({"enabled": true, "name": "required", "phone": "optional", "email": "off"})
    );
    // An update from an older client without `prechat` turns the form off rather than failing.
    let mut old = settings.clone();
    old.as_object_mut().unwrap().remove("prechat");
    let saved = s
        .put("/api/v1/shop/settings", Some(&admin.token), old)
        .await;
    assert_eq!(saved.expect(200)["prechat"]["enabled"], false);

    // What the form sends: a session with the shopper's name and phone fills the profile; a bad
    // phone is refused with the field named.
    let r = s
        .post(
            "/api/v1/widget/sessions",
            None,
            json!({"name": "陈女士", "phone": "not a phone"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert!(r.text.contains("phone"), "{}", r.text);
    let session = s
        .post(
            "/api/v1/widget/sessions",
            None,
            json!({"name": "陈女士", "phone": "13912345678"}),
        )
        .await;
    let customer_id = session.expect(201)["customer_id"].as_i64().unwrap();
    let profile = s
        .get(
            &format!("/api/v1/customers/{customer_id}"),
            Some(&admin.token),
        )
        .await;
    let profile = profile.expect(200).clone();
    assert!(profile.to_string().contains("陈女士"), "{profile}");
    assert!(profile.to_string().contains("13912345678"), "{profile}");
}

both!(
    a_routing_failure_after_the_commit_still_answers_201,
    routing_failure_after_commit_body
);
/// The first message of a conversation is answered 201 once it is stored: routing runs after the
/// commit, and when it fails the message stays stored, the failure is only logged, and routing is
/// retried until the database takes the assignment again.
async fn routing_failure_after_commit_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    // From here on the database refuses to assign a conversation (routing's write); storing a
    // shopper's message does not assign, so it still works.
    s.execute_sql(
        &[
            "CREATE TRIGGER kefu_it_no_routing BEFORE UPDATE OF assignee_id ON conversations \
           WHEN NEW.assignee_id IS NOT NULL BEGIN SELECT RAISE(ABORT, 'routing is down'); END",
        ],
        &[
            "CREATE FUNCTION kefu_it_no_routing() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'routing is down'; END $$",
            "CREATE TRIGGER kefu_it_no_routing BEFORE UPDATE OF assignee_id ON conversations \
             FOR EACH ROW WHEN (NEW.assignee_id IS NOT NULL) EXECUTE FUNCTION kefu_it_no_routing()",
        ],
    )
    .await;
    let shopper = s.shopper().await;
    let sent = s.shopper_send(&shopper, "is anyone there?").await;
    let cid = sent["conversation_id"].as_i64().unwrap();
    let history = s.shopper_history(&shopper, 0).await;
    let bodies: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"is anyone there?"), "{history}");
    let c = s.conversation(&agent, cid).await;
    assert!(c["assignee_id"].is_null(), "routing could not assign: {c}");

    // The database takes assignments again: a retry places the conversation.
    s.execute_sql(
        &["DROP TRIGGER kefu_it_no_routing"],
        &["DROP TRIGGER kefu_it_no_routing ON conversations"],
    )
    .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let c = s.conversation(&agent, cid).await;
        if c["assignee_id"] == agent.id() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "routing was never retried: {c}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
