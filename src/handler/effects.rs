//! Carries out the lifecycle machine's effects over any [`Iam`] (and [`Stacks`], for the stack's
//! resources): each effect is one read or one application of changes in `iam::state`, and comes
//! back as what it observed. Nothing here decides; the machine does.

use futures_util::future::join;

use crate::iam::Iam;
use crate::iam::state;
use crate::iam::waves::concurrently;
use crate::lifecycle::{Effect, Observation, PolicyUse};
use crate::ownership::Owner;
use crate::stack_check::{self, Stacks};

/// Carries out one effect and returns what it observed.
pub async fn carry_out<I: Iam, S: Stacks>(
    iam: &I,
    stacks: &S,
    owner: &Owner,
    effect: Effect,
) -> Observation {
    match effect {
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
                        Box::pin(carry_out(iam, stacks, owner, *effect)).await,
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
                        Box::pin(carry_out(iam, stacks, owner, *effect)).await,
                    )),
                    None => None,
                }
            };
            let stack = async {
                match list_stack {
                    true => Some(stack_check::list_stack(stacks, &owner.stack_id).await),
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
        Effect::Read { roles, policies } => {
            let (found, policies) = join(
                concurrently(roles.iter().map(|name| iam.get_role(name))),
                state::planned_policies(iam, &policies, owner),
            )
            .await;
            Observation::Read {
                roles: found.into_iter().collect(),
                policies,
            }
        }
        Effect::ReadWhole { plan, role } => {
            let (role, actual) = state::read_whole(iam, &plan, &role, owner).await;
            Observation::Whole { role, actual }
        }
        Effect::CreateRole { plan } => Observation::Created(iam.create_role(&plan.role).await),
        Effect::Apply { role, changes } => {
            let mut done = Vec::new();
            let result = state::apply(iam, &role, &changes, owner, &mut done).await;
            Observation::Applied { done, result }
        }
        Effect::Converge { plan, role } => {
            Observation::Converged(state::converge(iam, &plan, role, owner).await)
        }
        Effect::ConvergeFrom { plan, actual } => {
            Observation::Converged(state::converge_from(iam, &plan, *actual, owner).await)
        }
        Effect::ListAttached { role } => Observation::Attached(
            iam.attached_policy_arns(&role)
                .await
                .map(|arns| arns.into_iter().collect()),
        ),
        Effect::ReadPolicyUse { role, arns } => {
            let found = concurrently(
                arns.iter()
                    .map(|arn| join(iam.other_attachments(arn, &role), iam.get_policy(arn))),
            )
            .await;
            Observation::PolicyUse(
                arns.into_iter()
                    .zip(found)
                    .map(|(arn, (others, policy))| {
                        Ok(PolicyUse {
                            arn,
                            others: others?,
                            policy: policy?,
                        })
                    })
                    .collect(),
            )
        }
        Effect::Undo { role, done } => {
            Observation::Done(state::undo_create(iam, &role, &done, owner).await)
        }
        Effect::Sweep { role, policies } => {
            Observation::Done(state::sweep_planned(iam, &role, &policies, owner).await)
        }
        Effect::Teardown { role } => {
            Observation::TornDown(state::delete_role(iam, role, owner).await)
        }
        Effect::ReadTeardown { role, path } => {
            let (role, changes) = state::read_teardown(iam, &role, &path, owner).await;
            Observation::Teardown { role, changes }
        }
        Effect::TeardownNamed { role } => {
            Observation::TornDown(state::delete_role_named(iam, &role, owner).await)
        }
    }
}
