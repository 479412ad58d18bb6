//! What the lifecycle machine and whoever carries its effects out say to each other: the
//! [`Effect`]s it asks for — a batch of named IAM reads, one list of changes applied as given,
//! CreateRole, the reads and waits beside them — what each [`Observation`] brought back, and
//! [`Next`]: an effect or the answer.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::outcome::Outcome;
use crate::cfn::stack_check::{ListedStack, StacksError};
use crate::iam::state::{Reads, Replies};
use crate::iam::{Change, CreateRoleError, IamError, RoleState};
use crate::plan::Plan;

/// What the handler is to do next.
// One of these per IAM round trip: their size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Make these reads together ([`Observation::Replies`]).
    Reads(Reads),
    /// CreateRole of the plan's role ([`Observation::Created`]).
    CreateRole { plan: Arc<Plan> },
    /// Make these changes to `role`, as given, in waves ([`Observation::Applied`]).
    Apply { role: String, changes: Vec<Change> },
    /// Read the role back until IAM serves it with this trust policy, then wait `settle`: the
    /// role is then usable by what depends on it ([`Observation::Ready`]). Bounded by the
    /// event's deadline; a role not served by then is still answered SUCCESS.
    AwaitReady {
        role: String,
        trust: Value,
        settle: Duration,
    },
    /// Read these roles the plan passes (GetRole each), after `pause` if any, beside the read
    /// `beside` in the same wave ([`Observation::Passed`]): each must be this stack's own.
    ReadPassed {
        roles: Vec<String>,
        pause: Option<Duration>,
        beside: Option<Box<Effect>>,
    },
    /// List the account's customer managed policies (ListPolicies, Scope=Local) and, when
    /// `list_stack`, the event's stack's status and resources (DescribeStacks,
    /// ListStackResources), beside the read `beside` in the same wave
    /// ([`Observation::OwnPolicies`]): the plan's own policies must keep the stack within its
    /// limit.
    ReadOwnPolicies {
        list_stack: bool,
        beside: Option<Box<Effect>>,
    },
    /// Wait this long, bounded by the event's deadline ([`Observation::Paused`]): IAM is
    /// eventually consistent, and what was just made may not show yet.
    Pause(Duration),
}

/// What the machine asks for next: an effect to carry out, or the answer, after which it is done.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Effect(Effect),
    Answer(Outcome),
}

/// What an effect found.
// One of these per IAM round trip: their size does not matter, boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// Of [`Effect::Reads`]: each read's reply.
    Replies(Replies),
    Created(Result<RoleState, CreateRoleError>),
    /// `done`: every change that succeeded, even when another failed; `taken`: the
    /// CreatePolicy changes that found a policy of their name.
    Applied {
        done: Vec<Change>,
        taken: Vec<Change>,
        result: Result<(), IamError>,
    },
    /// Of [`Effect::Pause`].
    Paused,
    /// Of [`Effect::AwaitReady`]: whether IAM served the role as written before the deadline.
    Ready {
        served: bool,
    },
    /// Of [`Effect::ReadPassed`]: each role in the order asked (none when absent), and what the
    /// read beside it observed.
    Passed {
        roles: Vec<Result<Option<RoleState>, IamError>>,
        beside: Option<Box<Observation>>,
    },
    /// Of [`Effect::ReadOwnPolicies`]: the ARNs of the account's customer managed policies, the
    /// stack's status and resources when listed, and what the read beside them observed.
    OwnPolicies {
        policies: Result<Vec<String>, IamError>,
        stack: Option<Result<ListedStack, StacksError>>,
        beside: Option<Box<Observation>>,
    },
}

impl Observation {
    pub fn name(&self) -> &'static str {
        match self {
            Observation::Replies(_) => "read replies",
            Observation::Created(_) => "a CreateRole",
            Observation::Applied { .. } => "applied changes",
            Observation::Paused => "a pause",
            Observation::Passed { .. } => "the roles passed",
            Observation::Ready { .. } => "a role's readiness",
            Observation::OwnPolicies { .. } => "the account's policies",
        }
    }
}
