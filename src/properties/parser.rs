//! The parser: walks the property table, reading each value by its kind and judging it by its
//! rule, then applies what relates properties to each other and to the catalog (activity
//! selection, required and paired parameters). Every error is collected.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::rules::{BLANKS, Problem, Rule};
use super::table::{self, PAIRS, Property};
use super::{
    MAX_LIST_ITEMS, MAX_LIST_TEXT, MAX_POLICY_CHARS, Parameters, Properties, PropertyError, Tag,
};
use crate::catalog::{self, ActivityIndex, Need, Param, Persona};
use crate::context::StackContext;

#[derive(Default)]
pub(super) struct Errors(pub(super) Vec<PropertyError>);

impl Errors {
    pub(super) fn push(
        &mut self,
        property: impl Into<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.0.push(PropertyError {
            property: property.into(),
            message: message.into(),
            help,
        });
    }

    fn problem(&mut self, property: impl Into<String>, problem: Problem) {
        self.push(property, problem.message, problem.help);
    }
}

/// A list's valid items, each with where it stands (`PassRoles[1]`), and whether all were valid.
struct Items {
    items: Vec<(String, String)>,
    all_valid: bool,
}

pub(super) struct Parser<'a> {
    pub(super) map: &'a Map<String, Value>,
    pub(super) context: &'a StackContext,
    pub(super) errors: &'a mut Errors,
}

impl Parser<'_> {
    pub(super) fn parse(mut self) -> Option<Properties> {
        self.reject_unknown();
        let persona = self.persona();
        let activity_lists = [
            &table::ACTIVITIES,
            &table::ADD_ACTIVITIES,
            &table::REMOVE_ACTIVITIES,
        ]
        .map(|property| self.optional_list(property));
        let role_name_suffix = self.scalar(&table::ROLE_NAME_SUFFIX);
        let description = self.scalar(&table::DESCRIPTION);
        let path = self.scalar(&table::PATH);
        let max_session_duration = self.number(&table::MAX_SESSION_DURATION);
        let permissions_boundary = self.scalar(&table::PERMISSIONS_BOUNDARY);
        let managed_policy_arns = self.values(&table::MANAGED_POLICY_ARNS);
        let tags = self.tags(&table::TAGS);
        let regions = self.values(&table::REGIONS);
        let max_managed_policies = self.number(&table::MAX_MANAGED_POLICIES);
        let adopt_existing_role = self.flag(&table::ADOPT_EXISTING_ROLE);
        let delete_console_policies = self.flag(&table::DELETE_CONSOLE_POLICIES);
        let retain_on_delete = self.flag(&table::RETAIN_ON_DELETE);
        let parameters = self.parameters(None);
        let activities = persona.and_then(|persona| self.activities(persona, activity_lists));
        let activity_parameters = self.activity_parameters(activities.as_deref().unwrap_or(&[]));

        // Invalid values were reported; defaults let the remaining checks still run.
        let persona = persona?;
        let activities = activities?;
        let mut properties = Properties {
            persona,
            role_name_suffix: role_name_suffix.ok().flatten(),
            description: description.ok().flatten(),
            path: path.ok().flatten().unwrap_or_else(|| default(&table::PATH)),
            max_session_duration: u32::try_from(max_session_duration).unwrap_or(u32::MAX),
            permissions_boundary: permissions_boundary.ok().flatten(),
            managed_policy_arns,
            tags,
            activities,
            parameters,
            activity_parameters,
            regions,
            max_managed_policies: usize::try_from(max_managed_policies).unwrap_or(usize::MAX),
            adopt_existing_role,
            delete_console_policies,
            retain_on_delete,
            warnings: Vec::new(),
        };
        self.check_activity_parameters(&mut properties);
        self.check_total_size(&properties);
        if properties.delete_console_policies && !properties.adopt_existing_role {
            properties.warnings.push(format!(
                "{} has no effect without {}",
                table::DELETE_CONSOLE_POLICIES.name,
                table::ADOPT_EXISTING_ROLE.name
            ));
        }
        Some(properties)
    }

    /// Refuses, before any planning, values that together could not fit any role: each distinct
    /// value appears verbatim in the role's policies, which hold at most [`MAX_POLICY_CHARS`].
    fn check_total_size(&mut self, properties: &Properties) {
        let mut distinct = BTreeSet::new();
        let lists = std::iter::once(&properties.parameters)
            .chain(properties.activity_parameters.values())
            .flat_map(|parameters| Param::ALL.iter().map(|&param| parameters.get(param)));
        for values in lists.chain([properties.regions.as_slice()]) {
            distinct.extend(values.iter().map(String::as_str));
        }
        // Each value is at least a quoted string and a separator in the policy's JSON.
        let total: usize = distinct.iter().map(|value| value.len() + 3).sum();
        if total > MAX_POLICY_CHARS {
            self.errors.push(
                "ResourceProperties",
                format!(
                    "the parameters' values take {total} characters; no role's policies hold more than {MAX_POLICY_CHARS}"
                ),
                Some("give fewer or shorter values, or split the role".to_owned()),
            );
        }
    }

    fn reject_unknown(&mut self) {
        for key in self.map.keys() {
            if table::find(key).is_none() {
                let help = catalog::nearest(key, table::PROPERTIES.iter().map(|p| p.name))
                    .map(|name| format!("did you mean `{name}`?"));
                self.errors.push(key.as_str(), "unknown property", help);
            }
        }
    }

    /// A boolean scalar; its default when absent, or when invalid (reported).
    fn flag(&mut self, property: &Property) -> bool {
        self.scalar(property)
            .ok()
            .flatten()
            .or_else(|| property.default.map(str::to_owned))
            .is_some_and(|text| text == "true")
    }

    /// A scalar's text: `Ok(None)` when absent or empty, `Err` when invalid (reported).
    fn scalar(&mut self, property: &Property) -> Result<Option<String>, ()> {
        let Some(value) = self.map.get(property.name) else {
            return Ok(None);
        };
        let text = match (value, property.rule) {
            (Value::Null, _) => return Ok(None),
            (Value::String(s), _) => s.clone(),
            (Value::Number(n), Rule::Integer(_)) => number_text(n),
            (Value::Bool(b), Rule::Boolean) => b.to_string(),
            (_, Rule::Integer(_)) => {
                self.errors.push(
                    property.name,
                    "expected a whole number or a string of digits",
                    None,
                );
                return Err(());
            }
            _ => {
                self.errors.push(property.name, "expected a string", None);
                return Err(());
            }
        };
        if text.is_empty() {
            return Ok(None);
        }
        match property.rule.check(&text, self.context) {
            Ok(()) => Ok(Some(text)),
            Err(problem) => {
                self.errors.problem(property.name, problem);
                Err(())
            }
        }
    }

    /// A whole-number scalar; its default when absent, or when invalid (reported) so that the
    /// remaining checks still run.
    fn number(&mut self, property: &Property) -> u64 {
        self.scalar(property)
            .ok()
            .flatten()
            .unwrap_or_else(|| default(property))
            .parse()
            .unwrap_or_default()
    }

    /// A list at `at`: a JSON array of strings, or a comma-separated string. Blank items are
    /// dropped; each other item is judged by `rule`.
    fn list(&mut self, at: &str, value: &Value, rule: Rule) -> Items {
        let given = match value {
            Value::Array(items) => items.len(),
            Value::String(text) => text.len(),
            _ => 0,
        };
        let (limit, unit) = match value {
            Value::Array(_) => (MAX_LIST_ITEMS, "values"),
            _ => (MAX_LIST_TEXT, "characters"),
        };
        if given > limit {
            self.errors.push(
                at,
                format!("{given} {unit}; no role can hold more than {limit}"),
                Some("give fewer values: every value appears in the role's policies, which IAM limits to 133,120 characters in all".to_owned()),
            );
            return Items {
                items: Vec::new(),
                all_valid: false,
            };
        }
        let mut all_valid = true;
        let given: Vec<(String, String)> = match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let at = format!("{at}[{i}]");
                    match item {
                        Value::String(s) => {
                            Some((at, s.trim_matches(|c| BLANKS.contains(c)).to_owned()))
                        }
                        _ => {
                            all_valid = false;
                            self.errors.push(at, "expected a string", None);
                            None
                        }
                    }
                })
                .filter(|(_, s)| !s.is_empty())
                .collect(),
            Value::String(s) => s
                .split(',')
                .map(|item| item.trim_matches(|c| BLANKS.contains(c)))
                .filter(|item| !item.is_empty())
                .enumerate()
                .map(|(i, item)| (format!("{at}[{i}]"), item.to_owned()))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.errors.push(
                    at,
                    "expected a list of strings or a comma-separated string",
                    None,
                );
                return Items {
                    items: Vec::new(),
                    all_valid: false,
                };
            }
        };
        let items = given
            .into_iter()
            .filter(|(at, item)| match rule.check(item, self.context) {
                Ok(()) => true,
                Err(problem) => {
                    all_valid = false;
                    self.errors.problem(at.as_str(), problem);
                    false
                }
            })
            .collect();
        Items { items, all_valid }
    }

    fn optional_list(&mut self, property: &Property) -> Option<Items> {
        let value = self.map.get(property.name)?;
        Some(self.list(property.name, value, property.rule))
    }

    /// A list's valid values, sorted and without duplicates.
    fn values(&mut self, property: &Property) -> Vec<String> {
        let mut values: Vec<String> = self
            .optional_list(property)
            .map(|items| items.items.into_iter().map(|(_, v)| v).collect())
            .unwrap_or_default();
        values.sort();
        values.dedup();
        values
    }

    fn persona(&mut self) -> Option<&'static Persona> {
        let property = &table::PERSONA;
        match self.scalar(property) {
            Ok(Some(name)) => catalog::find_persona(&name),
            Ok(None) => {
                self.errors.push(
                    property.name,
                    "required",
                    Some(format!("expected {}", property.rule.expected())),
                );
                None
            }
            Err(()) => None,
        }
    }

    fn tags(&mut self, property: &Property) -> Vec<Tag> {
        let Rule::Tag(rule) = property.rule else {
            return Vec::new();
        };
        let items = match self.map.get(property.name) {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.errors.push(
                    property.name,
                    "expected a list of {Key, Value} objects",
                    None,
                );
                return Vec::new();
            }
        };
        let mut tags = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{}[{i}]", property.name);
            let Some(fields) = item.as_object() else {
                self.errors
                    .push(at, "expected an object with Key and Value", None);
                continue;
            };
            for field in fields
                .keys()
                .filter(|k| !["Key", "Value"].contains(&k.as_str()))
            {
                let help = catalog::nearest(field, ["Key", "Value"].into_iter())
                    .map(|s| format!("did you mean `{s}`?"));
                self.errors
                    .push(format!("{at}.{field}"), "unknown field of a tag", help);
            }
            let key = match fields.get("Key") {
                None | Some(Value::Null) => {
                    self.errors.push(at, "Key is required", None);
                    continue;
                }
                Some(Value::String(key)) => key.clone(),
                Some(_) => {
                    self.errors
                        .push(format!("{at}.Key"), "expected a string", None);
                    continue;
                }
            };
            let value = match fields.get("Value") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(value)) => value.clone(),
                Some(_) => {
                    self.errors
                        .push(format!("{at}.Value"), "expected a string", None);
                    continue;
                }
            };
            if let Err(problem) = rule.key.check(&key) {
                self.errors.problem(format!("{at}.Key"), problem);
            } else if !seen.insert(crate::ownership::fold_key(&key)) {
                self.errors.push(
                    format!("{at}.Key"),
                    format!("duplicate tag key `{key}`"),
                    Some("tag keys compare ignoring case".to_owned()),
                );
            }
            if let Err(problem) = rule.value.check(&value) {
                self.errors.problem(format!("{at}.Value"), problem);
            }
            tags.push(Tag { key, value });
        }
        if items.len() > rule.max {
            self.errors.push(
                property.name,
                format!(
                    "{} tags given; IAM allows {} per role and this resource adds {} ownership tags",
                    items.len(),
                    super::MAX_TAGS,
                    super::OWNERSHIP_TAGS
                ),
                Some(format!("use at most {} tags", rule.max)),
            );
        }
        tags
    }

    /// Top-level parameters (scope None) or one activity's (scope Some(prefix, its map)).
    fn parameters(&mut self, scope: Option<(&str, &Map<String, Value>)>) -> Parameters {
        let mut parameters = Parameters::default();
        for param in Param::ALL {
            let property = table::parameter_property(param);
            let (at, value) = match scope {
                None => (property.name.to_owned(), self.map.get(property.name)),
                Some((prefix, map)) => (format!("{prefix}.{param}"), map.get(property.name)),
            };
            let Some(value) = value else { continue };
            let mut values: Vec<String> = self
                .list(&at, value, property.rule)
                .items
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            values.sort();
            values.dedup();
            parameters.set(param, values);
        }
        let prefix = scope
            .map(|(prefix, _)| format!("{prefix}."))
            .unwrap_or_default();
        for (a, b) in PAIRS {
            for (given, missing) in [(a, b), (b, a)] {
                if parameters.has(given) && !parameters.has(missing) {
                    self.errors.push(
                        format!("{prefix}{missing}"),
                        format!("required because {given} is given: {a} and {b} go together"),
                        Some(format!(
                            "give both, or neither; expected {}",
                            table::expected(missing)
                        )),
                    );
                }
            }
        }
        parameters
    }

    fn activities(
        &mut self,
        persona: &'static Persona,
        [exact, added, removed]: [Option<Items>; 3],
    ) -> Option<Vec<ActivityIndex>> {
        if exact.is_some() && (added.is_some() || removed.is_some()) {
            self.errors.push(
                table::ACTIVITIES.name,
                format!(
                    "given together with {} or {}",
                    table::ADD_ACTIVITIES.name,
                    table::REMOVE_ACTIVITIES.name
                ),
                Some(
                    "Activities replaces the persona's defaults; use it alone, or adjust the defaults with AddActivities and RemoveActivities".to_owned(),
                ),
            );
            return None;
        }
        let resolve = |items: Option<Items>| {
            let items = items.unwrap_or(Items {
                items: Vec::new(),
                all_valid: true,
            });
            let resolved: Vec<(String, ActivityIndex)> = items
                .items
                .into_iter()
                .filter_map(|(at, name)| catalog::find_activity(&name).map(|index| (at, index)))
                .collect();
            (resolved, items.all_valid)
        };
        let is_exact = exact.is_some();
        let (exact, mut ok) = resolve(exact);
        let mut selected: Vec<ActivityIndex> = Vec::new();
        if is_exact {
            for (at, index) in exact {
                if selected.contains(&index) {
                    ok = false;
                    self.errors.push(
                        at,
                        format!("duplicate activity `{}`", catalog::activity(index).name),
                        None,
                    );
                } else {
                    selected.push(index);
                }
            }
        } else {
            let defaults: Vec<ActivityIndex> = persona
                .defaults
                .iter()
                .filter_map(|id| catalog::find_activity(id))
                .collect();
            selected.extend(&defaults);
            let (added, added_ok) = resolve(added);
            let (removed, removed_ok) = resolve(removed);
            ok &= added_ok && removed_ok;
            let mut adding = Vec::new();
            for (at, index) in added {
                let name = catalog::activity(index).name;
                if defaults.contains(&index) {
                    ok = false;
                    self.errors.push(
                        at,
                        format!(
                            "duplicate activity `{name}`: it is already a default of persona {}",
                            persona.id
                        ),
                        None,
                    );
                } else if adding.contains(&index) {
                    ok = false;
                    self.errors
                        .push(at, format!("duplicate activity `{name}`"), None);
                } else {
                    adding.push(index);
                    selected.push(index);
                }
            }
            let mut removing = Vec::new();
            for (at, index) in removed {
                let name = catalog::activity(index).name;
                if removing.contains(&index) {
                    ok = false;
                    self.errors
                        .push(at, format!("duplicate activity `{name}`"), None);
                } else if !defaults.contains(&index) {
                    ok = false;
                    let listed: Vec<&str> = defaults
                        .iter()
                        .map(|i| catalog::activity(*i).name)
                        .collect();
                    self.errors.push(
                        at,
                        format!("`{name}` is not a default of persona {}", persona.id),
                        Some(if listed.is_empty() {
                            format!("persona {} has no defaults", persona.id)
                        } else {
                            format!("its defaults are {}", listed.join(", "))
                        }),
                    );
                } else {
                    removing.push(index);
                }
            }
            selected.retain(|index| !removing.contains(index));
        }
        if !ok {
            return None;
        }
        if selected.is_empty() {
            self.errors.push(
                if is_exact {
                    table::ACTIVITIES.name
                } else {
                    table::PERSONA.name
                },
                format!("no activities selected for persona {}", persona.id),
                Some("list activities in Activities or AddActivities; `persona-role catalog` lists them".to_owned()),
            );
            return None;
        }
        selected.sort_unstable();
        Some(selected)
    }

    fn activity_parameters(
        &mut self,
        selected: &[ActivityIndex],
    ) -> BTreeMap<ActivityIndex, Parameters> {
        let mut result = BTreeMap::new();
        let property = &table::ACTIVITY_PARAMETERS;
        let Some(value) = self.map.get(property.name) else {
            return result;
        };
        let Some(map) = value.as_object() else {
            if !value.is_null() {
                self.errors.push(
                    property.name,
                    "expected an object from activity name to parameters",
                    None,
                );
            }
            return result;
        };
        for (name, params) in map {
            let at = format!("{}.{name}", property.name);
            if let Err(problem) = property.rule.check(name, self.context) {
                self.errors.problem(at, problem);
                continue;
            }
            let Some(index) = catalog::find_activity(name) else {
                continue;
            };
            let activity = catalog::activity(index);
            if !selected.is_empty() && !selected.contains(&index) {
                self.errors.push(
                    at.as_str(),
                    format!("activity `{}` is not selected", activity.name),
                    Some(
                        "add it to Activities or AddActivities, or remove these parameters"
                            .to_owned(),
                    ),
                );
            }
            if result.contains_key(&index) {
                self.errors.push(
                    at.as_str(),
                    format!("parameters for `{}` are given twice", activity.name),
                    None,
                );
                continue;
            }
            let Some(params) = params.as_object() else {
                self.errors
                    .push(at, "expected an object of parameters", None);
                continue;
            };
            for key in params.keys() {
                match Param::ALL.iter().find(|p| p.name() == key) {
                    None => {
                        let help = catalog::nearest(key, Param::ALL.iter().map(|p| p.name()))
                            .map(|s| format!("did you mean `{s}`?"));
                        self.errors
                            .push(format!("{at}.{key}"), "unknown parameter", help);
                    }
                    Some(param) if !activity.accepts(*param) => {
                        self.errors.push(
                            format!("{at}.{key}"),
                            format!("activity `{}` takes no {param}", activity.name),
                            Some(takes(activity)),
                        );
                    }
                    Some(_) => {}
                }
            }
            let parameters = self.parameters(Some((&at, params)));
            result.insert(index, parameters);
        }
        result
    }

    /// Required parameters present, and a warning for parameters no selected activity uses.
    fn check_activity_parameters(&mut self, properties: &mut Properties) {
        // One error per property, naming every activity that needs it.
        let mut missing: BTreeMap<String, (Param, Vec<&'static str>)> = BTreeMap::new();
        for &index in &properties.activities {
            let activity = catalog::activity(index);
            for used in activity.params {
                if used.need == Need::Required && properties.param(index, used.param).is_empty() {
                    let overridden = properties
                        .activity_parameters
                        .get(&index)
                        .is_some_and(|own| own.contains_key(used.param));
                    let property = if overridden {
                        format!(
                            "{}.{}.{}",
                            table::ACTIVITY_PARAMETERS.name,
                            activity.name,
                            used.param
                        )
                    } else {
                        used.param.name().to_owned()
                    };
                    missing
                        .entry(property)
                        .or_insert_with(|| (used.param, Vec::new()))
                        .1
                        .push(activity.name);
                }
            }
        }
        for (property, (param, activities)) in missing {
            // A list refused whole (too long) already says what is wrong with it.
            if self.errors.0.iter().any(|e| e.property == property) {
                continue;
            }
            let names: Vec<String> = activities.iter().map(|a| format!("`{a}`")).collect();
            let noun = if names.len() == 1 {
                "activity"
            } else {
                "activities"
            };
            self.errors.push(
                property,
                format!("required by {noun} {}", names.join(", ")),
                Some(format!("expected {}", table::expected(param))),
            );
        }
        for param in Param::ALL {
            if properties.parameters.has(param)
                && !properties.activities.iter().any(|&index| {
                    catalog::activity(index).accepts(param)
                        && !properties
                            .activity_parameters
                            .get(&index)
                            .is_some_and(|own| own.contains_key(param))
                })
            {
                properties
                    .warnings
                    .push(format!("{param} is given but no selected activity uses it"));
            }
        }
    }
}

/// A property's default as text; every default follows its rule (a test checks).
fn default(property: &Property) -> String {
    property.default.unwrap_or_default().to_owned()
}

/// A JSON number as CloudFormation would send it: whole numbers without a fraction.
fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e18 => format!("{f:.0}"),
        _ => n.to_string(),
    }
}

fn takes(activity: &catalog::Activity) -> String {
    if activity.params.is_empty() {
        format!("`{}` takes no parameters", activity.name)
    } else {
        let names: Vec<&str> = activity.params.iter().map(|p| p.param.name()).collect();
        format!("`{}` takes {}", activity.name, names.join(", "))
    }
}
