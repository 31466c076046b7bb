//! `merchant_rate_limits`: per-merchant overrides of the API's default rate limits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::merchant_rate_limits;

/// A merchant's overrides. Each value is a positive count; `None` keeps the API's default
/// (`RATE_LIMIT_WRITES_*`, `RATE_LIMIT_READS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = merchant_rate_limits, check_for_backend(diesel::pg::Pg))]
pub struct RateLimitOverride {
    /// Writes (authorize, capture, void, refund) per second, sustained.
    pub writes_per_second: Option<i32>,
    /// Writes allowed at once.
    pub writes_burst: Option<i32>,
    /// Reads (get, list) per second, sustained.
    pub reads_per_second: Option<i32>,
    /// Reads allowed at once.
    pub reads_burst: Option<i32>,
}

/// A stored override row, with its merchant and when it last changed.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = merchant_rate_limits, check_for_backend(diesel::pg::Pg))]
pub struct MerchantRateLimit {
    /// The merchant.
    pub merchant_id: Uuid,
    /// The values.
    #[diesel(embed)]
    pub limits: RateLimitOverride,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Sets the values of `merchant` that are `Some` in `change` (the others keep what was stored,
/// or the default when nothing was) and returns the stored row. One statement.
///
/// # Errors
/// Database errors: a foreign-key violation for an unknown merchant, a check violation for a
/// value below 1.
pub async fn upsert(
    conn: &mut AsyncPgConnection,
    merchant: Uuid,
    change: RateLimitOverride,
) -> QueryResult<MerchantRateLimit> {
    use diesel::sql_types::{Integer, Nullable};
    diesel::sql_query(
        "INSERT INTO merchant_rate_limits AS m \
           (merchant_id, writes_per_second, writes_burst, reads_per_second, reads_burst) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (merchant_id) DO UPDATE SET \
           writes_per_second = coalesce(excluded.writes_per_second, m.writes_per_second), \
           writes_burst = coalesce(excluded.writes_burst, m.writes_burst), \
           reads_per_second = coalesce(excluded.reads_per_second, m.reads_per_second), \
           reads_burst = coalesce(excluded.reads_burst, m.reads_burst), \
           updated_at = now() \
         RETURNING *",
    )
    .bind::<diesel::sql_types::Uuid, _>(merchant)
    .bind::<Nullable<Integer>, _>(change.writes_per_second)
    .bind::<Nullable<Integer>, _>(change.writes_burst)
    .bind::<Nullable<Integer>, _>(change.reads_per_second)
    .bind::<Nullable<Integer>, _>(change.reads_burst)
    .get_result(conn)
    .await
}

/// Removes the overrides of `merchant` (back to the defaults); whether there were any.
///
/// # Errors
/// Database errors.
pub async fn delete(conn: &mut AsyncPgConnection, merchant: Uuid) -> QueryResult<bool> {
    diesel::delete(merchant_rate_limits::table.find(merchant))
        .execute(conn)
        .await
        .map(|deleted| deleted > 0)
}
