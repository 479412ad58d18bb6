//! The function's handler against moto and the CloudFormation stand-in, one module per concern,
//! in one binary: one moto and one stand-in serve every test, so each test names its roles,
//! policies and stacks by its own tag (never by a fresh server). Run one module with
//! `cargo test --test lambda -- lifecycle::`.
//!
//! `faults` puts the fault proxy between the handler and moto; `runtime` runs the compiled
//! function behind a local Lambda Runtime API. The load test has a binary of its own
//! (`tests/lambda_load.rs`), so that its report measures the function alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod adoption;
mod failures;
mod faults;
mod guardrails;
mod lifecycle;
mod metrics;
mod runtime;
mod stack_check;
mod trust;
