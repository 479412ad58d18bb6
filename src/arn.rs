//! Amazon Resource Names, read in one place: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
//! Every reader of an ARN goes through [`Arn::parse`], so "the account of an ARN" means one
//! thing everywhere (the resource part may itself hold `:`, as in `log-group:x:*`).

use std::fmt;

/// An ARN's six fields, borrowed from the text it was read from. Fields may be empty (IAM and
/// S3 ARNs have no region; S3 bucket ARNs have no account) or wildcards (`*`) in policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// The ARN's fields, or `None` when the text does not start with `arn:` or has fewer than
    /// six fields.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let resource = parts.next()?;
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The five fields after `arn:`, in order: partition, service, region, account, resource.
    pub fn fields(&self) -> [&'a str; 5] {
        [
            self.partition,
            self.service,
            self.region,
            self.account,
            self.resource,
        ]
    }

    /// The resource's type: the text before its first `/` or `:` (`role/x` → `role`,
    /// `log-group:x` → `log-group`), ignoring a leading `/`.
    pub fn resource_type(&self) -> &'a str {
        let resource = self.resource.trim_start_matches('/');
        resource.split(['/', ':']).next().unwrap_or_default()
    }

    /// The resource after its type and the separator (`role/a/b` → `a/b`); `None` when the
    /// resource has no separator (S3 bucket names).
    pub fn resource_id(&self) -> Option<&'a str> {
        let start = self.resource.len() - self.resource.trim_start_matches('/').len();
        let rest = &self.resource[start..];
        rest.find(['/', ':']).map(|i| &rest[i + 1..])
    }

    /// Whether the account field is a 12-digit account id (not `aws`, empty or a wildcard).
    pub fn has_account_id(&self) -> bool {
        is_account_id(self.account)
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// An AWS account id: exactly twelve digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_arns_as_aws_writes_them() {
        // (text, partition, service, region, account, resource, type, id)
        let rows: &[(&str, [&str; 5], &str, Option<&str>)] = &[
            (
                "arn:aws:iam::123456789012:role/service-role/x",
                ["aws", "iam", "", "123456789012", "role/service-role/x"],
                "role",
                Some("service-role/x"),
            ),
            (
                "arn:aws-cn:logs:cn-north-1:123456789012:log-group:/aws/sagemaker/*:*",
                [
                    "aws-cn",
                    "logs",
                    "cn-north-1",
                    "123456789012",
                    "log-group:/aws/sagemaker/*:*",
                ],
                "log-group",
                Some("/aws/sagemaker/*:*"),
            ),
            (
                "arn:aws:s3:::bucket",
                ["aws", "s3", "", "", "bucket"],
                "bucket",
                None,
            ),
            (
                "arn:aws:s3:::bucket/key/with:colon",
                ["aws", "s3", "", "", "bucket/key/with:colon"],
                "bucket",
                Some("key/with:colon"),
            ),
            (
                "arn:aws:iam::aws:policy/AmazonSageMakerCanvasFullAccess",
                [
                    "aws",
                    "iam",
                    "",
                    "aws",
                    "policy/AmazonSageMakerCanvasFullAccess",
                ],
                "policy",
                Some("AmazonSageMakerCanvasFullAccess"),
            ),
        ];
        for (text, [partition, service, region, account, resource], kind, id) in rows {
            let arn = Arn::parse(text).unwrap_or_else(|| panic!("{text} should parse"));
            assert_eq!(
                arn.fields(),
                [*partition, *service, *region, *account, *resource],
                "{text}"
            );
            assert_eq!(arn.resource_type(), *kind, "{text}");
            assert_eq!(arn.resource_id(), *id, "{text}");
            assert_eq!(arn.to_string(), *text, "{text} round-trips");
        }
    }

    #[test]
    fn text_that_is_not_an_arn_has_no_fields() {
        for text in [
            "",
            "*",
            "role/x",
            "arn:aws:iam::123456789012",
            "urn:aws:iam::123456789012:role/x",
            "ARN:aws:iam::123456789012:role/x",
        ] {
            assert_eq!(Arn::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        for (value, expected) in [
            ("123456789012", true),
            ("000000000000", true),
            ("12345678901", false),
            ("1234567890123", false),
            ("aws", false),
            ("*", false),
            ("", false),
            ("12345678901a", false),
        ] {
            assert_eq!(is_account_id(value), expected, "{value:?}");
        }
        let arn = Arn::parse("arn:aws:iam::aws:policy/X");
        assert!(arn.is_some_and(|a| !a.has_account_id()));
    }
}
