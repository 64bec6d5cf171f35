//! The embedded database holds password hashes and personal data: only its owner reads it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use gatehouse::config::DatabaseUrl;

use crate::helpers::{Backend, spawn_app_with};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_fresh_embedded_database_and_its_directory_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = data.join("gatehouse.db");
    let url = format!("sqlite://{}", file.display());
    let Some(app) = spawn_app_with(Backend::Embedded, |s| {
        s.database.url = DatabaseUrl::Sqlite(url);
    })
    .await
    else {
        return;
    };
    // A write, so the WAL holds something.
    app.create_user("ann", "a long passphrase for ann").await;

    assert_eq!(mode(&data), 0o700, "the directory");
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let path = data.join(name);
        assert!(path.exists(), "{name}");
        assert_eq!(mode(&path), 0o600, "{name}: {:o}", mode(&path));
    }
}

#[tokio::test]
async fn an_existing_readable_database_file_is_made_private_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.db");
    std::fs::write(&file, b"").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", file.display());
    let Some(_app) = spawn_app_with(Backend::Embedded, |s| {
        s.database.url = DatabaseUrl::Sqlite(url);
    })
    .await
    else {
        return;
    };

    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir.path().join("gatehouse.db-wal")), 0o600);
}
