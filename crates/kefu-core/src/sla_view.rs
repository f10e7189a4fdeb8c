//! What a ticket's SLA looks like in the API: the metrics, the states of a clock and the `sla`
//! field of a ticket. Shared by `tickets` (the field) and `sla_policies` (which computes it), so
//! neither of the two has to import the other for it.

use crate::model::{Id, string_enum};
use crate::time::Millis;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum!(
    /// The three targets an SLA policy can set.
    SlaMetric { FirstResponse => "first_response", NextResponse => "next_response", Resolution => "resolution" }
);

impl SlaMetric {
    pub const ALL: [SlaMetric; 3] = [
        SlaMetric::FirstResponse,
        SlaMetric::NextResponse,
        SlaMetric::Resolution,
    ];
}

string_enum!(
    /// Where a clock (or a ticket, by its worst clock) stands: `ok` running in time, `warning`
    /// within the policy's warning lead, `breached` past due, `paused`, `met`.
    SlaState { Ok => "ok", Warning => "warning", Breached => "breached", Paused => "paused", Met => "met" }
);

impl SlaState {
    /// Worse first: what a ticket shows when its clocks disagree.
    pub(crate) fn severity(self) -> u8 {
        match self {
            SlaState::Breached => 4,
            SlaState::Warning => 3,
            SlaState::Ok => 2,
            SlaState::Paused => 1,
            SlaState::Met => 0,
        }
    }
}

/// One clock as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SlaClockView {
    pub metric: SlaMetric,
    pub state: SlaState,
    /// When it falls due (while running).
    pub due_at: Option<Millis>,
    /// When the warning starts (while running, if the policy warns).
    pub warn_at: Option<Millis>,
    /// Working time used so far, and the target, in milliseconds.
    pub used_ms: i64,
    pub target_ms: i64,
    pub met_at: Option<Millis>,
    /// Met after the target.
    pub late: bool,
    pub breached_at: Option<Millis>,
}

/// A ticket's SLA: its worst clock's state and every clock.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct TicketSla {
    pub state: SlaState,
    pub policy_id: Id,
    /// The earliest due time among running clocks.
    pub next_due_at: Option<Millis>,
    pub clocks: Vec<SlaClockView>,
}
