//! SLA policies and the clocks they run on tickets: per-shop business calendars (stored
//! [`CalendarSpec`]s), policies (which tickets, what targets, which calendar, what pauses, what
//! happens on a breach), the per-ticket clock records and how ticket events move them, the
//! notifications escalation leaves for people, and the storage port [`SlaStore`].
//!
//! The arithmetic is [`crate::business_hours`] and [`crate::sla`]; the choice of policy is
//! [`crate::tickets::choose_policy`]. This module only decides *which* clock does *what* when.
//! No HTTP, no SQL.

use crate::business_hours::{Calendar, CalendarSpec};
use crate::model::{Id, string_enum};
use crate::sla::SlaClock;
pub use crate::sla_view::{SlaClockView, SlaMetric, SlaState, TicketSla};
use crate::tickets::{PolicyMatch, Priority, TicketStatus};
use crate::time::Millis;
use crate::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MINUTE_MS: i64 = 60_000;
/// The longest target a policy may set: one year of working minutes is already absurd.
pub const MAX_TARGET_MINUTES: i64 = 525_600;
/// The longest warning lead: a week of working minutes.
pub const MAX_WARN_MINUTES: i64 = 10_080;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_NOTIFY_USERS: usize = 20;
/// Calendars and policies a shop may keep (each is read whole on every ticket change).
pub const MAX_CALENDARS: i64 = 50;
pub const MAX_POLICIES: i64 = 200;
/// The name the lazily seeded calendar gets.
pub const DEFAULT_CALENDAR_NAME: &str = "默认工作时间";

fn check_name(name: &str, field: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::validation(format!(
            "{field}: 1-{MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Calendars

/// A shop's stored calendar.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct BusinessCalendar {
    pub id: Id,
    pub name: String,
    pub spec: CalendarSpec,
    /// The calendar policies use when they name none (the lazily seeded one, unless changed).
    pub is_default: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CalendarInput {
    pub name: String,
    pub spec: CalendarSpec,
    /// Make this the shop's default calendar.
    #[serde(default)]
    pub is_default: bool,
}

/// Checks a calendar as edited, naming the field at fault (`spec.time_zone`, `spec.weekly`,
/// `spec.holidays`, `spec.workdays`), and returns the trimmed name.
pub fn validate_calendar(input: &CalendarInput) -> Result<String> {
    let name = check_name(&input.name, "name")?;
    let spec = &input.spec;
    if crate::tools::fixed_utc_offset(&spec.time_zone).is_none() {
        return Err(Error::validation(format!(
            "spec.time_zone: unknown or unsupported time zone `{}` (zones with daylight saving are not supported)",
            spec.time_zone
        )));
    }
    // Each part on its own first, so the message names the part; then the whole (limits).
    let only = |weekly, holidays, workdays| CalendarSpec {
        time_zone: spec.time_zone.clone(),
        weekly,
        holidays,
        workdays,
    };
    let prefixed = |field: &str, r: Result<Calendar>| {
        r.map_err(|e| Error::validation(format!("{field}: {}", e.message)))
    };
    prefixed(
        "spec.weekly",
        Calendar::from_spec(&only(spec.weekly.clone(), vec![], Default::default())),
    )?;
    prefixed(
        "spec.holidays",
        Calendar::from_spec(&only(
            spec.weekly.clone(),
            spec.holidays.clone(),
            Default::default(),
        )),
    )?;
    prefixed(
        "spec.workdays",
        Calendar::from_spec(&only(spec.weekly.clone(), vec![], spec.workdays.clone())),
    )?;
    prefixed("spec", Calendar::from_spec(spec))?;
    Ok(name)
}

// ---------------------------------------------------------------------------------------------
// Policies

/// What happens when a clock of the policy is breached. Every action is optional; several may
/// be combined.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Escalation {
    /// Hand the ticket to this agent.
    #[serde(default)]
    pub reassign_agent_id: Option<Id>,
    /// Hand the ticket to this team (with `reassign_agent_id`, the agent's team is used instead).
    #[serde(default)]
    pub reassign_team_id: Option<Id>,
    /// Raise the priority one step (urgent stays urgent).
    #[serde(default)]
    pub raise_priority: bool,
    /// Notify every supervisor and admin of the shop.
    #[serde(default)]
    pub notify_supervisors: bool,
    /// Notify these users.
    #[serde(default)]
    pub notify_user_ids: Vec<Id>,
}

impl Escalation {
    pub fn is_empty(&self) -> bool {
        *self == Escalation::default()
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SlaPolicy {
    pub id: Id,
    pub name: String,
    /// Ties between equally specific policies go to the lower position.
    pub position: i64,
    pub enabled: bool,
    /// Which tickets it applies to (`null` fields match anything; a category also matches its
    /// sub-categories).
    #[serde(rename = "match")]
    pub matches: PolicyMatch,
    /// Targets in working minutes of the calendar; `null` = no such target.
    pub first_response_minutes: Option<i64>,
    pub next_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
    pub calendar_id: Id,
    /// Clocks stop while the ticket is pending on the customer.
    pub pause_on_customer: bool,
    /// Clocks stop while the ticket is pending on a third party (courier, supplier …).
    pub pause_on_third_party: bool,
    /// Warn this many working minutes before a target falls due (0 = no warning).
    pub warn_before_minutes: i64,
    pub escalation: Escalation,
    pub created_at: Millis,
    pub updated_at: Millis,
}

fn yes() -> bool {
    true
}
fn thirty() -> i64 {
    30
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SlaPolicyInput {
    pub name: String,
    #[serde(default)]
    pub position: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(rename = "match", default)]
    pub matches: PolicyMatch,
    #[serde(default)]
    pub first_response_minutes: Option<i64>,
    #[serde(default)]
    pub next_response_minutes: Option<i64>,
    #[serde(default)]
    pub resolution_minutes: Option<i64>,
    /// The shop's default calendar when absent.
    #[serde(default)]
    pub calendar_id: Option<Id>,
    #[serde(default = "yes")]
    pub pause_on_customer: bool,
    #[serde(default)]
    pub pause_on_third_party: bool,
    #[serde(default = "thirty")]
    pub warn_before_minutes: i64,
    #[serde(default)]
    pub escalation: Escalation,
}

/// The tiers segmentation assigns (`segments::Tier`).
pub const TIERS: [&str; 3] = ["key", "suitable", "general"];

impl SlaPolicyInput {
    /// Checks values (not references: the store checks that the calendar, agent, team and users
    /// belong to the shop). Returns the input with its name and category trimmed.
    pub fn validated(mut self) -> Result<Self> {
        self.name = check_name(&self.name, "name")?;
        if !(-1_000_000..=1_000_000).contains(&self.position) {
            return Err(Error::validation("position: out of range"));
        }
        for (field, v) in [
            ("first_response_minutes", self.first_response_minutes),
            ("next_response_minutes", self.next_response_minutes),
            ("resolution_minutes", self.resolution_minutes),
        ] {
            if let Some(v) = v
                && !(1..=MAX_TARGET_MINUTES).contains(&v)
            {
                return Err(Error::validation(format!(
                    "{field}: must be 1-{MAX_TARGET_MINUTES} working minutes"
                )));
            }
        }
        if self.first_response_minutes.is_none()
            && self.next_response_minutes.is_none()
            && self.resolution_minutes.is_none()
        {
            return Err(Error::validation(
                "first_response_minutes: a policy needs at least one target",
            ));
        }
        if !(0..=MAX_WARN_MINUTES).contains(&self.warn_before_minutes) {
            return Err(Error::validation(format!(
                "warn_before_minutes: must be 0-{MAX_WARN_MINUTES}"
            )));
        }
        if let Some(c) = &mut self.matches.category {
            *c = c.trim().to_owned();
            if c.is_empty() || c.chars().count() > 64 {
                return Err(Error::validation("match.category: 1-64 characters"));
            }
        }
        if let Some(t) = &self.matches.tier
            && !TIERS.contains(&t.as_str())
        {
            return Err(Error::validation(
                "match.tier: must be key, suitable or general",
            ));
        }
        let e = &mut self.escalation;
        if e.notify_user_ids.len() > MAX_NOTIFY_USERS {
            return Err(Error::validation(format!(
                "escalation.notify_user_ids: at most {MAX_NOTIFY_USERS}"
            )));
        }
        e.notify_user_ids.sort_unstable();
        e.notify_user_ids.dedup();
        Ok(self)
    }
}

impl SlaPolicy {
    pub fn target_ms(&self, metric: SlaMetric) -> Option<i64> {
        let minutes = match metric {
            SlaMetric::FirstResponse => self.first_response_minutes,
            SlaMetric::NextResponse => self.next_response_minutes,
            SlaMetric::Resolution => self.resolution_minutes,
        };
        minutes.map(|m| m * MINUTE_MS)
    }

    /// Whether clocks stop in this status.
    pub fn pauses_in(&self, status: TicketStatus) -> bool {
        match status {
            TicketStatus::PendingCustomer => self.pause_on_customer,
            TicketStatus::PendingThirdParty => self.pause_on_third_party,
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clocks on tickets

/// One SLA clock of one ticket as stored. `due_at` and `warn_at` are derived from the clock and
/// the policy's calendar whenever the clock changes, so the escalation scan and list filters can
/// use indexes instead of recomputing business hours per ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockRecord {
    pub id: Id,
    pub ticket_id: Id,
    pub metric: SlaMetric,
    pub policy_id: Id,
    pub clock: SlaClock,
    pub due_at: Option<Millis>,
    pub warn_at: Option<Millis>,
    pub warned_at: Option<Millis>,
    pub breached_at: Option<Millis>,
    pub escalated_at: Option<Millis>,
}

/// What happened to a ticket, as far as its clocks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaEvent {
    Created,
    /// A public reply by an agent (not a note, not a system actor).
    AgentReplied,
    /// A public entry by the customer.
    CustomerReplied,
    StatusChanged {
        from: TicketStatus,
        to: TicketStatus,
    },
}

/// Moves a ticket's clocks for `events` at `at` under `policy` (re-chosen by the caller from the
/// ticket's current priority, category and customer tier; `None` when no policy applies).
///
/// - A new policy keeps the working time already used and takes its own targets; a metric the new
///   policy has no target for loses its clock; without any policy, the clocks stay as they were.
/// - `Created` starts first response and resolution.
/// - An agent's public reply meets first response and a running next response.
/// - A customer's entry starts next response once first response is met (before that, the
///   customer is still waiting for the first answer) and no next response is already running.
/// - Pending statuses pause the clocks the policy says; leaving them resumes.
/// - Resolving meets every clock (a resolution answers the customer too); closing changes nothing.
/// - Reopening (resolved → open) resumes resolution with the working time it had used — the same
///   problem gets no fresh budget — and starts a next response clock: the customer is waiting.
///
/// Returns the metrics whose clocks were removed. `due_at`/`warn_at` are recomputed for all.
pub fn advance_clocks(
    clocks: &mut Vec<ClockRecord>,
    policy: Option<&SlaPolicy>,
    cal: &Calendar,
    status: TicketStatus,
    events: &[SlaEvent],
    ticket_id: Id,
    at: Millis,
) -> Vec<SlaMetric> {
    let Some(policy) = policy else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    // Re-target under the (possibly new) policy.
    clocks.retain(|c| {
        if policy.target_ms(c.metric).is_none() {
            removed.push(c.metric);
            false
        } else {
            true
        }
    });
    for c in clocks.iter_mut() {
        c.policy_id = policy.id;
        c.clock.target_ms = policy.target_ms(c.metric).unwrap_or(c.clock.target_ms);
    }
    let find =
        |clocks: &mut Vec<ClockRecord>, m: SlaMetric| clocks.iter().position(|c| c.metric == m);
    let start = |clocks: &mut Vec<ClockRecord>, m: SlaMetric| {
        let Some(target) = policy.target_ms(m) else {
            return;
        };
        let fresh = ClockRecord {
            id: 0,
            ticket_id,
            metric: m,
            policy_id: policy.id,
            clock: SlaClock::start(target, at),
            due_at: None,
            warn_at: None,
            warned_at: None,
            breached_at: None,
            escalated_at: None,
        };
        match clocks.iter().position(|c| c.metric == m) {
            // A restarted clock is a new target (id 0: stored afresh, its claims cleared), so
            // its warning and breach may fire again.
            Some(i) => clocks[i] = fresh,
            None => clocks.push(fresh),
        }
    };
    for event in events {
        match *event {
            SlaEvent::Created => {
                for m in [SlaMetric::FirstResponse, SlaMetric::Resolution] {
                    if find(clocks, m).is_none() {
                        start(clocks, m);
                    }
                }
            }
            SlaEvent::AgentReplied => {
                for m in [SlaMetric::FirstResponse, SlaMetric::NextResponse] {
                    if let Some(i) = find(clocks, m) {
                        clocks[i].clock.meet(cal, at);
                    }
                }
            }
            SlaEvent::CustomerReplied => {
                let first_open = find(clocks, SlaMetric::FirstResponse)
                    .is_some_and(|i| clocks[i].clock.met_at.is_none());
                let next_open = find(clocks, SlaMetric::NextResponse)
                    .is_some_and(|i| clocks[i].clock.met_at.is_none());
                if !first_open
                    && !next_open
                    && !matches!(status, TicketStatus::Resolved | TicketStatus::Closed)
                {
                    start(clocks, SlaMetric::NextResponse);
                }
            }
            SlaEvent::StatusChanged { from, to } => {
                if to == TicketStatus::Resolved {
                    for c in clocks.iter_mut() {
                        c.clock.meet(cal, at);
                    }
                } else if from == TicketStatus::Resolved && to != TicketStatus::Closed {
                    if let Some(i) = find(clocks, SlaMetric::Resolution) {
                        let c = &mut clocks[i].clock;
                        c.met_at = None;
                        c.running_since = Some(at);
                    }
                    start(clocks, SlaMetric::NextResponse);
                }
                if to != TicketStatus::Resolved && to != TicketStatus::Closed {
                    let (was, is) = (policy.pauses_in(from), policy.pauses_in(to));
                    for c in clocks.iter_mut() {
                        if is && !was {
                            c.clock.pause(cal, at);
                        } else if was && !is {
                            c.clock.resume(at);
                        }
                    }
                }
            }
        }
    }
    // Pausing follows the status even without a status event (a new policy may pause where the
    // old one did not).
    let paused_now = policy.pauses_in(status);
    for c in clocks.iter_mut() {
        if paused_now {
            c.clock.pause(cal, at);
        } else if !matches!(status, TicketStatus::Resolved | TicketStatus::Closed) {
            c.clock.resume(at);
        }
        refresh_due(c, policy, cal);
    }
    removed
}

/// Recomputes a clock's stored due and warning instants.
pub fn refresh_due(c: &mut ClockRecord, policy: &SlaPolicy, cal: &Calendar) {
    c.due_at = c.clock.due_at(cal);
    c.warn_at = match c.clock.running_since {
        Some(since) if policy.warn_before_minutes > 0 && c.clock.met_at.is_none() => {
            let until_warning =
                c.clock.target_ms - c.clock.used_ms - policy.warn_before_minutes * MINUTE_MS;
            cal.add_business_millis(since, until_warning.max(0))
        }
        _ => None,
    };
}

/// The state of one clock at `now`, from its stored instants (no calendar needed: `used_ms` of a
/// running clock is as of its last change).
pub fn clock_state(c: &ClockRecord, now: Millis) -> SlaState {
    if c.clock.met_at.is_some() {
        return SlaState::Met;
    }
    match c.clock.running_since {
        Some(_) => {
            if c.due_at.is_some_and(|d| now >= d) || c.clock.used_ms > c.clock.target_ms {
                SlaState::Breached
            } else if c.warn_at.is_some_and(|w| now >= w) {
                SlaState::Warning
            } else {
                SlaState::Ok
            }
        }
        None if c.breached_at.is_some() || c.clock.used_ms > c.clock.target_ms => {
            SlaState::Breached
        }
        None => SlaState::Paused,
    }
}

/// The API view of a ticket's clocks; `None` when it has none.
pub fn ticket_sla(clocks: &[ClockRecord], now: Millis) -> Option<TicketSla> {
    let first = clocks.first()?;
    let mut views: Vec<SlaClockView> = clocks
        .iter()
        .map(|c| SlaClockView {
            metric: c.metric,
            state: clock_state(c, now),
            due_at: c.due_at,
            warn_at: c.warn_at,
            used_ms: c.clock.used_ms,
            target_ms: c.clock.target_ms,
            met_at: c.clock.met_at,
            late: c.clock.met_at.is_some() && c.clock.used_ms > c.clock.target_ms,
            breached_at: c.breached_at,
        })
        .collect();
    views.sort_by_key(|v| SlaMetric::ALL.iter().position(|m| *m == v.metric));
    let state = views
        .iter()
        .map(|v| v.state)
        .max_by_key(|s| s.severity())
        .unwrap_or(SlaState::Met);
    let next_due_at = views
        .iter()
        .filter(|v| v.met_at.is_none())
        .filter_map(|v| v.due_at)
        .min();
    Some(TicketSla {
        state,
        policy_id: first.policy_id,
        next_due_at,
        clocks: views,
    })
}

/// A clock the escalation scan must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueClock {
    pub clock_id: Id,
    pub shop_id: Id,
    pub ticket_id: Id,
    pub metric: SlaMetric,
    pub policy_id: Id,
    /// `true`: past due (breach); `false`: within the warning lead.
    pub breach: bool,
}

/// The SLA state of every open clock at one instant, counted by state (one set-based pass).
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct SlaOverview {
    /// Tickets with at least one clock not met.
    pub open_tickets: i64,
    pub ok: i64,
    pub warning: i64,
    pub breached: i64,
    pub paused: i64,
}

// ---------------------------------------------------------------------------------------------
// Notifications

string_enum!(
    /// Why someone was notified.
    NotificationKind { SlaWarning => "sla_warning", SlaBreach => "sla_breach", Automation => "automation" }
);

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Notification {
    pub id: Id,
    pub user_id: Id,
    pub kind: NotificationKind,
    pub ticket_id: Option<Id>,
    pub text: String,
    pub created_at: Millis,
    pub read_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: Id,
    pub kind: NotificationKind,
    pub ticket_id: Option<Id>,
    pub text: String,
}

/// The port. Scoped by shop like every tenant store; ids of another shop are unknown.
#[async_trait]
pub trait SlaStore: Send + Sync {
    /// The shop's calendars; a shop with none gets the default China calendar first (seeded in
    /// one write, `ON CONFLICT DO NOTHING` so concurrent first reads seed once).
    async fn calendars(&self, shop_id: Id) -> Result<Vec<BusinessCalendar>>;
    async fn calendar(&self, shop_id: Id, id: Id) -> Result<Option<BusinessCalendar>>;
    /// Input validated by the caller ([`validate_calendar`]); `conflict` on a duplicate name.
    async fn create_calendar(
        &self,
        shop_id: Id,
        name: &str,
        spec: &CalendarSpec,
        is_default: bool,
    ) -> Result<BusinessCalendar>;
    async fn update_calendar(
        &self,
        shop_id: Id,
        id: Id,
        name: &str,
        spec: &CalendarSpec,
        is_default: bool,
    ) -> Result<BusinessCalendar>;
    /// `conflict` while a policy uses it or when it is the default.
    async fn delete_calendar(&self, shop_id: Id, id: Id) -> Result<()>;

    /// Ordered by position, then id.
    async fn sla_policies(&self, shop_id: Id) -> Result<Vec<SlaPolicy>>;
    async fn sla_policy(&self, shop_id: Id, id: Id) -> Result<Option<SlaPolicy>>;
    /// Input validated by the caller; the store checks the calendar and the escalation's agent,
    /// team and users belong to the shop (`not_found` naming the field otherwise).
    async fn create_sla_policy(&self, shop_id: Id, input: &SlaPolicyInput) -> Result<SlaPolicy>;
    async fn update_sla_policy(
        &self,
        shop_id: Id,
        id: Id,
        input: &SlaPolicyInput,
    ) -> Result<SlaPolicy>;
    async fn delete_sla_policy(&self, shop_id: Id, id: Id) -> Result<()>;

    /// The clocks of these tickets (of the shop).
    async fn sla_clocks(&self, shop_id: Id, ticket_ids: &[Id]) -> Result<Vec<ClockRecord>>;
    /// Stores a ticket's clocks and deletes the `removed` metrics, in one write. A clock with
    /// `id == 0` is new or restarted: stored whole with its claims cleared. Others update only the
    /// clock and its derived instants: the claims belong to the escalation scan.
    async fn save_sla_clocks(
        &self,
        shop_id: Id,
        ticket_id: Id,
        clocks: &[ClockRecord],
        removed: &[SlaMetric],
    ) -> Result<()>;
    /// Running clocks past their warning or due instant that were not yet warned / escalated,
    /// every shop, oldest first (index range scans over `warn_at` and `due_at`).
    async fn due_sla_clocks(&self, now: Millis, limit: i64) -> Result<Vec<DueClock>>;
    /// Claims a clock's warning: one conditional UPDATE; `true` only for the one caller that set
    /// `warned_at` (several nodes may scan at once).
    async fn claim_sla_warning(&self, clock_id: Id, now: Millis) -> Result<bool>;
    /// Claims a clock's breach escalation the same way (`escalated_at`, and `breached_at`).
    async fn claim_sla_breach(&self, clock_id: Id, now: Millis) -> Result<bool>;
    /// Every open clock (of one shop, or of every shop) evaluated at `now` in one set-based
    /// statement, counted per ticket by its worst clock.
    async fn sla_overview(&self, shop_id: Option<Id>, now: Millis) -> Result<SlaOverview>;
    /// The tickets of the shop with a clock not yet met (re-timed after a policy or calendar edit).
    async fn sla_open_tickets(&self, shop_id: Id) -> Result<Vec<Id>>;

    /// Stores notifications (users of other shops are skipped) and returns them.
    async fn add_notifications(
        &self,
        shop_id: Id,
        items: &[NewNotification],
    ) -> Result<Vec<Notification>>;
    async fn notifications(
        &self,
        shop_id: Id,
        user_id: Id,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    /// Marks one (or all, `id = None`) of the user's notifications read; how many changed.
    async fn mark_notifications_read(
        &self,
        shop_id: Id,
        user_id: Id,
        id: Option<Id>,
    ) -> Result<i64>;
}

/// The priority an escalation leaves the ticket at.
pub fn escalated_priority(current: Priority, e: &Escalation) -> Priority {
    if e.raise_priority {
        current.raised()
    } else {
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn china() -> Calendar {
        Calendar::from_spec(&CalendarSpec::default_china()).unwrap()
    }

    /// 2026-11-23 (Monday) + days, at a Shanghai wall-clock hour.
    fn sh(day: i64, h: i64, m: i64) -> Millis {
        Millis((20_780 + day) * 86_400_000 + (h - 8) * HOUR + m * MINUTE_MS)
    }

    fn policy() -> SlaPolicy {
        SlaPolicy {
            id: 7,
            name: "p".into(),
            position: 0,
            enabled: true,
            matches: PolicyMatch::default(),
            first_response_minutes: Some(60),
            next_response_minutes: Some(120),
            resolution_minutes: Some(8 * 60),
            calendar_id: 1,
            pause_on_customer: true,
            pause_on_third_party: false,
            warn_before_minutes: 30,
            escalation: Escalation::default(),
            created_at: Millis(0),
            updated_at: Millis(0),
        }
    }

    fn get(c: &[ClockRecord], m: SlaMetric) -> &ClockRecord {
        c.iter().find(|c| c.metric == m).unwrap()
    }

    #[test]
    fn a_ticket_life_moves_its_clocks() {
        let (cal, p) = (china(), policy());
        let mut clocks = Vec::new();
        use TicketStatus::*;
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            New,
            &[SlaEvent::Created],
            1,
            sh(0, 17, 30),
        );
        assert_eq!(clocks.len(), 2);
        // 30 min today, 30 min tomorrow morning.
        assert_eq!(
            get(&clocks, SlaMetric::FirstResponse).due_at,
            Some(sh(1, 9, 30))
        );
        // Warned when 30 of the 60 minutes are used: at closing time today.
        assert_eq!(
            get(&clocks, SlaMetric::FirstResponse).warn_at,
            Some(sh(0, 18, 0))
        );
        assert_eq!(
            clock_state(get(&clocks, SlaMetric::FirstResponse), sh(1, 9, 10)),
            SlaState::Warning
        );
        assert_eq!(
            clock_state(get(&clocks, SlaMetric::FirstResponse), sh(1, 9, 30)),
            SlaState::Breached
        );
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            Open,
            &[SlaEvent::AgentReplied],
            1,
            sh(1, 9, 15),
        );
        assert_eq!(
            clock_state(get(&clocks, SlaMetric::FirstResponse), sh(2, 0, 0)),
            SlaState::Met
        );
        // The customer answers: next response runs 2 h.
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            Open,
            &[SlaEvent::CustomerReplied],
            1,
            sh(1, 10, 0),
        );
        assert_eq!(
            get(&clocks, SlaMetric::NextResponse).due_at,
            Some(sh(1, 12, 0))
        );
        // Pending on the customer pauses everything until 15:00.
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            PendingCustomer,
            &[SlaEvent::StatusChanged {
                from: Open,
                to: PendingCustomer,
            }],
            1,
            sh(1, 11, 0),
        );
        assert_eq!(
            clock_state(get(&clocks, SlaMetric::NextResponse), sh(1, 14, 0)),
            SlaState::Paused
        );
        assert_eq!(get(&clocks, SlaMetric::NextResponse).due_at, None);
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            Open,
            &[SlaEvent::StatusChanged {
                from: PendingCustomer,
                to: Open,
            }],
            1,
            sh(1, 15, 0),
        );
        assert_eq!(
            get(&clocks, SlaMetric::NextResponse).due_at,
            Some(sh(1, 16, 0))
        );
        // Resolution: 30 min on Monday + 2 h on Tuesday used before the pause → 5.5 h more from
        // 15:00 = 3 h today + 2.5 h on Wednesday.
        assert_eq!(
            get(&clocks, SlaMetric::Resolution).due_at,
            Some(sh(2, 11, 30))
        );
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            Resolved,
            &[SlaEvent::StatusChanged {
                from: Open,
                to: Resolved,
            }],
            1,
            sh(1, 16, 0),
        );
        assert!(clocks.iter().all(|c| c.clock.met_at.is_some()));
        assert_eq!(
            ticket_sla(&clocks, sh(3, 0, 0)).unwrap().state,
            SlaState::Met
        );
        // Reopened: resolution resumes with 3.5 h used, a next response starts.
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            Open,
            &[SlaEvent::StatusChanged {
                from: Resolved,
                to: Open,
            }],
            1,
            sh(2, 9, 0),
        );
        assert_eq!(
            get(&clocks, SlaMetric::Resolution).due_at,
            Some(sh(2, 13, 30))
        );
        assert_eq!(
            get(&clocks, SlaMetric::NextResponse).due_at,
            Some(sh(2, 11, 0))
        );
    }

    #[test]
    fn a_new_policy_keeps_the_time_used() {
        let (cal, mut p) = (china(), policy());
        let mut clocks = Vec::new();
        advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            TicketStatus::New,
            &[SlaEvent::Created],
            1,
            sh(0, 9, 0),
        );
        p.id = 8;
        p.first_response_minutes = Some(30);
        p.resolution_minutes = None;
        let removed = advance_clocks(
            &mut clocks,
            Some(&p),
            &cal,
            TicketStatus::Open,
            &[],
            1,
            sh(0, 9, 20),
        );
        assert_eq!(removed, vec![SlaMetric::Resolution]);
        let fr = get(&clocks, SlaMetric::FirstResponse);
        assert_eq!((fr.policy_id, fr.due_at), (8, Some(sh(0, 9, 30))));
    }

    #[test]
    fn policy_input_names_the_field() {
        let input = |json: &str| {
            serde_json::from_str::<SlaPolicyInput>(json)
                .unwrap()
                .validated()
        };
        let err = input(r#"{"name":"x","first_response_minutes":-5}"#).unwrap_err();
        assert!(
            err.message.starts_with("first_response_minutes"),
            "{}",
            err.message
        );
        let err = input(r#"{"name":"x"}"#).unwrap_err();
        assert!(err.message.contains("at least one target"));
        let err =
            input(r#"{"name":"x","resolution_minutes":5,"match":{"tier":"gold"}}"#).unwrap_err();
        assert!(err.message.starts_with("match.tier"));
        assert!(input(r#"{"name":" x ","resolution_minutes":5}"#).is_ok());
    }

    #[test]
    fn calendar_errors_name_the_part() {
        let cal = |json: &str| {
            validate_calendar(&CalendarInput {
                name: "c".into(),
                spec: serde_json::from_str(json).unwrap(),
                is_default: false,
            })
        };
        let err =
            cal(r#"{"time_zone":"Mars/Base","weekly":{"mon":[["09:00","18:00"]]}}"#).unwrap_err();
        assert!(err.message.starts_with("spec.time_zone"), "{}", err.message);
        let err =
            cal(r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","13:00"],["12:00","18:00"]]}}"#)
                .unwrap_err();
        assert!(err.message.starts_with("spec.weekly"), "{}", err.message);
        let err =
            cal(r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","18:00"]]},"holidays":["x"]}"#)
                .unwrap_err();
        assert!(err.message.starts_with("spec.holidays"), "{}", err.message);
    }
}
