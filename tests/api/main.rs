//! The HTTP functions' tests: one harness binary (zero2prod style). Every test is an
//! `async fn(Backend)` that spawns an app — all four functions' routes over fresh stores —
//! and talks to it through `Router::oneshot` (or the Lambda event shape in `lambda`).
//! `api_tests!` expands each into a test against the embedded SQLite store, and with the
//! `cloud-tests` feature also one against Postgres, DynamoDB and Kinesis (the emulators
//! `scripts/test` starts).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod helpers;

mod accounts;
mod admin;
mod auth;
mod lambda;
mod market;
mod modules;
mod openapi;
mod orders;
mod races;
mod reports;
mod research;
mod security;
