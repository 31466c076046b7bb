//! `relay-job run`: claim → validate → produce → wait for delivery reports → mark, batch after
//! batch, until the outbox has no due event, the deadline passes, a signal arrives, or Kafka or
//! the database fails. See [`crate::queue`] for why this keeps the contract's guarantees.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use payment_db::models::OutboxEvent;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureRecord, Producer};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::backoff;
use crate::config::RunArgs;
use crate::dead_letter::{self, ErrorClass};
use crate::kafka::{self, Failure};
use crate::queue;
use crate::summary::{Outcome, RunSummary};

/// How often the wait for acknowledgements looks whether every broker is down.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// How long to wait for a database connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events claimed by a worker's first batch (at most `--batch-size`).
const FIRST_BATCH_SIZE: i64 = 100;
/// Longest database statement.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Counters {
    batches: u64,
    claimed: u64,
    published: u64,
    retried: u64,
    dead_lettered: u64,
    /// Consecutive broker-level failures (reset by any acknowledgement).
    broker_failures: u32,
    /// All broker-level failures of the run.
    broker_failures_total: u64,
    /// Failed deliveries by librdkafka error code name (reported once, in the summary).
    failures: BTreeMap<String, u64>,
    /// A configuration error (authentication or authorization) seen by a batch.
    config_error: Option<String>,
}

impl Counters {
    /// Adds a worker's counts to the run's.
    fn add(&mut self, other: &Self) {
        self.batches += other.batches;
        self.claimed += other.claimed;
        self.published += other.published;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.broker_failures = self.broker_failures.max(other.broker_failures);
        self.broker_failures_total += other.broker_failures_total;
        for (code, count) in &other.failures {
            *self.failures.entry(code.clone()).or_default() += count;
        }
        if self.config_error.is_none() {
            self.config_error.clone_from(&other.config_error);
        }
    }

    /// Counts a failed delivery under its librdkafka error code.
    fn failed(&mut self, error: &KafkaError) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| "Canceled".to_owned(), |code| format!("{code:?}"));
        *self.failures.entry(code).or_default() += 1;
    }

    fn broker_failure(&mut self) {
        self.broker_failures = self.broker_failures.saturating_add(1);
        self.broker_failures_total += 1;
    }
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
    started: Instant,
    deadline: Instant,
    flush_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// Set by the first claim of the run, which logs the cold start.
    first_claim_logged: AtomicBool,
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
    let deadline = started
        .checked_add(args.max_runtime)
        .unwrap_or(started + Duration::from_secs(365 * 24 * 3600));
    let limits = Limits {
        started,
        deadline,
        flush_timeout: args.flush_timeout,
        stop,
        first_claim_logged: AtomicBool::new(false),
    };
    let mut counters = Counters::default();
    let mut conn = None;
    let mut client_errors = BTreeMap::new();
    let (outcome, reason) =
        match drive(args, &limits, &mut counters, &mut conn, &mut client_errors).await {
            Stop::Outcome(outcome) => (outcome, None),
            Stop::Failed(outcome, reason) => (outcome, Some(reason)),
        };
    // One line for the run's troubles, however many events or reconnects they touched.
    if let Some(reason) = &reason {
        tracing::error!(
            outcome = ?outcome,
            delivery_failures = ?counters.failures,
            client_errors = ?client_errors,
            "{reason}"
        );
    } else if !counters.failures.is_empty() || !client_errors.is_empty() {
        tracing::warn!(
            delivery_failures = ?counters.failures,
            client_errors = ?client_errors,
            "kafka failures during the run"
        );
    }
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
        failures: counters.failures,
    }
}

async fn drive(
    args: &RunArgs,
    limits: &Limits,
    counters: &mut Counters,
    slot: &mut Option<AsyncPgConnection>,
    client_errors: &mut BTreeMap<String, u64>,
) -> Stop {
    if let Err(reason) = kafka::check_overrides(&args.kafka) {
        return Stop::Failed(Outcome::ConfigError, reason);
    }
    let resolved;
    let args = match resolve_kafka_secret(args).await {
        Ok(Some(with_secret)) => {
            resolved = with_secret;
            &resolved
        }
        Ok(None) => args,
        Err(reason) => return Stop::Failed(Outcome::ConfigError, reason),
    };
    let url = match args.database.url().await {
        Ok(url) => url,
        Err(error) => {
            return Stop::Failed(Outcome::ConfigError, format!("database settings: {error}"));
        }
    };
    let context = match kafka::RelayContext::for_settings(&args.kafka) {
        Ok(context) => context,
        Err(reason) => return Stop::Failed(Outcome::ConfigError, reason),
    };
    let producer = match kafka::producer(args, context.clone()) {
        Ok(producer) => producer,
        Err(error) => {
            return Stop::Failed(
                Outcome::ConfigError,
                format!("kafka configuration: {error}"),
            );
        }
    };
    // The topics are ensured in the background while the first batch is claimed; every batch
    // awaits them before producing (cold start = process start to first claim).
    let topics = topics_ready(args, limits, context.clone(), &producer);
    let connecting = (0..args.workers).map(|_| connect(&url, args));
    let conns: Result<Vec<_>, String> = futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect();
    let mut conns = match conns {
        Ok(conns) => conns,
        Err(reason) => return Stop::Failed(Outcome::DatabaseUnavailable, reason),
    };
    if let Some(first) = conns.first_mut() {
        match crate::database::pending_migrations(first).await {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => {
                return Stop::Failed(
                    Outcome::DatabaseUnavailable,
                    crate::database::not_migrated(&pending),
                );
            }
            Err(error) => return Stop::from(error),
        }
    }
    let coordination = Coordination::default();
    let health = context.health();
    let workers = conns.iter_mut().map(|conn| {
        work(
            conn,
            &producer,
            args,
            limits,
            &topics,
            &coordination,
            health,
        )
    });
    let mut result = None;
    for (stop, worker_counters) in futures::future::join_all(workers).await {
        counters.add(&worker_counters);
        result = match (result, stop) {
            (Some(Stop::Failed(outcome, reason)), _) | (_, Some(Stop::Failed(outcome, reason))) => {
                Some(Stop::Failed(outcome, reason))
            }
            (Some(Stop::Outcome(Outcome::Drained)) | None, Some(stop)) => Some(stop),
            (result, _) => result,
        };
    }
    *slot = conns.into_iter().next();
    // Every record was awaited by its worker; this only drains librdkafka's internal queue.
    let _ = producer.flush(Duration::from_millis(100));
    *client_errors = health.errors();
    if let Some(reason) = counters.config_error.take() {
        return Stop::Failed(Outcome::ConfigError, reason);
    }
    match result.unwrap_or(Stop::Outcome(Outcome::Drained)) {
        // An empty outbox still needs a reachable Kafka for a clean exit (§6.7).
        Stop::Outcome(Outcome::Drained) => match topics.await {
            Ok(()) => Stop::Outcome(Outcome::Drained),
            Err((outcome, reason)) => Stop::Failed(outcome, reason),
        },
        // §6.7: exit 0 only for a deadline reached with progress.
        Stop::Outcome(Outcome::Deadline)
            if counters.published + counters.dead_lettered == 0 && counters.claimed > 0 =>
        {
            let outcome = if counters.broker_failures_total > 0 {
                Outcome::KafkaUnavailable
            } else {
                Outcome::Error
            };
            Stop::Failed(
                outcome,
                "deadline reached without publishing anything".to_owned(),
            )
        }
        stop => stop,
    }
}

/// The topics check, started at once in the background and awaited by every batch before it
/// produces; `Err` is the outcome and reason the run ends with.
type TopicsReady =
    futures::future::Shared<futures::future::BoxFuture<'static, Result<(), kafka::TopicsError>>>;

/// Starts the topics check. It counts against the run's budget: it may take `--kafka-timeout`,
/// and never longer than the deadline plus `--flush-timeout`.
fn topics_ready(
    args: &RunArgs,
    limits: &Limits,
    context: kafka::RelayContext,
    producer: &kafka::RelayProducer,
) -> TopicsReady {
    use futures::FutureExt;
    let budget = limits
        .deadline
        .saturating_duration_since(Instant::now())
        .saturating_add(limits.flush_timeout);
    let timeout = args.kafka_timeout.min(budget).max(Duration::from_millis(1));
    let args = args.clone();
    let producer = producer.clone();
    let check =
        tokio::spawn(async move { kafka::ensure_topics(&producer, &args, context, timeout).await });
    async move {
        match check.await {
            Ok(result) => result,
            Err(error) => Err((Outcome::Error, format!("topics check failed: {error}"))),
        }
    }
    .boxed()
    .shared()
}

/// What the workers of one run share: how many are inside a batch, a wake-up when one leaves
/// it, and whether the run has ended.
#[derive(Default)]
struct Coordination {
    busy: AtomicUsize,
    batch_done: Notify,
    halted: AtomicBool,
}

/// One worker: batch after batch on its own connection. A worker that finds nothing due while
/// another is inside a batch waits for that batch to end (its commit may make successors due)
/// and claims again; the run is drained when a claim finds nothing and no batch is running.
/// `None` means another worker ended the run.
async fn work(
    conn: &mut AsyncPgConnection,
    producer: &kafka::RelayProducer,
    args: &RunArgs,
    limits: &Limits,
    topics: &TopicsReady,
    coordination: &Coordination,
    health: &kafka::ClientHealth,
) -> (Option<Stop>, Counters) {
    let mut counters = Counters::default();
    let stop = loop {
        if coordination.halted.load(Ordering::Acquire) {
            break None;
        }
        if let Some(outcome) = limits.should_stop() {
            break Some(Stop::Outcome(outcome));
        }
        coordination.busy.fetch_add(1, Ordering::AcqRel);
        let batch = conn
            .transaction::<_, Stop, _>(async |conn| {
                relay_batch(conn, producer, args, limits, topics, health, &mut counters).await
            })
            .await;
        let done = coordination.batch_done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        let others_busy = coordination.busy.fetch_sub(1, Ordering::AcqRel) > 1;
        match batch {
            Ok(None) => coordination.batch_done.notify_waiters(),
            Ok(Some(Stop::Outcome(Outcome::Drained))) if others_busy => done.await,
            Ok(Some(stop)) | Err(stop) => {
                if !matches!(stop, Stop::Outcome(Outcome::Drained)) {
                    coordination.halted.store(true, Ordering::Release);
                }
                coordination.batch_done.notify_waiters();
                break Some(stop);
            }
        }
    };
    (stop, counters)
}

/// With `KAFKA_SASL_SECRET_ARN`, the settings with the secret's username and password filled in.
async fn resolve_kafka_secret(args: &RunArgs) -> Result<Option<RunArgs>, String> {
    let Some(arn) = &args.kafka.kafka_sasl_secret_arn else {
        return Ok(None);
    };
    let secret = payment_db::credentials::secret_json(arn)
        .await
        .map_err(|error| format!("KAFKA_SASL_SECRET_ARN: {error}"))?;
    let field = |key: &str| {
        secret
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let mut resolved = args.clone();
    resolved.kafka.kafka_sasl_username =
        Some(field("username").ok_or("KAFKA_SASL_SECRET_ARN: no `username`")?);
    resolved.kafka.kafka_sasl_password =
        Some(field("password").ok_or("KAFKA_SASL_SECRET_ARN: no `password`")?);
    Ok(Some(resolved))
}

/// Connects within [`CONNECT_TIMEOUT`] and sets up the session: no statement runs longer than
/// [`STATEMENT_TIMEOUT`]; a relay that stalls while holding claimed rows loses them (the server
/// ends its transaction) once it has been idle longer than any acknowledgement may take; commits
/// do not wait for the WAL flush (`synchronous_commit = off`, safe here for the reasons in
/// [`crate::queue`]'s "Durability of marks").
///
/// # Errors
/// The reason, as text, when the database is unreachable or refuses the settings.
pub async fn connect(url: &str, args: &RunArgs) -> Result<AsyncPgConnection, String> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url))
        .await
        .map_err(|_| {
            format!(
                "database: no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )
        })?
        .map_err(|error| format!("database: {error}"))?;
    let idle = args
        .message_timeout
        .saturating_add(args.flush_timeout)
        .saturating_add(Duration::from_secs(60));
    let settings = format!(
        "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = {}; \
         SET synchronous_commit = off",
        STATEMENT_TIMEOUT.as_millis(),
        idle.as_millis()
    );
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, &settings)
        .await
        .map_err(|error| format!("database: {error}"))?;
    Ok(conn)
}

/// An event to dead-letter: the row, why, its attempts, its size in bytes.
struct Poison<'a> {
    row: &'a OutboxEvent,
    class: ErrorClass,
    message: String,
    attempts: i32,
    size: usize,
}

fn dead_class(class: kafka::DeadClass) -> ErrorClass {
    match class {
        kafka::DeadClass::TooLarge => ErrorClass::TooLarge,
        kafka::DeadClass::Rejected => ErrorClass::Rejected,
    }
}

fn after(delay: Duration) -> chrono::DateTime<Utc> {
    let delay = chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::days(1));
    Utc::now()
        .checked_add_signed(delay)
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}

/// One claimed batch, inside its transaction. `Ok(Some(_))` ends the run after committing what
/// the batch marked; `Ok(None)` goes on.
async fn relay_batch(
    conn: &mut AsyncPgConnection,
    producer: &kafka::RelayProducer,
    args: &RunArgs,
    limits: &Limits,
    topics: &TopicsReady,
    health: &kafka::ClientHealth,
    counters: &mut Counters,
) -> Result<Option<Stop>, Stop> {
    let batch_started = Instant::now();
    // A worker's first batch is small, so the first events leave while the database is cold.
    let limit = if counters.batches == 0 {
        args.batch_size.min(FIRST_BATCH_SIZE)
    } else {
        args.batch_size
    };
    let rows = queue::claim(conn, limit).await?;
    let claimed_at = Instant::now();
    if !limits.first_claim_logged.swap(true, Ordering::AcqRel) {
        // Cold start: process start to the first claim (benchmarks read this line).
        tracing::info!(
            first_claim_ms = limits.started.elapsed().as_millis() as u64,
            claimed = rows.len(),
            "first claim"
        );
    }
    counters.batches += 1;
    if rows.is_empty() {
        return Ok(Some(Stop::Outcome(Outcome::Drained)));
    }
    if let Err((outcome, reason)) = topics.clone().await {
        // Rolls the claim back: nothing was produced, no attempt is charged.
        return Err(Stop::Failed(outcome, reason));
    }
    counters.claimed += rows.len() as u64;
    let max_bytes = usize::try_from(args.max_message_bytes).unwrap_or(usize::MAX);
    let values: Vec<Vec<u8>> = rows
        .iter()
        .map(|row| serde_json::to_vec(&row.payload).unwrap_or_default())
        .collect();
    let mut poison: Vec<Poison<'_>> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    for (index, (row, value)) in rows.iter().zip(&values).enumerate() {
        if value.len() > max_bytes {
            let message = format!(
                "event of {} bytes exceeds the {max_bytes}-byte record limit",
                value.len()
            );
            poison.push(Poison {
                row,
                class: ErrorClass::TooLarge,
                message,
                attempts: row.attempts,
                size: value.len(),
            });
            continue;
        }
        if let Err(error) = payment_events::validate_event(&row.payload) {
            poison.push(Poison {
                row,
                class: ErrorClass::SchemaInvalid,
                message: error.to_string(),
                attempts: row.attempts,
                size: value.len(),
            });
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
            .payload(value.as_slice())
            .headers(kafka::event_headers(
                &event_id,
                &row.event_type,
                &sequence,
                traceparent,
            ));
        match producer.send_result(record) {
            Ok(delivery) => in_flight.push(async move { (index, delivery.await) }),
            Err((error, _)) => match kafka::classify(&error) {
                Failure::Permanent(class) => poison.push(Poison {
                    row,
                    class: dead_class(class),
                    message: format!("refused by the producer: {error}"),
                    attempts: row.attempts,
                    size: value.len(),
                }),
                Failure::Config => counters.config_error = Some(kafka::config_reason(&error)),
                // Never queued: the row stays pending, no attempt charged.
                Failure::Broker | Failure::Transient => counters.broker_failure(),
            },
        }
    }

    let sent_at = Instant::now();
    // Wait for every delivery report, or until flush-timeout after a stop or the deadline.
    let mut published = Vec::with_capacity(rows.len());
    let mut reported = vec![false; rows.len()];
    let waited = in_flight.len();
    // Set when every broker stayed down for --kafka-timeout while acknowledgements were due.
    let mut brokers_lost = false;
    {
        let flush_expired = limits.flush_expired();
        tokio::pin!(flush_expired);
        let lost = brokers_down(health, args.kafka_timeout);
        tokio::pin!(lost);
        loop {
            let (index, report) = tokio::select! {
                next = in_flight.next() => match next { Some(next) => next, None => break },
                () = &mut flush_expired => break,
                () = &mut lost => {
                    brokers_lost = true;
                    break;
                }
            };
            let (Some(row), Some(done)) = (rows.get(index), reported.get_mut(index)) else {
                continue;
            };
            *done = true;
            let error = match report {
                Ok(Ok(_)) => {
                    published.push(row.sequence);
                    counters.broker_failures = 0;
                    health.acknowledged();
                    continue;
                }
                Ok(Err((error, _))) => error,
                Err(_canceled) => KafkaError::Canceled,
            };
            // Counted, not logged: the run reports its failures once, by error code.
            tracing::debug!(event.id = %row.event_id, payment.id = %row.aggregate_id, error = %error, "delivery failed");
            counters.failed(&error);
            let attempts = row.attempts.saturating_add(1);
            let size = values.get(index).map_or(0, Vec::len);
            match kafka::classify(&error) {
                Failure::Broker => counters.broker_failure(),
                Failure::Config => {
                    counters.broker_failure();
                    counters.config_error = Some(kafka::config_reason(&error));
                }
                Failure::Permanent(class) => {
                    poison.push(Poison {
                        row,
                        class: dead_class(class),
                        message: error.to_string(),
                        attempts,
                        size,
                    });
                }
                Failure::Transient if attempts >= args.max_attempts => {
                    poison.push(Poison {
                        row,
                        class: ErrorClass::AttemptsExhausted,
                        message: error.to_string(),
                        attempts,
                        size,
                    });
                }
                Failure::Transient => {
                    let next = after(backoff::delay(
                        attempts,
                        args.backoff_base,
                        args.backoff_max,
                    ));
                    queue::record_failure(conn, row.sequence, next, &error.to_string()).await?;
                    counters.retried += 1;
                }
            }
        }
    }
    let acknowledged_at = Instant::now();
    counters.published +=
        u64::try_from(queue::mark_published(conn, &published).await?).unwrap_or(0);
    // Where a batch's time goes (read by the benchmark's stage breakdown; debug level).
    tracing::debug!(
        rows = rows.len(),
        claim_us = (claimed_at - batch_started).as_micros() as u64,
        validate_send_us = (sent_at - claimed_at).as_micros() as u64,
        acks_us = (acknowledged_at - sent_at).as_micros() as u64,
        mark_us = acknowledged_at.elapsed().as_micros() as u64,
        "batch stages"
    );
    // Records still unacknowledged may yet reach the topic: keep the rows (and so their
    // payments' later events) out of every claim until they have surely expired.
    let unacknowledged: Vec<i64> = rows
        .iter()
        .zip(&reported)
        .zip(&values)
        .filter(|((row, done), value)| {
            !**done
                && value.len() <= max_bytes
                && !poison.iter().any(|p| p.row.sequence == row.sequence)
        })
        .map(|((row, _), _)| row.sequence)
        .collect();
    let unacknowledged: Vec<i64> = if waited == 0 {
        Vec::new()
    } else {
        unacknowledged
    };
    queue::defer(conn, &unacknowledged, after(args.message_timeout)).await?;

    dead_letter_all(conn, producer, args, limits, counters, poison).await?;

    let unacknowledged = unacknowledged.len();
    if brokers_lost {
        return Ok(Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "every broker down for --kafka-timeout ({} ms); {unacknowledged} event(s) in flight stay pending",
                args.kafka_timeout.as_millis()
            ),
        )));
    }
    if unacknowledged > 0 {
        return Ok(Some(Stop::Failed(
            Outcome::KafkaUnavailable,
            format!(
                "{unacknowledged} event(s) not acknowledged within --flush-timeout; they stay pending"
            ),
        )));
    }
    if let Some(reason) = &counters.config_error {
        return Ok(Some(Stop::Failed(Outcome::ConfigError, reason.clone())));
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

/// A DLQ delivery tagged with its poison index and whether it was the reference form.
async fn awaiting(
    index: usize,
    reference: bool,
    delivery: rdkafka::producer::DeliveryFuture,
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

/// Sends the batch's poison events to the DLQ together, waits for their reports within the same
/// bounds as the events, and marks each acknowledged one dead. A record the DLQ refuses for good
/// is sent again as a small reference; one not acknowledged leaves its event pending, deferred
/// by the backoff, with no attempt charged.
async fn dead_letter_all(
    conn: &mut AsyncPgConnection,
    producer: &kafka::RelayProducer,
    args: &RunArgs,
    limits: &Limits,
    counters: &mut Counters,
    poison: Vec<Poison<'_>>,
) -> Result<(), Stop> {
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
        let headers = kafka::event_headers(&event_id, &item.row.event_type, &sequence, None);
        let dlq = FutureRecord::to(&args.dlq_topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        producer.send_result(dlq).map_err(|(error, _)| error)
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
    let flush_expired = limits.flush_expired();
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
        match kafka::classify(&error) {
            Failure::Permanent(_) if !reference => match send(item, true) {
                Ok(delivery) => in_flight.push(awaiting(index, true, delivery)),
                Err(_) => counters.broker_failure(),
            },
            _ => {
                tracing::debug!(event.id = %item.row.event_id, %error, "dead-letter delivery failed");
                counters.failed(&error);
                counters.broker_failure();
            }
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
