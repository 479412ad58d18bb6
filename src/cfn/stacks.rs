//! The thin adapter over aws-sdk-cloudformation: [`SdkStacks`] implements [`Stacks`] with one
//! call per read (one page, for the stack's events and resources), naming each [`Op`] from the
//! registry. The client is configured like IAM's
//! ([`configure`]): throttling and network errors are retried with the same policy.

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::aws::meter::{MeterInterceptor, Service};
use crate::aws::{CallPolicy, Op};
use crate::cfn::stack_check::{
    Described, EventPage, ListedResource, ResourcePage, StackDetails, StackEvent, StackResource,
    Stacks, StacksError,
};

/// CloudFormation's error code for an unknown stack or resource ("Stack with id … does not
/// exist", "Resource … does not exist for stack …").
pub const VALIDATION_ERROR: &str = "ValidationError";

/// A CloudFormation client configuration with `policy`'s retries and timeouts on top of `base`
/// (its endpoint, region and credentials: the SDK's standard settings,
/// `AWS_ENDPOINT_URL_CLOUDFORMATION` included), its calls counted into the event's
/// [`CallMeter`](crate::aws::meter::CallMeter).
pub fn configure(
    policy: &CallPolicy,
    base: aws_sdk_cloudformation::config::Builder,
) -> aws_sdk_cloudformation::config::Builder {
    use aws_sdk_cloudformation::config::retry::{RetryConfig, RetryPartition, TokenBucket};
    use aws_sdk_cloudformation::config::timeout::TimeoutConfig;
    base.retry_config(
        RetryConfig::standard()
            .with_max_attempts(policy.max_attempts)
            .with_initial_backoff(policy.initial_backoff)
            .with_max_backoff(policy.max_backoff),
    )
    .retry_partition(
        RetryPartition::custom("persona-role-cloudformation")
            .token_bucket(TokenBucket::unlimited())
            .build(),
    )
    .timeout_config(
        TimeoutConfig::builder()
            .operation_attempt_timeout(policy.attempt_timeout)
            .connect_timeout(policy.connect_timeout)
            .build(),
    )
    .interceptor(MeterInterceptor(Service::CloudFormation))
}

/// aws-sdk-cloudformation, as this crate uses it.
#[derive(Debug, Clone)]
pub struct SdkStacks {
    client: aws_sdk_cloudformation::Client,
}

impl SdkStacks {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        SdkStacks { client }
    }
}

impl Stacks for SdkStacks {
    async fn stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<Described<StackResource>, StacksError> {
        let op = Op::DescribeStackResource;
        let call = self
            .client
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await;
        let output = match known(op, stack_id, call)? {
            Described::Found(output) => output,
            Described::Unknown(message) => return Ok(Described::Unknown(message)),
        };
        let incomplete = |what: &str| StacksError {
            operation: op,
            target: stack_id.to_owned(),
            message: format!("the answer has no {what}"),
        };
        let detail = output
            .stack_resource_detail()
            .ok_or_else(|| incomplete("StackResourceDetail"))?;
        Ok(Described::Found(StackResource {
            stack_id: detail
                .stack_id()
                .ok_or_else(|| incomplete("StackId"))?
                .to_owned(),
            resource_type: detail
                .resource_type()
                .ok_or_else(|| incomplete("ResourceType"))?
                .to_owned(),
            status: detail
                .resource_status()
                .ok_or_else(|| incomplete("ResourceStatus"))?
                .as_str()
                .to_owned(),
            physical_id: detail.physical_resource_id().map(str::to_owned),
        }))
    }

    async fn stack_status(&self, stack_id: &str) -> Result<Described<String>, StacksError> {
        let op = Op::DescribeStacks;
        let call = self
            .client
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await;
        let output = match known(op, stack_id, call)? {
            Described::Found(output) => output,
            Described::Unknown(message) => return Ok(Described::Unknown(message)),
        };
        let status = output
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .ok_or_else(|| StacksError {
                operation: op,
                target: stack_id.to_owned(),
                message: "the answer has no stack status".to_owned(),
            })?;
        Ok(Described::Found(status.as_str().to_owned()))
    }

    async fn stack_details(&self, stack: &str) -> Result<Described<StackDetails>, StacksError> {
        let op = Op::DescribeStacks;
        let call = self.client.describe_stacks().stack_name(stack).send().await;
        let output = match known(op, stack, call)? {
            Described::Found(output) => output,
            Described::Unknown(message) => return Ok(Described::Unknown(message)),
        };
        let incomplete = |what: &str| StacksError {
            operation: op,
            target: stack.to_owned(),
            message: format!("the answer has no {what}"),
        };
        let found = output.stacks().first().ok_or_else(|| incomplete("stack"))?;
        Ok(Described::Found(StackDetails {
            stack_id: found
                .stack_id()
                .ok_or_else(|| incomplete("StackId"))?
                .to_owned(),
            status: found
                .stack_status()
                .ok_or_else(|| incomplete("StackStatus"))?
                .as_str()
                .to_owned(),
            last_updated: found.last_updated_time().map(ToString::to_string),
            parameters: found
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
            outputs: found
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_owned(),
                        o.output_value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
        }))
    }

    async fn stack_events(
        &self,
        stack_id: &str,
        next_token: Option<&str>,
    ) -> Result<Described<EventPage>, StacksError> {
        let op = Op::DescribeStackEvents;
        let call = self
            .client
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(next_token.map(str::to_owned))
            .send()
            .await;
        let output = match known(op, stack_id, call)? {
            Described::Found(output) => output,
            Described::Unknown(message) => return Ok(Described::Unknown(message)),
        };
        let events = output
            .stack_events()
            .iter()
            // The stack's own events and hooks' name no resource.
            .filter_map(|event| {
                Some(StackEvent {
                    logical_id: event.logical_resource_id()?.to_owned(),
                    physical_id: event
                        .physical_resource_id()
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned),
                    status: event.resource_status()?.as_str().to_owned(),
                    properties: event.resource_properties().map(str::to_owned),
                })
            })
            .collect();
        Ok(Described::Found(EventPage {
            events,
            next_token: output.next_token().map(str::to_owned),
        }))
    }

    async fn stack_resources(
        &self,
        stack_id: &str,
        next_token: Option<&str>,
    ) -> Result<Described<ResourcePage>, StacksError> {
        let op = Op::ListStackResources;
        let call = self
            .client
            .list_stack_resources()
            .stack_name(stack_id)
            .set_next_token(next_token.map(str::to_owned))
            .send()
            .await;
        let output = match known(op, stack_id, call)? {
            Described::Found(output) => output,
            Described::Unknown(message) => return Ok(Described::Unknown(message)),
        };
        let resources = output
            .stack_resource_summaries()
            .iter()
            .filter_map(|summary| {
                Some(ListedResource {
                    logical_id: summary.logical_resource_id()?.to_owned(),
                    physical_id: summary
                        .physical_resource_id()
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned),
                    resource_type: summary.resource_type()?.to_owned(),
                    status: summary.resource_status()?.as_str().to_owned(),
                })
            })
            .collect();
        Ok(Described::Found(ResourcePage {
            resources,
            next_token: output.next_token().map(str::to_owned),
        }))
    }
}

/// A call's output; [`Described::Unknown`] for a ValidationError (no such stack or resource).
fn known<T, E, R>(
    operation: Op,
    target: &str,
    result: Result<T, SdkError<E, R>>,
) -> Result<Described<T>, StacksError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Described::Found(output)),
        Err(error) if error.code() == Some(VALIDATION_ERROR) => Ok(Described::Unknown(
            error.message().unwrap_or(VALIDATION_ERROR).to_owned(),
        )),
        Err(error) => {
            let message = match (error.code(), error.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => DisplayErrorContext(&error).to_string(),
            };
            tracing::warn!(cloudformation_action = operation.name(), target, error = %message, "CloudFormation read failed");
            Err(StacksError {
                operation,
                target: target.to_owned(),
                message,
            })
        }
    }
}
