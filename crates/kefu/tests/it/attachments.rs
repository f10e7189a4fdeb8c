//! Attachments: uploads by agents and shoppers delivered as messages, thumbnails, downloads with
//! safe headers, access control (shop, shopper, agent entitlement), limits, disguised files,
//! de-duplication by content hash, idempotent retries, and nothing left behind when refused.

use crate::both;
use crate::harness::*;
use kefu_core::model::{Id, Role};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A `multipart/form-data` body with one file part and a `client_msg_id` field.
pub(crate) fn form(
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    client_msg_id: &str,
) -> (String, Vec<u8>) {
    let boundary = format!("----kefu-it-{}", unique());
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"client_msg_id\"\r\n\r\n{client_msg_id}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        )
        .as_bytes(),
    );
    if let Some(ct) = content_type {
        body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) async fn upload(
    s: &TestServer,
    path: &str,
    token: &str,
    name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    client_msg_id: &str,
) -> Resp {
    let (ct, body) = form(name, content_type, bytes, client_msg_id);
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .expect("upload request");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, body, text }
}

async fn agent_upload(
    s: &TestServer,
    agent: &Agent,
    cid: Id,
    name: &str,
    ct: Option<&str>,
    bytes: &[u8],
) -> Resp {
    let path = format!("/api/v1/conversations/{cid}/attachments");
    upload(
        s,
        &path,
        &agent.token,
        name,
        ct,
        bytes,
        &format!("a-{}", unique()),
    )
    .await
}

async fn shopper_upload(
    s: &TestServer,
    shopper: &Shopper,
    name: &str,
    ct: Option<&str>,
    bytes: &[u8],
) -> Resp {
    upload(
        s,
        "/api/v1/widget/attachments",
        &shopper.token,
        name,
        ct,
        bytes,
        &format!("s-{}", unique()),
    )
    .await
}

/// A download: status, headers and bytes.
async fn fetch(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rb = s.http.get(s.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.expect("download");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, _| image::Rgb([(x % 200) as u8, 80, 40]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut out),
            image::ImageFormat::Jpeg,
        )
        .expect("jpeg");
    out
}

/// A PNG whose header claims `width`×`height` pixels but whose data is a few bytes: a
/// decompression bomb's shape. The decoder must refuse it from the header, before allocating.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A minimal PDF (only its magic number matters for the type check).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// Every file under `<data-dir>/attachments`, except the (empty) temporary directory.
fn stored_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("attachments"), &mut out);
    out.sort();
    out
}

/// An online agent, a shopper who wrote once (routed to the agent).
async fn chat(s: &TestServer) -> (Agent, Shopper, Id) {
    let agent = s.agent(s.shop.id, Role::Agent, "王小美").await;
    s.set_status(&agent, "online").await;
    let shopper = s.shopper().await;
    let cid = s.shopper_send(&shopper, "收到的杯子碎了").await["conversation_id"]
        .as_i64()
        .unwrap();
    (agent, shopper, cid)
}

both!(image_roundtrip, image_roundtrip_body);
async fn image_roundtrip_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let mut agent_ws = s.agent_ws(&agent).await;
    let mut shopper_ws = s.shopper_ws(&shopper).await;

    let bytes = png(800, 600);
    let r = agent_upload(
        &s,
        &agent,
        cid,
        "../破损 照片.png",
        Some("image/png"),
        &bytes,
    )
    .await;
    let m = r.expect(201).clone();
    assert_eq!(m["kind"], "attachment");
    assert_eq!(m["sender_type"], "agent");
    assert_eq!(m["body"], "[图片] 破损 照片.png");
    let p = &m["payload"];
    assert_eq!(p["name"], "破损 照片.png", "directories are stripped");
    assert_eq!(p["mime"], "image/png");
    assert_eq!(p["size"], bytes.len() as i64);
    assert_eq!(p["width"], 800);
    assert_eq!(p["height"], 600);
    assert_eq!(p["thumb"], true);
    let aid = p["attachment_id"].as_i64().expect("attachment_id");

    // Delivered live to both sides, payload included.
    for ws in [&mut agent_ws, &mut shopper_ws] {
        let e = ws
            .find(WAIT, |e| {
                e["type"] == "message.created" && e["message"]["kind"] == "attachment"
            })
            .await
            .expect("attachment message over the socket");
        assert_eq!(e["message"]["payload"]["attachment_id"], aid);
    }

    // Stored durably by hash with its thumbnail next to it.
    let files = stored_files(s.data_dir.path());
    assert_eq!(files.len(), 2, "original + thumbnail: {files:?}");
    let original = files.iter().find(|f| f.extension().is_none()).unwrap();
    assert_eq!(std::fs::read(original).unwrap(), bytes);
    let hash = original.file_name().unwrap().to_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(original.ends_with(format!("{}/{}/{hash}", &hash[0..2], &hash[2..4])));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".thumb"))
    );

    // The agent downloads the original with safe headers.
    let (status, h, body) = fetch(
        &s,
        &format!("/api/v1/attachments/{aid}"),
        Some(&agent.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;")
    );

    // The thumbnail fits in 320 px and keeps the aspect ratio.
    let (status, h, thumb) = fetch(
        &s,
        &format!("/api/v1/attachments/{aid}/thumb"),
        Some(&agent.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/jpeg");
    let t = image::load_from_memory(&thumb).expect("thumbnail decodes");
    assert_eq!((t.width(), t.height()), (320, 240));

    // The shopper of the conversation downloads it too, and sees it in their history.
    let (status, _, body) = fetch(
        &s,
        &format!("/api/v1/attachments/{aid}"),
        Some(&shopper.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes);
    let history = s.shopper_history(&shopper, 0).await;
    let last = history["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "attachment");
    assert_eq!(last["payload"]["attachment_id"], aid);

    // A small image gets no thumbnail; /thumb serves the original.
    let small = jpeg(100, 80);
    let m = agent_upload(&s, &agent, cid, "small.jpg", Some("image/jpeg"), &small)
        .await
        .expect(201)
        .clone();
    assert_eq!(m["payload"]["thumb"], false);
    let sid = m["payload"]["attachment_id"].as_i64().unwrap();
    let (status, h, body) = fetch(
        &s,
        &format!("/api/v1/attachments/{sid}/thumb"),
        Some(&shopper.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(body, small);
}

both!(shopper_files, shopper_files_body);
async fn shopper_files_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let agent = s.agent(s.shop.id, Role::Agent, "李客服").await;
    s.set_status(&agent, "online").await;
    let mut agent_ws = s.agent_ws(&agent).await;
    // The shopper's first message is a file: it starts the conversation like a text would.
    let shopper = s.shopper().await;
    let r = shopper_upload(&s, &shopper, "发票.pdf", Some("application/pdf"), PDF).await;
    let m = r.expect(201).clone();
    assert_eq!(m["kind"], "attachment");
    assert_eq!(m["sender_type"], "customer");
    assert_eq!(m["body"], "[文件] 发票.pdf");
    assert!(m["payload"].get("width").is_none());
    let aid = m["payload"]["attachment_id"].as_i64().unwrap();
    let cid = m["conversation_id"].as_i64().unwrap();
    let e = agent_ws
        .find(WAIT, |e| {
            e["type"] == "message.created" && e["message"]["kind"] == "attachment"
        })
        .await
        .expect("the agent hears the shopper's file");
    assert_eq!(e["message"]["payload"]["attachment_id"], aid);
    let c = s.conversation(&agent, cid).await;
    assert_eq!(c["last_message_preview"], "[文件] 发票.pdf");

    let (status, h, body) = fetch(
        &s,
        &format!("/api/v1/attachments/{aid}"),
        Some(&agent.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, PDF);
    assert_eq!(h["content-type"], "application/pdf");
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("UTF-8''%E5%8F%91%E7%A5%A8.pdf"),
        "{disposition}"
    );
    // A file has no thumbnail.
    let (status, _, _) = fetch(
        &s,
        &format!("/api/v1/attachments/{aid}/thumb"),
        Some(&agent.token),
    )
    .await;
    assert_eq!(status, 404);

    // Plain text is accepted and served as UTF-8 text, never as HTML.
    let r = shopper_upload(
        &s,
        &shopper,
        "单号.txt",
        Some("text/plain"),
        "订单号 20261123001\n".as_bytes(),
    )
    .await;
    let tid = r.expect(201)["payload"]["attachment_id"].as_i64().unwrap();
    let (status, h, _) = fetch(
        &s,
        &format!("/api/v1/attachments/{tid}"),
        Some(&shopper.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // A retry with the same client_msg_id returns the original and stores nothing new.
    let first = upload(
        &s,
        "/api/v1/widget/attachments",
        &shopper.token,
        "a.png",
        None,
        &png(50, 50),
        "same-1",
    )
    .await;
    let first = first.expect(201).clone();
    let again = upload(
        &s,
        "/api/v1/widget/attachments",
        &shopper.token,
        "a.png",
        None,
        &png(50, 50),
        "same-1",
    )
    .await;
    let again = again.expect(200).clone();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        first["payload"]["attachment_id"],
        again["payload"]["attachment_id"]
    );
}

both!(access_control, access_control_body);
async fn access_control_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let r = agent_upload(&s, &agent, cid, "label.png", None, &png(40, 40)).await;
    let aid = r.expect(201)["payload"]["attachment_id"].as_i64().unwrap();
    let path = format!("/api/v1/attachments/{aid}");
    let thumb = format!("/api/v1/attachments/{aid}/thumb");

    // Entitled: the assignee, a supervisor, the admin, the conversation's shopper.
    let supervisor = s.agent(s.shop.id, Role::Supervisor, "主管").await;
    let admin = s.agent(s.shop.id, Role::Admin, "店长").await;
    for token in [
        &agent.token,
        &supervisor.token,
        &admin.token,
        &shopper.token,
    ] {
        assert_eq!(fetch(&s, &path, Some(token)).await.0, 200);
        assert_eq!(fetch(&s, &thumb, Some(token)).await.0, 200);
    }

    // Not entitled: another agent (the conversation is assigned), another shopper, another
    // shop's admin and shopper — all 404, exactly like an unknown id.
    let other_agent = s.agent(s.shop.id, Role::Agent, "别的客服").await;
    let other_shopper = s.shopper().await;
    let shop2 = s.create_shop(&format!("s2-{}", unique())).await;
    let admin2 = s.agent(shop2.id, Role::Admin, "别的店长").await;
    let shopper2 = s.shopper_of(Some(&shop2.slug)).await;
    for token in [
        &other_agent.token,
        &other_shopper.token,
        &admin2.token,
        &shopper2.token,
    ] {
        let (status, _, body) = fetch(&s, &path, Some(token)).await;
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(fetch(&s, &thumb, Some(token)).await.0, 404);
    }
    assert_eq!(
        fetch(&s, "/api/v1/attachments/999999999", Some(&agent.token))
            .await
            .0,
        404
    );
    // No credentials, or a bad token: 401.
    assert_eq!(fetch(&s, &path, None).await.0, 401);
    assert_eq!(fetch(&s, &path, Some("nonsense")).await.0, 401);

    // Uploads into a conversation one may not see are refused before anything is stored.
    let before = stored_files(s.data_dir.path());
    let r = agent_upload(&s, &other_agent, cid, "x.png", None, &png(30, 30)).await;
    r.expect_error(404, "not_found");
    let r = agent_upload(&s, &admin2, cid, "x.png", None, &png(31, 31)).await;
    r.expect_error(404, "not_found");
    assert_eq!(stored_files(s.data_dir.path()), before);
    // Shoppers upload only with a valid visitor token.
    let r = upload(
        &s,
        "/api/v1/widget/attachments",
        "nonsense",
        "x.png",
        None,
        &png(5, 5),
        "x-1",
    )
    .await;
    assert_eq!(r.status, 401);
}

both!(refused_uploads, refused_uploads_body);
async fn refused_uploads_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let messages_before = s.agent_messages(&agent, cid, 0).await.len();

    // Too large: an image over 10 MB, any file over 20 MB.
    let mut big_png = png(10, 10);
    big_png.resize(10 * 1024 * 1024 + 1, 0);
    let r = agent_upload(&s, &agent, cid, "big.png", Some("image/png"), &big_png).await;
    r.expect_error(413, "payload_too_large");
    let big_text = vec![b'a'; 20 * 1024 * 1024 + 1];
    let r = shopper_upload(&s, &shopper, "big.txt", Some("text/plain"), &big_text).await;
    r.expect_error(413, "payload_too_large");

    // Disguised or dangerous content.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.resize(4096, 0);
    exe[0x3c] = 0x80;
    exe[0x80..0x84].copy_from_slice(b"PE\0\0");
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>"#;
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    let mut broken_png = b"\x89PNG\r\n\x1a\n".to_vec();
    broken_png.extend_from_slice(&[7u8; 2000]);
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("photo.jpg", Some("image/jpeg"), exe.clone()),
        ("setup.exe", None, exe),
        ("logo.svg", Some("image/svg+xml"), svg.to_vec()),
        ("logo.png", Some("image/png"), svg.to_vec()),
        ("page.html", Some("text/html"), html.to_vec()),
        ("notes.txt", Some("text/plain"), html.to_vec()),
        ("real-png.jpg", Some("image/jpeg"), png(20, 20)),
        ("real-png.png", Some("text/html"), png(20, 20)),
        ("broken.png", Some("image/png"), broken_png),
        (
            "binary.txt",
            Some("text/plain"),
            vec![0, 1, 2, 3, 0xff, 0xfe],
        ),
        // A decompression bomb: refused from its header, never allocated.
        ("bomb.png", Some("image/png"), png_claiming(60_000, 60_000)),
    ];
    // Within the side limit but over the pixel budget: refused from the header, before the
    // decoder allocates (8000 × 8000 RGB would take 192 MB).
    for (name, bytes) in [("huge.png", png_claiming(8_000, 8_000))] {
        let r = agent_upload(&s, &agent, cid, name, Some("image/png"), &bytes).await;
        r.expect_error(415, "unsupported_media_type");
        assert!(r.text.contains("too many pixels"), "{}", r.text);
    }
    for (name, ct, bytes) in cases {
        let r = agent_upload(&s, &agent, cid, name, ct, &bytes).await;
        assert_eq!(r.status, 415, "{name}: {}", r.text);
        r.expect_error(415, "unsupported_media_type");
        let r = shopper_upload(&s, &shopper, name, ct, &bytes).await;
        r.expect_error(415, "unsupported_media_type");
    }
    // Empty files and missing fields.
    agent_upload(&s, &agent, cid, "empty.txt", None, b"")
        .await
        .expect_error(422, "validation_failed");
    let r = upload(
        &s,
        &format!("/api/v1/conversations/{cid}/attachments"),
        &agent.token,
        "a.png",
        None,
        &png(5, 5),
        "",
    )
    .await;
    r.expect_error(422, "validation_failed");
    // Not multipart at all.
    let r = s
        .post(
            &format!("/api/v1/conversations/{cid}/attachments"),
            Some(&agent.token),
            serde_json::json!({}),
        )
        .await;
    r.expect_error(400, "bad_request");

    // Nothing was written: no files, no messages.
    assert_eq!(stored_files(s.data_dir.path()), Vec::<PathBuf>::new());
    assert_eq!(
        s.agent_messages(&agent, cid, 0).await.len(),
        messages_before
    );
}

both!(dedup_by_hash, dedup_by_hash_body);
async fn dedup_by_hash_body(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (agent, shopper, cid) = chat(&s).await;
    let bytes = png(700, 500);
    let a = agent_upload(&s, &agent, cid, "a.png", None, &bytes)
        .await
        .expect(201)
        .clone();
    let b = shopper_upload(&s, &shopper, "b.png", None, &bytes)
        .await
        .expect(201)
        .clone();
    let (ida, idb) = (
        a["payload"]["attachment_id"].as_i64().unwrap(),
        b["payload"]["attachment_id"].as_i64().unwrap(),
    );
    assert_ne!(ida, idb, "each upload has its own row and name");
    assert_eq!(b["payload"]["name"], "b.png");
    assert_eq!(b["payload"]["thumb"], true);
    // One original and one thumbnail on disk.
    assert_eq!(stored_files(s.data_dir.path()).len(), 2);
    for id in [ida, idb] {
        let (status, _, body) =
            fetch(&s, &format!("/api/v1/attachments/{id}"), Some(&agent.token)).await;
        assert_eq!(status, 200);
        assert_eq!(body, bytes);
    }
}

both!(shopper_rate_limit, shopper_rate_limit_body);
async fn shopper_rate_limit_body(backend: Backend) {
    // Default limits: 120 messages a minute, so 20 uploads a minute with bursts of 5.
    let s = TestServer::start_with(backend, kefu_http::Limits::default()).await;
    let shopper = s.shopper().await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = shopper_upload(
            &s,
            &shopper,
            &format!("n{i}.txt"),
            None,
            format!("note {i}").as_bytes(),
        )
        .await;
        statuses.push(r.status);
    }
    assert_eq!(&statuses[..5], &[201; 5], "{statuses:?}");
    assert!(statuses[5..].contains(&429), "{statuses:?}");
}
