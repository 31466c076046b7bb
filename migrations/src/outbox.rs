//! Outbox writes shared by every writer. The relay's claim/mark queries live in `relay-job`
//! on top of these rows.

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

/// Validates `event` against its schema and inserts it as a pending outbox row, in the
/// caller's transaction. `traceparent` is a W3C trace context header value.
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
        })
        .execute(conn)
        .await?;
    Ok(())
}
