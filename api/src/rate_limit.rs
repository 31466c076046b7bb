//! Per-merchant rate limits: the same decision for every call on every surface, taken once
//! per request right after authentication ([`crate::service::PaymentService::authenticate`]).
//!
//! Both limiters implement GCRA (the generic cell rate algorithm, ITU-T I.371): a merchant's
//! state is one number, the theoretical arrival time (TAT) of its next request; a request is
//! admitted when `now ≥ TAT − (burst − 1) × interval`, and then moves the TAT one `interval`
//! (`1 s / per_second`) on. It admits `burst` requests at once and `per_second` sustained, and
//! (unlike a sliding-window log) needs O(1) memory per merchant and one read-modify-write.
//!
//! * [`MerchantLimiter::Local`] (no `REDIS_URL`): `governor`'s in-process GCRA. Per instance:
//!   N instances admit N times the limit.
//! * [`MerchantLimiter::Redis`] (`REDIS_URL` set): one budget per merchant shared by every
//!   instance, decided by one Lua script run atomically by Redis ([`GCRA_SCRIPT`]) on Redis's
//!   own clock (`TIME`), so instance clocks do not matter. Each decision waits at most
//!   `timeout` (default 20 ms); when Redis is slow or down the request is admitted
//!   ([`FailMode::Open`], the default: a warning and `rate_limiter_errors_total`) or refused
//!   with 503 `rate_limiter_unavailable` ([`FailMode::Closed`]). A new connection is tried on
//!   the next request, so the limiter recovers without a restart.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use payment_db::models::RateLimitOverride;

use crate::error::{ApiError, RatePolicy};

/// What a Redis-backed limiter does when Redis does not answer in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FailMode {
    /// Admit the request (a warning and `rate_limiter_errors_total`).
    #[default]
    Open,
    /// Refuse it: 503 `rate_limiter_unavailable` (gRPC UNAVAILABLE), retryable.
    Closed,
}

/// Settings of the shared limiter.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS) URL, with `user:password@` for AUTH.
    pub url: secrecy::SecretString,
    /// AUTH password that replaces the URL's (`REDIS_AUTH_SECRET_ARN`); `None`: the URL's.
    pub password: Option<secrecy::SecretString>,
    /// Prefix of the limiter's keys (`{prefix}{merchant_id}:{writes|reads}`).
    pub key_prefix: String,
    /// Longest wait for one decision.
    pub timeout: Duration,
    /// What to do when Redis does not answer within `timeout`.
    pub fail_mode: FailMode,
}

/// GCRA in one atomic step. KEYS[1]: the merchant's key. ARGV[1]: the emission interval in µs;
/// ARGV[2]: the burst. Returns `{admitted (0|1), retry_after_us}`. The key holds the TAT in µs
/// of Redis's clock and expires when it would no longer limit anything.
pub const GCRA_SCRIPT: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local earliest = tat - tolerance
if now < earliest then
  return {0, earliest - now}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, 0}
";

/// A budget: a steady rate and a burst (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// What a request does, for its budget: each merchant has one budget per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    /// Authorize, capture, void, refund.
    Write,
    /// Get and list payments.
    Read,
}

impl RateClass {
    /// The policy name in the `RateLimit-Policy` / `RateLimit` fields and the Redis key:
    /// `writes` or `reads`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Write => "writes",
            Self::Read => "reads",
        }
    }
}

/// The default budgets of every merchant (`RATE_LIMIT_WRITES_*`, `RATE_LIMIT_READS_*`);
/// `None`: the class is not limited unless a merchant's override says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Writes (authorize, capture, void, refund).
    pub writes: Option<RateLimit>,
    /// Reads (get, list).
    pub reads: Option<RateLimit>,
}

impl RateLimits {
    /// The same budget for both classes.
    pub fn both(limit: RateLimit) -> Self {
        Self {
            writes: Some(limit),
            reads: Some(limit),
        }
    }

    /// The budget of `class` for a merchant with `overrides` (`payment-api admin
    /// set-rate-limit`): each value the override sets replaces the default; a rate set
    /// without a burst, where there is no default burst either, allows a burst of one second
    /// of the rate. `None`: not limited.
    pub fn effective(&self, class: RateClass, overrides: &RateLimitOverride) -> Option<RateLimit> {
        let (default, per_second, burst) = match class {
            RateClass::Write => (
                self.writes,
                overrides.writes_per_second,
                overrides.writes_burst,
            ),
            RateClass::Read => (
                self.reads,
                overrides.reads_per_second,
                overrides.reads_burst,
            ),
        };
        let positive = |value: Option<i32>| {
            value
                .and_then(|value| u32::try_from(value).ok())
                .and_then(NonZeroU32::new)
        };
        let per_second = positive(per_second).or(default.map(|limit| limit.per_second))?;
        let burst = positive(burst)
            .or(default.map(|limit| limit.burst))
            .unwrap_or(per_second);
        Some(RateLimit { per_second, burst })
    }
}

type LocalLimiter = governor::DefaultKeyedRateLimiter<(Uuid, RateClass)>;

/// The per-merchant limiter of one API instance: default budgets, and where the budgets live.
/// Cheap to clone.
#[derive(Clone)]
pub struct MerchantLimiter {
    defaults: RateLimits,
    store: Store,
}

#[derive(Clone)]
enum Store {
    /// In-process buckets (per instance): one `governor` limiter per distinct budget, so a
    /// merchant whose budget changes starts a fresh bucket under the new one.
    Local(moka::sync::Cache<RateLimit, Arc<LocalLimiter>>),
    /// One budget per merchant and class in Redis, shared by every instance.
    Redis(Arc<RedisLimiter>),
}

impl std::fmt::Debug for MerchantLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Local(_) => "local",
            Store::Redis(_) => "redis",
        };
        f.debug_struct("MerchantLimiter")
            .field("defaults", &self.defaults)
            .field("store", &store)
            .finish()
    }
}

/// The Redis-backed store: a connection pool, the script and the error count.
pub struct RedisLimiter {
    pool: deadpool_redis::Pool,
    script: deadpool_redis::redis::Script,
    settings: RedisSettings,
    errors: AtomicU64,
}

/// Distinct budgets the local store keeps a limiter for (defaults and overrides alike).
const MAX_LOCAL_BUDGETS: u64 = 10_000;

impl MerchantLimiter {
    /// An in-process limiter.
    pub fn local(defaults: RateLimits) -> Self {
        Self {
            defaults,
            store: Store::Local(moka::sync::Cache::new(MAX_LOCAL_BUDGETS)),
        }
    }

    /// A limiter shared through Redis. Connects lazily: a Redis that is down at start is
    /// handled like one that goes down later.
    ///
    /// # Errors
    /// A URL the client cannot parse (scheme other than `redis`/`rediss`, bad port, …).
    pub fn redis(defaults: RateLimits, settings: RedisSettings) -> Result<Self, String> {
        use deadpool_redis::redis::IntoConnectionInfo;
        use secrecy::ExposeSecret;
        // Parse here so a bad URL fails at start, not on the first request.
        let mut connection: deadpool_redis::ConnectionInfo = settings
            .url
            .expose_secret()
            .into_connection_info()
            .map_err(|error| format!("REDIS_URL is not a Redis URL: {:?}", error.kind()))?
            .into();
        if let Some(password) = &settings.password {
            connection.redis.password = Some(password.expose_secret().to_owned());
        }
        let mut config = deadpool_redis::Config::from_connection_info(connection);
        config.pool = Some(deadpool_redis::PoolConfig {
            max_size: 16,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(settings.timeout),
                create: Some(settings.timeout),
                recycle: Some(settings.timeout),
            },
            ..deadpool_redis::PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|_| "REDIS_URL: the connection pool could not be built".to_owned())?;
        Ok(Self {
            defaults,
            store: Store::Redis(Arc::new(RedisLimiter {
                pool,
                script: deadpool_redis::redis::Script::new(GCRA_SCRIPT),
                settings,
                errors: AtomicU64::new(0),
            })),
        })
    }

    /// Decides one request of class `class` by `merchant`, whose overrides are `overrides`
    /// (read with its API key, so they change within `AUTH_CACHE_TTL_MS`).
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] (429, RESOURCE_EXHAUSTED) over the budget;
    /// [`ApiError::RateLimiterUnavailable`] (503, UNAVAILABLE) when Redis does not answer
    /// within the timeout and the fail mode is [`FailMode::Closed`].
    pub async fn check(
        &self,
        merchant: Uuid,
        class: RateClass,
        overrides: &RateLimitOverride,
    ) -> Result<(), ApiError> {
        let Some(limit) = self.defaults.effective(class, overrides) else {
            return Ok(());
        };
        match &self.store {
            Store::Local(limiters) => {
                let limiter = limiters.get_with(limit, || {
                    let quota =
                        governor::Quota::per_second(limit.per_second).allow_burst(limit.burst);
                    Arc::new(governor::RateLimiter::keyed(quota))
                });
                limiter.check_key(&(merchant, class)).map_err(|not_until| {
                    use governor::clock::Clock;
                    let now = governor::clock::DefaultClock::default().now();
                    refused(class, limit, not_until.wait_time_from(now))
                })
            }
            Store::Redis(limiter) => limiter.check(merchant, class, limit).await,
        }
    }

    /// Decisions Redis did not answer in time (or answered with an error) since start.
    pub fn errors(&self) -> u64 {
        match &self.store {
            Store::Local(_) => 0,
            Store::Redis(limiter) => limiter.errors.load(Ordering::Relaxed),
        }
    }
}

/// The 429 of a spent budget, with the policy for the `RateLimit` fields.
fn refused(class: RateClass, limit: RateLimit, wait: Duration) -> ApiError {
    let (burst, rate) = (
        u64::from(limit.burst.get()),
        u64::from(limit.per_second.get()),
    );
    ApiError::RateLimited {
        policy: Some(RatePolicy {
            name: class.as_str(),
            quota: limit.burst.get(),
            window_secs: burst.div_ceil(rate),
            reset_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }),
    }
}

impl RedisLimiter {
    async fn check(
        &self,
        merchant: Uuid,
        class: RateClass,
        limit: RateLimit,
    ) -> Result<(), ApiError> {
        let decision =
            tokio::time::timeout(self.settings.timeout, self.decide(merchant, class, limit)).await;
        let failure = match decision {
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(wait))) => return Err(refused(class, limit, wait)),
            Ok(Err(cause)) => cause,
            Err(_) => "timed out".to_owned(),
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        match self.settings.fail_mode {
            FailMode::Open => {
                tracing::warn!(cause = %failure, "rate limiter unavailable: request admitted (fail-open)");
                Ok(())
            }
            FailMode::Closed => {
                tracing::warn!(cause = %failure, "rate limiter unavailable: request refused (fail-closed)");
                Err(ApiError::RateLimiterUnavailable)
            }
        }
    }

    /// Runs the script: `Ok(None)` admitted, `Ok(Some(wait))` refused until a unit is back in
    /// `wait`, or the kind of Redis error (never the URL).
    async fn decide(
        &self,
        merchant: Uuid,
        class: RateClass,
        limit: RateLimit,
    ) -> Result<Option<Duration>, String> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|error| format!("no connection: {}", pool_error_kind(&error)))?;
        // At least 1 µs: above 10^6 per second the script would otherwise never advance.
        let interval_us = (1_000_000 / u64::from(limit.per_second.get())).max(1);
        let (admitted, retry_after_us): (u8, u64) = self
            .script
            .key(format!(
                "{}{merchant}:{}",
                self.settings.key_prefix,
                class.as_str()
            ))
            .arg(interval_us)
            .arg(limit.burst.get())
            .invoke_async(&mut *conn)
            .await
            .map_err(|error| format!("script failed: {:?}", error.kind()))?;
        Ok((admitted != 1).then(|| Duration::from_micros(retry_after_us)))
    }
}

/// What went wrong getting a connection, without the URL: `timeout`, the Redis error kind
/// (`AuthenticationFailed` for a wrong AUTH token, `IoError` for a refused connection), or a
/// closed pool.
fn pool_error_kind(error: &deadpool_redis::PoolError) -> String {
    match error {
        deadpool_redis::PoolError::Timeout(_) => "timeout".to_owned(),
        deadpool_redis::PoolError::Backend(error) => format!("{:?}", error.kind()),
        _ => "pool closed".to_owned(),
    }
}
