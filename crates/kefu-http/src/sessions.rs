//! How long sessions live (issue 20, item 6).
//!
//! - **Visitor tokens** (shoppers) expire after [`Lifetimes::visitor_idle`] without a page view,
//!   and are rotated once older than [`Lifetimes::visitor_rotate_after`]: a returning shopper's
//!   session call gets a fresh token, and the replaced one keeps working for
//!   [`ROTATION_OVERLAP_MS`] so the shopper's other open tabs are not thrown out. A shop's page may
//!   also rotate (`POST /widget/sessions/rotate`) or end (`DELETE /widget/sessions`) a token, e.g.
//!   when the shopper signs in or out of the shop. A use is recorded once a day at most, on the
//!   session call (a page view), never on the message path.
//! - **Agent sessions** last 30 days, and optionally end after [`Lifetimes::agent_idle`] without
//!   a request. Each node records a session's use at most once a minute.

use kefu_core::time::Millis;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long a replaced visitor token keeps working.
pub const ROTATION_OVERLAP_MS: i64 = 10 * 60 * 1000;
/// A visitor token's use is recorded when the last record is older than this.
const VISITOR_TOUCH_EVERY_MS: i64 = 24 * 3600 * 1000;
/// An agent session's use is recorded when the last record is older than this.
const AGENT_TOUCH_EVERY_MS: i64 = 60 * 1000;

#[derive(Debug, Clone)]
pub struct Lifetimes {
    /// A visitor token unused this long no longer works.
    pub visitor_idle: Duration,
    /// A visitor token older than this is replaced on the shopper's next page view.
    pub visitor_rotate_after: Duration,
    /// An agent session unused this long ends; `None`: only the 30-day limit.
    pub agent_idle: Option<Duration>,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            // Half a year: a shopper's history should follow them between seasonal purchases.
            visitor_idle: Duration::from_secs(180 * 24 * 3600),
            visitor_rotate_after: Duration::from_secs(30 * 24 * 3600),
            agent_idle: None,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// [`Lifetimes`] plus this node's memory of when it last recorded each agent session's use.
pub struct SessionClock {
    pub lifetimes: Lifetimes,
    agent_touched: Mutex<HashMap<String, Millis>>,
}

impl SessionClock {
    pub fn new(lifetimes: Lifetimes) -> Self {
        Self {
            lifetimes,
            agent_touched: Mutex::default(),
        }
    }

    /// The oldest last use a visitor token may have at `now` and still work.
    pub fn visitor_used_since(&self, now: Millis) -> Millis {
        Millis(now.0.saturating_sub(ms(self.lifetimes.visitor_idle)))
    }

    /// Whether a token created at `created` is due for rotation at `now`.
    pub fn visitor_due_for_rotation(&self, created: Millis, now: Millis) -> bool {
        now.0.saturating_sub(created.0) >= ms(self.lifetimes.visitor_rotate_after)
    }

    /// Whether a token last used at `used` should have its use recorded at `now`.
    pub fn visitor_due_for_touch(&self, used: Millis, now: Millis) -> bool {
        now.0.saturating_sub(used.0) >= VISITOR_TOUCH_EVERY_MS
    }

    /// The oldest last use an agent session may have at `now`, when sessions end when idle.
    pub fn agent_seen_since(&self, now: Millis) -> Option<Millis> {
        self.lifetimes
            .agent_idle
            .map(|idle| Millis(now.0.saturating_sub(ms(idle))))
    }

    /// Whether this node should record the session's use now (idle timeout on, and not recorded
    /// in the last minute). Remembers the answer.
    pub fn agent_due_for_touch(&self, token_hash: &str, now: Millis) -> bool {
        if self.lifetimes.agent_idle.is_none() {
            return false;
        }
        let mut touched = self.agent_touched.lock().unwrap_or_else(|e| e.into_inner());
        if touched
            .get(token_hash)
            .is_some_and(|at| now.0 - at.0 < AGENT_TOUCH_EVERY_MS)
        {
            return false;
        }
        // Forget sessions not seen for a while, so the map holds only the active ones.
        if touched.len() > 10_000 {
            touched.retain(|_, at| now.0 - at.0 < AGENT_TOUCH_EVERY_MS);
        }
        touched.insert(token_hash.to_owned(), now);
        true
    }
}
