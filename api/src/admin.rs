//! `payment-api admin`: merchants, API keys, per-merchant rate limits and the idempotency records' retention. Several keys of one merchant may be active at
//! once, so a key is rotated without downtime: create a new one, hand it over, revoke the old
//! one. A revoked key is refused within `AUTH_CACHE_TTL_MS` (5 s) on every running instance.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use payment_db::models::{NewApiKey, NewMerchant};
use secrecy::SecretString;
use uuid::Uuid;

use crate::auth;

/// A created merchant and its first key (shown once).
#[derive(Debug)]
pub struct CreatedMerchant {
    /// Merchant id.
    pub merchant_id: Uuid,
    /// The API key; never stored in clear.
    pub api_key: SecretString,
}

/// Creates a merchant and one API key in one transaction.
///
/// # Errors
/// Database errors, including a check violation when `name` is empty or over 200 characters.
pub async fn create_merchant(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<CreatedMerchant, diesel::result::Error> {
    let merchant_id = Uuid::now_v7();
    let key = auth::generate_key();
    conn.transaction(async move |conn| {
        NewMerchant {
            id: merchant_id,
            name,
        }
        .insert(conn)
        .await?;
        NewApiKey {
            id: Uuid::now_v7(),
            merchant_id,
            key_hash: &key.hash,
            key_prefix: &key.prefix,
        }
        .insert(conn)
        .await?;
        Ok(CreatedMerchant {
            merchant_id,
            api_key: key.secret,
        })
    })
    .await
}

/// A key created for an existing merchant (shown once).
#[derive(Debug)]
pub struct CreatedKey {
    /// Key id (for `list-keys` and `revoke-key`).
    pub key_id: Uuid,
    /// The API key; never stored in clear.
    pub api_key: SecretString,
}

/// Why an admin command could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No merchant has this id.
    #[error("no merchant with id {0}")]
    UnknownMerchant(Uuid),
    /// No key has this id.
    #[error("no API key with id {0}")]
    UnknownKey(Uuid),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

/// Creates another key for merchant `merchant_id`, in one transaction with the check that the
/// merchant exists.
///
/// # Errors
/// [`AdminError::UnknownMerchant`], database errors.
pub async fn create_key(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
) -> Result<CreatedKey, AdminError> {
    let key = auth::generate_key();
    let key_id = Uuid::now_v7();
    conn.transaction(async move |conn| {
        if !payment_db::models::merchant::exists(conn, merchant_id).await? {
            return Err(AdminError::UnknownMerchant(merchant_id));
        }
        NewApiKey {
            id: key_id,
            merchant_id,
            key_hash: &key.hash,
            key_prefix: &key.prefix,
        }
        .insert(conn)
        .await?;
        Ok(CreatedKey {
            key_id,
            api_key: key.secret,
        })
    })
    .await
}

/// One key as `list-keys` and `revoke-key` print it (never the key itself, only its prefix).
pub fn key_json(key: &payment_db::models::ApiKey) -> serde_json::Value {
    serde_json::json!({
        "key_id": key.id,
        "merchant_id": key.merchant_id,
        "prefix": key.key_prefix,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    })
}

/// The keys of merchant `merchant_id`, oldest first.
///
/// # Errors
/// [`AdminError::UnknownMerchant`], database errors.
pub async fn list_keys(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
) -> Result<Vec<payment_db::models::ApiKey>, AdminError> {
    conn.transaction(async move |conn| {
        if !payment_db::models::merchant::exists(conn, merchant_id).await? {
            return Err(AdminError::UnknownMerchant(merchant_id));
        }
        Ok(payment_db::models::api_key::list_for_merchant(conn, merchant_id).await?)
    })
    .await
}

/// Revokes key `key_id` (again: a no-op that keeps the first revocation time).
///
/// # Errors
/// [`AdminError::UnknownKey`], database errors.
pub async fn revoke_key(
    conn: &mut AsyncPgConnection,
    key_id: Uuid,
) -> Result<payment_db::models::ApiKey, AdminError> {
    conn.transaction(async move |conn| {
        payment_db::models::api_key::revoke(conn, key_id)
            .await?
            .ok_or(AdminError::UnknownKey(key_id))
    })
    .await
}

/// Every merchant with its count of active keys, as JSON lines: `merchant_id`, `name`,
/// `created_at`, `active_keys`.
///
/// # Errors
/// Database errors.
pub async fn list_merchants(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<serde_json::Value>, AdminError> {
    let merchants = conn
        .transaction(async |conn| payment_db::models::merchant::list(conn).await)
        .await?;
    Ok(merchants
        .iter()
        .map(|summary| {
            serde_json::json!({
                "merchant_id": summary.merchant.id,
                "name": summary.merchant.name,
                "created_at": summary.merchant.created_at,
                "active_keys": summary.active_keys,
            })
        })
        .collect())
}

/// Sets (or with `reset`, removes) the rate-limit overrides of `merchant_id`, in one
/// transaction with the check that the merchant exists. Returns the stored overrides as JSON:
/// `merchant_id`, `writes_per_second`, `writes_burst`, `reads_per_second`, `reads_burst`
/// (`null`: the default) and `updated_at` (`null` after a reset).
///
/// # Errors
/// [`AdminError::UnknownMerchant`], database errors.
pub async fn set_rate_limit(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    limits: &crate::config::RateLimitArgs,
) -> Result<serde_json::Value, AdminError> {
    use payment_db::models::{RateLimitOverride, merchant_rate_limit};
    let change = RateLimitOverride {
        writes_per_second: limits.writes_per_second,
        writes_burst: limits.writes_burst,
        reads_per_second: limits.reads_per_second,
        reads_burst: limits.reads_burst,
    };
    let reset = limits.reset;
    let stored = conn
        .transaction(async move |conn| {
            if !payment_db::models::merchant::exists(conn, merchant_id).await? {
                return Err(AdminError::UnknownMerchant(merchant_id));
            }
            if reset {
                merchant_rate_limit::delete(conn, merchant_id).await?;
                return Ok(None);
            }
            Ok(Some(
                merchant_rate_limit::upsert(conn, merchant_id, change).await?,
            ))
        })
        .await?;
    let limits = stored.as_ref().map(|row| row.limits).unwrap_or_default();
    Ok(serde_json::json!({
        "merchant_id": merchant_id,
        "writes_per_second": limits.writes_per_second,
        "writes_burst": limits.writes_burst,
        "reads_per_second": limits.reads_per_second,
        "reads_burst": limits.reads_burst,
        "updated_at": stored.map(|row| row.updated_at),
    }))
}

/// Statement timeout of each purge batch: a batch that takes longer is cancelled (and rolled
/// back) rather than holding its locks.
pub const PURGE_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The age past which `admin purge-idempotency` deletes records: `--older-than`, or the key
/// TTL when it is not given.
///
/// # Errors
/// A usage message when `--older-than` is shorter than the key TTL: such a purge would delete
/// records that still answer replays, so a retried write could be charged twice.
pub fn purge_age(
    args: &crate::config::PurgeIdempotencyArgs,
) -> Result<std::time::Duration, String> {
    let ttl = args.idempotency.idempotency_key_ttl;
    let age = args.older_than.unwrap_or(ttl);
    if age < ttl {
        return Err(format!(
            "--older-than {} is shorter than IDEMPOTENCY_KEY_TTL {}: those records still answer replays",
            humantime::format_duration(age),
            humantime::format_duration(ttl)
        ));
    }
    Ok(age)
}

/// Deletes idempotency records older than `age` as [`crate::config::PurgeIdempotencyArgs`]
/// says (batches, bound, dry run), through `payment_db::retention`. Answers the JSON line to
/// print: `{"purged","more","batches"}` or `{"dry_run":true,"would_purge","more"}`.
///
/// # Errors
/// Database errors (batches committed before one stay deleted).
pub async fn purge_idempotency(
    conn: &mut AsyncPgConnection,
    args: &crate::config::PurgeIdempotencyArgs,
    age: std::time::Duration,
) -> Result<serde_json::Value, AdminError> {
    use payment_db::retention;
    let settings = payment_db::TransactionSettings {
        statement_timeout: Some(PURGE_STATEMENT_TIMEOUT),
        ..payment_db::TransactionSettings::default()
    };
    let policy = payment_db::models::idempotency_record::RETENTION;
    let cutoff = retention::cutoff(age);
    let max_rows = if args.yes { i64::MAX } else { args.max_rows };
    if args.dry_run {
        let count =
            retention::count(conn, &settings, policy, cutoff, max_rows.saturating_add(1)).await?;
        return Ok(serde_json::json!({
            "dry_run": true,
            "would_purge": count.min(max_rows),
            "more": count > max_rows,
        }));
    }
    let done = retention::purge(conn, &settings, policy, cutoff, args.batch, max_rows).await?;
    if done.more {
        tracing::warn!(
            purged = done.purged,
            max_rows,
            "more idempotency records are past retention: run again, or pass --yes"
        );
    }
    Ok(serde_json::json!(done))
}
