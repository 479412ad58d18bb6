//! Reading CloudTrail: the files CloudTrail delivers to S3 (`…_CloudTrail_….json.gz`, gzip or
//! plain, `{"Records": […]}`), whole directory trees of them, and what `aws cloudtrail
//! lookup-events` prints (`{"Events": [{"CloudTrailEvent": "<record as a JSON string>"}]}`).
//!
//! Records are streamed: each file is read a chunk at a time and each record handed on as it is
//! parsed, so memory holds a chunk and a record per thread, never a file. Files are read in
//! parallel, one per thread. What cannot be read is reported with its file, record index and
//! line and column, and the rest is read.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One CloudTrail record, the fields `usage` reads. Every field is optional and of any type in
/// the input: a field of the wrong type reads as absent rather than failing the file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default, deserialize_with = "lenient")]
    pub event_version: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub event_time: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub event_source: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub event_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub aws_region: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub recipient_account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub error_message: Option<String>,
    #[serde(default, rename = "sourceIPAddress", deserialize_with = "lenient")]
    pub source_ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient_identity")]
    pub user_identity: Identity,
    /// Kept as text, parsed only for the role's records.
    #[serde(default)]
    pub request_parameters: Option<Box<RawValue>>,
    #[serde(default)]
    pub resources: Option<Box<RawValue>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default, rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub invoked_by: Option<String>,
    #[serde(default, deserialize_with = "lenient_session")]
    pub session_context: SessionContext,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default, deserialize_with = "lenient_issuer")]
    pub session_issuer: SessionIssuer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(default, deserialize_with = "lenient")]
    pub arn: Option<String>,
}

/// A string, or absent for any other JSON value.
fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    deserializer.deserialize_any(V)
}

/// An object of type `T`, or `T::default()` for any other JSON value.
fn lenient_object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(T::default())
        }
    }
    deserializer.deserialize_any(V(std::marker::PhantomData))
}

fn lenient_identity<'de, D: Deserializer<'de>>(d: D) -> Result<Identity, D::Error> {
    lenient_object(d)
}

fn lenient_session<'de, D: Deserializer<'de>>(d: D) -> Result<SessionContext, D::Error> {
    lenient_object(d)
}

fn lenient_issuer<'de, D: Deserializer<'de>>(d: D) -> Result<SessionIssuer, D::Error> {
    lenient_object(d)
}

/// Something wrong with the input, where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Problem {
    pub file: String,
    /// Index of the record in its file's array, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(i) => write!(f, "{}, record {i}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What a reader is given: each record with its index, and each problem.
pub trait Sink {
    fn record(&mut self, file: &str, index: usize, record: Record);
    fn problem(&mut self, problem: Problem);
}

/// The files to read: the files given, and under each directory given the `.json` and `.gz`
/// files, sorted so that reports do not depend on the directory's order.
pub fn files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out, &mut problems);
        } else if path.exists() {
            out.push(path.clone());
        } else {
            problems.push(Problem {
                file: path.display().to_string(),
                record: None,
                message: "no such file or directory".to_owned(),
            });
        }
    }
    out.sort();
    out.dedup();
    (out, problems)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem {
                file: dir.display().to_string(),
                record: None,
                message: format!("cannot list the directory: {e}"),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out, problems);
        } else {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".gz") {
                out.push(path);
            }
        }
    }
}

/// Where records come from: a file as CloudTrail delivers it, or a document in memory. Either
/// may be gzip; the reader decodes what starts with gzip's magic bytes.
pub trait Source: Sync {
    /// How problems name it.
    fn label(&self) -> String;
    /// Its size as stored, so that the largest are read first.
    fn size(&self) -> u64;
    /// Its bytes as stored.
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>>;
}

impl Source for PathBuf {
    fn label(&self) -> String {
        self.display().to_string()
    }
    fn size(&self) -> u64 {
        std::fs::metadata(self).map_or(0, |m| m.len())
    }
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(self)?))
    }
}

/// A trail's document held in memory: a file's bytes, gzip or plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub label: String,
    pub bytes: Vec<u8>,
}

impl Source for Document {
    fn label(&self) -> String {
        self.label.clone()
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.bytes.as_slice()))
    }
}

/// Reads one source into `sink`, decoding gzip when it starts with gzip's magic bytes.
pub fn read_source(source: &impl Source, sink: &mut dyn Sink, bytes: &AtomicU64) {
    let label = source.label();
    let raw = match source.open() {
        Ok(raw) => raw,
        Err(e) => {
            return sink.problem(Problem {
                file: label,
                record: None,
                message: format!("cannot open: {e}"),
            });
        }
    };
    let mut raw = BufReader::with_capacity(1 << 16, raw);
    if matches!(raw.fill_buf(), Ok([0x1f, 0x8b, ..])) {
        read(
            &label,
            flate2::bufread::MultiGzDecoder::new(raw),
            sink,
            bytes,
        );
    } else {
        read(&label, raw, sink, bytes);
    }
}

/// Bytes read at a time.
const CHUNK: usize = 1 << 18;
/// A value longer than this (CloudTrail's records are a few hundred KB at most) ends the
/// reading of its file, so that memory stays bounded whatever the input.
const MAX_VALUE: usize = 1 << 24;

/// Reads one JSON document of records from `reader`: `{"Records": […]}` (a trail's file) or
/// `{"Events": […]}` (lookup-events), other members passed over. It is read a chunk at a time
/// into one buffer and each record parsed from the buffer (serde_json reads a slice several
/// times faster than a stream), so memory holds a chunk and one record, never a file. What is
/// wrong is reported where it is, as a line and column of the decoded document.
pub fn read(label: &str, reader: impl Read, sink: &mut dyn Sink, bytes: &AtomicU64) {
    read_by(label, reader, sink, bytes, CHUNK, MAX_VALUE);
}

fn read_by(
    label: &str,
    reader: impl Read,
    sink: &mut dyn Sink,
    bytes: &AtomicU64,
    chunk: usize,
    max_value: usize,
) {
    let mut input = Input {
        reader,
        chunk,
        max_value,
        buf: Vec::new(),
        at: 0,
        origin: Position { line: 1, column: 0 },
        eof: false,
        failed: None,
        read: 0,
    };
    let mut state = Reading {
        label,
        sink,
        index: 0,
        found: false,
    };
    let result = input.document(&mut state);
    bytes.fetch_add(input.read, Ordering::Relaxed);
    let problem = match result {
        Err(Broken(e)) if state.found => Some(Problem {
            file: label.to_owned(),
            record: Some(state.index),
            message: format!("unreadable from here on ({e}); the records before it were read"),
        }),
        Err(Broken(e)) => Some(Problem {
            file: label.to_owned(),
            record: None,
            message: format!("not CloudTrail JSON: {e}"),
        }),
        Ok(()) if !state.found => Some(Problem {
            file: label.to_owned(),
            record: None,
            message: "not CloudTrail JSON: no `Records` (a trail's file) or `Events` (lookup-events) array".to_owned(),
        }),
        Ok(()) => None,
    };
    if let Some(problem) = problem {
        state.sink.problem(problem);
    }
}

/// What is wrong with the document and where; the rest of it is not read.
struct Broken(String);

/// Where in the decoded document, as serde_json says it: lines from 1, columns from 0.
#[derive(Debug, Clone, Copy)]
struct Position {
    line: usize,
    column: usize,
}

impl Position {
    /// The position after `bytes`, which start here.
    fn after(self, bytes: &[u8]) -> Position {
        // Every byte read passes here once: counted a byte-sized lane at a time, which
        // vectorises (a count in usize lanes took a tenth of the reading's time).
        let lines: usize = bytes
            .chunks(255)
            .map(|chunk| usize::from(chunk.iter().fold(0u8, |n, b| n + u8::from(*b == b'\n'))))
            .sum();
        if lines == 0 {
            return Position {
                line: self.line,
                column: self.column + bytes.len(),
            };
        }
        let last = bytes.iter().rposition(|b| *b == b'\n').unwrap_or_default();
        Position {
            line: self.line + lines,
            column: bytes.len() - last - 1,
        }
    }

    /// A position serde_json gives relative to a slice that starts here.
    fn plus(self, line: usize, column: usize) -> Position {
        if line <= 1 {
            Position {
                line: self.line,
                column: self.column + column,
            }
        } else {
            Position {
                line: self.line + line - 1,
                column,
            }
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// The reading of one document: where its records go, and how far it got.
struct Reading<'a> {
    label: &'a str,
    sink: &'a mut dyn Sink,
    /// Elements of the arrays seen so far.
    index: usize,
    /// A `Records` or `Events` member was found.
    found: bool,
}

/// A document read a chunk at a time into one buffer.
struct Input<R> {
    reader: R,
    /// Bytes read at a time (at least).
    chunk: usize,
    max_value: usize,
    buf: Vec<u8>,
    /// Start of what has not been parsed yet.
    at: usize,
    /// The position of `buf[0]` in the document.
    origin: Position,
    eof: bool,
    /// Why the input ended early (a gzip stream cut short).
    failed: Option<std::io::Error>,
    read: u64,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

impl<R: Read> Input<R> {
    /// Reads more, keeping what is not parsed yet; false at the end of the input.
    fn more(&mut self) -> Result<bool, Broken> {
        if self.eof {
            return Ok(false);
        }
        self.origin = self.origin.after(&self.buf[..self.at]);
        self.buf.drain(..self.at);
        self.at = 0;
        let kept = self.buf.len();
        if kept > self.max_value {
            return Err(Broken(format!(
                "a value longer than {} bytes at {}",
                self.max_value, self.origin
            )));
        }
        // A value longer than a chunk doubles what is read next.
        self.buf.resize(kept + self.chunk.max(kept), 0);
        let mut filled = kept;
        while filled < self.buf.len() {
            match self.reader.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What was read before the error is read; the error ends the input.
                    self.failed = Some(e);
                    self.eof = true;
                    break;
                }
            }
        }
        self.buf.truncate(filled);
        self.read += (filled - kept) as u64;
        Ok(filled > kept)
    }

    /// The position of `buf[offset]`.
    fn position(&self, offset: usize) -> Position {
        self.origin.after(&self.buf[..offset])
    }

    /// What is wrong, said at `buf[offset]` (after the byte in question, as serde_json says).
    fn broken(&self, offset: usize, what: &str) -> Broken {
        Broken(format!("{what} at {}", self.position(offset)))
    }

    /// The input ended: cut short by an error reading it, or while `what` was parsed.
    fn ended(&self, what: &str) -> Broken {
        let end = self.position(self.buf.len());
        match &self.failed {
            Some(e) => Broken(format!("{e} at {end}")),
            None => Broken(format!("EOF while parsing {what} at {end}")),
        }
    }

    /// The next byte that is not white space, not consumed; None at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, Broken> {
        loop {
            if let Some(skip) = self.buf[self.at..].iter().position(|b| !is_space(*b)) {
                self.at += skip;
                return Ok(Some(self.buf[self.at]));
            }
            self.at = self.buf.len();
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// The next byte that is not white space, consumed; `what` is parsed meanwhile.
    fn next(&mut self, what: &str) -> Result<u8, Broken> {
        match self.peek()? {
            Some(b) => {
                self.at += 1;
                Ok(b)
            }
            None => Err(self.ended(what)),
        }
    }

    /// The next value, parsed from the buffer; parsed again with more input when the buffer
    /// ends inside it or right after it (a number may go on).
    fn value<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T, Broken> {
        if self.peek()?.is_none() {
            return Err(self.ended(what));
        }
        loop {
            let rest = &self.buf[self.at..];
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<T>();
            match stream.next() {
                Some(Ok(value)) => {
                    let end = stream.byte_offset();
                    let complete = rest[end..].iter().any(|b| !is_space(*b));
                    if complete || self.eof {
                        self.at += end;
                        return Ok(value);
                    }
                }
                Some(Err(e)) if !e.is_eof() || self.eof => {
                    if e.is_eof() && self.failed.is_some() {
                        return Err(self.ended(what));
                    }
                    let at = self.position(self.at).plus(e.line(), e.column());
                    let message = e.to_string();
                    let suffix = format!(" at line {} column {}", e.line(), e.column());
                    let code = message.strip_suffix(&suffix).unwrap_or(&message);
                    return Err(Broken(format!("{code} at {at}")));
                }
                // Cut off by the buffer's end.
                Some(Err(_)) | None => {}
            }
            if !self.more()? {
                // `None` above at the end of the input: nothing but white space was left.
                return Err(self.ended(what));
            }
        }
    }

    /// `{"Records": […]}` or `{"Events": […]}`, any other member passed over, and nothing after.
    fn document(&mut self, reading: &mut Reading<'_>) -> Result<(), Broken> {
        match self.next("a value")? {
            b'{' => {}
            _ => {
                return Err(self.broken(
                    self.at,
                    "expected an object with a `Records` or `Events` array",
                ));
            }
        }
        if self.peek()? == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                if self.peek()? != Some(b'"') {
                    self.next("an object")?;
                    return Err(self.broken(self.at, "key must be a string"));
                }
                let key: String = self.value("an object")?;
                if self.next("an object")? != b':' {
                    return Err(self.broken(self.at, "expected `:`"));
                }
                match key.as_str() {
                    "Records" | "Events" => {
                        reading.found = true;
                        self.array(reading, key == "Events")?;
                    }
                    _ => {
                        self.value::<IgnoredAny>("an object")?;
                    }
                }
                match self.next("an object")? {
                    b',' => {}
                    b'}' => break,
                    _ => return Err(self.broken(self.at, "expected `,` or `}`")),
                }
            }
        }
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.broken(self.at + 1, "trailing characters")),
        }
    }

    /// An array of records, or of lookup-events' events.
    fn array(&mut self, reading: &mut Reading<'_>, lookup: bool) -> Result<(), Broken> {
        if self.next("a value")? != b'[' {
            return Err(self.broken(self.at, "expected an array of records"));
        }
        if self.peek()? == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            let element = if lookup {
                self.value::<LookupEvent>("a list")?.record()
            } else {
                self.value::<Element>("a list")?.0
            };
            let index = reading.index;
            reading.index += 1;
            match element {
                Ok(record) => reading.sink.record(reading.label, index, record),
                Err(message) => reading.sink.problem(Problem {
                    file: reading.label.to_owned(),
                    record: Some(index),
                    message,
                }),
            }
            match self.next("a list")? {
                b',' => {}
                b']' => return Ok(()),
                _ => return Err(self.broken(self.at, "expected `,` or `]`")),
            }
        }
    }
}

/// A record, or what is wrong with an element of the array.
struct Element(Result<Record, String>);

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
                Record::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|r| Element(Ok(r)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Element(Err("not a record: an array".to_owned())))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Element, E> {
                Ok(Element(Err("not a record: a string".to_owned())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Element, E> {
                Ok(Element(Err("not a record: a boolean".to_owned())))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Element, E> {
                Ok(Element(Err("not a record: a number".to_owned())))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Element, E> {
                Ok(Element(Err("not a record: a number".to_owned())))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Element, E> {
                Ok(Element(Err("not a record: a number".to_owned())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
                Ok(Element(Err("not a record: null".to_owned())))
            }
        }
        d.deserialize_any(V)
    }
}

/// An event of `lookup-events`: the record is a JSON string in `CloudTrailEvent`.
#[derive(Deserialize)]
struct LookupEvent {
    #[serde(rename = "CloudTrailEvent", default, deserialize_with = "lenient")]
    cloud_trail_event: Option<String>,
}

impl LookupEvent {
    fn record(self) -> Result<Record, String> {
        let text = self
            .cloud_trail_event
            .ok_or_else(|| "an event without a CloudTrailEvent string".to_owned())?;
        serde_json::from_str::<Element>(&text)
            .map_err(|e| format!("its CloudTrailEvent is not JSON: {e}"))?
            .0
    }
}

/// Progress of a run, for a line on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub files_done: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Reads `files` on up to `threads` threads, each into its own sink from `make`; returns the
/// sinks and the uncompressed bytes read. `progress` is called on the calling thread about
/// every quarter second while the threads read.
pub fn read_files<F: Source, S: Sink + Send>(
    files: &[F],
    threads: usize,
    make: impl Fn() -> S + Sync,
    mut progress: Option<&mut dyn FnMut(Progress)>,
) -> (Vec<S>, u64) {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let threads = threads.clamp(1, files.len().max(1));
    // Largest first (by size as stored; equals in the given order), so that the threads finish
    // together rather than one reading a large file alone at the end.
    let mut order: Vec<(u64, &F)> = files.iter().map(|f| (f.size(), f)).collect();
    order.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    let sinks = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut sink = make();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((_, path)) = order.get(i) else {
                            break;
                        };
                        read_source(*path, &mut sink, &bytes);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    sink
                })
            })
            .collect();
        if let Some(report) = progress.as_mut() {
            while !handles.iter().all(|h| h.is_finished()) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                report(Progress {
                    files_done: done.load(Ordering::Relaxed),
                    files: files.len(),
                    bytes: bytes.load(Ordering::Relaxed),
                });
            }
        }
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<S>>()
    });
    (sinks, bytes.load(Ordering::Relaxed))
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        records: Vec<(usize, Option<String>)>,
        problems: Vec<Problem>,
    }

    impl Sink for Collect {
        fn record(&mut self, _: &str, index: usize, record: Record) {
            self.records.push((index, record.event_name));
        }
        fn problem(&mut self, problem: Problem) {
            self.problems.push(problem);
        }
    }

    fn read_text(text: &str) -> Collect {
        let mut sink = Collect::default();
        read("t.json", text.as_bytes(), &mut sink, &AtomicU64::new(0));
        sink
    }

    /// Everything a sink is given, in order.
    #[derive(Default)]
    struct Everything(Vec<String>);

    impl Sink for Everything {
        fn record(&mut self, file: &str, index: usize, record: Record) {
            self.0.push(format!("{file} {index} {record:?}"));
        }
        fn problem(&mut self, problem: Problem) {
            self.0.push(format!("{problem:?}"));
        }
    }

    /// How a document's reading ends.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum End {
        Whole,
        /// Unreadable from this element on.
        Broken(usize),
        NotTrail,
    }

    /// What the reader gives `sink` with chunks of `chunk` bytes, and the bytes it counted.
    fn read_in_chunks(text: &str, chunk: usize) -> (Everything, u64) {
        let mut sink = Everything::default();
        let bytes = AtomicU64::new(0);
        read_by(
            "t.json",
            text.as_bytes(),
            &mut sink,
            &bytes,
            chunk,
            MAX_VALUE,
        );
        (sink, bytes.load(Ordering::Relaxed))
    }

    /// Every form of document: the records and the elements that are not records it gives, how
    /// it ends; and exactly the same, problems' lines and columns included, whatever the chunk
    /// size, every byte counted once.
    #[test]
    fn each_document_is_read_as_far_as_it_is_readable_whatever_the_chunk_size() {
        let record = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1","invokedBy":"sagemaker.amazonaws.com","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}},"eventTime":"2026-11-23T08:55:02Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","errorCode":"AccessDenied","errorMessage":"a \"quoted\" \u00e9 message","requestParameters":{"bucketName":"b","key":"k é","n":[1,2.5e3,-0,true,null]},"resources":[{"ARN":"arn:aws:s3:::b/k"}],"recipientAccountId":"1","unknown":{"deep":[[[{}]]]}}"#;
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        use End::*;
        let cases: Vec<(String, usize, usize, End)> = vec![
            (format!(r#"{{"Records":[{record},{record}]}}"#), 2, 0, Whole),
            (format!(" \n\t{{ \"Records\" :\r\n[ {record} ,\n{record}\n]\n}}\n "), 2, 0, Whole),
            (r#"{"Records":[]}"#.to_owned(), 0, 0, Whole),
            (r#"{"Records":[ ]} "#.to_owned(), 0, 0, Whole),
            // Elements that are not records, fields of the wrong type.
            (r#"{"Records":[{"eventName":7,"userIdentity":"x","requestParameters":null},3,12345,-1.5e3,"s",true,null,[1,[2]],{"eventName":"C"}]}"#.to_owned(), 2, 7, Whole),
            (format!(r#"{{"Records":[{record},{{"eventName":"a\u0001"}}]}}"#), 2, 0, Whole),
            // Members besides the records, and records in two members.
            (format!(r#"{{"Records":[{record}],"More":1}}"#), 1, 0, Whole),
            (format!(r#"{{"Other":{{"a":[1,"]"]}},"Records":[{record}]}}"#), 1, 0, Whole),
            (format!(r#"{{"Records":[{record}],"Records":[{record}]}}"#), 2, 0, Whole),
            // Records nested deeper than serde_json parses: what `usage` does not read is passed
            // over, and what it keeps as text is not parsed.
            (format!(r#"{{"Records":[{record},{{"requestParameters":{}}},{record}]}}"#, deep(200)), 3, 0, Whole),
            (format!(r#"{{"Records":[{record},{{"unknown":{}}},{record}]}}"#, deep(200)), 3, 0, Whole),
            // lookup-events.
            (r#"{"Events":[{"EventId":"1","CloudTrailEvent":"{\"eventName\":\"A\"}"},{"EventId":"2"}],"NextToken":null}"#.to_owned(), 1, 1, Whole),
            // Cut off, in every way.
            (format!(r#"{{"Records":[{record},{record}"#), 2, 0, Broken(2)),
            (format!(r#"{{"Records":[{record},{record},"#), 2, 0, Broken(2)),
            (format!(r#"{{"Records":[{record},{{"eventNa"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record},12"#), 1, 1, Broken(2)),
            (format!(r#"{{"Records":[{record}]"#), 1, 0, Broken(1)),
            // Not well-formed after some records.
            (format!(r#"{{"Records":[{record},]}}"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record} {record}]}}"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record},{{"eventName":"A","eventName":"B"}},{record}]}}"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record},{{"eventName":"\ud800x"}}]}}"#), 1, 0, Broken(1)),
            (format!("{{\"Records\":[{record},{{\"eventName\":\"a\u{1}b\"}}]}}"), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record}]}}x"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record}],}}"#), 1, 0, Broken(1)),
            (format!(r#"{{"Records":[{record}] "Other":1}}"#), 1, 0, Broken(1)),
            (r#"{"Records":{"eventName":"A"}}"#.to_owned(), 0, 0, Broken(0)),
            // Not a trail's file.
            (r#"{"Resources":{}}"#.to_owned(), 0, 0, NotTrail),
            (r#"{"Resources":{},}"#.to_owned(), 0, 0, NotTrail),
            (r#"{Records:[]}"#.to_owned(), 0, 0, NotTrail),
            ("[1,2]".to_owned(), 0, 0, NotTrail),
            ("not json".to_owned(), 0, 0, NotTrail),
            (String::new(), 0, 0, NotTrail),
        ];
        for (text, records, not_records, end) in &cases {
            let (whole, whole_bytes) = read_in_chunks(text, CHUNK);
            let mut sink = Collect::default();
            read("t.json", text.as_bytes(), &mut sink, &AtomicU64::new(0));
            assert_eq!(sink.records.len(), *records, "{text}");
            let (elements, ends): (Vec<_>, Vec<_>) = sink.problems.iter().partition(|p| {
                p.message.starts_with("not a record") || p.message.starts_with("an event without")
            });
            assert_eq!(elements.len(), *not_records, "{text}: {elements:?}");
            let got = match ends.as_slice() {
                [] => Whole,
                [p] if p.message.starts_with("unreadable from here on") => {
                    Broken(p.record.unwrap_or(usize::MAX))
                }
                [p] if p.message.starts_with("not CloudTrail JSON") && p.record.is_none() => {
                    NotTrail
                }
                _ => panic!("{text}: {ends:?}"),
            };
            assert_eq!(got, *end, "{text}: {ends:?}");
            if *end == Whole {
                assert_eq!(whole_bytes, text.len() as u64, "{text}");
            }
            for chunk in [1, 2, 3, 7, 64, 1000] {
                let (chunked, bytes) = read_in_chunks(text, chunk);
                assert_eq!(chunked.0, whole.0, "chunk {chunk}: {text}");
                assert!(bytes <= text.len() as u64, "chunk {chunk}: {text}");
                if *end == Whole {
                    assert_eq!(bytes, text.len() as u64, "chunk {chunk}: {text}");
                }
            }
        }
    }

    /// Where a document stops being JSON is told by the line and column serde_json gives for
    /// the whole document, wherever the chunks fall.
    #[test]
    fn what_is_not_json_is_told_at_the_documents_line_and_column() {
        let record = r#"{"eventName": "GetObject", "requestParameters": {"key": "a\nb"}}"#;
        let cases = [
            format!("{{\n  \"Records\": [\n    {record},\n    {record},\n  ]\n}}"),
            format!("{{\n  \"Records\": [\n    {record},\n    {record} {record}\n  ]\n}}"),
            format!("{{\n  \"Records\": [\n    {record},\n    {{\"eventName\": tru }}\n  ]\n}}"),
            format!(
                "{{\n  \"Records\": [\n    {record},\n    {{\"eventName\": \"\u{1}\"}}\n  ]\n}}"
            ),
            format!("{{\n  \"Records\": [\n    {record}\n  ]\n}}\n x"),
            format!("{{\n  \"Records\": [\n    {record},\n    {{\"eventName\": \"Get"),
        ];
        for text in &cases {
            let Err(expected) = serde_json::from_str::<serde_json::Value>(text) else {
                panic!("{text} is JSON");
            };
            let at = format!(" at line {} column {})", expected.line(), expected.column());
            assert!(expected.line() > 1, "{text}");
            for chunk in [1, 5, 64, CHUNK] {
                let (got, _) = read_in_chunks(text, chunk);
                let last = got.0.last().cloned().unwrap_or_default();
                assert!(last.contains(&at), "chunk {chunk}: {last} has not{at}");
            }
        }
    }

    /// A reader that fails once the bytes before the failure are read (a gzip stream cut short).
    struct CutShort<'a>(&'a [u8]);

    impl Read for CutShort<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("incomplete deflate stream"));
            }
            self.0.read(buf)
        }
    }

    #[test]
    fn input_cut_short_keeps_the_records_before_and_says_where_it_ended() {
        let text = "{\"Records\":[\n{\"eventName\":\"A\"},\n{\"eventName\":\"B\"},\n{\"event";
        for chunk in [1, 7, CHUNK] {
            let mut sink = Collect::default();
            let bytes = AtomicU64::new(0);
            read_by(
                "t.json",
                CutShort(text.as_bytes()),
                &mut sink,
                &bytes,
                chunk,
                MAX_VALUE,
            );
            assert_eq!(sink.records.len(), 2);
            assert_eq!(bytes.load(Ordering::Relaxed), text.len() as u64);
            assert_eq!(sink.problems.len(), 1);
            assert_eq!(sink.problems[0].record, Some(2));
            assert_eq!(
                sink.problems[0].message,
                "unreadable from here on (incomplete deflate stream at line 4 column 7); the records before it were read"
            );
        }
    }

    #[test]
    fn a_value_longer_than_the_bound_ends_the_file_and_memory_stays_bounded() {
        let long = format!(r#"{{"eventName":"{}"}}"#, "x".repeat(1000));
        let text = format!(r#"{{"Records":[{{"eventName":"A"}},{long},{{"eventName":"C"}}]}}"#);
        let mut sink = Collect::default();
        read_by(
            "t.json",
            text.as_bytes(),
            &mut sink,
            &AtomicU64::new(0),
            64,
            256,
        );
        assert_eq!(sink.records, [(0, Some("A".to_owned()))]);
        assert_eq!(sink.problems.len(), 1);
        assert_eq!(sink.problems[0].record, Some(1));
        assert!(
            sink.problems[0]
                .message
                .contains("a value longer than 256 bytes"),
            "{:?}",
            sink.problems
        );
    }

    #[test]
    fn gzip_and_plain_documents_read_alike() {
        use std::io::Write;
        let text = r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let written = gz.write_all(text.as_bytes());
        let documents = [
            Document {
                label: "plain".to_owned(),
                bytes: text.as_bytes().to_vec(),
            },
            Document {
                label: "gzip".to_owned(),
                bytes: written.and_then(|()| gz.finish()).unwrap_or_default(),
            },
        ];
        let mut got = Vec::new();
        for document in &documents {
            let mut sink = Collect::default();
            let bytes = AtomicU64::new(0);
            read_source(document, &mut sink, &bytes);
            assert!(sink.problems.is_empty(), "{:?}", sink.problems);
            assert_eq!(bytes.load(Ordering::Relaxed), text.len() as u64);
            got.push(sink.records);
        }
        assert_eq!(got[0], got[1]);
        assert_eq!(got[0].len(), 2);
    }

    /// Files by the sink's order of their first record.
    #[derive(Default)]
    struct Files(Vec<String>);

    impl Sink for Files {
        fn record(&mut self, file: &str, _: usize, _: Record) {
            if !self.0.iter().any(|f| f == file) {
                self.0.push(file.to_owned());
            }
        }
        fn problem(&mut self, problem: Problem) {
            self.0.push(problem.to_string());
        }
    }

    #[test]
    fn the_largest_files_are_read_first() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("usage-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut paths = Vec::new();
        for (name, records) in [("a.json", 1), ("b.json", 30), ("c.json", 5)] {
            let path = dir.join(name);
            let list = vec![r#"{"eventName":"A"}"#; records].join(",");
            std::fs::write(&path, format!(r#"{{"Records":[{list}]}}"#))?;
            paths.push(path);
        }
        let (sinks, bytes) = read_files(&paths, 1, Files::default, None);
        std::fs::remove_dir_all(&dir)?;
        let order: Vec<String> = sinks
            .iter()
            .flat_map(|s| s.0.iter())
            .filter_map(|f| Path::new(f).file_name()?.to_str().map(str::to_owned))
            .collect();
        assert_eq!(order, ["b.json", "c.json", "a.json"]);
        // Every byte once: `{"Records":[]}` and the records with their commas.
        assert_eq!(bytes, 3 * 14 + 36 * 17 + 29 + 4);
        Ok(())
    }

    #[test]
    fn records_and_lookup_events_are_read_alike() {
        let trail = read_text(
            r#"{"Records":[{"eventName":"A","userIdentity":{"type":"AssumedRole"}},{"eventName":"B"}]}"#,
        );
        assert_eq!(
            trail.records,
            [(0, Some("A".to_owned())), (1, Some("B".to_owned()))]
        );
        assert!(trail.problems.is_empty());
        let lookup = read_text(
            r#"{"Events":[{"EventId":"1","CloudTrailEvent":"{\"eventName\":\"A\"}"}],"NextToken":null}"#,
        );
        assert_eq!(lookup.records, [(0, Some("A".to_owned()))]);
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_absent_and_bad_elements_are_reported() {
        let got = read_text(
            r#"{"Records":[{"eventName":7,"userIdentity":"x","requestParameters":null},3,{"eventName":"C"}]}"#,
        );
        assert_eq!(got.records, [(0, None), (2, Some("C".to_owned()))]);
        assert_eq!(got.problems.len(), 1);
        assert_eq!(got.problems[0].record, Some(1));
    }

    #[test]
    fn a_truncated_file_keeps_the_records_before_the_break() {
        let got = read_text(r#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventNa"#);
        assert_eq!(got.records.len(), 2);
        assert_eq!(got.problems.len(), 1);
        assert_eq!(got.problems[0].record, Some(2));
    }

    #[test]
    fn json_that_is_not_cloudtrail_is_reported() {
        for text in [r#"{"Resources":{}}"#, "[1,2]", "not json"] {
            let got = read_text(text);
            assert!(got.records.is_empty());
            assert_eq!(got.problems.len(), 1, "{text}");
            assert!(
                got.problems[0].message.starts_with("not CloudTrail JSON"),
                "{:?}",
                got.problems
            );
        }
    }
}
