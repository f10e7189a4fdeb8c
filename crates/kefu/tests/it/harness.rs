//! The test harness: a real kefu server (router + store) on 127.0.0.1:0, for SQLite or PostgreSQL,
//! with helpers for HTTP calls, seeding through the `Store` trait and WebSocket clients.

use futures_util::{SinkExt, StreamExt};
use kefu_core::model::{Id, NewUser, Role, Shop, Team, User};
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_http::{AppState, Limits};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The password of every seeded account.
pub const PASSWORD: &str = "correct-horse-42";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod $name { fn sqlite(); fn postgres(); }` running `super::$body(backend)`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::harness::Backend::Postgres).await
            }
        }
    };
}

/// Limits high enough never to get in a test's way.
pub fn generous() -> Limits {
    Limits {
        login_per_minute: 10_000,
        sessions_per_minute: 100_000,
        visitor_messages_per_minute: 1_000_000,
        address_messages_per_minute: 1_000_000,
        trusted_proxies: Vec::new(),
        header_read_timeout: std::time::Duration::from_secs(20),
        max_connections_per_address: 0,
        lifetimes: Default::default(),
    }
}

pub fn pg_url() -> String {
    std::env::var("KEFU_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One analyzer (jieba's dictionary) for the whole test binary.
pub fn analyzer() -> Arc<kefu_search::Analyzer> {
    static A: std::sync::OnceLock<Arc<kefu_search::Analyzer>> = std::sync::OnceLock::new();
    A.get_or_init(|| Arc::new(kefu_search::Analyzer::new()))
        .clone()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// One argon2 hash for every seeded account (hashing is slow in debug builds).
async fn password_hash() -> String {
    static HASH: OnceCell<String> = OnceCell::const_new();
    HASH.get_or_init(|| async {
        kefu_service::passwords::hash_password(PASSWORD.to_owned())
            .await
            .expect("hash")
    })
    .await
    .clone()
}

/// A seeded agent account with a ready session token.
#[derive(Clone, Debug)]
pub struct Agent {
    pub user: User,
    pub token: String,
}

impl Agent {
    pub fn id(&self) -> Id {
        self.user.id
    }
}

/// A shopper session.
#[derive(Clone, Debug)]
pub struct Shopper {
    pub token: String,
    pub customer_id: Id,
}

/// An HTTP answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Resp {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }

    /// Asserts the kefu error shape `{"error":{"code","message"}}` with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        let err = &self.body["error"];
        assert_eq!(
            err["code"], code,
            "unexpected error code; body: {}",
            self.text
        );
        assert!(
            err["message"].is_string(),
            "error without a message: {}",
            self.text
        );
    }
}

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    /// The default shop.
    pub shop: Shop,
    pub http: reqwest::Client,
    /// The search service and its directory (servers started with [`TestServer::start_search`]).
    pub search: Option<(Arc<kefu_service::search::SearchService>, std::path::PathBuf)>,
    task: tokio::task::JoinHandle<()>,
    /// The snooze wake-up task (kefu_service::tools::spawn_snooze_waker).
    background: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
    /// The server's data directory (attachments live in `attachments/`).
    pub data_dir: tempfile::TempDir,
    pg_schema: Option<String>,
    /// The server's state (a clone: same store, hub and clock), for driving background work such
    /// as the SLA escalation scan from a test.
    pub state: AppState,
    /// Set by [`TestServer::start_clocked`]: the server's SLA clock, moved by the test.
    pub clock: Option<Arc<kefu_core::time::ManualClock>>,
}

impl TestServer {
    /// The SQLite database file of a server on [`Backend::Sqlite`], for checks below the API.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|d| d.path().join("kefu.db"))
    }

    /// Runs statements straight on the server's database, below the store: fault injection for
    /// tests of what a flow does when the database refuses a step. `sqlite` or `postgres` is run
    /// depending on the backend (PostgreSQL in the server's own schema).
    pub async fn execute_sql(&self, sqlite: &[&str], postgres: &[&str]) {
        use sqlx::Connection;
        if let Some(file) = self.sqlite_file() {
            let url = format!("sqlite://{}", file.display());
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect to the test database");
            for sql in sqlite {
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            conn.close().await.ok();
        } else if let Some(schema) = &self.pg_schema {
            let mut conn = sqlx::PgConnection::connect(&pg_url())
                .await
                .expect("connect to the test database");
            let search_path = format!("SET search_path TO \"{schema}\"");
            for sql in std::iter::once(search_path.as_str()).chain(postgres.iter().copied()) {
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            conn.close().await.ok();
        }
    }

    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, generous()).await
    }

    pub async fn start_with(backend: Backend, limits: Limits) -> TestServer {
        Self::start_inner(backend, limits, false, false).await
    }

    /// A server whose SLA clock (`AppState::clock`) stands at `at` until the test moves it.
    pub async fn start_clocked(backend: Backend, at: Millis) -> TestServer {
        let clock = Arc::new(kefu_core::time::ManualClock::new(at));
        Self::start_full(backend, generous(), false, false, Some(clock), None).await
    }

    /// A PostgreSQL server whose store connects through `url` (a test's proxy to the database,
    /// for cutting the connection), in a fresh schema.
    pub async fn start_postgres_at(url: &str) -> TestServer {
        Self::start_full(Backend::Postgres, generous(), false, false, None, Some(url)).await
    }

    /// A server with a search index in a temporary directory (`AppState::search`).
    pub async fn start_search(backend: Backend) -> TestServer {
        Self::start_inner(backend, generous(), true, false).await
    }

    /// A server with reply suggestions running (as `kefu serve` has them).
    pub async fn start_suggesting(backend: Backend) -> TestServer {
        Self::start_inner(backend, generous(), false, true).await
    }

    async fn start_inner(
        backend: Backend,
        limits: Limits,
        with_search: bool,
        suggestions: bool,
    ) -> TestServer {
        Self::start_full(backend, limits, with_search, suggestions, None, None).await
    }

    async fn start_full(
        backend: Backend,
        limits: Limits,
        with_search: bool,
        suggestions: bool,
        clock: Option<Arc<kefu_core::time::ManualClock>>,
        pg_url_override: Option<&str>,
    ) -> TestServer {
        let (store, dir, pg_schema): (Arc<dyn Store>, _, _) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = kefu_store::SqliteStore::open_dir(dir.path())
                    .await
                    .expect("open sqlite store");
                (Arc::new(store), Some(dir), None)
            }
            Backend::Postgres => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                let schema = format!("kefu_it_{}_{}_{}", std::process::id(), unique(), nanos);
                let url = pg_url_override.map_or_else(pg_url, str::to_owned);
                let store = kefu_store::PostgresStore::open_in_schema(&url, &schema).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL is required for the integration suite ({url}, KEFU_TEST_PG_URL): {e}")
                });
                (Arc::new(store), None, Some(schema))
            }
        };
        let shop = store.ensure_default_shop().await.expect("default shop");
        // The server's data directory: uploads (attachments/) and, when asked for, the index (search/).
        let data_dir = tempfile::tempdir().expect("tempdir");
        let hub = kefu_http::hub::Hub::new();
        let mut config = kefu_service::ServicesConfig::default();
        if suggestions {
            config.suggestions = Some(Default::default());
        }
        if let Some(clock) = &clock {
            config.clock = clock.clone();
        }
        let mut services = kefu_service::Services::new(store.clone(), hub.clone(), config);
        let search = if with_search {
            let path = data_dir.path().join("search");
            let svc =
                kefu_service::search::SearchService::start(store.clone(), path.clone(), analyzer());
            services.search = Some(svc.clone());
            Some((svc, path))
        } else {
            None
        };
        let background = kefu_service::tools::spawn_snooze_waker(&services.tools);
        let mut state = AppState::new(services, hub, &limits);
        state.attachments = Some(Arc::new(
            kefu_http::attachments::AttachmentFiles::open(data_dir.path()).expect("attachments"),
        ));
        kefu_service::mail::spawn_sender(&state.services.mail);
        let app = kefu_http::router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = kefu_http::server::serve(listener, app, &limits, std::future::pending()).await;
        });
        TestServer {
            base: format!("http://{addr}"),
            addr,
            store,
            shop,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            search,
            task,
            background,
            _dir: dir,
            data_dir,
            pg_schema,
            state,
            clock,
        }
    }

    // ---- seeding through the Store trait ----

    pub async fn create_shop(&self, slug: &str) -> Shop {
        self.store
            .create_shop(slug, &format!("Shop {slug}"))
            .await
            .expect("create shop")
    }

    pub async fn default_team(&self, shop_id: Id) -> Team {
        let teams = self.store.list_teams(shop_id).await.expect("teams");
        teams
            .iter()
            .find(|t| t.is_default)
            .or(teams.first())
            .cloned()
            .expect("a default team")
    }

    pub async fn create_team(&self, shop_id: Id, name: &str) -> Team {
        self.store
            .create_team(shop_id, name, false)
            .await
            .expect("create team")
    }

    /// An account in the shop's default team, with a session token (no login round trip).
    pub async fn agent(&self, shop_id: Id, role: Role, name: &str) -> Agent {
        let team = self.default_team(shop_id).await;
        self.agent_in(shop_id, role, name, Some(team.id)).await
    }

    pub async fn agent_in(
        &self,
        shop_id: Id,
        role: Role,
        name: &str,
        team_id: Option<Id>,
    ) -> Agent {
        let email = format!(
            "{}-{}@it.kefu",
            name.to_lowercase().replace(' ', "."),
            unique()
        );
        let user = self
            .store
            .create_user(NewUser {
                shop_id,
                email,
                name: name.to_owned(),
                role,
                team_id,
                password_hash: password_hash().await,
            })
            .await
            .expect("create user");
        let token = kefu_core::token::generate("kfa_");
        self.store
            .create_session(
                &kefu_core::token::hash(&token),
                user.id,
                Millis(Millis::now().0 + 3_600_000),
            )
            .await
            .expect("create session");
        Agent { user, token }
    }

    /// Sets an agent's status over HTTP (so routing runs and events go out).
    pub async fn set_status(&self, agent: &Agent, status: &str) {
        self.put(
            "/api/v1/me/status",
            Some(&agent.token),
            json!({ "status": status }),
        )
        .await
        .expect(200);
    }

    // ---- HTTP ----

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Self::finish(rb).await
    }

    /// A request with a raw body and `Content-Type: application/json`.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        Self::finish(rb).await
    }

    async fn finish(rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request failed");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, body, text }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(reqwest::Method::DELETE, path, token, None)
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    // ---- shoppers ----

    pub async fn shopper(&self) -> Shopper {
        self.shopper_of(None).await
    }

    pub async fn shopper_of(&self, shop_slug: Option<&str>) -> Shopper {
        let body = match shop_slug {
            Some(s) => json!({ "shop": s, "name": format!("shopper {}", unique()) }),
            None => json!({ "name": format!("shopper {}", unique()) }),
        };
        let r = self.post("/api/v1/widget/sessions", None, body).await;
        let v = r.expect(201);
        Shopper {
            token: v["visitor_token"]
                .as_str()
                .expect("visitor_token")
                .to_owned(),
            customer_id: v["customer_id"].as_i64().expect("customer_id"),
        }
    }

    /// A shopper message; returns the raw answer.
    pub async fn shopper_send_raw(
        &self,
        shopper: &Shopper,
        body: &str,
        client_msg_id: &str,
    ) -> Resp {
        self.post(
            "/api/v1/widget/messages",
            Some(&shopper.token),
            json!({ "body": body, "client_msg_id": client_msg_id }),
        )
        .await
    }

    /// A shopper message that must be stored (201); returns `{id, conversation_id, seq, created_at}`.
    pub async fn shopper_send(&self, shopper: &Shopper, body: &str) -> Value {
        self.shopper_send_raw(shopper, body, &format!("c-{}", unique()))
            .await
            .expect(201)
            .clone()
    }

    /// The shopper's view of their conversation (`GET /widget/messages?after_seq=N`).
    pub async fn shopper_history(&self, shopper: &Shopper, after_seq: i64) -> Value {
        self.get(
            &format!("/api/v1/widget/messages?after_seq={after_seq}&limit=1000"),
            Some(&shopper.token),
        )
        .await
        .expect(200)
        .clone()
    }

    // ---- agents ----

    pub async fn agent_send_raw(&self, agent: &Agent, conversation_id: Id, body: Value) -> Resp {
        self.post(
            &format!("/api/v1/conversations/{conversation_id}/messages"),
            Some(&agent.token),
            body,
        )
        .await
    }

    /// An agent's message (201); returns the Message.
    pub async fn agent_send(
        &self,
        agent: &Agent,
        conversation_id: Id,
        body: &str,
        private: bool,
    ) -> Value {
        self.agent_send_raw(
            agent,
            conversation_id,
            json!({ "body": body, "client_msg_id": format!("a-{}", unique()), "private": private }),
        )
        .await
        .expect(201)
        .clone()
    }

    pub async fn agent_messages(
        &self,
        agent: &Agent,
        conversation_id: Id,
        after_seq: i64,
    ) -> Vec<Value> {
        let r = self
            .get(&format!("/api/v1/conversations/{conversation_id}/messages?after_seq={after_seq}&limit=1000"), Some(&agent.token))
            .await;
        r.expect(200)["messages"]
            .as_array()
            .expect("messages")
            .clone()
    }

    pub async fn conversation(&self, agent: &Agent, conversation_id: Id) -> Value {
        self.get(
            &format!("/api/v1/conversations/{conversation_id}"),
            Some(&agent.token),
        )
        .await
        .expect(200)["conversation"]
            .clone()
    }

    pub async fn conversations(&self, agent: &Agent, query: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/v1/conversations{query}"), Some(&agent.token))
            .await;
        r.expect(200)["conversations"]
            .as_array()
            .expect("conversations")
            .clone()
    }

    // ---- WebSockets ----

    pub async fn agent_ws(&self, agent: &Agent) -> Ws {
        self.ws(&format!("/api/v1/ws?token={}", agent.token))
            .await
            .expect("agent ws")
    }

    pub async fn shopper_ws(&self, shopper: &Shopper) -> Ws {
        self.ws(&format!("/api/v1/widget/ws?token={}", shopper.token))
            .await
            .expect("shopper ws")
    }

    /// Connects; on a refused handshake returns the HTTP status.
    pub async fn ws(&self, path_and_query: &str) -> Result<Ws, u16> {
        let url = format!("ws://{}{}", self.addr, path_and_query);
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        self.background.abort();
        if let Some(schema) = self.pg_schema.take() {
            // Best effort: a separate thread and runtime, since Drop cannot await.
            let url = pg_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async move {
                    use sqlx::Connection;
                    let mut conn = sqlx::PgConnection::connect(&url).await.ok()?;
                    let _ = sqlx::query("SET lock_timeout = '5s'")
                        .execute(&mut conn)
                        .await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                    Some(())
                })
            })
            .join();
        }
    }
}

/// A WebSocket client of the live API.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(WsMessage::Text(frame.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON event of any type, or `None` on timeout / close.
    pub async fn next_any(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match msg {
                Ok(WsMessage::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("event is JSON"));
                }
                Ok(WsMessage::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next event of type `kind` (others are skipped); panics after `timeout`.
    #[track_caller]
    pub fn next_event(
        &mut self,
        kind: &str,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Value> + '_ {
        let caller = std::panic::Location::caller();
        let kind = kind.to_owned();
        async move {
            self.find(timeout, |e| e["type"] == kind.as_str())
                .await
                .unwrap_or_else(|| {
                    panic!("no '{kind}' event within {timeout:?} (awaited at {caller})")
                })
        }
    }

    /// The next event matching `pred` within `timeout`, skipping the others.
    pub async fn find(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self.next_any(left).await?;
            if pred(&e) {
                return Some(e);
            }
        }
    }

    /// Every event that arrives within `window`.
    pub async fn drain(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_any(left).await {
                Some(e) => out.push(e),
                None => return out,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

pub const WAIT: Duration = Duration::from_secs(5);
pub const QUIET: Duration = Duration::from_millis(300);

/// Asserts messages carry seqs `from..from+n` in order, without gaps.
#[track_caller]
pub fn assert_gap_free(messages: &[Value], from: i64) {
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(
            m["seq"].as_i64(),
            Some(from + i as i64),
            "seq gap at index {i}: {messages:#?}"
        );
    }
}
