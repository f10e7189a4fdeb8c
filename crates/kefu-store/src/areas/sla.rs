//! kefu-store's implementation of [`kefu_core::sla_policies::SlaStore`] (calendars, SLA policies,
//! per-ticket clocks, notifications) and [`kefu_core::automation::AutomationStore`].
//!
//! Every write is one transaction ([`tx!`]).

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::automation::*;
use kefu_core::business_hours::CalendarSpec;
use kefu_core::model::Id;
use kefu_core::sla::SlaClock;
use kefu_core::sla_policies::*;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};

const CALENDAR_SELECT: &str =
    "SELECT id, name, spec, is_default, created_at, updated_at FROM business_calendars";
const CLOCK_SELECT: &str = "SELECT id, ticket_id, metric, policy_id, target_ms, used_ms, running_since, met_at, \
     due_at, warn_at, warned_at, breached_at, escalated_at FROM ticket_sla_clocks";
const NOTIFICATION_SELECT: &str =
    "SELECT id, user_id, kind, ticket_id, text, created_at, read_at FROM notifications";

fn calendar_from_row(r: &DbRow) -> Result<BusinessCalendar> {
    Ok(BusinessCalendar {
        id: r.get("id"),
        name: r.get("name"),
        spec: serde_json::from_str(r.get::<&str, _>("spec")).map_err(Error::internal)?,
        is_default: r.get("is_default"),
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    })
}

fn policy_from_row(r: &DbRow) -> Result<SlaPolicy> {
    let doc: SlaPolicyInput =
        serde_json::from_str(r.get::<&str, _>("doc")).map_err(Error::internal)?;
    Ok(SlaPolicy {
        id: r.get("id"),
        name: doc.name,
        position: r.get("position"),
        enabled: doc.enabled,
        matches: doc.matches,
        first_response_minutes: doc.first_response_minutes,
        next_response_minutes: doc.next_response_minutes,
        resolution_minutes: doc.resolution_minutes,
        calendar_id: r.get("calendar_id"),
        pause_on_customer: doc.pause_on_customer,
        pause_on_third_party: doc.pause_on_third_party,
        warn_before_minutes: doc.warn_before_minutes,
        escalation: doc.escalation,
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    })
}

fn rule_from_row(r: &DbRow) -> Result<AutomationRule> {
    let doc: AutomationRuleInput =
        serde_json::from_str(r.get::<&str, _>("doc")).map_err(Error::internal)?;
    Ok(AutomationRule {
        id: r.get("id"),
        name: doc.name,
        position: r.get("position"),
        enabled: doc.enabled,
        on_create: doc.on_create,
        on_update: doc.on_update,
        conditions: doc.conditions,
        actions: doc.actions,
        created_at: Millis(r.get("created_at")),
        updated_at: Millis(r.get("updated_at")),
    })
}

fn ms(r: &DbRow, col: &str) -> Option<Millis> {
    r.get::<Option<i64>, _>(col).map(Millis)
}

fn clock_from_row(r: &DbRow) -> Result<ClockRecord> {
    Ok(ClockRecord {
        id: r.get("id"),
        ticket_id: r.get("ticket_id"),
        metric: SlaMetric::parse(r.get("metric"))?,
        policy_id: r.get("policy_id"),
        clock: SlaClock {
            target_ms: r.get("target_ms"),
            used_ms: r.get("used_ms"),
            running_since: ms(r, "running_since"),
            met_at: ms(r, "met_at"),
        },
        due_at: ms(r, "due_at"),
        warn_at: ms(r, "warn_at"),
        warned_at: ms(r, "warned_at"),
        breached_at: ms(r, "breached_at"),
        escalated_at: ms(r, "escalated_at"),
    })
}

fn notification_from_row(r: &DbRow) -> Result<Notification> {
    Ok(Notification {
        id: r.get("id"),
        user_id: r.get("user_id"),
        kind: NotificationKind::parse(r.get("kind"))?,
        ticket_id: r.get("ticket_id"),
        text: r.get("text"),
        created_at: Millis(r.get("created_at")),
        read_at: ms(r, "read_at"),
    })
}

async fn exists(conn: &mut Conn, sql: &'static str, shop_id: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

async fn check_user(conn: &mut Conn, shop_id: Id, id: Id, field: &str) -> Result<()> {
    if exists(
        conn,
        "SELECT id FROM users WHERE id = $1 AND shop_id = $2",
        shop_id,
        id,
    )
    .await?
    {
        Ok(())
    } else {
        Err(Error::not_found(&format!("{field}: user {id}")))
    }
}

async fn check_team(conn: &mut Conn, shop_id: Id, id: Id, field: &str) -> Result<()> {
    if exists(
        conn,
        "SELECT id FROM teams WHERE id = $1 AND shop_id = $2",
        shop_id,
        id,
    )
    .await?
    {
        Ok(())
    } else {
        Err(Error::not_found(&format!("{field}: team {id}")))
    }
}

/// The calendar a policy uses: the named one (of the shop) or the shop's default.
async fn resolve_calendar(conn: &mut Conn, shop_id: Id, id: Option<Id>) -> Result<Id> {
    match id {
        Some(id) => {
            if exists(
                conn,
                "SELECT id FROM business_calendars WHERE id = $1 AND shop_id = $2",
                shop_id,
                id,
            )
            .await?
            {
                Ok(id)
            } else {
                Err(Error::not_found("calendar_id: calendar"))
            }
        }
        None => {
            seed_default_calendar(conn, shop_id).await?;
            sqlx::query_scalar(
                "SELECT id FROM business_calendars WHERE shop_id = $1 AND is_default = $2",
            )
            .bind(shop_id)
            .bind(true)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)
        }
    }
}

/// Seeds the default China calendar when the shop has none (a no-op otherwise).
async fn seed_default_calendar(conn: &mut Conn, shop_id: Id) -> Result<()> {
    let spec = serde_json::to_string(&CalendarSpec::default_china()).map_err(Error::internal)?;
    let now = Millis::now().0;
    sqlx::query(
        "INSERT INTO business_calendars (shop_id, name, spec, is_default, created_at, updated_at) \
         SELECT $1, $2, $3, $4, $5, $5 WHERE NOT EXISTS \
         (SELECT 1 FROM business_calendars WHERE shop_id = $1) ON CONFLICT DO NOTHING",
    )
    .bind(shop_id)
    .bind(DEFAULT_CALENDAR_NAME)
    .bind(spec)
    .bind(true)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn check_escalation(conn: &mut Conn, shop_id: Id, e: &Escalation) -> Result<()> {
    if let Some(id) = e.reassign_agent_id {
        check_user(conn, shop_id, id, "escalation.reassign_agent_id").await?;
    }
    if let Some(id) = e.reassign_team_id {
        check_team(conn, shop_id, id, "escalation.reassign_team_id").await?;
    }
    for id in &e.notify_user_ids {
        check_user(conn, shop_id, *id, "escalation.notify_user_ids").await?;
    }
    Ok(())
}

async fn check_actions(conn: &mut Conn, shop_id: Id, a: &Actions) -> Result<()> {
    if let Some(id) = a.assign_agent_id {
        check_user(conn, shop_id, id, "actions.assign_agent_id").await?;
    }
    if let Some(id) = a.assign_team_id {
        check_team(conn, shop_id, id, "actions.assign_team_id").await?;
    }
    for id in &a.notify_user_ids {
        check_user(conn, shop_id, *id, "actions.notify_user_ids").await?;
    }
    Ok(())
}

async fn load_calendar(conn: &mut Conn, shop_id: Id, id: Id) -> Result<BusinessCalendar> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{CALENDAR_SELECT} WHERE id = $1 AND shop_id = $2"
    )))
    .bind(id)
    .bind(shop_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found("calendar"))?;
    calendar_from_row(&row)
}

/// Makes `id` the shop's only default (clearing the flag elsewhere first: one default per shop is
/// a unique index).
async fn set_default_calendar(conn: &mut Conn, shop_id: Id, id: Id) -> Result<()> {
    sqlx::query("UPDATE business_calendars SET is_default = $1 WHERE shop_id = $2 AND id <> $3")
        .bind(false)
        .bind(shop_id)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    sqlx::query("UPDATE business_calendars SET is_default = $1 WHERE id = $2")
        .bind(true)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn policy_count_check(conn: &mut Conn, shop_id: Id) -> Result<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sla_policies WHERE shop_id = $1")
        .bind(shop_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if n >= MAX_POLICIES {
        return Err(Error::validation(format!(
            "a shop keeps at most {MAX_POLICIES} SLA policies"
        )));
    }
    Ok(())
}

async fn load_policy(conn: &mut Conn, shop_id: Id, id: Id) -> Result<SlaPolicy> {
    let row = sqlx::query("SELECT * FROM sla_policies WHERE id = $1 AND shop_id = $2")
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("SLA policy"))?;
    policy_from_row(&row)
}

async fn load_rule(conn: &mut Conn, shop_id: Id, id: Id) -> Result<AutomationRule> {
    let row = sqlx::query("SELECT * FROM automation_rules WHERE id = $1 AND shop_id = $2")
        .bind(id)
        .bind(shop_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found("automation rule"))?;
    rule_from_row(&row)
}

/// A policy's stored document: the input with the resolved calendar.
fn policy_doc(input: &SlaPolicyInput, calendar_id: Id) -> Result<String> {
    let mut doc = input.clone();
    doc.calendar_id = Some(calendar_id);
    serde_json::to_string(&doc).map_err(Error::internal)
}

async fn save_clocks(
    conn: &mut Conn,
    shop_id: Id,
    ticket_id: Id,
    clocks: &[ClockRecord],
    removed: &[SlaMetric],
) -> Result<()> {
    let now = Millis::now().0;
    for metric in removed {
        sqlx::query(
            "DELETE FROM ticket_sla_clocks WHERE ticket_id = $1 AND shop_id = $2 AND metric = $3",
        )
        .bind(ticket_id)
        .bind(shop_id)
        .bind(metric.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    for c in clocks {
        let q = if c.id == 0 {
            // New or restarted: every column, claims cleared.
            "INSERT INTO ticket_sla_clocks (shop_id, ticket_id, metric, policy_id, target_ms, used_ms, \
             running_since, met_at, due_at, warn_at, warned_at, breached_at, escalated_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, $11) \
             ON CONFLICT (ticket_id, metric) DO UPDATE SET policy_id = excluded.policy_id, \
             target_ms = excluded.target_ms, used_ms = excluded.used_ms, \
             running_since = excluded.running_since, met_at = excluded.met_at, \
             due_at = excluded.due_at, warn_at = excluded.warn_at, warned_at = NULL, \
             breached_at = NULL, escalated_at = NULL, updated_at = excluded.updated_at"
        } else {
            // The claims (warned_at, breached_at, escalated_at) belong to the escalation scan,
            // which may have set them since this clock was read: never overwritten here.
            "UPDATE ticket_sla_clocks SET policy_id = $4, target_ms = $5, used_ms = $6, \
             running_since = $7, met_at = $8, due_at = $9, warn_at = $10, updated_at = $11 \
             WHERE shop_id = $1 AND ticket_id = $2 AND metric = $3"
        };
        sqlx::query(q)
            .bind(shop_id)
            .bind(ticket_id)
            .bind(c.metric.as_str())
            .bind(c.policy_id)
            .bind(c.clock.target_ms)
            .bind(c.clock.used_ms)
            .bind(c.clock.running_since.map(|m| m.0))
            .bind(c.clock.met_at.map(|m| m.0))
            .bind(c.due_at.map(|m| m.0))
            .bind(c.warn_at.map(|m| m.0))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Per ticket, the worst state of its clocks not yet met (4 breached, 3 warning, 2 ok, 1 paused),
/// counted per state in one pass over the covering index `ticket_sla_clocks_open` (in ticket order,
/// so the grouping needs no sort; the outer counts are sums, not a second grouping).
const OVERVIEW_SQL: &str = "SELECT COUNT(*), \
     COALESCE(SUM(CASE WHEN sev = 4 THEN 1 ELSE 0 END), 0), \
     COALESCE(SUM(CASE WHEN sev = 3 THEN 1 ELSE 0 END), 0), \
     COALESCE(SUM(CASE WHEN sev = 2 THEN 1 ELSE 0 END), 0) \
     FROM (SELECT ticket_id, MAX(CASE \
     WHEN used_ms > target_ms OR breached_at IS NOT NULL THEN 4 \
     WHEN running_since IS NOT NULL AND due_at <= $1 THEN 4 \
     WHEN running_since IS NOT NULL AND warn_at <= $1 THEN 3 \
     WHEN running_since IS NOT NULL THEN 2 ELSE 1 END) AS sev \
     FROM ticket_sla_clocks WHERE met_at IS NULL GROUP BY ticket_id) t";

#[async_trait]
impl SlaStore for DbStore {
    async fn calendars(&self, shop_id: Id) -> Result<Vec<BusinessCalendar>> {
        let read = |store: &DbStore| {
            let pool = store.reader().clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{CALENDAR_SELECT} WHERE shop_id = $1 ORDER BY id"
                )))
                .bind(shop_id)
                .fetch_all(&pool)
                .await
                .map_err(db_err)?
                .iter()
                .map(calendar_from_row)
                .collect::<Result<Vec<_>>>()
            }
        };
        let found = read(self).await?;
        if !found.is_empty() {
            return Ok(found);
        }
        tx!(self, |conn| { seed_default_calendar(conn, shop_id).await })?;
        read(self).await
    }

    async fn calendar(&self, shop_id: Id, id: Id) -> Result<Option<BusinessCalendar>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CALENDAR_SELECT} WHERE id = $1 AND shop_id = $2"
        )))
        .bind(id)
        .bind(shop_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?
        .as_ref()
        .map(calendar_from_row)
        .transpose()
    }

    async fn create_calendar(
        &self,
        shop_id: Id,
        name: &str,
        spec: &CalendarSpec,
        is_default: bool,
    ) -> Result<BusinessCalendar> {
        let name = name.to_owned();
        let spec = serde_json::to_string(spec).map_err(Error::internal)?;
        tx!(self, |conn| {
            seed_default_calendar(conn, shop_id).await?;
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM business_calendars WHERE shop_id = $1")
                    .bind(shop_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if n >= MAX_CALENDARS {
                return Err(Error::validation(format!(
                    "a shop keeps at most {MAX_CALENDARS} calendars"
                )));
            }
            let now = Millis::now().0;
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO business_calendars (shop_id, name, spec, is_default, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(shop_id)
                .bind(&name)
                .bind(&spec)
                .bind(false)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| match db_err(e) {
                    e if e.code == kefu_core::ErrorCode::Conflict => {
                        Error::conflict("name: a calendar of this name exists")
                    }
                    e => e,
                })?;
            if is_default {
                set_default_calendar(conn, shop_id, id).await?;
            }
            load_calendar(conn, shop_id, id).await
        })
    }

    async fn update_calendar(
        &self,
        shop_id: Id,
        id: Id,
        name: &str,
        spec: &CalendarSpec,
        is_default: bool,
    ) -> Result<BusinessCalendar> {
        let name = name.to_owned();
        let spec = serde_json::to_string(spec).map_err(Error::internal)?;
        tx!(self, |conn| {
            let before = load_calendar(conn, shop_id, id).await?;
            if before.is_default && !is_default {
                return Err(Error::validation(
                    "is_default: make another calendar the default instead",
                ));
            }
            sqlx::query(
                "UPDATE business_calendars SET name = $1, spec = $2, updated_at = $3 \
                     WHERE id = $4 AND shop_id = $5",
            )
            .bind(&name)
            .bind(&spec)
            .bind(Millis::now().0)
            .bind(id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(|e| match db_err(e) {
                e if e.code == kefu_core::ErrorCode::Conflict => {
                    Error::conflict("name: a calendar of this name exists")
                }
                e => e,
            })?;
            if is_default && !before.is_default {
                set_default_calendar(conn, shop_id, id).await?;
            }
            load_calendar(conn, shop_id, id).await
        })
    }

    async fn delete_calendar(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            let cal = load_calendar(conn, shop_id, id).await?;
            if cal.is_default {
                return Err(Error::conflict("the default calendar cannot be deleted"));
            }
            if exists(
                conn,
                "SELECT id FROM sla_policies WHERE calendar_id = $1 AND shop_id = $2 LIMIT 1",
                shop_id,
                id,
            )
            .await?
            {
                return Err(Error::conflict("an SLA policy uses this calendar"));
            }
            sqlx::query("DELETE FROM business_calendars WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn sla_policies(&self, shop_id: Id) -> Result<Vec<SlaPolicy>> {
        sqlx::query("SELECT * FROM sla_policies WHERE shop_id = $1 ORDER BY position, id")
            .bind(shop_id)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?
            .iter()
            .map(policy_from_row)
            .collect()
    }

    async fn sla_policy(&self, shop_id: Id, id: Id) -> Result<Option<SlaPolicy>> {
        sqlx::query("SELECT * FROM sla_policies WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?
            .as_ref()
            .map(policy_from_row)
            .transpose()
    }

    async fn create_sla_policy(&self, shop_id: Id, input: &SlaPolicyInput) -> Result<SlaPolicy> {
        let input = input.clone();
        tx!(self, |conn| {
            policy_count_check(conn, shop_id).await?;
            let calendar_id = resolve_calendar(conn, shop_id, input.calendar_id).await?;
            check_escalation(conn, shop_id, &input.escalation).await?;
            let now = Millis::now().0;
            let id: Id = sqlx::query_scalar(
                    "INSERT INTO sla_policies (shop_id, position, calendar_id, doc, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(shop_id)
                .bind(input.position)
                .bind(calendar_id)
                .bind(policy_doc(&input, calendar_id)?)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            load_policy(conn, shop_id, id).await
        })
    }

    async fn update_sla_policy(
        &self,
        shop_id: Id,
        id: Id,
        input: &SlaPolicyInput,
    ) -> Result<SlaPolicy> {
        let input = input.clone();
        tx!(self, |conn| {
            load_policy(conn, shop_id, id).await?;
            let calendar_id = resolve_calendar(conn, shop_id, input.calendar_id).await?;
            check_escalation(conn, shop_id, &input.escalation).await?;
            sqlx::query(
                    "UPDATE sla_policies SET position = $1, calendar_id = $2, doc = $3, updated_at = $4 \
                     WHERE id = $5 AND shop_id = $6",
                )
                .bind(input.position)
                .bind(calendar_id)
                .bind(policy_doc(&input, calendar_id)?)
                .bind(Millis::now().0)
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            load_policy(conn, shop_id, id).await
        })
    }

    async fn delete_sla_policy(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            load_policy(conn, shop_id, id).await?;
            sqlx::query("DELETE FROM sla_policies WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }

    async fn sla_clocks(&self, shop_id: Id, ticket_ids: &[Id]) -> Result<Vec<ClockRecord>> {
        if ticket_ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CLOCK_SELECT} WHERE shop_id = $1 AND ticket_id {} ORDER BY ticket_id, id",
            in_ids("$2")
        )))
        .bind(shop_id)
        .bind(id_list(ticket_ids))
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?
        .iter()
        .map(clock_from_row)
        .collect()
    }

    async fn save_sla_clocks(
        &self,
        shop_id: Id,
        ticket_id: Id,
        clocks: &[ClockRecord],
        removed: &[SlaMetric],
    ) -> Result<()> {
        let (clocks, removed) = (clocks.to_vec(), removed.to_vec());
        tx!(self, |conn| {
            save_clocks(conn, shop_id, ticket_id, &clocks, &removed).await
        })
    }

    async fn due_sla_clocks(&self, now: Millis, limit: i64) -> Result<Vec<DueClock>> {
        let mut out = Vec::new();
        for (breach, sql) in [
            (
                true,
                "SELECT id, shop_id, ticket_id, metric, policy_id FROM ticket_sla_clocks \
                 WHERE due_at IS NOT NULL AND escalated_at IS NULL AND due_at <= $1 \
                 AND running_since IS NOT NULL AND met_at IS NULL ORDER BY due_at LIMIT $2",
            ),
            (
                false,
                "SELECT id, shop_id, ticket_id, metric, policy_id FROM ticket_sla_clocks \
                 WHERE warn_at IS NOT NULL AND warned_at IS NULL AND warn_at <= $1 \
                 AND running_since IS NOT NULL AND met_at IS NULL AND escalated_at IS NULL \
                 ORDER BY warn_at LIMIT $2",
            ),
        ] {
            let rows = sqlx::query(sql)
                .bind(now.0)
                .bind(limit)
                .fetch_all(self.reader())
                .await
                .map_err(db_err)?;
            for r in rows {
                out.push(DueClock {
                    clock_id: r.get("id"),
                    shop_id: r.get("shop_id"),
                    ticket_id: r.get("ticket_id"),
                    metric: SlaMetric::parse(r.get("metric"))?,
                    policy_id: r.get("policy_id"),
                    breach,
                });
            }
        }
        Ok(out)
    }

    async fn claim_sla_warning(&self, clock_id: Id, now: Millis) -> Result<bool> {
        tx!(self, |conn| {
            let done = sqlx::query(
                "UPDATE ticket_sla_clocks SET warned_at = $1 \
                     WHERE id = $2 AND warned_at IS NULL AND met_at IS NULL",
            )
            .bind(now.0)
            .bind(clock_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn claim_sla_breach(&self, clock_id: Id, now: Millis) -> Result<bool> {
        tx!(self, |conn| {
            let done = sqlx::query(
                "UPDATE ticket_sla_clocks SET escalated_at = $1, \
                     breached_at = COALESCE(breached_at, $1), warned_at = COALESCE(warned_at, $1) \
                     WHERE id = $2 AND escalated_at IS NULL AND met_at IS NULL",
            )
            .bind(now.0)
            .bind(clock_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn sla_overview(&self, shop_id: Option<Id>, now: Millis) -> Result<SlaOverview> {
        let sql = match shop_id {
            Some(_) => OVERVIEW_SQL.replace(
                "WHERE met_at IS NULL",
                "WHERE met_at IS NULL AND shop_id = $2",
            ),
            None => OVERVIEW_SQL.to_owned(),
        };
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(now.0);
        if let Some(shop_id) = shop_id {
            q = q.bind(shop_id);
        }
        let row: (i64, i64, i64, i64) = q.fetch_one(self.reader()).await.map_err(db_err)?;
        Ok(overview(row))
    }

    async fn sla_open_tickets(&self, shop_id: Id) -> Result<Vec<Id>> {
        sqlx::query_scalar(
            "SELECT DISTINCT ticket_id FROM ticket_sla_clocks WHERE shop_id = $1 AND met_at IS NULL",
        )
        .bind(shop_id)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)
    }

    async fn add_notifications(
        &self,
        shop_id: Id,
        items: &[NewNotification],
    ) -> Result<Vec<Notification>> {
        let items = items.to_vec();
        tx!(self, |conn| {
            let now = Millis::now().0;
            let mut out = Vec::new();
            for n in items.iter() {
                let row = sqlx::query(
                        "INSERT INTO notifications (shop_id, user_id, kind, ticket_id, text, created_at) \
                         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
                         (SELECT 1 FROM users WHERE id = $2 AND shop_id = $1) \
                         RETURNING id, user_id, kind, ticket_id, text, created_at, read_at",
                    )
                    .bind(shop_id)
                    .bind(n.user_id)
                    .bind(n.kind.as_str())
                    .bind(n.ticket_id)
                    .bind(&n.text)
                    .bind(now)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if let Some(row) = row {
                    out.push(notification_from_row(&row)?);
                }
            }
            Ok(out)
        })
    }

    async fn notifications(
        &self,
        shop_id: Id,
        user_id: Id,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let filter = if unread_only {
            " AND read_at IS NULL"
        } else {
            ""
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{NOTIFICATION_SELECT} WHERE shop_id = $1 AND user_id = $2{filter} ORDER BY id DESC LIMIT $3"
        )))
        .bind(shop_id)
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await
        .map_err(db_err)?
        .iter()
        .map(notification_from_row)
        .collect()
    }

    async fn mark_notifications_read(
        &self,
        shop_id: Id,
        user_id: Id,
        id: Option<Id>,
    ) -> Result<i64> {
        tx!(self, |conn| {
            if let Some(id) = id {
                let found = sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM notifications WHERE id = $1 AND shop_id = $2 AND user_id = $3",
                )
                .bind(id)
                .bind(shop_id)
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                if found.is_none() {
                    return Err(Error::not_found("notification"));
                }
            }
            let done = sqlx::query(
                "UPDATE notifications SET read_at = $1 WHERE shop_id = $2 AND user_id = $3 \
                     AND read_at IS NULL AND ($4 IS NULL OR id = $4)",
            )
            .bind(Millis::now().0)
            .bind(shop_id)
            .bind(user_id)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(done.rows_affected() as i64)
        })
    }
}

pub(crate) fn overview((open, breached, warning, ok): (i64, i64, i64, i64)) -> SlaOverview {
    SlaOverview {
        open_tickets: open,
        ok,
        warning,
        breached,
        paused: open - breached - warning - ok,
    }
}

#[async_trait]
impl AutomationStore for DbStore {
    async fn automation_rules(&self, shop_id: Id) -> Result<Vec<AutomationRule>> {
        sqlx::query("SELECT * FROM automation_rules WHERE shop_id = $1 ORDER BY position, id")
            .bind(shop_id)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?
            .iter()
            .map(rule_from_row)
            .collect()
    }

    async fn automation_rule(&self, shop_id: Id, id: Id) -> Result<Option<AutomationRule>> {
        sqlx::query("SELECT * FROM automation_rules WHERE id = $1 AND shop_id = $2")
            .bind(id)
            .bind(shop_id)
            .fetch_optional(self.reader())
            .await
            .map_err(db_err)?
            .as_ref()
            .map(rule_from_row)
            .transpose()
    }

    async fn create_automation_rule(
        &self,
        shop_id: Id,
        input: &AutomationRuleInput,
    ) -> Result<AutomationRule> {
        let input = input.clone();
        tx!(self, |conn| {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM automation_rules WHERE shop_id = $1")
                    .bind(shop_id)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
            if n >= MAX_RULES {
                return Err(Error::validation(format!(
                    "a shop keeps at most {MAX_RULES} automation rules"
                )));
            }
            check_actions(conn, shop_id, &input.actions).await?;
            let now = Millis::now().0;
            let id: Id = sqlx::query_scalar(
                "INSERT INTO automation_rules (shop_id, position, doc, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
            )
            .bind(shop_id)
            .bind(input.position)
            .bind(serde_json::to_string(&input).map_err(Error::internal)?)
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            load_rule(conn, shop_id, id).await
        })
    }

    async fn update_automation_rule(
        &self,
        shop_id: Id,
        id: Id,
        input: &AutomationRuleInput,
    ) -> Result<AutomationRule> {
        let input = input.clone();
        tx!(self, |conn| {
            load_rule(conn, shop_id, id).await?;
            check_actions(conn, shop_id, &input.actions).await?;
            sqlx::query(
                "UPDATE automation_rules SET position = $1, doc = $2, updated_at = $3 \
                     WHERE id = $4 AND shop_id = $5",
            )
            .bind(input.position)
            .bind(serde_json::to_string(&input).map_err(Error::internal)?)
            .bind(Millis::now().0)
            .bind(id)
            .bind(shop_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            load_rule(conn, shop_id, id).await
        })
    }

    async fn delete_automation_rule(&self, shop_id: Id, id: Id) -> Result<()> {
        tx!(self, |conn| {
            load_rule(conn, shop_id, id).await?;
            sqlx::query("DELETE FROM automation_rules WHERE id = $1 AND shop_id = $2")
                .bind(id)
                .bind(shop_id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            Ok(())
        })
    }
}
