//! sea-orm entities, one per table, in the generated style: columns and relations only. Behaviour
//! lives in `services/`; timestamps are naive values holding UTC (see the migration's `column.rs`),
//! and `timestamp` reads them faster where a response reads many.

pub mod audit_event;
pub mod email_outbox;
pub mod idempotency_key;
pub mod instance_setting;
pub mod invitation;
pub mod issued_token;
pub mod member_count;
pub mod membership;
pub mod organization;
pub mod password_reset;
pub mod timestamp;
pub mod user;
