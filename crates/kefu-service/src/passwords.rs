//! Passwords: argon2id hashing and checking off the async runtime, and the cap on checks running at
//! once. The login route, `kefu user create`, the demo seed and tests use these.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use kefu_core::{Error, ErrorCode, Result, token};

/// Hashes a password with argon2id off the async runtime (it is deliberately slow).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        // 128 random bits, hex-encoded (hex is valid salt alphabet).
        let random = token::generate("");
        let salt = SaltString::from_b64(&random[..32]).map_err(Error::internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(Error::internal)
    })
    .await
    .map_err(Error::internal)?
}

/// Checks a password against a stored hash, off the async runtime.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A dummy hash verified when the e-mail is unknown, so timing does not reveal which e-mails exist.
/// Password checks that may run at once, and how many may wait for one.
///
/// Each argon2id check takes 19 MiB and tens of milliseconds of a core: without a cap, 300
/// simultaneous logins from 300 addresses took the server to 2.3 GB. Past the queue, a login is
/// told to come back (429) instead of piling up.
pub struct PasswordChecks {
    running: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl PasswordChecks {
    pub fn new(concurrent: usize, max_waiting: usize) -> Self {
        Self {
            running: tokio::sync::Semaphore::new(concurrent.max(1)),
            waiting: Default::default(),
            max_waiting,
        }
    }

    /// [`verify_password`] within the cap; `rate_limited` when too many are already queued.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(
                ErrorCode::RateLimited,
                "too many sign-ins at once; try again in a moment",
            ));
        }
        let permit = self.running.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(Error::internal)?;
        Ok(verify_password(password, hash).await)
    }
}

impl Default for PasswordChecks {
    /// Two at once (one per core of a small server), 64 waiting.
    fn default() -> Self {
        Self::new(2, 64)
    }
}

pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9aW1XjVvfbJKk1b8yXoZp8FvT2dDDXv7w4sUZf3bq1o";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn password_checks_queue_is_bounded() {
        let checks = PasswordChecks::new(1, 0);
        let e = checks
            .verify("x".into(), DUMMY_HASH.into())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        let checks = PasswordChecks::new(1, 4);
        assert!(!checks.verify("x".into(), DUMMY_HASH.into()).await.unwrap());
        assert_eq!(checks.waiting.load(std::sync::atomic::Ordering::Acquire), 0);
    }
}
