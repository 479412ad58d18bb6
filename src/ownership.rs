//! Which stack resource owns a role or policy: the two ownership tags every role and own policy
//! carries, the reserved tag prefix users may not write, and the messages that refuse what
//! another owner holds. A role or policy is changed or deleted only when its tags name this
//! resource.

use std::collections::BTreeMap;

/// Tag keys naming the stack and logical id that own a role or policy.
pub const OWNER_STACK_TAG: &str = "persona-role:stack-id";
pub const OWNER_LOGICAL_ID_TAG: &str = "persona-role:logical-id";
/// Marks a role that existed before a stack adopted it (`AdoptExistingRole`): a Delete that
/// does not name it, the rollback of a Create that never answered with it, leaves it in place.
pub const ADOPTED_TAG: &str = "persona-role:adopted";
/// Tag keys under this prefix are the resource's own; user tags may not use it, and they are
/// never removed (the execution role may not).
pub const RESERVED_TAG_PREFIX: &str = "persona-role:";
/// Tag keys IAM reserves; they can be neither set nor removed.
pub const AWS_TAG_PREFIX: &str = "aws:";

/// A tag key as IAM compares role tag keys: ignoring case (it preserves the case it was given),
/// so `Persona-Role:Stack-Id` is the ownership tag. Folding each character to upper and back to
/// lower case also catches letters whose case maps onto ASCII (`ſ` is `s`).
pub fn fold_key(key: &str) -> String {
    key.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a tag key is under a reserved prefix (this resource's or AWS's), in any case: such a
/// key is never taken from the user, set by a diff or removed.
pub fn is_reserved_tag_key(key: &str) -> bool {
    let key = fold_key(key);
    key.starts_with(RESERVED_TAG_PREFIX) || key.starts_with(AWS_TAG_PREFIX)
}

/// A tag's value by key, the key compared as IAM compares it: a role's tags may come back in
/// another case than they were written.
pub fn tag_value<'a>(tags: &'a BTreeMap<String, String>, key: &str) -> Option<&'a String> {
    tags.get(key).or_else(|| {
        let key = fold_key(key);
        tags.iter()
            .find(|(k, _)| fold_key(k) == key)
            .map(|(_, value)| value)
    })
}

/// The stack and logical id whose ownership tags a role or policy must carry to be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub stack_id: String,
    pub logical_id: String,
}

/// Who a role or policy belongs to, read from its tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Both ownership tags name this resource.
    Ours,
    /// An ownership tag names another stack or logical id.
    Other,
    /// No ownership tag at all: made outside any persona-role stack (the console, by hand).
    Unclaimed,
}

impl Owner {
    pub fn new(stack_id: impl Into<String>, logical_id: impl Into<String>) -> Self {
        Owner {
            stack_id: stack_id.into(),
            logical_id: logical_id.into(),
        }
    }

    /// The owner a role's or policy's tags name, when both ownership tags are present.
    pub fn of(tags: &BTreeMap<String, String>) -> Option<Owner> {
        let stack_id = tag_value(tags, OWNER_STACK_TAG)?;
        let logical_id = tag_value(tags, OWNER_LOGICAL_ID_TAG)?;
        Some(Owner::new(stack_id, logical_id))
    }

    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        self.claim(tags) == Claim::Ours
    }

    pub fn claim(&self, tags: &BTreeMap<String, String>) -> Claim {
        let stack = tag_value(tags, OWNER_STACK_TAG);
        let logical = tag_value(tags, OWNER_LOGICAL_ID_TAG);
        match (stack, logical) {
            (None, None) => Claim::Unclaimed,
            (Some(s), Some(l)) if *s == self.stack_id && *l == self.logical_id => Claim::Ours,
            _ => Claim::Other,
        }
    }

    /// The tags an adoption writes: the ownership tags and the adoption mark.
    pub fn adoption_tags(&self) -> [(&'static str, &str); 3] {
        let [stack, logical] = self.tags();
        [stack, logical, (ADOPTED_TAG, "true")]
    }

    /// The ownership tags, as (key, value), in the order they are written.
    pub fn tags(&self) -> [(&'static str, &str); 2] {
        [
            (OWNER_STACK_TAG, self.stack_id.as_str()),
            (OWNER_LOGICAL_ID_TAG, self.logical_id.as_str()),
        ]
    }
}

/// Whether a role was adopted rather than created by its stack.
pub fn was_adopted(tags: &BTreeMap<String, String>) -> bool {
    tag_value(tags, ADOPTED_TAG).is_some()
}

/// The reason a role held by another owner is refused.
pub fn role_not_ours(name: &str) -> String {
    format!(
        "role `{name}` already exists and is not managed by this resource (its ownership tags name another stack or logical id); it was left unchanged"
    )
}

/// The reason a managed policy held by another owner is refused.
pub fn policy_not_ours(arn: &str) -> String {
    format!(
        "managed policy `{arn}` already exists and is not managed by this resource (its ownership tags name another stack or logical id); delete or rename it, or choose another RoleNameSuffix"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ownership_needs_both_tags_naming_this_resource() {
        let owner = Owner::new("s", "L");
        assert_eq!(owner.claim(&tags(&[])), Claim::Unclaimed);
        assert_eq!(owner.claim(&tags(&[("team", "ml")])), Claim::Unclaimed);
        assert_eq!(owner.claim(&tags(&[(OWNER_STACK_TAG, "s")])), Claim::Other);
        assert_eq!(
            owner.claim(&tags(&[
                (OWNER_STACK_TAG, "s"),
                (OWNER_LOGICAL_ID_TAG, "Other")
            ])),
            Claim::Other
        );
        assert_eq!(
            owner.claim(&tags(&[
                (OWNER_STACK_TAG, "t"),
                (OWNER_LOGICAL_ID_TAG, "L")
            ])),
            Claim::Other
        );
        let ours = tags(&[(OWNER_STACK_TAG, "s"), (OWNER_LOGICAL_ID_TAG, "L")]);
        assert_eq!(owner.claim(&ours), Claim::Ours);
        assert!(owner.owns(&ours));
    }

    #[test]
    fn ownership_is_read_from_tags_in_any_case() {
        let owner = Owner::new("s", "L");
        let shouted = tags(&[
            ("Persona-Role:Stack-Id", "s"),
            ("PERSONA-ROLE:LOGICAL-ID", "L"),
        ]);
        assert_eq!(owner.claim(&shouted), Claim::Ours);
        let other = tags(&[("Persona-Role:Stack-Id", "t"), (OWNER_LOGICAL_ID_TAG, "L")]);
        assert_eq!(owner.claim(&other), Claim::Other);
        assert_eq!(
            owner.claim(&tags(&[("persona-role:STACK-ID", "s")])),
            Claim::Other
        );
        assert!(was_adopted(&tags(&[("Persona-Role:Adopted", "true")])));
        assert!(!was_adopted(&tags(&[("persona-role:adopted-by", "x")])));
    }

    #[test]
    fn reserved_tag_keys_are_recognized_in_any_case() {
        for key in [
            "persona-role:stack-id",
            "Persona-Role:Stack-Id",
            "PERSONA-ROLE:x",
            "per\u{17f}ona-role:stack-id",
            "aws:cloudformation:stack-id",
            "AWS:x",
            "Aws:x",
        ] {
            assert!(is_reserved_tag_key(key), "{key}");
        }
        for key in [
            "persona-role",
            "team",
            "persona_role:x",
            "x-persona-role:y",
            "aws-team",
        ] {
            assert!(!is_reserved_tag_key(key), "{key}");
        }
    }

    #[test]
    fn ownership_tags_use_the_reserved_prefix() {
        for (key, _) in Owner::new("s", "L").tags() {
            assert!(key.starts_with(RESERVED_TAG_PREFIX));
        }
    }
}
