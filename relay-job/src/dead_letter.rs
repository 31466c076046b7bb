//! The dead-letter record of `schemas/dead_letter.json`: the original event (or, when it is too
//! large to copy, a reference to its outbox row), why it failed, and its failure history.

use crate::queue::Claimed;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Longest `error_message`, in characters (the schema's bound).
const MAX_MESSAGE_CHARS: usize = 1000;

/// Why an event was dead-lettered (the schema's `error_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The stored event does not satisfy its schema.
    SchemaInvalid,
    /// Larger than the record size limit.
    TooLarge,
    /// The broker refused it permanently.
    Rejected,
    /// `--max-attempts` failed attempts.
    AttemptsExhausted,
}

impl ErrorClass {
    /// The schema's name of the class.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SchemaInvalid => "schema_invalid",
            Self::TooLarge => "too_large",
            Self::Rejected => "rejected",
            Self::AttemptsExhausted => "attempts_exhausted",
        }
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Builds the record of `row`. The event is copied unless `reference` is set, it is not a JSON
/// object, or the copy would not satisfy the schema; then a reference to the outbox row is sent.
#[expect(
    clippy::too_many_arguments,
    reason = "one flat record of the schema's fields"
)]
pub fn record(
    row: &Claimed,
    class: ErrorClass,
    message: &str,
    attempts: i32,
    original_topic: &str,
    size_bytes: usize,
    now: DateTime<Utc>,
    reference: bool,
) -> Value {
    let mut record = serde_json::Map::new();
    let fields = json!({
        "event_id": row.event_id,
        "payment_id": row.aggregate_id,
        "event_type": row.event_type,
        "sequence": row.aggregate_version,
        "original_topic": original_topic,
        "error_class": class.as_str(),
        "error_message": message.chars().take(MAX_MESSAGE_CHARS).collect::<String>(),
        "attempts": attempts,
        "first_failed_at": rfc3339(row.first_failed_at.unwrap_or(now)),
        "last_failed_at": rfc3339(now),
    });
    if let Value::Object(fields) = fields {
        record.extend(fields);
    }
    let event_ref = json!({ "outbox_sequence": row.sequence, "size_bytes": size_bytes });
    let event = (!reference)
        .then(|| serde_json::from_str::<Value>(&row.payload).ok())
        .flatten()
        .filter(Value::is_object);
    if let Some(event) = event {
        let mut copied = record.clone();
        copied.insert("event".to_owned(), event);
        let copied = Value::Object(copied);
        if payment_events::validate_dead_letter(&copied).is_ok() {
            return copied;
        }
    }
    record.insert("event_ref".to_owned(), event_ref);
    Value::Object(record)
}
