//! The machine's IAM procedures, each a small machine of reads and writes that the lifecycle
//! runs inside its own states: [`Applying`] a list of changes (the one way changes are made,
//! taking over a policy that CreatePolicy finds already there when it is this resource's own),
//! [`WholeRead`] of a role for its plan and [`Converging`] it (the one way to converge: the diff
//! of `iam::diff` from what was read), and [`Removing`] a role with all it owns or the planned
//! policies a failed Create may have left (the one way to tear down: a Delete, the undo's last
//! resort and the sweep after an undo). Pure: each step takes what the last effect observed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::effect::{Effect, Observation};
use super::own;
use crate::iam::diff::{self, teardown};
use crate::iam::state::{Reads, Replies};
use crate::iam::{Actual, Change, IamError, PolicyState, RoleState};
use crate::ownership::Owner;
use crate::plan::Plan;

/// What a procedure asks for next: an effect, or its end.
#[derive(Debug)]
pub enum Progress<T> {
    Effect(Effect),
    Done(T),
    /// An observation the procedure did not ask for: an internal error of the caller.
    OutOfTurn(&'static str),
}

/// What applying changes came to: every change made (an undo needs them all) and the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub done: Vec<Change>,
    pub result: Result<(), IamError>,
}

/// Changes being applied to a role, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Applying {
    role: String,
    /// The changes of the last [`Effect::Apply`].
    sent: Vec<Change>,
    done: Vec<Change>,
    /// CreatePolicy changes whose policy was found taken, being read.
    taken: Vec<Change>,
}

impl Applying {
    /// Starts applying `changes` to `role`; none: done at once.
    pub fn start(role: String, changes: Vec<Change>) -> (Applying, Progress<Made>) {
        let mut applying = Applying {
            role,
            sent: Vec::new(),
            done: Vec::new(),
            taken: Vec::new(),
        };
        let progress = applying.send(changes);
        (applying, progress)
    }

    fn send(&mut self, changes: Vec<Change>) -> Progress<Made> {
        if changes.is_empty() {
            return self.finish(Ok(()));
        }
        self.sent = changes.clone();
        Progress::Effect(Effect::Apply {
            role: self.role.clone(),
            changes,
        })
    }

    fn finish(&mut self, result: Result<(), IamError>) -> Progress<Made> {
        Progress::Done(Made {
            done: std::mem::take(&mut self.done),
            result,
        })
    }

    pub fn on(&mut self, owner: &Owner, observation: Observation) -> Progress<Made> {
        match observation {
            Observation::Applied {
                done,
                taken,
                result,
            } => {
                let mut rest = std::mem::take(&mut self.sent);
                for change in done.iter().chain(&taken) {
                    if let Some(at) = rest.iter().position(|c| c == change) {
                        rest.remove(at);
                    }
                }
                self.done.extend(done);
                if let Err(e) = result {
                    return self.finish(Err(e));
                }
                if taken.is_empty() {
                    return self.finish(Ok(()));
                }
                // A CreatePolicy whose earlier attempt's answer was lost, or a redelivered
                // event's: the policy is read, and converged on when it is this resource's own.
                let policies = taken
                    .iter()
                    .filter_map(|change| match change {
                        Change::CreatePolicy { arn, .. } => Some(arn.clone()),
                        _ => None,
                    })
                    .collect();
                self.taken = taken;
                self.sent = rest;
                Progress::Effect(Effect::Reads(Reads {
                    policies,
                    ..Reads::default()
                }))
            }
            Observation::Replies(replies) if !self.taken.is_empty() => {
                let arns: Vec<String> = self
                    .taken
                    .iter()
                    .filter_map(|change| match change {
                        Change::CreatePolicy { arn, .. } => Some(arn.clone()),
                        _ => None,
                    })
                    .collect();
                let found = match own::found_planned(&arns, &replies) {
                    Ok(found) => found,
                    Err(e) => return self.finish(Err(e)),
                };
                let mut changes = Vec::new();
                for change in std::mem::take(&mut self.taken) {
                    let Change::CreatePolicy { arn, document, .. } = &change else {
                        continue;
                    };
                    match found.get(arn) {
                        Some(state) if owner.owns(&state.tags) => {
                            changes.extend(diff::policy_document_changes(state, document));
                        }
                        _ => return self.finish(Err(IamError::ForeignPolicy { arn: arn.clone() })),
                    }
                    self.done.push(change);
                }
                changes.append(&mut self.sent);
                self.send(changes)
            }
            observation => Progress::OutOfTurn(observation.name()),
        }
    }
}

/// A role read whole for its plan: its inline, attached and own policies.
#[derive(Debug, Clone, PartialEq)]
pub struct WholeRead {
    plan: Arc<Plan>,
    role: RoleState,
    /// The path the first reads listed the account's policies under.
    listed_under: String,
    stage: Whole,
}

#[derive(Debug, Clone, PartialEq)]
enum Whole {
    /// [`own::whole_reads`] sent.
    Reading,
    /// The role is not under the planned path: its own policies are listed under its own.
    Relisting {
        first: Box<Replies>,
    },
    /// The own candidates' tags, versions and uses read.
    ReadingOwn {
        actual: Box<Actual>,
        candidates: Vec<String>,
    },
    Read,
}

impl WholeRead {
    /// Reads the role, known already, whole.
    pub fn start(plan: Arc<Plan>, role: RoleState) -> (WholeRead, Effect) {
        let effect = Effect::Reads(own::whole_reads(&plan, &role.name, &role.path, false));
        let read = WholeRead {
            plan,
            listed_under: role.path.clone(),
            role,
            stage: Whole::Reading,
        };
        (read, effect)
    }

    /// Goes on from the first reads ([`own::whole_reads`]), made with the role's.
    pub fn from(
        plan: Arc<Plan>,
        role: RoleState,
        owner: &Owner,
        first: Replies,
    ) -> (WholeRead, Progress<Result<Actual, IamError>>) {
        let mut read = WholeRead {
            listed_under: plan.role.path.clone(),
            plan,
            role,
            stage: Whole::Read,
        };
        let progress = read.first(owner, first);
        (read, progress)
    }

    fn first(&mut self, owner: &Owner, first: Replies) -> Progress<Result<Actual, IamError>> {
        // Own policies live under the role's own path; a role elsewhere is listed again.
        if self.role.path != self.listed_under {
            let path = self.role.path.clone();
            self.stage = Whole::Relisting {
                first: Box::new(first),
            };
            return Progress::Effect(Effect::Reads(Reads {
                under: vec![path],
                ..Reads::default()
            }));
        }
        let listed = first.under(&self.listed_under);
        self.listed(owner, &first, listed)
    }

    fn listed(
        &mut self,
        owner: &Owner,
        first: &Replies,
        listed: Result<Vec<String>, IamError>,
    ) -> Progress<Result<Actual, IamError>> {
        let name = self.role.name.clone();
        let planned = own::planned_arns(&self.plan);
        let read = || -> Result<(Actual, Vec<String>), IamError> {
            let inline_policies = own::inline_policies(&self.plan, &name, first)?;
            let attached_policy_arns = first.attached(&name)?;
            let listed = listed?;
            let own_policies = own::planned(owner, own::found_planned(&planned, first)?)?;
            let candidates = own::candidates(&self.role, &planned, &listed, &attached_policy_arns);
            let actual = Actual {
                role: self.role.clone(),
                inline_policies,
                attached_policy_arns,
                own_policies,
            };
            Ok((actual, candidates))
        };
        match read() {
            Err(e) => self.done(Err(e)),
            Ok((actual, candidates)) if candidates.is_empty() => self.done(Ok(actual)),
            // Own policies the plan no longer has are deleted unread: their tags and versions
            // are read, beside who else has them attached.
            Ok((actual, candidates)) => {
                let effect = Effect::Reads(own::candidate_reads(&name, &candidates));
                self.stage = Whole::ReadingOwn {
                    actual: Box::new(actual),
                    candidates,
                };
                Progress::Effect(effect)
            }
        }
    }

    fn done<T>(&mut self, result: T) -> Progress<T> {
        self.stage = Whole::Read;
        Progress::Done(result)
    }

    pub fn on(
        &mut self,
        owner: &Owner,
        observation: Observation,
    ) -> Progress<Result<Actual, IamError>> {
        let stage = std::mem::replace(&mut self.stage, Whole::Read);
        match (stage, observation) {
            (Whole::Reading, Observation::Replies(first)) => self.first(owner, first),
            (Whole::Relisting { first }, Observation::Replies(replies)) => {
                let listed = replies.under(&self.role.path);
                self.listed(owner, &first, listed)
            }
            (
                Whole::ReadingOwn {
                    mut actual,
                    candidates,
                },
                Observation::Replies(replies),
            ) => match own::deletable(owner, &self.role.name, &candidates, &replies) {
                Ok(own) => {
                    actual.own_policies.extend(own);
                    self.done(Ok(*actual))
                }
                Err(e) => self.done(Err(e)),
            },
            (_, observation) => Progress::OutOfTurn(observation.name()),
        }
    }
}

/// A role, this resource's own, brought to its plan in place: read whole, then the diff applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Converging {
    Reading(WholeRead),
    Applying { role: RoleState, applying: Applying },
}

impl Converging {
    /// Converges a role known to be this resource's own, reading it whole first.
    pub fn start(plan: Arc<Plan>, role: RoleState) -> (Converging, Effect) {
        let (read, effect) = WholeRead::start(plan, role);
        (Converging::Reading(read), effect)
    }

    /// Converges a role from the first reads made with its own ([`own::whole_reads`]).
    pub fn from(
        plan: Arc<Plan>,
        role: RoleState,
        owner: &Owner,
        first: Replies,
    ) -> (Converging, Progress<Result<RoleState, IamError>>) {
        let (read, progress) = WholeRead::from(Arc::clone(&plan), role, owner, first);
        let mut converging = Converging::Reading(read);
        let progress = converging.read(&plan, progress);
        (converging, progress)
    }

    fn read(
        &mut self,
        plan: &Plan,
        progress: Progress<Result<Actual, IamError>>,
    ) -> Progress<Result<RoleState, IamError>> {
        let actual = match progress {
            Progress::Effect(effect) => return Progress::Effect(effect),
            Progress::OutOfTurn(what) => return Progress::OutOfTurn(what),
            Progress::Done(Err(e)) => return Progress::Done(Err(e)),
            Progress::Done(Ok(actual)) => actual,
        };
        let changes = diff::diff(plan, &actual);
        if changes.is_empty() {
            tracing::info!(role = %actual.role.name, "role already as declared: no change");
        }
        let (applying, progress) = Applying::start(actual.role.name.clone(), changes);
        let role = actual.role;
        *self = Converging::Applying {
            role: role.clone(),
            applying,
        };
        Self::applied(role, progress)
    }

    fn applied(role: RoleState, progress: Progress<Made>) -> Progress<Result<RoleState, IamError>> {
        match progress {
            Progress::Effect(effect) => Progress::Effect(effect),
            Progress::OutOfTurn(what) => Progress::OutOfTurn(what),
            Progress::Done(made) => Progress::Done(made.result.map(|()| role)),
        }
    }

    pub fn on(
        &mut self,
        plan: &Plan,
        owner: &Owner,
        observation: Observation,
    ) -> Progress<Result<RoleState, IamError>> {
        match self {
            Converging::Reading(read) => {
                let progress = read.on(owner, observation);
                self.read(plan, progress)
            }
            Converging::Applying { role, applying } => {
                let progress = applying.on(owner, observation);
                Self::applied(role.clone(), progress)
            }
        }
    }
}

/// A role's lists, as a teardown reads them ([`own::teardown_reads`]).
#[derive(Debug, Clone, PartialEq)]
struct Torn {
    role: RoleState,
    inline: Vec<String>,
    attached: BTreeSet<String>,
    profiles: Vec<String>,
}

impl Torn {
    fn read(role: RoleState, first: &Replies) -> Result<Torn, IamError> {
        Ok(Torn {
            inline: first.inline_names(&role.name)?,
            attached: first.attached(&role.name)?,
            profiles: first.profiles(&role.name)?,
            role,
        })
    }
}

/// What is being removed: a role with all it owns, or (`None`) the planned policies a failed
/// Create may have left.
#[derive(Debug, Clone, PartialEq)]
pub struct Removing {
    /// The role the calls name.
    name: String,
    stage: Removal,
}

#[derive(Debug, Clone, PartialEq)]
enum Removal {
    /// The role's lists read.
    Listing {
        role: RoleState,
    },
    /// The role is not under the path its lists were read with: its policies listed again.
    Relisting {
        torn: Box<Torn>,
    },
    /// The candidate own policies read: with their uses (a teardown), or first alone (a sweep).
    ReadingOwn {
        torn: Option<Box<Torn>>,
        candidates: Vec<String>,
    },
    /// Who else has the own policies a sweep deletes attached.
    CheckingUse {
        own: BTreeMap<String, PolicyState>,
    },
    Applying(Applying),
    Removed,
}

impl Removing {
    /// Tears down a role known to be this resource's own, reading its lists first.
    pub fn teardown(role: RoleState) -> (Removing, Effect) {
        let effect = Effect::Reads(own::teardown_reads(&role.name, &role.path, false));
        let removing = Removing {
            name: role.name.clone(),
            stage: Removal::Listing { role },
        };
        (removing, effect)
    }

    /// Tears down a role from the lists read with it ([`own::teardown_reads`] under `path`).
    pub fn teardown_from(
        role: RoleState,
        first: &Replies,
        path: &str,
    ) -> (Removing, Progress<Result<(), IamError>>) {
        let mut removing = Removing {
            name: role.name.clone(),
            stage: Removal::Removed,
        };
        let progress = removing.lists(role, first, path);
        (removing, progress)
    }

    /// Deletes whichever of the planned policies exist and are this resource's own: the sweep
    /// after an undo, for a CreatePolicy that took effect although its answer never came.
    pub fn sweep(role: String, planned: Vec<String>) -> (Removing, Progress<Result<(), IamError>>) {
        let mut removing = Removing {
            name: role,
            stage: Removal::Removed,
        };
        if planned.is_empty() {
            return (removing, Progress::Done(Ok(())));
        }
        let effect = Effect::Reads(Reads {
            policies: planned.clone(),
            ..Reads::default()
        });
        removing.stage = Removal::ReadingOwn {
            torn: None,
            candidates: planned,
        };
        (removing, Progress::Effect(effect))
    }

    fn lists(
        &mut self,
        role: RoleState,
        first: &Replies,
        path: &str,
    ) -> Progress<Result<(), IamError>> {
        let torn = match Torn::read(role, first) {
            Ok(torn) => torn,
            Err(e) => return self.done(Err(e)),
        };
        if torn.role.path != path {
            let path = torn.role.path.clone();
            self.stage = Removal::Relisting {
                torn: Box::new(torn),
            };
            return Progress::Effect(Effect::Reads(Reads {
                under: vec![path],
                ..Reads::default()
            }));
        }
        self.listed(torn, first.under(path))
    }

    fn listed(
        &mut self,
        torn: Torn,
        listed: Result<Vec<String>, IamError>,
    ) -> Progress<Result<(), IamError>> {
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => return self.done(Err(e)),
        };
        let candidates = own::candidates(&torn.role, &[], &listed, &torn.attached);
        if candidates.is_empty() {
            return self.tear_down(torn, BTreeMap::new());
        }
        let effect = Effect::Reads(own::candidate_reads(&self.name, &candidates));
        self.stage = Removal::ReadingOwn {
            torn: Some(Box::new(torn)),
            candidates,
        };
        Progress::Effect(effect)
    }

    /// The changes that delete the role with all it owns ([`teardown`]), applied.
    fn tear_down(
        &mut self,
        torn: Torn,
        own_policies: BTreeMap<String, PolicyState>,
    ) -> Progress<Result<(), IamError>> {
        let actual = own::teardown_actual(&torn.role, torn.inline, torn.attached, own_policies);
        let changes = teardown(&actual, &torn.profiles);
        self.apply(changes)
    }

    fn apply(&mut self, changes: Vec<Change>) -> Progress<Result<(), IamError>> {
        let (applying, progress) = Applying::start(self.name.clone(), changes);
        self.stage = Removal::Applying(applying);
        self.applied(progress)
    }

    fn applied(&mut self, progress: Progress<Made>) -> Progress<Result<(), IamError>> {
        match progress {
            Progress::Effect(effect) => Progress::Effect(effect),
            Progress::OutOfTurn(what) => Progress::OutOfTurn(what),
            Progress::Done(made) => self.done(made.result),
        }
    }

    fn done<T>(&mut self, result: T) -> Progress<T> {
        self.stage = Removal::Removed;
        Progress::Done(result)
    }

    pub fn on(
        &mut self,
        owner: &Owner,
        observation: Observation,
    ) -> Progress<Result<(), IamError>> {
        let stage = std::mem::replace(&mut self.stage, Removal::Removed);
        match (stage, observation) {
            (Removal::Listing { role }, Observation::Replies(first)) => {
                let path = role.path.clone();
                self.lists(role, &first, &path)
            }
            (Removal::Relisting { torn }, Observation::Replies(replies)) => {
                let listed = replies.under(&torn.role.path);
                self.listed(*torn, listed)
            }
            (
                Removal::ReadingOwn {
                    torn: Some(torn),
                    candidates,
                },
                Observation::Replies(replies),
            ) => match own::deletable(owner, &self.name, &candidates, &replies) {
                Ok(own) => self.tear_down(*torn, own),
                Err(e) => self.done(Err(e)),
            },
            (
                Removal::ReadingOwn {
                    torn: None,
                    candidates,
                },
                Observation::Replies(replies),
            ) => {
                let own = match own::found_planned(&candidates, &replies) {
                    Ok(found) => own::owned(owner, found),
                    Err(e) => return self.done(Err(e)),
                };
                if own.is_empty() {
                    return self.done(Ok(()));
                }
                let uses = own
                    .keys()
                    .map(|arn| (arn.clone(), self.name.clone()))
                    .collect();
                self.stage = Removal::CheckingUse { own };
                Progress::Effect(Effect::Reads(Reads {
                    uses,
                    ..Reads::default()
                }))
            }
            (Removal::CheckingUse { own }, Observation::Replies(replies)) => {
                let mut changes = Vec::new();
                for (arn, state) in own {
                    let refused = replies
                        .uses(&arn, &self.name)
                        .and_then(|others| own::refuse_in_use(&arn, &others));
                    if let Err(e) = refused {
                        return self.done(Err(e));
                    }
                    changes.push(Change::DeletePolicy {
                        old_versions: state.old_versions(),
                        arn,
                    });
                }
                self.apply(changes)
            }
            (Removal::Applying(mut applying), observation) => {
                let progress = applying.on(owner, observation);
                self.stage = Removal::Applying(applying);
                self.applied(progress)
            }
            (_, observation) => Progress::OutOfTurn(observation.name()),
        }
    }
}
