//! The scheduled drift report, decided without AWS: the invocation that starts it and whether
//! this deployment allows it ([`read`], [`admit`]); where each owned role stands with this
//! release ([`standing`]); the report and its metric line. `handler::drift_report` reads the
//! account for it, with the same reads as the reconcile run and the pure rules of
//! [`crate::drift`], and writes nothing.
//!
//! The report is started by an invocation of the function with an event of its own shape,
//! `{"PersonaRoleDriftReport": {}}`, which an EventBridge rule of the function's stack sends on
//! the schedule its `DriftReportSchedule` parameter gives. The function accepts it only while
//! its deployment sets that schedule ([`SCHEDULE_ENV`]): the report is read-only, but it reads
//! every candidate role of the account and their stacks (about five IAM reads per role), so an
//! invocation of a deployment that asked for no report is refused before any call, as the
//! reconcile run is. While the schedule is set, whoever may invoke the function can start a
//! report too: it reads no more than the schedule's does, within what the execution role may
//! read, once per invocation, bounded by the function's deadline and reserved concurrency.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::aws::meter::CallCounts;
use crate::drift::{HandEdit, Skip};
use crate::iam::Change;
use crate::metrics;

/// The environment variable holding the deployment's `DriftReportSchedule`; unset or empty: no
/// report is accepted.
pub const SCHEDULE_ENV: &str = "PERSONA_ROLE_DRIFT_REPORT_SCHEDULE";
/// The key of the report's event.
pub const EVENT_KEY: &str = "PersonaRoleDriftReport";
/// The report's event is small; anything larger is no report's event.
const MAX_EVENT_BYTES: usize = 4096;

/// The report's event, if `raw` is one: `None` for anything else, an error for a report event
/// that does not read (it takes no options: its body is `{}`).
pub fn read(raw: &[u8]) -> Option<Result<(), String>> {
    if raw.len() > MAX_EVENT_BYTES {
        return None;
    }
    let value: Value = serde_json::from_slice(raw).ok()?;
    let object = value.as_object()?;
    let body = object.get(EVENT_KEY)?;
    Some(match (object.len(), body) {
        (1, Value::Object(options)) if options.is_empty() => Ok(()),
        (1, Value::Null) => Ok(()),
        _ => Err(format!(
            "the drift report's event is {{\"{EVENT_KEY}\": {{}}}}, with nothing else"
        )),
    })
}

/// Whether the deployment allows the report: its `DriftReportSchedule` (`schedule`) is set.
pub fn admit(schedule: Option<&str>) -> Result<(), String> {
    match schedule.map(str::trim).filter(|s| !s.is_empty()) {
        Some(_) => Ok(()),
        None => Err(
            "no drift report is scheduled: deploy the function's stack with DriftReportSchedule set (rate(1 day), cron(…)) to run it; nothing was read"
                .to_owned(),
        ),
    }
}

/// Where one role stands with this release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Standing", rename_all_fields = "PascalCase")]
pub enum Standing {
    /// IAM holds what this release plans of its declaration.
    Current,
    /// Changed by hand ([`HandEdit`]: what the function never writes); `changes` are what a
    /// re-plan (the reconcile run, the stack's next Update) would do, hand edits undone.
    Drifted {
        hand_edits: Vec<HandEdit>,
        changes: Vec<String>,
    },
    /// No hand edit, but a re-plan with this release changes it: a release it has not reached
    /// yet (or an edit of what the function writes).
    Lagging { changes: Vec<String> },
    /// Not re-planned, for the reason said (as `persona-role drift` gives it).
    Unreplannable { skip: Skip },
    /// Role Manager's role without ownership tags: no stack declares it yet.
    NotAdopted,
    /// Not read before the report had to stop, or IAM or CloudFormation refused the read.
    Unchecked { reason: String },
}

impl Standing {
    pub fn name(&self) -> &'static str {
        match self {
            Standing::Current => "Current",
            Standing::Drifted { .. } => "Drifted",
            Standing::Lagging { .. } => "Lagging",
            Standing::Unreplannable { .. } => "Unreplannable",
            Standing::NotAdopted => "NotAdopted",
            Standing::Unchecked { .. } => "Unchecked",
        }
    }

    /// What differs, in one short line for the role's log line.
    pub fn differs(&self) -> String {
        match self {
            Standing::Current => String::new(),
            Standing::Drifted {
                hand_edits,
                changes,
            } => {
                let edits: Vec<String> = hand_edits.iter().map(HandEdit::describe).collect();
                format!(
                    "hand edits: {}; a re-plan: {}",
                    edits.join("; "),
                    shortened(changes)
                )
            }
            Standing::Lagging { changes } => format!("a re-plan: {}", shortened(changes)),
            Standing::Unreplannable { skip } => skip.describe(),
            Standing::NotAdopted => {
                "Role Manager's role, not adopted: `persona-role discover` declares it".to_owned()
            }
            Standing::Unchecked { reason } => reason.clone(),
        }
    }
}

/// The first few changes, and how many more.
fn shortened(changes: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = changes
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > SHOWN {
        text.push_str(&format!(" and {} more", changes.len() - SHOWN));
    }
    text
}

/// An owned role's standing from its hand edits and the changes that converge it to this
/// release's plan (`iam::diff` of its state and the plan): hand edits make it drifted whatever
/// else differs; changes alone, lagging.
pub fn standing(hand_edits: Vec<HandEdit>, changes: &[Change]) -> Standing {
    let changes: Vec<String> = changes.iter().map(describe_change).collect();
    match (hand_edits.is_empty(), changes.is_empty()) {
        (false, _) => Standing::Drifted {
            hand_edits,
            changes,
        },
        (true, false) => Standing::Lagging { changes },
        (true, true) => Standing::Current,
    }
}

/// A change as its IAM operation and what it names.
pub fn describe_change(change: &Change) -> String {
    let operation = change.operation().name();
    let target = match change {
        Change::PutRolePolicy { name, .. } | Change::DeleteRolePolicy { name } => Some(name),
        Change::CreatePolicy { arn, .. }
        | Change::CreatePolicyVersion { arn, .. }
        | Change::DeletePolicyVersion { arn, .. }
        | Change::TagPolicy { arn, .. }
        | Change::UntagPolicy { arn, .. }
        | Change::DetachRolePolicy { arn }
        | Change::AttachRolePolicy { arn }
        | Change::DeletePolicy { arn, .. }
        | Change::PutRolePermissionsBoundary { arn } => Some(arn),
        Change::RemoveRoleFromInstanceProfile { profile } => Some(profile),
        Change::UpdateRole { .. }
        | Change::UpdateAssumeRolePolicy { .. }
        | Change::TagRole { .. }
        | Change::UntagRole { .. }
        | Change::DeleteRole => None,
    };
    match target {
        Some(target) => format!("{operation} {target}"),
        None => operation.to_owned(),
    }
}

/// One role of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleStanding {
    pub role_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical_id: Option<String>,
    #[serde(flatten)]
    pub standing: Standing,
}

/// The report: the invocation's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    /// `Refused` (nothing was read), `Complete`, `Incomplete` (some roles unchecked: the
    /// deadline, or a read refused) or `Failed` (the account's roles could not be listed).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Roles whose names the report read (`sagemaker-…`, `SageMaker-…`).
    pub roles_read: usize,
    pub current: usize,
    pub drifted: usize,
    pub lagging: usize,
    pub unreplannable: usize,
    pub not_adopted: usize,
    pub unchecked: usize,
    /// Every role listed but the current ones, in name order.
    pub roles: Vec<RoleStanding>,
}

impl Report {
    fn empty(status: &'static str, reason: String) -> Report {
        Report {
            status,
            reason: Some(reason),
            roles_read: 0,
            current: 0,
            drifted: 0,
            lagging: 0,
            unreplannable: 0,
            not_adopted: 0,
            unchecked: 0,
            roles: Vec::new(),
        }
    }

    /// The answer to a report that was not started.
    pub fn refused(reason: String) -> Report {
        Report::empty("Refused", reason)
    }

    /// The answer to a report that could not list the account's roles.
    pub fn failed(reason: String) -> Report {
        Report::empty("Failed", reason)
    }

    /// The report over `roles` (the candidates but those of other deployments) of `roles_read`
    /// candidates.
    pub fn of(roles_read: usize, roles: Vec<RoleStanding>) -> Report {
        let count = |name: &str| roles.iter().filter(|r| r.standing.name() == name).count();
        let unchecked = count("Unchecked");
        Report {
            status: match unchecked {
                0 => "Complete",
                _ => "Incomplete",
            },
            reason: (unchecked > 0).then(|| {
                format!("{unchecked} roles were not checked: the function's deadline came first, or a read was refused (their log lines say which)")
            }),
            roles_read,
            current: count("Current"),
            drifted: count("Drifted"),
            lagging: count("Lagging"),
            unreplannable: count("Unreplannable"),
            not_adopted: count("NotAdopted"),
            unchecked,
            roles: roles
                .into_iter()
                .filter(|r| r.standing != Standing::Current)
                .collect(),
        }
    }
}

/// The report's request type on its metric line.
pub const DRIFT_REPORT_REQUEST_TYPE: &str = "DriftReport";
pub const CURRENT_ROLES: &str = "CurrentRoles";
pub const DRIFTED_ROLES: &str = "DriftedRoles";
pub const LAGGING_ROLES: &str = "LaggingRoles";
pub const UNREPLANNABLE_ROLES: &str = "UnreplannableRoles";
pub const NOT_ADOPTED_ROLES: &str = "NotAdoptedRoles";
pub const UNCHECKED_ROLES: &str = "UncheckedRoles";
/// 1 when the report did not check every role (`Incomplete`, `Failed`).
pub const DRIFT_REPORT_INCOMPLETE: &str = "DriftReportIncomplete";
/// 1 when the invocation was refused: the deployment schedules no report.
pub const DRIFT_REPORT_REFUSED: &str = "DriftReportRefused";
pub const DRIFT_REPORT_TIME: &str = "DriftReportTime";

/// The report's one metric line: the roles by standing, whether it is incomplete, its time and
/// its calls, under the request type `DriftReport`. A refused report counts no roles (it read
/// none), a failed one only that it is incomplete: no count stands for roles nobody read.
pub fn metric_document(
    function: &str,
    level: &str,
    report: &Report,
    time_ms: u64,
    iam: CallCounts,
    cloudformation: CallCounts,
    timestamp_ms: u64,
) -> Value {
    let as_count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let values: Vec<(&str, &str, u64)> = match report.status {
        "Refused" => vec![(DRIFT_REPORT_REFUSED, "Count", 1)],
        "Failed" => vec![
            (DRIFT_REPORT_INCOMPLETE, "Count", 1),
            (DRIFT_REPORT_TIME, "Milliseconds", time_ms),
        ],
        _ => vec![
            (CURRENT_ROLES, "Count", as_count(report.current)),
            (DRIFTED_ROLES, "Count", as_count(report.drifted)),
            (LAGGING_ROLES, "Count", as_count(report.lagging)),
            (UNREPLANNABLE_ROLES, "Count", as_count(report.unreplannable)),
            (NOT_ADOPTED_ROLES, "Count", as_count(report.not_adopted)),
            (UNCHECKED_ROLES, "Count", as_count(report.unchecked)),
            (
                DRIFT_REPORT_INCOMPLETE,
                "Count",
                u64::from(report.unchecked > 0),
            ),
            (DRIFT_REPORT_TIME, "Milliseconds", time_ms),
        ],
    };
    let mut properties = Map::new();
    properties.insert("Status".to_owned(), json!(report.status));
    metrics::run_document(
        function,
        level,
        DRIFT_REPORT_REQUEST_TYPE,
        &values,
        iam,
        cloudformation,
        properties,
        timestamp_ms,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::PlanTag;

    /// (the invocation's payload, what it reads as: not a report, a report, or a refusal)
    #[test]
    fn the_report_event_is_told_from_others() {
        let rows: Vec<(String, Option<bool>)> = vec![
            (r#"{"PersonaRoleDriftReport": {}}"#.to_owned(), Some(true)),
            (r#"{"PersonaRoleDriftReport": null}"#.to_owned(), Some(true)),
            (
                r#"{"PersonaRoleDriftReport": {"Roles": ["x"]}}"#.to_owned(),
                Some(false),
            ),
            (r#"{"PersonaRoleDriftReport": 1}"#.to_owned(), Some(false)),
            (
                r#"{"PersonaRoleDriftReport": {}, "RequestType": "Create"}"#.to_owned(),
                Some(false),
            ),
            (
                r#"{"PersonaRoleReconcile": {"Run": "v1"}}"#.to_owned(),
                None,
            ),
            (
                r#"{"RequestType": "Create", "ResourceProperties": {}}"#.to_owned(),
                None,
            ),
            ("not json".to_owned(), None),
            ("[]".to_owned(), None),
            (
                format!(
                    r#"{{"PersonaRoleDriftReport": {{}}, "x": "{}"}}"#,
                    "x".repeat(5000)
                ),
                None,
            ),
        ];
        for (payload, expected) in rows {
            assert_eq!(
                read(payload.as_bytes()).map(|r| r.is_ok()),
                expected,
                "{payload}"
            );
        }
    }

    /// (the deployment's DriftReportSchedule, admitted)
    #[test]
    fn only_a_deployment_that_schedules_the_report_admits_it() {
        for (schedule, admitted) in [
            (Some("rate(1 day)"), true),
            (Some("cron(0 6 * * ? *)"), true),
            (Some(""), false),
            (Some("  "), false),
            (None, false),
        ] {
            assert_eq!(admit(schedule).is_ok(), admitted, "{schedule:?}");
        }
    }

    /// (hand edits, changes a re-plan makes, the standing)
    #[test]
    fn hand_edits_drift_changes_alone_lag() {
        let edit = HandEdit::InlinePolicy {
            name: "admin".to_owned(),
        };
        let put = Change::PutRolePolicy {
            name: "persona-role".to_owned(),
            document: json!({}),
        };
        let tag = Change::TagRole {
            tags: vec![PlanTag {
                key: "k".to_owned(),
                value: "v".to_owned(),
            }],
        };
        let rows: Vec<(&str, Vec<HandEdit>, Vec<Change>, &str)> = vec![
            ("nothing differs", vec![], vec![], "Current"),
            ("a release's change", vec![], vec![put.clone()], "Lagging"),
            (
                "a hand edit a re-plan undoes",
                vec![edit.clone()],
                vec![Change::DeleteRolePolicy {
                    name: "admin".to_owned(),
                }],
                "Drifted",
            ),
            ("a hand edit alone", vec![edit], vec![], "Drifted"),
            ("a tag's value", vec![], vec![tag], "Lagging"),
        ];
        for (what, edits, changes, expected) in rows {
            assert_eq!(standing(edits, &changes).name(), expected, "{what}");
        }
        assert_eq!(describe_change(&put), "PutRolePolicy persona-role");
        let many: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
        assert_eq!(
            Standing::Lagging { changes: many }.differs(),
            "a re-plan: c0, c1, c2, c3, c4 and 2 more"
        );
    }

    fn role(name: &str, standing: Standing) -> RoleStanding {
        RoleStanding {
            role_name: name.to_owned(),
            stack_id: Some("s".to_owned()),
            logical_id: Some("L".to_owned()),
            standing,
        }
    }

    #[test]
    fn the_report_counts_each_standing_and_its_line_says_whether_it_is_whole() {
        let roles = vec![
            role("a", Standing::Current),
            role(
                "b",
                Standing::Drifted {
                    hand_edits: vec![HandEdit::Tag {
                        key: "k".to_owned(),
                        value: "v".to_owned(),
                    }],
                    changes: vec!["UntagRole".to_owned()],
                },
            ),
            role(
                "c",
                Standing::Lagging {
                    changes: vec!["PutRolePolicy persona-role".to_owned()],
                },
            ),
            role(
                "d",
                Standing::Unreplannable {
                    skip: Skip::StackGone,
                },
            ),
            role("e", Standing::NotAdopted),
        ];
        let report = Report::of(9, roles.clone());
        assert_eq!(report.status, "Complete");
        assert_eq!(
            (
                report.current,
                report.drifted,
                report.lagging,
                report.unreplannable,
                report.not_adopted
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(
            report.roles.len(),
            4,
            "current roles are counted, not listed"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["Roles"][0]["Standing"], "Drifted");
        assert_eq!(json["Roles"][0]["HandEdits"][0]["Kind"], "Tag");
        assert_eq!(json["Roles"][2]["Skip"]["Kind"], "StackGone");
        let line = |report: &Report| {
            metric_document(
                "f",
                "INFO",
                report,
                5,
                CallCounts::default(),
                CallCounts::default(),
                1,
            )
        };
        let complete = line(&report);
        assert_eq!(complete[metrics::REQUEST_TYPE], DRIFT_REPORT_REQUEST_TYPE);
        assert_eq!(complete[DRIFTED_ROLES], 1);
        assert_eq!(complete[LAGGING_ROLES], 1);
        assert_eq!(complete[DRIFT_REPORT_INCOMPLETE], 0);

        let mut cut = roles;
        cut.push(role(
            "f",
            Standing::Unchecked {
                reason: "not read before the deadline".to_owned(),
            },
        ));
        let incomplete = Report::of(9, cut);
        assert_eq!(incomplete.status, "Incomplete");
        let incomplete = line(&incomplete);
        assert_eq!(incomplete[UNCHECKED_ROLES], 1);
        assert_eq!(incomplete[DRIFT_REPORT_INCOMPLETE], 1);
        assert_eq!(incomplete["Status"], "Incomplete");

        let refused = line(&Report::refused("no".to_owned()));
        assert_eq!(refused[DRIFT_REPORT_REFUSED], 1);
        assert!(
            refused.get(DRIFTED_ROLES).is_none(),
            "a refused report counts no roles"
        );
        let failed = line(&Report::failed("no".to_owned()));
        assert_eq!(failed[DRIFT_REPORT_INCOMPLETE], 1);
        assert!(failed.get(DRIFTED_ROLES).is_none());
    }
}
