//! docs/reference.md is generated from the catalog; this fails when it is out of date.
#![allow(clippy::unwrap_used)]

mod common;

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
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let generated = readme_properties();
    let section = readme
        .find(README_BEGIN)
        .zip(readme.find(README_END))
        .map(|(begin, end)| &readme[begin..end + README_END.len()]);
    if let (Some(section), Some(_)) = (section, std::env::var_os("UPDATE_GOLDEN")) {
        std::fs::write(&path, readme.replacen(section, &generated, 1)).unwrap();
        return;
    }
    assert!(
        section == Some(generated.as_str()),
        "README.md's property table is out of date: run `UPDATE_GOLDEN=1 cargo test --test reference`"
    );
}
