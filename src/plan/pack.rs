//! Fit statements into IAM's quotas: one inline policy of at most 10,240 characters, then
//! customer-managed policies of at most 6,144 each, within the role's managed-policy quota.
//! Sizes count as IAM does: characters of the document, whitespace excluded.

use serde_json::Value;
use thiserror::Error;

use super::render::{self, Rendered};

pub use crate::properties::{INLINE_LIMIT, MANAGED_LIMIT};
/// Characters of a role's trust policy (IAM's default quota).
pub const TRUST_LIMIT: usize = 2_048;

/// A policy's size as IAM counts it against its quotas.
pub fn iam_size(document: &Value) -> usize {
    let mut counter = CharCounter(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, document);
    counter.0
}

/// Counts the non-whitespace characters of UTF-8 written to it, without keeping them.
struct CharCounter(usize);

impl std::io::Write for CharCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        // A character starts at every byte that is not a UTF-8 continuation byte; compact JSON
        // has whitespace only inside strings, where it is ASCII or escaped.
        self.0 += bytes
            .iter()
            .filter(|b| (**b & 0xC0) != 0x80 && !b.is_ascii_whitespace())
            .count();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Size of a document holding no statements: what each policy costs besides its statements.
fn overhead() -> usize {
    iam_size(&render::document(Vec::new()))
}

/// Size a statement adds to a document: its own size and, after the first, a comma.
fn statement_size(statement: &Value) -> usize {
    iam_size(statement) + 1
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuotaError {
    #[error(
        "statement `{sid}` alone is {size} characters, more than a managed policy's {MANAGED_LIMIT}; give fewer {values}"
    )]
    StatementTooLarge {
        sid: String,
        size: usize,
        values: String,
    },
    #[error(
        "the role needs {needed} more managed policies than fit: {attached} attached by ManagedPolicyArns and activities, {limit} allowed (MaxManagedPolicies); remove ManagedPolicyArns or activities, or raise MaxManagedPolicies if the account's quota allows"
    )]
    TooManyAttached {
        attached: usize,
        limit: usize,
        needed: usize,
    },
    #[error(
        "the selected activities need {excess} characters more than fit: {total} characters of statements; room for {INLINE_LIMIT} inline and {slots} managed policies of {MANAGED_LIMIT} (MaxManagedPolicies {limit} less {attached} attached); remove activities or parameter values, narrow Regions, or raise MaxManagedPolicies"
    )]
    TooLarge {
        total: usize,
        excess: usize,
        slots: usize,
        limit: usize,
        attached: usize,
    },
    #[error(
        "the trust policy is {size} characters, more than IAM's {TRUST_LIMIT}; list fewer Regions"
    )]
    TrustTooLarge { size: usize },
}

/// A policy's statements and the document's size, known without serializing it again.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackedPolicy {
    pub statements: Vec<Value>,
    pub size: usize,
}

/// Statements assigned to the inline policy and to each managed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub inline: PackedPolicy,
    pub managed: Vec<PackedPolicy>,
}

/// A statement with the size it adds to a document (its own and a comma), measured once.
pub type SizedStatement = (Value, usize);

/// Splits statements too large for a managed policy by their resources, so that every piece fits.
pub fn split_oversized(statements: Vec<Rendered>) -> Result<Vec<SizedStatement>, QuotaError> {
    let room = MANAGED_LIMIT - overhead();
    let mut out = Vec::with_capacity(statements.len());
    for rendered in statements {
        let size = statement_size(&rendered.statement);
        if size <= room {
            out.push((rendered.statement, size));
            continue;
        }
        let too_large = || QuotaError::StatementTooLarge {
            sid: rendered.sid.clone(),
            size: iam_size(&rendered.statement),
            values: condition_properties(&rendered.statement),
        };
        let resources: Vec<Value> = match rendered.statement.get("Resource") {
            Some(Value::Array(items)) if items.len() > 1 => items.clone(),
            _ => return Err(too_large()),
        };
        let mut shell = rendered.statement.clone();
        if let Some(map) = shell.as_object_mut() {
            map.insert("Resource".to_owned(), Value::Array(Vec::new()));
        }
        // Greedy chunks of resources, each a statement of its own with a numbered Sid.
        let mut chunks: Vec<Vec<Value>> = vec![Vec::new()];
        let base = statement_size(&shell) + 4; // the Sid's digits
        let mut used = base;
        for resource in resources {
            let cost = iam_size(&resource) + 1;
            if base + cost > room {
                return Err(too_large());
            }
            if used + cost > room {
                chunks.push(Vec::new());
                used = base;
            }
            used += cost;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push(resource);
            }
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let sid = format!("{}{}", rendered.sid, i + 1);
            let mut statement = shell.clone();
            if let Some(map) = statement.as_object_mut() {
                map.insert("Sid".to_owned(), Value::String(sid.clone()));
                map.insert("Resource".to_owned(), Value::Array(chunk));
            }
            let size = statement_size(&statement);
            out.push((statement, size));
        }
    }
    Ok(out)
}

/// The properties whose values fill a statement's conditions, which cannot be split: every
/// value of a condition must stay in one statement.
fn condition_properties(statement: &Value) -> String {
    const KEYS: [(&str, &str); 4] = [
        ("sagemaker:VpcSubnets", "VpcSubnets"),
        ("sagemaker:VpcSecurityGroupIds", "VpcSecurityGroups"),
        ("sagemaker:VolumeKmsKeyArn", "VolumeKmsKeys"),
        ("sagemaker:OutputKmsKeyArn", "DataKmsKeys"),
    ];
    let text = statement
        .get("Condition")
        .map(Value::to_string)
        .unwrap_or_default();
    let names: Vec<&str> = KEYS
        .iter()
        .filter(|(key, _)| text.contains(&format!("\"{key}\"")))
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "parameter values".to_owned()
    } else {
        format!("values of {}", names.join(", "))
    }
}

/// Packs statements in order: the inline policy first, then managed policies, each filled before
/// the next is started, so that the same statements always land in the same policies. A role
/// that does not fit so is packed first-fit ([`pack_first_fit`]), which wastes less room at the
/// end of each policy; plans that fit in order are unchanged by it.
pub fn pack(
    statements: Vec<SizedStatement>,
    attached: usize,
    limit: usize,
) -> Result<Packed, QuotaError> {
    if attached > limit {
        return Err(QuotaError::TooManyAttached {
            attached,
            limit,
            needed: attached - limit,
        });
    }
    match pack_in_order(statements.clone(), attached, limit) {
        Err(QuotaError::TooLarge { .. }) => pack_first_fit(statements, attached, limit),
        result => result,
    }
}

/// Each statement, in order, into the first policy with room for it (the inline policy, then
/// the managed policies started so far), starting a managed policy when none has room. Within
/// each policy, statements keep their order.
fn pack_first_fit(
    statements: Vec<SizedStatement>,
    attached: usize,
    limit: usize,
) -> Result<Packed, QuotaError> {
    let slots = limit - attached;
    let overhead = overhead();
    let total: usize = statements.iter().map(|(_, size)| *size).sum();
    let mut packed = Packed {
        inline: PackedPolicy::default(),
        managed: Vec::new(),
    };
    // Sizes with a trailing comma after each statement, as in `pack_in_order`.
    let mut inline_used = overhead;
    let mut managed_used: Vec<usize> = Vec::new();
    let mut excess = 0;
    for (statement, size) in statements {
        if inline_used + size - 1 <= INLINE_LIMIT {
            inline_used += size;
            packed.inline.statements.push(statement);
            packed.inline.size = inline_used - 1;
            continue;
        }
        let room = managed_used
            .iter()
            .position(|used| used + size - 1 <= MANAGED_LIMIT);
        let index = match room {
            Some(index) => index,
            None if packed.managed.len() < slots => {
                packed.managed.push(PackedPolicy::default());
                managed_used.push(overhead);
                packed.managed.len() - 1
            }
            None => {
                excess += size;
                continue;
            }
        };
        managed_used[index] += size;
        let policy = &mut packed.managed[index];
        policy.statements.push(statement);
        policy.size = managed_used[index] - 1;
    }
    if excess > 0 {
        return Err(QuotaError::TooLarge {
            total,
            excess,
            slots,
            limit,
            attached,
        });
    }
    Ok(packed)
}

/// The inline policy, then managed policies, each filled before the next is started.
fn pack_in_order(
    statements: Vec<SizedStatement>,
    attached: usize,
    limit: usize,
) -> Result<Packed, QuotaError> {
    let slots = limit - attached;
    let mut packed = Packed {
        inline: PackedPolicy::default(),
        managed: Vec::new(),
    };
    // `used` is the document's size with a trailing comma after each statement; the last
    // statement's comma is not written, hence the `- 1`.
    let overhead = overhead();
    let sizes: Vec<usize> = statements.iter().map(|(_, size)| *size).collect();
    let mut used = overhead;
    let mut placed = 0;
    let mut in_managed = false;
    for (statement, size) in statements {
        let capacity = if in_managed {
            MANAGED_LIMIT
        } else {
            INLINE_LIMIT
        };
        if used + size - 1 > capacity {
            if packed.managed.len() == slots {
                break;
            }
            in_managed = true;
            packed.managed.push(PackedPolicy::default());
            used = overhead;
        }
        used += size;
        let policy = match packed.managed.last_mut() {
            Some(policy) if in_managed => policy,
            _ => &mut packed.inline,
        };
        policy.statements.push(statement);
        // The last statement's comma is not written.
        policy.size = used - 1;
        placed += 1;
    }
    if placed < sizes.len() {
        let total: usize = sizes.iter().sum();
        let excess: usize = sizes[placed..].iter().sum();
        return Err(QuotaError::TooLarge {
            total,
            excess,
            slots,
            limit,
            attached,
        });
    }
    Ok(packed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sized(statements: &[Value]) -> Vec<SizedStatement> {
        statements
            .iter()
            .map(|s| (s.clone(), statement_size(s)))
            .collect()
    }

    fn statement(n: usize, resource_len: usize) -> Value {
        json!({"Sid": format!("S{n}"), "Effect": "Allow", "Action": "s3:GetObject", "Resource": "x".repeat(resource_len)})
    }

    #[test]
    fn iam_size_ignores_whitespace() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A B"}]});
        assert_eq!(iam_size(&doc), doc.to_string().len() - 1);
    }

    #[test]
    fn iam_size_counts_characters_not_bytes() {
        let doc = json!({"Sid": "é"});
        assert_eq!(iam_size(&doc), "{\"Sid\":\"é\"}".chars().count());
    }

    #[test]
    fn small_statements_stay_inline() {
        let statements: Vec<Value> = (0..3).map(|n| statement(n, 100)).collect();
        let packed = pack(sized(&statements), 0, 10).unwrap();
        assert_eq!(packed.inline.statements.len(), 3);
        assert_eq!(
            packed.inline.size,
            iam_size(&render::document(packed.inline.statements.clone()))
        );
        assert!(packed.managed.is_empty());
    }

    #[test]
    fn inline_policy_is_filled_exactly_to_its_limit() {
        // Each statement is sized so that exactly N fit in 10,240 with the document's overhead.
        let one = statement_size(&statement(0, 1000));
        let fit = (INLINE_LIMIT - overhead() + 1) / one;
        let statements: Vec<Value> = (0..fit + 1).map(|n| statement(n % 10, 1000)).collect();
        let packed = pack(sized(&statements), 0, 10).unwrap();
        assert_eq!(packed.inline.statements.len(), fit);
        assert!(iam_size(&render::document(packed.inline.statements.clone())) <= INLINE_LIMIT);
        assert_eq!(packed.managed.len(), 1);
    }

    #[test]
    fn every_policy_respects_its_limit() {
        let statements: Vec<Value> = (0..50).map(|n| statement(n, 700 + n * 7)).collect();
        let packed = pack(sized(&statements), 2, 10).unwrap();
        assert!(iam_size(&render::document(packed.inline.statements.clone())) <= INLINE_LIMIT);
        for policy in &packed.managed {
            let size = iam_size(&render::document(policy.statements.clone()));
            assert_eq!(size, policy.size, "size known without serializing");
            assert!(size <= MANAGED_LIMIT);
        }
        assert!(packed.managed.len() <= 8);
        let count = packed.inline.statements.len()
            + packed
                .managed
                .iter()
                .map(|p| p.statements.len())
                .sum::<usize>();
        assert_eq!(count, 50);
    }

    #[test]
    fn overflow_reports_by_how_much() {
        let statements: Vec<Value> = (0..30).map(|n| statement(n, 3000)).collect();
        let error = pack(sized(&statements), 9, 10).unwrap_err();
        let QuotaError::TooLarge { excess, slots, .. } = error.clone() else {
            panic!("{error:?}");
        };
        assert_eq!(slots, 1);
        // 3 fit inline, 1 in the one managed slot, 26 left over.
        let leftover: usize = (4..30).map(|n| statement_size(&statement(n, 3000))).sum();
        assert_eq!(excess, leftover);
        assert!(error.to_string().contains("characters more than fit"));
    }

    #[test]
    fn a_role_that_does_not_fit_in_order_is_packed_first_fit() {
        // In order, two of the three managed policies hold one 3,900-character statement each
        // and waste the rest, and the last 2,000-character one finds no room; first-fit, each
        // 2,000-character one joins a 3,900-character one.
        let inline_filler = statement(0, INLINE_LIMIT - overhead() - 100);
        let mut statements = vec![inline_filler];
        statements.extend((1..=3).map(|n| statement(n, 3_900)));
        statements.extend((4..=6).map(|n| statement(n, 2_000)));
        let input = sized(&statements);
        assert!(pack_in_order(input.clone(), 7, 10).is_err());
        let packed = pack(input, 7, 10).unwrap();
        assert_eq!(packed.inline.statements.len(), 1);
        assert_eq!(packed.managed.len(), 3);
        for policy in &packed.managed {
            let size = iam_size(&render::document(policy.statements.clone()));
            assert_eq!(size, policy.size);
            assert!(size <= MANAGED_LIMIT);
            // Statements keep their order within a policy.
            let sids: Vec<&str> = policy
                .statements
                .iter()
                .map(|s| s["Sid"].as_str().unwrap())
                .collect();
            assert_eq!(sids.len(), 2);
            assert!(sids[0] < sids[1], "{sids:?}");
        }
        // A plan that fits in order is packed in order.
        let small: Vec<Value> = (0..5).map(|n| statement(n, 3_000)).collect();
        assert_eq!(
            pack(sized(&small), 0, 10).unwrap(),
            pack_in_order(sized(&small), 0, 10).unwrap()
        );
    }

    #[test]
    fn attached_policies_over_the_limit_fail() {
        let error = pack(Vec::new(), 11, 10).unwrap_err();
        assert_eq!(
            error,
            QuotaError::TooManyAttached {
                attached: 11,
                limit: 10,
                needed: 1
            }
        );
    }

    #[test]
    fn oversized_statement_is_split_by_resources() {
        let resources: Vec<String> = (0..200)
            .map(|n| format!("arn:aws:iam::123456789012:role/role-number-{n:04}"))
            .collect();
        let rendered = Rendered {
            sid: "PassRole".to_owned(),
            statement: json!({"Sid": "PassRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": resources}),
        };
        let pieces = split_oversized(vec![rendered]).unwrap();
        assert!(pieces.len() > 1);
        let mut seen = Vec::new();
        for (piece, size) in &pieces {
            assert_eq!(*size, statement_size(piece));
            assert!(size + overhead() <= MANAGED_LIMIT);
            seen.extend(piece["Resource"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(seen.len(), 200);
        assert_eq!(pieces[0].0["Sid"], "PassRole1");
    }
}
