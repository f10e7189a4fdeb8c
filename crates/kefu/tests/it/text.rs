//! Text is clean on both databases: a NUL character (U+0000), which PostgreSQL cannot store and
//! SQLite would keep silently, is refused with the same 422 naming the field on every write path
//! (JSON bodies, query strings, the widget's session body, batch and CSV imports), and chat
//! messages refuse hidden control and text-direction characters. Nothing is stored.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::json;

fn assert_field(r: &Resp, field: &str) {
    r.expect_error(422, "validation_failed");
    assert_eq!(r.body["error"]["field"], field, "{}", r.text);
}

both!(nul_is_refused_everywhere_and_stores_nothing, nul_body);
async fn nul_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;

    // Anonymous paths: login e-mail, widget session, shopper message, widget ticket.
    let r = s.login("a\u{0}@x.cn", "whatever-password").await;
    assert_field(&r, "email");
    let r = s
        .raw(
            reqwest::Method::POST,
            "/api/v1/widget/sessions",
            None,
            r#"{"name":"x\u0000y"}"#,
        )
        .await;
    assert_field(&r, "name");
    let shopper = s.shopper().await;
    let r = s.shopper_send_raw(&shopper, "你好\u{0}", "nul-1").await;
    assert_field(&r, "body");
    let r = s
        .post(
            "/api/v1/widget/tickets",
            Some(&shopper.token),
            json!({"description": "破了\u{0}"}),
        )
        .await;
    assert_field(&r, "description");
    // A nested field is named by its path.
    let r = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            json!({"subject": "标签", "priority": "normal", "tags": ["ok", "b\u{0}ad"]}),
        )
        .await;
    assert_field(&r, "tags[1]");
    // Query strings too.
    let r = s.get("/api/v1/customers?q=%00x", Some(&admin.token)).await;
    assert_field(&r, "q");

    // Nothing of the above was stored: the shopper has no conversation, the shop no such ticket.
    let r = s.get("/api/v1/tickets", Some(&admin.token)).await;
    assert_eq!(r.expect(200)["tickets"], json!([]), "{}", r.text);
    let r = s
        .get("/api/v1/conversations?assignee=all", Some(&admin.token))
        .await;
    let listed = r.expect(200)["conversations"].as_array().unwrap().clone();
    assert!(
        listed
            .iter()
            .all(|c| c["customer"]["id"] != shopper.customer_id),
        "{listed:?}"
    );

    // An escaped backslash before `u0000` is plain text, not a NUL.
    let r = s
        .shopper_send_raw(&shopper, "路径 C:\\u0000\\文件", "nul-2")
        .await;
    r.expect(201);

    // Chat messages refuse hidden controls and direction overrides, keep line breaks and tabs.
    let r = s
        .shopper_send_raw(&shopper, "订单\u{202E}gpj.exe", "bidi-1")
        .await;
    assert_field(&r, "body");
    let r = s.shopper_send_raw(&shopper, "响铃\u{7}", "bell-1").await;
    assert_field(&r, "body");
    s.shopper_send_raw(&shopper, "第一行\r\n\t第二行", "lines-1")
        .await
        .expect(201);
}
