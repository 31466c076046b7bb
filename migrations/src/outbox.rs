//! Outbox writes shared by every writer. The relay's claim/mark queries live in `relay-job`
//! on top of these rows.

use diesel::QueryResult;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use payment_events::CloudEvent;

use crate::models::NewOutboxEvent;
use crate::schema::outbox_events;

/// Aggregate type of payment events.
pub const PAYMENT_AGGREGATE: &str = "payment";

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The event does not satisfy its JSON Schema; nothing must commit.
    #[error("event fails its schema: {0}")]
    Schema(#[from] payment_events::SchemaError),
    /// The event could not be serialized.
    #[error("event cannot be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    /// Database error.
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Validates `event` against its schema and inserts it as a pending outbox row marked
/// `payload_validated` (so the relay does not validate it again), in the caller's transaction.
/// `traceparent` is a W3C trace context header value.
///
/// # Errors
/// [`OutboxError::Schema`] for an invalid event (the caller must roll back), database errors.
pub async fn insert_event(
    conn: &mut AsyncPgConnection,
    event: &CloudEvent,
    traceparent: &str,
) -> Result<(), OutboxError> {
    let payload = serde_json::to_value(event)?;
    payment_events::validate_event(&payload)?;
    let version = payment_events::parse_sequence(&event.sequence).ok_or_else(|| {
        payment_events::SchemaError::Invalid(vec!["/sequence: not a 20-digit version".to_owned()])
    })?;
    let headers = serde_json::json!({ "traceparent": traceparent });
    diesel::insert_into(outbox_events::table)
        .values(NewOutboxEvent {
            event_id: event.id,
            aggregate_type: PAYMENT_AGGREGATE,
            aggregate_id: event.data.payment_id,
            aggregate_version: version,
            event_type: event.event_type.as_str(),
            payload: &payload,
            headers: &headers,
            payload_validated: true,
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Outbox health, read by the API's metrics, the relay's summary and `relay-job stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, diesel::QueryableByName)]
pub struct Backlog {
    /// Pending rows (due or backing off, including parked ones).
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Age of the oldest pending row, in ms (0 when none).
    #[diesel(sql_type = BigInt)]
    pub oldest_pending_age_ms: i64,
    /// Payments whose pending events wait behind a dead one.
    #[diesel(sql_type = BigInt)]
    pub parked_payments: i64,
    /// Dead-lettered rows.
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
}

/// Reads the [`Backlog`].
///
/// # Errors
/// Database errors.
pub async fn backlog(conn: &mut AsyncPgConnection) -> QueryResult<Backlog> {
    diesel::sql_query(
        "SELECT \
           (SELECT count(*) FROM outbox_pending WHERE NOT dead) AS pending, \
           (SELECT coalesce(floor(extract(epoch FROM now() - min(created_at)) * 1000), 0)::bigint \
              FROM outbox_pending WHERE NOT dead) AS oldest_pending_age_ms, \
           (SELECT count(DISTINCT d.aggregate_id) FROM outbox_pending d \
              WHERE d.dead AND EXISTS (SELECT 1 FROM outbox_pending p \
                WHERE p.aggregate_id = d.aggregate_id AND NOT p.dead \
                  AND p.aggregate_version > d.aggregate_version)) AS parked_payments, \
           (SELECT count(*) FROM outbox_pending WHERE dead) AS dead",
    )
    .get_result(conn)
    .await
}
