//! HTTP plumbing the routes share: extractors and typed input, pagination links, the request's context, rate
//! limits and idempotent retries.

pub mod extractors;
pub mod idempotency;
pub mod input;
pub mod pagination;
pub mod rate_limit;
pub mod request_context;
