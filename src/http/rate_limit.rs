//! Rate limits on the endpoints that guess at secrets or create accounts: login, signup, invite
//! lookup and accept, per client address and per email address (GCRA from `governor`), and
//! failed logins per client address and email together.
//!
//! The counters live in each instance's memory: with N instances behind a balancer a client gets
//! up to N times the limit. That is the documented trade-off for needing no shared store; the
//! password hash already bounds login guessing to about 60 per second per core.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use crate::http::request_context;
use crate::settings::Settings;

/// The limited actions; each has its own budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    Login,
    Signup,
    Lookup,
    Accept,
    /// Password changes and resets, requested and confirmed.
    Password,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Limited::Login => "login",
            Limited::Signup => "signup",
            Limited::Lookup => "lookup",
            Limited::Accept => "accept",
            Limited::Password => "password",
        }
    }
}

/// The limiters of one instance; `None` where the setting is 0 (off).
pub struct RateLimits {
    per_address: Option<DefaultKeyedRateLimiter<String>>,
    per_email: Option<DefaultKeyedRateLimiter<String>>,
    failed_logins: Option<FailedLogins>,
}

fn per_minute(limit: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(limit).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    pub fn new(settings: &Settings) -> RateLimits {
        RateLimits {
            per_address: per_minute(settings.rate_limit_per_address),
            per_email: per_minute(settings.rate_limit_per_email),
            failed_logins: (settings.rate_limit_per_email > 0)
                .then(|| FailedLogins::new(settings.rate_limit_per_email, Duration::from_secs(60))),
        }
    }

    /// Refuses a login for `email` from this client address once its failures fill the budget.
    /// Only this address's failures count, so a stranger guessing elsewhere locks out no one.
    pub fn check_login(&self, email: &str) -> Result<(), ApiError> {
        match &self.failed_logins {
            Some(failures) => failures
                .check(&login_key(email), Instant::now())
                .inspect_err(|_| counted_refusal("failed_logins")),
            None => Ok(()),
        }
    }

    /// Records a wrong password for `email` from this client address.
    pub fn count_failed_login(&self, email: &str) {
        if let Some(failures) = &self.failed_logins {
            failures.count(login_key(email), Instant::now());
        }
    }

    /// A correct password starts this address's count for `email` afresh.
    pub fn forget_failed_logins(&self, email: &str) {
        if let Some(failures) = &self.failed_logins {
            failures.forget(&login_key(email));
        }
    }

    /// Counts one `action` from the client address of the request being served.
    pub fn check_address(&self, action: Limited) -> Result<(), ApiError> {
        match (&self.per_address, request_context::client_address()) {
            (Some(limiter), Some(address)) => {
                check(limiter, format!("{}:{address}", action.name())).inspect_err(|_| {
                    counted_refusal(action.name());
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts one `action` for an email address (normalized by the caller).
    pub fn check_email(&self, action: Limited, email: &str) -> Result<(), ApiError> {
        match &self.per_email {
            Some(limiter) => check(limiter, format!("{}:{email}", action.name()))
                .inspect_err(|_| counted_refusal(action.name())),
            None => Ok(()),
        }
    }

    /// Forgets keys whose budget is full again, so memory follows recent traffic only.
    pub fn forget_idle(&self) {
        for limiter in [&self.per_address, &self.per_email].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(failures) = &self.failed_logins {
            failures.forget_expired(Instant::now());
        }
    }
}

fn counted_refusal(limit: &str) {
    crate::metrics::RATE_LIMITED
        .with_label_values(&[limit])
        .inc();
}

fn login_key(email: &str) -> String {
    let address = request_context::client_address().unwrap_or_default();
    format!("{address} {email}")
}

/// Failures counted in a fixed window from the first one. A GCRA limiter cannot be asked whether
/// the next attempt would pass without spending it, and here only failures may spend.
struct FailedLogins {
    limit: u32,
    window: Duration,
    /// Key -> (start of the window, failures in it).
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl FailedLogins {
    fn new(limit: u32, window: Duration) -> FailedLogins {
        FailedLogins {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, key: &str, now: Instant) -> Result<(), ApiError> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match counts.get(key) {
            Some(&(start, failures)) if failures >= self.limit && now < start + self.window => {
                Err(ApiError::too_many_requests(
                    (start + self.window - now).max(Duration::from_secs(1)),
                ))
            }
            _ => Ok(()),
        }
    }

    fn count(&self, key: String, now: Instant) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = counts.entry(key).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    fn forget(&self, key: &str) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.remove(key);
    }

    fn forget_expired(&self, now: Instant) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.retain(|_, (start, _)| now < *start + self.window);
        counts.shrink_to_fit();
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), ApiError> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(wait.max(Duration::from_secs(1)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_budget_is_refused_with_a_wait_and_keys_are_separate() {
        let limiter = per_minute(2).expect("on");
        assert!(check(&limiter, "login:a".into()).is_ok());
        assert!(check(&limiter, "login:a".into()).is_ok());
        let Err(ApiError::RetryLater { retry_after, .. }) = check(&limiter, "login:a".into())
        else {
            panic!("third attempt in a minute must be refused");
        };
        assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(30));
        assert!(check(&limiter, "login:b".into()).is_ok());
        assert!(per_minute(0).is_none());
    }

    #[test]
    fn failed_logins_fill_their_own_key_for_one_window() {
        let failures = FailedLogins::new(2, Duration::from_secs(60));
        let start = Instant::now();
        failures.count("a x@y".into(), start);
        assert!(failures.check("a x@y", start).is_ok());
        failures.count("a x@y".into(), start);
        assert!(
            failures
                .check("a x@y", start + Duration::from_secs(59))
                .is_err()
        );
        assert!(failures.check("b x@y", start).is_ok());
        assert!(
            failures
                .check("a x@y", start + Duration::from_secs(60))
                .is_ok()
        );
        failures.forget_expired(start + Duration::from_secs(60));
        assert!(failures.counts.lock().is_ok_and(|counts| counts.is_empty()));
    }
}
