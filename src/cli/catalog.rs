//! `persona-role catalog`: personas and activities as a table or as JSON.

use std::io::Write;

use serde_json::{Value, json};

use crate::catalog::{self, Need};

pub fn catalog_json() -> Value {
    let activities: Vec<Value> = catalog::ACTIVITIES
        .iter()
        .map(|a| {
            json!({
                "Id": a.id,
                "Name": a.name,
                "Aliases": a.aliases,
                "Summary": a.summary,
                "Status": format!("{:?}", a.status),
                "Parameters": a.params.iter().map(|p| json!({
                    "Name": p.param.name(),
                    "Required": p.need == Need::Required,
                })).collect::<Vec<_>>(),
                "Vpc": a.vpc,
                "Kms": a.kms,
                "AwsManagedPolicies": a.aws_managed_policies,
                "Actions": a.actions(),
            })
        })
        .collect();
    let personas: Vec<Value> = catalog::PERSONAS
        .iter()
        .map(|p| {
            json!({
                "Id": p.id,
                "Name": p.name,
                "Summary": p.summary,
                "Defaults": p.defaults,
                "ConsoleDefaults": p.console_defaults,
            })
        })
        .collect();
    json!({"Personas": personas, "Activities": activities})
}

pub fn write_table(out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "PERSONAS")?;
    for persona in catalog::PERSONAS {
        let defaults: Vec<&str> = persona
            .defaults
            .iter()
            .filter_map(|id| catalog::find_activity(id).map(|i| catalog::activity(i).name))
            .collect();
        let defaults = if defaults.is_empty() {
            "(none)".to_owned()
        } else {
            defaults.join(", ")
        };
        writeln!(out, "  {:<18} {defaults}", persona.id)?;
    }
    writeln!(out)?;
    writeln!(out, "ACTIVITIES")?;
    writeln!(
        out,
        "  {:<30} {:<42} {:<4} {:<4} PARAMETERS (* required)",
        "ID", "NAME", "VPC", "KMS"
    )?;
    for activity in catalog::ACTIVITIES {
        let params: Vec<String> = activity
            .params
            .iter()
            .filter(|p| {
                !matches!(
                    p.param,
                    catalog::Param::VpcSubnets
                        | catalog::Param::VpcSecurityGroups
                        | catalog::Param::DataKmsKeys
                        | catalog::Param::VolumeKmsKeys
                )
            })
            .map(|p| match p.need {
                Need::Required => format!("{}*", p.param),
                Need::Optional => p.param.to_string(),
            })
            .collect();
        let name = match activity.status {
            catalog::Status::Current => activity.name.to_owned(),
            catalog::Status::Legacy => format!("{} (legacy)", activity.name),
        };
        writeln!(
            out,
            "  {:<30} {:<42} {:<4} {:<4} {}",
            activity.id,
            name,
            if activity.vpc { "yes" } else { "-" },
            if activity.kms { "yes" } else { "-" },
            if params.is_empty() {
                "-".to_owned()
            } else {
                params.join(", ")
            }
        )?;
    }
    Ok(())
}
