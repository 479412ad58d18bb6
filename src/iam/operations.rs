//! Every AWS operation the function calls (IAM's, and CloudFormation's reads that check each
//! event), in one registry. The SDK adapters can only name an operation through [`Op`], and a
//! test holds `template.yaml`'s execution role to exactly this list: a new call that the role
//! does not grant fails the tests, not a production Delete.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    // Reads.
    GetRole,
    ListRolePolicies,
    GetRolePolicy,
    ListAttachedRolePolicies,
    ListInstanceProfilesForRole,
    GetPolicy,
    ListPolicies,
    ListPolicyVersions,
    GetPolicyVersion,
    ListEntitiesForPolicy,
    /// `persona-role discover` only: the function never lists roles.
    ListRoles,
    // Writes.
    CreateRole,
    UpdateRole,
    UpdateAssumeRolePolicy,
    /// Only ever to the function's boundary: a boundary is never removed.
    PutRolePermissionsBoundary,
    TagRole,
    UntagRole,
    PutRolePolicy,
    DeleteRolePolicy,
    AttachRolePolicy,
    DetachRolePolicy,
    CreatePolicy,
    CreatePolicyVersion,
    DeletePolicyVersion,
    DeletePolicy,
    TagPolicy,
    UntagPolicy,
    RemoveRoleFromInstanceProfile,
    DeleteRole,
    // CloudFormation reads: is the event's stack doing what the event says?
    DescribeStackResource,
    DescribeStacks,
}

impl Op {
    pub const ALL: [Op; 31] = [
        Op::GetRole,
        Op::ListRolePolicies,
        Op::GetRolePolicy,
        Op::ListAttachedRolePolicies,
        Op::ListInstanceProfilesForRole,
        Op::GetPolicy,
        Op::ListPolicies,
        Op::ListPolicyVersions,
        Op::GetPolicyVersion,
        Op::ListEntitiesForPolicy,
        Op::ListRoles,
        Op::CreateRole,
        Op::UpdateRole,
        Op::UpdateAssumeRolePolicy,
        Op::PutRolePermissionsBoundary,
        Op::TagRole,
        Op::UntagRole,
        Op::PutRolePolicy,
        Op::DeleteRolePolicy,
        Op::AttachRolePolicy,
        Op::DetachRolePolicy,
        Op::CreatePolicy,
        Op::CreatePolicyVersion,
        Op::DeletePolicyVersion,
        Op::DeletePolicy,
        Op::TagPolicy,
        Op::UntagPolicy,
        Op::RemoveRoleFromInstanceProfile,
        Op::DeleteRole,
        Op::DescribeStackResource,
        Op::DescribeStacks,
    ];

    /// The operation's name, as the service, the SDK's metadata and IAM policies (`iam:NAME`)
    /// spell it.
    pub fn name(self) -> &'static str {
        match self {
            Op::GetRole => "GetRole",
            Op::ListRolePolicies => "ListRolePolicies",
            Op::GetRolePolicy => "GetRolePolicy",
            Op::ListAttachedRolePolicies => "ListAttachedRolePolicies",
            Op::ListInstanceProfilesForRole => "ListInstanceProfilesForRole",
            Op::GetPolicy => "GetPolicy",
            Op::ListPolicies => "ListPolicies",
            Op::ListPolicyVersions => "ListPolicyVersions",
            Op::GetPolicyVersion => "GetPolicyVersion",
            Op::ListEntitiesForPolicy => "ListEntitiesForPolicy",
            Op::ListRoles => "ListRoles",
            Op::CreateRole => "CreateRole",
            Op::UpdateRole => "UpdateRole",
            Op::UpdateAssumeRolePolicy => "UpdateAssumeRolePolicy",
            Op::PutRolePermissionsBoundary => "PutRolePermissionsBoundary",
            Op::TagRole => "TagRole",
            Op::UntagRole => "UntagRole",
            Op::PutRolePolicy => "PutRolePolicy",
            Op::DeleteRolePolicy => "DeleteRolePolicy",
            Op::AttachRolePolicy => "AttachRolePolicy",
            Op::DetachRolePolicy => "DetachRolePolicy",
            Op::CreatePolicy => "CreatePolicy",
            Op::CreatePolicyVersion => "CreatePolicyVersion",
            Op::DeletePolicyVersion => "DeletePolicyVersion",
            Op::DeletePolicy => "DeletePolicy",
            Op::TagPolicy => "TagPolicy",
            Op::UntagPolicy => "UntagPolicy",
            Op::RemoveRoleFromInstanceProfile => "RemoveRoleFromInstanceProfile",
            Op::DeleteRole => "DeleteRole",
            Op::DescribeStackResource => "DescribeStackResource",
            Op::DescribeStacks => "DescribeStacks",
        }
    }

    /// Whether the operation changes IAM.
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            Op::GetRole
                | Op::ListRolePolicies
                | Op::GetRolePolicy
                | Op::ListAttachedRolePolicies
                | Op::ListInstanceProfilesForRole
                | Op::GetPolicy
                | Op::ListPolicies
                | Op::ListPolicyVersions
                | Op::GetPolicyVersion
                | Op::ListEntitiesForPolicy
                | Op::ListRoles
                | Op::DescribeStackResource
                | Op::DescribeStacks
        )
    }

    /// The service, as IAM policies prefix its actions.
    pub fn service(self) -> &'static str {
        match self {
            Op::DescribeStackResource | Op::DescribeStacks => "cloudformation",
            _ => "iam",
        }
    }

    /// Whether the Lambda function calls it (and its execution role must allow it); the others
    /// are the CLI's, run with the caller's own credentials.
    pub fn used_by_function(self) -> bool {
        self != Op::ListRoles
    }

    /// The action a policy must allow for this operation (`iam:GetRole`).
    pub fn action(self) -> String {
        format!("{}:{}", self.service(), self.name())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_registry_lists_each_operation_once_with_a_distinct_name() {
        let names: BTreeSet<&str> = Op::ALL.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), Op::ALL.len());
        let ops: BTreeSet<Op> = Op::ALL.into_iter().collect();
        assert_eq!(ops.len(), Op::ALL.len());
        for op in Op::ALL {
            assert_eq!(format!("{op:?}"), op.name(), "name of {op:?}");
        }
    }

    #[test]
    fn reads_are_gets_lists_and_describes() {
        for op in Op::ALL {
            let read = ["Get", "List", "Describe"]
                .iter()
                .any(|verb| op.name().starts_with(verb));
            assert_eq!(op.is_write(), !read, "{op}");
        }
    }
}
