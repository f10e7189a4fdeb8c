//! Faults answered honestly: with PostgreSQL unreachable, requests answer 503 `unavailable` with
//! `Retry-After` within seconds (not a 30 s hang and a 500), `/readyz` says so while `/healthz`
//! stays up, and both recover when the database is back. A start with the database unreachable
//! retries, then names what it could not reach (never the password).

use crate::harness::*;
use kefu_core::model::Role;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, new ones
/// refused, as when the database host goes away) and restore on the same port.
struct CuttableProxy {
    port: u16,
    target: String,
    acceptor: Mutex<Option<JoinHandle<()>>>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl CuttableProxy {
    async fn start(target: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = CuttableProxy {
            port: listener.local_addr().unwrap().port(),
            target,
            acceptor: Mutex::new(None),
            pipes: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, pipes) = (self.target.clone(), self.pipes.clone());
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                pipes.lock().unwrap().push(pipe);
            }
        });
        *self.acceptor.lock().unwrap() = Some(acceptor);
    }

    fn cut(&self) {
        if let Some(acceptor) = self.acceptor.lock().unwrap().take() {
            acceptor.abort(); // drops the listener: new connections are refused
        }
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort(); // drops both ends of every open connection
        }
    }

    async fn restore(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => return self.serve(listener),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.port),
            }
        }
    }
}

/// `host:port` of the test database.
fn pg_target() -> String {
    let url = pg_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or("127.0.0.1:5432");
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// The test database's URL with its address replaced by the proxy's.
fn through(proxy: &CuttableProxy) -> String {
    pg_url().replacen(&pg_target(), &format!("127.0.0.1:{}", proxy.port), 1)
}

async fn get(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> (u16, Option<String>, serde_json::Value) {
    let mut rb = s.http.get(s.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.expect("the server answers");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, retry, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_answers_503_within_seconds_and_recovers() {
    let target = pg_target();
    if !target.starts_with("127.0.0.1:") && !target.starts_with("localhost:") {
        // The proxy rewrites the URL's address; a remote test database is left alone.
        eprintln!("skipped: the test database is not on this host ({target})");
        return;
    }
    let proxy = CuttableProxy::start(target).await;
    let s = TestServer::start_postgres_at(&through(&proxy)).await;
    let admin = s.agent(s.shop.id, Role::Admin, "值班店长").await;

    let (status, _, body) = get(&s, "/readyz", None).await;
    assert_eq!(
        (status, &body["database"]),
        (200, &serde_json::json!("postgres")),
        "{body}"
    );
    assert_eq!(
        get(&s, "/api/v1/conversations", Some(&admin.token)).await.0,
        200
    );

    proxy.cut();
    let started = Instant::now();
    let (status, retry, body) = get(&s, "/api/v1/conversations", Some(&admin.token)).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s))));
    assert!(
        took < Duration::from_secs(10),
        "answered only after {took:?}"
    );

    let started = Instant::now();
    let (status, retry, body) = get(&s, "/readyz", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(retry.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "readiness took {:?}",
        started.elapsed()
    );
    // Liveness is about the process, not the database.
    assert_eq!(s.get("/healthz", None).await.status, 200);

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(&s, "/readyz", None).await.0 == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready again 30 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        get(&s, "/api/v1/conversations", Some(&admin.token)).await.0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_with_postgres_unreachable_retries_then_names_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().unwrap().port()
    }; // closed again: connections are refused
    let url = format!("postgres://kefu:hunter2secret@127.0.0.1:{port}/shopdb");
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["migrate", "--database-url", &url, "--database-wait", "2"])
        .env("KEFU_LOG", "warn")
        .env_remove("KEFU_DATABASE_URL")
        .output()
        .await
        .expect("run kefu");
    // The log (each retry) and the final error, whichever stream each goes to.
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "kefu started without a database: {stderr}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it did not retry: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it waited {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}/shopdb")),
        "{stderr}"
    );
    assert!(stderr.contains("cannot be reached"), "{stderr}");
    assert!(
        stderr.contains("retrying"),
        "each attempt is logged: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2secret"),
        "the password leaked: {stderr}"
    );
}
