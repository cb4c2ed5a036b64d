//! The integration suite: one test binary, each test with its own real server on port 0,
//! its own SQLite file and a clock the test moves, spoken to over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod admin;
mod binary;
mod connections;
mod last_admin;
mod login;
mod metrics_listener;
mod robustness;
mod seeds;
mod sessions;
mod storage;
mod typos;
