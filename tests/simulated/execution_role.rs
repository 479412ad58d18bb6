//! `template.yaml`'s execution role, resolved as CloudFormation would for each setting of the
//! parameters that shape it (`AllowAdoption`, `AdoptionScope`, `AdoptingStacks`,
//! `RequiredPermissionsBoundary`), and decided by the IAM policy simulator this project did not
//! write: the calls the function makes are allowed, and the escalations its guardrails exist for
//! are denied. Whatever the setting, every role carries a boundary (the required one, else the
//! shipped `PersonaRoleBoundary`) that the function can neither leave out, remove, change nor
//! attach; and every call allowed from the function's own code (Lambda's
//! `lambda:SourceFunctionArn` naming it) is denied without that key or with another function's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;

use common::deployed::{Deployment, FUNCTION_ARN, SHIPPED_BOUNDARY};
use common::{ACCOUNT, STACK_ID, simulator};
use serde_json::{Value as Json, json};

const FUNCTION_ROLE: &str = "arn:aws:iam::123456789012:role/sagemaker-fn-ExecutionRole-1AB2C3";
/// Another function of the account, given the same execution role.
const OTHER_FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-fn-PersonaRoleFunction-Copy";
/// The key Lambda adds to every call made with the execution role from a function's code.
const SOURCE_FUNCTION: &str = "lambda:SourceFunctionArn";
const OTHER_ACCOUNT_STACK: &str =
    "arn:aws:cloudformation:us-east-1:210987654321:stack/ml-personas/3f6a2c10-8b1e-11ef-9c4d";
const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/sagemaker-ml-boundary";
/// Another stack of the function's own account and region.
const OTHER_STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/other-team/0c1d2e3f-8b1e-11ef-9c4d";

/// The template's parameters as a deployment sets them.
struct Setting {
    allow_adoption: bool,
    /// `AdoptionScope=AnyUnownedRole` rather than Role Manager's roles only.
    adopt_any: bool,
    boundary: Option<&'static str>,
    /// `AdoptingStacks`: the stack names (patterns) whose resources may adopt.
    adopting_stacks: &'static [&'static str],
    /// `AllowedTagKeys`: the tag keys (patterns) declarations may set.
    allowed_tag_keys: &'static [&'static str],
}

impl Setting {
    /// The boundary every role carries in this setting.
    fn effective_boundary(&self) -> &'static str {
        self.boundary.unwrap_or(SHIPPED_BOUNDARY)
    }

    fn name(&self) -> String {
        format!(
            "AllowAdoption={} AdoptionScope={} AdoptingStacks={} RequiredPermissionsBoundary={}",
            self.allow_adoption,
            if self.adopt_any {
                "AnyUnownedRole"
            } else {
                "RoleManagerRoles"
            },
            self.adopting_stacks.join(","),
            self.boundary.unwrap_or("\"\"")
        )
    }

    /// Whether a resource of `stack` may adopt in this setting.
    fn may_adopt(&self, stack: &str) -> bool {
        let name = stack.split('/').nth(1).unwrap();
        self.allow_adoption
            && self
                .adopting_stacks
                .iter()
                .any(|pattern| persona_role::guardrails::glob_match(pattern, name))
    }

    /// The template deployed with this setting's parameters (the others at their defaults).
    fn deployment(&self) -> Deployment {
        let boundary = self.boundary.unwrap_or_default();
        let adopting_stacks = self.adopting_stacks.join(",");
        let allowed_tag_keys = self.allowed_tag_keys.join(",");
        let allow_adoption = self.allow_adoption.to_string();
        let scope = if self.adopt_any {
            "AnyUnownedRole"
        } else {
            "RoleManagerRoles"
        };
        Deployment::new(&[
            ("AllowAdoption", allow_adoption.as_str()),
            ("AdoptionScope", scope),
            ("RequiredPermissionsBoundary", boundary),
            ("AdoptingStacks", adopting_stacks.as_str()),
            ("AllowedTagKeys", allowed_tag_keys.as_str()),
        ])
    }

    /// The execution role's identity policies as deployed with this setting: its own inline
    /// policies and the role policies of the template that name it.
    fn policies(&self) -> Vec<Json> {
        let deployment = self.deployment();
        let resources = &deployment.template()["Resources"];
        let mut policies: Vec<Json> = resources["ExecutionRole"]["Properties"]["Policies"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| {
                json!({
                    "name": p["PolicyName"].as_str().unwrap(),
                    "policy": deployment.resolve(&p["PolicyDocument"]).unwrap(),
                })
            })
            .collect();
        for name in ["ExecutionRoleGuard", "ExecutionRolePermissions"] {
            let policy = &resources[name]["Properties"];
            assert_eq!(
                resources[name]["Type"].as_str(),
                Some("AWS::IAM::RolePolicy")
            );
            policies.push(json!({
                "name": policy["PolicyName"].as_str().unwrap(),
                "policy": deployment.resolve(&policy["PolicyDocument"]).unwrap(),
            }));
        }
        let tag_keys = &resources["ExecutionRoleTagKeys"];
        assert_eq!(tag_keys["Type"].as_str(), Some("AWS::IAM::ManagedPolicy"));
        assert_eq!(
            deployment.resolve(&tag_keys["Properties"]["Roles"]),
            Some(json!(["sagemaker-fn-ExecutionRole-1AB2C3"])),
            "attached to the execution role"
        );
        policies.push(json!({
            "name": "ExecutionRoleTagKeys",
            "policy": deployment.resolve(&tag_keys["Properties"]["PolicyDocument"]).unwrap(),
        }));
        policies
    }
}

/// One IAM call the function could make: its action, the resource's name under
/// `arn:aws:iam::123456789012:`, and the context keys IAM sends.
struct Call {
    what: &'static str,
    action: &'static str,
    resource: String,
    context: BTreeMap<&'static str, Json>,
}

fn call(what: &'static str, action: &'static str, resource: &str) -> Call {
    let resource = if resource == "*" || resource.starts_with("arn:") {
        resource.to_owned()
    } else {
        format!("arn:aws:iam::{ACCOUNT}:{resource}")
    };
    // Made from the function's code: Lambda names the function in every call.
    Call {
        what,
        action,
        resource,
        context: BTreeMap::from([(SOURCE_FUNCTION, json!(FUNCTION_ARN))]),
    }
}

impl Call {
    fn with(mut self, key: &'static str, value: Json) -> Self {
        self.context.insert(key, value);
        self
    }

    /// The same call made elsewhere than from the function's code: by another function given
    /// the execution role (`Some`), or with its credentials outside Lambda (`None`).
    fn made_elsewhere(&self, function: Option<&str>) -> Call {
        let mut context = self.context.clone();
        match function {
            Some(arn) => context.insert(SOURCE_FUNCTION, json!(arn)),
            None => context.remove(SOURCE_FUNCTION),
        };
        Call {
            what: self.what,
            action: self.action,
            resource: self.resource.clone(),
            context,
        }
    }

    /// On (or, creating, with) the boundary every role carries in the setting.
    fn bounded(self, setting: &Setting) -> Self {
        self.with(
            "iam:PermissionsBoundary",
            json!(setting.effective_boundary()),
        )
    }

    /// Owned by a stack: the role or policy carries the ownership tag.
    fn owned_by(self, stack: &str) -> Self {
        self.with("aws:ResourceTag/persona-role:stack-id", json!(stack))
    }

    /// Sends ownership tags (and the adoption mark, when `adopted`).
    fn tagging(self, stack: &str, adopted: bool) -> Self {
        let mut keys = vec!["persona-role:stack-id", "persona-role:logical-id"];
        let mut call = self
            .with("aws:RequestTag/persona-role:stack-id", json!(stack))
            .with(
                "aws:RequestTag/persona-role:logical-id",
                json!("DataScientist"),
            );
        if adopted {
            keys.push("persona-role:adopted");
            call = call.with("aws:RequestTag/persona-role:adopted", json!("true"));
        }
        call.with("aws:TagKeys", json!(keys))
    }
}

/// Calls whose decision does not depend on the setting.
fn always() -> Vec<(bool, Call)> {
    let other_region_stack = STACK_ID.replace(":us-east-1:", ":eu-west-1:");
    vec![
        // Each event is checked with its stack first: reads of the account's stacks in the
        // function's region, and no others.
        (
            true,
            call(
                "check an event's resource",
                "cloudformation:DescribeStackResource",
                STACK_ID,
            ),
        ),
        (
            true,
            call(
                "check an event's stack",
                "cloudformation:DescribeStacks",
                STACK_ID,
            ),
        ),
        (
            false,
            call(
                "read another account's stack resource",
                "cloudformation:DescribeStackResource",
                OTHER_ACCOUNT_STACK,
            ),
        ),
        (
            false,
            call(
                "read another account's stack",
                "cloudformation:DescribeStacks",
                OTHER_ACCOUNT_STACK,
            ),
        ),
        (
            false,
            call(
                "read a stack resource of another region",
                "cloudformation:DescribeStackResource",
                &other_region_stack,
            ),
        ),
        (
            false,
            call(
                "read a stack of another region",
                "cloudformation:DescribeStacks",
                &other_region_stack,
            ),
        ),
        (
            true,
            call(
                "check an event's properties",
                "cloudformation:DescribeStackEvents",
                STACK_ID,
            ),
        ),
        (
            false,
            call(
                "read another account's stack events",
                "cloudformation:DescribeStackEvents",
                OTHER_ACCOUNT_STACK,
            ),
        ),
        (
            false,
            call(
                "read the stack events of another region",
                "cloudformation:DescribeStackEvents",
                &other_region_stack,
            ),
        ),
        // A Create's stack is listed to count its roles (MaxRolesPerStack).
        (
            true,
            call(
                "list an event's stack's resources",
                "cloudformation:ListStackResources",
                STACK_ID,
            ),
        ),
        (
            false,
            call(
                "list another account's stack's resources",
                "cloudformation:ListStackResources",
                OTHER_ACCOUNT_STACK,
            ),
        ),
        (
            false,
            call(
                "list the resources of a stack of another region",
                "cloudformation:ListStackResources",
                &other_region_stack,
            ),
        ),
        // What the function does to its own roles and policies.
        (
            true,
            call(
                "create its policy",
                "iam:CreatePolicy",
                "policy/sagemaker-ds-1",
            )
            .tagging(STACK_ID, false),
        ),
        (
            true,
            call(
                "converge its trust",
                "iam:UpdateAssumeRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call(
                "new policy version",
                "iam:CreatePolicyVersion",
                "policy/sagemaker-ds-1",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call("remove a user tag", "iam:UntagRole", "role/sagemaker-ds")
                .owned_by(STACK_ID)
                .with("aws:TagKeys", json!(["team"])),
        ),
        (
            true,
            call(
                "detach a policy",
                "iam:DetachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call(
                "delete its policy",
                "iam:DeletePolicy",
                "policy/sagemaker-ds-1",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call("delete its role", "iam:DeleteRole", "role/sagemaker-ds").owned_by(STACK_ID),
        ),
        (
            true,
            call(
                "delete a role under a path",
                "iam:DeleteRole",
                "role/service-role/sagemaker-ds",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call(
                "converge an adopted console role",
                "iam:UpdateAssumeRolePolicy",
                "role/service-role/SageMaker-ds",
            )
            .owned_by(STACK_ID),
        ),
        (
            true,
            call(
                "read a console role",
                "iam:GetRole",
                "role/service-role/SageMaker-ds",
            ),
        ),
        (true, call("list policies", "iam:ListPolicies", "*")),
        (
            true,
            call("list roles (a reconcile run)", "iam:ListRoles", "*"),
        ),
        (
            true,
            call(
                "leave an instance profile",
                "iam:RemoveRoleFromInstanceProfile",
                "instance-profile/sagemaker-ds",
            ),
        ),
        // Escalations.
        (
            false,
            call(
                "create a role without ownership",
                "iam:CreateRole",
                "role/sagemaker-ds",
            ),
        ),
        (
            false,
            call(
                "create a role owned by another account's stack",
                "iam:CreateRole",
                "role/sagemaker-ds",
            )
            .tagging(OTHER_ACCOUNT_STACK, false),
        ),
        (
            false,
            call(
                "create a role outside sagemaker-*",
                "iam:CreateRole",
                "role/admin",
            )
            .tagging(STACK_ID, false),
        ),
        (
            false,
            call(
                "create a role hidden under a sagemaker- path",
                "iam:CreateRole",
                "role/sagemaker-x/admin",
            )
            .tagging(STACK_ID, false),
        ),
        (
            false,
            call(
                "write to a role someone else made",
                "iam:PutRolePolicy",
                "role/sagemaker-by-hand",
            ),
        ),
        (
            false,
            call(
                "write to another account's stack's role",
                "iam:PutRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(OTHER_ACCOUNT_STACK),
        ),
        (
            false,
            call(
                "write to a console role no stack adopted",
                "iam:PutRolePolicy",
                "role/service-role/SageMaker-ds",
            ),
        ),
        (
            false,
            call(
                "change a policy someone else made",
                "iam:CreatePolicyVersion",
                "policy/sagemaker-by-hand",
            ),
        ),
        (
            false,
            call("remove ownership", "iam:UntagRole", "role/sagemaker-ds")
                .owned_by(STACK_ID)
                .with("aws:TagKeys", json!(["persona-role:stack-id"])),
        ),
        (
            false,
            call(
                "remove the adoption mark",
                "iam:UntagRole",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["persona-role:adopted"])),
        ),
        (
            false,
            call(
                "take over a policy",
                "iam:TagPolicy",
                "policy/sagemaker-by-hand",
            )
            .tagging(STACK_ID, false),
        ),
        (
            false,
            call(
                "attach AdministratorAccess",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PolicyARN",
                json!("arn:aws:iam::aws:policy/AdministratorAccess"),
            ),
        ),
        (
            false,
            call("change itself", "iam:PutRolePolicy", FUNCTION_ROLE).owned_by(STACK_ID),
        ),
        (
            false,
            call("delete itself", "iam:DeleteRole", FUNCTION_ROLE).owned_by(STACK_ID),
        ),
        (
            false,
            call("pass a role", "iam:PassRole", "role/sagemaker-ds")
                .owned_by(STACK_ID)
                .with("iam:PassedToService", json!("sagemaker.amazonaws.com")),
        ),
        (
            false,
            call("assume a role", "sts:AssumeRole", "role/sagemaker-ds"),
        ),
        (
            false,
            call("create a user", "iam:CreateUser", "user/sagemaker-ds"),
        ),
        (
            false,
            call(
                "move a role of another stack of the account to this one",
                "iam:TagRole",
                "role/sagemaker-ds",
            )
            .owned_by(OTHER_STACK)
            .tagging(STACK_ID, false),
        ),
        (
            false,
            call(
                "adopt a role another adopter took a moment ago",
                "iam:TagRole",
                "role/service-role/SageMaker-ds",
            )
            .owned_by(OTHER_STACK)
            .tagging(STACK_ID, true),
        ),
        (
            false,
            call(
                "overwrite ownership through a key in another case",
                "iam:TagRole",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["Persona-Role:Stack-Id"])),
        ),
        (
            false,
            call(
                "remove ownership through a key in another case",
                "iam:UntagRole",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["PERSONA-ROLE:STACK-ID"])),
        ),
        (
            false,
            call(
                "remove a policy's ownership through a key in another case",
                "iam:UntagPolicy",
                "policy/sagemaker-ds-1",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["Persona-Role:Logical-Id"])),
        ),
        (
            false,
            call("create access keys", "iam:CreateAccessKey", "user/admin"),
        ),
        (
            false,
            call(
                "leave another instance profile",
                "iam:RemoveRoleFromInstanceProfile",
                "instance-profile/web-servers",
            ),
        ),
    ]
}

/// Calls whose decision the setting changes.
fn depending(setting: &Setting) -> Vec<(bool, Call)> {
    let adoption = setting.allow_adoption;
    let effective = setting.effective_boundary();
    let adopting = setting.may_adopt(STACK_ID);
    let adopt_any = adopting && setting.adopt_any;
    let mut calls = vec![
        (
            false,
            call(
                "create a persona role without a boundary",
                "iam:CreateRole",
                "role/sagemaker-ds",
            )
            .tagging(STACK_ID, false),
        ),
        (
            adopting,
            call(
                "adopt a console role",
                "iam:TagRole",
                "role/service-role/SageMaker-ds",
            )
            .tagging(STACK_ID, true),
        ),
        (
            setting.may_adopt(OTHER_STACK),
            call(
                "adopt a console role for a stack AdoptingStacks may not name",
                "iam:TagRole",
                "role/service-role/SageMaker-ds",
            )
            .tagging(OTHER_STACK, true),
        ),
        (
            adopt_any,
            call(
                "adopt a hand-made role",
                "iam:TagRole",
                "role/sagemaker-prod-admin",
            )
            .tagging(STACK_ID, true),
        ),
        (
            adopt_any,
            call(
                "adopt a console-named role outside service-role",
                "iam:TagRole",
                "role/SageMaker-ds",
            )
            .tagging(STACK_ID, true),
        ),
        (
            false,
            call(
                "adopt for another account's stack",
                "iam:TagRole",
                "role/service-role/SageMaker-ds",
            )
            .tagging(OTHER_ACCOUNT_STACK, true),
        ),
        (
            false,
            call(
                "take over another stack's role",
                "iam:TagRole",
                "role/sagemaker-ds",
            )
            .owned_by(OTHER_ACCOUNT_STACK)
            .tagging(STACK_ID, true),
        ),
        (
            adoption,
            call(
                "see who uses a console policy",
                "iam:ListEntitiesForPolicy",
                "policy/service-role/SM_CommonJobManagement_1733462327347",
            ),
        ),
        (
            adoption,
            call(
                "delete a detached console policy",
                "iam:DeletePolicy",
                "policy/service-role/SM_CommonJobManagement_1733462327347",
            ),
        ),
        (
            adoption,
            call(
                "delete a console S3 policy's old version",
                "iam:DeletePolicyVersion",
                "policy/service-role/SageMakerS3BucketPolicyTemplate_1724875893688",
            ),
        ),
        (
            false,
            call(
                "delete a team's policy under service-role",
                "iam:DeletePolicy",
                "policy/service-role/TeamPolicy",
            ),
        ),
        (
            false,
            call(
                "delete a console-named policy elsewhere",
                "iam:DeletePolicy",
                "policy/SM_CommonJobManagement_1733462327347",
            ),
        ),
        (
            false,
            call(
                "remove a role's boundary",
                "iam:DeleteRolePermissionsBoundary",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .bounded(setting),
        ),
        (
            true,
            call(
                "attach the role's own policy",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PolicyARN",
                json!("arn:aws:iam::123456789012:policy/sagemaker-ds-1"),
            )
            .bounded(setting),
        ),
        (
            false,
            call(
                "attach the boundary policy",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("iam:PolicyARN", json!(effective))
            .bounded(setting),
        ),
        (
            false,
            call(
                "attach the shipped boundary policy",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("iam:PolicyARN", json!(SHIPPED_BOUNDARY))
            .bounded(setting),
        ),
        (
            false,
            call(
                "attach the shipped boundary policy named in another case",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("iam:PolicyARN", json!(SHIPPED_BOUNDARY.to_lowercase()))
            .bounded(setting),
        ),
        // What IAM alone cannot hold: an attach request shows the policy's ARN, not its tags,
        // and nothing ties another role's `<role name>-<n>` to its owner. The function refuses
        // it (`ManagedPolicyArns`, tests/lambda/adoption.rs).
        (
            true,
            call(
                "attach another stack's own policy",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PolicyARN",
                json!("arn:aws:iam::123456789012:policy/sagemaker-other-team-ds-1"),
            )
            .bounded(setting),
        ),
        (
            true,
            call(
                "attach a SageMaker AWS managed policy",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PolicyARN",
                json!("arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess"),
            )
            .bounded(setting),
        ),
        (
            true,
            call(
                "put an inline policy",
                "iam:PutRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .bounded(setting),
        ),
    ];
    let tag_key = |key: &str| {
        setting
            .allowed_tag_keys
            .iter()
            .any(|pattern| persona_role::guardrails::glob_match(pattern, key))
    };
    calls.extend([
        (
            true,
            call(
                "create a role with the boundary",
                "iam:CreateRole",
                "role/sagemaker-ds",
            )
            .tagging(STACK_ID, false)
            .bounded(setting),
        ),
        (
            tag_key("team"),
            call(
                "create a role with a user tag AllowedTagKeys may name",
                "iam:CreateRole",
                "role/sagemaker-ds",
            )
            .tagging(STACK_ID, false)
            .bounded(setting)
            .with(
                "aws:TagKeys",
                json!(["persona-role:stack-id", "persona-role:logical-id", "team"]),
            ),
        ),
        (
            tag_key("team"),
            call("set a user tag", "iam:TagRole", "role/sagemaker-ds")
                .owned_by(STACK_ID)
                .with("aws:TagKeys", json!(["team"])),
        ),
        (
            tag_key("cost-center"),
            call(
                "set a user tag by pattern",
                "iam:TagRole",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["cost-center"])),
        ),
        (
            tag_key("Team"),
            call(
                "set a user tag in another case than allowed",
                "iam:TagRole",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with("aws:TagKeys", json!(["Team"])),
        ),
        (
            true,
            call(
                "give an adopted role the boundary",
                "iam:PutRolePermissionsBoundary",
                "role/service-role/SageMaker-ds",
            )
            .owned_by(STACK_ID)
            .bounded(setting),
        ),
        (
            false,
            call(
                "give a role another boundary",
                "iam:PutRolePermissionsBoundary",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PermissionsBoundary",
                json!("arn:aws:iam::123456789012:policy/loose"),
            ),
        ),
        (
            false,
            call(
                "attach a policy to a role without the boundary",
                "iam:AttachRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID)
            .with(
                "iam:PolicyARN",
                json!("arn:aws:iam::123456789012:policy/sagemaker-ds-1"),
            ),
        ),
        (
            false,
            call(
                "change the boundary policy's default version",
                "iam:SetDefaultPolicyVersion",
                effective,
            )
            .owned_by(STACK_ID),
        ),
        (
            false,
            call(
                "change the shipped boundary",
                "iam:CreatePolicyVersion",
                SHIPPED_BOUNDARY,
            )
            .owned_by(STACK_ID),
        ),
        (
            false,
            call(
                "tag ownership onto the shipped boundary",
                "iam:TagPolicy",
                SHIPPED_BOUNDARY,
            )
            .tagging(STACK_ID, false),
        ),
    ]);
    calls.extend([
        (
            false,
            call(
                "create a role with another boundary",
                "iam:CreateRole",
                "role/sagemaker-ds",
            )
            .tagging(STACK_ID, false)
            .with(
                "iam:PermissionsBoundary",
                json!("arn:aws:iam::123456789012:policy/loose"),
            ),
        ),
        (
            false,
            call(
                "put a policy on a role without the boundary",
                "iam:PutRolePolicy",
                "role/sagemaker-ds",
            )
            .owned_by(STACK_ID),
        ),
        (
            false,
            call(
                "change the boundary policy",
                "iam:CreatePolicyVersion",
                effective,
            )
            .owned_by(STACK_ID),
        ),
        (
            false,
            call("delete the boundary policy", "iam:DeletePolicy", effective).owned_by(STACK_ID),
        ),
    ]);
    calls
}

/// IAM refuses a role whose inline policies together exceed 10,240 characters (whitespace
/// excluded): the stack would fail to deploy. Every setting's execution role must fit, ten
/// adopting stacks of 34 characters included.
#[test]
fn the_execution_roles_inline_policies_fit_iams_quota_in_every_setting() {
    for setting in settings() {
        let size: usize = setting
            .policies()
            .iter()
            // A managed policy: its own 6,144 characters, not the role's inline quota.
            .filter(|p| p["name"] != "ExecutionRoleTagKeys")
            .map(|p| {
                p["policy"]
                    .to_string()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .count()
            })
            .sum();
        println!("[{}] {size} characters of inline policy", setting.name());
        assert!(size <= 10_240, "[{}] {size} characters", setting.name());
    }
}

/// An operator's long list: what the size of the execution role's policies must leave room for.
const MANY_STACKS: &[&str] = &[
    "data-science-platform-migration-01",
    "data-science-platform-migration-02",
    "data-science-platform-migration-03",
    "data-science-platform-migration-04",
    "data-science-platform-migration-05",
    "data-science-platform-migration-06",
    "data-science-platform-migration-07",
    "data-science-platform-migration-08",
    "data-science-platform-migration-09",
    "ml-personas",
];

fn settings() -> [Setting; 7] {
    [
        Setting {
            allow_adoption: false,
            adopt_any: false,
            boundary: None,
            adopting_stacks: &[],
            allowed_tag_keys: &[],
        },
        Setting {
            allow_adoption: true,
            adopt_any: false,
            boundary: None,
            adopting_stacks: &["ml-personas"],
            allowed_tag_keys: &["team", "cost-*"],
        },
        Setting {
            allow_adoption: true,
            adopt_any: true,
            boundary: None,
            adopting_stacks: &["migration", "ml-*"],
            allowed_tag_keys: &[],
        },
        Setting {
            allow_adoption: false,
            adopt_any: true,
            boundary: Some(BOUNDARY),
            adopting_stacks: &["ml-personas"],
            allowed_tag_keys: &[],
        },
        Setting {
            allow_adoption: true,
            adopt_any: false,
            boundary: Some(BOUNDARY),
            adopting_stacks: &["*"],
            allowed_tag_keys: &[],
        },
        // What the template's Rule refuses to deploy: the switch with no stack named. IAM
        // then lets no stack adopt.
        Setting {
            allow_adoption: true,
            adopt_any: true,
            boundary: None,
            adopting_stacks: &[],
            allowed_tag_keys: &[],
        },
        Setting {
            allow_adoption: true,
            adopt_any: true,
            boundary: Some(BOUNDARY),
            adopting_stacks: MANY_STACKS,
            allowed_tag_keys: &[],
        },
    ]
}

#[test]
fn the_execution_role_allows_the_functions_calls_and_denies_escalations_in_every_setting() {
    let settings = settings();
    let mut cases = Vec::new();
    for setting in &settings {
        let policies = setting.policies();
        let mut calls = Vec::new();
        for (allow, call) in always().into_iter().chain(depending(setting)) {
            // Whatever the function may do, nothing else may do with its role.
            if allow {
                calls.push((false, call.made_elsewhere(None)));
                calls.push((false, call.made_elsewhere(Some(OTHER_FUNCTION_ARN))));
            }
            calls.push((allow, call));
        }
        for (allow, call) in calls {
            let request = json!({
                "principal": format!("{FUNCTION_ROLE}"),
                "account": ACCOUNT,
                "policies": policies,
                "action": call.action,
                "resource": call.resource,
                "context": call.context,
            });
            cases.push((setting.name(), allow, call, request));
        }
    }
    let requests: Vec<&Json> = cases.iter().map(|c| &c.3).collect();
    let decisions = simulator::decide(&requests);
    let mut failures = Vec::new();
    for ((setting, allow, call, _), decision) in cases.iter().zip(&decisions) {
        let got = decision["decision"].as_str().unwrap_or_default();
        let ignored = decision["ignored"].as_array().cloned().unwrap_or_default();
        let source = match call.context.get(SOURCE_FUNCTION).and_then(Json::as_str) {
            Some(FUNCTION_ARN) => "from the function",
            Some(_) => "from another function",
            None => "outside Lambda",
        };
        let at = format!(
            "[{setting}] {} ({source}): {} on {}",
            call.what, call.action, call.resource
        );
        if got == "Error" {
            failures.push(format!(
                "{at}: the simulator could not decide: {}",
                decision["errors"]
            ));
        } else if !ignored.is_empty() {
            failures.push(format!(
                "{at}: context keys IAM does not send for it: {ignored:?}"
            ));
        } else if (got == "Allowed") != *allow {
            failures.push(format!(
                "{at}: {got}, expected {}; allowed by {}, denied by {}",
                if *allow { "Allowed" } else { "denied" },
                decision["allowed_by"],
                decision["denied_by"]
            ));
        }
    }
    assert!(cases.len() > 150, "every setting decides the calls");
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
