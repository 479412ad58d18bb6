//! Which statement of a plan allowed a request, decided as IAM decides for the plan's statements:
//! the action's wildcard match (ignoring case), the resource's ARN patterns (segment by segment,
//! `*` and `?`), and the conditions on keys the record shows. A key CloudTrail does not show (a
//! Studio session's `${sagemaker:DomainId}`, a space's owner on DeleteSpace) cannot be decided:
//! a statement that matches but for such keys is a candidate, named only when no statement
//! matches outright, and the report says which keys were assumed.

use serde_json::Value;

use super::{Authorization, Lookup};
use crate::arn::Arn;
use crate::plan::Plan;

/// A statement of the plan, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStatement {
    pub sid: String,
    pub policy: String,
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Vec<ConditionEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// The outcome of matching: true, false, or undecidable from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Truth {
    False,
    Unknown,
    True,
}

impl Truth {
    fn and(self, other: Truth) -> Truth {
        self.min(other)
    }

    fn or(self, other: Truth) -> Truth {
        self.max(other)
    }

    fn from(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

/// The statement that allowed a request, and the keys assumed to hold for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub sid: String,
    /// Condition keys and policy variables the record does not show, assumed to hold.
    pub assumed: Vec<String>,
    /// Other statements that may have allowed it: they differ from `sid` only in what the
    /// record does not show.
    pub alternatives: Vec<String>,
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// A policy document's statements.
pub fn document_statements(policy: &str, document: &Value) -> Vec<PlanStatement> {
    let list = match &document["Statement"] {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        _ => Vec::new(),
    };
    list.iter()
        .enumerate()
        .map(|(i, s)| PlanStatement {
            sid: s["Sid"]
                .as_str()
                .map_or_else(|| format!("{policy} #{}", i + 1), str::to_owned),
            policy: policy.to_owned(),
            allow: s["Effect"].as_str() != Some("Deny"),
            actions: strings(&s["Action"]),
            resources: strings(&s["Resource"]),
            conditions: s["Condition"]
                .as_object()
                .map(|operators| {
                    operators
                        .iter()
                        .flat_map(|(operator, keys)| {
                            keys.as_object()
                                .into_iter()
                                .flatten()
                                .map(move |(key, values)| ConditionEntry {
                                    operator: operator.clone(),
                                    key: key.clone(),
                                    values: strings(values),
                                })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Every statement of a plan's own policies (inline, then managed), in order.
pub fn plan_statements(plan: &Plan) -> Vec<PlanStatement> {
    plan.inline_policies
        .iter()
        .map(|p| (p.policy_name.as_str(), &p.policy_document))
        .chain(
            plan.managed_policies
                .iter()
                .map(|p| (p.policy_name.as_str(), &p.policy_document)),
        )
        .flat_map(|(name, document)| document_statements(name, document))
        .collect()
}

/// `*` any run of characters, `?` one; `ignore_case` for actions.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?', |a, b| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        })
    } else {
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        glob_units(&p, &t, '*', '?', |a, b| {
            if ignore_case {
                a.to_lowercase().eq(b.to_lowercase())
            } else {
                a == b
            }
        })
    }
}

/// Wildcard matching with backtracking to the last `*` (linear for one star, quadratic at worst).
fn glob_units<T: Copy + PartialEq>(
    p: &[T],
    t: &[T],
    star: T,
    one: T,
    eq: impl Fn(&T, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != star && (p[pi] == one || eq(&p[pi], &t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            resume = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = resume {
            pi = sp + 1;
            ti = st + 1;
            resume = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star)
}

/// ARN matching as IAM does it: the first five segments each on their own, the resource part
/// whole.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match (Arn::parse(pattern), Arn::parse(arn)) {
        (Some(p), Some(a)) => p
            .fields()
            .iter()
            .zip(a.fields())
            .all(|(p, a)| glob(p, a, false)),
        _ => glob(pattern, arn, false),
    }
}

/// Replaces `${key}` policy variables by the request's values; a variable the record does not
/// show becomes `*` and makes the match at best unknown.
fn substitute(pattern: &str, request: &Authorization, assumed: &mut Vec<String>) -> (String, bool) {
    if !pattern.contains("${") {
        return (pattern.to_owned(), false);
    }
    let mut out = String::new();
    let mut rest = pattern;
    let mut unknown = false;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let key = &rest[start + 2..start + end];
        match request.context.lookup(key) {
            Lookup::Present([value]) => out.push_str(value),
            _ => {
                out.push('*');
                unknown = true;
                if !assumed.iter().any(|a| a == key) {
                    assumed.push(key.to_owned());
                }
            }
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    (out, unknown)
}

fn resource_truth(
    statement: &PlanStatement,
    request: &Authorization,
    assumed: &mut Vec<String>,
) -> Truth {
    let mut truth = Truth::False;
    for pattern in &statement.resources {
        let mut local = Vec::new();
        let (pattern, unknown) = substitute(pattern, request, &mut local);
        let t = match &request.resource {
            _ if pattern == "*" => Truth::True,
            None => {
                local.push("resource".to_owned());
                Truth::Unknown
            }
            Some(arn) if arn_like(&pattern, arn) => {
                if unknown {
                    Truth::Unknown
                } else {
                    Truth::True
                }
            }
            Some(_) => Truth::False,
        };
        if t > truth {
            truth = t;
            if t == Truth::Unknown {
                for key in local {
                    if !assumed.contains(&key) {
                        assumed.push(key);
                    }
                }
            }
        }
        if truth == Truth::True {
            break;
        }
    }
    truth
}

fn compare(base: &str, policy: &str, value: &str) -> Option<bool> {
    Some(match base {
        "StringEquals" | "StringNotEquals" => policy == value,
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            policy.eq_ignore_ascii_case(value)
        }
        "StringLike" | "StringNotLike" => glob(policy, value, false),
        "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => arn_like(policy, value),
        "Bool" => policy.eq_ignore_ascii_case(value),
        "NumericEquals"
        | "NumericNotEquals"
        | "NumericLessThan"
        | "NumericLessThanEquals"
        | "NumericGreaterThan"
        | "NumericGreaterThanEquals" => {
            let (p, v): (f64, f64) = (policy.parse().ok()?, value.parse().ok()?);
            match base {
                "NumericEquals" | "NumericNotEquals" => p == v,
                "NumericLessThan" => v < p,
                "NumericLessThanEquals" => v <= p,
                "NumericGreaterThan" => v > p,
                _ => v >= p,
            }
        }
        _ => return None,
    })
}

fn condition_truth(
    condition: &ConditionEntry,
    request: &Authorization,
    assumed: &mut Vec<String>,
) -> Truth {
    let mut operator = condition.operator.as_str();
    let (mut for_all, mut for_any) = (false, false);
    if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        for_all = true;
        operator = rest;
    } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        for_any = true;
        operator = rest;
    }
    let if_exists = operator.ends_with("IfExists");
    let base = operator.trim_end_matches("IfExists");
    let negated = base.contains("Not");
    let lookup = request.context.lookup(&condition.key);
    let unknown = |assumed: &mut Vec<String>| {
        if !assumed.iter().any(|a| a == &condition.key) {
            assumed.push(condition.key.clone());
        }
        Truth::Unknown
    };
    if base == "Null" {
        return match lookup {
            Lookup::Unknown => unknown(assumed),
            Lookup::Present(values) => {
                let absent = values.is_empty();
                Truth::from(
                    condition
                        .values
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case(&absent.to_string())),
                )
            }
            Lookup::PresentUnknown => Truth::from(
                condition
                    .values
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case("false")),
            ),
            Lookup::Absent => Truth::from(
                condition
                    .values
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case("true")),
            ),
        };
    }
    let values = match lookup {
        Lookup::Unknown | Lookup::PresentUnknown => return unknown(assumed),
        Lookup::Absent => {
            return Truth::from(if_exists || for_all || (negated && !for_any));
        }
        Lookup::Present(values) => values,
    };
    let mut policy_values = Vec::new();
    let mut variable_unknown = false;
    for value in &condition.values {
        let (value, unknown) = substitute(value, request, assumed);
        variable_unknown |= unknown;
        policy_values.push(value);
    }
    let matches = |value: &str| -> Option<bool> {
        let mut any = false;
        for policy in &policy_values {
            any |= compare(base, policy, value)?;
        }
        Some(any)
    };
    let mut results = Vec::new();
    for value in values {
        match matches(value) {
            Some(m) => results.push(m),
            None => return unknown(assumed),
        }
    }
    let positive = |m: &bool| if negated { !m } else { *m };
    // ForAllValues and negated single-value operators need every request value to pass; the
    // others any.
    let truth = if for_all || (negated && !for_any) {
        Truth::from(results.iter().all(positive))
    } else {
        Truth::from(results.iter().any(positive))
    };
    // Wildcards stood in for unknown variables: they widen what the policy values match, so
    // only a miss of a positive operator (a match of a negated one) is certain.
    if variable_unknown && ((truth == Truth::True) != negated) {
        Truth::Unknown
    } else {
        truth
    }
}

/// How a statement decides a request, with the keys it had to assume.
pub fn statement_truth(statement: &PlanStatement, request: &Authorization) -> (Truth, Vec<String>) {
    let mut assumed = Vec::new();
    if !names_action(statement, &request.action) {
        return (Truth::False, assumed);
    }
    let mut truth = resource_truth(statement, request, &mut assumed);
    for condition in &statement.conditions {
        if truth == Truth::False {
            break;
        }
        truth = truth.and(condition_truth(condition, request, &mut assumed));
    }
    (truth, assumed)
}

/// Whether a statement names the action (its actions' wildcards, ignoring case): the
/// statements that do not cannot decide a request of it, whatever else it carries.
pub fn names_action(statement: &PlanStatement, action: &str) -> bool {
    statement
        .actions
        .iter()
        .any(|pattern| glob(pattern, action, true))
}

/// The statement that allowed the request: the first that matches outright. Else, of those that
/// match but for keys the record does not show, the one that needs the fewest such keys (the
/// weakest assumption; the first of equals), with the others as alternatives the record cannot
/// tell apart from it (an app created in a private or a shared space). None when no statement
/// can have allowed it (a Deny that matches outright refuses it).
pub fn attribute<'s>(
    statements: impl IntoIterator<Item = &'s PlanStatement>,
    request: &Authorization,
) -> Option<Attribution> {
    let mut sure: Option<String> = None;
    let mut possible: Vec<(String, Vec<String>)> = Vec::new();
    let mut denied = Truth::False;
    for statement in statements {
        let (truth, assumed) = statement_truth(statement, request);
        if !statement.allow {
            denied = denied.or(truth);
            continue;
        }
        match truth {
            Truth::True if sure.is_none() => sure = Some(statement.sid.clone()),
            Truth::Unknown => possible.push((statement.sid.clone(), assumed)),
            _ => {}
        }
    }
    if denied == Truth::True {
        return None;
    }
    if let Some(sid) = sure {
        return Some(Attribution {
            sid,
            assumed: Vec::new(),
            alternatives: Vec::new(),
        });
    }
    let best = possible
        .iter()
        .enumerate()
        .min_by_key(|(i, (_, assumed))| (assumed.len(), *i))
        .map(|(i, _)| i)?;
    let (sid, assumed) = possible.remove(best);
    Some(Attribution {
        sid,
        assumed,
        alternatives: possible.into_iter().map(|(sid, _)| sid).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Context;
    use serde_json::json;

    fn request(action: &str, resource: &str, context: &[(&str, &[&str])]) -> Authorization {
        let mut c = Context::default();
        for (key, values) in context {
            c.set(key, values.iter().map(|v| (*v).to_owned()).collect());
        }
        Authorization {
            action: action.to_owned(),
            resource: Some(resource.to_owned()),
            context: c,
        }
    }

    fn statements() -> Vec<PlanStatement> {
        document_statements(
            "p",
            &json!({"Statement": [
                {"Sid": "Buckets", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data"},
                {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::data/*"},
                {"Sid": "Jobs", "Effect": "Allow", "Action": "sagemaker:CreateTrainingJob",
                 "Resource": "arn:aws:sagemaker:*:123456789012:training-job/*",
                 "Condition": {"ForAllValues:StringEquals": {"sagemaker:VpcSubnets": ["subnet-1"]},
                               "Null": {"sagemaker:VpcSubnets": "false"}}},
                {"Sid": "Studio", "Effect": "Allow", "Action": "sagemaker:CreatePresignedDomainUrl",
                 "Resource": "arn:aws:sagemaker:*:123456789012:user-profile/${sagemaker:DomainId}/${sagemaker:UserProfileName}"}
            ]}),
        )
    }

    #[test]
    fn actions_match_ignoring_case_and_resources_by_arn_segments() {
        let s = statements();
        let got = attribute(&s, &request("s3:putobject", "arn:aws:s3:::data/x/y", &[]));
        assert_eq!(got.map(|a| a.sid), Some("Objects".to_owned()));
        assert_eq!(
            attribute(&s, &request("s3:GetObject", "arn:aws:s3:::other/x", &[])),
            None
        );
        assert_eq!(
            attribute(&s, &request("s3:ListBucket", "arn:aws:s3:::data2", &[])),
            None
        );
        assert!(arn_like(
            "arn:aws:logs:*:1:log-group:/aws/sagemaker/*",
            "arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/TrainingJobs:log-stream:x"
        ));
        assert!(!arn_like(
            "arn:aws:s3:*:*:x",
            "arn:aws:sagemaker:us-east-1:1:x"
        ));
    }

    #[test]
    fn conditions_on_shown_keys_decide() {
        let s = statements();
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/j";
        let inside = request(
            "sagemaker:CreateTrainingJob",
            arn,
            &[("sagemaker:VpcSubnets", &["subnet-1"])],
        );
        assert_eq!(
            attribute(&s, &inside).map(|a| a.sid),
            Some("Jobs".to_owned())
        );
        let outside = request(
            "sagemaker:CreateTrainingJob",
            arn,
            &[("sagemaker:VpcSubnets", &["subnet-2"])],
        );
        assert_eq!(attribute(&s, &outside), None);
        let mut none = request("sagemaker:CreateTrainingJob", arn, &[]);
        none.context.observe("sagemaker:VpcSubnets");
        assert_eq!(
            attribute(&s, &none),
            None,
            "Null guards a request without subnets"
        );
    }

    #[test]
    fn keys_cloudtrail_does_not_show_are_assumed_and_named() {
        let s = statements();
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/j";
        let unknown = request("sagemaker:CreateTrainingJob", arn, &[]);
        let got = attribute(&s, &unknown).unwrap_or_else(|| unreachable!());
        assert_eq!(got.sid, "Jobs");
        assert_eq!(got.assumed, ["sagemaker:VpcSubnets"]);
        let studio = request(
            "sagemaker:CreatePresignedDomainUrl",
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/alice",
            &[],
        );
        let got = attribute(&s, &studio).unwrap_or_else(|| unreachable!());
        assert_eq!(got.sid, "Studio");
        assert_eq!(
            got.assumed,
            ["sagemaker:DomainId", "sagemaker:UserProfileName"]
        );
        let known = request(
            "sagemaker:CreatePresignedDomainUrl",
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/bob",
            &[
                ("sagemaker:DomainId", &["d-1"]),
                ("sagemaker:UserProfileName", &["alice"]),
            ],
        );
        assert_eq!(attribute(&s, &known), None);
    }

    #[test]
    fn operators_follow_iam() {
        let c = |operator: &str, values: &[&str]| ConditionEntry {
            operator: operator.to_owned(),
            key: "k".to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        let with = |values: &[&str]| request("a:b", "*", &[("k", values)]);
        let mut absent = request("a:b", "*", &[]);
        absent.context.observe("k");
        let t =
            |cond: &ConditionEntry, r: &Authorization| condition_truth(cond, r, &mut Vec::new());
        assert_eq!(t(&c("StringEquals", &["x"]), &with(&["x"])), Truth::True);
        assert_eq!(t(&c("StringEquals", &["x"]), &absent), Truth::False);
        assert_eq!(t(&c("StringEqualsIfExists", &["x"]), &absent), Truth::True);
        assert_eq!(t(&c("StringNotEquals", &["x"]), &absent), Truth::True);
        assert_eq!(
            t(&c("StringLike", &["ml.*"]), &with(&["ml.g5.xlarge"])),
            Truth::True
        );
        assert_eq!(
            t(
                &c("ForAllValues:StringLike", &["ml.g5.*"]),
                &with(&["ml.g5.xlarge", "ml.m5.large"])
            ),
            Truth::False
        );
        assert_eq!(
            t(&c("ForAllValues:StringLike", &["ml.g5.*"]), &absent),
            Truth::True
        );
        assert_eq!(
            t(&c("ForAnyValue:StringEquals", &["a"]), &with(&["b", "a"])),
            Truth::True
        );
        assert_eq!(
            t(&c("ForAnyValue:StringEquals", &["a"]), &absent),
            Truth::False
        );
        assert_eq!(t(&c("Null", &["true"]), &absent), Truth::True);
        assert_eq!(t(&c("Null", &["false"]), &absent), Truth::False);
        assert_eq!(t(&c("Bool", &["true"]), &with(&["True"])), Truth::True);
        assert_eq!(
            t(
                &c("ArnEquals", &["arn:aws:kms:*:1:key/a"]),
                &with(&["arn:aws:kms:us-east-1:1:key/a"])
            ),
            Truth::True
        );
        assert_eq!(
            t(&c("NumericLessThan", &["10"]), &with(&["3"])),
            Truth::True
        );
        assert_eq!(
            t(&c("StringEquals", &["x"]), &request("a:b", "*", &[])),
            Truth::Unknown
        );
    }

    #[test]
    fn globs() {
        assert!(glob("*", "", false));
        assert!(glob("a*b?d", "aXXbcd", false));
        assert!(!glob("a*b?d", "aXXbd", false));
        assert!(glob("S3:Get*", "s3:GetObject", true));
        assert!(!glob("S3:Get*", "s3:GetObject", false));
    }
}
