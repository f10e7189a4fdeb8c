//! Defence in depth for the console (issue 20, item 11): the pages' Content-Security-Policy and
//! framing refusal, `nosniff` and `no-store` on API answers, and the Origin check on requests the
//! browser authenticated by itself (the console's cookie).

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use kefu_http::Limits;
use serde_json::json;

both!(pages_and_answers_carry_the_hardening_headers, headers_body);
async fn headers_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    // The console and the demo shop: scripts from this server only, never framed.
    for path in ["/", "/inbox", "/demo/shop"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        if !header(&r, "content-type").starts_with("text/html") {
            // The web assets are not built into this test binary; nothing to check.
            continue;
        }
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    // API answers: never sniffed, never stored by a cache — a login carries a token.
    let shop = s.create_shop(&format!("h{}", unique())).await;
    let admin = s.agent(shop.id, Role::Admin, "Admin").await;
    let r = s
        .http
        .get(s.url("/api/v1/me"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert!(
        header(&r, "content-security-policy").is_empty(),
        "JSON is no page"
    );
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"email": "nobody@it.kefu", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "cache-control"), "no-store");
    let r = s
        .http
        .post(s.url("/api/v1/widget/sessions"))
        .json(&json!({"shop": shop.slug}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header(&r, "cache-control"), "no-store", "visitor tokens");
}

both!(cookie_requests_must_come_from_the_console, origin_body);
async fn origin_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.create_shop(&format!("o{}", unique())).await;
    let admin = s.agent(shop.id, Role::Admin, "Admin").await;
    let host = s.url("").trim_start_matches("http://").to_owned();
    let cookie = format!("kefu_session={}", admin.token);
    let patch_name = |name: &str| {
        s.http
            .patch(s.url("/api/v1/me"))
            .header("cookie", &cookie)
            .json(&json!({"name": name}))
    };
    let error_code = |body: &str| -> String {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // A cross-site form or fetch carrying the cookie is refused and changes nothing.
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
    ] {
        let r = patch_name("改名了")
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
        assert_eq!(error_code(&r.text().await.unwrap()), "forbidden");
    }
    let me = s.get("/api/v1/me", Some(&admin.token)).await;
    assert_eq!(me.expect(200)["user"]["name"], "Admin", "nothing changed");

    // Reads with the cookie are fine from anywhere SameSite lets them through.
    let r = s
        .http
        .get(s.url("/api/v1/me"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The console itself: same origin by either header, or a client that is no browser.
    for (name, value) in [
        ("sec-fetch-site", "same-origin"),
        ("origin", &*format!("http://{host}")),
        ("x-none", "1"),
    ] {
        let r = patch_name("店长").header(name, value).send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}: {value}");
    }

    // A bearer token is never sent by a browser on its own: no Origin check for it.
    let r = s
        .http
        .patch(s.url("/api/v1/me"))
        .bearer_auth(&admin.token)
        .header("origin", "https://integrations.example")
        .json(&json!({"name": "Admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Whether the server closed `stream` within `within` (a read answers end-of-file or an error).
async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (e.g. 408) before the close: keep reading until the close.
            Ok(Ok(_)) => continue,
        }
    }
}

both!(stalled_and_greedy_connections_are_closed, connections_body);
async fn connections_body(backend: Backend) {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        max_connections_per_address: 3,
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;

    // A request head that never ends is cut off after the header timeout.
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before its time"
    );
    // So is a connection that never sends anything.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await);

    // Three open connections from this address are the cap: a fourth is closed at once, and a
    // place frees up when one of the three closes.
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(s.addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        open.push(c);
    }
    // Let the server count all three before the fourth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = TcpStream::connect(s.addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(closed_within(&mut fourth, Duration::from_millis(500)).await);
    open.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.get("/healthz", None).await.expect(200);
}

both!(visitor_tokens_rotate_expire_and_end, visitor_tokens_body);
async fn visitor_tokens_body(backend: Backend) {
    use std::time::Duration;
    let limits = Limits {
        lifetimes: kefu_http::sessions::Lifetimes {
            visitor_idle: Duration::from_secs(2),
            // Every returning page view rotates.
            visitor_rotate_after: Duration::ZERO,
            agent_idle: None,
        },
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    let first = s.shopper().await;
    let resume = |token: String| {
        let s = &s;
        async move {
            s.post("/api/v1/widget/sessions", Some(&token), json!({}))
                .await
        }
    };
    // A returning page view gets a fresh token for the same shopper; the old one still works for
    // the overlap (another open tab).
    let r = resume(first.token.clone()).await;
    let body = r.expect(200);
    let second = body["visitor_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.token);
    assert_eq!(body["customer_id"].as_i64(), Some(first.customer_id));
    s.get("/api/v1/widget/messages", Some(&first.token))
        .await
        .expect(200);
    s.get("/api/v1/widget/messages", Some(&second))
        .await
        .expect(200);
    // The shop's page may rotate on purpose, and end a token (the shopper signed out).
    let r = s
        .post("/api/v1/widget/sessions/rotate", Some(&second), json!({}))
        .await;
    let third = r.expect(200)["visitor_token"].as_str().unwrap().to_owned();
    s.delete("/api/v1/widget/sessions", Some(&third))
        .await
        .expect(204);
    s.get("/api/v1/widget/messages", Some(&third))
        .await
        .expect_error(401, "unauthorized");
    // A token unused for longer than the idle time no longer works. (A fresh one: tokens in use
    // sit in the short-lived token cache, and the idle time is counted in days in practice.)
    let idle = s.shopper().await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    s.get("/api/v1/widget/messages", Some(&idle.token))
        .await
        .expect_error(401, "unauthorized");
}

both!(agent_sessions_end_when_idle, agent_idle_body);
async fn agent_idle_body(backend: Backend) {
    use std::time::Duration;
    let limits = Limits {
        lifetimes: kefu_http::sessions::Lifetimes {
            agent_idle: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        ..generous()
    };
    let s = TestServer::start_with(backend, limits).await;
    let shop = s.create_shop(&format!("i{}", unique())).await;
    let agent = s.agent(shop.id, Role::Agent, "Agent").await;
    // Used now: it works, and its use is recorded.
    s.get("/api/v1/me", Some(&agent.token)).await.expect(200);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    s.get("/api/v1/me", Some(&agent.token))
        .await
        .expect_error(401, "unauthorized");
}
