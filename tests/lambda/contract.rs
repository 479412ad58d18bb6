//! The in-memory IAM held to moto: one script of `Iam` calls run against both (moto through
//! `SdkIam`, the adapter the function uses), with the same asserted answers. Where IAM and moto
//! differ, the script says so and asserts each one's answer: the in-memory IAM follows IAM.
//! Those differences are:
//!
//! - names of roles and managed policies are unique ignoring case, and found in any case, in
//!   IAM; moto compares them as written;
//! - a role's tag keys are one key ignoring case in IAM (a new spelling replaces the tag); moto
//!   keeps both spellings;
//! - IAM refuses to delete a managed policy still attached (DeleteConflict); moto deletes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support;

use std::collections::BTreeMap;

use persona_role::iam::memory::{DELETE_CONFLICT, LIMIT_EXCEEDED, MemoryIam};
use persona_role::iam::{
    ALREADY_EXISTS, Change, CreateRoleError, Iam, IamError, NO_SUCH_ENTITY, SdkIam,
};
use persona_role::plan::{PlanTag, RolePlan};
use serde_json::{Value, json};
use support::{ACCOUNT, checker};

/// Which account the script runs against.
enum Account {
    Moto,
    Memory(MemoryIam),
}

impl Account {
    /// Whether this account answers as IAM where moto does not.
    fn follows_iam(&self) -> bool {
        matches!(self, Account::Memory(_))
    }

    /// Puts `role` into a new instance profile `profile` (no `Iam` call does).
    async fn add_to_instance_profile(&self, profile: &str, role: &str) {
        match self {
            Account::Moto => {
                let iam = checker();
                iam.create_instance_profile()
                    .instance_profile_name(profile)
                    .send()
                    .await
                    .unwrap();
                iam.add_role_to_instance_profile()
                    .instance_profile_name(profile)
                    .role_name(role)
                    .send()
                    .await
                    .unwrap();
            }
            Account::Memory(iam) => iam.add_role_to_instance_profile(profile, role).unwrap(),
        }
    }

    /// Attaches `arn` to a new user `user` (no `Iam` call does).
    async fn attach_to_user(&self, user: &str, arn: &str) {
        match self {
            Account::Moto => {
                let iam = checker();
                iam.create_user().user_name(user).send().await.unwrap();
                iam.attach_user_policy()
                    .user_name(user)
                    .policy_arn(arn)
                    .send()
                    .await
                    .unwrap();
            }
            Account::Memory(iam) => iam.attach_user_policy(user, arn).unwrap(),
        }
    }

    async fn detach_from_user(&self, user: &str, arn: &str) {
        match self {
            Account::Moto => {
                checker()
                    .detach_user_policy()
                    .user_name(user)
                    .policy_arn(arn)
                    .send()
                    .await
                    .unwrap();
            }
            Account::Memory(iam) => iam.detach_user_policy(user, arn),
        }
    }
}

fn document(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

fn trust(service: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
}

fn tags(pairs: &[(&str, &str)]) -> Vec<PlanTag> {
    pairs
        .iter()
        .map(|(k, v)| PlanTag {
            key: (*k).to_owned(),
            value: (*v).to_owned(),
        })
        .collect()
}

fn role_plan(name: &str, path: &str) -> RolePlan {
    RolePlan {
        role_name: name.to_owned(),
        path: path.to_owned(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role{path}{name}"),
        description: "contract".to_owned(),
        assume_role_policy_document: trust("sagemaker.amazonaws.com"),
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: tags(&[("owner", "contract")]),
    }
}

fn create_policy(name: &str, path: &str, action: &str) -> Change {
    Change::CreatePolicy {
        name: name.to_owned(),
        path: path.to_owned(),
        arn: format!("arn:aws:iam::{ACCOUNT}:policy{path}{name}"),
        document: document(action),
        tags: tags(&[("owner", "contract")]),
    }
}

fn code(result: Result<impl std::fmt::Debug, IamError>) -> String {
    result.unwrap_err().code().unwrap_or("none").to_owned()
}

/// The script: every answer the lifecycle relies on, asserted the same against both accounts.
async fn script<I: Iam>(iam: &I, account: &Account, tag: &str) {
    let name = format!("sagemaker-contract-{tag}");
    let path = format!("/contract/{tag}/");
    let plan = role_plan(&name, &path);

    // CreateRole: the role as planned, its ARN under its path.
    let created = iam.create_role(&plan).await.unwrap();
    assert_eq!(created.name, name);
    assert_eq!(created.path, path);
    assert_eq!(
        created.arn,
        format!("arn:aws:iam::{ACCOUNT}:role{path}{name}")
    );
    assert!(created.role_id.starts_with("AROA"), "{}", created.role_id);
    assert!(matches!(
        iam.create_role(&plan).await,
        Err(CreateRoleError::AlreadyExists)
    ));

    // GetRole: what CreateRole made; nothing for a missing role.
    let read = iam.get_role(&name).await.unwrap().expect("the role");
    assert_eq!(read, created);
    assert_eq!(
        iam.get_role(&format!("{name}-missing")).await.unwrap(),
        None
    );

    // Names in another case: the same role in IAM, another name in moto.
    let upper = name.to_uppercase();
    let found = iam.get_role(&upper).await.unwrap();
    let taken = iam.create_role(&role_plan(&upper, &path)).await;
    if account.follows_iam() {
        assert_eq!(found.map(|r| r.name), Some(name.clone()));
        assert!(matches!(taken, Err(CreateRoleError::AlreadyExists)));
    } else {
        assert_eq!(found, None);
        assert_eq!(taken.unwrap().name, upper);
        iam.apply(&upper, &Change::DeleteRole).await.unwrap();
    }

    // Tags: added, replaced, removed; a role's keys in another case.
    let tag_role = Change::TagRole {
        tags: tags(&[("team", "a"), ("cost", "1")]),
    };
    iam.apply(&name, &tag_role).await.unwrap();
    let retag = Change::TagRole {
        tags: tags(&[("Team", "b")]),
    };
    iam.apply(&name, &retag).await.unwrap();
    iam.apply(
        &name,
        &Change::UntagRole {
            keys: vec!["cost".to_owned()],
        },
    )
    .await
    .unwrap();
    let read = iam.get_role(&name).await.unwrap().unwrap().tags;
    let expected: BTreeMap<String, String> = if account.follows_iam() {
        [("owner", "contract"), ("Team", "b")]
    } else {
        [("owner", "contract"), ("team", "a")]
    }
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain((!account.follows_iam()).then(|| ("Team".to_owned(), "b".to_owned())))
    .collect();
    assert_eq!(read, expected);

    // UpdateRole and UpdateAssumeRolePolicy.
    let update = Change::UpdateRole {
        description: "updated".to_owned(),
        max_session_duration: 7200,
    };
    iam.apply(&name, &update).await.unwrap();
    let new_trust = trust("ec2.amazonaws.com");
    let update = Change::UpdateAssumeRolePolicy {
        document: new_trust.clone(),
    };
    iam.apply(&name, &update).await.unwrap();
    let read = iam.get_role(&name).await.unwrap().unwrap();
    assert_eq!(read.description.as_deref(), Some("updated"));
    assert_eq!(read.max_session_duration, Some(7200));
    assert_eq!(read.trust, new_trust);

    // Inline policies: put, listed, read one by one or together; none of a missing name or
    // role; listing a missing role's is NoSuchEntity.
    for (policy, action) in [("b-inline", "s3:GetObject"), ("a-inline", "s3:PutObject")] {
        let put = Change::PutRolePolicy {
            name: policy.to_owned(),
            document: document(action),
        };
        iam.apply(&name, &put).await.unwrap();
    }
    let mut names = iam.inline_policy_names(&name).await.unwrap();
    names.sort();
    assert_eq!(names, ["a-inline", "b-inline"]);
    assert_eq!(
        iam.inline_policy(&name, "a-inline").await.unwrap(),
        Some(document("s3:PutObject"))
    );
    assert_eq!(iam.inline_policy(&name, "c-inline").await.unwrap(), None);
    assert_eq!(
        iam.inline_policy(&format!("{name}-missing"), "a-inline")
            .await
            .unwrap(),
        None
    );
    let all = iam.inline_policies(&name).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["b-inline"], document("s3:GetObject"));
    assert_eq!(
        code(iam.inline_policy_names(&format!("{name}-missing")).await),
        NO_SUCH_ENTITY
    );

    // Managed policies: created with tags, read whole or as a summary; a name taken, in any
    // case for IAM.
    let own = format!("{name}-1");
    let own_arn = format!("arn:aws:iam::{ACCOUNT}:policy{path}{own}");
    iam.apply(&name, &create_policy(&own, &path, "s3:ListBucket"))
        .await
        .unwrap();
    let policy = iam.get_policy(&own_arn).await.unwrap().expect("the policy");
    assert_eq!(policy.arn, own_arn);
    assert_eq!(policy.default_version_id, "v1");
    assert_eq!(policy.versions, ["v1"]);
    assert_eq!(policy.document, document("s3:ListBucket"));
    assert_eq!(
        policy.tags.get("owner").map(String::as_str),
        Some("contract")
    );
    let summary = iam.policy_summary(&own_arn).await.unwrap().unwrap();
    assert_eq!(summary.document, Value::Null);
    assert_eq!(summary.versions, ["v1"]);
    assert_eq!(
        code(
            iam.apply(&name, &create_policy(&own, &path, "s3:ListBucket"))
                .await
        ),
        ALREADY_EXISTS
    );
    let other_case = iam
        .apply(
            &name,
            &create_policy(&own.to_uppercase(), &path, "s3:ListBucket"),
        )
        .await;
    if account.follows_iam() {
        assert_eq!(code(other_case), ALREADY_EXISTS);
    } else {
        other_case.unwrap();
        let arn = format!("arn:aws:iam::{ACCOUNT}:policy{path}{}", own.to_uppercase());
        let delete = Change::DeletePolicy {
            arn,
            old_versions: Vec::new(),
        };
        iam.apply(&name, &delete).await.unwrap();
    }
    assert_eq!(
        iam.get_policy(&format!("{own_arn}-missing")).await.unwrap(),
        None
    );
    assert_eq!(
        iam.policy_summary(&format!("{own_arn}-missing"))
            .await
            .unwrap(),
        None
    );

    // Versions: five at most, the newest the default; the default not deletable; an old one
    // deleted, and deleting it again is done.
    for n in 2..=5 {
        let version = Change::CreatePolicyVersion {
            arn: own_arn.clone(),
            document: document(&format!("s3:GetBucketVersioning{n}")),
        };
        iam.apply(&name, &version).await.unwrap();
    }
    let sixth = Change::CreatePolicyVersion {
        arn: own_arn.clone(),
        document: document("s3:GetBucketTagging"),
    };
    assert_eq!(code(iam.apply(&name, &sixth).await), LIMIT_EXCEEDED);
    let policy = iam.get_policy(&own_arn).await.unwrap().unwrap();
    assert_eq!(policy.default_version_id, "v5");
    let mut versions = policy.versions.clone();
    versions.sort();
    assert_eq!(versions, ["v1", "v2", "v3", "v4", "v5"]);
    assert_eq!(policy.document, document("s3:GetBucketVersioning5"));
    assert_eq!(policy.old_versions(), ["v1", "v2", "v3", "v4"]);
    let delete_default = Change::DeletePolicyVersion {
        arn: own_arn.clone(),
        version_id: "v5".to_owned(),
    };
    assert_eq!(
        code(iam.apply(&name, &delete_default).await),
        DELETE_CONFLICT
    );
    let delete_v1 = Change::DeletePolicyVersion {
        arn: own_arn.clone(),
        version_id: "v1".to_owned(),
    };
    iam.apply(&name, &delete_v1).await.unwrap();
    iam.apply(&name, &delete_v1).await.unwrap();
    iam.apply(&name, &sixth).await.unwrap();
    assert_eq!(
        iam.get_policy(&own_arn)
            .await
            .unwrap()
            .unwrap()
            .default_version_id,
        "v6"
    );

    // Policy tags.
    let tag_policy = Change::TagPolicy {
        arn: own_arn.clone(),
        tags: tags(&[("extra", "x")]),
    };
    iam.apply(&name, &tag_policy).await.unwrap();
    let untag_policy = Change::UntagPolicy {
        arn: own_arn.clone(),
        keys: vec!["owner".to_owned()],
    };
    iam.apply(&name, &untag_policy).await.unwrap();
    let read = iam.policy_summary(&own_arn).await.unwrap().unwrap().tags;
    assert_eq!(read, BTreeMap::from([("extra".to_owned(), "x".to_owned())]));

    // Listing under a path: this role's path holds only its policies.
    let elsewhere = format!("{name}-elsewhere");
    let elsewhere_arn = format!("arn:aws:iam::{ACCOUNT}:policy/{elsewhere}");
    iam.apply(
        &name,
        &create_policy(&elsewhere, "/", "s3:ListAllMyBuckets"),
    )
    .await
    .unwrap();
    assert_eq!(
        iam.local_policy_arns(&path).await.unwrap(),
        [own_arn.as_str()]
    );
    assert!(
        iam.local_policy_arns("/")
            .await
            .unwrap()
            .contains(&elsewhere_arn)
    );

    // Attachments, and who else has a policy attached.
    for arn in [&own_arn, &elsewhere_arn] {
        let attach = Change::AttachRolePolicy { arn: arn.clone() };
        iam.apply(&name, &attach).await.unwrap();
    }
    let attached = iam.attached_policy_arns(&name).await.unwrap();
    assert_eq!(
        attached,
        std::collections::BTreeSet::from([elsewhere_arn.clone(), own_arn.clone()])
    );
    assert_eq!(
        iam.other_attachments(&own_arn, &name).await.unwrap(),
        Vec::<String>::new()
    );
    let other = format!("{name}-other");
    iam.create_role(&role_plan(&other, "/")).await.unwrap();
    let attach = Change::AttachRolePolicy {
        arn: own_arn.clone(),
    };
    iam.apply(&other, &attach).await.unwrap();
    let user = format!("contract-user-{tag}");
    account.attach_to_user(&user, &own_arn).await;
    assert_eq!(
        iam.other_attachments(&own_arn, &name).await.unwrap(),
        [format!("role `{other}`"), format!("user `{user}`")]
    );
    assert_eq!(
        iam.other_attachments(&format!("{own_arn}-missing"), &name)
            .await
            .unwrap(),
        Vec::<String>::new()
    );

    // Every role of the account, listed page after page.
    let roles = iam.all_roles().await.unwrap();
    let ours = roles.iter().find(|r| r.name == name).expect("listed");
    assert_eq!(
        (ours.path.as_str(), ours.arn.as_str()),
        (path.as_str(), created.arn.as_str())
    );
    assert!(roles.iter().any(|r| r.name == other));

    // Instance profiles.
    assert_eq!(
        iam.instance_profiles(&name).await.unwrap(),
        Vec::<String>::new()
    );
    let profile = format!("contract-profile-{tag}");
    account.add_to_instance_profile(&profile, &name).await;
    assert_eq!(
        iam.instance_profiles(&name).await.unwrap(),
        [profile.as_str()]
    );

    // A role with policies or in a profile is not deleted.
    assert_eq!(
        code(iam.apply(&name, &Change::DeleteRole).await),
        DELETE_CONFLICT
    );

    // A policy still attached: IAM refuses to delete it, moto deletes it (and keeps the
    // attachment, which then can never be detached: a user's here, so no role is stuck).
    let in_use = format!("{name}-in-use");
    let in_use_arn = format!("arn:aws:iam::{ACCOUNT}:policy/{in_use}");
    iam.apply(&name, &create_policy(&in_use, "/", "s3:ListAllMyBuckets"))
        .await
        .unwrap();
    let in_use_user = format!("{user}-in-use");
    account.attach_to_user(&in_use_user, &in_use_arn).await;
    let delete_in_use = Change::DeletePolicy {
        arn: in_use_arn.clone(),
        old_versions: Vec::new(),
    };
    let deleted = iam.apply(&name, &delete_in_use).await;
    if account.follows_iam() {
        assert_eq!(code(deleted), DELETE_CONFLICT);
        assert!(iam.get_policy(&in_use_arn).await.unwrap().is_some());
        account.detach_from_user(&in_use_user, &in_use_arn).await;
        iam.apply(&name, &delete_in_use).await.unwrap();
    } else {
        deleted.unwrap();
    }
    assert_eq!(iam.get_policy(&in_use_arn).await.unwrap(), None);

    // Teardown, then each removal again: what is gone counts as removed.
    account.detach_from_user(&user, &own_arn).await;
    let detach = Change::DetachRolePolicy {
        arn: own_arn.clone(),
    };
    iam.apply(&other, &detach).await.unwrap();
    iam.apply(&other, &Change::DeleteRole).await.unwrap();
    let teardown = [
        Change::RemoveRoleFromInstanceProfile {
            profile: profile.clone(),
        },
        Change::DeleteRolePolicy {
            name: "a-inline".to_owned(),
        },
        Change::DeleteRolePolicy {
            name: "b-inline".to_owned(),
        },
        Change::DetachRolePolicy {
            arn: own_arn.clone(),
        },
        Change::DetachRolePolicy {
            arn: elsewhere_arn.clone(),
        },
        Change::DeleteRole,
    ];
    for change in &teardown {
        iam.apply(&name, change).await.unwrap();
    }
    for change in &teardown {
        iam.apply(&name, change).await.unwrap();
    }
    assert_eq!(iam.get_role(&name).await.unwrap(), None);
    assert!(
        !iam.all_roles()
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == name)
    );
    let policy = iam.policy_summary(&own_arn).await.unwrap().unwrap();
    for arn in [&own_arn, &elsewhere_arn] {
        let delete = Change::DeletePolicy {
            arn: arn.clone(),
            old_versions: if *arn == own_arn {
                policy.old_versions()
            } else {
                Vec::new()
            },
        };
        iam.apply(&name, &delete).await.unwrap();
        iam.apply(&name, &delete).await.unwrap();
        assert_eq!(iam.get_policy(arn).await.unwrap(), None);
    }
}

#[test]
fn the_in_memory_iam_answers_as_moto_does_except_where_iam_differs() {
    // Polling the script over the SDK's futures, unoptimised, needs more than a test thread's
    // 2 MiB of stack.
    let run = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let memory = MemoryIam::new();
                Box::pin(script(&memory, &Account::Memory(memory.clone()), "memory")).await;
                Box::pin(script(&SdkIam::new(checker()), &Account::Moto, "moto")).await;
            });
        })
        .unwrap();
    if let Err(panic) = run.join() {
        std::panic::resume_unwind(panic);
    }
}
