//! Commit → consumer latency of the outbox at a steady rate (`relay-job run --follow`).
//!
//! Writers commit one valid event per transaction at a fixed total rate (open loop: event *i*
//! is due at *i* / rate seconds, whether or not the previous one has committed), each payment's
//! events in version order on one writer connection. A following relay publishes them and a
//! consumer reading the topic notes when each arrives. The latency of an event is from the
//! return of its `COMMIT` to its arrival at the consumer: the broker acknowledged the record no
//! later than a consumer could read it, so this bounds commit → acknowledged from above (by the
//! consumer's fetch, at most `fetch.wait.max.ms` = 5 ms here). The consumer also checks each
//! payment's order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::sql_types::{BigInt, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use hdrhistogram::Histogram;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use serde_json::{Value, json};
use uuid::Uuid;

/// One latency measurement's settings.
pub(crate) struct Step<'a> {
    /// Label in the results.
    pub label: &'a str,
    /// Database with the schema migrated (a fresh outbox).
    pub url: &'a str,
    /// Kafka bootstrap servers.
    pub brokers: &'a str,
    /// Topic prefix of this step (`{prefix}.events` / `.dlq`).
    pub topic: &'a str,
    /// Events committed per second, in total.
    pub rate: u32,
    /// How long the writers run; the first second is warm-up, not counted.
    pub seconds: u64,
    /// Whether the writers' inserts send the outbox NOTIFY (`payment.outbox_notify = on`).
    pub notify: bool,
}

/// Writer connections (payments are split between them, so each payment stays on one).
const WRITERS: usize = 4;
/// Payments the events are spread over.
const PAYMENTS: usize = 400;
/// Not counted: the relay's and the consumer's start.
const WARM_UP: Duration = Duration::from_secs(1);

type Commits = Arc<Mutex<HashMap<Uuid, Instant>>>;

/// Runs one step: the relay follows while the writers commit, then the consumer collects what
/// arrived. Returns the rate reached, latency percentiles in ms and the order check.
pub(crate) async fn measure(step: &Step<'_>) -> anyhow::Result<Value> {
    let events_topic = format!("{}.events", step.topic);
    let runtime = step.seconds + 20;
    // BENCH_RELAY_LOG=<file> keeps the relay's debug log (its per-batch stage times).
    let (log_level, stderr) = match std::env::var_os("BENCH_RELAY_LOG") {
        Some(path) => (
            "relay_job=debug",
            std::process::Stdio::from(std::fs::File::create(path)?),
        ),
        None => ("warn", std::process::Stdio::null()),
    };
    let mut relay = std::process::Command::new(e2e::stack::binary("relay-job")?)
        .args(["run", "--follow", "--max-runtime", &format!("{runtime}s")])
        .env("DATABASE_URL", step.url)
        .env("KAFKA_BROKERS", step.brokers)
        .env("RELAY_EVENTS_TOPIC", &events_topic)
        .env("RELAY_DLQ_TOPIC", format!("{}.dlq", step.topic))
        .env("RUST_LOG", log_level)
        .env("LOG_FORMAT", "text")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()?;
    let result = measure_with_relay(step, &events_topic).await;
    let _ = relay.kill();
    let _ = relay.wait();
    result
}

async fn measure_with_relay(step: &Step<'_>, events_topic: &str) -> anyhow::Result<Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", step.brokers)
        .set(
            "group.id",
            format!("bench-latency-{}", Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .set("topic.metadata.refresh.interval.ms", "200")
        .create()?;
    // The relay creates the topic; subscribe once it exists.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = consumer.fetch_metadata(Some(events_topic), Duration::from_secs(2))?;
        if metadata
            .topics()
            .iter()
            .any(|t| t.error().is_none() && !t.partitions().is_empty())
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{events_topic} never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.subscribe(&[events_topic])?;

    let commits: Commits = Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now() + Duration::from_millis(200);
    let total = (u64::from(step.rate) * step.seconds) as usize;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let url = step.url.to_owned();
        let commits = Arc::clone(&commits);
        let (rate, notify) = (step.rate, step.notify);
        writers.spawn(
            async move { write(&url, writer, total, rate, notify, started, &commits).await },
        );
    }

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut last_version: HashMap<Vec<u8>, i64> = HashMap::new();
    let (mut received, mut reorders, mut unknown) = (0_usize, 0_u64, 0_u64);
    let writers_done = tokio::spawn(async move { writers.join_all().await });
    let give_up = started + Duration::from_secs(step.seconds + 15);
    while received < total && Instant::now() < give_up {
        let message = match tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            Ok(message) => message?,
            Err(_) => continue,
        };
        let arrived = Instant::now();
        let header = |name: &str| {
            message.headers().and_then(|headers| {
                headers
                    .iter()
                    .find(|h| h.key == name)
                    .and_then(|h| h.value)
                    .and_then(|v| std::str::from_utf8(v).ok().map(str::to_owned))
            })
        };
        let id = header(relay_job::kafka::HEADER_ID).and_then(|id| Uuid::parse_str(&id).ok());
        let version = header(relay_job::kafka::HEADER_SEQUENCE)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        let key = message.key().unwrap_or_default().to_vec();
        let last = last_version.entry(key).or_insert(0);
        if version < *last {
            reorders += 1;
        }
        *last = (*last).max(version);
        received += 1;
        let committed = id.and_then(|id| commits.lock().ok()?.remove(&id));
        match committed {
            Some(committed) if committed >= started + WARM_UP => {
                let micros = arrived.saturating_duration_since(committed).as_micros();
                let _ = histogram.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            }
            Some(_) => {}
            None => unknown += 1,
        }
    }
    let written: Vec<anyhow::Result<Written>> = writers_done.await?;
    let mut behind_ms = 0.0_f64;
    let mut committed = 0;
    for written in written {
        let written = written?;
        committed += written.events;
        behind_ms = behind_ms.max(written.max_behind_ms);
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "label": step.label, "notify": step.notify, "rate": step.rate, "seconds": step.seconds,
        "committed": committed, "received": received, "measured": histogram.len(),
        "writer_max_behind_ms": behind_ms, "reorders": reorders, "unmatched": unknown,
        "p50_ms": ms(0.50), "p90_ms": ms(0.90), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        "max_ms": histogram.max() as f64 / 1000.0,
    }))
}

/// What one writer did.
struct Written {
    events: usize,
    /// How far its commits fell behind their schedule at worst (the rate held if small).
    max_behind_ms: f64,
}

/// Writer `writer` of [`WRITERS`]: events `writer`, `writer + WRITERS`, … of `total`, each due at
/// `started + index / rate`, on payments of its own (payment = index mod [`PAYMENTS`], and
/// [`PAYMENTS`] is a multiple of [`WRITERS`]), versions in order.
async fn write(
    url: &str,
    writer: usize,
    total: usize,
    rate: u32,
    notify: bool,
    started: Instant,
    commits: &Commits,
) -> anyhow::Result<Written> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    if notify {
        conn.batch_execute("SET payment.outbox_notify = on").await?;
    }
    let payments: Vec<(Uuid, Uuid)> = (0..PAYMENTS)
        .map(|_| (Uuid::now_v7(), Uuid::now_v7()))
        .collect();
    let mut versions = vec![0_i64; PAYMENTS];
    let mut max_behind = Duration::ZERO;
    let mut events = 0;
    for index in (writer..total).step_by(WRITERS) {
        let due = started + Duration::from_secs_f64(index as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        max_behind = max_behind.max(Instant::now().saturating_duration_since(due));
        let slot = index % PAYMENTS;
        let (payment_id, merchant_id) = payments.get(slot).copied().context("payment")?;
        let version = versions.get_mut(slot).context("version")?;
        *version += 1;
        let event = crate::authorized_event(payment_id, merchant_id, *version);
        let event_id = event.id;
        diesel::sql_query(
            "INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_version, \
             event_type, payload, headers, payload_validated) \
             VALUES ($1, 'payment', $2, $3, $4, $5, '{}', true)",
        )
        .bind::<SqlUuid, _>(event_id)
        .bind::<SqlUuid, _>(payment_id)
        .bind::<BigInt, _>(*version)
        .bind::<Text, _>("payment.authorized")
        // Validated as the API validates before its insert (and so marked).
        .bind::<Jsonb, _>({
            let payload = serde_json::to_value(&event)?;
            payment_events::validate_event(&payload)?;
            payload
        })
        .execute(&mut conn)
        .await?;
        let committed = Instant::now();
        if let Ok(mut commits) = commits.lock() {
            commits.insert(event_id, committed);
        }
        events += 1;
    }
    Ok(Written {
        events,
        max_behind_ms: max_behind.as_secs_f64() * 1000.0,
    })
}
