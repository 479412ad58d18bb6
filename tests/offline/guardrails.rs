//! The operator's limits on what a declaration reaches, as tables: `AllowedS3Buckets` (pattern
//! containment, and no pattern that reaches every bucket unless allowed), `AllowedActivities`
//! and `AllowedTagKeys`. Each row is a declaration under one setting and the refusals it gets:
//! the property with the value's place, and the start of the message. Decisions only, in
//! process; `tests/lambda/guardrails.rs` takes one refusal per parameter through the handler.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use persona_role::context::StackContext;
use persona_role::guardrails::{
    ALLOWED_ACTIVITIES_ENV, ALLOWED_S3_BUCKETS_ENV, ALLOWED_TAG_KEYS_ENV, ENVIRONMENT, Guardrails,
    covers,
};
use persona_role::plan::{self, PlanError};
use persona_role::properties::PropertyError;
use serde_json::{Value, json};

fn context() -> StackContext {
    StackContext::from_stack_id(
        "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/6b1e1a70-0000-11ef-0000-0a1b2c3d4e5f",
        "Role",
    )
    .unwrap()
}

/// The refusals of a declaration, `(property, message)`; empty when it is planned.
fn refusals(guardrails: &Guardrails, properties: &Value) -> Vec<PropertyError> {
    match plan::plan_guarded(properties, &context(), guardrails) {
        Ok(_) => Vec::new(),
        Err(PlanError::Guardrail(errors)) => errors.0,
        Err(other) => panic!("{properties}: not a guardrail's refusal: {other}"),
    }
}

/// Checks each row: `expected` lists `(property, start of the message)` of every refusal, in
/// order.
fn check(guardrails: &Guardrails, rows: &[(Value, &[(&str, &str)])]) {
    for (properties, expected) in rows {
        let found = refusals(guardrails, properties);
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|e| (e.property.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got.len(),
            expected.len(),
            "{properties}: refusals {found:#?}"
        );
        for ((property, message), (want_property, want_start)) in got.iter().zip(expected.iter()) {
            assert_eq!(property, want_property, "{properties}: {found:#?}");
            assert!(
                message.starts_with(want_start),
                "{properties}: `{message}` should start with `{want_start}`"
            );
        }
    }
}

fn compute(buckets: Value) -> Value {
    json!({"Persona": "SageMakerCompute", "S3Buckets": buckets})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

/// A declared pattern is within an allowed one exactly when every bucket it can match is
/// matched by it.
#[test]
fn a_pattern_is_covered_only_by_a_pattern_matching_all_it_matches() {
    // (allowed, declared, covered, why)
    let rows: &[(&str, &str, bool, &str)] = &[
        (
            "team-a-*",
            "team-a-data",
            true,
            "a name the pattern matches",
        ),
        ("team-a-*", "team-a-*", true, "the pattern itself"),
        (
            "team-a-*",
            "team-a-*-raw",
            true,
            "narrower: it keeps the prefix",
        ),
        (
            "team-a-*",
            "team-a-*-*",
            true,
            "two wildcards after the prefix",
        ),
        ("team-a-*", "team-a*", false, "matches team-ab"),
        ("team-a-*", "team-*", false, "matches team-b-data"),
        ("team-a-*", "*", false, "every bucket"),
        (
            "team-a-*",
            "team-a-",
            true,
            "`*` also matches no characters",
        ),
        ("team-a-data", "team-a-data", true, "an exact name"),
        ("team-a-data", "team-a-dat*", false, "matches team-a-dat"),
        (
            "*-raw",
            "team-a-*-raw",
            true,
            "a suffix pattern keeps its suffix",
        ),
        ("*-raw", "team-a-*", false, "matches team-a-x"),
        (
            "a*b*c",
            "a*x*b*y*c",
            true,
            "each literal of the allowed one in order",
        ),
        ("*ab*", "*a*b*", false, "matches axb, which holds no ab"),
        ("*a*a*", "*aa*", true, "two a's, adjacent or not"),
        ("*", "*", true, "every bucket within every bucket"),
        ("**", "*", true, "a run of wildcards is one"),
        ("*", "team-a-*", true, "every pattern within every bucket"),
    ];
    for (allowed, declared, covered, why) in rows {
        assert_eq!(
            covers(allowed, declared),
            *covered,
            "covers({allowed:?}, {declared:?}): {why}"
        );
    }
}

/// Without an allow-list (the template's default), any bucket, but never a pattern that
/// reaches every bucket: one starting with `*`, which in `arn:…:s3:::P/*` also spans the
/// bucket name and the `/` after it.
#[test]
fn without_an_allow_list_no_pattern_may_reach_every_bucket() {
    let g = Guardrails::default().with_s3_buckets(Some(""));
    let every = "`*` starts with `*`, so it reaches every bucket, which this function's AllowedS3Buckets does not allow";
    check(
        &g,
        &[
            (compute(json!(["ml-data", "ml-*", "ml-*-raw"])), &[]),
            (compute(json!(["*"])), &[("S3Buckets[0]", every)]),
            (
                compute(json!(["ml-data", "**"])),
                &[("S3Buckets[1]", "`**` starts with `*`")],
            ),
            (
                compute(json!("ml-data, *-data")),
                &[("S3Buckets[1]", "`*-data` starts with `*`")],
            ),
            (
                with(
                    compute(json!(["ml-data"])),
                    "ActivityParameters",
                    json!({"Access Required AWS Services": {"S3Buckets": ["ml-data", "*"]}}),
                ),
                &[(
                    "ActivityParameters.Access Required AWS Services.S3Buckets[1]",
                    every,
                )],
            ),
            // S3 Full Access is an activity, which AllowedActivities governs.
            (
                json!({"Persona": "Custom", "Activities": ["S3 Full Access"]}),
                &[],
            ),
        ],
    );
    let reason = refusals(&g, &compute(json!(["*"])))[0].to_string();
    assert!(reason.contains("AllowedS3Buckets `*`"), "{reason}");
    // Unset, as in the offline CLI: any.
    assert!(refusals(&Guardrails::default(), &compute(json!(["*"]))).is_empty());
}

#[test]
fn every_bucket_is_allowed_only_by_the_operator() {
    let g = Guardrails::default().with_s3_buckets(Some("*"));
    check(
        &g,
        &[
            (compute(json!(["*", "*-data", "ml-data"])), &[]),
            (
                json!({"Persona": "Custom", "Activities": ["S3 Full Access"]}),
                &[],
            ),
        ],
    );
}

/// With an allow-list, every bucket named, top-level or per activity, and every bucket an
/// activity reaches of its own, must fall within one allowed pattern; all at once.
#[test]
fn with_an_allow_list_every_bucket_falls_within_one_pattern() {
    let g = Guardrails::default().with_s3_buckets(Some("team-a-*, shared-features"));
    let outside =
        |bucket: &str| format!("`{bucket}` is not within this function's AllowedS3Buckets");
    let (team_a, team_ab, star) = (outside("team-*"), outside("team-a*"), outside("*"));
    check(
        &g,
        &[
            (
                compute(json!(["team-a-data", "team-a-*-raw", "shared-features"])),
                &[],
            ),
            (
                compute(json!(["team-*"])),
                &[("S3Buckets[0]", team_a.as_str())],
            ),
            (
                compute(json!(["team-a-data", "team-a*", "*"])),
                &[
                    ("S3Buckets[1]", team_ab.as_str()),
                    ("S3Buckets[2]", star.as_str()),
                ],
            ),
            (
                with(
                    compute(json!(["team-a-data"])),
                    "ActivityParameters",
                    json!({"access-required-aws-services": {"S3Buckets": "team-a-x, team-b-data"}}),
                ),
                &[(
                    "ActivityParameters.access-required-aws-services.S3Buckets[1]",
                    "`team-b-data` is not within",
                )],
            ),
            (
                json!({"Persona": "Custom", "Activities": ["S3 Bucket Access", "S3 Full Access"], "S3Buckets": ["team-a-data"]}),
                &[(
                    "Activities[1]",
                    "activity `S3 Full Access` reaches every bucket, which is not within this function's AllowedS3Buckets",
                )],
            ),
            (
                json!({"Persona": "Custom", "Activities": ["Access required to AWS Services for MLflow"]}),
                &[(
                    "Activities[0]",
                    "activity `Access required to AWS Services for MLflow` reaches buckets `sagemaker-*`",
                )],
            ),
        ],
    );
    let reason = refusals(&g, &compute(json!(["team-b-data"])))[0].to_string();
    assert!(
        reason.contains("allowed: team-a-*, shared-features"),
        "{reason}"
    );
    // MLflow's artifact stores, once allowed.
    let mlflow = Guardrails::default().with_s3_buckets(Some("team-a-*,sagemaker-*"));
    assert!(
        refusals(
            &mlflow,
            &json!({"Persona": "Custom", "Activities": ["Access required to AWS Services for MLflow"]})
        )
        .is_empty()
    );
}

/// Activities outside AllowedActivities are refused by name wherever they were chosen: the
/// persona's defaults (at `Persona`), `Activities[i]` or `AddActivities[i]`.
#[test]
fn activities_outside_the_allowed_are_refused_wherever_chosen() {
    let g = Guardrails::default().with_activities(Some(
        "Access Required AWS Services, s3-bucket-access, Amazon S3 Bucket Access",
    ));
    let not_on =
        |name: &str| format!("activity `{name}` is not on this function's AllowedActivities");
    let full = not_on("S3 Full Access");
    check(
        &g,
        &[
            (compute(json!(["ml-data"])), &[]),
            (
                json!({"Persona": "Custom", "Activities": ["S3 Bucket Access"], "S3Buckets": ["ml-data"]}),
                &[],
            ),
            (
                with(
                    compute(json!(["ml-data"])),
                    "AddActivities",
                    json!(["S3 Bucket Access", "S3 Full Access"]),
                ),
                &[("AddActivities[1]", full.as_str())],
            ),
            // In the order given, not the catalog's.
            (
                json!({"Persona": "Custom", "Activities": ["S3 Full Access", "Manage Experiments"]}),
                &[
                    ("Activities[0]", full.as_str()),
                    ("Activities[1]", "activity `Manage Experiments` is not on"),
                ],
            ),
            (
                json!({"Persona": "Custom", "Activities": "S3 Bucket Access, s3-full-access", "S3Buckets": ["ml-data"]}),
                &[("Activities[1]", full.as_str())],
            ),
            (
                json!({"Persona": "MLOps", "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"], "RemoveActivities": ["Manage Endpoints", "Manage Pipelines", "Search and Visualize Experiments"]}),
                &[
                    (
                        "Persona",
                        "activity `Run Studio Applications`, a default of persona MLOps, is not on this function's AllowedActivities",
                    ),
                    (
                        "Persona",
                        "activity `Manage Models`, a default of persona MLOps",
                    ),
                ],
            ),
        ],
    );
    let default = &refusals(
        &g,
        &json!({"Persona": "MLOps", "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"]}),
    )[0];
    let help = default.help.as_deref().unwrap();
    assert!(help.starts_with("leave it out with RemoveActivities; allowed: Access Required AWS Services, S3 Bucket Access"), "{help}");
    // Empty and unset: every activity.
    for g in [
        Guardrails::default().with_activities(Some(" ")),
        Guardrails::default(),
    ] {
        assert_eq!(g.allowed_activities, None);
        assert!(
            refusals(
                &g,
                &json!({"Persona": "Custom", "Activities": ["S3 Full Access"]})
            )
            .is_empty()
        );
    }
}

/// A name in AllowedActivities that is no activity allows nothing, and the refusals say so.
#[test]
fn an_unknown_allowed_activity_is_named_in_the_refusal() {
    let g = Guardrails::default().with_activities(Some("S3 Bucket Acess"));
    let found = refusals(
        &g,
        &json!({"Persona": "Custom", "Activities": ["S3 Bucket Access"], "S3Buckets": ["ml-data"]}),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let help = found[0].help.as_deref().unwrap();
    assert!(
        help.contains("AllowedActivities also names `S3 Bucket Acess`, which is no activity"),
        "{help}"
    );
}

/// Tags are the role's principal tags: a key outside AllowedTagKeys is refused at its place;
/// empty (the template's default) allows none, `*` any, and keys match case-sensitively, as
/// IAM's `aws:TagKeys` conditions do.
#[test]
fn tag_keys_outside_the_allowed_are_refused() {
    let tagged = |keys: &[&str]| {
        let tags: Vec<Value> = keys
            .iter()
            .map(|k| json!({"Key": k, "Value": "x"}))
            .collect();
        with(compute(json!(["ml-data"])), "Tags", json!(tags))
    };
    let none = Guardrails::default().with_tag_keys(Some(""));
    check(
        &none,
        &[
            (compute(json!(["ml-data"])), &[]),
            (
                tagged(&["team"]),
                &[(
                    "Tags[0].Key",
                    "tag key `team` is not on this function's AllowedTagKeys",
                )],
            ),
        ],
    );
    let help = refusals(&none, &tagged(&["team"]))[0].help.clone().unwrap();
    assert!(
        help.contains("aws:PrincipalTag/<key>") && help.contains("AllowedTagKeys"),
        "{help}"
    );

    let some = Guardrails::default().with_tag_keys(Some("team, cost-*"));
    check(
        &some,
        &[
            (tagged(&["team", "cost-center"]), &[]),
            (
                tagged(&["cost-center", "Team", "owner"]),
                &[
                    ("Tags[1].Key", "tag key `Team` is not on"),
                    ("Tags[2].Key", "tag key `owner` is not on"),
                ],
            ),
        ],
    );
    let help = refusals(&some, &tagged(&["owner"]))[0]
        .help
        .clone()
        .unwrap();
    assert!(help.starts_with("allowed: team, cost-*"), "{help}");

    for any in [
        Guardrails::default().with_tag_keys(Some("*")),
        Guardrails::default(),
    ] {
        assert!(refusals(&any, &tagged(&["team", "Owner"])).is_empty());
    }
}

/// One declaration over every limit: every refusal at once, in one FAILED reason.
#[test]
fn every_limit_is_reported_at_once() {
    let g = Guardrails::default()
        .with_s3_buckets(Some("team-a-*"))
        .with_activities(Some("Access Required AWS Services"))
        .with_tag_keys(Some(""));
    let properties = json!({
        "Persona": "SageMakerCompute",
        "AddActivities": ["S3 Full Access"],
        "S3Buckets": ["team-b-data"],
        "Tags": [{"Key": "team", "Value": "a"}],
    });
    let error = plan::plan_guarded(&properties, &context(), &g).unwrap_err();
    let reason = error.to_string();
    assert!(reason.starts_with("4 invalid properties: AddActivities[0]: activity `S3 Full Access` is not on this function's AllowedActivities"), "{reason}");
    for part in [
        "S3Buckets[0]: `team-b-data` is not within this function's AllowedS3Buckets (allowed: team-a-*",
        "AddActivities[0]: activity `S3 Full Access` reaches every bucket",
        "Tags[0].Key: tag key `team` is not on this function's AllowedTagKeys",
    ] {
        assert!(reason.contains(part), "{part}: {reason}");
    }
}

/// The function reads the three limits from its environment as the template sets them.
#[test]
fn the_limits_are_read_from_the_environment() {
    for name in [
        ALLOWED_S3_BUCKETS_ENV,
        ALLOWED_ACTIVITIES_ENV,
        ALLOWED_TAG_KEYS_ENV,
    ] {
        assert!(ENVIRONMENT.contains(&name), "{name}");
    }
    let env = |name: &str| match name {
        ALLOWED_S3_BUCKETS_ENV => Some("team-a-*,".to_owned()),
        ALLOWED_ACTIVITIES_ENV => Some(String::new()),
        ALLOWED_TAG_KEYS_ENV => Some(" team ".to_owned()),
        _ => None,
    };
    let g = Guardrails::from_variables(env);
    assert_eq!(g.allowed_s3_buckets, Some(vec!["team-a-*".to_owned()]));
    assert_eq!(g.allowed_activities, None);
    assert_eq!(g.allowed_tag_keys, Some(vec!["team".to_owned()]));
    let unset = Guardrails::from_variables(|_| None);
    assert_eq!(
        (unset.allowed_s3_buckets, unset.allowed_tag_keys),
        (None, None)
    );
}
