//! The JSON Schema of the resource's properties (schema/properties.schema.json), generated from
//! the property table and its value rules, which the parser reads too.
//!
//! The schema judges each value by itself, in the partition-free form: an ARN of any supported
//! partition, with a region of that partition, in any account. What needs the stack or the
//! catalog is the parser's alone: the stack's partition and account, persona and activity
//! names, which activity takes which parameter, required and paired parameters, duplicate
//! activities and tag keys. The property-based tests prove both accept and refuse the same
//! values.

use serde_json::{Map, Value, json};

use crate::catalog;
use crate::properties::rules::{BLANKS, Rule};
use crate::properties::table::{self, Kind, Property};
use crate::properties::{MAX_LIST_ITEMS, MAX_LIST_TEXT};

pub const SCHEMA_ID: &str = "https://persona-role.invalid/schema/properties.schema.json";

/// A value of `rule` alone, as a whole string; empty counts as absent.
fn scalar_pattern(rule: &Rule) -> Option<String> {
    rule.pattern("").map(|item| format!("^(?:{item})?$"))
}

/// A list: an array of strings, or a comma-separated string (Service Catalog parameters). Blank
/// items count as absent; `items` and `pattern` judge the two forms alike.
fn list(rule: &Rule) -> Value {
    // The blanks the parser trims around items.
    let b = format!("{}*", BLANKS.class(""));
    // The parser refuses longer lists before judging any item (`MAX_LIST_ITEMS`).
    let mut schema = json!({
        "type": ["array", "string", "null"],
        "maxItems": MAX_LIST_ITEMS,
        "maxLength": MAX_LIST_TEXT,
    });
    let item = match rule.pattern("") {
        Some(item) => json!({"type": "string", "pattern": format!("^{b}(?:{item})?{b}$")}),
        None => json!({"type": "string"}),
    };
    schema["items"] = item;
    if let Some(item) = rule.pattern(",") {
        let item = format!("{b}(?:{item})?{b}");
        schema["pattern"] = json!(format!("^{item}(?:,{item})*$"));
    }
    if *rule == Rule::Activity {
        schema["items"]["examples"] = json!(activity_names());
    }
    schema
}

fn activity_names() -> Vec<&'static str> {
    catalog::ACTIVITIES.iter().map(|a| a.name).collect()
}

fn description(property: &Property) -> String {
    let mut text = format!("{}; {}", property.meaning, property.rule.expected());
    if let Some(default) = property.default {
        text.push_str(&format!("; default {default}"));
    }
    text
}

fn property_schema(property: &Property) -> Value {
    let mut schema = match (property.kind, property.rule) {
        (Kind::Scalar, Rule::Integer(integer)) => json!({
            "type": ["integer", "string", "null"],
            "minimum": integer.min,
            "maximum": integer.max,
            "pattern": scalar_pattern(&property.rule),
        }),
        (Kind::Scalar, Rule::Boolean) => json!({
            "type": ["boolean", "string", "null"],
            "pattern": scalar_pattern(&property.rule),
        }),
        (Kind::Scalar, rule) => {
            let mut schema = json!({"type": if property.required { json!("string") } else { json!(["string", "null"]) }});
            match scalar_pattern(&rule) {
                Some(pattern) => schema["pattern"] = json!(pattern),
                // Catalog names: the parser matches them loosely and suggests the nearest.
                None if property.required => schema["minLength"] = json!(1),
                None => {}
            }
            if rule == Rule::Persona {
                schema["examples"] =
                    json!(catalog::PERSONAS.iter().map(|p| p.id).collect::<Vec<_>>());
            }
            schema
        }
        (Kind::List, rule) => list(&rule),
        (Kind::Parameter(param), _) => json!({"$ref": format!("#/$defs/{param}")}),
        (Kind::Tags, Rule::Tag(tag)) => json!({
            "type": ["array", "null"],
            "maxItems": tag.max,
            "items": {
                "type": "object",
                "required": ["Key"],
                "additionalProperties": false,
                "properties": {
                    "Key": {"type": "string", "pattern": format!("^(?:{})$", tag.key.pattern(""))},
                    "Value": {"type": ["string", "null"], "pattern": format!("^(?:{})$", tag.value.pattern(""))},
                }
            }
        }),
        (Kind::Map, _) => {
            let params: Map<String, Value> = catalog::Param::ALL
                .iter()
                .map(|param| {
                    (
                        param.name().to_owned(),
                        json!({"$ref": format!("#/$defs/{param}")}),
                    )
                })
                .collect();
            json!({
                "type": ["object", "null"],
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": params,
                }
            })
        }
        (Kind::Tags | Kind::CloudFormation, _) => json!({}),
    };
    if let Some(map) = schema.as_object_mut() {
        map.insert("description".to_owned(), json!(description(property)));
        if let Some(default) = property.default {
            map.insert("default".to_owned(), json!(default));
        }
        // Catalog names, where listed, are the better examples.
        if let (Ok(example), false) = (
            serde_json::from_str::<Value>(property.example),
            map.contains_key("examples"),
        ) {
            map.insert("examples".to_owned(), json!([example]));
        }
    }
    schema
}

/// The schema, as a JSON value.
pub fn properties_schema() -> Value {
    let mut properties = Map::new();
    let mut defs = Map::new();
    for property in table::PROPERTIES {
        if let Kind::Parameter(param) = property.kind {
            let mut def = list(&property.rule);
            def["description"] = json!(property.rule.expected());
            defs.insert(param.name().to_owned(), def);
        }
        properties.insert(property.name.to_owned(), property_schema(property));
    }
    let required: Vec<&str> = table::PROPERTIES
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Custom::SageMakerPersonaRole properties",
        "description": "Each value judged by itself, in any supported partition and account; the stack's partition and account, catalog names and the rules relating properties are checked by the function (`persona-role validate` runs both).",
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": Value::Object(properties),
        "$defs": Value::Object(defs),
    })
}

/// A violation as `persona-role validate` prints it: a missed pattern is named by the
/// description of the schema around it (what the value should be), not quoted as a regex.
pub fn violation_message(schema: &Value, error: &jsonschema::ValidationError) -> String {
    if let jsonschema::error::ValidationErrorKind::Pattern { .. } = error.kind() {
        let mut pointer = error.schema_path().as_str();
        while let Some((parent, _)) = pointer.rsplit_once('/') {
            pointer = parent;
            let description = schema
                .pointer(pointer)
                .and_then(|s| s.get("description"))
                .and_then(Value::as_str);
            if let Some(description) = description {
                return format!(
                    "{} does not match the expected form: {description}",
                    error.instance()
                );
            }
        }
    }
    error.to_string()
}

/// The schema as committed in schema/properties.schema.json.
pub fn properties_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&properties_schema()).unwrap_or_default();
    text.push('\n');
    text
}
