//! The integration suite: one binary, one app and one database per test, run in parallel.

mod helpers;
mod smtp;

mod audit_log;
mod email_delivery;
mod errors;
mod invitations;
mod members;
mod openapi;
mod role_rules;
mod safety;
mod signup;
mod tokens;
