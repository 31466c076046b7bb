//! Command line and environment configuration, typed and validated at start-up by clap: a bad
//! value stops the process with a message naming the flag and its environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use payment_db::{PoolMode, TransactionSettings};

/// payment-api: payments over gRPC, gRPC-web and REST on one port.
#[derive(Debug, Parser)]
#[command(name = "payment-api", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (refuses to start while migrations are pending).
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate(DatabaseArgs),
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI document of the REST API (the content of `openapi/openapi.json`).
    Openapi,
    /// On AWS Lambda: run `migrate` or `admin …` once per invocation (`{"args": [...]}`),
    /// answering the exit code and output (see `payment_api::ops`).
    Ops,
}

/// Administrative subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a merchant and its first API key; prints `merchant_id=` and `api_key=` lines.
    /// The key is shown this once and stored only as a hash.
    CreateMerchant {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// Merchant display name: 1 to 200 characters, not only spaces, no control characters.
        #[arg(long, value_parser = merchant_name)]
        name: String,
    },
    /// Create another API key for a merchant (to rotate: hand it over, then revoke the old
    /// one); prints `key_id=` and `api_key=` lines. The key is shown this once.
    CreateKey {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The merchant.
        #[arg(long)]
        merchant_id: uuid::Uuid,
    },
    /// List a merchant's keys as JSON lines: `key_id`, `merchant_id`, `prefix`, `created_at`,
    /// `revoked_at` (never the key).
    ListKeys {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The merchant.
        #[arg(long)]
        merchant_id: uuid::Uuid,
    },
    /// Revoke a key: refused (401) within `AUTH_CACHE_TTL_MS` (5 s) on every running instance.
    /// Prints the key's JSON line.
    RevokeKey {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The key (`key_id` of `list-keys` or `create-key`).
        #[arg(long)]
        key_id: uuid::Uuid,
    },
    /// List the merchants as JSON lines: `merchant_id`, `name`, `created_at`, `active_keys`.
    ListMerchants {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Override a merchant's rate limits (the values given; the others keep their override or
    /// the default), or `--reset` them to the defaults. Every instance applies the change
    /// within `AUTH_CACHE_TTL_MS` (5 s). Prints the merchant's overrides as a JSON line
    /// (`null`: the default).
    SetRateLimit {
        /// Database.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The merchant.
        #[arg(long)]
        merchant_id: uuid::Uuid,
        /// The merchant's limits.
        #[command(flatten)]
        limits: RateLimitArgs,
    },
    /// Delete idempotency records older than `--older-than` (default: the key TTL), in
    /// batches of `--batch` rows, each its own short transaction, at most `--max-rows` per
    /// call (`--yes` lifts it). Prints `{"purged":N,"more":bool,"batches":N}`, or with
    /// `--dry-run` `{"dry_run":true,"would_purge":N,"more":bool}` and changes nothing.
    /// Payments, ledger entries and events are never touched.
    PurgeIdempotency(PurgeIdempotencyArgs),
}

/// Settings of `admin purge-idempotency`.
#[derive(Debug, Clone, Args)]
pub struct PurgeIdempotencyArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The key TTL the API runs with (a record younger than it still answers replays).
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
    /// Records older than this go (e.g. `24h`, `7d`); at least the key TTL, so no record that
    /// could still answer a replay is deleted. Default: the key TTL.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub older_than: Option<Duration>,
    /// Rows per statement (and per transaction): the most rows one batch locks.
    #[arg(long, env = "IDEMPOTENCY_PURGE_BATCH", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub batch: i64,
    /// Most rows deleted by one call (the output says whether more remain); `--yes` lifts it.
    #[arg(long, env = "IDEMPOTENCY_PURGE_MAX_ROWS", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=i64::MAX))]
    pub max_rows: i64,
    /// Delete every eligible row, however many.
    #[arg(long)]
    pub yes: bool,
    /// Only count the rows that would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How long an idempotency key answers replays; shared by `serve` and `admin
/// purge-idempotency` so both read the same setting.
#[derive(Debug, Clone, Copy, Args)]
pub struct IdempotencyArgs {
    /// How long a write's idempotency key replays its answer (e.g. `24h`, the default, as
    /// Stripe's keys; from 1 minute to 365 days). After it the key is free: the same key is a
    /// new request, with the same or another body.
    #[arg(long, env = "IDEMPOTENCY_KEY_TTL", default_value = "24h", value_parser = key_ttl)]
    pub idempotency_key_ttl: Duration,
}

/// Longest `IDEMPOTENCY_KEY_TTL`.
pub const MAX_IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `IDEMPOTENCY_KEY_TTL`: a humantime duration from 1 minute to 365 days.
fn key_ttl(raw: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(raw).map_err(|error| error.to_string())?;
    if ttl < Duration::from_secs(60) || ttl > MAX_IDEMPOTENCY_KEY_TTL {
        return Err("must be from 1m to 365d".to_owned());
    }
    Ok(ttl)
}

/// The values of `admin set-rate-limit`: at least one, each at least 1.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = true)]
pub struct RateLimitArgs {
    /// Writes (authorize, capture, void, refund) per second, sustained.
    #[arg(long, value_parser = limit_value)]
    pub writes_per_second: Option<i32>,
    /// Writes allowed at once (`--burst` for short).
    #[arg(long, alias = "burst", value_parser = limit_value)]
    pub writes_burst: Option<i32>,
    /// Reads (get, list) per second, sustained.
    #[arg(long, value_parser = limit_value)]
    pub reads_per_second: Option<i32>,
    /// Reads allowed at once.
    #[arg(long, value_parser = limit_value)]
    pub reads_burst: Option<i32>,
    /// Remove every override of the merchant: back to the defaults.
    #[arg(long, conflicts_with_all = ["writes_per_second", "writes_burst", "reads_per_second", "reads_burst"])]
    pub reset: bool,
}

/// A rate or burst: 1 to 2^31 − 1 (the column is a PostgreSQL `integer`).
fn limit_value(raw: &str) -> Result<i32, String> {
    match raw.parse::<i32>() {
        Ok(value) if value >= 1 => Ok(value),
        _ => Err(format!("must be a whole number from 1 to {}", i32::MAX)),
    }
}

/// Longest merchant display name in characters (the `merchants.name` check constraint).
pub const MAX_MERCHANT_NAME_CHARS: usize = 200;

/// Checks `--name` of `admin create-merchant` before anything touches the database, so a bad
/// name is a usage error (exit 2) naming the flag, never a constraint violation.
///
/// # Errors
/// A message saying which rule the name breaks.
pub fn merchant_name(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("the merchant name must not be empty".to_owned());
    }
    if value.chars().count() > MAX_MERCHANT_NAME_CHARS {
        return Err(format!(
            "the merchant name must be at most {MAX_MERCHANT_NAME_CHARS} characters"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("the merchant name must not contain control characters".to_owned());
    }
    Ok(value.to_owned())
}

/// Database settings. `Debug` does not show the URL (it may hold a password).
#[derive(Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/payments. Without it, the URL is
    /// composed from `DATABASE_HOST`, `DATABASE_NAME` and `DATABASE_USER` + `DATABASE_PASSWORD` or
    /// `DATABASE_SECRET_ARN`, with `DATABASE_SSLMODE` / `DATABASE_SSLROOTCERT` (see
    /// `payment_secrets::database`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// What sits between the service and PostgreSQL: `session` (a direct connection or a
    /// session-mode pooler) or `transaction` (a transaction-mode pooler such as PgBouncer
    /// `pool_mode = transaction` or RDS Proxy: no prepared statement outlives its transaction).
    #[arg(long, env = "DATABASE_POOL_MODE", default_value = "session", value_parser = clap::builder::ValueParser::new(str::parse::<PoolMode>))]
    pub database_pool_mode: PoolMode,
}

impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("database_pool_mode", &self.database_pool_mode)
            .finish()
    }
}

impl DatabaseArgs {
    /// Where the database URL comes from, as described on [`DatabaseArgs::database_url`]:
    /// the server's pool asks it for every new connection (a rotated password is re-read).
    ///
    /// # Errors
    /// When no complete form of the settings is given.
    pub fn source(
        &self,
    ) -> Result<payment_secrets::DatabaseUrl, payment_secrets::CredentialsError> {
        payment_secrets::DatabaseUrl::from_env(self.database_url.as_deref())
    }

    /// The database URL now (the secret's cached value).
    ///
    /// # Errors
    /// When no complete form of the settings is given or the secret cannot be read.
    pub async fn url(&self) -> Result<String, payment_secrets::CredentialsError> {
        self.source()?.url().await
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address for gRPC, gRPC-web and REST.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen_addr: SocketAddr,
    /// Most database connections.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
    /// Longest wait for a database connection, in ms, before answering UNAVAILABLE / 503.
    #[arg(long, env = "DATABASE_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub database_timeout_ms: u64,
    /// Longest a statement of a request may run, in ms (`SET LOCAL statement_timeout`); then
    /// the request is answered 503 `database_unavailable` (retryable).
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub database_statement_timeout_ms: u64,
    /// Longest a write waits for its payment's row lock, in ms (`SET LOCAL lock_timeout`);
    /// then it is answered 409 `busy` (ABORTED, retryable).
    #[arg(long, env = "DATABASE_LOCK_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub database_lock_timeout_ms: u64,
    /// Largest request, in bytes, on every surface (REST body; gRPC and gRPC-web message,
    /// after decompression).
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1024..=16_777_216))]
    pub body_limit_bytes: u64,
    /// After SIGTERM or Ctrl-C, how long in-flight requests may take before the process exits, in ms.
    #[arg(long, env = "SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
    /// Origins allowed to call from browsers (gRPC-web and REST), comma-separated, e.g.
    /// `https://shop.example,http://localhost:5173`. Empty: no cross-origin calls.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// Writes (authorize, capture, void, refund) per second allowed per merchant, sustained,
    /// unless its override says otherwise; 0: writes are not limited by default.
    #[arg(long, env = "RATE_LIMIT_WRITES_PER_SECOND", default_value_t = 100)]
    pub rate_limit_writes_per_second: u32,
    /// Writes per merchant allowed at once (the burst).
    #[arg(long, env = "RATE_LIMIT_WRITES_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_writes_burst: u32,
    /// Reads (get, list) per second allowed per merchant, sustained, unless its override says
    /// otherwise; 0: reads are not limited by default.
    #[arg(long, env = "RATE_LIMIT_READS_PER_SECOND", default_value_t = 100)]
    pub rate_limit_reads_per_second: u32,
    /// Reads per merchant allowed at once (the burst).
    #[arg(long, env = "RATE_LIMIT_READS_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_reads_burst: u32,
    /// Redis holding the per-merchant budgets, shared by every instance: `redis://host:6379` or
    /// `rediss://` (TLS), with `:token@` or `user:password@` for AUTH. Unset: each instance
    /// keeps its own budgets in memory (N instances admit N times the limit).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = secret)]
    pub redis_url: Option<secrecy::SecretString>,
    /// Secrets Manager secret `{"password": …}` holding Redis's AUTH token (ElastiCache's
    /// auth token), read at start and used with `REDIS_URL` (which then carries no password).
    #[arg(long, env = "REDIS_AUTH_SECRET_ARN", requires = "redis_url")]
    pub redis_auth_secret_arn: Option<String>,
    /// Longest wait for one rate-limit decision from Redis, in ms; then `RATE_LIMIT_FAIL_MODE`.
    #[arg(long, env = "RATE_LIMIT_REDIS_TIMEOUT_MS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub rate_limit_redis_timeout_ms: u64,
    /// When Redis does not answer in time: `open` admits the request (a warning, counted in
    /// `rate_limiter_errors_total`), `closed` refuses it with 503 `rate_limiter_unavailable`.
    #[arg(long, env = "RATE_LIMIT_FAIL_MODE", value_enum, default_value_t = crate::rate_limit::FailMode::Open)]
    pub rate_limit_fail_mode: crate::rate_limit::FailMode,
    /// Prefix of the limiter's Redis keys (one key per merchant: prefix + merchant id).
    #[arg(
        long,
        env = "RATE_LIMIT_REDIS_PREFIX",
        default_value = "payment-service:rate:"
    )]
    pub rate_limit_redis_prefix: String,
    /// How long an API-key lookup (found or not) is reused, in ms; also the longest a revoked
    /// key may still pass on a running instance. 0 disables the cache.
    #[arg(long, env = "AUTH_CACHE_TTL_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub auth_cache_ttl_ms: u64,
    /// API-key lookups that miss the cache, per client address per second (burst: twice as
    /// many); over it: 429 `rate_limited` without a database lookup. 0 disables the limit.
    #[arg(long, env = "AUTH_LOOKUPS_PER_SECOND", default_value_t = 20)]
    pub auth_lookups_per_second: u32,
    /// Proxies (addresses or CIDR blocks, comma-separated) whose `X-Forwarded-For` entries
    /// name the client; none by default, so the header is ignored.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_parser = clap::builder::ValueParser::new(str::parse::<crate::peer::TrustedProxies>))]
    pub trusted_proxies: crate::peer::TrustedProxies,
    /// How often gRPC health re-checks the database, in ms.
    #[arg(long, env = "HEALTH_CHECK_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub health_check_interval_ms: u64,
    /// Idempotency-key expiry.
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn secret(raw: &str) -> Result<secrecy::SecretString, String> {
    Ok(secrecy::SecretString::from(raw))
}

/// Parses one CORS origin: `scheme://host[:port]` with scheme http or https and no path.
fn parse_origin(raw: &str) -> Result<HeaderValue, String> {
    let raw = raw.trim();
    let uri: http::Uri = raw
        .parse()
        .map_err(|_| format!("`{raw}` is not an origin like https://shop.example"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let bare = uri.path() == "/" && !raw.ends_with('/') && uri.query().is_none();
    if !scheme_ok || uri.authority().is_none() || !bare {
        return Err(format!(
            "`{raw}` is not an origin like https://shop.example (scheme, host, optional port; no path)"
        ));
    }
    HeaderValue::from_str(raw).map_err(|_| format!("`{raw}` is not a valid header value"))
}

impl ServeArgs {
    /// The API-key cache and lookup limit.
    pub fn auth_settings(&self) -> crate::auth::AuthSettings {
        crate::auth::AuthSettings {
            cache_ttl: Duration::from_millis(self.auth_cache_ttl_ms),
            lookups_per_second: std::num::NonZeroU32::new(self.auth_lookups_per_second),
        }
    }

    /// The default budgets of writes and reads; a rate of 0 leaves the class unlimited.
    pub fn rate_limits(&self) -> crate::rate_limit::RateLimits {
        let limit = |per_second, burst| {
            std::num::NonZeroU32::new(per_second).map(|per_second| crate::rate_limit::RateLimit {
                per_second,
                burst: std::num::NonZeroU32::new(burst).unwrap_or(per_second),
            })
        };
        crate::rate_limit::RateLimits {
            writes: limit(
                self.rate_limit_writes_per_second,
                self.rate_limit_writes_burst,
            ),
            reads: limit(
                self.rate_limit_reads_per_second,
                self.rate_limit_reads_burst,
            ),
        }
    }

    /// Database wait timeout.
    pub fn database_timeout(&self) -> Duration {
        Duration::from_millis(self.database_timeout_ms)
    }

    /// What every request's transaction sets for itself: the statement and lock timeouts,
    /// and the same idle limit as the statement timeout (a stalled write releases its locks).
    pub fn transaction_settings(&self) -> TransactionSettings {
        let statement = Duration::from_millis(self.database_statement_timeout_ms);
        TransactionSettings {
            statement_timeout: Some(statement),
            lock_timeout: Some(Duration::from_millis(self.database_lock_timeout_ms)),
            idle_timeout: Some(statement),
            asynchronous_commit: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_database_url() {
        let cli = Cli::try_parse_from([
            "payment-api",
            "migrate",
            "--database-url",
            "postgres://u:hunter2@h/db",
        ])
        .unwrap();
        let printed = format!("{cli:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
