//! `template.yaml` as CloudFormation deploys it: its parameters (defaults, or a deployment's
//! values), its conditions, and every intrinsic function the template uses, resolved, so that
//! tests hold the function's environment, its guardrails and its IAM policies exactly as a
//! stack would give them. Tests run as deployed, never with guardrails that allow everything.
//! The same resolution serves the templates users deploy (`examples/`, `catalog/`): their
//! parameters, `Rules` and the properties their resources send. Shared by the tests
//! (`common::deployed`) and `examples/local-answer.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use persona_role::guardrails::{ENVIRONMENT, Guardrails};
use serde_json::{Map, Value as Json, json};
use serde_yaml_ng::Value;

/// The account the function's stack is deployed in, unless placed elsewhere.
pub const ACCOUNT: &str = "123456789012";

/// The function's stack as the tests deploy it: in `us-east-1` of the sample account, named so
/// that the shipped boundary's name falls inside the function's own `sagemaker-*` scope (the
/// hardest case for the execution role's guards).
pub const STACK_NAME: &str = "sagemaker-fn";
pub const REGION: &str = "us-east-1";
/// The shipped boundary's name, as CloudFormation names it in that stack.
pub const SHIPPED_BOUNDARY_NAME: &str = "sagemaker-fn-PersonaRoleBoundary-4XK2Q9";
/// The shipped boundary in the default place.
pub const SHIPPED_BOUNDARY: &str =
    "arn:aws:iam::123456789012:policy/sagemaker-fn-PersonaRoleBoundary-4XK2Q9";
/// The function's name, as CloudFormation names it in that stack.
pub const FUNCTION_NAME: &str = "sagemaker-fn-PersonaRoleFunction-7Hq2Lm";
/// The function in the default place.
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:sagemaker-fn-PersonaRoleFunction-7Hq2Lm";
/// The execution role, as CloudFormation names it in that stack.
pub const EXECUTION_ROLE_NAME: &str = "sagemaker-fn-ExecutionRole-1AB2C3";

/// The template.
pub fn template() -> Value {
    read_template("template.yaml")
}

/// A template of the project, by its path from the root.
pub fn read_template(relative: &str) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A deployment of the template: its parameter values (the template's defaults where not given)
/// and where it is deployed.
pub struct Deployment {
    /// The template's path from the root, for messages.
    file: String,
    template: Value,
    parameters: BTreeMap<String, Json>,
    /// What `!Ref`, `!GetAtt` (`Resource.Attribute`) and `!ImportValue` give for names the
    /// deployment was told of ([`Deployment::knowing`]): other resources, other stacks' exports.
    known: BTreeMap<String, Json>,
    partition: String,
    account: String,
    region: String,
}

impl Deployment {
    /// The template's defaults, with `overrides` (parameter name → value as the console or
    /// `sam deploy --parameter-overrides` gives it: a string, lists comma-separated).
    pub fn new(overrides: &[(&str, &str)]) -> Self {
        Deployment::of("template.yaml", overrides)
    }

    /// Another template of the project (by its path from the root), deployed with its defaults
    /// and `overrides` as [`Deployment::new`] takes them.
    pub fn of(file: &str, overrides: &[(&str, &str)]) -> Self {
        let template = read_template(file);
        let mut parameters = BTreeMap::new();
        let declared = template["Parameters"].as_mapping().unwrap();
        for (name, declaration) in declared {
            let name = name.as_str().unwrap();
            let given = overrides
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned());
            let default = match &declaration["Default"] {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let text = given
                .or(default)
                .unwrap_or_else(|| panic!("{file}: parameter {name} has no value"));
            let value = if declaration["Type"].as_str() == Some("CommaDelimitedList") {
                json!(text.split(',').map(str::trim).collect::<Vec<_>>())
            } else {
                json!(text)
            };
            parameters.insert(name.to_owned(), value);
        }
        for (name, _) in overrides {
            assert!(
                parameters.contains_key(*name),
                "{file} has no parameter {name}"
            );
        }
        Deployment {
            file: file.to_owned(),
            template,
            parameters,
            known: BTreeMap::new(),
            partition: "aws".to_owned(),
            account: ACCOUNT.to_owned(),
            region: REGION.to_owned(),
        }
    }

    /// The same deployment, where `!Ref name`, `!GetAtt name` or `!ImportValue name` gives
    /// `value`.
    pub fn knowing(mut self, name: &str, value: Json) -> Self {
        self.known.insert(name.to_owned(), value);
        self
    }

    /// The template, as read.
    pub fn template(&self) -> &Value {
        &self.template
    }

    /// A parameter's value as CloudFormation gives it (a list for `CommaDelimitedList`).
    pub fn parameter(&self, name: &str) -> &Json {
        &self.parameters[name]
    }

    /// The same deployment in another partition, account and region.
    pub fn placed(mut self, partition: &str, account: &str, region: &str) -> Self {
        partition.clone_into(&mut self.partition);
        account.clone_into(&mut self.account);
        region.clone_into(&mut self.region);
        self
    }

    /// The ARN of the boundary the stack ships, in this deployment's place.
    pub fn shipped_boundary(&self) -> String {
        format!(
            "arn:{}:iam::{}:policy/{SHIPPED_BOUNDARY_NAME}",
            self.partition, self.account
        )
    }

    /// The function's ARN in this deployment's place.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{FUNCTION_NAME}",
            self.partition, self.region, self.account
        )
    }

    /// The readiness wait the function reads from its environment.
    pub fn ready_wait(&self) -> Option<std::time::Duration> {
        let environment = self.environment();
        persona_role::handler::ready_wait(
            environment
                .get(persona_role::handler::READY_WAIT_ENV)
                .map(String::as_str),
        )
    }

    /// The function's guardrails, read from its environment as the Lambda reads it; the
    /// template sets exactly the variables the function reads.
    pub fn guardrails(&self) -> Guardrails {
        let environment = self.environment();
        let mut set: Vec<&str> = environment.keys().map(String::as_str).collect();
        let mut read = ENVIRONMENT.to_vec();
        read.extend(persona_role::handler::SETTINGS_ENVIRONMENT);
        set.sort_unstable();
        read.sort_unstable();
        assert_eq!(set, read, "the template sets what the function reads");
        Guardrails::from_variables(|name| environment.get(name).cloned())
    }

    /// The template's defaults.
    pub fn defaults() -> Self {
        Deployment::new(&[])
    }

    /// The function's environment variables as the stack sets them.
    pub fn environment(&self) -> BTreeMap<String, String> {
        let variables = &self.template["Resources"]["PersonaRoleFunction"]["Properties"]["Environment"]
            ["Variables"];
        let resolved = self.resolve(variables).unwrap();
        resolved
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| {
                let text = match value {
                    Json::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (name.clone(), text)
            })
            .collect()
    }

    /// A resource's properties as CloudFormation gives them; `None` when its condition is false.
    pub fn properties(&self, logical_id: &str) -> Option<Json> {
        let resource = &self.template["Resources"][logical_id];
        assert!(
            resource.is_mapping(),
            "{} has no resource {logical_id}",
            self.file
        );
        if let Some(condition) = resource["Condition"].as_str()
            && !self.condition(condition)
        {
            return None;
        }
        self.resolve(&resource["Properties"])
    }

    /// Whether a condition of the template holds in this deployment.
    pub fn condition(&self, name: &str) -> bool {
        let expression = &self.template["Conditions"][name];
        assert!(
            !expression.is_null(),
            "{} has no condition {name}",
            self.file
        );
        self.truth(expression)
    }

    /// The assertions of the template's `Rules` that fail with these parameters, by their
    /// `AssertDescription`, as CloudFormation (and Service Catalog, before a launch) checks them.
    pub fn failed_rules(&self) -> Vec<String> {
        self.failed_rules_of(&self.template["Rules"])
    }

    /// The assertions of `rules` (a template's `Rules` section, or a Service Catalog template
    /// constraint's) that fail with these parameters.
    pub fn failed_rules_of(&self, rules: &Value) -> Vec<String> {
        let mut failed = Vec::new();
        let Some(rules) = rules.as_mapping() else {
            return failed;
        };
        for (name, rule) in rules {
            let applies = match &rule["RuleCondition"] {
                Value::Null => true,
                condition => self.truth(condition),
            };
            if !applies {
                continue;
            }
            for assertion in rule["Assertions"].as_sequence().unwrap() {
                if !self.truth(&assertion["Assert"]) {
                    let description = assertion["AssertDescription"].as_str().unwrap_or_default();
                    failed.push(format!("{}: {description}", name.as_str().unwrap()));
                }
            }
        }
        failed
    }

    fn truth(&self, expression: &Value) -> bool {
        let Some((function, arg)) = function_call(expression) else {
            panic!("condition {expression:?} is not a function");
        };
        let items = || arg.as_sequence().unwrap();
        match function.as_str() {
            "Equals" => self.resolve(&items()[0]) == self.resolve(&items()[1]),
            "Not" => !self.truth(&items()[0]),
            "And" => items().iter().all(|c| self.truth(c)),
            "Or" => items().iter().any(|c| self.truth(c)),
            "Condition" => self.condition(arg.as_str().unwrap()),
            // The rule functions: a list contains a string; every member of one list is in
            // another, or equals a string.
            "Contains" => {
                let list = self.resolve(&items()[0]).unwrap();
                let wanted = self.resolve(&items()[1]).unwrap();
                list.as_array().unwrap().contains(&wanted)
            }
            "EachMemberIn" => {
                let members = self.resolve(&items()[0]).unwrap();
                let allowed = self.resolve(&items()[1]).unwrap();
                let allowed = allowed.as_array().unwrap();
                members
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| allowed.contains(m))
            }
            "EachMemberEquals" => {
                let members = self.resolve(&items()[0]).unwrap();
                let wanted = self.resolve(&items()[1]).unwrap();
                members.as_array().unwrap().iter().all(|m| *m == wanted)
            }
            other => panic!("condition function {other} is not resolved here"),
        }
    }

    /// The value of `!Ref name`.
    pub fn reference(&self, name: &str) -> Json {
        if let Some(value) = self.parameters.get(name).or_else(|| self.known.get(name)) {
            return value.clone();
        }
        match name {
            "AWS::Partition" => json!(self.partition),
            "AWS::AccountId" => json!(self.account),
            "AWS::Region" => json!(self.region),
            "AWS::StackName" => json!(STACK_NAME),
            "ExecutionRole" => json!(EXECUTION_ROLE_NAME),
            "PersonaRoleBoundary" => json!(self.shipped_boundary()),
            "PersonaRoleFunction" => json!(FUNCTION_NAME),
            other => panic!("no value for !Ref {other}"),
        }
    }

    fn get_att(&self, name: &str) -> Json {
        if let Some(value) = self.known.get(name) {
            return value.clone();
        }
        match name {
            "ExecutionRole.Arn" => json!(format!(
                "arn:{}:iam::{}:role/{EXECUTION_ROLE_NAME}",
                self.partition, self.account
            )),
            "PersonaRoleFunction.Arn" => json!(self.function_arn()),
            "LogGroup.Arn" => json!(format!(
                "arn:{}:logs:{}:{}:log-group:/aws/lambda/{STACK_NAME}-persona-role:*",
                self.partition, self.region, self.account
            )),
            other => panic!("no value for !GetAtt {other}"),
        }
    }

    /// `${Name}` in a `!Sub` string, from `vars` first.
    fn substitute(&self, text: &str, vars: &Map<String, Json>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                // `${!Literal}` is the text `${Literal}`.
                out.push_str(&format!("${{{literal}}}"));
            } else {
                let value = vars.get(name).cloned().unwrap_or_else(|| {
                    if name.contains('.') {
                        self.get_att(name)
                    } else {
                        self.reference(name)
                    }
                });
                out.push_str(value.as_str().unwrap());
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The value CloudFormation gives a template fragment; `None` for `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Json> {
        Some(match value {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Number(n) => serde_json::to_value(n).unwrap(),
            Value::String(s) => json!(s),
            Value::Sequence(items) => {
                Json::Array(items.iter().filter_map(|v| self.resolve(v)).collect())
            }
            Value::Mapping(_) | Value::Tagged(_) if function_call(value).is_some() => {
                let (function, arg) = function_call(value).unwrap();
                match function.as_str() {
                    "Ref" if arg.as_str() == Some("AWS::NoValue") => return None,
                    "Ref" => self.reference(arg.as_str().unwrap()),
                    "GetAtt" => match arg {
                        Value::Sequence(parts) => self.get_att(&format!(
                            "{}.{}",
                            parts[0].as_str().unwrap(),
                            parts[1].as_str().unwrap()
                        )),
                        _ => self.get_att(arg.as_str().unwrap()),
                    },
                    "ImportValue" => {
                        let name = self.resolve(arg).unwrap();
                        let name = name.as_str().unwrap();
                        self.known
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| panic!("no export {name} is known"))
                    }
                    "If" => {
                        let branches = arg.as_sequence().unwrap();
                        let chosen = if self.condition(branches[0].as_str().unwrap()) {
                            &branches[1]
                        } else {
                            &branches[2]
                        };
                        return self.resolve(chosen);
                    }
                    "Sub" => {
                        match arg {
                            Value::String(text) => json!(self.substitute(text, &Map::new())),
                            Value::Sequence(parts) => {
                                let vars = self.resolve(&parts[1]).unwrap();
                                json!(self.substitute(
                                    parts[0].as_str().unwrap(),
                                    vars.as_object().unwrap()
                                ))
                            }
                            other => panic!("!Sub {other:?}"),
                        }
                    }
                    "Join" => {
                        let parts = arg.as_sequence().unwrap();
                        let items = self.resolve(&parts[1]).unwrap();
                        let items: Vec<&str> = items
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap())
                            .collect();
                        json!(items.join(parts[0].as_str().unwrap()))
                    }
                    "Split" => {
                        let parts = arg.as_sequence().unwrap();
                        let text = self.resolve(&parts[1]).unwrap();
                        json!(
                            text.as_str()
                                .unwrap()
                                .split(parts[0].as_str().unwrap())
                                .collect::<Vec<_>>()
                        )
                    }
                    "Select" => {
                        let parts = arg.as_sequence().unwrap();
                        let index = self.resolve(&parts[0]).unwrap();
                        let index: usize = match index {
                            Json::String(text) => text.parse().unwrap(),
                            Json::Number(n) => usize::try_from(n.as_u64().unwrap()).unwrap(),
                            other => panic!("!Select index {other}"),
                        };
                        self.resolve(&parts[1]).unwrap()[index].clone()
                    }
                    other => panic!("intrinsic {other} is not resolved here"),
                }
            }
            Value::Mapping(map) => Json::Object(
                map.iter()
                    .filter_map(|(k, v)| Some((k.as_str().unwrap().to_owned(), self.resolve(v)?)))
                    .collect(),
            ),
            Value::Tagged(tagged) => panic!("unknown tag {}", tagged.tag),
        })
    }
}

/// An intrinsic function call, short (`!Sub x`) or long (`Fn::Sub: x`, `Ref: x`): its name
/// without prefix, and its argument.
fn function_call(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next()?;
            let key = key.as_str()?;
            let name = key.strip_prefix("Fn::").or((key == "Ref").then_some(key))?;
            Some((name.to_owned(), arg))
        }
        _ => None,
    }
}
