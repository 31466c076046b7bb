//! `api_keys`: hashed bearer keys of merchants.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::models::RateLimitOverride;
use crate::schema::{api_keys, merchant_rate_limits};

/// An API key row. The key itself is never stored, only its SHA-256.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    /// Key id.
    pub id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// SHA-256 of the key (32 bytes).
    pub key_hash: Vec<u8>,
    /// Non-secret start of the key.
    pub key_prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When set, the key no longer authenticates.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last database lookup of the key for a request (see [`record_use`]); `None`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An API key to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    /// Key id.
    pub id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// SHA-256 of the key (32 bytes).
    pub key_hash: &'a [u8],
    /// Non-secret start of the key.
    pub key_prefix: &'a str,
}

impl NewApiKey<'_> {
    /// Inserts the key.
    ///
    /// # Errors
    /// Database errors (unique violation on a repeated hash).
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(api_keys::table)
            .values(self)
            .execute(conn)
            .await
            .map(drop)
    }
}

/// Returns the merchant owning the active (not revoked) key with this hash, if any, with the
/// merchant's rate-limit overrides (all `None` when it has none). One indexed read.
///
/// # Errors
/// Database errors.
pub async fn find_active_merchant(
    conn: &mut AsyncPgConnection,
    key_hash: &[u8],
) -> QueryResult<Option<(Uuid, RateLimitOverride)>> {
    use merchant_rate_limits as limits;
    api_keys::table
        .left_join(
            merchant_rate_limits::table
                .on(merchant_rate_limits::merchant_id.eq(api_keys::merchant_id)),
        )
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select((
            api_keys::merchant_id,
            (
                limits::writes_per_second.nullable(),
                limits::writes_burst.nullable(),
                limits::reads_per_second.nullable(),
                limits::reads_burst.nullable(),
            ),
        ))
        .first(conn)
        .await
        .optional()
}

/// Records that the key with this hash authenticated a request now: sets `last_used_at`,
/// unless it was set less than a second ago (so a burst of lookups from many instances writes
/// the row about once a second) or another transaction holds the row (`SKIP LOCKED`: it never
/// waits). Returns the rows changed (0 or 1).
///
/// # Errors
/// Database errors (e.g. a read-only server during a failover).
pub async fn record_use(conn: &mut AsyncPgConnection, key_hash: &[u8]) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE api_keys SET last_used_at = now() WHERE id = (\
           SELECT id FROM api_keys WHERE key_hash = $1 \
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 second') \
           FOR UPDATE SKIP LOCKED)",
    )
    .bind::<diesel::sql_types::Bytea, _>(key_hash)
    .execute(conn)
    .await
}

/// The keys of `merchant_id`, oldest first (revoked ones too).
///
/// # Errors
/// Database errors.
pub async fn list_for_merchant(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::merchant_id.eq(merchant_id))
        .order((api_keys::created_at, api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)
        .await
}

/// Revokes key `key_id` now (a key already revoked keeps its first `revoked_at`) and returns
/// the row; `None` when there is no such key. Two statements: run it in a transaction.
///
/// # Errors
/// Database errors.
pub async fn revoke(conn: &mut AsyncPgConnection, key_id: Uuid) -> QueryResult<Option<ApiKey>> {
    diesel::update(
        api_keys::table
            .find(key_id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    api_keys::table
        .find(key_id)
        .select(ApiKey::as_select())
        .first(conn)
        .await
        .optional()
}
