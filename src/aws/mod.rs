//! The AWS calls the function makes, whatever the service: the registry of every operation it may
//! call ([`operations`], held to the execution role by a test), how the calls are retried and
//! timed out ([`call_policy`]), and the per-event meter that counts and paces them ([`meter`]).

pub mod call_policy;
pub mod meter;
pub mod operations;

pub use call_policy::CallPolicy;
pub use operations::Op;
