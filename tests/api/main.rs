//! The integration suite: one binary, one app and one database per test, run in parallel.

mod helpers;
mod smtp;

mod audit_log;
mod authorization_matrix;
mod email_delivery;
mod errors;
mod hostile_input;
mod invitations;
mod jwt_attacks;
mod log_capture;
mod members;
mod metrics;
mod openapi;
mod pages;
mod passwords;
mod role_rules;
mod safety;
mod signup;
mod sqlite_file;
mod startup_messages;
mod tokens;
