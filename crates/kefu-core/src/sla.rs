//! SLA clocks: a target of working time (first response, next response, resolution) that runs in
//! business hours, may pause (a ticket pending on the customer, when the policy says so) and is met
//! or breached.
//!
//! A clock never stores a due time; it stores how much working time was used before the current
//! run and when the current run started. The due time follows from the calendar, so a changed
//! calendar or a pause moves it correctly, and the same clock answers "how much is left" at any time.

use crate::business_hours::Calendar;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// The state of one SLA target on one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    /// The target, in working milliseconds.
    pub target_ms: i64,
    /// Working time used in earlier runs (before the last pause).
    pub used_ms: i64,
    /// When the current run started; `None` while paused or stopped.
    pub running_since: Option<Millis>,
    /// When the target was met (the clock stopped for good).
    pub met_at: Option<Millis>,
}

/// Where a clock stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SlaStatus {
    /// Running: due at `due_at`; `left_ms` working time left (negative once breached).
    Running {
        due_at: Option<Millis>,
        left_ms: i64,
    },
    /// Paused with `left_ms` working time left (negative if it was breached before the pause).
    Paused { left_ms: i64 },
    /// Stopped: met in time or late.
    Met { at: Millis, late: bool },
}

impl SlaClock {
    /// A clock started at `at`.
    pub fn start(target_ms: i64, at: Millis) -> Self {
        SlaClock {
            target_ms,
            used_ms: 0,
            running_since: Some(at),
            met_at: None,
        }
    }

    /// Working time used up to `now`.
    pub fn used_at(&self, cal: &Calendar, now: Millis) -> i64 {
        self.used_ms
            + self
                .running_since
                .map_or(0, |since| cal.business_millis_between(since, now))
    }

    /// When the target falls due if the clock keeps running; `None` while paused or once met.
    pub fn due_at(&self, cal: &Calendar) -> Option<Millis> {
        let since = self.running_since?;
        // Already past the target: due when the used time reached it, which lies before `since`
        // only if it was breached before a pause; then the due time is the resume time itself.
        cal.add_business_millis(since, (self.target_ms - self.used_ms).max(0))
    }

    /// Pauses the clock (no effect when it is not running).
    pub fn pause(&mut self, cal: &Calendar, at: Millis) {
        if let Some(since) = self.running_since.take() {
            self.used_ms += cal.business_millis_between(since, at);
        }
    }

    /// Resumes a paused clock (no effect when running or met).
    pub fn resume(&mut self, at: Millis) {
        if self.running_since.is_none() && self.met_at.is_none() {
            self.running_since = Some(at);
        }
    }

    /// Stops the clock for good: the target was fulfilled at `at`.
    pub fn meet(&mut self, cal: &Calendar, at: Millis) {
        if self.met_at.is_none() {
            self.pause(cal, at);
            self.met_at = Some(at);
        }
    }

    /// Whether the target was (or is now) missed.
    pub fn breached(&self, cal: &Calendar, now: Millis) -> bool {
        self.used_at(cal, self.met_at.unwrap_or(now)) > self.target_ms
    }

    pub fn status(&self, cal: &Calendar, now: Millis) -> SlaStatus {
        if let Some(at) = self.met_at {
            return SlaStatus::Met {
                at,
                late: self.used_ms > self.target_ms,
            };
        }
        let left_ms = self.target_ms - self.used_at(cal, now);
        match self.running_since {
            Some(_) => SlaStatus::Running {
                due_at: self.due_at(cal),
                left_ms,
            },
            None => SlaStatus::Paused { left_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::business_hours::CalendarSpec;
    use proptest::prelude::*;

    const HOUR: i64 = 3_600_000;
    const MINUTE: i64 = 60_000;

    fn china() -> Calendar {
        Calendar::from_spec(&CalendarSpec::default_china()).unwrap()
    }

    /// 2026-11-23 (Monday) at a Shanghai wall-clock hour and minute.
    fn monday(day_offset: i64, h: i64, m: i64) -> Millis {
        let day = 20_780 + day_offset; // 2026-11-23
        Millis(day * 86_400_000 + (h - 8) * HOUR + m * MINUTE)
    }

    #[test]
    fn a_pause_moves_the_due_time_by_the_working_time_it_covered() {
        let cal = china();
        let mut clock = SlaClock::start(4 * HOUR, monday(0, 10, 0));
        assert_eq!(clock.due_at(&cal), Some(monday(0, 14, 0)));
        // Pending on the customer 11:00 → 16:00 (5 working hours).
        clock.pause(&cal, monday(0, 11, 0));
        assert_eq!(clock.due_at(&cal), None);
        assert_eq!(
            clock.status(&cal, monday(0, 15, 0)),
            SlaStatus::Paused { left_ms: 3 * HOUR }
        );
        clock.resume(monday(0, 16, 0));
        // 2 h today, 1 h tomorrow morning.
        assert_eq!(clock.due_at(&cal), Some(monday(1, 10, 0)));
        assert!(!clock.breached(&cal, monday(1, 9, 59)));
        assert!(clock.breached(&cal, monday(1, 10, 1)));
        clock.meet(&cal, monday(1, 9, 30));
        assert_eq!(
            clock.status(&cal, monday(3, 0, 0)),
            SlaStatus::Met {
                at: monday(1, 9, 30),
                late: false
            }
        );
    }

    #[test]
    fn a_clock_breached_before_a_pause_is_due_at_once_after_it() {
        let cal = china();
        let mut clock = SlaClock::start(HOUR, monday(0, 9, 0));
        clock.pause(&cal, monday(0, 12, 0));
        clock.resume(monday(0, 13, 0));
        assert_eq!(clock.due_at(&cal), Some(monday(0, 13, 0)));
        assert!(clock.breached(&cal, monday(0, 13, 0)));
        clock.meet(&cal, monday(0, 14, 0));
        assert!(matches!(
            clock.status(&cal, monday(0, 15, 0)),
            SlaStatus::Met { late: true, .. }
        ));
    }

    proptest! {
        /// However the clock is paused and resumed, the due time it shows while running is the
        /// instant at which used working time reaches the target.
        #[test]
        fn due_time_matches_used_time(
            target_min in 1i64..2_000,
            steps in proptest::collection::vec(1i64..3_000, 0..6),
        ) {
            let cal = china();
            let mut now = monday(0, 7, 13);
            let mut clock = SlaClock::start(target_min * MINUTE, now);
            for (i, step) in steps.iter().enumerate() {
                now = Millis(now.0 + step * MINUTE);
                if i % 2 == 0 { clock.pause(&cal, now) } else { clock.resume(now) }
            }
            clock.resume(now);
            let due = clock.due_at(&cal).unwrap();
            if clock.used_at(&cal, now) <= clock.target_ms {
                prop_assert_eq!(clock.used_at(&cal, due), clock.target_ms);
                prop_assert!(!clock.breached(&cal, due));
                prop_assert!(clock.breached(&cal, Millis(due.0 + 1)) || !cal.is_open(due));
            } else {
                prop_assert_eq!(due, now);
            }
        }
    }
}
