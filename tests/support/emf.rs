//! A validator of CloudWatch embedded metric format (EMF) documents, written from the
//! specification ("Specification: Embedded metric format", Amazon CloudWatch User Guide) and
//! the limits of the CloudWatch API it feeds (MetricDatum, Dimension):
//!
//! - the log event is one JSON object, nothing before or after it, at most 1 MB;
//! - the root holds `_aws`, an object with `Timestamp` (a whole number of milliseconds since
//!   the epoch) and `CloudWatchMetrics` (an array of MetricDirectives), and no other member;
//! - a MetricDirective holds exactly `Namespace` (a string of 1-255 characters, not starting
//!   with `:`), `Dimensions` (an array of at least one DimensionSet) and `Metrics` (an array of
//!   at most 100 MetricDefinitions);
//! - a DimensionSet is an array of at most 30 dimension keys (strings of 1-255 ASCII
//!   characters, not starting with `:`), each a root member whose value is a string (1-1024
//!   characters);
//! - a MetricDefinition holds `Name` (1-255 characters) and optionally `Unit` (one of
//!   CloudWatch's units) and `StorageResolution` (1 or 60), nothing else; its target member on
//!   the root is a number or an array of at most 100 numbers;
//! - target members are root members, never nested (a reference is a member name, not a path).
//!
//! Stricter than the specification where this project's documents must be: a metric name is
//! used once per directive and is never also a dimension key.

use std::collections::BTreeSet;

use serde_json::Value;

/// The units CloudWatch accepts (MetricDatum's `Unit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// 2001-09-09 and 2286-11-20 in milliseconds: a timestamp outside is in seconds or
/// microseconds.
const MILLISECONDS: std::ops::Range<u64> = 1_000_000_000_000..10_000_000_000_000;

/// Checks one log line; the parsed document, or every violation found.
pub fn validate(line: &str) -> Result<Value, Vec<String>> {
    let mut errors = Vec::new();
    if line.len() > MAX_EVENT_BYTES {
        errors.push(format!("{} bytes, over {MAX_EVENT_BYTES}", line.len()));
    }
    if line.contains('\n') {
        errors.push("more than one line".to_owned());
    }
    // serde_json refuses trailing data: nothing may follow the object.
    let document: Value = match serde_json::from_str(line) {
        Ok(document) => document,
        Err(e) => return Err(vec![format!("not one JSON value: {e}")]),
    };
    let Some(root) = document.as_object() else {
        return Err(vec!["the root is not an object".to_owned()]);
    };
    let Some(metadata) = root.get("_aws").and_then(Value::as_object) else {
        return Err(vec!["no `_aws` object".to_owned()]);
    };
    for key in metadata.keys() {
        if key != "Timestamp" && key != "CloudWatchMetrics" {
            errors.push(format!("`_aws` has an unknown member `{key}`"));
        }
    }
    match metadata.get("Timestamp").and_then(Value::as_u64) {
        Some(ms) if MILLISECONDS.contains(&ms) => {}
        Some(other) => errors.push(format!("Timestamp {other} is not in milliseconds")),
        None => errors.push("no whole-number Timestamp".to_owned()),
    }
    let Some(directives) = metadata.get("CloudWatchMetrics").and_then(Value::as_array) else {
        errors.push("no `CloudWatchMetrics` array".to_owned());
        return Err(errors);
    };
    for (d, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{d}]");
        let Some(directive) = directive.as_object() else {
            errors.push(format!("{at} is not an object"));
            continue;
        };
        for key in directive.keys() {
            if !["Namespace", "Dimensions", "Metrics"].contains(&key.as_str()) {
                errors.push(format!("{at} has an unknown member `{key}`"));
            }
        }
        match directive.get("Namespace").and_then(Value::as_str) {
            Some(ns) if (1..=255).contains(&ns.chars().count()) && !ns.starts_with(':') => {}
            other => errors.push(format!("{at}.Namespace {other:?} is not a valid namespace")),
        }
        let mut dimension_keys = BTreeSet::new();
        match directive.get("Dimensions").and_then(Value::as_array) {
            Some(sets) if !sets.is_empty() => {
                for (s, set) in sets.iter().enumerate() {
                    let Some(keys) = set.as_array() else {
                        errors.push(format!("{at}.Dimensions[{s}] is not an array"));
                        continue;
                    };
                    if keys.len() > MAX_DIMENSIONS_PER_SET {
                        errors.push(format!(
                            "{at}.Dimensions[{s}] has {} keys, over {MAX_DIMENSIONS_PER_SET}",
                            keys.len()
                        ));
                    }
                    for key in keys {
                        let Some(key) = key.as_str() else {
                            errors.push(format!("{at}.Dimensions[{s}] holds a non-string"));
                            continue;
                        };
                        if !(1..=255).contains(&key.len())
                            || !key.is_ascii()
                            || key.starts_with(':')
                        {
                            errors.push(format!("dimension key `{key}` is not a valid name"));
                        }
                        match root.get(key) {
                            Some(Value::String(value))
                                if (1..=1024).contains(&value.chars().count()) => {}
                            Some(Value::String(value)) => errors.push(format!(
                                "dimension `{key}` has a value of {} characters",
                                value.chars().count()
                            )),
                            Some(_) => errors.push(format!("dimension `{key}` is not a string")),
                            None => errors.push(format!("dimension `{key}` is not a root member")),
                        }
                        dimension_keys.insert(key.to_owned());
                    }
                }
            }
            _ => errors.push(format!("{at}.Dimensions is not a non-empty array")),
        }
        let Some(metrics) = directive.get("Metrics").and_then(Value::as_array) else {
            errors.push(format!("{at}.Metrics is not an array"));
            continue;
        };
        if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
            errors.push(format!(
                "{at}.Metrics has {} definitions, over {MAX_METRICS_PER_DIRECTIVE}",
                metrics.len()
            ));
        }
        let mut names = BTreeSet::new();
        for (m, definition) in metrics.iter().enumerate() {
            let at = format!("{at}.Metrics[{m}]");
            let Some(definition) = definition.as_object() else {
                errors.push(format!("{at} is not an object"));
                continue;
            };
            for key in definition.keys() {
                if !["Name", "Unit", "StorageResolution"].contains(&key.as_str()) {
                    errors.push(format!("{at} has an unknown member `{key}`"));
                }
            }
            if let Some(unit) = definition.get("Unit")
                && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
            {
                errors.push(format!("{at}.Unit {unit} is not a CloudWatch unit"));
            }
            if let Some(resolution) = definition.get("StorageResolution")
                && resolution.as_u64() != Some(1)
                && resolution.as_u64() != Some(60)
            {
                errors.push(format!(
                    "{at}.StorageResolution {resolution} is not 1 or 60"
                ));
            }
            let Some(name) = definition.get("Name").and_then(Value::as_str) else {
                errors.push(format!("{at} has no string Name"));
                continue;
            };
            if !(1..=255).contains(&name.chars().count()) {
                errors.push(format!("{at}.Name `{name}` is not 1-255 characters"));
            }
            if !names.insert(name.to_owned()) {
                errors.push(format!("metric `{name}` is defined twice"));
            }
            if dimension_keys.contains(name) {
                errors.push(format!("`{name}` is both a metric and a dimension"));
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if !values.is_empty()
                        && values.len() <= MAX_VALUES_PER_METRIC
                        && values.iter().all(Value::is_number) => {}
                Some(other) => {
                    errors.push(format!("metric `{name}` has a non-numeric value {other}"))
                }
                None => errors.push(format!("metric `{name}` has no root member")),
            }
        }
    }
    if errors.is_empty() {
        Ok(document)
    } else {
        Err(errors)
    }
}

/// Validates every line, panicking with the violations; the parsed documents.
pub fn validated(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            validate(line).unwrap_or_else(|errors| panic!("not valid EMF: {errors:#?}\n{line}"))
        })
        .collect()
}
