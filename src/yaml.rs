//! CloudFormation templates as YAML, with intrinsic functions in their short form (`!Sub`,
//! `!Ref`, `!GetAtt`, `!ImportValue`, `!If`), as people write and review them.

use serde_json::Value;
use serde_yaml_ng::value::{Tag, TaggedValue};

/// The template as YAML text.
pub fn template(template: &Value) -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(&short_form(template))
}

/// `{"Fn::Sub": x}` → `!Sub x`, and likewise for the other functions a template of this
/// project uses; everything else as is. Inside a short form, functions stay long: YAML allows
/// no tag directly under another (`!ImportValue` of `Fn::Sub`, as CloudFormation documents).
fn short_form(value: &Value) -> serde_yaml_ng::Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Value::Object(map) if map.len() == 1 => {
            let Some((key, inner)) = map.iter().next() else {
                return Yaml::Mapping(serde_yaml_ng::Mapping::new());
            };
            let tagged = |tag: &str, value: Yaml| {
                Yaml::Tagged(Box::new(TaggedValue {
                    tag: Tag::new(tag),
                    value,
                }))
            };
            match (key.as_str(), inner) {
                ("Fn::Sub", _) => tagged("Sub", plain(inner)),
                ("Ref", Value::String(_)) => tagged("Ref", plain(inner)),
                ("Fn::ImportValue", _) => tagged("ImportValue", plain(inner)),
                // Its branches are nodes of a sequence, each free to carry its own tag.
                ("Fn::If", Value::Array(parts)) => {
                    tagged("If", Yaml::Sequence(parts.iter().map(short_form).collect()))
                }
                ("Fn::GetAtt", Value::Array(parts))
                    if parts.len() == 2 && parts.iter().all(Value::is_string) =>
                {
                    let dotted = parts
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(".");
                    tagged("GetAtt", Yaml::String(dotted))
                }
                _ => mapping(map),
            }
        }
        Value::Object(map) => mapping(map),
        Value::Array(items) => Yaml::Sequence(items.iter().map(short_form).collect()),
        Value::String(s) => Yaml::String(s.clone()),
        Value::Number(n) => {
            serde_yaml_ng::to_value(n).unwrap_or_else(|_| Yaml::String(n.to_string()))
        }
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Null => Yaml::Null,
    }
}

/// The value as YAML without tags.
fn plain(value: &Value) -> serde_yaml_ng::Value {
    serde_yaml_ng::to_value(value).unwrap_or(serde_yaml_ng::Value::Null)
}

fn mapping(map: &serde_json::Map<String, Value>) -> serde_yaml_ng::Value {
    serde_yaml_ng::Value::Mapping(
        map.iter()
            .map(|(k, v)| (serde_yaml_ng::Value::String(k.clone()), short_form(v)))
            .collect(),
    )
}

/// A template read back from YAML, with short forms as the long forms JSON uses: for comparing
/// the two outputs.
pub fn long_form(value: &serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Tagged(tagged) => {
            let inner = long_form(&tagged.value);
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            match (tag, inner) {
                ("GetAtt", Value::String(dotted)) => {
                    let (resource, attribute) = dotted.split_once('.').unwrap_or((&dotted, ""));
                    serde_json::json!({"Fn::GetAtt": [resource, attribute]})
                }
                ("Ref", inner) => serde_json::json!({ "Ref": inner }),
                (tag, inner) => serde_json::json!({ format!("Fn::{tag}"): inner }),
            }
        }
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml_ng::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_owned(),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Yaml::Sequence(items) => Value::Array(items.iter().map(long_form).collect()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsic_functions_print_in_short_form_and_read_back_as_long_form() {
        let template = json!({
            "Resources": {"R": {"Properties": {
                "A": {"Fn::Sub": "arn:${AWS::Partition}:s3:::x"},
                "B": {"Ref": "P"},
                "C": {"Fn::ImportValue": {"Fn::Sub": "${S}-ServiceToken"}},
                "D": {"Fn::GetAtt": ["R", "Arn"]},
                "E": 3600,
                "F": [{"Key": "k", "Value": "v"}],
                "G": "true",
            }}}
        });
        let text = template_text(&template);
        assert!(
            text.contains("A: !Sub arn:${AWS::Partition}:s3:::x"),
            "{text}"
        );
        assert!(text.contains("B: !Ref P"), "{text}");
        assert!(text.contains("C: !ImportValue"), "{text}");
        assert!(text.contains("D: !GetAtt R.Arn"), "{text}");
        assert!(text.contains("G: 'true'"), "strings stay strings: {text}");
        let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(long_form(&back), template);
    }

    fn template_text(value: &Value) -> String {
        template(value).unwrap()
    }
}
