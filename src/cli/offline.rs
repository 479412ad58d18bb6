//! The offline commands: plan, validate and export a declaration.

use std::io::Write;

use serde_json::Value;

use super::input::{Input, read_declaration};
use super::{CliError, Syntax, write_json, write_template};
use crate::plan;

/// The schema as published; the CLI validates against this file, not a copy in code.
pub const PUBLISHED_SCHEMA: &str = include_str!("../../schema/properties.schema.json");

/// Prints the plan. Without a known account the plan's ARNs name the placeholder (or the
/// account the properties name), which its warnings and stderr say.
pub fn plan(
    input: Input,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), CliError> {
    let declaration = read_declaration(&input, stdin)?;
    let mut plan = plan::plan_properties(&declaration.properties, &declaration.context)?;
    if let Some(note) = declaration.account.note(&declaration.context.account) {
        writeln!(err, "note: {note}")?;
        plan.warnings.push(note);
    }
    write_json(out, &plan)
}

/// Prints native resources equal to the plan, portable across accounts, partitions and regions.
pub fn export(
    input: Input,
    syntax: Syntax,
    role_logical_id: &str,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let declaration = read_declaration(&input, stdin)?;
    let plan = plan::plan_properties(&declaration.properties, &declaration.context)?;
    // Every ARN naming the planned account becomes ${AWS::AccountId}: the account, given or
    // placeholder, does not show in the template.
    let template = crate::export::portable(
        &crate::export::cloudformation(&plan, role_logical_id),
        &declaration.context,
    );
    write_template(out, &template, syntax)
}

pub fn validate(
    input: Input,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let declaration = read_declaration(&input, stdin)?;
    let schema_errors = schema_violations(&declaration.properties);
    if !schema_errors.is_empty() {
        return Err(CliError::Schema(schema_errors));
    }
    let plan = plan::plan_properties(&declaration.properties, &declaration.context)?;
    writeln!(
        out,
        "valid: role {} with {} activities, {} inline and {} managed policies",
        plan.role.role_name,
        plan.activities.len(),
        plan.inline_policies.len(),
        plan.managed_policies.len()
    )?;
    for warning in &plan.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    if let Some(note) = declaration.account.note(&declaration.context.account) {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// Violations of the published schema, each as `<path>: <message>`.
pub fn schema_violations(properties: &Value) -> Vec<String> {
    static VALIDATOR: std::sync::OnceLock<Result<(Value, jsonschema::Validator), String>> =
        std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(PUBLISHED_SCHEMA)
            .map_err(|e| format!("the published schema is not JSON: {e}"))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| format!("the published schema is invalid: {e}"))?;
        Ok((schema, validator))
    });
    let (schema, validator) = match validator {
        Ok(validator) => validator,
        Err(e) => return vec![e.clone()],
    };
    validator
        .iter_errors(properties)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("{path}: {}", crate::schema::violation_message(schema, &e))
        })
        .collect()
}
