//! The function's handler against moto and the CloudFormation stand-in, one module per concern,
//! in one binary: one moto and one stand-in serve every test, so each test names its roles,
//! policies and stacks by its own tag (never by a fresh server). Run one module with
//! `cargo test --test lambda -- lifecycle::`.
//!
//! `faults` puts the fault proxy between the handler and moto; `runtime` and `load` run the
//! compiled function behind a local Lambda Runtime API (`load`'s report is the machine's when it
//! runs alone: `cargo test --test lambda -- load:: --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod adoption;
mod contract;
mod failures;
mod faults;
mod guardrails;
mod lifecycle;
mod load;
mod metrics;
mod runtime;
mod stack_check;
mod trust;
