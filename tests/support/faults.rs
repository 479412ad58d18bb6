//! A fault-injecting HTTP proxy in front of moto: IAM as production sees it. It answers a share
//! of calls with `Throttling` (at random, or beyond a calls-per-second budget), and on chosen
//! calls loses the answer (the call takes effect, the client never hears back), hangs, or
//! answers `NoSuchEntity` as IAM does right after a create. Everything else is forwarded to moto
//! unchanged, after a fixed latency if one is set (IAM's round trip, for the round-trip
//! benchmark). Counts what it saw and what it injected.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{Request, read_request};

/// What to do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer `400 Throttling: Rate exceeded` without forwarding.
    Throttle,
    /// Forward, then close the connection without answering: the call took effect.
    LoseAnswer,
    /// Hold the connection this long without answering, then close it; nothing is forwarded.
    Hang(Duration),
    /// Answer `404 NoSuchEntity` without forwarding.
    NoSuchEntity,
}

/// A fault for the `nth` (from 1) call of an operation.
#[derive(Debug, Clone)]
struct Rule {
    operation: String,
    nth: usize,
    fault: Fault,
}

#[derive(Debug, Default)]
struct State {
    /// Share of calls answered Throttling at random, in per mille.
    throttle_per_mille: u32,
    /// At most this many calls per second are forwarded; the rest are throttled.
    budget_per_second: Option<usize>,
    recent: Vec<Instant>,
    rules: Vec<Rule>,
    seen: BTreeMap<String, usize>,
    injected: BTreeMap<&'static str, usize>,
    random: u64,
    /// Added to every forwarded call.
    latency: Duration,
    /// Forwarded calls being answered now, and the most at once, by operation.
    in_flight: BTreeMap<String, usize>,
    peak: BTreeMap<String, usize>,
}

/// The proxy; cheap to clone, shared by all its connections.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let state = Arc::new(Mutex::new(State {
            random: 0x9e37_79b9_7f4a_7c15,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                let upstream = upstream.clone();
                std::thread::spawn(move || serve(stream, &upstream, &state));
            }
        });
        FaultProxy { endpoint, state }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Throttles this share of all calls (0.0–1.0), pseudo-randomly from a fixed seed.
    pub fn throttle(&self, share: f64) -> &Self {
        let per_mille = (share.clamp(0.0, 1.0) * 1000.0).round();
        self.state.lock().unwrap().throttle_per_mille = per_mille as u32;
        self
    }

    /// Holds every forwarded call this long before forwarding it, as a distant IAM would.
    pub fn latency(&self, latency: Duration) -> &Self {
        self.state.lock().unwrap().latency = latency;
        self
    }

    /// Forwards at most `calls` per second, throttling the rest, as IAM's account-wide rate does.
    pub fn budget(&self, calls: usize) -> &Self {
        self.state.lock().unwrap().budget_per_second = Some(calls);
        self
    }

    /// Injects `fault` into the `nth` (from 1) call of `operation` seen from now on.
    pub fn on(&self, operation: &str, nth: usize, fault: Fault) -> &Self {
        let mut state = self.state.lock().unwrap();
        let already = state.seen.get(operation).copied().unwrap_or(0);
        state.rules.push(Rule {
            operation: operation.to_owned(),
            nth: already + nth,
            fault,
        });
        self
    }

    /// The most forwarded calls of `operation` that were in flight at once.
    pub fn peak_in_flight(&self, operation: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .peak
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Calls seen, by operation (injected ones included).
    pub fn seen(&self) -> BTreeMap<String, usize> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn total_seen(&self) -> usize {
        self.seen().values().sum()
    }

    /// Faults injected, by kind (`Throttle`, `LoseAnswer`, ...).
    pub fn injected(&self) -> BTreeMap<&'static str, usize> {
        self.state.lock().unwrap().injected.clone()
    }

    pub fn injected_of(&self, kind: &str) -> usize {
        self.injected().get(kind).copied().unwrap_or(0)
    }

    /// Stops injecting: every later call is forwarded.
    pub fn heal(&self) {
        let mut state = self.state.lock().unwrap();
        state.throttle_per_mille = 0;
        state.budget_per_second = None;
        state.rules.clear();
    }
}

impl State {
    fn decide(&mut self, operation: &str) -> Option<Fault> {
        let count = {
            let seen = self.seen.entry(operation.to_owned()).or_insert(0);
            *seen += 1;
            *seen
        };
        if let Some(i) = self
            .rules
            .iter()
            .position(|r| r.operation == operation && r.nth == count)
        {
            return Some(self.rules.remove(i).fault);
        }
        if let Some(budget) = self.budget_per_second {
            let now = Instant::now();
            self.recent
                .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
            if self.recent.len() >= budget {
                return Some(Fault::Throttle);
            }
            self.recent.push(now);
        }
        if self.throttle_per_mille > 0 {
            // xorshift64: repeatable runs, no dependency.
            self.random ^= self.random << 13;
            self.random ^= self.random >> 7;
            self.random ^= self.random << 17;
            if (self.random % 1000) < u64::from(self.throttle_per_mille) {
                return Some(Fault::Throttle);
            }
        }
        None
    }

    fn count(&mut self, fault: Fault) {
        let kind = match fault {
            Fault::Throttle => "Throttle",
            Fault::LoseAnswer => "LoseAnswer",
            Fault::Hang(_) => "Hang",
            Fault::NoSuchEntity => "NoSuchEntity",
        };
        *self.injected.entry(kind).or_insert(0) += 1;
    }
}

fn serve(client: TcpStream, upstream: &str, state: &Mutex<State>) {
    let Ok(reader) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader);
    let mut client = client;
    // One request after another on a kept-alive connection, until the client closes it.
    while let Some(request) = read_request(&mut reader) {
        let operation = operation_of(&request.body);
        let fault = state.lock().unwrap().decide(&operation);
        if let Some(fault) = fault {
            state.lock().unwrap().count(fault);
        }
        match fault {
            Some(Fault::Throttle) => {
                let body = error_xml("Throttling", "Rate exceeded");
                if write_answer(&mut client, "400 Bad Request", &body).is_err() {
                    return;
                }
            }
            Some(Fault::NoSuchEntity) => {
                let body = error_xml("NoSuchEntity", "The role cannot be found.");
                if write_answer(&mut client, "404 Not Found", &body).is_err() {
                    return;
                }
            }
            Some(Fault::LoseAnswer) => {
                let _ = forward(&request, upstream);
                return;
            }
            Some(Fault::Hang(duration)) => {
                std::thread::sleep(duration);
                return;
            }
            None => {
                let latency = {
                    let mut state = state.lock().unwrap();
                    let now = state.in_flight.entry(operation.clone()).or_insert(0);
                    *now += 1;
                    let now = *now;
                    let peak = state.peak.entry(operation.clone()).or_insert(0);
                    *peak = (*peak).max(now);
                    state.latency
                };
                std::thread::sleep(latency);
                let forwarded = forward(&request, upstream);
                if let Some(now) = state.lock().unwrap().in_flight.get_mut(&operation) {
                    *now -= 1;
                }
                let Some((status, body, content_type)) = forwarded else {
                    return;
                };
                if write_answer_typed(&mut client, &status, &body, &content_type).is_err() {
                    return;
                }
            }
        }
    }
}

/// The IAM operation of a query-protocol request body (`Action=CreateRole&...`).
fn operation_of(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("?")
        .to_owned()
}

/// Sends the request to moto on a fresh connection and reads the whole answer.
fn forward(request: &Request, upstream: &str) -> Option<(String, Vec<u8>, String)> {
    let mut stream = TcpStream::connect(upstream).ok()?;
    let mut head = format!(
        "{} {} {}\r\n",
        request.method, request.target, request.version
    );
    // One request per upstream connection: the client's `Connection` header gives way to ours.
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let body = answer[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next()?.split_once(' ')?.1.to_owned();
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_else(|| "text/xml".to_owned());
    Some((status, body, content_type))
}

fn error_xml(code: &str, message: &str) -> Vec<u8> {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>"
    )
    .into_bytes()
}

fn write_answer(client: &mut TcpStream, status: &str, body: &[u8]) -> std::io::Result<()> {
    write_answer_typed(client, status, body, "text/xml")
}

fn write_answer_typed(
    client: &mut TcpStream,
    status: &str,
    body: &[u8],
    content_type: &str,
) -> std::io::Result<()> {
    client.write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )?;
    client.write_all(body)?;
    client.flush()
}
