//! Releases reaching deployed roles, against moto and the CloudFormation stand-in whose stack
//! events carry the properties each resource was created or updated with: `persona-role drift`
//! (the compiled CLI) lists every owned role with its stack, recovered declaration and what a
//! re-plan with this release changes, hand edits named; roles of a stack mid-operation, of a
//! stack gone and whose declaration no longer plans are reported; Role Manager's roles not
//! adopted are listed. A catalog change is simulated by writing a role's policy as an older
//! release would have. The function's guardrails, as the CLI reads them from its stack's
//! parameters, are those the template gives the function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use persona_role::guardrails::Guardrails;
use serde_json::{Value, json};
use support::*;

/// The CLI's guardrails, read from the function stack's parameters and the boundary it ships,
/// are the function's own, as the template sets its environment from the same parameters.
#[test]
fn the_guardrails_read_from_the_function_stack_are_the_functions() {
    for overrides in [
        vec![],
        vec![
            (
                "RequiredPermissionsBoundary",
                "arn:aws:iam::123456789012:policy/ml-boundary",
            ),
            (
                "AllowedPassRoles",
                "arn:aws:iam::123456789012:role/emr-runtime,arn:aws:iam::123456789012:role/other",
            ),
            ("AllowAdoption", "true"),
            ("AdoptingStacks", "ml-roles"),
            ("AllowedS3Buckets", "ml-*"),
            ("AllowedActivities", "S3 Bucket Access"),
            ("AllowedTagKeys", "team"),
            ("MaxRolesPerStack", "7"),
            ("MaxOwnPoliciesPerStack", "9"),
        ],
    ] {
        let deployment = deployed::Deployment::new(&overrides);
        let parameters = stack_parameters(&deployment);
        let read =
            Guardrails::from_stack_parameters(&parameters, Some(&deployment.shipped_boundary()));
        assert_eq!(read, deployment.guardrails(), "{overrides:?}");
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the compiled `persona-role` with the SDK's standard settings pointed at moto and the
/// stand-in, and nothing of the machine's own AWS configuration.
fn persona_role(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_persona-role"))
        .args(args)
        .env("AWS_ENDPOINT_URL_IAM", moto_endpoint())
        .env("AWS_ENDPOINT_URL_CLOUDFORMATION", stand_in().endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `persona-role drift --json` of the function stack `function_stack`: the exit code and the
/// roles by name.
fn drift_json(function_stack: &str) -> (i32, Value, BTreeMap<String, Value>) {
    let output = persona_role(&["drift", "--function-stack", function_stack, "--json"]);
    assert!(
        output.code == 0 || output.code == 1,
        "exit {}: {}",
        output.code,
        output.stderr
    );
    let report: Value = serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", output.stdout, output.stderr));
    let roles = report["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| (role["RoleName"].as_str().unwrap().to_owned(), role.clone()))
        .collect();
    (output.code, report, roles)
}

fn compute(suffix: &str) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "Persona": "SageMakerCompute",
        "RoleNameSuffix": suffix,
        "S3Buckets": ["ml-team-data"],
        "EcrRepositories": ["arn:aws:ecr:us-east-1:123456789012:repository/ml-training"],
    })
}

fn analyst(suffix: &str) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "Persona": "Custom",
        "RoleNameSuffix": suffix,
        "Activities": ["S3 Bucket Access", "Query Athena Workgroups"],
        "S3Buckets": ["ml-team-data"],
        "AthenaWorkgroups": ["primary"],
        "MaxSessionDuration": "7200",
    })
}

fn data_scientist(suffix: &str, compute_role: &str) -> Value {
    json!({
        "ServiceToken": FUNCTION_ARN,
        "Persona": "DataScientist",
        "RoleNameSuffix": suffix,
        "PassRoles": [format!("arn:aws:iam::{ACCOUNT}:role/{compute_role}")],
        "S3Buckets": ["ml-team-data"],
    })
}

/// Hand edits to a role: a foreign inline policy, its boundary removed, another account
/// trusted, a tag nobody declared.
async fn edit_by_hand(role: &str) {
    edit_by_hand_in(&checker(), role).await;
}

/// [`edit_by_hand`] in the IAM `iam` serves.
async fn edit_by_hand_in(iam: &aws_sdk_iam::Client, role: &str) {
    iam.put_role_policy()
        .role_name(role)
        .policy_name("break-glass")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.delete_role_permissions_boundary()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let got = iam.get_role().role_name(role).send().await.unwrap();
    let mut trust = persona_role::iam::decode_document(
        got.role().unwrap().assume_role_policy_document().unwrap(),
    )
    .unwrap();
    trust["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "sts:AssumeRole"}));
    iam.update_assume_role_policy()
        .role_name(role)
        .policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    iam.tag_role()
        .role_name(role)
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("cost-center")
                .value("42")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A role as Role Manager's console made it: `SageMaker-…` under `/service-role/`, a console
/// policy attached, no ownership tags.
async fn console_role(name: &str) -> String {
    console_role_in(&checker(), name).await
}

/// [`console_role`] in the IAM `iam` serves.
async fn console_role_in(iam: &aws_sdk_iam::Client, name: &str) -> String {
    let role = format!("SageMaker-{name}");
    iam.create_role()
        .role_name(&role)
        .path("/service-role/")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let policy = iam
        .create_policy()
        .policy_name(format!("SM_ComputeExecutionRole_{}", 1_733_462_327_347_u64))
        .path("/service-role/")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::ml-team-data/*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(policy.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    role
}

/// The account as a platform team meets it after a release: stacks at rest whose roles are
/// current, lag a catalog change or were edited by hand; a stack mid-update; a stack deleted
/// whose role was retained; a role whose declaration this release refuses; a console role.
/// `persona-role drift` names each as such (exit 1), and exits 0 once only current roles
/// remain.
#[tokio::test]
async fn drift_lists_what_a_release_and_hand_edits_change_and_what_cannot_be_replanned() {
    let recorder = Recorder::start();
    let function = function_stack("persona-role-drift", &[]);
    let handler = handler_with(iam_client(None), deployed_settings(&[]));
    let tag = request_id("d").replace('-', "");

    // Team A: a compute role passed by a data scientist, an analyst; all current at first.
    let team_a = stack_id("ml-team-a");
    stack_creating(&team_a);
    let compute_a = deploy_role(
        &handler,
        &team_a,
        "Compute",
        compute(&format!("compute-{tag}")),
        &recorder,
    )
    .await;
    let ds_a = deploy_role(
        &handler,
        &team_a,
        "DataScientist",
        data_scientist(&format!("ds-{tag}"), &compute_a),
        &recorder,
    )
    .await;
    let analyst_a = deploy_role(
        &handler,
        &team_a,
        "Analyst",
        analyst(&format!("analyst-{tag}")),
        &recorder,
    )
    .await;
    stand_in().put_stack(&team_a, "CREATE_COMPLETE");

    let (code, report, roles) = drift_json("persona-role-drift");
    assert_eq!(code, 0, "{report:#}");
    for role in [&compute_a, &ds_a, &analyst_a] {
        assert_eq!(
            roles[role]["Standing"], "Current",
            "{role}: {:#}",
            roles[role]
        );
        assert_eq!(roles[role]["StackId"], team_a.as_str());
        assert_eq!(roles[role]["RecordedBy"], "CREATE_COMPLETE");
    }
    assert_eq!(report["Function"], FUNCTION_ARN);

    // Team B's stack is mid-update; team C's role was declared with an activity this release
    // no longer has (an older release's record); team D's stack was deleted, its role retained.
    let team_b = stack_id("ml-team-b");
    stack_creating(&team_b);
    let compute_b = deploy_role(
        &handler,
        &team_b,
        "Compute",
        compute(&format!("computeb-{tag}")),
        &recorder,
    )
    .await;
    stand_in().put_stack(&team_b, "UPDATE_IN_PROGRESS");
    let team_c = stack_id("ml-team-c");
    stack_creating(&team_c);
    let analyst_c = deploy_role(
        &handler,
        &team_c,
        "Analyst",
        analyst(&format!("analystc-{tag}")),
        &recorder,
    )
    .await;
    let mut retired = analyst(&format!("analystc-{tag}"));
    retired["Activities"] = json!([
        "S3 Bucket Access",
        "Query Athena Workgroups",
        "Retired Activity"
    ]);
    completed(&team_c, "Analyst", "UPDATE_COMPLETE", &analyst_c, &retired);
    stand_in().put_stack(&team_c, "UPDATE_COMPLETE");
    let team_d = stack_id("ml-team-d");
    stack_creating(&team_d);
    let mut kept = compute(&format!("computed-{tag}"));
    kept["RetainOnDelete"] = json!("true");
    let compute_d = deploy_role(&handler, &team_d, "Compute", kept, &recorder).await;
    stand_in().put_stack(&team_d, "DELETE_COMPLETE");
    let console = console_role(&format!("Drift{tag}")).await;
    // A role of the function's deployment in another region: not this function's.
    let elsewhere = format!("sagemaker-elsewhere-{tag}");
    checker()
        .create_role()
        .role_name(&elsewhere)
        .assume_role_policy_document(json!({"Version": "2012-10-17", "Statement": []}).to_string())
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("persona-role:stack-id")
                .value(format!(
                    "arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/ml-eu/1"
                ))
                .build()
                .unwrap(),
        )
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("persona-role:logical-id")
                .value("Compute")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // A catalog change: team A's compute role as an older release wrote it, and team B's too.
    let older = write_as_older_release(&checker(), &compute_a).await;
    write_as_older_release(&checker(), &compute_b).await;
    // Hand edits to team A's analyst.
    edit_by_hand(&analyst_a).await;

    let (code, report, roles) = drift_json("persona-role-drift");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(roles[&ds_a]["Standing"], "Current");

    let lagging = &roles[&compute_a];
    assert_eq!(lagging["Standing"], "Changes", "{lagging:#}");
    assert_eq!(
        lagging["HandEdits"],
        Value::Null,
        "a release's change is no hand edit"
    );
    let statements = lagging["Changes"]["Statements"].as_array().unwrap();
    let (sid, action) = older.split_once(": ").unwrap();
    assert!(
        statements.iter().any(|s| s["Statement"] == sid
            && s["Actions"]["Added"]
                .as_array()
                .unwrap()
                .contains(&json!(action))),
        "the re-plan adds {older} back: {lagging:#}"
    );
    assert_eq!(
        lagging["Declaration"]["RoleNameSuffix"],
        format!("compute-{tag}")
    );

    let edited = &roles[&analyst_a];
    assert_eq!(edited["Standing"], "Changes", "{edited:#}");
    let kinds: Vec<&str> = edited["HandEdits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["InlinePolicy", "Boundary", "TrustPrincipal", "Tag"],
        "{edited:#}"
    );

    let skipped = |role: &str| {
        roles[role]["Skipped"]["Kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(roles[&compute_b]["Standing"], "NotReplanned");
    assert_eq!(skipped(&compute_b), "InProgress");
    assert_eq!(skipped(&analyst_c), "DoesNotPlan");
    assert!(
        roles[&analyst_c]["Reason"]
            .as_str()
            .unwrap()
            .contains("Retired Activity"),
        "{:#}",
        roles[&analyst_c]
    );
    assert_eq!(skipped(&compute_d), "StackGone");
    assert_eq!(roles[&console]["Standing"], "NotAdopted");
    assert!(
        !roles.contains_key(&elsewhere),
        "another region's role is not listed"
    );
    assert_eq!(report["Summary"]["OtherDeployments"], 1);
    let summary = &report["Summary"];
    assert!(summary["Changes"].as_u64().unwrap() >= 2, "{summary}");
    assert!(summary["WithHandEdits"].as_u64().unwrap() >= 1, "{summary}");

    // The text names the same, with the diff of each role a re-plan changes.
    let text = persona_role(&["drift", "--function-stack", "persona-role-drift"]);
    assert_eq!(text.code, 1, "{}", text.stderr);
    assert!(
        text.stdout.contains(&format!(
            "{compute_a} (ml-team-a Compute): a re-plan with this release changes it"
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!("+ action {action}")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("! inline policy `break-glass`, which the function never writes"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains(&format!("{compute_b} (ml-team-b Compute): not re-planned: CloudFormation is running an operation (UPDATE_IN_PROGRESS)")), "{}", text.stdout);

    // The reconcile run: refused unless the function's stack names it.
    let refused_calls = CallLog::default();
    let unallowed = handler_with(iam_client(Some(&refused_calls)), deployed_settings(&[]));
    let report = start_run(
        &unallowed,
        r#"{"PersonaRoleReconcile": {"Run": "upgrade-1"}}"#,
    )
    .await;
    assert_eq!(report["Status"], "Refused", "{report:#}");
    let (allowed, sink) = run_handler("upgrade-1", None);
    let report = start_run(
        &allowed,
        r#"{"PersonaRoleReconcile": {"Run": "upgrade-2"}}"#,
    )
    .await;
    assert_eq!(report["Status"], "Refused", "{report:#}");
    assert!(
        report["Reason"].as_str().unwrap().contains("`upgrade-1`"),
        "{report:#}"
    );
    assert_eq!(
        refused_calls.calls(),
        Vec::<String>::new(),
        "a refused run calls nothing"
    );

    // Allowed: the lagging and the hand-edited roles converge; the current one is unchanged;
    // the mid-operation stack's role, the refused declaration and the deleted stack's role are
    // reported and left as they are.
    let before_b = inline_policy(&compute_b).await;
    let calls = CallLog::default();
    let (allowed, sink) = run_handler("upgrade-1", Some((&calls, sink)));
    let report = start_run(
        &allowed,
        r#"{"PersonaRoleReconcile": {"Run": "upgrade-1"}}"#,
    )
    .await;
    assert_eq!(report["Status"], "Complete", "{report:#}");
    let outcomes = outcomes_of(&report);
    assert_eq!(outcomes[&compute_a]["Outcome"], "Converged", "{report:#}");
    assert_eq!(outcomes[&analyst_a]["Outcome"], "Converged", "{report:#}");
    assert_eq!(outcomes[&ds_a]["Outcome"], "Unchanged", "{report:#}");
    assert_eq!(
        outcomes[&compute_b]["Skip"]["Kind"], "InProgress",
        "{report:#}"
    );
    assert_eq!(
        outcomes[&analyst_c]["Skip"]["Kind"], "DoesNotPlan",
        "{report:#}"
    );
    assert_eq!(
        outcomes[&compute_d]["Skip"]["Kind"], "StackGone",
        "{report:#}"
    );
    assert!(
        !outcomes.contains_key(&console),
        "an unowned role is no run's"
    );
    assert!(
        !outcomes.contains_key(&elsewhere),
        "another region's role is no run's"
    );
    assert_eq!(
        inline_policy(&compute_b).await,
        before_b,
        "the mid-operation stack's role is as an older release wrote it"
    );
    let lines = emf::validated(&sink.lines());
    let line = lines.last().unwrap();
    assert_eq!(line["RequestType"], "Reconcile");
    assert_eq!(line["ReconcileConverged"], report["Converged"]);
    assert_eq!(line["ReconcileSkipped"], report["Skipped"]);
    assert!(line["IamCalls"].as_u64().unwrap() > 0);

    // The report now shows them current.
    let (_, _, roles) = drift_json("persona-role-drift");
    for role in [&compute_a, &analyst_a, &ds_a] {
        assert_eq!(
            roles[role]["Standing"], "Current",
            "{role}: {:#}",
            roles[role]
        );
    }
    assert_eq!(roles[&compute_b]["Standing"], "NotReplanned");

    // Idempotent: a second run changes nothing, not one mutating call.
    calls.clear();
    let report = start_run(
        &allowed,
        r#"{"PersonaRoleReconcile": {"Run": "upgrade-1"}}"#,
    )
    .await;
    assert_eq!(report["Converged"], 0, "{report:#}");
    assert_eq!(calls.mutating(), Vec::<String>::new());

    // Continued after a role, a run takes only the roles after it.
    write_as_older_release(&checker(), &compute_a).await;
    edit_by_hand(&analyst_a).await;
    let after =
        format!(r#"{{"PersonaRoleReconcile": {{"Run": "upgrade-1", "After": "{analyst_a}"}}}}"#);
    let report = start_run(&allowed, &after).await;
    let outcomes = outcomes_of(&report);
    assert!(!outcomes.contains_key(&analyst_a), "{report:#}");
    assert_eq!(outcomes[&compute_a]["Outcome"], "Converged", "{report:#}");

    // Stopped before its deadline (too little time for a wave), it says where to continue.
    let report = start_run_before(
        &allowed,
        r#"{"PersonaRoleReconcile": {"Run": "upgrade-1"}}"#,
        std::time::Duration::from_secs(10),
    )
    .await;
    assert_eq!(report["Status"], "Stopped", "{report:#}");
    assert_eq!(
        report["Continue"]["PersonaRoleReconcile"]["Run"],
        "upgrade-1"
    );
    // It continues after every role it finished (unowned and skipped ones are), before the
    // first it did not reach.
    let resume = report["Continue"]["PersonaRoleReconcile"]["After"]
        .as_str()
        .unwrap_or("");
    let not_reached: Vec<&str> = report["Outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["Outcome"] == "NotReached")
        .map(|o| o["RoleName"].as_str().unwrap())
        .collect();
    assert!(!not_reached.is_empty(), "{report:#}");
    assert!(
        not_reached.iter().all(|name| *name > resume),
        "{resume}: {not_reached:?}"
    );
    let report = start_run(&allowed, &report["Continue"].to_string()).await;
    assert_eq!(report["Status"], "Complete", "{report:#}");
    assert_eq!(
        outcomes_of(&report)[&analyst_a]["Outcome"],
        "Converged",
        "{report:#}"
    );
    let _ = function;
}

/// The role's inline policy as IAM holds it.
async fn inline_policy(role: &str) -> Value {
    let got = checker()
        .get_role_policy()
        .role_name(role)
        .policy_name("persona-role")
        .send()
        .await
        .unwrap();
    persona_role::iam::decode_document(got.policy_document()).unwrap()
}

/// A handler deployed with `ReconcileRun` set to `run`, its guardrails and its run read from
/// the environment the template gives the function; its IAM calls logged to `calls`, its metric
/// lines to `sink` (a new one unless given).
fn run_handler(
    run: &str,
    logged: Option<(&CallLog, persona_role::handler::MetricSink)>,
) -> (TestHandler, persona_role::handler::MetricSink) {
    let (calls, sink) = match logged {
        Some((calls, sink)) => (Some(calls), sink),
        None => (None, persona_role::handler::MetricSink::buffer()),
    };
    let settings = persona_role::handler::Settings {
        metric_sink: sink.clone(),
        ..reconcile_settings(run)
    };
    (handler_with(iam_client(calls), settings), sink)
}

/// Invokes the function with `payload` as Lambda would, a minute before its deadline; its answer.
async fn start_run(handler: &TestHandler, payload: &str) -> Value {
    start_run_before(handler, payload, std::time::Duration::from_secs(60)).await
}

async fn start_run_before(
    handler: &TestHandler,
    payload: &str,
    left: std::time::Duration,
) -> Value {
    let request = persona_role::reconcile::read(payload.as_bytes()).expect("a run's event");
    let report = handler
        .handler
        .reconcile(
            request,
            Some(std::time::Instant::now() + left),
            Some(FUNCTION_ARN),
        )
        .await;
    serde_json::to_value(&report).unwrap()
}

fn outcomes_of(report: &Value) -> BTreeMap<String, Value> {
    report["Outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["RoleName"].as_str().unwrap().to_owned(), o.clone()))
        .collect()
}

/// Without the function's stack there is nothing to plan with: exit 2, naming the flag.
#[test]
fn drift_without_the_function_stack_cannot_run() {
    let output = persona_role(&["drift", "--function-stack", "no-such-function-stack"]);
    assert_eq!(output.code, 2, "{}", output.stdout);
    assert!(
        output.stderr.contains("--function-stack"),
        "{}",
        output.stderr
    );
}

/// The compiled function tells the run's event from CloudFormation's: invoked with it while its
/// deployment names no run (or another), it answers the invocation with the refusal, calls
/// nothing, and writes the run's metric line.
#[test]
fn the_binary_answers_a_run_its_deployment_does_not_name_with_a_refusal() {
    let api = RuntimeApi::start();
    let function = Function::start_with_env(
        &api,
        &black_hole(),
        "function-reconcile",
        &[(persona_role::reconcile::RUN_ENV, "upgrade-7")],
    );
    api.push(
        "aws-request-run",
        json!({"PersonaRoleReconcile": {"Run": "upgrade-8"}}),
        std::time::Duration::from_secs(30),
    );
    let posted = api.wait_posted(1, std::time::Duration::from_secs(20));
    let logs = function.stop();
    assert_eq!(posted.len(), 1, "{}", logs.join("\n"));
    assert_eq!(posted[0].kind, "response", "{:?}", posted[0]);
    let answer: Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(answer["Status"], "Refused", "{answer:#}");
    assert_eq!(answer["Run"], "upgrade-8");
    assert!(
        answer["Reason"].as_str().unwrap().contains("`upgrade-7`"),
        "{answer:#}"
    );
    let metric = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["RequestType"] == "Reconcile")
        .unwrap_or_else(|| panic!("no metric line: {}", logs.join("\n")));
    assert_eq!(metric["IamCalls"], 0, "{metric}");
    assert_eq!(metric["Status"], "Refused");
}

// ------------------------------------------------------------------ the scheduled drift report

/// The template: without `DriftReportSchedule` (the default) no rule invokes the function, no
/// permission lets EventBridge, no `DriftAlarm` exists and the function's environment names no
/// schedule; with one, the rule sends the report's event (which the function reads as such) to
/// the function on that schedule, only that rule may invoke it through EventBridge, the alarm
/// watches `DriftedRoles` and tells the alarm topic, and the function's environment admits the
/// report. cfn-lint accepts the template either way.
#[test]
fn the_drift_report_schedule_is_off_by_default_and_wired_when_set() {
    use persona_role::drift_report;
    const RULE_ARN: &str =
        "arn:aws:events:us-east-1:123456789012:rule/sagemaker-fn-DriftReportRule-1";
    let off = deployed::Deployment::new(&[]);
    assert!(!off.condition("DriftReportScheduled"));
    for resource in [
        "DriftReportRule",
        "DriftReportInvokePermission",
        "DriftAlarm",
    ] {
        assert_eq!(
            off.properties(resource),
            None,
            "{resource} exists by default"
        );
    }
    let environment = off.environment();
    assert_eq!(environment[drift_report::SCHEDULE_ENV], "");
    assert!(drift_report::admit(Some(&environment[drift_report::SCHEDULE_ENV])).is_err());

    let topic = "arn:aws:sns:us-east-1:123456789012:ops";
    for schedule in ["rate(1 day)", "cron(0 6 * * ? *)"] {
        let on = deployed::Deployment::new(&[
            ("DriftReportSchedule", schedule),
            ("AlarmTopicArn", topic),
        ])
        .knowing("DriftReportRule.Arn", json!(RULE_ARN));
        assert!(on.condition("DriftReportScheduled"));
        let rule = on.properties("DriftReportRule").unwrap();
        assert_eq!(rule["ScheduleExpression"], schedule);
        assert_eq!(rule["State"], "ENABLED");
        let target = &rule["Targets"][0];
        assert_eq!(target["Arn"], on.function_arn());
        let input = target["Input"].as_str().unwrap();
        assert_eq!(
            drift_report::read(input.as_bytes()),
            Some(Ok(())),
            "the rule's input is the report's event: {input}"
        );
        let permission = on.properties("DriftReportInvokePermission").unwrap();
        assert_eq!(permission["Principal"], "events.amazonaws.com");
        assert_eq!(permission["SourceArn"], RULE_ARN);
        assert_eq!(permission["FunctionName"], on.function_arn());
        assert_eq!(permission["Action"], "lambda:InvokeFunction");
        let alarm = on.properties("DriftAlarm").unwrap();
        assert_eq!(alarm["Namespace"], "PersonaRole");
        assert_eq!(alarm["MetricName"], drift_report::DRIFTED_ROLES);
        assert_eq!(alarm["AlarmActions"], json!([topic]));
        let environment = on.environment();
        assert_eq!(environment[drift_report::SCHEDULE_ENV], schedule);
        assert!(drift_report::admit(Some(&environment[drift_report::SCHEDULE_ENV])).is_ok());
    }

    // cfn-lint on the template as it is (off) and with the schedule on by default.
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert_cfn_lint_clean(&text, "template-drift-off.yaml");
    let declared = "  DriftReportSchedule:\n    Type: String\n    Default: \"\"\n";
    assert!(text.contains(declared), "the parameter's declaration moved");
    let on = text.replace(
        declared,
        "  DriftReportSchedule:\n    Type: String\n    Default: rate(1 day)\n",
    );
    assert_cfn_lint_clean(&on, "template-drift-on.yaml");
}

/// The compiled function's JSON lines, parsed.
fn json_lines(logs: &[String]) -> Vec<Value> {
    logs.iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

/// The compiled function, deployed with `DriftReportSchedule` set (its whole environment as the
/// template sets it), given the report's event as EventBridge sends it: against its own moto
/// (the report reads the whole account) holding a current role, one a release has not reached,
/// one edited by hand, one of a stack mid-update and a console role, it answers with the
/// report, logs one line per role that is not current (role, stack, logical id, standing,
/// what differs), writes one metric line counting each standing, and calls IAM only to read:
/// the proxy between it and moto sees no mutating call, and the roles are as they were.
#[tokio::test]
async fn the_compiled_function_reports_drift_on_schedule_and_writes_nothing() {
    let own = support::moto::Moto::start(
        &root(),
        &std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("moto-drift-report-{}.log", std::process::id())),
        &[],
    )
    .unwrap();
    let iam = iam_client_at(own.endpoint(), None);
    let recorder = Recorder::start();
    let handler = handler_with(iam_client_at(own.endpoint(), None), deployed_settings(&[]));
    let tag = request_id("r").replace('-', "");

    let team = stack_id("ml-team-report");
    stack_creating(&team);
    let compute_role = deploy_role(
        &handler,
        &team,
        "Compute",
        compute(&format!("compute-{tag}")),
        &recorder,
    )
    .await;
    let current = deploy_role(
        &handler,
        &team,
        "DataScientist",
        data_scientist(&format!("ds-{tag}"), &compute_role),
        &recorder,
    )
    .await;
    let edited = deploy_role(
        &handler,
        &team,
        "Analyst",
        analyst(&format!("analyst-{tag}")),
        &recorder,
    )
    .await;
    stand_in().put_stack(&team, "CREATE_COMPLETE");
    let busy = stack_id("ml-team-busy");
    stack_creating(&busy);
    let in_progress = deploy_role(
        &handler,
        &busy,
        "Compute",
        compute(&format!("busy-{tag}")),
        &recorder,
    )
    .await;
    stand_in().put_stack(&busy, "UPDATE_IN_PROGRESS");
    let console = console_role_in(&iam, &format!("Report{tag}")).await;
    let older = write_as_older_release(&iam, &compute_role).await;
    edit_by_hand_in(&iam, &edited).await;
    let policies_before = roles_policies(&iam, &[&compute_role, &edited]).await;

    let proxy = FaultProxy::start(own.endpoint());
    let deployment = deployed::Deployment::new(&[("DriftReportSchedule", "rate(1 day)")]);
    let environment = deployment.environment();
    let env: Vec<(&str, &str)> = environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let api = RuntimeApi::start();
    let function = Function::start_exactly(&api, proxy.endpoint(), "function-drift-report", &env);
    api.push(
        "aws-request-drift-report",
        json!({"PersonaRoleDriftReport": {}}),
        std::time::Duration::from_secs(120),
    );
    let posted = api.wait_posted(1, std::time::Duration::from_secs(90));
    let logs = function.stop();
    assert_eq!(posted.len(), 1, "{}", logs.join("\n"));
    assert_eq!(posted[0].kind, "response", "{:?}", posted[0]);
    let answer: Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(answer["Status"], "Complete", "{answer:#}");

    let lines = json_lines(&logs);
    let metric = lines
        .iter()
        .find(|line| line["RequestType"] == "DriftReport")
        .unwrap_or_else(|| panic!("no metric line: {}", logs.join("\n")));
    let metric_text = serde_json::to_string(metric).unwrap();
    support::emf::validate(&metric_text).unwrap_or_else(|e| panic!("{e:?}: {metric_text}"));
    for (name, count) in [
        ("CurrentRoles", 1),
        ("DriftedRoles", 1),
        ("LaggingRoles", 1),
        ("UnreplannableRoles", 1),
        ("NotAdoptedRoles", 1),
        ("UncheckedRoles", 0),
        ("DriftReportIncomplete", 0),
    ] {
        assert_eq!(metric[name], count, "{name}: {metric:#}\n{answer:#}");
    }
    assert_eq!(metric["Status"], "Complete");
    assert!(metric["IamCalls"].as_u64().unwrap() > 0, "{metric}");
    assert!(
        metric["CloudFormationCalls"].as_u64().unwrap() > 0,
        "{metric}"
    );

    let per_role: BTreeMap<String, &Value> = lines
        .iter()
        .filter(|line| line["message"] == "drift report")
        .map(|line| (line["role"].as_str().unwrap().to_owned(), line))
        .collect();
    assert!(
        !per_role.contains_key(&current),
        "a current role has no line: {per_role:#?}"
    );
    let drifted = per_role[&edited];
    assert_eq!(drifted["standing"], "Drifted", "{drifted}");
    assert_eq!(drifted["level"], "WARN", "{drifted}");
    assert_eq!(drifted["stack_id"], team.as_str());
    assert_eq!(drifted["logical_id"], "Analyst");
    let differs = drifted["differs"].as_str().unwrap();
    for edit in [
        "break-glass",
        "no permissions boundary",
        "111122223333",
        "cost-center",
    ] {
        assert!(differs.contains(edit), "{edit}: {differs}");
    }
    let lagging = per_role[&compute_role];
    assert_eq!(lagging["standing"], "Lagging", "{lagging}");
    assert_eq!(lagging["logical_id"], "Compute");
    assert!(
        lagging["differs"]
            .as_str()
            .unwrap()
            .contains("PutRolePolicy persona-role"),
        "the re-plan puts back {older}: {lagging}"
    );
    assert_eq!(per_role[&in_progress]["standing"], "Unreplannable");
    assert!(
        per_role[&in_progress]["differs"]
            .as_str()
            .unwrap()
            .contains("UPDATE_IN_PROGRESS")
    );
    assert_eq!(per_role[&console]["standing"], "NotAdopted");
    let listed: Vec<&str> = answer["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["RoleName"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 4, "{answer:#}");

    // Read-only: no mutating call reached IAM, none was logged, and the roles are as they were.
    let seen = proxy.seen();
    assert!(seen.contains_key("ListRoles"), "{seen:?}");
    let writes: Vec<&String> = seen.keys().filter(|op| is_mutating(op)).collect();
    assert!(writes.is_empty(), "mutating calls: {writes:?}");
    assert!(
        !lines.iter().any(|line| line["message"] == "IAM change"),
        "{}",
        logs.join("\n")
    );
    assert_eq!(
        roles_policies(&iam, &[&compute_role, &edited]).await,
        policies_before
    );
    drop(own);
}

/// Each role's inline policies with their documents, as IAM holds them.
async fn roles_policies(iam: &aws_sdk_iam::Client, roles: &[&str]) -> Vec<Vec<(String, Value)>> {
    let mut all = Vec::new();
    for role in roles {
        let names = iam
            .list_role_policies()
            .role_name(*role)
            .send()
            .await
            .unwrap();
        let mut policies = Vec::new();
        for name in names.policy_names() {
            let got = iam
                .get_role_policy()
                .role_name(*role)
                .policy_name(name)
                .send()
                .await
                .unwrap();
            policies.push((
                name.clone(),
                persona_role::iam::decode_document(got.policy_document()).unwrap(),
            ));
        }
        all.push(policies);
    }
    all
}

/// Deployed without a schedule, the compiled function refuses the report's event before any
/// call: its answer says why, its metric line counts the refusal and no IAM call, and the proxy
/// in front of moto sees nothing.
#[test]
fn the_binary_refuses_the_report_when_no_schedule_is_set() {
    let proxy = FaultProxy::start(moto_endpoint());
    let environment = deployed::Deployment::new(&[]).environment();
    let env: Vec<(&str, &str)> = environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let api = RuntimeApi::start();
    let function = Function::start_exactly(&api, proxy.endpoint(), "function-drift-off", &env);
    api.push(
        "aws-request-drift-off",
        json!({"PersonaRoleDriftReport": {}}),
        std::time::Duration::from_secs(30),
    );
    let posted = api.wait_posted(1, std::time::Duration::from_secs(20));
    let logs = function.stop();
    assert_eq!(posted.len(), 1, "{}", logs.join("\n"));
    let answer: Value = serde_json::from_str(&posted[0].body).unwrap();
    assert_eq!(answer["Status"], "Refused", "{answer:#}");
    assert!(
        answer["Reason"]
            .as_str()
            .unwrap()
            .contains("DriftReportSchedule"),
        "{answer:#}"
    );
    let lines = json_lines(&logs);
    let metric = lines
        .iter()
        .find(|line| line["RequestType"] == "DriftReport")
        .unwrap_or_else(|| panic!("no metric line: {}", logs.join("\n")));
    assert_eq!(metric["DriftReportRefused"], 1, "{metric}");
    assert_eq!(metric["IamCalls"], 0, "{metric}");
    assert_eq!(metric.get("DriftedRoles"), None, "{metric}");
    assert_eq!(proxy.total_seen(), 0, "{:?}", proxy.seen());
}
