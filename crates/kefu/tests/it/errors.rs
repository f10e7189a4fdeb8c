//! Every error case answers with the documented status and `{"error":{"code","message"}}`.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use kefu_http::Limits;
use reqwest::Method;
use serde_json::json;

both!(bad_bodies, bad_bodies_body);
async fn bad_bodies_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();
    let agent_path = format!("/api/v1/conversations/{cid}/messages");
    let endpoints: [(&str, &str); 2] = [
        ("/api/v1/widget/messages", &shopper.token),
        (&agent_path, &agent.token),
    ];

    for (path, token) in endpoints {
        // Malformed JSON.
        s.raw(Method::POST, path, Some(token), "{\"body\": \"x\",")
            .await
            .expect_error(400, "bad_request");
        s.raw(Method::POST, path, Some(token), "not json")
            .await
            .expect_error(400, "bad_request");
        // Wrong types and missing fields: the contract allows 400 (bad_request) or 422 (validation_failed).
        for body in [
            json!({"body": 5, "client_msg_id": "x"}),
            json!({"body": "x"}),
            json!([1, 2]),
            json!({"body": "x", "client_msg_id": 7}),
        ] {
            let r = s.post(path, Some(token), body.clone()).await;
            match r.status {
                400 => r.expect_error(400, "bad_request"),
                _ => r.expect_error(422, "validation_failed"),
            }
        }
        // Well-formed but unacceptable.
        for body in ["", "   ", "\n\t"] {
            s.post(
                path,
                Some(token),
                json!({"body": body, "client_msg_id": format!("e-{}", unique())}),
            )
            .await
            .expect_error(422, "validation_failed");
        }
        let long = "字".repeat(5001);
        s.post(
            path,
            Some(token),
            json!({"body": long, "client_msg_id": format!("l-{}", unique())}),
        )
        .await
        .expect_error(422, "validation_failed");
        let max = "字".repeat(5000);
        s.post(
            path,
            Some(token),
            json!({"body": max, "client_msg_id": format!("m-{}", unique())}),
        )
        .await
        .expect(201);
        s.post(
            path,
            Some(token),
            json!({"body": "ok", "client_msg_id": ""}),
        )
        .await
        .expect_error(422, "validation_failed");
        s.post(
            path,
            Some(token),
            json!({"body": "ok", "client_msg_id": "x".repeat(65)}),
        )
        .await
        .expect_error(422, "validation_failed");
        // Over 64 KiB.
        let huge = json!({"body": "x".repeat(70 * 1024), "client_msg_id": "huge"}).to_string();
        s.raw(Method::POST, path, Some(token), huge)
            .await
            .expect_error(413, "payload_too_large");
    }
    // The JSON limit holds for every JSON endpoint.
    let huge = json!({"status": "x".repeat(70 * 1024)}).to_string();
    s.raw(Method::PUT, "/api/v1/me/status", Some(&agent.token), huge)
        .await
        .expect_error(413, "payload_too_large");
    // Bad query strings.
    s.get(
        "/api/v1/widget/messages?after_seq=abc",
        Some(&shopper.token),
    )
    .await
    .expect_error(400, "bad_request");
    s.get(&format!("{agent_path}?after_seq=abc"), Some(&agent.token))
        .await
        .expect_error(400, "bad_request");
    // Unknown enum values.
    s.put(
        "/api/v1/me/status",
        Some(&agent.token),
        json!({"status": "sleeping"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        &format!("/api/v1/conversations/{cid}/status"),
        Some(&agent.token),
        json!({"status": "closed"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.get("/api/v1/conversations?status=closed", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
    s.get("/api/v1/conversations?assignee=bob", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
}

both!(oversized_session_body, oversized_session_body_body);
async fn oversized_session_body_body(backend: Backend) {
    // POST /widget/sessions reads raw bytes; an oversized body must still be a JSON 413.
    let s = TestServer::start(backend).await;
    let huge = json!({"name": "x".repeat(70 * 1024)}).to_string();
    s.raw(Method::POST, "/api/v1/widget/sessions", None, huge)
        .await
        .expect_error(413, "payload_too_large");
    s.raw(Method::POST, "/api/v1/widget/sessions", None, "{oops")
        .await
        .expect_error(400, "bad_request");
    s.post(
        "/api/v1/widget/sessions",
        None,
        json!({"email": "not-an-email"}),
    )
    .await
    .expect_error(422, "validation_failed");
    s.post(
        "/api/v1/widget/sessions",
        None,
        json!({"shop": "no-such-shop"}),
    )
    .await
    .expect_error(404, "not_found");
    // An empty body is an anonymous shopper of the default shop.
    s.raw(Method::POST, "/api/v1/widget/sessions", None, "")
        .await
        .expect(201);
}

both!(unknown_ids, unknown_ids_body);
async fn unknown_ids_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let t = Some(admin.token.as_str());
    for id in ["999999", "abc", "1.5", "-1"] {
        let base = format!("/api/v1/conversations/{id}");
        let answers = [
            s.get(&base, t).await,
            s.get(&format!("{base}/messages"), t).await,
            s.post(
                &format!("{base}/messages"),
                t,
                json!({"body": "x", "client_msg_id": "x"}),
            )
            .await,
            s.post(
                &format!("{base}/assign"),
                t,
                json!({"agent_id": admin.id()}),
            )
            .await,
            s.post(&format!("{base}/status"), t, json!({"status": "resolved"}))
                .await,
            s.post(&format!("{base}/read"), t, json!({"seq": 1})).await,
        ];
        for r in answers {
            if id == "999999" || id == "-1" {
                r.expect_error(404, "not_found");
            } else {
                match r.status {
                    400 => r.expect_error(400, "bad_request"),
                    _ => r.expect_error(404, "not_found"),
                }
            }
        }
    }
    // A real conversation, then an unknown agent / team.
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "hi").await["conversation_id"]
        .as_i64()
        .unwrap();
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        t,
        json!({"agent_id": 987654}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        t,
        json!({"team": "no such team"}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        t,
        json!({"team": 987654}),
    )
    .await
    .expect_error(404, "not_found");
    s.post(&format!("/api/v1/conversations/{cid}/assign"), t, json!({}))
        .await
        .expect_error(422, "validation_failed");
    s.post(
        &format!("/api/v1/conversations/{cid}/assign"),
        t,
        json!({"team": [1]}),
    )
    .await
    .expect_error(422, "validation_failed");
}

both!(auth_required, auth_required_body);
async fn auth_required_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let shopper = s.shopper().await;
    for token in [None, Some("kfa_bogus"), Some(shopper.token.as_str())] {
        for path in [
            "/api/v1/me",
            "/api/v1/conversations",
            "/api/v1/agents",
            "/api/v1/teams",
            "/api/v1/shop/settings",
        ] {
            s.get(path, token).await.expect_error(401, "unauthorized");
        }
        s.put("/api/v1/me/status", token, json!({"status": "online"}))
            .await
            .expect_error(401, "unauthorized");
        s.post(
            "/api/v1/conversations/1/messages",
            token,
            json!({"body": "x", "client_msg_id": "x"}),
        )
        .await
        .expect_error(401, "unauthorized");
    }
    for token in [None, Some("kfv_bogus"), Some(agent.token.as_str())] {
        s.get("/api/v1/widget/messages", token)
            .await
            .expect_error(401, "unauthorized");
        s.post(
            "/api/v1/widget/messages",
            token,
            json!({"body": "x", "client_msg_id": "x"}),
        )
        .await
        .expect_error(401, "unauthorized");
        s.post("/api/v1/widget/read", token, json!({"seq": 1}))
            .await
            .expect_error(401, "unauthorized");
    }
    // A malformed Authorization header.
    let r = s
        .http
        .get(s.url("/api/v1/me"))
        .header("authorization", format!("Basic {}", agent.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // WebSocket upgrades.
    assert_eq!(
        s.ws("/api/v1/ws").await.err(),
        Some(401),
        "agent ws without a token"
    );
    assert_eq!(
        s.ws("/api/v1/ws?token=kfa_bogus").await.err(),
        Some(401),
        "agent ws with a bad token"
    );
    assert_eq!(
        s.ws(&format!("/api/v1/ws?token={}", shopper.token))
            .await
            .err(),
        Some(401),
        "agent ws with a visitor token"
    );
    assert_eq!(
        s.ws("/api/v1/widget/ws").await.err(),
        Some(401),
        "shopper ws without a token"
    );
    assert_eq!(
        s.ws("/api/v1/widget/ws?token=kfv_bogus").await.err(),
        Some(401),
        "shopper ws with a bad token"
    );
    assert_eq!(
        s.ws(&format!("/api/v1/widget/ws?token={}", agent.token))
            .await
            .err(),
        Some(401),
        "shopper ws, agent token"
    );
    // The real tokens work.
    s.agent_ws(&agent).await.close().await;
    s.shopper_ws(&shopper).await.close().await;
}

both!(login_and_logout, login_body);
async fn login_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "Login Agent").await;
    s.login(&agent.user.email, "wrong password")
        .await
        .expect_error(401, "unauthorized");
    s.login("nobody@it.kefu", PASSWORD)
        .await
        .expect_error(401, "unauthorized");
    s.raw(Method::POST, "/api/v1/auth/login", None, "{")
        .await
        .expect_error(400, "bad_request");
    let ok = s.login(&agent.user.email, PASSWORD).await;
    let v = ok.expect(200);
    let token = v["token"].as_str().expect("token").to_owned();
    assert_eq!(v["user"]["id"], agent.id());
    assert!(
        v["user"].get("password_hash").is_none(),
        "never leak the hash"
    );
    let me = s.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.expect(200)["user"]["email"], agent.user.email.as_str());
    assert_eq!(me.body["shop"]["slug"], "default");
    let r = s
        .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(r.status, 204);
    s.get("/api/v1/me", Some(&token))
        .await
        .expect_error(401, "unauthorized");
}

both!(login_rate_limit, login_rate_limit_body);
async fn login_rate_limit_body(backend: Backend) {
    let limits = Limits {
        login_per_minute: 3,
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    for _ in 0..3 {
        s.login("nobody@it.kefu", "x")
            .await
            .expect_error(401, "unauthorized");
    }
    s.login("nobody@it.kefu", "x")
        .await
        .expect_error(429, "rate_limited");
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    s.login(&agent.user.email, PASSWORD)
        .await
        .expect_error(429, "rate_limited");
}

both!(settings_roles, settings_roles_body);
async fn settings_roles_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "Admin").await;
    let sup = s.agent(s.shop.id, Role::Supervisor, "Sup").await;
    let agent = s.agent(s.shop.id, Role::Agent, "Agent").await;
    let current = s
        .get("/api/v1/shop/settings", Some(&agent.token))
        .await
        .expect(200)
        .clone();
    assert!(
        current["greeting"].is_string() && current["default_max_concurrent"].is_i64(),
        "{current}"
    );
    let new = json!({"greeting": "欢迎！", "offline_message": "不在线", "default_max_concurrent": 3,
        "prechat": {"enabled": false, "name": "off", "phone": "off", "email": "off"},
        "time_zone": "Asia/Shanghai", "widget_origins": [],
        "widget": {"color": "#2563eb", "position": "right", "greeting": ""}});
    for who in [&agent, &sup] {
        s.put("/api/v1/shop/settings", Some(&who.token), new.clone())
            .await
            .expect_error(403, "forbidden");
    }
    assert_eq!(
        s.put("/api/v1/shop/settings", Some(&admin.token), new.clone())
            .await
            .expect(200),
        &new
    );
    assert_eq!(
        s.get("/api/v1/shop/settings", Some(&agent.token))
            .await
            .expect(200),
        &new
    );
    let bad = json!({"greeting": "x", "offline_message": "y", "default_max_concurrent": 0});
    s.put("/api/v1/shop/settings", Some(&admin.token), bad)
        .await
        .expect_error(422, "validation_failed");
    // The new greeting is used for the next conversation.
    let shopper = s.shopper().await;
    s.shopper_send(&shopper, "hi").await;
    let h = s.shopper_history(&shopper, 0).await;
    assert_eq!(h["messages"][0]["body"], "欢迎！");
    assert_eq!(h["messages"][2]["body"], "不在线");
}

both!(login_guessing_is_limited_per_account, account_guard_body);
async fn account_guard_body(backend: Backend) {
    // Generous per-address limits: what stops the guessing here is the account's own record.
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let target = s.agent(s.shop.id, Role::Agent, "小王").await;
    let colleague = s.agent(s.shop.id, Role::Agent, "小李").await;
    let free = kefu_http::login_guard::FREE_FAILURES;
    for _ in 0..=free {
        s.login(&target.user.email, "wrong-password-1")
            .await
            .expect_error(401, "unauthorized");
    }
    // Now the account waits, even for the right password (a right guess would teach nothing).
    let r = s.login(&target.user.email, PASSWORD).await;
    r.expect_error(429, "rate_limited");
    // Matching is by e-mail as logins read it.
    s.login(&target.user.email.to_uppercase(), PASSWORD)
        .await
        .expect_error(429, "rate_limited");
    // A colleague behind the same address signs in as usual.
    s.login(&colleague.user.email, PASSWORD).await.expect(200);
    // Only an admin lifts the wait; then the right password works and the record starts over.
    let path = format!("/api/v1/agents/{}/unlock", target.id());
    s.post(&path, Some(&colleague.token), json!({}))
        .await
        .expect_error(403, "forbidden");
    let r = s.post(&path, Some(&admin.token), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.login(&target.user.email, PASSWORD).await.expect(200);
    // Another shop's member is not found.
    let other = s.create_shop("other-guard").await;
    let stranger = s.agent(other.id, Role::Agent, "外人").await;
    let path = format!("/api/v1/agents/{}/unlock", stranger.id());
    s.post(&path, Some(&admin.token), json!({}))
        .await
        .expect_error(404, "not_found");
}

both!(limits_see_the_client_behind_a_trusted_proxy, proxy_body);
async fn proxy_body(backend: Backend) {
    let limits = Limits {
        login_per_minute: 2,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    let login_from = |client: &'static str| {
        s.http
            .post(s.url("/api/v1/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": format!("nobody-{client}@it.kefu"), "password": "x"}))
            .send()
    };
    // Each client behind the proxy has its own allowance...
    for client in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        for _ in 0..2 {
            assert_eq!(login_from(client).await.unwrap().status(), 401, "{client}");
        }
    }
    // ...and spends it.
    assert_eq!(login_from("1.1.1.1").await.unwrap().status(), 429);

    // Without trust, the header is ignored: everyone is the peer address.
    let limits = Limits {
        login_per_minute: 2,
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    let mut statuses = Vec::new();
    for client in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let r = s
            .http
            .post(s.url("/api/v1/auth/login"))
            .header("x-forwarded-for", client)
            .json(&json!({"email": "nobody@it.kefu", "password": "x"}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
}

both!(
    fresh_sessions_do_not_multiply_the_message_allowance,
    address_messages_body
);
async fn address_messages_body(backend: Backend) {
    let limits = Limits {
        address_messages_per_minute: 8,
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    // A burst of 10 (the smallest burst), refilled at 8 a minute; 7 sessions of 2 messages each.
    let mut statuses = Vec::new();
    for i in 0..7 {
        let shopper = s.shopper().await;
        for j in 0..2 {
            let r = s
                .shopper_send_raw(&shopper, "你好", &format!("m{i}-{j}"))
                .await;
            statuses.push(r.status);
        }
    }
    let stored = statuses.iter().filter(|s| **s == 201).count();
    assert!((10..=11).contains(&stored), "{statuses:?}");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(refused, 14 - stored, "{statuses:?}");
}
