//! Rate limits on the endpoints that guess at secrets or create accounts: login, signup, invite
//! lookup and accept, per client address and per email address (GCRA from `governor`).
//!
//! The counters live in each instance's memory: with N instances behind a balancer a client gets
//! up to N times the limit. That is the documented trade-off for needing no shared store; the
//! password hash already bounds login guessing to about 60 per second per core.

use std::num::NonZeroU32;
use std::time::Duration;

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
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Limited::Login => "login",
            Limited::Signup => "signup",
            Limited::Lookup => "lookup",
            Limited::Accept => "accept",
        }
    }
}

/// The limiters of one instance; `None` where the setting is 0 (off).
pub struct RateLimits {
    per_address: Option<DefaultKeyedRateLimiter<String>>,
    per_email: Option<DefaultKeyedRateLimiter<String>>,
}

fn per_minute(limit: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(limit).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl RateLimits {
    pub fn new(settings: &Settings) -> RateLimits {
        RateLimits {
            per_address: per_minute(settings.rate_limit_per_address),
            per_email: per_minute(settings.rate_limit_per_email),
        }
    }

    /// Counts one `action` from the client address of the request being served.
    pub fn check_address(&self, action: Limited) -> Result<(), ApiError> {
        match (&self.per_address, request_context::client_address()) {
            (Some(limiter), Some(address)) => {
                check(limiter, format!("{}:{address}", action.name()))
            }
            _ => Ok(()),
        }
    }

    /// Counts one `action` for an email address (normalized by the caller).
    pub fn check_email(&self, action: Limited, email: &str) -> Result<(), ApiError> {
        match &self.per_email {
            Some(limiter) => check(limiter, format!("{}:{email}", action.name())),
            None => Ok(()),
        }
    }

    /// Forgets keys whose budget is full again, so memory follows recent traffic only.
    pub fn forget_idle(&self) {
        for limiter in [&self.per_address, &self.per_email].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), ApiError> {
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::TooManyRequests {
            retry_after: wait.max(Duration::from_secs(1)),
        }
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
        let Err(ApiError::TooManyRequests { retry_after }) = check(&limiter, "login:a".into())
        else {
            panic!("third attempt in a minute must be refused");
        };
        assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(30));
        assert!(check(&limiter, "login:b".into()).is_ok());
        assert!(per_minute(0).is_none());
    }
}
