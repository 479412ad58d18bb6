//! `template.yaml`'s execution role grants exactly the IAM and CloudFormation operations the
//! function calls: the registry in `persona_role::aws::operations`. A new call that the role lacks would ship as an
//! AccessDenied; a grant nothing calls is privilege for nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use persona_role::aws::Op;
use serde_yaml_ng::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The execution role's permission policies: its inline policies and the function's
/// `ExecutionRolePermissions` (the guard's denies are read on their own).
fn documents(template: &Value) -> Vec<&Value> {
    let resources = &template["Resources"];
    let mut documents: Vec<&Value> = resources["ExecutionRole"]["Properties"]["Policies"]
        .as_sequence()
        .expect("ExecutionRole has Policies")
        .iter()
        .map(|policy| &policy["PolicyDocument"])
        .collect();
    documents.push(&resources["ExecutionRolePermissions"]["Properties"]["PolicyDocument"]);
    documents
}

/// The statements of the execution role's permission policies, as written (`!If` unresolved).
fn raw_statements(template: &Value) -> Vec<&Value> {
    documents(template)
        .into_iter()
        .flat_map(|document| {
            document["Statement"]
                .as_sequence()
                .expect("a policy has statements")
        })
        .collect()
}

/// Every statement of the execution role's policies, through `!If` branches (either may hold).
fn statements(template: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for statement in raw_statements(template) {
        collect_statements(statement, &mut out);
    }
    out
}

fn collect_statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Mapping(map) if map.contains_key("Effect") => out.push(value.clone()),
        Value::Tagged(tagged) if tagged.tag == "If" => {
            for branch in tagged.value.as_sequence().into_iter().flatten().skip(1) {
                collect_statements(branch, out);
            }
        }
        _ => {}
    }
}

/// The statement's actions; under an `!If`, those of either branch.
fn actions(statement: &Value) -> Vec<String> {
    fn of(value: &Value) -> Vec<String> {
        match value {
            Value::String(action) => vec![action.clone()],
            Value::Sequence(actions) => actions.iter().flat_map(of).collect(),
            Value::Tagged(_) => {
                let (_, yes, no) = if_branches(value).expect("an !If");
                [of(yes), of(no)].concat()
            }
            other => panic!("unexpected Action {other:?}"),
        }
    }
    of(&statement["Action"])
}

/// The actions, in statements of `effect`, of the services the registry's operations call.
fn registry_actions(effect: &str) -> BTreeSet<String> {
    statements(&template())
        .iter()
        .filter(|s| s["Effect"].as_str() == Some(effect))
        .flat_map(actions)
        .filter(|a| {
            Op::ALL
                .iter()
                .any(|op| a.starts_with(&format!("{}:", op.service())))
        })
        .collect()
}

#[test]
fn the_execution_role_allows_exactly_the_operations_the_function_calls() {
    let granted = registry_actions("Allow");
    let called: BTreeSet<String> = Op::ALL
        .iter()
        .filter(|op| op.used_by_function())
        .map(|op| op.action())
        .collect();
    let missing: Vec<&String> = called.difference(&granted).collect();
    let unused: Vec<&String> = granted.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "the function calls these, but template.yaml's execution role does not allow them: {missing:?}"
    );
    assert!(
        unused.is_empty(),
        "template.yaml's execution role allows these, but the function never calls them: {unused:?}"
    );
}

#[test]
fn every_write_the_function_makes_is_also_denied_under_hidden_sagemaker_paths() {
    let denied = registry_actions("Deny");
    let writes: Vec<String> = Op::ALL
        .iter()
        .filter(|op| op.is_write() && op.used_by_function())
        .map(|op| op.action())
        .collect();
    for write in writes {
        assert!(
            denied.contains(&write),
            "{write} is not in DenyNamesHiddenInPaths"
        );
    }
}

/// The condition maps a statement can be decided under: each branch of a `!If`.
fn condition_branches(statement: &Value) -> Vec<Value> {
    let condition = &statement["Condition"];
    match if_branches(condition) {
        Some((_, yes, no)) => vec![yes.clone(), no.clone()],
        None => vec![condition.clone()],
    }
}

fn requires(branch: &Value, operator: &str, key: &str) -> bool {
    !branch[operator][key].is_null()
}

#[test]
fn every_write_needs_the_ownership_tag_of_a_stack_of_this_account() {
    let template = template();
    let creates = ["iam:CreateRole", "iam:CreatePolicy"];
    // Instance profiles carry no role tags: that one stays scoped by name only.
    let untaggable = ["iam:RemoveRoleFromInstanceProfile"];
    let writes: BTreeSet<String> = Op::ALL
        .iter()
        .filter(|op| op.is_write())
        .map(|op| op.action())
        .collect();
    let mut checked = BTreeSet::new();
    for statement in statements(&template) {
        if statement["Effect"].as_str() != Some("Allow") {
            continue;
        }
        let actions = actions(&statement);
        let sid = statement["Sid"].as_str().unwrap_or("?").to_owned();
        if sid == "AdoptUnownedRoles" {
            // Adoption tags ownership onto a role that has none, and only that.
            assert_eq!(actions, ["iam:TagRole"]);
            let condition = &statement["Condition"];
            assert_eq!(
                condition["Null"]["aws:ResourceTag/persona-role:stack-id"].as_str(),
                Some("true")
            );
            assert!(requires(
                condition,
                "StringLike",
                "aws:RequestTag/persona-role:stack-id"
            ));
            continue;
        }
        if sid == "DeleteConsolePolicies" {
            // The console's policies carry no tags; its own test limits them by name.
            continue;
        }
        for action in actions.iter().filter(|a| writes.contains(*a)) {
            if untaggable.contains(&action.as_str()) {
                continue;
            }
            let key = if creates.contains(&action.as_str()) {
                "aws:RequestTag/persona-role:stack-id"
            } else {
                "aws:ResourceTag/persona-role:stack-id"
            };
            for branch in condition_branches(&statement) {
                assert!(
                    requires(&branch, "StringLike", key),
                    "{sid}: {action} does not require {key} (a stack ARN of this account) in {branch:?}"
                );
                let value = serde_yaml_ng::to_string(&branch["StringLike"][key]).unwrap();
                assert!(
                    value.contains(":cloudformation:${AWS::Region}:${AWS::AccountId}:stack/*"),
                    "{sid}: {key} must name a stack of this account and region: {value}"
                );
                if creates.contains(&action.as_str()) {
                    assert!(
                        requires(&branch, "Null", "aws:RequestTag/persona-role:logical-id"),
                        "{sid}: {action} does not require the logical-id tag"
                    );
                }
            }
            checked.insert(action.clone());
        }
    }
    let unchecked: Vec<&String> = writes
        .iter()
        .filter(|w| !checked.contains(*w) && !untaggable.contains(&w.as_str()))
        .collect();
    assert!(
        unchecked.is_empty(),
        "writes not allowed anywhere: {unchecked:?}"
    );
}

#[test]
fn ownership_is_never_tagged_onto_what_has_none() {
    let template = template();
    let deny = statements(&template)
        .into_iter()
        .find(|s| s["Sid"].as_str() == Some("DenyTakingOwnership"))
        .expect("a DenyTakingOwnership statement");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    let actions = actions(&deny);
    assert!(actions.contains(&"iam:TagRole".to_owned()));
    assert!(actions.contains(&"iam:TagPolicy".to_owned()));
    assert_eq!(
        deny["Condition"]["Null"]["aws:ResourceTag/persona-role:stack-id"].as_str(),
        Some("true")
    );
}

#[test]
fn the_function_can_change_neither_its_own_role_nor_the_boundary() {
    let template = template();
    let guard = &template["Resources"]["ExecutionRoleGuard"];
    assert_eq!(guard["Type"].as_str(), Some("AWS::IAM::RolePolicy"));
    let mut denied_on_itself = BTreeSet::new();
    let mut denied_on_boundary = BTreeSet::new();
    let mut statements_found = Vec::new();
    for statement in guard["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
    {
        collect_statements(statement, &mut statements_found);
    }
    let mut never_attached = BTreeSet::new();
    for statement in &statements_found {
        assert_eq!(statement["Effect"].as_str(), Some("Deny"));
        if statement["Sid"].as_str() == Some("DenyAttachingTheBoundary") {
            // On any role: attaching is an action on the role, the policy is its condition.
            assert_eq!(actions(statement), ["iam:AttachRolePolicy"]);
            assert_eq!(statement["Resource"].as_str(), Some("*"));
            let named = &statement["Condition"]["StringEqualsIgnoreCase"]["iam:PolicyARN"];
            never_attached.extend(
                named
                    .as_sequence()
                    .expect("a list of the boundary policies")
                    .iter()
                    .map(|arn| serde_yaml_ng::to_string(arn).unwrap()),
            );
            continue;
        }
        let resource = serde_yaml_ng::to_string(&statement["Resource"]).unwrap();
        let target = if resource.contains("ExecutionRole.Arn") {
            &mut denied_on_itself
        } else if resource.contains("RequiredPermissionsBoundary") {
            &mut denied_on_boundary
        } else {
            panic!("unexpected guard resource {resource}");
        };
        target.extend(actions(statement));
    }
    for op in Op::ALL.iter().filter(|op| op.is_write()) {
        let action = op.action();
        let on_roles = action.contains("Role") && !action.contains("InstanceProfile");
        if on_roles && action != "iam:CreateRole" {
            assert!(denied_on_itself.contains(&action), "{action} on itself");
        }
        if action.contains("Policy") && !action.contains("Role") && action != "iam:CreatePolicy" {
            assert!(
                denied_on_boundary.contains(&action),
                "{action} on the boundary"
            );
        }
    }
    let never_attached: Vec<String> = never_attached.into_iter().collect();
    assert!(
        never_attached.len() == 2
            && never_attached
                .iter()
                .any(|a| a.contains("PersonaRoleBoundary"))
            && never_attached
                .iter()
                .any(|a| a.contains("RequiredPermissionsBoundary")),
        "neither boundary policy is ever attached: {never_attached:?}"
    );
    assert_eq!(
        template["Resources"]["PersonaRoleFunction"]["DependsOn"].as_str(),
        Some("ExecutionRoleGuard")
    );
}

/// Whatever the execution role allows, it allows only to this function's own code: the
/// statements that grant the function's IAM calls sit in one policy with a deny of every call
/// of the services it calls that does not carry Lambda's `lambda:SourceFunctionArn` naming this
/// function. That policy needs the function (so no statement of it can exist before), and
/// CloudFormation may invoke the function only once it exists.
#[test]
fn the_execution_role_works_only_in_this_function() {
    let template = template();
    let resources = &template["Resources"];
    let permissions = &resources["ExecutionRolePermissions"];
    assert_eq!(permissions["Type"].as_str(), Some("AWS::IAM::RolePolicy"));
    assert_eq!(
        serde_yaml_ng::to_string(&permissions["Properties"]["RoleName"]).unwrap(),
        "!Ref ExecutionRole\n"
    );
    let document = &permissions["Properties"]["PolicyDocument"]["Statement"];
    let deny = document
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["Sid"].as_str() == Some("DenyOutsideThisFunction"))
        .expect("a DenyOutsideThisFunction statement");
    assert_eq!(deny["Effect"].as_str(), Some("Deny"));
    assert_eq!(deny["Resource"].as_str(), Some("*"));
    assert_eq!(
        serde_yaml_ng::to_string(&deny["Condition"]["ArnNotEquals"]["lambda:SourceFunctionArn"])
            .unwrap(),
        "!GetAtt PersonaRoleFunction.Arn\n"
    );
    // Every service the function calls (its own log writes, which Lambda makes with the key,
    // included), whole: a read someone adds later is covered too.
    let denied = actions(deny);
    let mut services: BTreeSet<String> = Op::ALL
        .iter()
        .map(|op| format!("{}:*", op.service()))
        .collect();
    services.insert("logs:*".to_owned());
    assert_eq!(denied.into_iter().collect::<BTreeSet<_>>(), services);
    // Every statement that grants an IAM write is in this policy, not in the role's own.
    let writes: BTreeSet<String> = Op::ALL
        .iter()
        .filter(|op| op.is_write())
        .map(|op| op.action())
        .collect();
    for policy in resources["ExecutionRole"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
    {
        let mut inline = Vec::new();
        for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            collect_statements(statement, &mut inline);
        }
        for statement in inline {
            let granted: Vec<String> = actions(&statement)
                .into_iter()
                .filter(|a| writes.contains(a))
                .collect();
            assert!(
                granted.is_empty(),
                "{:?} grants {granted:?} outside ExecutionRolePermissions",
                statement["Sid"]
            );
        }
    }
    assert_eq!(
        resources["CloudFormationInvokePermission"]["DependsOn"].as_str(),
        Some("ExecutionRolePermissions")
    );
}

/// `AllowAdoption=true` deploys only with `AdoptingStacks` naming at least one stack: the
/// template's Rule asserts it, and IAM denies the adoption tagging for any stack not named.
#[test]
fn adoption_names_the_stacks_that_may_adopt() {
    let template = template();
    let parameter = &template["Parameters"]["AdoptingStacks"];
    assert_eq!(parameter["Type"].as_str(), Some("CommaDelimitedList"));
    assert_eq!(parameter["Default"].as_str(), Some(""));
    let rule = &template["Rules"]["AdoptionNamesItsStacks"];
    assert_eq!(
        serde_yaml_ng::to_string(&rule["RuleCondition"]).unwrap(),
        "!Equals\n- !Ref AllowAdoption\n- 'true'\n"
    );
    let assertion = &rule["Assertions"][0]["Assert"]["Fn::Not"][0]["Fn::EachMemberEquals"];
    assert_eq!(
        serde_yaml_ng::to_string(assertion).unwrap(),
        "- !Ref AdoptingStacks\n- ''\n"
    );
    let deny = raw_statements(&template)
        .into_iter()
        .find_map(|s| {
            if_branches(s)
                .filter(|(_, yes, _)| yes["Sid"].as_str() == Some("DenyAdoptionByStacksNotNamed"))
        })
        .expect("DenyAdoptionByStacksNotNamed sits in an !If");
    assert_eq!(deny.0, "AdoptionAllowed");
    assert_eq!(actions(deny.1), ["iam:TagRole"]);
    let names = serde_yaml_ng::to_string(
        &deny.1["Condition"]["StringNotLike"]["aws:RequestTag/persona-role:stack-id"],
    )
    .unwrap();
    assert!(names.contains("!Ref AdoptingStacks"), "{names}");
}

/// The function reads its guardrails from exactly the variables the template sets from its
/// parameters: a renamed one would silently lift a limit the operator set.
#[test]
fn the_template_passes_every_guardrail_the_function_reads() {
    use persona_role::guardrails::{
        ADOPTING_STACKS_ENV, ADOPTION_SCOPE_ENV, ALLOW_ADOPTION_ENV, ENVIRONMENT,
    };
    let template = template();
    let variables =
        template["Resources"]["PersonaRoleFunction"]["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .expect("the function has environment variables");
    let names: BTreeSet<&str> = variables.keys().filter_map(Value::as_str).collect();
    let read: BTreeSet<&str> = ENVIRONMENT
        .iter()
        .chain(persona_role::handler::SETTINGS_ENVIRONMENT)
        .copied()
        .collect();
    assert_eq!(names, read);
    let adoption = serde_yaml_ng::to_string(&variables[ALLOW_ADOPTION_ENV]).unwrap();
    assert!(adoption.contains("AllowAdoption"), "{adoption}");
    let scope = serde_yaml_ng::to_string(&variables[ADOPTION_SCOPE_ENV]).unwrap();
    assert!(scope.contains("AdoptionScope"), "{scope}");
    let stacks = serde_yaml_ng::to_string(&variables[ADOPTING_STACKS_ENV]).unwrap();
    assert!(stacks.contains("AdoptingStacks"), "{stacks}");
}

/// `[condition, when true, when false]` of an `!If`.
fn if_branches(value: &Value) -> Option<(&str, &Value, &Value)> {
    let Value::Tagged(tagged) = value else {
        return None;
    };
    match (
        tagged.tag == "If",
        tagged.value.as_sequence().map(Vec::as_slice),
    ) {
        (true, Some([condition, yes, no])) => Some((condition.as_str()?, yes, no)),
        _ => None,
    }
}

/// Only the AllowAdoption switch lets the function tag ownership onto a role that has none:
/// the statement that allows it exists only under the switch, and only under it does the
/// deny of taking ownership spare TagRole.
#[test]
fn taking_over_unowned_roles_needs_the_adoption_switch() {
    let template = template();
    let raw = raw_statements(&template);
    let adopt = raw
        .iter()
        .find_map(|s| {
            if_branches(s).filter(|(_, yes, _)| yes["Sid"].as_str() == Some("AdoptUnownedRoles"))
        })
        .expect("AdoptUnownedRoles sits in an !If");
    assert_eq!(adopt.0, "AdoptionAllowed");
    assert_eq!(
        adopt.2.as_str(),
        Some("AWS::NoValue"),
        "no statement without the switch"
    );
    assert_eq!(actions(adopt.1), vec!["iam:TagRole".to_owned()]);

    let deny = raw
        .iter()
        .find(|s| s["Sid"].as_str() == Some("DenyTakingOwnership"))
        .unwrap();
    let (condition, with_switch, without) =
        if_branches(&deny["Action"]).expect("its Action depends on the switch");
    assert_eq!(condition, "AdoptionAllowed");
    let list = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list(with_switch), ["iam:TagPolicy"]);
    assert_eq!(list(without), ["iam:TagRole", "iam:TagPolicy"]);
}

/// Deleting the console's detached policies exists only under the adoption switch, reaches only
/// the console's policy names under its path, and covers every console policy discover knows.
#[test]
fn console_policies_are_deletable_only_by_name_and_under_the_adoption_switch() {
    use persona_role::catalog::console;
    use persona_role::guardrails::glob_match;
    let template = template();
    let (condition, statement, without) = raw_statements(&template)
        .into_iter()
        .find_map(|s| {
            if_branches(s)
                .filter(|(_, yes, _)| yes["Sid"].as_str() == Some("DeleteConsolePolicies"))
        })
        .expect("DeleteConsolePolicies sits in an !If");
    assert_eq!(condition, "AdoptionAllowed");
    assert_eq!(without.as_str(), Some("AWS::NoValue"));
    let writes: Vec<String> = actions(statement)
        .into_iter()
        .filter(|a| !a.starts_with("iam:Get") && !a.starts_with("iam:List"))
        .collect();
    assert_eq!(writes, ["iam:DeletePolicyVersion", "iam:DeletePolicy"]);
    assert!(statement["Condition"].is_null());
    let patterns: Vec<String> = statement["Resource"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_str()
                .unwrap()
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::AccountId}", "123456789012")
        })
        .collect();
    let prefix = format!("arn:aws:iam::123456789012:policy{}", console::POLICY_PATH);
    for pattern in &patterns {
        assert!(pattern.starts_with(&prefix), "{pattern}");
    }
    for policy in console::POLICIES {
        let arn = format!("{prefix}{}_1733462327347", policy.template);
        assert!(console::find_arn(&arn).is_some(), "{arn}");
        assert!(
            patterns.iter().any(|p| glob_match(p, &arn)),
            "{arn} is not deletable by the execution role"
        );
    }
    // The function's own policies and AWS managed ones stay out of reach.
    for arn in [
        "arn:aws:iam::123456789012:policy/service-role/AmazonSageMaker-ExecutionPolicy-1",
        "arn:aws:iam::123456789012:policy/SM_CommonJobManagement_1733462327347",
    ] {
        assert!(!patterns.iter().any(|p| glob_match(p, arn)), "{arn}");
    }
}
