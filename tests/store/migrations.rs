use std::collections::BTreeSet;
use std::path::Path;

fn migration_names(tree: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(tree);
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn both_migration_trees_carry_the_same_versions_and_names() {
    let postgres = migration_names("postgres");
    let sqlite = migration_names("sqlite");

    assert!(!postgres.is_empty());
    assert_eq!(postgres, sqlite);
    for name in &postgres {
        let (version, rest) = name.split_once('_').unwrap();
        assert!(
            version.len() == 4 && version.bytes().all(|b| b.is_ascii_digit()),
            "{name}: migrations are named NNNN_verb_noun.sql"
        );
        assert!(rest.ends_with(".sql"), "{name}");
    }
}
