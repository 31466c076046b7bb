//! Rebuilds this crate when a migration is added or changed: `embed_migrations!` reads the
//! `sql/` directory, and cargo would not otherwise notice a new migration folder.

fn main() {
    println!("cargo:rerun-if-changed=sql");
}
