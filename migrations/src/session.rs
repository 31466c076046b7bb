//! How the services use a database session so that they work the same on a direct connection
//! and behind a transaction-mode pooler (PgBouncer `pool_mode = transaction`, RDS Proxy,
//! Supavisor), which hands each transaction to whichever server connection is free:
//!
//! - every statement runs inside a transaction begun by [`transaction`] (a pooler keeps one
//!   server connection for a transaction, not for a session);
//! - settings are `SET LOCAL` in the same round trip as `BEGIN` ([`TransactionSettings`]),
//!   never session `SET`s, which would stay on a server connection another client gets next;
//! - locks are transaction-scoped (`pg_advisory_xact_lock`, `SELECT … FOR UPDATE`);
//! - with [`PoolMode::Transaction`], no prepared statement is cached across transactions:
//!   each one is prepared, used and closed inside the transaction that needs it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::CacheSize;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, TransactionManager,
};
use tracing::Instrument as _;

/// What sits between the service and PostgreSQL (`DATABASE_POOL_MODE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PoolMode {
    /// A direct connection, or a pooler in session mode: prepared statements are cached per
    /// connection (one round trip per statement after the first use).
    #[default]
    Session,
    /// A transaction-mode pooler: no prepared statement outlives its transaction (one more
    /// round trip per statement).
    Transaction,
}

impl PoolMode {
    /// The values [`PoolMode::from_str`] accepts.
    pub const VALUES: [&'static str; 2] = ["session", "transaction"];

    /// Sets up a new connection for this mode (the statement cache).
    pub fn prepare(self, conn: &mut AsyncPgConnection) {
        if self == Self::Transaction {
            conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
    }
}

impl FromStr for PoolMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "session" => Ok(Self::Session),
            "transaction" => Ok(Self::Transaction),
            other => Err(format!(
                "unknown DATABASE_POOL_MODE '{other}': expected one of {}",
                Self::VALUES.join(", ")
            )),
        }
    }
}

impl std::fmt::Display for PoolMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Session => "session",
            Self::Transaction => "transaction",
        })
    }
}

/// Limits and settings every transaction of a service sets for itself (`SET LOCAL`, sent
/// with `BEGIN` in one simple-protocol query). A field left `None` keeps the server's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionSettings {
    /// `statement_timeout`: the longest one statement may run (ms precision); the server then
    /// cancels it with SQLSTATE `57014`.
    pub statement_timeout: Option<Duration>,
    /// `lock_timeout`: the longest a statement may wait for a lock (a row locked by another
    /// transaction); the server then fails it with SQLSTATE `55P03`.
    pub lock_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout`: how long the transaction may sit idle (the
    /// client stalled or gone) before the server ends the session and releases its locks.
    pub idle_timeout: Option<Duration>,
    /// `synchronous_commit = off` when true: the commit does not wait for the WAL flush.
    pub asynchronous_commit: bool,
}

impl TransactionSettings {
    /// The SQL that begins a transaction with these settings.
    pub fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        let mut set = |name: &str, value: Option<Duration>| {
            if let Some(value) = value {
                // Whole milliseconds, at least 1: 0 would mean "no limit".
                let ms = value.as_millis().clamp(1, i32::MAX as u128);
                sql.push_str(&format!("; SET LOCAL {name} = {ms}"));
            }
        };
        set("statement_timeout", self.statement_timeout);
        set("lock_timeout", self.lock_timeout);
        set("idle_in_transaction_session_timeout", self.idle_timeout);
        if self.asynchronous_commit {
            sql.push_str("; SET LOCAL synchronous_commit = off");
        }
        sql
    }
}

/// Runs `work` in a transaction begun with `settings`: committed when `work` returns `Ok`,
/// rolled back when it returns `Err` (whose error is returned). The transaction is a
/// `db.transaction` span (debug level: exported as an OpenTelemetry client span when traces
/// are, never logged at the default level).
///
/// # Errors
/// `work`'s error, or the database error of `BEGIN`, `COMMIT` or `ROLLBACK`.
pub async fn transaction<R, E, F>(
    conn: &mut AsyncPgConnection,
    settings: &TransactionSettings,
    work: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    let span = tracing::debug_span!(
        "db.transaction",
        otel.name = "transaction",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = "postgresql",
    );
    let outcome = in_transaction(conn, settings, work)
        .instrument(span.clone())
        .await;
    if outcome.is_err() {
        span.record("otel.status_code", "ERROR");
    }
    outcome
}

async fn in_transaction<R, E, F>(
    conn: &mut AsyncPgConnection,
    settings: &TransactionSettings,
    work: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    AnsiTransactionManager::begin_transaction_sql(conn, &settings.begin_sql()).await?;
    match work(conn).await {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(error) => match AnsiTransactionManager::rollback_transaction(conn).await {
            // A broken transaction manager (the connection is gone): the work's error says why.
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// A pool with the settings every transaction run through it begins with. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: crate::DbPool,
    settings: Arc<TransactionSettings>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("status", &self.pool.status())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Database {
    /// Wraps `pool`; every [`Database::transaction`] begins with `settings`.
    pub fn new(pool: crate::DbPool, settings: TransactionSettings) -> Self {
        Self {
            pool,
            settings: Arc::new(settings),
        }
    }

    /// The pool (for its status).
    pub fn pool(&self) -> &crate::DbPool {
        &self.pool
    }

    /// The settings every transaction begins with.
    pub fn settings(&self) -> &TransactionSettings {
        &self.settings
    }

    /// Checks out a connection and runs `work` in one [`transaction`] on it.
    ///
    /// # Errors
    /// No connection within the pool's wait timeout (the pool's error), or as [`transaction`].
    pub async fn transaction<R, E, F>(&self, work: F) -> Result<R, E>
    where
        F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
        E: From<diesel::result::Error> + From<diesel_async::pooled_connection::deadpool::PoolError>,
    {
        let mut conn = self.pool.get().await?;
        transaction(&mut conn, &self.settings, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_local_to_the_transaction() {
        let settings = TransactionSettings {
            statement_timeout: Some(Duration::from_secs(5)),
            lock_timeout: Some(Duration::from_millis(1500)),
            idle_timeout: None,
            asynchronous_commit: true,
        };
        assert_eq!(
            settings.begin_sql(),
            "BEGIN; SET LOCAL statement_timeout = 5000; SET LOCAL lock_timeout = 1500; \
             SET LOCAL synchronous_commit = off"
        );
        assert_eq!(TransactionSettings::default().begin_sql(), "BEGIN");
        let tiny = TransactionSettings {
            lock_timeout: Some(Duration::from_micros(10)),
            ..TransactionSettings::default()
        };
        assert_eq!(tiny.begin_sql(), "BEGIN; SET LOCAL lock_timeout = 1");
    }

    #[test]
    fn pool_modes_parse_and_name_the_setting() {
        assert_eq!("transaction".parse(), Ok(PoolMode::Transaction));
        assert_eq!("session".parse(), Ok(PoolMode::Session));
        let error = "statement".parse::<PoolMode>().unwrap_err();
        assert!(error.contains("DATABASE_POOL_MODE"), "{error}");
    }
}
