//! kefu-store's implementation of [`kefu_core::presence::PresenceStore`] (migration 0023): each
//! agent's status with its cause, note and time, their last choice, the shops' presence settings,
//! and the one release path that hands an absent (or deactivated) agent's conversations back to
//! the queue — [`release_held`], also used by the members area's deactivation.
//!
//! Every status change goes through [`apply_presence`]: the agent's row is locked, the pure rule
//! ([`plan_presence`]) decides, and the change and its `agent_status` KPI event are written in the
//! same transaction, so a change without its event (or two events for one change) cannot exist.

use super::conversations::{Insert, insert_message, load_conversation, load_user};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::kpi::DeskEventKind;
use kefu_core::model::{AgentStatus, ConversationStatus, Id, MessageKind, SenderType, User};
use kefu_core::presence::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

/// The settings columns with the defaults for shops that never saved theirs (`s` is a LEFT JOIN).
const SETTINGS_COLUMNS: &str = "COALESCE(s.away_after_seconds, 600) AS away_after_seconds, \
     COALESCE(s.offline_after_seconds, 60) AS offline_after_seconds, \
     COALESCE(s.requeue_grace_seconds, 120) AS requeue_grace_seconds, \
     COALESCE(s.requeue_target, 'teammate') AS requeue_target";

fn settings_from_row(r: &DbRow) -> Result<PresenceSettings> {
    Ok(PresenceSettings {
        away_after_seconds: r.get("away_after_seconds"),
        offline_after_seconds: r.get("offline_after_seconds"),
        requeue_grace_seconds: r.get("requeue_grace_seconds"),
        requeue_target: RequeueTarget::parse(r.get("requeue_target"))?,
    })
}

/// Applies `request` to an active agent of the shop in the caller's transaction: `Some(user)`
/// when the status (or the remembered choice) changed, `None` when the request did not apply.
pub(crate) async fn apply_presence(
    conn: &mut Conn,
    shop_id: Id,
    agent_id: Id,
    request: &PresenceRequest,
    now: i64,
) -> Result<Option<User>> {
    // Locked, so two changes at once record each transition once, in order.
    let sql = format!(
        "SELECT status, status_cause, status_note, chosen_status, chosen_note FROM users \
         WHERE id = $1 AND shop_id = $2 AND deactivated_at IS NULL{FOR_NO_KEY_UPDATE}"
    );
    type Row = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(agent_id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    let (status, cause, note, chosen, chosen_note) = row.ok_or_else(|| Error::not_found("user"))?;
    let current = Presence {
        status: AgentStatus::parse(&status)?,
        cause: cause.as_deref().and_then(|c| StatusCause::parse(c).ok()),
        note,
        chosen: AgentStatus::parse(&chosen).unwrap_or(AgentStatus::Online),
        chosen_note,
    };
    let Some(change) = plan_presence(&current, request) else {
        return Ok(None);
    };
    let moved = change.status != current.status || change.note != current.note;
    if moved {
        sqlx::query(
            "UPDATE users SET status = $1, status_cause = $2, status_note = $3, status_since = $4 \
             WHERE id = $5 AND shop_id = $6",
        )
        .bind(change.status.as_str())
        .bind(change.cause.as_str())
        .bind(change.note.as_deref())
        .bind(now)
        .bind(agent_id)
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    if change.remember {
        sqlx::query(
            "UPDATE users SET chosen_status = $1, chosen_note = $2, status_cause = $3 \
             WHERE id = $4 AND shop_id = $5",
        )
        .bind(change.status.as_str())
        .bind(change.note.as_deref())
        .bind(change.cause.as_str())
        .bind(agent_id)
        .bind(shop_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    if moved {
        super::kpi::record_agent_status(
            conn,
            shop_id,
            agent_id,
            now,
            change.status.as_str(),
            Some(&change.detail()),
        )
        .await?;
    }
    load_user(conn, shop_id, agent_id).await
}

/// How [`release_held`] hands conversations back.
pub(crate) struct Release<'a> {
    /// Only open conversations waiting for an answer (requeue); otherwise every unresolved one
    /// (deactivation: open ones queued, pending ones unassigned).
    pub(crate) only_waiting: bool,
    /// Behind the shoppers already waiting (`queued_at` = now) instead of at the head in the order
    /// the conversations started (they were being served).
    pub(crate) back_of_queue: bool,
    /// The shopper's notice, stored in each released open conversation.
    pub(crate) notice: &'a str,
    /// Who made the change (an admin's deactivation); `None` for the presence scan.
    pub(crate) actor: Option<Id>,
}

/// Takes the agent's conversations back in the caller's transaction, each under its row lock and
/// only if it is still the agent's (and, for a requeue, still waiting): unassigned, queued,
/// the notice stored, a `transferred` KPI event from the agent to the queue.
pub(crate) async fn release_held(
    conn: &mut Conn,
    shop_id: Id,
    agent_id: Id,
    now: i64,
    release: &Release<'_>,
) -> Result<Released> {
    let which = if release.only_waiting {
        "status = 'open' AND waiting_since IS NOT NULL"
    } else {
        "status <> 'resolved'"
    };
    let sql = format!(
        "SELECT id, status FROM conversations WHERE shop_id = $1 AND assignee_id = $2 \
         AND {which} ORDER BY id{FOR_NO_KEY_UPDATE}"
    );
    let held: Vec<(Id, String)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(agent_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    let queued_at = if release.back_of_queue {
        "$1"
    } else {
        "created_at"
    };
    let update = format!(
        "UPDATE conversations SET assignee_id = NULL, updated_at = $1, \
         queued_at = CASE WHEN status = 'open' THEN {queued_at} ELSE NULL END \
         WHERE id = $2 AND shop_id = $3 AND assignee_id = $4 AND {which}"
    );
    let mut out = Released::default();
    for (conversation_id, status) in held {
        let done = sqlx::query(AssertSqlSafe(update.clone()))
            .bind(now)
            .bind(conversation_id)
            .bind(shop_id)
            .bind(agent_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            continue;
        }
        if status == ConversationStatus::Open.as_str() {
            out.notices.push(
                insert_message(
                    conn,
                    Insert {
                        shop_id,
                        conversation_id,
                        sender_type: SenderType::System,
                        sender_id: None,
                        sender_name: "",
                        body: release.notice,
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
        // For the KPIs the chat moved from this agent to the queue.
        super::kpi::record_conversation_event(
            conn,
            conversation_id,
            now,
            DeskEventKind::Transferred,
            None,
            Some(agent_id),
            release.actor,
            "",
        )
        .await?;
        out.conversations
            .push(load_conversation(conn, shop_id, conversation_id).await?);
    }
    Ok(out)
}

#[async_trait]
impl PresenceStore for DbStore {
    async fn presence_settings(&self, shop_id: Id) -> Result<PresenceSettings> {
        let sql = format!(
            "SELECT {SETTINGS_COLUMNS} FROM shops sh \
             LEFT JOIN presence_settings s ON s.shop_id = sh.id WHERE sh.id = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found("shop"))?;
        settings_from_row(&row)
    }

    async fn put_presence_settings(
        &self,
        shop_id: Id,
        settings: &PresenceSettings,
        now: Millis,
    ) -> Result<PresenceSettings> {
        let s = *settings;
        tx!(self, |conn| {
            sqlx::query(
                "INSERT INTO presence_settings (shop_id, away_after_seconds, \
                 offline_after_seconds, requeue_grace_seconds, requeue_target, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (shop_id) DO UPDATE SET \
                 away_after_seconds = excluded.away_after_seconds, \
                 offline_after_seconds = excluded.offline_after_seconds, \
                 requeue_grace_seconds = excluded.requeue_grace_seconds, \
                 requeue_target = excluded.requeue_target, updated_at = excluded.updated_at",
            )
            .bind(shop_id)
            .bind(s.away_after_seconds)
            .bind(s.offline_after_seconds)
            .bind(s.requeue_grace_seconds)
            .bind(s.requeue_target.as_str())
            .bind(now.0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(s)
        })
    }

    async fn change_presence(
        &self,
        shop_id: Id,
        agent_id: Id,
        request: &PresenceRequest,
        now: Millis,
    ) -> Result<Option<User>> {
        let request = request.clone();
        tx!(self, |conn| {
            apply_presence(conn, shop_id, agent_id, &request, now.0).await
        })
    }

    async fn present_agents(&self) -> Result<Vec<PresentAgent>> {
        let sql = format!(
            "SELECT u.id, u.shop_id, u.status, u.status_cause, u.status_since, {SETTINGS_COLUMNS} \
             FROM users u LEFT JOIN presence_settings s ON s.shop_id = u.shop_id \
             WHERE u.status <> 'offline' AND u.deactivated_at IS NULL ORDER BY u.shop_id, u.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PresentAgent {
                    shop_id: r.get("shop_id"),
                    agent_id: r.get("id"),
                    status: AgentStatus::parse(r.get("status"))?,
                    cause: r
                        .get::<Option<&str>, _>("status_cause")
                        .and_then(|c| StatusCause::parse(c).ok()),
                    since: r.get::<Option<i64>, _>("status_since").map(Millis),
                    settings: settings_from_row(r)?,
                })
            })
            .collect()
    }

    async fn requeue_due(&self, now: Millis) -> Result<Vec<RequeueDue>> {
        // Absent agents first (a handful), then each one's waiting chats by `conversations_assignee`.
        let sql = format!(
            "SELECT u.id, u.shop_id, {SETTINGS_COLUMNS} FROM users u \
             LEFT JOIN presence_settings s ON s.shop_id = u.shop_id \
             WHERE u.status IN ('away', 'offline') \
             AND COALESCE(u.status_since, 0) <= $1 - COALESCE(s.requeue_grace_seconds, 120) * 1000 \
             AND EXISTS (SELECT 1 FROM conversations c WHERE c.assignee_id = u.id \
                 AND c.status = 'open' AND c.waiting_since IS NOT NULL) \
             ORDER BY u.shop_id, u.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now.0)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(RequeueDue {
                    shop_id: r.get("shop_id"),
                    agent_id: r.get("id"),
                    target: RequeueTarget::parse(r.get("requeue_target"))?,
                })
            })
            .collect()
    }

    async fn release_waiting(
        &self,
        shop_id: Id,
        agent_id: Id,
        target: RequeueTarget,
        now: Millis,
    ) -> Result<Released> {
        tx!(self, |conn| {
            // The agent's row first (the order every presence change locks in): still absent
            // past the grace, or nothing moves (they came back meanwhile).
            let sql = format!(
                "SELECT status, status_since FROM users WHERE id = $1 AND shop_id = $2{FOR_NO_KEY_UPDATE}"
            );
            let row: Option<(String, Option<i64>)> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(agent_id)
                .bind(shop_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            let Some((status, since)) = row else {
                return Err(Error::not_found("user"));
            };
            let grace: Option<i64> = sqlx::query_scalar(
                "SELECT requeue_grace_seconds FROM presence_settings WHERE shop_id = $1",
            )
            .bind(shop_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
            let grace = grace.unwrap_or(PresenceSettings::default().requeue_grace_seconds);
            let absent =
                status == AgentStatus::Away.as_str() || status == AgentStatus::Offline.as_str();
            if !absent || since.unwrap_or(0) > now.0 - grace * 1000 {
                return Ok(Released::default());
            }
            release_held(
                conn,
                shop_id,
                agent_id,
                now.0,
                &Release {
                    only_waiting: true,
                    back_of_queue: target == RequeueTarget::Queue,
                    notice: AGENT_AWAY_NOTICE,
                    actor: None,
                },
            )
            .await
        })
    }
}
