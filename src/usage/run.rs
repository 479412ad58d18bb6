//! `usage` as one call: the trail read on all threads, the readers' tallies merged, the report
//! built and, when asked, the declaration it proposes planned and compared with the current
//! one. Plain data in and out; how it is shown is the caller's.

use std::path::PathBuf;

use serde_json::Value;
use thiserror::Error;

use super::attribution;
use super::records::{self, Document, Problem, Progress};
use super::report::{self, Collector, Declared, Report, Scope, Usage};
use super::suggest::{self, Change};
use crate::compare::{Comparison, compare};
use crate::context::StackContext;
use crate::plan::{self, PlanError};
use crate::time::Seconds;

/// Where the trail is.
#[derive(Debug, Clone, Copy)]
pub enum Trail<'a> {
    /// CloudTrail's files (`.json.gz` as delivered, `.json`, lookup-events' output) and
    /// directories of them, read recursively.
    Paths(&'a [PathBuf]),
    /// Documents in memory, in any of those forms.
    Documents(&'a [Document]),
}

/// What a run reads and against what.
pub struct Input<'a> {
    /// The declaration's properties.
    pub properties: &'a Value,
    pub context: &'a StackContext,
    /// The role whose calls count, when not the one the declaration plans.
    pub role_arn: Option<&'a str>,
    /// Calls from this instant on, and before that one.
    pub since: Option<Seconds>,
    pub until: Option<Seconds>,
    pub trail: Trail<'a>,
    /// Files read at once.
    pub threads: usize,
    /// Plan the declaration the report proposes, and compare it with the current one.
    pub propose: bool,
    /// Called about every quarter second while the files are read.
    pub progress: Option<&'a mut dyn FnMut(Progress)>,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// The declaration changes the report proposes (refused calls' changes, then removals),
    /// each with the calls that prove it.
    pub changes: Vec<(Change, String)>,
    /// The declaration proposed, when asked for and there are changes.
    pub proposal: Option<Proposal>,
    /// Bytes of records read (uncompressed).
    pub bytes: u64,
}

impl Outcome {
    /// Nothing could be read: no record, and problems reading.
    pub fn unreadable(&self) -> bool {
        self.report.records == 0 && !self.report.problems.is_empty()
    }
}

/// The declaration tightened and widened by the changes.
#[derive(Debug)]
pub struct Proposal {
    pub properties: Value,
    /// What changes between the current plan and the proposed one.
    pub comparison: Comparison,
}

#[derive(Debug, Error)]
pub enum UsageError {
    #[error("{0}")]
    Plan(PlanError),
    #[error("the declaration's properties do not parse")]
    Properties,
    /// Nothing to read; what was wrong with each path given.
    #[error("no CloudTrail files to read (.json or .gz files, or directories of them)")]
    NoFiles(Vec<Problem>),
    /// The proposal does not plan; `problems`: what the trail's reading found, to be shown
    /// all the same.
    #[error("the proposed declaration does not plan: {error}")]
    Proposal {
        error: PlanError,
        problems: Vec<Problem>,
    },
}

/// Reads the trail and reports the role's calls against its declaration.
pub fn run(input: Input<'_>) -> Result<Outcome, UsageError> {
    let Input {
        properties,
        context,
        role_arn,
        since,
        until,
        trail,
        threads,
        propose,
        progress,
    } = input;
    let current = plan::plan_properties(properties, context).map_err(UsageError::Plan)?;
    let parsed = report::parse_properties(properties, context).ok_or(UsageError::Properties)?;
    let scope = Scope {
        role_arn: role_arn.map_or_else(|| current.role.arn.clone(), str::to_owned),
        account: context.account.clone(),
        partition: context.partition.name().to_owned(),
        region: context.region.clone(),
        since,
        until,
    };
    let statements = attribution::plan_statements(&current);
    let make = || Collector::new(&scope, &statements);
    let (sinks, bytes, files, mut problems) = match trail {
        Trail::Paths(paths) => {
            let (files, problems) = records::files(paths);
            if files.is_empty() {
                return Err(UsageError::NoFiles(problems));
            }
            let (sinks, bytes) = records::read_files(&files, threads, make, progress);
            (sinks, bytes, files.len(), problems)
        }
        Trail::Documents(documents) => {
            if documents.is_empty() {
                return Err(UsageError::NoFiles(Vec::new()));
            }
            let (sinks, bytes) = records::read_files(documents, threads, make, progress);
            (sinks, bytes, documents.len(), Vec::new())
        }
    };
    let mut usage = Usage::default();
    for sink in sinks {
        usage.merge(sink.usage);
    }
    usage.problems.append(&mut problems);
    let declared = Declared {
        properties_value: properties,
        properties: &parsed,
        plan: &current,
        context,
    };
    let (report, changes) = report::build(&scope, &declared, &usage, files);
    let proposal = if propose && !changes.is_empty() {
        let list: Vec<Change> = changes.iter().map(|(c, _)| c.clone()).collect();
        let proposed = suggest::apply(properties, &list);
        let planned = match plan::plan_properties(&proposed, context) {
            Ok(planned) => planned,
            Err(error) => {
                return Err(UsageError::Proposal {
                    error,
                    problems: report.problems,
                });
            }
        };
        Some(Proposal {
            comparison: compare(&current, &planned),
            properties: proposed,
        })
    } else {
        None
    };
    Ok(Outcome {
        report,
        changes,
        proposal,
        bytes,
    })
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use crate::context::Partition;
    use serde_json::json;

    const ACCOUNT: &str = "123456789012";
    const ROLE: &str = "sagemaker-data-scientist";

    fn declaration() -> Value {
        json!({
            "Persona": "DataScientist",
            "RoleNameSuffix": "data-scientist",
            "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/sagemaker-compute")],
            "S3Buckets": ["ml-team-data"]
        })
    }

    fn context() -> StackContext {
        StackContext::new(Partition::Aws, ACCOUNT, "us-east-1", "stack", "Role")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A call of `role` to S3 on `bucket`'s object at `time`, refused with `error` if any.
    fn s3_call(role: &str, name: &str, bucket: &str, time: &str, error: Option<&str>) -> Value {
        let mut record = json!({
            "eventVersion": "1.10",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/SageMaker"),
                "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}")}}
            },
            "eventTime": time,
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.10",
            "requestParameters": {"bucketName": bucket, "key": "data/train.csv"},
            "resources": [
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/data/train.csv")},
                {"type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
            ],
            "recipientAccountId": ACCOUNT
        });
        if let (Some(error), Some(map)) = (error, record.as_object_mut()) {
            map.insert("errorCode".to_owned(), json!(error));
            map.insert("errorMessage".to_owned(), json!("Access Denied"));
        }
        record
    }

    fn trail_file(label: &str, records: &[Value]) -> Document {
        Document {
            label: label.to_owned(),
            bytes: serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default(),
        }
    }

    fn run_on(documents: &[Document], since: Option<&str>, propose: bool) -> Outcome {
        let properties = declaration();
        let context = context();
        run(Input {
            properties: &properties,
            context: &context,
            role_arn: None,
            since: since.and_then(crate::time::parse),
            until: None,
            trail: Trail::Documents(documents),
            threads: 2,
            propose,
            progress: None,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A case: what, the documents, `--since`; then the records, the role's, the changes that
    /// widen, whether activities are removed, the problems, and whether nothing was readable.
    type Case<'a> = (
        &'a str,
        Vec<Document>,
        Option<&'a str>,
        u64,
        u64,
        Vec<&'a str>,
        bool,
        usize,
        bool,
    );

    /// The changes that widen the declaration, as `Property: value`.
    fn widened(outcome: &Outcome) -> Vec<String> {
        outcome
            .changes
            .iter()
            .filter(|(c, _)| !matches!(c, Change::RemoveActivity(_)))
            .map(|(c, _)| format!("{}: {}", c.property(), c.value()))
            .collect()
    }

    fn removed(outcome: &Outcome) -> usize {
        outcome
            .changes
            .iter()
            .filter(|(c, _)| matches!(c, Change::RemoveActivity(_)))
            .count()
    }

    #[test]
    fn a_trail_is_reported_as_its_records_say() {
        let read = s3_call(
            ROLE,
            "GetObject",
            "ml-team-data",
            "2026-11-23T09:00:00Z",
            None,
        );
        let refused = s3_call(
            ROLE,
            "PutObject",
            "other-bucket",
            "2026-11-23T10:00:00Z",
            Some("AccessDenied"),
        );
        let other_role = s3_call(
            "ci-deployer",
            "GetObject",
            "x",
            "2026-11-23T09:30:00Z",
            None,
        );
        let not_trail = Document {
            label: "stack.json".to_owned(),
            bytes: br#"{"Resources": {}}"#.to_vec(),
        };
        let cases: Vec<Case> = vec![
            (
                "no records: nothing to propose",
                vec![trail_file("a", &[])],
                None,
                0,
                0,
                vec![],
                false,
                0,
                false,
            ),
            (
                "an allowed call: the activities no call used are removed",
                vec![trail_file("a", std::slice::from_ref(&read))],
                None,
                1,
                1,
                vec![],
                true,
                0,
                false,
            ),
            (
                "a refused call: the bucket is added",
                vec![trail_file("a", &[read.clone(), refused.clone()])],
                None,
                2,
                2,
                vec!["S3Buckets: other-bucket"],
                true,
                0,
                false,
            ),
            (
                "another role's calls do not count",
                vec![trail_file("a", std::slice::from_ref(&other_role))],
                None,
                1,
                0,
                vec![],
                false,
                0,
                false,
            ),
            (
                "calls before the window do not count",
                vec![trail_file("a", &[read.clone(), refused.clone()])],
                Some("2026-11-24"),
                2,
                0,
                vec![],
                false,
                0,
                false,
            ),
            (
                "files are merged",
                vec![
                    trail_file("a", std::slice::from_ref(&read)),
                    trail_file("b", &[refused.clone(), other_role.clone()]),
                ],
                None,
                3,
                2,
                vec!["S3Buckets: other-bucket"],
                true,
                0,
                false,
            ),
            (
                "what is not a trail is a problem, the rest is read",
                vec![
                    trail_file("a", std::slice::from_ref(&refused)),
                    not_trail.clone(),
                ],
                None,
                1,
                1,
                vec!["S3Buckets: other-bucket"],
                true,
                1,
                false,
            ),
            (
                "nothing readable",
                vec![not_trail.clone()],
                None,
                0,
                0,
                vec![],
                false,
                1,
                true,
            ),
        ];
        for (what, documents, since, records, role, widen, removes, problems, unreadable) in cases {
            let outcome = run_on(&documents, since, false);
            let report = &outcome.report;
            assert_eq!(report.records, records, "{what}");
            assert_eq!(report.role_records, role, "{what}");
            assert_eq!(report.files, documents.len(), "{what}");
            assert_eq!(widened(&outcome), widen, "{what}");
            assert_eq!(
                removed(&outcome) > 0,
                removes,
                "{what}: {:?}",
                outcome.changes
            );
            assert_eq!(
                report.problems.len(),
                problems,
                "{what}: {:?}",
                report.problems
            );
            assert_eq!(outcome.unreadable(), unreadable, "{what}");
            assert!(outcome.proposal.is_none(), "{what}: not asked for");
        }
    }

    #[test]
    fn gzip_plain_and_lookup_events_report_alike() {
        use std::io::Write;
        let records = [
            s3_call(
                ROLE,
                "GetObject",
                "ml-team-data",
                "2026-11-23T09:00:00Z",
                None,
            ),
            s3_call(
                ROLE,
                "PutObject",
                "b",
                "2026-11-23T10:00:00Z",
                Some("AccessDenied"),
            ),
        ];
        let plain = trail_file("plain", &records);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gzip = Document {
            label: "gzip".to_owned(),
            bytes: gz
                .write_all(&plain.bytes)
                .and_then(|()| gz.finish())
                .unwrap_or_default(),
        };
        let events: Vec<Value> = records
            .iter()
            .map(|r| json!({"EventId": "1", "CloudTrailEvent": r.to_string()}))
            .collect();
        let lookup = Document {
            label: "lookup".to_owned(),
            bytes: serde_json::to_vec_pretty(&json!({"Events": events, "NextToken": null}))
                .unwrap_or_default(),
        };
        let reports: Vec<String> = [plain, gzip, lookup]
            .into_iter()
            .map(|d| {
                let outcome = run_on(&[d], None, false);
                assert!(
                    outcome.report.problems.is_empty(),
                    "{:?}",
                    outcome.report.problems
                );
                serde_json::to_string(&outcome.report).unwrap_or_default()
            })
            .collect();
        assert_eq!(reports[0], reports[1]);
        assert_eq!(reports[0], reports[2]);
        assert!(reports[0].contains("\"RoleRecords\":2"), "{}", reports[0]);
    }

    #[test]
    fn the_proposal_is_planned_and_compared_when_asked_for() {
        let refused = s3_call(
            ROLE,
            "PutObject",
            "other-bucket",
            "2026-11-23T10:00:00Z",
            Some("AccessDenied"),
        );
        let read = s3_call(
            ROLE,
            "GetObject",
            "ml-team-data",
            "2026-11-23T09:00:00Z",
            None,
        );
        let outcome = run_on(&[trail_file("a", &[read, refused])], None, true);
        let proposal = outcome
            .proposal
            .as_ref()
            .unwrap_or_else(|| panic!("no proposal"));
        assert_eq!(
            proposal.properties["S3Buckets"],
            json!(["ml-team-data", "other-bucket"])
        );
        assert!(!proposal.comparison.is_empty());
        // Nothing to propose, nothing planned.
        let quiet = run_on(&[trail_file("a", &[])], None, true);
        assert!(quiet.changes.is_empty());
        assert!(quiet.proposal.is_none());
    }

    /// A proposal that does not plan fails the run, and keeps what the trail's reading found to
    /// show it all the same.
    #[test]
    fn a_proposal_that_does_not_plan_keeps_the_readings_problems() {
        // A call no activity grants and IAM allowed: every activity goes unused, and a
        // declaration without any does not plan.
        let mut unrelated = s3_call(ROLE, "GetObject", "x", "2026-11-23T10:00:00Z", None);
        unrelated["eventSource"] = json!("sts.amazonaws.com");
        unrelated["eventName"] = json!("GetCallerIdentity");
        unrelated["resources"] = json!([]);
        let documents = [
            trail_file("a", &[unrelated]),
            Document {
                label: "b".to_owned(),
                bytes: b"not CloudTrail".to_vec(),
            },
        ];
        let properties = declaration();
        let context = context();
        let result = run(Input {
            properties: &properties,
            context: &context,
            role_arn: None,
            since: None,
            until: None,
            trail: Trail::Documents(&documents),
            threads: 1,
            propose: true,
            progress: None,
        });
        match result {
            Err(UsageError::Proposal { problems, .. }) => {
                assert!(problems.iter().any(|p| p.file == "b"), "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_cannot_run_is_an_error() {
        let context = context();
        let properties = declaration();
        let input = |trail, properties| Input {
            properties,
            context: &context,
            role_arn: None,
            since: None,
            until: None,
            trail,
            threads: 1,
            propose: false,
            progress: None,
        };
        let missing = [PathBuf::from("/no/such/trail")];
        match run(input(Trail::Paths(&missing), &properties)) {
            Err(UsageError::NoFiles(problems)) => {
                assert_eq!(problems.len(), 1);
                assert_eq!(problems[0].message, "no such file or directory");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(input(Trail::Documents(&[]), &properties)),
            Err(UsageError::NoFiles(_))
        ));
        let invalid = json!({"Persona": "Nobody"});
        let documents = [trail_file("a", &[])];
        assert!(matches!(
            run(input(Trail::Documents(&documents), &invalid)),
            Err(UsageError::Plan(_))
        ));
    }

    #[test]
    fn another_roles_calls_count_when_it_is_named() {
        let properties = declaration();
        let context = context();
        let documents = [trail_file(
            "a",
            &[s3_call(
                "console-made",
                "GetObject",
                "ml-team-data",
                "2026-11-23T09:00:00Z",
                None,
            )],
        )];
        let role = format!("arn:aws:iam::{ACCOUNT}:role/console-made");
        let outcome = run(Input {
            properties: &properties,
            context: &context,
            role_arn: Some(&role),
            since: None,
            until: None,
            trail: Trail::Documents(&documents),
            threads: 1,
            propose: false,
            progress: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.report.role, role);
        assert_eq!(outcome.report.role_records, 1);
    }
}
