//! Value rules as data: the kinds of rule here, each rule itself once in the property table
//! (`table.rs`). A rule is read three ways: [`Rule::check`] judges a value for the parser (with the stack's context and a reason),
//! [`Rule::pattern`] renders it as the regular expression the JSON Schema carries, and
//! [`Rule::expected`] describes it for errors, the schema and the documentation. The
//! property-based tests prove the first two agree.
//!
//! The schema cannot know the stack, so its patterns take the partition-free form: an ARN of any
//! supported partition (with a region of that partition) and any account. The stack's partition
//! and account are checked by the parser alone.

use crate::arn::{self, is_account_id};
use crate::catalog;
use crate::context::{Partition, StackContext, is_region_name};
use crate::ownership::fold_key;
use crate::partitions;

/// What is wrong with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    fn new(message: String) -> Self {
        Problem {
            message,
            help: None,
        }
    }

    fn help(mut self, help: String) -> Self {
        self.help = Some(help);
        self
    }
}

/// A Unicode property a character set may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unicode {
    Alphabetic,
    Numeric,
    WhiteSpace,
}

impl Unicode {
    fn contains(self, c: char) -> bool {
        match self {
            Unicode::Alphabetic => c.is_alphabetic(),
            Unicode::Numeric => c.is_numeric(),
            Unicode::WhiteSpace => c.is_whitespace(),
        }
    }

    /// The same property in ECMA-262 (`u` mode) and Rust regex syntax.
    fn class(self) -> &'static str {
        match self {
            Unicode::Alphabetic => r"\p{Alphabetic}",
            Unicode::Numeric => r"\p{N}",
            Unicode::WhiteSpace => r"\p{White_Space}",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Unicode::Alphabetic => "letters",
            Unicode::Numeric => "digits",
            Unicode::WhiteSpace => "spaces",
        }
    }
}

/// A set of characters: `spec` lists characters and `a-z` ranges (a `-` first or last is
/// itself), plus Unicode properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charset {
    pub spec: &'static str,
    pub unicode: &'static [Unicode],
    /// How documentation names the set, when the spec read aloud would not help.
    pub words: Option<&'static str>,
}

impl Charset {
    pub const fn of(spec: &'static str) -> Self {
        Charset {
            spec,
            unicode: &[],
            words: None,
        }
    }

    /// The spec as inclusive ranges.
    pub fn ranges(&self) -> Vec<(char, char)> {
        self.each_range().collect()
    }

    fn each_range(&self) -> impl Iterator<Item = (char, char)> + '_ {
        let mut rest = self.spec.chars();
        std::iter::from_fn(move || {
            let lo = rest.next()?;
            let mut ahead = rest.clone();
            if ahead.next() == Some('-')
                && let Some(hi) = ahead.next()
            {
                rest = ahead;
                return Some((lo, hi));
            }
            Some((lo, lo))
        })
    }

    pub fn contains(&self, c: char) -> bool {
        self.each_range().any(|(lo, hi)| (lo..=hi).contains(&c))
            || self.unicode.iter().any(|u| u.contains(c))
    }

    /// A regex character class of the set, less the characters in `exclude` (which must not fall
    /// inside a multi-character range or a Unicode property of the set).
    pub fn class(&self, exclude: &str) -> String {
        let mut class = String::from("[");
        for (lo, hi) in self.ranges() {
            if lo == hi && exclude.contains(lo) {
                continue;
            }
            class.push_str(&class_char(lo));
            if lo != hi {
                class.push('-');
                class.push_str(&class_char(hi));
            }
        }
        for unicode in self.unicode {
            class.push_str(unicode.class());
        }
        class.push(']');
        class
    }

    pub fn describe(&self) -> String {
        if let Some(words) = self.words {
            return words.to_owned();
        }
        let mut parts: Vec<String> = self.unicode.iter().map(|u| u.words().to_owned()).collect();
        parts.extend(self.ranges().iter().map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        }));
        parts.join(" ")
    }
}

/// Characters trimmed around list items: what separates `a, b` in a comma-separated string.
pub const BLANKS: Charset = Charset::of(" \t\n\r");

/// A character inside a regex class: escaped where ECMA-262's `u` mode and Rust's regex both
/// need it, and as `\uXXXX` where it is not printable ASCII.
fn class_char(c: char) -> String {
    match c {
        '\\' | ']' | '[' | '^' | '-' => format!("\\{c}"),
        ' '..='~' => c.to_string(),
        _ => format!("\\u{:04X}", u32::from(c)),
    }
}

/// A literal outside a class.
fn literal(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\\' | '^' | '$' | '.' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' => {
                format!("\\{c}")
            }
            _ => c.to_string(),
        })
        .collect()
}

/// How a text value is built from its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One run of characters.
    Word,
    /// `/`, or `/` followed by segments each ending in `/` (IAM paths); the length bounds the
    /// whole path.
    Path,
    /// Segments each ending in `/` (an IAM path without its first `/`), then a name; the length
    /// bounds the name (role and policy names in ARNs).
    PathAndName,
}

/// Something a text value may not be, though its characters are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// Starting with `text` (in any case when `ignore_case`, as `ownership::fold_key` compares).
    Prefix {
        text: &'static str,
        ignore_case: bool,
        reason: &'static str,
    },
    /// Containing `text` anywhere.
    Substring {
        text: &'static str,
        reason: &'static str,
    },
    /// Four dot-separated numbers, like an IPv4 address.
    IpAddress,
    /// Any of these characters (which the character set leaves out); the reason explains why.
    Chars {
        chars: &'static str,
        reason: &'static str,
    },
}

/// A text value: names, ids, paths, descriptions, tag keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// With its article, for "`x` is not an S3 bucket name".
    pub noun: &'static str,
    /// For "expected S3 bucket names (…)".
    pub plural: &'static str,
    /// A fixed start (`subnet-`); the other fields describe what follows it.
    pub prefix: &'static str,
    pub chars: Charset,
    pub shape: Shape,
    pub min: usize,
    pub max: usize,
    /// The first and last character, where narrower than `chars`.
    pub edges: Option<Charset>,
    /// A wildcard character (in `chars`); a value holding it may be as short as one character.
    pub wildcard: Option<char>,
    pub forbidden: &'static [Forbidden],
    /// Who sets the length limit, for "IAM allows at most 1000".
    pub authority: &'static str,
    /// The value is appended to this and the limits count it (`sagemaker-` and the role name
    /// suffix): the prefix and the noun of the whole.
    pub within: Option<(&'static str, &'static str)>,
}

impl Text {
    /// Limits of the value itself, after `within`'s prefix is taken off.
    fn own_limits(&self) -> (usize, usize) {
        let taken = self.within.map_or(0, |(prefix, _)| prefix.chars().count());
        (
            self.min.saturating_sub(taken),
            self.max.saturating_sub(taken),
        )
    }

    /// The characters a whole value may hold: `chars`, and `/` for paths.
    fn value_chars(&self, exclude: &str) -> String {
        let class = self.chars.class(exclude);
        match self.shape {
            Shape::Word => class,
            Shape::Path | Shape::PathAndName => format!("(?:{class}|/)"),
        }
    }

    pub fn check(&self, value: &str) -> Result<(), Problem> {
        self.fault(value).map_err(|reason| {
            let mut message = format!("{} is not {}", quote(value), self.noun);
            if let Some(reason) = reason {
                message.push_str(&format!(": it {reason}"));
            }
            Problem::new(message)
        })
    }

    /// What is wrong with a value, as a phrase after "it" (`contains \`U\``); `None` when its
    /// form is simply not this one.
    pub fn fault(&self, value: &str) -> Result<(), Option<String>> {
        let Some(rest) = value.strip_prefix(self.prefix) else {
            return Err(None);
        };
        for forbidden in self.forbidden {
            if let Forbidden::Chars { chars, reason } = forbidden
                && let Some(c) = rest.chars().find(|c| chars.contains(*c))
            {
                return Err(Some(format!("contains {}; {reason}", show_char(c))));
            }
        }
        let separator = |c: char| c == '/' && self.shape != Shape::Word;
        if let Some(c) = rest
            .chars()
            .find(|c| !self.chars.contains(*c) && !separator(*c))
        {
            return Err(Some(format!("contains {}", show_char(c))));
        }
        let measured = match self.shape {
            Shape::Word => rest,
            Shape::Path => {
                let segments_ok = rest
                    .strip_prefix('/')
                    .is_some_and(|inner| inner.is_empty() || segments(inner.strip_suffix('/')));
                if !segments_ok {
                    return Err(None);
                }
                rest
            }
            Shape::PathAndName => {
                let (path, name) = rest.rsplit_once('/').unwrap_or(("", rest));
                if !(path.is_empty() && !rest.contains('/') || segments(Some(path))) {
                    return Err(None);
                }
                name
            }
        };
        self.length_fault(value, measured).map_err(Some)?;
        if let Some(edges) = self.edges {
            let ok = |c: Option<char>| c.is_some_and(|c| edges.contains(c));
            if !ok(rest.chars().next()) || !ok(rest.chars().last()) {
                return Err(Some(format!(
                    "must start and end with one of {}",
                    edges.describe()
                )));
            }
        }
        for forbidden in self.forbidden {
            let found = match *forbidden {
                Forbidden::Prefix {
                    text,
                    ignore_case,
                    reason,
                } => {
                    let starts = if ignore_case {
                        fold_key(rest).starts_with(&fold_key(text))
                    } else {
                        rest.starts_with(text)
                    };
                    starts.then(|| format!("uses the prefix `{text}`, {reason}"))
                }
                Forbidden::Substring { text, reason } => rest
                    .contains(text)
                    .then(|| format!("contains `{text}`: {reason}")),
                Forbidden::IpAddress => is_ip_form(rest)
                    .then(|| "is formatted as an IP address, which S3 refuses".to_owned()),
                Forbidden::Chars { .. } => None,
            };
            if found.is_some() {
                return Err(found);
            }
        }
        Ok(())
    }

    fn length_fault(&self, value: &str, measured: &str) -> Result<(), String> {
        let (min, max) = self.own_limits();
        let length = measured.chars().count();
        let wild = self.wildcard.is_some_and(|w| measured.contains(w));
        let min = if wild { min.min(1) } else { min };
        if (min..=max).contains(&length) {
            return Ok(());
        }
        Err(match self.within {
            Some((prefix, whole)) => format!(
                "makes {}, which is {} characters; {whole} is at most {}",
                quote(&format!("{prefix}{value}")),
                prefix.chars().count() + length,
                self.max
            ),
            None if length > max => format!(
                "is {length} characters; {} allows at most {max}",
                self.authority
            ),
            None => format!(
                "is {length} characters; {} requires at least {min}",
                self.authority
            ),
        })
    }

    /// The value as a regex fragment, without anchors. `exclude` holds characters that cannot be
    /// part of it where it stands (`,` between the items of a comma-separated list).
    pub fn pattern(&self, exclude: &str) -> String {
        let class = self.chars.class(exclude);
        let all = self.value_chars(exclude);
        let (min, max) = self.own_limits();
        let mut pattern = literal(self.prefix);
        for forbidden in self.forbidden {
            match *forbidden {
                Forbidden::Prefix {
                    text, ignore_case, ..
                } => {
                    let text = if ignore_case {
                        text.chars()
                            .map(|c| {
                                let variants = case_variants(c);
                                if variants.len() == 1 {
                                    literal(&c.to_string())
                                } else {
                                    let class: String =
                                        variants.into_iter().map(class_char).collect();
                                    format!("[{class}]")
                                }
                            })
                            .collect()
                    } else {
                        literal(text)
                    };
                    pattern.push_str(&format!("(?!{text})"));
                }
                Forbidden::Substring { text, .. } => {
                    pattern.push_str(&format!("(?!{all}*{})", literal(text)));
                }
                Forbidden::IpAddress => {
                    pattern.push_str(&format!(r"(?![0-9]+(?:\.[0-9]+){{3}}(?!{all}))"));
                }
                // Characters outside the set are refused by the set.
                Forbidden::Chars { .. } => {}
            }
        }
        let bounded = |min: usize| format!("(?={all}{{{min},{max}}}(?!{all}))");
        match self.shape {
            Shape::Word if self.edges.is_none() && self.wildcard.is_none() => {
                pattern.push_str(&format!("{class}{{{min},{max}}}"));
            }
            Shape::Word => {
                match self.wildcard {
                    Some(w) => pattern.push_str(&format!(
                        "(?:(?={class}*{})(?={class}{{1,{max}}}(?!{class}))|{})",
                        literal(&w.to_string()),
                        bounded(min)
                    )),
                    None => pattern.push_str(&bounded(min)),
                }
                match self.edges {
                    Some(edges) => {
                        let edge = edges.class(exclude);
                        pattern.push_str(&format!("{edge}(?:{class}*{edge})?"));
                    }
                    None => pattern.push_str(&format!("{class}*")),
                }
            }
            Shape::Path => {
                pattern.push_str(&bounded(min.max(1)));
                pattern.push_str(&format!("/(?:{class}+/)*"));
            }
            Shape::PathAndName => {
                pattern.push_str(&format!("(?:{class}+/)*{class}{{{min},{max}}}"));
            }
        }
        pattern
    }

    pub fn expected(&self) -> String {
        format!("{} ({})", self.plural, self.describe())
    }

    /// The form, limits and exclusions of a value.
    pub fn describe(&self) -> String {
        let (min, max) = self.own_limits();
        let mut parts = Vec::new();
        let length = if min == max {
            format!("{max}")
        } else if min == 0 {
            format!("up to {max}")
        } else {
            format!("{min}-{max}")
        };
        let body = format!("{length} of {}", self.chars.describe());
        parts.push(match (self.prefix, self.shape) {
            ("", Shape::Word) => body,
            (prefix, Shape::Word) => format!("`{prefix}` and {body}"),
            (_, Shape::Path) => format!(
                "`/` or `/segment/…/` of {}, {length} in all",
                self.chars.describe()
            ),
            (_, Shape::PathAndName) => format!("an optional `path/`, then {body}"),
        });
        if let Some(w) = self.wildcard {
            parts.push(format!("`{w}` is a wildcard"));
        }
        if let Some(edges) = self.edges {
            parts.push(format!("starting and ending with {}", edges.describe()));
        }
        for forbidden in self.forbidden {
            parts.push(match *forbidden {
                Forbidden::Prefix {
                    text,
                    ignore_case: true,
                    ..
                } => format!("not starting with `{text}` in any case"),
                Forbidden::Prefix { text, .. } => format!("not starting with `{text}`"),
                Forbidden::Substring { text, .. } => format!("without `{text}`"),
                Forbidden::IpAddress => "not an IP address".to_owned(),
                Forbidden::Chars { chars, .. } => {
                    let shown: Vec<String> = chars.chars().map(|c| format!("`{c}`")).collect();
                    format!("no {}", shown.join(" or "))
                }
            });
        }
        parts.join("; ")
    }
}

/// The characters that are `c` ignoring case, as `ownership::fold_key` compares: its ASCII
/// cases, and the letters outside ASCII whose case maps onto them (`ſ` is `s`, the Kelvin sign
/// `k`, the dotless `ı` `i`). `c` is ASCII.
fn case_variants(c: char) -> Vec<char> {
    let folded = fold_key(&c.to_string());
    let mut variants = Vec::new();
    for candidate in [
        c.to_ascii_lowercase(),
        c.to_ascii_uppercase(),
        '\u{17F}',
        '\u{212A}',
        '\u{131}',
    ] {
        if fold_key(&candidate.to_string()) == folded && !variants.contains(&candidate) {
            variants.push(candidate);
        }
    }
    variants
}

/// `a/b/c`: non-empty segments separated by `/`.
fn segments(path: Option<&str>) -> bool {
    path.is_some_and(|path| path.split('/').all(|segment| !segment.is_empty()))
}

fn is_ip_form(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A value in backticks, shortened when long (descriptions run to 1000 characters).
pub fn quote(value: &str) -> String {
    const SHOWN: usize = 60;
    if value.chars().count() > SHOWN {
        let head: String = value.chars().take(SHOWN).collect();
        format!("`{head}…`")
    } else {
        format!("`{value}`")
    }
}

fn show_char(c: char) -> String {
    format!("`{}`", c.escape_debug())
}

/// A whole number, given as a JSON number or as a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer {
    /// For "`x` is not a whole number of seconds from 3600 to 43200".
    pub noun: &'static str,
    pub min: u64,
    pub max: u64,
}

impl Integer {
    pub fn check(&self, value: &str) -> Result<(), Problem> {
        let parsed = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten();
        match parsed {
            Some(n) if (self.min..=self.max).contains(&n) => Ok(()),
            _ => Err(Problem::new(format!(
                "{} is not {} from {} to {}",
                quote(value),
                self.noun,
                self.min,
                self.max
            ))),
        }
    }

    /// Digits (leading zeros allowed) of a number in range.
    pub fn pattern(&self) -> String {
        format!("0*(?:{})", range_pattern(self.min, self.max))
    }

    pub fn expected(&self) -> String {
        format!("{} from {} to {}", self.noun, self.min, self.max)
    }
}

/// A regex matching the decimal numbers from `min` to `max` written without leading zeros: the
/// range is split where digits roll over, so that each piece is a run of digit classes.
fn range_pattern(min: u64, max: u64) -> String {
    let mut stops = vec![max];
    let mut nines = 1;
    loop {
        let stop = fill_nines(min, nines);
        if stop < min || stop > max {
            break;
        }
        stops.push(stop);
        nines += 1;
    }
    let mut zeros = 1;
    loop {
        let step = 10u64.saturating_pow(zeros);
        let rounded = (max + 1) - (max + 1) % step;
        if rounded <= min + 1 || rounded == 0 {
            break;
        }
        stops.push(rounded - 1);
        zeros += 1;
    }
    stops.sort_unstable();
    stops.dedup();
    let mut start = min;
    let mut pieces = Vec::new();
    for stop in stops {
        if stop < start {
            continue;
        }
        pieces.push(piece_pattern(start, stop));
        start = stop + 1;
    }
    pieces.join("|")
}

/// `min` with its last `n` digits replaced by nines.
fn fill_nines(min: u64, n: u32) -> u64 {
    let step = 10u64.saturating_pow(n);
    (min - min % step).saturating_add(step - 1)
}

/// Numbers of equal length from `start` to `stop`, digit by digit: a digit, or a class.
fn piece_pattern(start: u64, stop: u64) -> String {
    let (a, b) = (start.to_string(), stop.to_string());
    let tokens: Vec<String> = a
        .chars()
        .zip(b.chars())
        .map(|(x, y)| {
            if x == y {
                x.to_string()
            } else {
                format!("[{x}-{y}]")
            }
        })
        .collect();
    let mut pattern = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let run = tokens[i..].iter().take_while(|t| **t == tokens[i]).count();
        pattern.push_str(&tokens[i]);
        if run > 1 && tokens[i].starts_with('[') {
            pattern.push_str(&format!("{{{run}}}"));
        }
        i += if tokens[i].starts_with('[') { run } else { 1 };
    }
    pattern
}

/// The region part of an ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionPart {
    /// Empty: IAM's and S3's ARNs.
    None,
    /// A region of the ARN's partition.
    Known,
    /// A region of the ARN's partition, or `*`.
    KnownOrWildcard,
}

/// The account part of an ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPart {
    /// Any account.
    Any,
    /// Any account, or `aws` (AWS managed policies).
    AnyOrAws,
    /// The stack's own account, for the reason given.
    Stack(&'static str),
}

/// An ARN of one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn {
    pub noun: &'static str,
    pub plural: &'static str,
    pub service: &'static str,
    pub region: RegionPart,
    pub account: AccountPart,
    /// The resource type and its `/`.
    pub resource: &'static str,
    pub name: Text,
    /// Resource types users give instead, and why they do not do.
    pub instead: &'static [(&'static str, &'static str)],
}

impl Arn {
    pub fn check(&self, value: &str, stack: &StackContext) -> Result<(), Problem> {
        let not = |why: String| {
            Err(
                Problem::new(format!("{} is not {}{why}", quote(value), self.noun))
                    .help(format!("expected {}", self.expected())),
            )
        };
        let Some(arn::Arn {
            partition,
            service,
            region,
            account,
            resource,
        }) = arn::Arn::parse(value)
        else {
            return not(String::new());
        };
        let Some(partition) = partitions::SUPPORTED
            .into_iter()
            .find(|p| p.name() == partition)
        else {
            return not(String::new());
        };
        if service != self.service {
            return not(String::new());
        }
        if partition != stack.partition {
            return Err(Problem::new(format!(
                "{} is in partition `{partition}`, but the stack is in partition `{}`",
                quote(value),
                stack.partition
            ))
            .help(format!(
                "expected {} of partition `{}`",
                self.plural, stack.partition
            )));
        }
        match (self.region, region) {
            (RegionPart::None, "") | (RegionPart::KnownOrWildcard, "*") => {}
            (RegionPart::None, _) | (_, "") => return not(String::new()),
            _ => check_region(region, partition).map_err(|p| {
                Problem::new(format!(
                    "{} is not {}: {}",
                    quote(value),
                    self.noun,
                    p.message
                ))
                .help(format!("expected {}", self.expected()))
            })?,
        }
        let account_ok = match self.account {
            AccountPart::Any | AccountPart::Stack(_) => is_account_id(account),
            AccountPart::AnyOrAws => account == "aws" || is_account_id(account),
        };
        if !account_ok {
            return not(String::new());
        }
        match self.account {
            AccountPart::Stack(reason) if account != stack.account => {
                return Err(Problem::new(format!(
                    "{} is in account {account}, but {reason} {}",
                    quote(value),
                    stack.account
                )));
            }
            _ => {}
        }
        let Some(name) = resource.strip_prefix(self.resource) else {
            if let Some((_, why)) = self.instead.iter().find(|(r, _)| resource.starts_with(r)) {
                return Err(Problem::new(format!("{} {why}", quote(value)))
                    .help(format!("expected {}", self.expected())));
            }
            return not(String::new());
        };
        self.name.fault(name).map_err(|reason| {
            let reason = reason.unwrap_or_else(|| format!("is not {}", self.name.noun));
            Problem::new(format!(
                "{} is not {}: the name {} {reason}",
                quote(value),
                self.noun,
                quote(name)
            ))
            .help(format!("expected {}", self.expected()))
        })
    }

    /// The form with placeholders: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
    pub fn form(&self) -> String {
        let region = match self.region {
            RegionPart::None => "",
            RegionPart::Known | RegionPart::KnownOrWildcard => "REGION",
        };
        let account = match self.account {
            AccountPart::AnyOrAws => "ACCOUNT|aws",
            AccountPart::Any | AccountPart::Stack(_) => "ACCOUNT",
        };
        format!(
            "arn:PARTITION:{}:{region}:{account}:{}NAME",
            self.service, self.resource
        )
    }

    pub fn pattern(&self, exclude: &str) -> String {
        let per_partition: Vec<String> = partitions::SUPPORTED
            .iter()
            .map(|partition| {
                let region = match self.region {
                    RegionPart::None => String::new(),
                    RegionPart::Known => region_alternatives(&[*partition], false),
                    RegionPart::KnownOrWildcard => region_alternatives(&[*partition], true),
                };
                format!("{}:{}:{region}", literal(partition.name()), self.service)
            })
            .collect();
        let account = match self.account {
            AccountPart::Any | AccountPart::Stack(_) => "[0-9]{12}",
            AccountPart::AnyOrAws => "(?:aws|[0-9]{12})",
        };
        format!(
            "arn:(?:{}):{account}:{}{}",
            per_partition.join("|"),
            literal(self.resource),
            self.name.pattern(exclude)
        )
    }

    pub fn expected(&self) -> String {
        let mut notes = vec![self.form()];
        if let AccountPart::Stack(_) = self.account {
            notes.push("in the stack's partition and account".to_owned());
        } else {
            notes.push("in the stack's partition".to_owned());
        }
        if self.region == RegionPart::KnownOrWildcard {
            notes.push("REGION may be `*`".to_owned());
        }
        if self.account == AccountPart::AnyOrAws {
            notes.push("`aws` for AWS managed policies".to_owned());
        }
        notes.push(format!("NAME: {}", self.name.describe()));
        format!("{} ({})", self.plural, notes.join("; "))
    }
}

/// `(?:us-east-1|…)` for the known regions of the partitions, `*` too when `wildcard`.
fn region_alternatives(of: &[Partition], wildcard: bool) -> String {
    let mut names: Vec<String> = of
        .iter()
        .flat_map(|p| partitions::regions(*p).iter().map(|r| literal(r)))
        .collect();
    if wildcard {
        names.push(r"\*".to_owned());
    }
    format!("(?:{})", names.join("|"))
}

/// A region of the stack's partition, as the SDK's partition metadata knows them.
fn check_region(region: &str, partition: Partition) -> Result<(), Problem> {
    if !is_region_name(region) {
        return Err(Problem::new(format!(
            "`{region}` is not a region name like us-east-1"
        )));
    }
    match partitions::partition_of(region) {
        Some(p) if p == partition => Ok(()),
        Some(_) => Err(Problem::new(format!(
            "region `{region}` is not in the stack's partition `{partition}`"
        ))),
        None => {
            let known = partitions::regions(partition);
            let help = match catalog::nearest(region, known.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("the regions of `{partition}` are {}", known.join(", ")),
            };
            Err(Problem::new(format!(
                "`{region}` is not a region of partition `{partition}` known to this release"
            ))
            .help(help))
        }
    }
}

/// The keys and values of tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRule {
    pub key: Text,
    pub value: Text,
    /// How many tags a user may give.
    pub max: usize,
}

/// The rule a property's values follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A persona of the catalog, matched ignoring case, spaces, `-` and `_`.
    Persona,
    /// An activity of the catalog, matched the same way.
    Activity,
    Text(&'static Text),
    Integer(&'static Integer),
    /// A region of the stack's partition.
    Region,
    Arn(&'static Arn),
    Tag(&'static TagRule),
    /// `true` or `false`, as CloudFormation sends YAML and JSON booleans.
    Boolean,
    /// Anything the parser accepts: a property CloudFormation itself reads and checks. The
    /// text says what it takes, for the documentation.
    Any(&'static str),
}

impl Rule {
    /// Whether the value follows the rule in the stack. Catalog names get a did-you-mean.
    pub fn check(&self, value: &str, stack: &StackContext) -> Result<(), Problem> {
        match self {
            Rule::Persona => match catalog::find_persona(value) {
                Some(_) => Ok(()),
                None => {
                    let help = match catalog::suggest_persona(value) {
                        Some(s) => format!("did you mean `{s}`? expected {}", self.expected()),
                        None => format!("expected {}", self.expected()),
                    };
                    Err(Problem::new(format!("unknown persona `{value}`")).help(help))
                }
            },
            Rule::Activity => match catalog::find_activity(value) {
                Some(_) => Ok(()),
                None => Err(Problem::new(format!("unknown activity `{value}`")).help(
                    catalog::suggest_activity(value)
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            "`persona-role catalog` lists the activities".to_owned()
                        }),
                )),
            },
            Rule::Text(text) => text
                .check(value)
                .map_err(|p| p.help(format!("expected {}", text.expected()))),
            Rule::Integer(integer) => integer.check(value),
            Rule::Region => check_region(value, stack.partition),
            Rule::Arn(arn) => arn.check(value, stack),
            Rule::Boolean if BOOLEANS.contains(&value) => Ok(()),
            Rule::Boolean => Err(Problem::new(format!("`{value}` is not a boolean"))
                .help(format!("expected {}", self.expected()))),
            Rule::Tag(_) | Rule::Any(_) => Ok(()),
        }
    }

    /// The rule as a regex fragment for the JSON Schema, partition-free; `None` where the
    /// schema does not judge values (catalog names, CloudFormation's own properties).
    pub fn pattern(&self, exclude: &str) -> Option<String> {
        match self {
            Rule::Text(text) => Some(text.pattern(exclude)),
            Rule::Integer(integer) => Some(integer.pattern()),
            Rule::Region => Some(region_alternatives(&partitions::SUPPORTED, false)),
            Rule::Arn(arn) => Some(arn.pattern(exclude)),
            Rule::Boolean => Some(format!("^({})$", BOOLEANS.join("|"))),
            Rule::Persona | Rule::Activity | Rule::Tag(_) | Rule::Any(_) => None,
        }
    }

    /// What a value looks like.
    pub fn expected(&self) -> String {
        match self {
            Rule::Persona => {
                let ids: Vec<&str> = catalog::PERSONAS.iter().map(|p| p.id).collect();
                format!("one of {}", ids.join(", "))
            }
            Rule::Activity => {
                "activity names (`persona-role catalog` lists them; case, spaces, `-` and `_` are ignored)"
                    .to_owned()
            }
            Rule::Text(text) => text.expected(),
            Rule::Integer(integer) => integer.expected(),
            Rule::Region => {
                "region names of the stack's partition, as the AWS SDK knows them (us-east-1, …)"
                    .to_owned()
            }
            Rule::Arn(arn) => arn.expected(),
            Rule::Tag(tag) => format!(
                "at most {} `{{Key, Value}}` objects; Key: {}; Value: {}",
                tag.max,
                tag.key.expected(),
                tag.value.expected()
            ),
            Rule::Boolean => "`true` or `false`".to_owned(),
            Rule::Any(values) => (*values).to_owned(),
        }
    }
}

/// The texts of a boolean: CloudFormation turns a template's `true` into `"true"`.
pub const BOOLEANS: [&str; 2] = ["true", "false"];
