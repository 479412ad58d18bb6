//! What an IAM policy simulator this project did not write (`@cloud-copilot/iam-simulate`, run
//! by `tests/workflows/simulate.mjs`) decides of the plans, the permissions boundary and the
//! execution role, and of `usage`'s attribution. Run one module with
//! `cargo test --test simulated -- workflows::`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod boundary;
mod execution_role;
mod usage_attribution;
mod workflows;
