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
    let conn = crate::pool::connect_url(database_url, mode).await?;
    in_one_transaction(conn, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .execute(conn)?;
        let applied = conn.run_pending_migrations(MIGRATIONS)?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
    .await
}

/// Lists the versions of migrations not yet applied; empty when the schema is current.
///
/// # Errors
/// When the database cannot be reached.
pub async fn pending(database_url: &str, mode: PoolMode) -> Result<Vec<String>, MigrationError> {
    let conn = crate::pool::connect_url(database_url, mode).await?;
    in_one_transaction(conn, |conn| {
        let pending = conn.pending_migrations(MIGRATIONS)?;
        Ok(pending
            .iter()
            .map(|m| m.name().version().to_string())
            .collect())
    })
    .await
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
