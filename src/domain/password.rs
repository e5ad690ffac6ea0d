//! Passwords: length rules, and a wrapper whose `Debug` never shows the secret.

use std::fmt;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// A password that satisfies the length rules (counted in characters).
pub struct Password(String);

impl Password {
    /// `None` when the password is shorter than 8 or longer than 128 characters.
    pub fn parse(raw: String) -> Option<Password> {
        let length = raw.chars().count();
        (MIN_LENGTH..=MAX_LENGTH)
            .contains(&length)
            .then_some(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert!(Password::parse("short".into()).is_none());
        assert!(Password::parse("ééééééé".into()).is_none());
        assert!(Password::parse("éééééééé".into()).is_some());
        assert!(Password::parse("x".repeat(129)).is_none());
        assert!(Password::parse("x".repeat(128)).is_some());
    }
}
