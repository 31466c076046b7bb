//! `idempotency_records`: the stored answers of writes sent with an idempotency key.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::idempotency_records;

diesel::define_sql_function! {
    /// PostgreSQL's `pg_try_advisory_xact_lock(bigint)`: takes a transaction-scoped advisory
    /// lock if free; `false` when another transaction holds it.
    fn pg_try_advisory_xact_lock(key: diesel::sql_types::BigInt) -> diesel::sql_types::Bool;
}

diesel::define_sql_function! {
    /// PostgreSQL's `hashtextextended(text, bigint)`: a 64-bit hash of the text.
    fn hashtextextended(text: diesel::sql_types::Text, seed: diesel::sql_types::BigInt) -> diesel::sql_types::BigInt;
}

/// An idempotency record row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_records, check_for_backend(diesel::pg::Pg))]
pub struct IdempotencyRecord {
    /// Merchant scope.
    pub merchant_id: Uuid,
    /// Operation scope: `authorize`, `capture`, `void` or `refund`.
    pub operation: String,
    /// The key as sent.
    pub idempotency_key: String,
    /// SHA-256 of the canonical request.
    pub request_hash: Vec<u8>,
    /// Payment the write produced or changed.
    pub payment_id: Uuid,
    /// The original answer, replayed as is.
    pub response: serde_json::Value,
    /// When the write committed.
    pub created_at: DateTime<Utc>,
}

/// An idempotency record to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = idempotency_records, treat_none_as_default_value = false)]
pub struct NewIdempotencyRecord<'a> {
    /// Merchant scope.
    pub merchant_id: Uuid,
    /// Operation scope.
    pub operation: &'a str,
    /// The key as sent.
    pub idempotency_key: &'a str,
    /// SHA-256 of the canonical request.
    pub request_hash: &'a [u8],
    /// Payment the write produced or changed.
    pub payment_id: Uuid,
    /// The answer to replay.
    pub response: &'a serde_json::Value,
}

impl NewIdempotencyRecord<'_> {
    /// Inserts the record.
    ///
    /// # Errors
    /// Database errors (a unique violation means a concurrent writer won the key).
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(idempotency_records::table)
            .values(self)
            .execute(conn)
            .await
            .map(drop)
    }
}

/// Finds the record of `(merchant, operation, key)`.
///
/// # Errors
/// Database errors.
pub async fn find(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    operation: &str,
    key: &str,
) -> QueryResult<Option<IdempotencyRecord>> {
    idempotency_records::table
        .find((merchant_id, operation, key))
        .select(IdempotencyRecord::as_select())
        .first(conn)
        .await
        .optional()
}

/// Takes the transaction-scoped advisory lock of `(merchant, operation, key)` without
/// waiting. `false` means another transaction holds it: the same key is in flight.
///
/// # Errors
/// Database errors.
pub async fn try_lock(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    operation: &str,
    key: &str,
) -> QueryResult<bool> {
    let scope = format!("idempotency:{merchant_id}:{operation}:{key}");
    // Built with the query builder (not `sql_query`) so diesel caches the prepared statement.
    diesel::select(pg_try_advisory_xact_lock(hashtextextended(scope, 0_i64)))
        .get_result(conn)
        .await
}

/// Deletes the record of `(merchant, operation, key)`: how an expired record makes way for the
/// new request that reuses its key (in that request's transaction, so a rejected request
/// leaves the old record where it was).
///
/// # Errors
/// Database errors.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    merchant_id: Uuid,
    operation: &str,
    key: &str,
) -> QueryResult<()> {
    diesel::delete(idempotency_records::table.find((merchant_id, operation, key)))
        .execute(conn)
        .await
        .map(drop)
}

/// Retention of `idempotency_records`: records created before the cutoff, oldest first, by
/// the `created_at` index; rows a concurrent write has locked are skipped (the next run takes
/// them). Used by `payment-api admin purge-idempotency` through [`crate::retention`].
pub const RETENTION: crate::retention::Policy = crate::retention::Policy {
    delete_batch: "DELETE FROM idempotency_records WHERE ctid = ANY(ARRAY(\
                   SELECT ctid FROM idempotency_records WHERE created_at < $1 \
                   ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))",
    count: "SELECT count(*) AS count FROM (SELECT 1 FROM idempotency_records \
            WHERE created_at < $1 LIMIT $2) eligible",
};
