//! The widget on a shop's own site: every widget call is cross-origin there, so the widget routes
//! answer CORS preflights and mark their answers readable from any origin (agent routes never),
//! and a shop that lists its sites refuses the others. Also the shop's time zone setting.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::json;

const SHOP_SITE: &str = "https://shop.example";

async fn preflight(s: &TestServer, path: &str) -> reqwest::Response {
    s.http
        .request(reqwest::Method::OPTIONS, s.url(path))
        .header("origin", SHOP_SITE)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

fn allow_origin(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

both!(widget_calls_work_from_the_shops_own_site, cors_body);
async fn cors_body(backend: Backend) {
    let s = TestServer::start(backend).await;

    // The preflight of every widget call is answered, and names the headers the widget sends.
    for path in [
        "/api/v1/widget/sessions",
        "/api/v1/widget/messages",
        "/api/v1/widget/attachments",
    ] {
        let r = preflight(&s, path).await;
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(allow_origin(&r).as_deref(), Some("*"), "{path}");
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert!(
            r.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }
    // Agent routes get no CORS at all: a foreign page cannot read them.
    let r = preflight(&s, "/api/v1/auth/login").await;
    assert_eq!(allow_origin(&r), None);
    let r = preflight(&s, "/api/v1/conversations").await;
    assert_eq!(allow_origin(&r), None);

    // A whole conversation from the shop's site: session, message, history, each answer readable.
    let session = s
        .http
        .post(s.url("/api/v1/widget/sessions"))
        .header("origin", SHOP_SITE)
        .json(&json!({"name": "跨域顾客"}))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 201);
    assert_eq!(allow_origin(&session).as_deref(), Some("*"));
    let token = session.json::<serde_json::Value>().await.unwrap()["visitor_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = s
        .http
        .post(s.url("/api/v1/widget/messages"))
        .header("origin", SHOP_SITE)
        .bearer_auth(&token)
        .json(&json!({"body": "你好，从店铺网站发来", "client_msg_id": format!("c{}", unique())}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    assert_eq!(allow_origin(&sent).as_deref(), Some("*"));
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent_answer = s
        .http
        .get(s.url("/api/v1/conversations"))
        .header("origin", SHOP_SITE)
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(agent_answer.status(), 200);
    assert_eq!(
        allow_origin(&agent_answer),
        None,
        "agent answers are never CORS-readable"
    );

    // The shop lists its sites: others are refused, listed ones and kefu's own pages are not.
    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    settings["widget_origins"] = json!(["https://Shop.example/", "https://m.shop.example"]);
    let saved = s
        .put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await;
    assert_eq!(
        saved.expect(200)["widget_origins"],
        json!([SHOP_SITE, "https://m.shop.example"]),
        "origins are stored normalised"
    );
    let from = |origin: &'static str| {
        s.http
            .post(s.url("/api/v1/widget/messages"))
            .header("origin", origin)
            .bearer_auth(&token)
            .json(&json!({"body": "再问一句", "client_msg_id": format!("c{}", unique())}))
            .send()
    };
    let refused = from("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        allow_origin(&refused).as_deref(),
        Some("*"),
        "the widget can read why"
    );
    assert_eq!(from(SHOP_SITE).await.unwrap().status(), 201);
    let config = |origin: &'static str| {
        s.http
            .get(s.url(&format!("/api/v1/widget/config?shop={}", s.shop.slug)))
            .header("origin", origin)
            .send()
    };
    assert_eq!(config("https://evil.example").await.unwrap().status(), 403);
    assert_eq!(
        config("https://m.shop.example").await.unwrap().status(),
        200
    );
    // kefu's own page (same origin as the server) always works.
    let own = s.base.clone();
    let own_page = s
        .http
        .get(s.url(&format!("/api/v1/widget/config?shop={}", s.shop.slug)))
        .header("origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(own_page.status(), 200);
    // A path, another scheme or a bare host is not an origin.
    settings["widget_origins"] = json!(["shop.example/path"]);
    s.put("/api/v1/shop/settings", Some(&admin.token), settings)
        .await
        .expect_error(422, "validation_failed");
}

both!(the_shop_time_zone_is_a_setting_the_console_sees, zone_body);
async fn zone_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let me = s.get("/api/v1/me", Some(&admin.token)).await;
    assert_eq!(
        me.expect(200)["shop"]["time_zone"],
        "Asia/Shanghai",
        "the default"
    );
    let mut settings = s
        .get("/api/v1/shop/settings", Some(&admin.token))
        .await
        .expect(200)
        .clone();
    settings["time_zone"] = json!("Asia/Tokyo");
    s.put(
        "/api/v1/shop/settings",
        Some(&admin.token),
        settings.clone(),
    )
    .await
    .expect(200);
    let me = s.get("/api/v1/me", Some(&admin.token)).await;
    assert_eq!(me.expect(200)["shop"]["time_zone"], "Asia/Tokyo");
    // Report days need 24-hour days: zones with daylight saving (and unknown ones) are refused.
    for zone in ["Europe/Berlin", "Mars/Olympus"] {
        settings["time_zone"] = json!(zone);
        s.put(
            "/api/v1/shop/settings",
            Some(&admin.token),
            settings.clone(),
        )
        .await
        .expect_error(422, "validation_failed");
    }
    let me = s.get("/api/v1/me", Some(&admin.token)).await;
    assert_eq!(
        me.expect(200)["shop"]["time_zone"],
        "Asia/Tokyo",
        "a refused change changes nothing"
    );
}
