//! The outbox as a work queue: claim, mark published, record failures, dead-letter, and the
//! operator queries (replay, purge, stats). Every function takes the connection.
//!
//! ## The claim
//!
//! [`claim`] selects, in one statement inside the caller's transaction, due `pending` rows that
//! are the **head** of their payment — no earlier event of the same payment is unpublished
//! (pending, backing off, in flight elsewhere, or dead) — and locks them with
//! `FOR UPDATE SKIP LOCKED`. It reads the work queue `outbox_pending`, which database triggers
//! keep equal to the rows whose status is not `published` (migration `outbox_pending_queue`:
//! it makes the mark a cheap delete plus a HOT update); the lock is on the queue row. The caller produces them, waits for the delivery reports, marks
//! the outcome and only then commits. Consequences:
//!
//! - **No loss (§6.1):** a row becomes `published` only in the transaction that saw its
//!   delivery report; a crash rolls the transaction back and the row stays pending. No
//!   position or high-water mark is kept, so a row whose transaction commits late is simply
//!   pending at a later claim: it can never be skipped.
//! - **Per-payment order (§6.2):** at most one event per payment is in flight at a time, across
//!   every relay process: event *k+1* is claimable only once *k* is committed as published,
//!   and *k* was acknowledged by Kafka before that commit. A row locked by another relay or
//!   backing off keeps its successors waiting; a dead one parks them until a replay. The
//!   writers lock the payment row, so version *k+1* never commits before *k*.
//! - **Duplicates only as identical copies (§6.3):** a row is produced again only if its
//!   transaction did not commit after the broker acknowledged it (crash, lost database,
//!   flush timeout); the record is rebuilt from the same row, with the same event id.
//! - Several relays split the work: `SKIP LOCKED` hands each a disjoint set of heads. The
//!   workers of one relay (`--workers`) are several relays in this sense, one connection each.
//!
//! ## Durability of marks
//!
//! The relay's session commits with `synchronous_commit = off` (see `run::connect`): a commit
//! returns before its WAL record is flushed, which saves a disk flush per batch. A database
//! crash may then forget the last fraction of a second of marks. That loses nothing — a row
//! only becomes `published` through a mark, so a forgotten mark leaves it pending and it is
//! produced again, as an identical copy (§6.3). Order holds too: WAL is flushed in order, so if
//! the mark of event *k* is forgotten, so is every later mark, including that of *k+1* (claimed
//! only after *k*'s mark committed); both are produced again, *k* first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use payment_db::schema::outbox_events;
use uuid::Uuid;

/// Longest `last_error` stored, in characters.
const MAX_ERROR_CHARS: usize = 1000;

/// A claimed outbox row: what a batch needs of it, as cheap to decode as the server sends it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    /// Position in the outbox.
    #[diesel(sql_type = BigInt)]
    pub sequence: i64,
    /// CloudEvents id.
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    /// Payment id: the Kafka key.
    #[diesel(sql_type = SqlUuid)]
    pub aggregate_id: Uuid,
    /// Per-payment version (the `ce_sequence` header).
    #[diesel(sql_type = BigInt)]
    pub aggregate_version: i64,
    /// CloudEvents type.
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// The stored CloudEvent as JSON text (PostgreSQL's text form of the `jsonb` value), sent
    /// as the record value unchanged: never parsed, unless it must be validated or copied into
    /// a dead-letter record.
    #[diesel(sql_type = Text)]
    pub payload: String,
    /// Whether the writer validated `payload` against its schema since it last changed.
    #[diesel(sql_type = Bool)]
    pub payload_validated: bool,
    /// The stored W3C `traceparent` header, if any.
    #[diesel(sql_type = Nullable<Text>)]
    pub traceparent: Option<String>,
    /// Failed publish attempts so far.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// When a publish attempt first failed.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub first_failed_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` due head events (see the module docs), oldest first, locked until
/// the caller's transaction ends.
///
/// # Errors
/// Database errors.
pub async fn claim(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Claimed>> {
    diesel::sql_query(
        "SELECT o.sequence, o.event_id, o.aggregate_id, o.aggregate_version, o.event_type, \
                o.payload::text AS payload, o.payload_validated, \
                o.headers ->> 'traceparent' AS traceparent, o.attempts, o.first_failed_at \
         FROM outbox_events o \
         WHERE o.sequence IN ( \
           SELECT p.sequence FROM outbox_pending p \
           WHERE NOT p.dead AND p.next_attempt_at <= now() \
             AND NOT EXISTS (SELECT 1 FROM outbox_pending e \
                             WHERE e.aggregate_id = p.aggregate_id \
                               AND e.aggregate_version < p.aggregate_version) \
           ORDER BY p.sequence \
           LIMIT $1 \
           FOR UPDATE OF p SKIP LOCKED)",
    )
    .bind::<BigInt, _>(limit)
    .load::<Claimed>(conn)
    .await
    .map(|mut rows: Vec<Claimed>| {
        // Sorted here rather than by the server, which would sort the whole wide rows.
        rows.sort_unstable_by_key(|row| row.sequence);
        rows
    })
}

/// Marks rows published (Kafka acknowledged them).
///
/// # Errors
/// Database errors.
pub async fn mark_published(conn: &mut AsyncPgConnection, sequences: &[i64]) -> QueryResult<usize> {
    if sequences.is_empty() {
        return Ok(0);
    }
    diesel::update(outbox_events::table.filter(outbox_events::sequence.eq_any(sequences)))
        .set((
            outbox_events::status.eq("published"),
            outbox_events::published_at.eq(diesel::dsl::now),
            outbox_events::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await
}

fn bounded(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

/// Records a failed attempt: attempts + 1, the next attempt time, the error.
///
/// # Errors
/// Database errors.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    sequence: i64,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE outbox_events SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
         first_failed_at = coalesce(first_failed_at, now()) WHERE sequence = $1",
    )
    .bind::<BigInt, _>(sequence)
    .bind::<Timestamptz, _>(next_attempt_at)
    .bind::<Text, _>(bounded(error))
    .execute(conn)
    .await
    .map(drop)
}

/// Keeps rows pending but out of claims until `until`, without charging an attempt (their
/// records may still be in flight, or the DLQ did not take them).
///
/// # Errors
/// Database errors.
pub async fn defer(
    conn: &mut AsyncPgConnection,
    sequences: &[i64],
    until: DateTime<Utc>,
) -> QueryResult<()> {
    if sequences.is_empty() {
        return Ok(());
    }
    diesel::update(outbox_events::table.filter(outbox_events::sequence.eq_any(sequences)))
        .set(outbox_events::next_attempt_at.eq(until))
        .execute(conn)
        .await
        .map(drop)
}

/// Marks a row dead (its dead-letter record was acknowledged); `attempts` is the final count.
///
/// # Errors
/// Database errors.
pub async fn mark_dead(
    conn: &mut AsyncPgConnection,
    sequence: i64,
    attempts: i32,
    error: &str,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE outbox_events SET status = 'dead', attempts = $2, last_error = $3, dead_at = now(), \
         first_failed_at = coalesce(first_failed_at, now()) WHERE sequence = $1",
    )
    .bind::<BigInt, _>(sequence)
    .bind::<Integer, _>(attempts)
    .bind::<Text, _>(bounded(error))
    .execute(conn)
    .await
    .map(drop)
}

/// Which dead events to replay.
#[derive(Debug, Clone, Copy)]
pub enum ReplayScope {
    /// One event.
    Event(Uuid),
    /// Every dead event of one payment.
    Payment(Uuid),
    /// Every dead event.
    All,
}

/// Moves dead events back to pending, due now, with attempts reset. Order needs no help: a
/// replayed event is again the head of its payment, so its parked successors follow it.
///
/// # Errors
/// Database errors.
pub async fn replay(conn: &mut AsyncPgConnection, scope: ReplayScope) -> QueryResult<usize> {
    let (filter, id): (&str, Option<Uuid>) = match scope {
        ReplayScope::Event(id) => ("event_id = $1", Some(id)),
        ReplayScope::Payment(id) => ("aggregate_id = $1", Some(id)),
        ReplayScope::All => ("$1::uuid IS NULL", None),
    };
    diesel::sql_query(format!(
        "UPDATE outbox_events SET status = 'pending', attempts = 0, next_attempt_at = now(), \
         last_error = NULL, first_failed_at = NULL, dead_at = NULL WHERE status = 'dead' AND {filter}"
    ))
    .bind::<Nullable<SqlUuid>, _>(id)
    .execute(conn)
    .await
}

/// How many dead events `scope` selects (what [`replay`] would move back).
///
/// # Errors
/// Database errors.
pub async fn count_replayable(
    conn: &mut AsyncPgConnection,
    scope: ReplayScope,
) -> QueryResult<i64> {
    let mut query = outbox_events::table
        .filter(outbox_events::status.eq("dead"))
        .into_boxed();
    match scope {
        ReplayScope::Event(id) => query = query.filter(outbox_events::event_id.eq(id)),
        ReplayScope::Payment(id) => query = query.filter(outbox_events::aggregate_id.eq(id)),
        ReplayScope::All => {}
    }
    query.count().get_result(conn).await
}

/// Retention of the outbox (`relay-job purge`, through `payment_db::retention`): published
/// rows whose `published_at` is before the cutoff, oldest sequence first. Pending and dead rows
/// are never purged.
///
/// The batch walks the primary key: there is deliberately no index on `published_at`, which
/// every mark would pay for (migration `outbox_mark_cost`).
pub const RETENTION: payment_db::retention::Policy = payment_db::retention::Policy {
    delete_batch: "DELETE FROM outbox_events WHERE sequence IN (SELECT sequence FROM outbox_events \
                   WHERE status = 'published' AND published_at < $1 ORDER BY sequence LIMIT $2)",
    count: "SELECT count(*) AS count FROM (SELECT 1 FROM outbox_events \
            WHERE status = 'published' AND published_at < $1 LIMIT $2) eligible",
};

/// A dead-lettered event as `relay-job dead list` prints it (one JSON line each).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Queryable, Selectable)]
#[diesel(table_name = outbox_events, check_for_backend(diesel::pg::Pg))]
pub struct DeadEvent {
    /// CloudEvents id (the consumers' dedup key).
    pub event_id: Uuid,
    /// Payment id (the Kafka key).
    #[diesel(column_name = aggregate_id)]
    pub payment_id: Uuid,
    /// CloudEvents type, e.g. `payment.captured`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Per-payment version.
    #[diesel(column_name = aggregate_version)]
    pub version: i64,
    /// Failed attempts when it was dead-lettered.
    pub attempts: i32,
    /// Why: `<error class>: <message>` as sent to the DLQ.
    #[diesel(column_name = last_error)]
    pub reason: Option<String>,
    /// When its dead-letter record was acknowledged.
    #[diesel(column_name = dead_at)]
    pub dead_since: Option<DateTime<Utc>>,
}

/// Dead events, most recently dead first, optionally of one payment; at most `limit`.
///
/// # Errors
/// Database errors.
pub async fn dead_events(
    conn: &mut AsyncPgConnection,
    payment: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<DeadEvent>> {
    let mut query = outbox_events::table
        .filter(outbox_events::status.eq("dead"))
        .select(DeadEvent::as_select())
        .order((
            outbox_events::dead_at.desc(),
            outbox_events::sequence.desc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some(payment) = payment {
        query = query.filter(outbox_events::aggregate_id.eq(payment));
    }
    query.load(conn).await
}

/// One dead event with its stored CloudEvent and failure history (`relay-job dead show`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeadEventDetail {
    /// The listing's fields.
    #[serde(flatten)]
    pub summary: DeadEvent,
    /// Position in the outbox.
    pub sequence: i64,
    /// When the event was written.
    pub created_at: DateTime<Utc>,
    /// When a publish attempt first failed.
    pub first_failed_at: Option<DateTime<Utc>>,
    /// The stored CloudEvent (parsed here; the relay sends the stored JSON text).
    pub event: serde_json::Value,
    /// Transport headers stored with it (`traceparent`).
    pub headers: serde_json::Value,
}

/// The dead event with this event id, if there is one.
///
/// # Errors
/// Database errors.
pub async fn dead_event(
    conn: &mut AsyncPgConnection,
    event_id: Uuid,
) -> QueryResult<Option<DeadEventDetail>> {
    outbox_events::table
        .filter(outbox_events::status.eq("dead"))
        .filter(outbox_events::event_id.eq(event_id))
        .select((
            DeadEvent::as_select(),
            outbox_events::sequence,
            outbox_events::created_at,
            outbox_events::first_failed_at,
            outbox_events::payload,
            outbox_events::headers,
        ))
        .first::<(
            DeadEvent,
            i64,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            serde_json::Value,
            serde_json::Value,
        )>(conn)
        .await
        .optional()
        .map(|row| {
            row.map(
                |(summary, sequence, created_at, first_failed_at, event, headers)| {
                    DeadEventDetail {
                        summary,
                        sequence,
                        created_at,
                        first_failed_at,
                        event,
                        headers,
                    }
                },
            )
        })
}

pub use payment_db::outbox::{Backlog, backlog};
