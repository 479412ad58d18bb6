//! Catalog statements → IAM policy JSON, scoped to the stack's partition, account and regions.

use serde_json::{Map, Value, json};

use crate::catalog::{self, ActivityIndex, Condition, Param, Resource, Scope, Statement, When};
use crate::context::StackContext;
use crate::properties::Properties;

pub const POLICY_VERSION: &str = "2012-10-17";
pub const SAGEMAKER_PRINCIPAL: &str = "sagemaker.amazonaws.com";

/// A rendered statement and its statement id.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub sid: String,
    pub statement: Value,
}

/// Every statement of the selected activities, in catalog order. A statement that grants
/// exactly what an earlier one grants (activities share PassRole, key grant and log statements)
/// is written once, under the earlier statement's id.
pub fn statements(properties: &Properties, context: &StackContext) -> Vec<Rendered> {
    let mut out = Vec::new();
    let mut seen: Vec<Map<String, Value>> = Vec::new();
    for &index in &properties.activities {
        let activity = catalog::activity(index);
        let scope = Renderer {
            properties,
            context,
            activity: index,
        };
        for statement in activity.statements {
            if !scope.applies(statement.when) {
                continue;
            }
            if let Some(rendered) = scope.statement(statement) {
                if seen.contains(&rendered) {
                    continue;
                }
                seen.push(rendered.clone());
                let sid = format!("{}{}", activity.sid, statement.sid);
                out.push(Rendered {
                    statement: with_sid(&sid, rendered),
                    sid,
                });
            }
        }
    }
    out
}

/// The trust policy: SageMaker may assume the role, only on behalf of the stack's account
/// (the console's confused-deputy guard).
pub fn trust_policy(properties: &Properties, context: &StackContext) -> Value {
    let source_arns: Vec<String> = regions(properties)
        .iter()
        .map(|region| {
            format!(
                "arn:{}:sagemaker:{region}:{}:*",
                context.partition, context.account
            )
        })
        .collect();
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": SAGEMAKER_PRINCIPAL},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:SourceArn": one_or_many(source_arns)}}
        }]
    })
}

pub fn document(statements: Vec<Value>) -> Value {
    json!({"Version": POLICY_VERSION, "Statement": statements})
}

/// Regions in ARNs: each of `Regions`, or `*`.
fn regions(properties: &Properties) -> Vec<String> {
    if properties.regions.is_empty() {
        vec!["*".to_owned()]
    } else {
        properties.regions.clone()
    }
}

fn with_sid(sid: &str, statement: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("Sid".to_owned(), Value::String(sid.to_owned()));
    out.extend(statement);
    Value::Object(out)
}

/// A single value as a string, several as a list: IAM accepts both, and the single form is
/// what people write.
fn one_or_many(mut values: Vec<String>) -> Value {
    if values.len() == 1 {
        Value::String(values.remove(0))
    } else {
        Value::Array(values.into_iter().map(Value::String).collect())
    }
}

struct Renderer<'a> {
    properties: &'a Properties,
    context: &'a StackContext,
    activity: ActivityIndex,
}

impl Renderer<'_> {
    fn param(&self, param: Param) -> &[String] {
        self.properties.param(self.activity, param)
    }

    fn vpc(&self) -> bool {
        self.properties.vpc(self.activity)
    }

    fn kms(&self) -> bool {
        self.properties.kms(self.activity)
    }

    fn applies(&self, when: When) -> bool {
        match when {
            When::Always => true,
            When::Vpc => self.vpc(),
            When::NoVpc => !self.vpc(),
            When::Kms => self.kms(),
            When::NoKms => !self.kms(),
            When::Given(param) => !self.param(param).is_empty(),
            When::NotGiven(param) => self.param(param).is_empty(),
        }
    }

    fn statement(&self, statement: &Statement) -> Option<Map<String, Value>> {
        let mut resources: Vec<String> = Vec::new();
        for resource in statement.resources {
            for arn in self.resource(resource) {
                if !resources.contains(&arn) {
                    resources.push(arn);
                }
            }
        }
        if resources.is_empty() {
            return None;
        }
        let mut actions: Vec<String> = statement.actions.iter().map(|a| (*a).to_owned()).collect();
        actions.sort();
        let mut out = Map::new();
        out.insert("Effect".to_owned(), Value::String("Allow".to_owned()));
        out.insert("Action".to_owned(), one_or_many(actions));
        out.insert("Resource".to_owned(), one_or_many(resources));
        let conditions = self.conditions(statement.conditions);
        if !conditions.is_empty() {
            out.insert("Condition".to_owned(), Value::Object(conditions));
        }
        Some(out)
    }

    fn resource(&self, resource: &Resource) -> Vec<String> {
        let partition = self.context.partition;
        let account = &self.context.account;
        match resource {
            Resource::Any => vec!["*".to_owned()],
            Resource::Given(param) => self.param(*param).to_vec(),
            Resource::Arn {
                service,
                scope,
                path,
                each,
            } => {
                let paths: Vec<String> = match each {
                    None => vec![(*path).to_owned()],
                    Some(param) => self
                        .param(*param)
                        .iter()
                        .map(|value| path.replace("{}", value))
                        .collect(),
                };
                let prefixes: Vec<String> = match scope {
                    Scope::Global => vec![format!("arn:{partition}:{service}:::")],
                    Scope::Account => vec![format!("arn:{partition}:{service}::{account}:")],
                    Scope::Regional => regions(self.properties)
                        .iter()
                        .map(|region| format!("arn:{partition}:{service}:{region}:{account}:"))
                        .collect(),
                };
                prefixes
                    .iter()
                    .flat_map(|prefix| paths.iter().map(move |path| format!("{prefix}{path}")))
                    .collect()
            }
        }
    }

    fn conditions(&self, conditions: &[Condition]) -> Map<String, Value> {
        let mut out: Map<String, Value> = Map::new();
        let mut add = |operator: &str, key: &str, values: Vec<String>| {
            let entry = out
                .entry(operator.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(keys) = entry {
                keys.insert(key.to_owned(), one_or_many(values));
            }
        };
        for condition in conditions {
            match condition {
                Condition::PassedToService(service) => {
                    add(
                        "StringEquals",
                        "iam:PassedToService",
                        vec![(*service).to_owned()],
                    );
                }
                Condition::VpcSubnets | Condition::VpcSecurityGroups if self.vpc() => {
                    let (key, param) = if *condition == Condition::VpcSubnets {
                        ("sagemaker:VpcSubnets", Param::VpcSubnets)
                    } else {
                        ("sagemaker:VpcSecurityGroupIds", Param::VpcSecurityGroups)
                    };
                    // ForAllValues alone passes when the request names no subnets at all.
                    add("ForAllValues:StringEquals", key, self.param(param).to_vec());
                    add("Null", key, vec!["false".to_owned()]);
                }
                Condition::VolumeKmsKeyArn if self.kms() => {
                    add(
                        "ArnEquals",
                        "sagemaker:VolumeKmsKeyArn",
                        self.param(Param::VolumeKmsKeys).to_vec(),
                    );
                }
                Condition::OutputKmsKeyArn if self.kms() => {
                    add(
                        "ArnEquals",
                        "sagemaker:OutputKmsKeyArn",
                        self.param(Param::DataKmsKeys).to_vec(),
                    );
                }
                Condition::LocalStorageInstances if self.kms() => {
                    add("Null", "sagemaker:VolumeKmsKeyArn", vec!["true".to_owned()]);
                    // ForAllValues alone passes when the request names no instance type.
                    add(
                        "ForAllValues:StringLike",
                        "sagemaker:InstanceTypes",
                        catalog::LOCAL_STORAGE_INSTANCE_TYPES
                            .iter()
                            .map(|t| (*t).to_owned())
                            .collect(),
                    );
                    add("Null", "sagemaker:InstanceTypes", vec!["false".to_owned()]);
                }
                Condition::VpcSubnets
                | Condition::VpcSecurityGroups
                | Condition::VolumeKmsKeyArn
                | Condition::OutputKmsKeyArn
                | Condition::LocalStorageInstances => {}
                Condition::OwnedByCaller => {
                    let partition = self.context.partition;
                    let account = &self.context.account;
                    let values = regions(self.properties)
                        .iter()
                        .map(|region| {
                            format!(
                                "arn:{partition}:sagemaker:{region}:{account}:user-profile/${{sagemaker:DomainId}}/${{sagemaker:UserProfileName}}"
                            )
                        })
                        .collect();
                    add("ArnLike", "sagemaker:OwnerUserProfileArn", values);
                }
                Condition::ViaService(service) => {
                    let suffix = self.context.partition.dns_suffix();
                    let values = regions(self.properties)
                        .iter()
                        .map(|region| format!("{service}.{region}.{suffix}"))
                        .collect();
                    add("StringLike", "kms:ViaService", values);
                }
                Condition::ResourceAccount => {
                    add(
                        "StringEquals",
                        "aws:ResourceAccount",
                        vec![self.context.account.clone()],
                    );
                }
                Condition::BucketAccounts => {
                    let mut accounts = vec![self.context.account.clone()];
                    for account in self.param(Param::S3BucketAccounts) {
                        if !accounts.contains(account) {
                            accounts.push(account.clone());
                        }
                    }
                    add("StringEquals", "aws:ResourceAccount", accounts);
                }
                Condition::Static {
                    operator,
                    key,
                    values,
                } => {
                    add(
                        operator,
                        key,
                        values.iter().map(|v| (*v).to_owned()).collect(),
                    );
                }
            }
        }
        out
    }
}
