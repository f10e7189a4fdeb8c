//! kefu-store's side of the agent KPIs ([`kefu_core::kpi`]): the desk events — written by the
//! spine, routing and the daily tools through [`record_conversation_event`] and
//! [`record_agent_status`] inside *their* transactions — the shop's attribution settings, and the
//! aggregation of a range's figures in SQL.
//!
//! Every figure is aggregated in the database from index ranges: agents' replies of the range
//! (the partial index `messages_agent_time`), the sessions of the range (`desk_events_shop_kind`),
//! reminders by `reminders_shop_sent`, orders by customer (`orders_customer`) or by time
//! (`orders_recent`); per reply or order only short correlated look-ups by the
//! `(conversation_id, seq)` and `(conversation_id, id)` indexes follow. Nothing loads a range's
//! rows into memory: each query answers a handful of counts per group (and day).

use super::prelude::*;
use async_trait::async_trait;
use kefu_core::kpi::*;
use kefu_core::model::Id;
use kefu_core::time::Millis;
use kefu_core::{Error, Result};
use std::collections::BTreeMap;

/// Records a desk event about a conversation in the caller's transaction, after the change it
/// records: the conversation's team and last `seq` are read from its row as it now stands.
#[allow(clippy::too_many_arguments)] // one column each; a struct would only rename them
pub(crate) async fn record_conversation_event(
    conn: &mut Conn,
    conversation_id: Id,
    now: i64,
    kind: DeskEventKind,
    agent_id: Option<Id>,
    previous_agent_id: Option<Id>,
    actor_id: Option<Id>,
    value: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO desk_events (shop_id, at, kind, conversation_id, agent_id, previous_agent_id, \
         team_id, actor_id, seq, value) \
         SELECT c.shop_id, $2, $3, c.id, $4, $5, c.team_id, $6, c.last_seq, $7 \
         FROM conversations c WHERE c.id = $1",
    )
    .bind(conversation_id)
    .bind(now)
    .bind(kind.as_str())
    .bind(agent_id)
    .bind(previous_agent_id)
    .bind(actor_id)
    .bind(value)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Records an agent's presence change in the caller's transaction; `detail` is its cause
/// (`kefu_core::presence::StatusCause`, with the agent's note after a colon).
pub(crate) async fn record_agent_status(
    conn: &mut Conn,
    shop_id: Id,
    agent_id: Id,
    now: i64,
    status: &str,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO desk_events (shop_id, at, kind, agent_id, value, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(shop_id)
    .bind(now)
    .bind(DeskEventKind::AgentStatus.as_str())
    .bind(agent_id)
    .bind(status)
    .bind(detail)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The group key of the user aliased `u` (NULL when there is none; the shop counts everything).
fn key_sql(group: KpiGroup) -> &'static str {
    match group {
        KpiGroup::Agent => "u.id",
        KpiGroup::Team => "CASE WHEN u.id IS NULL THEN NULL ELSE COALESCE(u.team_id, 0) END",
        KpiGroup::Shop => "CAST(0 AS BIGINT)",
    }
}

/// The local day of the time `column` (our own column names and a validated offset only).
fn day_sql(q: &KpiQuery, column: &str) -> String {
    match q.day_offset_min {
        Some(offset) => format!(
            "CAST(({column} + {}) / 86400000 AS BIGINT)",
            i64::from(offset) * 60_000
        ),
        None => "CAST(0 AS BIGINT)".to_owned(),
    }
}

/// The agent an order of the customer (alias `oc`) is credited to at time `at`: the last (or
/// first) agent who replied to that customer within the window (`$4`) up to `at`.
fn closer_sql(q: &KpiQuery, at: &str) -> String {
    let order = match q.settings.attribution {
        KpiAttribution::LastReplier => "DESC",
        KpiAttribution::FirstReplier => "ASC",
    };
    // The shopper's conversations first (`conversations_customer`; a customer is one shop's),
    // then each one's messages by `(conversation_id, seq)`: `CROSS JOIN` keeps that order on
    // SQLite, and `|| ''` keeps the sender kind (four values) from being taken for an index.
    format!(
        "(SELECT m2.sender_id FROM conversations c2 CROSS JOIN messages m2 \
         WHERE c2.customer_id = oc.customer_id \
         AND m2.conversation_id = c2.id AND m2.sender_type || '' = 'agent' \
         AND NOT m2.private AND m2.created_at <= {at} AND m2.created_at > {at} - $4 \
         ORDER BY m2.created_at {order}, m2.id {order} LIMIT 1)"
    )
}

type Buckets = BTreeMap<(Id, i64), KpiCounts>;

/// Served, consulted, orders and sales. `$1` shop, `$2` from, `$3` to, `$4` window (ms),
/// `$5` the one agent or NULL, `$6` the reminder outcome window (ms), `$7` whether orders closed
/// by a reminder count as sales. The orders' closers are looked up once per order (`ob` and `ok`
/// are `MATERIALIZED`, so their correlated look-ups are not repeated per use); with days split,
/// an order counts for the shopper's latest consultation before it (`next_t`).
pub(crate) fn sales_sql(q: &KpiQuery) -> String {
    let key = key_sql(q.group);
    let day = day_sql(q, "m.created_at");
    let placed_by = closer_sql(q, "oc.placed_at");
    let paid_by = closer_sql(q, "oc.paid_at");
    format!(
        "WITH r AS ( \
           SELECT {key} AS k, {day} AS d, c.customer_id AS customer_id, MIN(m.created_at) AS t \
           FROM messages m JOIN conversations c ON c.id = m.conversation_id \
           JOIN users u ON u.id = m.sender_id \
           WHERE m.shop_id = $1 AND m.sender_type = 'agent' AND m.created_at >= $2 \
           AND m.created_at < $3 AND NOT m.private \
           AND (CAST($5 AS BIGINT) IS NULL OR m.sender_id = $5) \
           GROUP BY {key}, {day}, c.customer_id), \
         q AS ( \
           SELECT r.k, r.d, r.customer_id, r.t, \
             LEAD(r.t) OVER (PARTITION BY r.k, r.customer_id ORDER BY r.t) AS next_t FROM r \
           WHERE NOT EXISTS (SELECT 1 FROM orders po WHERE po.shop_id = $1 \
             AND po.customer_id = r.customer_id AND po.paid_at >= r.t - $4 AND po.paid_at < r.t)), \
         oc AS ( \
           SELECT q.k, q.d, q.t, q.next_t, o.customer_id, o.id, o.total_cents, o.placed_at, \
             o.paid_at \
           FROM q CROSS JOIN orders o \
           WHERE o.shop_id = $1 AND o.customer_id = q.customer_id \
           AND ((o.placed_at >= q.t AND o.placed_at < q.t + $4) \
              OR (o.paid_at >= q.t AND o.paid_at < q.t + $4))), \
         ob AS MATERIALIZED ( \
           SELECT oc.k, oc.d, oc.customer_id, oc.total_cents, oc.paid_at, \
             CASE WHEN oc.placed_at >= oc.t AND oc.placed_at < oc.t + $4 \
               AND (oc.next_t IS NULL OR oc.placed_at < oc.next_t) \
               THEN {placed_by} END AS placed_by, \
             CASE WHEN oc.paid_at >= oc.t AND oc.paid_at < oc.t + $4 \
               AND (oc.next_t IS NULL OR oc.paid_at < oc.next_t) \
               THEN {paid_by} END AS paid_by, \
             CASE WHEN EXISTS (SELECT 1 FROM reminders rm WHERE rm.order_id = oc.id \
               AND rm.sent_at <= oc.paid_at AND oc.paid_at <= rm.sent_at + $6) \
               THEN 1 ELSE 0 END AS reminded \
           FROM oc), \
         ok AS MATERIALIZED ( \
           SELECT ob.k, ob.d, ob.customer_id, ob.total_cents, ob.paid_at, ob.reminded, \
             (SELECT {key} FROM users u WHERE u.id = ob.placed_by) AS placed_k, \
             (SELECT {key} FROM users u WHERE u.id = ob.paid_by) AS paid_k \
           FROM ob) \
         SELECT k, d, CAST(SUM(served) AS BIGINT), CAST(SUM(consulted) AS BIGINT), \
           CAST(SUM(ordered) AS BIGINT), CAST(SUM(ordered_paid) AS BIGINT), \
           CAST(SUM(paid) AS BIGINT), CAST(SUM(paid_orders) AS BIGINT), \
           CAST(SUM(sales) AS BIGINT) FROM ( \
           SELECT k, d, COUNT(*) AS served, 0 AS consulted, 0 AS ordered, 0 AS ordered_paid, \
             0 AS paid, 0 AS paid_orders, 0 AS sales FROM r GROUP BY k, d \
           UNION ALL SELECT k, d, 0, COUNT(*), 0, 0, 0, 0, 0 FROM q GROUP BY k, d \
           UNION ALL SELECT k, d, 0, 0, \
             COUNT(DISTINCT CASE WHEN placed_k = k THEN customer_id END), \
             COUNT(DISTINCT CASE WHEN placed_k = k AND paid_at IS NOT NULL THEN customer_id END), \
             COUNT(DISTINCT CASE WHEN paid_k = k AND (reminded = 0 OR $7) THEN customer_id END), \
             COUNT(CASE WHEN paid_k = k AND (reminded = 0 OR $7) THEN 1 END), \
             SUM(CASE WHEN paid_k = k AND (reminded = 0 OR $7) THEN total_cents ELSE 0 END) \
           FROM ok GROUP BY k, d) parts \
         GROUP BY k, d"
    )
}

/// Replies and responses. `$1` shop, `$2` from, `$3` to, `$4` the one agent or NULL, `$5` the
/// slow-response limit (ms).
///
/// A shopper *turn* is the run of shopper messages after an agent's reply; the reply that ends it
/// is a *response*, timed from the turn's first message (or a later bot hand-off). A message's
/// `gp` counts the agent replies before it, so a turn and the reply ending it share one `gp`, and
/// window functions give each reply its turn without a join. Per
/// conversation the read is the `(conversation_id, seq)` range from the last agent reply before
/// the range's first one (`p0`, so a turn that began before the range is timed from its real
/// start) to the range's last reply (`s1`: nothing after it can be a response of the range).
pub(crate) fn replies_sql(q: &KpiQuery) -> String {
    let key = key_sql(q.group);
    let reply_day = day_sql(q, "a.created_at");
    let response_day = day_sql(q, "resp.replied_at");
    format!(
        "WITH a AS ( \
           SELECT m.conversation_id, m.seq, m.sender_id, m.created_at FROM messages m \
           WHERE m.shop_id = $1 AND m.sender_type = 'agent' AND m.created_at >= $2 \
           AND m.created_at < $3 AND NOT m.private \
           AND (CAST($4 AS BIGINT) IS NULL OR m.sender_id = $4)), \
         cs AS (SELECT conversation_id, MIN(seq) AS s0, MAX(seq) AS s1 FROM a \
           GROUP BY conversation_id), \
         cp AS ( \
           SELECT cs.conversation_id, cs.s1, COALESCE((SELECT p.seq FROM messages p \
             WHERE p.conversation_id = cs.conversation_id AND p.seq < cs.s0 \
             AND p.sender_type || '' = 'agent' AND NOT p.private \
             ORDER BY p.conversation_id DESC, p.seq DESC LIMIT 1), 0) AS p0 \
           FROM cs), \
         w AS ( \
           SELECT mx.conversation_id, mx.seq, mx.sender_type, mx.sender_id, mx.created_at, \
             SUM(CASE WHEN mx.sender_type = 'agent' THEN 1 ELSE 0 END) OVER ( \
               PARTITION BY mx.conversation_id ORDER BY mx.seq ROWS UNBOUNDED PRECEDING) \
             - CASE WHEN mx.sender_type = 'agent' THEN 1 ELSE 0 END AS gp \
           FROM cp CROSS JOIN messages mx \
           WHERE mx.conversation_id = cp.conversation_id AND mx.seq > cp.p0 AND mx.seq <= cp.s1 \
           AND NOT mx.private AND mx.sender_type IN ('customer', 'agent')), \
         wt AS ( \
           SELECT w.sender_type, w.sender_id, w.created_at, w.conversation_id, \
             MIN(CASE WHEN w.sender_type = 'customer' THEN w.created_at END) \
               OVER (PARTITION BY w.conversation_id, w.gp) AS asked_at, \
             COUNT(CASE WHEN w.sender_type = 'customer' AND w.created_at >= $2 THEN 1 END) \
               OVER (PARTITION BY w.conversation_id, w.gp) AS n \
           FROM w), \
         resp AS ( \
           SELECT wt.sender_id, wt.created_at AS replied_at, wt.n, \
             wt.created_at - {GREATEST}(wt.asked_at, COALESCE((SELECT MAX(h.at) \
               FROM desk_events h WHERE h.conversation_id = wt.conversation_id \
               AND h.kind = 'bot_handoff' AND h.at <= wt.created_at), 0)) AS ms \
           FROM wt WHERE wt.sender_type = 'agent' AND wt.asked_at IS NOT NULL \
           AND (CAST($4 AS BIGINT) IS NULL OR wt.sender_id = $4)) \
         SELECT k, d, CAST(SUM(replies) AS BIGINT), CAST(SUM(responses) AS BIGINT), \
           CAST(SUM(ms) AS BIGINT), CAST(SUM(slow) AS BIGINT), CAST(SUM(answered) AS BIGINT) \
         FROM ( \
           SELECT {key} AS k, {reply_day} AS d, COUNT(*) AS replies, 0 AS responses, 0 AS ms, \
             0 AS slow, 0 AS answered \
           FROM a JOIN users u ON u.id = a.sender_id GROUP BY {key}, {reply_day} \
           UNION ALL \
           SELECT {key}, {response_day}, 0, COUNT(*), SUM(resp.ms), \
             COUNT(CASE WHEN resp.ms > $5 THEN 1 END), SUM(resp.n) \
           FROM resp JOIN users u ON u.id = resp.sender_id GROUP BY {key}, {response_day}) parts \
         GROUP BY k, d"
    )
}

/// Sessions (a conversation's starts) and their first responses. `$1` shop, `$2` from, `$3` to,
/// `$4` the one agent or NULL, `$5` the "within 30 s" limit (ms).
pub(crate) fn sessions_sql(q: &KpiQuery) -> String {
    let key = key_sql(q.group);
    let day = day_sql(q, "g.at");
    format!(
        "WITH s AS ( \
           SELECT e.id, e.conversation_id, e.at, e.seq, \
             (SELECT e2.id FROM desk_events e2 WHERE e2.conversation_id = e.conversation_id \
               AND e2.kind = 'started' AND e2.id > e.id ORDER BY e2.id LIMIT 1) AS next_id \
           FROM desk_events e \
           WHERE e.shop_id = $1 AND e.kind = 'started' AND e.at >= $2 AND e.at < $3), \
         f AS ( \
           SELECT s.id, s.conversation_id, s.at, \
             (SELECT fx.id FROM messages fx WHERE fx.conversation_id = s.conversation_id \
               AND fx.seq > s.seq AND fx.seq < COALESCE((SELECT n.seq FROM desk_events n \
                 WHERE n.id = s.next_id), 9223372036854775807) \
               AND fx.sender_type = 'agent' AND NOT fx.private ORDER BY fx.seq LIMIT 1) AS reply_id, \
             (SELECT ev.agent_id FROM desk_events ev WHERE ev.conversation_id = s.conversation_id \
               AND ev.kind IN ('assigned', 'transferred') AND ev.id > s.id \
               AND (s.next_id IS NULL OR ev.id < s.next_id) ORDER BY ev.id DESC LIMIT 1) AS holder \
           FROM s), \
         g AS ( \
           SELECT f.at, fr.sender_id AS replier, f.holder, \
             CASE WHEN fr.id IS NULL THEN NULL ELSE fr.created_at - {GREATEST}(f.at, \
               COALESCE((SELECT MAX(h.at) FROM desk_events h \
                 WHERE h.conversation_id = f.conversation_id AND h.kind = 'bot_handoff' \
                 AND h.id > f.id AND h.at <= fr.created_at), 0)) END AS ms \
           FROM f LEFT JOIN messages fr ON fr.id = f.reply_id) \
         SELECT {key} AS k, {day} AS d, COUNT(*), COUNT(g.replier), \
           CAST(COALESCE(SUM(g.ms), 0) AS BIGINT), COUNT(CASE WHEN g.ms <= $5 THEN 1 END) \
         FROM g LEFT JOIN users u ON u.id = COALESCE(g.replier, g.holder) \
         WHERE (CAST($4 AS BIGINT) IS NULL OR u.id = $4) \
         GROUP BY {key}, {day}"
    )
}

/// Payment reminders and what became of their orders. `$1` shop, `$2` from, `$3` to, `$4` the one
/// agent or NULL, `$5` the outcome window (ms), `$6` now.
pub(crate) fn reminders_sql(q: &KpiQuery) -> String {
    let key = key_sql(q.group);
    let day = day_sql(q, "rem.sent_at");
    format!(
        "WITH rk AS ( \
           SELECT {key} AS k, {day} AS d, rem.order_id, COUNT(*) AS n, MAX(rem.sent_at) AS last_sent \
           FROM reminders rem LEFT JOIN users u ON u.id = rem.agent_id \
           WHERE rem.shop_id = $1 AND rem.sent_at >= $2 AND rem.sent_at < $3 \
           AND (CAST($4 AS BIGINT) IS NULL OR rem.agent_id = $4) \
           GROUP BY {key}, {day}, rem.order_id) \
         SELECT rk.k, rk.d, CAST(SUM(rk.n) AS BIGINT), COUNT(*), \
           COUNT(CASE WHEN o.paid_at IS NOT NULL AND o.paid_at <= rk.last_sent + $5 THEN 1 END), \
           COUNT(CASE WHEN (o.paid_at IS NULL OR o.paid_at > rk.last_sent + $5) \
             AND $6 < rk.last_sent + $5 THEN 1 END), \
           CAST(COALESCE(SUM(CASE WHEN o.paid_at IS NOT NULL AND o.paid_at <= rk.last_sent + $5 \
             THEN o.total_cents ELSE 0 END), 0) AS BIGINT) \
         FROM rk JOIN orders o ON o.id = rk.order_id \
         GROUP BY rk.k, rk.d"
    )
}

/// Orders placed without any conversation in the window before them (the shop's only).
/// `$1` shop, `$2` from, `$3` to, `$4` window (ms).
pub(crate) fn silent_sql(q: &KpiQuery) -> String {
    let day = day_sql(q, "o.placed_at");
    format!(
        "SELECT {day} AS d, COUNT(*), COUNT(DISTINCT o.customer_id), \
           COUNT(DISTINCT CASE WHEN o.paid_at IS NOT NULL THEN o.customer_id END), \
           CAST(COALESCE(SUM(CASE WHEN o.paid_at IS NOT NULL THEN o.total_cents ELSE 0 END), 0) \
             AS BIGINT) \
         FROM orders o \
         WHERE o.shop_id = $1 AND o.placed_at >= $2 AND o.placed_at < $3 \
         AND NOT EXISTS (SELECT 1 FROM conversations c CROSS JOIN messages m \
           WHERE c.customer_id = o.customer_id AND m.conversation_id = c.id \
           AND m.sender_type || '' IN ('customer', 'agent') AND NOT m.private \
           AND m.created_at <= o.placed_at AND m.created_at > o.placed_at - $4) \
         GROUP BY {day}"
    )
}

const EVENT_COLUMNS: &str = "id, at, kind, conversation_id, agent_id, previous_agent_id, team_id, \
     actor_id, seq, value, detail";

fn event_from_row(r: &DbRow) -> Result<DeskEvent> {
    Ok(DeskEvent {
        id: r.get("id"),
        at: Millis(r.get("at")),
        kind: DeskEventKind::parse(r.get("kind"))?,
        conversation_id: r.get("conversation_id"),
        agent_id: r.get("agent_id"),
        previous_agent_id: r.get("previous_agent_id"),
        team_id: r.get("team_id"),
        actor_id: r.get("actor_id"),
        seq: r.get("seq"),
        value: r.get("value"),
        detail: r.get("detail"),
    })
}

fn bucket(buckets: &mut Buckets, key: Option<Id>, day: i64) -> Option<&mut KpiCounts> {
    key.map(|k| buckets.entry((k, day)).or_default())
}

#[async_trait]
impl KpiStore for DbStore {
    async fn kpi_settings(&self, shop_id: Id) -> Result<KpiSettings> {
        let row: Option<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT window_days, attribution, reminder_orders, slow_response_seconds \
             FROM kpi_settings WHERE shop_id = $1",
        )
        .bind(shop_id)
        .fetch_optional(self.reader())
        .await
        .map_err(db_err)?;
        Ok(match row {
            Some((window_days, attribution, reminder_orders, slow_response_seconds)) => {
                KpiSettings {
                    window_days,
                    attribution: KpiAttribution::parse(&attribution)?,
                    reminder_orders: ReminderOrders::parse(&reminder_orders)?,
                    slow_response_seconds,
                }
            }
            None => KpiSettings::default(),
        })
    }

    async fn put_kpi_settings(&self, shop_id: Id, settings: &KpiSettings) -> Result<KpiSettings> {
        let s = *settings;
        tx!(self, |conn| {
            sqlx::query(
                "INSERT INTO kpi_settings (shop_id, window_days, attribution, reminder_orders, \
                 slow_response_seconds, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (shop_id) DO UPDATE SET window_days = excluded.window_days, \
                 attribution = excluded.attribution, reminder_orders = excluded.reminder_orders, \
                 slow_response_seconds = excluded.slow_response_seconds, \
                 updated_at = excluded.updated_at",
            )
            .bind(shop_id)
            .bind(s.window_days)
            .bind(s.attribution.as_str())
            .bind(s.reminder_orders.as_str())
            .bind(s.slow_response_seconds)
            .bind(Millis::now().0)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            Ok(s)
        })
    }

    async fn conversation_events(
        &self,
        shop_id: Id,
        conversation_id: Id,
    ) -> Result<Vec<DeskEvent>> {
        let found: Option<Id> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE id = $1 AND shop_id = $2")
                .bind(conversation_id)
                .bind(shop_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
        found.ok_or_else(|| Error::not_found("conversation"))?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM desk_events WHERE conversation_id = $1 AND shop_id = $2 \
             ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation_id)
            .bind(shop_id)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn agent_status_events(
        &self,
        shop_id: Id,
        agent_id: Id,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> Result<Vec<DeskEvent>> {
        let found: Option<Id> =
            sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND shop_id = $2")
                .bind(agent_id)
                .bind(shop_id)
                .fetch_optional(self.reader())
                .await
                .map_err(db_err)?;
        found.ok_or_else(|| Error::not_found("agent"))?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM desk_events WHERE shop_id = $1 AND kind = $2 \
             AND at >= $3 AND at < $4 AND agent_id = $5 ORDER BY at, id LIMIT $6"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(shop_id)
            .bind(DeskEventKind::AgentStatus.as_str())
            .bind(from.0)
            .bind(to.0)
            .bind(agent_id)
            .bind(limit)
            .fetch_all(self.reader())
            .await
            .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn kpi_counts(&self, q: &KpiQuery) -> Result<Vec<KpiBucket>> {
        let mut conn = self.reader().acquire().await.map_err(db_err)?;
        let window = q.settings.window_ms();
        let outcome = q.reminder_outcome_hours * 3_600_000;
        let slow = q.settings.slow_response_seconds * 1000;
        let include_reminded = q.settings.reminder_orders == ReminderOrders::Included;
        let mut buckets = Buckets::new();

        type SalesRow = (Option<Id>, i64, i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<SalesRow> = sqlx::query_as(AssertSqlSafe(sales_sql(q)))
            .bind(q.shop_id)
            .bind(q.from.0)
            .bind(q.to.0)
            .bind(window)
            .bind(q.agent_id)
            .bind(outcome)
            .bind(include_reminded)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for (k, d, served, consulted, ordered, ordered_paid, paid, paid_orders, sales) in rows {
            if let Some(c) = bucket(&mut buckets, k, d) {
                c.served += served;
                c.consulted += consulted;
                c.ordered += ordered;
                c.ordered_paid += ordered_paid;
                c.paid += paid;
                c.paid_orders += paid_orders;
                c.sales_cents += sales;
            }
        }

        type RepliesRow = (Option<Id>, i64, i64, i64, Option<i64>, i64, Option<i64>);
        let rows: Vec<RepliesRow> = sqlx::query_as(AssertSqlSafe(replies_sql(q)))
            .bind(q.shop_id)
            .bind(q.from.0)
            .bind(q.to.0)
            .bind(q.agent_id)
            .bind(slow)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for (k, d, replies, responses, ms, slow, answered) in rows {
            if let Some(c) = bucket(&mut buckets, k, d) {
                c.replies += replies;
                c.responses += responses;
                c.response_ms += ms.unwrap_or(0);
                c.slow_responses += slow;
                c.answered_messages += answered.unwrap_or(0);
            }
        }

        type SessionsRow = (Option<Id>, i64, i64, i64, i64, i64);
        let rows: Vec<SessionsRow> = sqlx::query_as(AssertSqlSafe(sessions_sql(q)))
            .bind(q.shop_id)
            .bind(q.from.0)
            .bind(q.to.0)
            .bind(q.agent_id)
            .bind(FAST_RESPONSE_MS)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for (k, d, sessions, answered, ms, fast) in rows {
            if let Some(c) = bucket(&mut buckets, k, d) {
                c.sessions += sessions;
                c.answered_sessions += answered;
                c.first_response_ms += ms;
                c.fast_sessions += fast;
            }
        }

        type RemindersRow = (Option<Id>, i64, i64, i64, i64, i64, i64);
        let rows: Vec<RemindersRow> = sqlx::query_as(AssertSqlSafe(reminders_sql(q)))
            .bind(q.shop_id)
            .bind(q.from.0)
            .bind(q.to.0)
            .bind(q.agent_id)
            .bind(outcome)
            .bind(q.now.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        for (k, d, sent, orders, paid, pending, cents) in rows {
            if let Some(c) = bucket(&mut buckets, k, d) {
                c.reminders += sent;
                c.reminded_orders += orders;
                c.reminder_paid_orders += paid;
                c.reminder_pending_orders += pending;
                c.reminder_paid_cents += cents;
            }
        }

        if q.group == KpiGroup::Shop && q.agent_id.is_none() {
            let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(AssertSqlSafe(silent_sql(q)))
                .bind(q.shop_id)
                .bind(q.from.0)
                .bind(q.to.0)
                .bind(window)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err)?;
            for (d, orders, buyers, paid_buyers, cents) in rows {
                if let Some(c) = bucket(&mut buckets, Some(0), d) {
                    c.silent_orders += orders;
                    c.silent_buyers += buyers;
                    c.silent_paid_buyers += paid_buyers;
                    c.silent_paid_cents += cents;
                }
            }
        }

        Ok(buckets
            .into_iter()
            .map(|((key, day), counts)| KpiBucket { key, day, counts })
            .collect())
    }
}
