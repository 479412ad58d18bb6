//! The lifecycle machine as rows: a request and what each effect observed, against the effects
//! the machine asked for and its answer. No IAM, no server: every path the handler can take is
//! here.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, Failure, Machine, Next, Observation, Outcome, intent};
use crate::aws::Op;
use crate::cfn::answer::PLACEHOLDER_PREFIX;
use crate::cfn::event::{Request, RequestType};
use crate::cfn::stack_check::{ListedResource, ListedStack, StackRoles, StacksError};
use crate::guardrails::Guardrails;
use crate::iam::state::{Reads, Replies};
use crate::iam::{Change, CreateRoleError, IamError, PolicyState, RoleState};
use crate::metrics::FailureClass;
use crate::ownership::{ADOPTED_TAG, Owner};

const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f";
const OTHER_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/9a9a9a9a-8b1e-11ef-9c4d-0a1b2c3d4e5f";
const LOGICAL: &str = "Role";
const NAME: &str = "sagemaker-ds";
const CONSOLE_NAME: &str = "SageMaker-ds";
const OLD: &str = "sagemaker-old";
const CONSOLE_POLICY: &str =
    "arn:aws:iam::123456789012:policy/service-role/SM_CommonJobManagement_1733462327347";
const OTHER_POLICY: &str = "arn:aws:iam::123456789012:policy/team-extra";
const OWN_POLICY: &str = "arn:aws:iam::123456789012:policy/sagemaker-ds-1";

fn properties(extra: Value) -> Value {
    let mut properties = json!({
        "Persona": "DataScientist",
        "RoleNameSuffix": "ds",
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
        "S3Buckets": ["ml-team-data"],
    });
    if let (Some(base), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        base.extend(extra);
    }
    properties
}

fn request(request_type: RequestType, physical: Option<&str>, properties: Value) -> Request {
    Request {
        request_type,
        request_id: "req-1".to_owned(),
        response_url: String::new(),
        stack_id: STACK.to_owned(),
        logical_resource_id: LOGICAL.to_owned(),
        physical_resource_id: physical.map(str::to_owned),
        properties,
        old_properties: None,
        service_timeout: None,
    }
}

fn create(extra: Value) -> Request {
    request(RequestType::Create, None, properties(extra))
}

fn update(current: &str, extra: Value) -> Request {
    request(RequestType::Update, Some(current), properties(extra))
}

fn delete(id: &str, properties: Value) -> Request {
    request(RequestType::Delete, Some(id), properties)
}

/// Whose tags a role or policy carries.
#[derive(Clone, Copy)]
enum Tags {
    Ours,
    OursAdopted,
    OtherStack,
    None,
}

fn tags(whose: Tags) -> BTreeMap<String, String> {
    let pairs: Vec<(&str, String)> = match whose {
        Tags::Ours => own_tags(STACK),
        Tags::OursAdopted => {
            let mut tags = own_tags(STACK);
            tags.push((ADOPTED_TAG, "true".to_owned()));
            tags
        }
        Tags::OtherStack => own_tags(OTHER_STACK),
        Tags::None => vec![("team", "ml".to_owned())],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn own_tags(stack: &str) -> Vec<(&'static str, String)> {
    Owner::new(stack, LOGICAL)
        .tags()
        .iter()
        .map(|(k, v)| (*k, (*v).to_owned()))
        .collect()
}

fn role(name: &str, path: &str, whose: Tags) -> RoleState {
    RoleState {
        role_id: "AROA00000000000000001".to_owned(),
        max_session_duration: Some(3600),
        tags: tags(whose),
        ..RoleState::sample(name, path)
    }
}

/// The CreatePolicy of the plan's first managed policy.
fn create_first_policy(plan: &crate::plan::Plan) -> Change {
    let policy = &plan.managed_policies[0];
    Change::CreatePolicy {
        name: policy.policy_name.clone(),
        path: policy.path.clone(),
        arn: policy.arn.clone(),
        document: policy.policy_document.clone(),
        tags: plan.role.tags.clone(),
    }
}

fn ours() -> RoleState {
    role(NAME, "/", Tags::Ours)
}

fn policy(arn: &str) -> PolicyState {
    PolicyState {
        arn: arn.to_owned(),
        default_version_id: "v2".to_owned(),
        document: json!({}),
        versions: vec!["v1".to_owned(), "v2".to_owned()],
        tags: tags(Tags::None),
    }
}

/// A policy with this resource's ownership tags.
fn owned_policy(arn: &str) -> PolicyState {
    let mut state = policy(arn);
    state.tags = tags(Tags::Ours);
    state
}

fn denied(operation: Op) -> IamError {
    IamError::Call {
        operation,
        target: NAME.to_owned(),
        code: Some("AccessDenied".to_owned()),
        message: "denied".to_owned(),
    }
}

fn no_answer(operation: Op) -> IamError {
    IamError::Call {
        operation,
        target: NAME.to_owned(),
        code: None,
        message: "timed out".to_owned(),
    }
}

// ------------------------------------------------------------------ observations

fn read(roles: Vec<Option<RoleState>>) -> Observation {
    let mut replies = Replies::default();
    for role in roles.into_iter().flatten() {
        replies.roles.insert(role.name.clone(), Ok(Some(role)));
    }
    Observation::Replies(replies)
}

fn absent() -> Observation {
    read(vec![None])
}

fn found(role: RoleState) -> Observation {
    read(vec![Some(role)])
}

fn no_roles() -> Observation {
    read(Vec::new())
}

/// Replies in which IAM holds `role` and, beside it, nothing the reads ask for (the runner
/// answers every read a row leaves out as empty: [`fill`]).
fn holding(role: RoleState) -> Observation {
    let mut replies = Replies::default();
    replies.roles.insert(role.name.clone(), Ok(Some(role)));
    Observation::Replies(replies)
}

/// The first reads of a role whole (an Update's), finding `role` with nothing attached.
fn whole(role: RoleState) -> Observation {
    holding(role)
}

/// A teardown's first reads, finding `role` with nothing attached.
fn teardown_read(role: RoleState) -> Observation {
    holding(role)
}

/// Replies that find nothing: no role, empty lists, no policy.
fn nothing() -> Observation {
    Observation::Replies(Replies::default())
}

/// Replies in which `role` has `arns` attached.
fn attached(role: &str, arns: &[&str]) -> Observation {
    replies(|r| {
        r.attached.insert(
            role.to_owned(),
            Ok(arns.iter().map(|arn| (*arn).to_owned()).collect()),
        );
    })
}

/// Replies with one reply set by `set`, the rest found empty.
fn replies(set: impl FnOnce(&mut Replies)) -> Observation {
    let mut replies = Replies::default();
    set(&mut replies);
    Observation::Replies(replies)
}

fn created() -> Observation {
    Observation::Created(Ok(ours()))
}

fn applied() -> Observation {
    Observation::Applied {
        done: Vec::new(),
        taken: Vec::new(),
        result: Ok(()),
    }
}

fn apply_failed() -> Observation {
    failed_with(Op::AttachRolePolicy)
}

fn failed_with(operation: Op) -> Observation {
    Observation::Applied {
        done: Vec::new(),
        taken: Vec::new(),
        result: Err(denied(operation)),
    }
}

/// Completes `replies` to what `reads` asked: every read a row leaves out found empty (no
/// role, no policy, empty lists), as IAM answers for a role with nothing attached.
fn fill(reads: &Reads, replies: &mut Replies) {
    // IAM finds a role by its name in any case.
    for name in &reads.roles {
        let held = replies
            .roles
            .iter()
            .find(|(held, _)| held.eq_ignore_ascii_case(name))
            .map(|(_, role)| role.clone());
        replies
            .roles
            .entry(name.clone())
            .or_insert(held.unwrap_or(Ok(None)));
    }
    for name in &reads.inline_names {
        replies
            .inline_names
            .entry(name.clone())
            .or_insert(Ok(Vec::new()));
    }
    for key in &reads.inline_documents {
        replies
            .inline_documents
            .entry(key.clone())
            .or_insert(Ok(None));
    }
    for name in &reads.attached {
        replies
            .attached
            .entry(name.clone())
            .or_insert(Ok(Default::default()));
    }
    for name in &reads.profiles {
        replies
            .profiles
            .entry(name.clone())
            .or_insert(Ok(Vec::new()));
    }
    for arn in &reads.policies {
        replies.policies.entry(arn.clone()).or_insert(Ok(None));
    }
    for arn in &reads.summaries {
        replies.summaries.entry(arn.clone()).or_insert(Ok(None));
    }
    for path in &reads.under {
        replies.under.entry(path.clone()).or_insert(Ok(Vec::new()));
    }
    for key in &reads.uses {
        replies.uses.entry(key.clone()).or_insert(Ok(Vec::new()));
    }
}

/// Fills the replies inside `observation` (and what was read beside) for `effect`.
fn fill_for(effect: &Effect, observation: &mut Observation) {
    match (effect, observation) {
        (Effect::Reads(reads), Observation::Replies(replies)) => fill(reads, replies),
        (
            Effect::ReadPassed {
                beside: Some(effect),
                ..
            },
            Observation::Passed {
                beside: Some(observed),
                ..
            },
        )
        | (
            Effect::ReadOwnPolicies {
                beside: Some(effect),
                ..
            },
            Observation::OwnPolicies {
                beside: Some(observed),
                ..
            },
        ) => fill_for(effect, observed),
        _ => {}
    }
}

// ------------------------------------------------------------------ the driver

/// What a row expects of the answer.
struct Answer {
    /// None for SUCCESS.
    failure: Option<FailureClass>,
    /// The PhysicalResourceId; `PLACEHOLDER_PREFIX` stands for any placeholder.
    id: &'static str,
    /// Words the reason (or, for SUCCESS, the data) contains.
    says: &'static [&'static str],
}

const fn ok(id: &'static str) -> Answer {
    Answer {
        failure: None,
        id,
        says: &[],
    }
}

const fn failed(class: FailureClass, id: &'static str, says: &'static [&'static str]) -> Answer {
    Answer {
        failure: Some(class),
        id,
        says,
    }
}

/// A row: what it proves, the request, what each effect observes, the effects, the answer.
type Row = (
    &'static str,
    Request,
    Vec<Observation>,
    Vec<&'static str>,
    Answer,
);

/// A short name of an effect, so that a row reads as a sequence of calls.
fn describe(effect: &Effect) -> String {
    match effect {
        Effect::CreateRole { plan } => format!("create {}", plan.role.role_name),
        Effect::Apply { changes, .. } => {
            let names: Vec<&str> = changes.iter().map(|c| c.operation().name()).collect();
            if names.iter().all(|n| *n == "TagRole") && !names.is_empty() {
                "tag".to_owned()
            } else if names.contains(&"DeleteRole") {
                "teardown".to_owned()
            } else if names.iter().all(|n| *n == "DeletePolicy") && !names.is_empty() {
                format!("delete {} policies", names.len())
            } else {
                "apply".to_owned()
            }
        }
        Effect::Reads(reads) => describe_reads(reads),
        Effect::Pause(pause) => format!("pause {} ms", pause.as_millis()),
        Effect::AwaitReady { role, settle, .. } => {
            format!("await {role} ready, then {} ms", settle.as_millis())
        }
        Effect::ReadPassed {
            roles,
            pause,
            beside,
        } => {
            let mut what = format!("passed {}", roles.join("+"));
            if pause.is_some() {
                what = format!("pause, {what}");
            }
            if let Some(effect) = beside {
                what = format!("{what} beside {}", describe(effect));
            }
            what
        }
        Effect::ReadOwnPolicies { list_stack, beside } => {
            let mut what = "count policies".to_owned();
            if *list_stack {
                what = format!("{what}+stack");
            }
            if let Some(effect) = beside {
                what = format!("{what} beside {}", describe(effect));
            }
            what
        }
    }
}

/// A short name of a batch of reads: what it reads the role for.
fn describe_reads(reads: &Reads) -> String {
    let role = reads.roles.join("+");
    // Roles and the planned policies alone: a Create's look for its name.
    if *reads
        == (Reads {
            roles: reads.roles.clone(),
            policies: reads.policies.clone(),
            ..Reads::default()
        })
    {
        let mut what = reads.roles.clone();
        if !reads.policies.is_empty() {
            what.push("policies".to_owned());
        }
        return format!("read {}", what.join("+"));
    }
    let lists = reads
        .inline_names
        .first()
        .or(reads.profiles.first())
        .cloned()
        .unwrap_or_default();
    if !reads.profiles.is_empty() && !role.is_empty() {
        format!("read teardown {role}")
    } else if !reads.profiles.is_empty() {
        format!("read teardown lists {lists}")
    } else if !reads.inline_names.is_empty() && !role.is_empty() {
        format!("read whole {role}")
    } else if !reads.inline_names.is_empty() {
        format!("read lists {lists}")
    } else if !reads.summaries.is_empty() {
        format!("read {} own candidates", reads.summaries.len())
    } else if !reads.policies.is_empty() && !reads.uses.is_empty() {
        format!("policy use {}", reads.policies.len())
    } else if !reads.uses.is_empty() {
        format!("read use of {}", reads.uses.len())
    } else if !reads.attached.is_empty() {
        format!("list {}", reads.attached.join("+"))
    } else {
        format!("list policies under {}", reads.under.join("+"))
    }
}

/// Runs the machine over `observations` (one per effect, in order) and checks its effects and
/// answer. Returns the answer for further checks.
fn run(
    row: &str,
    request: &Request,
    guardrails: &Guardrails,
    observations: Vec<Observation>,
    effects: &[&str],
    answer: &Answer,
) -> Outcome {
    run_in(
        row,
        request,
        guardrails,
        None,
        observations,
        effects,
        answer,
    )
}

/// [`run`], the stack check having listed the stack's roles as `stack`.
fn run_in(
    row: &str,
    request: &Request,
    guardrails: &Guardrails,
    stack: Option<StackRoles>,
    observations: Vec<Observation>,
    effects: &[&str],
    answer: &Answer,
) -> Outcome {
    run_waiting(
        row,
        request,
        guardrails,
        stack,
        None,
        observations,
        effects,
        answer,
    )
}

/// [`run_in`], with the function's readiness wait.
#[allow(clippy::too_many_arguments)]
fn run_waiting(
    row: &str,
    request: &Request,
    guardrails: &Guardrails,
    stack: Option<StackRoles>,
    ready_wait: Option<Duration>,
    observations: Vec<Observation>,
    effects: &[&str],
    answer: &Answer,
) -> Outcome {
    let intent = intent(request, guardrails).unwrap_or_else(|f| panic!("{row}: {f:?}"));
    let (mut machine, mut next) = Machine::start(request, intent, guardrails, stack, ready_wait);
    let mut observations = VecDeque::from(observations);
    let mut seen = Vec::new();
    let outcome = loop {
        match next {
            Next::Answer(outcome) => break outcome,
            Next::Effect(effect) => {
                seen.push(describe(&effect));
                let mut observation = observations
                    .pop_front()
                    .unwrap_or_else(|| panic!("{row}: no observation for {seen:?}"));
                fill_for(&effect, &mut observation);
                next = machine.on(observation);
            }
        }
    };
    assert_eq!(seen, effects, "{row}: effects");
    assert!(observations.is_empty(), "{row}: observations left");
    assert_eq!(outcome.failure, answer.failure, "{row}: {outcome:?}");
    if answer.id == PLACEHOLDER_PREFIX {
        assert!(
            outcome.physical_resource_id.starts_with(PLACEHOLDER_PREFIX),
            "{row}: {}",
            outcome.physical_resource_id
        );
    } else {
        assert_eq!(outcome.physical_resource_id, answer.id, "{row}");
    }
    let text = match &outcome.reason {
        Some(reason) => reason.clone(),
        None => format!("{:?}", outcome.data),
    };
    for word in answer.says {
        assert!(text.contains(word), "{row}: `{word}` not in {text}");
    }
    outcome
}

/// Runs each row with the default guardrails.
fn run_rows(rows: Vec<Row>) {
    for (row, request, observations, effects, answer) in rows {
        run(
            row,
            &request,
            &Guardrails::default(),
            observations,
            &effects,
            &answer,
        );
    }
}

fn adopt() -> Value {
    json!({"AdoptExistingRole": "true"})
}

/// Properties whose plan needs managed policies of its own: more bucket statements than one
/// inline policy holds.
fn large() -> Value {
    let buckets: Vec<String> = (0..150)
        .map(|n| format!("ml-team-data-bucket-{n:03}"))
        .collect();
    json!({ "S3Buckets": buckets })
}

#[test]
fn a_plan_with_managed_policies_reads_them_beside_the_role_and_creates_from_them() {
    let request = create(large());
    let plan = match intent(&request, &Guardrails::default()).unwrap() {
        super::Intent::Create { plan } => plan,
        other => panic!("{other:?}"),
    };
    let first = plan
        .managed_policies
        .first()
        .expect("the large plan has managed policies");
    let own = policy(&first.arn);
    let mut owned = own.clone();
    owned.tags = tags(Tags::Ours);
    run(
        "an own policy a lost answer made is found beside the role read and not made again",
        &request,
        &Guardrails::default(),
        vec![
            replies(|r| {
                r.policies.insert(first.arn.clone(), Ok(Some(owned)));
            }),
            created(),
            applied(),
        ],
        &["read SageMaker-ds+policies", "create sagemaker-ds", "apply"],
        &ok(NAME),
    );
    run(
        "a replacement reads the new role's policies before creating it",
        &update(OLD, large()),
        &Guardrails::default(),
        vec![no_roles(), created(), applied()],
        &["read policies", "create sagemaker-ds", "apply"],
        &ok(NAME),
    );
}

#[test]
fn creates() {
    let console = || role(CONSOLE_NAME, "/service-role/", Tags::None);
    let rows: Vec<Row> = vec![
        (
            "a fresh Create reads the console spelling beside the policies, creates, applies",
            create(json!({})),
            vec![absent(), created(), applied()],
            vec!["read SageMaker-ds", "create sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a redelivered Create finds its own role and converges it",
            create(json!({})),
            vec![found(ours()), nothing(), applied()],
            vec!["read SageMaker-ds", "read lists sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a role of another stack is refused before any change",
            create(json!({})),
            vec![found(role(NAME, "/", Tags::OtherStack))],
            vec!["read SageMaker-ds"],
            failed(
                FailureClass::Ownership,
                PLACEHOLDER_PREFIX,
                &["RoleNameSuffix"],
            ),
        ),
        (
            "an unowned role without AdoptExistingRole is refused, saying how to adopt",
            create(json!({})),
            vec![found(console())],
            vec!["read SageMaker-ds"],
            failed(
                FailureClass::Ownership,
                PLACEHOLDER_PREFIX,
                &["AdoptExistingRole"],
            ),
        ),
        (
            "a planned policy another owner holds is refused before any change",
            create(large()),
            vec![replies(|r| {
                let mut foreign = policy(OWN_POLICY);
                foreign.tags = tags(Tags::OtherStack);
                r.policies.insert(OWN_POLICY.to_owned(), Ok(Some(foreign)));
            })],
            vec!["read SageMaker-ds+policies"],
            failed(
                FailureClass::Ownership,
                PLACEHOLDER_PREFIX,
                &["sagemaker-ds-1"],
            ),
        ),
        (
            "a failed role read answers FAILED naming no role",
            create(json!({})),
            vec![replies(|r| {
                r.roles
                    .insert(CONSOLE_NAME.to_owned(), Err(denied(Op::GetRole)));
            })],
            vec!["read SageMaker-ds"],
            failed(
                FailureClass::Iam,
                PLACEHOLDER_PREFIX,
                &["GetRole", "denied"],
            ),
        ),
        (
            "a name taken meanwhile is read, found ours, and converged",
            create(json!({})),
            vec![
                absent(),
                Observation::Created(Err(CreateRoleError::AlreadyExists)),
                found(ours()),
                nothing(),
                applied(),
            ],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "read sagemaker-ds",
                "read lists sagemaker-ds",
                "apply",
            ],
            ok(NAME),
        ),
        (
            "a name taken but not yet readable fails, to be retried",
            create(json!({})),
            vec![
                absent(),
                Observation::Created(Err(CreateRoleError::AlreadyExists)),
                absent(),
            ],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "read sagemaker-ds",
            ],
            failed(
                FailureClass::Iam,
                PLACEHOLDER_PREFIX,
                &["cannot be read yet"],
            ),
        ),
        (
            "a name taken meanwhile by a stranger is refused",
            create(json!({})),
            vec![
                absent(),
                Observation::Created(Err(CreateRoleError::AlreadyExists)),
                found(role(NAME, "/", Tags::OtherStack)),
            ],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "read sagemaker-ds",
            ],
            failed(FailureClass::Ownership, PLACEHOLDER_PREFIX, &[NAME]),
        ),
        (
            "a creation failing half-way is undone (no policy planned: none to sweep); the answer names no role",
            create(json!({})),
            vec![absent(), created(), apply_failed(), applied()],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "apply",
                "teardown",
            ],
            failed(
                FailureClass::Iam,
                PLACEHOLDER_PREFIX,
                &["AttachRolePolicy", "everything created was removed again"],
            ),
        ),
        (
            "an undo that fails deletes the role with all it owns",
            create(json!({})),
            vec![
                absent(),
                created(),
                apply_failed(),
                failed_with(Op::DetachRolePolicy),
                teardown_read(ours()),
                applied(),
            ],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "apply",
                "teardown",
                "read teardown sagemaker-ds",
                "teardown",
            ],
            failed(
                FailureClass::Iam,
                PLACEHOLDER_PREFIX,
                &["everything created was removed again"],
            ),
        ),
        (
            "a CreateRole IAM refused made nothing: no role is named",
            create(json!({})),
            vec![
                absent(),
                Observation::Created(Err(CreateRoleError::Failed(denied(Op::CreateRole)))),
            ],
            vec!["read SageMaker-ds", "create sagemaker-ds"],
            failed(FailureClass::Iam, PLACEHOLDER_PREFIX, &["CreateRole"]),
        ),
        (
            "a CreateRole without an answer may have made the role: it is named",
            create(json!({})),
            vec![
                absent(),
                Observation::Created(Err(CreateRoleError::Failed(no_answer(Op::CreateRole)))),
            ],
            vec!["read SageMaker-ds", "create sagemaker-ds"],
            failed(FailureClass::Iam, NAME, &["timed out"]),
        ),
        (
            "an adopting Create reads the planned spelling, then the console's",
            create(adopt()),
            vec![
                absent(),
                found(console()),
                applied(),
                attached(CONSOLE_NAME, &[CONSOLE_POLICY]),
                nothing(),
                applied(),
            ],
            vec![
                "read sagemaker-ds",
                "read SageMaker-ds",
                "tag",
                "list SageMaker-ds",
                "read lists SageMaker-ds",
                "apply",
            ],
            Answer {
                failure: None,
                id: CONSOLE_NAME,
                says: &["DetachedPolicies", "SM_CommonJobManagement"],
            },
        ),
        (
            "an adoption that fails part-way names no role and says the role keeps its tags",
            create(adopt()),
            vec![
                found(role(NAME, "/service-role/", Tags::None)),
                applied(),
                nothing(),
                nothing(),
                failed_with(Op::PutRolePolicy),
            ],
            vec![
                "read sagemaker-ds",
                "tag",
                "list sagemaker-ds",
                "read lists sagemaker-ds",
                "apply",
            ],
            failed(
                FailureClass::Iam,
                PLACEHOLDER_PREFIX,
                &["PutRolePolicy", "stopped part-way"],
            ),
        ),
        (
            "a hand-made role is not the console's: not adopted by default",
            create(adopt()),
            vec![found(role(NAME, "/", Tags::None))],
            vec!["read sagemaker-ds"],
            failed(
                FailureClass::Guardrail,
                PLACEHOLDER_PREFIX,
                &["AdoptionScope"],
            ),
        ),
    ];
    run_rows(rows);
}

#[test]
fn adoption_obeys_the_operators_guardrails() {
    let console = role(CONSOLE_NAME, "/service-role/", Tags::None);
    let forbidden = Guardrails {
        adoption_forbidden: true,
        ..Guardrails::default()
    };
    run(
        "adoption forbidden by the function's stack",
        &create(adopt()),
        &forbidden,
        vec![absent(), found(console)],
        &["read sagemaker-ds", "read SageMaker-ds"],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &["AllowAdoption"],
        ),
    );
    // Deployed with the switch on: only the stacks AdoptingStacks names adopt, ours is `ml`.
    for (adopting, names_ours) in [
        ("other", false),
        ("", false),
        ("ml-*", false),
        ("ML", false),
        ("other,ml", true),
        ("m*", true),
        ("*", true),
    ] {
        let guardrails = Guardrails::default()
            .with_adoption(Some("true"))
            .with_adopting_stacks(Some(adopting));
        let row = format!("AdoptingStacks={adopting:?} and a resource of stack `ml`");
        let console = role(CONSOLE_NAME, "/service-role/", Tags::None);
        if names_ours {
            run(
                &row,
                &create(adopt()),
                &guardrails,
                vec![
                    absent(),
                    found(console.clone()),
                    applied(),
                    nothing(),
                    nothing(),
                    applied(),
                ],
                &[
                    "read sagemaker-ds",
                    "read SageMaker-ds",
                    "tag",
                    "list SageMaker-ds",
                    "read lists SageMaker-ds",
                    "apply",
                ],
                &ok(CONSOLE_NAME),
            );
        } else {
            run(
                &row,
                &create(adopt()),
                &guardrails,
                vec![absent(), found(console)],
                &["read sagemaker-ds", "read SageMaker-ds"],
                &failed(
                    FailureClass::Guardrail,
                    PLACEHOLDER_PREFIX,
                    &[
                        "AdoptExistingRole:",
                        "stack `ml`",
                        "AdoptingStacks",
                        "left unchanged",
                    ],
                ),
            );
        }
    }
    // With nothing to adopt, a stack not named creates the role as usual.
    let other_only = Guardrails::default()
        .with_adoption(Some("true"))
        .with_adopting_stacks(Some("other"));
    run(
        "a stack AdoptingStacks does not name, with nothing to adopt",
        &create(adopt()),
        &other_only,
        vec![absent(), absent(), created(), applied()],
        &[
            "read sagemaker-ds",
            "read SageMaker-ds",
            "create sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    let any = Guardrails {
        adopt_any_unowned_role: true,
        ..Guardrails::default()
    };
    let hand_made = role(NAME, "/", Tags::None);
    run(
        "AdoptionScope=AnyUnownedRole adopts a hand-made role",
        &create(adopt()),
        &any,
        vec![
            found(hand_made.clone()),
            applied(),
            nothing(),
            nothing(),
            applied(),
        ],
        &[
            "read sagemaker-ds",
            "tag",
            "list sagemaker-ds",
            "read lists sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
}

#[test]
fn an_adoption_deletes_only_the_consoles_policies_no_one_else_uses() {
    let console = role(CONSOLE_NAME, "/service-role/", Tags::None);
    let shared =
        "arn:aws:iam::123456789012:policy/service-role/SM_StudioAppPermissions_1733462327347";
    let deleting = Observation::Applied {
        done: vec![Change::DeletePolicy {
            arn: CONSOLE_POLICY.to_owned(),
            old_versions: vec!["v1".to_owned()],
        }],
        taken: Vec::new(),
        result: Ok(()),
    };
    let outcome = run(
        "DeleteConsolePolicies",
        &create(json!({"AdoptExistingRole": "true", "DeleteConsolePolicies": "true"})),
        &Guardrails::default(),
        vec![
            absent(),
            found(console.clone()),
            applied(),
            attached(CONSOLE_NAME, &[CONSOLE_POLICY, shared, OTHER_POLICY]),
            nothing(),
            applied(),
            replies(|r| {
                for arn in [CONSOLE_POLICY, shared] {
                    r.policies.insert(arn.to_owned(), Ok(Some(policy(arn))));
                }
                r.uses.insert(
                    (shared.to_owned(), CONSOLE_NAME.to_owned()),
                    Ok(vec!["role other".to_owned()]),
                );
            }),
            deleting,
        ],
        &[
            "read sagemaker-ds",
            "read SageMaker-ds",
            "tag",
            "list SageMaker-ds",
            "read lists SageMaker-ds",
            "apply",
            // The non-console policy is never considered.
            "policy use 2",
            "delete 1 policies",
        ],
        &ok(CONSOLE_NAME),
    );
    let data: BTreeMap<_, _> = outcome.data.into_iter().collect();
    assert_eq!(data["DeletedPolicies"], CONSOLE_POLICY);
    assert_eq!(
        data["DetachedPolicies"],
        [CONSOLE_POLICY, shared, OTHER_POLICY].join(",")
    );
}

#[test]
fn updates() {
    let rows: Vec<Row> = vec![
        (
            "an Update in place reads the role and converges it",
            update(NAME, json!({})),
            vec![whole(ours()), applied()],
            vec!["read whole sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "an adopted console role keeps its spelling",
            update(CONSOLE_NAME, json!({})),
            vec![whole(role(CONSOLE_NAME, "/", Tags::OursAdopted)), applied()],
            vec!["read whole SageMaker-ds", "apply"],
            ok(CONSOLE_NAME),
        ),
        (
            "a role deleted by hand is created again",
            update(NAME, json!({})),
            vec![nothing(), created(), applied()],
            vec!["read whole sagemaker-ds", "create sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a Path change in place is refused, keeping the id",
            update(NAME, json!({"Path": "/team/"})),
            vec![whole(ours())],
            vec!["read whole sagemaker-ds"],
            failed(FailureClass::InvalidProperties, NAME, &["Path"]),
        ),
        (
            "another stack's role under the id is refused",
            update(NAME, json!({})),
            vec![whole(role(NAME, "/", Tags::OtherStack))],
            vec!["read whole sagemaker-ds"],
            failed(FailureClass::Ownership, NAME, &[NAME]),
        ),
        (
            "whose role it is is decided before the rest of the read matters",
            update(NAME, json!({})),
            vec![replies(|replies| {
                replies
                    .roles
                    .insert(NAME.to_owned(), Ok(Some(role(NAME, "/", Tags::OtherStack))));
                replies
                    .attached
                    .insert(NAME.to_owned(), Err(denied(Op::ListAttachedRolePolicies)));
            })],
            vec!["read whole sagemaker-ds"],
            failed(
                FailureClass::Ownership,
                NAME,
                &["not managed by this resource"],
            ),
        ),
        (
            "an own role whose policies cannot be read is left unchanged",
            update(NAME, json!({})),
            vec![replies(|replies| {
                replies.roles.insert(NAME.to_owned(), Ok(Some(ours())));
                replies
                    .attached
                    .insert(NAME.to_owned(), Err(denied(Op::ListAttachedRolePolicies)));
            })],
            vec!["read whole sagemaker-ds"],
            failed(FailureClass::Iam, NAME, &["ListAttachedRolePolicies"]),
        ),
        (
            "a new name replaces the role without reading the old one",
            update(OLD, json!({})),
            vec![created(), applied()],
            vec!["create sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a replacement failing after CreateRole keeps the old id and names the new role",
            update(OLD, json!({})),
            vec![
                created(),
                apply_failed(),
                failed_with(Op::DeleteRole),
                teardown_read(ours()),
                failed_with(Op::DeleteRole),
            ],
            vec![
                "create sagemaker-ds",
                "apply",
                "teardown",
                "read teardown sagemaker-ds",
                "teardown",
            ],
            failed(FailureClass::Iam, OLD, &["left behind", NAME]),
        ),
        (
            "a replacement whose new name is this resource's (a rollback) converges it",
            update(OLD, json!({})),
            vec![
                Observation::Created(Err(CreateRoleError::AlreadyExists)),
                found(ours()),
                nothing(),
                applied(),
            ],
            vec![
                "create sagemaker-ds",
                "read sagemaker-ds",
                "read lists sagemaker-ds",
                "apply",
            ],
            ok(NAME),
        ),
    ];
    run_rows(rows);
}

#[test]
fn deletes() {
    let placeholder = format!("{PLACEHOLDER_PREFIX}req-0");
    let placeholder: &'static str = Box::leak(placeholder.into_boxed_str());
    let rows: Vec<Row> = vec![
        (
            "a Delete tears down its own role as read",
            delete(NAME, json!({})),
            vec![teardown_read(ours()), applied()],
            vec!["read teardown sagemaker-ds", "teardown"],
            ok(NAME),
        ),
        (
            "RetainOnDelete leaves the role",
            delete(NAME, json!({"RetainOnDelete": "true"})),
            vec![teardown_read(ours())],
            vec!["read teardown sagemaker-ds"],
            ok(NAME),
        ),
        (
            "a role already gone is success",
            delete(NAME, json!({})),
            vec![nothing()],
            vec!["read teardown sagemaker-ds"],
            ok(NAME),
        ),
        (
            "another stack's role is never touched",
            delete(NAME, json!({})),
            vec![replies(|replies| {
                replies
                    .roles
                    .insert(NAME.to_owned(), Ok(Some(role(NAME, "/", Tags::OtherStack))));
                // Another stack's policy under the prefix: never looked at.
                replies
                    .under
                    .insert("/".to_owned(), Ok(vec![OWN_POLICY.to_owned()]));
            })],
            vec!["read teardown sagemaker-ds"],
            ok(NAME),
        ),
        (
            "a placeholder id looks for the planned role and removes it if it is ours",
            delete(placeholder, json!({"RoleNameSuffix": "ds"})),
            vec![found(ours()), nothing(), applied()],
            vec![
                "read sagemaker-ds",
                "read teardown lists sagemaker-ds",
                "teardown",
            ],
            ok(placeholder),
        ),
        (
            "an adopted role no answer named stays",
            delete(placeholder, json!({"RoleNameSuffix": "ds"})),
            vec![found(role(NAME, "/", Tags::OursAdopted))],
            vec!["read sagemaker-ds"],
            ok(placeholder),
        ),
        (
            "an adopted role the answer named is torn down",
            delete(NAME, json!({})),
            vec![teardown_read(role(NAME, "/", Tags::OursAdopted)), applied()],
            vec!["read teardown sagemaker-ds", "teardown"],
            ok(NAME),
        ),
        (
            "an own policy attached elsewhere is refused before any change, naming both",
            delete(NAME, json!({})),
            vec![
                replies(|replies| {
                    replies.roles.insert(NAME.to_owned(), Ok(Some(ours())));
                    replies
                        .under
                        .insert("/".to_owned(), Ok(vec![OWN_POLICY.to_owned()]));
                }),
                replies(|replies| {
                    replies
                        .summaries
                        .insert(OWN_POLICY.to_owned(), Ok(Some(owned_policy(OWN_POLICY))));
                    replies.uses.insert(
                        (OWN_POLICY.to_owned(), NAME.to_owned()),
                        Ok(vec!["role `other`".to_owned()]),
                    );
                }),
            ],
            vec!["read teardown sagemaker-ds", "read 1 own candidates"],
            failed(
                FailureClass::Ownership,
                NAME,
                &["sagemaker-ds-1", "role `other`"],
            ),
        ),
        (
            "a rollback Delete that finds nothing reads only the role",
            delete(placeholder, json!({"RoleNameSuffix": "ds"})),
            vec![absent()],
            vec!["read sagemaker-ds"],
            ok(placeholder),
        ),
        (
            "a teardown of a role read alone that fails answers FAILED with the id",
            delete(placeholder, json!({"RoleNameSuffix": "ds"})),
            vec![found(ours()), nothing(), failed_with(Op::DeleteRole)],
            vec![
                "read sagemaker-ds",
                "read teardown lists sagemaker-ds",
                "teardown",
            ],
            failed(FailureClass::Iam, PLACEHOLDER_PREFIX, &["DeleteRole"]),
        ),
        (
            "a failed read answers FAILED with the id",
            delete(NAME, json!({})),
            vec![replies(|replies| {
                replies
                    .roles
                    .insert(NAME.to_owned(), Err(denied(Op::GetRole)));
            })],
            vec!["read teardown sagemaker-ds"],
            failed(FailureClass::Iam, NAME, &["GetRole"]),
        ),
        (
            "an id in another case than the role's name changes nothing",
            delete(CONSOLE_NAME, json!({})),
            vec![teardown_read(ours())],
            vec!["read teardown SageMaker-ds"],
            failed(
                FailureClass::StackCheck,
                CONSOLE_NAME,
                &[
                    "`SageMaker-ds` is not the name of role `sagemaker-ds`",
                    "nothing was changed",
                ],
            ),
        ),
        (
            "an id in another case changes nothing, even retained",
            delete(CONSOLE_NAME, json!({"RetainOnDelete": "true"})),
            vec![teardown_read(ours())],
            vec!["read teardown SageMaker-ds"],
            failed(
                FailureClass::StackCheck,
                CONSOLE_NAME,
                &["not the name of role"],
            ),
        ),
        (
            "a planned name in another case than the role's changes nothing",
            delete(placeholder, json!({"RoleNameSuffix": "DS"})),
            vec![found(ours())],
            vec!["read sagemaker-DS"],
            failed(
                FailureClass::StackCheck,
                placeholder,
                &["`sagemaker-DS` is not the name"],
            ),
        ),
        (
            "an adopted console role torn down under its own spelling",
            delete(CONSOLE_NAME, json!({})),
            vec![
                teardown_read(role(CONSOLE_NAME, "/service-role/", Tags::OursAdopted)),
                nothing(),
                applied(),
            ],
            vec![
                "read teardown SageMaker-ds",
                "list policies under /service-role/",
                "teardown",
            ],
            ok(CONSOLE_NAME),
        ),
        (
            "a teardown step that fails answers FAILED with the id",
            delete(NAME, json!({})),
            vec![teardown_read(ours()), apply_failed()],
            vec!["read teardown sagemaker-ds", "teardown"],
            failed(FailureClass::Iam, NAME, &["AttachRolePolicy", "denied"]),
        ),
    ];
    run_rows(rows);
}

#[test]
fn an_observation_out_of_turn_is_an_internal_failure_not_a_change() {
    let request = create(json!({}));
    let guardrails = Guardrails::default();
    let (mut machine, _) = Machine::start(
        &request,
        intent(&request, &guardrails).unwrap(),
        &guardrails,
        None,
        None,
    );
    let Next::Answer(outcome) = machine.on(applied()) else {
        panic!("a teardown observed while finding must end the machine");
    };
    assert_eq!(outcome.failure, Some(FailureClass::Internal));
    assert!(outcome.physical_resource_id.starts_with(PLACEHOLDER_PREFIX));
}

#[test]
fn bad_properties_fail_before_any_effect() {
    for (request, class, says) in [
        (
            create(json!({"Persona": "Wizard"})),
            FailureClass::InvalidProperties,
            "Persona",
        ),
        (
            update(NAME, json!({"MaxSessionDuration": "forever"})),
            FailureClass::InvalidProperties,
            "MaxSessionDuration",
        ),
    ] {
        let Err(Failure { class: got, reason }) = intent(&request, &Guardrails::default()) else {
            panic!("{request:?} planned");
        };
        assert_eq!(got, class);
        assert!(reason.contains(says), "{reason}");
    }
    let mut foreign = create(json!({}));
    foreign.stack_id = "not-an-arn".to_owned();
    let Err(failure) = intent(&foreign, &Guardrails::default()) else {
        panic!("a StackId that is no ARN planned");
    };
    assert_eq!(failure.class, FailureClass::InvalidRequest);
}

// ------------------------------------------------------------------ roles passed

/// The function as deployed with the template's default `AllowedPassRoles` (none listed): a
/// role may pass only its own stack's roles.
fn own_stack_roles_only() -> Guardrails {
    Guardrails::default().with_pass_roles(Some(""))
}

fn compute(whose: Tags) -> RoleState {
    role("sagemaker-compute", "/", whose)
}

fn passed(roles: Vec<Option<RoleState>>, beside: Option<Observation>) -> Observation {
    Observation::Passed {
        roles: roles.into_iter().map(Ok).collect(),
        beside: beside.map(Box::new),
    }
}

#[test]
fn a_role_passes_only_its_own_stacks_roles_and_nothing_changes_before_that_is_shown() {
    let rows: Vec<Row> = vec![
        (
            "the compute role of this stack is read beside the first read, then the Create goes on",
            create(json!({})),
            vec![
                passed(vec![Some(compute(Tags::Ours))], Some(absent())),
                created(),
                applied(),
            ],
            vec![
                "passed sagemaker-compute beside read SageMaker-ds",
                "create sagemaker-ds",
                "apply",
            ],
            ok(NAME),
        ),
        (
            "another stack's compute role is refused before any change",
            create(json!({})),
            vec![passed(
                vec![Some(compute(Tags::OtherStack))],
                Some(absent()),
            )],
            vec!["passed sagemaker-compute beside read SageMaker-ds"],
            failed(
                FailureClass::Guardrail,
                PLACEHOLDER_PREFIX,
                &[
                    "PassRoles[0]: role `arn:aws:iam::123456789012:role/sagemaker-compute` belongs to stack",
                    OTHER_STACK,
                    "nothing was changed",
                ],
            ),
        ),
        (
            "an untagged role is read once more after a pause, then refused",
            create(json!({})),
            vec![
                passed(vec![Some(compute(Tags::None))], Some(absent())),
                passed(vec![Some(compute(Tags::None))], None),
            ],
            vec![
                "passed sagemaker-compute beside read SageMaker-ds",
                "pause, passed sagemaker-compute",
            ],
            failed(
                FailureClass::Guardrail,
                PLACEHOLDER_PREFIX,
                &["is no stack's", "AdoptExistingRole"],
            ),
        ),
        (
            "a role tagged meanwhile (a read lagging its TagRole) is proven on the second read",
            create(json!({})),
            vec![
                passed(vec![None], Some(absent())),
                passed(vec![Some(compute(Tags::Ours))], None),
                created(),
                applied(),
            ],
            vec![
                "passed sagemaker-compute beside read SageMaker-ds",
                "pause, passed sagemaker-compute",
                "create sagemaker-ds",
                "apply",
            ],
            ok(NAME),
        ),
        (
            "an Update in place reads the role whole beside the roles it passes",
            update(NAME, json!({})),
            vec![
                passed(vec![Some(compute(Tags::Ours))], Some(whole(ours()))),
                applied(),
            ],
            vec![
                "passed sagemaker-compute beside read whole sagemaker-ds",
                "apply",
            ],
            ok(NAME),
        ),
        (
            "an Update refused for the role it passes leaves the role as it is",
            update(NAME, json!({})),
            vec![passed(
                vec![Some(compute(Tags::OtherStack))],
                Some(whole(ours())),
            )],
            vec!["passed sagemaker-compute beside read whole sagemaker-ds"],
            failed(FailureClass::Guardrail, NAME, &["belongs to stack"]),
        ),
        (
            "a replacement's CreateRole waits for the proof, and is never sent without it",
            update(OLD, json!({})),
            vec![passed(vec![Some(compute(Tags::OtherStack))], None)],
            vec!["passed sagemaker-compute"],
            failed(FailureClass::Guardrail, OLD, &["belongs to stack"]),
        ),
        (
            "a replacement whose passed role is proven creates the new role",
            update(OLD, json!({})),
            vec![
                passed(vec![Some(compute(Tags::Ours))], None),
                created(),
                applied(),
            ],
            vec!["passed sagemaker-compute", "create sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a role passing itself needs no proof",
            create(json!({"PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-ds"]})),
            vec![absent(), created(), applied()],
            vec!["read SageMaker-ds", "create sagemaker-ds", "apply"],
            ok(NAME),
        ),
    ];
    for (row, request, observations, effects, answer) in rows {
        run(
            row,
            &request,
            &own_stack_roles_only(),
            observations,
            &effects,
            &answer,
        );
    }
    let listing = Guardrails::default()
        .with_pass_roles(Some("arn:aws:iam::123456789012:role/sagemaker-compute"));
    run(
        "a role the operator lists need not be this stack's",
        &create(json!({})),
        &listing,
        vec![
            passed(vec![Some(compute(Tags::None))], Some(absent())),
            created(),
            applied(),
        ],
        &[
            "passed sagemaker-compute beside read SageMaker-ds",
            "create sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    run(
        "a role the operator lists is still never another stack's",
        &create(json!({})),
        &listing,
        vec![passed(
            vec![Some(compute(Tags::OtherStack))],
            Some(absent()),
        )],
        &["passed sagemaker-compute beside read SageMaker-ds"],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &["another stack's role is never passed"],
        ),
    );
}

#[test]
fn a_role_whose_path_hides_sagemaker_is_never_passed() {
    let request = create(json!({
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-ops/PlatformAdmin"]
    }));
    for guardrails in [
        own_stack_roles_only(),
        Guardrails::default().with_pass_roles(Some("arn:aws:iam::123456789012:role/sagemaker-*")),
    ] {
        let failure = intent(&request, &guardrails).unwrap_err();
        assert_eq!(failure.class, FailureClass::Guardrail);
        assert!(
            failure.reason.starts_with("PassRoles[0]: `arn:aws:iam::123456789012:role/sagemaker-ops/PlatformAdmin` has `sagemaker-` in its path"),
            "{}",
            failure.reason
        );
    }
}

// ------------------------------------------------------------------ per-stack limits

const TYPE: &str = "Custom::SageMakerPersonaRole";

/// The function as deployed with these per-stack limits on roles and own policies.
fn limited(roles: &str, own_policies: &str) -> Guardrails {
    Guardrails::default().with_stack_limits(Some(roles), Some(own_policies))
}

/// The stack's resources: this resource (`Role`, with `own` as its id once it has one) and
/// `others` roles `sagemaker-r0…`.
fn listing(own: Option<&str>, others: usize) -> Vec<ListedResource> {
    let resource = |logical: String, id: Option<String>, status: &str| ListedResource {
        logical_id: logical,
        physical_id: id,
        resource_type: TYPE.to_owned(),
        status: status.to_owned(),
    };
    let mut resources = vec![resource(
        LOGICAL.to_owned(),
        own.map(str::to_owned),
        if own.is_some() {
            "UPDATE_IN_PROGRESS"
        } else {
            "CREATE_IN_PROGRESS"
        },
    )];
    resources.extend((0..others).map(|i| {
        resource(
            format!("R{i}"),
            Some(format!("sagemaker-r{i}")),
            "CREATE_COMPLETE",
        )
    }));
    resources
}

/// The stack's roles as the stack check lists them for a Create.
fn stack_of(others: usize) -> Option<StackRoles> {
    Some(StackRoles {
        stack_id: STACK.to_owned(),
        resource_type: TYPE.to_owned(),
        resources: listing(None, others),
        status: None,
    })
}

/// The account's policies: `per_role` own policies of each of the `roles` `sagemaker-r0…`.
fn policies_of(roles: usize, per_role: usize) -> Vec<String> {
    (0..roles)
        .flat_map(|i| {
            (1..=per_role)
                .map(move |n| format!("arn:aws:iam::123456789012:policy/sagemaker-r{i}-{n}"))
        })
        .collect()
}

fn counted(
    policies: Vec<String>,
    stack: Option<Vec<ListedResource>>,
    beside: Observation,
) -> Observation {
    counted_in("UPDATE_IN_PROGRESS", policies, stack, beside)
}

/// [`counted`], the stack in `status`.
fn counted_in(
    status: &str,
    policies: Vec<String>,
    stack: Option<Vec<ListedResource>>,
    beside: Observation,
) -> Observation {
    Observation::OwnPolicies {
        policies: Ok(policies),
        stack: stack.map(|resources| {
            Ok(ListedStack {
                status: status.to_owned(),
                resources,
            })
        }),
        beside: Some(Box::new(beside)),
    }
}

/// How many managed policies of its own `properties` plan.
fn own_policy_count(request: &Request) -> usize {
    match intent(request, &Guardrails::default()).unwrap() {
        super::Intent::Create { plan } | super::Intent::Update { plan, .. } => {
            plan.managed_policies.len()
        }
        super::Intent::Delete(_) => 0,
    }
}

#[test]
fn a_create_past_the_stacks_role_limit_is_refused_before_any_effect() {
    let guardrails = limited("3", "150");
    run_in(
        "the stack's other roles reach MaxRolesPerStack: no effect at all",
        &create(json!({})),
        &guardrails,
        stack_of(3),
        vec![],
        &[],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &[
                "MaxRolesPerStack: stack `ml` already has 3 Custom::SageMakerPersonaRole resources besides `Role`",
                "at most 3 per stack",
            ],
        ),
    );
    run_in(
        "one below the limit: created as ever",
        &create(json!({})),
        &guardrails,
        stack_of(2),
        vec![absent(), created(), applied()],
        &["read SageMaker-ds", "create sagemaker-ds", "apply"],
        &ok(NAME),
    );
    run(
        "an Update adds no role: no limit is looked at",
        &update(NAME, json!({})),
        &guardrails,
        vec![whole(ours()), applied()],
        &["read whole sagemaker-ds", "apply"],
        &ok(NAME),
    );
    run_in(
        "an unreadable limit refuses every Create",
        &create(json!({})),
        &Guardrails::default().with_stack_limits(Some("many"), None),
        None,
        vec![],
        &[],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &[
                "MaxRolesPerStack: ",
                "PERSONA_ROLE_MAX_ROLES_PER_STACK",
                "`many`",
            ],
        ),
    );
}

#[test]
fn own_policies_are_counted_in_the_first_read_wave_and_nothing_changes_past_the_limit() {
    let large_create = create(large());
    let planned = own_policy_count(&large_create);
    assert!(planned > 0, "the large plan has own policies");
    // Ten roles with three own policies each: 30, and the plan's on top.
    let others = policies_of(10, 3);
    let just = (30 + planned).to_string();
    let below = (30 + planned - 1).to_string();
    run_in(
        "a Create within the limit: counted beside the first read, from the stack check's listing",
        &large_create,
        &limited("100", &just),
        stack_of(10),
        vec![
            counted(others.clone(), None, absent()),
            created(),
            applied(),
        ],
        &[
            "count policies beside read SageMaker-ds+policies",
            "create sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    run_in(
        "a Create one policy past the limit is refused after the first read",
        &large_create,
        &limited("100", &below),
        stack_of(10),
        vec![counted(others.clone(), None, absent())],
        &["count policies beside read SageMaker-ds+policies"],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &[
                "MaxOwnPoliciesPerStack: ",
                "the other roles of stack `ml` have 30",
                "nothing was changed",
            ],
        ),
    );
    run_in(
        "without a role limit the stack is listed in the same wave",
        &large_create,
        &Guardrails::default().with_stack_limits(None, Some(&below)),
        None,
        vec![counted(others.clone(), Some(listing(None, 10)), absent())],
        &["count policies+stack beside read SageMaker-ds+policies"],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &["MaxOwnPoliciesPerStack: "],
        ),
    );
    run(
        "an Update growing past the limit: stack and policies listed beside the whole role",
        &update(NAME, large()),
        &limited("100", &below),
        vec![counted(
            others.clone(),
            Some(listing(Some(NAME), 10)),
            whole(ours()),
        )],
        &["count policies+stack beside read whole sagemaker-ds"],
        &failed(FailureClass::Guardrail, NAME, &["MaxOwnPoliciesPerStack: "]),
    );
    let mut has_them = others.clone();
    has_them.extend(
        (1..=planned).map(|n| format!("arn:aws:iam::123456789012:policy/sagemaker-ds-{n}")),
    );
    run(
        "an Update keeping the policies it has goes on over the limit",
        &update(NAME, large()),
        &limited("100", "1"),
        vec![
            counted(has_them, Some(listing(Some(NAME), 10)), whole(ours())),
            applied(),
        ],
        &[
            "count policies+stack beside read whole sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    run(
        "a rollback's Update growing back past the limit is not refused",
        &update(NAME, large()),
        &limited("100", &below),
        vec![
            counted_in(
                "UPDATE_ROLLBACK_IN_PROGRESS",
                others.clone(),
                Some(listing(Some(NAME), 10)),
                whole(ours()),
            ),
            applied(),
        ],
        &[
            "count policies+stack beside read whole sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    run(
        "a plan without own policies is not counted",
        &update(NAME, json!({})),
        &limited("100", "0"),
        vec![whole(ours()), applied()],
        &["read whole sagemaker-ds", "apply"],
        &ok(NAME),
    );
    run(
        "a replacement counts before its first read of the new role's policies",
        &update(OLD, large()),
        &limited("100", &below),
        vec![counted(
            others.clone(),
            Some(listing(Some(OLD), 10)),
            no_roles(),
        )],
        &["count policies+stack beside read policies"],
        &failed(FailureClass::Guardrail, OLD, &["MaxOwnPoliciesPerStack: "]),
    );
}

#[test]
fn a_count_that_cannot_be_made_changes_nothing() {
    let large_update = update(NAME, large());
    let guardrails = limited("100", "150");
    run(
        "ListPolicies fails",
        &large_update,
        &guardrails,
        vec![Observation::OwnPolicies {
            policies: Err(denied(Op::ListPolicies)),
            stack: Some(Ok(ListedStack {
                status: "UPDATE_IN_PROGRESS".to_owned(),
                resources: listing(Some(NAME), 1),
            })),
            beside: Some(Box::new(whole(ours()))),
        }],
        &["count policies+stack beside read whole sagemaker-ds"],
        &failed(FailureClass::Iam, NAME, &["ListPolicies"]),
    );
    run(
        "ListStackResources fails",
        &large_update,
        &guardrails,
        vec![Observation::OwnPolicies {
            policies: Ok(Vec::new()),
            stack: Some(Err(StacksError {
                operation: Op::ListStackResources,
                target: STACK.to_owned(),
                message: "Throttling: Rate exceeded".to_owned(),
            })),
            beside: Some(Box::new(whole(ours()))),
        }],
        &["count policies+stack beside read whole sagemaker-ds"],
        &failed(
            FailureClass::StackCheck,
            NAME,
            &["ListStackResources", "retry the stack operation"],
        ),
    );
    run(
        "the listing does not show the resource",
        &large_update,
        &guardrails,
        vec![counted(Vec::new(), Some(Vec::new()), whole(ours()))],
        &["count policies+stack beside read whole sagemaker-ds"],
        &failed(
            FailureClass::StackCheck,
            NAME,
            &["does not list resource `Role`"],
        ),
    );
}

#[test]
fn the_passed_roles_the_count_and_the_first_read_go_in_one_wave() {
    let guardrails = Guardrails {
        max_roles_per_stack: crate::guardrails::PerStack::AtMost(100),
        max_own_policies_per_stack: crate::guardrails::PerStack::AtMost(150),
        ..own_stack_roles_only()
    };
    run_in(
        "all three read together, then created",
        &create(large()),
        &guardrails,
        stack_of(1),
        vec![
            passed(
                vec![Some(compute(Tags::Ours))],
                Some(counted(policies_of(1, 1), None, absent())),
            ),
            created(),
            applied(),
        ],
        &[
            "passed sagemaker-compute beside count policies beside read SageMaker-ds+policies",
            "create sagemaker-ds",
            "apply",
        ],
        &ok(NAME),
    );
    run_in(
        "another stack's role refused first, whatever the count",
        &create(large()),
        &guardrails,
        stack_of(1),
        vec![passed(
            vec![Some(compute(Tags::OtherStack))],
            Some(counted(policies_of(1, 1), None, absent())),
        )],
        &["passed sagemaker-compute beside count policies beside read SageMaker-ds+policies"],
        &failed(
            FailureClass::Guardrail,
            PLACEHOLDER_PREFIX,
            &["PassRoles[0]"],
        ),
    );
}

// ------------------------------------------------------------------ readiness

fn ready(served: bool) -> Observation {
    Observation::Ready { served }
}

#[test]
fn a_role_made_or_re_trusted_is_answered_once_iam_serves_it_and_nothing_else_waits() {
    let settle = Some(Duration::from_secs(10));
    let mut trusted_elsewhere = ours();
    trusted_elsewhere.trust = json!({"Version": "2012-10-17", "Statement": []});
    let plan_trust = match intent(&create(json!({})), &Guardrails::default()).unwrap() {
        super::Intent::Create { plan } => plan.role.assume_role_policy_document.clone(),
        other => panic!("{other:?}"),
    };
    let mut trusted_as_planned = ours();
    trusted_as_planned.trust = plan_trust;
    let rows: Vec<Row> = vec![
        (
            "a Create waits for its new role",
            create(json!({})),
            vec![absent(), created(), applied(), ready(true)],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "apply",
                "await sagemaker-ds ready, then 10000 ms",
            ],
            ok(NAME),
        ),
        (
            "a role IAM does not serve before the deadline is still answered SUCCESS: it was made",
            create(json!({})),
            vec![absent(), created(), applied(), ready(false)],
            vec![
                "read SageMaker-ds",
                "create sagemaker-ds",
                "apply",
                "await sagemaker-ds ready, then 10000 ms",
            ],
            ok(NAME),
        ),
        (
            "a replacement waits for the new role",
            update(OLD, json!({})),
            vec![created(), applied(), ready(true)],
            vec![
                "create sagemaker-ds",
                "apply",
                "await sagemaker-ds ready, then 10000 ms",
            ],
            ok(NAME),
        ),
        (
            "an Update that changes the trust waits",
            update(NAME, json!({})),
            vec![whole(trusted_elsewhere), applied(), ready(true)],
            vec![
                "read whole sagemaker-ds",
                "apply",
                "await sagemaker-ds ready, then 10000 ms",
            ],
            ok(NAME),
        ),
        (
            "an Update that leaves the trust as it is waits for nothing",
            update(NAME, json!({})),
            vec![whole(trusted_as_planned.clone()), applied()],
            vec!["read whole sagemaker-ds", "apply"],
            ok(NAME),
        ),
        (
            "a Delete waits for nothing",
            delete(NAME, json!({})),
            vec![teardown_read(ours()), applied()],
            vec!["read teardown sagemaker-ds", "teardown"],
            ok(NAME),
        ),
    ];
    for (row, request, observations, effects, answer) in rows {
        run_waiting(
            row,
            &request,
            &Guardrails::default(),
            None,
            settle,
            observations,
            &effects,
            &answer,
        );
    }
}

// ------------------------------------------------------------------ what IAM holds, decided

/// The plan a Create or Update of `request` builds.
fn plan_of(request: &Request) -> std::sync::Arc<crate::plan::Plan> {
    match intent(request, &Guardrails::default()).unwrap() {
        super::Intent::Create { plan } | super::Intent::Update { plan, .. } => plan,
        other => panic!("{other:?}"),
    }
}

/// Runs the machine over `observations` (each completed to its effect's reads: [`fill`]) and
/// returns every effect it asked for and its answer.
fn walk(request: &Request, observations: Vec<Observation>) -> (Vec<Effect>, Outcome) {
    let guardrails = Guardrails::default();
    let intent = intent(request, &guardrails).unwrap();
    let (mut machine, mut next) = Machine::start(request, intent, &guardrails, None, None);
    let mut observations = VecDeque::from(observations);
    let mut effects = Vec::new();
    loop {
        match next {
            Next::Answer(outcome) => {
                assert!(observations.is_empty(), "observations left: {effects:?}");
                return (effects, outcome);
            }
            Next::Effect(effect) => {
                let mut observation = observations
                    .pop_front()
                    .unwrap_or_else(|| panic!("no observation for {}", describe(&effect)));
                fill_for(&effect, &mut observation);
                effects.push(effect);
                next = machine.on(observation);
            }
        }
    }
}

/// Every change the effects asked for, in order.
fn changes(effects: &[Effect]) -> Vec<Change> {
    effects
        .iter()
        .flat_map(|effect| match effect {
            Effect::Apply { changes, .. } => changes.clone(),
            _ => Vec::new(),
        })
        .collect()
}

fn deletes_policy(changes: &[Change], arn: &str) -> bool {
    changes
        .iter()
        .any(|c| matches!(c, Change::DeletePolicy { arn: a, .. } if a == arn))
}

fn own_policy(n: usize) -> String {
    format!("arn:aws:iam::123456789012:policy/sagemaker-ds-{n}")
}

/// A policy tagged as `whose`; `Recased`: this resource's tags in another case.
fn policy_of(arn: &str, whose: Whose) -> PolicyState {
    let mut state = policy(arn);
    state.tags = match whose {
        Whose::Ours => tags(Tags::Ours),
        Whose::Recased => tags(Tags::Ours)
            .into_iter()
            .map(|(k, v)| (k.to_uppercase(), v))
            .collect(),
        Whose::OtherStack => tags(Tags::OtherStack),
        Whose::Untagged => tags(Tags::None),
    };
    state
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Whose {
    Ours,
    Recased,
    OtherStack,
    Untagged,
}

/// The replies in which IAM holds the plan's role exactly as planned, under `name`.
fn as_planned(plan: &crate::plan::Plan, replies: &mut Replies) {
    let name = &plan.role.role_name;
    let mut role =
        crate::iam::diff::created_role(&plan.role, plan.role.arn.clone(), "AROA1".to_owned());
    role.name = name.clone();
    replies.roles.insert(name.clone(), Ok(Some(role)));
    replies.inline_names.insert(
        name.clone(),
        Ok(plan
            .inline_policies
            .iter()
            .map(|p| p.policy_name.clone())
            .collect()),
    );
    for p in &plan.inline_policies {
        replies.inline_documents.insert(
            (name.clone(), p.policy_name.clone()),
            Ok(Some(p.policy_document.clone())),
        );
    }
    replies.attached.insert(
        name.clone(),
        Ok(plan.all_attached_arns().into_iter().collect()),
    );
}

#[test]
fn a_planned_policy_is_created_over_only_when_its_tags_name_this_resource_in_any_case() {
    let request = create(large());
    let plan = plan_of(&request);
    let first = plan.managed_policies[0].arn.clone();
    for (whose, ours) in [
        (Whose::Ours, true),
        (Whose::Recased, true),
        (Whose::OtherStack, false),
        (Whose::Untagged, false),
    ] {
        let found = replies(|r| {
            r.policies
                .insert(first.clone(), Ok(Some(policy_of(&first, whose))));
        });
        if ours {
            let (effects, outcome) = walk(&request, vec![found, created(), applied()]);
            assert_eq!(outcome.failure, None, "{whose:?}: {outcome:?}");
            let made = changes(&effects);
            assert!(
                !made
                    .iter()
                    .any(|c| matches!(c, Change::CreatePolicy { arn, .. } if *arn == first)),
                "{whose:?}: an own planned policy is converged on, not created again"
            );
        } else {
            let (effects, outcome) = walk(&request, vec![found]);
            assert_eq!(effects.len(), 1, "{whose:?}: nothing after the read");
            assert_eq!(outcome.failure, Some(FailureClass::Ownership), "{whose:?}");
            assert!(outcome.reason.unwrap().contains(&first), "{whose:?}");
        }
    }
}

#[test]
fn a_teardown_deletes_the_numbered_policies_whose_tags_name_this_resource_and_no_other() {
    let whose = [
        Whose::Ours,
        Whose::Recased,
        Whose::OtherStack,
        Whose::Untagged,
    ];
    let first = replies(|replies| {
        replies.roles.insert(NAME.to_owned(), Ok(Some(ours())));
        replies.under.insert(
            "/".to_owned(),
            Ok((1..=whose.len()).map(own_policy).collect()),
        );
        replies
            .profiles
            .insert(NAME.to_owned(), Ok(vec!["profile".to_owned()]));
        replies
            .inline_names
            .insert(NAME.to_owned(), Ok(vec!["persona-role".to_owned()]));
        replies.attached.insert(
            NAME.to_owned(),
            Ok([own_policy(1), OTHER_POLICY.to_owned()].into()),
        );
    });
    let candidates = replies(|replies| {
        for (n, whose) in whose.iter().enumerate() {
            let arn = own_policy(n + 1);
            let mut state = policy_of(&arn, *whose);
            state.versions = vec!["v1".to_owned(), "v2".to_owned()];
            replies.summaries.insert(arn, Ok(Some(state)));
        }
    });
    let (effects, outcome) = walk(&delete(NAME, json!({})), vec![first, candidates, applied()]);
    assert_eq!(outcome.failure, None, "{outcome:?}");
    let made = changes(&effects);
    assert!(deletes_policy(&made, &own_policy(1)));
    assert!(
        deletes_policy(&made, &own_policy(2)),
        "tag keys in another case"
    );
    assert!(!deletes_policy(&made, &own_policy(3)), "another stack's");
    assert!(!deletes_policy(&made, &own_policy(4)), "untagged");
    assert!(!deletes_policy(&made, OTHER_POLICY));
    let operations: Vec<&str> = made.iter().map(|c| c.operation().name()).collect();
    assert_eq!(
        operations,
        [
            "RemoveRoleFromInstanceProfile",
            "DetachRolePolicy",
            "DetachRolePolicy",
            "DeleteRolePolicy",
            "DeletePolicyVersion",
            "DeletePolicyVersion",
            "DeletePolicy",
            "DeletePolicy",
            "DeleteRole",
        ]
    );
    assert_eq!(made.last(), Some(&Change::DeleteRole));
}

#[test]
fn an_update_applies_the_diff_from_what_was_read() {
    // In place: a role as planned needs no change; one whose description differs, that alone.
    let request = update(NAME, json!({}));
    let plan = plan_of(&request);
    let (effects, outcome) = walk(&request, vec![replies(|r| as_planned(&plan, r))]);
    assert_eq!(outcome.failure, None);
    assert_eq!(changes(&effects), Vec::<Change>::new(), "nothing to change");
    assert_eq!(effects.len(), 1, "no Apply for an empty diff");
    let described = replies(|r| {
        as_planned(&plan, r);
        if let Some(Ok(Some(role))) = r.roles.get_mut(NAME) {
            role.description = Some("by hand".to_owned());
        }
    });
    let (effects, _) = walk(&request, vec![described, applied()]);
    assert!(
        matches!(changes(&effects).as_slice(), [Change::UpdateRole { .. }]),
        "{effects:?}"
    );

    // Statements packed into managed policies: each created before it is attached.
    let request = update(NAME, large());
    let plan = plan_of(&request);
    let mut inline_only = plan.as_ref().clone();
    inline_only.managed_policies.clear();
    inline_only.attached_policy_arns.clear();
    let (effects, outcome) = walk(
        &request,
        vec![replies(|r| as_planned(&inline_only, r)), applied()],
    );
    assert_eq!(outcome.failure, None);
    let made = changes(&effects);
    for policy in &plan.managed_policies {
        let created = made
            .iter()
            .position(|c| matches!(c, Change::CreatePolicy { arn, .. } if *arn == policy.arn));
        let attached = made
            .iter()
            .position(|c| matches!(c, Change::AttachRolePolicy { arn } if *arn == policy.arn));
        assert!(created.is_some() && created < attached, "{made:?}");
    }

    // A stale own policy is deleted; another stack's under the same name is only detached.
    let request = update(NAME, json!({}));
    let plan = plan_of(&request);
    let (stale, foreign) = (own_policy(7), own_policy(8));
    let first = replies(|r| {
        as_planned(&plan, r);
        r.under
            .insert("/".to_owned(), Ok(vec![stale.clone(), foreign.clone()]));
        if let Some(Ok(attached)) = r.attached.get_mut(NAME) {
            attached.insert(foreign.clone());
        }
    });
    let candidates = replies(|r| {
        r.summaries
            .insert(stale.clone(), Ok(Some(policy_of(&stale, Whose::Ours))));
        r.summaries.insert(
            foreign.clone(),
            Ok(Some(policy_of(&foreign, Whose::OtherStack))),
        );
    });
    let (effects, outcome) = walk(&request, vec![first, candidates, applied()]);
    assert_eq!(outcome.failure, None);
    let made = changes(&effects);
    assert!(deletes_policy(&made, &stale), "{made:?}");
    assert!(!deletes_policy(&made, &foreign), "{made:?}");
    assert!(made.contains(&Change::DetachRolePolicy {
        arn: foreign.clone()
    }));
}

#[test]
fn an_own_policy_attached_elsewhere_fails_the_convergence_before_any_change() {
    let request = update(NAME, json!({}));
    let plan = plan_of(&request);
    let stale = own_policy(3);
    let first = replies(|r| {
        as_planned(&plan, r);
        r.under.insert("/".to_owned(), Ok(vec![stale.clone()]));
    });
    let candidates = replies(|r| {
        r.summaries
            .insert(stale.clone(), Ok(Some(policy_of(&stale, Whose::Ours))));
        r.uses.insert(
            (stale.clone(), NAME.to_owned()),
            Ok(vec!["user `alice`".to_owned()]),
        );
    });
    let (effects, outcome) = walk(&request, vec![first, candidates]);
    assert_eq!(outcome.failure, Some(FailureClass::Ownership));
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains(&stale) && reason.contains("user `alice`"),
        "{reason}"
    );
    assert_eq!(
        changes(&effects),
        Vec::<Change>::new(),
        "no mutating change"
    );
}

#[test]
fn a_policy_createpolicy_finds_taken_is_converged_when_ours_and_refused_otherwise() {
    let request = create(large());
    let plan = plan_of(&request);
    let taken_arn = plan.managed_policies[0].arn.clone();
    let taken = create_first_policy(&plan);
    let applied_taken = Observation::Applied {
        done: Vec::new(),
        taken: vec![taken.clone()],
        result: Ok(()),
    };
    let read_back = |whose| {
        replies(|r| {
            r.policies
                .insert(taken_arn.clone(), Ok(Some(policy_of(&taken_arn, whose))));
        })
    };

    // Ours: its document brought to the plan, then the rest applied.
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            applied_taken.clone(),
            read_back(Whose::Ours),
            applied(),
        ],
    );
    assert_eq!(outcome.failure, None, "{outcome:?}");
    let Some(Effect::Apply { changes: rest, .. }) = effects.last() else {
        panic!("{effects:?}");
    };
    assert!(
        rest.contains(&Change::CreatePolicyVersion {
            arn: taken_arn.clone(),
            document: plan.managed_policies[0].policy_document.clone(),
        }),
        "{rest:?}"
    );
    assert!(!rest.contains(&taken), "not created again");
    assert!(
        rest.iter()
            .any(|c| matches!(c, Change::AttachRolePolicy { arn } if *arn == taken_arn)),
        "attached once current"
    );

    // Another's: FAILED naming it, and nothing of it is changed (the new role is undone).
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            applied_taken,
            read_back(Whose::OtherStack),
            applied(),
            replies(|r| {
                r.policies.insert(
                    taken_arn.clone(),
                    Ok(Some(policy_of(&taken_arn, Whose::OtherStack))),
                );
            }),
        ],
    );
    assert_eq!(outcome.failure, Some(FailureClass::Ownership));
    assert!(outcome.reason.unwrap().contains(&taken_arn));
    let after_read: Vec<Change> = changes(&effects[3..]);
    assert!(
        !after_read
            .iter()
            .any(|c| format!("{c:?}").contains(&taken_arn)),
        "{after_read:?}"
    );
}

#[test]
fn a_failed_create_is_undone_from_what_it_made_then_swept_of_own_policies_made_unanswered() {
    let request = create(large());
    let plan = plan_of(&request);
    let arns: Vec<String> = plan
        .managed_policies
        .iter()
        .map(|p| p.arn.clone())
        .collect();
    assert!(arns.len() >= 2, "the large plan has managed policies");
    let made = create_first_policy(&plan);
    let half = Observation::Applied {
        done: vec![made],
        taken: Vec::new(),
        result: Err(no_answer(Op::CreatePolicy)),
    };
    // The second policy's CreatePolicy took effect without an answer: only the sweep finds it.
    let unanswered = || {
        replies(|r| {
            r.policies
                .insert(arns[1].clone(), Ok(Some(policy_of(&arns[1], Whose::Ours))));
        })
    };
    // The policy the creation made shows: the undo goes on.
    let seen = || {
        replies(|r| {
            r.summaries
                .insert(arns[0].clone(), Ok(Some(policy_of(&arns[0], Whose::Ours))));
        })
    };
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            half.clone(),
            seen(),
            applied(),
            unanswered(),
            nothing(),
            applied(),
        ],
    );
    let described: Vec<String> = effects.iter().map(describe).collect();
    assert_eq!(
        described[2..],
        [
            "apply",
            "read 1 own candidates",
            "teardown",
            "read policies",
            "read use of 1",
            "delete 1 policies",
        ]
    );
    let Effect::Apply { changes: undo, .. } = &effects[4] else {
        panic!("{effects:?}");
    };
    assert_eq!(
        undo,
        &[
            Change::DeletePolicy {
                arn: arns[0].clone(),
                old_versions: Vec::new()
            },
            Change::DeleteRole
        ]
    );
    assert!(deletes_policy(&changes(&effects[6..]), &arns[1]));
    assert_eq!(outcome.failure, Some(FailureClass::Iam));
    assert!(
        outcome
            .reason
            .unwrap()
            .contains("everything created was removed again")
    );

    // One attached elsewhere meanwhile is refused, and the answer names the role to remove.
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            half,
            seen(),
            applied(),
            unanswered(),
            replies(|r| {
                r.uses.insert(
                    (arns[1].clone(), NAME.to_owned()),
                    Ok(vec!["role `other`".to_owned()]),
                );
            }),
        ],
    );
    assert_eq!(effects.len(), 7);
    assert_eq!(outcome.physical_resource_id, NAME);
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("removing what was created failed too") && reason.contains("role `other`"),
        "{reason}"
    );
}

/// A policy the creation made that IAM does not show yet is read again after a pause before the
/// undo deletes it (a DeletePolicy of what IAM does not show answers NoSuchEntity, which the
/// undo would take for done); one IAM never shows is named in the answer as maybe left behind.
#[test]
fn a_failed_create_waits_for_iam_to_show_what_it_made_before_undoing_it() {
    let request = create(large());
    let plan = plan_of(&request);
    let arn = plan.managed_policies[0].arn.clone();
    let made = create_first_policy(&plan);
    let half = Observation::Applied {
        done: vec![made],
        taken: Vec::new(),
        result: Err(no_answer(Op::CreatePolicy)),
    };
    let unseen = || {
        replies(|r| {
            r.summaries.insert(arn.clone(), Ok(None));
        })
    };
    let seen = || {
        replies(|r| {
            r.summaries
                .insert(arn.clone(), Ok(Some(policy_of(&arn, Whose::Ours))));
        })
    };

    // Shown after one pause: undone, and everything created removed again.
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            half.clone(),
            unseen(),
            Observation::Paused,
            seen(),
            applied(),
            nothing(),
        ],
    );
    let described: Vec<String> = effects.iter().map(describe).collect();
    assert_eq!(
        described[2..],
        [
            "apply",
            "read 1 own candidates",
            "pause 1000 ms",
            "read 1 own candidates",
            "teardown",
            "read policies",
        ]
    );
    assert!(
        outcome
            .reason
            .unwrap()
            .contains("everything created was removed again")
    );

    // Never shown: the undo still runs, and the answer names the policy as maybe left behind.
    let (effects, outcome) = walk(
        &request,
        vec![
            absent(),
            created(),
            half,
            unseen(),
            Observation::Paused,
            unseen(),
            Observation::Paused,
            unseen(),
            Observation::Paused,
            unseen(),
            applied(),
            nothing(),
        ],
    );
    let described: Vec<String> = effects.iter().map(describe).collect();
    assert_eq!(
        described[3..9],
        [
            "read 1 own candidates",
            "pause 1000 ms",
            "read 1 own candidates",
            "pause 2000 ms",
            "read 1 own candidates",
            "pause 4000 ms",
        ]
    );
    assert_eq!(outcome.failure, Some(FailureClass::Iam));
    let reason = outcome.reason.unwrap();
    assert!(
        reason.contains("may be left behind") && reason.contains(&arn),
        "{reason}"
    );
    assert!(
        !reason.contains("everything created was removed again"),
        "{reason}"
    );
}
