//! The integration suite: one binary, one app and one database per test, run in parallel.

mod helpers;

mod errors;
mod members;
mod openapi;
mod role_rules;
mod signup;
mod tokens;
