//! Names of the role and its policies. Names must be stable: an Update compares by name.

use crate::context::StackContext;
use crate::properties::{MAX_ROLE_NAME, ROLE_NAME_PREFIX, is_role_name_char};

/// Characters of the hash that keeps derived names unique per stack and logical id.
const HASH_LENGTH: usize = 10;

/// The role's name: `sagemaker-<suffix>`, or derived from the stack and logical id.
pub fn role_name(suffix: Option<&str>, context: &StackContext) -> String {
    if let Some(suffix) = suffix {
        return format!("{ROLE_NAME_PREFIX}{suffix}");
    }
    // The stack ARN carries a unique id, so a re-created stack does not reuse a leftover name.
    let identity = format!(
        "{}/{}",
        context.stack_id.as_deref().unwrap_or(&context.stack_name),
        context.logical_id
    );
    let hash = format!("{:016x}", fnv1a(identity.as_bytes()));
    let room = MAX_ROLE_NAME - ROLE_NAME_PREFIX.len() - HASH_LENGTH - 1;
    let readable: String = format!("{}-{}", context.stack_name, context.logical_id)
        .chars()
        .filter(|c| is_role_name_char(*c))
        .take(room)
        .collect();
    format!(
        "{ROLE_NAME_PREFIX}{}-{}",
        readable.trim_end_matches('-'),
        &hash[..HASH_LENGTH]
    )
}

/// The inline policy's name; inline names are scoped to the role.
pub const INLINE_POLICY_NAME: &str = "persona-role";

/// The n-th (from 1) customer-managed policy of a role. Managed names are account-wide, and
/// starting with the role's name keeps them unique and inside a `sagemaker-*` permission scope.
pub fn managed_policy_name(role_name: &str, n: usize) -> String {
    format!("{role_name}-{n}")
}

/// FNV-1a, 64 bit: tiny, and fixed forever, unlike `std`'s hasher, so names never change
/// between releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a managed policy is the role's own (`<role>-<n>`), which goes with the role.
pub fn is_own_policy(role_name: &str, policy_name: &str) -> bool {
    policy_name
        .get(..role_name.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(role_name))
        && policy_name[role_name.len()..]
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The role a PhysicalResourceId names, when it can be a role this resource made
/// (`sagemaker-…`): the name a Delete acts on. Placeholders of failed Creates and most ids CloudFormation made up cannot,
/// and need no IAM call (outside `sagemaker-*` the function may not even read).
pub fn role_name_of_id(id: &str) -> Option<&str> {
    let prefixed = id
        .get(..ROLE_NAME_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ROLE_NAME_PREFIX));
    (is_role_name(id) && prefixed).then_some(id)
}

/// Whether an id can name a role at all (placeholders and most made-up ids cannot).
pub fn is_role_name(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ROLE_NAME && id.chars().all(is_role_name_char)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::context::StackContext;

    fn context(stack_name: &str, logical_id: &str) -> StackContext {
        StackContext::from_stack_id(
            &format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/1b2c3d4e"),
            logical_id,
        )
        .unwrap()
    }

    #[test]
    fn suffix_gives_role_manager_style_name() {
        assert_eq!(
            role_name(Some("data-sci"), &context("s", "R")),
            "sagemaker-data-sci"
        );
    }

    #[test]
    fn derived_name_is_stable_readable_and_within_64_characters() {
        let long = "a".repeat(128);
        let name = role_name(None, &context(&long, &long));
        assert!(name.len() <= 64, "{name}");
        assert!(name.starts_with("sagemaker-aaaa"));
        assert_eq!(name, role_name(None, &context(&long, &long)));
        let short = role_name(None, &context("ml", "DataScientist"));
        assert!(short.starts_with("sagemaker-ml-DataScientist-"), "{short}");
    }

    #[test]
    fn derived_names_differ_per_logical_id_and_stack() {
        let a = role_name(None, &context("ml", "A"));
        let b = role_name(None, &context("ml", "B"));
        let c = role_name(None, &context("ml2", "A"));
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn own_managed_policy_names_carry_the_role_name_and_a_number() {
        assert!(is_own_policy("sagemaker-x", "sagemaker-x-1"));
        assert!(is_own_policy("SageMaker-x", "sagemaker-x-12"));
        assert!(!is_own_policy("sagemaker-x", "sagemaker-x-y-1"));
        assert!(!is_own_policy(
            "sagemaker-x",
            "SM_CommonJobManagement_1733462327347"
        ));
    }
}
