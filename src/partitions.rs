//! Which regions exist in which partition, as the AWS SDK for Rust knows them: the partition
//! metadata its endpoint resolver embeds, vendored in `partitions.json`. `scripts/refresh-partitions`
//! copies it from the SDK crate in the cargo registry; a test fails when the copy differs from the
//! SDK version in Cargo.lock.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::context::{Partition, is_region_name};

/// The vendored file: the SDK crate it was copied from and the metadata as the SDK has it.
pub const VENDORED: &str = include_str!("partitions.json");

/// Every partition this product plans roles in, in a fixed order.
pub const SUPPORTED: [Partition; 3] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov];

#[derive(Debug, Deserialize)]
struct Vendored {
    metadata: Metadata,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    partitions: Vec<PartitionEntry>,
}

#[derive(Debug, Deserialize)]
struct PartitionEntry {
    id: String,
    regions: serde_json::Map<String, Value>,
}

/// The regions of each supported partition, in `SUPPORTED` order, sorted.
fn table() -> &'static [Vec<String>; 3] {
    static TABLE: OnceLock<[Vec<String>; 3]> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file is compiled in and checked by a test, so it parses; an unparsable copy would
        // know no regions, refusing every `Regions` value rather than accepting a wrong one.
        let entries = serde_json::from_str::<Vendored>(VENDORED)
            .map(|v| v.metadata.partitions)
            .unwrap_or_default();
        SUPPORTED.map(|partition| {
            let mut regions: Vec<String> = entries
                .iter()
                .filter(|entry| entry.id == partition.name())
                .flat_map(|entry| entry.regions.keys())
                // The metadata also lists pseudo-regions such as `aws-global`.
                .filter(|region| is_region_name(region))
                .cloned()
                .collect();
            regions.sort();
            regions
        })
    })
}

/// The regions of a partition, sorted.
pub fn regions(partition: Partition) -> &'static [String] {
    let index = SUPPORTED
        .iter()
        .position(|p| *p == partition)
        .unwrap_or_default();
    &table()[index]
}

/// The supported partition a known region belongs to.
pub fn partition_of(region: &str) -> Option<Partition> {
    SUPPORTED
        .into_iter()
        .find(|partition| regions(*partition).iter().any(|r| r == region))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_partition_has_its_regions() {
        assert!(regions(Partition::Aws).iter().any(|r| r == "us-east-1"));
        assert!(regions(Partition::AwsCn).iter().any(|r| r == "cn-north-1"));
        assert!(
            regions(Partition::AwsUsGov)
                .iter()
                .any(|r| r == "us-gov-west-1")
        );
        assert_eq!(partition_of("cn-northwest-1"), Some(Partition::AwsCn));
        assert_eq!(partition_of("mars-north-1"), None);
        assert_eq!(partition_of("aws-global"), None);
    }
}
