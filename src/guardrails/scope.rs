//! The operator's limits on what a declaration reaches, which no deployer can lift: its buckets
//! (`AllowedS3Buckets`), its activities (`AllowedActivities`) and the tag keys it sets on the
//! role (`AllowedTagKeys`). Each refusal names the property, the value's place as given and the
//! parameter, with what the operator allows.

use serde_json::Value;

use super::{Guardrails, given_values, glob_match};
use crate::catalog::{self, ActivityIndex, Param, Resource};
use crate::properties::{Properties, PropertyError, table};

impl Guardrails {
    /// Activities, buckets and tag keys outside the operator's limits, in that order.
    pub(super) fn refused_scope(&self, properties: &Properties, raw: &Value) -> Vec<PropertyError> {
        let mut errors = Vec::new();
        if let Some(allowed) = &self.allowed_activities {
            errors.extend(refused_activities(allowed, properties, raw));
        }
        if let Some(allowed) = &self.allowed_s3_buckets {
            errors.extend(refused_buckets(allowed, properties, raw));
        }
        if let Some(allowed) = &self.allowed_tag_keys {
            errors.extend(refused_tag_keys(allowed, properties, raw));
        }
        errors
    }
}

/// Whether every text `inner` matches is also matched by `outer`, both patterns in which `*`
/// matches any run of characters, as IAM matches ARNs: `team-a-*` covers `team-a-data` and
/// `team-a-*-raw`, not `team-a*` (which matches `team-ab`).
///
/// Decided by matching `outer` against `inner` itself, each `*` of `inner` a character only a
/// `*` of `outer` may take: were some `*` of `inner` needed as a literal of `outer`, the text
/// with a character neither pattern holds in its place would match `inner` and not `outer`.
pub fn covers(outer: &str, inner: &str) -> bool {
    let inner: Vec<char> = inner.chars().collect();
    // matched[j]: the part of `outer` read so far matches the first j characters of `inner`.
    let mut matched = vec![false; inner.len() + 1];
    matched[0] = true;
    for o in outer.chars() {
        let mut next = vec![false; inner.len() + 1];
        if o == '*' {
            let mut reached = false;
            for (j, slot) in next.iter_mut().enumerate() {
                reached |= matched[j];
                *slot = reached;
            }
        } else {
            for j in 1..=inner.len() {
                next[j] = matched[j - 1] && inner[j - 1] == o;
            }
        }
        matched = next;
    }
    matched[inner.len()]
}

/// Whether a bucket pattern reaches every bucket. A role's S3 statements name `arn:…:s3:::P` and
/// `arn:…:s3:::P/*`, and IAM's `*` also matches `/`: a pattern starting with `*` (`*`, `**`,
/// `*-data`) therefore matches objects of every bucket (`*-data/*` matches
/// `other-team/raw-data/file`), whatever follows it. One starting with a bucket's first
/// characters stays within the buckets that start so.
fn reaches_every_bucket(pattern: &str) -> bool {
    pattern.starts_with('*')
}

/// Selected activities outside the allowed ones, each where it was chosen.
fn refused_activities(
    allowed: &[String],
    properties: &Properties,
    raw: &Value,
) -> Vec<PropertyError> {
    let mut resolved: Vec<ActivityIndex> = allowed
        .iter()
        .filter_map(|name| catalog::find_activity(name))
        .collect();
    resolved.sort_unstable();
    resolved.dedup();
    let names: Vec<&str> = resolved
        .iter()
        .map(|&index| catalog::activity(index).name)
        .collect();
    let unknown: Vec<String> = allowed
        .iter()
        .filter(|name| catalog::find_activity(name).is_none())
        .map(|name| format!("`{name}`"))
        .collect();
    let mut help = if names.is_empty() {
        "this function's AllowedActivities names no activity of this version".to_owned()
    } else {
        format!("allowed: {}", names.join(", "))
    };
    if !unknown.is_empty() {
        help.push_str(&format!(
            "; AllowedActivities also names {}, which is no activity (`persona-role catalog` lists them)",
            unknown.join(", ")
        ));
    }
    let mut refused: Vec<(Option<(usize, usize)>, PropertyError)> = properties
        .activities
        .iter()
        .filter(|index| !resolved.contains(index))
        .map(|&index| {
            let name = catalog::activity(index).name;
            let place = chosen_place(index, raw);
            let error = match place {
                Some((list, j)) => PropertyError {
                    property: format!("{}[{j}]", CHOOSING[list]),
                    message: format!("activity `{name}` is not on this function's AllowedActivities"),
                    help: Some(help.clone()),
                },
                None => PropertyError {
                    property: table::PERSONA.name.to_owned(),
                    message: format!(
                        "activity `{name}`, a default of persona {}, is not on this function's AllowedActivities",
                        properties.persona.id
                    ),
                    help: Some(format!("leave it out with RemoveActivities; {help}")),
                },
            };
            (place, error)
        })
        .collect();
    // As the declaration lists them; the persona's defaults last.
    refused.sort_by_key(|(place, _)| place.unwrap_or((usize::MAX, 0)));
    refused.into_iter().map(|(_, error)| error).collect()
}

/// Buckets the declaration names, top-level and per activity, outside the allowed patterns; and,
/// with an allow-list, the buckets activities reach on their own (S3 Full Access: every one).
fn refused_buckets(allowed: &[String], properties: &Properties, raw: &Value) -> Vec<PropertyError> {
    let allowed_text = allowed.join(", ");
    let within = |pattern: &str| allowed.iter().any(|outer| covers(outer, pattern));
    // The reason a declared pattern is refused, with its help; `None` if it is allowed.
    let refusal = |bucket: &str| -> Option<(String, String)> {
        if allowed.is_empty() {
            reaches_every_bucket(bucket).then(|| {
                (
                    format!(
                        "`{bucket}` starts with `*`, so it reaches every bucket, which this function's AllowedS3Buckets does not allow"
                    ),
                    "in an S3 ARN `*` also spans the bucket name and the `/` after it; name the buckets, or start the pattern with their first characters (`team-a-*`); only the function's operator can allow every bucket (AllowedS3Buckets `*`)".to_owned(),
                )
            })
        } else {
            (!within(bucket)).then(|| {
                (
                    format!("`{bucket}` is not within this function's AllowedS3Buckets"),
                    format!(
                        "allowed: {allowed_text}; a pattern is within one only if every bucket it matches is"
                    ),
                )
            })
        }
    };
    let mut errors: Vec<PropertyError> = given_values(properties, raw, Param::S3Buckets)
        .into_iter()
        .filter_map(|(property, bucket)| {
            refusal(bucket).map(|(message, help)| PropertyError {
                property,
                message,
                help: Some(help),
            })
        })
        .collect();
    if allowed.is_empty() {
        // Without an allow-list, the activities' own buckets are the operator's through
        // AllowedActivities (S3 Full Access is an activity a reviewer sees by name).
        return errors;
    }
    for &index in &properties.activities {
        let activity = catalog::activity(index);
        let outside: Vec<&str> = own_buckets(index)
            .into_iter()
            .filter(|pattern| !within(pattern))
            .collect();
        if outside.is_empty() {
            continue;
        }
        let every = outside.iter().any(|p| reaches_every_bucket(p));
        let reach = if every {
            "every bucket".to_owned()
        } else {
            let listed: Vec<String> = outside.iter().map(|p| format!("`{p}`")).collect();
            format!("buckets {}", listed.join(", "))
        };
        let instead = if every {
            "; S3 Bucket Access reaches only the buckets it names"
        } else {
            ""
        };
        errors.push(PropertyError {
            property: chosen_at(index, raw),
            message: format!(
                "activity `{}` reaches {reach}, which is not within this function's AllowedS3Buckets",
                activity.name
            ),
            help: Some(format!(
                "allowed: {allowed_text}; leave the activity out, or ask the function's operator to allow its buckets{instead}"
            )),
        });
    }
    errors
}

/// Declared tag keys no allowed pattern matches.
fn refused_tag_keys(
    allowed: &[String],
    properties: &Properties,
    raw: &Value,
) -> Vec<PropertyError> {
    let given = raw.get(table::TAGS.name).and_then(Value::as_array);
    let help = if allowed.is_empty() {
        "this function lets no declaration set tag keys: a role's tags are its principal tags, which policies may trust (`aws:PrincipalTag/<key>`), so its operator names the keys deployers may set in AllowedTagKeys".to_owned()
    } else {
        format!(
            "allowed: {} (matched case-sensitively, as IAM matches `aws:TagKeys`)",
            allowed.join(", ")
        )
    };
    properties
        .tags
        .iter()
        .filter(|tag| !allowed.iter().any(|pattern| glob_match(pattern, &tag.key)))
        .map(|tag| {
            let index = given.and_then(|items| {
                items.iter().position(|item| {
                    item.get("Key").and_then(Value::as_str) == Some(tag.key.as_str())
                })
            });
            PropertyError {
                property: index.map_or_else(
                    || table::TAGS.name.to_owned(),
                    |i| format!("{}[{i}].Key", table::TAGS.name),
                ),
                message: format!(
                    "tag key `{}` is not on this function's AllowedTagKeys",
                    tag.key
                ),
                help: Some(help.clone()),
            }
        })
        .collect()
}

/// The properties that choose activities besides the persona.
const CHOOSING: [&str; 2] = [table::ACTIVITIES.name, table::ADD_ACTIVITIES.name];

/// Where the declaration chose an activity: `(i, j)` for item `j` of `CHOOSING[i]`; `None` for
/// one of the persona's defaults.
fn chosen_place(index: ActivityIndex, raw: &Value) -> Option<(usize, usize)> {
    CHOOSING.iter().enumerate().find_map(|(i, name)| {
        position(raw.get(*name), |item| {
            catalog::find_activity(item) == Some(index)
        })
        .map(|j| (i, j))
    })
}

/// [`chosen_place`] as a property: `Activities[j]`, `AddActivities[j]`, else `Persona`.
fn chosen_at(index: ActivityIndex, raw: &Value) -> String {
    chosen_place(index, raw).map_or_else(
        || table::PERSONA.name.to_owned(),
        |(i, j)| format!("{}[{j}]", CHOOSING[i]),
    )
}

/// `values` in the order `list` gives them (an array, or a comma-separated string); those not
/// found last.
pub(super) fn in_given_order<'a>(list: Option<&Value>, values: &'a [String]) -> Vec<&'a String> {
    let mut ordered: Vec<(Option<usize>, &String)> = values
        .iter()
        .map(|value| (position(list, |item| item == value), value))
        .collect();
    ordered.sort_by_key(|(place, _)| place.unwrap_or(usize::MAX));
    ordered.into_iter().map(|(_, value)| value).collect()
}

/// The place of the first item `wanted` accepts in a list as given: an array, or a
/// comma-separated string as the parser reads it.
fn position(list: Option<&Value>, wanted: impl Fn(&str) -> bool) -> Option<usize> {
    match list {
        Some(Value::Array(items)) => items
            .iter()
            .position(|item| item.as_str().map(str::trim).is_some_and(&wanted)),
        Some(Value::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .position(wanted),
        _ => None,
    }
}

/// Bucket patterns an activity's own statements name, whatever the declaration gives: `*` for S3
/// Full Access, `sagemaker-*` for MLflow's artifact stores.
fn own_buckets(index: ActivityIndex) -> Vec<&'static str> {
    let mut buckets: Vec<&'static str> = catalog::activity(index)
        .statements
        .iter()
        .flat_map(|statement| statement.resources.iter())
        .filter_map(|resource| match *resource {
            Resource::Arn {
                service: "s3",
                each: None,
                path,
                ..
            } => Some(path.strip_suffix("/*").unwrap_or(path)),
            _ => None,
        })
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    buckets
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `covers` against its definition: for every pair of short patterns over `a`, `b` and `*`,
    /// it holds exactly when every text over `a`, `b` and a character neither names (`c`) that
    /// `inner` matches is matched by `outer`.
    #[test]
    fn covers_is_containment_of_what_the_patterns_match() {
        fn all(alphabet: &[char], max: usize) -> Vec<String> {
            let mut found = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                    .collect();
                found.extend(last.iter().cloned());
            }
            found
        }
        let patterns = all(&['a', 'b', '*'], 3);
        let texts = all(&['a', 'b', 'c'], 7);
        for outer in &patterns {
            for inner in &patterns {
                let contained = texts
                    .iter()
                    .filter(|text| glob_match(inner, text))
                    .all(|text| glob_match(outer, text));
                assert_eq!(
                    covers(outer, inner),
                    contained,
                    "covers({outer:?}, {inner:?})"
                );
            }
        }
    }

    #[test]
    fn the_activities_own_buckets_are_read_from_the_catalog() {
        let find = |id| catalog::find_activity(id).unwrap();
        assert_eq!(own_buckets(find("s3-full-access")), ["*"]);
        assert_eq!(
            own_buckets(find("mlflow-aws-services-access")),
            ["sagemaker-*"]
        );
        assert!(own_buckets(find("s3-bucket-access")).is_empty());
    }
}
