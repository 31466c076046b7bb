//! Whether the database the relay is given has the schema it needs: every migration embedded in
//! `payment-db` applied. Checked by every command after it connects, so an unmigrated database
//! ends a run with exit 4 and the remedy ("run `payment-api migrate`") instead of an SQL error
//! about a missing table. The check asks the catalogue (`to_regclass`) and diesel's own
//! migrations table; it matches no error text. It applies no migration: that is
//! `payment-api migrate`'s job, run once per deployment. The check itself is
//! `payment_db::migrations::pending_on`, shared with the API.

use diesel_async::AsyncPgConnection;
use payment_db::TransactionSettings;
use payment_db::db_error::DbFailure;

use crate::summary::Outcome;

/// The outcome of a connection that failed: a configuration error (exit 2) for settings that
/// can never work (`InvalidConnectionUrl`: a bad `sslmode`, a missing or unreadable
/// `sslrootcert`), else the database is unavailable (exit 4: the next run tries again).
pub fn connect_outcome(error: &diesel::ConnectionError) -> Outcome {
    match error {
        diesel::ConnectionError::InvalidConnectionUrl(_) => Outcome::ConfigError,
        _ => Outcome::DatabaseUnavailable,
    }
}

/// The outcome of a database error, by SQLSTATE (`payment_db::db_error`): transient
/// (unreachable, shutting down, read-only, timed out, lost race) → database unavailable
/// (exit 4); anything else → error (exit 1).
pub fn error_outcome(error: &diesel::result::Error) -> Outcome {
    if DbFailure::of(error).is_transient() {
        Outcome::DatabaseUnavailable
    } else {
        Outcome::Error
    }
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
    in_transaction(conn, payment_db::migrations::pending_on).await
}

/// The reason given when `pending` migrations are missing: names the remedy.
pub fn not_migrated(pending: &[String]) -> String {
    format!(
        "the database is not migrated ({} pending migration(s), first {}): run `payment-api migrate`",
        pending.len(),
        pending.first().map_or("?", String::as_str)
    )
}
