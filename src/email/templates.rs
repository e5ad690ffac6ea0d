//! The emails the service sends, invitations and password resets, as plain text and HTML.

use chrono::{DateTime, Utc};

use crate::domain::Role;

/// A rendered message.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What an invitation email says.
pub struct InvitationEmail<'a> {
    pub organization: &'a str,
    pub inviter: &'a str,
    pub role: Role,
    pub expires_at: DateTime<Utc>,
    pub link: &'a str,
}

pub fn invitation(email: &InvitationEmail<'_>) -> Rendered {
    let expires = email.expires_at.format("%Y-%m-%d %H:%M UTC");
    let role = email.role.display_name();
    let subject = format!(
        "{} invited you to join {}",
        email.inviter, email.organization
    );
    let text = format!(
        "Hello,\n\n{inviter} invited you to join {organization} as {role}.\n\n\
         Create your account here:\n{link}\n\n\
         The invitation expires on {expires}. If you did not expect it, you can ignore this email.\n",
        inviter = email.inviter,
        organization = email.organization,
        link = email.link,
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>Hello,</p>\n\
         <p>{inviter} invited you to join <strong>{organization}</strong> as {role}.</p>\n\
         <p><a href=\"{link}\">Create your account</a></p>\n\
         <p>The invitation expires on {expires}. If you did not expect it, you can ignore this email.</p>\n\
         </body></html>\n",
        inviter = escape_html(email.inviter),
        organization = escape_html(email.organization),
        link = escape_html(email.link),
    );
    Rendered {
        subject: subject.chars().take(250).collect(),
        text,
        html,
    }
}

/// The email with a password reset link, valid for an hour.
pub fn password_reset(link: &str) -> Rendered {
    let text = format!(
        "Hello,\n\nSomeone asked to reset the password of the account with this address.\n\n\
         Choose a new password here (the link works once, for one hour):\n{link}\n\n\
         If it was not you, ignore this email: your password stays as it is.\n"
    );
    let html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>Hello,</p>\n\
         <p>Someone asked to reset the password of the account with this address.</p>\n\
         <p><a href=\"{link}\">Choose a new password</a> (the link works once, for one hour).</p>\n\
         <p>If it was not you, ignore this email: your password stays as it is.</p>\n\
         </body></html>\n",
        link = escape_html(link),
    );
    Rendered {
        subject: "Reset your password".to_owned(),
        text,
        html,
    }
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape_html(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bodies_name_the_organization_inviter_role_expiry_and_link_and_html_is_escaped() {
        let rendered = invitation(&InvitationEmail {
            organization: "<Acme & Co>",
            inviter: "Ada",
            role: Role::Reviewer,
            expires_at: DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            link: "https://x.org/user/signup/?token=abc",
        });
        assert_eq!(rendered.subject, "Ada invited you to join <Acme & Co>");
        for body in [&rendered.text, &rendered.html] {
            assert!(body.contains("Reviewer") && body.contains("2026-12-04 10:00 UTC"));
            assert!(body.contains("https://x.org/user/signup/?token=abc"));
        }
        assert!(rendered.html.contains("&lt;Acme &amp; Co&gt;"));
        assert!(!rendered.html.contains("<Acme"));
    }
}
