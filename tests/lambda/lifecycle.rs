//! The handler's lifecycle: Create, Update in place, Update with replacement, Delete, drift
//! repair and no-change Updates. Every persona's sample events end to end against moto; the
//! other cases on the in-memory IAM, each test an account of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::time::Duration;

use persona_role::iam::{Change, Iam};
use persona_role::plan::PlanTag;
use serde_json::{Value, json};
use support::memory::{self, MemoryIam};
use support::*;

async fn lifecycle(persona: &str) {
    let recorder = Recorder::start();
    let calls = CallLog::default();
    let handler = handler(Some(&calls));
    let tag = "life";

    let create = sample_event(persona, "create", tag, &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    assert_eq!(response["RequestId"], create["RequestId"]);
    assert_eq!(response["LogicalResourceId"], create["LogicalResourceId"]);
    assert_eq!(response["StackId"], create["StackId"]);
    let data = &response["Data"];
    assert_eq!(data["RoleName"], name.as_str());
    assert_eq!(
        data["Arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/{name}").as_str()
    );
    assert!(data["RoleId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        data["PolicyArns"],
        plan_of(&create).all_attached_arns().join(",").as_str()
    );
    assert_eq!(
        data["Activities"],
        plan_of(&create).activities.join(",").as_str()
    );
    assert_converged(&create).await;

    let update = sample_event(persona, "update", tag, &recorder);
    assert_eq!(update["PhysicalResourceId"], name.as_str());
    assert_ne!(
        update["ResourceProperties"],
        update["OldResourceProperties"]
    );
    calls.clear();
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    assert_eq!(
        response["Data"]["RoleId"], data["RoleId"],
        "updated in place"
    );
    assert!(!calls.mutating().is_empty());
    assert!(
        !calls
            .mutating()
            .iter()
            .any(|c| c == "CreateRole" || c == "DeleteRole")
    );
    assert_converged(&update).await;

    // The same Update again: its desired state holds, so no mutating call at all.
    let mut again = update.clone();
    retarget(&mut again, tag, &recorder);
    calls.clear();
    let response = invoke(&handler, &again, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert!(!calls.calls().is_empty(), "the update reads IAM");
    assert_eq!(calls.mutating(), Vec::<String>::new());

    let delete = sample_event(persona, "delete", tag, &recorder);
    let response = invoke(&handler, &delete, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    assert_gone(&name).await;

    // Delete twice: already gone is success.
    let mut twice = delete.clone();
    retarget(&mut twice, tag, &recorder);
    calls.clear();
    let response = invoke(&handler, &twice, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(calls.mutating(), Vec::<String>::new());
}

#[tokio::test]
async fn data_scientist_lifecycle() {
    lifecycle("data-scientist").await;
}

#[tokio::test]
async fn mlops_lifecycle() {
    lifecycle("mlops").await;
}

#[tokio::test]
async fn compute_lifecycle() {
    lifecycle("compute").await;
}

#[tokio::test]
async fn custom_lifecycle() {
    lifecycle("custom").await;
}

#[test]
fn sample_events_chain_and_plan() {
    for persona in PERSONAS {
        let read = |kind: &str| -> Value {
            let path = root().join(format!("events/{persona}-{kind}.json"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let (create, update, delete) = (read("create"), read("update"), read("delete"));
        assert_eq!(create["RequestType"], "Create");
        assert_eq!(update["RequestType"], "Update");
        assert_eq!(delete["RequestType"], "Delete");
        assert_eq!(
            update["OldResourceProperties"], create["ResourceProperties"],
            "{persona}"
        );
        assert_eq!(
            delete["ResourceProperties"], update["ResourceProperties"],
            "{persona}"
        );
        let name = plan_of(&create).role.role_name;
        assert_eq!(update["PhysicalResourceId"], name.as_str(), "{persona}");
        assert_eq!(delete["PhysicalResourceId"], name.as_str(), "{persona}");
        assert_eq!(plan_of(&update).role.role_name, name);
        for event in [&create, &update, &delete] {
            assert_eq!(event["StackId"], STACK_ID);
            assert!(
                event["ResponseURL"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://")
            );
            persona_role::cfn::event::parse_event(event).unwrap();
        }
    }
}

#[tokio::test]
async fn a_new_name_replaces_the_role_and_the_old_one_goes_with_the_later_delete() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("mlops", "create", "repl", &recorder);
    let old = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");

    let mut properties = create["ResourceProperties"].clone();
    properties["RoleNameSuffix"] = json!("mlops-repl-new");
    let update = update_after(&create, &old, properties, "repl", &recorder);
    let new = plan_of(&update).role.role_name;
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], new.as_str());
    assert_eq!(response["Data"]["RoleName"], new.as_str());
    assert!(
        memory::role_exists(&iam, &old).await,
        "the old role stays until CloudFormation deletes it"
    );
    memory::assert_converged(&iam, &update).await;

    // CloudFormation's cleanup: Delete of the old id.
    let cleanup = delete_after(&create, &old, "repl", &recorder);
    let response = invoke(&handler, &cleanup, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    memory::assert_gone(&iam, &old).await;
    assert!(memory::role_exists(&iam, &new).await);
    memory::assert_converged(&iam, &update).await;

    let delete = delete_after(&update, &new, "repl", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &new).await;
}

#[tokio::test]
async fn a_new_path_alone_is_refused_and_a_new_name_with_it_replaces_the_role() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-path-extra").await;
    let create = create_event(
        "PathRole",
        big_properties("path-test", &attached),
        "path",
        &recorder,
    );
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let role_id = response["Data"]["RoleId"].clone();

    // A new Path alone: refused, the role as it was (same RoleId), nothing changed.
    let mut properties = create["ResourceProperties"].clone();
    properties["Path"] = json!("/ml/personas/");
    let update = update_after(&create, &name, properties.clone(), "path", &recorder);
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "FAILED", "{response}");
    let reason = response["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Path: the role's path cannot change in place"),
        "{reason}"
    );
    assert!(reason.contains("RoleNameSuffix"), "{reason}");
    assert_eq!(response["PhysicalResourceId"], name.as_str());
    memory::assert_converged(&iam, &create).await;
    let role = memory::role(&iam, &name).await.unwrap();
    assert_eq!(json!(role.role_id), role_id);

    // A new Path with a new name: a replacement, the new role under the new path.
    properties["RoleNameSuffix"] = json!("path-test-moved");
    let update = update_after(&create, &name, properties, "path", &recorder);
    let moved = plan_of(&update).role.role_name;
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    assert_eq!(response["PhysicalResourceId"], moved.as_str());
    assert_eq!(
        response["Data"]["Arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/ml/personas/{moved}").as_str()
    );
    memory::assert_converged(&iam, &update).await;
    for policy in &plan_of(&update).managed_policies {
        assert!(
            policy.arn.contains(":policy/ml/personas/"),
            "{}",
            policy.arn
        );
    }
    // CloudFormation then deletes the old role, with its old properties.
    let cleanup = delete_after(&create, &name, "path", &recorder);
    assert_eq!(
        invoke(&handler, &cleanup, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
    memory::assert_converged(&iam, &update).await;

    let delete = delete_after(&update, &moved, "path", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &moved).await;
    assert!(
        memory::policy_exists(&iam, &attached).await,
        "a policy the stack does not own stays"
    );
}

#[tokio::test]
async fn update_repairs_hand_made_drift() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-drift-extra").await;
    let foreign = memory::make_policy(&iam, "persona-role-test-drift-foreign").await;
    let boundary = memory::make_policy(&iam, "persona-role-test-drift-boundary").await;
    let mut properties = big_properties("drift-test", &attached);
    properties["PermissionsBoundary"] = json!(boundary);
    let create = create_event("DriftRole", properties, "drift", &recorder);
    let plan = plan_of(&create);
    let name = plan.role.role_name.clone();
    assert!(
        plan.managed_policies.len() >= 2,
        "the test needs two own managed policies"
    );
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    memory::assert_converged(&iam, &create).await;

    // Drift by hand, on every kind of thing the plan declares.
    let own = &plan.managed_policies[0].arn;
    let by_hand = [
        Change::UpdateRole {
            description: "changed by hand".to_owned(),
            max_session_duration: 7200,
        },
        Change::UpdateAssumeRolePolicy {
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}),
        },
        Change::PutRolePermissionsBoundary {
            arn: foreign.clone(),
        },
        Change::TagRole {
            tags: vec![PlanTag {
                key: "by-hand".to_owned(),
                value: "1".to_owned(),
            }],
        },
        Change::UntagRole {
            keys: vec!["team".to_owned()],
        },
        Change::PutRolePolicy {
            name: "by-hand".to_owned(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "*", "Resource": "*"}]}),
        },
        Change::PutRolePolicy {
            name: plan.inline_policies[0].policy_name.clone(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:*", "Resource": "*"}]}),
        },
        Change::AttachRolePolicy {
            arn: foreign.clone(),
        },
        Change::DetachRolePolicy {
            arn: attached.clone(),
        },
        Change::DetachRolePolicy { arn: own.clone() },
        Change::CreatePolicyVersion {
            arn: plan.managed_policies[1].arn.clone(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "iam:*", "Resource": "*"}]}),
        },
        Change::UntagPolicy {
            arn: own.clone(),
            keys: vec!["team".to_owned()],
        },
    ];
    for change in by_hand {
        memory::change(&iam, &name, change).await;
    }

    let mut update = update_after(
        &create,
        &name,
        create["ResourceProperties"].clone(),
        "drift",
        &recorder,
    );
    update["OldResourceProperties"] = create["ResourceProperties"].clone();
    iam.clear_calls();
    let response = invoke(&handler, &update, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    memory::assert_converged(&iam, &update).await;
    let mut repairs = iam.mutating();
    repairs.sort();
    let mut expected = vec![
        "UpdateRole",
        "UpdateAssumeRolePolicy",
        "PutRolePermissionsBoundary",
        "TagRole",
        "UntagRole",
        "CreatePolicyVersion",
        "TagPolicy",
        "DetachRolePolicy",
        "DeleteRolePolicy",
        "PutRolePolicy",
        "AttachRolePolicy",
        "AttachRolePolicy",
    ];
    expected.sort();
    assert_eq!(repairs, expected);
    assert!(
        memory::policy_exists(&iam, &foreign).await,
        "detached, not deleted"
    );
    assert!(!memory::role_tags(&iam, &name).await.contains_key("by-hand"));

    let delete = delete_after(&update, &name, "drift", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
    assert!(
        memory::policy_exists(&iam, &foreign).await && memory::policy_exists(&iam, &attached).await
    );
}

#[tokio::test]
async fn managed_policy_versions_stay_within_five() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-versions-extra").await;
    let create = create_event(
        "VersionsRole",
        big_properties("versions-test", &attached),
        "vers",
        &recorder,
    );
    let plan = plan_of(&create);
    let name = plan.role.role_name.clone();
    assert_eq!(
        invoke(&handler, &create, &recorder).await["Status"],
        "SUCCESS"
    );

    // Four versions made by hand, the last one default: the policy is at IAM's limit of five
    // and its default no longer matches the plan.
    let arn = &plan.managed_policies[0].arn;
    for i in 0..4 {
        let version = Change::CreatePolicyVersion {
            arn: arn.clone(),
            document: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::b{i}/*")}]}),
        };
        memory::change(&iam, &name, version).await;
    }
    let update = update_after(
        &create,
        &name,
        create["ResourceProperties"].clone(),
        "vers",
        &recorder,
    );
    assert_eq!(
        invoke(&handler, &update, &recorder).await["Status"],
        "SUCCESS"
    );
    let policy = iam.admin().policy_summary(arn).await.unwrap().unwrap();
    let mut ids: Vec<&str> = policy.versions.iter().map(String::as_str).collect();
    ids.sort();
    // The two oldest non-default versions (v1, v2) made room for the new default (v6) and for
    // one more, should a CreatePolicyVersion whose answer was lost be retried.
    assert_eq!(ids, ["v3", "v4", "v5", "v6"]);
    assert_eq!(policy.default_version_id, "v6");
    assert!(policy.versions.len() < 5);
    memory::assert_converged(&iam, &update).await;

    let delete = delete_after(&update, &name, "vers", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn shrinking_and_growing_the_plan_deletes_and_creates_own_policies() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let attached = memory::make_policy(&iam, "persona-role-test-shrink-extra").await;
    let big = big_properties("shrink-test", &attached);
    let create = create_event("ShrinkRole", big.clone(), "shrink", &recorder);
    let plan = plan_of(&create);
    let name = plan.role.role_name.clone();
    assert!(!plan.managed_policies.is_empty());
    assert_eq!(
        invoke(&handler, &create, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_converged(&iam, &create).await;

    let small = json!({"Persona": "SageMakerCompute", "RoleNameSuffix": "shrink-test",
        "S3Buckets": ["ml-team-data"]});
    let shrink = update_after(&create, &name, small, "shrink", &recorder);
    assert!(plan_of(&shrink).managed_policies.is_empty());
    assert_eq!(
        invoke(&handler, &shrink, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_converged(&iam, &shrink).await;
    assert_eq!(
        memory::local_policies(&iam, &format!("{name}-")).await,
        Vec::<String>::new()
    );
    assert!(memory::policy_exists(&iam, &attached).await);

    let grow = update_after(&shrink, &name, big, "shrink", &recorder);
    assert_eq!(
        invoke(&handler, &grow, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_converged(&iam, &grow).await;

    let delete = delete_after(&grow, &name, "shrink", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

#[tokio::test]
async fn delete_removes_the_role_from_instance_profiles() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let create = sample_event("compute", "create", "profile", &recorder);
    let name = plan_of(&create).role.role_name;
    assert_eq!(
        invoke(&handler, &create, &recorder).await["Status"],
        "SUCCESS"
    );
    let profile = format!("{name}-profile");
    iam.add_role_to_instance_profile(&profile, &name).unwrap();

    let delete = delete_after(&create, &name, "profile", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
    assert_eq!(
        iam.instance_profile_roles(&profile),
        Some(Vec::new()),
        "profile kept, role removed"
    );
}

/// IAM compares role tag keys ignoring case: a user tag `Persona-Role:Stack-Id` would overwrite
/// the ownership tag and orphan the role. The Update is refused before any IAM change, naming
/// the tag, and the role keeps its ownership.
#[tokio::test]
async fn an_update_with_a_reserved_tag_key_in_another_case_is_refused_and_ownership_stays() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let handler = memory::handler(&iam);
    let properties = json!({
        "Persona": "Custom",
        "RoleNameSuffix": "tag-case",
        "Activities": ["S3 Bucket Access"],
        "S3Buckets": ["ml-team-data"],
        "Tags": [{"Key": "team", "Value": "ml"}],
    });
    let create = create_event("TagCase", properties.clone(), "tagcase", &recorder);
    let name = plan_of(&create).role.role_name;
    let response = invoke(&handler, &create, &recorder).await;
    assert_eq!(response["Status"], "SUCCESS", "{response}");
    let owner = owner_of(&create);

    for (key, at) in [
        ("Persona-Role:Stack-Id", "Tags[1].Key"),
        ("PERSONA-ROLE:LOGICAL-ID", "Tags[1].Key"),
        ("Aws:CloudFormation:Stack-Name", "Tags[1].Key"),
    ] {
        let mut changed = properties.clone();
        changed["Tags"] = json!([
            {"Key": "team", "Value": "ml"},
            {"Key": key, "Value": "arn:aws:cloudformation:us-east-1:123456789012:stack/other/1"},
        ]);
        let update = update_after(&create, &name, changed, "tagcase", &recorder);
        iam.clear_calls();
        let response = invoke(&handler, &update, &recorder).await;
        assert_eq!(response["Status"], "FAILED", "{key}: {response}");
        let reason = response["Reason"].as_str().unwrap();
        assert!(reason.starts_with(at), "{key}: {reason}");
        assert!(reason.contains("in any case"), "{key}: {reason}");
        assert_eq!(response["PhysicalResourceId"], name.as_str());
        assert_eq!(iam.mutating(), Vec::<String>::new(), "{key}");
        let tags = memory::role_tags(&iam, &name).await;
        assert!(owner.owns(&tags), "{key}: {tags:?}");
        assert_eq!(tags.len(), 3, "{key}: {tags:?}");
        memory::assert_converged(&iam, &create).await;
    }

    let delete = delete_after(&create, &name, "tagcase", &recorder);
    assert_eq!(
        invoke(&handler, &delete, &recorder).await["Status"],
        "SUCCESS"
    );
    memory::assert_gone(&iam, &name).await;
}

/// Ready before SUCCESS, with the function as deployed (`RoleReadyWaitSeconds=1`): a Create is
/// answered only once IAM serves the role and the settle time has passed; an Update that
/// changes nothing of the trust, and a Delete, wait for nothing; and a wait longer than the
/// event's deadline allows still answers SUCCESS in time.
#[tokio::test]
async fn a_new_role_is_answered_once_usable_and_nothing_else_waits() {
    let recorder = Recorder::start();
    let iam = MemoryIam::new();
    let waiting = memory::handler_with(&iam, deployed_settings(&[("RoleReadyWaitSeconds", "1")]));
    let create = sample_event("compute", "create", "ready", &recorder);
    let name = plan_of(&create).role.role_name;
    let started = std::time::Instant::now();
    let answer = invoke(&waiting, &create, &recorder).await;
    let took = started.elapsed();
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(memory::role_exists(&iam, &name).await);
    assert!(
        took >= Duration::from_secs(1),
        "the Create's answer came after the settle time: {took:?}"
    );

    let same = create["ResourceProperties"].clone();
    let update = update_after(&create, &name, same, "ready", &recorder);
    let started = std::time::Instant::now();
    let answer = invoke(&waiting, &update, &recorder).await;
    let took = started.elapsed();
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(
        took < Duration::from_secs(1),
        "an Update changing nothing waits for nothing: {took:?}"
    );

    let delete = delete_after(&update, &name, "ready", &recorder);
    let started = std::time::Instant::now();
    let answer = invoke(&waiting, &delete, &recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a Delete waits for nothing"
    );

    // A settle time the deadline does not leave room for: SUCCESS, before the deadline.
    let patient = memory::handler_with(&iam, deployed_settings(&[("RoleReadyWaitSeconds", "300")]));
    let create = sample_event("compute", "create", "ready-deadline", &recorder);
    let started = std::time::Instant::now();
    let answer = invoke_with_deadline(&patient, &create, &recorder, Duration::from_secs(8)).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answered before the deadline: {:?}",
        started.elapsed()
    );
}
