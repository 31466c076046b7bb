//! `relay-job tail`: reads the events and DLQ topics from the beginning (or an offset), decodes
//! every event as a CloudEvents consumer would (the CloudEvents SDK's structured mode: the
//! `content-type` header, then the JSON event format), checks it against `schemas/` and each
//! payment's sequence, and prints one line per record or a JSON report. A consumer's view of the
//! contract (§5), used by the demo, the chaos harness and operators.
//!
//! The SDK's own rdkafka binding (`cloudevents-sdk`'s `rdkafka` feature) needs rdkafka 0.38,
//! which cannot sit beside our 0.39 (both link librdkafka), so the mode check is the binding's
//! rule applied here and the decoding is the SDK's.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::config::TailArgs;
use crate::kafka;

/// What `tail` found.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct TailReport {
    /// Records read from the events topic.
    pub events: u64,
    /// Events per CloudEvents type.
    pub by_type: BTreeMap<String, u64>,
    /// Distinct payments (keys) seen.
    pub payments: u64,
    /// Events that fail their schema (or are not JSON).
    pub schema_invalid: u64,
    /// Events a CloudEvents SDK does not read as a structured-mode CloudEvent (no
    /// `content-type: application/cloudevents+json`, or a value that is not one).
    pub not_cloudevents: u64,
    /// Events whose key, `ce_*` headers and CloudEvent disagree.
    pub header_mismatches: u64,
    /// Events of a payment whose sequence skips ahead of the previous one (+2 or more).
    pub gaps: u64,
    /// Events of a payment that arrive after a later one.
    pub reorders: u64,
    /// Repeated event ids with identical records (allowed after a crash): the same bytes, or
    /// the same JSON written differently (a relay release before 2026-12-07 wrote compact JSON
    /// with sorted keys, later ones send the stored text).
    pub identical_duplicates: u64,
    /// Repeated event ids whose events differ (never allowed).
    pub conflicting_duplicates: u64,
    /// Records read from the DLQ topic.
    pub dead_letters: u64,
    /// DLQ records that fail `dead_letter.json`.
    pub dead_letters_invalid: u64,
    /// Distinct event ids seen on the events topic (not printed).
    #[serde(skip)]
    pub event_ids: std::collections::HashSet<String>,
}

impl TailReport {
    /// Whether the topics honour the contract: every event valid, in order per payment, and
    /// repeated only as identical copies.
    pub fn is_clean(&self) -> bool {
        self.schema_invalid
            + self.not_cloudevents
            + self.header_mismatches
            + self.gaps
            + self.reorders
            + self.conflicting_duplicates
            + self.dead_letters_invalid
            == 0
    }
}

#[derive(Default)]
struct PaymentTrack {
    last: i64,
    seen: HashMap<String, Vec<u8>>,
}

/// Whether two record values carry the same event: the same bytes, or JSON that parses to the
/// same value.
fn same_event(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_slice::<serde_json::Value>(a),
                serde_json::from_slice::<serde_json::Value>(b),
            ),
            (Ok(a), Ok(b)) if a == b
        )
}

/// A string field of a JSON object.
fn text<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str()
}

/// The record as a CloudEvents consumer reads it: structured mode when `content-type` is
/// `application/cloudevents+json` (the Kafka protocol binding's rule), then the SDK's JSON event
/// format.
///
/// # Errors
/// Why it is not a structured-mode CloudEvent.
pub fn cloud_event(content_type: Option<&str>, value: &[u8]) -> Result<cloudevents::Event, String> {
    match content_type {
        Some(content_type) if content_type.starts_with(kafka::CLOUDEVENTS_JSON) => {
            serde_json::from_slice(value).map_err(|error| format!("not a CloudEvent: {error}"))
        }
        other => Err(format!("not structured mode: content-type {other:?}")),
    }
}

fn header(message: &impl Message, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|value| String::from_utf8_lossy(value).into_owned())
}

fn consumer(args: &TailArgs, topic: &str) -> Result<BaseConsumer<kafka::RelayContext>, String> {
    let context = kafka::RelayContext::for_settings(&args.kafka)?;
    let consumer: BaseConsumer<kafka::RelayContext> = kafka::client_config(&args.kafka)
        .set(
            "group.id",
            format!("relay-job-tail-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .create_with_context(context)
        .map_err(|error| format!("kafka: {error}"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|error| format!("kafka: {error}"))?;
    let mut assignment = TopicPartitionList::new();
    let offset = match args.from_offset {
        Some(offset) => Offset::Offset(offset),
        None => Offset::Beginning,
    };
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        assignment
            .add_partition_offset(topic, partition.id(), offset)
            .map_err(|error| format!("kafka: {error}"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|error| format!("kafka: {error}"))?;
    Ok(consumer)
}

/// Reads both topics until no record arrives for `--idle-timeout`, printing one line per record
/// to `out` unless `--json`, and returns the report.
///
/// # Errors
/// When Kafka cannot be reached or a topic does not exist.
pub fn tail(args: &TailArgs, out: &mut impl std::io::Write) -> Result<TailReport, String> {
    let mut report = TailReport::default();
    let mut payments: HashMap<String, PaymentTrack> = HashMap::new();
    let events = consumer(args, &args.events_topic)?;
    read_all(&events, args.idle_timeout, |message| {
        report.events += 1;
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let raw = message.payload().unwrap_or_default().to_vec();
        let event: serde_json::Value =
            serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
        let valid = payment_events::validate_event(&event).is_ok();
        if !valid {
            report.schema_invalid += 1;
        }
        let decoded = cloud_event(header(message, kafka::HEADER_CONTENT_TYPE).as_deref(), &raw);
        if decoded.is_err() {
            report.not_cloudevents += 1;
        }
        let event_type = text(&event, "type").unwrap_or("?").to_owned();
        *report.by_type.entry(event_type.clone()).or_default() += 1;
        let id = header(message, kafka::HEADER_ID).unwrap_or_default();
        let sequence_header = header(message, kafka::HEADER_SEQUENCE).unwrap_or_default();
        // What the SDK read must agree with the key and the convenience headers.
        let consistent = decoded.as_ref().is_ok_and(|decoded| {
            use cloudevents::AttributesReader;
            decoded.id() == id
                && decoded.subject() == Some(key.as_str())
                && decoded.ty() == event_type
                && decoded.extension("sequence").map(ToString::to_string)
                    == Some(sequence_header.clone())
        }) && header(message, kafka::HEADER_TYPE).as_deref()
            == Some(event_type.as_str());
        if !consistent {
            report.header_mismatches += 1;
        }
        let sequence = payment_events::parse_sequence(&sequence_header).unwrap_or(0);
        let track = payments.entry(key.clone()).or_default();
        let verdict = match track.seen.get(&id) {
            Some(previous) if same_event(previous, &raw) => {
                report.identical_duplicates += 1;
                "duplicate"
            }
            Some(_) => {
                report.conflicting_duplicates += 1;
                "CONFLICTING DUPLICATE"
            }
            None if sequence == track.last + 1 => "ok",
            None if sequence <= track.last => {
                report.reorders += 1;
                "REORDERED"
            }
            None => {
                report.gaps += 1;
                "GAP"
            }
        };
        report.event_ids.insert(id.clone());
        track.seen.entry(id.clone()).or_insert(raw);
        track.last = track.last.max(sequence);
        if !args.json {
            let _ = writeln!(
                out,
                "event p{}@{} payment={key} seq={sequence} type={event_type} id={id} schema={} order={verdict}",
                message.partition(),
                message.offset(),
                if valid { "ok" } else { "INVALID" },
            );
        }
    });
    report.payments = payments.len() as u64;
    let dlq = consumer(args, &args.dlq_topic)?;
    read_all(&dlq, args.idle_timeout, |message| {
        report.dead_letters += 1;
        let record: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or_default();
        let valid = payment_events::validate_dead_letter(&record).is_ok();
        if !valid {
            report.dead_letters_invalid += 1;
        }
        if !args.json {
            let _ = writeln!(
                out,
                "dead-letter payment={} seq={} class={} event_id={} schema={}",
                text(&record, "payment_id").unwrap_or("?"),
                record.get("sequence").cloned().unwrap_or_default(),
                text(&record, "error_class").unwrap_or("?"),
                text(&record, "event_id").unwrap_or("?"),
                if valid { "ok" } else { "INVALID" },
            );
        }
    });
    Ok(report)
}

fn read_all(
    consumer: &BaseConsumer<kafka::RelayContext>,
    idle: Duration,
    mut on_message: impl FnMut(&rdkafka::message::BorrowedMessage<'_>),
) {
    let mut last = Instant::now();
    while last.elapsed() < idle {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                on_message(&message);
                last = Instant::now();
            }
            Some(Err(error)) => tracing::warn!(%error, "consumer error"),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_event;

    #[test]
    fn a_duplicate_written_differently_is_the_same_event_and_other_content_is_not() {
        let compact = br#"{"data":{"amount_minor":100},"id":"e1"}"#;
        let stored = br#"{"id": "e1", "data": {"amount_minor": 100}}"#;
        let changed = br#"{"id": "e1", "data": {"amount_minor": 101}}"#;
        assert!(same_event(compact, compact));
        assert!(same_event(compact, stored));
        assert!(!same_event(stored, changed));
        assert!(!same_event(b"not json", b"not json "));
    }
}
