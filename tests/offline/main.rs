//! Everything that needs no server: properties, plans and their quotas, the goldens and the
//! generated files (schema, reference, README tables), the CLI in process, export, `usage` over
//! CloudTrail files, the execution role against the operation registry, the partitions and the
//! release's consistency. Run one module with `cargo test --test offline -- plan_golden::`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod examples;
mod execution_role;
mod export;
mod guardrails;
mod partitions;
mod plan_golden;
mod plan_quotas;
mod properties;
mod property_agreement;
mod reference;
mod release;
mod schema;
mod usage;
