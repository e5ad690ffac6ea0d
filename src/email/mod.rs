//! Outgoing email: message templates, the transactional outbox, and the background sender that
//! delivers queued messages over SMTP with retries.

pub mod backoff;
pub mod outbox;
pub mod sender;
pub mod templates;
