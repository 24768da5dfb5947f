//! Password hashing (bcrypt, cost 10, as the official server) off the async runtime, and a
//! guard that slows down password guessing: at most two hashes run at once, and an account
//! that failed too many logins in a row is refused for a while without hashing at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polaris_types::{Code, PolarisError, Result};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The official cost factor.
pub const COST: u32 = 10;
/// Failed logins in a row after which an account is locked.
pub const MAX_FAILURES: u32 = 10;
/// How long a locked account stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(60);

/// Hashes `password` at `cost` on the blocking pool.
pub async fn hash(password: String, cost: u32) -> Result<String> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| PolarisError::new(Code::ExecuteException, e.to_string()))?
        .map_err(|e| PolarisError::new(Code::ExecuteException, e.to_string()))
}

/// Whether `password` matches `hash`, checked on the blocking pool.
pub async fn verify(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

#[derive(Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

/// Per-account failure counts and the bound on concurrent hashing.
pub struct LoginGuard {
    failures: Mutex<HashMap<String, Failures>>,
    hashing: Arc<Semaphore>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            failures: Mutex::new(HashMap::new()),
            hashing: Arc::new(Semaphore::new(2)),
        }
    }
}

impl LoginGuard {
    /// Refuses an account that is locked out.
    pub fn admit(&self, account: &str) -> Result<()> {
        let failures = self.failures.lock();
        match failures.get(account).and_then(|f| f.locked_until) {
            Some(until) if Instant::now() < until => Err(PolarisError::new(
                Code::ApiRateLimit,
                "too many failed logins for this account, try again later",
            )),
            _ => Ok(()),
        }
    }

    /// Checks a password, holding one of the hashing permits.
    pub async fn verify(&self, password: String, hash: String) -> bool {
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        verify(password, hash).await
    }

    /// Records the outcome of a login attempt for `account`.
    pub fn record(&self, account: &str, success: bool) {
        let mut failures = self.failures.lock();
        if success {
            failures.remove(account);
            return;
        }
        // Bound the table: a flood of made-up names must not grow it without limit.
        if failures.len() >= 100_000 {
            failures.retain(|_, f| f.locked_until.is_some());
        }
        let entry = failures.entry(account.to_string()).or_default();
        if entry
            .locked_until
            .is_some_and(|until| Instant::now() >= until)
        {
            *entry = Failures::default();
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES {
            entry.locked_until = Some(Instant::now() + LOCKOUT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_account_is_locked_after_ten_failures_and_unlocked_after_a_minute() {
        let guard = LoginGuard::default();
        for _ in 0..MAX_FAILURES - 1 {
            guard.record("polaris", false);
        }
        assert!(guard.admit("polaris").is_ok());
        guard.record("polaris", false);
        assert_eq!(guard.admit("polaris").unwrap_err().code, Code::ApiRateLimit);
        assert!(guard.admit("other").is_ok());
        tokio::time::advance(LOCKOUT).await;
        assert!(guard.admit("polaris").is_ok());
        guard.record("polaris", false);
        assert!(
            guard.admit("polaris").is_ok(),
            "the count restarts after a lockout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_the_count() {
        let guard = LoginGuard::default();
        for _ in 0..MAX_FAILURES - 1 {
            guard.record("u", false);
        }
        guard.record("u", true);
        guard.record("u", false);
        assert!(guard.admit("u").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_the_default_admin_hash_is_polaris() {
        let hashed = hash("secret123".to_string(), COST).await.unwrap();
        assert!(verify("secret123".to_string(), hashed.clone()).await);
        assert!(!verify("secret124".to_string(), hashed).await);
        assert!(
            verify(
                "polaris".to_string(),
                crate::DEFAULT_ADMIN_PASSWORD_HASH.to_string()
            )
            .await
        );
    }
}
