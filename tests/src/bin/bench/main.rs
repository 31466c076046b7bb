//! Benchmarks of payment-service against this machine's limits, in one run (`scripts/bench`):
//!
//! - **API:** `Authorize` over native gRPC and REST at fixed concurrency for a fixed time
//!   (throughput, p50/p99/p99.9 latency), and pgbench running the same SQL the authorize request
//!   issues at the same concurrency: API ÷ pgbench. Also start-to-ready time and idle RSS.
//! - **Ways to the database:** `Authorize` at 1 and 8 clients direct, direct in transaction-
//!   pooler mode, through PgBouncer in transaction mode and over verify-full TLS, and with the
//!   per-merchant rate limiter on (in process, in Redis): ÷ direct.
//! - **Relay:** a preloaded backlog drained by one and by two `relay-job` processes (events/s),
//!   against two limits measured in the same run with the same data: (a) raw produce rate with the
//!   relay's producer settings, (b) raw PostgreSQL rate of the relay's claim and mark queries.
//!   Each is the median of three runs. Also the relay's cold start (process start to first
//!   claim) and peak RSS, and the cores PostgreSQL, the broker and the relay keep busy.
//! - **Scale:** `Authorize` with 5,000,000 payments and idempotency records kept against an
//!   empty database, and during the purge of 1,000,000 expired records; a relay drain of 20,000
//!   events with 2,000,000 published rows retained against none.
//!
//! - **Latency:** `Authorize` at half of each surface's peak rate, as a steady arrival rate
//!   (open loop, so a slow answer does not hold the next request back), and pgbench running the
//!   same SQL at the same rates (`-R`, latencies from its transaction log); commit → consumer
//!   latency of `relay-job run --follow` at a steady 1,000 events/s and at a twentieth of that,
//!   with and without the outbox NOTIFY ([`latency`]).
//!
//! Writes `bench/results/latest.json`, `latest.md` and the charts ([`charts`]), and puts the
//! table in the README.
#![expect(
    clippy::indexing_slicing,
    reason = "benchmark driver: JSON lookups of summaries"
)]
#![expect(
    clippy::expect_used,
    reason = "benchmark driver: constant histogram bounds"
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::client::{Call, Client, Surface};
use e2e::stack;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

mod charts;
mod latency;

/// Benchmarks of payment-service.
#[derive(Debug, Parser)]
struct Args {
    /// Maintenance database URL of the PostgreSQL server to use.
    #[arg(
        long,
        env = "TEST_DATABASE_ADMIN_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    admin_url: String,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: String,
    /// Seconds per API load step.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrency levels of the API steps.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    concurrency: Vec<usize>,
    /// Events preloaded for the relay.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Payments they belong to.
    #[arg(long, default_value_t = 20_000)]
    payments: usize,
    /// Where to write latest.json and latest.md.
    #[arg(long, default_value = "bench/results")]
    out_dir: String,
    /// README whose table (between the bench markers) is replaced.
    #[arg(long, default_value = "README.md")]
    readme: String,
    /// Run only this part and print its JSON, writing no result file (for profiling work);
    /// `report` measures nothing: it writes the charts, `latest.md` and the README table again
    /// from `latest.json`.
    #[arg(long, value_parser = ["api", "paths", "relay", "latency", "scale", "report"])]
    only: Option<String>,
    /// Events per second written during the commit → consumer latency steps.
    #[arg(long, default_value_t = 1_000)]
    latency_rate: u32,
    /// Seconds each latency step writes for.
    #[arg(long, default_value_t = 15)]
    latency_seconds: u64,
    /// Port of a PgBouncer in transaction mode in front of the server (`scripts/bench` starts
    /// one); without it the pooler rows are left out.
    #[arg(long, env = "TEST_PGBOUNCER_PORT")]
    pgbouncer_port: Option<u16>,
    /// Redis for the shared rate limiter's row (`scripts/bench` starts a `redis-server`);
    /// without it that row is left out.
    #[arg(long, env = "TEST_REDIS_URL")]
    redis_url: Option<String>,
    /// Concurrency levels of the database-path and scale steps.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    path_concurrency: Vec<usize>,
    /// Payments, with one idempotency record each, that the scale steps add before measuring
    /// again.
    #[arg(long, default_value_t = 5_000_000)]
    scale_rows: usize,
    /// How many of those records are past the key TTL, for the purge step.
    #[arg(long, default_value_t = 1_000_000)]
    scale_expired: usize,
    /// Published outbox rows retained under the scale step's relay drain.
    #[arg(long, default_value_t = 2_000_000)]
    retained_events: usize,
    /// Events the scale step's relay drains (three times; the median counts).
    #[arg(long, default_value_t = 20_000)]
    drain_events: usize,
}

fn say(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "{}", line.as_ref());
}

fn database_url(admin: &str, name: &str) -> String {
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}

async fn fresh_database(admin: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = AsyncPgConnection::establish(admin).await?;
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(database_url(admin, name))
}

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn command_version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_default()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let memory_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
            })
        })
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "memory_gib": memory_kb / 1024 / 1024,
        "rustc": command_version("rustc", &["--version"]),
        "postgresql": command_version("psql", &["--version"]),
        "broker": "tansu 0.6.0 (memory storage)",
        "librdkafka": "2.12.1 (rdkafka-sys 4.10, bundled)",
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

// ---------------------------------------------------------------- API

async fn load(
    clients: &[Client],
    surface: Surface,
    concurrency: usize,
    seconds: u64,
    step: usize,
) -> anyhow::Result<Value> {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let result = load_until(clients, surface, concurrency, step, stop).await;
    timer.abort();
    result
}

/// `Authorize` calls from `concurrency` clients, each with a fresh idempotency key, until `stop`
/// is set: requests, errors, throughput and latency percentiles of the successful calls.
async fn load_until(
    clients: &[Client],
    surface: Surface,
    concurrency: usize,
    step: usize,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let client = clients[worker % clients.len()].clone();
        let stop = Arc::clone(&stop);
        tasks.spawn(async move {
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let (mut ok, mut errors, mut n) = (0_u64, 0_u64, 0_u64);
            let mut kinds = std::collections::BTreeMap::<String, u64>::new();
            let call = Call::Authorize {
                amount_minor: 1999,
                currency: "USD".into(),
                payment_method: "pm_card_visa".into(),
            };
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("bench-{step}-{worker}-{n}");
                let started = Instant::now();
                let result = client.call(surface, &call, Some(&key)).await;
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                match result {
                    Ok(_) => {
                        ok += 1;
                        let _ = histogram.record(micros.max(1));
                    }
                    Err(error) => {
                        errors += 1;
                        *kinds.entry(error.to_string()).or_default() += 1;
                    }
                }
            }
            (histogram, ok, errors, kinds)
        });
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors) = (0, 0);
    let mut error_kinds = std::collections::BTreeMap::<String, u64>::new();
    for (h, o, e, kinds) in tasks.join_all().await {
        histogram.add(h)?;
        ok += o;
        errors += e;
        for (kind, count) in kinds {
            *error_kinds.entry(kind).or_default() += count;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "surface": surface.name(), "concurrency": concurrency, "requests": ok, "errors": errors,
        "error_kinds": error_kinds, "seconds": seconds, "throughput_rps": ok as f64 / seconds,
        "p50_ms": ms(0.50), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
    }))
}

/// pgbench with the SQL one authorize request issues (two pool checks, the key lookup, the
/// transaction of service.rs), prepared statements, at `concurrency` clients. The lock scope uses
/// `|` where the service uses `:` because pgbench reads `:name` as a variable; the cost is the same.
/// Keys are random over 9·10^18 values: over 10^9 (as before) a run's ~10^5 keys per client
/// repeated one in a few runs, and a repeated key aborts pgbench.
fn pgbench(
    database: &str,
    admin_url: &str,
    merchant: &str,
    key_hash: &str,
    concurrency: usize,
    seconds: u64,
    rate: Option<f64>,
) -> anyhow::Result<Value> {
    let script = format!(
        r"\set n random(1, 9000000000000000000)
SELECT merchant_id FROM api_keys WHERE key_hash = '\x{key_hash}'::bytea AND revoked_at IS NULL LIMIT 1;
SELECT 1;
SELECT 1;
BEGIN;
SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency|{merchant}|authorize|pg-' || :client_id::text || '-' || :n::text, 0));
SELECT request_hash FROM idempotency_records WHERE merchant_id = '{merchant}' AND operation = 'authorize' AND idempotency_key = 'pg-' || :client_id::text || '-' || :n::text LIMIT 1;
SELECT gen_random_uuid() AS pid, gen_random_uuid() AS eid \gset
INSERT INTO payments (id, merchant_id, status, currency, amount_minor, authorized_minor, captured_minor, refunded_minor, payment_method, description, metadata, decline_reason, version, created_at, updated_at) VALUES (:pid, '{merchant}', 'authorized', 'USD', 1999, 1999, 0, 0, 'pm_card_visa', NULL, '{{}}', NULL, 1, now(), now());
INSERT INTO ledger_entries (transaction_id, payment_id, merchant_id, account, direction, amount_minor, currency, created_at) VALUES (:eid, :pid, '{merchant}', 'authorizations_receivable', 'debit', 1999, 'USD', now()), (:eid, :pid, '{merchant}', 'authorizations_payable', 'credit', 1999, 'USD', now());
INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers, payload_validated) VALUES (:eid, 'payment', :pid, 1, 'payment.authorized', (SELECT payload FROM bench_payload), '{{}}', true);
INSERT INTO idempotency_records (merchant_id, operation, idempotency_key, request_hash, payment_id, response) VALUES ('{merchant}', 'authorize', 'pg-' || :client_id::text || '-' || :n::text, '\x00', :pid, (SELECT response FROM bench_payload));
END;
"
    );
    let path = std::env::temp_dir().join("payment-service-authorize.pgbench");
    std::fs::write(&path, script)?;
    let url = database_url(admin_url, database);
    let log_dir = std::env::temp_dir().join(format!("pgbench-log-{}", uuid::Uuid::new_v4()));
    let mut command = Command::new("pgbench");
    command.args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &concurrency.to_string(),
        "-j",
        &concurrency.min(2).to_string(),
        "-T",
        &seconds.to_string(),
    ]);
    if let Some(rate) = rate {
        // A steady arrival rate; every transaction's latency goes to a log.
        std::fs::create_dir_all(&log_dir)?;
        command
            .args(["-R", &format!("{rate:.0}"), "--log", "--log-prefix"])
            .arg(log_dir.join("tx"));
    }
    let output = command
        .arg("-f")
        .arg(&path)
        .arg(&url)
        .output()
        .context("pgbench (postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("no tps in pgbench output")?;
    let latency = stdout
        .lines()
        .find_map(|line| line.strip_prefix("latency average = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    let mut result = json!({ "concurrency": concurrency, "tps": tps, "latency_avg_ms": latency });
    if rate.is_some() {
        result["rate_tps"] = json!(rate);
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for entry in std::fs::read_dir(&log_dir)?.flatten() {
            // "client transaction latency_us script epoch epoch_us schedule_lag_us": with -R
            // the latency already counts from when the transaction was due (its schedule lag
            // included), as the API's open-loop steps do. pgbench spaces arrivals at random
            // (Poisson), the API steps evenly: its bursts make pgbench's tail a little longer.
            for line in std::fs::read_to_string(entry.path())?.lines() {
                let fields: Vec<u64> = line
                    .split_whitespace()
                    .map(|f| f.parse().unwrap_or(0))
                    .collect();
                if let Some(latency) = fields.get(2) {
                    let _ = histogram.record((*latency).max(1));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&log_dir);
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        result["p50_ms"] = json!(ms(0.50));
        result["p99_ms"] = json!(ms(0.99));
        result["p999_ms"] = json!(ms(0.999));
    }
    Ok(result)
}

async fn bench_api(args: &Args) -> anyhow::Result<Value> {
    let name = "bench_api";
    let url = fresh_database(&args.admin_url, name).await?;
    let key = stack::migrated_with_merchant(&url, "Bench")?.api_key;
    let started = Instant::now();
    let api = stack::start_api_with(&url, &[("DATABASE_POOL_SIZE", "64")]).await?;
    let ready_ms = started.elapsed().as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = proc_status_kb(api.pid(), "VmRSS:").unwrap_or(0);
    say(format!(
        "api: ready in {ready_ms:.1} ms, idle RSS {} KiB",
        idle_rss_kb
    ));

    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(Client::connect(&api.base_url, &key).await?);
    }
    // Unmeasured warm-up on both surfaces: the first measured step should not be the one that
    // meets a cold server and database (run B of 2026-12-07 measured gRPC at 1 client at 0.58
    // of pgbench, while the same server gave 0.72-0.81 later in the run).
    for (step, surface) in [Surface::Grpc, Surface::Rest].into_iter().enumerate() {
        load(&clients, surface, 8, 2, 900 + step).await?;
    }
    let mut steps = Vec::new();
    for (step, (surface, concurrency)) in [Surface::Grpc, Surface::Rest]
        .into_iter()
        .flat_map(|surface| args.concurrency.iter().map(move |c| (surface, *c)))
        .enumerate()
    {
        let result = load(&clients, surface, concurrency, args.seconds, step).await?;
        say(format!("api: {result}"));
        steps.push(result);
    }
    // Latency at half the peak: each surface's best throughput above, halved, as a steady
    // arrival rate.
    let mut half_peak = Vec::new();
    for (step, surface) in [Surface::Grpc, Surface::Rest].into_iter().enumerate() {
        let peak = steps
            .iter()
            .filter(|s| s["surface"] == surface.name())
            .filter_map(|s| s["throughput_rps"].as_f64())
            .fold(0.0, f64::max);
        if peak < 2.0 {
            continue;
        }
        let mut result =
            load_at_rate(&clients, surface, peak / 2.0, args.seconds, 500 + step).await?;
        result["peak_rps"] = json!(peak);
        say(format!("api at half the peak: {result}"));
        half_peak.push(result);
    }
    drop(api);

    // pgbench on its own copy of the schema, with the same payload sizes.
    let pg_name = "bench_pgbench";
    let pg_url = fresh_database(&args.admin_url, pg_name).await?;
    let stack::Merchant {
        merchant_id: pg_merchant,
        api_key: pg_key,
    } = stack::migrated_with_merchant(&pg_url, "Bench")?;
    let key_hash: String = payment_api::auth::hash_key(&pg_key)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sample = authorized_event(uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), 1);
    let mut conn = AsyncPgConnection::establish(&pg_url).await?;
    let payload = serde_json::to_string(&sample)?.replace('\'', "''");
    let response = json!({"id": sample.subject, "status": "authorized", "currency": "USD", "amount_minor": 1999, "authorized_minor": 1999,
        "captured_minor": 0, "refunded_minor": 0, "payment_method": "pm_card_visa", "metadata": {}, "version": 1,
        "created_at": sample.time, "updated_at": sample.time})
    .to_string();
    conn.batch_execute(&format!(
        "CREATE TABLE bench_payload (payload jsonb, response jsonb); INSERT INTO bench_payload VALUES ('{payload}', '{response}')"
    ))
    .await?;
    let mut pg = Vec::new();
    for &concurrency in &args.concurrency {
        let result = pgbench(
            pg_name,
            &args.admin_url,
            &pg_merchant,
            &key_hash,
            concurrency,
            args.seconds,
            None,
        )?;
        say(format!("pgbench: {result}"));
        pg.push(result);
    }
    // The database's own tail at the half-peak steps' rates: 8 clients, like the API's
    // client connections.
    let mut pg_half_peak = Vec::new();
    for step in &half_peak {
        let rate = step["rate_rps"].as_f64().unwrap_or(1.0);
        let mut result = pgbench(
            pg_name,
            &args.admin_url,
            &pg_merchant,
            &key_hash,
            8,
            args.seconds,
            Some(rate),
        )?;
        result["surface"] = step["surface"].clone();
        say(format!("pgbench at the rate: {result}"));
        pg_half_peak.push(result);
    }
    Ok(json!({
        "ready_ms": ready_ms, "idle_rss_kib": idle_rss_kb, "steps": steps, "pgbench": pg,
        "half_peak": half_peak, "half_peak_pgbench": pg_half_peak,
    }))
}

/// Requests in flight at most during [`load_at_rate`]; a request due while this many are open
/// is counted as dropped (the server could not keep up with the rate).
const MAX_IN_FLIGHT: usize = 256;

/// `Authorize` at a steady arrival rate (open loop): request *n* is due at *n* / `rate` seconds
/// whether or not earlier ones have been answered, and its latency counts from when it was
/// due, so a stall shows in the percentiles instead of slowing the load down (no coordinated
/// omission).
async fn load_at_rate(
    clients: &[Client],
    surface: Surface,
    rate: f64,
    seconds: u64,
    step: usize,
) -> anyhow::Result<Value> {
    let total = (rate * seconds as f64) as u64;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors, mut dropped) = (0_u64, 0_u64, 0_u64);
    let mut tally = |done: (Duration, bool)| {
        if done.1 {
            ok += 1;
            let micros = u64::try_from(done.0.as_micros()).unwrap_or(u64::MAX);
            let _ = histogram.record(micros.max(1));
        } else {
            errors += 1;
        }
    };
    let started = Instant::now() + Duration::from_millis(20);
    for n in 0..total {
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        while let Some(done) = tasks.try_join_next() {
            tally(done?);
        }
        let Ok(permit) = Arc::clone(&in_flight).try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        let client = clients[n as usize % clients.len()].clone();
        let key = format!("bench-rate-{step}-{n}");
        tasks.spawn(async move {
            let _permit = permit;
            let call = Call::Authorize {
                amount_minor: 1999,
                currency: "USD".into(),
                payment_method: "pm_card_visa".into(),
            };
            let result = client.call(surface, &call, Some(&key)).await;
            (due.elapsed(), result.is_ok())
        });
    }
    while let Some(done) = tasks.join_next().await {
        tally(done?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(json!({
        "surface": surface.name(), "rate_rps": rate, "requests": ok, "errors": errors,
        "dropped": dropped, "seconds": seconds, "throughput_rps": ok as f64 / seconds,
        "p50_ms": ms(0.50), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
    }))
}

/// `Authorize` over each way to the database: direct (session mode, the other steps' way), direct
/// in transaction-pooler mode (the mode's own cost: no cached prepared statements), through
/// PgBouncer in transaction mode, and over `sslmode=verify-full` TLS; then direct with the
/// per-merchant rate limiter on, in process and in Redis (the other rows run without it). One
/// server per path, on one database.
async fn bench_paths(args: &Args) -> anyhow::Result<Value> {
    let url = fresh_database(&args.admin_url, "bench_paths").await?;
    let key = stack::migrated_with_merchant(&url, "Bench")?.api_key;
    let mut conn = AsyncPgConnection::establish(&url).await?;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let certificate = diesel_async::RunQueryDsl::get_result::<Setting>(
        diesel::sql_query("SELECT current_setting('ssl_cert_file') AS value"),
        &mut conn,
    )
    .await?
    .value;
    let name = url.rsplit('/').next().unwrap_or("bench_paths").to_owned();
    let path = |label: &'static str, url: &str, mode: &'static str, surfaces: &[Surface]| Path {
        label,
        url: url.to_owned(),
        env: vec![("DATABASE_POOL_MODE", mode.to_owned())],
        surfaces: surfaces.to_vec(),
    };
    let mut paths = vec![
        path("direct", &url, "session", &[Surface::Grpc]),
        path(
            "direct, transaction mode",
            &url,
            "transaction",
            &[Surface::Grpc],
        ),
        path(
            "verify-full TLS",
            &format!(
                "{}?sslmode=verify-full&sslrootcert={certificate}",
                url.replace("127.0.0.1", "localhost")
            ),
            "session",
            &[Surface::Grpc],
        ),
    ];
    // The outbox NOTIFY's cost on the write path (a following relay's wake-up; opt-in per
    // database or session, here per session through the connection's options).
    paths.push(path(
        "direct, outbox NOTIFY on",
        &format!("{url}?options=-c%20payment.outbox_notify%3Don"),
        "session",
        &[Surface::Grpc],
    ));
    if let Some(port) = args.pgbouncer_port {
        paths.push(path(
            "PgBouncer, transaction mode",
            &format!("postgres://postgres@127.0.0.1:{port}/{name}"),
            "transaction",
            &[Surface::Grpc, Surface::Rest],
        ));
    } else {
        say("paths: no TEST_PGBOUNCER_PORT, the pooler rows are left out");
    }
    // The rate limiter's own cost: a budget too large to refuse anything, so every request
    // pays for the decision and none is turned away.
    let unlimited = [
        ("RATE_LIMIT_WRITES_PER_SECOND", "1000000000".to_owned()),
        ("RATE_LIMIT_WRITES_BURST", "1000000000".to_owned()),
    ];
    let mut limited = path(
        "direct, rate limiter in process",
        &url,
        "session",
        &[Surface::Grpc],
    );
    limited.env.extend(unlimited.iter().cloned());
    paths.push(limited);
    if let Some(redis) = &args.redis_url {
        let mut shared = path(
            "direct, rate limiter in Redis",
            &url,
            "session",
            &[Surface::Grpc],
        );
        shared.env.extend(unlimited.iter().cloned());
        shared.env.push(("REDIS_URL", redis.clone()));
        shared
            .env
            .push(("RATE_LIMIT_FAIL_MODE", "closed".to_owned()));
        paths.push(shared);
    } else {
        say("paths: no TEST_REDIS_URL, the Redis limiter row is left out");
    }
    let mut steps = Vec::new();
    let mut step = 1000;
    for path in paths {
        let mut env: Vec<(&str, &str)> = vec![("DATABASE_POOL_SIZE", "16")];
        env.extend(path.env.iter().map(|(name, value)| (*name, value.as_str())));
        let api = stack::start_api_with(&path.url, &env).await?;
        let mut clients = Vec::new();
        for _ in 0..8 {
            clients.push(Client::connect(&api.base_url, &key).await?);
        }
        for &surface in &path.surfaces {
            for &concurrency in &args.path_concurrency {
                step += 1;
                let mut result = load(&clients, surface, concurrency, args.seconds, step).await?;
                result["path"] = json!(path.label);
                say(format!("paths: {result}"));
                steps.push(result);
            }
        }
    }
    Ok(json!(steps))
}

/// One way to the database (or one limiter setting) of [`bench_paths`].
struct Path {
    label: &'static str,
    url: String,
    env: Vec<(&'static str, String)>,
    surfaces: Vec<Surface>,
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// A valid `payment.authorized` event of 19.99 USD, version `version` of the payment (the
/// benchmark's writes, as the API would store them).
fn authorized_event(
    payment_id: uuid::Uuid,
    merchant_id: uuid::Uuid,
    version: i64,
) -> payment_events::CloudEvent {
    payment_events::CloudEvent::new(
        uuid::Uuid::now_v7(),
        payment_events::EventType::Authorized,
        version,
        chrono_now(),
        payment_events::PaymentEventData {
            payment_id,
            merchant_id,
            status: "authorized".into(),
            currency: "USD".into(),
            amount_minor: 1999,
            authorized_minor: 1999,
            captured_minor: 0,
            refunded_minor: 0,
            decline_reason: None,
        },
    )
}

// ---------------------------------------------------------------- relay

/// Preloads `events` valid events over `payments` payments (version order per payment), pending
/// or, with `published`, already published (rows kept for retention). They are marked
/// `payload_validated`, as the API writes them.
async fn preload(url: &str, events: usize, payments: usize, published: bool) -> anyhow::Result<()> {
    let per_payment = events.div_ceil(payments);
    let (status, published_at) = if published {
        ("published", "now()")
    } else {
        ("pending", "NULL")
    };
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute(&format!(
        "WITH p AS (SELECT gen_random_uuid() AS id, gen_random_uuid() AS merchant FROM generate_series(1, {payments})),
              v AS (SELECT p.id, p.merchant, g AS version, gen_random_uuid() AS event_id FROM p, generate_series(1, {per_payment}) g)
         INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers, status, published_at, payload_validated)
         SELECT event_id, 'payment', id, version,
                CASE version WHEN 1 THEN 'payment.authorized' WHEN 2 THEN 'payment.captured' ELSE 'payment.refunded' END,
                jsonb_build_object(
                  'specversion', '1.0', 'id', event_id, 'source', '/payment-service',
                  'type', CASE version WHEN 1 THEN 'payment.authorized' WHEN 2 THEN 'payment.captured' ELSE 'payment.refunded' END,
                  'subject', id, 'time', to_char(now() AT TIME ZONE 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                  'datacontenttype', 'application/json',
                  'dataschema', 'https://schemas.payment-service.dev/v1/' || CASE version WHEN 1 THEN 'payment.authorized' WHEN 2 THEN 'payment.captured' ELSE 'payment.refunded' END || '.json',
                  'sequence', lpad(version::text, 20, '0'),
                  'data', jsonb_build_object(
                    'payment_id', id, 'merchant_id', merchant,
                    'status', CASE version WHEN 1 THEN 'authorized' WHEN 2 THEN 'captured' ELSE 'partially_refunded' END,
                    'currency', 'USD', 'amount_minor', CASE WHEN version > 2 THEN 1 ELSE 100000 END,
                    'authorized_minor', 100000, 'captured_minor', CASE WHEN version >= 2 THEN 100000 ELSE 0 END,
                    'refunded_minor', greatest(version - 2, 0))),
                jsonb_build_object('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
                '{status}', {published_at}, true
         FROM v ORDER BY version, id;"
    ))
    .await?;
    // They are marked validated without passing the API, so check one of each type here: a
    // mistake in the SQL above must fail the benchmark, not go out unchecked.
    #[derive(diesel::QueryableByName)]
    struct Sample {
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        payload: Value,
    }
    let samples = diesel_async::RunQueryDsl::load::<Sample>(
        diesel::sql_query(
            "SELECT DISTINCT ON (event_type) payload FROM outbox_events ORDER BY event_type, sequence",
        ),
        &mut conn,
    )
    .await?;
    for sample in samples {
        payment_events::validate_event(&sample.payload)
            .map_err(|error| anyhow::anyhow!("preloaded event fails its schema: {error}"))?;
    }
    vacuum(&mut conn).await
}

/// Vacuums and analyzes the outbox, so every relay run starts from the same clean tables.
/// Then a checkpoint, so that no run pays for the previous one's dirty pages.
async fn vacuum(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    for table in ["outbox_events", "outbox_pending"] {
        conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    conn.batch_execute("CHECKPOINT").await?;
    Ok(())
}

/// Runs of one relay step and the limits: one sample is noisy on a shared 2-core machine (the
/// raw database limit ranged 48k–75k events/s in five runs), so each is measured this many
/// times over the same reset backlog and the median run counts.
const RELAY_SAMPLES: usize = 3;

/// The sample with the median `field`, with every sample's value of it under `samples`.
fn median_run(mut runs: Vec<Value>, field: &str) -> Value {
    let values: Vec<f64> = runs.iter().filter_map(|run| run[field].as_f64()).collect();
    runs.sort_by(|a, b| {
        let key = |v: &Value| v[field].as_f64().unwrap_or(0.0);
        key(a).total_cmp(&key(b))
    });
    let mut median = runs.get(runs.len() / 2).cloned().unwrap_or(Value::Null);
    median["samples"] = json!(values);
    median
}

async fn reset(url: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute("UPDATE outbox_events SET status = 'pending', published_at = NULL")
        .await?;
    vacuum(&mut conn).await
}

/// CPU time used so far, in seconds, by PostgreSQL, the broker and this process's finished
/// children. A process's own time plus that of its children it has reaped (`/proc/<pid>/stat`
/// fields 14–17, in clock ticks of 1/100 s): PostgreSQL's backends that exit are reaped by the
/// postmaster, so a difference of two snapshots counts every backend's time in between.
#[derive(Debug, Clone, Copy, Default)]
struct CpuSnapshot {
    postgres: f64,
    broker: f64,
    children: f64,
    own: f64,
    at: Option<Instant>,
}

impl CpuSnapshot {
    fn now() -> Self {
        let mut snapshot = Self {
            at: Some(Instant::now()),
            ..Self::default()
        };
        let own_pid = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return snapshot;
        };
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid …": the fields after the command name, which may hold spaces.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = &stat[open + 1..close];
            let fields: Vec<f64> = stat[close + 2..]
                .split(' ')
                .map(|f| f.parse().unwrap_or(0.0))
                .collect();
            // Fields 14-17 of the line are 11-14 after "state" (index 0 here).
            let field = |n: usize| fields.get(n).copied().unwrap_or(0.0) / 100.0;
            let (own, reaped) = (field(11) + field(12), field(13) + field(14));
            if pid == own_pid {
                snapshot.own = own;
                snapshot.children = reaped;
            } else if comm == "postgres" {
                snapshot.postgres += own + reaped;
            } else if comm == "tansu" {
                snapshot.broker += own + reaped;
            }
        }
        snapshot
    }

    /// Cores used by each since `earlier` (CPU seconds ÷ wall seconds).
    fn cores_since(&self, earlier: &Self) -> Value {
        let wall = match (self.at, earlier.at) {
            (Some(now), Some(then)) => (now - then).as_secs_f64().max(1e-9),
            _ => 1.0,
        };
        let cores = |now: f64, then: f64| ((now - then) / wall * 100.0).round() / 100.0;
        json!({
            "postgres": cores(self.postgres, earlier.postgres),
            "broker": cores(self.broker, earlier.broker),
            "relay": cores(self.children, earlier.children),
            "bench": cores(self.own, earlier.own),
        })
    }
}

/// Runs `processes` relays at once; returns events/s, the first one's cold start and peak RSS,
/// and the cores PostgreSQL, the broker and the relays used meanwhile.
fn relay_runs(url: &str, brokers: &str, topic: &str, processes: usize) -> anyhow::Result<Value> {
    let cpu_before = CpuSnapshot::now();
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..processes {
        let child = Command::new(stack::binary("relay-job")?)
            .args(["run", "--max-runtime", "600s"])
            .env("DATABASE_URL", url)
            .env("KAFKA_BROKERS", brokers)
            .env("RELAY_EVENTS_TOPIC", format!("{topic}.events"))
            .env("RELAY_DLQ_TOPIC", format!("{topic}.dlq"))
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "text")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        children.push(child);
    }
    // Cold start: the first relay's "first claim" log line.
    let stderr = children[0].stderr.take().context("stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && line.contains("first claim") {
                let _ = tx.send(Instant::now());
                sent = true;
            }
        }
    });
    let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        loop {
            let samples: Vec<u64> = pids
                .iter()
                .filter_map(|pid| proc_status_kb(*pid, "VmHWM:"))
                .collect();
            if samples.is_empty() {
                return peak;
            }
            peak = peak.max(samples.into_iter().max().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let mut published = 0;
    let mut summaries = Vec::new();
    for child in children {
        let output = child.wait_with_output()?;
        let summary: Value = serde_json::from_slice(&output.stdout).context("relay summary")?;
        published += summary["published"].as_u64().unwrap_or(0);
        summaries.push(summary);
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = sampler.join().unwrap_or(0);
    let cold_start_ms = rx
        .try_recv()
        .map(|at| (at - started).as_secs_f64() * 1000.0)
        .ok();
    Ok(json!({
        "processes": processes, "published": published, "seconds": seconds,
        "events_per_second": published as f64 / seconds,
        "cold_start_ms": cold_start_ms, "peak_rss_kib": peak_rss_kib, "summaries": summaries,
        "cores": CpuSnapshot::now().cores_since(&cpu_before),
    }))
}

/// The settings a default `relay-job run` would have for this database, broker and topic prefix.
fn relay_settings(
    url: &str,
    brokers: &str,
    topic: &str,
) -> anyhow::Result<relay_job::config::RunArgs> {
    let cli = relay_job::config::Cli::try_parse_from([
        "relay-job",
        "run",
        "--database-url",
        url,
        "--kafka-brokers",
        brokers,
        "--events-topic",
        &format!("{topic}.events"),
        "--dlq-topic",
        &format!("{topic}.dlq"),
    ])?;
    let relay_job::config::Command::Run(run_args) = cli.command else {
        anyhow::bail!("run args")
    };
    Ok(*run_args)
}

/// (a) The same records, produced with the relay's producer settings, as fast as possible.
async fn raw_produce(url: &str, brokers: &str, topic: &str) -> anyhow::Result<Value> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use payment_db::schema::outbox_events::dsl as o;
    use rdkafka::producer::FutureRecord;
    let mut conn = AsyncPgConnection::establish(url).await?;
    // The record value is the stored JSON text, as the relay sends it.
    let rows: Vec<(uuid::Uuid, uuid::Uuid, String, i64, String)> = o::outbox_events
        .select((
            o::event_id,
            o::aggregate_id,
            o::event_type,
            o::aggregate_version,
            diesel::dsl::sql::<diesel::sql_types::Text>("payload::text"),
        ))
        .load(&mut conn)
        .await?;
    let run_args = relay_settings(url, brokers, topic)?;
    let producer =
        relay_job::kafka::producer(&run_args, relay_job::kafka::RelayContext::default())?;
    relay_job::kafka::ensure_topics(
        &producer,
        &run_args,
        relay_job::kafka::RelayContext::default(),
        Duration::from_secs(10),
    )
    .await
    .map_err(|(_, reason)| anyhow::anyhow!(reason))?;
    let records: Vec<(String, Vec<u8>, String, String, String)> = rows
        .into_iter()
        .map(|(id, key, event_type, version, payload)| {
            (
                key.to_string(),
                payload.into_bytes(),
                id.to_string(),
                event_type,
                payment_events::format_sequence(version),
            )
        })
        .collect();
    let cpu_before = CpuSnapshot::now();
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(records.len());
    for (key, value, id, event_type, sequence) in &records {
        let record = FutureRecord::to(&run_args.events_topic)
            .key(key)
            .payload(value)
            .headers(relay_job::kafka::event_headers(
                relay_job::kafka::CLOUDEVENTS_JSON,
                id,
                event_type,
                sequence,
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ));
        deliveries.push(producer.send_result(record).map_err(|(error, _)| error)?);
    }
    let mut delivered = 0_u64;
    for delivery in deliveries {
        if matches!(delivery.await, Ok(Ok(_))) {
            delivered += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(
        json!({ "records": delivered, "seconds": seconds, "records_per_second": delivered as f64 / seconds,
            "cores": CpuSnapshot::now().cores_since(&cpu_before) }),
    )
}

/// (b) The relay's claim and mark queries with no Kafka: as many connections as a default relay
/// has workers, each set up as the relay sets up its own, batches of the default size.
async fn raw_database(url: &str) -> anyhow::Result<Value> {
    let settings = relay_settings(url, "unused:9092", "unused")?;
    let mut conns = Vec::new();
    for _ in 0..settings.workers {
        conns.push(
            relay_job::run::connect(&settings.database.source()?, &settings)
                .await
                .map_err(|(_, reason)| anyhow::Error::msg(reason))?,
        );
    }
    let cpu_before = CpuSnapshot::now();
    let started = Instant::now();
    let batch_size = settings.batch_size;
    let transaction = &relay_job::run::transaction_settings(&settings);
    let drains = conns.iter_mut().map(|conn| async move {
        let mut marked = 0_u64;
        loop {
            let done = payment_db::session::transaction::<_, diesel::result::Error, _>(
                conn,
                transaction,
                async |conn| {
                    let rows = relay_job::queue::claim(conn, batch_size).await?;
                    let sequences: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
                    relay_job::queue::mark_published(conn, &sequences).await?;
                    Ok(sequences.len())
                },
            )
            .await?;
            if done == 0 {
                return Ok::<_, diesel::result::Error>(marked);
            }
            marked += done as u64;
        }
    });
    let mut marked = 0_u64;
    for drained in futures::future::join_all(drains).await {
        marked += drained?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "events": marked, "seconds": seconds, "connections": settings.workers,
        "events_per_second": marked as f64 / seconds,
        "cores": CpuSnapshot::now().cores_since(&cpu_before),
    }))
}

async fn bench_relay(args: &Args) -> anyhow::Result<Value> {
    let url = fresh_database(&args.admin_url, "bench_relay").await?;
    payment_db::migrations::run_pending(&url, payment_db::PoolMode::Session)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    preload(&url, args.events, args.payments, false).await?;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (mut ones, mut twos, mut produces, mut databases) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for sample in 0..RELAY_SAMPLES {
        let topic = |part: &str| format!("bench.{tag}.{part}{sample}");
        let one = relay_runs(&url, &args.kafka_brokers, &topic("one"), 1)?;
        say(format!("relay x1: {} events/s", one["events_per_second"]));
        ones.push(one);
        reset(&url).await?;
        let two = relay_runs(&url, &args.kafka_brokers, &topic("two"), 2)?;
        say(format!("relay x2: {} events/s", two["events_per_second"]));
        twos.push(two);
        let produce = raw_produce(&url, &args.kafka_brokers, &topic("raw")).await?;
        say(format!("raw produce: {produce}"));
        produces.push(produce);
        reset(&url).await?;
        let database = raw_database(&url).await?;
        say(format!("raw database: {database}"));
        databases.push(database);
        reset(&url).await?;
    }
    let one = median_run(ones, "events_per_second");
    let two = median_run(twos, "events_per_second");
    let produce = median_run(produces, "records_per_second");
    let database = median_run(databases, "events_per_second");
    let limit = produce["records_per_second"]
        .as_f64()
        .unwrap_or(0.0)
        .min(database["events_per_second"].as_f64().unwrap_or(0.0));
    let ratio = one["events_per_second"].as_f64().unwrap_or(0.0) / limit.max(1.0);
    let workers = relay_settings(&url, &args.kafka_brokers, "unused")?.workers;
    let cold_start = cold_starts(args, &tag).await?;
    say(format!("relay cold start: {cold_start}"));
    Ok(json!({
        "events": args.events, "payments": args.payments, "workers": workers, "one": one,
        "two": two, "limit_produce": produce, "limit_database": database,
        "relay_over_limit": ratio, "cold_start": cold_start,
    }))
}

/// Commit → consumer latency of a following relay (default `--follow-poll`, 50 ms) at
/// `--latency-rate` events/s and at a twentieth of it: with the outbox NOTIFY on (the writers'
/// sessions opt in), and with the relay's poll alone.
async fn bench_latency(args: &Args) -> anyhow::Result<Value> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut steps = Vec::new();
    let low = (args.latency_rate / 20).max(1);
    let steps_to_run = [
        (
            format!("{} events/s, NOTIFY on", args.latency_rate),
            args.latency_rate,
            true,
        ),
        (
            format!("{} events/s, poll only", args.latency_rate),
            args.latency_rate,
            false,
        ),
        (format!("{low} events/s, NOTIFY on"), low, true),
        (format!("{low} events/s, poll only"), low, false),
    ];
    for (label, rate, notify) in steps_to_run {
        let url = fresh_database(&args.admin_url, "bench_latency").await?;
        payment_db::migrations::run_pending(&url, payment_db::PoolMode::Session)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let topic = format!("bench.{tag}.latency{}", steps.len());
        let result = latency::measure(&latency::Step {
            label: &label,
            url: &url,
            brokers: &args.kafka_brokers,
            topic: &topic,
            rate,
            seconds: args.latency_seconds,
            notify,
        })
        .await?;
        say(format!("latency: {result}"));
        steps.push(result);
    }
    Ok(json!(steps))
}

/// Relay cold start (process start to the first claim), one sample is noisy: the median and
/// range of five runs, each over a freshly reset backlog of 2,000 events.
async fn cold_starts(args: &Args, tag: &str) -> anyhow::Result<Value> {
    let url = fresh_database(&args.admin_url, "bench_cold").await?;
    payment_db::migrations::run_pending(&url, payment_db::PoolMode::Session)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    preload(&url, 2_000, 200, false).await?;
    let mut samples = Vec::new();
    for run in 0..5 {
        if run > 0 {
            reset(&url).await?;
        }
        let result = relay_runs(&url, &args.kafka_brokers, &format!("bench.{tag}.cold"), 1)?;
        samples.extend(result["cold_start_ms"].as_f64());
    }
    samples.sort_by(f64::total_cmp);
    Ok(json!({
        "samples_ms": samples,
        "median_ms": samples.get(samples.len() / 2),
        "min_ms": samples.first(),
        "max_ms": samples.last(),
    }))
}

// ---------------------------------------------------------------- scale

/// Tables at production size against empty ones (retention): `Authorize` over gRPC at each
/// `--path-concurrency` on an empty database, then again after `--scale-rows` payments with one
/// idempotency record each were added (`--scale-expired` of them past the key TTL), then at the
/// highest concurrency for exactly as long as `payment-api admin purge-idempotency --yes` takes
/// to delete the expired ones; and a relay drain of `--drain-events` with `--retained-events`
/// published rows kept against none.
async fn bench_scale(args: &Args) -> anyhow::Result<Value> {
    let url = fresh_database(&args.admin_url, "bench_scale").await?;
    let merchant = stack::migrated_with_merchant(&url, "Bench")?;
    let api = stack::start_api_with(&url, &[("DATABASE_POOL_SIZE", "16")]).await?;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(Client::connect(&api.base_url, &merchant.api_key).await?);
    }
    let empty = scale_steps(args, &clients, "empty", 20_000).await?;
    let started = Instant::now();
    grow(
        &url,
        &merchant.merchant_id,
        args.scale_rows,
        args.scale_expired,
    )
    .await?;
    let grow_seconds = started.elapsed().as_secs_f64();
    say(format!(
        "scale: {} payments and idempotency records added in {grow_seconds:.0} s",
        args.scale_rows
    ));
    let grown = scale_steps(args, &clients, "grown", 21_000).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let purge = {
        let (stop, url) = (Arc::clone(&stop), url.clone());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let printed = stack::api_command(&url, &["admin", "purge-idempotency", "--yes"]);
            stop.store(true, Ordering::Relaxed);
            printed.map(|printed| (printed, started.elapsed().as_secs_f64()))
        })
    };
    let concurrency = args.path_concurrency.iter().copied().max().unwrap_or(8);
    let mut during = load_until(&clients, Surface::Grpc, concurrency, 29_999, stop).await?;
    let (printed, purge_seconds) = purge.await??;
    during["tables"] = json!("purging");
    during["purge"] = serde_json::from_str(printed.trim()).context("purge output")?;
    during["purge_seconds"] = json!(purge_seconds);
    say(format!("scale: during the purge {during}"));
    drop(api);

    let relay = scale_relay(args).await?;
    let steps = [empty, grown, vec![during]].concat();
    Ok(json!({
        "rows": args.scale_rows, "expired": args.scale_expired, "grow_seconds": grow_seconds,
        "api": steps, "relay": relay,
    }))
}

/// `Authorize` over gRPC at each `--path-concurrency`, the results labelled with `tables`.
async fn scale_steps(
    args: &Args,
    clients: &[Client],
    tables: &str,
    step: usize,
) -> anyhow::Result<Vec<Value>> {
    let mut results = Vec::new();
    for (i, &concurrency) in args.path_concurrency.iter().enumerate() {
        let mut result = load(clients, Surface::Grpc, concurrency, args.seconds, step + i).await?;
        result["tables"] = json!(tables);
        say(format!("scale: {result}"));
        results.push(result);
    }
    Ok(results)
}

/// Adds `rows` authorized payments of `merchant`, each with its idempotency record, in chunks
/// of a million: time-ordered UUIDv7-shaped ids as the API makes them, the first `expired`
/// created two days ago (past the 24 h key TTL), the rest within the last 20 hours.
async fn grow(url: &str, merchant: &str, rows: usize, expired: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 1_000_000;
    let mut conn = AsyncPgConnection::establish(url).await?;
    for low in (1..=rows).step_by(CHUNK) {
        let high = (low + CHUNK - 1).min(rows);
        conn.batch_execute(&format!(
            "WITH g AS (
                 SELECT g, CASE WHEN g <= {expired} THEN now() - interval '48 hours' + g * interval '1 ms'
                                ELSE now() - interval '20 hours' + (g - {expired}) * interval '10 ms' END AS at
                 FROM generate_series({low}, {high}) g),
             p AS (
                 INSERT INTO payments (id, merchant_id, status, currency, amount_minor, authorized_minor,
                                       captured_minor, refunded_minor, payment_method, metadata, version,
                                       created_at, updated_at)
                 SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
                         || lpad(to_hex(g % 4096), 3, '0') || '8' || lpad(to_hex(g), 15, '0'))::uuid,
                        '{merchant}', 'authorized', 'USD', 1999, 1999, 0, 0, 'pm_card_visa', '{{}}', 1, at, at
                 FROM g
                 RETURNING id, created_at)
             INSERT INTO idempotency_records (merchant_id, operation, idempotency_key, request_hash,
                                              payment_id, response, created_at)
             SELECT '{merchant}', 'authorize', 'scale-' || id, '\\x00', id,
                    jsonb_build_object('id', id, 'status', 'authorized', 'currency', 'USD',
                        'amount_minor', 1999, 'authorized_minor', 1999, 'captured_minor', 0,
                        'refunded_minor', 0, 'payment_method', 'pm_card_visa', 'metadata', '{{}}'::jsonb,
                        'version', 1, 'created_at', created_at, 'updated_at', created_at),
                    created_at
             FROM p"
        ))
        .await?;
    }
    for table in ["payments", "idempotency_records"] {
        conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    Ok(())
}

/// A drain of `--drain-events` pending events by one relay, on a database keeping no published
/// rows and on one keeping `--retained-events`: the median events/s of three drains each.
async fn scale_relay(args: &Args) -> anyhow::Result<Value> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let mut cases = Vec::new();
    for retained in [0, args.retained_events] {
        let url = fresh_database(&args.admin_url, "bench_scale_relay").await?;
        payment_db::migrations::run_pending(&url, payment_db::PoolMode::Session)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if retained > 0 {
            preload(&url, retained, retained.div_ceil(10), true).await?;
        }
        let mut rates = Vec::new();
        for _ in 0..3 {
            preload(
                &url,
                args.drain_events,
                args.drain_events.div_ceil(10),
                false,
            )
            .await?;
            let run = relay_runs(
                &url,
                &args.kafka_brokers,
                &format!("bench.{tag}.scale{retained}"),
                1,
            )?;
            rates.extend(run["events_per_second"].as_f64());
        }
        rates.sort_by(f64::total_cmp);
        let median = rates.get(rates.len() / 2).copied();
        say(format!(
            "scale: relay drain with {retained} retained: {rates:?} events/s"
        ));
        cases.push(json!({ "retained": retained, "samples": rates, "events_per_second": median }));
    }
    Ok(json!({ "events": args.drain_events, "cases": cases }))
}

// ---------------------------------------------------------------- report

/// A duration in ms for the table, or a dash.
fn ms(value: &Value) -> String {
    value.as_f64().map_or("–".to_owned(), |v| format!("{v:.0}"))
}

fn markdown(results: &Value) -> String {
    let m = &results["machine"];
    let api = &results["api"];
    let relay = &results["relay"];
    let mut out = String::new();
    out.push_str(&format!(
        "Run {} on {} ({} cores, {} GiB), {}, {}, {}, {}; {} s per API step, {} build; load generator, server, PostgreSQL and broker share the machine; the outbox is vacuumed and a checkpoint taken before each relay run.\n\n",
        results["date"].as_str().unwrap_or(""), m["cpu"].as_str().unwrap_or(""), m["cores"], m["memory_gib"],
        m["rustc"].as_str().unwrap_or(""), m["postgresql"].as_str().unwrap_or(""), m["broker"].as_str().unwrap_or(""),
        m["librdkafka"].as_str().unwrap_or(""), results["seconds"], m["profile"].as_str().unwrap_or("")
    ));
    // A part measured again on its own (`--only`) and put into the results by hand says so.
    if let Some(note) = results["note"].as_str() {
        out.push_str(&format!("{note}\n\n"));
    }
    out.push_str("| API `Authorize` | concurrency | req/s | p50 ms | p99 ms | p99.9 ms | ÷ pgbench |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for step in api["steps"].as_array().into_iter().flatten() {
        let pg = api["pgbench"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["concurrency"] == step["concurrency"]);
        let ratio = pg
            .and_then(|p| p["tps"].as_f64())
            .map(|tps| step["throughput_rps"].as_f64().unwrap_or(0.0) / tps.max(1.0));
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
            step["surface"].as_str().unwrap_or(""),
            step["concurrency"],
            step["throughput_rps"].as_f64().unwrap_or(0.0),
            step["p50_ms"].as_f64().unwrap_or(0.0),
            step["p99_ms"].as_f64().unwrap_or(0.0),
            step["p999_ms"].as_f64().unwrap_or(0.0),
            ratio.map_or("–".to_owned(), |r| format!("{r:.2}"))
        ));
    }
    for pg in api["pgbench"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "| pgbench (same SQL) | {} | {:.0} | avg {:.2} | | | 1.00 |\n",
            pg["concurrency"],
            pg["tps"].as_f64().unwrap_or(0.0),
            pg["latency_avg_ms"].as_f64().unwrap_or(0.0)
        ));
    }
    let half_peak = api["half_peak"].as_array().cloned().unwrap_or_default();
    if !half_peak.is_empty() {
        out.push_str("\n| API `Authorize` at half the peak, steady arrivals (open loop) | rate req/s | served req/s | p50 ms | p99 ms | p99.9 ms | dropped |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for step in &half_peak {
            out.push_str(&format!(
                "| {} (peak {:.0} req/s) | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
                step["surface"].as_str().unwrap_or(""),
                step["peak_rps"].as_f64().unwrap_or(0.0),
                step["rate_rps"].as_f64().unwrap_or(0.0),
                step["throughput_rps"].as_f64().unwrap_or(0.0),
                step["p50_ms"].as_f64().unwrap_or(0.0),
                step["p99_ms"].as_f64().unwrap_or(0.0),
                step["p999_ms"].as_f64().unwrap_or(0.0),
                step["dropped"]
            ));
        }
        for pg in api["half_peak_pgbench"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "| pgbench (same SQL, 8 clients) at the {} rate | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | |\n",
                pg["surface"].as_str().unwrap_or(""),
                pg["rate_tps"].as_f64().unwrap_or(0.0),
                pg["tps"].as_f64().unwrap_or(0.0),
                pg["p50_ms"].as_f64().unwrap_or(0.0),
                pg["p99_ms"].as_f64().unwrap_or(0.0),
                pg["p999_ms"].as_f64().unwrap_or(0.0),
            ));
        }
    }
    out.push_str("\n![Authorize throughput and p99 against concurrency, next to pgbench](bench/results/api.svg)\n");
    let paths = api["paths"].as_array().cloned().unwrap_or_default();
    if !paths.is_empty() {
        out.push_str("\n| API `Authorize`, way to the database | surface | concurrency | req/s | p50 ms | p99 ms | ÷ direct |\n|---|---|---:|---:|---:|---:|---:|\n");
        for step in &paths {
            let direct = paths
                .iter()
                .find(|d| d["path"] == "direct" && d["concurrency"] == step["concurrency"]);
            let ratio = direct
                .and_then(|d| d["throughput_rps"].as_f64())
                .map(|rps| step["throughput_rps"].as_f64().unwrap_or(0.0) / rps.max(1.0));
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
                step["path"].as_str().unwrap_or(""),
                step["surface"].as_str().unwrap_or(""),
                step["concurrency"],
                step["throughput_rps"].as_f64().unwrap_or(0.0),
                step["p50_ms"].as_f64().unwrap_or(0.0),
                step["p99_ms"].as_f64().unwrap_or(0.0),
                ratio.map_or("–".to_owned(), |r| format!("{r:.2}"))
            ));
        }
    }
    out.push_str(&format!(
        "\nAPI start to ready: {:.0} ms; idle RSS: {:.1} MiB.\n\n",
        api["ready_ms"].as_f64().unwrap_or(0.0),
        api["idle_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0
    ));
    out.push_str(&format!(
        "| relay ({} events, {} payments, per-payment order on) | events/s (median of {RELAY_SAMPLES}) | samples |\n|---|---:|---|\n",
        relay["events"], relay["payments"]
    ));
    let row = |label: String, run: &Value, field: &str| {
        let samples: Vec<String> = run["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{:.0}", v.as_f64().unwrap_or(0.0)))
            .collect();
        format!(
            "| {label} | {:.0} | {} |\n",
            run[field].as_f64().unwrap_or(0.0),
            samples.join(", ")
        )
    };
    out.push_str(&row(
        format!("relay-job, 1 process ({} workers)", relay["workers"]),
        &relay["one"],
        "events_per_second",
    ));
    out.push_str(&row(
        format!("relay-job, 2 processes ({} workers each)", relay["workers"]),
        &relay["two"],
        "events_per_second",
    ));
    out.push_str(&row(
        "(a) raw produce, same records and producer settings".to_owned(),
        &relay["limit_produce"],
        "records_per_second",
    ));
    out.push_str(&row(
        format!(
            "(b) raw PostgreSQL claim + mark, no Kafka, {} connections",
            relay["limit_database"]["connections"]
        ),
        &relay["limit_database"],
        "events_per_second",
    ));
    out.push_str(&format!(
        "\nrelay ÷ min(a, b) = {:.2}; relay cold start (process start to first claim, median of 5 runs): {} ms (range {}–{} ms); relay peak RSS: {:.1} MiB.\n",
        relay["relay_over_limit"].as_f64().unwrap_or(0.0),
        ms(&relay["cold_start"]["median_ms"]),
        ms(&relay["cold_start"]["min_ms"]),
        ms(&relay["cold_start"]["max_ms"]),
        relay["one"]["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0
    ));
    let cores = |v: &Value, who: &str| v[who].as_f64().unwrap_or(0.0);
    let (one, db, produce) = (
        &relay["one"]["cores"],
        &relay["limit_database"]["cores"],
        &relay["limit_produce"]["cores"],
    );
    if one.is_object() {
        out.push_str(&format!(
            "Cores busy (of {}), from `/proc` CPU times: relay-job, 1 process: PostgreSQL {:.2}, tansu {:.2}, relay {:.2}; (b) raw claim + mark: PostgreSQL {:.2}, client {:.2}; (a) raw produce: tansu {:.2}, producer {:.2}.\n",
            results["machine"]["cores"],
            cores(one, "postgres"), cores(one, "broker"), cores(one, "relay"),
            cores(db, "postgres"), cores(db, "bench"),
            cores(produce, "broker"), cores(produce, "bench"),
        ));
    }
    out.push_str("\n![Relay events/s next to the raw produce and raw claim + mark limits](bench/results/relay.svg)\n");
    let latency = relay["latency"].as_array().cloned().unwrap_or_default();
    if !latency.is_empty() {
        out.push_str("\n| commit → consumer, `relay-job run --follow`, steady rate, order on | events/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | reorders |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for step in &latency {
            out.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
                step["label"].as_str().unwrap_or(""),
                step["rate"],
                step["p50_ms"].as_f64().unwrap_or(0.0),
                step["p90_ms"].as_f64().unwrap_or(0.0),
                step["p99_ms"].as_f64().unwrap_or(0.0),
                step["p999_ms"].as_f64().unwrap_or(0.0),
                step["max_ms"].as_f64().unwrap_or(0.0),
                step["reorders"]
            ));
        }
        out.push_str("\n![Commit to consumer latency percentiles of a following relay](bench/results/latency.svg)\n");
    }
    if results["scale"].is_object() {
        out.push_str(&scale_markdown(&results["scale"]));
    }
    out
}

/// The scale tables: `Authorize` on grown tables and during a purge against an empty database,
/// and the relay's drain with retained rows against none.
fn scale_markdown(scale: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let steps = scale["api"].as_array().cloned().unwrap_or_default();
    let mut out = String::from(
        "\n| API `Authorize` (gRPC) as tables grow | concurrency | req/s | p50 ms | p99 ms | req/s ÷ empty | empty p99 ÷ p99 |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in &steps {
        let empty = steps
            .iter()
            .find(|e| e["tables"] == "empty" && e["concurrency"] == step["concurrency"]);
        let label = match step["tables"].as_str().unwrap_or("") {
            "empty" => "empty database".to_owned(),
            "grown" => format!("{} payments and idempotency records kept", scale["rows"]),
            _ => format!(
                "the same, while `purge-idempotency` deletes {} expired records ({:.1} s, {} batches)",
                step["purge"]["purged"],
                f(&step["purge_seconds"]),
                step["purge"]["batches"]
            ),
        };
        let ratios = empty.map_or(("–".to_owned(), "–".to_owned()), |e| {
            (
                format!(
                    "{:.2}",
                    f(&step["throughput_rps"]) / f(&e["throughput_rps"]).max(1.0)
                ),
                format!("{:.2}", f(&e["p99_ms"]) / f(&step["p99_ms"]).max(0.001)),
            )
        });
        out.push_str(&format!(
            "| {label} | {} | {:.0} | {:.2} | {:.2} | {} | {} |\n",
            step["concurrency"],
            f(&step["throughput_rps"]),
            f(&step["p50_ms"]),
            f(&step["p99_ms"]),
            ratios.0,
            ratios.1
        ));
    }
    let cases = scale["relay"]["cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let none = cases.first().map_or(0.0, |c| f(&c["events_per_second"]));
    out.push_str(&format!(
        "\n| relay drain of {} events, 1 process | events/s (median of 3) | ÷ none retained |\n|---|---:|---:|\n",
        scale["relay"]["events"]
    ));
    for case in &cases {
        out.push_str(&format!(
            "| {} published rows retained | {:.0} | {:.2} |\n",
            case["retained"],
            f(&case["events_per_second"]),
            f(&case["events_per_second"]) / none.max(1.0)
        ));
    }
    out
}

fn update_readme(path: &str, table: &str) -> anyhow::Result<()> {
    const START: &str = "<!-- bench:start -->";
    const END: &str = "<!-- bench:end -->";
    let readme = std::fs::read_to_string(path)?;
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        anyhow::bail!("{path} has no bench markers");
    };
    let updated = format!("{}{START}\n{table}{}", &readme[..start], &readme[end..]);
    std::fs::write(path, updated)?;
    Ok(())
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    let _ = writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(value)?
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.only.as_deref() {
        Some("api") => return print_json(&bench_api(&args).await?),
        Some("paths") => return print_json(&bench_paths(&args).await?),
        Some("latency") => return print_json(&bench_latency(&args).await?),
        Some("scale") => return print_json(&bench_scale(&args).await?),
        Some("report") => {
            let results: Value = serde_json::from_str(&std::fs::read_to_string(format!(
                "{}/latest.json",
                args.out_dir
            ))?)?;
            return report(&results, &args);
        }
        Some(_) => return print_json(&bench_relay(&args).await?),
        None => {}
    }
    let mut api = bench_api(&args).await?;
    api["paths"] = bench_paths(&args).await?;
    let mut relay = bench_relay(&args).await?;
    relay["latency"] = bench_latency(&args).await?;
    let scale = bench_scale(&args).await?;
    let results = json!({
        "date": chrono_now().format("%Y-%m-%d").to_string(),
        "machine": machine(),
        "seconds": args.seconds,
        "api": api,
        "relay": relay,
        "scale": scale,
    });
    std::fs::create_dir_all(&args.out_dir)?;
    std::fs::write(
        format!("{}/latest.json", args.out_dir),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    report(&results, &args)
}

/// Writes what is read from the results: the charts, `latest.md` and the README's table.
fn report(results: &Value, args: &Args) -> anyhow::Result<()> {
    for path in charts::write_all(results, std::path::Path::new(&args.out_dir))? {
        say(format!("wrote {}", path.display()));
    }
    let table = markdown(results);
    // latest.md sits next to the charts; the README links them from the repository's root.
    std::fs::write(
        format!("{}/latest.md", args.out_dir),
        table.replace("](bench/results/", "]("),
    )?;
    update_readme(&args.readme, &table)?;
    let _ = writeln!(std::io::stdout(), "{table}");
    Ok(())
}
