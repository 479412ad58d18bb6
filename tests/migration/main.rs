//! The migration from Role Manager against moto seeded with console-made roles: `discover`
//! and `diff` (offline goldens and `--live`), in one binary with one moto. Its roles are named
//! apart from each other's by `console::unique`. Run one module with
//! `cargo test --test migration -- discover::`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod console;

mod diff;
mod discover;
