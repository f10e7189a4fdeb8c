//! The complaints report: how many complaints came in, of which kind and root cause, how fast they
//! were answered and resolved, how often the SLA held, and what compensation cost.
//!
//! The store hands over one compact row per ticket created in the range (and the compensation and
//! SLA records of those tickets); everything is counted here, in plain Rust, so that SQLite and
//! PostgreSQL give the same figures and the arithmetic (medians, buckets in the shop's time zone)
//! is unit-tested once. Tickets are attributed to the range by their creation time.

use crate::model::Id;
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// The longest range one report covers.
pub const MAX_RANGE_DAYS: i64 = 366;
const DAY_MS: i64 = 86_400_000;

/// Which tickets a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReportScope {
    /// Tickets whose category (or its parent) is a complaint category.
    #[default]
    Complaints,
    /// Every ticket.
    All,
}

/// The width of one trend bucket, in the report's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
}

impl Granularity {
    /// Days for up to two months, weeks for up to half a year, months beyond.
    pub fn for_range(from: Millis, to: Millis) -> Self {
        let days = (to.0 - from.0) / DAY_MS;
        if days <= 62 {
            Granularity::Day
        } else if days <= 183 {
            Granularity::Week
        } else {
            Granularity::Month
        }
    }
}

/// One ticket as the report needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTicket {
    pub id: Id,
    pub number: i64,
    pub subject: String,
    pub created_at: Millis,
    pub status: String,
    pub priority: String,
    /// The ticket's own category (a sub-category or a top-level one).
    pub category_id: Option<Id>,
    pub root_causes: Vec<String>,
    pub first_public_reply_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
}

/// A category of the shop, for grouping (sub-categories roll up into their parent).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportCategory {
    pub id: Id,
    pub parent_id: Option<Id>,
    pub key: String,
    pub name: String,
    pub is_complaint: bool,
}

/// A compensation record of a ticket in the range.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportCompensation {
    pub ticket_id: Id,
    pub kind: String,
    pub amount_cents: i64,
    pub cost_cents: i64,
}

/// How an SLA clock of a ticket in the range ended (or stands).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSlaClock {
    pub ticket_id: Id,
    /// `first_response`, `next_response` or `resolution`.
    pub metric: String,
    /// Business time used, in ms (what the SLA counts).
    pub used_ms: i64,
    pub met_at: Option<Millis>,
    /// When it falls due while running (`None` while paused).
    pub due_at: Option<Millis>,
    pub breached_at: Option<Millis>,
}

/// What the store hands over for one report.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    pub tickets: Vec<ReportTicket>,
    pub categories: Vec<ReportCategory>,
    pub compensations: Vec<ReportCompensation>,
    pub sla_clocks: Vec<ReportSlaClock>,
}

/// The storage port of reports: plain reads, shop-scoped.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// The tickets created in `[from, to)` (merged duplicates left out), the shop's categories, and
    /// the compensation and SLA records of those tickets.
    async fn complaint_report_data(
        &self,
        shop_id: Id,
        from: Millis,
        to: Millis,
    ) -> Result<ReportData>;
}

/// Minutes east of UTC of a report's time zone: one without daylight saving, so a day is always
/// 24 hours. `validation_failed` naming `tz` otherwise.
pub fn report_utc_offset(time_zone: &str) -> Result<i32> {
    crate::tools::fixed_utc_offset(time_zone).ok_or_else(|| {
        Error::validation(format!(
            "tz: unknown time zone or one with daylight saving: {time_zone}"
        ))
    })
}

/// A validated report request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportRange {
    pub from: Millis,
    pub to: Millis,
    /// Minutes east of UTC of the time zone the buckets are cut in.
    pub utc_offset_min: i32,
    pub granularity: Granularity,
    pub scope: ReportScope,
    /// When the report is made: running SLA clocks past due by then count as breached.
    pub as_of: Millis,
}

impl ReportRange {
    pub fn new(
        from: Millis,
        to: Millis,
        time_zone: &str,
        granularity: Option<Granularity>,
        scope: ReportScope,
    ) -> Result<Self> {
        if to.0 <= from.0 {
            return Err(Error::validation("to: must be after from"));
        }
        if to.0 - from.0 > MAX_RANGE_DAYS * DAY_MS {
            return Err(Error::validation(format!(
                "to: a report covers at most {MAX_RANGE_DAYS} days"
            )));
        }
        let utc_offset_min = report_utc_offset(time_zone)?;
        Ok(ReportRange {
            from,
            to,
            utc_offset_min,
            granularity: granularity.unwrap_or_else(|| Granularity::for_range(from, to)),
            scope,
            as_of: Millis::now(),
        })
    }

    /// The local start of the bucket holding `t`, as a `YYYY-MM-DD` label and its UTC instant.
    fn bucket(&self, t: Millis) -> (String, i64) {
        let offset = i64::from(self.utc_offset_min) * 60_000;
        let local_day = (t.0 + offset).div_euclid(DAY_MS);
        let start_day = match self.granularity {
            Granularity::Day => local_day,
            // 1970-01-01 was a Thursday: day 0 is 3 days after a Monday.
            Granularity::Week => local_day - (local_day + 3).rem_euclid(7),
            Granularity::Month => {
                let (y, m, _) = civil_from_days(local_day);
                days_from_civil(y, m, 1)
            }
        };
        let (y, m, d) = civil_from_days(start_day);
        (format!("{y:04}-{m:02}-{d:02}"), start_day * DAY_MS - offset)
    }
}

/// A day `YYYY-MM-DD` at local midnight (plus `days_after` days), or an RFC 3339 instant.
pub fn parse_report_time(
    field: &str,
    raw: &str,
    offset_min: i32,
    days_after: i64,
) -> Result<Millis> {
    let bad = || {
        Error::validation(format!(
            "{field}: expected a day YYYY-MM-DD or an RFC 3339 time, got {raw:?}"
        ))
    };
    let day_format = ::time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = ::time::Date::parse(raw, &day_format) {
        let utc_midnight = date.midnight().assume_utc().unix_timestamp() * 1000;
        return Ok(Millis(
            utc_midnight - i64::from(offset_min) * 60_000 + days_after * DAY_MS,
        ));
    }
    let t = ::time::OffsetDateTime::parse(raw, &::time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    Ok(Millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
}

/// (year, month, day) of a day number counted from 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number of a date (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        // Halves first: no overflow for large durations.
        values[n / 2 - 1] / 2 + values[n / 2] / 2 + (values[n / 2 - 1] % 2 + values[n / 2] % 2) / 2
    })
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CategoryCount {
    /// `None`: tickets without a category.
    pub category_id: Option<Id>,
    pub key: Option<String>,
    pub name: Option<String>,
    pub tickets: i64,
    pub resolved: i64,
    pub compensation_cost_cents: i64,
    /// The sub-categories' counts (empty for one without children). `no_recursion`: the schema
    /// refers to itself, which utoipa would otherwise expand forever.
    #[schema(no_recursion)]
    pub children: Vec<CategoryCount>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RootCauseCount {
    pub root_cause: String,
    pub tickets: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CompensationTotal {
    pub kind: String,
    pub records: i64,
    pub amount_cents: i64,
    pub cost_cents: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SlaAttainment {
    pub metric: String,
    /// Clocks met in time.
    pub met: i64,
    /// Clocks breached (met late or still running past due).
    pub breached: i64,
    /// `met / (met + breached)`, `None` when nothing has ended yet.
    pub attainment: Option<f64>,
    /// The median business time used by clocks met, in ms.
    pub median_business_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TrendPoint {
    /// The bucket's first local day, `YYYY-MM-DD`.
    pub bucket: String,
    #[schema(value_type = String)]
    pub starts_at: Millis,
    pub tickets: i64,
    /// Top-level category key → tickets in this bucket (`none` for uncategorised).
    #[schema(value_type = Object)]
    pub by_category: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ComplaintTotals {
    pub tickets: i64,
    pub resolved: i64,
    pub open: i64,
    /// Median wall-clock time from creation to the first public reply, in ms.
    pub median_first_response_ms: Option<i64>,
    /// Median wall-clock time from creation to resolution, in ms.
    pub median_resolution_ms: Option<i64>,
    pub compensation_cost_cents: i64,
    pub compensation_amount_cents: i64,
}

/// The complaints report.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct ComplaintReport {
    #[schema(value_type = String)]
    pub from: Millis,
    #[schema(value_type = String)]
    pub to: Millis,
    pub scope: ReportScope,
    pub granularity: Granularity,
    pub totals: ComplaintTotals,
    pub by_category: Vec<CategoryCount>,
    pub by_root_cause: Vec<RootCauseCount>,
    pub compensation_by_kind: Vec<CompensationTotal>,
    pub sla: Vec<SlaAttainment>,
    pub trend: Vec<TrendPoint>,
}

/// One ticket's line of the CSV export.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportLine<'a> {
    pub ticket: &'a ReportTicket,
    pub category: Option<&'a ReportCategory>,
    pub parent: Option<&'a ReportCategory>,
    pub compensation_cost_cents: i64,
    /// `met`, `breached` or empty, per metric.
    pub first_response_sla: &'static str,
    pub resolution_sla: &'static str,
}

/// Whether a ticket status (wire form) counts as resolved in reports.
pub fn is_resolved(status: &str) -> bool {
    matches!(status, "resolved" | "closed")
}

/// `Some(true)` met in time, `Some(false)` breached (met late, or still running past due at
/// `as_of`, even before the escalation scan has marked it), `None` still running in time.
fn clock_outcome(c: &ReportSlaClock, as_of: Millis) -> Option<bool> {
    if c.breached_at.is_some() {
        return Some(false);
    }
    match (c.met_at, c.due_at) {
        (Some(met), due) => Some(due.is_none_or(|due| met <= due)),
        (None, Some(due)) if due < as_of => Some(false),
        (None, _) => None,
    }
}

/// The tickets of `data` the scope counts, with their category and top-level category.
fn scoped(
    data: &ReportData,
    scope: ReportScope,
) -> Vec<(
    &ReportTicket,
    Option<&ReportCategory>,
    Option<&ReportCategory>,
)> {
    let by_id: HashMap<Id, &ReportCategory> = data.categories.iter().map(|c| (c.id, c)).collect();
    data.tickets
        .iter()
        .filter_map(|t| {
            let cat = t.category_id.and_then(|id| by_id.get(&id).copied());
            let top = cat.map(|c| {
                c.parent_id
                    .and_then(|p| by_id.get(&p).copied())
                    .unwrap_or(c)
            });
            let complaint =
                cat.is_some_and(|c| c.is_complaint) || top.is_some_and(|c| c.is_complaint);
            (scope == ReportScope::All || complaint).then_some((t, cat, top))
        })
        .collect()
}

impl ComplaintReport {
    /// Counts a report from the store's rows.
    pub fn build(range: &ReportRange, data: &ReportData) -> ComplaintReport {
        let tickets = scoped(data, range.scope);
        let counted: HashMap<Id, ()> = tickets.iter().map(|(t, _, _)| (t.id, ())).collect();

        let mut cost_by_ticket: HashMap<Id, i64> = HashMap::new();
        let mut by_kind: BTreeMap<String, CompensationTotal> = BTreeMap::new();
        for c in data
            .compensations
            .iter()
            .filter(|c| counted.contains_key(&c.ticket_id))
        {
            *cost_by_ticket.entry(c.ticket_id).or_default() += c.cost_cents;
            let total = by_kind
                .entry(c.kind.clone())
                .or_insert_with(|| CompensationTotal {
                    kind: c.kind.clone(),
                    records: 0,
                    amount_cents: 0,
                    cost_cents: 0,
                });
            total.records += 1;
            total.amount_cents += c.amount_cents;
            total.cost_cents += c.cost_cents;
        }

        let mut first_response: Vec<i64> = Vec::new();
        let mut resolution: Vec<i64> = Vec::new();
        let mut root_causes: BTreeMap<String, i64> = BTreeMap::new();
        // top-level category id (None = uncategorised) → (count, resolved, cost, children)
        type Children = BTreeMap<Id, (i64, i64, i64)>;
        let mut categories: BTreeMap<Option<Id>, (i64, i64, i64, Children)> = BTreeMap::new();
        let mut trend: BTreeMap<i64, TrendPoint> = BTreeMap::new();
        let mut resolved_total = 0;
        for (t, cat, top) in &tickets {
            let resolved = is_resolved(&t.status);
            resolved_total += i64::from(resolved);
            if let Some(at) = t.first_public_reply_at {
                first_response.push((at.0 - t.created_at.0).max(0));
            }
            if let (true, Some(at)) = (resolved, t.resolved_at) {
                resolution.push((at.0 - t.created_at.0).max(0));
            }
            // A cause counted once per ticket, whatever its spelling of spaces.
            let mut causes: Vec<&str> = t
                .root_causes
                .iter()
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .collect();
            causes.sort_unstable();
            causes.dedup();
            for c in causes {
                *root_causes.entry(c.to_string()).or_default() += 1;
            }
            let cost = cost_by_ticket.get(&t.id).copied().unwrap_or(0);
            let entry = categories.entry(top.map(|c| c.id)).or_default();
            entry.0 += 1;
            entry.1 += i64::from(resolved);
            entry.2 += cost;
            if let (Some(cat), Some(top)) = (cat, top)
                && cat.id != top.id
            {
                let child = entry.3.entry(cat.id).or_default();
                child.0 += 1;
                child.1 += i64::from(resolved);
                child.2 += cost;
            }
            let (label, starts) = range.bucket(t.created_at);
            let point = trend.entry(starts).or_insert_with(|| TrendPoint {
                bucket: label,
                starts_at: Millis(starts),
                tickets: 0,
                by_category: BTreeMap::new(),
            });
            point.tickets += 1;
            let key = top.map_or("none".to_string(), |c| c.key.clone());
            *point.by_category.entry(key).or_default() += 1;
        }

        // Every bucket of the range, empty ones too, so a chart's axis is continuous.
        let mut at = range.from;
        loop {
            let (label, starts) = range.bucket(at);
            if starts >= range.to.0 {
                break;
            }
            trend.entry(starts).or_insert_with(|| TrendPoint {
                bucket: label,
                starts_at: Millis(starts),
                tickets: 0,
                by_category: BTreeMap::new(),
            });
            // Step to the next bucket: a day past this one's start at least, a month at most.
            let step = match range.granularity {
                Granularity::Day => DAY_MS,
                Granularity::Week => 7 * DAY_MS,
                Granularity::Month => 32 * DAY_MS,
            };
            at = Millis(starts.max(at.0) + step);
            if range.granularity == Granularity::Month {
                at = Millis(range.bucket(at).1);
            }
        }

        let by_id: HashMap<Id, &ReportCategory> =
            data.categories.iter().map(|c| (c.id, c)).collect();
        let mut by_category: Vec<CategoryCount> = categories
            .into_iter()
            .map(|(id, (tickets, resolved, cost, children))| {
                let cat = id.and_then(|id| by_id.get(&id));
                let mut children: Vec<CategoryCount> = children
                    .into_iter()
                    .map(|(cid, (tickets, resolved, cost))| {
                        let c = by_id.get(&cid);
                        CategoryCount {
                            category_id: Some(cid),
                            key: c.map(|c| c.key.clone()),
                            name: c.map(|c| c.name.clone()),
                            tickets,
                            resolved,
                            compensation_cost_cents: cost,
                            children: Vec::new(),
                        }
                    })
                    .collect();
                children.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.key.cmp(&b.key)));
                CategoryCount {
                    category_id: id,
                    key: cat.map(|c| c.key.clone()),
                    name: cat.map(|c| c.name.clone()),
                    tickets,
                    resolved,
                    compensation_cost_cents: cost,
                    children,
                }
            })
            .collect();
        by_category.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.key.cmp(&b.key)));

        let mut by_root_cause: Vec<RootCauseCount> = root_causes
            .into_iter()
            .map(|(root_cause, tickets)| RootCauseCount {
                root_cause,
                tickets,
            })
            .collect();
        by_root_cause.sort_by(|a, b| {
            b.tickets
                .cmp(&a.tickets)
                .then(a.root_cause.cmp(&b.root_cause))
        });

        let mut sla = Vec::new();
        for metric in ["first_response", "next_response", "resolution"] {
            let clocks: Vec<&ReportSlaClock> = data
                .sla_clocks
                .iter()
                .filter(|c| c.metric == metric && counted.contains_key(&c.ticket_id))
                .collect();
            if clocks.is_empty() {
                continue;
            }
            let met = clocks
                .iter()
                .filter(|c| clock_outcome(c, range.as_of) == Some(true))
                .count() as i64;
            let breached = clocks
                .iter()
                .filter(|c| clock_outcome(c, range.as_of) == Some(false))
                .count() as i64;
            let mut used: Vec<i64> = clocks
                .iter()
                .filter(|c| c.met_at.is_some())
                .map(|c| c.used_ms)
                .collect();
            sla.push(SlaAttainment {
                metric: metric.to_string(),
                met,
                breached,
                attainment: (met + breached > 0).then(|| met as f64 / (met + breached) as f64),
                median_business_ms: median(&mut used),
            });
        }

        let compensation_by_kind: Vec<CompensationTotal> = by_kind.into_values().collect();
        ComplaintReport {
            from: range.from,
            to: range.to,
            scope: range.scope,
            granularity: range.granularity,
            totals: ComplaintTotals {
                tickets: tickets.len() as i64,
                resolved: resolved_total,
                open: tickets.len() as i64 - resolved_total,
                median_first_response_ms: median(&mut first_response),
                median_resolution_ms: median(&mut resolution),
                compensation_cost_cents: compensation_by_kind.iter().map(|c| c.cost_cents).sum(),
                compensation_amount_cents: compensation_by_kind
                    .iter()
                    .map(|c| c.amount_cents)
                    .sum(),
            },
            by_category,
            by_root_cause,
            compensation_by_kind,
            sla,
            trend: trend.into_values().collect(),
        }
    }

    /// The per-ticket lines of the CSV export, oldest first.
    pub fn lines<'a>(range: &ReportRange, data: &'a ReportData) -> Vec<ReportLine<'a>> {
        let mut cost: HashMap<Id, i64> = HashMap::new();
        for c in &data.compensations {
            *cost.entry(c.ticket_id).or_default() += c.cost_cents;
        }
        let outcome = |ticket_id: Id, metric: &str| {
            data.sla_clocks
                .iter()
                .find(|c| c.ticket_id == ticket_id && c.metric == metric)
                .and_then(|c| clock_outcome(c, range.as_of))
                .map_or("", |met| if met { "met" } else { "breached" })
        };
        let mut lines: Vec<ReportLine<'a>> = scoped(data, range.scope)
            .into_iter()
            .map(|(t, cat, top)| ReportLine {
                ticket: t,
                category: cat,
                parent: top.filter(|top| cat.is_some_and(|c| c.id != top.id)),
                compensation_cost_cents: cost.get(&t.id).copied().unwrap_or(0),
                first_response_sla: outcome(t.id, "first_response"),
                resolution_sla: outcome(t.id, "resolution"),
            })
            .collect();
        lines.sort_by_key(|l| (l.ticket.created_at, l.ticket.id));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn cat(id: Id, parent: Option<Id>, key: &str, complaint: bool) -> ReportCategory {
        ReportCategory {
            id,
            parent_id: parent,
            key: key.into(),
            name: key.into(),
            is_complaint: complaint,
        }
    }

    fn ticket(id: Id, created: i64, category: Option<Id>, status: &str) -> ReportTicket {
        ReportTicket {
            id,
            number: id,
            subject: format!("t{id}"),
            created_at: Millis(created),
            status: status.into(),
            priority: "normal".into(),
            category_id: category,
            root_causes: vec![],
            first_public_reply_at: None,
            resolved_at: None,
        }
    }

    // 2026-11-02 00:00 +08:00 (a Monday) in UTC ms.
    const MON: i64 = 1_793_548_800_000;

    #[test]
    fn civil_dates_round_trip() {
        for day in [-800_000, -1, 0, 1, 59, 365, 10_957, 20_759, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_759), (2026, 11, 2));
    }

    #[test]
    fn buckets_in_local_time() {
        let range = ReportRange::new(
            Millis(MON),
            Millis(MON + 60 * 24 * H),
            "Asia/Shanghai",
            Some(Granularity::Day),
            ReportScope::All,
        )
        .unwrap();
        // 23:30 local on Monday is still Monday; in UTC it is 15:30.
        assert_eq!(
            range.bucket(Millis(MON + 23 * H + 1_800_000)).0,
            "2026-11-02"
        );
        assert_eq!(range.bucket(Millis(MON + 24 * H)).0, "2026-11-03");
        let weeks = ReportRange {
            granularity: Granularity::Week,
            ..range
        };
        assert_eq!(
            weeks.bucket(Millis(MON + 6 * 24 * H + 23 * H)).0,
            "2026-11-02"
        );
        assert_eq!(weeks.bucket(Millis(MON + 7 * 24 * H)).0, "2026-11-09");
        assert_eq!(weeks.bucket(Millis(MON - 1)).0, "2026-10-26");
        let months = ReportRange {
            granularity: Granularity::Month,
            ..range
        };
        assert_eq!(months.bucket(Millis(MON + 29 * 24 * H)).0, "2026-12-01");
        assert_eq!(months.bucket(Millis(MON)).0, "2026-11-01");
        assert_eq!(months.bucket(Millis(MON)).1, MON - 24 * H);
    }

    #[test]
    fn range_validation() {
        assert!(
            ReportRange::new(
                Millis(MON),
                Millis(MON),
                "Asia/Shanghai",
                None,
                ReportScope::All
            )
            .is_err()
        );
        assert!(
            ReportRange::new(
                Millis(MON),
                Millis(MON + 400 * 24 * H),
                "Asia/Shanghai",
                None,
                ReportScope::All
            )
            .is_err()
        );
        assert!(
            ReportRange::new(
                Millis(MON),
                Millis(MON + H),
                "Mars/Olympus",
                None,
                ReportScope::All
            )
            .is_err()
        );
        let r = ReportRange::new(
            Millis(MON),
            Millis(MON + 100 * 24 * H),
            "Asia/Shanghai",
            None,
            ReportScope::All,
        )
        .unwrap();
        assert_eq!(r.granularity, Granularity::Week);
    }

    #[test]
    fn report_times() {
        let shanghai = 8 * 60;
        assert_eq!(
            parse_report_time("from", "2026-11-02", shanghai, 0).unwrap(),
            Millis(MON)
        );
        assert_eq!(
            parse_report_time("to", "2026-11-02", shanghai, 1).unwrap(),
            Millis(MON + 24 * H)
        );
        assert_eq!(
            parse_report_time("from", "2026-11-01T16:00:00Z", shanghai, 0).unwrap(),
            Millis(MON)
        );
        for bad in ["", "2026-13-01", "yesterday", "2026-11-02 10:00"] {
            let e = parse_report_time("from", bad, shanghai, 0).unwrap_err();
            assert!(e.to_string().contains("from"), "{e}");
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
        assert_eq!(median(&mut [1, 2]), Some(1));
        assert_eq!(median(&mut [3, 5]), Some(4));
        assert_eq!(median(&mut [i64::MAX, i64::MAX]), Some(i64::MAX));
    }

    #[test]
    fn counts_complaints_by_category_cause_cost_and_sla() {
        let categories = vec![
            cat(1, None, "error", true),
            cat(2, Some(1), "damaged_item", true),
            cat(3, Some(1), "missing_item", true),
            cat(4, None, "delivery", true),
            cat(5, None, "question", false),
        ];
        let mut t1 = ticket(1, MON + H, Some(2), "resolved");
        t1.first_public_reply_at = Some(Millis(MON + 2 * H));
        t1.resolved_at = Some(Millis(MON + 5 * H));
        t1.root_causes = vec!["包装不足".into(), " 包装不足 ".into()];
        let mut t2 = ticket(2, MON + 25 * H, Some(2), "open");
        t2.first_public_reply_at = Some(Millis(MON + 28 * H));
        t2.root_causes = vec!["快递野蛮装卸".into()];
        let mut t3 = ticket(3, MON + 26 * H, Some(4), "closed");
        t3.resolved_at = Some(Millis(MON + 36 * H));
        t3.root_causes = vec!["包装不足".into()];
        let t4 = ticket(4, MON + 2 * H, Some(5), "resolved"); // not a complaint
        let t5 = ticket(5, MON + 3 * H, Some(1), "new");
        let data = ReportData {
            tickets: vec![t1, t2, t3, t4, t5],
            categories,
            compensations: vec![
                ReportCompensation {
                    ticket_id: 1,
                    kind: "refund".into(),
                    amount_cents: 3000,
                    cost_cents: 3000,
                },
                ReportCompensation {
                    ticket_id: 1,
                    kind: "coupon".into(),
                    amount_cents: 1000,
                    cost_cents: 500,
                },
                ReportCompensation {
                    ticket_id: 4,
                    kind: "gift".into(),
                    amount_cents: 0,
                    cost_cents: 900,
                },
            ],
            sla_clocks: vec![
                ReportSlaClock {
                    ticket_id: 1,
                    metric: "first_response".into(),
                    used_ms: H,
                    met_at: Some(Millis(MON + 2 * H)),
                    due_at: Some(Millis(MON + 3 * H)),
                    breached_at: None,
                },
                ReportSlaClock {
                    ticket_id: 2,
                    metric: "first_response".into(),
                    used_ms: 3 * H,
                    met_at: Some(Millis(MON + 28 * H)),
                    due_at: Some(Millis(MON + 27 * H)),
                    breached_at: None,
                },
                ReportSlaClock {
                    ticket_id: 3,
                    metric: "first_response".into(),
                    used_ms: 0,
                    met_at: None,
                    due_at: Some(Millis(MON + 30 * 24 * H)),
                    breached_at: None,
                },
                ReportSlaClock {
                    ticket_id: 4,
                    metric: "first_response".into(),
                    used_ms: H,
                    met_at: Some(Millis(MON + 3 * H)),
                    due_at: None,
                    breached_at: None,
                },
            ],
        };
        let mut range = ReportRange::new(
            Millis(MON),
            Millis(MON + 3 * 24 * H),
            "Asia/Shanghai",
            None,
            ReportScope::Complaints,
        )
        .unwrap();
        range.as_of = Millis(MON + 3 * 24 * H);
        let report = ComplaintReport::build(&range, &data);
        assert_eq!(report.totals.tickets, 4);
        assert_eq!(report.totals.resolved, 2);
        assert_eq!(report.totals.open, 2);
        assert_eq!(report.totals.median_first_response_ms, Some(2 * H)); // 1 h and 3 h
        assert_eq!(report.totals.median_resolution_ms, Some(7 * H)); // 4 h and 10 h
        assert_eq!(
            report.totals.compensation_cost_cents, 3500,
            "the non-complaint's gift is left out"
        );
        assert_eq!(report.by_category[0].key.as_deref(), Some("error"));
        assert_eq!(report.by_category[0].tickets, 3);
        assert_eq!(report.by_category[0].children.len(), 1);
        assert_eq!(
            report.by_category[0].children[0].key.as_deref(),
            Some("damaged_item")
        );
        assert_eq!(report.by_category[0].children[0].tickets, 2);
        assert_eq!(report.by_category[0].compensation_cost_cents, 3500);
        assert_eq!(report.by_category[1].key.as_deref(), Some("delivery"));
        assert_eq!(
            report.by_root_cause,
            vec![
                RootCauseCount {
                    root_cause: "包装不足".into(),
                    tickets: 2
                },
                RootCauseCount {
                    root_cause: "快递野蛮装卸".into(),
                    tickets: 1
                },
            ]
        );
        // Ticket 2 was answered after its due time (met late = breached, even unscanned); ticket
        // 3's clock still runs in time.
        let fr = &report.sla[0];
        assert_eq!((fr.met, fr.breached), (1, 1));
        assert_eq!(fr.attainment, Some(0.5));
        assert_eq!(fr.median_business_ms, Some(2 * H));
        assert_eq!(
            report.trend.len(),
            3,
            "every day of the range, empty ones too"
        );
        assert_eq!(report.trend[0].tickets, 2);
        assert_eq!(report.trend[1].tickets, 2);
        assert_eq!(report.trend[1].by_category.get("error"), Some(&1));
        assert_eq!(report.trend[2].tickets, 0);

        let all = ReportRange {
            scope: ReportScope::All,
            ..range
        };
        assert_eq!(ComplaintReport::build(&all, &data).totals.tickets, 5);
        let lines = ComplaintReport::lines(&range, &data);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].ticket.id, 1);
        assert_eq!(lines[0].parent.map(|p| p.key.as_str()), Some("error"));
        assert_eq!(lines[0].compensation_cost_cents, 3500);
        assert_eq!(lines[0].first_response_sla, "met");
        assert_eq!(
            lines
                .iter()
                .find(|l| l.ticket.id == 2)
                .unwrap()
                .first_response_sla,
            "breached"
        );
        assert_eq!(
            lines
                .iter()
                .find(|l| l.ticket.id == 3)
                .unwrap()
                .first_response_sla,
            ""
        );
        // Still running when it fell due: breached once the report is made later.
        let later = ReportRange {
            as_of: Millis(MON + 31 * 24 * H),
            ..range
        };
        assert_eq!(ComplaintReport::build(&later, &data).sla[0].breached, 2);
    }

    #[test]
    fn month_trend_covers_the_range() {
        let range = ReportRange::new(
            Millis(MON),
            Millis(MON + 200 * 24 * H),
            "Asia/Shanghai",
            None,
            ReportScope::All,
        )
        .unwrap();
        assert_eq!(range.granularity, Granularity::Month);
        let report = ComplaintReport::build(&range, &ReportData::default());
        let labels: Vec<&str> = report.trend.iter().map(|p| p.bucket.as_str()).collect();
        assert_eq!(
            labels,
            [
                "2026-11-01",
                "2026-12-01",
                "2027-01-01",
                "2027-02-01",
                "2027-03-01",
                "2027-04-01",
                "2027-05-01"
            ]
        );
    }
}
