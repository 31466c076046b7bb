//! Embedded diesel migrations (the SQL under `migrations/sql`).

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration of this crate, embedded at compile time.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("sql");

/// Boxed error of the migration harness.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration and returns the versions applied.
///
/// Needs a multi-threaded tokio runtime (the harness blocks in place).
///
/// # Errors
/// When the database cannot be reached or a migration fails (it is then rolled back).
pub async fn run_pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let conn = crate::pool::connect_url(database_url).await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness.run_pending_migrations(MIGRATIONS)?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Lists the versions of migrations not yet applied; empty when the schema is current.
///
/// # Errors
/// When the database cannot be reached.
pub async fn pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let conn = crate::pool::connect_url(database_url).await?;
    let mut harness = AsyncMigrationHarness::new(conn);
    let pending = harness.pending_migrations(MIGRATIONS)?;
    Ok(pending
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

/// Version of the newest embedded migration.
pub fn latest_version() -> Option<String> {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .ok()?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .max()
}

/// Whether the newest embedded migration is applied (cheap: one indexed lookup), for
/// readiness probes.
///
/// # Errors
/// Database errors (including a database never migrated).
pub async fn is_current(conn: &mut AsyncPgConnection) -> diesel::QueryResult<bool> {
    use diesel::sql_types::{Bool, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Current {
        #[diesel(sql_type = Bool)]
        current: bool,
    }
    let Some(latest) = latest_version() else {
        return Ok(true);
    };
    let row: Current = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS current",
    )
    .bind::<Text, _>(latest)
    .get_result(conn)
    .await?;
    Ok(row.current)
}
