//! persona-role: the CloudFormation custom resource `Custom::SageMakerPersonaRole`.
//!
//! Data flows one way: [`properties`] → [`plan`] → IAM → response. The catalog and the planner
//! are pure and know nothing of AWS clients or HTTP.

pub mod boundary;
pub mod catalog;
pub mod cfn;
pub mod cli;
pub mod cloudformation;
pub mod compare;
pub mod context;
pub mod discover;
pub mod export;
pub mod guardrails;
pub mod handler;
pub mod iam;
pub mod lifecycle;
pub mod metrics;
pub mod ownership;
pub mod partitions;
pub mod plan;
pub mod properties;
pub mod reference;
pub mod schema;
pub mod stack_check;
pub mod time;
pub mod usage;
pub mod yaml;
