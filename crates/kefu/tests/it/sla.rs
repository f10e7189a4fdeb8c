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
    assert_eq!(
        cals[0]["spec"]["weekly"]["mon"],
        json!([["09:00", "18:00"]])
    );
    let zones = body["time_zones"].as_array().unwrap();
    assert!(zones.contains(&json!("Asia/Shanghai")));
    assert!(
        !zones.contains(&json!("Europe/London")),
        "DST zones are refused"
    );
    let default_id = cals[0]["id"].as_i64().unwrap();
    let again = s.get("/api/v1/sla/calendars", Some(&sup.token)).await;
    assert_eq!(again.expect(200)["calendars"].as_array().unwrap().len(), 1);

    // Validation names the field and stores nothing.
    let bad = |spec: Value| json!({"name": "节假日", "spec": spec});
    let mut spec = china_week(&[]);
    spec["time_zone"] = json!("Europe/London");
    let r = s
        .post("/api/v1/sla/calendars", Some(&admin.token), bad(spec))
        .await;
    expect_field_error(&r, 422, "validation_failed", "spec.time_zone");
    let mut spec = china_week(&[]);
    spec["weekly"]["mon"] = json!([["09:00", "13:00"], ["12:00", "18:00"]]);
    let r = s
        .post("/api/v1/sla/calendars", Some(&admin.token), bad(spec))
        .await;
    expect_field_error(&r, 422, "validation_failed", "spec.weekly");
    let mut spec = china_week(&[]);
    spec["weekly"]["tue"] = json!([["18:00", "09:00"]]);
    let r = s
        .post("/api/v1/sla/calendars", Some(&admin.token), bad(spec))
        .await;
    expect_field_error(&r, 422, "validation_failed", "spec.weekly");
    let r = s
        .post(
            "/api/v1/sla/calendars",
            Some(&admin.token),
            bad(china_week(&["2026-02-30"])),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "spec.holidays");
    let r = s
        .post(
            "/api/v1/sla/calendars",
            Some(&admin.token),
            json!({"name": " ", "spec": china_week(&[])}),
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "name");
    // Agents read but do not write.
    let r = s
        .post(
            "/api/v1/sla/calendars",
            Some(&agent.token),
            bad(china_week(&[])),
        )
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
        .get(
            &format!("/api/v1/sla/calendars/{default_id}"),
            Some(&agent.token),
        )
        .await;
    assert_eq!(old.expect(200)["calendar"]["is_default"], false);
    let dup = s
        .post(
            "/api/v1/sla/calendars",
            Some(&sup.token),
            json!({"name": "国庆", "spec": china_week(&[])}),
        )
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
    assert_eq!(
        policy["calendar_id"], cal_id,
        "the default calendar when none is named"
    );
    assert_eq!(policy["pause_on_customer"], true);
    assert_eq!(policy["match"]["category"], "error");
    assert_eq!(policy["escalation"]["reassign_agent_id"], sup.id());
    let pid = policy["id"].as_i64().unwrap();

    let mut edited =
        json!({"name": "破损加急", "resolution_minutes": 240, "calendar_id": default_id});
    let r = s
        .put(
            &format!("/api/v1/sla/policies/{pid}"),
            Some(&sup.token),
            edited.clone(),
        )
        .await;
    let p = r.expect(200)["policy"].clone();
    assert_eq!(p["resolution_minutes"], 240);
    assert_eq!(p["first_response_minutes"], Value::Null);
    assert_eq!(p["calendar_id"], default_id);
    edited["resolution_minutes"] = json!(0);
    let r = s
        .put(
            &format!("/api/v1/sla/policies/{pid}"),
            Some(&sup.token),
            edited,
        )
        .await;
    expect_field_error(&r, 422, "validation_failed", "resolution_minutes");
    let r = s
        .get(&format!("/api/v1/sla/policies/{pid}"), Some(&agent.token))
        .await;
    assert_eq!(
        r.expect(200)["policy"]["resolution_minutes"],
        240,
        "a refused edit changes nothing"
    );

    // Another shop sees none of it.
    for path in [
        format!("/api/v1/sla/policies/{pid}"),
        format!("/api/v1/sla/calendars/{cal_id}"),
    ] {
        s.get(&path, Some(&stranger.token))
            .await
            .expect_error(404, "not_found");
    }
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/policies/{pid}"),
            Some(&stranger.token),
            None,
        )
        .await;
    r.expect_error(404, "not_found");
    let theirs = s.get("/api/v1/sla/policies", Some(&stranger.token)).await;
    assert_eq!(theirs.expect(200)["policies"], json!([]));

    // A calendar in use, or the default, is not deleted.
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/calendars/{default_id}"),
            Some(&admin.token),
            None,
        )
        .await;
    r.expect_error(409, "conflict");
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/calendars/{cal_id}"),
            Some(&admin.token),
            None,
        )
        .await;
    r.expect_error(409, "conflict");
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/policies/{pid}"),
            Some(&agent.token),
            None,
        )
        .await;
    r.expect_error(403, "forbidden");
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/policies/{pid}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Now the old default is free: make the holiday calendar non-default is refused, deleting the
    // unused old one works.
    let r = s
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/sla/calendars/{default_id}"),
            Some(&admin.token),
            None,
        )
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
        (
            json!({"name": "x", "actions": {"set_status": "closed"}}),
            "actions.set_status",
        ),
        (
            json!({"name": "x", "on_create": false, "actions": {"add_tags": ["a"]}}),
            "on_create",
        ),
        (
            json!({"name": "x", "conditions": {"tiers": ["gold"]}, "actions": {"add_tags": ["a"]}}),
            "conditions.tiers",
        ),
        (json!({"name": "", "actions": {"add_tags": ["a"]}}), "name"),
    ] {
        let r = s
            .post("/api/v1/automation-rules", Some(&admin.token), body)
            .await;
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
    assert_eq!(
        (rule["enabled"].clone(), rule["on_update"].clone()),
        (json!(false), json!(true))
    );
    s.get(
        &format!("/api/v1/automation-rules/{id}"),
        Some(&stranger.token),
    )
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
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/automation-rules/{id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    s.get(
        &format!("/api/v1/automation-rules/{id}"),
        Some(&admin.token),
    )
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
        .services
        .notify
        .notify(
            shop,
            vec![
                n(sup.id(), "超时了"),
                n(agent.id(), "给客服"),
                n(stranger.id(), "别的店"),
            ],
        )
        .await
        .unwrap();
    let frame = ws
        .find(std::time::Duration::from_secs(5), |e| {
            e["type"] == "notification"
        })
        .await
        .expect("a notification event");
    assert_eq!(frame["notification"]["text"], "超时了");
    assert_eq!(frame["notification"]["kind"], "sla_breach");
    let mine = s
        .get("/api/v1/notifications?unread=true", Some(&sup.token))
        .await;
    let list = mine.expect(200)["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 1);
    let theirs = s.get("/api/v1/notifications", Some(&stranger.token)).await;
    assert_eq!(
        theirs.expect(200)["notifications"],
        json!([]),
        "another shop's user is skipped"
    );
    let id = list[0]["id"].as_i64().unwrap();
    s.post(
        &format!("/api/v1/notifications/{id}/read"),
        Some(&agent.token),
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    let r = s
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&sup.token),
            json!({}),
        )
        .await;
    assert_eq!(r.expect(200)["changed"], 1);
    let mine = s
        .get("/api/v1/notifications?unread=true", Some(&sup.token))
        .await;
    assert_eq!(mine.expect(200)["notifications"], json!([]));
    let r = s
        .post("/api/v1/notifications/read", Some(&agent.token), json!({}))
        .await;
    assert_eq!(r.expect(200)["changed"], 1);
    s.get("/api/v1/notifications?limit=0", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");
}
both!(
    notifications_are_stored_and_pushed,
    notifications_are_per_user
);

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

/// A Shanghai wall-clock time: days after Monday 2026-11-23, hour, minute.
fn sh(day: i64, h: i64, m: i64) -> kefu_core::time::Millis {
    kefu_core::time::Millis((20_780 + day) * 86_400_000 + (h - 8) * HOUR + m * MIN)
}

fn rfc(t: kefu_core::time::Millis) -> Value {
    json!(t.to_rfc3339())
}

fn set_clock(s: &TestServer, t: kefu_core::time::Millis) {
    s.clock.as_ref().expect("a clocked server").set(t);
}

async fn ticket(s: &TestServer, token: &str, id: i64) -> Value {
    s.get(&format!("/api/v1/tickets/{id}"), Some(token))
        .await
        .expect(200)["ticket"]
        .clone()
}

fn clock<'a>(t: &'a Value, metric: &str) -> &'a Value {
    t["sla"]["clocks"]
        .as_array()
        .expect("sla clocks")
        .iter()
        .find(|c| c["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} clock in {t}"))
}

async fn listed(s: &TestServer, token: &str, query: &str) -> Vec<i64> {
    let r = s
        .get(&format!("/api/v1/tickets?{query}"), Some(token))
        .await;
    r.expect(200)["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

async fn patch(s: &TestServer, token: &str, id: i64, body: Value) -> Resp {
    s.request(
        reqwest::Method::PATCH,
        &format!("/api/v1/tickets/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

/// Due times in business hours with a holiday, exactly; warnings; a first reply meeting the
/// first-response target; pausing while pending on the customer; the customer's answer resuming
/// the clocks and starting next response; the `sla` list filter.
async fn due_times_pauses_and_filters(backend: Backend) {
    // Friday 2026-11-27 17:00 in Shanghai; Monday 11-30 is a holiday.
    let s = TestServer::start_clocked(backend, sh(4, 17, 0)).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    s.post(
        "/api/v1/sla/calendars",
        Some(&admin.token),
        json!({"name": "含假日", "spec": china_week(&["2026-11-30"]), "is_default": true}),
    )
    .await
    .expect(201);
    s.post(
        "/api/v1/sla/policies",
        Some(&admin.token),
        json!({"name": "标准", "first_response_minutes": 120, "next_response_minutes": 60,
               "resolution_minutes": 600, "warn_before_minutes": 30}),
    )
    .await
    .expect(201);
    let shopper = s.shopper().await;
    let r = s
        .post(
            "/api/v1/tickets",
            Some(&agent.token),
            json!({"subject": "快递破损", "customer_id": shopper.customer_id, "assignee_id": agent.id(), "shared_with_customer": true}),
        )
        .await;
    let created = r.expect(201).clone();
    let id = created["id"].as_i64().unwrap();
    // 1 h on Friday, nothing on the weekend or the Monday holiday, 1 h on Tuesday.
    assert_eq!(
        clock(&created, "first_response")["due_at"],
        rfc(sh(8, 10, 0))
    );
    assert_eq!(
        clock(&created, "first_response")["warn_at"],
        rfc(sh(8, 9, 30))
    );
    // 10 h: 1 h Friday + 9 h Tuesday = Tuesday's closing time.
    assert_eq!(clock(&created, "resolution")["due_at"], rfc(sh(8, 18, 0)));
    assert_eq!(created["sla"]["state"], "ok");
    assert_eq!(created["sla"]["next_due_at"], rfc(sh(8, 10, 0)));

    // Tuesday 09:45: within the warning lead of first response.
    set_clock(&s, sh(8, 9, 45));
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["sla"]["state"], "warning");
    assert_eq!(listed(&s, &agent.token, "sla=warning").await, vec![id]);
    assert!(listed(&s, &agent.token, "sla=breached").await.is_empty());
    s.get("/api/v1/tickets?sla=late", Some(&agent.token))
        .await
        .expect_error(422, "validation_failed");

    // The first public reply meets first response.
    set_clock(&s, sh(8, 9, 50));
    s.post(
        &format!("/api/v1/tickets/{id}/entries"),
        Some(&agent.token),
        json!({"kind": "public", "body": "您好，我们马上处理"}),
    )
    .await
    .expect(201);
    let t = ticket(&s, &agent.token, id).await;
    let first = clock(&t, "first_response");
    assert_eq!(
        (first["state"].clone(), first["late"].clone()),
        (json!("met"), json!(false))
    );
    assert_eq!(t["sla"]["state"], "ok", "resolution still runs: {t}");

    // Pending on the customer at 10:00 pauses resolution (2 h used).
    set_clock(&s, sh(8, 10, 0));
    patch(&s, &agent.token, id, json!({"status": "pending_customer"}))
        .await
        .expect(200);
    let t = ticket(&s, &agent.token, id).await;
    let res = clock(&t, "resolution");
    assert_eq!(res["state"], "paused");
    assert_eq!(res["due_at"], Value::Null);
    assert_eq!(res["used_ms"], 2 * HOUR);
    assert_eq!(t["sla"]["state"], "paused");
    assert_eq!(listed(&s, &agent.token, "sla=paused").await, vec![id]);

    // Hours later the customer answers: the ticket opens, resolution resumes with 8 h left
    // (4 h Tuesday, 4 h Wednesday) and next response runs 1 h.
    set_clock(&s, sh(8, 14, 0));
    s.post(
        &format!("/api/v1/widget/tickets/{id}/replies"),
        Some(&shopper.token),
        json!({"body": "照片发您了"}),
    )
    .await
    .expect(201);
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["status"], "open");
    assert_eq!(clock(&t, "resolution")["due_at"], rfc(sh(9, 13, 0)));
    assert_eq!(clock(&t, "next_response")["due_at"], rfc(sh(8, 15, 0)));
    assert_eq!(listed(&s, &agent.token, "sla=ok").await, vec![id]);

    // Past next response's due time: breached, and listed as such.
    set_clock(&s, sh(8, 15, 1));
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["sla"]["state"], "breached");
    assert_eq!(
        listed(&s, &agent.token, "sla=breached,warning").await,
        vec![id]
    );
    // Resolving meets every clock.
    patch(&s, &agent.token, id, json!({"status": "resolved"}))
        .await
        .expect(200);
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["sla"]["state"], "met");
    assert!(
        listed(&s, &agent.token, "sla=breached,warning,ok,paused")
            .await
            .is_empty()
    );
}
both!(
    due_times_with_business_hours_holidays_and_pauses,
    due_times_pauses_and_filters
);

/// Two nodes scanning at the same moment: each warning and each breach fires once; the breach
/// escalates the ticket (priority raised, reassigned) as the system, audited, and notifies.
async fn escalation_fires_once(backend: Backend) {
    let s = TestServer::start_clocked(backend, sh(0, 10, 0)).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let sup = s.agent(shop, Role::Supervisor, "Sup").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    let backup = s.agent(shop, Role::Agent, "Backup").await;
    s.post(
        "/api/v1/sla/policies",
        Some(&admin.token),
        json!({"name": "快", "first_response_minutes": 30, "warn_before_minutes": 10,
               "escalation": {"raise_priority": true, "notify_supervisors": true,
                              "reassign_agent_id": backup.id()}}),
    )
    .await
    .expect(201);
    let r = s
        .post(
            "/api/v1/tickets",
            Some(&agent.token),
            json!({"subject": "没收到货", "assignee_id": agent.id()}),
        )
        .await;
    let id = r.expect(201)["id"].as_i64().unwrap();
    let mut sup_ws = s.agent_ws(&sup).await;

    // A second node on the same database. Its events reach the same sockets, as the bus of a
    // multi-node deployment would deliver them.
    let node2 = kefu_http::AppState::new(
        kefu_service::Services::new(
            s.store.clone(),
            s.state.hub.clone(),
            kefu_service::ServicesConfig {
                clock: s.state.services.clock.clone(),
                ..Default::default()
            },
        ),
        s.state.hub.clone(),
        &generous(),
    );
    let both_scan = || async {
        let (a, b) = tokio::join!(
            s.state.services.escalation.sla_scan(),
            node2.services.escalation.sla_scan()
        );
        let (a, b) = (a.expect("scan"), b.expect("scan"));
        (a.warnings + b.warnings, a.breaches + b.breaches)
    };
    assert_eq!(both_scan().await, (0, 0), "nothing due at 10:00");
    set_clock(&s, sh(0, 10, 21));
    assert_eq!(both_scan().await, (1, 0), "one warning");
    assert_eq!(both_scan().await, (0, 0), "never twice");
    let mine = s.get("/api/v1/notifications", Some(&agent.token)).await;
    let mine = mine.expect(200)["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["kind"], "sla_warning");
    assert_eq!(mine[0]["ticket_id"], id);

    set_clock(&s, sh(0, 10, 31));
    assert_eq!(both_scan().await, (0, 1), "one breach");
    assert_eq!(both_scan().await, (0, 0), "never twice");
    let t = ticket(&s, &admin.token, id).await;
    assert_eq!(t["priority"], "high");
    assert_eq!(t["assignee_id"], backup.id());
    assert_eq!(t["sla"]["state"], "breached");
    assert!(clock(&t, "first_response")["breached_at"].is_string());
    let audit = s
        .get(&format!("/api/v1/tickets/{id}/audit"), Some(&admin.token))
        .await;
    let audit = audit.expect(200)["audit"].as_array().unwrap().clone();
    let by_system: Vec<&str> = audit
        .iter()
        .filter(|a| a["actor_type"] == "system")
        .map(|a| a["field"].as_str().unwrap())
        .collect();
    assert!(
        by_system.contains(&"priority") && by_system.contains(&"assignee_id"),
        "{audit:?}"
    );
    assert_eq!(by_system.iter().filter(|f| **f == "priority").count(), 1);

    // Supervisors, the old and the new assignee are told once; admins are supervisors too.
    for (who, n) in [(&sup, 1), (&admin, 1), (&backup, 1), (&agent, 2)] {
        let r = s.get("/api/v1/notifications", Some(&who.token)).await;
        let list = r.expect(200)["notifications"].as_array().unwrap().clone();
        assert_eq!(list.len(), n, "{}: {list:?}", who.user.name);
        assert_eq!(list[0]["kind"], "sla_breach");
    }
    let frame = sup_ws
        .find(std::time::Duration::from_secs(5), |e| {
            e["type"] == "notification"
        })
        .await
        .expect("a live notification");
    assert_eq!(frame["notification"]["kind"], "sla_breach");
    // The overview: every open ticket by its worst clock (supervisors and admins only).
    let o = s.get("/api/v1/sla/overview", Some(&sup.token)).await;
    assert_eq!(
        o.expect(200).clone(),
        json!({"open_tickets": 1, "ok": 0, "warning": 0, "breached": 1, "paused": 0})
    );
    s.get("/api/v1/sla/overview", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    // A reply afterwards still meets the clock, late.
    s.post(
        &format!("/api/v1/tickets/{id}/entries"),
        Some(&backup.token),
        json!({"kind": "public", "body": "抱歉久等"}),
    )
    .await
    .expect(201);
    let t = ticket(&s, &admin.token, id).await;
    assert_eq!(clock(&t, "first_response")["late"], true);
    assert_eq!(both_scan().await, (0, 0));
}
both!(
    escalation_fires_exactly_once_across_two_nodes,
    escalation_fires_once
);

/// Rules match on keywords and priority (seeing what earlier rules set), act as the system
/// (audited), reply with filled variables, notify, and never trigger themselves again.
async fn automation_rules_run(backend: Backend) {
    let s = TestServer::start(backend).await;
    let shop = s.shop.id;
    let admin = s.agent(shop, Role::Admin, "Admin").await;
    let sup = s.agent(shop, Role::Supervisor, "Sup").await;
    let agent = s.agent(shop, Role::Agent, "Agent").await;
    for rule in [
        json!({"name": "破损加急", "position": 1,
               "conditions": {"keywords": ["破损"]},
               "actions": {"set_priority": "urgent", "add_tags": ["破损"], "notify_supervisors": true,
                           "reply": "{customer.name}您好，工单 {ticket.number} 已受理"}}),
        json!({"name": "加急标签", "position": 2, "on_update": true,
               "conditions": {"priorities": ["urgent"]},
               "actions": {"add_tags": ["加急"]}}),
        json!({"name": "每次更新", "position": 3, "on_create": false, "on_update": true,
               "actions": {"add_tags": ["已更新"], "set_priority": "low"}}),
        json!({"name": "停用", "position": 0, "enabled": false,
               "actions": {"add_tags": ["不应出现"]}}),
    ] {
        s.post("/api/v1/automation-rules", Some(&admin.token), rule)
            .await
            .expect(201);
    }
    // Only urgent tickets have an SLA: a ticket raised to urgent by a rule gets its clocks then.
    let r = s
        .post(
            "/api/v1/sla/policies",
            Some(&admin.token),
            json!({"name": "紧急", "match": {"priority": "urgent"}, "resolution_minutes": 600}),
        )
        .await;
    let urgent_policy = r.expect(201)["policy"]["id"].clone();
    let shopper = s.shopper().await;
    let name = s
        .get(
            &format!("/api/v1/customers/{}", shopper.customer_id),
            Some(&admin.token),
        )
        .await
        .expect(200)["customer"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            "/api/v1/tickets",
            Some(&agent.token),
            json!({"subject": "收到的箱子", "description": "外箱破损，杯子碎了", "customer_id": shopper.customer_id}),
        )
        .await;
    let created = r.expect(201).clone();
    let id = created["id"].as_i64().unwrap();
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["priority"], "urgent");
    assert_eq!(
        t["tags"],
        json!(["加急", "破损"]),
        "the later rule saw the raised priority"
    );
    assert_eq!(t["sla"]["policy_id"], urgent_policy);
    assert!(clock(&t, "resolution")["due_at"].is_string(), "{t}");
    let entries = s
        .get(&format!("/api/v1/tickets/{id}/entries"), Some(&agent.token))
        .await;
    let entries = entries.expect(200)["entries"].as_array().unwrap().clone();
    let reply = entries
        .iter()
        .find(|e| e["kind"] == "public")
        .expect("the automatic reply");
    assert_eq!(reply["author_type"], "system");
    assert_eq!(
        reply["body"],
        format!(
            "{name}您好，工单 {} 已受理",
            created["display_number"].as_str().unwrap()
        )
    );
    let notes = s.get("/api/v1/notifications", Some(&sup.token)).await;
    let notes = notes.expect(200)["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["kind"], "automation");

    // A ticket without the keyword is left alone.
    let r = s
        .post(
            "/api/v1/tickets",
            Some(&agent.token),
            json!({"subject": "开发票"}),
        )
        .await;
    let plain = r.expect(201)["id"].as_i64().unwrap();
    let t = ticket(&s, &agent.token, plain).await;
    assert_eq!(
        (t["priority"].clone(), t["tags"].clone()),
        (json!("normal"), json!([]))
    );

    // An update by a person runs the update rules once; their own change (priority → low, tag)
    // does not run them again (else "加急" would be re-evaluated and "已更新" re-added forever).
    patch(&s, &agent.token, id, json!({"subject": "收到的箱子破了"}))
        .await
        .expect(200);
    let t = ticket(&s, &agent.token, id).await;
    assert_eq!(t["priority"], "low");
    assert_eq!(t["tags"], json!(["加急", "已更新", "破损"]));
    let audit = s
        .get(&format!("/api/v1/tickets/{id}/audit"), Some(&agent.token))
        .await;
    let audit = audit.expect(200)["audit"].as_array().unwrap().clone();
    let system_changes = audit
        .iter()
        .filter(|a| a["actor_type"] == "system" && a["field"] == "priority")
        .count();
    assert_eq!(
        system_changes, 2,
        "one on create, one on the update: {audit:?}"
    );
}
both!(
    automation_rules_act_once_without_loops,
    automation_rules_run
);
