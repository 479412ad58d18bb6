//! What a role really did, from CloudTrail, against what its declaration grants: which plan
//! statement allowed each call, which activities were never used, and which declaration changes
//! would allow the calls IAM refused. Pure but for [`records`], which reads files. [`run`] is
//! the one call: a trail and a declaration in, the report and the proposed declaration out, as
//! data the CLI renders.
//!
//! [`records`] streams CloudTrail's files into [`mapping::Event`]s; [`mapping`] turns each into
//! the [`Authorization`]s its call needed; [`attribution`] decides them on the plan's statements
//! as IAM does; [`suggest`] finds the declaration change that allows a refused call; [`report`]
//! tallies it all.

pub mod attribution;
pub mod mapping;
pub mod records;
pub mod report;
mod run;
pub mod suggest;

pub use run::{Input, Outcome, Proposal, Trail, UsageError, run};

use std::collections::{BTreeMap, BTreeSet};

/// One request IAM decided: the action, the resource (unknown when CloudTrail does not say) and
/// the condition keys the record shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Authorization {
    pub action: String,
    pub resource: Option<String>,
    pub context: Context,
}

/// Condition keys of a request as CloudTrail shows them. A key is known with its values,
/// known absent (observed, without values: the request had none), or unknown (CloudTrail does not
/// show it, such as Studio's session variables or a resource's own properties). Keys compare
/// ignoring case, as IAM's do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
    observed: BTreeSet<String>,
    /// Keys the request has, whose values the record does not show (the owner of the space an
    /// app is created in).
    present: BTreeSet<String>,
}

/// A condition key of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    Present(&'a [String]),
    /// In the request, with values the record does not show.
    PresentUnknown,
    Absent,
    Unknown,
}

impl Context {
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        self.observed.insert(key.clone());
        self.values.insert(key, values);
    }

    /// The key is shown by the record: without values, the request had none.
    pub fn observe(&mut self, key: &str) {
        self.observed.insert(key.to_ascii_lowercase());
    }

    /// The request has the key, but the record does not show its values.
    pub fn present(&mut self, key: &str) {
        self.present.insert(key.to_ascii_lowercase());
    }

    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    pub fn lookup(&self, key: &str) -> Lookup<'_> {
        let lower = key.to_ascii_lowercase();
        if let Some(values) = self.values.get(&lower) {
            return Lookup::Present(values);
        }
        if self.present.contains(&lower) {
            return Lookup::PresentUnknown;
        }
        // The request's tags are all known when its tag keys are.
        let observed = self.observed.contains(&lower)
            || (lower.starts_with("aws:requesttag/") && self.observed.contains("aws:tagkeys"));
        if observed {
            Lookup::Absent
        } else {
            Lookup::Unknown
        }
    }

    /// Keys with values, lower-cased.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}
