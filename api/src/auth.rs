//! API keys: generation, hashing and bearer authentication (RFC 6750).
//!
//! A key is `sk_` followed by 43 base64url characters (256 random bits). Only its SHA-256 is
//! stored: with that much entropy a fast hash is as safe as a slow one and keeps a lookup to
//! one indexed read. Keys are held in [`SecretString`] so they cannot be logged by accident.
//! Lookups are cached and limited per client ([`Authenticator`]).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payment_db::Database;
use payment_db::models::{RateLimitOverride, api_key};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// Start of every key.
pub const KEY_PREFIX: &str = "sk_";
/// Characters of the non-secret prefix kept in the database (`sk_` + 8).
const STORED_PREFIX_LEN: usize = 11;
/// Length of a whole key.
const KEY_LEN: usize = 3 + 43;

/// A freshly generated key: the secret (shown once), its hash and its non-secret prefix.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The key itself; print once, never store.
    pub secret: SecretString,
    /// SHA-256 of the key.
    pub hash: Vec<u8>,
    /// First characters, for recognising the key.
    pub prefix: String,
}

/// Generates a new random key.
pub fn generate_key() -> GeneratedKey {
    let bytes: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = key.chars().take(STORED_PREFIX_LEN).collect();
    GeneratedKey {
        hash: hash_key(&key),
        prefix,
        secret: SecretString::from(key),
    }
}

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Extracts the key of an `Authorization: Bearer <key>` value (scheme case-insensitive,
/// RFC 7235), without touching the database.
fn bearer_key(header: Option<&[u8]>) -> Option<SecretString> {
    let value = std::str::from_utf8(header?).ok()?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && key.len() == KEY_LEN
        && key.starts_with(KEY_PREFIX)
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| SecretString::from(key.to_owned()))
}

/// Most key lookups the [`Authenticator`] keeps (known and unknown keys alike): about 1 MiB.
pub const MAX_CACHED_KEYS: u64 = 10_000;

/// Settings of [`Authenticator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// How long a key lookup (merchant found, or no active key) is reused
    /// (`AUTH_CACHE_TTL_MS`); also how long a revoked key may still pass. Zero: no cache.
    pub cache_ttl: Duration,
    /// Database lookups (cache misses) allowed per client address per second, with a burst of
    /// twice as many (`AUTH_LOOKUPS_PER_SECOND`); `None`: no limit.
    pub lookups_per_second: Option<NonZeroU32>,
}

impl Default for AuthSettings {
    /// 5 s cache, 20 lookups per second per client.
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(5),
            lookups_per_second: NonZeroU32::new(20),
        }
    }
}

type ClientLimiter = governor::DefaultKeyedRateLimiter<IpAddr>;

/// Who a key authenticates: the merchant, and its rate-limit overrides (read in the same
/// lookup, so they are as fresh as the key: at most [`AuthSettings::cache_ttl`] old).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The merchant owning the key.
    pub merchant: Uuid,
    /// Its overrides of the default budgets (`payment-api admin set-rate-limit`).
    pub rate_limits: RateLimitOverride,
}

/// Bearer authentication that a flood cannot push through to the database: key lookups are
/// cached ([`AuthSettings::cache_ttl`], at most [`MAX_CACHED_KEYS`], unknown keys too), and
/// the lookups that miss the cache are limited per client address
/// ([`crate::peer::ClientAddr`]; an unknown address shares one budget). A well-formed but
/// random key therefore costs one lookup, and a client sending many costs at most its
/// budget; a merchant whose key is cached is not slowed down.
pub struct Authenticator {
    cache: Option<moka::sync::Cache<Vec<u8>, Option<Principal>>>,
    limiter: Option<ClientLimiter>,
    lookups: AtomicU64,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field(
                "cached",
                &self.cache.as_ref().map(moka::sync::Cache::entry_count),
            )
            .field("lookups", &self.lookups)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator with `settings`.
    pub fn new(settings: AuthSettings) -> Self {
        let cache = (!settings.cache_ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(MAX_CACHED_KEYS)
                .time_to_live(settings.cache_ttl)
                .build()
        });
        let limiter = settings.lookups_per_second.map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            cache,
            limiter,
            lookups: AtomicU64::new(0),
        }
    }

    /// Database lookups made so far (cache misses that passed the limit).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Returns the merchant (with its rate-limit overrides) of the key in an `Authorization`
    /// header value (gRPC: the `authorization` metadata entry) sent from `client`.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] for a missing, malformed, unknown or revoked key;
    /// [`ApiError::RateLimited`] when `client` has spent its lookup budget (the key is not
    /// checked); [`ApiError::DatabaseUnavailable`] when the key cannot be checked.
    pub async fn authenticate(
        &self,
        db: &Database,
        header: Option<&[u8]>,
        client: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let key = bearer_key(header).ok_or(ApiError::Unauthenticated)?;
        let hash = hash_key(key.expose_secret());
        if let Some(found) = self.cache.as_ref().and_then(|cache| cache.get(&hash)) {
            return found.ok_or(ApiError::Unauthenticated);
        }
        if let Some(limiter) = &self.limiter {
            let client = client.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            if limiter.check_key(&client).is_err() {
                return Err(ApiError::RateLimited { policy: None });
            }
            // Forget idle clients now and then, so many addresses cannot grow the table.
            if self.lookups.load(Ordering::Relaxed).is_multiple_of(1024) {
                limiter.retain_recent();
            }
        }
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found = db
            .transaction::<_, ApiError, _>(async |conn| {
                let found = api_key::find_active_merchant(conn, &hash).await?;
                if found.is_some() {
                    record_use(conn, &hash).await;
                }
                Ok(found.map(|(merchant, rate_limits)| Principal {
                    merchant,
                    rate_limits,
                }))
            })
            .await?;
        if let Some(cache) = &self.cache {
            cache.insert(hash.clone(), found);
        }
        found.ok_or(ApiError::Unauthenticated)
    }
}

/// Sets the key's `last_used_at` in the lookup's transaction, inside a savepoint: once per
/// cache miss (at most once per cache TTL per instance), on the connection the lookup already
/// holds, never waiting for a row lock, and never failing the request (during a failover the
/// database is read-only: the savepoint is rolled back and the request is served all the same).
async fn record_use(conn: &mut diesel_async::AsyncPgConnection, hash: &[u8]) {
    use diesel_async::AsyncConnection;
    let written = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            api_key::record_use(conn, hash).await
        })
        .await;
    if let Err(error) = written {
        tracing::debug!(error = %error, "last_used_at not recorded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_as_bearer_tokens() {
        let key = generate_key();
        let header = format!("Bearer {}", key.secret.expose_secret());
        let parsed = bearer_key(Some(header.as_bytes())).unwrap();
        assert_eq!(hash_key(parsed.expose_secret()), key.hash);
        assert!(
            bearer_key(Some(
                format!("bearer {}", key.secret.expose_secret()).as_bytes()
            ))
            .is_some()
        );
        assert_eq!(key.prefix.len(), STORED_PREFIX_LEN);
        assert!(!format!("{key:?}").contains(key.secret.expose_secret()));
    }

    #[test]
    fn anything_else_is_refused_before_the_database() {
        for header in [
            "",
            "Bearer",
            "Basic abc",
            "Bearer sk_short",
            "Token sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(bearer_key(Some(header.as_bytes())).is_none(), "{header}");
        }
        assert!(bearer_key(None).is_none());
    }
}
