//! Events of payment-service: their JSON Schemas, typed structs and validators.
//!
//! The schema files next to this crate's `Cargo.toml` are the contract for consumers of
//! `payments.events` and `payments.dlq`. This crate builds one validator per schema, once, on
//! first use, and offers typed constructors so writers cannot forget an envelope attribute.
//! It must not know about databases or Kafka.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use jsonschema::{Registry, Resource, Validator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// Base URI of every schema `$id`; `dataschema` of each event points below it.
pub const SCHEMA_BASE: &str = "https://schemas.payment-service.dev/v1/";

/// CloudEvents `source` attribute of every event this service emits.
pub const EVENT_SOURCE: &str = "/payment-service";

/// Width of the zero-padded `sequence` string, enough for any `i64` version.
const SEQUENCE_WIDTH: usize = 20;

/// Longest violation message kept in a [`SchemaError`], in characters.
const MAX_VIOLATION_CHARS: usize = 200;

const ENVELOPE: &str = include_str!("../cloudevent.json");
const DEAD_LETTER: &str = include_str!("../dead_letter.json");
const TYPE_SCHEMAS: [(EventType, &str); 5] = [
    (
        EventType::Authorized,
        include_str!("../payment.authorized.json"),
    ),
    (
        EventType::Declined,
        include_str!("../payment.declined.json"),
    ),
    (
        EventType::Captured,
        include_str!("../payment.captured.json"),
    ),
    (EventType::Voided, include_str!("../payment.voided.json")),
    (
        EventType::Refunded,
        include_str!("../payment.refunded.json"),
    ),
];

/// The CloudEvents `type` of each payment event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// `payment.authorized`: an amount is held on the payment method.
    #[serde(rename = "payment.authorized")]
    Authorized,
    /// `payment.declined`: the acquirer refused the authorization; no money moved.
    #[serde(rename = "payment.declined")]
    Declined,
    /// `payment.captured`: part or all of the hold was captured.
    #[serde(rename = "payment.captured")]
    Captured,
    /// `payment.voided`: the hold was released before capture.
    #[serde(rename = "payment.voided")]
    Voided,
    /// `payment.refunded`: part or all of the captured amount was refunded.
    #[serde(rename = "payment.refunded")]
    Refunded,
}

impl EventType {
    /// The CloudEvents `type` string, e.g. `payment.authorized`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "payment.authorized",
            Self::Declined => "payment.declined",
            Self::Captured => "payment.captured",
            Self::Voided => "payment.voided",
            Self::Refunded => "payment.refunded",
        }
    }

    /// Parses a CloudEvents `type` string; `None` for types this service does not emit.
    pub fn parse(value: &str) -> Option<Self> {
        TYPE_SCHEMAS
            .iter()
            .map(|(event_type, _)| *event_type)
            .find(|event_type| event_type.as_str() == value)
    }

    /// The `dataschema` URI of this type: the `$id` of its schema file.
    pub fn schema_uri(self) -> String {
        format!("{SCHEMA_BASE}{}.json", self.as_str())
    }
}

/// `data` of every payment event: the payment's state after the event plus the amount the
/// event is about. All amounts are ISO 4217 minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEventData {
    /// Payment id (also the CloudEvents `subject` and the Kafka key).
    pub payment_id: Uuid,
    /// Owning merchant.
    pub merchant_id: Uuid,
    /// Payment status after the event, snake_case (`authorized`, `partially_refunded` …).
    pub status: String,
    /// Uppercase ISO 4217 alpha-3 code.
    pub currency: String,
    /// The amount this event is about: authorized, captured, released or refunded.
    pub amount_minor: i64,
    /// Amount authorized (0 for a decline).
    pub authorized_minor: i64,
    /// Amount captured so far.
    pub captured_minor: i64,
    /// Amount refunded so far (never above `captured_minor`).
    pub refunded_minor: i64,
    /// Reason of a decline (`card_declined`, `insufficient_funds`); only on `payment.declined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<String>,
}

/// A CloudEvents 1.0 event in structured JSON mode, as stored in the outbox and sent as the
/// Kafka record value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Event id: consumers' deduplication key.
    pub id: Uuid,
    /// Always [`EVENT_SOURCE`].
    pub source: String,
    /// CloudEvents `type`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Payment id.
    pub subject: String,
    /// When the business transaction happened (RFC 3339, UTC).
    pub time: String,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// URI of the event type's schema.
    pub dataschema: String,
    /// Sequence extension: the per-payment version, see [`format_sequence`].
    pub sequence: String,
    /// Event payload.
    pub data: PaymentEventData,
}

impl CloudEvent {
    /// Builds the event of one payment write. `version` is the payment's version after the
    /// write (1 for the authorization), which becomes the `sequence` extension.
    pub fn new(
        id: Uuid,
        event_type: EventType,
        version: i64,
        time: DateTime<Utc>,
        data: PaymentEventData,
    ) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            id,
            source: EVENT_SOURCE.to_owned(),
            event_type,
            subject: data.payment_id.to_string(),
            time: time.to_rfc3339_opts(SecondsFormat::Micros, true),
            datacontenttype: "application/json".to_owned(),
            dataschema: event_type.schema_uri(),
            sequence: format_sequence(version),
            data,
        }
    }
}

/// Encodes a per-payment version as the CloudEvents `sequence` extension value.
///
/// The sequence extension (CloudEvents `extensions/sequence.md`) is a string whose
/// lexicographic order is the event order, so the version is zero-padded to 20 digits:
/// version 3 becomes `"00000000000000000003"`. The same string is the `ce_sequence` Kafka header.
pub fn format_sequence(version: i64) -> String {
    format!("{version:0SEQUENCE_WIDTH$}")
}

/// Decodes a `sequence` value produced by [`format_sequence`]; `None` when it is not one.
pub fn parse_sequence(sequence: &str) -> Option<i64> {
    if sequence.len() != SEQUENCE_WIDTH || !sequence.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    sequence.parse().ok()
}

/// Why a document does not satisfy its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The event has no `type`, or a type this service does not emit.
    #[error("unknown event type")]
    UnknownType,
    /// The document violates its schema; holds up to five violations as
    /// `<instance path>: <message>`.
    #[error("schema violation: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

struct Validators {
    by_type: HashMap<EventType, Validator>,
    dead_letter: Validator,
}

static REGISTRY: LazyLock<Registry<'static>> = LazyLock::new(|| {
    let parse = |text: &str| -> Value {
        #[expect(
            clippy::expect_used,
            reason = "schemas are compiled into the crate; a test covers them"
        )]
        serde_json::from_str(text).expect("bundled schema is valid JSON")
    };
    let mut resources = vec![(
        format!("{SCHEMA_BASE}cloudevent.json"),
        Resource::from_contents(parse(ENVELOPE)),
    )];
    for (event_type, text) in TYPE_SCHEMAS {
        resources.push((
            event_type.schema_uri(),
            Resource::from_contents(parse(text)),
        ));
    }
    #[expect(
        clippy::expect_used,
        reason = "schemas are compiled into the crate; a test covers them"
    )]
    Registry::new()
        .extend(resources)
        .and_then(|builder| builder.prepare())
        .expect("bundled schemas form a valid registry")
});

static VALIDATORS: LazyLock<Validators> = LazyLock::new(|| {
    let build = |text: &str| -> Validator {
        #[expect(
            clippy::expect_used,
            reason = "schemas are compiled into the crate; a test covers them"
        )]
        let schema: Value = serde_json::from_str(text).expect("bundled schema is valid JSON");
        #[expect(
            clippy::expect_used,
            reason = "schemas are compiled into the crate; a test covers them"
        )]
        jsonschema::options()
            .with_registry(&REGISTRY)
            .should_validate_formats(true)
            .build(&schema)
            .expect("bundled schema compiles")
    };
    Validators {
        by_type: TYPE_SCHEMAS
            .iter()
            .map(|(event_type, text)| (*event_type, build(text)))
            .collect(),
        dead_letter: build(DEAD_LETTER),
    }
});

fn check(validator: &Validator, document: &Value) -> Result<(), SchemaError> {
    // The fast path: `is_valid` stops at the first failure and builds no error values.
    if validator.is_valid(document) {
        return Ok(());
    }
    let mut errors: Vec<String> = Vec::new();
    // A value checked by the envelope and by the type's schema fails both with the same
    // message: each violation is kept once.
    for error in validator.iter_errors(document) {
        let mut line = format!("{}: {error}", error.instance_path());
        // Violations quote the offending value; keep each line bounded.
        if let Some((cut, _)) = line.char_indices().nth(MAX_VIOLATION_CHARS) {
            line.truncate(cut);
        }
        if !errors.contains(&line) {
            errors.push(line);
        }
        if errors.len() == 5 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid(errors))
    }
}

/// Validates a CloudEvent (as JSON) against the schema of its `type`, which includes the
/// envelope schema.
///
/// # Errors
/// [`SchemaError::UnknownType`] when `type` is missing or not ours; [`SchemaError::Invalid`]
/// with the violations otherwise.
pub fn validate_event(event: &Value) -> Result<(), SchemaError> {
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .and_then(EventType::parse)
        .ok_or(SchemaError::UnknownType)?;
    let validator = VALIDATORS
        .by_type
        .get(&event_type)
        .ok_or(SchemaError::UnknownType)?;
    check(validator, event)
}

/// Validates a dead-letter record against `dead_letter.json`.
///
/// # Errors
/// [`SchemaError::Invalid`] with the violations.
pub fn validate_dead_letter(record: &Value) -> Result<(), SchemaError> {
    check(&VALIDATORS.dead_letter, record)
}

/// Forces the validators to be built now (they are otherwise built on first use), so a
/// server pays the cost at start-up rather than on its first write.
pub fn warm_up() {
    LazyLock::force(&VALIDATORS);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(event_type: EventType, status: &str) -> CloudEvent {
        CloudEvent::new(
            Uuid::new_v4(),
            event_type,
            1,
            Utc::now(),
            PaymentEventData {
                payment_id: Uuid::new_v4(),
                merchant_id: Uuid::new_v4(),
                status: status.to_owned(),
                currency: "USD".to_owned(),
                amount_minor: 100,
                authorized_minor: 100,
                captured_minor: 0,
                refunded_minor: 0,
                decline_reason: None,
            },
        )
    }

    fn as_json(event: &CloudEvent) -> Value {
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn every_bundled_schema_compiles() {
        warm_up();
        assert_eq!(VALIDATORS.by_type.len(), TYPE_SCHEMAS.len());
    }

    #[test]
    fn a_well_formed_event_validates() {
        validate_event(&as_json(&sample(EventType::Authorized, "authorized"))).unwrap();
    }

    #[test]
    fn status_must_match_the_type() {
        let err = validate_event(&as_json(&sample(EventType::Authorized, "captured"))).unwrap_err();
        assert!(matches!(err, SchemaError::Invalid(_)), "{err}");
    }

    #[test]
    fn a_decline_needs_a_reason_and_others_must_not_have_one() {
        let mut declined = sample(EventType::Declined, "declined");
        assert!(validate_event(&as_json(&declined)).is_err());
        declined.data.decline_reason = Some("card_declined".to_owned());
        validate_event(&as_json(&declined)).unwrap();

        let mut authorized = sample(EventType::Authorized, "authorized");
        authorized.data.decline_reason = Some("card_declined".to_owned());
        assert!(validate_event(&as_json(&authorized)).is_err());
    }

    #[test]
    fn money_rules_hold_in_the_schema() {
        for (amount, currency, ok) in [
            (1, "USD", true),
            (0, "USD", false),
            (-1, "USD", false),
            (100_000_000_000_001, "USD", false),
            (100, "usd", false),
        ] {
            let mut event = sample(EventType::Authorized, "authorized");
            event.data.amount_minor = amount;
            event.data.currency = currency.to_owned();
            assert_eq!(
                validate_event(&as_json(&event)).is_ok(),
                ok,
                "{amount} {currency}"
            );
        }
    }

    #[test]
    fn each_violation_is_reported_once() {
        let mut event = sample(EventType::Authorized, "authorized");
        event.data.currency = "usd".to_owned();
        let Err(SchemaError::Invalid(violations)) = validate_event(&as_json(&event)) else {
            panic!("lowercase currency must fail");
        };
        let mut unique = violations.clone();
        unique.dedup();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), violations.len(), "{violations:?}");
        assert!(
            violations.iter().any(|v| v.starts_with("/data/currency")),
            "{violations:?}"
        );
    }

    #[test]
    fn unknown_types_and_extra_attributes_are_rejected() {
        let mut event = as_json(&sample(EventType::Voided, "voided"));
        event["type"] = Value::from("payment.exploded");
        assert_eq!(validate_event(&event), Err(SchemaError::UnknownType));

        let mut event = as_json(&sample(EventType::Voided, "voided"));
        event["surprise"] = Value::from(1);
        assert!(validate_event(&event).is_err());
    }

    #[test]
    fn sequence_round_trips_and_orders_lexicographically() {
        assert_eq!(format_sequence(3), "00000000000000000003");
        assert!(format_sequence(9) < format_sequence(10));
        assert_eq!(parse_sequence(&format_sequence(i64::MAX)), Some(i64::MAX));
        assert_eq!(parse_sequence("3"), None);
    }

    #[test]
    fn dead_letter_records_need_the_event_or_a_reference() {
        let base = serde_json::json!({
            "event_id": Uuid::new_v4(), "payment_id": Uuid::new_v4(),
            "event_type": "payment.captured", "sequence": 2, "original_topic": "payments.events",
            "error_class": "too_large", "error_message": "1.5 MB over the 1 MB limit",
            "attempts": 1, "first_failed_at": "2026-11-30T00:00:00Z",
            "last_failed_at": "2026-11-30T00:00:00Z"
        });
        assert!(validate_dead_letter(&base).is_err());
        let mut with_ref = base.clone();
        with_ref["event_ref"] = serde_json::json!({"outbox_sequence": 7, "size_bytes": 1_500_000});
        validate_dead_letter(&with_ref).unwrap();
    }
}
