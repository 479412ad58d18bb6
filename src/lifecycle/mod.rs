//! The custom resource's lifecycle, decided without AWS or time: what a request asks for
//! ([`intent`]), the one [`Step`] from what CloudFormation asks, what the properties plan and the
//! role as IAM holds it ([`decide`], tested as a table below), the machine that walks a request
//! from its first read to its answer ([`machine`], tested as rows in `rows.rs`), its IAM
//! procedures — applying changes, converging, tearing down ([`procedures`]) — and which policies
//! are a role's own ([`own`]), and what the answer says ([`outcome`]). `handler` carries the
//! machine's effects out.

pub mod effect;
pub mod intent;
pub mod limits;
pub mod machine;
pub mod outcome;
pub mod own;
pub mod passing;
pub mod procedures;
#[cfg(test)]
mod rows;

pub use effect::{Effect, Next, Observation};
pub use intent::{DeleteIntent, Intent, intent};
pub use machine::Machine;
pub use outcome::{Failure, Ids, Outcome, placeholder};

use crate::metrics::FailureClass;
use crate::ownership::{Claim, Owner, role_not_ours, was_adopted};
use crate::plan::naming::role_name_of_id;
use crate::properties::ROLE_NAME_PREFIX;

/// What CloudFormation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `adopt`: the properties allow taking over a role no stack owns (`AdoptExistingRole`).
    Create { adopt: bool },
    /// `current` is the PhysicalResourceId: the role the resource has now.
    Update { current: &'a str },
    /// `id` is the role to delete; `named`: the PhysicalResourceId names it, rather than the
    /// Delete's properties (a made-up id or a failed Create's placeholder).
    Delete { id: &'a str, named: bool },
}

/// The role IAM holds under the name a step is about, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    Absent,
    /// `adopted`: the role existed before its stack took it over.
    Role {
        claim: Claim,
        path: &'a str,
        adopted: bool,
    },
}

impl<'a> Found<'a> {
    /// Reads the claim of `owner` on a role's tags.
    pub fn role(
        owner: &Owner,
        tags: &std::collections::BTreeMap<String, String>,
        path: &'a str,
    ) -> Self {
        Found::Role {
            claim: owner.claim(tags),
            path,
            adopted: was_adopted(tags),
        }
    }
}

/// One step of the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the planned role and its policies.
    Create,
    /// Create the planned role again: this resource's role is gone (deleted by hand).
    Recreate,
    /// Create the role under its new name; CloudFormation deletes the old one afterwards.
    Replace { old: String },
    /// The planned role exists and is this resource's own: bring it to the plan in place.
    Converge,
    /// The planned role exists and no stack owns it, and the properties allow taking it over:
    /// tag it as this resource's, then converge it in place (same RoleId and ARN).
    Adopt,
    /// Delete this resource's role with everything it owns.
    Teardown { role: String },
    /// Nothing to do: success.
    Nothing { why: &'static str },
    /// Refuse: FAILED with this reason, nothing changed.
    Refuse { class: FailureClass, reason: String },
}

/// The name a Delete must look at: the PhysicalResourceId when it can be this resource's role;
/// otherwise the name the Delete's ResourceProperties plan. When a Create never answered
/// (timeout, out of memory), CloudFormation deletes with an id it made up; the role that Create
/// may have made is found by its planned name, and removed only if its ownership tags name this
/// resource. A real id is never second-guessed by the properties, which may plan the name of
/// the resource's current role.
pub fn delete_targets(id: &str, planned: Option<&str>) -> Vec<String> {
    role_name_of_id(id)
        .or_else(|| planned.and_then(role_name_of_id))
        .map(str::to_owned)
        .into_iter()
        .collect()
}

/// The name as Role Manager's console capitalised it (`SageMaker-…`), when it differs.
pub fn console_name(name: &str) -> Option<String> {
    let suffix = name.strip_prefix(ROLE_NAME_PREFIX)?;
    Some(format!("SageMaker-{suffix}"))
}

/// Whether a role has the shape SageMaker Role Manager's console gives the roles it makes:
/// `SageMaker-…` under `/service-role/`. Only such roles are adopted unless the operator widens
/// adoption (`AdoptionScope`); a hand-made `sagemaker-prod-admin` is not the console's.
pub fn made_by_role_manager(name: &str, path: &str) -> bool {
    path == "/service-role/"
        && name
            .get(..ROLE_NAME_PREFIX.len())
            .is_some_and(|prefix| prefix == "SageMaker-" || prefix == ROLE_NAME_PREFIX)
}

/// Why an unowned role is not adopted under `AdoptionScope=RoleManagerRoles`.
pub fn not_role_managers(name: &str, path: &str) -> String {
    format!(
        "AdoptExistingRole: role `{name}` at path `{path}` is not shaped as SageMaker Role Manager's console makes roles (`SageMaker-…` under `/service-role/`); it was left unchanged. Choose another RoleNameSuffix, or deploy the function's stack with AdoptionScope=AnyUnownedRole to adopt it"
    )
}

/// The step for a request, given the planned role's name and path (absent for a Delete) and what
/// IAM holds under the name the request is about: the planned name for Create and Update, the
/// target id for Delete.
pub fn decide(request: Request<'_>, planned: Option<(&str, &str)>, found: Found<'_>) -> Step {
    match (request, planned) {
        (Request::Delete { id, named }, _) => match found {
            Found::Absent => Step::Nothing {
                why: "role already gone",
            },
            // The stack never held this role under its id: an adoption that failed or never
            // answered. The role existed before; it stays.
            Found::Role {
                claim: Claim::Ours,
                adopted: true,
                ..
            } if !named => Step::Nothing {
                why: "role was adopted, but no answer named it: left in place",
            },
            Found::Role {
                claim: Claim::Ours, ..
            } => Step::Teardown {
                role: id.to_owned(),
            },
            Found::Role { .. } => Step::Nothing {
                why: "role is not managed by this resource: left untouched",
            },
        },
        (_, None) => Step::Refuse {
            class: FailureClass::Internal,
            reason: "internal error: no plan for a Create or Update".to_owned(),
        },
        (Request::Create { adopt }, Some((name, _))) => create(name, found, Step::Create, adopt),
        // Role names are unique ignoring case (an adopted console role keeps its `SageMaker-`).
        (Request::Update { current }, Some((name, _))) if !name.eq_ignore_ascii_case(current) => {
            create(
                name,
                found,
                Step::Replace {
                    old: current.to_owned(),
                },
                false,
            )
        }
        (Request::Update { .. }, Some((name, path))) => match found {
            Found::Absent => Step::Recreate,
            Found::Role {
                claim: Claim::Ours,
                path: actual,
                ..
            } if actual != path => Step::Refuse {
                class: FailureClass::InvalidProperties,
                reason: path_change(actual, path),
            },
            Found::Role {
                claim: Claim::Ours, ..
            } => Step::Converge,
            Found::Role { .. } => Step::Refuse {
                class: FailureClass::Ownership,
                reason: role_not_ours(name),
            },
        },
    }
}

/// Why a role's path cannot change in place. IAM has no call for it, and deleting and re-creating
/// the role under its name would give it a new RoleId (trust and bucket policies that name the
/// old one dangle), drop it from instance profiles and interrupt the jobs using it.
fn path_change(from: &str, to: &str) -> String {
    format!(
        "Path: the role's path cannot change in place (from `{from}` to `{to}`): IAM cannot move a role, and re-creating it would change its RoleId and interrupt what uses it; give a new RoleNameSuffix together with the new Path to replace the role, or keep the Path"
    )
}

/// Creating `name`: `fresh` when it is absent, in place when it is already ours (a redelivered
/// Create, a rollback to an earlier name), taken over when no stack owns it and `adopt` allows,
/// refused when anyone else holds it.
fn create(name: &str, found: Found<'_>, fresh: Step, adopt: bool) -> Step {
    match found {
        Found::Absent => fresh,
        Found::Role {
            claim: Claim::Ours, ..
        } => Step::Converge,
        Found::Role {
            claim: Claim::Unclaimed,
            ..
        } if adopt => Step::Adopt,
        Found::Role {
            claim: Claim::Unclaimed,
            ..
        } => Step::Refuse {
            class: FailureClass::Ownership,
            reason: format!(
                "{}; choose another RoleNameSuffix, or set AdoptExistingRole: true to take the role over",
                role_not_ours(name)
            ),
        },
        Found::Role { .. } => Step::Refuse {
            class: FailureClass::Ownership,
            reason: format!("{}; choose another RoleNameSuffix", role_not_ours(name)),
        },
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    const NAME: &str = "sagemaker-ds";
    const OLD: &str = "sagemaker-old";

    #[test]
    fn only_the_consoles_name_and_path_are_role_managers() {
        for (name, path, console) in [
            ("SageMaker-TheDataScientist", "/service-role/", true),
            ("sagemaker-TheDataScientist", "/service-role/", true),
            ("SageMaker-TheDataScientist", "/", false),
            ("sagemaker-prod-admin", "/", false),
            ("SageMaker-x", "/service-role/team/", false),
            ("SAGEMAKER-x", "/service-role/", false),
            ("AmazonSageMaker-ExecutionRole-1", "/service-role/", false),
        ] {
            assert_eq!(made_by_role_manager(name, path), console, "{path}{name}");
        }
    }

    fn ours(path: &str) -> Found<'_> {
        Found::Role {
            claim: Claim::Ours,
            path,
            adopted: false,
        }
    }

    fn adopted() -> Found<'static> {
        Found::Role {
            claim: Claim::Ours,
            path: "/service-role/",
            adopted: true,
        }
    }

    fn held(claim: Claim) -> Found<'static> {
        Found::Role {
            claim,
            path: "/",
            adopted: false,
        }
    }

    fn refused(step: &Step) -> bool {
        matches!(step, Step::Refuse { class: FailureClass::Ownership, reason } if reason.contains("not managed by this resource"))
    }

    #[test]
    fn the_lifecycle_table() {
        let planned = Some((NAME, "/"));
        let update = Request::Update { current: NAME };
        let rename = Request::Update { current: OLD };
        let delete = Request::Delete {
            id: NAME,
            named: true,
        };
        let delete_by_properties = Request::Delete {
            id: NAME,
            named: false,
        };
        let create = Request::Create { adopt: false };
        let rows: Vec<(&str, Request<'_>, Found<'_>, Step)> = vec![
            ("create, nothing there", create, Found::Absent, Step::Create),
            ("create delivered twice", create, ours("/"), Step::Converge),
            (
                "create adopting an unowned role",
                Request::Create { adopt: true },
                held(Claim::Unclaimed),
                Step::Adopt,
            ),
            (
                "adopting never takes another stack's role",
                Request::Create { adopt: true },
                held(Claim::Other),
                Step::Refuse {
                    class: FailureClass::Ownership,
                    reason: format!("{}; choose another RoleNameSuffix", role_not_ours(NAME)),
                },
            ),
            (
                "an adopted console role keeps its capitalised name",
                Request::Update {
                    current: "SageMaker-ds",
                },
                ours("/"),
                Step::Converge,
            ),
            ("update in place", update, ours("/"), Step::Converge),
            (
                "update, role deleted by hand",
                update,
                Found::Absent,
                Step::Recreate,
            ),
            (
                "update to a new path alone",
                update,
                ours("/old/"),
                Step::Refuse {
                    class: FailureClass::InvalidProperties,
                    reason: path_change("/old/", "/"),
                },
            ),
            (
                "update to a new name",
                rename,
                Found::Absent,
                Step::Replace {
                    old: OLD.to_owned(),
                },
            ),
            (
                "rollback to an earlier name",
                rename,
                ours("/"),
                Step::Converge,
            ),
            (
                "delete own role",
                delete,
                ours("/"),
                Step::Teardown {
                    role: NAME.to_owned(),
                },
            ),
            (
                "delete own role, found by the properties",
                delete_by_properties,
                ours("/"),
                Step::Teardown {
                    role: NAME.to_owned(),
                },
            ),
            (
                "delete an adopted role its answer named",
                delete,
                adopted(),
                Step::Teardown {
                    role: NAME.to_owned(),
                },
            ),
            (
                "an adoption that failed or never answered keeps the role",
                delete_by_properties,
                adopted(),
                Step::Nothing {
                    why: "role was adopted, but no answer named it: left in place",
                },
            ),
            (
                "delete, already gone",
                delete,
                Found::Absent,
                Step::Nothing {
                    why: "role already gone",
                },
            ),
        ];
        for (what, request, found, step) in rows {
            let planned = if matches!(request, Request::Delete { .. }) {
                None
            } else {
                planned
            };
            assert_eq!(decide(request, planned, found), step, "{what}");
        }
    }

    #[test]
    fn a_role_held_by_anyone_else_is_refused_or_left_alone() {
        let planned = Some((NAME, "/"));
        for claim in [Claim::Other, Claim::Unclaimed] {
            for request in [
                Request::Create { adopt: false },
                Request::Update { current: NAME },
                Request::Update { current: OLD },
            ] {
                let step = decide(request, planned, held(claim));
                assert!(refused(&step), "{request:?} {claim:?}: {step:?}");
            }
            assert!(matches!(
                decide(
                    Request::Delete {
                        id: NAME,
                        named: true
                    },
                    None,
                    held(claim)
                ),
                Step::Nothing { .. }
            ));
        }
        // A Create is told how to get out of the clash.
        let Step::Refuse { reason, .. } = decide(
            Request::Create { adopt: false },
            planned,
            held(Claim::Other),
        ) else {
            panic!("refused");
        };
        assert!(reason.contains("choose another RoleNameSuffix"), "{reason}");
    }

    #[test]
    fn a_delete_looks_at_its_id_and_at_the_role_its_properties_plan() {
        assert_eq!(delete_targets(NAME, Some(NAME)), [NAME]);
        assert_eq!(delete_targets(NAME, None), [NAME]);
        // The rollback of a Create that never answered: an id CloudFormation made up.
        assert_eq!(
            delete_targets("ml-personas-DataScientist-1X2Y3Z4W5V6U", Some(NAME)),
            [NAME]
        );
        // A failed Create's placeholder.
        assert_eq!(
            delete_targets("persona-role:failed:r-1", Some(NAME)),
            [NAME]
        );
        // A real id is the one deleted, whatever the properties plan.
        assert_eq!(delete_targets(OLD, Some(NAME)), [OLD]);
        assert_eq!(
            delete_targets("ml-personas-DataScientist-1X2Y3Z4W5V6U", None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn placeholders_and_made_up_ids_name_no_role() {
        assert_eq!(role_name_of_id(NAME), Some(NAME));
        assert_eq!(
            role_name_of_id("ml-personas-DataScientist-1X2Y3Z4W5V6U"),
            None
        );
        assert_eq!(role_name_of_id("persona-role:failed:5f3c-11ee"), None);
        assert_eq!(role_name_of_id(""), None);
        assert_eq!(role_name_of_id(&"a".repeat(65)), None);
        assert_eq!(role_name_of_id("ml-roles-DataScientist-ABCDEF/x"), None);
    }
}
