//! org-members: invite links, email invitations, pending users and role assignment for an
//! organization, as a stateless JSON REST service compatible with Label Studio's API.

pub mod affinity;
pub mod auth;
pub mod batches;
pub mod cli;
pub mod db;
pub mod domain;
pub mod email;
pub mod entities;
pub mod error;
pub mod idempotency;
pub mod inline_reads;
pub mod maintenance;
pub mod openapi;
pub mod rate_limit;
pub mod request_context;
pub mod routes;
pub mod seed;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod turns;
pub mod writes;
