//! Migrations: `schema.rs` matches them, every `down.sql` works, the server refuses to start
//! with pending migrations, and the admin CLI prints a key once and stores only its hash.

use std::process::Command;

use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::MigrationHarness;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn schema_rs_matches_the_migrations() {
    let (_, url) = fresh_database().await;
    payment_db::migrations::run_pending(&url, payment_db::PoolMode::Session)
        .await
        .unwrap();
    let diesel = std::env::var("DIESEL_CLI").unwrap_or_else(|_| "diesel".to_owned());
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new(&diesel)
        .args(["print-schema", "--database-url", &url])
        .current_dir(repo)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{diesel}` (install diesel_cli or set DIESEL_CLI; scripts/test does): {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = std::fs::read_to_string(format!("{repo}/migrations/src/schema.rs")).unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        committed,
        "migrations/src/schema.rs drifted: regenerate it with `diesel migration run` (see README)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_migration_reverts_and_reapplies() {
    let (_, url) = fresh_database().await;
    let conn = AsyncPgConnection::establish(&url).await.unwrap();
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(payment_db::migrations::MIGRATIONS)
        .unwrap()
        .len();
    let reverted = harness
        .revert_all_migrations(payment_db::migrations::MIGRATIONS)
        .unwrap()
        .len();
    assert_eq!(applied, reverted);
    let mut conn = harness.into_inner();
    let tables = texts(&mut conn, "SELECT table_name::text AS value FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'").await;
    assert!(tables.is_empty(), "down.sql left {tables:?}");
    let mut harness = AsyncMigrationHarness::new(conn);
    assert_eq!(
        harness
            .run_pending_migrations(payment_db::migrations::MIGRATIONS)
            .unwrap()
            .len(),
        applied
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_refuses_to_start_with_pending_migrations() {
    let (_, url) = fresh_database().await;
    let output = Command::new(env!("CARGO_BIN_EXE_payment-api"))
        .args(["serve", "--listen-addr", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pending migration") && stderr.contains("payment-api migrate"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_then_create_merchant_prints_a_key_stored_only_as_a_hash() {
    let (_, url) = fresh_database().await;
    let bin = env!("CARGO_BIN_EXE_payment-api");
    assert!(
        Command::new(bin)
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .status()
            .unwrap()
            .success()
    );
    let output = Command::new(bin)
        .args(["admin", "create-merchant", "--name", "Acme"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout
        .lines()
        .find_map(|line| line.strip_prefix("api_key="))
        .unwrap()
        .to_owned();
    assert!(key.starts_with("sk_") && key.len() == 46);
    assert!(stdout.lines().any(|line| line.starts_with("merchant_id=")));
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let stored = texts(
        &mut conn,
        "SELECT encode(key_hash, 'hex') || key_prefix AS value FROM api_keys",
    )
    .await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].contains(&key[3..]),
        "the key is not stored in clear"
    );
    assert_eq!(
        &stored[0][..64],
        payment_api::auth::hash_key(&key)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
}
