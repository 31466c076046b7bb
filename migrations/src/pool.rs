//! Connection pool set-up (deadpool over diesel-async).

use std::time::Duration;

use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};

/// Pool of PostgreSQL connections.
pub type DbPool = Pool<AsyncPgConnection>;

/// A connection checked out of a [`DbPool`]; returned to the pool on drop.
pub type PooledConnection = Object<AsyncPgConnection>;

/// Builds a pool of at most `max_size` connections to `database_url`.
///
/// Connections are created lazily. A checkout waits at most `wait_timeout` for a free
/// connection and `wait_timeout` again to open a new one, so a database outage surfaces as
/// an error within a bounded time instead of a hung request. Returned connections are
/// checked with a `SELECT 1` and dropped when broken (for example after a cancelled
/// transaction), so one failure never poisons the pool.
///
/// # Errors
/// When the pool configuration is invalid (for example `max_size` is 0).
pub fn build_pool(
    database_url: &str,
    max_size: usize,
    wait_timeout: Duration,
) -> Result<DbPool, diesel_async::pooled_connection::deadpool::BuildError> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Verified;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait_timeout))
        .create_timeout(Some(wait_timeout))
        .recycle_timeout(Some(wait_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
}
