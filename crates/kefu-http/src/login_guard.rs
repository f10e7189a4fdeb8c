//! Login guessing limited per account, not only per address.
//!
//! The per-address limit ([`crate::RateLimits::login`]) stops one client; a botnet of many
//! addresses guessing one account's password is stopped here: after [`FREE_FAILURES`] wrong
//! passwords for an account, each further attempt on it must wait a delay that doubles with every
//! failure, up to [`MAX_DELAY`]. While an account waits, attempts are refused before the password
//! is checked (no argon2 work, and a right guess teaches nothing). The account's owner is only
//! slowed, never locked out for long, and an admin can lift the wait at once
//! (`POST /api/v1/agents/{id}/unlock`). Other accounts behind the same office address are
//! untouched: the delay is the account's, not the address's.
//!
//! Kept in memory per node: a restart forgets it, which at worst gives an attacker a few more
//! free guesses; argon2id's cost and the per-address limit still hold.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords an account may see before delays start.
pub const FREE_FAILURES: u32 = 5;
/// The first delay; each further failure doubles it.
const FIRST_DELAY: Duration = Duration::from_secs(2);
/// The longest delay between two attempts on one account.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Accounts tracked at most (a flood of made-up e-mails must not grow memory without bound).
const MAX_ACCOUNTS: usize = 100_000;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    /// No attempt is checked before this instant.
    wait_until: Instant,
}

#[derive(Default)]
pub struct LoginGuard {
    accounts: Mutex<HashMap<String, Failures>>,
}

/// The key of an account: its e-mail as logins match it (trimmed, case-insensitive).
fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl LoginGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(wait)` when the account must wait before its next attempt.
    pub fn check(&self, email: &str, now: Instant) -> Result<(), Duration> {
        match self.lock().get(&key(email)) {
            Some(f) if f.wait_until > now => Err(f.wait_until - now),
            _ => Ok(()),
        }
    }

    /// Records a wrong password for the account.
    pub fn failed(&self, email: &str, now: Instant) {
        let mut accounts = self.lock();
        if accounts.len() >= MAX_ACCOUNTS {
            accounts.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if accounts.len() >= MAX_ACCOUNTS {
                accounts.clear();
            }
        }
        let f = accounts.entry(key(email)).or_insert(Failures {
            count: 0,
            last: now,
            wait_until: now,
        });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count > FREE_FAILURES {
            let doublings = (f.count - FREE_FAILURES - 1).min(16);
            let delay = FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
            f.wait_until = now + delay;
        }
    }

    /// A right password (or an admin's unlock) clears the account's record.
    pub fn clear(&self, email: &str) {
        self.lock().remove(&key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_free_failures_and_grow() {
        let guard = LoginGuard::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(guard.check("A@x.cn", t0).is_ok());
            guard.failed("a@x.cn", t0);
        }
        assert!(guard.check("a@x.cn", t0).is_ok(), "no delay yet");
        guard.failed(" A@X.cn ", t0);
        assert_eq!(guard.check("a@x.cn", t0), Err(FIRST_DELAY));
        let t1 = t0 + FIRST_DELAY;
        assert!(guard.check("a@x.cn", t1).is_ok(), "the wait is over");
        guard.failed("a@x.cn", t1);
        assert_eq!(guard.check("a@x.cn", t1), Err(FIRST_DELAY * 2), "doubled");
        // Another account (the same office address) is untouched.
        assert!(guard.check("b@x.cn", t1).is_ok());
        // Many failures are capped.
        for _ in 0..40 {
            guard.failed("a@x.cn", t1);
        }
        assert_eq!(guard.check("a@x.cn", t1), Err(MAX_DELAY));
        guard.clear("a@x.cn");
        assert!(guard.check("a@x.cn", t1).is_ok(), "unlocked");
    }

    #[test]
    fn old_failures_are_forgotten() {
        let guard = LoginGuard::default();
        let t0 = Instant::now();
        for _ in 0..=FREE_FAILURES {
            guard.failed("a@x.cn", t0);
        }
        let later = t0 + FORGET_AFTER;
        assert!(guard.check("a@x.cn", later).is_ok());
        guard.failed("a@x.cn", later);
        assert!(guard.check("a@x.cn", later).is_ok(), "counting starts over");
    }
}
