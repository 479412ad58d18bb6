//! Reading CloudTrail: the files CloudTrail delivers to S3 (`…_CloudTrail_….json.gz`, gzip or
//! plain, `{"Records": […]}`), whole directory trees of them, and what `aws cloudtrail
//! lookup-events` prints (`{"Events": [{"CloudTrailEvent": "<record as a JSON string>"}]}`).
//!
//! Records are streamed: a serde visitor over the array hands each record on as it is parsed, so
//! memory holds one record per thread, never a file. Files are read in parallel, one per thread.
//! What cannot be read is reported with its file and record index, and the rest is read.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// Counts the bytes read through it (uncompressed, for gzip).
struct Counting<'a, R> {
    inner: R,
    total: &'a AtomicU64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file for reading: decoded when it starts with gzip's magic bytes, else as it is.
fn open(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let file = std::fs::File::open(path)?;
    let mut raw = BufReader::with_capacity(1 << 16, file);
    let gzip = matches!(raw.fill_buf(), Ok([0x1f, 0x8b, ..]));
    Ok(if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    })
}

/// Reads one file into `sink`: gzip when it starts with gzip's magic bytes, else plain JSON.
/// A trail's file is read in chunks ([`read_chunked`]); anything else, and any file that is not
/// a well-formed trail file, by the streaming reader ([`read_stream`]), which says what is wrong
/// and where.
pub fn read_file(path: &Path, sink: &mut dyn Sink, bytes: &AtomicU64) {
    let label = path.display().to_string();
    let cannot_open = |e: std::io::Error| Problem {
        file: label.clone(),
        record: None,
        message: format!("cannot open: {e}"),
    };
    let reader = match open(path) {
        Ok(reader) => reader,
        Err(e) => return sink.problem(cannot_open(e)),
    };
    read_chunked(&label, reader, || open(path), sink, bytes);
}

/// Reads one document of records with the chunked reader, and when it cannot (not a trail's
/// file, or not well-formed), from `reopen` with the streaming reader, which passes over the
/// records already given to `sink`.
fn read_chunked<R: Read>(
    label: &str,
    reader: R,
    reopen: impl FnOnce() -> std::io::Result<R>,
    sink: &mut dyn Sink,
    bytes: &AtomicU64,
) {
    read_chunked_by(label, reader, reopen, sink, bytes, CHUNK);
}

fn read_chunked_by<R: Read>(
    label: &str,
    reader: R,
    reopen: impl FnOnce() -> std::io::Result<R>,
    sink: &mut dyn Sink,
    bytes: &AtomicU64,
    chunk: usize,
) {
    let mut chunks = Chunks {
        reader,
        chunk,
        buf: Vec::new(),
        at: 0,
        eof: false,
        read: 0,
    };
    let mut given = 0;
    let done = chunks.records(label, sink, &mut given).is_ok();
    bytes.fetch_add(chunks.read, Ordering::Relaxed);
    if done {
        return;
    }
    match reopen() {
        Ok(reader) => {
            let again = AtomicU64::new(0);
            read_stream_from(label, reader, sink, &again, given);
            let extra = again.load(Ordering::Relaxed).saturating_sub(chunks.read);
            bytes.fetch_add(extra, Ordering::Relaxed);
        }
        Err(e) => sink.problem(Problem {
            file: label.to_owned(),
            record: None,
            message: format!("cannot open: {e}"),
        }),
    }
}

/// Bytes read at a time by the chunked reader.
const CHUNK: usize = 1 << 18;
/// A record longer than this (CloudTrail's are at most a few hundred KB) is left to the
/// streaming reader, so that memory stays bounded whatever the input.
const MAX_RECORD: usize = 1 << 24;
/// Nesting the chunked reader leaves to the streaming reader, well inside serde_json's limit
/// of 128, which counts the file's object and array too.
const MAX_OPENINGS: usize = 100;

/// The chunked reader has given up on the file; the streaming reader takes over.
struct Unusual;

/// A trail's file read a chunk at a time into one buffer, each record parsed from the buffer
/// (serde_json reads a slice several times faster than a stream).
struct Chunks<R> {
    reader: R,
    /// Bytes read at a time (at least).
    chunk: usize,
    buf: Vec<u8>,
    /// Start of what has not been parsed yet.
    at: usize,
    eof: bool,
    read: u64,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

/// How many `{` and `[` (a bound of the nesting), counted a byte-sized lane at a time.
fn openings(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| {
            // `[` is `{` but for bit 0x20.
            let n = chunk
                .iter()
                .fold(0u8, |n, b| n + u8::from(*b | 0x20 == b'{'));
            usize::from(n)
        })
        .sum()
}

impl<R: Read> Chunks<R> {
    /// Reads more, keeping what is not parsed yet; false at the end of the input.
    fn more(&mut self) -> Result<bool, Unusual> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let kept = self.buf.len();
        if kept > MAX_RECORD {
            return Err(Unusual);
        }
        // A record longer than a chunk doubles what is read next.
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
                Err(_) => return Err(Unusual),
            }
        }
        self.buf.truncate(filled);
        self.read += (filled - kept) as u64;
        Ok(filled > kept)
    }

    /// The next byte that is not white space, not consumed; None at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, Unusual> {
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

    fn expect(&mut self, token: &[u8]) -> Result<(), Unusual> {
        self.peek()?;
        while self.buf.len() - self.at < token.len() {
            if !self.more()? {
                return Err(Unusual);
            }
        }
        if self.buf[self.at..].starts_with(token) {
            self.at += token.len();
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// `{"Records":[…]}` and nothing else; `given` counts the elements given to `sink`.
    fn records(
        &mut self,
        label: &str,
        sink: &mut dyn Sink,
        given: &mut usize,
    ) -> Result<(), Unusual> {
        self.expect(b"{")?;
        self.expect(b"\"Records\"")?;
        self.expect(b":")?;
        self.expect(b"[")?;
        if self.peek()? == Some(b']') {
            self.at += 1;
        } else {
            loop {
                let (element, delimiter) = self.element()?;
                let index = *given;
                *given += 1;
                match element.0 {
                    Ok(record) => sink.record(label, index, record),
                    Err(message) => sink.problem(Problem {
                        file: label.to_owned(),
                        record: Some(index),
                        message,
                    }),
                }
                match delimiter {
                    b',' => {}
                    b']' => break,
                    _ => return Err(Unusual),
                }
            }
        }
        self.expect(b"}")?;
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(Unusual),
        }
    }

    /// The next element of the array and the byte after it (both consumed). Parsed again with
    /// more input when the buffer ends inside it or before the byte after it.
    fn element(&mut self) -> Result<(Element, u8), Unusual> {
        self.peek()?;
        loop {
            let rest = &self.buf[self.at..];
            let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<Element>();
            if let Some(Ok(element)) = stream.next() {
                let end = stream.byte_offset();
                if let Some(gap) = rest[end..].iter().position(|b| !is_space(*b)) {
                    if openings(&rest[..end]) > MAX_OPENINGS {
                        return Err(Unusual);
                    }
                    let delimiter = rest[end + gap];
                    self.at += end + gap + 1;
                    return Ok((element, delimiter));
                }
            }
            // Cut off by the buffer's end, or wrong: with the rest of the input it parses, or
            // the streaming reader says what is wrong.
            if !self.more()? {
                return Err(Unusual);
            }
        }
    }
}

/// Reads one JSON document of records from `reader`.
pub fn read_stream(label: &str, reader: impl Read, sink: &mut dyn Sink, bytes: &AtomicU64) {
    read_stream_from(label, reader, sink, bytes, 0);
}

/// [`read_stream`], giving `sink` the elements from index `skip` on (those before were given).
fn read_stream_from(
    label: &str,
    reader: impl Read,
    sink: &mut dyn Sink,
    bytes: &AtomicU64,
    skip: usize,
) {
    let counting = Counting {
        inner: reader,
        total: bytes,
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, counting));
    let mut state = State {
        label,
        sink,
        index: 0,
        skip,
        found: false,
    };
    let result = Top { state: &mut state }.deserialize(&mut de);
    let result = result.and_then(|()| de.end());
    let (index, found) = (state.index, state.found);
    let problem = match result {
        Err(e) if found => Some(Problem {
            file: label.to_owned(),
            record: Some(index),
            message: format!("unreadable from here on ({e}); the records before it were read"),
        }),
        Err(e) => Some(Problem {
            file: label.to_owned(),
            record: None,
            message: format!("not CloudTrail JSON: {e}"),
        }),
        Ok(()) if !found => Some(Problem {
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

struct State<'a> {
    label: &'a str,
    sink: &'a mut dyn Sink,
    index: usize,
    /// Elements before this index were given to the sink already.
    skip: usize,
    found: bool,
}

struct Top<'s, 'a> {
    state: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a `Records` or `Events` array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "Records" | "Events" => {
                    self.state.found = true;
                    map.next_value_seed(Array {
                        state: &mut *self.state,
                        lookup: key == "Events",
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Array<'s, 'a> {
    state: &'s mut State<'a>,
    lookup: bool,
}

impl<'de> DeserializeSeed<'de> for Array<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Array<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let element = if self.lookup {
                seq.next_element::<LookupEvent>()?.map(|e| e.record())
            } else {
                seq.next_element::<Element>()?.map(|e| e.0)
            };
            let Some(element) = element else {
                return Ok(());
            };
            let index = self.state.index;
            self.state.index += 1;
            if index < self.state.skip {
                continue;
            }
            match element {
                Ok(record) => self.state.sink.record(self.state.label, index, record),
                Err(message) => self.state.sink.problem(Problem {
                    file: self.state.label.to_owned(),
                    record: Some(index),
                    message,
                }),
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
pub fn read_files<S: Sink + Send>(
    files: &[PathBuf],
    threads: usize,
    make: impl Fn() -> S + Sync,
    mut progress: Option<&mut dyn FnMut(Progress)>,
) -> (Vec<S>, u64) {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let threads = threads.clamp(1, files.len().max(1));
    // Largest first (by size on disk; equals in path order), so that the threads finish
    // together rather than one reading a large file alone at the end.
    let mut order: Vec<(u64, &PathBuf)> = files
        .iter()
        .map(|f| (std::fs::metadata(f).map_or(0, |m| m.len()), f))
        .collect();
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
                        read_file(path, &mut sink, &bytes);
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

    fn read(text: &str) -> Collect {
        let mut sink = Collect::default();
        read_stream("t.json", text.as_bytes(), &mut sink, &AtomicU64::new(0));
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

    /// The chunked reader (with its fallback) gives the sink exactly what the streaming reader
    /// does, whatever the chunk size, and counts every byte once.
    fn assert_read_alike(text: &str, well_formed: bool) {
        let mut streamed = Everything::default();
        let streamed_bytes = AtomicU64::new(0);
        read_stream("t.json", text.as_bytes(), &mut streamed, &streamed_bytes);
        for chunk in [1, 2, 3, 7, 64, 1000, CHUNK] {
            let mut chunked = Everything::default();
            let bytes = AtomicU64::new(0);
            let reopened = std::cell::Cell::new(false);
            read_chunked_by(
                "t.json",
                text.as_bytes(),
                || {
                    reopened.set(true);
                    Ok(text.as_bytes())
                },
                &mut chunked,
                &bytes,
                chunk,
            );
            assert_eq!(chunked.0, streamed.0, "chunk {chunk}: {text}");
            // A trail's file is read once, by the chunked reader; anything else again.
            assert_eq!(reopened.get(), !well_formed, "chunk {chunk}: {text}");
            assert!(
                bytes.load(Ordering::Relaxed) <= text.len() as u64,
                "chunk {chunk}: {text}"
            );
        }
    }

    #[test]
    fn the_chunked_reader_reads_as_the_streaming_reader_does() {
        let record = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1","invokedBy":"sagemaker.amazonaws.com","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}},"eventTime":"2026-11-23T08:55:02Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.10","errorCode":"AccessDenied","errorMessage":"a \"quoted\" \u00e9 message","requestParameters":{"bucketName":"b","key":"k é","n":[1,2.5e3,-0,true,null]},"resources":[{"ARN":"arn:aws:s3:::b/k"}],"recipientAccountId":"1","unknown":{"deep":[[[{}]]]}}"#;
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        // The first cases are trail files as the chunked reader reads them alone.
        const WELL_FORMED: usize = 6;
        let cases = [
            format!(r#"{{"Records":[{record},{record}]}}"#),
            format!(" \n\t{{ \"Records\" :\r\n[ {record} ,\n{record}\n]\n}}\n "),
            r#"{"Records":[]}"#.to_owned(),
            r#"{"Records":[ ]} "#.to_owned(),
            // Elements that are not records, fields of the wrong type.
            r#"{"Records":[{"eventName":7,"userIdentity":"x","requestParameters":null},3,12345,-1.5e3,"s",true,null,[1,[2]],{"eventName":"C"}]}"#.to_owned(),
            format!(r#"{{"Records":[{record},{{"eventName":"a\u0001"}}]}}"#),
            // Cut off, in every way.
            format!(r#"{{"Records":[{record},{record}"#),
            format!(r#"{{"Records":[{record},{record},"#),
            format!(r#"{{"Records":[{record},{{"eventNa"#),
            format!(r#"{{"Records":[{record},12"#),
            format!(r#"{{"Records":[{record}]"#),
            // Not well-formed after some records.
            format!(r#"{{"Records":[{record},]}}"#),
            format!(r#"{{"Records":[{record} {record}]}}"#),
            format!(r#"{{"Records":[{record},{{"eventName":"A","eventName":"B"}},{record}]}}"#),
            format!(r#"{{"Records":[{record},{{"eventName":"\ud800x"}}]}}"#),
            format!("{{\"Records\":[{record},{{\"eventName\":\"a\u{1}b\"}}]}}"),
            format!(r#"{{"Records":[{record}]}}x"#),
            format!(r#"{{"Records":[{record}],"More":1}}"#),
            format!(r#"{{"Records":[{record}],"Records":[{record}]}}"#),
            format!(r#"{{"Other":1,"Records":[{record}]}}"#),
            // Nested as deep as serde_json allows, and deeper.
            format!(r#"{{"Records":[{record},{{"requestParameters":{deep}}},{record}]}}"#),
            format!(
                r#"{{"Records":[{record},{{"requestParameters":{}1{}}},{record}]}}"#,
                "[".repeat(126),
                "]".repeat(126)
            ),
            // Not a trail's file.
            r#"{"Events":[{"EventId":"1","CloudTrailEvent":"{\"eventName\":\"A\"}"}],"NextToken":null}"#.to_owned(),
            r#"{"Resources":{}}"#.to_owned(),
            "[1,2]".to_owned(),
            "not json".to_owned(),
            String::new(),
        ];
        for (i, text) in cases.iter().enumerate() {
            assert_read_alike(text, i < WELL_FORMED);
        }
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
        let trail = read(
            r#"{"Records":[{"eventName":"A","userIdentity":{"type":"AssumedRole"}},{"eventName":"B"}]}"#,
        );
        assert_eq!(
            trail.records,
            [(0, Some("A".to_owned())), (1, Some("B".to_owned()))]
        );
        assert!(trail.problems.is_empty());
        let lookup = read(
            r#"{"Events":[{"EventId":"1","CloudTrailEvent":"{\"eventName\":\"A\"}"}],"NextToken":null}"#,
        );
        assert_eq!(lookup.records, [(0, Some("A".to_owned()))]);
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_absent_and_bad_elements_are_reported() {
        let got = read(
            r#"{"Records":[{"eventName":7,"userIdentity":"x","requestParameters":null},3,{"eventName":"C"}]}"#,
        );
        assert_eq!(got.records, [(0, None), (2, Some("C".to_owned()))]);
        assert_eq!(got.problems.len(), 1);
        assert_eq!(got.problems[0].record, Some(1));
    }

    #[test]
    fn a_truncated_file_keeps_the_records_before_the_break() {
        let got = read(r#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"eventNa"#);
        assert_eq!(got.records.len(), 2);
        assert_eq!(got.problems.len(), 1);
        assert_eq!(got.problems[0].record, Some(2));
    }

    #[test]
    fn json_that_is_not_cloudtrail_is_reported() {
        for text in [r#"{"Resources":{}}"#, "[1,2]", "not json"] {
            let got = read(text);
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
