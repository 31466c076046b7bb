//! `relay-job run`: claim → validate → produce → wait for delivery reports → mark, batch after
//! batch, until the outbox has no due event, the deadline passes, a signal arrives, or Kafka or
//! the database fails. See [`crate::queue`] for why this keeps the contract's guarantees.

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use payment_db::models::OutboxEvent;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::watch;
use uuid::Uuid;

use crate::backoff;
use crate::config::RunArgs;
use crate::dead_letter::{self, ErrorClass};
use crate::kafka::{self, Failure};
use crate::queue;
use crate::summary::{Outcome, RunSummary};

/// How long to wait for the cluster when creating topics at start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Counters {
    published: u64,
    retried: u64,
    dead_lettered: u64,
    /// Consecutive broker-level failures (reset by any acknowledgement).
    broker_failures: u32,
}

#[derive(Debug)]
enum Stop {
    Outcome(Outcome),
    Failed(Outcome, String),
}

impl From<diesel::result::Error> for Stop {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        let outcome = match &error {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Outcome::DatabaseUnavailable,
            Error::DatabaseError(_, info)
                if info.message().contains("terminating connection")
                    || info.message().contains("connection closed") =>
            {
                Outcome::DatabaseUnavailable
            }
            _ => Outcome::Error,
        };
        Self::Failed(outcome, format!("database: {error}"))
    }
}

/// What ends the waiting for acknowledgements early: a stop request or the deadline, plus
/// `--flush-timeout`.
struct Limits {
    deadline: Instant,
    flush_timeout: Duration,
    stop: watch::Receiver<bool>,
}

impl Limits {
    fn should_stop(&self) -> Option<Outcome> {
        if *self.stop.borrow() {
            Some(Outcome::Interrupted)
        } else if Instant::now() >= self.deadline {
            Some(Outcome::Deadline)
        } else {
            None
        }
    }

    /// Resolves `flush_timeout` after a stop request or the deadline.
    async fn flush_expired(&self) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => {},
            () = tokio::time::sleep_until(self.deadline.into()) => {},
        }
        tokio::time::sleep(self.flush_timeout).await;
    }
}

/// Runs one relay pass and returns its summary (never panics on Kafka or database failure).
pub async fn run(args: &RunArgs, stop: watch::Receiver<bool>) -> RunSummary {
    let started = Instant::now();
    let run_id = Uuid::now_v7();
    let span = tracing::info_span!("relay", run.id = %run_id);
    let _entered = span.enter();
    let limits = Limits {
        deadline: started + args.max_runtime,
        flush_timeout: args.flush_timeout,
        stop,
    };
    let mut counters = Counters::default();
    let mut conn = None;
    let (outcome, reason) = match drive(args, &limits, &mut counters, &mut conn).await {
        Stop::Outcome(outcome) => (outcome, None),
        Stop::Failed(outcome, reason) => (outcome, Some(reason)),
    };
    let backlog = match conn.as_mut() {
        Some(conn) if outcome != Outcome::DatabaseUnavailable => queue::backlog(conn).await.ok(),
        _ => None,
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    RunSummary {
        run_id,
        published: counters.published,
        retried: counters.retried,
        dead_lettered: counters.dead_lettered,
        parked_keys: backlog.map(|b| b.parked_payments),
        remaining: backlog.map(|b| b.pending),
        oldest_pending_age_ms: backlog.map(|b| b.oldest_pending_age_ms),
        duration_ms,
        outcome,
        exit_code: outcome.exit_code(),
        reason,
    }
}

async fn drive(
    args: &RunArgs,
    limits: &Limits,
    counters: &mut Counters,
    slot: &mut Option<AsyncPgConnection>,
) -> Stop {
    let conn = match AsyncPgConnection::establish(&args.database.database_url).await {
        Ok(conn) => slot.insert(conn),
        Err(error) => {
            return Stop::Failed(Outcome::DatabaseUnavailable, format!("database: {error}"));
        }
    };
    let producer = match kafka::producer(args) {
        Ok(producer) => producer,
        Err(error) => {
            return Stop::Failed(
                Outcome::ConfigError,
                format!("kafka configuration: {error}"),
            );
        }
    };
    let startup_timeout = STARTUP_TIMEOUT.min(args.message_timeout);
    let topics = if args.create_topics {
        kafka::ensure_topics(args, startup_timeout).await
    } else {
        kafka::check_topics(&producer, args, startup_timeout).await
    };
    if let Err(error) = topics {
        return Stop::Failed(
            Outcome::KafkaUnavailable,
            format!("kafka unavailable: {error}"),
        );
    }
    let result = loop {
        if let Some(outcome) = limits.should_stop() {
            break Stop::Outcome(outcome);
        }
        let batch = conn
            .transaction::<_, Stop, _>(async |conn| {
                relay_batch(conn, &producer, args, limits, counters).await
            })
            .await;
        match batch {
            Ok(None) => {}
            Ok(Some(stop)) | Err(stop) => break stop,
        }
    };
    // Every record was awaited above; this only drains librdkafka's internal queue.
    let _ = producer.flush(Duration::from_millis(100));
    result
}

/// One claimed batch, inside its transaction. `Ok(Some(_))` ends the run after committing what
/// the batch marked; `Ok(None)` goes on.
async fn relay_batch(
    conn: &mut AsyncPgConnection,
    producer: &FutureProducer,
    args: &RunArgs,
    limits: &Limits,
    counters: &mut Counters,
) -> Result<Option<Stop>, Stop> {
    let rows = queue::claim(conn, args.batch_size).await?;
    if rows.is_empty() {
        return Ok(Some(Stop::Outcome(Outcome::Drained)));
    }
    let max_bytes = usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX);
    let mut poison: Vec<(&OutboxEvent, ErrorClass, String, i32, usize)> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    let mut values = Vec::with_capacity(rows.len());
    for row in &rows {
        values.push(serde_json::to_vec(&row.payload).unwrap_or_default());
    }
    for (index, row) in rows.iter().enumerate() {
        let value = values.get(index).map_or(&[][..], Vec::as_slice);
        if value.len() > max_bytes {
            let message = format!(
                "event of {} bytes exceeds the {max_bytes}-byte record limit",
                value.len()
            );
            poison.push((
                row,
                ErrorClass::TooLarge,
                message,
                row.attempts,
                value.len(),
            ));
            continue;
        }
        if let Err(error) = payment_events::validate_event(&row.payload) {
            poison.push((
                row,
                ErrorClass::SchemaInvalid,
                error.to_string(),
                row.attempts,
                value.len(),
            ));
            continue;
        }
        let key = row.aggregate_id.to_string();
        let event_id = row.event_id.to_string();
        let sequence = payment_events::format_sequence(row.aggregate_version);
        let traceparent = row
            .headers
            .get("traceparent")
            .and_then(serde_json::Value::as_str);
        let record = FutureRecord::to(&args.events_topic)
            .key(&key)
            .payload(value)
            .headers(kafka::event_headers(
                &event_id,
                &row.event_type,
                &sequence,
                traceparent,
            ));
        match producer.send_result(record) {
            Ok(delivery) => in_flight.push(async move { (index, delivery.await) }),
            Err((error, _)) => match kafka::classify(&error) {
                Failure::Permanent(_) => poison.push((
                    row,
                    ErrorClass::TooLarge,
                    format!("refused by the producer: {error}"),
                    row.attempts,
                    value.len(),
                )),
                Failure::Broker | Failure::Transient => counters.broker_failures += 1,
            },
        }
    }

    // Wait for every delivery report, or until flush-timeout after a stop/deadline.
    let mut published = Vec::with_capacity(rows.len());
    let mut undelivered = in_flight.len();
    {
        let flush_expired = limits.flush_expired();
        tokio::pin!(flush_expired);
        while undelivered > 0 {
            let (index, report) = tokio::select! {
                next = in_flight.next() => match next { Some(next) => next, None => break },
                () = &mut flush_expired => break,
            };
            undelivered -= 1;
            let Some(row) = rows.get(index) else { continue };
            let error = match report {
                Ok(Ok(_)) => {
                    published.push(row.sequence);
                    counters.broker_failures = 0;
                    continue;
                }
                Ok(Err((error, _))) => error,
                Err(_canceled) => KafkaError::Canceled,
            };
            tracing::warn!(event.id = %row.event_id, payment.id = %row.aggregate_id, error = %error, "delivery failed");
            let attempts = row.attempts.saturating_add(1);
            match kafka::classify(&error) {
                Failure::Broker => counters.broker_failures += 1,
                Failure::Permanent(_) => poison.push((
                    row,
                    ErrorClass::Rejected,
                    error.to_string(),
                    attempts,
                    values.get(index).map_or(0, Vec::len),
                )),
                Failure::Transient if attempts >= args.max_attempts => {
                    poison.push((
                        row,
                        ErrorClass::AttemptsExhausted,
                        error.to_string(),
                        attempts,
                        values.get(index).map_or(0, Vec::len),
                    ));
                }
                Failure::Transient => {
                    let delay = backoff::delay(attempts, args.backoff_base, args.backoff_max);
                    let next = Utc::now()
                        + chrono::Duration::from_std(delay)
                            .unwrap_or_else(|_| chrono::Duration::seconds(60));
                    queue::record_failure(conn, row.sequence, next, &error.to_string()).await?;
                    counters.retried += 1;
                }
            }
        }
    }
    counters.published +=
        u64::try_from(queue::mark_published(conn, &published).await?).unwrap_or(0);

    for (row, class, message, attempts, size) in poison {
        let record = dead_letter::record(
            row,
            class,
            &message,
            attempts,
            &args.events_topic,
            size,
            Utc::now(),
        );
        payment_events::validate_dead_letter(&record).map_err(|error| {
            Stop::Failed(
                Outcome::Error,
                format!("dead-letter record invalid: {error}"),
            )
        })?;
        let value = serde_json::to_vec(&record).unwrap_or_default();
        let key = row.aggregate_id.to_string();
        let event_id = row.event_id.to_string();
        let sequence = payment_events::format_sequence(row.aggregate_version);
        let dlq = FutureRecord::to(&args.dlq_topic)
            .key(&key)
            .payload(&value)
            .headers(kafka::event_headers(
                &event_id,
                &row.event_type,
                &sequence,
                None,
            ));
        let delivered = match producer.send_result(dlq) {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(error),
                Err(_) => Err(KafkaError::Canceled),
            },
            Err((error, _)) => Err(error),
        };
        match delivered {
            Ok(()) => {
                tracing::warn!(event.id = %row.event_id, payment.id = %row.aggregate_id, error.class = class.as_str(), "dead-lettered");
                queue::mark_dead(conn, row.sequence, attempts, &message).await?;
                counters.dead_lettered += 1;
            }
            Err(error) => {
                // The DLQ did not take it: leave the event pending, charge nothing.
                tracing::warn!(event.id = %row.event_id, error = %error, "dead-letter delivery failed");
                counters.broker_failures += 1;
            }
        }
    }

    if undelivered > 0 {
        return Ok(Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "{undelivered} event(s) not acknowledged within --flush-timeout; they stay pending"
            ),
        )));
    }
    if counters.broker_failures >= args.breaker_threshold {
        return Ok(Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "circuit breaker open after {} consecutive broker-level failures",
                counters.broker_failures
            ),
        )));
    }
    Ok(None)
}
