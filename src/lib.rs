//! persona-role: the CloudFormation custom resource `Custom::SageMakerPersonaRole`.
//!
//! Data flows one way: [`properties`] → [`plan`] → IAM → response. The catalog and the planner
//! are pure and know nothing of AWS clients or HTTP.

pub mod admission;
pub mod arn;
pub mod aws;
#[cfg(feature = "cli")]
pub mod boundary;
pub mod catalog;
pub mod cfn;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod compare;
pub mod context;
#[cfg(feature = "cli")]
pub mod discover;
pub mod drift;
pub mod drift_report;
#[cfg(feature = "cli")]
pub mod export;
pub mod guardrails;
pub mod handler;
pub mod iam;
pub mod lifecycle;
pub mod logs;
pub mod metrics;
pub mod ownership;
pub mod partitions;
pub mod plan;
pub mod policy;
pub mod properties;
pub mod reconcile;
#[cfg(feature = "cli")]
pub mod reference;
pub mod request;
#[cfg(feature = "cli")]
pub mod schema;
pub mod time;
#[cfg(feature = "cli")]
pub mod usage;
#[cfg(feature = "cli")]
pub mod yaml;
