//! Presence and requeue (issue 19): the shop's presence settings, the agent's remembered choice
//! (online, busy, away with a note) restored at sign-in, idle agents set away and back on
//! activity, agents whose last console socket is gone set offline, and the waiting chats of an
//! absent agent handed on after the grace period with the shopper told — every automatic change
//! recorded as a KPI event with its cause. The presence scan is driven by the test
//! (`PresenceService::scan`), with settings of a second or so.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use kefu_core::presence::AGENT_AWAY_NOTICE;
use serde_json::{Value, json};
use std::time::Duration;

/// Saves the shop's presence settings as its admin.
async fn settings(s: &TestServer, admin: &Agent, away: i64, offline: i64, grace: i64) {
    s.put(
        "/api/v1/settings/presence",
        Some(&admin.token),
        json!({
            "away_after_seconds": away,
            "offline_after_seconds": offline,
            "requeue_grace_seconds": grace,
            "requeue_target": "teammate",
        }),
    )
    .await
    .expect(200);
}

async fn me(s: &TestServer, agent: &Agent) -> Value {
    s.get("/api/v1/me", Some(&agent.token)).await.expect(200)["user"].clone()
}

/// Polls `/me` until the status is `status` (changes made by socket frames are asynchronous).
async fn until_status(s: &TestServer, agent: &Agent, status: &str) -> Value {
    for _ in 0..50 {
        let user = me(s, agent).await;
        if user["status"] == status {
            return user;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} never became {status}: {}",
        agent.user.name,
        me(s, agent).await
    );
}

async fn scan(s: &TestServer) -> kefu_service::presence::ScanReport {
    s.state.services.presence.scan().await.expect("scan")
}

/// The agent's presence events (value, detail), oldest first.
async fn presence_events(s: &TestServer, viewer: &Agent, agent: &Agent) -> Vec<(String, String)> {
    let v = s
        .get(
            &format!("/api/v1/agents/{}/events", agent.id()),
            Some(&viewer.token),
        )
        .await
        .expect(200)
        .clone();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["value"].as_str().unwrap_or("").to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

both!(settings_are_checked_and_admins_only, settings_body);
async fn settings_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    let defaults = s
        .get("/api/v1/settings/presence", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        defaults,
        json!({"away_after_seconds": 600, "offline_after_seconds": 60,
               "requeue_grace_seconds": 120, "requeue_target": "teammate"})
    );
    let good = json!({"away_after_seconds": 300, "offline_after_seconds": 30,
                      "requeue_grace_seconds": 90, "requeue_target": "queue"});
    s.put(
        "/api/v1/settings/presence",
        Some(&agent.token),
        good.clone(),
    )
    .await
    .expect_error(403, "forbidden");
    for (bad, field) in [
        (json!({"away_after_seconds": -1}), "away_after_seconds"),
        (json!({"away_after_seconds": 28_801}), "away_after_seconds"),
        (json!({"offline_after_seconds": 0}), "offline_after_seconds"),
        (
            json!({"requeue_grace_seconds": 3601}),
            "requeue_grace_seconds",
        ),
    ] {
        let mut body = good.clone();
        body.as_object_mut()
            .unwrap()
            .extend(bad.as_object().unwrap().clone());
        let r = s
            .put("/api/v1/settings/presence", Some(&admin.token), body)
            .await;
        r.expect_error(422, "validation_failed");
        assert_eq!(r.body["error"]["field"], field, "{}", r.text);
    }
    let mut wrong_target = good.clone();
    wrong_target["requeue_target"] = json!("nobody");
    s.put(
        "/api/v1/settings/presence",
        Some(&admin.token),
        wrong_target,
    )
    .await
    .expect(422);
    // Nothing was changed by the refusals.
    assert_eq!(
        s.get("/api/v1/settings/presence", Some(&admin.token))
            .await
            .expect(200),
        &defaults
    );
    s.put(
        "/api/v1/settings/presence",
        Some(&admin.token),
        good.clone(),
    )
    .await
    .expect(200);
    assert_eq!(
        s.get("/api/v1/settings/presence", Some(&agent.token))
            .await
            .expect(200),
        &good
    );
    // Another shop keeps its own (the defaults).
    let other = s.create_shop("presence-other").await;
    let outsider = s.agent(other.id, Role::Admin, "别家店长").await;
    assert_eq!(
        s.get("/api/v1/settings/presence", Some(&outsider.token))
            .await
            .expect(200),
        &defaults
    );
    // A status and its note are checked too.
    let r = s
        .put(
            "/api/v1/me/status",
            Some(&agent.token),
            json!({"status": "lunch"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "status");
    let r = s
        .put(
            "/api/v1/me/status",
            Some(&agent.token),
            json!({"status": "away", "note": "一二三四五六七八九十一二三四五六七八九十一"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], "note");
    assert_eq!(me(&s, &agent).await["status"], "offline");
}

both!(sign_in_restores_the_last_choice, choice_body);
async fn choice_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    // The first sign-in: online.
    let r = s.login(&agent.user.email, PASSWORD).await;
    assert_eq!(r.expect(200)["user"]["status"], "online");
    assert_eq!(r.body["user"]["status_cause"], "login");
    // Busy with a note is the agent's choice.
    let r = s
        .put(
            "/api/v1/me/status",
            Some(&agent.token),
            json!({"status": "busy", "note": " 培训 "}),
        )
        .await;
    let user = r.expect(200)["user"].clone();
    assert_eq!(user["status"], "busy");
    assert_eq!(user["status_note"], "培训");
    // Signing out is offline, not a choice: the next sign-in restores busy with its note.
    let session = s.login(&agent.user.email, PASSWORD).await.expect(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post("/api/v1/auth/logout", Some(&session), json!({}))
        .await
        .expect(204);
    let after = me(&s, &agent).await;
    assert_eq!(after["status"], "offline");
    assert_eq!(after["status_cause"], "logout");
    let r = s.login(&agent.user.email, PASSWORD).await;
    let user = r.expect(200)["user"].clone();
    assert_eq!(user["status"], "busy", "{user}");
    assert_eq!(user["status_note"], "培训");
    // Each change is a KPI event with its cause.
    let events = presence_events(&s, &admin, &agent).await;
    assert_eq!(
        events,
        vec![
            ("online".into(), "login".into()),
            ("busy".into(), "manual:培训".into()),
            ("offline".into(), "logout".into()),
            ("busy".into(), "login:培训".into()),
        ]
    );
}

both!(idle_agents_go_away_and_come_back, idle_body);
async fn idle_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    settings(&s, &admin, 1, 3600, 3600).await;
    let mut ws = s.agent_ws(&agent).await;
    s.set_status(&agent, "online").await;
    assert_eq!(scan(&s).await.away, 0, "active just now");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let report = scan(&s).await;
    assert_eq!(report.away, 1);
    let e = ws
        .find(WAIT, |e| {
            e["type"] == "agent.status" && e["status"] == "away"
        })
        .await
        .expect("the console hears it is away");
    assert_eq!(e["cause"], "auto_idle");
    assert_eq!(e["agent_id"], agent.id());
    // Idle again: nothing more to do.
    assert_eq!(scan(&s).await, Default::default());
    // Activity in the console: back to the choice.
    ws.send(json!({"type": "activity"})).await;
    let back = until_status(&s, &agent, "online").await;
    assert_eq!(back["status_cause"], "activity");
    // A chosen away is never undone by activity, nor turned into auto_idle.
    s.put(
        "/api/v1/me/status",
        Some(&agent.token),
        json!({"status": "away", "note": "午休"}),
    )
    .await
    .expect(200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(scan(&s).await.away, 0);
    ws.send(json!({"type": "activity"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = me(&s, &agent).await;
    assert_eq!(still["status"], "away");
    assert_eq!(still["status_note"], "午休");
    let events = presence_events(&s, &admin, &agent).await;
    assert_eq!(
        events,
        vec![
            ("online".into(), "manual".into()),
            ("away".into(), "auto_idle".into()),
            ("online".into(), "activity".into()),
            ("away".into(), "manual:午休".into()),
        ]
    );
}

both!(a_gone_console_is_offline_after_its_seconds, gone_body);
async fn gone_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    settings(&s, &admin, 0, 1, 3600).await;
    let shopper = s.shopper().await;
    s.shopper_send(&shopper, "在吗").await;
    let mut shopper_ws = s.shopper_ws(&shopper).await;
    let ws = s.agent_ws(&agent).await;
    s.set_status(&agent, "online").await;
    // The admin watches with a console of their own (a socket changes no status by itself).
    let mut watcher = s.agent_ws(&admin).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // The console is open: the agent stays.
    let report = scan(&s).await;
    assert_eq!(report.offline, 0, "{report:?}");
    assert_eq!(me(&s, &agent).await["status"], "online");
    ws.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(scan(&s).await.offline, 0, "not gone long enough");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(scan(&s).await.offline, 1);
    let user = me(&s, &agent).await;
    assert_eq!(user["status"], "offline");
    assert_eq!(user["status_cause"], "socket_gone");
    let e = watcher
        .find(WAIT, |e| {
            e["type"] == "agent.status" && e["agent_id"] == agent.id() && e["status"] == "offline"
        })
        .await
        .expect("the other consoles hear it");
    assert_eq!(e["cause"], "socket_gone");
    // The shop has nobody taking chats any more: the widget hears it at once.
    let p = shopper_ws
        .find(WAIT, |e| {
            e["type"] == "shop.presence" && e["agents_online"] == false
        })
        .await
        .expect("the widget hears the last agent went");
    assert!(p["open_now"].is_boolean());
    // The console comes back: the agent's choice again, and the widget hears it.
    let _ws = s.agent_ws(&agent).await;
    let back = until_status(&s, &agent, "online").await;
    assert_eq!(back["status_cause"], "activity");
    shopper_ws
        .find(WAIT, |e| {
            e["type"] == "shop.presence" && e["agents_online"] == true
        })
        .await
        .expect("the widget hears an agent is back");
    // An agent who chose offline stays offline when a console opens.
    s.set_status(&agent, "offline").await;
    let _again = s.agent_ws(&agent).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(me(&s, &agent).await["status"], "offline");
}

both!(waiting_chats_of_an_absent_agent_are_handed_on, requeue_body);
async fn requeue_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let leaving = s.agent(s.shop.id, Role::Agent, "小李").await;
    let mate = s.agent(s.shop.id, Role::Agent, "小张").await;
    settings(&s, &admin, 0, 3600, 1).await;
    // Another shop's absent agent with a waiting chat keeps it (its grace is the default 120 s).
    let other = s.create_shop("presence-requeue-other").await;
    let outsider = s.agent(other.id, Role::Agent, "别家客服").await;
    s.set_status(&outsider, "online").await;
    let far = s.shopper_of(Some("presence-requeue-other")).await;
    let far_c = s.shopper_send(&far, "你好").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.set_status(&outsider, "away").await;

    let _leaving_ws = s.agent_ws(&leaving).await;
    s.set_status(&leaving, "online").await;
    let waiting = s.shopper().await;
    let answered = s.shopper().await;
    let c1 = s.shopper_send(&waiting, "耳机没声音").await["conversation_id"]
        .as_i64()
        .unwrap();
    let c2 = s.shopper_send(&answered, "发票怎么开").await["conversation_id"]
        .as_i64()
        .unwrap();
    for c in [c1, c2] {
        assert_eq!(s.conversation(&admin, c).await["assignee_id"], leaving.id());
    }
    s.agent_send(&leaving, c2, "您好，发票在订单页申请", false)
        .await;
    // A busy teammate gets nothing new …
    let mut mate_ws = s.agent_ws(&mate).await;
    s.put(
        "/api/v1/me/status",
        Some(&mate.token),
        json!({"status": "busy"}),
    )
    .await
    .expect(200);
    let mut shopper_ws = s.shopper_ws(&waiting).await;
    s.set_status(&leaving, "away").await;
    assert_eq!(scan(&s).await.released, 0, "within the grace");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // Two scans at once (two nodes): the chat moves once.
    let (a, b) = tokio::join!(scan(&s), scan(&s));
    assert_eq!(a.released + b.released, 1, "{a:?} {b:?}");
    let moved = s.conversation(&admin, c1).await;
    assert!(
        moved["assignee_id"].is_null(),
        "busy takes nothing: {moved}"
    );
    assert_eq!(moved["queue_position"], 1);
    // … and takes it once they are online again.
    s.set_status(&mate, "online").await;
    assert_eq!(s.conversation(&admin, c1).await["assignee_id"], mate.id());
    mate_ws
        .find(WAIT, |e| {
            e["type"] == "conversation.updated"
                && e["conversation"]["id"] == c1
                && e["conversation"]["assignee_id"] == mate.id()
        })
        .await
        .expect("the teammate sees the chat arrive");
    // The answered chat stays with its agent; the other shop's is untouched.
    assert_eq!(
        s.conversation(&admin, c2).await["assignee_id"],
        leaving.id()
    );
    assert_eq!(
        s.conversation(&outsider, far_c).await["assignee_id"],
        outsider.id()
    );
    // The shopper is told, in the chat.
    let notice = shopper_ws
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["body"] == AGENT_AWAY_NOTICE
        })
        .await
        .expect("the shopper hears the chat is handed on");
    assert_eq!(notice["message"]["sender_type"], "system");
    // The KPIs see the move from the agent to the queue (by nobody), then to the teammate.
    let events = s
        .get(
            &format!("/api/v1/conversations/{c1}/events"),
            Some(&admin.token),
        )
        .await
        .expect(200)["events"]
        .clone();
    let events = events.as_array().unwrap();
    let moved_at = events
        .iter()
        .position(|e| {
            e["kind"] == "transferred"
                && e["agent_id"].is_null()
                && e["previous_agent_id"] == leaving.id()
                && e["actor_id"].is_null()
        })
        .unwrap_or_else(|| panic!("no transfer to the queue: {events:?}"));
    assert!(
        events[moved_at..]
            .iter()
            .any(|e| e["kind"] == "assigned" && e["agent_id"] == mate.id()),
        "{events:?}"
    );
    // Idempotent: nothing more to move.
    assert_eq!(scan(&s).await.released, 0);
    let history = s.shopper_history(&waiting, 0).await;
    let notices = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == AGENT_AWAY_NOTICE)
        .count();
    assert_eq!(notices, 1, "{history}");
}

both!(an_offline_agents_waiting_chat_never_stays, offline_body);
async fn offline_body(backend: Backend) {
    // The demo's case: a chat waits with an agent who is offline (no console at all).
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let gone = s.agent(s.shop.id, Role::Agent, "张伟").await;
    let mate = s.agent(s.shop.id, Role::Agent, "李娜").await;
    settings(&s, &admin, 0, 3600, 0).await;
    let shopper = s.shopper().await;
    let c = s.shopper_send(&shopper, "在吗？").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.post(
        &format!("/api/v1/conversations/{c}/assign"),
        Some(&admin.token),
        json!({"agent_id": gone.id()}),
    )
    .await
    .expect(200);
    let _mate_ws = s.agent_ws(&mate).await;
    s.set_status(&mate, "online").await;
    assert_eq!(scan(&s).await.released, 1);
    assert_eq!(s.conversation(&admin, c).await["assignee_id"], mate.id());
}
