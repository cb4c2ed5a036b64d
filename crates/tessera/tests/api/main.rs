//! The integration suite: one test binary, each test with its own real server on port 0,
//! its own SQLite file (or, in `postgres`, its own PostgreSQL database) and a clock the test
//! moves, spoken to over HTTP; the cluster tests run several real processes on one
//! PostgreSQL database instead.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod accounts;
mod admin;
mod binary;
mod browser;
mod browser_security;
mod cli;
mod client;
mod cluster;
mod connections;
mod cors;
mod deploy;
mod downstream;
mod errors;
mod feed;
mod interop;
mod keys;
mod last_admin;
mod login;
mod login_log;
mod metrics_listener;
mod oauth;
mod openapi;
mod pages;
mod password;
mod pg;
mod postgres;
mod proxy;
mod readme;
mod robustness;
mod seeds;
mod sessions;
mod storage;
mod typos;
mod user_pages;
