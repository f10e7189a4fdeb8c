//! Agent KPIs (客服绩效): the desk's event log and the figures shops judge their service team by.
//!
//! **Events.** Every KPI is derived from stored facts. Messages (with their sender kind and time),
//! orders (`placed_at`, `paid_at`) and payment reminders (`reminders.sent_at`) are already stored
//! by their areas. What no other table keeps — a conversation starting, being assigned, transferred
//! or handed off by a bot, its status changing, an agent's presence changing — is an append-only
//! [`DeskEvent`], written by kefu-store **in the same transaction** as the change it records, so a
//! change without its event (or the reverse) cannot exist. New sources (calls, surveys, quality
//! inspections, the presence work of issue 19) add a [`DeskEventKind`]; the table does not change.
//!
//! **Figures.** The store aggregates raw counts per group in the database ([`KpiStore::kpi_counts`],
//! one pass over indexed ranges, never every row into memory); [`KpiFigures::from_counts`] turns
//! them into the rates and averages, here, once, so both databases give the same numbers. The
//! definitions are in docs/KPI.md and in the console's tooltips; in short, for a range `[from, to)`
//! and the shop's attribution window `W` ([`KpiSettings`]):
//!
//! - 接待人数 `served`: shoppers who got at least one public reply from the agent in the range.
//! - 询单人数 `consulted`: served shoppers who had paid no order in the `W` before the agent's first
//!   reply of the range (those who had are after-sale contacts, not 询单).
//! - An order is *closed* by the agent who last replied to the shopper at or before its payment
//!   (or placement), within `W` ([`KpiAttribution`]); 下单/付款人数 count consulted shoppers whose
//!   order was placed/paid within `W` after the consultation and closed by that agent.
//! - Responses pair each shopper turn with the agent reply that ends it; sessions are the
//!   conversation starts (new or reopened by the shopper) and their first response, measured from
//!   the bot hand-off when there was one.

use crate::base::string_enum;
use crate::model::Id;
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum!(
    /// What a desk event records. Stored as text; new kinds are added, never renamed.
    DeskEventKind {
        // A shopper's message opened a new conversation or reopened a resolved one (a session
        // starts); `seq` is that message, `value` `new` or `reopened`.
        Started => "started",
        // The conversation got an agent (or was handed to a team's queue: `agent_id` NULL) while
        // it had none; `previous_agent_id` is NULL.
        Assigned => "assigned",
        // The conversation moved from one agent to another agent or to a team's queue.
        Transferred => "transferred",
        // The status changed; `value` is the new one (`open`, `pending`, `resolved`).
        Status => "status",
        // A bot handed the conversation to a person: response clocks start here.
        BotHandoff => "bot_handoff",
        // An agent's presence changed; `agent_id` is the agent, `value` the new status and
        // `detail` the reason given (away reasons, later).
        AgentStatus => "agent_status"
    }
);

/// One stored desk event.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DeskEvent {
    pub id: Id,
    pub at: Millis,
    pub kind: DeskEventKind,
    pub conversation_id: Option<Id>,
    /// The agent the event is about: the new assignee, or the agent whose presence changed.
    pub agent_id: Option<Id>,
    /// The assignee before a transfer.
    pub previous_agent_id: Option<Id>,
    /// The conversation's team after the event.
    pub team_id: Option<Id>,
    /// Who made the change, when a person did (`None`: the shopper, routing or a timer).
    pub actor_id: Option<Id>,
    /// The conversation's last message `seq` when the event happened (for `started`: the
    /// shopper's message that started it), which orders events among messages exactly.
    pub seq: Option<i64>,
    /// Kind-specific: the new status, `new`/`reopened` for `started`.
    pub value: String,
    pub detail: Option<String>,
}

string_enum!(
    /// Which agent an order is credited to.
    KpiAttribution {
        // The last agent who replied to the shopper at or before the payment (default).
        LastReplier => "last_replier",
        // The first agent who replied to the shopper within the window before the payment.
        FirstReplier => "first_replier"
    }
);

string_enum!(
    /// How orders paid after a payment reminder (催付) count.
    ReminderOrders {
        // Credited to the reminder figures only, not to 客服销售额 / 付款人数 (default).
        Separate => "separate",
        // Counted in both.
        Included => "included"
    }
);

/// The first response that counts as answered "within 30 seconds" (30 秒应答率).
pub const FAST_RESPONSE_MS: i64 = 30_000;

/// A shop's attribution rules for the KPIs, edited by admins.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct KpiSettings {
    /// How long after a consultation an order still counts for the agent, and how far before a
    /// payment a reply still closes it, in days (1–30, default 3).
    pub window_days: i64,
    pub attribution: KpiAttribution,
    pub reminder_orders: ReminderOrders,
    /// A response slower than this is a 慢响应 (10–3600 s, default 100).
    pub slow_response_seconds: i64,
}

impl Default for KpiSettings {
    fn default() -> Self {
        Self {
            window_days: 3,
            attribution: KpiAttribution::LastReplier,
            reminder_orders: ReminderOrders::Separate,
            slow_response_seconds: 100,
        }
    }
}

impl KpiSettings {
    pub fn validate(&self) -> Result<()> {
        if !(1..=30).contains(&self.window_days) {
            return Err(Error::invalid("window_days", "must be between 1 and 30"));
        }
        if !(10..=3600).contains(&self.slow_response_seconds) {
            return Err(Error::invalid(
                "slow_response_seconds",
                "must be between 10 and 3600",
            ));
        }
        Ok(())
    }

    pub fn window_ms(&self) -> i64 {
        self.window_days * 86_400_000
    }
}

string_enum!(
    /// How the KPI rows are grouped.
    KpiGroup { Agent => "agent", Team => "team", Shop => "shop" }
);

/// What one KPI read asks the store for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpiQuery {
    pub shop_id: Id,
    pub from: Millis,
    pub to: Millis,
    pub group: KpiGroup,
    /// Only this agent's activity (an agent's own row, one agent's trend).
    pub agent_id: Option<Id>,
    /// Split into the local days of a zone this many minutes east of UTC; `None`: one bucket.
    pub day_offset_min: Option<i32>,
    pub settings: KpiSettings,
    /// A reminder's order counts as paid by the reminder within this many hours
    /// (the reminders area's `outcome_hours`).
    pub reminder_outcome_hours: i64,
    /// Reminder outcomes still open at this time are pending.
    pub now: Millis,
}

/// The raw counts of one group (and day), aggregated by the store. Sums of durations are in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KpiCounts {
    pub served: i64,
    pub consulted: i64,
    pub ordered: i64,
    pub ordered_paid: i64,
    pub paid: i64,
    pub paid_orders: i64,
    pub sales_cents: i64,
    pub replies: i64,
    pub answered_messages: i64,
    pub responses: i64,
    pub response_ms: i64,
    pub slow_responses: i64,
    pub sessions: i64,
    pub answered_sessions: i64,
    pub first_response_ms: i64,
    pub fast_sessions: i64,
    pub reminders: i64,
    pub reminded_orders: i64,
    pub reminder_paid_orders: i64,
    pub reminder_pending_orders: i64,
    pub reminder_paid_cents: i64,
    pub silent_orders: i64,
    pub silent_buyers: i64,
    pub silent_paid_buyers: i64,
    pub silent_paid_cents: i64,
}

impl KpiCounts {
    /// Adds another bucket's counts (the store's partial aggregates of one group).
    pub fn add(&mut self, o: &KpiCounts) {
        self.served += o.served;
        self.consulted += o.consulted;
        self.ordered += o.ordered;
        self.ordered_paid += o.ordered_paid;
        self.paid += o.paid;
        self.paid_orders += o.paid_orders;
        self.sales_cents += o.sales_cents;
        self.replies += o.replies;
        self.answered_messages += o.answered_messages;
        self.responses += o.responses;
        self.response_ms += o.response_ms;
        self.slow_responses += o.slow_responses;
        self.sessions += o.sessions;
        self.answered_sessions += o.answered_sessions;
        self.first_response_ms += o.first_response_ms;
        self.fast_sessions += o.fast_sessions;
        self.reminders += o.reminders;
        self.reminded_orders += o.reminded_orders;
        self.reminder_paid_orders += o.reminder_paid_orders;
        self.reminder_pending_orders += o.reminder_pending_orders;
        self.reminder_paid_cents += o.reminder_paid_cents;
        self.silent_orders += o.silent_orders;
        self.silent_buyers += o.silent_buyers;
        self.silent_paid_buyers += o.silent_paid_buyers;
        self.silent_paid_cents += o.silent_paid_cents;
    }
}

/// The counts of one group key (an agent id, a team id — 0 for agents without a team — or 0 for
/// the shop) and local day (days since 1970-01-01 in the shop's zone; 0 when not split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiBucket {
    pub key: Id,
    pub day: i64,
    pub counts: KpiCounts,
}

/// The storage port of the KPIs: the events, the settings and the aggregation.
#[async_trait]
pub trait KpiStore: Send + Sync {
    /// The shop's attribution settings (the defaults until an admin saves some).
    async fn kpi_settings(&self, shop_id: Id) -> Result<KpiSettings>;
    async fn put_kpi_settings(&self, shop_id: Id, settings: &KpiSettings) -> Result<KpiSettings>;
    /// A conversation's desk events in order; `not_found` for another shop's conversation.
    async fn conversation_events(&self, shop_id: Id, conversation_id: Id)
    -> Result<Vec<DeskEvent>>;
    /// An agent's presence changes (`agent_status` events) in `[from, to)`, oldest first, at most
    /// `limit`; `not_found` for another shop's agent.
    async fn agent_status_events(
        &self,
        shop_id: Id,
        agent_id: Id,
        from: Millis,
        to: Millis,
        limit: i64,
    ) -> Result<Vec<DeskEvent>>;
    /// The raw counts of the range per group key (and day), aggregated in the database. Keys with
    /// nothing to count may be missing.
    async fn kpi_counts(&self, query: &KpiQuery) -> Result<Vec<KpiBucket>>;
}

/// One group's figures: the counts and what is computed from them. A rate or average is `None`
/// when its denominator is zero (the console shows "—"); rates are fractions (0.25 = 25 %).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Default)]
pub struct KpiFigures {
    /// 接待人数: shoppers who got a public reply in the range.
    pub served: i64,
    /// 询单人数: served shoppers without a paid order in the window before (pre-sale).
    pub consulted: i64,
    /// 询单后下单人数: consulted shoppers with an order placed within the window after, closed here.
    pub ordered: i64,
    /// Of those, the shoppers whose order was paid (by now).
    pub ordered_paid: i64,
    /// 询单后付款人数: consulted shoppers with an order paid within the window after, closed here.
    pub paid: i64,
    pub paid_orders: i64,
    /// 客服销售额: the paid amount of those orders (before refunds).
    pub sales_cents: i64,
    /// 询单→下单率 = ordered ÷ consulted.
    pub consult_to_order_rate: Option<f64>,
    /// 询单转化率 = paid ÷ consulted.
    pub consult_conversion_rate: Option<f64>,
    /// 下单→付款率 = ordered_paid ÷ ordered.
    pub order_to_pay_rate: Option<f64>,
    /// 落实客单价 = sales ÷ paid shoppers.
    pub avg_order_value_cents: Option<i64>,
    /// 客服消息数: public replies in the range.
    pub replies: i64,
    /// 买家消息数: shopper messages in the range of the turns these replies answered.
    pub answered_messages: i64,
    /// 答问比 = replies ÷ answered shopper messages.
    pub reply_ratio: Option<f64>,
    /// Shopper turns answered in the range.
    pub responses: i64,
    /// 平均响应时间: mean of (reply − start of the turn, or the bot hand-off), in ms.
    pub avg_response_ms: Option<i64>,
    /// 慢响应: responses slower than the shop's limit.
    pub slow_responses: i64,
    pub slow_response_rate: Option<f64>,
    /// Conversation starts (new or reopened) in the range credited here: to the agent who gave
    /// the first response, or, unanswered, to the last assignee.
    pub sessions: i64,
    pub answered_sessions: i64,
    /// 首次响应时间: mean of (first reply − start, or the bot hand-off), in ms.
    pub avg_first_response_ms: Option<i64>,
    /// 30 秒应答率 = sessions first answered within 30 s ÷ sessions.
    pub within_30s_rate: Option<f64>,
    /// 未回复: sessions without any reply (by now).
    pub unanswered_sessions: i64,
    /// 未回复率 = unanswered ÷ sessions.
    pub unanswered_rate: Option<f64>,
    /// 催付次数: reminders sent in the range.
    pub reminders: i64,
    pub reminded_orders: i64,
    /// Reminded orders paid within the reminder's outcome window.
    pub reminder_paid_orders: i64,
    /// Reminded orders not paid yet whose window is still open.
    pub reminder_pending_orders: i64,
    pub reminder_paid_cents: i64,
    /// 催付成功率 = paid ÷ (reminded − pending).
    pub reminder_success_rate: Option<f64>,
    /// 静默下单 (the shop only): orders placed without any conversation in the window before.
    pub silent_orders: Option<i64>,
    pub silent_buyers: Option<i64>,
    pub silent_paid_buyers: Option<i64>,
    pub silent_paid_cents: Option<i64>,
    /// 静默转化率 = silent buyers who paid ÷ silent buyers.
    pub silent_conversion_rate: Option<f64>,
}

/// `num ÷ den` to four decimals, `None` when there is nothing to divide by.
fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| (num as f64 / den as f64 * 10_000.0).round() / 10_000.0)
}

/// `num ÷ den` rounded to a whole number.
fn mean(sum: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| (sum as f64 / count as f64).round() as i64)
}

impl KpiFigures {
    /// The figures of some counts; `with_silent` for the shop (静默下单 has no agent).
    pub fn from_counts(c: &KpiCounts, with_silent: bool) -> Self {
        let decided = c.reminded_orders - c.reminder_pending_orders;
        KpiFigures {
            served: c.served,
            consulted: c.consulted,
            ordered: c.ordered,
            ordered_paid: c.ordered_paid,
            paid: c.paid,
            paid_orders: c.paid_orders,
            sales_cents: c.sales_cents,
            consult_to_order_rate: rate(c.ordered, c.consulted),
            consult_conversion_rate: rate(c.paid, c.consulted),
            order_to_pay_rate: rate(c.ordered_paid, c.ordered),
            avg_order_value_cents: mean(c.sales_cents, c.paid),
            replies: c.replies,
            answered_messages: c.answered_messages,
            reply_ratio: rate(c.replies, c.answered_messages),
            responses: c.responses,
            avg_response_ms: mean(c.response_ms, c.responses),
            slow_responses: c.slow_responses,
            slow_response_rate: rate(c.slow_responses, c.responses),
            sessions: c.sessions,
            answered_sessions: c.answered_sessions,
            avg_first_response_ms: mean(c.first_response_ms, c.answered_sessions),
            within_30s_rate: rate(c.fast_sessions, c.sessions),
            unanswered_sessions: c.sessions - c.answered_sessions,
            unanswered_rate: rate(c.sessions - c.answered_sessions, c.sessions),
            reminders: c.reminders,
            reminded_orders: c.reminded_orders,
            reminder_paid_orders: c.reminder_paid_orders,
            reminder_pending_orders: c.reminder_pending_orders,
            reminder_paid_cents: c.reminder_paid_cents,
            reminder_success_rate: rate(c.reminder_paid_orders, decided),
            silent_orders: with_silent.then_some(c.silent_orders),
            silent_buyers: with_silent.then_some(c.silent_buyers),
            silent_paid_buyers: with_silent.then_some(c.silent_paid_buyers),
            silent_paid_cents: with_silent.then_some(c.silent_paid_cents),
            silent_conversion_rate: if with_silent {
                rate(c.silent_paid_buyers, c.silent_buyers)
            } else {
                None
            },
        }
    }
}

/// One row of the report: an agent, a team or the shop.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct KpiRow {
    /// The agent's or team's id; `None` for the shop and for agents without a team.
    pub id: Option<Id>,
    pub name: String,
    /// The agent's team (agent rows only).
    pub team: Option<String>,
    pub figures: KpiFigures,
}

/// The KPI report of a range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiReport {
    pub from: Millis,
    /// Excluded.
    pub to: Millis,
    pub time_zone: String,
    pub group: KpiGroup,
    /// The rules the figures were computed with.
    pub settings: KpiSettings,
    pub reminder_outcome_hours: i64,
    pub rows: Vec<KpiRow>,
    /// The whole shop (distinct shoppers, so not the sum of the rows); `None` for an agent, who
    /// sees their own row only.
    pub totals: Option<KpiFigures>,
}

/// One local day of a trend.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct KpiDay {
    /// `YYYY-MM-DD` in the shop's zone.
    pub day: String,
    pub figures: KpiFigures,
}

/// Figures by day, of one agent or the shop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KpiTrend {
    pub from: Millis,
    pub to: Millis,
    pub time_zone: String,
    /// The agent, or `None` for the whole shop.
    pub agent_id: Option<Id>,
    pub days: Vec<KpiDay>,
}

const DAY_MS: i64 = 86_400_000;

/// The local day number (days since 1970-01-01) holding `t` in a zone `offset_min` east of UTC.
pub fn local_day(t: Millis, offset_min: i32) -> i64 {
    (t.0 + i64::from(offset_min) * 60_000).div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a day number.
pub fn day_label(day: i64) -> String {
    // The Julian day number of 1970-01-01 is 2,440,588.
    i32::try_from(day + 2_440_588)
        .ok()
        .and_then(|jd| ::time::Date::from_julian_day(jd).ok())
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

/// The counts of each key, the store's buckets summed over days.
pub fn counts_by_key(buckets: &[KpiBucket]) -> std::collections::BTreeMap<Id, KpiCounts> {
    let mut out = std::collections::BTreeMap::<Id, KpiCounts>::new();
    for b in buckets {
        out.entry(b.key).or_default().add(&b.counts);
    }
    out
}

/// One entry per local day of `[from, to)`, zero where nothing happened.
pub fn trend_days(
    buckets: &[KpiBucket],
    from: Millis,
    to: Millis,
    offset_min: i32,
    with_silent: bool,
) -> Vec<KpiDay> {
    let first = local_day(from, offset_min);
    let last = local_day(Millis(to.0 - 1), offset_min);
    (first..=last)
        .map(|day| {
            let mut counts = KpiCounts::default();
            for b in buckets.iter().filter(|b| b.day == day) {
                counts.add(&b.counts);
            }
            KpiDay {
                day: day_label(day),
                figures: KpiFigures::from_counts(&counts, with_silent),
            }
        })
        .collect()
}

/// The CSV columns (Chinese headers, as shop staff read them in Excel), in order.
pub const CSV_HEADERS: &[&str] = &[
    "接待人数",
    "询单人数",
    "询单后下单人数",
    "询单后付款人数",
    "询单→下单率",
    "询单转化率",
    "下单→付款率",
    "客服销售额(元)",
    "付款订单数",
    "落实客单价(元)",
    "静默下单数",
    "静默下单人数",
    "静默转化率",
    "客服消息数",
    "买家消息数",
    "答问比",
    "响应次数",
    "平均响应时间(秒)",
    "慢响应次数",
    "会话数",
    "首次响应时间(秒)",
    "30秒应答率",
    "未回复会话数",
    "未回复率",
    "催付次数",
    "催付订单数",
    "催付成功订单数",
    "催付成功率",
    "催付回款(元)",
];

/// One figures row as CSV cells, in [`CSV_HEADERS`] order (empty where not defined).
pub fn csv_cells(f: &KpiFigures) -> Vec<String> {
    let yuan = crate::commerce::money::format_yuan;
    let pct = |r: Option<f64>| r.map(|r| format!("{:.2}%", r * 100.0)).unwrap_or_default();
    let secs = |ms: Option<i64>| {
        ms.map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default()
    };
    let opt = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    vec![
        f.served.to_string(),
        f.consulted.to_string(),
        f.ordered.to_string(),
        f.paid.to_string(),
        pct(f.consult_to_order_rate),
        pct(f.consult_conversion_rate),
        pct(f.order_to_pay_rate),
        yuan(f.sales_cents),
        f.paid_orders.to_string(),
        f.avg_order_value_cents.map(yuan).unwrap_or_default(),
        opt(f.silent_orders),
        opt(f.silent_buyers),
        pct(f.silent_conversion_rate),
        f.replies.to_string(),
        f.answered_messages.to_string(),
        f.reply_ratio.map(|r| format!("{r:.2}")).unwrap_or_default(),
        f.responses.to_string(),
        secs(f.avg_response_ms),
        f.slow_responses.to_string(),
        f.sessions.to_string(),
        secs(f.avg_first_response_ms),
        pct(f.within_30s_rate),
        f.unanswered_sessions.to_string(),
        pct(f.unanswered_rate),
        f.reminders.to_string(),
        f.reminded_orders.to_string(),
        f.reminder_paid_orders.to_string(),
        pct(f.reminder_success_rate),
        yuan(f.reminder_paid_cents),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_field() {
        assert!(KpiSettings::default().validate().is_ok());
        let e = KpiSettings {
            window_days: 0,
            ..KpiSettings::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("window_days"));
        let e = KpiSettings {
            slow_response_seconds: 5,
            ..KpiSettings::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("slow_response_seconds"));
        assert_eq!(KpiSettings::default().window_ms(), 3 * DAY_MS);
    }

    #[test]
    fn figures_divide_only_by_something() {
        let c = KpiCounts {
            served: 4,
            consulted: 3,
            ordered: 2,
            ordered_paid: 1,
            paid: 1,
            paid_orders: 1,
            sales_cents: 19_900,
            replies: 6,
            answered_messages: 4,
            responses: 3,
            response_ms: 100_000,
            slow_responses: 1,
            sessions: 4,
            answered_sessions: 3,
            first_response_ms: 90_000,
            fast_sessions: 2,
            reminders: 2,
            reminded_orders: 2,
            reminder_paid_orders: 1,
            reminder_pending_orders: 1,
            reminder_paid_cents: 500,
            silent_orders: 2,
            silent_buyers: 2,
            silent_paid_buyers: 1,
            silent_paid_cents: 100,
        };
        let f = KpiFigures::from_counts(&c, false);
        assert_eq!(f.consult_to_order_rate, Some(0.6667));
        assert_eq!(f.consult_conversion_rate, Some(0.3333));
        assert_eq!(f.order_to_pay_rate, Some(0.5));
        assert_eq!(f.avg_order_value_cents, Some(19_900));
        assert_eq!(f.reply_ratio, Some(1.5));
        assert_eq!(f.avg_response_ms, Some(33_333));
        assert_eq!(f.avg_first_response_ms, Some(30_000));
        assert_eq!(f.within_30s_rate, Some(0.5));
        assert_eq!(f.unanswered_sessions, 1);
        assert_eq!(f.unanswered_rate, Some(0.25));
        assert_eq!(
            f.reminder_success_rate,
            Some(1.0),
            "the pending one is not decided"
        );
        assert_eq!(f.silent_orders, None, "agents have no silent orders");
        let shop = KpiFigures::from_counts(&c, true);
        assert_eq!(shop.silent_orders, Some(2));
        assert_eq!(shop.silent_conversion_rate, Some(0.5));
        let empty = KpiFigures::from_counts(&KpiCounts::default(), true);
        assert_eq!(empty.consult_conversion_rate, None);
        assert_eq!(empty.avg_response_ms, None);
        assert_eq!(empty.silent_conversion_rate, None);
        assert_eq!(csv_cells(&empty).len(), CSV_HEADERS.len());
        assert_eq!(csv_cells(&f)[5], "33.33%");
    }

    #[test]
    fn days_are_local() {
        // 2026-03-01T16:00Z is 2026-03-02 00:00 in Shanghai.
        let t = Millis(1_772_380_800_000);
        assert_eq!(day_label(local_day(t, 480)), "2026-03-02");
        assert_eq!(day_label(local_day(Millis(t.0 - 1), 480)), "2026-03-01");
        assert_eq!(day_label(0), "1970-01-01");
        let day = local_day(t, 480);
        let buckets = [
            KpiBucket {
                key: 0,
                day,
                counts: KpiCounts {
                    served: 2,
                    ..KpiCounts::default()
                },
            },
            KpiBucket {
                key: 7,
                day,
                counts: KpiCounts {
                    served: 1,
                    ..KpiCounts::default()
                },
            },
        ];
        let days = trend_days(
            &buckets,
            Millis(t.0 - DAY_MS),
            Millis(t.0 + DAY_MS),
            480,
            true,
        );
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].figures.served, 0);
        assert_eq!(days[1].day, "2026-03-02");
        assert_eq!(days[1].figures.served, 3);
        assert_eq!(counts_by_key(&buckets)[&7].served, 1);
    }
}
