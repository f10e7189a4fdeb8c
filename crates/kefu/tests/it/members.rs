//! Members and teams in the product (issue 19): adding a member with a temporary password and
//! the forced change at first sign-in, edits and the admin rules, password resets, deactivation
//! (sessions and sockets end, chats go back to routing, the shopper is told), teams, each
//! member's own account, logout, the audit log, and who may call what.

use crate::both;
use crate::harness::*;
use kefu_core::members::REQUEUED_NOTICE;
use kefu_core::model::Role;
use serde_json::{Value, json};

fn email(name: &str) -> String {
    format!("{name}-{}@it.kefu", unique())
}

/// The field a refused request names.
fn field(r: &Resp) -> &str {
    r.body["error"]["field"].as_str().unwrap_or("")
}

async fn create_member(s: &TestServer, admin: &Agent, body: Value) -> Resp {
    s.post("/api/v1/members", Some(&admin.token), body).await
}

/// Signs in and answers the token and the user.
async fn sign_in(s: &TestServer, email: &str, password: &str) -> (String, Value) {
    let r = s.login(email, password).await;
    let v = r.expect(200);
    (v["token"].as_str().unwrap().to_owned(), v["user"].clone())
}

fn listed(agents: &Value, id: i64) -> Option<&Value> {
    agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
}

/// A live socket opened with `token`.
async fn socket(s: &TestServer, token: &str) -> Ws {
    s.ws(&format!("/api/v1/ws?token={token}"))
        .await
        .unwrap_or_else(|status| panic!("the socket was refused: {status}"))
}

/// The socket gets `session.ended` with `reason` and is closed right after.
async fn assert_session_ended(ws: &mut Ws, reason: &str) {
    let e = ws.next_event("session.ended", WAIT).await;
    assert_eq!(e["reason"], reason, "{e}");
    assert!(
        ws.next_any(WAIT).await.is_none(),
        "the socket stays open after session.ended"
    );
}

both!(a_new_member_must_choose_a_password, new_member_body);
async fn new_member_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let after_sale = s.create_team(s.shop.id, "售后").await;
    let default = s.default_team(s.shop.id).await;
    let address = email("xiao.wang");
    let r = create_member(
        &s,
        &admin,
        json!({"name": " 小王 ", "email": address.to_uppercase(), "role": "agent",
            "team_ids": [after_sale.id, default.id], "max_concurrent": 3}),
    )
    .await;
    let created = r.expect(201).clone();
    let temporary = created["temporary_password"].as_str().unwrap().to_owned();
    assert!(temporary.chars().count() >= 12, "{temporary}");
    let m = &created["member"];
    assert_eq!(m["name"], "小王");
    assert_eq!(m["email"], address, "stored lower case");
    assert_eq!(m["role"], "agent");
    assert_eq!(
        m["teams"],
        json!([{"id": after_sale.id, "name": "售后"}, {"id": default.id, "name": default.name}])
    );
    assert_eq!(
        m["team"]["id"], after_sale.id,
        "the first team is the main one"
    );
    assert_eq!(m["max_concurrent"], 3);
    assert_eq!(m["active"], true);
    assert_eq!(m["must_change_password"], true);
    assert!(!created.to_string().contains("argon2"), "{created}");
    let id = m["id"].as_i64().unwrap();
    let agents = s.get("/api/v1/agents", Some(&admin.token)).await;
    assert_eq!(listed(agents.expect(200), id).unwrap()["open_count"], 0);
    // Another admin request with the same password never shows it again.
    let again = s
        .get(&format!("/api/v1/members/{id}"), Some(&admin.token))
        .await;
    assert!(!again.text.contains(&temporary));

    // First sign-in: only "who am I", the password change and logout are open.
    let (token, user) = sign_in(&s, &address, &temporary).await;
    assert_eq!(user["must_change_password"], true);
    let (other_session, _) = sign_in(&s, &address, &temporary).await;
    let me = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.expect(200)["user"]["must_change_password"], true);
    for r in [
        s.get("/api/v1/conversations", Some(&token)).await,
        s.get("/api/v1/agents", Some(&token)).await,
        s.put(
            "/api/v1/me/status",
            Some(&token),
            json!({"status": "online"}),
        )
        .await,
        s.patch("/api/v1/me", Some(&token), json!({"name": "x"}))
            .await,
    ] {
        r.expect_error(403, "password_change_required");
    }
    assert!(
        matches!(s.ws(&format!("/api/v1/ws?token={token}")).await, Err(403)),
        "no live socket before the password is changed"
    );

    // The policy, each reason naming its field.
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    for (new, why) in [
        ("short1", "at least 8"),
        ("1234567890", "only digits"),
        (address.as_str(), "e-mail"),
        (temporary.as_str(), "differ"),
        ("Admin@2024", "too common"),
        ("woaini1314", "too common"),
    ] {
        let r = s
            .put("/api/v1/me/password", Some(&token), change(&temporary, new))
            .await;
        r.expect_error(422, "validation_failed");
        assert_eq!(field(&r), "new_password", "{}", r.text);
        assert!(r.text.contains(why), "{}", r.text);
    }
    let r = s
        .put(
            "/api/v1/me/password",
            Some(&token),
            change("not-the-password", "Fresh-pass-1"),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(field(&r), "current_password");
    let r = s
        .put(
            "/api/v1/me/password",
            Some(&token),
            change(&temporary, "Fresh-pass-1"),
        )
        .await;
    assert_eq!(r.expect(200)["user"]["must_change_password"], false);
    // This session goes on; the other one ended; the temporary password is gone.
    s.get("/api/v1/conversations", Some(&token))
        .await
        .expect(200);
    s.get("/api/v1/me", Some(&other_session))
        .await
        .expect_error(401, "unauthorized");
    s.login(&address, &temporary)
        .await
        .expect_error(401, "unauthorized");
    let (_, user) = sign_in(&s, &address, "Fresh-pass-1").await;
    assert_eq!(user["must_change_password"], false);
    socket(&s, &token).await;

    // Bad input names its field and stores nothing.
    let base = json!({"name": "小李", "email": email("li"), "role": "agent"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let other_shop = s.create_shop("members-other").await;
    let foreign_team = s.default_team(other_shop.id).await;
    for (body, status, code, name) in [
        (with("email", json!(address)), 409, "conflict", "email"),
        (
            with("email", json!("not-an-email")),
            422,
            "validation_failed",
            "email",
        ),
        (
            with("role", json!("boss")),
            422,
            "validation_failed",
            "role",
        ),
        (with("name", json!("  ")), 422, "validation_failed", "name"),
        (
            with("max_concurrent", json!(0)),
            422,
            "validation_failed",
            "max_concurrent",
        ),
        (
            with("team_ids", json!([foreign_team.id])),
            404,
            "not_found",
            "team_ids",
        ),
    ] {
        let r = create_member(&s, &admin, body.clone()).await;
        r.expect_error(status, code);
        assert_eq!(field(&r), name, "{body}: {}", r.text);
    }
    let all = s.get("/api/v1/agents", Some(&admin.token)).await;
    assert_eq!(
        all.expect(200)["agents"].as_array().unwrap().len(),
        2,
        "nothing stored by refused requests"
    );
}

both!(admins_edit_members_within_the_rules, edit_body);
async fn edit_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let second_admin = s.agent(s.shop.id, Role::Admin, "副店长").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let member = s.agent(s.shop.id, Role::Agent, "小王").await;
    let colleague = s.agent(s.shop.id, Role::Agent, "小李").await;
    let night = s.create_team(s.shop.id, "夜班").await;
    let path = format!("/api/v1/members/{}", member.id());

    // The member's live socket, entitled as an agent: a colleague's conversation is not theirs.
    let mut ws = s.agent_ws(&member).await;
    s.set_status(&colleague, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "在吗").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        s.conversation(&admin, cid).await["assignee_id"],
        colleague.id()
    );
    ws.drain(QUIET).await;

    let r = s
        .patch(
            &path,
            Some(&admin.token),
            json!({"name": "王小明", "role": "supervisor", "team_ids": [night.id], "max_concurrent": 5}),
        )
        .await;
    let m = r.expect(200)["member"].clone();
    assert_eq!(m["name"], "王小明");
    assert_eq!(m["role"], "supervisor");
    assert_eq!(m["teams"], json!([{"id": night.id, "name": "夜班"}]));
    assert_eq!(m["max_concurrent"], 5);
    let e = ws.next_event("member.updated", WAIT).await;
    assert_eq!(e["member_id"], member.id());
    // The open socket now sees the whole shop, as a supervisor does.
    s.shopper_send(&shopper, "还在吗").await;
    let e = ws.next_event("message.created", WAIT).await;
    assert_eq!(e["conversation_id"], cid);
    // null puts the cap back to the shop's default; an absent field leaves it.
    let r = s
        .patch(&path, Some(&admin.token), json!({"max_concurrent": null}))
        .await;
    assert!(r.expect(200)["member"]["max_concurrent"].is_null());
    let r = s
        .patch(&path, Some(&admin.token), json!({"name": "王小明"}))
        .await;
    assert!(r.expect(200)["member"]["max_concurrent"].is_null());

    for (body, name) in [
        (json!({}), ""),
        (json!({"role": "owner"}), "role"),
        (json!({"max_concurrent": 101}), "max_concurrent"),
        (json!({"name": ""}), "name"),
        (json!({"team_ids": [0]}), "team_ids"),
    ] {
        let r = s.patch(&path, Some(&admin.token), body.clone()).await;
        r.expect_error(422, "validation_failed");
        assert_eq!(field(&r), name, "{body}");
    }
    for who in [&sup, &colleague] {
        s.patch(&path, Some(&who.token), json!({"name": "x"}))
            .await
            .expect_error(403, "forbidden");
    }
    // An admin never demotes themselves; a name of their own is fine.
    let own = format!("/api/v1/members/{}", admin.id());
    let r = s
        .patch(&own, Some(&admin.token), json!({"role": "agent"}))
        .await;
    r.expect_error(409, "conflict");
    assert!(r.text.contains("your own role"), "{}", r.text);
    s.patch(&own, Some(&admin.token), json!({"name": "老板"}))
        .await
        .expect(200);

    // Two admins demoting each other at once: the shop keeps an admin.
    let second_path = format!("/api/v1/members/{}", second_admin.id());
    let a = s.patch(&second_path, Some(&admin.token), json!({"role": "agent"}));
    let b = s.patch(&own, Some(&second_admin.token), json!({"role": "agent"}));
    let (a, b) = tokio::join!(a, b);
    assert!(
        !(a.status == 200 && b.status == 200),
        "both admins demoted: {} / {}",
        a.text,
        b.text
    );
    let agents = s.get("/api/v1/agents", Some(&sup.token)).await;
    let admins = agents.expect(200)["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["role"] == "admin" && a["active"] == true)
        .count();
    assert!(admins >= 1, "{}", agents.text);
}

both!(a_password_reset_ends_every_session, reset_body);
async fn reset_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let member = s.agent(s.shop.id, Role::Agent, "小王").await;
    let mut ws = s.agent_ws(&member).await;
    let path = format!("/api/v1/members/{}/password-reset", member.id());
    s.post(&path, Some(&member.token), json!({}))
        .await
        .expect_error(403, "forbidden");
    let r = s.post(&path, Some(&admin.token), json!({})).await;
    let temporary = r.expect(200)["temporary_password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.body["member"]["must_change_password"], true);
    assert_session_ended(&mut ws, "password_reset").await;
    s.get("/api/v1/me", Some(&member.token))
        .await
        .expect_error(401, "unauthorized");
    s.login(&member.user.email, PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    let (_, user) = sign_in(&s, &member.user.email, &temporary).await;
    assert_eq!(user["must_change_password"], true);
    // Another shop's member is not found.
    let other = s.create_shop("reset-other").await;
    let stranger = s.agent(other.id, Role::Agent, "外人").await;
    s.post(
        &format!("/api/v1/members/{}/password-reset", stranger.id()),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    s.get("/api/v1/me", Some(&stranger.token)).await.expect(200);
}

both!(deactivation_signs_out_and_hands_chats_back, deactivate_body);
async fn deactivate_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let leaving = s.agent(s.shop.id, Role::Agent, "小李").await;
    let mate = s.agent(s.shop.id, Role::Agent, "小张").await;
    // The teammate takes one chat at a time.
    s.patch(
        &format!("/api/v1/members/{}", mate.id()),
        Some(&admin.token),
        json!({"max_concurrent": 1}),
    )
    .await
    .expect(200);
    s.set_status(&leaving, "online").await;
    let first = s.shopper().await;
    let second = s.shopper().await;
    let c1 = s.shopper_send(&first, "耳机没声音").await["conversation_id"]
        .as_i64()
        .unwrap();
    let c2 = s.shopper_send(&second, "发票怎么开").await["conversation_id"]
        .as_i64()
        .unwrap();
    for c in [c1, c2] {
        assert_eq!(s.conversation(&admin, c).await["assignee_id"], leaving.id());
    }
    s.agent_send(&leaving, c1, "您好，我来看一下", false).await;
    s.set_status(&mate, "online").await;
    let mut leaving_ws = s.agent_ws(&leaving).await;
    let mut shopper_ws = s.shopper_ws(&first).await;

    let path = format!("/api/v1/members/{}/deactivate", leaving.id());
    let r = s.post(&path, Some(&admin.token), json!({})).await;
    let done = r.expect(200).clone();
    assert_eq!(done["released"], 2);
    assert_eq!(done["member"]["active"], false);
    assert_eq!(done["member"]["status"], "offline");
    assert!(done["member"]["deactivated_at"].is_string());

    // Signed out at once: the token and the socket.
    assert_session_ended(&mut leaving_ws, "deactivated").await;
    s.get("/api/v1/me", Some(&leaving.token))
        .await
        .expect_error(401, "unauthorized");
    // The chats went back: the teammate has room for one, the other waits at the head.
    let a1 = s.conversation(&admin, c1).await;
    let a2 = s.conversation(&admin, c2).await;
    assert_eq!(a1["assignee_id"], mate.id(), "{a1}");
    assert!(a2["assignee_id"].is_null(), "{a2}");
    assert_eq!(a2["queue_position"], 1, "{a2}");
    // The KPIs see each chat move from the leaving agent to the queue, by the admin.
    let events = s
        .get(
            &format!("/api/v1/conversations/{c2}/events"),
            Some(&admin.token),
        )
        .await
        .expect(200)["events"]
        .clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "transferred"
                && e["agent_id"].is_null()
                && e["previous_agent_id"] == leaving.id()
                && e["actor_id"] == admin.id()),
        "{events}"
    );
    // The shopper is told, in the chat; history keeps who answered.
    let notice = shopper_ws
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["body"] == REQUEUED_NOTICE
        })
        .await
        .expect("the shopper hears the chat went back to the queue");
    assert_eq!(notice["message"]["sender_type"], "system");
    let history = s.shopper_history(&first, 0).await;
    let messages = history["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["sender_type"] == "agent" && m["sender_name"] == "小李"),
        "{history}"
    );
    assert!(messages.iter().any(|m| m["body"] == REQUEUED_NOTICE));
    let second_history = s.shopper_history(&second, 0).await;
    assert!(
        second_history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"] == REQUEUED_NOTICE)
    );

    // No way back in; a wrong password says nothing about the account.
    s.login(&leaving.user.email, PASSWORD)
        .await
        .expect_error(403, "account_deactivated");
    s.login(&leaving.user.email, "wrong-password-9")
        .await
        .expect_error(401, "unauthorized");
    // Admins see the member, marked; agents no longer do; nobody can assign to them.
    let agents = s.get("/api/v1/agents", Some(&admin.token)).await;
    assert_eq!(
        listed(agents.expect(200), leaving.id()).unwrap()["active"],
        false
    );
    let agents = s.get("/api/v1/agents", Some(&mate.token)).await;
    assert!(listed(agents.expect(200), leaving.id()).is_none());
    let r = s
        .post(
            &format!("/api/v1/conversations/{c2}/assign"),
            Some(&admin.token),
            json!({"agent_id": leaving.id()}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(field(&r), "agent_id");
    s.post(&path, Some(&admin.token), json!({}))
        .await
        .expect_error(409, "conflict");
    // Oneself and other shops.
    s.post(
        &format!("/api/v1/members/{}/deactivate", admin.id()),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect_error(409, "conflict");
    let other = s.create_shop("deactivate-other").await;
    let stranger = s.agent(other.id, Role::Agent, "外人").await;
    s.post(
        &format!("/api/v1/members/{}/deactivate", stranger.id()),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");

    // Reactivated: the old password works again, and routing counts them once online.
    let r = s
        .post(
            &format!("/api/v1/members/{}/reactivate", leaving.id()),
            Some(&admin.token),
            json!({}),
        )
        .await;
    assert_eq!(r.expect(200)["member"]["active"], true);
    assert!(r.body["member"]["deactivated_at"].is_null());
    s.post(
        &format!("/api/v1/members/{}/reactivate", leaving.id()),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect_error(409, "conflict");
    let (token, user) = sign_in(&s, &leaving.user.email, PASSWORD).await;
    assert_eq!(user["active"], true);
    s.put(
        "/api/v1/me/status",
        Some(&token),
        json!({"status": "online"}),
    )
    .await
    .expect(200);
    let waiting = s.conversation(&admin, c2).await;
    assert_eq!(waiting["assignee_id"], leaving.id(), "{waiting}");
}

both!(teams_are_managed_and_routed, teams_body);
async fn teams_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let default = s.default_team(s.shop.id).await;
    let r = s
        .post(
            "/api/v1/teams",
            Some(&admin.token),
            json!({"name": " 售后 "}),
        )
        .await;
    let team = r.expect(201)["team"].clone();
    assert_eq!(team["name"], "售后");
    assert_eq!(team["member_count"], 0);
    assert_eq!(team["is_default"], false);
    let tid = team["id"].as_i64().unwrap();
    let r = s
        .post("/api/v1/teams", Some(&admin.token), json!({"name": "售后"}))
        .await;
    r.expect_error(409, "conflict");
    assert_eq!(field(&r), "name");
    let r = s
        .post("/api/v1/teams", Some(&admin.token), json!({"name": ""}))
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(field(&r), "name");

    // A member of the new team only: the default team's chats are not theirs...
    let r = create_member(
        &s,
        &admin,
        json!({"name": "小赵", "email": email("zhao"), "role": "agent", "team_ids": [tid]}),
    )
    .await;
    let zhao = r.expect(201)["member"]["id"].as_i64().unwrap();
    let zhao_email = r.body["member"]["email"].as_str().unwrap().to_owned();
    let temporary = r.body["temporary_password"].as_str().unwrap().to_owned();
    let (token, _) = sign_in(&s, &zhao_email, &temporary).await;
    s.put(
        "/api/v1/me/password",
        Some(&token),
        json!({"current_password": temporary, "new_password": "Zhao-2024-pw"}),
    )
    .await
    .expect(200);
    s.put(
        "/api/v1/me/status",
        Some(&token),
        json!({"status": "online"}),
    )
    .await
    .expect(200);
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "你好").await["conversation_id"]
        .as_i64()
        .unwrap();
    assert!(s.conversation(&admin, cid).await["assignee_id"].is_null());
    let members = s
        .get(&format!("/api/v1/teams/{tid}/members"), Some(&admin.token))
        .await;
    let ids: Vec<i64> = members.expect(200)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![zhao]);
    // ...until they serve both teams' queues: the waiting chat is theirs at once.
    s.patch(
        &format!("/api/v1/members/{zhao}"),
        Some(&admin.token),
        json!({"team_ids": [tid, default.id]}),
    )
    .await
    .expect(200);
    assert_eq!(s.conversation(&admin, cid).await["assignee_id"], zhao);
    let teams = s.get("/api/v1/teams", Some(&admin.token)).await;
    for t in teams.expect(200)["teams"].as_array().unwrap() {
        assert_eq!(t["member_count"], if t["id"] == tid { 1 } else { 2 }, "{t}");
    }

    // Renaming, and the default team.
    let r = s
        .patch(
            &format!("/api/v1/teams/{tid}"),
            Some(&admin.token),
            json!({"name": "售后服务"}),
        )
        .await;
    assert_eq!(r.expect(200)["team"]["name"], "售后服务");
    s.patch(
        &format!("/api/v1/teams/{tid}"),
        Some(&admin.token),
        json!({}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.delete(&format!("/api/v1/teams/{}", default.id), Some(&admin.token))
        .await
        .expect_error(409, "conflict");

    // A team with members stays; emptied, it goes and its chats join the default team.
    let spare = s
        .post("/api/v1/teams", Some(&admin.token), json!({"name": "临时"}))
        .await
        .expect(201)["team"]["id"]
        .as_i64()
        .unwrap();
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        Some(&admin.token),
        json!({"team": spare}),
    )
    .await
    .expect(200);
    s.patch(
        &format!("/api/v1/members/{zhao}"),
        Some(&admin.token),
        json!({"team_ids": [spare]}),
    )
    .await
    .expect(200);
    let r = s
        .delete(&format!("/api/v1/teams/{spare}"), Some(&admin.token))
        .await;
    r.expect_error(409, "conflict");
    assert!(r.text.contains("still has members"), "{}", r.text);
    s.patch(
        &format!("/api/v1/members/{zhao}"),
        Some(&admin.token),
        json!({"team_ids": [tid]}),
    )
    .await
    .expect(200);
    let r = s
        .delete(&format!("/api/v1/teams/{spare}"), Some(&admin.token))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let c = s.conversation(&admin, cid).await;
    assert_eq!(c["team"]["id"], default.id, "{c}");
    let teams = s.get("/api/v1/teams", Some(&admin.token)).await;
    assert!(
        teams.expect(200)["teams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != spare)
    );
    // Making another team the default.
    let r = s
        .patch(
            &format!("/api/v1/teams/{tid}"),
            Some(&admin.token),
            json!({"is_default": true}),
        )
        .await;
    assert_eq!(r.expect(200)["team"]["is_default"], true);
    let teams = s.get("/api/v1/teams", Some(&admin.token)).await;
    let defaults: Vec<i64> = teams.expect(200)["teams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["is_default"] == true)
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(defaults, vec![tid]);
    // Another shop's team is not found.
    let other = s.create_shop("teams-other").await;
    let foreign = s.default_team(other.id).await;
    s.delete(&format!("/api/v1/teams/{}", foreign.id), Some(&admin.token))
        .await
        .expect_error(404, "not_found");
    s.get(
        &format!("/api/v1/teams/{}/members", foreign.id),
        Some(&admin.token),
    )
    .await
    .expect_error(404, "not_found");
}

both!(members_change_their_own_account, own_account_body);
async fn own_account_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let member = s.agent(s.shop.id, Role::Agent, "小王").await;
    let (phone, _) = sign_in(&s, &member.user.email, PASSWORD).await;
    let mut phone_ws = socket(&s, &phone).await;
    let mut desk_ws = s.agent_ws(&member).await;

    let r = s
        .patch("/api/v1/me", Some(&member.token), json!({"name": " "}))
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(field(&r), "name");
    let r = s
        .patch("/api/v1/me", Some(&member.token), json!({"name": "王小明"}))
        .await;
    assert_eq!(r.expect(200)["user"]["name"], "王小明");
    let agents = s.get("/api/v1/agents", Some(&admin.token)).await;
    assert_eq!(
        listed(agents.expect(200), member.id()).unwrap()["name"],
        "王小明"
    );

    let r = s
        .put(
            "/api/v1/me/password",
            Some(&member.token),
            json!({"current_password": "guess-guess", "new_password": "New-pass-2024"}),
        )
        .await;
    r.expect_error(422, "validation_failed");
    assert_eq!(field(&r), "current_password");
    let r = s
        .put(
            "/api/v1/me/password",
            Some(&member.token),
            json!({"current_password": PASSWORD, "new_password": "New-pass-2024"}),
        )
        .await;
    assert_eq!(r.expect(200)["user"]["name"], "王小明");
    // The phone's session and socket end; the desk, where it was changed, goes on.
    assert_session_ended(&mut phone_ws, "password_changed").await;
    s.get("/api/v1/me", Some(&phone))
        .await
        .expect_error(401, "unauthorized");
    s.get("/api/v1/me", Some(&member.token)).await.expect(200);
    assert!(
        desk_ws
            .find(QUIET, |e| e["type"] == "session.ended")
            .await
            .is_none()
    );
    s.login(&member.user.email, PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    sign_in(&s, &member.user.email, "New-pass-2024").await;

    // The audit names the change, never the password.
    let audit = s.get("/api/v1/audit", Some(&admin.token)).await;
    let actions: Vec<&str> = audit.expect(200)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["own_password_changed", "own_profile_updated"]);
    assert!(!audit.text.contains("New-pass-2024") && !audit.text.contains(PASSWORD));
    assert!(!audit.text.contains("argon2"));
}

both!(logout_revokes_the_session_and_its_sockets, logout_body);
async fn logout_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let member = s.agent(s.shop.id, Role::Agent, "小王").await;
    let (other, _) = sign_in(&s, &member.user.email, PASSWORD).await;
    let mut ws = s.agent_ws(&member).await;
    let mut other_ws = socket(&s, &other).await;
    let r = s
        .post("/api/v1/auth/logout", Some(&member.token), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_session_ended(&mut ws, "logged_out").await;
    s.get("/api/v1/me", Some(&member.token))
        .await
        .expect_error(401, "unauthorized");
    assert!(
        matches!(
            s.ws(&format!("/api/v1/ws?token={}", member.token)).await,
            Err(401)
        ),
        "a revoked token opens no socket"
    );
    // The other session and its socket are untouched.
    s.get("/api/v1/me", Some(&other)).await.expect(200);
    assert!(
        other_ws
            .find(QUIET, |e| e["type"] == "session.ended")
            .await
            .is_none()
    );
    s.set_status(
        &Agent {
            user: member.user.clone(),
            token: other.clone(),
        },
        "online",
    )
    .await;
    other_ws.next_event("agent.status", WAIT).await;
    s.post("/api/v1/auth/logout", None, json!({}))
        .await
        .expect_error(401, "unauthorized");
}

both!(the_audit_log_records_member_changes, audit_body);
async fn audit_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    let r = create_member(
        &s,
        &admin,
        json!({"name": "小王", "email": email("wang"), "role": "agent"}),
    )
    .await;
    let id = r.expect(201)["member"]["id"].as_i64().unwrap();
    let temporary = r.body["temporary_password"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/members/{id}");
    s.patch(
        &base,
        Some(&admin.token),
        json!({"name": "王小明", "max_concurrent": 4}),
    )
    .await
    .expect(200);
    let reset = s
        .post(
            &format!("{base}/password-reset"),
            Some(&admin.token),
            json!({}),
        )
        .await;
    let second_temporary = reset.expect(200)["temporary_password"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(&format!("{base}/deactivate"), Some(&admin.token), json!({}))
        .await
        .expect(200);
    s.post(&format!("{base}/reactivate"), Some(&admin.token), json!({}))
        .await
        .expect(200);
    let team = s
        .post("/api/v1/teams", Some(&admin.token), json!({"name": "夜班"}))
        .await
        .expect(201)["team"]["id"]
        .as_i64()
        .unwrap();
    s.delete(&format!("/api/v1/teams/{team}"), Some(&admin.token))
        .await;

    let r = s.get("/api/v1/audit", Some(&admin.token)).await;
    let entries = r.expect(200)["entries"].as_array().unwrap().clone();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "team_deleted",
            "team_created",
            "member_reactivated",
            "member_deactivated",
            "password_reset",
            "member_updated",
            "member_created"
        ]
    );
    for e in &entries {
        assert_eq!(e["actor"]["id"], admin.id(), "{e}");
        assert_eq!(e["actor"]["name"], "店长");
        assert!(e["created_at"].is_string());
    }
    let updated = &entries[5];
    assert_eq!(updated["target_type"], "member");
    assert_eq!(updated["target_id"], id);
    assert_eq!(updated["before"]["name"], "小王");
    assert_eq!(updated["after"]["name"], "王小明");
    assert!(updated["before"]["max_concurrent"].is_null());
    assert_eq!(updated["after"]["max_concurrent"], 4);
    assert_eq!(entries[3]["after"]["active"], false);
    assert!(entries[4]["before"].is_null() && entries[4]["after"].is_null());
    assert_eq!(entries[0]["target_type"], "team");
    assert_eq!(entries[0]["before"]["name"], "夜班");
    for secret in [
        temporary.as_str(),
        second_temporary.as_str(),
        "argon2",
        "password_hash",
    ] {
        assert!(!r.text.contains(secret), "the audit shows {secret}");
    }
    // One member's entries, and pages.
    let only = s
        .get(&format!("/api/v1/audit?member_id={id}"), Some(&admin.token))
        .await;
    assert_eq!(only.expect(200)["entries"].as_array().unwrap().len(), 5);
    let page = s.get("/api/v1/audit?limit=2", Some(&admin.token)).await;
    let page = page.expect(200).clone();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_i64().unwrap();
    let next = s
        .get(
            &format!("/api/v1/audit?limit=2&before={before}"),
            Some(&admin.token),
        )
        .await;
    assert_eq!(
        next.expect(200)["entries"][0]["action"],
        "member_reactivated"
    );
    // Admins only; another shop's member is not found.
    for who in [&sup, &agent] {
        s.get("/api/v1/audit", Some(&who.token))
            .await
            .expect_error(403, "forbidden");
    }
    let other = s.create_shop("audit-other").await;
    let stranger = s.agent(other.id, Role::Agent, "外人").await;
    s.get(
        &format!("/api/v1/audit?member_id={}", stranger.id()),
        Some(&admin.token),
    )
    .await
    .expect_error(404, "not_found");
    let theirs = s
        .get(
            "/api/v1/audit",
            Some(&s.agent(other.id, Role::Admin, "B").await.token),
        )
        .await;
    assert_eq!(
        theirs.expect(200)["entries"],
        json!([]),
        "another shop sees none"
    );
}

// Every route of members and teams for an admin, a supervisor, an agent, another shop's admin
// and no token.
both!(members_routes_authorization, authz_body);
async fn authz_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小李").await;
    let target = s.agent(s.shop.id, Role::Agent, "小王").await;
    let team = s.create_team(s.shop.id, "售后").await;
    let empty_team = s.create_team(s.shop.id, "空组").await;
    let other_shop = s.create_shop("authz-other").await;
    let stranger = s.agent(other_shop.id, Role::Admin, "外店长").await;
    let m = format!("/api/v1/members/{}", target.id());
    let t = format!("/api/v1/teams/{}", team.id);

    use reqwest::Method;
    // (method, path, body, admin, supervisor, agent, another shop's admin)
    let new_member = |n: &str| json!({"name": n, "email": email(n), "role": "agent"});
    type Case = (Method, String, Option<Value>, u16, u16, u16, u16);
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/api/v1/agents".into(),
            None,
            200,
            200,
            200,
            200,
        ),
        (
            Method::POST,
            "/api/v1/members".into(),
            Some(new_member("a")),
            201,
            403,
            403,
            201,
        ),
        (Method::GET, m.clone(), None, 200, 200, 403, 404),
        (
            Method::PATCH,
            m.clone(),
            Some(json!({"name": "小王"})),
            200,
            403,
            403,
            404,
        ),
        (
            Method::POST,
            format!("{m}/password-reset"),
            Some(json!({})),
            200,
            403,
            403,
            404,
        ),
        (
            Method::POST,
            format!("{m}/deactivate"),
            Some(json!({})),
            200,
            403,
            403,
            404,
        ),
        (
            Method::POST,
            format!("{m}/reactivate"),
            Some(json!({})),
            200,
            403,
            403,
            404,
        ),
        (
            Method::GET,
            "/api/v1/teams".into(),
            None,
            200,
            200,
            200,
            200,
        ),
        (
            Method::POST,
            "/api/v1/teams".into(),
            Some(json!({"name": "新组"})),
            201,
            403,
            403,
            201,
        ),
        (
            Method::PATCH,
            t.clone(),
            Some(json!({"name": "售后部"})),
            200,
            403,
            403,
            404,
        ),
        (
            Method::GET,
            format!("{t}/members"),
            None,
            200,
            200,
            200,
            404,
        ),
        (
            Method::DELETE,
            format!("/api/v1/teams/{}", empty_team.id),
            None,
            204,
            403,
            403,
            404,
        ),
        (
            Method::GET,
            "/api/v1/audit".into(),
            None,
            200,
            403,
            403,
            200,
        ),
        (
            Method::GET,
            format!("/api/v1/audit?member_id={}", target.id()),
            None,
            200,
            403,
            403,
            404,
        ),
        (
            Method::PATCH,
            "/api/v1/me".into(),
            Some(json!({"name": "同名"})),
            200,
            200,
            200,
            200,
        ),
    ];
    for (method, path, body, for_admin, for_sup, for_agent, for_stranger) in cases {
        // No token first, then the refused ones, then the ones allowed (which may change state).
        let r = s.request(method.clone(), &path, None, body.clone()).await;
        r.expect_error(401, "unauthorized");
        let mut order = vec![
            (&stranger, for_stranger),
            (&sup, for_sup),
            (&agent, for_agent),
            (&admin, for_admin),
        ];
        order.sort_by_key(|(_, status)| *status < 300);
        for (who, want) in order {
            // A second creation needs a fresh e-mail.
            let body = match &body {
                Some(b) if b.get("email").is_some() => Some(new_member("b")),
                Some(b) if path == "/api/v1/teams" => {
                    Some(json!({"name": format!("{}{}", b["name"].as_str().unwrap(), unique())}))
                }
                other => other.clone(),
            };
            let r = s
                .request(method.clone(), &path, Some(&who.token), body)
                .await;
            assert_eq!(
                r.status, want,
                "{method} {path} as {}: {}",
                who.user.name, r.text
            );
            if want >= 400 {
                assert!(r.body["error"]["code"].is_string(), "{}", r.text);
            }
        }
    }
    // Everyone may change their own password (a wrong current one proves the route is open to
    // them); nobody without a token.
    let body = json!({"current_password": "not-it-at-all", "new_password": "Another-pw-9"});
    for who in [&admin, &sup, &agent, &stranger] {
        let r = s
            .put("/api/v1/me/password", Some(&who.token), body.clone())
            .await;
        r.expect_error(422, "validation_failed");
        assert_eq!(field(&r), "current_password");
    }
    s.put("/api/v1/me/password", None, body)
        .await
        .expect_error(401, "unauthorized");
}
