//! Outbound e-mail: SMTP settings (admin only, the password never returned), a test send and the
//! background sender, against a real SMTP conversation with a small receiver run by the test.

use crate::both;
use crate::harness::*;
use kefu_core::mail::NewMail;
use kefu_core::model::Role;
use kefu_core::time::Millis;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One mail as the receiver got it.
#[derive(Debug)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A minimal SMTP receiver: EHLO, MAIL, RCPT (refusing addresses that start with `refuse`),
/// DATA, QUIT. Enough for a real client to deliver to it.
async fn smtp_receiver() -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 it.kefu ESMTP\r\n").await;
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-it.kefu\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM") {
                        rcpt.clear();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO") {
                        if upper.contains("<REFUSE") {
                            b"550 5.1.1 mailbox unavailable\r\n"
                        } else {
                            rcpt.push(line[8..].trim().to_string());
                            b"250 OK\r\n"
                        }
                    } else if upper.starts_with("DATA") {
                        let _ = write.write_all(b"354 go ahead\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        let _ = tx.send(Received {
                            rcpt: std::mem::take(&mut rcpt),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, rx)
}

fn settings(port: u16) -> Value {
    json!({
        "enabled": true, "host": "127.0.0.1", "port": port, "security": "none",
        "username": "", "from_address": "service@shop.example.com", "from_name": "示例店客服",
        "password": "s3cret-smtp"
    })
}

both!(settings_are_admin_only_and_hide_the_password, settings_body);
async fn settings_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;

    let initial = s.get("/api/v1/settings/mail", Some(&admin.token)).await;
    assert_eq!(initial.expect(200)["configured"], false);
    assert_eq!(initial.body["password_set"], false);
    let status = s.get("/api/v1/mail/status", Some(&agent.token)).await;
    assert_eq!(status.expect(200)["configured"], false);

    s.get("/api/v1/settings/mail", Some(&agent.token))
        .await
        .expect_error(403, "forbidden");
    s.put("/api/v1/settings/mail", Some(&agent.token), settings(25))
        .await
        .expect_error(403, "forbidden");

    // Bad input names the field and changes nothing.
    for (field, value) in [
        ("host", json!("")),
        ("from_address", json!("not-an-address")),
        ("from_name", json!("x\r\nBcc: evil@example.com")),
        ("port", json!(0)),
    ] {
        let mut body = settings(25);
        body[field] = value;
        let r = s
            .put("/api/v1/settings/mail", Some(&admin.token), body)
            .await;
        r.expect_error(422, "validation_failed");
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    let mut body = settings(25);
    body["port"] = json!(70000);
    assert!(
        s.put("/api/v1/settings/mail", Some(&admin.token), body)
            .await
            .status
            / 100
            == 4
    );
    let mut body = settings(25);
    body["security"] = json!("ssl3");
    assert_eq!(
        s.put("/api/v1/settings/mail", Some(&admin.token), body)
            .await
            .status
            / 100,
        4
    );
    assert_eq!(
        s.get("/api/v1/settings/mail", Some(&admin.token))
            .await
            .body["configured"],
        false
    );

    let saved = s
        .put("/api/v1/settings/mail", Some(&admin.token), settings(25))
        .await;
    assert_eq!(saved.expect(200)["configured"], true);
    assert_eq!(saved.body["password_set"], true);
    assert!(
        !saved.text.contains("s3cret"),
        "password returned: {}",
        saved.text
    );
    let read = s.get("/api/v1/settings/mail", Some(&admin.token)).await;
    assert!(!read.text.contains("s3cret"));
    assert_eq!(read.body["from_name"], "示例店客服");

    // No password: the stored one is kept; "" clears it.
    let mut keep = settings(25);
    keep.as_object_mut().unwrap().remove("password");
    let kept = s
        .put("/api/v1/settings/mail", Some(&admin.token), keep)
        .await;
    assert_eq!(kept.expect(200)["password_set"], true);
    let mut clear = settings(25);
    clear["password"] = json!("");
    let cleared = s
        .put("/api/v1/settings/mail", Some(&admin.token), clear)
        .await;
    assert_eq!(cleared.expect(200)["password_set"], false);
    assert_eq!(
        s.get("/api/v1/mail/status", Some(&agent.token)).await.body["configured"],
        true
    );

    // Another shop sees its own (unconfigured) settings.
    let other = s.create_shop("mail-other").await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    let theirs = s
        .get("/api/v1/settings/mail", Some(&other_admin.token))
        .await;
    assert_eq!(theirs.expect(200)["configured"], false);
    assert_eq!(theirs.body["host"], "");
}

both!(test_send_speaks_smtp, test_send_body);
async fn test_send_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let (port, mut inbox) = smtp_receiver().await;

    // Not configured yet: a clear 422.
    s.post(
        "/api/v1/settings/mail/test",
        Some(&admin.token),
        json!({"to": "owner@shop.example.com"}),
    )
    .await
    .expect_error(422, "validation_failed");

    s.put("/api/v1/settings/mail", Some(&admin.token), settings(port))
        .await
        .expect(200);
    let sent = s
        .post(
            "/api/v1/settings/mail/test",
            Some(&admin.token),
            json!({"to": "owner@shop.example.com"}),
        )
        .await;
    assert_eq!(sent.expect(200)["sent"], true);
    let mail = tokio::time::timeout(WAIT, inbox.recv())
        .await
        .expect("the receiver got the test mail")
        .expect("mail");
    assert_eq!(mail.rcpt, vec!["<owner@shop.example.com>".to_string()]);
    assert!(
        mail.data.contains("To: owner@shop.example.com"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("service@shop.example.com"),
        "{}",
        mail.data
    );

    // The server's refusal reaches the admin.
    let refused = s
        .post(
            "/api/v1/settings/mail/test",
            Some(&admin.token),
            json!({"to": "refuse@shop.example.com"}),
        )
        .await;
    refused.expect_error(422, "validation_failed");
    assert!(
        refused.text.contains("550") || refused.text.contains("unavailable"),
        "{}",
        refused.text
    );
    s.post(
        "/api/v1/settings/mail/test",
        Some(&admin.token),
        json!({"to": "nobody"}),
    )
    .await
    .expect_error(422, "validation_failed");
}

fn queued(to: &str, ticket_id: Option<i64>) -> NewMail {
    NewMail {
        to_address: to.into(),
        to_name: "张三".into(),
        subject: "您的工单有新回复".into(),
        body_text: "您好，破损的商品我们已为您办理部分退款。".into(),
        kind: "ticket_reply".into(),
        ticket_id,
    }
}

both!(sender_delivers_and_records_failures, sender_body);
async fn sender_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let agent = s.agent(s.shop.id, Role::Agent, "客服").await;
    let (port, mut inbox) = smtp_receiver().await;
    s.put("/api/v1/settings/mail", Some(&admin.token), settings(port))
        .await
        .expect(200);

    let ok = s
        .store
        .enqueue_mail(s.shop.id, &queued("buyer@example.com", Some(7)))
        .await
        .unwrap();
    let refused = s
        .store
        .enqueue_mail(s.shop.id, &queued("refuse-me@example.com", Some(8)))
        .await
        .unwrap();
    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("the sender delivered the queued mail")
        .expect("mail");
    assert_eq!(mail.rcpt, vec!["<buyer@example.com>".to_string()]);

    // Wait until both rows carry their outcome.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (sent, failed) = loop {
        let list = s.get("/api/v1/mail/outbox", Some(&supervisor.token)).await;
        let mails = list.expect(200)["mails"].as_array().unwrap().clone();
        let find = |id: i64| mails.iter().find(|m| m["id"] == id).cloned().unwrap();
        let (a, b) = (find(ok.id), find(refused.id));
        if a["status"] == "sent" && b["last_error"].is_string() {
            break (a, b);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outcomes not recorded: {mails:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(sent["sent_at"].is_string());
    assert_eq!(sent["attempts"], 1);
    // A refusal is retried later, with the server's answer kept for the console.
    assert_eq!(failed["status"], "queued");
    assert_eq!(failed["attempts"], 1);
    let retry_at: Millis = serde_json::from_value(failed["next_attempt_at"].clone()).unwrap();
    assert!(retry_at.0 > Millis::now().0 + 30_000, "retried too soon");
    assert!(failed["last_error"].as_str().unwrap().contains("550"));

    // The outbox is for supervisors and admins (a ticket's own mails are on the ticket).
    let of_ticket = s
        .get("/api/v1/mail/outbox?ticket_id=7", Some(&admin.token))
        .await;
    let ids: Vec<i64> = of_ticket.expect(200)["mails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ok.id]);
    for path in ["/api/v1/mail/outbox", "/api/v1/mail/outbox?ticket_id=7"] {
        s.get(path, Some(&agent.token))
            .await
            .expect_error(403, "forbidden");
    }
    s.get("/api/v1/mail/outbox?limit=0", Some(&admin.token))
        .await
        .expect_error(422, "validation_failed");

    // Another shop's outbox is its own.
    let other = s.create_shop("mail-iso").await;
    let other_admin = s.agent(other.id, Role::Admin, "别家店长").await;
    let theirs = s.get("/api/v1/mail/outbox", Some(&other_admin.token)).await;
    assert_eq!(theirs.expect(200)["mails"], json!([]));
    let theirs = s
        .get("/api/v1/mail/outbox?ticket_id=7", Some(&other_admin.token))
        .await;
    assert_eq!(theirs.expect(200)["mails"], json!([]));
}

both!(a_claimed_mail_goes_to_one_sender, claim_body);
async fn claim_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    // An SMTP server that accepts and never answers: the background sender, if it claims a
    // batch, sits on it (at most one batch of 20) until its timeout, far beyond this test.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    s.put("/api/v1/settings/mail", Some(&admin.token), settings(port))
        .await
        .expect(200);
    let mut ids = Vec::new();
    for i in 0..60 {
        let row = s
            .store
            .enqueue_mail(s.shop.id, &queued(&format!("b{i}@example.com"), None))
            .await
            .unwrap();
        ids.push(row.id);
    }
    let later = Millis(Millis::now().0 + 3_600_000);
    let (a, b) = tokio::join!(
        s.store.claim_due_mail(later, 30),
        s.store.claim_due_mail(later, 30)
    );
    let a: Vec<i64> = a.unwrap().iter().map(|m| m.id).collect();
    let b: Vec<i64> = b.unwrap().iter().map(|m| m.id).collect();
    assert!(
        a.iter().all(|id| !b.contains(id)),
        "both claimed a row: {a:?} {b:?}"
    );
    assert!(a.iter().chain(&b).all(|id| ids.contains(id)));
    // The sender holds at most one batch; the two claims share the other 40 rows or more.
    assert!(a.len() + b.len() >= 40, "{} + {}", a.len(), b.len());
    // Leased rows are not due again until the lease runs out.
    let again = s.store.claim_due_mail(later, 60).await.unwrap();
    assert!(
        again
            .iter()
            .all(|m| !a.contains(&m.id) && !b.contains(&m.id)),
        "a leased row was claimed twice"
    );
}

both!(public_ticket_replies_are_mailed, ticket_reply_body);
async fn ticket_reply_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    let agent = s.agent(s.shop.id, Role::Agent, "小美").await;
    let other_agent = s.agent(s.shop.id, Role::Agent, "小王").await;
    let with_mail = s.shopper().await;
    s.request(
        reqwest::Method::PATCH,
        &format!("/api/v1/customers/{}", with_mail.customer_id),
        Some(&admin.token),
        Some(json!({"email": "buyer@example.com", "name": "张三"})),
    )
    .await
    .expect(200);
    let without_mail = s.shopper().await;
    let ticket = |customer_id: i64| json!({"subject": "杯子破损", "customer_id": customer_id, "assignee_id": agent.id()});
    let t1 = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            ticket(with_mail.customer_id),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let t2 = s
        .post(
            "/api/v1/tickets",
            Some(&admin.token),
            ticket(without_mail.customer_id),
        )
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let reply = |t: i64, body: &'static str| {
        let path = format!("/api/v1/tickets/{t}/entries");
        let token = agent.token.clone();
        let s = &s;
        async move {
            s.post(&path, Some(&token), json!({"kind": "public", "body": body}))
                .await
        }
    };

    // Not configured: the reply is stored, nothing is queued, and the ticket says so.
    reply(t1, "已为您登记").await.expect(201);
    let state = s
        .get(&format!("/api/v1/tickets/{t1}/mail"), Some(&agent.token))
        .await;
    let state = state.expect(200).clone();
    assert_eq!(state["configured"], false);
    assert_eq!(state["to_address"], "buyer@example.com");
    assert_eq!(state["mails"], json!([]));

    let (port, mut inbox) = smtp_receiver().await;
    s.put("/api/v1/settings/mail", Some(&admin.token), settings(port))
        .await
        .expect(200);
    reply(t1, "非常抱歉，破损的杯子我们为您补发一只。")
        .await
        .expect(201);
    // A note is never mailed; a shopper without an address gets no mail.
    s.post(
        &format!("/api/v1/tickets/{t1}/entries"),
        Some(&agent.token),
        json!({"kind": "note", "body": "内部：仓库确认补发"}),
    )
    .await
    .expect(201);
    reply(t2, "您好").await.expect(201);

    let mail = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("the reply was mailed")
        .expect("mail");
    assert_eq!(mail.rcpt, vec!["<buyer@example.com>".to_string()]);
    assert!(mail.data.contains("Subject:"), "{}", mail.data);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), inbox.recv())
            .await
            .is_err(),
        "only one mail: notes and address-less shoppers are not mailed"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = s
            .get(&format!("/api/v1/tickets/{t1}/mail"), Some(&agent.token))
            .await;
        let state = state.expect(200).clone();
        assert_eq!(state["configured"], true);
        let mails = state["mails"].as_array().unwrap().clone();
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0]["kind"], "ticket_reply");
        assert!(mails[0]["subject"].as_str().unwrap().contains("T-000001"));
        let body = mails[0]["body_text"].as_str().unwrap();
        assert!(
            body.contains("补发一只") && !body.contains("仓库确认"),
            "{body}"
        );
        if mails[0]["status"] == "sent" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not marked sent: {mails:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let none = s
        .get(&format!("/api/v1/tickets/{t2}/mail"), Some(&agent.token))
        .await;
    assert!(none.expect(200)["to_address"].is_null());

    // Another agent's ticket, another shop's ticket: 404.
    s.get(
        &format!("/api/v1/tickets/{t1}/mail"),
        Some(&other_agent.token),
    )
    .await
    .expect_error(404, "not_found");
    let other = s.create_shop("mail-tickets").await;
    let stranger = s.agent(other.id, Role::Admin, "别家店长").await;
    s.get(&format!("/api/v1/tickets/{t1}/mail"), Some(&stranger.token))
        .await
        .expect_error(404, "not_found");
}
