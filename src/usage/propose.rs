//! The proposed declaration: the current properties with the report's changes applied, as YAML
//! whose leading comments give the evidence for each change.

use serde_json::Value;

use super::suggest::{self, Change};

/// The proposed properties.
pub fn proposed(properties: &Value, changes: &[(Change, String)]) -> Value {
    let list: Vec<Change> = changes.iter().map(|(c, _)| c.clone()).collect();
    suggest::apply(properties, &list)
}

/// The proposed properties as YAML, with a comment per change: what and why.
pub fn yaml(
    proposed: &Value,
    changes: &[(Change, String)],
    heading: &str,
) -> Result<String, serde_yaml_ng::Error> {
    let mut text = String::new();
    for line in heading.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    if !changes.is_empty() {
        text.push_str("#\n# Changes, and the calls that prove them:\n");
    }
    for (change, evidence) in changes {
        let sign = if matches!(change, Change::RemoveActivity(_)) {
            '-'
        } else {
            '+'
        };
        let what = match change {
            Change::AddActivity(name) => format!("activity {name}"),
            Change::RemoveActivity(name) => format!("activity {name}"),
            Change::AddValue { param, value } => format!("{param}: {value}"),
        };
        text.push_str(&format!("# {sign} {what}: {}\n", one_line(evidence)));
    }
    text.push_str(&serde_yaml_ng::to_string(proposed)?);
    Ok(text)
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Param;
    use serde_json::json;

    #[test]
    fn evidence_is_written_as_comments_above_the_properties() {
        let current = json!({"Persona": "DataScientist", "S3Buckets": ["a"]});
        let changes = vec![
            (
                Change::AddValue {
                    param: Param::S3Buckets,
                    value: "b".to_owned(),
                },
                "AccessDenied refused 2 calls".to_owned(),
            ),
            (
                Change::RemoveActivity("Manage Experiments".to_owned()),
                "never used".to_owned(),
            ),
        ];
        let new = proposed(&current, &changes);
        let text = yaml(&new, &changes, "proposed").unwrap_or_default();
        assert!(text.starts_with("# proposed\n#\n# Changes"));
        assert!(text.contains("# + S3Buckets: b: AccessDenied refused 2 calls\n"));
        assert!(text.contains("# - activity Manage Experiments: never used\n"));
        let parsed: Value = serde_yaml_ng::from_str(&text).unwrap_or_default();
        assert_eq!(parsed["S3Buckets"], json!(["a", "b"]));
        assert_eq!(parsed["RemoveActivities"], json!(["Manage Experiments"]));
    }
}
