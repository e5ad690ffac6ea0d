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
        if trimmed.len() > MAX_LENGTH || !is_address(trimmed) {
            return None;
        }
        Some(EmailAddress {
            as_typed: trimmed.to_owned(),
            normalized: super::fold(trimmed),
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

/// The longest address SMTP can carry (RFC 5321's 256-octet path, less its angle brackets).
const MAX_LENGTH: usize = 254;

/// `local@domain` as this service takes it, a strict subset of RFC 5321: every address ends up in
/// the headers and body of emails, in logs and on pages, so none may carry a control character,
/// a space, a quote, an angle bracket or a line break.
/// - ASCII only: look-alike letters from other scripts (a Cyrillic "о" for an "o") would let one
///   person pass for another; international domains go in their `xn--` form.
/// - The local part is a dot-atom (RFC 5322): letters, digits and ``!#$%&'*+/=?^_`{|}~-``, in
///   runs separated by single dots; no quoted strings.
/// - The domain is a host name of two labels or more, each of letters, digits and inner hyphens,
///   the last not all digits. No IP literals: invitations go to people at named domains.
fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.is_ascii() && is_dot_atom(local) && local.len() <= 64 && is_host_name(domain)
}

fn is_dot_atom(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    local
        .split('.')
        .all(|run| !run.is_empty() && run.chars().all(atext))
}

fn is_host_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let is_label = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(is_label)
        && labels
            .last()
            .is_some_and(|top| !top.chars().all(|c| c.is_ascii_digit()))
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
            // Whatever precedes an IP literal passed the `validator` crate's check.
            "x@evil.example\r\nBcc: victim.example[10.0.0.1]",
            "x\u{1b}[31m@evil.example[10.0.0.1]",
            "<b>x</b>@a[1.2.3.4]",
            "a   b@c[1.2.3.4]",
            "a\0@b[1.2.3.4]",
            "a@[1.2.3.4]",
            "a@1.2.3.4",
            "a@localhost",
            "\"quoted\"@example.org",
            ".a@example.org",
            "a..b@example.org",
            "a.@example.org",
            "a@-example.org",
            "a@example-.org",
            "a@example..org",
            "a@example.org.",
            "a@exa_mple.org",
            "a\t@example.org",
            "a\u{2028}@example.org",
        ] {
            assert!(EmailAddress::parse(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn accepts_the_addresses_people_have() {
        for raw in [
            "ada@example.org",
            "Ada.Lovelace+invites@Mail.Example.ORG",
            "o'brien@example.ie",
            "x_y-z@sub-domain.example.co.uk",
            "user@xn--bcher-kva.example",
            "a!#$%&'*/=?^`{|}~@example.org",
            "1@123.example.com",
        ] {
            assert!(EmailAddress::parse(raw).is_some(), "{raw:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_full_address() {
        let email = EmailAddress::parse("secret.person@example.org").expect("valid");
        assert_eq!(format!("{email:?}"), "EmailAddress(s***@example.org)");
    }
}
