//! Segmentation: per-customer metrics (RFM), tiers (key / suitable / general), value-added groups, churn risk and the Pareto (80/20) view, with the shop's segmentation rules.
//!
//! Types and rules here are pure (no I/O); [`SegmentStore`] is the storage port for them, implemented by
//! both store crates and required by [`crate::store::Store`]. The stores only fetch order aggregates
//! and write results: every decision (scores, segment names, tiers, groups, churn) is made here, once,
//! so both backends agree by construction. The definitions are documented in docs/SEGMENTS.md.
//!
//! The pipeline for a shop: order aggregates per customer ([`OrderHistory`]) →
//! [`CustomerMetrics::from_history`] → [`Thresholds::compute`] over all buyers of the shop →
//! [`segment`] for each customer. Recomputing a few customers reuses the stored thresholds.

use crate::base::{CustomerRef, Id, string_enum};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
/// The share of revenue the Pareto view looks for (the "80" of 80/20).
pub const PARETO_TARGET_PERCENT: i64 = 80;

// ---------------------------------------------------------------------------------------------
// Rules

/// The shop's segmentation rules. Every field has a default, so a partial document is completed
/// with defaults; unknown fields are refused (a typo must not silently become a default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentRules {
    pub key: KeyRule,
    pub suitable: SuitableRule,
    pub high_volume: HighVolumeRule,
    pub long_standing: LongStandingRule,
    pub demanding: DemandingRule,
    pub churn: ChurnRule,
}

/// 重点客户: a buyer in the top `top_percent` % of the shop's buyers by revenue, or whose revenue
/// reaches `min_revenue_cents`. `top_percent = 0` turns the percentage rule off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KeyRule {
    pub top_percent: i64,
    pub min_revenue_cents: Option<i64>,
}

/// 合适客户: not key, with at least `min_orders` paid orders or revenue of at least
/// `min_revenue_cents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SuitableRule {
    pub min_orders: i64,
    pub min_revenue_cents: Option<i64>,
}

/// 大量购买: at least `min_orders` paid orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HighVolumeRule {
    pub min_orders: i64,
}

/// 长期客户: first paid order at least `min_days` ago, at least `min_orders` paid orders, and still
/// ordering at their usual rhythm (not at churn risk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LongStandingRule {
    pub min_days: i64,
    pub min_orders: i64,
}

/// 挑剔客户: at least `min_count` bad experiences (refunds/returns, complaints, low ratings), and
/// that many make up at least `min_ratio_percent` % of their paid orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DemandingRule {
    pub min_count: i64,
    pub min_ratio_percent: i64,
}

/// Churn risk: a buyer with at least `min_orders` paid orders whose time since the last order
/// exceeds `factor_percent` % of their median interval between orders, and by at least
/// `min_overdue_days` days beyond that usual interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnRule {
    pub factor_percent: i64,
    pub min_orders: i64,
    pub min_overdue_days: i64,
}

impl Default for KeyRule {
    fn default() -> Self {
        Self {
            top_percent: 20,
            min_revenue_cents: None,
        }
    }
}
impl Default for SuitableRule {
    fn default() -> Self {
        Self {
            min_orders: 2,
            min_revenue_cents: Some(50_000),
        }
    }
}
impl Default for HighVolumeRule {
    fn default() -> Self {
        Self { min_orders: 5 }
    }
}
impl Default for LongStandingRule {
    fn default() -> Self {
        Self {
            min_days: 365,
            min_orders: 4,
        }
    }
}
impl Default for DemandingRule {
    fn default() -> Self {
        Self {
            min_count: 2,
            min_ratio_percent: 30,
        }
    }
}
impl Default for ChurnRule {
    fn default() -> Self {
        Self {
            factor_percent: 200,
            min_orders: 3,
            min_overdue_days: 14,
        }
    }
}

/// The largest money amount a rule accepts (10^12 cents): far above any real threshold, and far
/// from overflow in the integer maths below.
const MAX_RULE_CENTS: i64 = 1_000_000_000_000;

fn in_range(field: &str, value: i64, min: i64, max: i64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "{field}: must be between {min} and {max}"
        )))
    }
}

fn cents(field: &str, value: Option<i64>) -> Result<()> {
    match value {
        Some(v) => in_range(field, v, 1, MAX_RULE_CENTS),
        None => Ok(()),
    }
}

impl SegmentRules {
    /// Checks every field; the error names the first bad one (e.g. `key.top_percent: …`).
    pub fn validate(&self) -> Result<()> {
        in_range("key.top_percent", self.key.top_percent, 0, 100)?;
        cents("key.min_revenue_cents", self.key.min_revenue_cents)?;
        in_range("suitable.min_orders", self.suitable.min_orders, 1, 100_000)?;
        cents(
            "suitable.min_revenue_cents",
            self.suitable.min_revenue_cents,
        )?;
        if let (Some(suitable), Some(key)) =
            (self.suitable.min_revenue_cents, self.key.min_revenue_cents)
            && suitable >= key
        {
            return Err(Error::validation(
                "suitable.min_revenue_cents: must be below key.min_revenue_cents",
            ));
        }
        in_range(
            "high_volume.min_orders",
            self.high_volume.min_orders,
            2,
            100_000,
        )?;
        in_range(
            "long_standing.min_days",
            self.long_standing.min_days,
            1,
            3650,
        )?;
        in_range(
            "long_standing.min_orders",
            self.long_standing.min_orders,
            2,
            100_000,
        )?;
        in_range("demanding.min_count", self.demanding.min_count, 1, 10_000)?;
        in_range(
            "demanding.min_ratio_percent",
            self.demanding.min_ratio_percent,
            0,
            100,
        )?;
        in_range("churn.factor_percent", self.churn.factor_percent, 110, 1000)?;
        in_range("churn.min_orders", self.churn.min_orders, 2, 100_000)?;
        in_range(
            "churn.min_overdue_days",
            self.churn.min_overdue_days,
            0,
            365,
        )?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// One order as segmentation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFact {
    pub placed_at: Millis,
    /// Orders count (frequency, revenue, recency) only once paid.
    pub paid: bool,
    pub total_cents: i64,
    pub refunded_cents: i64,
    /// Refund requests recorded for the order (any status).
    pub refund_requests: i64,
}

/// A customer's paid orders, aggregated as the stores fetch them (one row per customer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderHistory {
    pub paid_orders: i64,
    /// Σ (total − refunded) over paid orders.
    pub revenue_cents: i64,
    /// Paid orders with money refunded.
    pub refunded_orders: i64,
    /// `placed_at` of every paid order (any order; sorted by [`CustomerMetrics::from_history`]).
    pub order_times: Vec<Millis>,
}

/// Signals of a demanding customer. Refunds and returns come from orders and after-sales requests,
/// low ratings from imported reviews at or below the shop's threshold, complaints from tickets in a
/// complaint category (merged duplicates aside).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DemandSignals {
    /// Refunds/returns: the larger of refund requests (refund rows plus after-sales requests that
    /// recorded no refund, cancelled ones aside) and orders with money refunded (a refund recorded
    /// only on the order still counts once).
    pub refunds: i64,
    pub complaints: i64,
    pub low_ratings: i64,
}

impl DemandSignals {
    pub fn total(&self) -> i64 {
        self.refunds + self.complaints + self.low_ratings
    }
}

/// What segmentation knows about one customer's buying.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerMetrics {
    pub paid_orders: i64,
    pub revenue_cents: i64,
    pub first_order_at: Option<Millis>,
    pub last_order_at: Option<Millis>,
    /// Median time between consecutive paid orders (needs two orders).
    pub median_interval_ms: Option<i64>,
    pub signals: DemandSignals,
}

/// The median of `values` (sorted here); the mean of the two middle ones for an even count.
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        // Halves first: no overflow even for extreme values.
        values[mid - 1] / 2 + values[mid] / 2 + (values[mid - 1] % 2 + values[mid] % 2) / 2
    })
}

impl CustomerMetrics {
    /// Metrics from a customer's individual orders (unpaid ones are ignored).
    pub fn from_orders(orders: &[OrderFact]) -> Self {
        let mut history = OrderHistory::default();
        let mut requests = 0;
        for o in orders.iter().filter(|o| o.paid) {
            history.paid_orders += 1;
            history.revenue_cents += o.total_cents - o.refunded_cents;
            history.refunded_orders += i64::from(o.refunded_cents > 0);
            history.order_times.push(o.placed_at);
            requests += o.refund_requests;
        }
        Self::from_history(
            history,
            DemandSignals {
                refunds: requests,
                ..DemandSignals::default()
            },
        )
    }

    /// Metrics from the aggregates the stores fetch. `signals.refunds` holds the refund requests;
    /// orders refunded without a request row still count (see [`DemandSignals::refunds`]).
    pub fn from_history(mut history: OrderHistory, mut signals: DemandSignals) -> Self {
        history.order_times.sort_unstable();
        let mut intervals: Vec<i64> = history
            .order_times
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .collect();
        signals.refunds = signals.refunds.max(history.refunded_orders);
        Self {
            paid_orders: history.paid_orders,
            revenue_cents: history.revenue_cents,
            first_order_at: history.order_times.first().copied(),
            last_order_at: history.order_times.last().copied(),
            median_interval_ms: median(&mut intervals),
            signals,
        }
    }

    /// Whether the customer has bought at all (RFM and Pareto consider buyers only).
    pub fn is_buyer(&self) -> bool {
        self.paid_orders > 0
    }
}

// ---------------------------------------------------------------------------------------------
// RFM

/// Four cut values splitting a shop's values into quintiles. A value scores 1 + the number of cuts
/// it is strictly above: ties always share a score, and a value repeated across a quintile boundary
/// falls in the lower quintile (so when most buyers have one order, they all score F = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cuts(pub [i64; 4]);

impl Cuts {
    /// The cuts of `sorted` (ascending): the values at 20 %, 40 %, 60 % and 80 % of the way.
    /// `None` for no values.
    pub fn from_sorted(sorted: &[i64]) -> Option<Self> {
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let at = |k: usize| sorted[(k * n).div_ceil(5) - 1];
        Some(Cuts([at(1), at(2), at(3), at(4)]))
    }

    /// 1–5, higher for higher values.
    pub fn score(&self, value: i64) -> u8 {
        1 + self.0.iter().filter(|&&cut| value > cut).count() as u8
    }
}

/// The shop-wide numbers individual scores are measured against, kept with the shop so that one
/// customer can be rescored without ranking the whole shop again (refreshed by a full recompute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Thresholds {
    /// Buyers (customers with a paid order) when computed.
    pub buyers: i64,
    /// Cuts on the last order time (ms): more recent scores higher.
    pub recency: Cuts,
    /// Cuts on the number of paid orders.
    pub frequency: Cuts,
    /// Cuts on revenue (cents).
    pub monetary: Cuts,
    /// The revenue of the last buyer inside the key rule's top percentage; `None` when the rule is
    /// off or there are no buyers.
    pub key_revenue_cut: Option<i64>,
    pub computed_at: Millis,
}

impl Thresholds {
    /// Thresholds over the shop's customers (non-buyers are ignored); `None` without buyers.
    pub fn compute<'a>(
        metrics: impl IntoIterator<Item = &'a CustomerMetrics>,
        rules: &SegmentRules,
        now: Millis,
    ) -> Option<Self> {
        let mut recency = Vec::new();
        let mut frequency = Vec::new();
        let mut monetary = Vec::new();
        for m in metrics.into_iter().filter(|m| m.is_buyer()) {
            recency.push(m.last_order_at.map_or(0, |t| t.0));
            frequency.push(m.paid_orders);
            monetary.push(m.revenue_cents);
        }
        recency.sort_unstable();
        frequency.sort_unstable();
        monetary.sort_unstable();
        let n = monetary.len();
        // Top p % of n buyers, at least one when the rule is on; ties with the last one included.
        let key_revenue_cut = (rules.key.top_percent > 0 && n > 0).then(|| {
            let top = (n * rules.key.top_percent as usize).div_ceil(100).max(1);
            monetary[n - top]
        });
        Some(Self {
            buyers: n as i64,
            recency: Cuts::from_sorted(&recency)?,
            frequency: Cuts::from_sorted(&frequency)?,
            monetary: Cuts::from_sorted(&monetary)?,
            key_revenue_cut,
            computed_at: now,
        })
    }
}

string_enum!(
    /// The classic eight RFM segments (R/F/M each high = score ≥ 3, see docs/SEGMENTS.md).
    RfmSegment {
        ImportantValue => "important_value",
        ImportantDevelopment => "important_development",
        ImportantRetain => "important_retain",
        ImportantWinback => "important_winback",
        GeneralValue => "general_value",
        GeneralDevelopment => "general_development",
        GeneralRetain => "general_retain",
        GeneralWinback => "general_winback",
    }
);

impl RfmSegment {
    pub const ALL: [RfmSegment; 8] = [
        RfmSegment::ImportantValue,
        RfmSegment::ImportantDevelopment,
        RfmSegment::ImportantRetain,
        RfmSegment::ImportantWinback,
        RfmSegment::GeneralValue,
        RfmSegment::GeneralDevelopment,
        RfmSegment::GeneralRetain,
        RfmSegment::GeneralWinback,
    ];

    /// The segment of scores 1–5: monetary decides important/general, recency × frequency decide
    /// value (R↑F↑), development (R↑F↓), retain (R↓F↑) and win-back (R↓F↓).
    pub fn classify(r: u8, f: u8, m: u8) -> Self {
        let high = |s: u8| s >= 3;
        match (high(r), high(f), high(m)) {
            (true, true, true) => RfmSegment::ImportantValue,
            (true, false, true) => RfmSegment::ImportantDevelopment,
            (false, true, true) => RfmSegment::ImportantRetain,
            (false, false, true) => RfmSegment::ImportantWinback,
            (true, true, false) => RfmSegment::GeneralValue,
            (true, false, false) => RfmSegment::GeneralDevelopment,
            (false, true, false) => RfmSegment::GeneralRetain,
            (false, false, false) => RfmSegment::GeneralWinback,
        }
    }

    /// The usual Chinese name (for logs and the CLI; the console has its own dictionary).
    pub fn label_zh(self) -> &'static str {
        match self {
            RfmSegment::ImportantValue => "重要价值客户",
            RfmSegment::ImportantDevelopment => "重要发展客户",
            RfmSegment::ImportantRetain => "重要保持客户",
            RfmSegment::ImportantWinback => "重要挽留客户",
            RfmSegment::GeneralValue => "一般价值客户",
            RfmSegment::GeneralDevelopment => "一般发展客户",
            RfmSegment::GeneralRetain => "一般保持客户",
            RfmSegment::GeneralWinback => "一般挽留客户",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tiers, groups, churn

string_enum!(
    /// 重点客户 / 合适客户 / 一般客户.
    Tier { Key => "key", Suitable => "suitable", General => "general" }
);
string_enum!(
    /// The four groups that deserve value-added service.
    Group {
        HighVolume => "high_volume",
        LongStanding => "long_standing",
        Key => "key",
        Demanding => "demanding",
    }
);
string_enum!(
    /// How far beyond their own rhythm a customer is.
    ChurnLevel { Low => "low", Medium => "medium", High => "high" }
);

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Key, Tier::Suitable, Tier::General];
}
impl Group {
    pub const ALL: [Group; 4] = [
        Group::HighVolume,
        Group::LongStanding,
        Group::Key,
        Group::Demanding,
    ];
}
impl ChurnLevel {
    pub const ALL: [ChurnLevel; 3] = [ChurnLevel::Low, ChurnLevel::Medium, ChurnLevel::High];
}

/// Membership of the value-added groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Groups {
    pub high_volume: bool,
    pub long_standing: bool,
    pub key: bool,
    pub demanding: bool,
}

impl Groups {
    pub fn contains(&self, group: Group) -> bool {
        match group {
            Group::HighVolume => self.high_volume,
            Group::LongStanding => self.long_standing,
            Group::Key => self.key,
            Group::Demanding => self.demanding,
        }
    }
}

/// A churn warning with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChurnRisk {
    pub level: ChurnLevel,
    pub last_order_at: Millis,
    /// The customer's median interval between orders, in whole days (rounded down, at least 0).
    pub usual_interval_days: i64,
    pub days_since_last: i64,
    /// Days beyond the usual interval: `days_since_last − usual interval`.
    pub days_overdue: i64,
}

/// Churn risk of a customer at `now`: `None` when they order at their rhythm or have too few
/// orders to have one. Levels: low from `factor`× the usual interval, medium from 1.5 × `factor`,
/// high from 2 × `factor`.
pub fn churn_risk(metrics: &CustomerMetrics, rule: &ChurnRule, now: Millis) -> Option<ChurnRisk> {
    if metrics.paid_orders < rule.min_orders {
        return None;
    }
    let last = metrics.last_order_at?;
    // A zero median (orders placed at the same moment) still needs a unit to compare against.
    let usual = metrics.median_interval_ms?.max(1);
    let since = (now.0 - last.0).max(0);
    let overdue = since - usual;
    // Integer maths in percent: since / usual ≥ factor / 100.
    let ratio_percent = i128::from(since) * 100 / i128::from(usual);
    let factor = i128::from(rule.factor_percent);
    if ratio_percent < factor || overdue < rule.min_overdue_days * DAY_MS {
        return None;
    }
    let level = if ratio_percent >= factor * 2 {
        ChurnLevel::High
    } else if ratio_percent * 2 >= factor * 3 {
        ChurnLevel::Medium
    } else {
        ChurnLevel::Low
    };
    Some(ChurnRisk {
        level,
        last_order_at: last,
        usual_interval_days: usual / DAY_MS,
        days_since_last: since / DAY_MS,
        days_overdue: overdue / DAY_MS,
    })
}

/// Everything segmentation says about one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerSegments {
    pub customer_id: Id,
    pub metrics: CustomerMetrics,
    /// RFM scores 1–5; 0 for a customer without paid orders.
    pub r_score: u8,
    pub f_score: u8,
    pub m_score: u8,
    /// `None` for a customer without paid orders.
    pub rfm_segment: Option<RfmSegment>,
    pub tier: Tier,
    pub groups: Groups,
    pub churn: Option<ChurnRisk>,
    pub computed_at: Millis,
}

/// Segments one customer against the shop's thresholds and rules at `now`.
pub fn segment(
    customer_id: Id,
    metrics: CustomerMetrics,
    thresholds: Option<&Thresholds>,
    rules: &SegmentRules,
    now: Millis,
) -> CustomerSegments {
    let buyer = metrics.is_buyer();
    let (r, f, m) = match thresholds {
        Some(t) if buyer => (
            t.recency.score(metrics.last_order_at.map_or(0, |at| at.0)),
            t.frequency.score(metrics.paid_orders),
            t.monetary.score(metrics.revenue_cents),
        ),
        _ => (0, 0, 0),
    };
    let rfm_segment = (r > 0).then(|| RfmSegment::classify(r, f, m));
    let revenue = metrics.revenue_cents;
    let is_key = buyer
        && (thresholds
            .and_then(|t| t.key_revenue_cut)
            .is_some_and(|cut| revenue >= cut && revenue > 0)
            || rules
                .key
                .min_revenue_cents
                .is_some_and(|min| revenue >= min));
    let is_suitable = buyer
        && (metrics.paid_orders >= rules.suitable.min_orders
            || rules
                .suitable
                .min_revenue_cents
                .is_some_and(|min| revenue >= min));
    let tier = if is_key {
        Tier::Key
    } else if is_suitable {
        Tier::Suitable
    } else {
        Tier::General
    };
    let churn = churn_risk(&metrics, &rules.churn, now);
    let long_standing = metrics.paid_orders >= rules.long_standing.min_orders
        && metrics
            .first_order_at
            .is_some_and(|first| now.0 - first.0 >= rules.long_standing.min_days * DAY_MS)
        && churn.is_none();
    let bad = metrics.signals.total();
    let demanding = bad >= rules.demanding.min_count
        && bad * 100 >= rules.demanding.min_ratio_percent * metrics.paid_orders.max(1);
    let groups = Groups {
        high_volume: metrics.paid_orders >= rules.high_volume.min_orders,
        long_standing,
        key: tier == Tier::Key,
        demanding,
    };
    CustomerSegments {
        customer_id,
        metrics,
        r_score: r,
        f_score: f,
        m_score: m,
        rfm_segment,
        tier,
        groups,
        churn,
        computed_at: now,
    }
}

/// Segments a whole shop: thresholds from every buyer, then each customer against them.
pub fn segment_shop(
    customers: Vec<(Id, CustomerMetrics)>,
    rules: &SegmentRules,
    now: Millis,
) -> (Option<Thresholds>, Vec<CustomerSegments>) {
    let thresholds = Thresholds::compute(customers.iter().map(|(_, m)| m), rules, now);
    let segments = customers
        .into_iter()
        .map(|(id, m)| segment(id, m, thresholds.as_ref(), rules, now))
        .collect();
    (thresholds, segments)
}

// ---------------------------------------------------------------------------------------------
// Pareto

/// One point of the Pareto curve: the top `customers` buyers bring `revenue_cents`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParetoPoint {
    pub customers: i64,
    /// `customers / buyers`, 0–1 (a ratio for the chart, not money).
    pub customer_share: f64,
    pub revenue_cents: i64,
    /// `revenue_cents / total`, 0–1.
    pub revenue_share: f64,
}

/// The 80/20 view of a shop's buyers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Pareto {
    pub buyers: i64,
    pub total_revenue_cents: i64,
    /// The curve from (0, 0) to (1, 1): every buyer for up to 100 buyers, else 100 points at each
    /// whole percent of buyers.
    pub points: Vec<ParetoPoint>,
    /// The revenue share the top group reaches (80).
    pub target_percent: i64,
    /// The smallest number of top buyers whose revenue reaches `target_percent` % of the total.
    pub top_customers: i64,
    pub top_customer_share: f64,
    pub top_revenue_cents: i64,
}

fn share(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The Pareto view of the buyers' revenues. Negative revenues (refunds above the amount paid,
/// which only inconsistent data can produce) count as 0.
pub fn pareto(revenues: &[i64]) -> Pareto {
    let mut sorted: Vec<i64> = revenues.iter().map(|&r| r.max(0)).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let n = sorted.len();
    let mut cumulative = Vec::with_capacity(n + 1);
    cumulative.push(0i64);
    for r in &sorted {
        cumulative.push(cumulative.last().copied().unwrap_or(0).saturating_add(*r));
    }
    let total = cumulative[n];
    let point = |k: usize| ParetoPoint {
        customers: k as i64,
        customer_share: share(k as i64, n as i64),
        revenue_cents: cumulative[k],
        revenue_share: share(cumulative[k], total),
    };
    let mut points = vec![point(0)];
    if n <= 100 {
        points.extend((1..=n).map(point));
    } else {
        points.extend((1..=100).map(|p| point((p * n).div_ceil(100))));
    }
    // Exact in integers: cumulative[k] × 100 ≥ total × 80.
    let reaches = |k: usize| {
        i128::from(cumulative[k]) * 100 >= i128::from(total) * i128::from(PARETO_TARGET_PERCENT)
    };
    let top = if total == 0 {
        0
    } else {
        (0..=n).find(|&k| reaches(k)).unwrap_or(n)
    };
    Pareto {
        buyers: n as i64,
        total_revenue_cents: total,
        points,
        target_percent: PARETO_TARGET_PERCENT,
        top_customers: top as i64,
        top_customer_share: share(top as i64, n as i64),
        top_revenue_cents: cumulative[top],
    }
}

// ---------------------------------------------------------------------------------------------
// Storage rows

/// The kind of a `customer_metrics` column, so each store can cast JSON values to its types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Int,
    Text,
    Bool,
}

/// The columns of `customer_metrics` in the order of [`MetricsRow::to_json`]. Both stores write
/// chunks of rows as one JSON array of arrays (one bound parameter per chunk, no per-row round trip).
pub const METRICS_COLUMNS: [(&str, ColumnKind); 23] = [
    ("customer_id", ColumnKind::Int),
    ("paid_orders", ColumnKind::Int),
    ("revenue_cents", ColumnKind::Int),
    ("first_order_at", ColumnKind::Int),
    ("last_order_at", ColumnKind::Int),
    ("median_interval_ms", ColumnKind::Int),
    ("refunds_count", ColumnKind::Int),
    ("complaints_count", ColumnKind::Int),
    ("low_ratings_count", ColumnKind::Int),
    ("r_score", ColumnKind::Int),
    ("f_score", ColumnKind::Int),
    ("m_score", ColumnKind::Int),
    ("rfm_segment", ColumnKind::Text),
    ("tier", ColumnKind::Text),
    ("high_volume", ColumnKind::Bool),
    ("long_standing", ColumnKind::Bool),
    ("key_customer", ColumnKind::Bool),
    ("demanding", ColumnKind::Bool),
    ("churn_level", ColumnKind::Text),
    ("churn_days_since_last", ColumnKind::Int),
    ("churn_usual_interval_days", ColumnKind::Int),
    ("churn_days_overdue", ColumnKind::Int),
    ("computed_at", ColumnKind::Int),
];

/// A `customer_metrics` row in plain types; both stores read their rows into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRow {
    pub customer_id: Id,
    pub paid_orders: i64,
    pub revenue_cents: i64,
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
    pub median_interval_ms: Option<i64>,
    pub refunds_count: i64,
    pub complaints_count: i64,
    pub low_ratings_count: i64,
    pub r_score: i64,
    pub f_score: i64,
    pub m_score: i64,
    pub rfm_segment: Option<String>,
    pub tier: String,
    pub high_volume: bool,
    pub long_standing: bool,
    pub key_customer: bool,
    pub demanding: bool,
    pub churn_level: Option<String>,
    pub churn_days_since_last: Option<i64>,
    pub churn_usual_interval_days: Option<i64>,
    pub churn_days_overdue: Option<i64>,
    pub computed_at: i64,
}

fn score(v: i64) -> Result<u8> {
    u8::try_from(v)
        .ok()
        .filter(|s| *s <= 5)
        .ok_or_else(|| Error::internal(format!("stored RFM score {v} out of range")))
}

impl MetricsRow {
    pub fn from_segments(s: &CustomerSegments) -> Self {
        let m = &s.metrics;
        Self {
            customer_id: s.customer_id,
            paid_orders: m.paid_orders,
            revenue_cents: m.revenue_cents,
            first_order_at: m.first_order_at.map(|t| t.0),
            last_order_at: m.last_order_at.map(|t| t.0),
            median_interval_ms: m.median_interval_ms,
            refunds_count: m.signals.refunds,
            complaints_count: m.signals.complaints,
            low_ratings_count: m.signals.low_ratings,
            r_score: i64::from(s.r_score),
            f_score: i64::from(s.f_score),
            m_score: i64::from(s.m_score),
            rfm_segment: s.rfm_segment.map(|r| r.as_str().to_owned()),
            tier: s.tier.as_str().to_owned(),
            high_volume: s.groups.high_volume,
            long_standing: s.groups.long_standing,
            key_customer: s.groups.key,
            demanding: s.groups.demanding,
            churn_level: s.churn.as_ref().map(|c| c.level.as_str().to_owned()),
            churn_days_since_last: s.churn.as_ref().map(|c| c.days_since_last),
            churn_usual_interval_days: s.churn.as_ref().map(|c| c.usual_interval_days),
            churn_days_overdue: s.churn.as_ref().map(|c| c.days_overdue),
            computed_at: s.computed_at.0,
        }
    }

    /// The row as a JSON array in [`METRICS_COLUMNS`] order.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!([
            self.customer_id,
            self.paid_orders,
            self.revenue_cents,
            self.first_order_at,
            self.last_order_at,
            self.median_interval_ms,
            self.refunds_count,
            self.complaints_count,
            self.low_ratings_count,
            self.r_score,
            self.f_score,
            self.m_score,
            self.rfm_segment,
            self.tier,
            self.high_volume,
            self.long_standing,
            self.key_customer,
            self.demanding,
            self.churn_level,
            self.churn_days_since_last,
            self.churn_usual_interval_days,
            self.churn_days_overdue,
            self.computed_at,
        ])
    }

    pub fn into_segments(self) -> Result<CustomerSegments> {
        let churn = match (self.churn_level, self.last_order_at) {
            (Some(level), Some(last)) => Some(ChurnRisk {
                level: ChurnLevel::parse(&level)?,
                last_order_at: Millis(last),
                usual_interval_days: self.churn_usual_interval_days.unwrap_or(0),
                days_since_last: self.churn_days_since_last.unwrap_or(0),
                days_overdue: self.churn_days_overdue.unwrap_or(0),
            }),
            _ => None,
        };
        Ok(CustomerSegments {
            customer_id: self.customer_id,
            metrics: CustomerMetrics {
                paid_orders: self.paid_orders,
                revenue_cents: self.revenue_cents,
                first_order_at: self.first_order_at.map(Millis),
                last_order_at: self.last_order_at.map(Millis),
                median_interval_ms: self.median_interval_ms,
                signals: DemandSignals {
                    refunds: self.refunds_count,
                    complaints: self.complaints_count,
                    low_ratings: self.low_ratings_count,
                },
            },
            r_score: score(self.r_score)?,
            f_score: score(self.f_score)?,
            m_score: score(self.m_score)?,
            rfm_segment: self
                .rfm_segment
                .as_deref()
                .map(RfmSegment::parse)
                .transpose()?,
            tier: Tier::parse(&self.tier)?,
            groups: Groups {
                high_volume: self.high_volume,
                long_standing: self.long_standing,
                key: self.key_customer,
                demanding: self.demanding,
            },
            churn,
            computed_at: Millis(self.computed_at),
        })
    }
}

/// Joins what the stores fetch — the customers, their paid-order aggregates, their refund and
/// return request counts (rows may repeat a customer: refunds and after-sales requests are fetched
/// apart and added up here), their low ratings and their complaints — into metrics for every
/// customer (customers without orders get empty metrics).
pub fn join_metrics(
    customers: &[Id],
    histories: Vec<(Id, OrderHistory)>,
    refund_requests: &[(Id, i64)],
    low_ratings: &[(Id, i64)],
    complaints: &[(Id, i64)],
) -> Vec<(Id, CustomerMetrics)> {
    use std::collections::HashMap;
    let mut histories: HashMap<Id, OrderHistory> = histories.into_iter().collect();
    let mut requests: HashMap<Id, i64> = HashMap::new();
    for (id, n) in refund_requests {
        *requests.entry(*id).or_default() += n;
    }
    let low: HashMap<Id, i64> = low_ratings.iter().copied().collect();
    let complained: HashMap<Id, i64> = complaints.iter().copied().collect();
    customers
        .iter()
        .map(|&id| {
            let signals = DemandSignals {
                refunds: requests.get(&id).copied().unwrap_or(0),
                low_ratings: low.get(&id).copied().unwrap_or(0),
                complaints: complained.get(&id).copied().unwrap_or(0),
            };
            let history = histories.remove(&id).unwrap_or_default();
            (id, CustomerMetrics::from_history(history, signals))
        })
        .collect()
}

/// Parses the comma-separated order times the stores aggregate per customer (`group_concat` /
/// `string_agg`): one string per customer instead of one row per order.
pub fn parse_order_times(joined: &str) -> Result<Vec<Millis>> {
    joined
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map(Millis)
                .map_err(|_| Error::internal(format!("bad order time '{s}'")))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Filters of segment lists (all given ones must match). The customers list takes the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentFilter {
    pub tier: Option<Tier>,
    pub group: Option<Group>,
    pub rfm: Option<RfmSegment>,
    pub churn: Option<ChurnFilter>,
}

/// `churn=any` lists every customer at risk; a level lists that level only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChurnFilter {
    Any,
    Level(ChurnLevel),
}

impl ChurnFilter {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "any" => Ok(ChurnFilter::Any),
            other => ChurnLevel::parse(other)
                .map(ChurnFilter::Level)
                .map_err(|_| Error::validation("churn: must be any, low, medium or high")),
        }
    }
}

string_enum!(
    /// Order of segment lists: revenue (highest first), last order (oldest first: who to call back),
    /// overdue (most days overdue first).
    SegmentSort { Revenue => "revenue", LastOrder => "last_order", Overdue => "overdue" }
);

/// One customer in a segment list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SegmentListItem {
    pub customer: CustomerRef,
    pub segments: CustomerSegments,
    /// Their latest conversation, for the "open conversation" link.
    pub latest_conversation_id: Option<Id>,
}

/// A page of a segment list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SegmentList {
    /// Matching customers in total.
    pub total: i64,
    pub items: Vec<SegmentListItem>,
}

/// A count per key of one dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SegmentCount {
    pub key: String,
    pub count: i64,
}

/// Counts per tier, group, RFM segment and churn level (every key present, zero or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SegmentSummary {
    /// Customers with computed segments.
    pub customers: i64,
    pub buyers: i64,
    pub tiers: Vec<SegmentCount>,
    pub groups: Vec<SegmentCount>,
    pub rfm: Vec<SegmentCount>,
    pub churn: Vec<SegmentCount>,
    /// The shop's thresholds (when the shop was last fully recomputed).
    pub thresholds: Option<Thresholds>,
}

/// One group of `customer_metrics` rows with the same segments, as the stores count them.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub tier: String,
    pub rfm: Option<String>,
    pub churn: Option<String>,
    /// high_volume, long_standing, key, demanding.
    pub groups: [bool; 4],
    pub buyer: bool,
    pub count: i64,
}

/// Folds the stores' grouped counts into a summary with every key present.
pub fn summarize(
    rows: impl IntoIterator<Item = SummaryRow>,
    thresholds: Option<Thresholds>,
) -> SegmentSummary {
    use std::collections::HashMap;
    let mut counts: HashMap<(&'static str, String), i64> = HashMap::new();
    let (mut customers, mut buyers) = (0, 0);
    for row in rows {
        customers += row.count;
        if row.buyer {
            buyers += row.count;
        }
        *counts.entry(("tier", row.tier)).or_default() += row.count;
        if let Some(rfm) = row.rfm {
            *counts.entry(("rfm", rfm)).or_default() += row.count;
        }
        if let Some(churn) = row.churn {
            *counts.entry(("churn", churn)).or_default() += row.count;
        }
        for (group, member) in Group::ALL.iter().zip(row.groups) {
            if member {
                *counts
                    .entry(("group", group.as_str().to_owned()))
                    .or_default() += row.count;
            }
        }
    }
    let dimension = |dim: &'static str, keys: &[&str]| -> Vec<SegmentCount> {
        keys.iter()
            .map(|k| SegmentCount {
                key: (*k).to_owned(),
                count: counts.get(&(dim, (*k).to_owned())).copied().unwrap_or(0),
            })
            .collect()
    };
    SegmentSummary {
        customers,
        buyers,
        tiers: dimension("tier", &Tier::ALL.map(Tier::as_str)),
        groups: dimension("group", &Group::ALL.map(Group::as_str)),
        rfm: dimension("rfm", &RfmSegment::ALL.map(RfmSegment::as_str)),
        churn: dimension("churn", &ChurnLevel::ALL.map(ChurnLevel::as_str)),
        thresholds,
    }
}

/// What a recompute did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecomputeReport {
    /// Customers whose segments were written.
    pub customers: i64,
    /// Whether the shop's thresholds were refreshed (a full recompute).
    pub full: bool,
    pub took_ms: i64,
}

/// Above this many customers, [`SegmentStore::recompute_customers`] recomputes the whole shop
/// instead: one bulk pass (which also refreshes the thresholds) beats that many lookups by id, e.g.
/// after a large CSV import.
pub const FULL_RECOMPUTE_ABOVE: usize = 20_000;

/// Storage for this area. Every method is scoped by `shop_id`: another shop's ids answer
/// `not_found` exactly as unknown ids do. Writes return only once committed.
#[async_trait]
pub trait SegmentStore: Send + Sync + 'static {
    /// Recomputes the given customers after their orders changed, scoring them against the shop's
    /// stored thresholds (no ranking of the whole shop). Without stored thresholds (a shop never
    /// fully computed) this runs [`SegmentStore::recompute_shop`] instead. Ids of other shops are
    /// ignored; any number of ids is fine (read and written in chunks; above
    /// [`FULL_RECOMPUTE_ABOVE`] the whole shop is recomputed). Commerce ingest calls this with the
    /// customers whose orders or refunds it touched.
    async fn recompute_customers(
        &self,
        shop_id: Id,
        customer_ids: &[Id],
    ) -> Result<RecomputeReport>;
    /// Recomputes every customer of the shop and refreshes its thresholds.
    async fn recompute_shop(&self, shop_id: Id) -> Result<RecomputeReport>;
    /// The ids of every shop with customers (what a scheduled full recompute walks through).
    async fn segmented_shops(&self) -> Result<Vec<Id>>;
    /// The customer's stored segments; `Ok(None)` if not computed yet, `not_found` for a customer
    /// of another shop (or none).
    async fn customer_segments(
        &self,
        shop_id: Id,
        customer_id: Id,
    ) -> Result<Option<CustomerSegments>>;
    /// A page of customers matching `filter`, sorted by `sort`.
    async fn list_segment_customers(
        &self,
        shop_id: Id,
        filter: SegmentFilter,
        sort: SegmentSort,
        offset: i64,
        limit: i64,
    ) -> Result<SegmentList>;
    async fn segment_summary(&self, shop_id: Id) -> Result<SegmentSummary>;
    /// Every buyer's revenue (cents), for [`pareto`].
    async fn buyer_revenues(&self, shop_id: Id) -> Result<Vec<i64>>;
    /// The shop's rules (defaults when never set).
    async fn segment_rules(&self, shop_id: Id) -> Result<SegmentRules>;
    /// Validates and stores the rules, then recomputes the shop with them.
    async fn put_segment_rules(&self, shop_id: Id, rules: &SegmentRules)
    -> Result<RecomputeReport>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: i64 = 1_700_000_000_000;

    fn order(day: i64, total: i64, refunded: i64) -> OrderFact {
        OrderFact {
            placed_at: Millis(T0 + day * DAY_MS),
            paid: true,
            total_cents: total,
            refunded_cents: refunded,
            refund_requests: i64::from(refunded > 0),
        }
    }

    #[test]
    fn metrics_count_paid_orders_only() {
        let mut unpaid = order(5, 99_999, 0);
        unpaid.paid = false;
        let m = CustomerMetrics::from_orders(&[
            order(30, 10_000, 0),
            order(0, 20_000, 5_000),
            unpaid,
            order(10, 1_000, 0),
        ]);
        assert_eq!(m.paid_orders, 3);
        assert_eq!(m.revenue_cents, 26_000);
        assert_eq!(m.first_order_at, Some(Millis(T0)));
        assert_eq!(m.last_order_at, Some(Millis(T0 + 30 * DAY_MS)));
        // intervals 10 and 20 days: median 15
        assert_eq!(m.median_interval_ms, Some(15 * DAY_MS));
        assert_eq!(m.signals.refunds, 1);
    }

    #[test]
    fn refunded_orders_count_without_request_rows() {
        let m = CustomerMetrics::from_history(
            OrderHistory {
                paid_orders: 3,
                revenue_cents: 100,
                refunded_orders: 2,
                order_times: vec![Millis(3), Millis(1), Millis(2)],
            },
            DemandSignals {
                refunds: 1,
                complaints: 0,
                low_ratings: 0,
            },
        );
        assert_eq!(m.signals.refunds, 2);
        assert_eq!(m.first_order_at, Some(Millis(1)));
        assert_eq!(m.median_interval_ms, Some(1));
    }

    #[test]
    fn cuts_split_distinct_values_in_fifths_and_ties_share() {
        let values: Vec<i64> = (1..=10).collect();
        let cuts = Cuts::from_sorted(&values).unwrap();
        assert_eq!(cuts, Cuts([2, 4, 6, 8]));
        let scores: Vec<u8> = values.iter().map(|&v| cuts.score(v)).collect();
        assert_eq!(scores, vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Most buyers with one order: all of them score 1.
        let f = [1, 1, 1, 1, 1, 1, 1, 2, 3, 9];
        let cuts = Cuts::from_sorted(&f).unwrap();
        assert_eq!(cuts.score(1), 1);
        assert_eq!(cuts.score(2), 4);
        assert_eq!(cuts.score(9), 5);
    }

    #[test]
    fn classic_segments() {
        assert_eq!(RfmSegment::classify(5, 5, 5), RfmSegment::ImportantValue);
        assert_eq!(
            RfmSegment::classify(4, 1, 3),
            RfmSegment::ImportantDevelopment
        );
        assert_eq!(RfmSegment::classify(1, 4, 5), RfmSegment::ImportantRetain);
        assert_eq!(RfmSegment::classify(2, 2, 5), RfmSegment::ImportantWinback);
        assert_eq!(RfmSegment::classify(3, 3, 2), RfmSegment::GeneralValue);
        assert_eq!(
            RfmSegment::classify(5, 1, 1),
            RfmSegment::GeneralDevelopment
        );
        assert_eq!(RfmSegment::classify(1, 5, 1), RfmSegment::GeneralRetain);
        assert_eq!(RfmSegment::classify(1, 1, 1), RfmSegment::GeneralWinback);
        assert_eq!(RfmSegment::ImportantValue.label_zh(), "重要价值客户");
    }

    #[test]
    fn pareto_is_exact() {
        // 10 buyers: one brings 60, one 20, the rest 20 together.
        let revenues = [6000, 2000, 500, 500, 300, 300, 200, 100, 100, 0];
        let p = pareto(&revenues);
        assert_eq!(p.buyers, 10);
        assert_eq!(p.total_revenue_cents, 10_000);
        assert_eq!(p.top_customers, 2);
        assert_eq!(p.top_revenue_cents, 8000);
        assert!((p.top_customer_share - 0.2).abs() < 1e-12);
        assert_eq!(p.points.len(), 11);
        assert_eq!(p.points[1].revenue_cents, 6000);
        assert_eq!(p.points[10].revenue_share, 1.0);
        let empty = pareto(&[]);
        assert_eq!((empty.buyers, empty.top_customers), (0, 0));
        assert_eq!(empty.points.len(), 1);
    }

    #[test]
    fn pareto_samples_large_shops_at_each_percent() {
        let revenues: Vec<i64> = (1..=1000).collect();
        let p = pareto(&revenues);
        assert_eq!(p.points.len(), 101);
        assert_eq!(p.points[100].customers, 1000);
        assert_eq!(p.points[1].customers, 10);
        // Top buyers 1000..=k: the smallest k with Σ ≥ 80 % of 500500.
        let total: i64 = 500_500;
        let mut sum = 0;
        let mut k = 0;
        for r in (1..=1000).rev() {
            sum += r;
            k += 1;
            if sum * 100 >= total * 80 {
                break;
            }
        }
        assert_eq!(p.top_customers, k);
    }

    fn buyer(orders: i64, revenue: i64, first_day: i64, last_day: i64) -> CustomerMetrics {
        CustomerMetrics {
            paid_orders: orders,
            revenue_cents: revenue,
            first_order_at: Some(Millis(T0 + first_day * DAY_MS)),
            last_order_at: Some(Millis(T0 + last_day * DAY_MS)),
            median_interval_ms: (orders > 1)
                .then(|| (last_day - first_day) * DAY_MS / (orders - 1)),
            signals: DemandSignals::default(),
        }
    }

    #[test]
    fn tiers_follow_rules() {
        let rules = SegmentRules::default();
        let now = Millis(T0 + 100 * DAY_MS);
        let customers: Vec<(Id, CustomerMetrics)> = (1..=10)
            .map(|i| (i, buyer(1, i * 10_000, 90, 90)))
            .chain([
                (11, CustomerMetrics::default()),
                (12, buyer(2, 100, 80, 90)),
            ])
            .collect();
        let (t, segs) = segment_shop(customers, &rules, now);
        let t = t.unwrap();
        assert_eq!(t.buyers, 11);
        // Top 20 % of 11 buyers = 3 (rounded up): 100 000, 90 000, 80 000.
        assert_eq!(t.key_revenue_cut, Some(80_000));
        let tier = |id: Id| segs.iter().find(|s| s.customer_id == id).unwrap().tier;
        assert_eq!(tier(10), Tier::Key);
        assert_eq!(tier(8), Tier::Key);
        assert_eq!(tier(7), Tier::Suitable); // 70 000 ≥ 50 000
        assert_eq!(tier(4), Tier::General); // 40 000, one order
        assert_eq!(tier(11), Tier::General);
        assert_eq!(tier(12), Tier::Suitable); // two orders
        let none = segs.iter().find(|s| s.customer_id == 11).unwrap();
        assert_eq!((none.r_score, none.rfm_segment), (0, None));
        assert!(
            segs.iter()
                .find(|s| s.customer_id == 10)
                .unwrap()
                .groups
                .key
        );
    }

    #[test]
    fn churn_needs_history_and_reports_evidence() {
        let rule = ChurnRule::default();
        // Orders every 30 days, the last 100 days ago.
        let m = buyer(4, 1000, 0, 90);
        let now = Millis(T0 + 190 * DAY_MS);
        let risk = churn_risk(&m, &rule, now).unwrap();
        assert_eq!(risk.usual_interval_days, 30);
        assert_eq!(risk.days_since_last, 100);
        assert_eq!(risk.days_overdue, 70);
        assert_eq!(risk.level, ChurnLevel::Medium); // 3.33× ≥ 1.5 × 2
        let now = Millis(T0 + 90 * DAY_MS + 65 * DAY_MS);
        assert_eq!(churn_risk(&m, &rule, now).unwrap().level, ChurnLevel::Low); // 2.17×
        let now = Millis(T0 + 90 * DAY_MS + 130 * DAY_MS);
        assert_eq!(churn_risk(&m, &rule, now).unwrap().level, ChurnLevel::High); // 4.33× ≥ 2 × 2
        // At rhythm, or too few orders: no risk.
        assert!(churn_risk(&m, &rule, Millis(T0 + 120 * DAY_MS)).is_none());
        assert!(churn_risk(&buyer(2, 1000, 0, 30), &rule, now).is_none());
        // A fast rhythm is not flagged before min_overdue_days.
        let fast = buyer(5, 1000, 0, 8);
        assert!(churn_risk(&fast, &rule, Millis(T0 + 20 * DAY_MS)).is_none());
    }

    #[test]
    fn groups() {
        let rules = SegmentRules::default();
        let now = Millis(T0 + 500 * DAY_MS);
        let mut loyal = buyer(6, 60_000, 0, 480);
        loyal.median_interval_ms = Some(96 * DAY_MS);
        let s = segment(1, loyal.clone(), None, &rules, now);
        assert!(s.groups.high_volume && s.groups.long_standing && !s.groups.demanding);
        // The same customer drifting away is no longer long-standing.
        let s = segment(1, loyal, None, &rules, Millis(T0 + 900 * DAY_MS));
        assert!(s.churn.is_some() && !s.groups.long_standing);
        let mut picky = buyer(4, 1000, 0, 30);
        picky.signals.refunds = 1;
        picky.signals.complaints = 1; // the hook: complaints count as well
        assert!(
            segment(2, picky.clone(), None, &rules, now)
                .groups
                .demanding
        );
        picky.paid_orders = 10; // 2 of 10 = 20 % < 30 %
        assert!(!segment(2, picky, None, &rules, now).groups.demanding);
    }

    #[test]
    fn rules_validation_names_the_field() {
        assert!(SegmentRules::default().validate().is_ok());
        let mut r = SegmentRules::default();
        r.key.top_percent = 101;
        let e = r.validate().unwrap_err();
        assert!(e.message.starts_with("key.top_percent:"), "{}", e.message);
        let mut r = SegmentRules::default();
        r.key.min_revenue_cents = Some(10_000);
        let e = r.validate().unwrap_err();
        assert!(e.message.starts_with("suitable.min_revenue_cents:"));
        let mut r = SegmentRules::default();
        r.churn.factor_percent = 100;
        assert!(
            r.validate()
                .unwrap_err()
                .message
                .starts_with("churn.factor_percent:")
        );
        let partial: SegmentRules = serde_json::from_str(r#"{"key":{"top_percent":10}}"#).unwrap();
        assert_eq!(partial.key.top_percent, 10);
        assert_eq!(partial.churn, ChurnRule::default());
        assert!(serde_json::from_str::<SegmentRules>(r#"{"kee":{}}"#).is_err());
    }

    #[test]
    fn rows_round_trip() {
        let rules = SegmentRules::default();
        let m = buyer(4, 1000, 0, 90);
        let s = segment(7, m, None, &rules, Millis(T0 + 400 * DAY_MS));
        assert!(s.churn.is_some());
        let row = MetricsRow::from_segments(&s);
        assert_eq!(
            row.to_json().as_array().unwrap().len(),
            METRICS_COLUMNS.len()
        );
        assert_eq!(row.into_segments().unwrap(), s);
        assert_eq!(
            parse_order_times("3,1,2").unwrap(),
            vec![Millis(3), Millis(1), Millis(2)]
        );
    }

    proptest! {
        #[test]
        fn scores_are_monotone_and_balanced(mut values in proptest::collection::vec(0i64..50, 1..300)) {
            values.sort_unstable();
            let cuts = Cuts::from_sorted(&values).unwrap();
            let scores: Vec<u8> = values.iter().map(|&v| cuts.score(v)).collect();
            for w in scores.windows(2) { prop_assert!(w[0] <= w[1]); }
            for (i, &s) in scores.iter().enumerate() {
                prop_assert!((1..=5).contains(&s));
                if i > 0 && values[i] == values[i - 1] { prop_assert_eq!(s, scores[i - 1]); }
            }
        }

        #[test]
        fn distinct_values_fill_each_quintile(n in 5usize..500) {
            let values: Vec<i64> = (0..n as i64).collect();
            let cuts = Cuts::from_sorted(&values).unwrap();
            for q in 1..=5u8 {
                let count = values.iter().filter(|&&v| cuts.score(v) == q).count();
                prop_assert!(count.abs_diff(n / 5) <= 1, "quintile {} has {} of {}", q, count, n);
            }
        }

        #[test]
        fn pareto_top_group_is_minimal(revenues in proptest::collection::vec(0i64..1_000_000, 0..400)) {
            let p = pareto(&revenues);
            let mut sorted = revenues.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let total: i64 = sorted.iter().sum();
            prop_assert_eq!(p.total_revenue_cents, total);
            let k = p.top_customers as usize;
            let top: i64 = sorted[..k].iter().sum();
            prop_assert_eq!(top, p.top_revenue_cents);
            if total > 0 {
                prop_assert!(top * 100 >= total * 80);
                let less: i64 = sorted[..k - 1].iter().sum();
                prop_assert!(less * 100 < total * 80);
            }
            for w in p.points.windows(2) {
                prop_assert!(w[0].customers <= w[1].customers);
                prop_assert!(w[0].revenue_cents <= w[1].revenue_cents);
            }
            prop_assert_eq!(p.points.last().unwrap().revenue_cents, total);
        }

        #[test]
        fn metrics_agree_with_orders(days in proptest::collection::vec((0i64..2000, 1i64..100_000, any::<bool>()), 0..40)) {
            let orders: Vec<OrderFact> = days.iter().map(|&(d, t, paid)| OrderFact {
                placed_at: Millis(T0 + d * DAY_MS), paid, total_cents: t, refunded_cents: 0, refund_requests: 0,
            }).collect();
            let m = CustomerMetrics::from_orders(&orders);
            let paid: Vec<&OrderFact> = orders.iter().filter(|o| o.paid).collect();
            prop_assert_eq!(m.paid_orders, paid.len() as i64);
            prop_assert_eq!(m.revenue_cents, paid.iter().map(|o| o.total_cents).sum::<i64>());
            if let (Some(first), Some(last)) = (m.first_order_at, m.last_order_at) {
                prop_assert!(first <= last);
                if let Some(med) = m.median_interval_ms {
                    prop_assert!(med >= 0 && med <= last.0 - first.0);
                }
            } else {
                prop_assert_eq!(m.paid_orders, 0);
            }
        }

        #[test]
        fn churn_levels_grow_with_time(interval in 1i64..200, extra in 0i64..2000) {
            let rule = ChurnRule::default();
            let m = CustomerMetrics {
                paid_orders: 5, revenue_cents: 1,
                first_order_at: Some(Millis(T0)), last_order_at: Some(Millis(T0 + 4 * interval * DAY_MS)),
                median_interval_ms: Some(interval * DAY_MS), signals: DemandSignals::default(),
            };
            let last = T0 + 4 * interval * DAY_MS;
            let a = churn_risk(&m, &rule, Millis(last + extra * DAY_MS)).map(|r| r.level);
            let b = churn_risk(&m, &rule, Millis(last + (extra + 30) * DAY_MS)).map(|r| r.level);
            let rank = |l: Option<ChurnLevel>| match l { None => 0, Some(ChurnLevel::Low) => 1, Some(ChurnLevel::Medium) => 2, Some(ChurnLevel::High) => 3 };
            prop_assert!(rank(a) <= rank(b));
            if let Some(r) = churn_risk(&m, &rule, Millis(last + extra * DAY_MS)) {
                prop_assert_eq!(r.days_overdue, r.days_since_last - interval);
                prop_assert!(r.days_overdue >= rule.min_overdue_days);
            }
        }
    }
}
