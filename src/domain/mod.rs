//! Pure domain types with parse constructors: raw strings stop at the edge of the service.

pub mod audit;
pub mod email;
pub mod invitation;
pub mod page;
pub mod password;
pub mod role;
pub mod token;

pub use email::EmailAddress;
pub use password::Password;
pub use role::Role;

/// `text` with its case folded, the one way every search compares text: stored names are folded
/// with it when written, and search terms when asked, so the same spelling in any case matches on
/// every database (whose own `lower()` and `LIKE` may fold ASCII letters only).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// What the members search compares a person's name with: first and last name as one text.
pub fn folded_name(first_name: &str, last_name: &str) -> String {
    fold(&format!("{first_name} {last_name}"))
}
