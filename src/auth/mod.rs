//! Who the caller is: JWT keys and claims, password hashing, and the authenticated-caller extractor.

pub mod caller;
pub mod jwt;
pub mod password;

pub use caller::Caller;
pub use jwt::{Claims, JwtKeys, TokenType};
