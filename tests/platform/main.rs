//! The platform end to end, as a user meets it: `stratus up` (in process, over real TCP
//! and a real WebSocket; and as a process that is killed with SIGKILL and restarted).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

mod brokers;
mod e2e;
mod recovery;
