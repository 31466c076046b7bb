//! `outbox_events`: events waiting for (or done with) the relay.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::outbox_events;

/// An outbox row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox_events, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEvent {
    /// Ever-increasing position (not commit order).
    pub sequence: i64,
    /// CloudEvents id.
    pub event_id: Uuid,
    /// Always `payment` today.
    pub aggregate_type: String,
    /// Payment id: the Kafka key.
    pub aggregate_id: Uuid,
    /// Per-payment version.
    pub aggregate_version: i64,
    /// CloudEvents type.
    pub event_type: String,
    /// The CloudEvent.
    pub payload: serde_json::Value,
    /// Transport headers (`traceparent`).
    pub headers: serde_json::Value,
    /// `pending`, `published` or `dead`.
    pub status: String,
    /// Failed publish attempts so far.
    pub attempts: i32,
    /// Not to be tried before this time (backoff).
    pub next_attempt_at: DateTime<Utc>,
    /// Last failure, bounded text.
    pub last_error: Option<String>,
    /// Insert time.
    pub created_at: DateTime<Utc>,
    /// When Kafka acknowledged it.
    pub published_at: Option<DateTime<Utc>>,
    /// When a publish attempt first failed.
    pub first_failed_at: Option<DateTime<Utc>>,
    /// When it was dead-lettered.
    pub dead_at: Option<DateTime<Utc>>,
    /// Whether the writer checked `payload` against its JSON Schema (cleared by a trigger when
    /// the payload changes later); the relay validates only rows without it.
    pub payload_validated: bool,
}

/// An outbox row to insert; everything else takes its default (pending, 0 attempts, due now).
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox_events, treat_none_as_default_value = false)]
pub struct NewOutboxEvent<'a> {
    /// CloudEvents id.
    pub event_id: Uuid,
    /// Aggregate kind.
    pub aggregate_type: &'a str,
    /// Payment id.
    pub aggregate_id: Uuid,
    /// Per-payment version.
    pub aggregate_version: i64,
    /// CloudEvents type.
    pub event_type: &'a str,
    /// The CloudEvent.
    pub payload: &'a serde_json::Value,
    /// Transport headers.
    pub headers: &'a serde_json::Value,
    /// Set only by a writer that validated `payload` against its JSON Schema.
    pub payload_validated: bool,
}
