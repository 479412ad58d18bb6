//! The one HTTP/1.1 request reader the stand-ins share (the ResponseURL recorder, the Lambda
//! Runtime API, the CloudFormation stand-in, the fault proxy): the request line, the headers and
//! a body of Content-Length bytes, which is all the SDKs and the function send (no chunked
//! request bodies).

use std::io::BufRead;

/// One request as read off a connection.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target: `/path?query`.
    pub target: String,
    /// `HTTP/1.1`.
    pub version: String,
    /// In the order sent, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Reads the next request of a connection, which may carry several one after another. `None`
/// when the client has closed it, or sent what does not read as a request (a connection the
/// stand-ins then drop).
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let version = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target,
        version,
        headers,
        body: Vec::new(),
    };
    let length = match request.header("content-length") {
        Some(length) => length.parse().ok()?,
        None => 0,
    };
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}
