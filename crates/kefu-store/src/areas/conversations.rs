//! The spine's shared queries: row mapping of shops, users, conversations and messages, the
//! message insert that numbers a conversation's messages, a shopper's message (which opens or
//! reopens the conversation) and routing of the waiting queue. The [`Store`] impl (`spine.rs`) and
//! the areas that post messages (tools, reminders, attachments) build on these; SQLite's batched
//! message path (`sqlite/batch.rs`) too.
//!
//! [`Store`]: kefu_core::store::Store

use super::prelude::*;
use kefu_core::model::*;
use kefu_core::routing::{Candidate, plan_assignments, reachable_by_team};
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::sync::LazyLock;

pub(crate) const SHOP_COLUMNS: &str = "id, slug, name, greeting, offline_message, \
     default_max_concurrent, prechat, time_zone, widget_origins, widget_style";

pub(crate) fn shop_from_row(r: &DbRow) -> Shop {
    Shop {
        id: r.get("id"),
        slug: r.get("slug"),
        name: r.get("name"),
        settings: ShopSettings {
            greeting: r.get("greeting"),
            offline_message: r.get("offline_message"),
            default_max_concurrent: r.get("default_max_concurrent"),
            // Stored as JSON; a value this version cannot read falls back to "off".
            prechat: serde_json::from_str(r.get::<&str, _>("prechat")).unwrap_or_default(),
            time_zone: r.get("time_zone"),
            widget_origins: serde_json::from_str(r.get::<&str, _>("widget_origins"))
                .unwrap_or_default(),
            // JSON like the pre-chat form; '{}' (never set) reads as the defaults.
            widget: serde_json::from_str(r.get::<&str, _>("widget_style")).unwrap_or_default(),
        },
    }
}

pub(crate) const USER_SELECT: &str = "SELECT u.id, u.shop_id, u.name, u.email, u.role, u.status, u.team_id, \
     u.status_cause, u.status_note, u.status_since, \
     t.name AS team_name, u.max_concurrent, u.password_hash, u.deactivated_at, \
     u.must_change_password, u.created_at \
     FROM users u LEFT JOIN teams t ON t.id = u.team_id";

pub(crate) fn user_from_row(r: &DbRow) -> Result<User> {
    let team_id: Option<Id> = r.get("team_id");
    Ok(User {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        name: r.get("name"),
        email: r.get("email"),
        role: Role::parse(r.get("role"))?,
        status: AgentStatus::parse(r.get("status"))?,
        status_cause: r
            .get::<Option<&str>, _>("status_cause")
            .and_then(|c| kefu_core::presence::StatusCause::parse(c).ok()),
        status_note: r.get("status_note"),
        status_since: r.get::<Option<i64>, _>("status_since").map(Millis),
        team: team_id.map(|id| TeamRef {
            id,
            name: r.get("team_name"),
        }),
        max_concurrent: r.get("max_concurrent"),
        active: r.get::<Option<i64>, _>("deactivated_at").is_none(),
        must_change_password: r.get("must_change_password"),
    })
}

pub(crate) const CONVERSATION_SELECT: &str = "SELECT c.id, c.shop_id, c.status, c.assignee_id, \
     u.name AS assignee_name, c.team_id, t.name AS team_name, c.customer_id, \
     cu.name AS customer_name, c.last_seq, c.last_message_at, c.last_message_preview, \
     c.unread_count, c.customer_read_seq, c.agent_read_seq, c.created_at, \
     c.tags, c.snoozed_until, c.last_customer_message_preview, c.waiting_since, \
     c.current_order_id, c.current_product_id, \
     CASE WHEN c.queued_at IS NULL THEN NULL ELSE ( \
        SELECT COUNT(*) FROM conversations q WHERE q.shop_id = c.shop_id \
        AND q.queued_at IS NOT NULL \
        AND (q.queued_at, q.id) <= (c.queued_at, c.id)) \
     END AS queue_position \
     FROM conversations c \
     JOIN customers cu ON cu.id = c.customer_id \
     LEFT JOIN users u ON u.id = c.assignee_id \
     LEFT JOIN teams t ON t.id = c.team_id";

pub(crate) fn conversation_from_row(r: &DbRow) -> Result<Conversation> {
    let team_id: Option<Id> = r.get("team_id");
    Ok(Conversation {
        id: r.get("id"),
        shop_id: r.get("shop_id"),
        status: ConversationStatus::parse(r.get("status"))?,
        assignee_id: r.get("assignee_id"),
        assignee_name: r.get("assignee_name"),
        team: team_id.map(|id| TeamRef {
            id,
            name: r.get("team_name"),
        }),
        customer: CustomerRef {
            id: r.get("customer_id"),
            name: r.get("customer_name"),
        },
        last_seq: r.get("last_seq"),
        last_message_at: Millis(r.get("last_message_at")),
        last_message_preview: r.get("last_message_preview"),
        unread_count: r.get("unread_count"),
        customer_read_seq: r.get("customer_read_seq"),
        agent_read_seq: r.get("agent_read_seq"),
        queue_position: r.get("queue_position"),
        created_at: Millis(r.get("created_at")),
        tags: serde_json::from_str(r.get("tags")).map_err(Error::internal)?,
        snoozed_until: r.get::<Option<i64>, _>("snoozed_until").map(Millis),
        last_customer_message_preview: r.get("last_customer_message_preview"),
        waiting_since: r.get::<Option<i64>, _>("waiting_since").map(Millis),
        current_order_id: r.get("current_order_id"),
        current_product_id: r.get("current_product_id"),
    })
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sender_type, sender_id, sender_name, body, \
     private, client_msg_id, created_at, kind, payload";

pub(crate) fn message_from_row(r: &DbRow) -> Result<Message> {
    let payload: Option<String> = r.get("payload");
    Ok(Message {
        id: r.get("id"),
        conversation_id: r.get("conversation_id"),
        seq: r.get("seq"),
        sender_type: SenderType::parse(r.get("sender_type"))?,
        sender_id: r.get("sender_id"),
        sender_name: r.get("sender_name"),
        body: r.get("body"),
        private: r.get("private"),
        client_msg_id: r.get("client_msg_id"),
        created_at: Millis(r.get("created_at")),
        kind: MessageKind::parse(r.get("kind"))?,
        payload: payload
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(Error::internal)?,
    })
}

pub(crate) async fn load_conversation(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
) -> Result<Conversation> {
    let sql = format!("{CONVERSATION_SELECT} WHERE c.id = $1 AND c.shop_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("conversation"))?;
    conversation_from_row(&row)
}

/// Locks a conversation of the shop for the rest of the write ([`FOR_NO_KEY_UPDATE`]);
/// `not_found` if there is none.
pub(crate) async fn lock_conversation(conn: &mut Conn, shop_id: Id, id: Id) -> Result<()> {
    let sql =
        format!("SELECT id FROM conversations WHERE id = $1 AND shop_id = $2{FOR_NO_KEY_UPDATE}");
    let found: Option<Id> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found("conversation"))
}

/// A conversation a write is about to change, locked first where rows need locks.
pub(crate) async fn load_conversation_locked(
    conn: &mut Conn,
    shop_id: Id,
    id: Id,
) -> Result<Conversation> {
    if ROW_LOCKS {
        lock_conversation(conn, shop_id, id).await?;
    }
    load_conversation(conn, shop_id, id).await
}

pub(crate) async fn load_shop(conn: &mut Conn, shop_id: Id) -> Result<Shop> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("shop"))?;
    Ok(shop_from_row(&row))
}

pub(crate) async fn load_user(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Option<User>> {
    let sql = format!("{USER_SELECT} WHERE u.id = $1 AND u.shop_id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(user_from_row).transpose()
}

/// Finds the message a sender already stored under `client_msg_id`.
pub(crate) async fn find_retry(
    conn: &mut Conn,
    sender_type: SenderType,
    sender_id: Id,
    client_msg_id: &str,
) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages \
         WHERE sender_type = $1 AND sender_id = $2 AND client_msg_id = $3"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(sender_type.as_str())
        .bind(sender_id)
        .bind(client_msg_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.as_ref().map(message_from_row).transpose()
}

/// A message to insert with the next seq of its conversation.
pub(crate) struct Insert<'a> {
    pub(crate) shop_id: Id,
    pub(crate) conversation_id: Id,
    pub(crate) sender_type: SenderType,
    pub(crate) sender_id: Option<Id>,
    pub(crate) sender_name: &'a str,
    pub(crate) body: &'a str,
    pub(crate) private: bool,
    pub(crate) client_msg_id: Option<&'a str>,
    pub(crate) now: i64,
    /// `text` (and no payload) for everything but cards.
    pub(crate) kind: MessageKind,
    pub(crate) payload: Option<&'a serde_json::Value>,
}

/// Inserts a message at `last_seq + 1` and moves the conversation's counters. `seq` is gap-free
/// and increasing per conversation: on SQLite because only the writer runs this, on PostgreSQL
/// because the `UPDATE … RETURNING last_seq` row-locks the conversation until the transaction
/// ends (a concurrent insert waits and then reads the committed `last_seq`).
///
/// A message leaves the conversation's `updated_at` alone: that column tells the search indexer
/// the conversation's own fields changed (status, assignee, team, tags), and moving it per message
/// made the indexer re-index every busy conversation several times a second.
///
/// It also moves what the inbox shows of the wait (`kefu_core::inbox`): a shopper's message is
/// the row's preview and starts the wait unless one runs; an agent's public message ends it.
pub(crate) async fn insert_message(conn: &mut Conn, m: Insert<'_>) -> Result<Message> {
    let from_shopper = m.sender_type == SenderType::Customer;
    let shows_in_preview = !m.private;
    let answers = m.sender_type == SenderType::Agent && !m.private;
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, \
         last_message_at = CASE WHEN $1 THEN $2 ELSE last_message_at END, \
         last_message_preview = CASE WHEN $1 THEN $3 ELSE last_message_preview END, \
         unread_count = unread_count + CASE WHEN $4 THEN 1 ELSE 0 END, \
         last_customer_message_preview = CASE WHEN $4 THEN $3 ELSE last_customer_message_preview END, \
         waiting_since = CASE WHEN $4 THEN COALESCE(waiting_since, $2) \
                              WHEN $6 THEN NULL ELSE waiting_since END \
         WHERE id = $5 RETURNING last_seq",
    )
    .bind(shows_in_preview)
    .bind(m.now)
    .bind(preview(m.body))
    .bind(from_shopper)
    .bind(m.conversation_id)
    .bind(answers)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    let payload = m.payload.map(serde_json::Value::to_string);
    let id: Id = sqlx::query_scalar(
        "INSERT INTO messages (shop_id, conversation_id, seq, sender_type, sender_id, sender_name, \
         body, private, client_msg_id, created_at, kind, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(m.shop_id)
    .bind(m.conversation_id)
    .bind(seq)
    .bind(m.sender_type.as_str())
    .bind(m.sender_id)
    .bind(m.sender_name)
    .bind(m.body)
    .bind(m.private)
    .bind(m.client_msg_id)
    .bind(m.now)
    .bind(m.kind.as_str())
    .bind(payload)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(Message {
        id,
        conversation_id: m.conversation_id,
        seq,
        sender_type: m.sender_type,
        sender_id: m.sender_id,
        sender_name: m.sender_name.to_owned(),
        body: m.body.to_owned(),
        private: m.private,
        client_msg_id: m.client_msg_id.map(str::to_owned),
        created_at: Millis(m.now),
        kind: m.kind,
        payload: m.payload.cloned(),
    })
}

/// The shopper's row, read at the start of their message: on PostgreSQL locked, which serialises
/// a shopper's messages (two first messages cannot open two conversations, and a retry that waited
/// here sees its committed original).
static CUSTOMER_OF_MESSAGE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT shop_id, name FROM customers WHERE id = $1{FOR_NO_KEY_UPDATE}")
});
/// The shopper's latest conversation, which their message continues or reopens.
static LATEST_CONVERSATION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, status FROM conversations WHERE customer_id = $1 \
         ORDER BY id DESC LIMIT 1{FOR_NO_KEY_UPDATE}"
    )
});

/// Stores a shopper's message: into their open conversation, reopening a resolved one or opening
/// a new one (with the shop's greeting before it and its offline notice after it when asked to
/// announce). A retry of a stored `client_msg_id` is answered with the original.
pub(crate) async fn append_customer(conn: &mut Conn, m: &CustomerMessage<'_>) -> Result<Appended> {
    let now = Millis::now().0;
    let customer: Option<(Id, String)> =
        sqlx::query_as(AssertSqlSafe(CUSTOMER_OF_MESSAGE.as_str()))
            .bind(m.customer_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if let Some(original) =
        find_retry(conn, SenderType::Customer, m.customer_id, m.client_msg_id).await?
    {
        let conversation = load_conversation(conn, m.shop_id, original.conversation_id).await?;
        return Ok(Appended {
            message: original,
            companions: vec![],
            conversation,
            conversation_started: false,
            duplicate: true,
        });
    }
    let customer_name = match customer {
        Some((shop_id, name)) if shop_id == m.shop_id => name,
        _ => return Err(Error::not_found("customer")),
    };
    let latest: Option<(Id, String)> = sqlx::query_as(AssertSqlSafe(LATEST_CONVERSATION.as_str()))
        .bind(m.customer_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;

    let mut companions = Vec::new();
    let mut is_new = false;
    let (conversation_id, started) = match latest {
        Some((id, status)) if status != "resolved" => (id, false),
        Some((id, _resolved)) => {
            // The shopper writes again: the conversation reopens and waits for an agent anew,
            // about something new (the last inquiry's order and product no longer count).
            sqlx::query(
                "UPDATE conversations SET status = 'open', assignee_id = NULL, queued_at = $1, \
                 updated_at = $1, current_order_id = NULL, current_product_id = NULL WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            (id, true)
        }
        None => {
            let team_id: Option<Id> = sqlx::query_scalar(
                "SELECT id FROM teams WHERE shop_id = $1 ORDER BY is_default DESC, id LIMIT 1",
            )
            .bind(m.shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let id: Id = sqlx::query_scalar(
                "INSERT INTO conversations (shop_id, customer_id, status, team_id, last_message_at, \
                 queued_at, created_at, updated_at) VALUES ($1, $2, 'open', $3, $4, $4, $4, $4) RETURNING id",
            )
            .bind(m.shop_id)
            .bind(m.customer_id)
            .bind(team_id)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            is_new = true;
            (id, true)
        }
    };
    // Greeting and offline notice are the shop's, read in this transaction, only at a start.
    let announcement: Option<(String, String, String, i64)> = if started && m.announce {
        sqlx::query_as(
            "SELECT s.name, s.greeting, s.offline_message, \
             (SELECT COUNT(*) FROM users u WHERE u.shop_id = s.id AND u.status = 'online') \
             FROM shops s WHERE s.id = $1",
        )
        .bind(m.shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
    } else {
        None
    };
    if is_new
        && let Some((shop_name, greeting, _, _)) = &announcement
        && !greeting.trim().is_empty()
    {
        companions.push(
            insert_message(
                conn,
                Insert {
                    shop_id: m.shop_id,
                    conversation_id,
                    sender_type: SenderType::Bot,
                    sender_id: None,
                    sender_name: shop_name,
                    body: greeting,
                    private: false,
                    client_msg_id: None,
                    now,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?,
        );
    }
    let message = insert_message(
        conn,
        Insert {
            shop_id: m.shop_id,
            conversation_id,
            sender_type: SenderType::Customer,
            sender_id: Some(m.customer_id),
            sender_name: &customer_name,
            body: m.body,
            private: false,
            client_msg_id: Some(m.client_msg_id),
            now,
            kind: MessageKind::Text,
            payload: None,
        },
    )
    .await?;
    if started {
        // A session starts with this message: the desk event is part of the same write.
        super::kpi::record_conversation_event(
            conn,
            conversation_id,
            now,
            kefu_core::kpi::DeskEventKind::Started,
            None,
            None,
            None,
            if is_new { "new" } else { "reopened" },
        )
        .await?;
    }
    let mut trailing = None;
    if let Some((_, _, notice, 0)) = &announcement
        && !notice.trim().is_empty()
    {
        trailing = Some(
            insert_message(
                conn,
                Insert {
                    shop_id: m.shop_id,
                    conversation_id,
                    sender_type: SenderType::System,
                    sender_id: None,
                    sender_name: "",
                    body: notice,
                    private: false,
                    client_msg_id: None,
                    now,
                    kind: MessageKind::Text,
                    payload: None,
                },
            )
            .await?,
        );
    }
    companions.extend(trailing);
    let conversation = load_conversation(conn, m.shop_id, conversation_id).await?;
    Ok(Appended {
        message,
        companions,
        conversation,
        conversation_started: started,
        duplicate: false,
    })
}

/// Assigns the heads of the shop's waiting queues to online agents with room (kefu-core's
/// [`plan_assignments`], one team's queue served by that team's agents) and returns the assigned
/// conversations. On PostgreSQL one router per shop runs at a time, the queue heads are locked (a
/// conversation assigned or closed meanwhile drops out instead of being assigned twice) and the
/// agents too, before their load is counted again.
pub(crate) async fn route_shop(conn: &mut Conn, shop_id: Id) -> Result<Vec<Conversation>> {
    lock_shop(conn, ShopLock::Routing, shop_id).await?;
    let mut agents = online_agents(conn, shop_id).await?;
    // Only the head of each queue that free agents could take; the rest keeps waiting unread.
    let mut queue: Vec<(Id, Option<Id>, i64)> = Vec::new();
    for (team, reach) in reachable_by_team(&agents) {
        let head: Vec<(Id, Option<Id>, i64)> = sqlx::query_as(AssertSqlSafe(QUEUE_HEAD.as_str()))
            .bind(shop_id)
            .bind(team)
            .bind(reach)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        queue.extend(head);
    }
    queue.sort_by_key(|(id, _, queued_at)| (*queued_at, *id));
    queue.dedup_by_key(|(id, _, _)| *id);
    if queue.is_empty() {
        return Ok(vec![]);
    }
    if ROW_LOCKS {
        // Lock the online agents before counting their load again, so a concurrent manual
        // assignment either is counted or commits after this routing.
        let sql = format!(
            "SELECT id FROM users WHERE shop_id = $1 AND status = 'online' ORDER BY id{FOR_NO_KEY_UPDATE}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        agents = online_agents(conn, shop_id).await?;
    }
    let now = Millis::now().0;
    let mut assigned = Vec::new();
    // Each team's queue is served by that team's agents.
    let mut teams: Vec<Option<Id>> = queue.iter().map(|(_, t, _)| *t).collect();
    teams.sort();
    teams.dedup();
    for team in teams {
        let team_queue: Vec<Id> = queue
            .iter()
            .filter(|(_, t, _)| *t == team)
            .map(|(id, _, _)| *id)
            .collect();
        // One load table for every team's plan, so an agent filled by one queue is full for the
        // next. A member serves the queue of each of their teams.
        let mut candidates: Vec<Candidate> = agents
            .iter()
            .filter(|(agent_teams, _)| team.is_none_or(|t| agent_teams.contains(&t)))
            .map(|(_, c)| c.clone())
            .collect();
        let plan = plan_assignments(&team_queue, &mut candidates, now);
        for c in candidates {
            if let Some((_, shared)) = agents.iter_mut().find(|(_, a)| a.agent_id == c.agent_id) {
                *shared = c;
            }
        }
        for (conversation_id, agent_id) in plan {
            sqlx::query(
                "UPDATE conversations SET assignee_id = $1, queued_at = NULL, updated_at = $2 WHERE id = $3",
            )
            .bind(agent_id)
            .bind(now)
            .bind(conversation_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query("UPDATE users SET last_assigned_at = $1 WHERE id = $2")
                .bind(now)
                .bind(agent_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            super::kpi::record_conversation_event(
                conn,
                conversation_id,
                now,
                kefu_core::kpi::DeskEventKind::Assigned,
                Some(agent_id),
                None,
                None,
                "",
            )
            .await?;
            assigned.push(conversation_id);
        }
    }
    let mut out = Vec::with_capacity(assigned.len());
    for id in assigned {
        out.push(load_conversation(conn, shop_id, id).await?);
    }
    Ok(out)
}

/// The head of one team's waiting queue (`$2`, NULL for conversations of no team), `$3` long.
static QUEUE_HEAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, team_id, queued_at FROM conversations WHERE shop_id = $1 \
         AND team_id IS NOT DISTINCT FROM $2 AND queued_at IS NOT NULL \
         ORDER BY queued_at, id LIMIT $3{FOR_NO_KEY_UPDATE}"
    )
});

/// The shop's online (and active) agents with their teams and current load.
async fn online_agents(conn: &mut Conn, shop_id: Id) -> Result<Vec<(Vec<Id>, Candidate)>> {
    let rows: Vec<(Id, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "SELECT u.id, \
         (SELECT string_agg(CAST(ut.team_id AS TEXT), ',') FROM user_teams ut WHERE ut.user_id = u.id), \
         COALESCE(u.max_concurrent, s.default_max_concurrent), u.last_assigned_at, \
         (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = u.id AND c.status = 'open') \
         FROM users u JOIN shops s ON s.id = u.shop_id \
         WHERE u.shop_id = $1 AND u.status = 'online' AND u.deactivated_at IS NULL",
    )
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let teams =
                r.1.unwrap_or_default()
                    .split(',')
                    .filter_map(|t| t.parse().ok())
                    .collect();
            (
                teams,
                Candidate {
                    agent_id: r.0,
                    max_concurrent: r.2,
                    last_assigned_at: r.3,
                    open_count: r.4,
                },
            )
        })
        .collect())
}
