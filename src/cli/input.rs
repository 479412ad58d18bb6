//! Reading a declaration: a properties file or a whole CloudFormation event, JSON or YAML, and
//! the stack it is planned in (from the event's StackId, else the flags, else what the
//! properties name, else a placeholder account).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::CliError;
use crate::context::{AccountSource, PLACEHOLDER_ACCOUNT, Partition, StackContext};

/// Properties planned when `plan` is given no file: a Data Scientist in a sample stack.
pub const SAMPLE_EVENT: &str = include_str!("../../events/data-scientist-create.json");

/// Where the properties come from, and the stack when the input has no StackId.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// JSON or YAML file of properties or of a whole event; `-` reads standard input.
    /// Without a file, the built-in Data Scientist sample.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
}

/// The stack a properties file without StackId is planned in.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// Account id, when the file has no StackId. Without it: the account the properties' role
    /// ARNs name (PassRoles, ...), else the placeholder 000000000000, as the output says.
    #[arg(long)]
    pub account: Option<String>,
    /// Region, when the file has no StackId.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Partition (aws, aws-cn, aws-us-gov), when the file has no StackId; defaults to the
    /// region's.
    #[arg(long)]
    pub partition: Option<String>,
    /// Stack name used to derive a role name when RoleNameSuffix is absent.
    #[arg(long, default_value = "persona-role")]
    pub stack_name: String,
    /// Logical id used to derive a role name when RoleNameSuffix is absent.
    #[arg(long, default_value = "PersonaRole")]
    pub logical_id: String,
}

/// A parsed input document, before its stack is known.
#[derive(Debug, Clone)]
pub struct Document {
    pub label: String,
    pub value: Value,
}

impl Document {
    pub fn is_event(&self) -> bool {
        self.value.get("ResourceProperties").is_some() || self.value.get("RequestType").is_some()
    }

    /// The properties: the event's ResourceProperties, or the whole document.
    pub fn properties(&self) -> Value {
        if self.is_event() {
            self.value
                .get("ResourceProperties")
                .cloned()
                .unwrap_or(Value::Null)
        } else {
            self.value.clone()
        }
    }

    /// The event's own stack, when it has a StackId.
    pub fn event_context(&self) -> Result<Option<StackContext>, CliError> {
        if !self.is_event() {
            return Ok(None);
        }
        let Some(stack_id) = self.value.get("StackId").and_then(Value::as_str) else {
            return Ok(None);
        };
        let logical = self
            .value
            .get("LogicalResourceId")
            .and_then(Value::as_str)
            .unwrap_or("PersonaRole");
        Ok(Some(StackContext::from_stack_id(stack_id, logical)?))
    }
}

/// Properties and the stack they are planned in.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub label: String,
    pub properties: Value,
    pub context: StackContext,
    pub account: AccountSource,
}

/// Reads and parses the input file (or the built-in sample, or standard input).
pub fn read_document(
    file: Option<&Path>,
    stdin: &mut dyn std::io::Read,
) -> Result<Document, CliError> {
    let (label, text) = match file {
        None => ("built-in sample".to_owned(), SAMPLE_EVENT.to_owned()),
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|source| CliError::Read {
                    path: "-".to_owned(),
                    source,
                })?;
            ("standard input".to_owned(), text)
        }
        Some(path) => {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: label.clone(),
                source,
            })?;
            (label, text)
        }
    };
    let value = parse_document(&label, &text)?;
    Ok(Document { label, value })
}

/// JSON, else YAML (a superset for our purposes).
pub fn parse_document(label: &str, text: &str) -> Result<Value, CliError> {
    serde_json::from_str(text).or_else(|json_error| {
        serde_yaml_ng::from_str(text).map_err(|yaml_error| CliError::Parse {
            path: label.to_owned(),
            message: format!("as JSON: {json_error}; as YAML: {yaml_error}"),
        })
    })
}

/// Reads the input and places it in its stack.
pub fn read_declaration(
    input: &Input,
    stdin: &mut dyn std::io::Read,
) -> Result<Declaration, CliError> {
    let document = read_document(input.file.as_deref(), stdin)?;
    declare(document, &input.stack, None)
}

/// Places a document in its stack: an event's StackId wins; else `fallback` (the stack of the
/// other side of a comparison); else the flags, with the account given, named by the
/// properties, or the placeholder.
pub fn declare(
    document: Document,
    stack: &StackArgs,
    fallback: Option<(&StackContext, &AccountSource)>,
) -> Result<Declaration, CliError> {
    let properties = document.properties();
    if let Some(context) = document.event_context()? {
        return Ok(Declaration {
            label: document.label,
            properties,
            context,
            account: AccountSource::Given,
        });
    }
    if let Some((context, account)) = fallback {
        return Ok(Declaration {
            label: document.label,
            properties,
            context: context.clone(),
            account: account.clone(),
        });
    }
    let mut stack = stack.clone();
    if let Some(logical) = document
        .value
        .get("LogicalResourceId")
        .and_then(Value::as_str)
        .filter(|_| document.is_event())
    {
        logical.clone_into(&mut stack.logical_id);
    }
    let (context, account) = stack_context(&stack, &[&properties])?;
    Ok(Declaration {
        label: document.label,
        properties,
        context,
        account,
    })
}

/// The stack of the flags. Without `--account`, the account the first of `properties` names
/// (roles to pass must be in the stack's account), else the placeholder.
pub fn stack_context(
    stack: &StackArgs,
    properties: &[&Value],
) -> Result<(StackContext, AccountSource), CliError> {
    let partition = match &stack.partition {
        Some(p) => p.parse()?,
        None => Partition::of_region(&stack.region),
    };
    let (account, source) = match &stack.account {
        Some(account) => (account.clone(), AccountSource::Given),
        None => match properties
            .iter()
            .find_map(|p| crate::context::account_named_by(p))
        {
            Some((account, property)) => (account, AccountSource::Named { property }),
            None => (PLACEHOLDER_ACCOUNT.to_owned(), AccountSource::Placeholder),
        },
    };
    let context = StackContext::new(
        partition,
        &account,
        &stack.region,
        &stack.stack_name,
        &stack.logical_id,
    )?;
    Ok((context, source))
}
