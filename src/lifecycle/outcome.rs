//! What an event's work comes to before it becomes CloudFormation's answer: SUCCESS with the
//! role's attributes, or FAILED of a class with a reason; and which PhysicalResourceId a failure
//! names, so that the rollback's Delete finds what a Create may have left.

use crate::cfn::answer::{PLACEHOLDER_PREFIX, Response, Status};
use crate::cfn::event::{Request, RequestType};
use crate::iam::{IamError, RoleState};
use crate::metrics::FailureClass;
use crate::plan::{Plan, PlanError};

/// Why the work failed: the class the metrics count, and the answer's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: FailureClass,
    pub reason: String,
}

impl Failure {
    pub fn new(class: FailureClass, reason: impl Into<String>) -> Failure {
        Failure {
            class,
            reason: reason.into(),
        }
    }

    /// The same failure, its reason rewritten.
    pub fn map_reason(self, rewrite: impl FnOnce(String) -> String) -> Failure {
        Failure {
            class: self.class,
            reason: rewrite(self.reason),
        }
    }
}

impl From<IamError> for Failure {
    fn from(error: IamError) -> Failure {
        let class = match error {
            IamError::ForeignPolicy { .. } | IamError::PolicyInUse { .. } => {
                FailureClass::Ownership
            }
            _ => FailureClass::Iam,
        };
        Failure::new(class, error.to_string())
    }
}

/// The guide for the people who declare and use persona roles: what each persona and activity
/// takes, and each refusal's fix. Reasons of their likely mistakes end with it.
pub const USER_GUIDE: &str = "docs/data-scientist.md";

impl From<PlanError> for Failure {
    fn from(error: PlanError) -> Failure {
        let (class, guide) = match error {
            PlanError::Guardrail(_) => (FailureClass::Guardrail, true),
            PlanError::Properties(_) => (FailureClass::InvalidProperties, true),
            PlanError::Quota(_) => (FailureClass::InvalidProperties, false),
        };
        let reason = match guide {
            true => format!("{error} (see persona-role's {USER_GUIDE})"),
            false => error.to_string(),
        };
        Failure::new(class, reason)
    }
}

/// The result of the work, before it becomes a [`Response`]: SUCCESS, or FAILED of a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub failure: Option<FailureClass>,
    pub physical_resource_id: String,
    pub reason: Option<String>,
    pub data: Vec<(String, String)>,
}

impl Outcome {
    pub fn failed(physical_resource_id: String, failure: Failure) -> Outcome {
        Outcome {
            failure: Some(failure.class),
            physical_resource_id,
            reason: Some(failure.reason),
            data: Vec::new(),
        }
    }

    pub fn success(physical_resource_id: String, data: Vec<(String, String)>) -> Outcome {
        Outcome {
            failure: None,
            physical_resource_id,
            reason: None,
            data,
        }
    }

    /// SUCCESS with the role's attributes for `Fn::GetAtt`.
    pub fn role(plan: &Plan, role: &RoleState) -> Outcome {
        Outcome::success(
            role.name.clone(),
            attributes(plan, &role.name, &role.arn, &role.role_id),
        )
    }

    pub fn into_response(self, request: &Request) -> Response {
        Response {
            status: if self.failure.is_some() {
                Status::Failed
            } else {
                Status::Success
            },
            reason: self.reason,
            physical_resource_id: self.physical_resource_id,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data: self.data,
        }
    }
}

/// What of the request a failed answer's PhysicalResourceId depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub request_type: RequestType,
    pub request_id: String,
    pub physical_resource_id: Option<String>,
}

impl Ids {
    pub fn of(request: &Request) -> Ids {
        Ids {
            request_type: request.request_type,
            request_id: request.request_id.clone(),
            physical_resource_id: request.physical_resource_id.clone(),
        }
    }

    /// The id the request names: an Update's or Delete's PhysicalResourceId, else a placeholder.
    pub fn requested(&self) -> String {
        self.physical_resource_id
            .clone()
            .unwrap_or_else(|| placeholder(&self.request_id))
    }

    /// The PhysicalResourceId of a failed answer. `at_stake` is a role the work may have made:
    /// a failed Create names it, so that the rollback's Delete removes it; an Update and a Delete
    /// keep the id they were given.
    pub fn failure_id(&self, at_stake: Option<&str>) -> String {
        match (self.request_type, at_stake) {
            (RequestType::Create, Some(role)) => role.to_owned(),
            _ => self.requested(),
        }
    }

    /// What a failed replacement must say: the new role it may have left, which nothing else
    /// names (the failed Update keeps the old id, and CloudFormation deletes only that).
    pub fn left_behind(&self, at_stake: Option<&str>) -> Option<String> {
        let role = at_stake?;
        (self.request_type == RequestType::Update
            && self.physical_resource_id.as_deref() != Some(role))
        .then(|| {
            format!("; role `{role}` may have been left behind: delete it by hand if it exists")
        })
    }

    /// FAILED, naming what [`Ids::failure_id`] and [`Ids::left_behind`] say.
    pub fn failed(&self, at_stake: Option<&str>, mut failure: Failure) -> Outcome {
        if let Some(note) = self.left_behind(at_stake) {
            failure.reason.push_str(&note);
        }
        Outcome::failed(self.failure_id(at_stake), failure)
    }
}

/// The PhysicalResourceId of a failed Create that owns no role: never a role name.
pub fn placeholder(request_id: &str) -> String {
    let id: String = request_id.chars().take(900).collect();
    format!("{PLACEHOLDER_PREFIX}{id}")
}

fn attributes(plan: &Plan, name: &str, arn: &str, role_id: &str) -> Vec<(String, String)> {
    vec![
        ("Arn".to_owned(), arn.to_owned()),
        ("RoleName".to_owned(), name.to_owned()),
        ("RoleId".to_owned(), role_id.to_owned()),
        ("PolicyArns".to_owned(), plan.all_attached_arns().join(",")),
        ("Activities".to_owned(), plan.activities.join(",")),
    ]
}

/// Refuses, before any change, a plan whose SUCCESS answer would not fit CloudFormation's
/// 4,096 bytes whole: a dropped attribute would fail every `Fn::GetAtt` on it. Long paths on many
/// managed policies are what makes `PolicyArns` that long.
pub fn check_answer_fits(plan: &Plan, request: &Request) -> Result<(), Failure> {
    // Role ids are 21 characters (AROA and 17 more).
    let probe = Outcome::success(
        plan.role.role_name.clone(),
        attributes(
            plan,
            &plan.role.role_name,
            &plan.role.arn,
            "AROA00000000000000000",
        ),
    )
    .into_response(request);
    let (_, trimmed) = probe.body();
    if trimmed.dropped_data.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        FailureClass::InvalidProperties,
        format!(
            "Path: the role's attributes ({}) would not fit CloudFormation's 4,096-byte answer with {} policies under path `{}`; use a shorter Path or fewer managed policies",
            trimmed.dropped_data.join(", "),
            plan.all_attached_arns().len(),
            plan.role.path
        ),
    ))
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use crate::plan::naming::role_name_of_id;

    #[test]
    fn invalid_properties_point_to_the_users_guide_which_exists() {
        let planned = crate::context::StackContext::from_stack_id(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/s/3f6a2c10-8b1e-11ef-9c4d-0a1b2c3d4e5f",
            "Role",
        )
        .map(|context| {
            crate::plan::plan_properties(&serde_json::json!({"Persona": "Nobody"}), &context)
        });
        let Ok(Err(error)) = planned else {
            panic!("an unknown persona is invalid: {planned:?}");
        };
        let failure = Failure::from(error);
        assert_eq!(failure.class, FailureClass::InvalidProperties);
        assert!(
            failure.reason.starts_with("Persona: "),
            "{}",
            failure.reason
        );
        assert!(
            failure
                .reason
                .ends_with(&format!("(see persona-role's {USER_GUIDE})"))
        );
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(USER_GUIDE)
                .is_file()
        );
    }

    fn ids(request_type: RequestType, physical: Option<&str>) -> Ids {
        Ids {
            request_type,
            request_id: "5f3c-11ee".to_owned(),
            physical_resource_id: physical.map(str::to_owned),
        }
    }

    #[test]
    fn placeholders_are_never_role_names() {
        let id = placeholder("5f3c-11ee");
        assert!(id.starts_with(PLACEHOLDER_PREFIX));
        assert_eq!(role_name_of_id(&id), None);
    }

    #[test]
    fn a_failure_names_what_its_rollback_must_remove() {
        // (request type, PhysicalResourceId, role at stake, id answered, left-behind note)
        let placeholder = placeholder("5f3c-11ee");
        for (request_type, physical, at_stake, id, note) in [
            (RequestType::Create, None, None, placeholder.as_str(), false),
            (
                RequestType::Create,
                None,
                Some("sagemaker-a"),
                "sagemaker-a",
                false,
            ),
            (
                RequestType::Update,
                Some("sagemaker-a"),
                None,
                "sagemaker-a",
                false,
            ),
            (
                RequestType::Update,
                Some("sagemaker-a"),
                Some("sagemaker-a"),
                "sagemaker-a",
                false,
            ),
            (
                RequestType::Update,
                Some("sagemaker-a"),
                Some("sagemaker-b"),
                "sagemaker-a",
                true,
            ),
            (
                RequestType::Delete,
                Some("sagemaker-a"),
                None,
                "sagemaker-a",
                false,
            ),
        ] {
            let ids = ids(request_type, physical);
            assert_eq!(
                ids.failure_id(at_stake),
                id,
                "{request_type:?} {at_stake:?}"
            );
            assert_eq!(
                ids.left_behind(at_stake).is_some(),
                note,
                "{request_type:?} {at_stake:?}"
            );
            let failed = ids.failed(at_stake, Failure::new(FailureClass::Iam, "denied"));
            assert_eq!(failed.physical_resource_id, id);
            assert_eq!(
                failed
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains("left behind")),
                note
            );
        }
    }
}
