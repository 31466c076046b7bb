//! Test support (feature `test-support`): fresh databases on a real PostgreSQL server.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::PoolMode;
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
    crate::migrations::run_pending(&url, PoolMode::Session)
        .await
        .expect("migrations apply");
    (name, url)
}

/// Cuts (`allowed = false`: refuses new connections and ends the open ones, [`end_sessions`])
/// or restores access to database `name`, as an outage and its recovery look to the
/// application.
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
        end_sessions(name).await;
    }
}

/// Ends every session on database `name` (but the caller's) and returns once they have ended
/// (up to 5 s each), while new connections stay allowed: what a server restart or a failover
/// does to open sessions, without an outage. Waiting matters: `pg_terminate_backend` without
/// a timeout only signals, and on a loaded machine a pooled connection could still pass its
/// check and then die under the next request.
///
/// # Panics
/// When the admin connection fails.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn end_sessions(name: &str) {
    let mut admin = AsyncPgConnection::establish(&admin_url())
        .await
        .expect("PostgreSQL reachable");
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate backends");
}

/// A TCP port of 127.0.0.1 that is free now (for a server a test starts of its own).
///
/// # Panics
/// When no port can be bound.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// How the services under test reach their database, from `TEST_DATABASE_ROUTE`: the suites
/// run once directly and again through each production-like path (`scripts/test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `direct` (the default): the server at [`admin_url`], plain TCP.
    Direct,
    /// `pgbouncer`: through PgBouncer in transaction mode on 127.0.0.1 port
    /// `TEST_PGBOUNCER_PORT` (started by `scripts/test`), with [`PoolMode::Transaction`].
    Pgbouncer,
    /// `verify-full`: TLS with certificate and host name checks, rooted at the server's own
    /// certificate (its `ssl_cert_file`, which names `localhost`).
    VerifyFull,
}

/// The route of this test run.
///
/// # Panics
/// On an unknown `TEST_DATABASE_ROUTE`.
#[expect(clippy::panic, reason = "test support fails loudly")]
pub fn route() -> Route {
    match std::env::var("TEST_DATABASE_ROUTE").as_deref() {
        Err(_) | Ok("" | "direct") => Route::Direct,
        Ok("pgbouncer") => Route::Pgbouncer,
        Ok("verify-full") => Route::VerifyFull,
        Ok(other) => {
            panic!("unknown TEST_DATABASE_ROUTE {other:?}: direct, pgbouncer or verify-full")
        }
    }
}

/// The URL and pool mode a service under test uses for `database_url` (a database on the
/// [`admin_url`] server), by [`route`]. Tests set up and inspect data directly.
///
/// # Panics
/// When the route's prerequisites are missing (`TEST_PGBOUNCER_PORT`, TLS on the server).
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn service_url(database_url: &str) -> (String, PoolMode) {
    match route() {
        Route::Direct => (database_url.to_owned(), PoolMode::Session),
        Route::Pgbouncer => {
            let port = std::env::var("TEST_PGBOUNCER_PORT")
                .expect("TEST_PGBOUNCER_PORT (scripts/test starts PgBouncer and sets it)");
            let url = url::Url::parse(database_url).expect("a database URL");
            let name = url.path().trim_start_matches('/');
            let user = match url.username() {
                "" => "postgres",
                user => user,
            };
            (
                format!("postgres://{user}@127.0.0.1:{port}/{name}"),
                PoolMode::Transaction,
            )
        }
        Route::VerifyFull => (verify_full_url(database_url).await, PoolMode::Session),
    }
}

/// The path of the server's TLS certificate (`ssl_cert_file`).
///
/// # Panics
/// When the server does not serve TLS.
#[expect(clippy::expect_used, reason = "test support fails loudly")]
pub async fn server_certificate(database_url: &str) -> String {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        ssl: String,
        #[diesel(sql_type = Text)]
        file: String,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .expect("PostgreSQL reachable");
    let setting: Setting = diesel::sql_query(
        "SELECT current_setting('ssl') AS ssl, current_setting('ssl_cert_file') AS file",
    )
    .get_result(&mut conn)
    .await
    .expect("SHOW ssl");
    assert_eq!(
        setting.ssl, "on",
        "the test server must serve TLS (ssl = on)"
    );
    setting.file
}

/// `database_url` over `sslmode=verify-full`, rooted at the server's own (self-signed)
/// certificate, with the host written as `localhost`: the name that certificate carries.
pub async fn verify_full_url(database_url: &str) -> String {
    let certificate = server_certificate(database_url).await;
    format!(
        "{}?sslmode=verify-full&sslrootcert={certificate}",
        database_url.replace("127.0.0.1", "localhost")
    )
}
