//! The operator's limits through the handler, as `template.yaml` deploys them: the function's
//! environment is evaluated from the template (its parameters' defaults, or the operator's
//! values), read as the Lambda reads it, and one refusal per parameter arrives as FAILED with
//! nothing made in IAM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use persona_role::guardrails::{ENVIRONMENT, Guardrails};
use persona_role::handler::Settings;
use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;
use support::*;

// ------------------------------------------------------------------- the template deployed

/// A value of the template once CloudFormation has resolved it.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
    /// `AWS::NoValue`: the property is left out.
    Absent,
}

impl Resolved {
    fn text(self) -> String {
        match self {
            Resolved::Text(text) => text,
            other => panic!("expected a string, got {other:?}"),
        }
    }

    fn list(self) -> Vec<String> {
        match self {
            Resolved::List(items) => items,
            Resolved::Text(text) => vec![text],
            Resolved::Absent => panic!("expected a list, got AWS::NoValue"),
        }
    }
}

/// `template.yaml` deployed in the tests' account and region (`us-east-1`, `ACCOUNT`), with its
/// parameters' defaults replaced by the operator's `overrides`.
struct Deployed {
    template: Yaml,
    parameters: BTreeMap<String, String>,
    /// What `Ref` of a resource gives.
    resources: BTreeMap<String, String>,
}

impl Deployed {
    fn new(overrides: &[(&str, &str)], resources: &[(&str, &str)]) -> Self {
        let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
        let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
        let mut parameters = BTreeMap::new();
        for (name, parameter) in template["Parameters"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            let default = match &parameter["Default"] {
                Yaml::String(text) => text.clone(),
                Yaml::Number(number) => number.to_string(),
                Yaml::Null => String::new(),
                other => panic!("parameter {name}: default {other:?}"),
            };
            parameters.insert(name.to_owned(), default);
        }
        for (name, value) in overrides {
            assert!(
                parameters.contains_key(*name),
                "template.yaml has no parameter {name}"
            );
            parameters.insert((*name).to_owned(), (*value).to_owned());
        }
        Deployed {
            template,
            parameters,
            resources: resources
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The function's environment variables, as Lambda would set them.
    fn environment(&self) -> BTreeMap<String, String> {
        let variables = &self.template["Resources"]["PersonaRoleFunction"]["Properties"]["Environment"]
            ["Variables"];
        variables
            .as_mapping()
            .unwrap()
            .iter()
            .filter_map(|(name, value)| match self.resolve(value) {
                Resolved::Absent => None,
                resolved => Some((name.as_str().unwrap().to_owned(), resolved.text())),
            })
            .collect()
    }

    fn reference(&self, name: &str) -> Resolved {
        if let Some(value) = self.parameters.get(name) {
            let kind = self.template["Parameters"][name]["Type"].as_str().unwrap();
            return match kind {
                // CloudFormation splits the list at its commas; an empty one is `[""]`.
                "CommaDelimitedList" => {
                    Resolved::List(value.split(',').map(str::to_owned).collect())
                }
                _ => Resolved::Text(value.clone()),
            };
        }
        match name {
            "AWS::Partition" => Resolved::Text("aws".to_owned()),
            "AWS::AccountId" => Resolved::Text(ACCOUNT.to_owned()),
            "AWS::Region" => Resolved::Text("us-east-1".to_owned()),
            "AWS::StackName" => Resolved::Text("persona-role".to_owned()),
            "AWS::NoValue" => Resolved::Absent,
            _ => Resolved::Text(
                self.resources
                    .get(name)
                    .unwrap_or_else(|| panic!("Ref {name}: give the test its value"))
                    .clone(),
            ),
        }
    }

    fn resolve(&self, value: &Yaml) -> Resolved {
        match value {
            Yaml::String(text) => Resolved::Text(text.clone()),
            Yaml::Number(number) => Resolved::Text(number.to_string()),
            Yaml::Bool(flag) => Resolved::Text(flag.to_string()),
            Yaml::Sequence(items) => Resolved::List(
                items
                    .iter()
                    .map(|item| self.resolve(item))
                    .filter(|item| *item != Resolved::Absent)
                    .flat_map(Resolved::list)
                    .collect(),
            ),
            Yaml::Tagged(tagged) => {
                let args = tagged.value.as_sequence();
                let tag = tagged.tag.to_string();
                match (tag.trim_start_matches('!'), args.map(Vec::as_slice)) {
                    ("Ref", _) => self.reference(tagged.value.as_str().unwrap()),
                    ("Join", Some([separator, items])) => {
                        Resolved::Text(self.resolve(items).list().join(separator.as_str().unwrap()))
                    }
                    ("Split", Some([separator, text])) => Resolved::List(
                        self.resolve(text)
                            .text()
                            .split(separator.as_str().unwrap())
                            .map(str::to_owned)
                            .collect(),
                    ),
                    ("Sub", _) => Resolved::Text(self.substitute(tagged.value.as_str().unwrap())),
                    ("If", Some([condition, yes, no])) => {
                        match self.condition(condition.as_str().unwrap()) {
                            true => self.resolve(yes),
                            false => self.resolve(no),
                        }
                    }
                    (other, _) => panic!("!{other} is not resolved by this test: {value:?}"),
                }
            }
            other => panic!("cannot resolve {other:?}"),
        }
    }

    /// `${Name}` replaced by what `Ref Name` gives.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            out.push_str(&self.reference(&rest[start + 2..end]).text());
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, value: &Yaml) -> bool {
        let Yaml::Tagged(tagged) = value else {
            panic!("not a condition: {value:?}");
        };
        let args = tagged.value.as_sequence().map(Vec::as_slice);
        let tag = tagged.tag.to_string();
        match (tag.trim_start_matches('!'), args) {
            ("Equals", Some([a, b])) => self.resolve(a) == self.resolve(b),
            ("Not", Some([a])) => !self.truth(a),
            ("And", Some(all)) => all.iter().all(|c| self.truth(c)),
            ("Or", Some(any)) => any.iter().any(|c| self.truth(c)),
            ("Condition", _) => self.condition(tagged.value.as_str().unwrap()),
            (other, _) => panic!("!{other} is not a condition this test resolves"),
        }
    }
}

/// The guardrails of the function deployed from `template.yaml` with the operator's
/// `overrides`, read from its environment as the Lambda reads it; the stack's
/// `PersonaRoleBoundary` is a policy made in moto.
async fn deployed(overrides: &[(&str, &str)]) -> Guardrails {
    let boundary = make_policy(&request_id("persona-role-test-scope-boundary")).await;
    let environment =
        Deployed::new(overrides, &[("PersonaRoleBoundary", boundary.as_str())]).environment();
    let names: Vec<&str> = environment.keys().map(String::as_str).collect();
    let mut read = ENVIRONMENT.to_vec();
    read.sort_unstable();
    assert_eq!(names, read, "the template sets what the function reads");
    Guardrails::from_variables(|name| environment.get(name).cloned())
}

fn guarded(calls: &CallLog, guardrails: Guardrails) -> TestHandler {
    handler_with(
        iam_client(Some(calls)),
        Settings {
            guardrails,
            ..settings()
        },
    )
}

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

/// A Create answered FAILED with a reason starting with `start`, having made nothing.
async fn assert_refused(
    handler: &TestHandler,
    calls: &CallLog,
    create: &Value,
    recorder: &Recorder,
    start: &str,
) {
    calls.clear();
    let response = invoke(handler, create, recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(reason(&response).starts_with(start), "{response}");
    assert_eq!(calls.mutating(), Vec::<String>::new(), "nothing changed");
    assert!(!role_exists(&plan_of(create).role.role_name).await);
}

// ------------------------------------------------------------------------------ the tests

/// AllowedS3Buckets. With the template's default, a pattern reaching every bucket is refused;
/// with the operator's list, a bucket outside it is refused on Update, the role left as it was.
#[tokio::test]
async fn buckets_outside_allowed_s3_buckets_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let by_default = guarded(&calls, deployed(&[]).await);
    let mut create = sample_event("compute", "create", "scope-every", &recorder);
    create["ResourceProperties"]["S3Buckets"] = json!(["ml-team-data", "*"]);
    assert_refused(
        &by_default,
        &calls,
        &create,
        &recorder,
        "S3Buckets[1]: `*` starts with `*`, so it reaches every bucket, which this function's AllowedS3Buckets does not allow",
    )
    .await;

    let listed = guarded(&calls, deployed(&[("AllowedS3Buckets", "ml-team-*")]).await);
    let create = sample_event("compute", "create", "scope-s3", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let mut properties = create["ResourceProperties"].clone();
    properties["S3Buckets"] = json!(["ml-team-data", "other-team-data"]);
    let update = update_after(&create, &name, properties, "scope-s3", &recorder);
    calls.clear();
    let response = invoke(&listed, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    assert!(
        reason(&response).starts_with("S3Buckets[1]: `other-team-data` is not within this function's AllowedS3Buckets (allowed: ml-team-*"),
        "{response}"
    );
    assert_eq!(calls.mutating(), Vec::<String>::new());
    assert_converged(&create).await;

    let delete = delete_after(&create, &name, "scope-s3", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}

/// AllowedActivities: an activity outside the operator's list is refused by name, at its place.
#[tokio::test]
async fn activities_outside_allowed_activities_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let handler = guarded(
        &calls,
        deployed(&[(
            "AllowedActivities",
            "Access Required AWS Services,S3 Bucket Access",
        )])
        .await,
    );
    let mut create = sample_event("compute", "create", "scope-activity", &recorder);
    create["ResourceProperties"]["AddActivities"] = json!(["S3 Full Access"]);
    assert_refused(
        &handler,
        &calls,
        &create,
        &recorder,
        "AddActivities[0]: activity `S3 Full Access` is not on this function's AllowedActivities (allowed: Access Required AWS Services, S3 Bucket Access)",
    )
    .await;

    // The activities the operator allows are made.
    let create = sample_event("compute", "create", "scope-activity-ok", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let delete = delete_after(&create, &name, "scope-activity-ok", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}

/// AllowedTagKeys: with the template's default no declaration sets a tag key; the operator's
/// list lets the keys it names through.
#[tokio::test]
async fn tag_keys_outside_allowed_tag_keys_are_refused_as_deployed() {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let tagged = |tag: &str| {
        let mut create = sample_event("compute", "create", tag, &recorder);
        create["ResourceProperties"]["Tags"] = json!([{"Key": "team", "Value": "ml-platform"}]);
        create
    };
    let by_default = guarded(&calls, deployed(&[]).await);
    assert_refused(
        &by_default,
        &calls,
        &tagged("scope-tag"),
        &recorder,
        "Tags[0].Key: tag key `team` is not on this function's AllowedTagKeys (this function lets no declaration set tag keys",
    )
    .await;

    let listed = guarded(&calls, deployed(&[("AllowedTagKeys", "team")]).await);
    let create = tagged("scope-tag-ok");
    let name = plan_of(&create).role.role_name;
    let response = invoke(&listed, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(
        role_tags(&name).await.get("team").map(String::as_str),
        Some("ml-platform")
    );
    let delete = delete_after(&create, &name, "scope-tag-ok", &recorder);
    assert_eq!(
        invoke(&listed, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    assert_gone(&name).await;
}
