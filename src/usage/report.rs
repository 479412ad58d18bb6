//! Tallying the role's calls as records stream by, and the report made of the tally: per
//! activity the calls its statements allowed and when last used; activities never used; refused
//! calls grouped by the declaration change that would allow them (or listed as uncovered);
//! actions granted and never used; what could not be read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::Authorization;
use super::attribution::{PlanStatement, attribute, names_action, plan_statements};
use super::mapping::{self, Event, TrailResource, Unmapped};
use super::records::{Problem, Record, Sink};
use super::suggest::{self, Change};
use crate::arn::Arn;
use crate::catalog;
use crate::context::StackContext;
use crate::plan::{Plan, render};
use crate::properties::{self, Properties};
use crate::time::{self, Seconds};

/// Resources listed per call line; the rest are counted.
const RESOURCES_SHOWN: usize = 3;

/// The role whose records count, and the window.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The role's ARN (with its path).
    pub role_arn: String,
    pub account: String,
    pub partition: String,
    pub region: String,
    pub since: Option<Seconds>,
    pub until: Option<Seconds>,
}

impl Scope {
    fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or_default()
    }

    /// Sessions of the role: the issuer of the session is the role, or the assumed-role ARN
    /// names it (any session name). IAM role names are unique ignoring case.
    pub fn is_role(&self, record: &Record) -> bool {
        let identity = &record.user_identity;
        if let Some(issuer) = &identity.session_context.session_issuer.arn {
            return issuer.eq_ignore_ascii_case(&self.role_arn);
        }
        let Some(arn) = &identity.arn else {
            return false;
        };
        let Some(Arn {
            service: "sts",
            account,
            resource,
            ..
        }) = Arn::parse(arn)
        else {
            return false;
        };
        let mut path = resource.split('/');
        account == self.account
            && path.next() == Some("assumed-role")
            && path
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(self.role_name()))
    }
}

/// Calls of one kind: how many, when first and last, some of their resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub first: Seconds,
    pub last: Seconds,
    pub resources: BTreeSet<String>,
    pub more_resources: bool,
    pub assumed: BTreeSet<String>,
    /// Statements the records cannot tell from the one named.
    pub alternatives: BTreeSet<String>,
}

impl Tally {
    fn add(&mut self, at: Seconds, resource: Option<&str>) {
        if self.calls == 0 || at < self.first {
            self.first = at;
        }
        if self.calls == 0 || at > self.last {
            self.last = at;
        }
        self.calls += 1;
        if let Some(resource) = resource {
            if self.resources.len() < RESOURCES_SHOWN || self.resources.contains(resource) {
                self.resources.insert(resource.to_owned());
            } else {
                self.more_resources = true;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        if other.calls == 0 {
            return;
        }
        if self.calls == 0 || other.first < self.first {
            self.first = other.first;
        }
        if self.calls == 0 || other.last > self.last {
            self.last = other.last;
        }
        self.calls += other.calls;
        self.more_resources |= other.more_resources;
        for r in other.resources {
            if self.resources.len() < RESOURCES_SHOWN {
                self.resources.insert(r);
            } else if !self.resources.contains(&r) {
                self.more_resources = true;
            }
        }
        self.assumed.extend(other.assumed);
        self.alternatives.extend(other.alternatives);
    }
}

/// A refused call's tally, with the first such request to find what would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedTally {
    pub tally: Tally,
    pub errors: BTreeSet<String>,
    pub sample: Authorization,
}

/// Records of one kind worth a problem line, counted per file.
#[derive(Debug, Clone, Default)]
struct Occurrences {
    first: usize,
    count: u64,
}

/// What the records said, as tallied by one reader (and then merged).
#[derive(Debug, Default)]
pub struct Usage {
    pub records: u64,
    pub role_records: u64,
    pub outside_window: u64,
    pub first: Option<Seconds>,
    pub last: Option<Seconds>,
    /// (statement, action) → calls it allowed.
    pub allowed: BTreeMap<(String, String), Tally>,
    /// (action, resource) → calls allowed by none of the plan's statements.
    pub unattributed: BTreeMap<(String, String), Tally>,
    /// (action, resource) → refused calls.
    pub denied: BTreeMap<(String, String), DeniedTally>,
    pub problems: Vec<Problem>,
    other_accounts: BTreeMap<(String, String), Occurrences>,
    unknown_sources: BTreeMap<(String, String), Occurrences>,
}

impl Usage {
    pub fn merge(&mut self, other: Usage) {
        self.records += other.records;
        self.role_records += other.role_records;
        self.outside_window += other.outside_window;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(other.last);
        for (k, v) in other.allowed {
            self.allowed.entry(k).or_default().merge(v);
        }
        for (k, v) in other.unattributed {
            self.unattributed.entry(k).or_default().merge(v);
        }
        for (k, v) in other.denied {
            match self.denied.get_mut(&k) {
                Some(mine) => {
                    if v.tally.first < mine.tally.first {
                        mine.sample = v.sample.clone();
                    }
                    mine.tally.merge(v.tally);
                    mine.errors.extend(v.errors);
                }
                None => {
                    self.denied.insert(k, v);
                }
            }
        }
        self.problems.extend(other.problems);
        for (k, v) in other.other_accounts {
            let mine = self.other_accounts.entry(k).or_insert(Occurrences {
                first: v.first,
                count: 0,
            });
            mine.first = mine.first.min(v.first);
            mine.count += v.count;
        }
        for (k, v) in other.unknown_sources {
            let mine = self.unknown_sources.entry(k).or_insert(Occurrences {
                first: v.first,
                count: 0,
            });
            mine.first = mine.first.min(v.first);
            mine.count += v.count;
        }
    }

    /// Every problem, with the records of other accounts and of unknown sources as one line per
    /// file and kind (first record, count), sorted by file and record.
    pub fn all_problems(&self) -> Vec<Problem> {
        let mut out = self.problems.clone();
        for ((file, account), o) in &self.other_accounts {
            out.push(Problem {
                file: file.clone(),
                record: Some(o.first),
                message: format!(
                    "{} record{} of account {account}, not the declaration's: not read",
                    o.count,
                    if o.count == 1 { "" } else { "s" }
                ),
            });
        }
        for ((file, source), o) in &self.unknown_sources {
            out.push(Problem {
                file: file.clone(),
                record: Some(o.first),
                message: format!(
                    "{} call{} of the role to event source {source}, which names no service IAM knows: not attributed",
                    o.count,
                    if o.count == 1 { "" } else { "s" }
                ),
            });
        }
        out.sort();
        out
    }
}

/// A reader's sink: maps and attributes the role's records as they come.
pub struct Collector<'a> {
    pub scope: &'a Scope,
    pub statements: &'a [PlanStatement],
    pub usage: Usage,
    /// Per action, the statements that name it: the others cannot decide its requests, and
    /// a trail repeats a few hundred actions at most.
    by_action: HashMap<String, Vec<&'a PlanStatement>>,
}

impl<'a> Collector<'a> {
    pub fn new(scope: &'a Scope, statements: &'a [PlanStatement]) -> Self {
        Collector {
            scope,
            statements,
            usage: Usage::default(),
            by_action: HashMap::new(),
        }
    }
}

/// A record's `resources[]`.
fn trail_resources(raw: Option<&serde_json::value::RawValue>) -> Vec<TrailResource> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(raw.get()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            Some(TrailResource {
                arn: item
                    .get("ARN")
                    .or_else(|| item.get("ARNPrefix"))?
                    .as_str()?
                    .to_owned(),
                account: item
                    .get("accountId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                kind: item.get("type").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// An S3 object's resource as refused calls are grouped: its bucket's objects.
fn denied_key(resource: Option<&str>) -> String {
    match resource {
        Some(arn) if arn.contains(":s3:::") && arn.contains('/') => {
            let (bucket, _) = arn.split_once('/').unwrap_or((arn, ""));
            format!("{bucket}/*")
        }
        Some(arn) => arn.to_owned(),
        None => "(resource not in the record)".to_owned(),
    }
}

impl Sink for Collector<'_> {
    fn record(&mut self, file: &str, index: usize, record: Record) {
        let usage = &mut self.usage;
        usage.records += 1;
        let account = record
            .recipient_account_id
            .as_deref()
            .or(record.user_identity.account_id.as_deref());
        if !self.scope.is_role(&record) {
            if let Some(account) = account.filter(|a| *a != self.scope.account) {
                let o = usage
                    .other_accounts
                    .entry((file.to_owned(), account.to_owned()))
                    .or_insert(Occurrences {
                        first: index,
                        count: 0,
                    });
                o.count += 1;
            }
            return;
        }
        let Some(at) = record.event_time.as_deref().and_then(time::parse) else {
            usage.problems.push(Problem {
                file: file.to_owned(),
                record: Some(index),
                message: "a call of the role without a readable eventTime: not counted".to_owned(),
            });
            return;
        };
        if self.scope.since.is_some_and(|s| at < s) || self.scope.until.is_some_and(|u| at >= u) {
            usage.outside_window += 1;
            return;
        }
        usage.role_records += 1;
        usage.first = Some(usage.first.map_or(at, |f| f.min(at)));
        usage.last = Some(usage.last.map_or(at, |l| l.max(at)));
        let event = Event {
            source: record.event_source.clone().unwrap_or_default(),
            name: record.event_name.clone().unwrap_or_default(),
            region: record
                .aws_region
                .clone()
                .unwrap_or_else(|| self.scope.region.clone()),
            account: account.unwrap_or(&self.scope.account).to_owned(),
            request: record
                .request_parameters
                .as_deref()
                .and_then(|raw| serde_json::from_str(raw.get()).ok()),
            resources: trail_resources(record.resources.as_deref()),
            error_code: record.error_code.clone(),
            error_message: record.error_message.clone(),
            invoked_by: record.user_identity.invoked_by.clone(),
            source_ip: record.source_ip_address.clone(),
        };
        let mapped = match mapping::map(&event, &self.scope.partition) {
            Ok(mapped) => mapped,
            Err(Unmapped::UnknownSource(source)) => {
                let o = usage
                    .unknown_sources
                    .entry((file.to_owned(), source))
                    .or_insert(Occurrences {
                        first: index,
                        count: 0,
                    });
                o.count += 1;
                return;
            }
            Err(Unmapped::Incomplete) => {
                usage.problems.push(Problem {
                    file: file.to_owned(),
                    record: Some(index),
                    message: "a call of the role without eventSource or eventName: not counted"
                        .to_owned(),
                });
                return;
            }
        };
        for authorization in mapped.authorizations {
            if mapping::NO_PERMISSION_NEEDED.contains(&authorization.action.as_str()) {
                continue;
            }
            let resource = authorization.resource.as_deref();
            if mapped.denied {
                let key = (authorization.action.clone(), denied_key(resource));
                let entry = usage.denied.entry(key).or_insert_with(|| DeniedTally {
                    tally: Tally::default(),
                    errors: BTreeSet::new(),
                    sample: authorization.clone(),
                });
                if entry.tally.calls > 0 && at < entry.tally.first {
                    entry.sample = authorization.clone();
                }
                entry.tally.add(at, resource);
                if let Some(code) = &event.error_code {
                    entry.errors.insert(code.clone());
                }
                continue;
            }
            if !self.by_action.contains_key(&authorization.action) {
                let naming = self
                    .statements
                    .iter()
                    .filter(|s| names_action(s, &authorization.action))
                    .collect();
                self.by_action.insert(authorization.action.clone(), naming);
            }
            let naming = self
                .by_action
                .get(&authorization.action)
                .map(Vec::as_slice)
                .unwrap_or_default();
            match attribute(naming.iter().copied(), &authorization) {
                Some(found) => {
                    let tally = usage
                        .allowed
                        .entry((found.sid, authorization.action.clone()))
                        .or_default();
                    tally.add(at, resource);
                    tally.assumed.extend(found.assumed);
                    tally.alternatives.extend(found.alternatives);
                }
                None => {
                    usage
                        .unattributed
                        .entry((
                            authorization.action.clone(),
                            resource
                                .unwrap_or("(resource not in the record)")
                                .to_owned(),
                        ))
                        .or_default()
                        .add(at, resource);
                }
            }
        }
    }

    fn problem(&mut self, problem: Problem) {
        self.usage.problems.push(problem);
    }
}

// ------------------------------------------------------------------------------- the report

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    pub role: String,
    pub window: Window,
    pub files: usize,
    pub records: u64,
    pub role_records: u64,
    pub activities: Vec<ActivityUsage>,
    /// Activities with no call in the window: candidates for RemoveActivities.
    pub unused_activities: Vec<String>,
    pub denied: Vec<DeniedGroup>,
    /// Successful calls none of the plan's statements allows: granted elsewhere (AWS managed
    /// policies of the Canvas activities, ManagedPolicyArns) or by a role that differs from
    /// its declaration.
    pub allowed_elsewhere: Vec<CallLine>,
    pub problems: Vec<Problem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Window {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_call: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_call: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ActivityState {
    Used,
    Unused,
    /// Its permissions are AWS managed policies, whose statements are not read here.
    NotEvaluated,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityUsage {
    pub activity: String,
    pub state: ActivityState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    pub calls: Vec<CallLine>,
    /// Actions its statements grant that no call used (information only).
    pub unused_actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    pub action: String,
    pub calls: u64,
    pub last: String,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub more_resources: bool,
    /// Condition keys the records do not show, assumed to have held.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assumed: Vec<String>,
    /// Statements that may have allowed the calls instead: they differ from `Statement` only
    /// in what the records do not show.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub or_statements: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Refused calls that one change of the declaration would allow, or that none would.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeniedGroup {
    /// `S3Buckets: other-bucket`, `AddActivities: Manage Endpoints`; absent: no activity of
    /// the catalog allows them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_by: Vec<String>,
    pub calls: Vec<CallLine>,
}

impl DeniedGroup {
    pub fn covered(&self) -> bool {
        !self.allowed_by.is_empty()
    }
}

fn line(statement: Option<String>, action: &str, tally: &Tally) -> CallLine {
    CallLine {
        statement,
        action: action.to_owned(),
        calls: tally.calls,
        last: time::format(tally.last),
        resources: tally.resources.iter().cloned().collect(),
        more_resources: tally.more_resources,
        assumed: tally.assumed.iter().cloned().collect(),
        or_statements: tally.alternatives.iter().cloned().collect(),
        errors: Vec::new(),
    }
}

fn without_sid(statement: &Value) -> Value {
    let mut s = statement.clone();
    if let Some(map) = s.as_object_mut() {
        map.remove("Sid");
    }
    s
}

/// Which activities each statement of the plan belongs to: a statement several activities
/// share is written once, under the first one's Sid, and counts for all of them.
pub fn statement_activities(
    plan: &Plan,
    properties: &Properties,
    context: &StackContext,
) -> BTreeMap<String, Vec<String>> {
    let own: Vec<(String, Vec<Value>)> = properties
        .activities
        .iter()
        .map(|&index| {
            let mut alone = properties.clone();
            alone.activities = vec![index];
            let bodies = render::statements(&alone, context)
                .iter()
                .map(|r| without_sid(&r.statement))
                .collect();
            (catalog::activity(index).name.to_owned(), bodies)
        })
        .collect();
    let mut out = BTreeMap::new();
    for policy in plan
        .inline_policies
        .iter()
        .map(|p| &p.policy_document)
        .chain(plan.managed_policies.iter().map(|p| &p.policy_document))
    {
        for statement in policy["Statement"].as_array().into_iter().flatten() {
            let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
            let body = without_sid(statement);
            let mut names: Vec<String> = own
                .iter()
                .filter(|(_, bodies)| bodies.contains(&body))
                .map(|(name, _)| name.clone())
                .collect();
            if names.is_empty() {
                // A statement split by its resources: its Sid starts with the activity's.
                names = properties
                    .activities
                    .iter()
                    .map(|&i| catalog::activity(i))
                    .filter(|a| sid.starts_with(a.sid))
                    .map(|a| a.name.to_owned())
                    .collect();
            }
            out.insert(sid, names);
        }
    }
    out
}

/// The inputs of a report besides the tally.
pub struct Declared<'a> {
    pub properties_value: &'a Value,
    pub properties: &'a Properties,
    pub plan: &'a Plan,
    pub context: &'a StackContext,
}

/// The report, and the changes it proposes (refused calls' changes, then removals).
pub fn build(
    scope: &Scope,
    declared: &Declared<'_>,
    usage: &Usage,
    files: usize,
) -> (Report, Vec<(Change, String)>) {
    let plan = declared.plan;
    let owners = statement_activities(plan, declared.properties, declared.context);
    let statements = plan_statements(plan);
    let mut activities = Vec::new();
    let mut unused = Vec::new();
    for name in &plan.activities {
        let index = catalog::find_activity(name);
        let managed_only = index.is_some_and(|i| {
            let a = catalog::activity(i);
            !a.aws_managed_policies.is_empty() && !owners.values().any(|names| names.contains(name))
        });
        let mine: Vec<&PlanStatement> = statements
            .iter()
            .filter(|s| owners.get(&s.sid).is_some_and(|n| n.contains(name)))
            .collect();
        let mut calls: Vec<CallLine> = Vec::new();
        let mut last: Option<Seconds> = None;
        let mut used_actions: BTreeSet<String> = BTreeSet::new();
        for ((sid, action), tally) in &usage.allowed {
            // A call the records cannot tell between statements counts for each of them, so an
            // activity is unused only when no call can have used it.
            let credited = mine
                .iter()
                .any(|s| &s.sid == sid || tally.alternatives.contains(&s.sid));
            if credited {
                calls.push(line(Some(sid.clone()), action, tally));
                last = Some(last.map_or(tally.last, |l| l.max(tally.last)));
                used_actions.insert(action.to_ascii_lowercase());
            }
        }
        let state = if managed_only {
            ActivityState::NotEvaluated
        } else if calls.is_empty() {
            ActivityState::Unused
        } else {
            ActivityState::Used
        };
        let mut unused_actions: Vec<String> = Vec::new();
        if state == ActivityState::Used {
            for s in &mine {
                for action in &s.actions {
                    let used = used_actions
                        .iter()
                        .any(|u| super::attribution::glob(action, u, true));
                    if !used && !unused_actions.contains(action) {
                        unused_actions.push(action.clone());
                    }
                }
            }
            unused_actions.sort();
        }
        if state == ActivityState::Unused {
            unused.push(name.clone());
        }
        activities.push(ActivityUsage {
            activity: name.clone(),
            state,
            last_used: last.map(time::format),
            calls,
            unused_actions,
        });
    }

    // Refused calls, grouped by the change that allows them.
    let mut groups: BTreeMap<Vec<String>, Vec<CallLine>> = BTreeMap::new();
    let mut changes: Vec<(Change, String)> = Vec::new();
    for ((action, _), denied) in &usage.denied {
        let found = suggest::suggest(declared.properties_value, declared.context, &denied.sample);
        let mut call = line(None, action, &denied.tally);
        call.errors = denied.errors.iter().cloned().collect();
        let key: Vec<String> = match &found {
            Some(list) => list
                .iter()
                .map(|c| format!("{}: {}", c.property(), c.value()))
                .collect(),
            None => Vec::new(),
        };
        for change in found.into_iter().flatten() {
            let evidence = format!(
                "{} refused {} call{} of {action} on {} (last {})",
                denied.errors.iter().cloned().collect::<Vec<_>>().join("/"),
                denied.tally.calls,
                if denied.tally.calls == 1 { "" } else { "s" },
                denied
                    .sample
                    .resource
                    .as_deref()
                    .unwrap_or("a resource the record does not name"),
                time::format(denied.tally.last),
            );
            match changes.iter_mut().find(|(c, _)| *c == change) {
                Some((_, existing)) => {
                    existing.push_str("; ");
                    existing.push_str(&evidence);
                }
                None => changes.push((change, evidence)),
            }
        }
        groups.entry(key).or_default().push(call);
    }
    // Covered groups first, in order of their change; uncovered last.
    let mut denied: Vec<DeniedGroup> = groups
        .into_iter()
        .map(|(allowed_by, calls)| DeniedGroup { allowed_by, calls })
        .collect();
    denied.sort_by_key(|g| !g.covered());

    let mut notes = Vec::new();
    if usage.role_records == 0 {
        notes.push(format!(
            "no call of {} in the window: nothing to propose",
            scope.role_arn
        ));
    } else {
        for name in &unused {
            changes.push((
                Change::RemoveActivity(name.clone()),
                format!(
                    "no call of the role used its statements between {} and {}",
                    time::format(usage.first.unwrap_or_default()),
                    time::format(usage.last.unwrap_or_default())
                ),
            ));
        }
    }
    let allowed_elsewhere = usage
        .unattributed
        .iter()
        .map(|((action, _), tally)| line(None, action, tally))
        .collect();
    let report = Report {
        role: scope.role_arn.clone(),
        window: Window {
            since: scope.since.map(time::format),
            until: scope.until.map(time::format),
            first_call: usage.first.map(time::format),
            last_call: usage.last.map(time::format),
        },
        files,
        records: usage.records,
        role_records: usage.role_records,
        activities,
        unused_activities: unused,
        denied,
        allowed_elsewhere,
        problems: usage.all_problems(),
        notes,
    };
    (report, changes)
}

/// Parses the properties (for [`statement_activities`]); the plan was made from them already.
pub fn parse_properties(value: &Value, context: &StackContext) -> Option<Properties> {
    properties::parse(value, context).ok()
}
