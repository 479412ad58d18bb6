//! The JSON Schema and the parser accept and refuse the same values, on values generated from the
//! property table's own rules: valid ones, and the same mutated (a character inserted, dropped or
//! replaced, case changed, cut, doubled) or drawn from an alphabet of troublesome characters.
//!
//! What is proven, for every property whose rule the schema carries (each is listed, and
//! `agreement_covers_every_property_of_the_table` fails when a property is neither covered nor
//! excused):
//! - per value: the schema (through the `jsonschema` crate, as `persona-role validate` uses it)
//!   refuses a value exactly when the parser refuses it in every supported stack — the parser
//!   judges the stack's partition and account, which the schema cannot know, so a value is
//!   accepted by both when some stack (partition × the account it names) accepts it;
//! - in every form: a scalar, the items of an array, a comma-separated string, and the same
//!   parameters under `ActivityParameters`; Tags' Key and Value; whole numbers as JSON numbers;
//! - the shapes: every property given as null, a number, a boolean, an object, an array.
//!
//! Not covered here, because the schema leaves them to the parser (tests/offline/properties.rs proves
//! them): persona and activity names, which activity takes which parameter, required and paired
//! parameters, duplicate activities and tag keys, the stack's partition and account.
//!
//! And a property set generated valid in a stack always passes the schema and plans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;

use persona_role::catalog::{self, Param};
use persona_role::cli::schema_violations;
use persona_role::context::{Partition, StackContext};
use persona_role::partitions;
use persona_role::plan;
use persona_role::properties::rules::{
    AccountPart, Arn, BOOLEANS, Charset, Forbidden, Integer, RegionPart, Rule, Shape, Text,
};
use persona_role::properties::table::{self, Kind, Property};
use persona_role::properties::{self, PropertyError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

const ACCOUNT: &str = "123456789012";
const OTHER_ACCOUNT: &str = "999999999999";

/// Properties whose values the schema does not judge, and why.
const LEFT_TO_THE_PARSER: &[(&str, &str)] = &[
    (
        "Persona",
        "a catalog name, matched loosely with a did-you-mean",
    ),
    ("Activities", "catalog names"),
    ("AddActivities", "catalog names"),
    ("RemoveActivities", "catalog names"),
    (
        "ActivityParameters",
        "keyed by catalog names; its parameters are covered",
    ),
    ("ServiceToken", "CloudFormation's own, accepted as is"),
    ("ServiceTimeout", "CloudFormation's own, accepted as is"),
];

/// Characters that break rules: outside every set, at set edges, Unicode look-alikes, blanks,
/// separators.
const TROUBLE: &[char] = &[
    'a', 'z', 'A', 'Z', '0', '9', '.', '-', '_', '*', '?', '/', ':', ',', '@', '+', '=', ' ', '\t',
    '\n', '!', '#', '%', '~', '\\', '"', '\u{1}', '\u{7f}', '\u{a0}', '\u{85}', '\u{a1}', 'é', 'ß',
    'Ω', 'ж', '中', '٣', 'Ⅻ', '€', '\u{2028}', '\u{3000}', '\u{feff}', '\u{100}',
];

/// Characters of the Unicode properties some sets include (letters, digits, spaces elsewhere).
const UNICODE_SAMPLES: &[char] = &[
    'é', 'ß', 'Ω', 'ж', '中', '٣', 'Ⅻ', '\u{a0}', '\u{85}', '\u{2028}', '\u{3000}',
];

fn stack(partition: Partition, account: &str) -> StackContext {
    let region = partitions::regions(partition)
        .first()
        .cloned()
        .unwrap_or_default();
    StackContext::new(partition, account, &region, "ml", "Role").unwrap()
}

/// The stacks a value could be meant for: every supported partition, in the default account and
/// in the account an ARN names.
fn stacks_for(value: &str) -> Vec<StackContext> {
    let mut accounts = vec![ACCOUNT.to_owned()];
    if let Some(account) = value.split(':').nth(4)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
    {
        accounts.push(account.to_owned());
    }
    partitions::SUPPORTED
        .into_iter()
        .flat_map(|p| accounts.iter().map(move |a| stack(p, a)))
        .collect()
}

// Generators, read from the rules' data.

fn char_of(set: Charset) -> BoxedStrategy<char> {
    let ranges: Vec<(char, char)> = set.ranges();
    let from_ranges = proptest::sample::select(ranges)
        .prop_flat_map(|(lo, hi)| u32::from(lo)..=u32::from(hi))
        .prop_filter_map("a char", char::from_u32);
    let unicode: Vec<char> = UNICODE_SAMPLES
        .iter()
        .copied()
        .filter(|c| !set.unicode.is_empty() && set.contains(*c))
        .collect();
    if unicode.is_empty() {
        from_ranges.boxed()
    } else {
        prop_oneof![3 => from_ranges, 1 => proptest::sample::select(unicode)].boxed()
    }
}

/// Lengths around the limits, and one beyond each.
fn length(min: usize, max: usize) -> BoxedStrategy<usize> {
    prop_oneof![
        Just(min),
        Just(max),
        min..=max,
        min..=max.min(min + 12),
        Just(max + 1),
        Just(min.saturating_sub(1)),
    ]
    .boxed()
}

fn run_of(set: Charset, len: BoxedStrategy<usize>) -> BoxedStrategy<String> {
    len.prop_flat_map(move |n| proptest::collection::vec(char_of(set), n))
        .prop_map(|chars| chars.into_iter().collect())
        .boxed()
}

/// A value of a text rule; `cap` bounds lengths (planning wants small values).
fn text_value(text: &'static Text, cap: usize) -> BoxedStrategy<String> {
    let taken = text.within.map_or(0, |(p, _)| p.chars().count());
    let min = text.min.saturating_sub(taken);
    let max = (text.max - taken).min(cap).max(min);
    let body = match text.shape {
        Shape::Word => match text.edges {
            Some(edges) => (
                char_of(edges),
                run_of(
                    text.chars,
                    length(min.saturating_sub(2), max.saturating_sub(2)),
                ),
                char_of(edges),
            )
                .prop_map(|(a, middle, b)| format!("{a}{middle}{b}"))
                .boxed(),
            None => run_of(text.chars, length(min, max)),
        },
        Shape::Path => proptest::collection::vec(run_of(text.chars, (1..8usize).boxed()), 0..4)
            .prop_map(|segments| {
                let mut path = String::from("/");
                for segment in segments {
                    path.push_str(&segment);
                    path.push('/');
                }
                path
            })
            .boxed(),
        Shape::PathAndName => (
            proptest::collection::vec(run_of(text.chars, (1..6usize).boxed()), 0..3),
            run_of(text.chars, length(min, max)),
        )
            .prop_map(|(segments, name)| {
                let mut value: String = segments.iter().map(|s| format!("{s}/")).collect();
                value.push_str(&name);
                value
            })
            .boxed(),
    };
    let prefix = text.prefix;
    body.prop_map(move |b| format!("{prefix}{b}")).boxed()
}

fn digits(n: usize) -> BoxedStrategy<String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|d| d.iter().map(|d| char::from(b'0' + d)).collect())
        .boxed()
}

fn arn_value(
    arn: &'static Arn,
    partition: Option<Partition>,
    stack_account: &'static str,
    cap: usize,
) -> BoxedStrategy<String> {
    let partition = match partition {
        Some(p) => Just(p).boxed(),
        None => proptest::sample::select(partitions::SUPPORTED.to_vec()).boxed(),
    };
    partition
        .prop_flat_map(move |partition| {
            let regions: Vec<String> = partitions::regions(partition).to_vec();
            let region = match arn.region {
                RegionPart::None => Just(String::new()).boxed(),
                RegionPart::Known => proptest::sample::select(regions).boxed(),
                RegionPart::KnownOrWildcard => {
                    prop_oneof![proptest::sample::select(regions), Just("*".to_owned())].boxed()
                }
            };
            let account = match arn.account {
                AccountPart::Stack(_) => {
                    prop_oneof![4 => Just(stack_account.to_owned()), 1 => Just(OTHER_ACCOUNT.to_owned())].boxed()
                }
                AccountPart::Any => prop_oneof![Just(ACCOUNT.to_owned()), digits(12)].boxed(),
                AccountPart::AnyOrAws => {
                    prop_oneof![Just("aws".to_owned()), Just(ACCOUNT.to_owned()), digits(12)]
                        .boxed()
                }
            };
            (region, account, text_value(&arn.name, cap)).prop_map(move |(region, account, name)| {
                format!(
                    "arn:{partition}:{}:{region}:{account}:{}{name}",
                    arn.service, arn.resource
                )
            })
        })
        .boxed()
}

fn integer_value(integer: &'static Integer) -> BoxedStrategy<String> {
    let (min, max) = (integer.min, integer.max);
    prop_oneof![
        (min..=max).prop_map(|n| n.to_string()),
        Just(min.to_string()),
        Just(max.to_string()),
        Just((min - 1).to_string()),
        Just((max + 1).to_string()),
        (min..=max).prop_map(|n| format!("00{n}")),
        (0..min.max(1)).prop_map(|n| n.to_string()),
    ]
    .boxed()
}

fn region_value(partition: Option<Partition>) -> BoxedStrategy<String> {
    let known: Vec<String> = match partition {
        Some(p) => partitions::regions(p).to_vec(),
        None => partitions::SUPPORTED
            .iter()
            .flat_map(|p| partitions::regions(*p).iter().cloned())
            .chain(["mars-north-1", "us-east-99", "aws-global", "eusc-de-east-1"].map(String::from))
            .collect(),
    };
    proptest::sample::select(known).boxed()
}

/// A value meant to follow the rule (in `partition` when given, else any).
fn rule_value(rule: Rule, partition: Option<Partition>, cap: usize) -> BoxedStrategy<String> {
    match rule {
        Rule::Text(text) => text_value(text, cap),
        Rule::Arn(arn) => arn_value(arn, partition, ACCOUNT, cap),
        Rule::Integer(integer) => integer_value(integer),
        Rule::Region => region_value(partition),
        Rule::Boolean => proptest::sample::select(BOOLEANS.to_vec())
            .prop_map(str::to_owned)
            .boxed(),
        Rule::Persona | Rule::Activity | Rule::Tag(_) | Rule::Any(_) => {
            panic!("{rule:?} has no values of its own")
        }
    }
}

/// One edit of a value.
fn mutate(value: String) -> BoxedStrategy<String> {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let trouble = || proptest::sample::select(TROUBLE.to_vec());
    let (a, b, c) = (chars.clone(), chars.clone(), chars.clone());
    prop_oneof![
        (0..=n, trouble()).prop_map(move |(i, t)| {
            let mut v = a.clone();
            v.insert(i, t);
            v.into_iter().collect()
        }),
        (0..n.max(1)).prop_map(move |i| {
            let mut v = b.clone();
            if i < v.len() {
                v.remove(i);
            }
            v.into_iter().collect()
        }),
        (0..n.max(1), trouble()).prop_map(move |(i, t)| {
            let mut v = c.clone();
            if i < v.len() {
                v[i] = t;
            }
            v.into_iter().collect()
        }),
        Just(value.to_uppercase()),
        (0..=n).prop_map({
            let chars = chars.clone();
            move |i| chars[..i].iter().collect()
        }),
        Just(format!("{value}{value}")),
        Just(value.replacen(":aws:", ":aws-cn:", 1)),
        Just(value.replacen(":us-east-1:", ":cn-north-1:", 1)),
    ]
    .boxed()
}

/// Values at the edges of a rule, read from its data: each thing it forbids, its limits, and
/// for ARNs each part swapped for one that belongs elsewhere.
fn edge_value(rule: Rule) -> BoxedStrategy<String> {
    match rule {
        Rule::Text(text) => text_edges(text),
        Rule::Arn(arn) => arn_edges(arn),
        Rule::Integer(integer) => {
            let (min, max) = (integer.min, integer.max);
            let numbers = [min.saturating_sub(1), min, max, max + 1].map(|n| n.to_string());
            let forms: Vec<String> = numbers
                .iter()
                .flat_map(|n| {
                    [
                        n.clone(),
                        format!("0{n}"),
                        format!("+{n}"),
                        format!("-{n}"),
                        format!(" {n}"),
                        format!("{n}.0"),
                        format!("{n}e0"),
                    ]
                })
                .collect();
            proptest::sample::select(forms).boxed()
        }
        Rule::Region => region_value(None),
        Rule::Boolean => proptest::sample::select(vec![
            "true", "false", "True", "FALSE", "yes", "1", "0", " true", "false ", "",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        Rule::Persona | Rule::Activity | Rule::Tag(_) | Rule::Any(_) => {
            panic!("{rule:?} has no values of its own")
        }
    }
}

fn text_edges(text: &'static Text) -> BoxedStrategy<String> {
    let valid = text_value(text, usize::MAX);
    let prefix = text.prefix;
    let mut edges: Vec<BoxedStrategy<String>> = vec![
        Just(String::new()).boxed(),
        Just(prefix.to_owned()).boxed(),
        proptest::sample::select(vec!["/", "//", "/a", "a/", "/a//", "a//b", "a/b"])
            .prop_map(move |v| format!("{prefix}{v}"))
            .boxed(),
    ];
    for forbidden in text.forbidden {
        edges.push(match *forbidden {
            Forbidden::IpAddress => (
                proptest::collection::vec(digits_between(1, 4), 3..=5),
                proptest::sample::select(vec!["", "", "x", "*"]),
            )
                .prop_map(|(groups, tail)| format!("{}{tail}", groups.join(".")))
                .boxed(),
            Forbidden::Substring { text: t, .. } => (valid.clone(), valid.clone())
                .prop_map(move |(a, b)| format!("{a}{t}{b}"))
                .boxed(),
            Forbidden::Prefix { text: t, .. } => (valid.clone(), any::<bool>())
                .prop_map(move |(v, upper)| {
                    let t = if upper {
                        t.to_uppercase()
                    } else {
                        t.to_owned()
                    };
                    format!("{t}{v}")
                })
                .boxed(),
            Forbidden::Chars { chars, .. } => (
                valid.clone(),
                proptest::sample::select(chars.chars().collect::<Vec<_>>()),
            )
                .prop_map(|(v, c)| format!("{v}{c}"))
                .boxed(),
        });
    }
    if let Some(w) = text.wildcard {
        edges.push(
            run_of(text.chars, (0..3usize).boxed())
                .prop_map(move |r| format!("{prefix}{w}{r}"))
                .boxed(),
        );
    }
    if text.edges.is_some() {
        // Each character of the set at either end.
        edges.push(
            (valid.clone(), char_of(text.chars), any::<bool>())
                .prop_map(|(v, c, first)| {
                    if first {
                        format!("{c}{v}")
                    } else {
                        format!("{v}{c}")
                    }
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(edges).boxed()
}

fn digits_between(min: usize, max: usize) -> BoxedStrategy<String> {
    (min..=max).prop_flat_map(digits).boxed()
}

/// An ARN with each part either right or swapped for another partition's, service's, region's,
/// account's or resource type's.
fn arn_edges(arn: &'static Arn) -> BoxedStrategy<String> {
    let partitions: Vec<String> = ["aws", "aws-cn", "aws-us-gov", "aws-iso", "AWS", ""]
        .map(String::from)
        .to_vec();
    let services = vec![arn.service.to_owned(), "s3".to_owned(), String::new()];
    let mut regions: Vec<String> = [
        "",
        "*",
        "mars-north-1",
        "us-east-1",
        "cn-north-1",
        "us-gov-west-1",
        "aws-global",
        "US-EAST-1",
    ]
    .map(String::from)
    .to_vec();
    regions.extend(partitions::regions(Partition::Aws).iter().take(3).cloned());
    let accounts = [
        "aws",
        ACCOUNT,
        OTHER_ACCOUNT,
        "12345678901",
        "1234567890123",
        "",
    ]
    .map(String::from)
    .to_vec();
    let mut resources: Vec<String> =
        vec![arn.resource.to_owned(), "user/".to_owned(), String::new()];
    resources.extend(arn.instead.iter().map(|(r, _)| (*r).to_owned()));
    let right = arn_value(arn, None, ACCOUNT, usize::MAX);
    let name = prop_oneof![text_value(&arn.name, usize::MAX), text_edges(&arn.name)];
    (
        right,
        proptest::sample::select(partitions),
        proptest::sample::select(services),
        proptest::sample::select(regions),
        proptest::sample::select(accounts),
        proptest::sample::select(resources),
        name,
        proptest::collection::vec(any::<bool>(), 6),
    )
        .prop_map(
            |(right, partition, service, region, account, resource, name, swap)| {
                let parts: Vec<&str> = right.splitn(6, ':').collect();
                let resource_now = parts[5].to_owned();
                let pick = |i: usize, other: &str| {
                    if swap[i] {
                        other.to_owned()
                    } else {
                        parts[i + 1].to_owned()
                    }
                };
                let resource = if swap[4] {
                    format!("{resource}{name}")
                } else {
                    resource_now
                };
                format!(
                    "arn:{}:{}:{}:{}:{resource}",
                    pick(0, &partition),
                    pick(1, &service),
                    pick(2, &region),
                    pick(3, &account)
                )
            },
        )
        .boxed()
}

/// Valid values, edge values, both mutated, and troublesome strings.
fn any_value(rule: Rule) -> BoxedStrategy<String> {
    let valid = rule_value(rule, None, usize::MAX);
    let edge = edge_value(rule);
    prop_oneof![
        3 => valid.clone(),
        3 => edge.clone(),
        3 => valid.clone().prop_flat_map(mutate),
        2 => edge.prop_flat_map(mutate),
        1 => valid.prop_flat_map(mutate).prop_flat_map(mutate),
        1 => proptest::collection::vec(proptest::sample::select(TROUBLE.to_vec()), 0..8)
            .prop_map(|c| c.into_iter().collect::<String>()),
    ]
    .boxed()
}

// Judging.

/// Properties, with a selection of activities that takes no parameter (so none is required).
fn with(property: &str, value: Value) -> Value {
    let mut input = json!({"Persona": "Custom", "Activities": ["S3 Full Access"]});
    input[property] = value;
    input
}

fn parse_errors(input: &Value, stack: &StackContext) -> Vec<PropertyError> {
    properties::parse(input, stack)
        .err()
        .map(|e| e.0)
        .unwrap_or_default()
}

/// Whether the schema reports something at `pointer` or below it.
fn schema_refuses(violations: &[String], pointer: &str) -> bool {
    violations
        .iter()
        .any(|v| v.starts_with(&format!("{pointer}:")) || v.starts_with(&format!("{pointer}/")))
}

/// Whether the parser refuses, in every stack of `stacks`, something at `at`.
fn parser_refuses(input: &Value, stacks: &[StackContext], at: &str) -> bool {
    stacks
        .iter()
        .all(|stack| parse_errors(input, stack).iter().any(|e| e.property == at))
}

fn agree(
    what: &str,
    schema: bool,
    parser: bool,
    input: &Value,
    violations: &[String],
    tally: &Tally,
) -> Result<(), TestCaseError> {
    tally.count(parser);
    if schema != parser {
        let errors: Vec<String> = stacks_for(&input.to_string())
            .iter()
            .flat_map(|s| parse_errors(input, s))
            .map(|e| e.to_string())
            .collect();
        return Err(TestCaseError::fail(format!(
            "{what}: schema refuses: {schema}, parser refuses: {parser}\ninput: {input}\nschema: {violations:?}\nparser: {errors:?}"
        )));
    }
    Ok(())
}

/// How many cases each side of the rule saw, so that a generator that never reaches one side
/// fails the test instead of proving nothing.
#[derive(Default)]
struct Tally {
    accepted: Cell<usize>,
    refused: Cell<usize>,
}

impl Tally {
    fn count(&self, refused: bool) {
        let cell = if refused {
            &self.refused
        } else {
            &self.accepted
        };
        cell.set(cell.get() + 1);
    }

    fn assert_both_sides(&self, property: &str) {
        assert!(
            self.accepted.get() > 0 && self.refused.get() > 0,
            "{property}: generated values reached only one side: {} accepted, {} refused",
            self.accepted.get(),
            self.refused.get()
        );
    }
}

/// A runner of `cases` cases (each checks several forms), or of `PROPTEST_CASES`.
fn runner(cases: u32) -> TestRunner {
    let config = Config::default();
    TestRunner::new(Config {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            config.cases
        } else {
            cases
        },
        failure_persistence: None,
        // The test needs varied values, not unpredictable ones; this generator is cheaper.
        rng_algorithm: RngAlgorithm::XorShift,
        ..config
    })
}

/// Cases per property, and per partition for whole property sets; `PROPTEST_CASES` overrides.
const VALUE_CASES: u32 = 128;
const SET_CASES: u32 = 48;

/// An activity that takes the parameter, for the `ActivityParameters` form.
fn activity_taking(param: Param) -> &'static catalog::Activity {
    catalog::ACTIVITIES
        .iter()
        .copied()
        .find(|a| a.uses(param).is_some())
        .unwrap()
}

fn check_scalar(property: &'static Property, tally: &Tally) {
    let strategy = any_value(property.rule);
    runner(VALUE_CASES)
        .run(&strategy, |value| {
            let input = with(property.name, json!(value));
            let violations = schema_violations(&input);
            let schema = schema_refuses(&violations, &format!("/{}", property.name));
            let parser = parser_refuses(&input, &stacks_for(&value), property.name);
            agree(property.name, schema, parser, &input, &violations, tally)
        })
        .unwrap();
}

fn check_list(property: &'static Property, tally: &Tally) {
    let strategy = proptest::collection::vec(any_value(property.rule), 1..3);
    runner(VALUE_CASES)
        .run(&strategy, |values| {
            // An array: each item on its own.
            let input = with(property.name, json!(values));
            let violations = schema_violations(&input);
            for (i, value) in values.iter().enumerate() {
                let schema = schema_refuses(&violations, &format!("/{}/{i}", property.name));
                let parser = parser_refuses(
                    &input,
                    &stacks_for(value),
                    &format!("{}[{i}]", property.name),
                );
                agree(property.name, schema, parser, &input, &violations, tally)?;
            }
            // One comma-separated string: refused when any item is.
            let joined = values.join(",");
            let input = with(property.name, json!(joined));
            let violations = schema_violations(&input);
            let schema = schema_refuses(&violations, &format!("/{}", property.name));
            let items: Vec<&str> = joined
                .split(',')
                .map(|s| s.trim_matches([' ', '\t', '\n', '\r']))
                .filter(|s| !s.is_empty())
                .collect();
            let parser = items.iter().enumerate().any(|(i, item)| {
                parser_refuses(
                    &input,
                    &stacks_for(item),
                    &format!("{}[{i}]", property.name),
                )
            });
            agree(property.name, schema, parser, &input, &violations, tally)?;
            // The same under ActivityParameters.
            if let Kind::Parameter(param) = property.kind {
                let activity = activity_taking(param).name;
                let mut input = json!({"Persona": "Custom", "Activities": [activity]});
                input["ActivityParameters"] = json!({activity: {(property.name): values}});
                let violations = schema_violations(&input);
                for (i, value) in values.iter().enumerate() {
                    let pointer = format!("/ActivityParameters/{activity}/{}/{i}", property.name);
                    let at = format!("ActivityParameters.{activity}.{}[{i}]", property.name);
                    let schema = schema_refuses(&violations, &pointer);
                    let parser = parser_refuses(&input, &stacks_for(value), &at);
                    agree(property.name, schema, parser, &input, &violations, tally)?;
                }
            }
            Ok(())
        })
        .unwrap();
}

fn check_tags(property: &'static Property, tally: &Tally) {
    let Rule::Tag(tag) = property.rule else {
        panic!("Tags has a tag rule")
    };
    let field = |text: &'static Text| {
        let valid = text_value(text, usize::MAX);
        prop_oneof![2 => valid.clone(), 3 => valid.prop_flat_map(mutate)]
    };
    let strategy = (field(&tag.key), field(&tag.value));
    runner(VALUE_CASES)
        .run(&strategy, |(key, value)| {
            let input = with(property.name, json!([{"Key": key, "Value": value}]));
            let violations = schema_violations(&input);
            let stacks = stacks_for("");
            for field in ["Key", "Value"] {
                let schema = schema_refuses(&violations, &format!("/Tags/0/{field}"));
                let parser = parser_refuses(&input, &stacks, &format!("Tags[0].{field}"));
                agree(property.name, schema, parser, &input, &violations, tally)?;
            }
            Ok(())
        })
        .unwrap();
}

/// Whole numbers given as JSON numbers, in and out of range, and numbers with a fraction.
fn check_numbers(property: &'static Property, integer: &'static Integer, tally: &Tally) {
    let (min, max) = (integer.min as f64, integer.max as f64);
    let strategy = prop_oneof![
        (min - 2.0..max + 2.0).prop_map(|f| json!(f.round() as i64)),
        (min - 2.0..max + 2.0).prop_map(|f| json!(f.round())),
        (min..max).prop_map(|f| json!(f)),
        proptest::sample::select(vec![
            min - 1.0,
            min,
            max,
            max + 1.0,
            min + 0.5,
            -0.0,
            -1.0,
            1e30
        ])
        .prop_map(|f| json!(f)),
        proptest::sample::select(vec![
            integer.min - 1,
            integer.min,
            integer.max,
            integer.max + 1
        ])
        .prop_map(|n| json!(n)),
    ];
    runner(VALUE_CASES)
        .run(&strategy, |number| {
            let input = with(property.name, number);
            let violations = schema_violations(&input);
            let schema = schema_refuses(&violations, &format!("/{}", property.name));
            let parser = parser_refuses(&input, &stacks_for(""), property.name);
            agree(property.name, schema, parser, &input, &violations, tally)
        })
        .unwrap();
}

/// The properties whose rules the schema carries, each with its check.
fn covered() -> Vec<&'static Property> {
    table::PROPERTIES
        .iter()
        .copied()
        .filter(|p| !LEFT_TO_THE_PARSER.iter().any(|(name, _)| *name == p.name))
        .collect()
}

#[test]
fn agreement_covers_every_property_of_the_table() {
    for property in table::PROPERTIES {
        let excused = LEFT_TO_THE_PARSER
            .iter()
            .any(|(name, _)| *name == property.name);
        let judged = property.rule.pattern("").is_some() || property.kind == Kind::Tags;
        assert!(
            excused != judged,
            "{}: the schema {} its values, so it must {}be listed in LEFT_TO_THE_PARSER",
            property.name,
            if judged { "judges" } else { "does not judge" },
            if judged { "not " } else { "" }
        );
    }
}

#[test]
fn schema_and_parser_agree_on_every_value_rule() {
    for property in covered() {
        let tally = Tally::default();
        match (property.kind, property.rule) {
            (Kind::Tags, _) => check_tags(property, &tally),
            (Kind::Scalar, Rule::Integer(integer)) => {
                check_scalar(property, &tally);
                check_numbers(property, integer, &tally);
            }
            (Kind::Scalar, _) => check_scalar(property, &tally),
            (Kind::List | Kind::Parameter(_), _) => check_list(property, &tally),
            (kind, _) => panic!("{}: no check for {kind:?}", property.name),
        }
        tally.assert_both_sides(property.name);
    }
}

#[test]
fn schema_and_parser_agree_on_the_shape_of_every_property() {
    let shapes = [
        json!(null),
        json!(7),
        json!(true),
        json!({"a": "b"}),
        json!([["nested"]]),
        json!([7]),
        json!([null]),
        json!([{"Key": "k", "Value": 7}]),
        json!([{"Key": "k", "Extra": "x"}]),
        json!([{"Value": "v"}]),
        json!({"S3 Full Access": null}),
        json!({"Manage ML Jobs": {"PassRoles": 7}}),
    ];
    for property in covered() {
        for shape in &shapes {
            let input = with(property.name, shape.clone());
            let violations = schema_violations(&input);
            let schema = schema_refuses(&violations, &format!("/{}", property.name));
            let stacks = stacks_for("");
            let parser = stacks.iter().all(|stack| {
                parse_errors(&input, stack).iter().any(|e| {
                    e.property == property.name
                        || e.property.starts_with(&format!("{}[", property.name))
                        || e.property.starts_with(&format!("{}.", property.name))
                })
            });
            assert_eq!(schema, parser, "{input}: schema {violations:?}");
        }
    }
}

#[test]
fn tag_counts_agree_at_the_limit() {
    let Rule::Tag(tag) = table::TAGS.rule else {
        panic!("Tags has a tag rule")
    };
    for n in [tag.max, tag.max + 1] {
        let tags: Vec<Value> = (0..n)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect();
        let input = with("Tags", json!(tags));
        let schema = schema_refuses(&schema_violations(&input), "/Tags");
        let parser = parse_errors(&input, &stack(Partition::Aws, ACCOUNT))
            .iter()
            .any(|e| e.property == "Tags");
        assert_eq!((schema, parser), (n > tag.max, n > tag.max), "{n} tags");
    }
}

// A valid property set plans.

/// A property set valid in `stack`: a persona, activities, each parameter they need (pairs
/// whole), and a sample of the optional properties, all with values of the stack's partition.
fn valid_set(partition: Partition) -> BoxedStrategy<Value> {
    let persona =
        proptest::sample::select(catalog::PERSONAS.iter().map(|p| p.id).collect::<Vec<_>>());
    let activities = proptest::sample::subsequence(
        catalog::ACTIVITIES
            .iter()
            .map(|a| a.name)
            .collect::<Vec<_>>(),
        1..=catalog::ACTIVITIES.len(),
    );
    let parameters: Vec<BoxedStrategy<(Param, Vec<String>)>> = Param::ALL
        .iter()
        .map(|&param| {
            let values = proptest::collection::vec(
                valid_of(table::parameter_property(param).rule, partition),
                1..3,
            );
            values.prop_map(move |v| (param, v)).boxed()
        })
        .collect();
    let optional = |property: &'static Property| {
        proptest::option::of(valid_of(property.rule, partition)).boxed()
    };
    (
        persona,
        activities,
        parameters,
        proptest::collection::vec(any::<bool>(), Param::ALL.len()),
        (
            optional(&table::ROLE_NAME_SUFFIX),
            optional(&table::DESCRIPTION),
            optional(&table::PATH),
            optional(&table::MAX_SESSION_DURATION),
            optional(&table::PERMISSIONS_BOUNDARY),
        ),
        proptest::option::of(proptest::collection::vec(
            region_value(Some(partition)),
            1..3,
        )),
        proptest::collection::vec(
            (
                valid_of_text(&tag_rule().key),
                valid_of_text(&tag_rule().value),
            ),
            0..4,
        ),
    )
        .prop_map(
            move |(persona, activities, parameters, given, scalars, regions, tags)| {
                let mut map = Map::new();
                map.insert("Persona".to_owned(), json!(persona));
                map.insert("Activities".to_owned(), json!(activities));
                let selected: Vec<&catalog::Activity> = activities
                    .iter()
                    .filter_map(|name| catalog::find_activity(name).map(catalog::activity))
                    .collect();
                // What a selected activity requires, and a sample of the rest (unused ones only
                // warn); pairs whole.
                let mut values_of = std::collections::BTreeMap::new();
                for ((param, values), give) in parameters.into_iter().zip(given) {
                    let needed = selected
                        .iter()
                        .any(|a| a.uses(param) == Some(catalog::Need::Required));
                    if needed || give {
                        values_of.insert(param, values);
                    }
                }
                for (a, b) in table::PAIRS {
                    if values_of.contains_key(&a) != values_of.contains_key(&b) {
                        values_of.remove(&a);
                        values_of.remove(&b);
                    }
                }
                for (param, values) in values_of {
                    map.insert(param.name().to_owned(), json!(values));
                }
                let names = [
                    "RoleNameSuffix",
                    "Description",
                    "Path",
                    "MaxSessionDuration",
                    "PermissionsBoundary",
                ];
                let (s, d, p, m, q) = scalars;
                for (name, value) in names.into_iter().zip([s, d, p, m, q]) {
                    if let Some(value) = value {
                        map.insert(name.to_owned(), json!(value));
                    }
                }
                if let Some(regions) = regions {
                    map.insert("Regions".to_owned(), json!(regions));
                }
                let mut seen = std::collections::BTreeSet::new();
                let tags: Vec<Value> = tags
                    .into_iter()
                    .filter(|(k, _)| seen.insert(k.to_lowercase()))
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect();
                map.insert("Tags".to_owned(), json!(tags));
                Value::Object(map)
            },
        )
        .boxed()
}

fn tag_rule() -> &'static persona_role::properties::rules::TagRule {
    match table::TAGS.rule {
        Rule::Tag(tag) => tag,
        _ => panic!("Tags has a tag rule"),
    }
}

/// Values the rule accepts in the partition, short enough to plan.
fn valid_of(rule: Rule, partition: Partition) -> BoxedStrategy<String> {
    let stack = stack(partition, ACCOUNT);
    rule_value(rule, Some(partition), 24)
        .prop_filter("valid", move |v| rule.check(v, &stack).is_ok())
        .boxed()
}

fn valid_of_text(text: &'static Text) -> BoxedStrategy<String> {
    text_value(text, 24)
        .prop_filter("valid", move |v| text.check(v).is_ok())
        .boxed()
}

#[test]
fn a_generated_valid_property_set_passes_the_schema_and_plans() {
    for partition in partitions::SUPPORTED {
        let stack = stack(partition, ACCOUNT);
        runner(SET_CASES)
            .run(&valid_set(partition), |input| {
                let violations = schema_violations(&input);
                prop_assert!(violations.is_empty(), "{input}: {violations:?}");
                let plan = plan::plan_properties(&input, &stack);
                prop_assert!(
                    plan.is_ok(),
                    "{input}: {}",
                    plan.err().map(|e| e.to_string()).unwrap_or_default()
                );
                Ok(())
            })
            .unwrap();
    }
}
