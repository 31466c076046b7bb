//! Embedded diesel migrations (the SQL under `migrations/sql`).

use diesel::Connection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::session::PoolMode;

/// Every migration of this crate, embedded at compile time.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("sql");

/// Boxed error of the migration harness.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Key of the transaction-scoped advisory lock `run_pending` holds, so that deployments
/// starting several `migrate` runs at once apply each migration once.
const MIGRATION_LOCK: i64 = 0x7061_796d_656e_7473; // "payments"

/// Applies every pending migration and returns the versions applied: all of them in ONE
/// transaction (all or none), under a transaction-scoped advisory lock, so it also works
/// behind a transaction-mode pooler (`mode`, see [`crate::session`]).
///
/// Needs a multi-threaded tokio runtime (the harness blocks in place).
///
/// # Errors
/// When the database cannot be reached or a migration fails (all are then rolled back).
pub async fn run_pending(
    database_url: &str,
    mode: PoolMode,
) -> Result<Vec<String>, MigrationError> {
    let mut conn = crate::pool::connect_url(database_url, mode).await?;
    // Nothing to do: done without writing (a read-only standby, a role without CREATE).
    let settings = crate::session::TransactionSettings::default();
    if crate::session::transaction(&mut conn, &settings, pending_on)
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    in_one_transaction(conn, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .execute(conn)?;
        let applied = conn.run_pending_migrations(MIGRATIONS)?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
}

/// Lists the versions of migrations not yet applied; empty when the schema is current. Reads
/// the catalogue only ([`pending_on`]), in one transaction.
///
/// # Errors
/// When the database cannot be reached.
pub async fn pending(database_url: &str, mode: PoolMode) -> Result<Vec<String>, MigrationError> {
    let mut conn = crate::pool::connect_url(database_url, mode).await?;
    Ok(crate::session::transaction(
        &mut conn,
        &crate::session::TransactionSettings::default(),
        pending_on,
    )
    .await?)
}

#[derive(diesel::QueryableByName)]
struct Tracked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    tracked: bool,
}

#[derive(diesel::QueryableByName)]
struct Applied {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Versions of the embedded migrations not applied to the database of `conn`, sorted (every
/// version when it was never migrated). Two catalogue queries (`to_regclass`, then diesel's
/// migrations table): nothing is created, so a role without `CREATE` may ask, and a read-only
/// standby can answer.
///
/// # Errors
/// Database errors.
pub async fn pending_on(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<String>> {
    use diesel_async::RunQueryDsl;
    let tracked: Tracked = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS tracked",
    )
    .get_result(conn)
    .await?;
    let applied: std::collections::HashSet<String> = if tracked.tracked {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        std::collections::HashSet::new()
    };
    let embedded = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(diesel::result::Error::QueryBuilderError)?;
    let mut pending: Vec<String> = embedded
        .iter()
        .map(|migration| migration.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .collect();
    pending.sort();
    Ok(pending)
}

type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

/// Runs the (blocking) migration harness `work` on `conn` inside one transaction.
async fn in_one_transaction<R>(
    conn: AsyncPgConnection,
    work: impl FnOnce(&mut Wrapper) -> Result<R, MigrationError>,
) -> Result<R, MigrationError> {
    let mut conn = Wrapper::from(conn);
    tokio::task::block_in_place(|| {
        conn.transaction::<R, TransactionError, _>(|conn| {
            work(conn).map_err(TransactionError::Work)
        })
    })
    .map_err(|error| match error {
        TransactionError::Work(error) => error,
        TransactionError::Database(error) => error.into(),
    })
}

/// An error of [`in_one_transaction`]: the work's, or the database's on `BEGIN`/`COMMIT`.
#[derive(Debug)]
enum TransactionError {
    Work(MigrationError),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for TransactionError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
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
