//! Connection pool set-up (deadpool over diesel-async), and opening one connection with
//! credentials that may change under a running process (a rotated password).

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use futures::FutureExt;
use payment_secrets::DatabaseUrl;
use tokio_postgres::error::SqlState;

use crate::session::PoolMode;

/// Pool of PostgreSQL connections.
pub type DbPool = Pool<AsyncPgConnection>;

/// A connection checked out of a [`DbPool`]; returned to the pool on drop.
pub type PooledConnection = Object<AsyncPgConnection>;

/// Builds a pool of at most `max_size` connections to `database_url`, set up for `mode`.
///
/// Connections are created lazily. A checkout waits at most `wait_timeout` for a free
/// connection and `wait_timeout` again to open a new one, so a database outage surfaces as
/// an error within a bounded time instead of a hung request. Returned connections are
/// checked with a simple-protocol `SELECT 1` (no prepared statement, so the check also holds
/// behind a transaction pooler) and dropped when broken (for example after a cancelled
/// transaction), so one failure never poisons the pool.
///
/// # Errors
/// When the pool configuration is invalid (for example `max_size` is 0).
pub fn build_pool(
    database_url: &str,
    mode: PoolMode,
    max_size: usize,
    wait_timeout: Duration,
) -> Result<DbPool, diesel_async::pooled_connection::deadpool::BuildError> {
    build_pool_from(
        DatabaseUrl::fixed(database_url),
        mode,
        max_size,
        wait_timeout,
    )
}

/// Like [`build_pool`], with each new connection opened by [`establish`] from `source`: a
/// password rotated in Secrets Manager is picked up by the next connection the pool opens.
///
/// # Errors
/// When the pool configuration is invalid (for example `max_size` is 0).
pub fn build_pool_from(
    source: DatabaseUrl,
    mode: PoolMode,
    max_size: usize,
    wait_timeout: Duration,
) -> Result<DbPool, diesel_async::pooled_connection::deadpool::BuildError> {
    let mut config = ManagerConfig::default();
    config.recycling_method =
        RecyclingMethod::CustomFunction(Box::new(|conn: &mut AsyncPgConnection| {
            diesel_async::SimpleAsyncConnection::batch_execute(conn, "SELECT 1").boxed()
        }));
    config.custom_setup = Box::new(move |_| {
        let source = source.clone();
        async move { establish(&source, mode).await }.boxed()
    });
    // The URL argument is unused: custom_setup asks `source` for each connection.
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        "postgres://from-the-credentials-source",
        config,
    );
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait_timeout))
        .create_timeout(Some(wait_timeout))
        .recycle_timeout(Some(wait_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
}

/// Opens one connection with the URL from `source`, set up for `mode`. When the server refuses the password
/// (SQLSTATE 28P01, `invalid_password`: classified by code) and the password comes from a
/// secret, reads the secret again and tries once more, so a password rotated while the
/// process runs costs one refused attempt instead of a restart.
///
/// # Errors
/// `BadConnection` when the credentials cannot be read or the server refuses or is
/// unreachable (the second refusal of a refreshed password included).
pub async fn establish(
    source: &DatabaseUrl,
    mode: PoolMode,
) -> Result<AsyncPgConnection, ConnectionError> {
    let credentials = |error: payment_secrets::CredentialsError| {
        ConnectionError::BadConnection(error.to_string())
    };
    let url = source.url().await.map_err(credentials)?;
    let mut conn = match connect(&url).await {
        Err(Refusal::InvalidPassword(_)) if source.can_refresh() => {
            tracing::warn!(
                "the database refused the password (SQLSTATE 28P01): reading the secret again"
            );
            let url = source.refreshed_url().await.map_err(credentials)?;
            connect(&url).await.map_err(ConnectionError::from)
        }
        result => result.map_err(ConnectionError::from),
    }?;
    mode.prepare(&mut conn);
    Ok(conn)
}

/// Why a connection attempt failed, split by what the caller can do about it.
enum Refusal {
    /// SQLSTATE 28P01: the password is wrong (for example rotated since it was read).
    InvalidPassword(tokio_postgres::Error),
    /// Anything else.
    Other(ConnectionError),
}

impl From<Refusal> for ConnectionError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidPassword(error) => Self::BadConnection(error.to_string()),
            Refusal::Other(error) => error,
        }
    }
}

/// Opens one connection to `url`, over TLS as its `sslmode` / `sslrootcert` say
/// ([`crate::tls`]), set up for `mode`.
///
/// # Errors
/// `InvalidConnectionUrl` for unusable TLS settings (the message names the parameter),
/// `BadConnection` when the server is unreachable, refuses, or fails certificate checks.
pub async fn connect_url(url: &str, mode: PoolMode) -> Result<AsyncPgConnection, ConnectionError> {
    let mut conn = connect(url).await.map_err(ConnectionError::from)?;
    mode.prepare(&mut conn);
    Ok(conn)
}

async fn connect(url: &str) -> Result<AsyncPgConnection, Refusal> {
    let connector = crate::tls::connector(url).map_err(|error| {
        Refusal::Other(ConnectionError::InvalidConnectionUrl(error.to_string()))
    })?;
    match connector.tls {
        None => open(&connector.url, tokio_postgres::NoTls).await,
        Some(config) => {
            open(
                &connector.url,
                tokio_postgres_rustls::MakeRustlsConnect::new(config),
            )
            .await
        }
    }
}

/// Sorts a refused connection: 28P01 (by SQLSTATE) from everything else.
fn refused(error: tokio_postgres::Error) -> Refusal {
    if error.code() == Some(&SqlState::INVALID_PASSWORD) {
        Refusal::InvalidPassword(error)
    } else {
        // The source of a TLS failure (e.g. a certificate not valid for the host) is the
        // useful part of the message.
        let detail = match std::error::Error::source(&error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        };
        Refusal::Other(ConnectionError::BadConnection(detail))
    }
}

/// Connects to `url` with `tls` and wraps the client for diesel.
async fn open<T>(url: &str, tls: T) -> Result<AsyncPgConnection, Refusal>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: tokio_postgres::tls::TlsStream + Unpin + Send + 'static,
{
    let (client, connection) = tokio_postgres::connect(url, tls).await.map_err(refused)?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(Refusal::Other)
}
