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
