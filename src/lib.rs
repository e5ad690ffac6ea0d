//! org-members: invite links, email invitations, pending users and role assignment for an
//! organization, as a stateless JSON REST service compatible with Label Studio's API.

pub mod auth;
pub mod cli;
pub mod db;
pub mod domain;
pub mod email;
pub mod entities;
pub mod error;
pub mod http;
pub mod maintenance;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod seed;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
