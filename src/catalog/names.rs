//! Name matching: activity and persona names compare ignoring case, spaces, `-` and `_`.

/// The comparison key of a name: lower case without spaces, `-` and `_`.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The candidate closest to `name` by edit distance of normalized keys, if it is close enough to
/// be a plausible typo (at most a third of the longer key).
pub fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let key = normalize(name);
    candidates
        .map(|candidate| {
            let other = normalize(candidate);
            let distance = edit_distance(&key, &other);
            (
                distance,
                candidate,
                key.chars().count().max(other.chars().count()),
            )
        })
        .filter(|(distance, _, longest)| *distance * 3 <= *longest)
        .min_by_key(|(distance, candidate, _)| (*distance, *candidate))
        .map(|(_, candidate, _)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_case_spaces_dashes_and_underscores() {
        assert_eq!(normalize("Manage ML Jobs"), "managemljobs");
        assert_eq!(normalize("manage-ml-jobs"), "managemljobs");
        assert_eq!(normalize("ManageMl_Jobs"), "managemljobs");
    }

    #[test]
    fn nearest_finds_a_typo_and_rejects_unrelated_names() {
        let names = ["Manage ML Jobs", "Manage Models"];
        assert_eq!(
            nearest("Manage ML Job", names.iter().copied()),
            Some("Manage ML Jobs")
        );
        assert_eq!(nearest("Quantum Teleport", names.iter().copied()), None);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
