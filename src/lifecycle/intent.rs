//! What a request asks for, read once from its raw properties: the plan of a Create or Update;
//! for a Delete, the role it is about and whether to keep it. Nothing after this reads the
//! properties again.

use std::sync::Arc;

use serde_json::Value;

use super::outcome::{Failure, check_answer_fits};
use crate::cfn::event::{Request, RequestType};
use crate::context::StackContext;
use crate::guardrails::Guardrails;
use crate::metrics::FailureClass;
use crate::plan::{self, Plan};
use crate::properties::table;

/// What a request asks for.
#[derive(Debug, Clone)]
pub enum Intent {
    Create {
        plan: Arc<Plan>,
    },
    /// `current` is the PhysicalResourceId: the role the resource has now.
    Update {
        current: String,
        plan: Arc<Plan>,
    },
    Delete(DeleteIntent),
}

/// What a Delete is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteIntent {
    /// The PhysicalResourceId, which the answer repeats.
    pub id: String,
    /// The role to look at ([`super::delete_targets`]), and whether the id names it (rather
    /// than the properties); none when the id cannot be a role of this resource.
    pub target: Option<(String, bool)>,
    /// The role's path as the properties declare it, where its own policies are listed beside
    /// the role's read (listed again if the role is elsewhere).
    pub path: String,
    /// `RetainOnDelete`: the role stays.
    pub retain: bool,
}

/// Reads a request's intent: plans a Create or Update (with the operator's guardrails, and
/// refusing a plan whose answer would not fit); reads a Delete's target from its id and
/// `RoleNameSuffix` alone, so that a Delete whose properties no longer plan still finds its role.
pub fn intent(request: &Request, guardrails: &Guardrails) -> Result<Intent, Failure> {
    let context = StackContext::from_stack_id(&request.stack_id, &request.logical_resource_id)
        .map_err(|e| Failure::new(FailureClass::InvalidRequest, format!("StackId: {e}")))?;
    let plan = || -> Result<Arc<Plan>, Failure> {
        let plan = plan::plan_guarded(&request.properties, &context, guardrails)?;
        check_answer_fits(&plan, request)?;
        for warning in &plan.warnings {
            tracing::warn!(warning = %warning, "properties");
        }
        Ok(Arc::new(plan))
    };
    Ok(match request.request_type {
        RequestType::Create => Intent::Create { plan: plan()? },
        RequestType::Update => Intent::Update {
            current: requested_id(request),
            plan: plan()?,
        },
        RequestType::Delete => Intent::Delete(delete_intent(request, &context)),
    })
}

fn requested_id(request: &Request) -> String {
    super::outcome::Ids::of(request).requested()
}

fn delete_intent(request: &Request, context: &StackContext) -> DeleteIntent {
    let id = requested_id(request);
    let suffix = request
        .properties
        .get(table::ROLE_NAME_SUFFIX.name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let planned = plan::naming::role_name(suffix, context);
    let target = super::delete_targets(&id, Some(&planned))
        .into_iter()
        .next()
        .map(|name| {
            let named = name == id;
            (name, named)
        });
    let retain = match request.properties.get(table::RETAIN_ON_DELETE.name) {
        Some(Value::Bool(retain)) => *retain,
        Some(Value::String(text)) => text == "true",
        _ => false,
    };
    let path = request
        .properties
        .get(table::PATH.name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_owned();
    DeleteIntent {
        id,
        target,
        path,
        retain,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delete(physical: &str, properties: Value) -> DeleteIntent {
        let request = Request {
            request_type: RequestType::Delete,
            request_id: "r-1".to_owned(),
            response_url: String::new(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/ml/0a1b".to_owned(),
            logical_resource_id: "Role".to_owned(),
            physical_resource_id: Some(physical.to_owned()),
            properties,
            old_properties: None,
            service_timeout: None,
        };
        match intent(&request, &Guardrails::default()).unwrap() {
            Intent::Delete(intent) => intent,
            other => panic!("not a Delete: {other:?}"),
        }
    }

    #[test]
    fn a_delete_reads_its_target_and_retention_alone() {
        // (PhysicalResourceId, properties, target, named, retain)
        for (id, properties, target, named, retain) in [
            ("sagemaker-ds", json!({}), Some("sagemaker-ds"), true, false),
            (
                "sagemaker-ds",
                json!({"RetainOnDelete": "true", "Persona": 7}),
                Some("sagemaker-ds"),
                true,
                true,
            ),
            (
                "sagemaker-ds",
                json!({"RetainOnDelete": true}),
                Some("sagemaker-ds"),
                true,
                true,
            ),
            (
                "sagemaker-ds",
                json!({"RetainOnDelete": "yes"}),
                Some("sagemaker-ds"),
                true,
                false,
            ),
            // A made-up id: the role the properties plan, found by its name.
            (
                "ml-Role-1X2Y3Z",
                json!({"RoleNameSuffix": " ds "}),
                Some("sagemaker-ds"),
                false,
                false,
            ),
        ] {
            let intent = delete(id, properties.clone());
            assert_eq!(intent.id, id);
            assert_eq!(
                intent.target.as_ref().map(|(t, n)| (t.as_str(), *n)),
                target.map(|t| (t, named)),
                "{id} {properties}"
            );
            assert_eq!(intent.retain, retain, "{id} {properties}");
        }
    }
}
