//! Whether the database the relay is given has the schema it needs: every migration embedded in
//! `payment-db` applied. Checked by every command after it connects, so an unmigrated database
//! ends a run with exit 4 and the remedy ("run `payment-api migrate`") instead of an SQL error
//! about a missing table. The check asks the catalogue (`to_regclass`) and diesel's own
//! migrations table; it matches no error text. It applies no migration: that is
//! `payment-api migrate`'s job, run once per deployment.

use std::collections::HashSet;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use payment_db::TransactionSettings;

#[derive(diesel::QueryableByName)]
struct Tracked {
    #[diesel(sql_type = Bool)]
    tracked: bool,
}

#[derive(diesel::QueryableByName)]
struct Applied {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Longest statement of the relay (`SET LOCAL statement_timeout` of every transaction).
pub const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Settings of the operator commands' transactions: the statement timeout only.
pub fn command_settings() -> TransactionSettings {
    TransactionSettings {
        statement_timeout: Some(STATEMENT_TIMEOUT),
        ..TransactionSettings::default()
    }
}

/// Runs `work` in one transaction with [`command_settings`]. Every statement of the relay
/// runs in a transaction, so it works the same behind a transaction-mode pooler
/// (`payment_db::session`).
///
/// # Errors
/// `work`'s, `BEGIN`'s or `COMMIT`'s database error.
pub async fn in_transaction<R, F>(conn: &mut AsyncPgConnection, work: F) -> diesel::QueryResult<R>
where
    F: AsyncFnOnce(&mut AsyncPgConnection) -> diesel::QueryResult<R>,
{
    payment_db::session::transaction(conn, &command_settings(), work).await
}

/// Versions of the `payment-db` migrations not applied to this database (empty when current;
/// every version when the database was never migrated). Two catalogue queries, in one
/// transaction.
///
/// # Errors
/// Database errors.
pub async fn pending_migrations(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<String>> {
    in_transaction(conn, applied_versions_pending).await
}

async fn applied_versions_pending(
    conn: &mut AsyncPgConnection,
) -> diesel::QueryResult<Vec<String>> {
    let tracked: Tracked = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS tracked",
    )
    .get_result(conn)
    .await?;
    let applied: HashSet<String> = if tracked.tracked {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        HashSet::new()
    };
    let embedded = MigrationSource::<Pg>::migrations(&payment_db::migrations::MIGRATIONS)
        .map_err(diesel::result::Error::QueryBuilderError)?;
    let mut pending: Vec<String> = embedded
        .iter()
        .map(|migration| migration.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .collect();
    pending.sort();
    Ok(pending)
}

/// The reason given when `pending` migrations are missing: names the remedy.
pub fn not_migrated(pending: &[String]) -> String {
    format!(
        "the database is not migrated ({} pending migration(s), first {}): run `payment-api migrate`",
        pending.len(),
        pending.first().map_or("?", String::as_str)
    )
}
