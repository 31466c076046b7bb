//! Test support (feature `test-support`): fresh databases on a real PostgreSQL server.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use uuid::Uuid;

/// URL of the maintenance database tests connect to first: `TEST_DATABASE_ADMIN_URL`, by
/// default `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of database `name` on the admin URL's server.
pub fn url_for(name: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Creates an empty database `pstest_<random>` and returns its name and URL.
///
/// # Panics
/// When PostgreSQL cannot be reached: tests need the real server.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn fresh_database() -> (String, String) {
    let name = format!("pstest_{}", Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&admin_url())
        .await
        .expect("PostgreSQL reachable at TEST_DATABASE_ADMIN_URL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let url = url_for(&name);
    (name, url)
}

/// [`fresh_database`] with every migration applied.
///
/// # Panics
/// When the migrations fail.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn migrated_database() -> (String, String) {
    let (name, url) = fresh_database().await;
    crate::migrations::run_pending(&url)
        .await
        .expect("migrations apply");
    (name, url)
}

/// Cuts (`allowed = false`: refuses new connections and terminates the open ones) or restores
/// access to database `name`, as an outage and its recovery look to the application.
///
/// # Panics
/// When the admin connection fails.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn set_connections(name: &str, allowed: bool) {
    let mut admin = AsyncPgConnection::establish(&admin_url())
        .await
        .expect("PostgreSQL reachable");
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allowed}"
        ))
        .await
        .expect("ALTER DATABASE");
    if !allowed {
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ))
            .await
            .expect("terminate backends");
    }
}
