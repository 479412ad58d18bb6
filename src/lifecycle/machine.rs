//! The lifecycle as a machine that only decides. [`Machine::start`] takes a request's
//! [`Intent`] and gives the first [`Effect`]; [`Machine::on`] takes what that effect observed and
//! gives the next, until [`Next::Answer`]. Effects are primitives: a batch of named IAM reads,
//! one list of changes applied as given (in waves, by `iam::state`), CreateRole, and the answer;
//! the handler carries them out and decides nothing. What the reads mean — which policies are
//! the role's own ([`super::own`]), the diff to converge, the refusal of an own policy in use
//! elsewhere, the takeover of a policy CreatePolicy finds taken, every teardown — is decided
//! here and in [`super::procedures`], so every path of a Create, Update and Delete is a row of
//! the tests in `lifecycle/rows.rs`.
//!
//! Each request type's path:
//! - Create and Update: the roles the plan passes that the operator does not list are read
//!   with the first read (or before the first change) and must be this stack's own
//!   ([`super::passing`]); nothing is changed until they are. A plan with managed policies of
//!   its own lists the account's policies (and, unless the stack check listed it, the stack's
//!   status and resources) with the first read too, and must keep the stack within
//!   `MaxOwnPoliciesPerStack` ([`super::limits`]).
//! - Create: a stack whose other roles reach `MaxRolesPerStack` is refused before any effect,
//!   from the stack's resources the stack check listed.
//! - Create: read the planned name (with adoption) or its console spelling, beside the planned
//!   managed policies; then create, converge, adopt or refuse ([`super::decide`]). A creation
//!   that fails half-way is undone; one that finds the name taken reads the role and decides
//!   again.
//! - Update: to a new name, a Create of the new role (CloudFormation deletes the old one);
//!   otherwise read the role whole and converge, re-create or refuse.
//! - Converge (a Create that finds its own role, an adoption, an Update): read the role whole,
//!   its own candidate policies' tags, versions and uses next; refuse an own policy to delete
//!   that is attached elsewhere; apply the diff.
//! - Delete: read the one role the id (or the planned name) can be with its lists, and tear it
//!   down if it is this resource's own, not retained, and its name is the id byte for byte; the
//!   ownership is decided once, there.
//! - A creation that fails half-way is undone from what it made, then swept of the planned
//!   policies that are this resource's own; an undo that fails tears the role down, as a Delete
//!   does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::effect::{Effect, Next, Observation};
use super::intent::{DeleteIntent, Intent};
use super::limits;
use super::outcome::{Failure, Ids, Outcome};
use super::own;
use super::passing::{self, Proof};
use super::procedures::{Applying, Converging, Made, Progress, Removing};
use super::{Found, Step, console_name, decide, made_by_role_manager, not_role_managers};
use crate::catalog::console;
use crate::cfn::event::Request;
use crate::cfn::stack_check::{ListedStack, StackRoles, StacksError};
use crate::guardrails::{Guardrails, PerStack, names_adopting_stack, stack_name};
use crate::iam::state::{Reads, Replies};
use crate::iam::{Actual, Change, CreateRoleError, IamError, PolicyState, RoleState};
use crate::metrics::FailureClass;
use crate::ownership::Owner;
use crate::plan::{Plan, PlanTag};

/// Where the machine is: what its last effect was for.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Create: a spelling of the planned name read (`rest` still to read, in order), and the
    /// planned policies with the first.
    Finding {
        asked: Vec<String>,
        rest: Vec<String>,
        own: Option<Result<BTreeMap<String, PolicyState>, IamError>>,
    },
    /// Update: the current role read whole.
    ReadingCurrent,
    /// The planned policies read, before a creation. `again`: a role of the name was found
    /// before, so a taken name is not read again.
    ReadingPolicies {
        again: bool,
    },
    /// CreateRole sent.
    Creating {
        own: BTreeMap<String, PolicyState>,
        again: bool,
    },
    /// The new role's policies being made.
    Provisioning {
        role: RoleState,
        applying: Applying,
    },
    /// A half-done creation about to be undone: the policies it made, read until IAM shows them
    /// (a DeletePolicy of a policy IAM does not show yet answers NoSuchEntity, which an undo
    /// would take for done), pausing between reads (`paused`: the pause is under way).
    Confirming {
        error: Failure,
        role: String,
        done: Vec<Change>,
        unseen: Vec<String>,
        attempt: usize,
        paused: bool,
    },
    /// A half-done creation being undone, then swept, or deleted whole when the undo failed
    /// (`removing`: none while the role is read).
    Undoing {
        error: Failure,
        applying: Applying,
    },
    Sweeping {
        error: Failure,
        removing: Removing,
    },
    RemovingRole {
        error: Failure,
        removing: Option<Removing>,
    },
    /// CreateRole found the name taken: the role read.
    Rereading,
    /// The answer held until the new (or newly trusted) role is served and settled.
    Readying {
        outcome: Box<Outcome>,
    },
    /// The role, this resource's own, brought to its plan; `adopted`: after its adoption.
    Converging {
        converging: Box<Converging>,
        adopted: bool,
    },
    /// Adoption: tagging the role as this resource's, listing its policies, converging it,
    /// reading and deleting the console's policies it no longer has.
    Tagging {
        role: RoleState,
    },
    ListingAttached {
        role: RoleState,
    },
    ReadingPolicyUse {
        role: RoleState,
        arns: Vec<String>,
    },
    DeletingConsolePolicies {
        role: RoleState,
    },
    Answered,
}

/// Where a Delete is.
#[derive(Debug, Clone, PartialEq)]
enum DeleteState {
    /// The target read.
    Reading {
        target: String,
        named: bool,
    },
    TearingDown {
        removing: Box<Removing>,
    },
    Answered,
}

/// The lifecycle of one event.
#[derive(Debug, Clone)]
pub struct Machine(Path);

#[derive(Debug, Clone)]
enum Path {
    Build(Box<Build>),
    Delete(Box<Delete>),
}

/// A Create or Update: the role built to its plan.
#[derive(Debug, Clone)]
struct Build {
    ids: Ids,
    owner: Owner,
    adoption_forbidden: bool,
    adopt_any_unowned_role: bool,
    /// `AdoptingStacks`: the stacks whose resources may adopt (`None`: any).
    adopting_stacks: Option<Vec<String>>,
    plan: Arc<Plan>,
    /// Update: the current role's name.
    current: Option<String>,
    /// The role this work may have made: a failed Create names it.
    at_stake: Option<String>,
    /// Policies a failed creation made that IAM did not show before its undo: they may be left
    /// behind, and the answer says so.
    unconfirmed: Vec<String>,
    /// Update: the first reads of the role whole, for its convergence.
    whole: Option<Replies>,
    /// What an adoption detached, and deleted of that (`DeleteConsolePolicies`).
    detached: Vec<String>,
    deleted: Vec<String>,
    /// Before a SUCCESS that made a role or changed its trust: read it back, then wait this
    /// long (none: answer at once, as offline and in most tests).
    ready_wait: Option<Duration>,
    /// This event made the role, or changed its trust: its answer waits for readiness.
    new_trust: bool,
    /// The roles the plan passes were read once and some were missing or untagged: the next
    /// reading of them is the last.
    reread_passed: bool,
    /// Held while the roles the plan passes are proven: what was observed beside their first
    /// read, or the effect that waits for the proof (a write is never sent before it).
    held: Option<Held>,
    /// `MaxOwnPoliciesPerStack`.
    max_own_policies: PerStack,
    /// The stack's roles, as the stack check listed them (a Create's, when roles are limited).
    stack: Option<StackRoles>,
    state: State,
}

/// What waits for the proof of the roles a plan passes.
#[derive(Debug, Clone)]
enum Held {
    Observed(Box<Observation>),
    Effect(Box<Effect>),
}

/// A Delete.
#[derive(Debug, Clone)]
struct Delete {
    ids: Ids,
    owner: Owner,
    intent: DeleteIntent,
    state: DeleteState,
}

/// Why a resource of a stack `AdoptingStacks` does not name adopts nothing.
fn not_an_adopting_stack(role: &str, stack_id: &str, adopting_stacks: &[String]) -> String {
    let stack = stack_name(stack_id).unwrap_or(stack_id);
    let named = match adopting_stacks {
        [] => "it names none".to_owned(),
        names => format!("allowed: {}", names.join(", ")),
    };
    format!(
        "AdoptExistingRole: role {role} is no stack's, and stack `{stack}` is not on this \
         function's AdoptingStacks ({named}); the role was left unchanged. Deploy the \
         function's stack with this stack's name in AdoptingStacks for the migration"
    )
}

impl Machine {
    /// The machine for `request` and its first effect. `stack`: the stack's roles, as the stack
    /// check listed them (for a Create, whenever `MaxRolesPerStack` limits them).
    pub fn start(
        request: &Request,
        intent: Intent,
        guardrails: &Guardrails,
        stack: Option<StackRoles>,
        ready_wait: Option<Duration>,
    ) -> (Machine, Next) {
        let ids = Ids::of(request);
        let owner = Owner::new(
            request.stack_id.clone(),
            request.logical_resource_id.clone(),
        );
        let build = |plan: Arc<Plan>, current: Option<String>| Build {
            new_trust: current.is_none(),
            ids: ids.clone(),
            owner: owner.clone(),
            adoption_forbidden: guardrails.adoption_forbidden,
            adopt_any_unowned_role: guardrails.adopt_any_unowned_role,
            adopting_stacks: guardrails.adopting_stacks.clone(),
            plan,
            current,
            at_stake: None,
            unconfirmed: Vec::new(),
            whole: None,
            detached: Vec::new(),
            deleted: Vec::new(),
            ready_wait,
            reread_passed: false,
            held: None,
            max_own_policies: guardrails.max_own_policies_per_stack.clone(),
            stack: None,
            state: State::Answered,
        };
        match intent {
            Intent::Create { plan } => {
                let mut build = build(plan, None);
                let within = limits::roles(
                    &guardrails.max_roles_per_stack,
                    &request.logical_resource_id,
                    stack.as_ref(),
                );
                build.stack = stack;
                let effect = match within {
                    Err(failure) => build.fail(failure),
                    Ok(()) => {
                        let first = build.start_create();
                        let first = build.counting(first);
                        build.proving(first)
                    }
                };
                (Machine(Path::Build(Box::new(build))), effect)
            }
            Intent::Update { current, plan } => {
                let mut build = build(plan, Some(current));
                build.stack = stack;
                let first = build.start_update();
                let first = build.counting(first);
                let effect = build.proving(first);
                (Machine(Path::Build(Box::new(build))), effect)
            }
            Intent::Delete(intent) => {
                let mut delete = Delete {
                    ids: ids.clone(),
                    owner: owner.clone(),
                    intent,
                    state: DeleteState::Answered,
                };
                let effect = delete.start();
                (Machine(Path::Delete(Box::new(delete))), effect)
            }
        }
    }

    /// The role a failed answer must name ([`Ids::failure_id`]), as far as the work got.
    pub fn at_stake(&self) -> Option<&str> {
        match &self.0 {
            Path::Build(build) => build.at_stake.as_deref(),
            Path::Delete(_) => None,
        }
    }

    /// The next effect, given what the last one observed.
    pub fn on(&mut self, observation: Observation) -> Next {
        match &mut self.0 {
            Path::Build(build) => build.on(observation),
            Path::Delete(delete) => delete.on(observation),
        }
    }
}

impl Build {
    fn on(&mut self, observation: Observation) -> Next {
        let observation = match observation {
            Observation::Passed { roles, beside } => return self.passed(&roles, beside),
            Observation::OwnPolicies {
                policies,
                stack,
                beside,
            } => return self.counted(policies, stack, beside),
            observation => observation,
        };
        let state = std::mem::replace(&mut self.state, State::Answered);
        match (state, observation) {
            (State::Finding { asked, rest, own }, Observation::Replies(replies)) => {
                let own = own
                    .unwrap_or_else(|| own::found_planned(&self.planned_policy_arns(), &replies));
                self.found(rest, own, first(&replies, &asked))
            }
            (State::ReadingCurrent, Observation::Replies(replies)) => {
                let current = self.current.clone().unwrap_or_default();
                match replies.role(&current) {
                    Ok(role) => {
                        self.whole = Some(replies);
                        self.decided(role, true)
                    }
                    Err(e) => self.fail(e.into()),
                }
            }
            (State::ReadingPolicies { again }, Observation::Replies(replies)) => {
                let found = own::found_planned(&self.planned_policy_arns(), &replies);
                match found.and_then(|found| own::planned(&self.owner, found)) {
                    Ok(own) => self.create_role(own, again),
                    Err(e) => self.fail(e.into()),
                }
            }
            (State::Creating { own, again }, Observation::Created(created)) => {
                self.created(created, own, again)
            }
            (State::Provisioning { role, mut applying }, observation) => {
                let progress = applying.on(&self.owner, observation);
                self.provisioning(role, applying, progress)
            }
            (
                State::Confirming {
                    error,
                    role,
                    done,
                    unseen,
                    attempt,
                    paused: false,
                },
                Observation::Replies(replies),
            ) => {
                // A read IAM refused shows nothing either way: the undo goes on as it would.
                let unseen: Vec<String> = unseen
                    .into_iter()
                    .filter(|arn| matches!(replies.summary(arn), Ok(None)))
                    .collect();
                match MADE_PAUSES.get(attempt) {
                    Some(pause) if !unseen.is_empty() => self.go(
                        State::Confirming {
                            error,
                            role,
                            done,
                            unseen,
                            attempt,
                            paused: true,
                        },
                        Effect::Pause(*pause),
                    ),
                    _ => self.confirming(error, role, done, unseen, MADE_PAUSES.len() + 1),
                }
            }
            (
                State::Confirming {
                    error,
                    role,
                    done,
                    unseen,
                    attempt,
                    paused: true,
                },
                Observation::Paused,
            ) => self.confirming(error, role, done, unseen, attempt + 1),
            (
                State::Undoing {
                    error,
                    mut applying,
                },
                observation,
            ) => {
                let progress = applying.on(&self.owner, observation);
                self.undoing(error, applying, progress)
            }
            (
                State::Sweeping {
                    error,
                    mut removing,
                },
                observation,
            ) => {
                let progress = removing.on(&self.owner, observation);
                self.sweeping(error, removing, progress)
            }
            (
                State::RemovingRole {
                    error,
                    removing: None,
                },
                Observation::Replies(replies),
            ) => self.remove_role(error, &replies),
            (
                State::RemovingRole {
                    error,
                    removing: Some(mut removing),
                },
                observation,
            ) => {
                let progress = removing.on(&self.owner, observation);
                self.removing_role(error, removing, progress)
            }
            (State::Rereading, Observation::Replies(replies)) => {
                match first(&replies, &[self.planned_name()]) {
                    Ok(None) => {
                        // IAM is eventually consistent: CreateRole saw the name taken, GetRole not yet.
                        let name = self.planned_name();
                        self.fail(Failure::new(
                        FailureClass::Iam,
                        format!(
                            "role `{name}` exists but cannot be read yet; retry the stack operation"
                        ),
                    ))
                    }
                    Ok(Some(role)) => self.decided(Some(role), true),
                    Err(e) => self.fail(e.into()),
                }
            }
            (State::Readying { outcome }, Observation::Ready { served }) => {
                if !served {
                    tracing::warn!(role = %self.planned_name(), "IAM did not serve the role as written before the deadline; answering SUCCESS: it was made");
                }
                self.answer(*outcome)
            }
            (
                State::Converging {
                    mut converging,
                    adopted,
                },
                observation,
            ) => {
                let progress = converging.on(&self.plan, &self.owner, observation);
                self.converging(converging, adopted, progress)
            }
            (State::Tagging { mut role }, Observation::Applied { done, result, .. }) => {
                match result {
                    Ok(()) => {
                        for change in done {
                            if let Change::TagRole { tags } = change {
                                role.tags
                                    .extend(tags.into_iter().map(|tag| (tag.key, tag.value)));
                            }
                        }
                        let reads = Reads {
                            attached: vec![role.name.clone()],
                            ..Reads::default()
                        };
                        self.go(State::ListingAttached { role }, Effect::Reads(reads))
                    }
                    Err(e) => self.adoption_failed(&role.name, e.into()),
                }
            }
            (State::ListingAttached { role }, Observation::Replies(replies)) => {
                match replies.attached(&role.name) {
                    Ok(attached) => {
                        let planned = self.plan().all_attached_arns();
                        self.detached = attached
                            .into_iter()
                            .filter(|arn| !planned.contains(arn))
                            .collect();
                        let (converging, effect) = Converging::start(self.plan_arc(), role);
                        self.go(
                            State::Converging {
                                converging: Box::new(converging),
                                adopted: true,
                            },
                            effect,
                        )
                    }
                    Err(e) => self.adoption_failed(&role.name, e.into()),
                }
            }
            (State::ReadingPolicyUse { role, arns }, Observation::Replies(replies)) => match arns
                .iter()
                .map(|arn| Ok((arn, replies.uses(arn, &role.name)?, replies.policy(arn)?)))
                .collect::<Result<Vec<_>, IamError>>()
            {
                Ok(uses) => {
                    let changes: Vec<Change> = uses
                        .into_iter()
                        .filter_map(|(arn, others, policy)| {
                            if !others.is_empty() {
                                tracing::warn!(policy = %arn, used_by = %others.join(", "), "console policy is still attached elsewhere: kept");
                                return None;
                            }
                            let policy = policy?;
                            Some(Change::DeletePolicy {
                                arn: arn.clone(),
                                old_versions: policy.old_versions(),
                            })
                        })
                        .collect();
                    if changes.is_empty() {
                        return self.succeed(&role);
                    }
                    let name = role.name.clone();
                    self.go(
                        State::DeletingConsolePolicies { role },
                        Effect::Apply {
                            role: name,
                            changes,
                        },
                    )
                }
                Err(e) => self.adoption_failed(&role.name, e.into()),
            },
            (
                State::DeletingConsolePolicies { role },
                Observation::Applied { done, result, .. },
            ) => match result {
                Ok(()) => {
                    self.deleted = done
                        .into_iter()
                        .filter_map(|change| match change {
                            Change::DeletePolicy { arn, .. } => Some(arn),
                            _ => None,
                        })
                        .collect();
                    self.succeed(&role)
                }
                Err(e) => self.adoption_failed(&role.name, e.into()),
            },
            (state, observation) => self.fail(Failure::new(
                FailureClass::Internal,
                format!(
                    "internal error: {} observed while {state:?}",
                    observation.name()
                ),
            )),
        }
    }

    // ------------------------------------------------------------------ Roles passed

    /// The first effect, with the roles the plan passes read beside it when it is a read, or
    /// before it otherwise: nothing is changed until they are proven this stack's own.
    fn proving(&mut self, first: Next) -> Next {
        if self.plan.passed_roles_to_check.is_empty() {
            return first;
        }
        let beside = match first {
            Next::Effect(effect @ (Effect::Reads(_) | Effect::ReadOwnPolicies { .. })) => {
                Some(Box::new(effect))
            }
            Next::Effect(effect) => {
                self.held = Some(Held::Effect(Box::new(effect)));
                None
            }
            answer @ Next::Answer(_) => return answer,
        };
        Next::Effect(Effect::ReadPassed {
            roles: self.passed_names(),
            pause: None,
            beside,
        })
    }

    fn passed_names(&self) -> Vec<String> {
        self.plan
            .passed_roles_to_check
            .iter()
            .map(|passed| passing::role_name(&passed.arn).to_owned())
            .collect()
    }

    /// The roles the plan passes as read: refuse, read them again, or go on with what was held.
    fn passed(
        &mut self,
        roles: &[Result<Option<RoleState>, IamError>],
        beside: Option<Box<Observation>>,
    ) -> Next {
        if let Some(observed) = beside {
            self.held = Some(Held::Observed(observed));
        }
        let proof = passing::prove(
            &self.owner.stack_id,
            &self.plan.passed_roles_to_check,
            roles,
            self.reread_passed,
        );
        match proof {
            Proof::Refused(failure) => {
                self.held = None;
                self.fail(failure)
            }
            Proof::Reread => {
                self.reread_passed = true;
                tracing::info!("a role the plan passes is missing or untagged: reading it again");
                Next::Effect(Effect::ReadPassed {
                    roles: self.passed_names(),
                    pause: Some(passing::REREAD_PAUSE),
                    beside: None,
                })
            }
            Proof::Proven => match self.held.take() {
                Some(Held::Observed(observed)) => self.on(*observed),
                Some(Held::Effect(effect)) => Next::Effect(*effect),
                None => self.fail(Failure::new(
                    FailureClass::Internal,
                    "internal error: the roles passed were proven with nothing to go on with",
                )),
            },
        }
    }

    // ------------------------------------------------------------------ Own policies

    /// The first effect, with the account's policies (and the stack, unless listed already)
    /// read beside it when the plan makes managed policies of its own under a limit: nothing
    /// is changed until the count keeps the stack within it.
    fn counting(&mut self, first: Next) -> Next {
        if self.plan.managed_policies.is_empty() || self.max_own_policies == PerStack::Unlimited {
            return first;
        }
        // A plan with own policies always reads first: the role, or the policies it plans.
        match first {
            Next::Effect(effect @ Effect::Reads(_)) => {
                Next::Effect(Effect::ReadOwnPolicies {
                    list_stack: self.stack.is_none(),
                    beside: Some(Box::new(effect)),
                })
            }
            Next::Effect(_) => self.fail(Failure::new(
                FailureClass::Internal,
                "internal error: own policies are counted beside the first read, and the first effect is no read",
            )),
            answer @ Next::Answer(_) => answer,
        }
    }

    /// The account's policies and the stack's roles as read: refuse, or go on with what was
    /// read beside them or waited for them.
    fn counted(
        &mut self,
        policies: Result<Vec<String>, IamError>,
        stack: Option<Result<ListedStack, StacksError>>,
        beside: Option<Box<Observation>>,
    ) -> Next {
        let listed = match policies {
            Ok(listed) => listed,
            Err(e) => return self.fail(e.into()),
        };
        let stack = match stack {
            None => self.stack.take(),
            Some(Ok(listed)) => {
                let roles = StackRoles::of(
                    &self.owner.stack_id,
                    &self.owner.logical_id,
                    Some(listed.status),
                    listed.resources,
                );
                if roles.is_none() {
                    return self.fail(Failure::new(
                        FailureClass::StackCheck,
                        format!(
                            "CloudFormation does not list resource `{}` of stack `{}`, so its roles' managed policies cannot be counted ({}); nothing was changed, retry the stack operation",
                            self.owner.logical_id,
                            self.owner.stack_id,
                            limits::MAX_OWN_POLICIES_PER_STACK
                        ),
                    ));
                }
                roles
            }
            Some(Err(e)) => {
                return self.fail(Failure::new(
                    FailureClass::StackCheck,
                    format!("{e}; nothing was changed, retry the stack operation"),
                ));
            }
        };
        let Some(stack) = stack else {
            return self.fail(Failure::new(
                FailureClass::Internal,
                "internal error: own policies were counted without the stack's resources",
            ));
        };
        let count = limits::count_own_policies(
            &stack,
            &self.plan.role.role_name,
            self.plan.managed_policies.len(),
            &listed,
        );
        if let Err(failure) = limits::own_policies(&self.max_own_policies, &stack, count) {
            return self.fail(failure);
        }
        match beside {
            Some(observed) => self.on(*observed),
            None => self.fail(Failure::new(
                FailureClass::Internal,
                "internal error: own policies were counted with nothing to go on with",
            )),
        }
    }

    // ------------------------------------------------------------------ Create

    fn start_create(&mut self) -> Next {
        let adopt = self.plan.adopt_existing_role;
        let name = self.planned_name();
        // A role of the planned name in the console's capitalisation (`SageMaker-…`) is looked
        // for first: IAM names are unique ignoring case, but not every IAM answers so. With
        // adoption the planned spelling is looked for too; without, CreateRole finds it. The
        // planned managed policies are read beside: a Create that finds no role (nearly every
        // one) needs them next.
        let mut spellings: Vec<String> = adopt.then(|| name.clone()).into_iter().collect();
        spellings.extend(console_name(&name));
        let rest = spellings.split_off(spellings.len().min(1));
        let policies = self.planned_policy_arns();
        self.go(
            State::Finding {
                asked: spellings.clone(),
                rest,
                own: None,
            },
            read(spellings, policies),
        )
    }

    /// One spelling read: decide on the role found, read the next spelling, or create.
    fn found(
        &mut self,
        mut rest: Vec<String>,
        own: Result<BTreeMap<String, PolicyState>, IamError>,
        role: Result<Option<RoleState>, IamError>,
    ) -> Next {
        match role {
            Err(e) => self.fail(e.into()),
            Ok(Some(role)) => self.decided(Some(role), true),
            Ok(None) if !rest.is_empty() => {
                let next = rest.remove(0);
                self.go(
                    State::Finding {
                        asked: vec![next.clone()],
                        rest,
                        own: Some(own),
                    },
                    read(vec![next], Vec::new()),
                )
            }
            Ok(None) => match own.and_then(|found| own::planned(&self.owner, found)) {
                Ok(own) => match self.step(None) {
                    Step::Create => self.create_role(own, false),
                    step => self.carry_out(step, None, false),
                },
                Err(e) => self.fail(e.into()),
            },
        }
    }

    // ------------------------------------------------------------------ Update

    fn start_update(&mut self) -> Next {
        let planned = self.planned_name();
        let current = self.current.clone().unwrap_or_default();
        if !planned.eq_ignore_ascii_case(&current) {
            // The new name is taken to be free (no read first); only when CreateRole finds it
            // taken is the role read and the step decided again.
            tracing::info!(old = %current, new = %planned, "role name changes: replacing the role");
            let step = self.step(None);
            return self.carry_out(step, None, false);
        }
        // The role's own spelling of the name (an adopted `SageMaker-` role keeps it), read
        // whole: nearly every such role is this resource's own, converged next.
        let reads = own::whole_reads(self.plan(), &current, &self.plan.role.path, true);
        self.go(State::ReadingCurrent, Effect::Reads(reads))
    }

    // ------------------------------------------------------------------ Create and Update

    /// The step for the planned name, given the role found under it: a Create's, or an Update's
    /// (in place, or a replacement under a new name).
    fn step(&self, role: Option<&RoleState>) -> Step {
        let found = match role {
            None => Found::Absent,
            Some(role) => Found::role(&self.owner, &role.tags, &role.path),
        };
        let request = match &self.current {
            Some(current) => super::Request::Update { current },
            None => super::Request::Create {
                adopt: self.plan.adopt_existing_role,
            },
        };
        decide(
            request,
            Some((
                self.plan.role.role_name.as_str(),
                self.plan.role.path.as_str(),
            )),
            found,
        )
    }

    /// Decides on the role as read and carries the step out. `again`: a taken name is final.
    fn decided(&mut self, role: Option<RoleState>, again: bool) -> Next {
        let step = self.step(role.as_ref());
        self.carry_out(step, role, again)
    }

    fn carry_out(&mut self, step: Step, role: Option<RoleState>, again: bool) -> Next {
        match (step, role) {
            (Step::Create | Step::Replace { .. }, _) => {
                self.new_trust = true;
                self.read_policies(again)
            }
            (Step::Recreate, _) => {
                tracing::warn!(role = %self.planned_name(), "the role is gone: creating it again");
                self.new_trust = true;
                self.read_policies(again)
            }
            (Step::Converge, Some(role)) => {
                tracing::info!(role = %role.name, "role exists and is this resource's own: converging");
                self.at_stake = Some(self.planned_name());
                let plan = self.plan_arc();
                self.new_trust |= role.trust != plan.role.assume_role_policy_document;
                let (converging, progress) = match self.whole.take() {
                    Some(first) => Converging::from(plan, role, &self.owner, first),
                    None => {
                        let (converging, effect) = Converging::start(plan, role);
                        (converging, Progress::Effect(effect))
                    }
                };
                self.converging(Box::new(converging), false, progress)
            }
            (Step::Adopt, Some(role)) if self.adoption_forbidden => self.fail(Failure::new(
                FailureClass::Guardrail,
                format!(
                    "AdoptExistingRole: role {} is no stack's, and this function does not allow \
                     adoption; it was left unchanged. Deploy the function's stack with \
                     AllowAdoption=true for the migration",
                    role.name
                ),
            )),
            (Step::Adopt, Some(role))
                if !names_adopting_stack(self.adopting_stacks.as_deref(), &self.owner.stack_id) =>
            {
                let reason = not_an_adopting_stack(
                    &role.name,
                    &self.owner.stack_id,
                    self.adopting_stacks.as_deref().unwrap_or_default(),
                );
                self.fail(Failure::new(FailureClass::Guardrail, reason))
            }
            (Step::Adopt, Some(role))
                if !self.adopt_any_unowned_role
                    && !made_by_role_manager(&role.name, &role.path) =>
            {
                self.fail(Failure::new(
                    FailureClass::Guardrail,
                    not_role_managers(&role.name, &role.path),
                ))
            }
            (Step::Adopt, Some(role)) => {
                // A failure leaves the answer's id unnamed: the role existed before, and the
                // rollback must not delete it.
                tracing::info!(role = %role.name, "role is no stack's and AdoptExistingRole is set: taking it over");
                let tags: Vec<PlanTag> = self
                    .owner
                    .adoption_tags()
                    .iter()
                    .map(|(key, value)| PlanTag {
                        key: (*key).to_owned(),
                        value: (*value).to_owned(),
                    })
                    .collect();
                let name = role.name.clone();
                self.go(
                    State::Tagging { role },
                    Effect::Apply {
                        role: name,
                        changes: vec![Change::TagRole { tags }],
                    },
                )
            }
            (Step::Refuse { class, reason }, _) => self.fail(Failure::new(class, reason)),
            (step, _) => self.fail(Failure::new(
                FailureClass::Internal,
                format!(
                    "internal error: step {step:?} cannot be carried out for a Create or Update"
                ),
            )),
        }
    }

    /// Reads the planned policies that exist (a redelivered Create's), then creates.
    fn read_policies(&mut self, again: bool) -> Next {
        let policies = self.planned_policy_arns();
        if policies.is_empty() {
            return self.create_role(BTreeMap::new(), again);
        }
        self.go(State::ReadingPolicies { again }, read(Vec::new(), policies))
    }

    fn create_role(&mut self, own: BTreeMap<String, PolicyState>, again: bool) -> Next {
        self.at_stake = Some(self.planned_name());
        let plan = self.plan_arc();
        self.go(State::Creating { own, again }, Effect::CreateRole { plan })
    }

    fn created(
        &mut self,
        created: Result<RoleState, CreateRoleError>,
        own: BTreeMap<String, PolicyState>,
        again: bool,
    ) -> Next {
        match created {
            Ok(role) => {
                let actual = Actual {
                    role: role.clone(),
                    inline_policies: BTreeMap::new(),
                    attached_policy_arns: Default::default(),
                    own_policies: own,
                };
                let changes = crate::iam::diff(self.plan(), &actual);
                let (applying, progress) = Applying::start(role.name.clone(), changes);
                self.provisioning(role, applying, progress)
            }
            Err(CreateRoleError::AlreadyExists) => {
                self.at_stake = None;
                let name = self.planned_name();
                if again {
                    // IAM's state changed between two of this event's calls.
                    return self.fail(Failure::new(
                        FailureClass::Iam,
                        format!(
                            "role `{name}` was created meanwhile by another delivery of this request; retry the stack operation"
                        ),
                    ));
                }
                self.go(State::Rereading, read(vec![name], Vec::new()))
            }
            // IAM answered: nothing was created. No answer (a timeout): the role may exist.
            Err(CreateRoleError::Failed(e)) => {
                if e.is_definite() {
                    self.at_stake = None;
                }
                self.fail(e.into())
            }
        }
    }

    /// The new role's policies as made so far: made, undone after a failure, or going on.
    fn provisioning(
        &mut self,
        role: RoleState,
        applying: Applying,
        progress: Progress<Made>,
    ) -> Next {
        match progress {
            Progress::Effect(effect) => self.go(State::Provisioning { role, applying }, effect),
            Progress::OutOfTurn(what) => self.out_of_turn(what),
            Progress::Done(Made { result: Ok(()), .. }) => self.succeed(&role),
            Progress::Done(Made {
                done,
                result: Err(error),
            }) => {
                tracing::warn!(error = %error, "create failed half-way: removing what it made");
                let unseen = made_policies(&done);
                self.confirming(error.into(), role.name, done, unseen, 0)
            }
        }
    }

    /// Before the undo: reads the policies the creation made that IAM has not shown yet, and
    /// pauses between reads while some are missing; then undoes. Those IAM never showed are
    /// named in the answer: their DeletePolicy may have found nothing to delete.
    fn confirming(
        &mut self,
        error: Failure,
        role: String,
        done: Vec<Change>,
        unseen: Vec<String>,
        attempt: usize,
    ) -> Next {
        if unseen.is_empty() || attempt > MADE_PAUSES.len() {
            self.unconfirmed = unseen;
            let (applying, progress) = Applying::start(role, crate::iam::diff::undo(&done));
            return self.undoing(error, applying, progress);
        }
        let reads = Reads {
            summaries: unseen.clone(),
            ..Reads::default()
        };
        self.go(
            State::Confirming {
                error,
                role,
                done,
                unseen,
                attempt,
                paused: false,
            },
            Effect::Reads(reads),
        )
    }

    /// The undo of a half-done creation: then the sweep, or the role deleted with all it owns
    /// when the undo failed.
    fn undoing(&mut self, error: Failure, applying: Applying, progress: Progress<Made>) -> Next {
        match progress {
            Progress::Effect(effect) => self.go(State::Undoing { error, applying }, effect),
            Progress::OutOfTurn(what) => self.out_of_turn(what),
            Progress::Done(Made { result: Ok(()), .. }) => {
                let (removing, progress) =
                    Removing::sweep(self.planned_name(), self.planned_policy_arns());
                self.sweeping(error, removing, progress)
            }
            Progress::Done(Made {
                result: Err(first), ..
            }) => {
                tracing::warn!(error = %first, "undo failed; deleting the role with all it owns");
                let name = self.planned_name();
                let path = self.plan().role.path.clone();
                self.go(
                    State::RemovingRole {
                        error,
                        removing: None,
                    },
                    Effect::Reads(own::teardown_reads(&name, &path, true)),
                )
            }
        }
    }

    fn sweeping(
        &mut self,
        error: Failure,
        removing: Removing,
        progress: Progress<Result<(), IamError>>,
    ) -> Next {
        match progress {
            Progress::Effect(effect) => self.go(State::Sweeping { error, removing }, effect),
            Progress::OutOfTurn(what) => self.out_of_turn(what),
            Progress::Done(result) => self.undone(error, result),
        }
    }

    /// The role a failed undo leaves, read with its lists: torn down when it is this resource's
    /// own; gone, or someone else's, it is not this creation's to remove.
    fn remove_role(&mut self, error: Failure, replies: &Replies) -> Next {
        let name = self.planned_name();
        match replies.role(&name) {
            Err(e) => self.undone(error, Err(e)),
            Ok(None) => self.undone(error, Ok(())),
            Ok(Some(role)) if !self.owner.owns(&role.tags) => {
                tracing::warn!(role = %name, "role is not managed by this resource: left untouched");
                self.undone(error, Ok(()))
            }
            Ok(Some(role)) => {
                let path = self.plan().role.path.clone();
                let (removing, progress) = Removing::teardown_from(role, replies, &path);
                self.removing_role(error, removing, progress)
            }
        }
    }

    fn removing_role(
        &mut self,
        error: Failure,
        removing: Removing,
        progress: Progress<Result<(), IamError>>,
    ) -> Next {
        match progress {
            Progress::Effect(effect) => self.go(
                State::RemovingRole {
                    error,
                    removing: Some(removing),
                },
                effect,
            ),
            Progress::OutOfTurn(what) => self.out_of_turn(what),
            Progress::Done(result) => self.undone(error, result),
        }
    }

    /// A convergence as far as it got: the role converged (then answered, or after an adoption,
    /// the console's policies deleted), failed, or going on.
    fn converging(
        &mut self,
        converging: Box<Converging>,
        adopted: bool,
        progress: Progress<Result<RoleState, IamError>>,
    ) -> Next {
        match progress {
            Progress::Effect(effect) => self.go(
                State::Converging {
                    converging,
                    adopted,
                },
                effect,
            ),
            Progress::OutOfTurn(what) => self.out_of_turn(what),
            Progress::Done(Ok(role)) if adopted => self.delete_console_policies(role),
            Progress::Done(Ok(role)) => self.succeed(&role),
            Progress::Done(Err(e)) if adopted => {
                let name = self.planned_name();
                self.adoption_failed(&name, e.into())
            }
            Progress::Done(Err(e)) => self.fail(e.into()),
        }
    }

    fn out_of_turn(&mut self, what: &str) -> Next {
        self.fail(Failure::new(
            FailureClass::Internal,
            format!("internal error: {what} observed out of turn"),
        ))
    }

    /// The end of an undo: FAILED with the creation's error, saying whether all was removed.
    fn undone(&mut self, error: Failure, result: Result<(), IamError>) -> Next {
        match result {
            Ok(()) if self.unconfirmed.is_empty() => {
                self.at_stake = None;
                self.fail(error.map_reason(|reason| {
                    format!("{reason} (everything created was removed again)")
                }))
            }
            Ok(()) => {
                let unconfirmed = self.unconfirmed.join("`, `");
                self.fail(error.map_reason(|reason| {
                    format!(
                        "{reason}; IAM did not show the policies `{unconfirmed}` this creation made, so they may be left behind: delete them once IAM shows them"
                    )
                }))
            }
            Err(undo_error) => self.fail(error.map_reason(|reason| {
                format!("{reason}; removing what was created failed too: {undo_error}")
            })),
        }
    }

    /// After an adoption's convergence: delete those of the detached policies that are the
    /// console's, when asked and no one else has them attached. Any other policy is never deleted.
    fn delete_console_policies(&mut self, role: RoleState) -> Next {
        if !self.plan().delete_console_policies {
            return self.succeed(&role);
        }
        let arns: Vec<String> = self
            .detached
            .iter()
            .filter(|arn| {
                let console = console::find_arn(arn).is_some();
                if !console {
                    tracing::info!(policy = %arn, "not a console policy: detached, not deleted");
                }
                console
            })
            .cloned()
            .collect();
        if arns.is_empty() {
            return self.succeed(&role);
        }
        // Each policy beside who else has it attached.
        let reads = Reads {
            policies: arns.clone(),
            uses: arns
                .iter()
                .map(|arn| (arn.clone(), role.name.clone()))
                .collect(),
            ..Reads::default()
        };
        self.go(State::ReadingPolicyUse { role, arns }, Effect::Reads(reads))
    }

    fn adoption_failed(&mut self, name: &str, failure: Failure) -> Next {
        self.fail(failure.map_reason(|reason| {
            format!(
                "{reason}; adopting role `{name}` stopped part-way: it keeps this resource's \
                 ownership, a retry converges it, and no Delete removes it unless an answer \
                 named it"
            )
        }))
    }

    /// SUCCESS with the role's attributes, and what an adoption detached and deleted.
    fn succeed(&mut self, role: &RoleState) -> Next {
        let mut outcome = Outcome::role(self.plan(), role);
        // Last: the first attributes trimming would drop to fit the answer.
        for (key, arns) in [
            ("DetachedPolicies", &self.detached),
            ("DeletedPolicies", &self.deleted),
        ] {
            if !arns.is_empty() {
                outcome.data.push((key.to_owned(), arns.join(",")));
            }
        }
        // What depends on a role CloudFormation just made (or re-trusted) assumes it at once:
        // IAM is eventually consistent, so the answer waits until the role is usable.
        match self.ready_wait {
            Some(settle) if self.new_trust => {
                let effect = Effect::AwaitReady {
                    role: role.name.clone(),
                    trust: self.plan.role.assume_role_policy_document.clone(),
                    settle,
                };
                self.go(
                    State::Readying {
                        outcome: Box::new(outcome),
                    },
                    effect,
                )
            }
            _ => self.answer(outcome),
        }
    }

    // ------------------------------------------------------------------ common

    fn go(&mut self, state: State, effect: Effect) -> Next {
        self.state = state;
        Next::Effect(effect)
    }

    fn answer(&mut self, outcome: Outcome) -> Next {
        self.state = State::Answered;
        Next::Answer(outcome)
    }

    fn fail(&mut self, failure: Failure) -> Next {
        let outcome = self.ids.failed(self.at_stake.as_deref(), failure);
        self.answer(outcome)
    }

    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn plan_arc(&self) -> Arc<Plan> {
        Arc::clone(&self.plan)
    }

    fn planned_name(&self) -> String {
        self.plan().role.role_name.clone()
    }

    fn planned_policy_arns(&self) -> Vec<String> {
        self.plan()
            .managed_policies
            .iter()
            .map(|p| p.arn.clone())
            .collect()
    }
}

impl Delete {
    fn start(&mut self) -> Next {
        let Some((target, named)) = self.intent.target.clone() else {
            tracing::info!(physical_resource_id = %self.intent.id, "not a role this resource could have made: nothing to delete");
            return self.succeed();
        };
        if !named {
            tracing::info!(physical_resource_id = %self.intent.id, role = %target, "not a role name: looking for the role the properties plan");
        }
        self.state = DeleteState::Reading {
            target: target.clone(),
            named,
        };
        // An id that names the role is nearly always this resource's own, deleted next: read
        // with its teardown. A placeholder's or made-up id's role (a rollback after a failed or
        // lost Create) is mostly absent: read alone.
        Next::Effect(if named {
            Effect::Reads(own::teardown_reads(&target, &self.intent.path, true))
        } else {
            read(vec![target], Vec::new())
        })
    }

    fn on(&mut self, observation: Observation) -> Next {
        let state = std::mem::replace(&mut self.state, DeleteState::Answered);
        match (state, observation) {
            (DeleteState::Reading { target, named }, Observation::Replies(replies)) if named => {
                match replies.role(&target) {
                    Ok(role) => self.decided(&target, named, role, Some(&replies)),
                    Err(e) => self.fail(e.into()),
                }
            }
            (DeleteState::Reading { target, named }, Observation::Replies(replies)) if !named => {
                match replies.role(&target) {
                    Ok(role) => self.decided(&target, named, role, None),
                    Err(e) => self.fail(e.into()),
                }
            }
            (DeleteState::TearingDown { mut removing }, observation) => {
                let progress = removing.on(&self.owner, observation);
                self.tearing_down(*removing, progress)
            }
            (state, observation) => self.fail(Failure::new(
                FailureClass::Internal,
                format!(
                    "internal error: {} observed while {state:?}",
                    observation.name()
                ),
            )),
        }
    }

    fn decided(
        &mut self,
        target: &str,
        named: bool,
        role: Option<RoleState>,
        first: Option<&Replies>,
    ) -> Next {
        let found = match &role {
            None => Found::Absent,
            Some(role) => Found::role(&self.owner, &role.tags, &role.path),
        };
        let step = decide(super::Request::Delete { id: target, named }, None, found);
        match (step, role) {
            // IAM finds a role by its name in any case: an id in another spelling than the
            // role's own is not the id CloudFormation holds for it (which is the name the
            // answer gave, as IAM returned it).
            (Step::Teardown { .. }, Some(read)) if read.name != target => {
                self.fail(Failure::new(
                    FailureClass::StackCheck,
                    format!(
                        "PhysicalResourceId: `{target}` is not the name of role `{}` (IAM ignores case in names; the role's id is its own spelling); nothing was changed",
                        read.name
                    ),
                ))
            }
            (Step::Teardown { role: name }, _) if self.intent.retain => {
                tracing::info!(role = %name, "RetainOnDelete is set: the role is left as it is");
                self.succeed()
            }
            // As read together with the role: its lists are not read again.
            (Step::Teardown { .. }, Some(read)) => {
                let (removing, progress) = match first {
                    Some(first) => {
                        Removing::teardown_from(read, first, &self.intent.path)
                    }
                    // Only the role was read: its teardown reads the rest.
                    None => {
                        let (removing, effect) = Removing::teardown(read);
                        (removing, Progress::Effect(effect))
                    }
                };
                self.tearing_down(removing, progress)
            }
            (Step::Nothing { why }, _) => {
                tracing::info!(role = %target, "{why}");
                self.succeed()
            }
            (step, _) => self.fail(Failure::new(
                FailureClass::Internal,
                format!("internal error: step {step:?} cannot be carried out for a Delete"),
            )),
        }
    }

    fn tearing_down(
        &mut self,
        removing: Removing,
        progress: Progress<Result<(), IamError>>,
    ) -> Next {
        match progress {
            Progress::Effect(effect) => {
                self.state = DeleteState::TearingDown {
                    removing: Box::new(removing),
                };
                Next::Effect(effect)
            }
            Progress::OutOfTurn(what) => self.fail(Failure::new(
                FailureClass::Internal,
                format!("internal error: {what} observed out of turn"),
            )),
            Progress::Done(Ok(())) => self.succeed(),
            Progress::Done(Err(e)) => self.fail(e.into()),
        }
    }

    fn succeed(&mut self) -> Next {
        self.state = DeleteState::Answered;
        Next::Answer(Outcome::success(self.ids.requested(), Vec::new()))
    }

    fn fail(&mut self, failure: Failure) -> Next {
        self.state = DeleteState::Answered;
        Next::Answer(self.ids.failed(None, failure))
    }
}

/// Reads, together, of these roles (GetRole each) and managed policies (with their tags,
/// versions and documents).
/// Pauses between reads of the policies a failed creation made, before its undo: about 7 s in
/// all, past what IAM usually takes to show what was just made.
const MADE_PAUSES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The ARNs of the policies `done` created.
fn made_policies(done: &[Change]) -> Vec<String> {
    done.iter()
        .filter_map(|change| match change {
            Change::CreatePolicy { arn, .. } => Some(arn.clone()),
            _ => None,
        })
        .collect()
}

fn read(roles: Vec<String>, policies: Vec<String>) -> Effect {
    Effect::Reads(Reads {
        roles,
        policies,
        ..Reads::default()
    })
}

/// The first of the roles `names` that the replies found; none when all are absent.
fn first(replies: &Replies, names: &[String]) -> Result<Option<RoleState>, IamError> {
    for name in names {
        if let Some(role) = replies.role(name)? {
            return Ok(Some(role));
        }
    }
    Ok(None)
}
