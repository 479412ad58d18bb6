//! CloudFormation's side of the custom resource. Pure: the event read into a [`event::Request`],
//! the [`answer::Response`] body, the ResponseURL's checks ([`response_url`]) and the stack check
//! ([`stack_check`]: whether an event's stack really sent it). IO: [`send`] PUTs the answer and
//! [`stacks`] reads stacks and their events through the SDK.

pub mod answer;
pub mod event;
pub mod response_url;
pub mod send;
pub mod stack_check;
pub mod stacks;
