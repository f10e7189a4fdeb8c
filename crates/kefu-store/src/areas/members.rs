//! kefu-store's implementation of [`kefu_core::members::MemberStore`]: members, their teams
//! (`user_teams`), deactivation, passwords and the audit log (`member_audit`), migration 0019.
//!
//! Every change writes its audit entry in its own transaction. Changes that could take the
//! shop's last admin away (a role change, a deactivation) and team deletions run under the
//! shop's member lock on PostgreSQL, so two admins demoting each other at once cannot both
//! succeed; SQLite's one writer serialises them anyway.

use super::conversations::{USER_SELECT, user_from_row};
use super::prelude::*;
use async_trait::async_trait;
use kefu_core::members::*;
use kefu_core::model::{AgentSummary, Id, Role, Team, TeamRef};
use kefu_core::time::Millis;
use kefu_core::{Error, ErrorCode, Result};

/// The shop's teams with their active members counted.
pub(crate) async fn list_teams(conn: &mut Conn, shop_id: Id) -> Result<Vec<Team>> {
    let rows: Vec<(Id, String, bool, i64)> = sqlx::query_as(
        "SELECT t.id, t.name, t.is_default, \
         (SELECT COUNT(*) FROM user_teams ut JOIN users u ON u.id = ut.user_id \
          WHERE ut.team_id = t.id AND u.deactivated_at IS NULL) \
         FROM teams t WHERE t.shop_id = $1 ORDER BY t.id",
    )
    .bind(shop_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, is_default, member_count)| Team {
            id,
            name,
            is_default,
            member_count,
        })
        .collect())
}

async fn load_team(conn: &mut Conn, shop_id: Id, id: Id) -> Result<Team> {
    list_teams(conn, shop_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::not_found("team"))
}

/// Members of the shop (one when `only` is set), with their teams (main team first) and open
/// conversations, oldest first.
async fn load_members(
    conn: &mut Conn,
    shop_id: Id,
    only: Option<Id>,
    include_deactivated: bool,
) -> Result<Vec<AgentSummary>> {
    let sql = format!(
        "{USER_SELECT} WHERE u.shop_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR u.id = $2) \
         AND ($3 OR u.deactivated_at IS NULL) ORDER BY u.id"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(only)
        .bind(include_deactivated)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let teams: Vec<(Id, Id, String)> = sqlx::query_as(
        "SELECT ut.user_id, t.id, t.name FROM user_teams ut \
         JOIN teams t ON t.id = ut.team_id JOIN users u ON u.id = ut.user_id \
         WHERE u.shop_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR u.id = $2) \
         ORDER BY ut.user_id, CASE WHEN ut.team_id = u.team_id THEN 0 ELSE 1 END, t.id",
    )
    .bind(shop_id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let counts: Vec<(Id, i64)> = sqlx::query_as(
        "SELECT assignee_id, COUNT(*) FROM conversations WHERE shop_id = $1 AND status = 'open' \
         AND assignee_id IS NOT NULL AND (CAST($2 AS BIGINT) IS NULL OR assignee_id = $2) \
         GROUP BY assignee_id",
    )
    .bind(shop_id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let user = user_from_row(r)?;
            Ok(AgentSummary {
                teams: teams
                    .iter()
                    .filter(|(u, _, _)| *u == user.id)
                    .map(|(_, id, name)| TeamRef {
                        id: *id,
                        name: name.clone(),
                    })
                    .collect(),
                open_count: counts
                    .iter()
                    .find(|(id, _)| *id == user.id)
                    .map_or(0, |c| c.1),
                created_at: Millis(r.get("created_at")),
                deactivated_at: r.get::<Option<i64>, _>("deactivated_at").map(Millis),
                user,
            })
        })
        .collect()
}

async fn load_member(conn: &mut Conn, shop_id: Id, id: Id) -> Result<AgentSummary> {
    load_members(conn, shop_id, Some(id), true)
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("member"))
}

/// The shop's active admins.
async fn active_admins(conn: &mut Conn, shop_id: Id) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE shop_id = $1 AND role = 'admin' AND deactivated_at IS NULL",
    )
    .bind(shop_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)
}

/// Checks that every id is a team of the shop.
async fn check_teams(conn: &mut Conn, shop_id: Id, ids: &[Id]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT COUNT(*) FROM teams WHERE shop_id = $1 AND id {}",
        in_ids("$2")
    );
    let found: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(shop_id)
        .bind(id_list(ids))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if found != ids.len() as i64 {
        return Err(unknown_team());
    }
    Ok(())
}

/// Replaces a member's teams (the first is the main team, `users.team_id`).
async fn set_teams(conn: &mut Conn, user_id: Id, ids: &[Id]) -> Result<()> {
    sqlx::query("DELETE FROM user_teams WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    for team_id in ids {
        sqlx::query("INSERT INTO user_teams (user_id, team_id) VALUES ($1, $2)")
            .bind(user_id)
            .bind(team_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    sqlx::query("UPDATE users SET team_id = $1 WHERE id = $2")
        .bind(ids.first().copied())
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// An audit entry of a change made in this transaction.
struct Audit<'a> {
    shop_id: Id,
    by: &'a AuditActor,
    action: AuditAction,
    target_type: &'static str,
    target_id: Id,
    target_name: &'a str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

async fn record(conn: &mut Conn, a: Audit<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO member_audit (shop_id, actor_id, actor_name, action, target_type, target_id, \
         target_name, before_json, after_json, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(a.shop_id)
    .bind(a.by.id)
    .bind(&a.by.name)
    .bind(a.action.as_str())
    .bind(a.target_type)
    .bind(a.target_id)
    .bind(a.target_name)
    .bind(a.before.map(|v| v.to_string()))
    .bind(a.after.map(|v| v.to_string()))
    .bind(Millis::now().0)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A member change's audit entry: the member before and after.
async fn record_member(
    conn: &mut Conn,
    by: &AuditActor,
    action: AuditAction,
    before: Option<&AgentSummary>,
    after: &AgentSummary,
) -> Result<()> {
    record(
        conn,
        Audit {
            shop_id: after.user.shop_id,
            by,
            action,
            target_type: "member",
            target_id: after.user.id,
            target_name: &after.user.name,
            before: before.map(member_snapshot),
            after: Some(member_snapshot(after)),
        },
    )
    .await
}

/// A unique violation on the team's name, said as a validation of `name`.
fn team_name_taken(e: Error) -> Error {
    if e.code == ErrorCode::Conflict {
        Error {
            field: Some("name".into()),
            ..Error::conflict("name: a team with this name already exists")
        }
    } else {
        e
    }
}

#[async_trait]
impl MemberStore for DbStore {
    async fn list_members(
        &self,
        shop_id: Id,
        include_deactivated: bool,
    ) -> Result<Vec<AgentSummary>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        load_members(&mut conn, shop_id, None, include_deactivated).await
    }

    async fn member(&self, shop_id: Id, id: Id) -> Result<Option<AgentSummary>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        Ok(load_members(&mut conn, shop_id, Some(id), true)
            .await?
            .pop())
    }

    async fn create_member(&self, new: NewMember, by: &AuditActor) -> Result<AgentSummary> {
        let by = by.clone();
        tx!(self, |conn| {
            check_teams(conn, new.shop_id, &new.team_ids).await?;
            let id: Id = sqlx::query_scalar(
                "INSERT INTO users (shop_id, email, name, role, password_hash, team_id, \
                 max_concurrent, must_change_password, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8) RETURNING id",
            )
            .bind(new.shop_id)
            .bind(new.email.to_lowercase())
            .bind(&new.name)
            .bind(new.role.as_str())
            .bind(&new.password_hash)
            .bind(new.team_ids.first().copied())
            .bind(new.max_concurrent)
            .bind(Millis::now().0)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| match db_err(e) {
                e if e.code == ErrorCode::Conflict => Error {
                    field: Some("email".into()),
                    ..Error::conflict("email: is already used")
                },
                e => e,
            })?;
            set_teams(conn, id, &new.team_ids).await?;
            let member = load_member(conn, new.shop_id, id).await?;
            record_member(conn, &by, AuditAction::MemberCreated, None, &member).await?;
            Ok(member)
        })
    }

    async fn update_member(
        &self,
        shop_id: Id,
        id: Id,
        patch: &MemberPatch,
        by: &AuditActor,
    ) -> Result<AgentSummary> {
        let (patch, by) = (patch.clone(), by.clone());
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::Members, shop_id).await?;
            let before = load_member(conn, shop_id, id).await?;
            if patch.role.is_some() {
                let admins = active_admins(conn, shop_id).await?;
                check_admin_change(by.id, &before.user, patch.role, false, admins)?;
            }
            if let Some(ids) = &patch.team_ids {
                check_teams(conn, shop_id, ids).await?;
            }
            sqlx::query(
                "UPDATE users SET name = COALESCE($1, name), role = COALESCE($2, role), \
                 max_concurrent = CASE WHEN $3 THEN $4 ELSE max_concurrent END \
                 WHERE id = $5 AND shop_id = $6",
            )
            .bind(patch.name.as_deref())
            .bind(patch.role.map(Role::as_str))
            .bind(patch.max_concurrent.is_some())
            .bind(patch.max_concurrent.flatten())
            .bind(id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if let Some(ids) = &patch.team_ids {
                set_teams(conn, id, ids).await?;
            }
            let after = load_member(conn, shop_id, id).await?;
            if member_snapshot(&before) != member_snapshot(&after) {
                record_member(conn, &by, AuditAction::MemberUpdated, Some(&before), &after).await?;
            }
            Ok(after)
        })
    }

    async fn rename_self(&self, shop_id: Id, id: Id, name: &str) -> Result<AgentSummary> {
        let name = name.to_owned();
        tx!(self, |conn| {
            let before = load_member(conn, shop_id, id).await?;
            sqlx::query("UPDATE users SET name = $1 WHERE id = $2 AND shop_id = $3")
                .bind(&name)
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            let after = load_member(conn, shop_id, id).await?;
            if before.user.name != after.user.name {
                let by = AuditActor::from(&after.user);
                record_member(
                    conn,
                    &by,
                    AuditAction::OwnProfileUpdated,
                    Some(&before),
                    &after,
                )
                .await?;
            }
            Ok(after)
        })
    }

    async fn password_hash(&self, shop_id: Id, id: Id) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)
    }

    async fn set_password(
        &self,
        shop_id: Id,
        id: Id,
        password_hash: &str,
        change: PasswordChange,
        by: &AuditActor,
    ) -> Result<AgentSummary> {
        let (hash, by) = (password_hash.to_owned(), by.clone());
        tx!(self, |conn| {
            let (must_change, keep, action) = match &change {
                PasswordChange::Temporary => (true, None, AuditAction::PasswordReset),
                PasswordChange::Own { keep_session } => (
                    false,
                    Some(keep_session.as_str()),
                    AuditAction::OwnPasswordChanged,
                ),
            };
            let done = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2 \
                 WHERE id = $3 AND shop_id = $4",
            )
            .bind(&hash)
            .bind(must_change)
            .bind(id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("member"));
            }
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 \
                 AND (CAST($2 AS TEXT) IS NULL OR token_hash <> $2)",
            )
            .bind(id)
            .bind(keep)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            let member = load_member(conn, shop_id, id).await?;
            // Never the password: who, whom and when is the whole record.
            record(
                conn,
                Audit {
                    shop_id,
                    by: &by,
                    action,
                    target_type: "member",
                    target_id: id,
                    target_name: &member.user.name,
                    before: None,
                    after: None,
                },
            )
            .await?;
            Ok(member)
        })
    }

    async fn deactivate_member(
        &self,
        shop_id: Id,
        id: Id,
        by: &AuditActor,
    ) -> Result<Deactivation> {
        let by = by.clone();
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::Members, shop_id).await?;
            let before = load_member(conn, shop_id, id).await?;
            if !before.user.active {
                return Err(Error::conflict("the member is already deactivated"));
            }
            let admins = active_admins(conn, shop_id).await?;
            check_admin_change(by.id, &before.user, None, true, admins)?;
            let now = Millis::now().0;
            sqlx::query(
                "UPDATE users SET deactivated_at = $1, status = 'offline', status_cause = 'deactivated', \
                 status_note = NULL, status_since = $1 WHERE id = $2 AND shop_id = $3",
            )
            .bind(now)
            .bind(id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            // Their conversations come back: open ones to the head of the queue in the order they
            // started (they were being served, so they do not wait behind later chats), pending
            // ones unassigned (anyone may pick them up; a reopen queues them). The same release
            // as presence's requeue, by the admin.
            let done = super::presence::release_held(
                conn,
                shop_id,
                id,
                now,
                &super::presence::Release {
                    only_waiting: false,
                    back_of_queue: false,
                    notice: REQUEUED_NOTICE,
                    actor: Some(by.id),
                },
            )
            .await?;
            let (released, notices) = (done.conversations, done.notices);
            if before.user.status != kefu_core::model::AgentStatus::Offline {
                super::kpi::record_agent_status(
                    conn,
                    shop_id,
                    id,
                    now,
                    kefu_core::model::AgentStatus::Offline.as_str(),
                    Some(kefu_core::presence::StatusCause::Deactivated.as_str()),
                )
                .await?;
            }
            let member = load_member(conn, shop_id, id).await?;
            record_member(
                conn,
                &by,
                AuditAction::MemberDeactivated,
                Some(&before),
                &member,
            )
            .await?;
            Ok(Deactivation {
                member,
                released,
                notices,
            })
        })
    }

    async fn reactivate_member(
        &self,
        shop_id: Id,
        id: Id,
        by: &AuditActor,
    ) -> Result<AgentSummary> {
        let by = by.clone();
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::Members, shop_id).await?;
            let before = load_member(conn, shop_id, id).await?;
            if before.user.active {
                return Err(Error::conflict("the member is active"));
            }
            sqlx::query("UPDATE users SET deactivated_at = NULL WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            let member = load_member(conn, shop_id, id).await?;
            record_member(
                conn,
                &by,
                AuditAction::MemberReactivated,
                Some(&before),
                &member,
            )
            .await?;
            Ok(member)
        })
    }

    async fn create_team_audited(&self, shop_id: Id, name: &str, by: &AuditActor) -> Result<Team> {
        let (name, by) = (name.to_owned(), by.clone());
        tx!(self, |conn| {
            let id: Id = sqlx::query_scalar(
                "INSERT INTO teams (shop_id, name, is_default, created_at) \
                 VALUES ($1, $2, FALSE, $3) RETURNING id",
            )
            .bind(shop_id)
            .bind(&name)
            .bind(Millis::now().0)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| team_name_taken(db_err(e)))?;
            let team = load_team(conn, shop_id, id).await?;
            record(
                conn,
                Audit {
                    shop_id,
                    by: &by,
                    action: AuditAction::TeamCreated,
                    target_type: "team",
                    target_id: id,
                    target_name: &team.name,
                    before: None,
                    after: Some(team_snapshot(&team)),
                },
            )
            .await?;
            Ok(team)
        })
    }

    async fn update_team(
        &self,
        shop_id: Id,
        id: Id,
        name: Option<&str>,
        make_default: bool,
        by: &AuditActor,
    ) -> Result<Team> {
        let (name, by) = (name.map(str::to_owned), by.clone());
        tx!(self, |conn| {
            let before = load_team(conn, shop_id, id).await?;
            if let Some(name) = &name {
                sqlx::query("UPDATE teams SET name = $1 WHERE id = $2 AND shop_id = $3")
                    .bind(name)
                    .bind(id)
                    .bind(shop_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| team_name_taken(db_err(e)))?;
            }
            if make_default {
                sqlx::query(
                    "UPDATE teams SET is_default = CASE WHEN id = $1 THEN TRUE ELSE FALSE END \
                     WHERE shop_id = $2",
                )
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            let after = load_team(conn, shop_id, id).await?;
            let (b, a) = (team_snapshot(&before), team_snapshot(&after));
            if b != a {
                record(
                    conn,
                    Audit {
                        shop_id,
                        by: &by,
                        action: AuditAction::TeamUpdated,
                        target_type: "team",
                        target_id: id,
                        target_name: &after.name,
                        before: Some(b),
                        after: Some(a),
                    },
                )
                .await?;
            }
            Ok(after)
        })
    }

    async fn delete_team(&self, shop_id: Id, id: Id, by: &AuditActor) -> Result<()> {
        let by = by.clone();
        tx!(self, |conn| {
            lock_shop(conn, ShopLock::Members, shop_id).await?;
            let team = load_team(conn, shop_id, id).await?;
            if team.is_default {
                return Err(Error::conflict(
                    "the default team cannot be deleted; make another team the default first",
                ));
            }
            if team.member_count > 0 {
                return Err(Error::conflict(
                    "the team still has members; move them to other teams first",
                ));
            }
            // Only deactivated members are left: they leave the team, and a main team of theirs
            // becomes another of their teams (or none).
            sqlx::query("DELETE FROM user_teams WHERE team_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query(
                "UPDATE users SET team_id = (SELECT MIN(ut.team_id) FROM user_teams ut \
                 WHERE ut.user_id = users.id) WHERE team_id = $1",
            )
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            // Its conversations (waiting ones included) go to the default team, which takes new
            // chats; its tickets keep no team.
            sqlx::query(
                "UPDATE conversations SET team_id = (SELECT d.id FROM teams d \
                 WHERE d.shop_id = $1 AND d.is_default ORDER BY d.id LIMIT 1), updated_at = $3 \
                 WHERE shop_id = $1 AND team_id = $2",
            )
            .bind(shop_id)
            .bind(id)
            .bind(Millis::now().0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            sqlx::query("UPDATE tickets SET team_id = NULL WHERE shop_id = $1 AND team_id = $2")
                .bind(shop_id)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query("DELETE FROM teams WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            record(
                conn,
                Audit {
                    shop_id,
                    by: &by,
                    action: AuditAction::TeamDeleted,
                    target_type: "team",
                    target_id: id,
                    target_name: &team.name,
                    before: Some(team_snapshot(&team)),
                    after: None,
                },
            )
            .await
        })
    }

    async fn member_audit(&self, shop_id: Id, q: AuditQuery) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, action, actor_id, actor_name, target_type, target_id, target_name, \
             before_json, after_json, created_at FROM member_audit WHERE shop_id = $1 \
             AND (CAST($2 AS BIGINT) IS NULL OR (target_type = 'member' AND target_id = $2)) \
             AND (CAST($3 AS BIGINT) IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(shop_id)
        .bind(q.member_id)
        .bind(q.before_id)
        .bind(q.limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?;
        let json = |v: Option<String>| v.and_then(|s| serde_json::from_str(&s).ok());
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.get("id"),
                    action: AuditAction::parse(r.get("action"))?,
                    actor: AuditActor {
                        id: r.get("actor_id"),
                        name: r.get("actor_name"),
                    },
                    target_type: r.get("target_type"),
                    target_id: r.get("target_id"),
                    target_name: r.get("target_name"),
                    before: json(r.get("before_json")),
                    after: json(r.get("after_json")),
                    created_at: Millis(r.get("created_at")),
                })
            })
            .collect()
    }
}
