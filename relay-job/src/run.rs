//! `relay-job run`: the run around the batches — settings, producer, topics check, database
//! connections, workers running [`crate::batch`] after batch until the outbox has no due event,
//! the deadline passes, a signal arrives, or Kafka or the database fails — and its summary.
//! See [`crate::queue`] for why this keeps the contract's guarantees.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel_async::AsyncPgConnection;
use payment_db::TransactionSettings;
use payment_db::session;
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, watch};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::batch;
use crate::config::RunArgs;
use crate::database::STATEMENT_TIMEOUT;
use crate::kafka;
use crate::queue;
use crate::summary::{Outcome, RunSummary};

/// How long to wait for a database connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a worker's batches did, added up for the run's summary.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Batches claimed (also empty ones).
    pub batches: u64,
    /// Events claimed.
    pub claimed: u64,
    /// Events marked published.
    pub published: u64,
    /// Failed attempts recorded with backoff.
    pub retried: u64,
    /// Events marked dead.
    pub dead_lettered: u64,
    /// Events sent but not acknowledged in time (left pending, deferred).
    pub unreported: u64,
    /// Sends that found librdkafka's local queue full and waited (back-pressure).
    pub queue_full_waits: u64,
    /// Consecutive broker-level failures (reset by any acknowledgement).
    pub broker_failures: u32,
    /// All broker-level failures of the run.
    pub broker_failures_total: u64,
    /// Failed deliveries by librdkafka error code name (reported once, in the summary).
    pub failures: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds a worker's counts to the run's.
    fn add(&mut self, other: &Self) {
        self.batches += other.batches;
        self.claimed += other.claimed;
        self.published += other.published;
        self.retried += other.retried;
        self.dead_lettered += other.dead_lettered;
        self.unreported += other.unreported;
        self.queue_full_waits += other.queue_full_waits;
        self.broker_failures = self.broker_failures.max(other.broker_failures);
        self.broker_failures_total += other.broker_failures_total;
        for (code, count) in &other.failures {
            *self.failures.entry(code.clone()).or_default() += count;
        }
    }

    /// Counts a failed delivery under its librdkafka error code.
    pub(crate) fn failed(&mut self, error: &KafkaError) {
        let code = error
            .rdkafka_error_code()
            .map_or_else(|| "Canceled".to_owned(), |code| format!("{code:?}"));
        *self.failures.entry(code).or_default() += 1;
    }

    /// Counts a broker-level failure towards the circuit breaker.
    pub(crate) fn broker_failure(&mut self) {
        self.broker_failures = self.broker_failures.saturating_add(1);
        self.broker_failures_total += 1;
    }
}

/// How a batch or worker ends the run.
#[derive(Debug)]
pub(crate) enum Stop {
    Outcome(Outcome),
    Failed(Outcome, String),
}

/// A database error ends the run. Transient failures by SQLSTATE (`payment_db::db_error`):
/// unreachable, shutting down, read-only after a failover, timed out, lost race: exit 4, the
/// next run finishes the work. Anything else: exit 1.
impl From<diesel::result::Error> for Stop {
    fn from(error: diesel::result::Error) -> Self {
        let outcome = crate::database::error_outcome(&error);
        let sqlstate = payment_db::db_error::sql_state(&error)
            .map(|code| format!(" (SQLSTATE {code})"))
            .unwrap_or_default();
        Self::Failed(outcome, format!("database: {error}{sqlstate}"))
    }
}

/// What ends the waiting for acknowledgements early: a stop request or the deadline, plus
/// `--flush-timeout`.
pub(crate) struct Limits {
    /// When the run started.
    pub started: Instant,
    /// `--max-runtime` after the start.
    pub deadline: Instant,
    /// `--flush-timeout`.
    pub flush_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// Set by the first claim of the run, which logs the cold start.
    pub first_claim_logged: AtomicBool,
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
    pub(crate) async fn flush_expired(&self) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => {},
            () = tokio::time::sleep_until(self.deadline.into()) => {},
        }
        tokio::time::sleep(self.flush_timeout).await;
    }
}

/// Runs one relay pass and returns its summary (never panics on Kafka or database failure).
/// The pass is the `relay` span (every log line of the run carries its `run.id`; the root
/// span of the run's trace when spans are exported).
pub async fn run(args: &RunArgs, stop: watch::Receiver<bool>) -> RunSummary {
    let run_id = Uuid::now_v7();
    let span = tracing::info_span!("relay", run.id = %run_id, otel.name = tracing::field::Empty);
    if payment_telemetry::exporting() {
        // Recorded only when exported: log lines show a span's recorded fields.
        span.record("otel.name", "relay run");
    }
    relay_pass(args, stop, run_id).instrument(span).await
}

async fn relay_pass(args: &RunArgs, stop: watch::Receiver<bool>, run_id: Uuid) -> RunSummary {
    let started = Instant::now();
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
        Some(conn) if outcome != Outcome::DatabaseUnavailable => {
            crate::database::in_transaction(conn, async |conn| queue::backlog(conn).await)
                .await
                .ok()
        }
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
    let url = match args.database.source() {
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
    let conns: Result<Vec<_>, (Outcome, String)> = futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect();
    let mut conns = match conns {
        Ok(conns) => conns,
        Err((outcome, reason)) => return Stop::Failed(outcome, reason),
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
    // Follow mode: one more connection LISTENs for commits (not through a transaction-mode
    // pooler, whose server connections change under a session: there the relay only polls).
    let listener =
        if args.follow && args.database.database_pool_mode == payment_db::PoolMode::Session {
            listener(&url, args).await
        } else {
            None
        };
    let workers = futures::future::join_all(workers);
    let finished = match listener {
        Some(conn) => tokio::select! {
            finished = workers => finished,
            never = listen(conn, &coordination.wake) => match never {},
        },
        None => workers.await,
    };
    let mut result = None;
    for (stop, worker_counters) in finished {
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
    match result.unwrap_or(Stop::Outcome(Outcome::Drained)) {
        // An empty outbox still needs a reachable Kafka for a clean exit (§6.7); so does a
        // following run that reached its deadline without claiming anything.
        Stop::Outcome(outcome)
            if outcome == Outcome::Drained
                || (outcome == Outcome::Deadline && counters.claimed == 0) =>
        {
            match topics.await {
                Ok(()) => Stop::Outcome(outcome),
                Err((outcome, reason)) => Stop::Failed(outcome, reason),
            }
        }
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
pub(crate) type TopicsReady =
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
    /// Rung by the listener when a NOTIFY says events committed (follow mode).
    wake: Notify,
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
    let settings = transaction_settings(args);
    let stop = loop {
        if coordination.halted.load(Ordering::Acquire) {
            break None;
        }
        if let Some(outcome) = limits.should_stop() {
            break Some(Stop::Outcome(outcome));
        }
        // Enabled before the claim, so a NOTIFY that arrives while it runs is not lost.
        let woken = coordination.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        coordination.busy.fetch_add(1, Ordering::AcqRel);
        let batch = session::transaction::<_, Stop, _>(conn, &settings, async |conn| {
            let env = batch::Env {
                producer,
                args,
                limits,
                topics,
                health,
            };
            batch::relay(conn, &env, &mut counters).await
        })
        .instrument(tracing::debug_span!(
            "relay.batch",
            otel.name = "relay batch"
        ))
        .await;
        let done = coordination.batch_done.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        let others_busy = coordination.busy.fetch_sub(1, Ordering::AcqRel) > 1;
        match batch {
            Ok(None) => coordination.batch_done.notify_waiters(),
            Ok(Some(Stop::Outcome(Outcome::Drained))) if others_busy => done.await,
            Ok(Some(Stop::Outcome(Outcome::Drained))) if args.follow => {
                // A worker waiting for this batch's end claims again now.
                coordination.batch_done.notify_waiters();
                idle(limits, args.follow_poll, woken).await;
            }
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

/// Follow mode, drained: waits until events may be due (a NOTIFY woke the relay, `poll`
/// passed) or the run ends (deadline, stop request), whichever comes first.
async fn idle(limits: &Limits, poll: Duration, woken: std::pin::Pin<&mut Notified<'_>>) {
    let mut stop = limits.stop.clone();
    tokio::select! {
        () = woken => {},
        () = tokio::time::sleep(poll) => {},
        () = tokio::time::sleep_until(limits.deadline.into()) => {},
        _ = stop.wait_for(|stopped| *stopped) => {},
    }
}

/// Channel of the NOTIFY that the outbox insert trigger sends when the database opts in
/// (`payment.outbox_notify = on`; migration `outbox_notify`).
pub const NOTIFY_CHANNEL: &str = "outbox_events";

/// Follow mode: a connection that LISTENs on [`NOTIFY_CHANNEL`], opened before the first claim
/// so that whatever commits later wakes the relay (what committed before, the claim finds).
/// `None` when it cannot be had: the relay then only polls.
async fn listener(url: &payment_secrets::DatabaseUrl, args: &RunArgs) -> Option<AsyncPgConnection> {
    use diesel_async::RunQueryDsl;
    let mut conn = connect(url, args).await.ok()?;
    match diesel::sql_query(format!("LISTEN {NOTIFY_CHANNEL}"))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Some(conn),
        Err(error) => {
            tracing::warn!(%error, "LISTEN {NOTIFY_CHANNEL} failed: polling only");
            None
        }
    }
}

/// Rings `wake` for every notification `conn` receives. Never returns: when the connection is
/// lost it logs once and leaves the relay to its polling.
async fn listen(mut conn: AsyncPgConnection, wake: &Notify) -> std::convert::Infallible {
    use futures::StreamExt;
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        match notification {
            Ok(_) => {
                tracing::debug!("woken by NOTIFY");
                wake.notify_waiters();
            }
            Err(error) => {
                tracing::warn!(%error, "LISTEN connection lost: polling only");
                break;
            }
        }
    }
    std::future::pending().await
}

/// With `KAFKA_SASL_SECRET_ARN`, the settings with the secret's username and password filled in.
async fn resolve_kafka_secret(args: &RunArgs) -> Result<Option<RunArgs>, String> {
    let Some(arn) = &args.kafka.kafka_sasl_secret_arn else {
        return Ok(None);
    };
    let credentials = payment_secrets::kafka_sasl(arn, payment_secrets::Freshness::Cached)
        .await
        .map_err(|error| format!("KAFKA_SASL_SECRET_ARN: {error}"))?;
    let mut resolved = args.clone();
    resolved.kafka.kafka_sasl_username = Some(credentials.username);
    resolved.kafka.kafka_sasl_password = Some(credentials.password.into());
    Ok(Some(resolved))
}

/// What every batch transaction sets for itself (`SET LOCAL`, so it holds behind a
/// transaction-mode pooler): no statement runs longer than [`STATEMENT_TIMEOUT`]; a relay that
/// stalls while holding claimed rows loses them (the server ends its session) once it has
/// been idle longer than any acknowledgement may take; commits do not wait for the WAL flush
/// (`synchronous_commit = off`, safe here for the reasons in [`crate::queue`]'s "Durability
/// of marks").
pub fn transaction_settings(args: &RunArgs) -> TransactionSettings {
    let idle = args
        .message_timeout
        .saturating_add(args.flush_timeout)
        .saturating_add(Duration::from_secs(60));
    TransactionSettings {
        statement_timeout: Some(STATEMENT_TIMEOUT),
        lock_timeout: None,
        idle_timeout: Some(idle),
        asynchronous_commit: true,
    }
}

/// Connects within [`CONNECT_TIMEOUT`], set up for `DATABASE_POOL_MODE`.
///
/// A password refused with SQLSTATE 28P01 is read again from its secret once
/// (`payment_db::pool::establish`), so a rotation does not fail runs until a cold start.
///
/// # Errors
/// The outcome ([`crate::database::connect_outcome`]: a configuration error for unusable TLS
/// settings, else database unavailable) and the reason, when the database is unreachable or
/// refuses the connection.
pub async fn connect(
    url: &payment_secrets::DatabaseUrl,
    args: &RunArgs,
) -> Result<AsyncPgConnection, (Outcome, String)> {
    let mode = args.database.database_pool_mode;
    tokio::time::timeout(CONNECT_TIMEOUT, payment_db::pool::establish(url, mode))
        .await
        .map_err(|_| {
            (
                Outcome::DatabaseUnavailable,
                format!(
                    "database: no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            )
        })?
        .map_err(|error| {
            (
                crate::database::connect_outcome(&error),
                format!("database: {error}"),
            )
        })
}
