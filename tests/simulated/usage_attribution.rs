//! `persona-role usage` names the statement IAM's decision rests on: every request the workflow
//! tables (tests/workflows/*.yaml) list as allowed, for every role and variant, is written as the
//! CloudTrail record its call leaves, read back through the reader, the mapping and the
//! attribution, and the statement named must be one that the IAM policy simulator
//! (@cloud-copilot/iam-simulate, the workflows driver's) says allowed it. Where the record
//! cannot tell statements apart (an app in a private or a shared space: the space's sharing type
//! is not in CreateApp's record), the report names them all, and the simulator's must be among
//! them.
//!
//! What the record carries is what CloudTrail shows: the event source and name, the resource
//! (`resources[]`), the request's parameters in SageMaker's request shapes (VPC, keys, instance
//! types, tags, a space's owner and sharing type), and the calling service (`invokedBy`, which is
//! `kms:ViaService`). Studio's session variables and the properties of existing resources are not
//! in CloudTrail and are left out, so the attribution must assume them as it would on a real
//! trail. `iam:PassRole` and the tag authorization of a Create are never events of their own:
//! CloudTrail shows them as the Create's `roleArn` and `tags`, which the mapping's unit tests turn
//! into those authorizations; here they are decided as the authorizations themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::atomic::AtomicU64;

use common::simulator;
use common::workflows::cases;
use persona_role::usage::attribution::{attribute, plan_statements};
use persona_role::usage::mapping::{EVENT_ACTIONS, SOURCE_PREFIXES};
use persona_role::usage::records::read;
use persona_role::usage::report::{Collector, Scope};
use persona_role::usage::{Authorization, Context};
use serde_json::{Map, Value, json};

const ACCOUNT: &str = "123456789012";

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The event CloudTrail records for an action: its source and name.
fn event_of(action: &str) -> (String, String) {
    let (prefix, name) = action.split_once(':').unwrap();
    let source = SOURCE_PREFIXES
        .iter()
        .find(|(_, p)| *p == prefix)
        .map_or_else(
            || format!("{prefix}.amazonaws.com"),
            |(s, _)| (*s).to_owned(),
        );
    let event = EVENT_ACTIONS
        .iter()
        .find(|(p, _, a)| *p == prefix && *a == name)
        .map_or(name, |(_, e, _)| e);
    (source, event.to_owned())
}

fn resource_type(arn: &str) -> Option<&'static str> {
    if arn.starts_with("arn:aws:s3:::") {
        Some(if arn.contains('/') {
            "AWS::S3::Object"
        } else {
            "AWS::S3::Bucket"
        })
    } else if arn.contains(":kms:") {
        Some("AWS::KMS::Key")
    } else {
        None
    }
}

/// The request's parameters as the call's API shape carries what IAM's context keys are read
/// from.
fn request_parameters(action: &str, resource: &str, context: &Map<String, Value>) -> Value {
    let mut request = Map::new();
    let name = action.split_once(':').unwrap().1;
    let path = resource.splitn(6, ':').nth(5).unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    let mut vpc = Map::new();
    let mut resource_config = Map::new();
    let mut tags = Vec::new();
    for (key, value) in context {
        match key.as_str() {
            "sagemaker:VpcSubnets" => {
                vpc.insert("subnets".to_owned(), value.clone());
            }
            "sagemaker:VpcSecurityGroupIds" => {
                vpc.insert("securityGroupIds".to_owned(), value.clone());
            }
            "sagemaker:VolumeKmsKeyArn" => {
                resource_config.insert("volumeKmsKeyId".to_owned(), value.clone());
            }
            "sagemaker:OutputKmsKeyArn" => {
                request.insert("outputDataConfig".to_owned(), json!({"kmsKeyId": value}));
            }
            "sagemaker:InstanceTypes" => {
                request.insert("instanceTypes".to_owned(), value.clone());
            }
            "sagemaker:SpaceSharingType" if name == "CreateSpace" => {
                request.insert(
                    "spaceSharingSettings".to_owned(),
                    json!({"sharingType": value}),
                );
            }
            "sagemaker:OwnerUserProfileArn" if name == "CreateSpace" => {
                let owner = value.as_str().unwrap().rsplit('/').next().unwrap();
                request.insert(
                    "ownershipSettings".to_owned(),
                    json!({"ownerUserProfileName": owner}),
                );
                request.insert("domainId".to_owned(), json!(parts.get(1)));
                request.insert("spaceName".to_owned(), json!(parts.get(2)));
            }
            "cloudwatch:namespace" => {
                request.insert("namespace".to_owned(), value.clone());
            }
            k if k.starts_with("aws:RequestTag/") => {
                tags.push(json!({"key": &k["aws:RequestTag/".len()..], "value": value}));
            }
            _ => {}
        }
    }
    // Apps live in a space (whose owner the record does not show) or belong to a user profile.
    if matches!(name, "CreateApp" | "DeleteApp") {
        let owner_key = if context.contains_key("sagemaker:OwnerUserProfileArn") {
            "spaceName"
        } else {
            "userProfileName"
        };
        request.insert(owner_key.to_owned(), json!(parts.get(2)));
    }
    if !vpc.is_empty() {
        request.insert("vpcConfig".to_owned(), Value::Object(vpc));
    }
    if !resource_config.is_empty() {
        request.insert("resourceConfig".to_owned(), Value::Object(resource_config));
    }
    if !tags.is_empty() {
        request.insert("tags".to_owned(), Value::Array(tags));
    }
    Value::Object(request)
}

/// The record CloudTrail writes for the request, made as the role.
fn record(role_arn: &str, request: &Value) -> Value {
    let action = request["action"].as_str().unwrap();
    let resource = request["resource"].as_str().unwrap();
    let context = request["context"].as_object().cloned().unwrap_or_default();
    let (source, name) = event_of(action);
    let role_name = role_arn.rsplit('/').next().unwrap();
    let mut identity = json!({
        "type": "AssumedRole",
        "principalId": "AROA3EXAMPLEROLE0001:SageMaker",
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/SageMaker"),
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": ACCOUNT, "userName": role_name}}
    });
    if let Some(service) = context
        .get("kms:ViaService")
        .and_then(Value::as_str)
        .and_then(|s| s.split('.').next())
    {
        identity["invokedBy"] = json!(format!("{service}.amazonaws.com"));
    }
    let mut record = json!({
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": "2026-11-24T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "requestParameters": request_parameters(action, resource, &context),
        "responseElements": null,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT
    });
    if resource != "*" {
        let mut entry = json!({"ARN": resource, "accountId": ACCOUNT});
        if let Some(kind) = resource_type(resource) {
            entry["type"] = json!(kind);
        }
        record["resources"] = json!([entry]);
    }
    record
}

/// Authorizations that are never events of their own (see the header).
fn authorization_only(request: &Value) -> bool {
    let action = request["action"].as_str().unwrap();
    action == "iam:PassRole"
        || (action == "sagemaker:AddTags"
            && request["context"].get("sagemaker:TaggingAction").is_some())
}

fn authorization(request: &Value) -> Authorization {
    let mut context = Context::default();
    for (key, value) in request["context"].as_object().into_iter().flatten() {
        context.set(key, strings(value));
    }
    context.observe("aws:TagKeys");
    Authorization {
        action: request["action"].as_str().unwrap().to_owned(),
        resource: Some(request["resource"].as_str().unwrap().to_owned()),
        context,
    }
}

#[test]
fn the_statement_named_for_each_allowed_workflow_call_is_one_the_simulator_says_allowed_it() {
    let (cases, plans) = cases();
    let allowed: Vec<_> = cases.iter().filter(|c| c.allow).collect();
    let requests: Vec<&Value> = allowed.iter().map(|c| &c.request).collect();
    let decisions = simulator::decide(&requests);
    let mut checked = 0;
    let mut ambiguous = 0;
    let mut failures = Vec::new();
    for (case, decision) in allowed.iter().zip(&decisions) {
        if decision["decision"] != "Allowed" {
            // The workflows test reports it; nothing to attribute.
            continue;
        }
        let by_simulator = strings(&decision["allowed_by"]);
        let (_, _, plan) = plans
            .iter()
            .find(|(table, variant, _)| *table == case.table && *variant == case.variant)
            .unwrap();
        let statements = plan_statements(plan);
        let request = &case.request;
        // The statement named, and those the record cannot tell from it.
        let named: Option<Vec<String>> = if authorization_only(request) {
            attribute(&statements, &authorization(request))
                .map(|a| std::iter::once(a.sid).chain(a.alternatives).collect())
        } else {
            let scope = Scope {
                role_arn: plan.role.arn.clone(),
                account: ACCOUNT.to_owned(),
                partition: "aws".to_owned(),
                region: "us-east-1".to_owned(),
                since: None,
                until: None,
            };
            let mut collector = Collector::new(&scope, &statements);
            let trail = json!({"Records": [record(&plan.role.arn, request)]});
            let text = serde_json::to_vec(&trail).unwrap();
            read("case", text.as_slice(), &mut collector, &AtomicU64::new(0));
            let usage = collector.usage;
            assert!(usage.problems.is_empty(), "{:?}", usage.problems);
            let action = request["action"].as_str().unwrap();
            usage
                .allowed
                .iter()
                .find(|((_, a), _)| a.eq_ignore_ascii_case(action))
                .map(|((sid, _), tally)| {
                    std::iter::once(sid.clone())
                        .chain(tally.alternatives.iter().cloned())
                        .collect()
                })
        };
        checked += 1;
        let at = format!(
            "{} [{}] {}: {} on {} with {}",
            case.table,
            case.variant,
            case.workflow,
            request["action"],
            request["resource"],
            request["context"]
        );
        match named {
            // Named outright: the one statement must be one that allowed it.
            Some(sids) if sids.len() == 1 && by_simulator.contains(&sids[0]) => {}
            // Named among statements the record cannot tell apart: the simulator's is one of them.
            Some(sids) if sids.len() > 1 && by_simulator.iter().any(|s| sids.contains(s)) => {
                ambiguous += 1;
            }
            Some(sids) => failures.push(format!(
                "{at}\n    named {}; the simulator: {by_simulator:?}",
                sids.join(" or ")
            )),
            None => failures.push(format!(
                "{at}\n    named no statement; the simulator: {by_simulator:?}"
            )),
        }
    }
    assert!(checked > 100, "the tables' allowed requests were checked");
    // Only what CloudTrail cannot show leaves a choice: the sharing type of the space an app is
    // created or deleted in.
    assert!(
        ambiguous * 10 < checked,
        "{ambiguous} of {checked} ambiguous"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} allowed requests attributed otherwise than the simulator decided:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
