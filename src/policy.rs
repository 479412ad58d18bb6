//! IAM policy documents as IAM hands them back, read in one place: `Statement` may be a list or
//! a single object, and every element (`Action`, `Resource`, condition values, principals) may
//! be one value or a list. The planner writes its own documents; everything that reads one
//! (comparison, discovery, usage attribution) reads it through [`statements`] and [`values`].

use serde_json::Value;

/// A statement of a policy document, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct Statement<'a>(&'a Value);

/// The document's statements, in order; IAM accepts a single statement object for the list.
pub fn statements(document: &Value) -> Vec<Statement<'_>> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().map(Statement).collect(),
        Some(single @ Value::Object(_)) => vec![Statement(single)],
        _ => Vec::new(),
    }
}

impl<'a> Statement<'a> {
    /// `Sid`, empty when absent.
    pub fn sid(self) -> &'a str {
        self.0
            .get("Sid")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `Effect`, empty when absent.
    pub fn effect(self) -> &'a str {
        self.0
            .get("Effect")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn is_allow(self) -> bool {
        self.effect() == "Allow"
    }

    pub fn actions(self) -> Vec<String> {
        values(self.0.get("Action"))
    }

    pub fn not_actions(self) -> Vec<String> {
        values(self.0.get("NotAction"))
    }

    pub fn resources(self) -> Vec<String> {
        values(self.0.get("Resource"))
    }

    pub fn not_resources(self) -> Vec<String> {
        values(self.0.get("NotResource"))
    }

    pub fn principal(self) -> Option<&'a Value> {
        self.0.get("Principal")
    }

    pub fn not_principal(self) -> Option<&'a Value> {
        self.0.get("NotPrincipal")
    }

    /// `Condition`'s operators, each with its keys and their values: `(operator, key, values)`.
    pub fn conditions(self) -> Vec<(&'a str, &'a str, Vec<String>)> {
        let Some(Value::Object(operators)) = self.0.get("Condition") else {
            return Vec::new();
        };
        operators
            .iter()
            .filter_map(|(operator, keys)| keys.as_object().map(|keys| (operator, keys)))
            .flat_map(|(operator, keys)| {
                keys.iter()
                    .map(move |(key, v)| (operator.as_str(), key.as_str(), values(Some(v))))
            })
            .collect()
    }

    /// Whether the statement has a `Condition` element (even an empty or malformed one).
    pub fn has_condition(self) -> bool {
        self.0.get("Condition").is_some()
    }

    /// The statement as written.
    pub fn json(self) -> &'a Value {
        self.0
    }
}

/// A `Principal` element's principals as `kind:value`: `{"Service": "sagemaker.amazonaws.com"}`
/// is `Service:sagemaker.amazonaws.com`; `"*"` is `*`.
pub fn principals(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .flat_map(|(kind, principals)| {
                values(Some(principals))
                    .into_iter()
                    .map(move |principal| format!("{kind}:{principal}"))
            })
            .collect(),
        other => values(other),
    }
}

/// An element's values as IAM reads them: one value or a list (nested lists flattened);
/// numbers and booleans (condition values such as `false`) as their text. Anything else is
/// kept as its JSON text rather than dropped, so a malformed element still shows in a diff.
pub fn values(value: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    collect(value, &mut out);
    out
}

fn collect(value: Option<&Value>, out: &mut Vec<String>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Array(items)) => items.iter().for_each(|i| collect(Some(i), out)),
        Some(other) => out.push(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_single_statement_object_is_a_list_of_one() {
        let list = json!({"Statement": [{"Sid": "A"}, {"Sid": "B"}]});
        let single = json!({"Statement": {"Sid": "A", "Effect": "Allow"}});
        let none = json!({"Version": "2012-10-17"});
        fn sids(d: &Value) -> Vec<&str> {
            statements(d).iter().map(|s| s.sid()).collect()
        }
        assert_eq!(sids(&list), ["A", "B"]);
        assert_eq!(sids(&single), ["A"]);
        assert!(statements(&none).is_empty());
        assert!(statements(&single)[0].is_allow());
    }

    #[test]
    fn elements_read_as_one_value_or_a_list() {
        let rows = [
            (json!("s3:GetObject"), vec!["s3:GetObject"]),
            (json!(["a", "b"]), vec!["a", "b"]),
            (json!([["a"], "b"]), vec!["a", "b"]),
            (json!(false), vec!["false"]),
            (json!(3600), vec!["3600"]),
            (json!(null), vec![]),
            (json!({"k": "v"}), vec![r#"{"k":"v"}"#]),
        ];
        for (value, expected) in rows {
            assert_eq!(values(Some(&value)), expected, "{value}");
        }
        assert!(values(None).is_empty());
    }

    #[test]
    fn conditions_list_operator_key_and_values() {
        let document = json!({"Statement": {
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:ResourceAccount": ["111122223333", "444455556666"]},
                "Bool": {"aws:SecureTransport": true},
                "Null": "malformed"
            }
        }});
        let statement = statements(&document)[0];
        let conditions = statement.conditions();
        assert_eq!(
            conditions,
            vec![
                (
                    "StringEquals",
                    "aws:ResourceAccount",
                    vec!["111122223333".to_owned(), "444455556666".to_owned()]
                ),
                ("Bool", "aws:SecureTransport", vec!["true".to_owned()]),
            ]
        );
        assert_eq!(statement.actions(), ["s3:GetObject"]);
        assert!(statement.has_condition());
    }
}
