//! docs/reference.md is generated from the catalog; this fails when it is out of date.
#![allow(clippy::unwrap_used)]

use crate::common;

#[test]
fn reference_page_is_up_to_date() {
    common::assert_golden(
        "docs/reference.md",
        &persona_role::reference::markdown(),
        "run `cargo run --bin persona-role -- reference > docs/reference.md`",
    );
}

#[test]
fn reference_page_documents_every_activity_action() {
    let page = persona_role::reference::markdown();
    for activity in persona_role::catalog::ACTIVITIES {
        assert!(
            page.contains(&format!("### {}", activity.name)),
            "{}",
            activity.name
        );
        for action in activity.actions() {
            assert!(page.contains(&format!("`{action}`")), "{action}");
        }
    }
}

#[test]
fn readme_property_table_is_up_to_date() {
    use persona_role::reference::{README_BEGIN, README_END, readme_properties};
    common::assert_readme_section(
        README_BEGIN,
        README_END,
        &readme_properties(),
        "run `UPDATE_GOLDEN=1 cargo test --test offline -- reference::`",
    );
}

#[test]
fn service_timeout_documents_the_default_the_handler_waits_for() {
    let documented = persona_role::properties::table::SERVICE_TIMEOUT.default;
    let used = persona_role::cfn::event::DEFAULT_SERVICE_TIMEOUT
        .as_secs()
        .to_string();
    assert_eq!(documented, Some(used.as_str()));
}
