//! SLA calendars and policies, ticket clocks with business hours and holidays, pausing, the
//! escalation scan (exactly once with two concurrent scans), notifications and automation rules.

use crate::both;
use crate::harness::*;
use kefu_core::model::Role;
use serde_json::{Value, json};

fn china_week(holidays: &[&str]) -> Value {
    json!({
        "time_zone": "Asia/Shanghai",
        "weekly": {
            "mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]], "wed": [["09:00", "18:00"]],
            "thu": [["09:00", "18:00"]], "fri": [["09:00", "18:00"]]
        },
        "holidays": holidays,
    })
}

#[track_caller]
fn expect_field_error(r: &Resp, status: u16, code: &str, field: &str) {
    r.expect_error(status, code);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(field),
        "the message should name `{field}`: {message}"
    );
}

async fn calendars_and_policies(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let sup = s.agent(shop, Role::Supervisor, "Sup").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;

    // The default calendar is seeded on the first read, once.
    let list = s.get("/api/v1/sla/calendars", Some(&agent.token)).await;
    let body = list.expect(200);
    let cals = body["calendars"].as_array().unwrap();
    assert_eq!(cals.len(), 1);
    assert_eq!(cals[0]["is_default"], true);
    assert_eq!(cals[0]["spec"]["time_zone"], "Asia/Shanghai");
    assert_eq!(cals[0]["spec"]["weekly"]["mon"], json!([["09:00", "18:00"]]));
    let zones = body["time_zones"].as_array().unwrap();
    assert!(zones.contains(&json!("Asia/Shanghai")));
    assert!(!zones.contains(&json!("Europe/London")), "DST zones are refused");
    let default_id = cals[0]["id"].as_i64().unwrap();
    let again = s.get("/api/v1/sla/calendars", Some(&sup.token)).await;
    assert_eq!(again.expect(200)["calendars"].as_array().unwrap().len(), 1);

    // Validation names the field and stores nothing.
    let bad = |spec: Value| json!({"name": "节假日", "spec": spec});
    let mut spec = china_week(&[]);
    spec["time_zone"] = json!("Europe/London");
    let r = s.post("/api/v1/sla/calendars", Some(&admin.token), bad(spec)).await;
    expect_field_error(&r, 422, "validation_failed", "spec.time_zone");
    let mut spec = china_week(&[]);
    spec["weekly"]["mon"] = json!([["09:00", "13:00"], ["12:00", "18:00"]]);
    let r = s.post("/api/v1/sla/calendars", Some(&admin.token), bad(spec)).await;
    expect_field_error(&r, 422, "validation_failed", "spec.weekly");
    let mut spec = china_week(&[]);
    spec["weekly"]["tue"] = json!([["18:00", "09:00"]]);
    let r = s.post("/api/v1/sla/calendars", Some(&admin.token), bad(spec)).await;
    expect_field_error(&r, 422, "validation_failed", "spec.weekly");
    let r = s
        .post("/api/v1/sla/calendars", Some(&admin.token), bad(china_week(&["2026-02-30"])))
        .await;
    expect_field_error(&r, 422, "validation_failed", "spec.holidays");
    let r = s
        .post("/api/v1/sla/calendars", Some(&admin.token), json!({"name": " ", "spec": china_week(&[])}))
        .await;
    expect_field_error(&r, 422, "validation_failed", "name");
    // Agents read but do not write.
    let r = s
        .post("/api/v1/sla/calendars", Some(&agent.token), bad(china_week(&[])))
        .await;
    r.expect_error(403, "forbidden");
    let list = s.get("/api/v1/sla/calendars", Some(&agent.token)).await;
    assert_eq!(list.expect(200)["calendars"].as_array().unwrap().len(), 1);

    // A calendar with National Day, made the default.
    let mut spec = china_week(&["2026-10-01", "2026-10-02"]);
    spec["workdays"] = json!({"2026-10-11": [["09:00", "18:00"]]});
    let r = s
        .post(
            "/api/v1/sla/calendars",
            Some(&sup.token),
            json!({"name": "国庆", "spec": spec, "is_default": true}),
        )
        .await;
    let cal = r.expect(201)["calendar"].clone();
    assert_eq!(cal["is_default"], true);
    assert_eq!(cal["spec"]["holidays"], json!(["2026-10-01", "2026-10-02"]));
    let cal_id = cal["id"].as_i64().unwrap();
    let old = s
        .get(&format!("/api/v1/sla/calendars/{default_id}"), Some(&agent.token))
        .await;
    assert_eq!(old.expect(200)["calendar"]["is_default"], false);
    let dup = s
        .post("/api/v1/sla/calendars", Some(&sup.token), json!({"name": "国庆", "spec": china_week(&[])}))
        .await;
    dup.expect_error(409, "conflict");

    // Policies.
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "加急", "first_response_minutes": -5}),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "first_response_minutes");
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "加急", "resolution_minutes": 60, "warn_before_minutes": -1}),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "warn_before_minutes");
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "加急", "resolution_minutes": 60, "match": {"tier": "gold"}}),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "match.tier");
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "加急", "resolution_minutes": 60, "match": {"priority": "asap"}}),
        )
        .await;
    assert!(matches!(r.status, 400 | 422), "{}", r.text);
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&agent.token),
            json!({"name": "加急", "resolution_minutes": 60}),
        )
        .await;
    r.expect_error(403, "forbidden");

    let other = s.create_shop(&format!("other-{}", unique())).await;
    let stranger = s.agent(other.id, Role::Admin, "Stranger").await;
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&stranger.token),
            json!({"name": "x", "resolution_minutes": 60, "calendar_id": cal_id}),
        )
        .await;
    r.expect_error(404, "not_found");
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "x", "resolution_minutes": 60, "escalation": {"notify_user_ids": [stranger.id()]}}),
        )
        .await;
    r.expect_error(404, "not_found");

    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({
                "name": "破损加急",
                "match": {"priority": "urgent", "category": "error", "tier": "key"},
                "first_response_minutes": 30,
                "next_response_minutes": 60,
                "resolution_minutes": 480,
                "pause_on_third_party": true,
                "warn_before_minutes": 10,
                "escalation": {"raise_priority": true, "notify_supervisors": true,
                               "reassign_agent_id": sup.id(), "notify_user_ids": [admin.id()]}
            }),
        )
        .await;
    let policy = r.expect(201)["policy"].clone();
    assert_eq!(policy["calendar_id"], cal_id, "the default calendar when none is named");
    assert_eq!(policy["pause_on_customer"], true);
    assert_eq!(policy["match"]["category"], "error");
    assert_eq!(policy["escalation"]["reassign_agent_id"], sup.id());
    let pid = policy["id"].as_i64().unwrap();

    let mut edited = json!({"name": "破损加急", "resolution_minutes": 240, "calendar_id": default_id});
    let r = s
        .put(&format!("/api/v1/sla/policies/{pid}"), Some(&sup.token), edited.clone())
        .await;
    let p = r.expect(200)["policy"].clone();
    assert_eq!(p["resolution_minutes"], 240);
    assert_eq!(p["first_response_minutes"], Value::Null);
    assert_eq!(p["calendar_id"], default_id);
    edited["resolution_minutes"] = json!(0);
    let r = s
        .put(&format!("/api/v1/sla/policies/{pid}"), Some(&sup.token), edited)
        .await;
    expect_field_error(&r, 422, "validation_failed", "resolution_minutes");
    let r = s.get(&format!("/api/v1/sla/policies/{pid}"), Some(&agent.token)).await;
    assert_eq!(r.expect(200)["policy"]["resolution_minutes"], 240, "a refused edit changes nothing");

    // Another shop sees none of it.
    for path in [
        format!("/api/v1/sla/policies/{pid}"),
        format!("/api/v1/sla/calendars/{cal_id}"),
    ] {
        s.get(&path, Some(&stranger.token)).await.expect_error(404, "not_found");
    }
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/policies/{pid}"), Some(&stranger.token), None)
        .await;
    r.expect_error(404, "not_found");
    let theirs = s.get("/api/v1/sla/policies", Some(&stranger.token)).await;
    assert_eq!(theirs.expect(200)["policies"], json!([]));

    // A calendar in use, or the default, is not deleted.
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/calendars/{default_id}"), Some(&admin.token), None)
        .await;
    r.expect_error(409, "conflict");
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/calendars/{cal_id}"), Some(&admin.token), None)
        .await;
    r.expect_error(409, "conflict");
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/policies/{pid}"), Some(&agent.token), None)
        .await;
    r.expect_error(403, "forbidden");
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/policies/{pid}"), Some(&admin.token), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Now the old default is free: make the holiday calendar non-default is refused, deleting the
    // unused old one works.
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/sla/calendars/{default_id}"), Some(&admin.token), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .put(
            &format!("/api/v1/sla/calendars/{cal_id}"),
            Some(&admin.token),
            json!({"name": "国庆", "spec": china_week(&[]), "is_default": false}),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "is_default");
}
both!(calendars_and_policies_over_the_api, calendars_and_policies);

async fn automation_rules_crud(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let other = s.create_shop(&format!("other-{}", unique())).await;
    let stranger = s.agent(other.id, Role::Supervisor, "Stranger").await;

    for (body, field) in [
        (json!({"name": "x"}), "actions"),
        (json!({"name": "x", "actions": {"set_status": "closed"}}), "actions.set_status"),
        (json!({"name": "x", "on_create": false, "actions": {"add_tags": ["a"]}}), "on_create"),
        (
            json!({"name": "x", "conditions": {"tiers": ["gold"]}, "actions": {"add_tags": ["a"]}}),
            "conditions.tiers",
        ),
        (json!({"name": "", "actions": {"add_tags": ["a"]}}), "name"),
    ] {
        let r = s.post("/api/v1/automation-rules", Some(&admin.token), body).await;
        expect_field_error(&r, 422, "validation_failed", field);
    }
    let r = s
        .post(
            "/api/v1/automation-rules",
            Some(&admin.token),
            json!({"name": "x", "actions": {"assign_agent_id": stranger.id()}}),
        )
        .await;
    r.expect_error(404, "not_found");
    let r = s
        .post(
            "/api/v1/automation-rules",
            Some(&agent.token),
            json!({"name": "x", "actions": {"add_tags": ["a"]}}),
        )
        .await;
    r.expect_error(403, "forbidden");

    let r = s
        .post(
            "/api/v1/automation-rules",
            Some(&admin.token),
            json!({
                "name": "破损转售后",
                "conditions": {"keywords": ["破损", " 碎了 "], "priorities": ["normal", "high"]},
                "actions": {"set_priority": "high", "add_tags": ["破损"], "reply": "{customer.name}您好，工单 {ticket.number} 已受理"}
            }),
        )
        .await;
    let rule = r.expect(201)["rule"].clone();
    assert_eq!(rule["on_create"], true);
    assert_eq!(rule["on_update"], false);
    assert_eq!(rule["enabled"], true);
    assert_eq!(rule["conditions"]["keywords"], json!(["破损", "碎了"]));
    let id = rule["id"].as_i64().unwrap();
    let list = s.get("/api/v1/automation-rules", Some(&agent.token)).await;
    assert_eq!(list.expect(200)["rules"].as_array().unwrap().len(), 1);
    let r = s
        .put(
            &format!("/api/v1/automation-rules/{id}"),
            Some(&admin.token),
            json!({"name": "破损", "enabled": false, "on_update": true, "actions": {"add_tags": ["破损"]}}),
        )
        .await;
    let rule = r.expect(200)["rule"].clone();
    assert_eq!((rule["enabled"].clone(), rule["on_update"].clone()), (json!(false), json!(true)));
    s.get(&format!("/api/v1/automation-rules/{id}"), Some(&stranger.token))
        .await
        .expect_error(404, "not_found");
    let r = s
        .put(
            &format!("/api/v1/automation-rules/{id}"),
            Some(&stranger.token),
            json!({"name": "x", "actions": {"add_tags": ["a"]}}),
        )
        .await;
    r.expect_error(404, "not_found");
    let r = s
        .request(reqwest::Method::DELETE, &format!("/api/v1/automation-rules/{id}"), Some(&admin.token), None)
        .await;
    assert_eq!(r.status, 204);
    s.get(&format!("/api/v1/automation-rules/{id}"), Some(&admin.token))
        .await
        .expect_error(404, "not_found");
}
both!(automation_rules_over_the_api, automation_rules_crud);

async fn notifications_are_per_user(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let sup = s.agent(shop, Role::Supervisor, "Sup").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let other = s.create_shop(&format!("other-{}", unique())).await;
    let stranger = s.agent(other.id, Role::Admin, "Stranger").await;
    let mut ws = s.agent_ws(&sup).await;
    use kefu_core::sla_policies::{NewNotification, NotificationKind};
    let n = |user_id, text: &str| NewNotification {
        user_id,
        kind: NotificationKind::SlaBreach,
        ticket_id: None,
        text: text.into(),
    };
    s.state
        .notify(shop, vec![n(sup.id(), "超时了"), n(agent.id(), "给客服"), n(stranger.id(), "别的店")])
        .await
        .unwrap();
    let frame = ws
        .find(std::time::Duration::from_secs(5), |e| e["type"] == "notification")
        .await
        .expect("a notification event");
    assert_eq!(frame["notification"]["text"], "超时了");
    assert_eq!(frame["notification"]["kind"], "sla_breach");
    let mine = s.get("/api/v1/notifications?unread=true", Some(&sup.token)).await;
    let list = mine.expect(200)["notifications"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    let theirs = s.get("/api/v1/notifications", Some(&stranger.token)).await;
    assert_eq!(theirs.expect(200)["notifications"], json!([]), "another shop's user is skipped");
    let id = list[0]["id"].as_i64().unwrap();
    s.post(&format!("/api/v1/notifications/{id}/read"), Some(&agent.token), json!({}))
        .await
        .expect_error(404, "not_found");
    let r = s.post(&format!("/api/v1/notifications/{id}/read"), Some(&sup.token), json!({})).await;
    assert_eq!(r.expect(200)["changed"], 1);
    let mine = s.get("/api/v1/notifications?unread=true", Some(&sup.token)).await;
    assert_eq!(mine.expect(200)["notifications"], json!([]));
    let r = s.post("/api/v1/notifications/read", Some(&agent.token), json!({})).await;
    assert_eq!(r.expect(200)["changed"], 1);
    s.get("/api/v1/notifications?limit=0", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
}
both!(notifications_are_stored_and_pushed, notifications_are_per_user);
