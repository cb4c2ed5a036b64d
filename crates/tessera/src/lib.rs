//! tessera: a self-hosted authentication server that logs users in, issues signed JSON
//! Web Tokens and verifies them — and their user — on every request.
//!
//! The binary is a thin `main` over [`cli::run`]. See ARCHITECTURE.md for the map.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod cluster;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod password;
pub mod serve;
pub mod sessions;
pub mod throttle;
pub mod users;

pub use app::Application;
