//! Retention: rows past their table's retention, deleted in bounded batches.
//!
//! Each batch is one statement in its own transaction, so a purge holds its row locks for one
//! batch only and never blocks the write path for longer than that; writers and the purge skip
//! each other's locked rows instead of waiting. `relay-job purge` (published outbox events)
//! and `payment-api admin purge-idempotency` (expired idempotency records) share this loop.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::session::{self, TransactionSettings};

/// The two statements of one table's retention. Both take `$1` (timestamptz: rows older than
/// this are past retention) and `$2` (bigint: at most this many rows).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Deletes at most `$2` eligible rows, oldest first.
    pub delete_batch: &'static str,
    /// Selects `count` (bigint): the eligible rows, counted up to `$2`.
    pub count: &'static str,
}

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Rows deleted.
    pub purged: i64,
    /// Whether eligible rows remain (the purge stopped at its `max_rows`).
    pub more: bool,
    /// Statements (batches) that deleted them.
    pub batches: i64,
}

/// Deletes the rows of `policy` older than `cutoff`: `batch` rows per statement and
/// transaction (with `settings`), at most `max_rows` in all.
///
/// # Errors
/// Database errors; the batches committed before one stay deleted.
pub async fn purge(
    conn: &mut AsyncPgConnection,
    settings: &TransactionSettings,
    policy: Policy,
    cutoff: DateTime<Utc>,
    batch: i64,
    max_rows: i64,
) -> QueryResult<Purged> {
    let mut done = Purged {
        purged: 0,
        more: false,
        batches: 0,
    };
    loop {
        let limit = batch.min(max_rows.saturating_sub(done.purged));
        if limit <= 0 {
            done.more = count(conn, settings, policy, cutoff, 1).await? > 0;
            return Ok(done);
        }
        let deleted = session::transaction(conn, settings, async |conn| {
            diesel::sql_query(policy.delete_batch)
                .bind::<Timestamptz, _>(cutoff)
                .bind::<BigInt, _>(limit)
                .execute(conn)
                .await
        })
        .await?;
        if deleted == 0 {
            return Ok(done);
        }
        done.batches += 1;
        done.purged = done
            .purged
            .saturating_add(i64::try_from(deleted).unwrap_or(i64::MAX));
    }
}

/// The rows of `policy` older than `cutoff`, counted up to `up_to` (what [`purge`] would
/// delete), in one transaction with `settings`.
///
/// # Errors
/// Database errors.
pub async fn count(
    conn: &mut AsyncPgConnection,
    settings: &TransactionSettings,
    policy: Policy,
    cutoff: DateTime<Utc>,
    up_to: i64,
) -> QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    session::transaction(conn, settings, async |conn| {
        diesel::sql_query(policy.count)
            .bind::<Timestamptz, _>(cutoff)
            .bind::<BigInt, _>(up_to)
            .get_result::<Count>(conn)
            .await
            .map(|row| row.count)
    })
    .await
}

/// The cutoff of a retention of `age`: now minus `age` (the earliest representable time when
/// `age` reaches before it: then no row is old enough).
pub fn cutoff(age: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
