//! One batch of `relay-job run`, in named stages, all inside the batch's transaction:
//!
//! 1. [`claim`] the due head events ([`queue::claim`]);
//! 2. [`validate`] each: size limit, and the schema where the writer did not check it → the
//!    record value (the stored JSON text, unchanged), or poison;
//! 3. [`produce`] the valid ones; a full local queue is back-pressure (wait, send again), never
//!    an outage;
//! 4. [`await_acknowledgements`], bounded by the deadline plus `--flush-timeout` and by every
//!    broker being down for `--kafka-timeout`;
//! 5. [`settle`]: mark the acknowledged published, charge retriable failures an attempt with
//!    persisted backoff, keep the unacknowledged out of claims, dead-letter the poison.
//!
//! Every claimed event leaves the batch with one [`Fate`]. A delivery error becomes a fate
//! through its librdkafka error code's [`Failure`] class in [`Batch::fail`]: one failure class,
//! one match arm. What a class means for the whole run (circuit breaker, fatal producer,
//! configuration error, brokers lost) is collected in [`Signals`] and turned into the batch's
//! end in [`verdict`]. The failure classes and why each is handled so are tabled in the
//! repository's ARCHITECTURE.md ("Kafka failure classes").
//!
//! This module never commits: the caller's transaction does, after [`relay`] returns, so a
//! crash at any stage leaves every claimed row pending (see [`crate::queue`]).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureRecord, Producer};

use crate::backoff;
use crate::config::RunArgs;
use crate::dead_letter::{self, ErrorClass};
use crate::kafka::{self, DeadClass, Failure};
use crate::queue::{self, Claimed};
use crate::run::{Counters, Limits, Stop, TopicsReady};
use crate::summary::Outcome;

/// Events claimed by a worker's first batch (at most `--batch-size`).
const FIRST_BATCH_SIZE: i64 = 100;
/// How long a send waits before trying again when librdkafka's local queue is full.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(10);
/// How often the wait for acknowledgements looks whether every broker is down.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What a batch needs besides its connection.
pub(crate) struct Env<'a> {
    /// The run's producer.
    pub producer: &'a kafka::RelayProducer,
    /// Settings.
    pub args: &'a RunArgs,
    /// Deadline, flush timeout, stop signal.
    pub limits: &'a Limits,
    /// The topics check, awaited before producing.
    pub topics: &'a TopicsReady,
    /// Client-level errors (librdkafka's error callback).
    pub health: &'a kafka::ClientHealth,
}

/// What became of one claimed event in this batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Not (yet) the event's fault: it stays pending and due, no attempt charged.
    Untouched,
    /// Kafka acknowledged it: mark it published.
    Published,
    /// Its own failure that may pass: charge an attempt and back off; dead-letter it once
    /// `--max-attempts` are spent.
    Retry(String),
    /// A retriable failure on partition `.1` not yet attributed: [`Fate::Retry`] or
    /// [`Fate::Untouched`], decided for the whole batch in [`attribute_failures`]. `.2` is
    /// whether it timed out (no answer) rather than being refused by the broker.
    Failed(String, i32, bool),
    /// It will never be accepted as it is: dead-letter it.
    Poison(ErrorClass, String),
    /// Sent, no report in time: it may still reach the topic, so it stays pending but out of
    /// every claim until `--message-timeout` has surely passed.
    Unreported,
}

/// Batch-level consequences of the failures seen.
#[derive(Debug, Default)]
struct Signals {
    /// Records acknowledged in this batch (the cluster served it).
    acknowledged: usize,
    /// A fatal idempotent-producer error: the producer is unusable for the rest of the run.
    fatal: Option<String>,
    /// Authentication or authorization refused.
    config: Option<String>,
    /// Every broker was down for `--kafka-timeout` while acknowledgements were due.
    lost: bool,
}

/// The claimed rows of a batch (each one's record value is its stored JSON text) and fates.
struct Batch {
    rows: Vec<Claimed>,
    fates: Vec<Fate>,
    /// Whether each event was handed to the producer (only those can be unreported).
    sent: Vec<bool>,
    signals: Signals,
}

impl Batch {
    /// Records the failure of event `index` by its error's class.
    fn fail(
        &mut self,
        index: usize,
        error: &KafkaError,
        partition: i32,
        env: &Env<'_>,
        counters: &mut Counters,
    ) {
        counters.failed(error);
        let message = error.to_string();
        let fate = match kafka::classify(error) {
            Failure::Record => Fate::Failed(message, partition, false),
            Failure::TimedOut => Fate::Failed(message, partition, true),
            Failure::Permanent(class) => Fate::Poison(dead_class(class), message),
            Failure::Broker | Failure::QueueFull => {
                counters.broker_failure();
                Fate::Untouched
            }
            Failure::Fatal => {
                let (code, reason) = env.producer.client().fatal_error().map_or_else(
                    || (format!("{error}"), String::new()),
                    |(code, reason)| (format!("{code:?}"), reason),
                );
                self.signals.fatal = Some(format!("{code} {reason}").trim().to_owned());
                Fate::Untouched
            }
            Failure::Config => {
                self.signals.config = Some(kafka::config_reason(error));
                Fate::Untouched
            }
        };
        if let Some(slot) = self.fates.get_mut(index) {
            *slot = fate;
        }
    }
}

fn dead_class(class: DeadClass) -> ErrorClass {
    match class {
        DeadClass::TooLarge => ErrorClass::TooLarge,
        DeadClass::Rejected => ErrorClass::Rejected,
    }
}

fn after(delay: Duration) -> chrono::DateTime<Utc> {
    let delay = chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::days(1));
    Utc::now()
        .checked_add_signed(delay)
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

/// Relays one batch on `conn` (inside its transaction). `Ok(Some(_))` ends the run after the
/// commit of what the batch settled; `Ok(None)` goes on; `Err(_)` rolls the batch back.
pub(crate) async fn relay(
    conn: &mut AsyncPgConnection,
    env: &Env<'_>,
    counters: &mut Counters,
) -> Result<Option<Stop>, Stop> {
    let batch_started = Instant::now();
    let rows = claim(conn, env, counters).await?;
    let claimed_at = Instant::now();
    if rows.is_empty() {
        return Ok(Some(Stop::Outcome(Outcome::Drained)));
    }
    if let Err((outcome, reason)) = env.topics.clone().await {
        // Rolls the claim back: nothing was produced, no attempt is charged.
        return Err(Stop::Failed(outcome, reason));
    }
    counters.claimed += rows.len() as u64;
    let mut batch = validate(rows, env.args);
    let in_flight = produce(&mut batch, env, counters).await;
    let sent_at = Instant::now();
    await_acknowledgements(&mut batch, in_flight, env, counters).await;
    attribute_failures(&mut batch, env, counters).await;
    let acknowledged_at = Instant::now();
    settle(conn, &mut batch, env, counters).await?;
    // Where a batch's time goes (read by the benchmark's stage breakdown; debug level).
    tracing::debug!(
        rows = batch.rows.len(),
        claim_us = (claimed_at - batch_started).as_micros() as u64,
        validate_send_us = (sent_at - claimed_at).as_micros() as u64,
        acks_us = (acknowledged_at - sent_at).as_micros() as u64,
        mark_us = acknowledged_at.elapsed().as_micros() as u64,
        "batch stages"
    );
    Ok(verdict(&batch, env.args, counters))
}

/// Stage 1: claims up to a batch of due head events (a worker's first batch is small, so the
/// first events leave while the database is cold).
async fn claim(
    conn: &mut AsyncPgConnection,
    env: &Env<'_>,
    counters: &mut Counters,
) -> Result<Vec<Claimed>, Stop> {
    let limit = if counters.batches == 0 {
        env.args.batch_size.min(FIRST_BATCH_SIZE)
    } else {
        env.args.batch_size
    };
    let rows = queue::claim(conn, limit).await?;
    if !env.limits.first_claim_logged.swap(true, Ordering::AcqRel) {
        // Cold start: process start to the first claim (benchmarks read this line).
        tracing::info!(
            first_claim_ms = env.limits.started.elapsed().as_millis() as u64,
            claimed = rows.len(),
            "first claim"
        );
    }
    counters.batches += 1;
    Ok(rows)
}

/// Stage 2: poison for the events too large, and for those that fail their schema. The schema
/// is checked only where the writer did not (`payload_validated` unset: written some other way,
/// or changed since): the API validates every event before it commits, and parsing and
/// validating again was the largest share of the relay's own time per event.
fn validate(rows: Vec<Claimed>, args: &RunArgs) -> Batch {
    let max_bytes = usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX);
    let fates = rows
        .iter()
        .map(|row| {
            if row.payload.len() > max_bytes {
                let message = format!(
                    "event of {} bytes exceeds the {max_bytes}-byte record limit",
                    row.payload.len()
                );
                return Fate::Poison(ErrorClass::TooLarge, message);
            }
            if row.payload_validated {
                return Fate::Untouched;
            }
            let checked = serde_json::from_str::<serde_json::Value>(&row.payload)
                .map_err(|error| error.to_string())
                .and_then(|event| {
                    payment_events::validate_event(&event).map_err(|error| error.to_string())
                });
            match checked {
                Ok(()) => Fate::Untouched,
                Err(error) => Fate::Poison(ErrorClass::SchemaInvalid, error),
            }
        })
        .collect();
    Batch {
        sent: vec![false; rows.len()],
        rows,
        fates,
        signals: Signals::default(),
    }
}

/// An event's delivery report, tagged with its index in the batch.
type Report = (
    usize,
    Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
);

/// Stage 3: sends every valid event. A full local queue (`QueueFull`) is back-pressure: wait a
/// moment for librdkafka to deliver and send again, until the deadline plus `--flush-timeout`.
async fn produce(
    batch: &mut Batch,
    env: &Env<'_>,
    counters: &mut Counters,
) -> FuturesUnordered<impl Future<Output = Report> + use<>> {
    let in_flight = FuturesUnordered::new();
    let give_up = env.limits.deadline + env.limits.flush_timeout;
    for index in 0..batch.rows.len() {
        let (Some(row), Some(Fate::Untouched)) = (batch.rows.get(index), batch.fates.get(index))
        else {
            continue;
        };
        let key = row.aggregate_id.to_string();
        let event_id = row.event_id.to_string();
        let sequence = payment_events::format_sequence(row.aggregate_version);
        let stored = row.traceparent.as_deref();
        // With spans exported: one PRODUCER span per record, continuing the event's stored
        // trace; the record carries that span's context, so a consumer continues it.
        let span = payment_telemetry::producer_span(
            &env.args.events_topic,
            stored,
            &tracing::Span::current(),
            &[
                ("messaging.system", "kafka".to_owned()),
                ("messaging.message.id", event_id.clone()),
                ("messaging.kafka.message.key", key.clone()),
            ],
        );
        let traceparent = span.as_ref().map_or(stored, |(_, own)| Some(own.as_str()));
        let mut record = FutureRecord::to(&env.args.events_topic)
            .key(&key)
            .payload(row.payload.as_bytes())
            .headers(kafka::event_headers(
                kafka::CLOUDEVENTS_JSON,
                &event_id,
                &row.event_type,
                &sequence,
                traceparent,
            ));
        let sent = loop {
            match env.producer.send_result(record) {
                Ok(delivery) => break Ok(delivery),
                Err((error, returned))
                    if kafka::classify(&error) == Failure::QueueFull
                        && Instant::now() < give_up =>
                {
                    counters.queue_full_waits += 1;
                    tokio::time::sleep(QUEUE_FULL_WAIT).await;
                    record = returned;
                }
                Err((error, _)) => break Err(error),
            }
        };
        match sent {
            Ok(delivery) => {
                if let Some(sent) = batch.sent.get_mut(index) {
                    *sent = true;
                }
                in_flight.push(report(index, delivery, span.map(|(span, _)| span)));
            }
            // Never queued: classified like a delivery error.
            Err(error) => {
                if let Some((mut span, _)) = span {
                    span.fail(error.to_string());
                }
                batch.fail(index, &error, -1, env, counters);
            }
        }
    }
    in_flight
}

/// Awaits one delivery report; the record's span (if any) ends with it.
async fn report(
    index: usize,
    delivery: DeliveryFuture,
    span: Option<payment_telemetry::ActiveSpan>,
) -> Report {
    let report = delivery.await;
    if let Some(mut span) = span {
        match &report {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => span.fail(error.to_string()),
            Err(_canceled) => span.fail("delivery report lost".to_owned()),
        }
    }
    (index, report)
}

/// Stage 4: collects delivery reports until all are in, the deadline plus `--flush-timeout`
/// passes, or every broker has been down for `--kafka-timeout`. Events without a report are
/// [`Fate::Unreported`].
async fn await_acknowledgements(
    batch: &mut Batch,
    mut in_flight: FuturesUnordered<impl Future<Output = Report>>,
    env: &Env<'_>,
    counters: &mut Counters,
) {
    let flush_expired = env.limits.flush_expired();
    tokio::pin!(flush_expired);
    let lost = brokers_down(env.health, env.args.kafka_timeout);
    tokio::pin!(lost);
    let mut reported = vec![false; batch.rows.len()];
    let expected = in_flight.len();
    let mut received = 0;
    loop {
        let (index, report) = tokio::select! {
            next = in_flight.next() => match next { Some(next) => next, None => break },
            () = &mut flush_expired => break,
            () = &mut lost => {
                batch.signals.lost = true;
                break;
            }
        };
        received += 1;
        if let Some(done) = reported.get_mut(index) {
            *done = true;
        }
        match report {
            Ok(Ok(_)) => {
                if let Some(fate) = batch.fates.get_mut(index) {
                    *fate = Fate::Published;
                }
                batch.signals.acknowledged += 1;
                counters.broker_failures = 0;
                env.health.acknowledged();
            }
            Ok(Err((error, message))) => {
                // Counted, not logged: the run reports its failures once, by error code.
                tracing::debug!(index, error = %error, "delivery failed");
                batch.fail(index, &error, message.partition(), env, counters);
            }
            Err(_canceled) => batch.fail(index, &KafkaError::Canceled, -1, env, counters),
        }
    }
    if received < expected {
        for ((fate, sent), done) in batch.fates.iter_mut().zip(&batch.sent).zip(&reported) {
            if *sent && !*done {
                *fate = Fate::Unreported;
            }
        }
    }
}

/// Resolves once every broker has been down for `timeout` (librdkafka's `AllBrokersDown`, not
/// cleared by an acknowledgement since).
async fn brokers_down(health: &kafka::ClientHealth, timeout: Duration) {
    loop {
        tokio::time::sleep(HEALTH_CHECK_INTERVAL).await;
        if health.all_down_for().is_some_and(|down| down >= timeout) {
            return;
        }
    }
}

/// Decides whose fault the batch's retriable failures are. They are the events' own (an
/// attempt charged each) when the cluster is serving: a record of this batch, or any record of
/// the run within `--kafka-timeout`, was acknowledged. Without that evidence the cluster is
/// asked for metadata: the failures are the events' own when it answers, they all come from one
/// partition, and — for a timeout — that partition has a leader. Otherwise (no answer, or
/// several partitions failing and none serving) they are broker-wide: no charge, counted
/// towards the circuit breaker. So one partition refusing writes charges only its events, also
/// in a run where nothing else is due, while every partition failing is an outage.
async fn attribute_failures(batch: &mut Batch, env: &Env<'_>, counters: &mut Counters) {
    let failed: Vec<usize> = (0..batch.fates.len())
        .filter(|index| matches!(batch.fates.get(*index), Some(Fate::Failed(..))))
        .collect();
    if failed.is_empty() {
        return;
    }
    let serving =
        batch.signals.acknowledged > 0 || env.health.acknowledged_within(env.args.kafka_timeout);
    let leaders = if serving {
        None
    } else {
        let timeout = env.args.kafka_timeout.min(Duration::from_secs(2));
        Some(kafka::partition_leaders(env.producer, &env.args.events_topic, timeout).await)
    };
    let failing: std::collections::HashSet<i32> = failed
        .iter()
        .filter_map(|index| match batch.fates.get(*index) {
            Some(Fate::Failed(_, partition, _)) => Some(*partition),
            _ => None,
        })
        .collect();
    for index in failed {
        let Some(fate) = batch.fates.get_mut(index) else {
            continue;
        };
        let Fate::Failed(message, partition, timed_out) = fate else {
            continue;
        };
        let own = match &leaders {
            None => true,
            Some(Err(_)) => false,
            Some(Ok(leaders)) => {
                let led = leaders.get(partition).is_some_and(|leader| *leader >= 0);
                failing.len() == 1 && (led || !*timed_out)
            }
        };
        *fate = if own {
            Fate::Retry(std::mem::take(message))
        } else {
            counters.broker_failure();
            Fate::Untouched
        };
    }
}

/// Stage 5: writes every fate: published, failure recorded with backoff (or dead-lettered when
/// out of attempts), unacknowledged deferred, poison dead-lettered.
async fn settle(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    env: &Env<'_>,
    counters: &mut Counters,
) -> Result<(), Stop> {
    let mut published = Vec::new();
    let mut unreported = Vec::new();
    let mut poison = Vec::new();
    for (row, fate) in batch.rows.iter().zip(&batch.fates) {
        match fate {
            Fate::Untouched | Fate::Failed(..) => {}
            Fate::Published => published.push(row.sequence),
            Fate::Unreported => unreported.push(row.sequence),
            Fate::Poison(class, message) => poison.push(Poison {
                row,
                class: *class,
                message: message.clone(),
                attempts: row.attempts,
                size: row.payload.len(),
            }),
            Fate::Retry(message) => {
                let attempts = row.attempts.saturating_add(1);
                if attempts >= env.args.max_attempts {
                    poison.push(Poison {
                        row,
                        class: ErrorClass::AttemptsExhausted,
                        message: message.clone(),
                        attempts,
                        size: row.payload.len(),
                    });
                } else {
                    let delay =
                        backoff::delay(attempts, env.args.backoff_base, env.args.backoff_max);
                    queue::record_failure(conn, row.sequence, after(delay), message).await?;
                    counters.retried += 1;
                }
            }
        }
    }
    counters.published +=
        u64::try_from(queue::mark_published(conn, &published).await?).unwrap_or(0);
    // Records still unacknowledged may yet reach the topic: keep the rows (and so their
    // payments' later events) out of every claim until they have surely expired.
    queue::defer(conn, &unreported, after(env.args.message_timeout)).await?;
    counters.unreported += unreported.len() as u64;
    dead_letter(conn, env, counters, poison).await
}

/// The batch's end for the run: a configuration error, a fatal producer, lost brokers,
/// unacknowledged events or an open circuit breaker end it; otherwise it goes on.
fn verdict(batch: &Batch, args: &RunArgs, counters: &Counters) -> Option<Stop> {
    let unreported = batch
        .fates
        .iter()
        .filter(|fate| **fate == Fate::Unreported)
        .count();
    if let Some(reason) = &batch.signals.config {
        return Some(Stop::Failed(Outcome::ConfigError, reason.clone()));
    }
    if let Some(reason) = &batch.signals.fatal {
        return Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "fatal idempotent-producer error ({reason}): the events stay pending; the next run starts a fresh producer"
            ),
        ));
    }
    if batch.signals.lost {
        return Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "every broker down for --kafka-timeout ({} ms); {unreported} event(s) in flight stay pending",
                args.kafka_timeout.as_millis()
            ),
        ));
    }
    if unreported > 0 {
        return Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "{unreported} event(s) not acknowledged within --flush-timeout; they stay pending"
            ),
        ));
    }
    if counters.broker_failures >= args.breaker_threshold {
        return Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "circuit breaker open after {} consecutive broker-level failures",
                counters.broker_failures
            ),
        ));
    }
    None
}

/// An event to dead-letter: the row, why, its attempts, its size in bytes.
struct Poison<'a> {
    row: &'a Claimed,
    class: ErrorClass,
    message: String,
    attempts: i32,
    size: usize,
}

/// A DLQ delivery tagged with its poison index and whether it was the reference form.
async fn awaiting(
    index: usize,
    reference: bool,
    delivery: DeliveryFuture,
) -> (
    usize,
    bool,
    Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) {
    (index, reference, delivery.await)
}

/// Stage 5, dead-letter part: sends the batch's poison events to the DLQ together, waits for
/// their reports within the same bounds as the events, and marks each acknowledged one dead
/// (`last_error` = `<error class>: <message>`). A record the DLQ refuses for good is sent again
/// as a small reference; one not acknowledged leaves its event pending, deferred, with no
/// attempt charged.
async fn dead_letter(
    conn: &mut AsyncPgConnection,
    env: &Env<'_>,
    counters: &mut Counters,
    poison: Vec<Poison<'_>>,
) -> Result<(), Stop> {
    let args = env.args;
    let send = |item: &Poison<'_>, reference: bool| {
        let record = dead_letter::record(
            item.row,
            item.class,
            &item.message,
            item.attempts,
            &args.events_topic,
            item.size,
            Utc::now(),
            reference,
        );
        let value = serde_json::to_vec(&record).unwrap_or_default();
        let key = item.row.aggregate_id.to_string();
        let event_id = item.row.event_id.to_string();
        let sequence = payment_events::format_sequence(item.row.aggregate_version);
        let headers = kafka::event_headers(
            kafka::DEAD_LETTER_JSON,
            &event_id,
            &item.row.event_type,
            &sequence,
            None,
        );
        let dlq = FutureRecord::to(&args.dlq_topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        env.producer.send_result(dlq).map_err(|(error, _)| error)
    };
    let mut in_flight = FuturesUnordered::new();
    for (index, item) in poison.iter().enumerate() {
        let reference = item.class == ErrorClass::TooLarge;
        match send(item, reference) {
            Ok(delivery) => in_flight.push(awaiting(index, reference, delivery)),
            Err(error) => {
                tracing::debug!(event.id = %item.row.event_id, %error, "dead-letter record not queued");
                counters.failed(&error);
                counters.broker_failure();
            }
        }
    }
    let flush_expired = env.limits.flush_expired();
    tokio::pin!(flush_expired);
    let mut dead = vec![false; poison.len()];
    loop {
        let (index, reference, report) = tokio::select! {
            next = in_flight.next() => match next { Some(next) => next, None => break },
            () = &mut flush_expired => break,
        };
        let Some(item) = poison.get(index) else {
            continue;
        };
        let error = match report {
            Ok(Ok(_)) => {
                tracing::warn!(event.id = %item.row.event_id, payment.id = %item.row.aggregate_id, error.class = item.class.as_str(), "dead-lettered");
                let reason = format!("{}: {}", item.class.as_str(), item.message);
                queue::mark_dead(conn, item.row.sequence, item.attempts, &reason).await?;
                counters.dead_lettered += 1;
                if let Some(flag) = dead.get_mut(index) {
                    *flag = true;
                }
                continue;
            }
            Ok(Err((error, _))) => error,
            Err(_) => KafkaError::Canceled,
        };
        counters.failed(&error);
        match kafka::classify(&error) {
            Failure::Permanent(_) if !reference => match send(item, true) {
                Ok(delivery) => in_flight.push(awaiting(index, true, delivery)),
                Err(_) => counters.broker_failure(),
            },
            _ => counters.broker_failure(),
        }
    }
    let waiting: Vec<i64> = poison
        .iter()
        .zip(&dead)
        .filter(|(_, dead)| !**dead)
        .map(|(item, _)| item.row.sequence)
        .collect();
    queue::defer(
        conn,
        &waiting,
        after(args.backoff_base.max(args.message_timeout)),
    )
    .await?;
    Ok(())
}
