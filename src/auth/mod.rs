//! Who the caller is: JWT keys and claims, password hashing, and the authenticated-caller extractor.

pub mod caller;
pub mod caller_reads;
pub mod jwt;
pub mod password;
pub mod verified_tokens;

pub use caller::Caller;
pub use jwt::{Claims, JwtKeys, TokenType};
