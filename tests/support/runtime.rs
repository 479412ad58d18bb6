//! A minimal Lambda Runtime API and the compiled function run behind it, as Lambda runs it: the
//! API hands out queued events with request id, deadline and function ARN headers; the function
//! process talks to IAM (moto, possibly behind the fault proxy) and to the CloudFormation
//! stand-in, which shows each event's stack as CloudFormation would while the event is handed
//! out, and PUTs its answers.

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::ACCOUNT;
use super::http::read_request;

/// What the function posted back to the runtime API.
#[derive(Debug, Clone)]
pub struct Posted {
    pub aws_request_id: String,
    pub kind: String,
    pub body: String,
}

/// A minimal Lambda Runtime API: `next` hands out queued events (and then holds the connection,
/// as the real API does while no event waits), `response` and `error` are recorded.
#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    queue: Arc<Mutex<VecDeque<(String, Duration, Value)>>>,
    posted: Arc<Mutex<Vec<Posted>>>,
    /// When an instance first asked for an event: the end of its start.
    first_next: Arc<Mutex<Option<std::time::Instant>>>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = RuntimeApi {
            address: listener.local_addr().unwrap().to_string(),
            queue: Arc::default(),
            posted: Arc::default(),
            first_next: Arc::default(),
        };
        let shared = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let api = shared.clone();
                std::thread::spawn(move || api.serve(stream));
            }
        });
        api
    }

    /// When an instance first asked for an event, if one has.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        *self.first_next.lock().unwrap()
    }

    /// Queues an event whose Lambda deadline is `left` after an instance takes it, as Lambda's
    /// timeout counts from the invocation.
    pub fn push(&self, aws_request_id: &str, event: Value, left: Duration) {
        self.queue
            .lock()
            .unwrap()
            .push_back((aws_request_id.to_owned(), left, event));
    }

    pub fn posted(&self) -> Vec<Posted> {
        self.posted.lock().unwrap().clone()
    }

    pub fn wait_posted(&self, count: usize, timeout: Duration) -> Vec<Posted> {
        let end = Instant::now() + timeout;
        while self.posted().len() < count && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.posted()
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        // hyper may reuse the connection: serve requests until it closes.
        while let Some(request) = read_request(&mut reader) {
            let (method, path, body) = (request.method, request.target, request.body);
            let answer = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
                self.first_next
                    .lock()
                    .unwrap()
                    .get_or_insert_with(std::time::Instant::now);
                let (id, left, event) = loop {
                    if let Some(next) = self.queue.lock().unwrap().pop_front() {
                        break next;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                // As CloudFormation shows the stack while it waits for this event.
                super::stand_in().confirm_now(&event);
                let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + left;
                let deadline_ms = deadline.as_millis();
                let body = event.to_string();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:{ACCOUNT}:function:persona-role\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
                let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                self.posted.lock().unwrap().push(Posted {
                    aws_request_id: id.to_owned(),
                    kind: kind.to_owned(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_owned()
            } else {
                self.posted.lock().unwrap().push(Posted {
                    aws_request_id: String::new(),
                    kind: path.clone(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_owned()
            };
            if stream.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// The function process; killed (and its logs read) when dropped or finished.
pub struct Function {
    child: Child,
    log: std::path::PathBuf,
}

/// The boundary the compiled function gives every role, as `template.yaml` sets it (moto does
/// not check that the policy exists).
pub const TEST_BOUNDARY: &str = "arn:aws:iam::123456789012:policy/persona-role-test-boundary";

impl Function {
    /// The function with the guardrails' environment a deployment sets: a boundary to give.
    pub fn start(api: &RuntimeApi, iam_endpoint: &str, name: &str) -> Self {
        Function::start_with_env(api, iam_endpoint, name, &[])
    }

    /// [`Function::start`] with further environment variables (log level, guardrails).
    pub fn start_with_env(
        api: &RuntimeApi,
        iam_endpoint: &str,
        name: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let mut env = vec![(
            persona_role::guardrails::REQUIRED_BOUNDARY_ENV,
            TEST_BOUNDARY,
        )];
        env.extend_from_slice(extra);
        Function::start_exactly(api, iam_endpoint, name, &env)
    }

    /// The function with exactly these variables besides what Lambda and the tests' stand-ins
    /// need: no boundary to give unless `env` names one.
    pub fn start_exactly(
        api: &RuntimeApi,
        iam_endpoint: &str,
        name: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}.log", std::process::id()));
        // Another build of the function (a release build, for its start time and memory).
        let binary = std::env::var_os("PERSONA_ROLE_LAMBDA_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_persona-role-lambda").into());
        let child = Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "persona-role")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/persona-role")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/persona-role-test-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/persona-role-test-credentials",
            )
            .env("AWS_ENDPOINT_URL_IAM", iam_endpoint)
            .env(
                "AWS_ENDPOINT_URL_CLOUDFORMATION",
                super::stand_in().endpoint(),
            )
            .env("RESPONSE_URL_ALLOW_LOOPBACK", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Function { child, log }
    }

    /// Peak resident memory (VmHWM) and CPU time (user + system) so far, from /proc.
    pub fn usage(&self) -> Option<(u64, Duration)> {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): utime is the 14th, stime 15th.
        let after = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // Linux reports in USER_HZ, 100 per second on every platform Rust supports here.
        Some((kib * 1024, Duration::from_millis(ticks * 10)))
    }

    /// Stops the function and returns its log lines.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
