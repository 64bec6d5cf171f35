//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds every file of
//! `migrations/`, but cargo only watches the files the compiler read, not new ones in the folder.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
