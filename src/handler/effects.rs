//! Carries out the lifecycle machine's effects over any [`Iam`] (and [`Stacks`], for the stack's
//! resources): each effect is a batch of reads or one application of changes as given (both in
//! `iam::state`), CreateRole, or the wait for a new role's readiness, and comes back as what it
//! observed. Nothing here decides; the machine does.

use futures_util::future::join;
use serde_json::Value;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::aws::Op;
use crate::cfn::stack_check::{self, Stacks};
use crate::iam::state;
use crate::iam::waves::concurrently;
use crate::iam::{Actual, Iam, IamError, RoleState};
use crate::lifecycle::procedures::{Progress, WholeRead};
use crate::lifecycle::{Effect, Observation};
use crate::ownership::Owner;
use crate::plan::Plan;

/// Carries out one effect and returns what it observed; `stack_id`: the event's stack, listed
/// when the effect asks for it. `until`: what waits (a role's
/// readiness) ends by then, leaving the handler time to answer.
pub async fn carry_out<I: Iam, S: Stacks>(
    iam: &I,
    stacks: &S,
    stack_id: &str,
    effect: Effect,
    until: Instant,
) -> Observation {
    match effect {
        Effect::AwaitReady {
            role,
            trust,
            settle,
        } => Observation::Ready {
            served: await_ready(iam, &role, &trust, settle, until).await,
        },
        Effect::ReadPassed {
            roles,
            pause,
            beside,
        } => {
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
            let beside = async {
                match beside {
                    // Boxed: an effect's future would otherwise contain itself.
                    Some(effect) => Some(Box::new(
                        Box::pin(carry_out(iam, stacks, stack_id, *effect, until)).await,
                    )),
                    None => None,
                }
            };
            let (roles, beside) = join(
                concurrently(roles.iter().map(|name| iam.get_role(name))),
                beside,
            )
            .await;
            Observation::Passed { roles, beside }
        }
        Effect::ReadOwnPolicies { list_stack, beside } => {
            let beside = async {
                match beside {
                    Some(effect) => Some(Box::new(
                        Box::pin(carry_out(iam, stacks, stack_id, *effect, until)).await,
                    )),
                    None => None,
                }
            };
            let stack = async {
                match list_stack {
                    true => Some(stack_check::list_stack(stacks, stack_id).await),
                    false => None,
                }
            };
            // Every customer managed policy of the account: own policies share their role's
            // path, and the stack's roles may have any.
            let (policies, stack, beside) = tokio::join!(iam.local_policy_arns("/"), stack, beside);
            Observation::OwnPolicies {
                policies,
                stack,
                beside,
            }
        }
        Effect::Pause(pause) => {
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(pause.min(left)).await;
            Observation::Paused
        }
        Effect::Reads(reads) => Observation::Replies(state::read(iam, &reads).await),
        Effect::CreateRole { plan } => Observation::Created(iam.create_role(&plan.role).await),
        Effect::Apply { role, changes } => {
            let applied = state::apply(iam, &role, &changes).await;
            Observation::Applied {
                done: applied.done,
                taken: applied.taken,
                result: applied.result,
            }
        }
    }
}

/// Pauses between reads of a role not served as written yet.
const READY_READS: [Duration; 6] = [
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
    Duration::from_millis(3200),
    Duration::from_millis(6400),
];

/// Reads the role until IAM serves it with `trust` (pausing longer each time, the last pause
/// repeating), then waits `settle`; all of it before `until`. Whether it was served.
async fn await_ready<I: Iam>(
    iam: &I,
    role: &str,
    trust: &Value,
    settle: Duration,
    until: Instant,
) -> bool {
    let mut pauses = READY_READS.iter().chain(std::iter::repeat(&READY_READS[5]));
    let waited = Instant::now();
    let served = loop {
        match iam.get_role(role).await {
            Ok(Some(read)) if read.trust == *trust => break true,
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "reading the new role back failed"),
        }
        let pause = pauses.next().copied().unwrap_or(Duration::from_secs(1));
        if Instant::now() + pause >= until {
            break false;
        }
        tokio::time::sleep(pause).await;
    };
    if served {
        let settled = (Instant::now() + settle).min(until);
        tokio::time::sleep_until(settled.into()).await;
    }
    tracing::info!(
        role,
        served,
        waited_ms = u64::try_from(waited.elapsed().as_millis()).unwrap_or(u64::MAX),
        "waited for the role to be usable"
    );
    served
}

/// A role's actual state for its plan, read as a convergence reads it ([`WholeRead`]): for
/// checking a role against its plan from outside the lifecycle.
pub async fn read_actual<I: Iam>(
    iam: &I,
    plan: Arc<Plan>,
    role: RoleState,
    owner: &Owner,
) -> Result<Actual, IamError> {
    let (mut read, mut effect) = WholeRead::start(plan, role);
    loop {
        let Effect::Reads(reads) = &effect else {
            return Err(IamError::Incomplete {
                operation: Op::GetRole,
                target: String::new(),
                what: "a read of the role whole",
            });
        };
        let observation = Observation::Replies(state::read(iam, reads).await);
        match read.on(owner, observation) {
            Progress::Effect(next) => effect = next,
            Progress::Done(actual) => return actual,
            Progress::OutOfTurn(what) => {
                return Err(IamError::Incomplete {
                    operation: Op::GetRole,
                    target: String::new(),
                    what,
                });
            }
        }
    }
}
