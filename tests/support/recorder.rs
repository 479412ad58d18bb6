//! A recorder of ResponseURL PUTs: an HTTP server on 127.0.0.1 that keeps every request and
//! answers 200 (or what a test asks for). The integration tests and `examples/local-answer.rs`
//! read the function's answers from it.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::read_request;

/// Signature put in every recorder ResponseURL: it must never show in logs.
pub const SECRET_SIGNATURE: &str = "c0ffee5ecret5ignature";

/// One HTTP request the recorder received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP server on 127.0.0.1 that records ResponseURL PUTs and answers 200 (or 500 for the
/// first `failures` requests).
#[derive(Debug, Clone)]
pub struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub fn start() -> Self {
        Recorder::start_failing(0)
    }

    pub fn start_failing(failures: usize) -> Self {
        Recorder::start_answering(move |served| {
            if served < failures {
                (500, None)
            } else {
                (200, None)
            }
        })
    }

    /// A recorder that answers every request with a redirect to `location`.
    pub fn start_redirecting(location: String) -> Self {
        Recorder::start_answering(move |_| (307, Some(location.clone())))
    }

    /// A recorder whose answer to the n-th request (from 0) is `answer(n)`: a status and an
    /// optional Location.
    fn start_answering(answer: impl Fn(usize) -> (u16, Option<String>) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&requests);
        std::thread::spawn(move || {
            for (served, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (status, location) = answer(served);
                serve(stream, status, location.as_deref(), &shared);
            }
        });
        Recorder { port, requests }
    }

    /// A ResponseURL on this recorder, signed like a presigned S3 URL.
    pub fn url(&self, request_id: &str) -> String {
        format!(
            "http://127.0.0.1:{}/cfn-response/{request_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={SECRET_SIGNATURE}",
            self.port
        )
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose path names the request id.
    pub fn for_request(&self, request_id: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(&format!("/cfn-response/{request_id}?")))
            .collect()
    }

    /// Waits until `count` requests for `request_id` arrived.
    pub fn wait_for(&self, request_id: &str, count: usize, timeout: Duration) -> Vec<Recorded> {
        let end = Instant::now() + timeout;
        loop {
            let found = self.for_request(request_id);
            if found.len() >= count || Instant::now() > end {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one request, records it, then answers: recorded before the client sees the answer.
fn serve(
    mut stream: TcpStream,
    status: u16,
    location: Option<&str>,
    requests: &Mutex<Vec<Recorded>>,
) -> Option<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = read_request(&mut BufReader::new(stream.try_clone().ok()?))?;
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect();
    requests.lock().unwrap().push(Recorded {
        method: request.method,
        path: request.target,
        headers,
        body: request.body,
        at: Instant::now(),
    });
    let reason = match status {
        200 => "OK",
        307 => "Temporary Redirect",
        _ => "Internal Server Error",
    };
    let location = location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(answer.as_bytes()).ok()
}
