//! Email addresses: trimmed, checked, compared case-insensitively, displayed as typed.

use std::fmt;

/// A syntactically valid email address.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress {
    as_typed: String,
    normalized: String,
}

impl EmailAddress {
    /// Trims and validates `raw`; `None` when it is not an address.
    pub fn parse(raw: &str) -> Option<EmailAddress> {
        let trimmed = raw.trim();
        // ASCII only: look-alike letters from other scripts (a Cyrillic "о" for an "o") would
        // let one person pass for another; international domains go in their `xn--` form.
        if trimmed.len() > 254
            || !trimmed.is_ascii()
            || !validator::ValidateEmail::validate_email(&trimmed)
        {
            return None;
        }
        Some(EmailAddress {
            as_typed: trimmed.to_owned(),
            normalized: trimmed.to_lowercase(),
        })
    }

    /// The address as the person typed it (trimmed), for display.
    pub fn as_typed(&self) -> &str {
        &self.as_typed
    }

    /// The lower-cased form every comparison and lookup uses.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// A form safe for logs: the first character of the local part and the domain.
    pub fn redacted(&self) -> String {
        redact(&self.normalized)
    }
}

/// Hides all but the first character of an address's local part.
pub fn redact(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases_for_comparison_but_keeps_the_typed_form() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.ORG ").expect("valid");
        assert_eq!(email.as_typed(), "Ada.Lovelace@Example.ORG");
        assert_eq!(email.normalized(), "ada.lovelace@example.org");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for raw in [
            "",
            "plain",
            "a@",
            "@b.org",
            "a b@c.org",
            "a@b@c.org",
            "a\0@b.org",
            "\u{43e}wner@example.org",
            "owner@ex\u{430}mple.org",
        ] {
            assert!(EmailAddress::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_full_address() {
        let email = EmailAddress::parse("secret.person@example.org").expect("valid");
        assert_eq!(format!("{email:?}"), "EmailAddress(s***@example.org)");
    }
}
