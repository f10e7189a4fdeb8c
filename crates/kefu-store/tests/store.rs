//! The store on both backends: SQLite always, PostgreSQL when `KEFU_TEST_PG_URL` is set or `CI`
//! is `true` (then at `KEFU_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`). A
//! configured PostgreSQL that does not answer fails the run instead of skipping it. Each
//! PostgreSQL run works in its own schema and drops it at the end; each SQLite run in its own
//! directory.

use kefu_core::ErrorCode;
use kefu_core::commerce::*;
use kefu_core::model::*;
use kefu_core::reminders::NewReminder;
use kefu_core::store::Store;
use kefu_core::time::Millis;
use kefu_store::{PostgresStore, SqliteStore};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The PostgreSQL to test against, if one is configured.
fn pg_url() -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var("KEFU_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if ci => Some("postgres://postgres@127.0.0.1:5432/test".into()),
        _ => None,
    }
}

/// One backend's store for one test, cleaned up by [`TestDb::drop`] (or, if the test panicked,
/// when its guards go out of scope).
struct TestDb {
    store: Arc<dyn Store>,
    backend: &'static str,
    schema: SchemaGuard,
    _dir: Option<tempfile::TempDir>,
}

struct SchemaGuard(String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = std::mem::take(&mut self.0);
        if schema.is_empty() {
            return;
        }
        // Runs on its own thread and runtime: a panicking test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(drop_schema(&schema));
        })
        .join();
    }
}

async fn drop_schema(schema: &str) {
    let Some(url) = pg_url() else { return };
    if let Ok(mut conn) = PgConnection::connect(&url).await {
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            println!("could not drop schema {schema}: {e}");
        }
    }
}

impl TestDb {
    /// A fresh store on every backend under test: SQLite, then PostgreSQL when configured.
    async fn all() -> Vec<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = SqliteStore::open_dir(dir.path())
            .await
            .expect("open sqlite");
        let mut all = vec![Self {
            store: Arc::new(sqlite),
            backend: "sqlite",
            schema: SchemaGuard(String::new()),
            _dir: Some(dir),
        }];
        let Some(url) = pg_url() else {
            println!("PostgreSQL not configured (KEFU_TEST_PG_URL): testing SQLite only");
            return all;
        };
        match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => panic!("PostgreSQL at {url} is configured but unreachable: {e}"),
            Err(_) => panic!("PostgreSQL at {url} is configured but did not answer in time"),
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "kefu_t_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let guard = SchemaGuard(schema.clone());
        let store = PostgresStore::open_in_schema(&url, &schema)
            .await
            .expect("open postgres store");
        all.push(Self {
            store: Arc::new(store),
            backend: "postgres",
            schema: guard,
            _dir: None,
        });
        all
    }

    /// Closes the store and drops what it stored.
    async fn drop(self) {
        let TestDb {
            store,
            schema: mut guard,
            _dir,
            ..
        } = self;
        drop(store);
        drop_schema(&std::mem::take(&mut guard.0)).await;
    }
}

async fn shop(s: &dyn Store, slug: &str) -> Shop {
    s.create_shop(slug, &format!("{slug} shop"))
        .await
        .expect("create shop")
}

async fn user(s: &dyn Store, shop_id: Id, email: &str, role: Role, team_id: Option<Id>) -> User {
    s.create_user(NewUser {
        shop_id,
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        role,
        team_id,
        password_hash: "hash".into(),
    })
    .await
    .expect("create user")
}

async fn customer(s: &dyn Store, shop_id: Id, name: &str) -> CustomerRef {
    s.create_customer(
        shop_id,
        &NewCustomer {
            name: Some(name.into()),
            ..Default::default()
        },
    )
    .await
    .expect("customer")
}

fn shopper_msg<'a>(
    shop_id: Id,
    customer_id: Id,
    body: &'a str,
    client_msg_id: &'a str,
) -> CustomerMessage<'a> {
    CustomerMessage {
        shop_id,
        customer_id,
        body,
        client_msg_id,
        announce: false,
    }
}

fn query(viewer: &User, assignee: AssigneeFilter) -> ConversationQuery {
    ConversationQuery {
        status: None,
        assignee,
        viewer_id: viewer.id,
        viewer_role: viewer.role,
        tag_id: None,
        segment: Default::default(),
        sort: Default::default(),
        limit: 100,
    }
}

#[tokio::test]
async fn shops_users_sessions_and_scope() {
    for db in TestDb::all().await {
        let s = &*db.store;
        assert_eq!(s.backend(), db.backend);

        let default = s.ensure_default_shop().await.unwrap();
        assert_eq!(s.ensure_default_shop().await.unwrap().id, default.id);
        let a = shop(s, "alpha").await;
        assert_eq!(
            s.create_shop("alpha", "again").await.unwrap_err().code,
            ErrorCode::Conflict
        );
        assert_eq!(s.shop_by_slug("alpha").await.unwrap().unwrap().id, a.id);
        assert!(s.shop_by_slug("nope").await.unwrap().is_none());
        assert_eq!(a.settings, ShopSettings::default());

        let mut settings = a.settings.clone();
        settings.greeting = "hi".into();
        settings.default_max_concurrent = 3;
        assert_eq!(
            s.update_shop_settings(a.id, &settings)
                .await
                .unwrap()
                .settings,
            settings
        );
        assert_eq!(
            s.shop_by_id(a.id).await.unwrap().unwrap().settings,
            settings
        );

        let teams = s.list_teams(a.id).await.unwrap();
        assert_eq!(teams.len(), 1);
        assert!(teams[0].is_default);
        assert_eq!(teams[0].name, "售前");
        let after = s.create_team(a.id, "售后", true).await.unwrap();
        let teams = s.list_teams(a.id).await.unwrap();
        assert_eq!(
            teams
                .iter()
                .filter(|t| t.is_default)
                .map(|t| t.id)
                .collect::<Vec<_>>(),
            vec![after.id]
        );
        assert_eq!(
            s.create_team(a.id, "售后", false).await.unwrap_err().code,
            ErrorCode::Conflict
        );

        let admin = user(s, a.id, "Admin@Example.com", Role::Admin, None).await;
        assert_eq!(admin.email, "admin@example.com");
        let agent = user(s, a.id, "agent@example.com", Role::Agent, Some(after.id)).await;
        assert_eq!(agent.team.as_ref().map(|t| t.name.as_str()), Some("售后"));
        assert_eq!(agent.status, AgentStatus::Offline);
        let dup = s
            .create_user(NewUser {
                shop_id: a.id,
                email: "ADMIN@example.com".into(),
                name: "x".into(),
                role: Role::Agent,
                team_id: None,
                password_hash: "h".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(dup.code, ErrorCode::Conflict);
        assert_eq!(dup.message, "email is already used");

        let (found, hash) = s.user_by_email("admin@EXAMPLE.com").await.unwrap().unwrap();
        assert_eq!((found.id, hash.as_str()), (admin.id, "hash"));
        assert!(
            s.user_by_email("ghost@example.com")
                .await
                .unwrap()
                .is_none()
        );

        // Another shop cannot see these users, nor use this shop's team.
        let b = shop(s, "beta").await;
        assert!(s.user_by_id(b.id, admin.id).await.unwrap().is_none());
        assert!(s.user_by_id(a.id, admin.id).await.unwrap().is_some());
        assert_eq!(
            s.set_agent_status(b.id, agent.id, AgentStatus::Online)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        let foreign_team = s
            .create_user(NewUser {
                shop_id: b.id,
                email: "b@example.com".into(),
                name: "b".into(),
                role: Role::Agent,
                team_id: Some(after.id),
                password_hash: "h".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(foreign_team.code, ErrorCode::NotFound);

        assert!(!s.any_agent_online(a.id).await.unwrap());
        let online = s
            .set_agent_status(a.id, agent.id, AgentStatus::Online)
            .await
            .unwrap();
        assert_eq!(online.status, AgentStatus::Online);
        assert!(s.any_agent_online(a.id).await.unwrap());
        assert!(!s.any_agent_online(b.id).await.unwrap());
        let agents = s.list_agents(a.id).await.unwrap();
        assert_eq!(
            agents
                .iter()
                .map(|a| (a.user.id, a.open_count))
                .collect::<Vec<_>>(),
            vec![(admin.id, 0), (agent.id, 0)]
        );

        // Sessions.
        let now = Millis::now();
        s.create_session("tok", admin.id, Millis(now.0 + 60_000))
            .await
            .unwrap();
        s.create_session("old", admin.id, Millis(now.0 - 1))
            .await
            .unwrap();
        assert_eq!(
            s.create_session("tok", admin.id, Millis(now.0))
                .await
                .unwrap_err()
                .code,
            ErrorCode::Conflict
        );
        assert_eq!(
            s.create_session("x", 999_999, Millis(now.0))
                .await
                .unwrap_err()
                .code,
            ErrorCode::ValidationFailed
        );
        assert_eq!(
            s.session_user("tok", now, None).await.unwrap().unwrap().id,
            admin.id
        );
        assert!(s.session_user("old", now, None).await.unwrap().is_none());
        // The idle timeout: a session last seen before the cutoff no longer works; a use
        // moves its last-seen time.
        let later = Millis(Millis::now().0 + 1_000);
        assert!(
            s.session_user("tok", now, Some(later))
                .await
                .unwrap()
                .is_none()
        );
        s.touch_session("tok", Millis(later.0 + 5)).await.unwrap();
        assert!(
            s.session_user("tok", now, Some(later))
                .await
                .unwrap()
                .is_some()
        );
        s.delete_session("tok").await.unwrap();
        assert!(s.session_user("tok", now, None).await.unwrap().is_none());

        // Shoppers and visitor tokens.
        let c = customer(s, a.id, "小王").await;
        s.create_visitor_token("vt", a.id, c.id).await.unwrap();
        let v = s
            .visitor("vt", Millis::now(), Millis(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                v.shop_id,
                v.customer_id,
                v.customer_name.as_str(),
                v.blocked
            ),
            (a.id, c.id, "小王", false)
        );
        assert!(
            s.visitor("nope", Millis::now(), Millis(0))
                .await
                .unwrap()
                .is_none()
        );
        // Idle expiry, use, rotation with an overlap, and the end of a token.
        let t0 = Millis::now();
        let (created, used) = s.visitor_token_times("vt").await.unwrap().unwrap();
        assert_eq!(created, used, "never used: its creation counts");
        let after = Millis(created.0 + 1);
        assert!(s.visitor("vt", t0, after).await.unwrap().is_none(), "idle");
        s.touch_visitor_token("vt", Millis(created.0 + 10))
            .await
            .unwrap();
        assert!(s.visitor("vt", t0, after).await.unwrap().is_some());
        assert_eq!(
            s.visitor_token_times("vt").await.unwrap().unwrap().1,
            Millis(created.0 + 10)
        );
        assert!(
            s.rotate_visitor_token("vt", "vt2", t0, Millis(t0.0 + 600_000))
                .await
                .unwrap()
        );
        assert!(!s.rotate_visitor_token("nope", "vt3", t0, t0).await.unwrap());
        let fresh = s.visitor("vt2", t0, Millis(0)).await.unwrap().unwrap();
        assert_eq!((fresh.shop_id, fresh.customer_id), (a.id, c.id));
        assert!(
            s.visitor("vt", t0, Millis(0)).await.unwrap().is_some(),
            "overlap"
        );
        assert!(
            s.visitor("vt", Millis(t0.0 + 600_001), Millis(0))
                .await
                .unwrap()
                .is_none(),
            "the replaced token ends after the overlap"
        );
        s.delete_visitor_token("vt2").await.unwrap();
        assert!(s.visitor("vt2", t0, Millis(0)).await.unwrap().is_none());
        s.update_customer(
            a.id,
            c.id,
            &NewCustomer {
                email: Some("w@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        s.update_customer(
            b.id,
            c.id,
            &NewCustomer {
                name: Some("hijack".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            s.visitor("vt", Millis::now(), Millis(0))
                .await
                .unwrap()
                .unwrap()
                .customer_name,
            "小王"
        );
        let anon = s
            .create_customer(a.id, &NewCustomer::default())
            .await
            .unwrap();
        assert_eq!(anon.name, "");

        // Products.
        let p = NewProduct {
            sku: "SKU1".into(),
            name: "Tea".into(),
            price_cents: 1200,
            currency: "CNY".into(),
            image_url: String::new(),
            description: "green".into(),
        };
        let first = s.upsert_product(a.id, &p).await.unwrap();
        let second = s
            .upsert_product(
                a.id,
                &NewProduct {
                    price_cents: 1500,
                    ..p
                },
            )
            .await
            .unwrap();
        assert_eq!(first.id, second.id);
        let list = s.list_products(a.id).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].price_cents, 1500);
        assert!(s.list_products(b.id).await.unwrap().is_empty());

        db.drop().await;
    }
}

#[tokio::test]
async fn conversations_and_messages() {
    for db in TestDb::all().await {
        let s = &*db.store;
        let a = shop(s, "alpha").await;
        let b = shop(s, "beta").await;
        let admin = user(s, a.id, "admin@example.com", Role::Admin, None).await;
        let agent = user(s, a.id, "agent@example.com", Role::Agent, None).await;
        let other = user(s, a.id, "other@example.com", Role::Agent, None).await;
        let c = customer(s, a.id, "小王").await;

        // The first message opens a conversation: greeting, message, offline notice.
        let first = s
            .append_customer_message(CustomerMessage {
                announce: true,
                ..shopper_msg(a.id, c.id, "你好\n第二行", "m1")
            })
            .await
            .unwrap();
        assert!(first.conversation_started);
        assert!(!first.duplicate);
        assert_eq!(first.message.seq, 2);
        assert_eq!(first.message.sender_type, SenderType::Customer);
        assert_eq!(first.message.sender_name, "小王");
        assert_eq!(
            first
                .companions
                .iter()
                .map(|m| (m.seq, m.sender_type))
                .collect::<Vec<_>>(),
            vec![(1, SenderType::Bot), (3, SenderType::System)]
        );
        assert_eq!(first.companions[0].sender_name, "alpha shop");
        let conv = &first.conversation;
        assert_eq!(conv.last_seq, 3);
        assert_eq!(conv.status, ConversationStatus::Open);
        assert_eq!(conv.unread_count, 1);
        assert_eq!(
            conv.last_message_preview,
            preview(&ShopSettings::default().offline_message)
        );
        assert_eq!(conv.queue_position, Some(1));
        assert_eq!(conv.customer.name, "小王");
        assert_eq!(conv.team.as_ref().map(|t| t.name.as_str()), Some("售前"));
        let cid = conv.id;

        // A retry stores nothing and answers the original.
        let retry = s
            .append_customer_message(CustomerMessage {
                announce: false,
                ..shopper_msg(a.id, c.id, "你好", "m1")
            })
            .await
            .unwrap();
        assert!(retry.duplicate);
        assert!(!retry.conversation_started);
        assert!(retry.companions.is_empty());
        assert_eq!(retry.message.id, first.message.id);
        assert_eq!(retry.conversation.last_seq, 3);

        // A second message continues the conversation without companions.
        let second = s
            .append_customer_message(shopper_msg(a.id, c.id, "在吗", "m2"))
            .await
            .unwrap();
        assert!(!second.conversation_started);
        assert_eq!(second.conversation.id, cid);
        assert_eq!(second.message.seq, 4);
        assert_eq!(second.conversation.unread_count, 2);

        // Another shop's id sees nothing.
        let wrong_shop = s
            .append_customer_message(shopper_msg(b.id, c.id, "x", "m3"))
            .await
            .unwrap_err();
        assert_eq!(wrong_shop.code, ErrorCode::NotFound);
        assert!(s.conversation(b.id, cid).await.unwrap().is_none());
        assert!(s.customer_conversation(b.id, c.id).await.unwrap().is_none());
        assert_eq!(
            s.customer_conversation(a.id, c.id)
                .await
                .unwrap()
                .unwrap()
                .id,
            cid
        );
        assert!(
            s.messages(b.id, cid, 0, 100, true)
                .await
                .unwrap()
                .is_empty()
        );

        // Agent reply and private note.
        let reply = s
            .append_agent_message(AgentMessage {
                shop_id: a.id,
                conversation_id: cid,
                agent: &agent,
                body: "您好",
                client_msg_id: "a1",
                private: false,
                kind: MessageKind::Text,
                payload: None,
            })
            .await
            .unwrap();
        assert_eq!(reply.message.seq, 5);
        assert_eq!(reply.conversation.unread_count, 0);
        assert_eq!(reply.conversation.agent_read_seq, 5);
        assert_eq!(reply.conversation.last_message_preview, "您好");
        let note = s
            .append_agent_message(AgentMessage {
                shop_id: a.id,
                conversation_id: cid,
                agent: &agent,
                body: "VIP",
                client_msg_id: "a2",
                private: true,
                kind: MessageKind::Text,
                payload: None,
            })
            .await
            .unwrap();
        assert_eq!(note.message.seq, 6);
        assert!(note.message.private);
        assert_eq!(note.conversation.last_message_preview, "您好");
        let again = s
            .append_agent_message(AgentMessage {
                shop_id: a.id,
                conversation_id: cid,
                agent: &agent,
                body: "VIP",
                client_msg_id: "a2",
                private: true,
                kind: MessageKind::Text,
                payload: None,
            })
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.message.id, note.message.id);
        let foreign = s
            .append_agent_message(AgentMessage {
                shop_id: b.id,
                conversation_id: cid,
                agent: &agent,
                body: "x",
                client_msg_id: "a3",
                private: false,
                kind: MessageKind::Text,
                payload: None,
            })
            .await
            .unwrap_err();
        assert_eq!(foreign.code, ErrorCode::NotFound);
        let sys = s
            .append_system_message(a.id, cid, "转接", true)
            .await
            .unwrap();
        assert_eq!(
            (sys.message.seq, sys.message.sender_type),
            (7, SenderType::System)
        );
        assert_eq!(
            s.append_system_message(b.id, cid, "x", false)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );

        let all = s.messages(a.id, cid, 0, 100, true).await.unwrap();
        assert_eq!(
            all.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>()
        );
        let public = s.messages(a.id, cid, 0, 100, false).await.unwrap();
        assert_eq!(
            public.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        let page = s.messages(a.id, cid, 2, 2, true).await.unwrap();
        assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(all[1].client_msg_id.as_deref(), Some("m1"));
        assert_eq!(all[1].body, "你好\n第二行");

        // A second shopper, so the filters have something to tell apart.
        let c2 = customer(s, a.id, "小李").await;
        let cid2 = s
            .append_customer_message(shopper_msg(a.id, c2.id, "hello", "x1"))
            .await
            .unwrap()
            .conversation
            .id;

        // Assign, filters and visibility.
        let assigned = s.assign(a.id, cid, Some(agent.id), None).await.unwrap();
        assert_eq!(assigned.assignee_id, Some(agent.id));
        assert_eq!(assigned.assignee_name.as_deref(), Some("agent"));
        assert_eq!(assigned.queue_position, None);
        assert_eq!(
            s.conversation(a.id, cid2)
                .await
                .unwrap()
                .unwrap()
                .queue_position,
            Some(1)
        );
        assert_eq!(
            s.assign(b.id, cid, Some(agent.id), None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        assert_eq!(
            s.assign(a.id, cid, Some(999_999), None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        let b_team = s.list_teams(b.id).await.unwrap()[0].id;
        assert_eq!(
            s.assign(a.id, cid, None, Some(b_team))
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );

        let ids = |v: Vec<Conversation>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s
                .list_conversations(a.id, query(&agent, AssigneeFilter::Me))
                .await
                .unwrap()),
            vec![cid]
        );
        assert_eq!(
            ids(s
                .list_conversations(a.id, query(&agent, AssigneeFilter::Unassigned))
                .await
                .unwrap()),
            vec![cid2]
        );
        assert_eq!(
            ids(s
                .list_conversations(a.id, query(&agent, AssigneeFilter::All))
                .await
                .unwrap()),
            vec![cid2, cid]
        );
        // Another agent sees only unassigned ones; an admin sees everything.
        assert_eq!(
            ids(s
                .list_conversations(a.id, query(&other, AssigneeFilter::All))
                .await
                .unwrap()),
            vec![cid2]
        );
        assert_eq!(
            ids(s
                .list_conversations(a.id, query(&admin, AssigneeFilter::All))
                .await
                .unwrap()),
            vec![cid2, cid]
        );
        assert!(
            s.list_conversations(a.id, query(&admin, AssigneeFilter::Me))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.list_conversations(b.id, query(&admin, AssigneeFilter::All))
                .await
                .unwrap()
                .is_empty()
        );
        let resolved_only = ConversationQuery {
            status: Some(ConversationStatus::Resolved),
            ..query(&admin, AssigneeFilter::All)
        };
        assert!(
            s.list_conversations(a.id, resolved_only)
                .await
                .unwrap()
                .is_empty()
        );
        let open_only = ConversationQuery {
            status: Some(ConversationStatus::Open),
            limit: 1,
            ..query(&admin, AssigneeFilter::All)
        };
        assert_eq!(
            ids(s.list_conversations(a.id, open_only).await.unwrap()),
            vec![cid2]
        );
        let agents = s.list_agents(a.id).await.unwrap();
        assert_eq!(
            agents
                .iter()
                .find(|x| x.user.id == agent.id)
                .unwrap()
                .open_count,
            1
        );

        // Read marks.
        s.append_customer_message(shopper_msg(a.id, c.id, "还在吗", "m4"))
            .await
            .unwrap();
        let conv = s.conversation(a.id, cid).await.unwrap().unwrap();
        assert_eq!((conv.last_seq, conv.unread_count), (8, 1));
        let partial = s.mark_read_by_agent(a.id, cid, 7).await.unwrap();
        assert_eq!((partial.agent_read_seq, partial.unread_count), (7, 1));
        let read = s.mark_read_by_agent(a.id, cid, 100).await.unwrap();
        assert_eq!((read.agent_read_seq, read.unread_count), (8, 0));
        let back = s.mark_read_by_agent(a.id, cid, 2).await.unwrap();
        assert_eq!(back.agent_read_seq, 8);
        assert_eq!(
            s.mark_read_by_customer(a.id, cid, 100)
                .await
                .unwrap()
                .customer_read_seq,
            8
        );
        assert_eq!(
            s.mark_read_by_customer(a.id, cid, 3)
                .await
                .unwrap()
                .customer_read_seq,
            8
        );
        assert_eq!(
            s.mark_read_by_customer(b.id, cid, 3)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        assert_eq!(
            s.mark_read_by_agent(b.id, cid, 3).await.unwrap_err().code,
            ErrorCode::NotFound
        );

        // Status: resolving leaves the queue; the shopper writing again reopens and requeues.
        let resolved = s
            .set_status(a.id, cid, ConversationStatus::Resolved)
            .await
            .unwrap();
        assert_eq!(resolved.status, ConversationStatus::Resolved);
        assert_eq!(
            s.set_status(b.id, cid, ConversationStatus::Open)
                .await
                .unwrap_err()
                .code,
            ErrorCode::NotFound
        );
        let reopened = s
            .append_customer_message(CustomerMessage {
                announce: false,
                ..shopper_msg(a.id, c.id, "又来了", "m5")
            })
            .await
            .unwrap();
        assert!(reopened.conversation_started);
        assert_eq!(reopened.conversation.id, cid);
        assert!(
            reopened.companions.is_empty(),
            "a reopened conversation gets no greeting"
        );
        assert_eq!(reopened.conversation.assignee_id, None);
        assert_eq!(reopened.conversation.status, ConversationStatus::Open);
        assert_eq!(reopened.conversation.queue_position, Some(2));
        assert_eq!(
            s.waiting_queue(a.id).await.unwrap(),
            vec![(cid2, c2.id), (cid, c.id)]
        );

        // Handing to a team queues again; pending leaves the queue.
        let pending = s
            .set_status(a.id, cid2, ConversationStatus::Pending)
            .await
            .unwrap();
        assert_eq!(pending.queue_position, None);
        assert_eq!(s.waiting_queue(a.id).await.unwrap(), vec![(cid, c.id)]);
        let reopen = s
            .set_status(a.id, cid2, ConversationStatus::Open)
            .await
            .unwrap();
        assert_eq!(reopen.queue_position, Some(2));

        db.drop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_messages_get_gap_free_seqs() {
    for db in TestDb::all().await {
        let s = db.store.clone();
        let a = shop(&*s, "alpha").await;
        let c = customer(&*s, a.id, "小王").await;
        const N: usize = 50;

        // Concurrent first messages of one shopper open exactly one conversation.
        let mut tasks = Vec::new();
        for i in 0..N {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("c{i}");
                s.append_customer_message(CustomerMessage {
                    announce: true,
                    ..shopper_msg(a.id, c.id, "hi", &id)
                })
                .await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(results.iter().filter(|r| r.conversation_started).count(), 1);
        let cid = results[0].conversation.id;
        assert!(results.iter().all(|r| r.conversation.id == cid));
        let messages = s.messages(a.id, cid, 0, 1000, true).await.unwrap();
        assert_eq!(
            messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=N as i64 + 2).collect::<Vec<_>>(),
            "greeting, the N messages and the offline notice (nobody is online)"
        );
        assert_eq!(
            s.conversation(a.id, cid).await.unwrap().unwrap().last_seq,
            N as i64 + 2
        );

        // Concurrent retries of the same message store it once.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.append_customer_message(shopper_msg(a.id, c.id, "same", "same"))
                    .await
            }));
        }
        let mut fresh = 0;
        for t in tasks {
            let r = t.await.unwrap().unwrap();
            assert_eq!(r.message.seq, N as i64 + 3);
            fresh += usize::from(!r.duplicate);
        }
        assert_eq!(fresh, 1);

        // Agents and shoppers writing at once still give seqs 1..=n without gaps; racing duplicate
        // agent messages resolve to the original.
        let agent = user(&*s, a.id, "agent@example.com", Role::Agent, None).await;
        let agent = Arc::new(agent);
        let mut tasks = Vec::new();
        for i in 0..N {
            let (s, agent) = (s.clone(), agent.clone());
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    let id = format!("d{i}");
                    s.append_customer_message(shopper_msg(a.id, c.id, "more", &id))
                        .await
                        .map(|r| r.duplicate)
                } else {
                    let id = format!("a{}", i % 5);
                    s.append_agent_message(AgentMessage {
                        shop_id: a.id,
                        conversation_id: cid,
                        agent: &agent,
                        body: "reply",
                        client_msg_id: &id,
                        private: false,
                        kind: MessageKind::Text,
                        payload: None,
                    })
                    .await
                    .map(|r| r.duplicate)
                }
            }));
        }
        let mut stored = 0;
        for t in tasks {
            stored += usize::from(!t.await.unwrap().unwrap());
        }
        assert_eq!(stored, N / 2 + 5);
        let messages = s.messages(a.id, cid, 0, 1000, true).await.unwrap();
        let total = (N + 3 + N / 2 + 5) as i64; // greeting + N + notice + retry-once + the mix
        assert_eq!(
            messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=total).collect::<Vec<_>>()
        );

        drop(s);
        db.drop().await;
    }
}

/// A burst of writes from many tasks is answered, each with its own committed row (on SQLite the
/// answers come through the writer's WAL-sync thread, on PostgreSQL from concurrent transactions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_each_answered_once_committed() {
    for db in TestDb::all().await {
        let s = db.store.clone();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.create_shop(&format!("s{i}"), "shop").await.unwrap()
            }));
        }
        for t in tasks {
            let created = t.await.unwrap();
            let read = s.shop_by_slug(&created.slug).await.unwrap();
            assert_eq!(read.map(|r| r.id), Some(created.id), "{}", db.backend);
        }
        drop(s);
        db.drop().await;
    }
}

#[tokio::test]
async fn routing_respects_caps() {
    for db in TestDb::all().await {
        let s = &*db.store;
        let a = shop(s, "alpha").await;
        let b = shop(s, "beta").await;
        // Each team's queue is served by that team's agents: these work in the default team.
        let team = s.list_teams(a.id).await.unwrap()[0].id;
        let one = user(s, a.id, "one@example.com", Role::Agent, Some(team)).await;
        let two = user(s, a.id, "two@example.com", Role::Agent, Some(team)).await;
        let outsider = user(s, a.id, "out@example.com", Role::Agent, None).await;
        s.set_agent_status(a.id, outsider.id, AgentStatus::Online)
            .await
            .unwrap();
        let mut settings = a.settings.clone();
        settings.default_max_concurrent = 1;
        s.update_shop_settings(a.id, &settings).await.unwrap();

        let mut convs = Vec::new();
        for i in 0..3 {
            let c = customer(s, a.id, &format!("c{i}")).await;
            convs.push(
                s.append_customer_message(shopper_msg(a.id, c.id, "hi", "m"))
                    .await
                    .unwrap()
                    .conversation
                    .id,
            );
        }
        // Nobody online: nothing moves.
        assert!(s.route_waiting(a.id).await.unwrap().is_empty());
        assert_eq!(s.waiting_queue(a.id).await.unwrap().len(), 3);

        s.set_agent_status(a.id, one.id, AgentStatus::Online)
            .await
            .unwrap();
        s.set_agent_status(a.id, two.id, AgentStatus::Online)
            .await
            .unwrap();
        // Another shop's routing does not touch this shop.
        assert!(s.route_waiting(b.id).await.unwrap().is_empty());

        let routed = s.route_waiting(a.id).await.unwrap();
        assert_eq!(
            routed.iter().map(|c| c.id).collect::<Vec<_>>(),
            convs[..2].to_vec()
        );
        let mut agents: Vec<_> = routed.iter().map(|c| c.assignee_id.unwrap()).collect();
        agents.sort();
        assert_eq!(agents, vec![one.id, two.id]);
        assert!(routed.iter().all(|c| c.queue_position.is_none()));
        let left = s.conversation(a.id, convs[2]).await.unwrap().unwrap();
        assert_eq!((left.assignee_id, left.queue_position), (None, Some(1)));
        assert_eq!(
            s.waiting_queue(a.id)
                .await
                .unwrap()
                .iter()
                .map(|w| w.0)
                .collect::<Vec<_>>(),
            vec![convs[2]]
        );

        // Everyone is at the cap: routing again assigns nothing.
        assert!(s.route_waiting(a.id).await.unwrap().is_empty());
        // A slot frees up: the waiting conversation goes to that agent.
        let freed = routed[0].assignee_id.unwrap();
        s.set_status(a.id, routed[0].id, ConversationStatus::Resolved)
            .await
            .unwrap();
        let routed = s.route_waiting(a.id).await.unwrap();
        assert_eq!(
            routed
                .iter()
                .map(|c| (c.id, c.assignee_id))
                .collect::<Vec<_>>(),
            vec![(convs[2], Some(freed))]
        );

        db.drop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_routing_never_exceeds_caps() {
    for db in TestDb::all().await {
        let s = db.store.clone();
        let a = shop(&*s, "alpha").await;
        let mut settings = a.settings.clone();
        settings.default_max_concurrent = 2;
        s.update_shop_settings(a.id, &settings).await.unwrap();
        let team = s.list_teams(a.id).await.unwrap()[0].id;
        for i in 0..3 {
            let u = user(
                &*s,
                a.id,
                &format!("u{i}@example.com"),
                Role::Agent,
                Some(team),
            )
            .await;
            s.set_agent_status(a.id, u.id, AgentStatus::Online)
                .await
                .unwrap();
        }
        for i in 0..10 {
            let c = customer(&*s, a.id, &format!("c{i}")).await;
            s.append_customer_message(shopper_msg(a.id, c.id, "hi", "m"))
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.route_waiting(a.id).await }));
        }
        let mut assigned = Vec::new();
        for t in tasks {
            assigned.extend(t.await.unwrap().unwrap().into_iter().map(|c| c.id));
        }
        assigned.sort();
        let before = assigned.len();
        assigned.dedup();
        assert_eq!(
            (before, assigned.len()),
            (6, 6),
            "each conversation is routed once, within the caps"
        );
        assert!(
            s.list_agents(a.id)
                .await
                .unwrap()
                .iter()
                .all(|a| a.open_count == 2)
        );
        assert_eq!(s.waiting_queue(a.id).await.unwrap().len(), 4);

        drop(s);
        db.drop().await;
    }
}

fn order(order_no: &str, buyer: &str) -> OrderDoc {
    OrderDoc {
        order_no: order_no.into(),
        customer_id: None,
        buyer: Buyer {
            external_id: Some(buyer.into()),
            name: Some(buyer.into()),
            ..Default::default()
        },
        placed_at: Millis(1_700_000_000_000),
        status: OrderStatus::Created,
        payment_status: None,
        currency: "CNY".into(),
        items_cents: 1000,
        discount_cents: 0,
        shipping_fee_cents: 0,
        total_cents: 1000,
        paid_at: None,
        shipped_at: None,
        delivered_at: None,
        receiver_name: String::new(),
        receiver_phone: String::new(),
        receiver_address: String::new(),
        items: vec![],
        shipments: vec![],
        refunds: vec![],
    }
}

/// Where the two stores once drifted, one behaviour holds on both: a reminder checks its
/// conversation before its order (another shop's conversation with an unknown order is
/// "conversation not found", as any other write on a conversation answers first).
#[tokio::test]
async fn a_reminder_checks_its_conversation_before_its_order() {
    for db in TestDb::all().await {
        let s = &*db.store;
        let a = shop(s, "alpha").await;
        let b = shop(s, "beta").await;
        let agent = user(s, a.id, "agent@example.com", Role::Agent, None).await;
        let c = customer(s, b.id, "小王").await;
        let theirs = s
            .append_customer_message(shopper_msg(b.id, c.id, "hi", "m1"))
            .await
            .unwrap()
            .conversation;
        let err = s
            .send_reminder(NewReminder {
                shop_id: a.id,
                order_id: 999_999,
                customer_id: c.id,
                conversation_id: theirs.id,
                agent: &agent,
                template_id: None,
                text: "亲，订单还没付款哦",
                card_body: "订单",
                card_payload: serde_json::json!({}),
                force: false,
                repeat_guard_since: Millis(0),
            })
            .await
            .err()
            .expect("another shop's conversation");
        assert_eq!(err.code, ErrorCode::NotFound, "{}", db.backend);
        assert_eq!(err.message, "conversation not found", "{}", db.backend);
        db.drop().await;
    }
}

/// Catalog search (SKU or name) and the order-number prefix ignore case on both backends.
#[tokio::test]
async fn catalog_and_order_searches_ignore_case() {
    for db in TestDb::all().await {
        let s = &*db.store;
        let a = shop(s, "alpha").await;
        let product = ProductDoc {
            sku: "GLASS-01".into(),
            name: "Glass Vase".into(),
            price_cents: 1999,
            currency: "CNY".into(),
            category: "home".into(),
            images: vec![],
            status: ProductStatus::Active,
            description: String::new(),
        };
        let orders = vec![(0, order("SO-2024-0001", "b1")), (1, order("XO-1", "b2"))];
        for change in [
            CommerceChange::Products(vec![(0, product)]),
            CommerceChange::Orders(orders),
        ] {
            let out = s.apply_commerce(a.id, change, None).await.unwrap();
            assert!(out.items.iter().all(|i| i.error.is_none()), "{out:?}");
        }
        for q in ["glass-0", "vASE"] {
            let found = s
                .list_catalog(
                    a.id,
                    &ProductQuery {
                        q: Some(q.into()),
                        limit: 10,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{} {q}", db.backend);
        }
        let found = s
            .list_orders(
                a.id,
                &OrderQuery {
                    q: Some("so-2024".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let numbers: Vec<_> = found.iter().map(|o| o.order_no.as_str()).collect();
        assert_eq!(numbers, ["SO-2024-0001"], "{}", db.backend);
        db.drop().await;
    }
}

/// What the inbox shows of a wait (kefu_core::inbox), the same on both backends and on SQLite's
/// batched path: the shopper's last message (never the bot's or a notice), since when they wait
/// (their oldest unanswered message), the "longest wait first" order, and resolving ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_inbox_shows_what_waits() {
    for db in TestDb::all().await {
        let s = db.store.clone();
        let a = shop(&*s, "alpha").await;
        let admin = user(&*s, a.id, "admin@example.com", Role::Admin, None).await;
        let c1 = customer(&*s, a.id, "小王").await;
        let first = s
            .append_customer_message(CustomerMessage {
                announce: true,
                ..shopper_msg(a.id, c1.id, "我的耳机到哪了\n第二行", "w1")
            })
            .await
            .unwrap();
        let cid = first.conversation.id;
        let conv = first.conversation;
        assert_eq!(conv.last_customer_message_preview, "我的耳机到哪了");
        assert_ne!(
            conv.last_message_preview, "我的耳机到哪了",
            "the offline notice came after"
        );
        let since = conv.waiting_since.expect("waits");
        assert_eq!(since, first.message.created_at);

        // Many messages at once (SQLite: the batched path, its remembered rows too): the wait
        // keeps its start, the preview follows the last message.
        for round in 0..3 {
            let mut tasks = Vec::new();
            for i in 0..20 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    let id = format!("b{round}-{i}");
                    let body = format!("消息 {round}-{i}");
                    s.append_customer_message(shopper_msg(a.id, c1.id, &body, &id))
                        .await
                        .unwrap()
                }));
            }
            for t in tasks {
                let r = t.await.unwrap();
                assert_eq!(r.conversation.waiting_since, Some(since), "{}", db.backend);
                assert!(
                    r.conversation
                        .last_customer_message_preview
                        .starts_with("消息")
                );
            }
        }
        let stored = s.conversation(a.id, cid).await.unwrap().unwrap();
        let last = s.messages(a.id, cid, 0, 1000, true).await.unwrap();
        let last_shopper = last
            .iter()
            .rev()
            .find(|m| m.sender_type == SenderType::Customer)
            .unwrap();
        assert_eq!(stored.last_customer_message_preview, last_shopper.body);
        assert_eq!(stored.waiting_since, Some(since));

        // A note or a system message answers nobody; a public reply does.
        let agent = user(&*s, a.id, "agent@example.com", Role::Agent, None).await;
        let reply = |body: &'static str, id: &'static str, private: bool| AgentMessage {
            shop_id: a.id,
            conversation_id: cid,
            agent: &agent,
            body,
            client_msg_id: id,
            private,
            kind: MessageKind::Text,
            payload: None,
        };
        let noted = s
            .append_agent_message(reply("内部备注", "n1", true))
            .await
            .unwrap();
        assert_eq!(noted.conversation.waiting_since, Some(since));
        let told = s
            .append_system_message(a.id, cid, "您的会话已转接", false)
            .await
            .unwrap();
        assert_eq!(told.conversation.waiting_since, Some(since));
        assert_eq!(
            told.conversation.last_customer_message_preview,
            last_shopper.body
        );
        let answered = s
            .append_agent_message(reply("马上为您查询", "r1", false))
            .await
            .unwrap();
        assert_eq!(answered.conversation.waiting_since, None);
        let again = s
            .append_customer_message(shopper_msg(a.id, c1.id, "好的谢谢", "w2"))
            .await
            .unwrap();
        let since_again = again.conversation.waiting_since.expect("waits again");
        assert!(since_again > since);

        // Three conversations: one answered with the latest activity, two waiting.
        let c2 = customer(&*s, a.id, "小李").await;
        let c3 = customer(&*s, a.id, "小张").await;
        let cid2 = s
            .append_customer_message(shopper_msg(a.id, c2.id, "在吗", "x1"))
            .await
            .unwrap()
            .conversation
            .id;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let cid3 = s
            .append_customer_message(shopper_msg(a.id, c3.id, "发货了吗", "y1"))
            .await
            .unwrap()
            .conversation
            .id;
        s.append_agent_message(AgentMessage {
            conversation_id: cid3,
            ..reply("已发货", "r3", false)
        })
        .await
        .unwrap();
        let order_of = |sort| ConversationQuery {
            sort,
            ..query(&admin, AssigneeFilter::All)
        };
        let ids = |v: Vec<Conversation>| v.iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(
            ids(s
                .list_conversations(a.id, order_of(ConversationSort::Waiting))
                .await
                .unwrap()),
            vec![cid, cid2, cid3],
            "{}",
            db.backend
        );
        assert_eq!(
            ids(s
                .list_conversations(a.id, order_of(ConversationSort::Recent))
                .await
                .unwrap())[0],
            cid3
        );
        let one = ConversationQuery {
            limit: 1,
            ..order_of(ConversationSort::Waiting)
        };
        assert_eq!(
            ids(s.list_conversations(a.id, one).await.unwrap()),
            vec![cid]
        );

        let resolved = s
            .set_status(a.id, cid, ConversationStatus::Resolved)
            .await
            .unwrap();
        assert_eq!(resolved.waiting_since, None, "resolving ends the wait");
        drop(s);
        db.drop().await;
    }
}

/// A conversation's current order must be its customer's and its product the shop's; script
/// variables read it before the customer's latest order.
#[tokio::test]
async fn a_conversation_is_about_its_current_order() {
    use kefu_core::inbox::ContextChange;
    for db in TestDb::all().await {
        let s = &*db.store;
        let a = shop(s, "alpha").await;
        let b = shop(s, "beta").await;
        let c = customer(s, a.id, "小王").await;
        let other = customer(s, a.id, "小李").await;
        let cid = s
            .append_customer_message(shopper_msg(a.id, c.id, "耳机到哪了", "m1"))
            .await
            .unwrap()
            .conversation
            .id;
        let mut older = order("EAR-0001", "x");
        older.customer_id = Some(c.id);
        older.status = OrderStatus::Shipped;
        let mut newer = order("CBL-0002", "x");
        newer.customer_id = Some(c.id);
        newer.placed_at = Millis(older.placed_at.0 + 3_600_000);
        let mut theirs = order("OTH-0003", "y");
        theirs.customer_id = Some(other.id);
        let out = s
            .apply_commerce(
                a.id,
                CommerceChange::Orders(vec![(0, older), (1, newer), (2, theirs)]),
                None,
            )
            .await
            .unwrap();
        let ids: Vec<Id> = out.items.iter().map(|i| i.id.unwrap()).collect();
        let (earbuds, cable, foreign) = (ids[0], ids[1], ids[2]);

        let latest = s
            .script_context(a.id, cid, None, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            latest.order.unwrap().order_no,
            "CBL-0002",
            "nothing current: the latest"
        );
        assert_eq!(
            s.customer_order_by_numbers(a.id, c.id, &["OTH-0003".into(), "EAR-0001".into()])
                .await
                .unwrap(),
            Some(earbuds),
            "another customer's order is never found"
        );
        let set = s
            .set_conversation_context(a.id, cid, ContextChange::order(earbuds))
            .await
            .unwrap();
        assert!(set.changed);
        assert_eq!(set.conversation.current_order_id, Some(earbuds));
        let again = s
            .set_conversation_context(a.id, cid, ContextChange::order(earbuds))
            .await
            .unwrap();
        assert!(!again.changed);
        let ctx = s
            .script_context(a.id, cid, None, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ctx.order.unwrap().order_no, "EAR-0001", "{}", db.backend);
        let named = s
            .script_context(a.id, cid, Some(cable), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            named.order.unwrap().order_no,
            "CBL-0002",
            "a named order wins"
        );

        let e = s
            .set_conversation_context(a.id, cid, ContextChange::order(foreign))
            .await
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("order_id"), "{}", db.backend);
        let e = s
            .set_conversation_context(a.id, cid, ContextChange::order(999_999))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        let product_b = s
            .upsert_product(
                b.id,
                &NewProduct {
                    sku: "B-1".into(),
                    name: "别家商品".into(),
                    price_cents: 100,
                    currency: "CNY".into(),
                    image_url: String::new(),
                    description: String::new(),
                },
            )
            .await
            .unwrap();
        let e = s
            .set_conversation_context(a.id, cid, ContextChange::product(product_b.id))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound);
        let e = s
            .set_conversation_context(b.id, cid, ContextChange::order(earbuds))
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::NotFound, "another shop's conversation");
        assert_eq!(
            s.product_by_sku(b.id, "B-1").await.unwrap().map(|p| p.id),
            Some(product_b.id)
        );
        assert!(s.product_by_sku(a.id, "B-1").await.unwrap().is_none());
        let cleared = s
            .set_conversation_context(
                a.id,
                cid,
                ContextChange {
                    order_id: Some(None),
                    product_id: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(cleared.conversation.current_order_id, None);
        db.drop().await;
    }
}
