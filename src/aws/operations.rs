//! Every AWS operation the function calls (IAM's, and CloudFormation's reads that check each
//! event), in one registry. The SDK adapters can only name an operation through [`Op`], and a
//! test holds `template.yaml`'s execution role to exactly this list: a new call that the role
//! does not grant fails the tests, not a production Delete.

use std::fmt;

/// One row per operation: `Name: service read|write function|cli` (`cli`: the CLI's, run with
/// the caller's own credentials; the function never makes the call). The enum, [`Op::ALL`], the name, the
/// service and whether it writes all come from these rows, so none can fall out of step.
macro_rules! operations {
    (@writes read) => { false };
    (@writes write) => { true };
    (@by_function function) => { true };
    (@by_function cli) => { false };
    ($( $(#[$doc:meta])* $op:ident: $service:ident $access:ident $caller:ident, )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Op {
            $( $(#[$doc])* $op, )*
        }

        impl Op {
            pub const ALL: [Op; [$(stringify!($op)),*].len()] = [$(Op::$op),*];

            /// The operation's name, as the service, the SDK's metadata and IAM policies
            /// (`iam:NAME`) spell it.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Op::$op => stringify!($op), )*
                }
            }

            /// The service, as IAM policies prefix its actions.
            pub const fn service(self) -> &'static str {
                match self {
                    $( Op::$op => stringify!($service), )*
                }
            }

            /// Whether the operation changes anything.
            pub const fn is_write(self) -> bool {
                match self {
                    $( Op::$op => operations!(@writes $access), )*
                }
            }

            /// Whether the Lambda function calls it (and its execution role must allow it); the
            /// others are the CLI's, run with the caller's own credentials.
            pub const fn used_by_function(self) -> bool {
                match self {
                    $( Op::$op => operations!(@by_function $caller), )*
                }
            }
        }
    };
}

operations! {
    GetRole: iam read function,
    ListRolePolicies: iam read function,
    GetRolePolicy: iam read function,
    ListAttachedRolePolicies: iam read function,
    ListInstanceProfilesForRole: iam read function,
    GetPolicy: iam read function,
    ListPolicies: iam read function,
    ListPolicyVersions: iam read function,
    GetPolicyVersion: iam read function,
    ListEntitiesForPolicy: iam read function,
    /// `persona-role discover` and `drift`, and the function's reconcile run, which finds the
    /// roles it owns among the account's.
    ListRoles: iam read function,
    CreateRole: iam write function,
    UpdateRole: iam write function,
    UpdateAssumeRolePolicy: iam write function,
    /// Only ever to the function's boundary: a boundary is never removed.
    PutRolePermissionsBoundary: iam write function,
    TagRole: iam write function,
    UntagRole: iam write function,
    PutRolePolicy: iam write function,
    DeleteRolePolicy: iam write function,
    AttachRolePolicy: iam write function,
    DetachRolePolicy: iam write function,
    CreatePolicy: iam write function,
    CreatePolicyVersion: iam write function,
    DeletePolicyVersion: iam write function,
    DeletePolicy: iam write function,
    TagPolicy: iam write function,
    UntagPolicy: iam write function,
    RemoveRoleFromInstanceProfile: iam write function,
    DeleteRole: iam write function,
    // CloudFormation reads: is the event's stack doing what the event says, with these properties?
    DescribeStackResource: cloudformation read function,
    DescribeStacks: cloudformation read function,
    /// The properties CloudFormation recorded for the operation an event says it is.
    DescribeStackEvents: cloudformation read function,
    /// The stack's resources: how many roles it has, and their names (`MaxRolesPerStack`,
    /// `MaxOwnPoliciesPerStack`).
    ListStackResources: cloudformation read function,
}

impl Op {
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
