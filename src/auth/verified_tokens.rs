//! Access tokens already verified, remembered until they expire, so the next request with the
//! same token skips its signature check and JSON. A client sends one access token with every
//! request for the token's life, and checking it again cost about a ninth of the service's CPU
//! on `GET /api/invite` (BENCHMARKS.md, session 22); Envoy's `jwt_authn` filter keeps such a
//! cache for the same reason.
//!
//! Only a token that passed `JwtKeys::verify` as an access token gets in, keyed by the whole
//! token: a token differing in one character is a different key, verified from scratch. Access
//! tokens are never revoked (the caller's user and membership are read on every request, and
//! decide), so what the check decided stays true until the token expires, when its entry stops
//! answering.

use std::sync::Mutex;

use chrono::Utc;
use hashlink::LruCache;

/// What a request needs of a verified access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub user_id: i32,
    pub organization_id: i32,
    /// `exp`, in seconds since the epoch.
    pub expires_at: i64,
}

/// The access tokens verified most recently, at most `capacity` of them: each entry is one
/// signed-in client's token (about 300 bytes), so the default's 4,096 take about 1.5 MiB.
pub struct VerifiedTokens {
    entries: Mutex<LruCache<Box<str>, Access>>,
    /// The clock skew `exp` is allowed, as the full check allows it.
    leeway_seconds: i64,
}

/// Entries kept by default.
pub const CAPACITY: usize = 4096;

impl VerifiedTokens {
    /// `leeway_seconds` as the full check is given it (`Validation::leeway`).
    pub fn new(capacity: usize, leeway_seconds: u64) -> VerifiedTokens {
        VerifiedTokens {
            entries: Mutex::new(LruCache::new(capacity)),
            leeway_seconds: i64::try_from(leeway_seconds).unwrap_or(i64::MAX),
        }
    }

    /// The access `token` grants, if it was verified and has not expired since (by the rule of
    /// the full check: expired once `exp` is more than the leeway in the past).
    pub fn get(&self, token: &str) -> Option<Access> {
        let now = Utc::now().timestamp();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let access = *entries.get(token)?;
        if access.expires_at < now - self.leeway_seconds {
            entries.remove(token);
            return None;
        }
        Some(access)
    }

    /// Remembers that `token` was verified and grants `access`.
    pub fn insert(&self, token: &str, access: Access) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(token.into(), access);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(expires_at: i64) -> Access {
        Access {
            user_id: 7,
            organization_id: 3,
            expires_at,
        }
    }

    #[test]
    fn a_remembered_token_answers_until_it_expires_past_the_leeway() {
        let now = Utc::now().timestamp();
        let tokens = VerifiedTokens::new(8, 5);
        tokens.insert("live", access(now + 60));
        tokens.insert("in-leeway", access(now - 3));
        tokens.insert("expired", access(now - 10));
        assert_eq!(tokens.get("live"), Some(access(now + 60)));
        assert_eq!(tokens.get("in-leeway"), Some(access(now - 3)));
        assert_eq!(tokens.get("expired"), None);
        assert_eq!(tokens.get("never-seen"), None);
    }

    #[test]
    fn the_least_recently_used_token_makes_room() {
        let later = Utc::now().timestamp() + 60;
        let tokens = VerifiedTokens::new(2, 0);
        tokens.insert("a", access(later));
        tokens.insert("b", access(later));
        assert!(tokens.get("a").is_some());
        tokens.insert("c", access(later));
        assert!(tokens.get("b").is_none(), "b was used least recently");
        assert!(tokens.get("a").is_some() && tokens.get("c").is_some());
    }
}
