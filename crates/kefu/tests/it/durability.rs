//! Durability of the real binary on SQLite: `kill -9` while sends are in flight loses nothing that
//! was acknowledged, and seqs stay gap-free.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `kefu serve` child process, killed on drop.
struct Kefu {
    child: Child,
    base: String,
}

impl Kefu {
    async fn start(data_dir: &Path) -> Kefu {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().unwrap().port()
        };
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_kefu"))
            .args(["serve", "--listen", &listen, "--data-dir"])
            .arg(data_dir)
            .args([
                "--login-per-minute",
                "100000",
                "--sessions-per-minute",
                "100000",
            ])
            .args(["--visitor-messages-per-minute", "100000000"])
            .env_remove("KEFU_DATABASE_URL")
            .env_remove("KEFU_DATA_DIR")
            .env_remove("KEFU_LISTEN")
            .env("KEFU_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kefu");
        let kefu = Kefu {
            child,
            base: format!("http://{listen}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", kefu.base)).send().await
                && r.status().is_success()
            {
                return kefu;
            }
            assert!(
                Instant::now() < deadline,
                "kefu did not come up on {listen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Kefu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TASKS: usize = 6;
const PER_TASK: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_keeps_acknowledged_messages_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut kefu = Kefu::start(dir.path()).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let session: Value = http
        .post(format!("{}/api/v1/widget/sessions", kefu.base))
        .json(&json!({"name": "durable shopper"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["visitor_token"]
        .as_str()
        .expect("visitor_token")
        .to_owned();

    // client_msg_id → (id, seq) of every 201.
    let acked: Arc<Mutex<HashMap<String, (i64, i64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (http, base, token, acked) = (
            http.clone(),
            kefu.base.clone(),
            token.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let cmid = format!("t{t}-{i}");
                let sent = http
                    .post(format!("{base}/api/v1/widget/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"body": format!("message {cmid}"), "client_msg_id": cmid}))
                    .send()
                    .await;
                let Ok(r) = sent else { return };
                if r.status().as_u16() != 201 {
                    return;
                }
                let Ok(v) = r.json::<Value>().await else {
                    return;
                };
                let (id, seq) = (v["id"].as_i64().unwrap(), v["seq"].as_i64().unwrap());
                acked.lock().unwrap().insert(cmid, (id, seq));
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "sends are too slow");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    kefu.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100);
    assert!(
        acked.len() < TASKS * PER_TASK,
        "the kill came after every send finished; nothing was in flight"
    );

    let kefu = Kefu::start(dir.path()).await;
    // A restarted server answers as soon as it listens; on a loaded machine its first reads may
    // still be refused briefly (503 while the database recovers): ask for a few seconds, and
    // name the last answer if it never comes.
    let mut history = Value::Null;
    for _ in 0..50 {
        let r = http
            .get(format!(
                "{}/api/v1/widget/messages?after_seq=0&limit=1000",
                kefu.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let ok = r.status().is_success();
        history = r.json().await.unwrap_or(Value::Null);
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages = history["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("messages after restart: {history}"));
    eprintln!(
        "kill -9 after {} acknowledged sends; {} messages stored",
        acked.len(),
        messages.len()
    );
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(
            m["seq"].as_i64(),
            Some(i as i64 + 1),
            "seqs must be gap-free 1..N after the crash"
        );
    }
    let stored: HashMap<&str, (i64, i64)> = messages
        .iter()
        .filter_map(|m| {
            Some((
                m["client_msg_id"].as_str()?,
                (m["id"].as_i64()?, m["seq"].as_i64()?),
            ))
        })
        .collect();
    let customer_messages = messages
        .iter()
        .filter(|m| m["sender_type"] == "customer")
        .count();
    assert_eq!(
        stored.len(),
        customer_messages,
        "a client_msg_id stored twice"
    );
    for (cmid, (id, seq)) in &acked {
        assert_eq!(
            stored.get(cmid.as_str()),
            Some(&(*id, *seq)),
            "acknowledged message {cmid} lost or changed"
        );
    }
    // Still writable, continuing the sequence.
    let r = http
        .post(format!("{}/api/v1/widget/messages", kefu.base))
        .bearer_auth(&token)
        .json(&json!({"body": "after the crash", "client_msg_id": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["seq"].as_i64(), Some(messages.len() as i64 + 1));
    // A retry of an acknowledged message is still recognised after the restart.
    let (cmid, (id, _)) = acked.iter().next().unwrap();
    let r = http
        .post(format!("{}/api/v1/widget/messages", kefu.base))
        .bearer_auth(&token)
        .json(&json!({"body": "retry", "client_msg_id": cmid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"].as_i64(), Some(*id));
}
