//! The compiled `persona-role-lambda` binary, run as Lambda runs it: a local Lambda Runtime API
//! hands it events (with request id, deadline and function ARN headers), it talks to moto and
//! PUTs its answers to the recorder. Proves the lambda_runtime wiring, the environment it needs,
//! the JSON logs, and the FAILED answer before a deadline it cannot meet.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::*;

/// What the function posted back to the runtime API.
#[derive(Debug, Clone)]
struct Posted {
    aws_request_id: String,
    kind: String,
    body: String,
}

/// A minimal Lambda Runtime API: `next` hands out queued events (and then holds the connection,
/// as the real API does while no event waits), `response` and `error` are recorded.
#[derive(Clone)]
struct RuntimeApi {
    address: String,
    queue: Arc<Mutex<VecDeque<(String, u64, Value)>>>,
    posted: Arc<Mutex<Vec<Posted>>>,
}

impl RuntimeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = RuntimeApi {
            address: listener.local_addr().unwrap().to_string(),
            queue: Arc::default(),
            posted: Arc::default(),
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

    /// Queues an event whose Lambda deadline is `left` from now.
    fn push(&self, aws_request_id: &str, event: Value, left: Duration) {
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + left;
        let deadline_ms = u64::try_from(deadline.as_millis()).unwrap();
        self.queue
            .lock()
            .unwrap()
            .push_back((aws_request_id.to_owned(), deadline_ms, event));
    }

    fn posted(&self) -> Vec<Posted> {
        self.posted.lock().unwrap().clone()
    }

    fn wait_posted(&self, count: usize, timeout: Duration) -> Vec<Posted> {
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
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or_default().to_owned(),
                parts.next().unwrap_or_default().to_owned(),
            );
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let answer = if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
                let (id, deadline_ms, event) = loop {
                    if let Some(next) = self.queue.lock().unwrap().pop_front() {
                        break next;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
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
struct Function {
    child: Child,
    log: std::path::PathBuf,
}

impl Function {
    fn start(api: &RuntimeApi, iam_endpoint: &str, name: &str) -> Self {
        let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_persona-role-lambda"))
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
            .env("RESPONSE_URL_ALLOW_LOOPBACK", "true")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Function { child, log }
    }

    /// Stops the function and returns its log lines.
    fn stop(mut self) -> Vec<String> {
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

#[test]
fn the_binary_handles_create_update_delete_through_the_runtime_api() {
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start(&api, moto_endpoint(), "function-lifecycle");
    let create = sample_event("data-scientist", "create", "bin", &recorder);
    let update = sample_event("data-scientist", "update", "bin", &recorder);
    let delete = sample_event("data-scientist", "delete", "bin", &recorder);
    let name = update["PhysicalResourceId"].as_str().unwrap().to_owned();
    for (i, event) in [&create, &update, &delete].into_iter().enumerate() {
        api.push(
            &format!("aws-request-{i}"),
            event.clone(),
            Duration::from_secs(60),
        );
    }

    let posted = api.wait_posted(3, Duration::from_secs(60));
    let logs = function.stop();
    assert_eq!(posted.len(), 3, "{posted:?}\n{}", logs.join("\n"));
    for (i, event) in [&create, &update, &delete].into_iter().enumerate() {
        let request_id = event["RequestId"].as_str().unwrap();
        let answers = recorder.for_request(request_id);
        assert_eq!(answers.len(), 1, "one answer for {request_id}");
        let answer = answers[0].json();
        assert_eq!(answer["Status"], "SUCCESS", "{answer}");
        assert_eq!(answer["PhysicalResourceId"], name.as_str());
        assert_eq!(
            answers[0].headers.get("content-type").map(String::as_str),
            Some("")
        );
        let result = &posted[i];
        assert_eq!(result.aws_request_id, format!("aws-request-{i}"));
        assert_eq!(result.kind, "response", "{result:?}");
        let body: Value = serde_json::from_str(&result.body).unwrap();
        assert_eq!(body["Status"], "SUCCESS");
    }

    // Logs: JSON lines; one per IAM change, naming the request; never the URL's signature.
    assert!(!logs.is_empty());
    let mut changes = 0;
    for line in &logs {
        assert!(!line.contains(SECRET_SIGNATURE), "secret in log: {line}");
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["fields"]["message"] == "IAM change" {
            changes += 1;
            assert!(entry["fields"]["iam_action"].is_string(), "{line}");
            assert!(entry["span"]["RequestId"].is_string(), "{line}");
            assert_eq!(
                entry["span"]["LogicalResourceId"], "DataScientist",
                "{line}"
            );
        }
    }
    let create_changes = logs
        .iter()
        .filter(|l| l.contains("IAM change") && l.contains(create["RequestId"].as_str().unwrap()))
        .count();
    assert!(create_changes >= 2, "CreateRole and PutRolePolicy at least");
    assert!(changes > create_changes);
}

#[test]
fn the_binary_answers_failed_before_a_deadline_it_cannot_meet() {
    // An IAM endpoint that accepts connections and never answers.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_endpoint = format!("http://{}", hole.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hole.incoming() {
            held.push(stream);
        }
    });
    let recorder = Recorder::start();
    let api = RuntimeApi::start();
    let function = Function::start(&api, &hole_endpoint, "function-deadline");
    let create = sample_event("mlops", "create", "bindeadline", &recorder);
    let request_id = create["RequestId"].as_str().unwrap().to_owned();
    let left = Duration::from_secs(4);
    let deadline = Instant::now() + left;
    api.push("aws-request-deadline", create, left);

    let answers = recorder.wait_for(&request_id, 1, Duration::from_secs(10));
    let answered = Instant::now();
    let posted = api.wait_posted(1, Duration::from_secs(5));
    let logs = function.stop();
    assert_eq!(answers.len(), 1, "{}", logs.join("\n"));
    assert!(
        answered < deadline,
        "answered {:?} after the deadline",
        answered - deadline
    );
    let answer = answers[0].json();
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out"), "{reason}");
    assert!(reason.contains("Lambda deadline"), "{reason}");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].kind, "response");
    assert!(
        logs.iter().any(|l| l.contains("deadline reached")),
        "{}",
        logs.join("\n")
    );
}
