//! Real parts for the integration tests: one moto IAM server per test binary, a local
//! CloudFormation that answers what each stack is doing (`cloudformation.rs`), a recorder of
//! ResponseURL PUTs, an IAM client whose interceptor counts calls and injects failures, and the
//! sample events rewritten with per-test names. Nothing of AWS is mocked: the handler's SDK
//! clients talk HTTP to moto and the CloudFormation stand-in, and its reqwest client PUTs to the
//! recorder.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_iam::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_iam::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use persona_role::aws::Op;
use persona_role::aws::meter::{MeterInterceptor, Service};
use persona_role::cfn::send::AnswerRetry;
use persona_role::cfn::stacks::SdkStacks;
use persona_role::handler::{Delivered, Handler, HandlerError, MetricSink, Settings, read_actual};
use persona_role::iam::{Iam, SdkIam, diff};
use persona_role::ownership::{OWNER_LOGICAL_ID_TAG, OWNER_STACK_TAG, Owner};
use serde_json::{Value, json};

pub mod cloudformation;
#[path = "../common/mod.rs"]
mod common;
pub mod emf;
pub mod faults;
pub mod http;
pub mod memory;
pub mod moto;
pub mod recorder;
pub mod runtime;
pub use cloudformation::{Event, Resource, StandIn, stand_in};
pub use common::{ACCOUNT, STACK_ID, assert_cfn_lint_clean, deployed, root, samples, simulator};
pub use faults::{Fault, FaultProxy};
pub use recorder::{Recorded, Recorder, SECRET_SIGNATURE};
pub use runtime::{Function, Posted, RuntimeApi};
pub const PERSONAS: [&str; 4] = ["data-scientist", "mlops", "compute", "custom"];

// ------------------------------------------------------------------------------------ moto

/// The endpoint of this test binary's moto server, started on first use; it ends with the test
/// process.
pub fn moto_endpoint() -> &'static str {
    static MOTO: OnceLock<moto::Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "moto-{}-{}.log",
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            std::process::id()
        ));
        moto::Moto::start(&root(), &log, &[]).unwrap_or_else(|e| panic!("{e}"))
    })
    .endpoint()
}

// ------------------------------------------------------------------------ IAM clients

/// An IAM client for moto, with an optional call log; used by the handler under test.
pub fn iam_client(calls: Option<&CallLog>) -> aws_sdk_iam::Client {
    iam_client_at(moto_endpoint(), calls)
}

/// Its calls are counted into the event's meter, as the function's own client counts them.
pub fn iam_client_at(endpoint: &str, calls: Option<&CallLog>) -> aws_sdk_iam::Client {
    let mut config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::standard().with_max_attempts(2))
        .interceptor(MeterInterceptor(Service::Iam));
    if let Some(calls) = calls {
        config = config.interceptor(calls.clone());
    }
    aws_sdk_iam::Client::from_conf(config.build())
}

/// An IAM client at `endpoint` with the function's own retry and timeout policy (`policy`),
/// and an optional call log.
pub fn iam_client_with(
    endpoint: &str,
    calls: Option<&CallLog>,
    policy: &persona_role::aws::CallPolicy,
) -> aws_sdk_iam::Client {
    let base = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint);
    let mut config = policy.configure(base);
    if let Some(calls) = calls {
        config = config.interceptor(calls.clone());
    }
    aws_sdk_iam::Client::from_conf(config.build())
}

/// The function's call policy with backoffs and timeouts scaled down, so that tests of
/// throttling and hangs take seconds: the same number of attempts and the same mechanisms.
pub fn quick_policy() -> persona_role::aws::CallPolicy {
    persona_role::aws::CallPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(400),
        attempt_timeout: Duration::from_secs(2),
        ..persona_role::aws::CallPolicy::default()
    }
}

/// A handler whose IAM goes through `proxy`, with the function's call policy (quickened).
pub fn handler_through(proxy: &FaultProxy, calls: Option<&CallLog>) -> TestHandler {
    handler_with(
        iam_client_with(proxy.endpoint(), calls, &quick_policy()),
        settings(),
    )
}

// ------------------------------------------------------------------------ CloudFormation

/// A CloudFormation client at `endpoint` with the function's call policy (quickened).
pub fn cloudformation_client_at(endpoint: &str) -> aws_sdk_cloudformation::Client {
    let base = aws_sdk_cloudformation::Config::builder()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudformation::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(endpoint);
    aws_sdk_cloudformation::Client::from_conf(
        persona_role::cfn::stacks::configure(&quick_policy(), base).build(),
    )
}

/// The handler as the tests drive it: its CloudFormation is the stand-in. Unless `strict`, each
/// event it handles is first registered with the stand-in in the state in which CloudFormation
/// sends it, so that lifecycle tests read as CloudFormation's own events; strict, the stand-in
/// answers only what a test registered.
#[derive(Debug, Clone)]
pub struct TestHandler<I = SdkIam> {
    pub handler: Handler<I, SdkStacks>,
    pub strict: bool,
}

impl<I: Iam + Clone + 'static> TestHandler<I> {
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<Instant>,
    ) -> Result<Delivered, HandlerError> {
        self.handle_invoked(event, deadline, None).await
    }

    pub async fn handle_invoked(
        &self,
        event: Value,
        deadline: Option<Instant>,
        function_arn: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        let _lease = match self.strict {
            true => None,
            false => Some(stand_in().confirm(&event).await),
        };
        self.handler
            .handle_invoked(event, deadline, function_arn)
            .await
    }
}

/// A handler with this IAM client and settings, its events confirmed by the stand-in.
pub fn handler_with(iam: aws_sdk_iam::Client, settings: Settings) -> TestHandler {
    TestHandler {
        handler: Handler::new(
            iam,
            cloudformation_client_at(stand_in().endpoint()),
            http(),
            settings,
        ),
        strict: false,
    }
}

/// A handler on moto whose CloudFormation answers only what the test registered with the
/// stand-in.
pub fn strict_handler(calls: Option<&CallLog>) -> TestHandler {
    TestHandler {
        strict: true,
        ..handler(calls)
    }
}

/// An independent client for assertions.
pub fn checker() -> aws_sdk_iam::Client {
    iam_client(None)
}

/// Records the IAM operations a client calls, and can fail or panic on the n-th mutating one
/// (before it is sent).
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    state: Arc<Mutex<CallState>>,
}

#[derive(Debug, Default)]
struct CallState {
    calls: Vec<String>,
    mutating: usize,
    fail_at: Vec<usize>,
    panic_at: Option<usize>,
}

impl CallLog {
    pub fn failing_at(n: usize) -> Self {
        CallLog::failing_at_each(&[n])
    }

    /// Fails each of these mutating calls (counted from 1).
    pub fn failing_at_each(ns: &[usize]) -> Self {
        let log = CallLog::default();
        log.state.lock().unwrap().fail_at = ns.to_vec();
        log
    }

    pub fn panicking_at(n: usize) -> Self {
        let log = CallLog::default();
        log.state.lock().unwrap().panic_at = Some(n);
        log
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn mutating(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| is_mutating(c))
            .collect()
    }

    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap();
        state.calls.clear();
        state.mutating = 0;
    }
}

/// Whether the registry counts the operation as a write. Every call the SDK makes must be a
/// registered operation: the execution role is tested against the registry, so an unregistered
/// call would escape that test; here it fails the test that made it.
pub fn is_mutating(operation: &str) -> bool {
    match Op::ALL.iter().find(|op| op.name() == operation) {
        Some(op) => op.is_write(),
        None => {
            panic!("the SDK called {operation}, which is not an operation of persona_role::aws::Op")
        }
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let (fail, panic) = {
            let mut state = self.state.lock().unwrap();
            state.calls.push(operation.clone());
            if !is_mutating(&operation) {
                return Ok(());
            }
            state.mutating += 1;
            (
                state.fail_at.contains(&state.mutating),
                state.panic_at == Some(state.mutating),
            )
        };
        if panic {
            panic!("injected panic in {operation}");
        }
        if fail {
            return Err(format!("injected failure in {operation}").into());
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------- events

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A request id unique in this process.
pub fn request_id(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A sample event (`events/<persona>-<kind>.json`) for a role named `sagemaker-<persona>-<tag>`,
/// answering to `recorder`.
pub fn sample_event(persona: &str, kind: &str, tag: &str, recorder: &Recorder) -> Value {
    let path = root().join(format!("events/{persona}-{kind}.json"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in ["ResourceProperties", "OldResourceProperties"] {
        if let Some(properties) = event.get_mut(key) {
            let suffix = properties["RoleNameSuffix"].as_str().unwrap().to_owned();
            properties["RoleNameSuffix"] = json!(format!("{suffix}-{tag}"));
        }
    }
    if let Some(physical) = event.get("PhysicalResourceId").and_then(Value::as_str) {
        event["PhysicalResourceId"] = json!(format!("{physical}-{tag}"));
    }
    retarget(&mut event, tag, recorder);
    event
}

/// A StackId of its own, named as the sample events' stack (`ml-personas`): one moto and one
/// stand-in serve every test of a binary, and a resource of the sample stack is registered by
/// whichever test sent its last event, so a test that times an answer, or hands its events to
/// the compiled function, puts them on a stack no other test's events name.
pub fn own_stack(tag: &str) -> String {
    format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/ml-personas/{}",
        request_id(tag)
    )
}

/// `event`, sent for `stack` instead.
pub fn on_stack(stack: &str, mut event: Value) -> Value {
    event["StackId"] = json!(stack);
    event
}

/// Gives an event a fresh RequestId and a ResponseURL on the recorder.
pub fn retarget(event: &mut Value, tag: &str, recorder: &Recorder) {
    let id = request_id(tag);
    event["ResponseURL"] = json!(recorder.url(&id));
    event["RequestId"] = json!(id);
}

/// A Create event of our own making.
pub fn create_event(logical_id: &str, properties: Value, tag: &str, recorder: &Recorder) -> Value {
    let mut event = json!({
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:persona-role",
        "StackId": STACK_ID,
        "LogicalResourceId": logical_id,
        "ResourceType": "Custom::SageMakerPersonaRole",
        "ResourceProperties": properties,
    });
    with_service_token(&mut event);
    retarget(&mut event, tag, recorder);
    event
}

/// CloudFormation sends the resource's `ServiceToken` among its properties too (and records it
/// in the stack's events): properties a test gives without it get the event's.
fn with_service_token(event: &mut Value) {
    let token = event["ServiceToken"].clone();
    if let Some(properties) = event["ResourceProperties"].as_object_mut() {
        properties.entry("ServiceToken").or_insert(token);
    }
}

/// The Update that follows `previous` (Create or Update) with `properties`.
pub fn update_after(
    previous: &Value,
    physical_id: &str,
    properties: Value,
    tag: &str,
    recorder: &Recorder,
) -> Value {
    let mut event = previous.clone();
    event["RequestType"] = json!("Update");
    event["PhysicalResourceId"] = json!(physical_id);
    event["OldResourceProperties"] = previous["ResourceProperties"].clone();
    event["ResourceProperties"] = properties;
    with_service_token(&mut event);
    retarget(&mut event, tag, recorder);
    event
}

/// The Delete of `physical_id` that follows `previous`.
pub fn delete_after(previous: &Value, physical_id: &str, tag: &str, recorder: &Recorder) -> Value {
    let mut event = previous.clone();
    event["RequestType"] = json!("Delete");
    event["PhysicalResourceId"] = json!(physical_id);
    if let Some(map) = event.as_object_mut() {
        map.remove("OldResourceProperties");
    }
    retarget(&mut event, tag, recorder);
    event
}

// ------------------------------------------------------------------------------ handler

/// The `FunctionName` of the tests' metrics.
pub const TEST_FUNCTION_NAME: &str = "persona-role-test";

/// Settings for tests: loopback ResponseURLs, quick PUT retries, metric lines kept in memory.
pub fn settings() -> Settings {
    Settings {
        allow_loopback: true,
        answer_retry: AnswerRetry {
            max_attempts: 4,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            attempt_timeout: Duration::from_secs(5),
        },
        max_answer_reserve: Duration::from_secs(2),
        function_name: TEST_FUNCTION_NAME.to_owned(),
        metric_sink: MetricSink::buffer(),
        ..Settings::default()
    }
}

/// Settings for tests, with the guardrails of the function as `template.yaml` deploys it with
/// the operator's `overrides` (its parameters' defaults otherwise). The readiness wait is left
/// out unless the overrides give `RoleReadyWaitSeconds`: moto serves a role at once, and the
/// wait has tests of its own.
pub fn deployed_settings(overrides: &[(&str, &str)]) -> Settings {
    let deployment = deployed::Deployment::new(overrides);
    let waits = overrides
        .iter()
        .any(|(name, _)| *name == "RoleReadyWaitSeconds");
    Settings {
        guardrails: deployment.guardrails(),
        ready_wait: deployment.ready_wait().filter(|_| waits),
        ..settings()
    }
}

pub fn handler(calls: Option<&CallLog>) -> TestHandler {
    handler_with(iam_client(calls), settings())
}

pub fn http() -> reqwest::Client {
    persona_role::cfn::send::answer_client().unwrap()
}

/// Runs the handler on an event with a Lambda deadline a minute away, and returns the one
/// response the recorder got for it.
pub async fn invoke<I: Iam + Clone + 'static>(
    handler: &TestHandler<I>,
    event: &Value,
    recorder: &Recorder,
) -> Value {
    invoke_with_deadline(handler, event, recorder, Duration::from_secs(60)).await
}

pub async fn invoke_with_deadline<I: Iam + Clone + 'static>(
    handler: &TestHandler<I>,
    event: &Value,
    recorder: &Recorder,
    left: Duration,
) -> Value {
    let request_id = event["RequestId"].as_str().unwrap().to_owned();
    let delivered = handler
        .handle(event.clone(), Some(Instant::now() + left))
        .await
        .unwrap_or_else(|e| panic!("no answer delivered: {e}"));
    let recorded = recorder.for_request(&request_id);
    assert_eq!(recorded.len(), 1, "exactly one answer per event");
    let response = recorded[0].json();
    assert_eq!(response["Status"], delivered.response.status.as_str());
    response
}

// --------------------------------------------------------------------- IAM assertions

pub async fn role_exists(name: &str) -> bool {
    match checker().get_role().role_name(name).send().await {
        Ok(_) => true,
        Err(e) => {
            let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e).map(str::to_owned);
            assert_eq!(code.as_deref(), Some("NoSuchEntity"), "{e:?}");
            false
        }
    }
}

pub async fn policy_exists(arn: &str) -> bool {
    checker().get_policy().policy_arn(arn).send().await.is_ok()
}

pub async fn role_tags(name: &str) -> BTreeMap<String, String> {
    checker()
        .list_role_tags()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

pub async fn inline_policy_names(name: &str) -> Vec<String> {
    checker()
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec()
}

pub async fn attached_arns(name: &str) -> Vec<String> {
    let mut arns: Vec<String> = checker()
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    arns.sort();
    arns
}

/// Local (customer-managed) policies whose name starts with `prefix`.
pub async fn local_policies(prefix: &str) -> Vec<String> {
    let policies = checker()
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .max_items(1000)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = policies
        .policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Creates a customer-managed policy for `ManagedPolicyArns`.
pub async fn make_policy(name: &str) -> String {
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]});
    checker()
        .create_policy()
        .policy_name(name)
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap();
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

/// Properties that need an inline policy, customer-managed policies and an attached policy.
pub fn big_properties(suffix: &str, attached: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:persona-role",
        "Persona": "DataScientist",
        "RoleNameSuffix": suffix,
        "PassRoles": ["arn:aws:iam::123456789012:role/sagemaker-compute"],
        "S3Buckets": (1..=8).map(|i| format!("ml-team-data-{i:04}")).collect::<Vec<_>>(),
        "AddActivities": ["manage-endpoints", "manage-pipelines", "manage-model-monitoring",
            "use-mlflow", "manage-mlflow"],
        "VpcSubnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "VpcSecurityGroups": ["sg-0123456789abcdef0"],
        "DataKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"],
        "VolumeKmsKeys": ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555556"],
        "ManagedPolicyArns": [attached],
        "MaxManagedPolicies": "20",
        "Tags": [{"Key": "team", "Value": "ml-platform"}],
    })
}

/// The plan an event declares, in the event's own stack.
pub fn plan_of(event: &Value) -> persona_role::plan::Plan {
    let context = persona_role::context::StackContext::from_stack_id(
        event["StackId"].as_str().unwrap(),
        event["LogicalResourceId"].as_str().unwrap(),
    )
    .unwrap();
    persona_role::plan::plan_properties(&event["ResourceProperties"], &context).unwrap()
}

/// No role of that name, and none of its own managed policies (`<name>-<n>`), is left in IAM.
pub async fn assert_gone(name: &str) {
    assert!(!role_exists(name).await, "role {name} left behind");
    let prefix = format!("{name}-");
    let own: Vec<String> = local_policies(&prefix)
        .await
        .into_iter()
        .filter(|p| {
            p.strip_prefix(&prefix)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    assert_eq!(
        own,
        Vec::<String>::new(),
        "managed policies of {name} left behind"
    );
}

/// An IAM endpoint that accepts connections and never answers.
pub fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    endpoint
}

/// A handler whose IAM never answers.
pub fn stuck_handler() -> TestHandler {
    handler_with(iam_client_at(&black_hole(), None), settings())
}

pub fn owner_of(event: &Value) -> Owner {
    Owner {
        stack_id: event["StackId"].as_str().unwrap().to_owned(),
        logical_id: event["LogicalResourceId"].as_str().unwrap().to_owned(),
    }
}

/// IAM holds exactly what the event's properties declare.
pub async fn assert_converged(event: &Value) {
    assert_role_converged(&plan_of(event).role.role_name, event).await;
}

/// Role `name` (an adopted role keeps its own spelling) is exactly what the event declares.
pub async fn assert_role_converged(name: &str, event: &Value) {
    let plan = plan_of(event);
    // Independent reads first.
    let tags = role_tags(name).await;
    assert_eq!(
        tags.get(OWNER_STACK_TAG).map(String::as_str),
        event["StackId"].as_str()
    );
    assert_eq!(
        tags.get(OWNER_LOGICAL_ID_TAG).map(String::as_str),
        event["LogicalResourceId"].as_str()
    );
    let mut inline: Vec<String> = plan
        .inline_policies
        .iter()
        .map(|p| p.policy_name.clone())
        .collect();
    inline.sort();
    assert_eq!(inline_policy_names(name).await, inline);
    let mut attached = plan.all_attached_arns();
    attached.sort();
    assert_eq!(attached_arns(name).await, attached);
    // Then the whole state through the adapter: nothing left to change.
    let iam = SdkIam::new(checker());
    let role = iam.get_role(name).await.unwrap().expect("role exists");
    let actual = read_actual(
        &iam,
        std::sync::Arc::new(plan.clone()),
        role,
        &owner_of(event),
    )
    .await
    .unwrap();
    assert_eq!(
        diff(&plan, &actual),
        Vec::new(),
        "IAM differs from the plan of {name}"
    );
}

// ------------------------------------------------------------------- stacks at rest

/// Registers stack `stack_id` as CloudFormation shows it while it creates its resources.
pub fn stack_creating(stack_id: &str) {
    stand_in().put_stack(stack_id, "CREATE_IN_PROGRESS");
}

/// Creates a role as stack `stack_id` (registered) would: a Create of `logical_id` with
/// `properties` through `handler`, which the stand-in confirms; then the resource's
/// `CREATE_COMPLETE` event with the role's id and the properties, as CloudFormation records it
/// once the answer came. Returns the role's name.
pub async fn deploy_role<I: Iam + Clone + 'static>(
    handler: &TestHandler<I>,
    stack_id: &str,
    logical_id: &str,
    properties: Value,
    recorder: &Recorder,
) -> String {
    let mut event = create_event(logical_id, properties, logical_id, recorder);
    event["StackId"] = json!(stack_id);
    let answer = invoke(handler, &event, recorder).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let role = answer["PhysicalResourceId"].as_str().unwrap().to_owned();
    completed(
        stack_id,
        logical_id,
        "CREATE_COMPLETE",
        &role,
        &event["ResourceProperties"],
    );
    role
}

/// CloudFormation took an answer for `logical_id`: the resource rests in `status` with `role`,
/// and its event records `properties`.
pub fn completed(stack_id: &str, logical_id: &str, status: &str, role: &str, properties: &Value) {
    stand_in().put_event(
        stack_id,
        Event::custom(logical_id, status, Some(role), properties),
    );
    stand_in().put_resource(stack_id, logical_id, Resource::custom(status, Some(role)));
}

/// Writes role `role`'s inline policy as an older release would have: its first statement of
/// several actions without its last, as if the catalog had not granted it yet (a catalog change
/// this release brings). Returns `<Sid>: <action>` of what was left out.
pub async fn write_as_older_release(iam: &aws_sdk_iam::Client, role: &str) -> String {
    let got = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("persona-role")
        .send()
        .await
        .unwrap();
    let mut document = persona_role::iam::decode_document(got.policy_document()).unwrap();
    let statement = document["Statement"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["Action"].as_array().is_some_and(|a| a.len() > 1))
        .unwrap();
    let sid = statement["Sid"].as_str().unwrap().to_owned();
    let removed = statement["Action"].as_array_mut().unwrap().pop().unwrap();
    iam.put_role_policy()
        .role_name(role)
        .policy_name("persona-role")
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap();
    format!("{sid}: {}", removed.as_str().unwrap())
}

/// The ServiceToken the tests' events name ([`create_event`]): the function a function stack
/// of [`function_stack`] outputs.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:persona-role";

/// A new stack id of this account and region, named `name`.
pub fn stack_id(name: &str) -> String {
    format!(
        "arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{name}/{}",
        request_id("id")
    )
}

/// The template's parameters as DescribeStacks shows them: lists joined by commas.
pub fn stack_parameters(deployment: &deployed::Deployment) -> BTreeMap<String, String> {
    deployment.template()["Parameters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|name| {
            let name = name.as_str().unwrap();
            let value = match deployment.parameter(name) {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (name.to_owned(), value)
        })
        .collect()
}

/// The function's own stack, deployed with the template's defaults and `overrides`, as
/// CloudFormation shows it: its parameters, its `ServiceToken` output ([`FUNCTION_ARN`]) and
/// the boundary it ships. Named `name`; returns its id.
pub fn function_stack(name: &str, overrides: &[(&str, &str)]) -> String {
    let deployment = deployed::Deployment::new(overrides);
    let id = stack_id(name);
    stand_in().put_stack(&id, "UPDATE_COMPLETE");
    let parameters = stack_parameters(&deployment);
    let parameters: Vec<(&str, &str)> = parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    stand_in().put_stack_details(&id, &parameters, &[("ServiceToken", FUNCTION_ARN)]);
    stand_in().put_resource(
        &id,
        "PersonaRoleBoundary",
        Resource {
            resource_type: "AWS::IAM::ManagedPolicy".to_owned(),
            status: "CREATE_COMPLETE".to_owned(),
            physical_id: Some(deployment.shipped_boundary()),
        },
    );
    id
}

/// Settings of the function deployed with `ReconcileRun` set to `run`: its guardrails and the
/// run read from the environment the template gives it.
pub fn reconcile_settings(run: &str) -> Settings {
    let overrides = [("ReconcileRun", run)];
    let environment = deployed::Deployment::new(&overrides).environment();
    Settings {
        reconcile_run: environment
            .get(persona_role::reconcile::RUN_ENV)
            .cloned()
            .filter(|r| !r.is_empty()),
        ..deployed_settings(&overrides)
    }
}
