//! The chaos harness behind `scripts/chaos`: while the API writes whole payment lifecycles over
//! REST, gRPC and gRPC-web, relay processes are killed with SIGKILL at random points, frozen
//! with SIGSTOP while another relay runs, the broker is frozen mid-run (SIGSTOP/SIGCONT on the
//! tansu process the script started) and the relays' database sessions are ended with
//! `pg_terminate_backend`. Then a clean drain and a full read-back of the topic.
//!
//! Prints one JSON summary line: rounds, faults by kind, events written, records read, lost,
//! per-payment reorders, identical and conflicting duplicates. Exits 1 on any loss, reorder or
//! conflicting duplicate (or when the system misbehaves otherwise), 0 when the contract held.
//!
//! Needs `DATABASE_URL` (a database it may migrate), `KAFKA_BROKERS` (a broker of its own) and
//! `--broker-pid` (that broker's process id); `scripts/chaos` provides all three.

#![expect(
    clippy::indexing_slicing,
    reason = "chaos driver: JSON lookups of relay summaries"
)]

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::process::{Child, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::client::Client;
use e2e::stack::{self, RelayTarget};
use e2e::workload;
use rand::Rng;

/// Chaos rounds against payment-service's relay.
#[derive(Debug, Parser)]
struct Args {
    /// Rounds of faults.
    #[arg(long, default_value_t = 100)]
    rounds: u32,
    /// Payment lifecycles written per round.
    #[arg(long, default_value_t = 6)]
    payments_per_round: usize,
    /// PostgreSQL URL of a database the harness may migrate and write.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Kafka bootstrap servers of the broker the harness may freeze.
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: String,
    /// Process id of that broker (SIGSTOP/SIGCONT).
    #[arg(long, env = "CHAOS_BROKER_PID")]
    broker_pid: u32,
}

/// The kinds of fault, one per round in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// A relay killed with SIGKILL at a random point.
    RelayKilled,
    /// A relay frozen with SIGSTOP while another relay runs, then resumed.
    RelayFrozen,
    /// The broker frozen mid-run, then resumed.
    BrokerFrozen,
    /// The relays' database sessions ended with `pg_terminate_backend`.
    SessionsTerminated,
}

impl Fault {
    const ALL: [Self; 4] = [
        Self::RelayKilled,
        Self::RelayFrozen,
        Self::BrokerFrozen,
        Self::SessionsTerminated,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::RelayKilled => "relay_sigkill",
            Self::RelayFrozen => "relay_sigstop",
            Self::BrokerFrozen => "broker_sigstop",
            Self::SessionsTerminated => "db_sessions_terminated",
        }
    }
}

/// The relay's session name in `pg_stat_activity`, so the harness ends only relay sessions.
const RELAY_APPLICATION: &str = "relay-job-chaos";

fn say(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match chaos(&args).await {
        Ok(summary) => {
            let clean = summary["lost"] == 0
                && summary["reorders"] == 0
                && summary["gaps"] == 0
                && summary["conflicting_duplicates"] == 0
                && summary["remaining_after_drain"] == 0;
            let _ = writeln!(std::io::stdout().lock(), "{summary}");
            if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            say(format!("CHAOS FAILED: {error:#}"));
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::json!({ "error": format!("{error:#}") })
            );
            ExitCode::FAILURE
        }
    }
}

fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -{name} {pid} failed");
    Ok(())
}

/// The relay settings of a chaos round: short budgets and backoff, so a round takes seconds.
const RELAY_SETTINGS: [&str; 12] = [
    "--max-runtime",
    "1500ms",
    "--flush-timeout",
    "2s",
    "--message-timeout",
    "3s",
    "--kafka-timeout",
    "2s",
    "--backoff-max",
    "2s",
    "--batch-size",
    "5",
];

fn spawn_relay(relay: &RelayTarget) -> anyhow::Result<Child> {
    let mut args = vec!["run"];
    args.extend_from_slice(&RELAY_SETTINGS);
    Ok(relay
        .command(&args)?
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?)
}

/// Waits for a relay and returns its summary line (none when it was killed).
async fn finish(relay: Child) -> anyhow::Result<Option<serde_json::Value>> {
    let output = tokio::task::spawn_blocking(move || relay.wait_with_output()).await??;
    let line = String::from_utf8_lossy(&output.stdout);
    let summary = line.lines().next().map(serde_json::from_str).transpose()?;
    Ok(summary)
}

async fn pause(range: std::ops::Range<u64>) {
    let ms = rand::rng().random_range(range);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// One fault, with relays running around it; returns the summaries of the relays that ended.
async fn inject(
    fault: Fault,
    relay: &RelayTarget,
    broker_pid: u32,
    admin: &mut AsyncPgConnection,
    database: &str,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut summaries = Vec::new();
    // The round's writes have begun: start once some of them are in the outbox.
    pause(50..300).await;
    match fault {
        Fault::RelayKilled => {
            let mut victim = spawn_relay(relay)?;
            pause(20..200).await;
            victim.kill()?;
            tokio::task::spawn_blocking(move || victim.wait()).await??;
        }
        Fault::RelayFrozen => {
            let frozen = spawn_relay(relay)?;
            pause(20..200).await;
            signal(frozen.id(), "STOP")?;
            summaries.extend(finish(spawn_relay(relay)?).await?);
            signal(frozen.id(), "CONT")?;
            summaries.extend(finish(frozen).await?);
        }
        Fault::BrokerFrozen => {
            let running = spawn_relay(relay)?;
            pause(20..200).await;
            signal(broker_pid, "STOP")?;
            pause(300..1500).await;
            signal(broker_pid, "CONT")?;
            summaries.extend(finish(running).await?);
        }
        Fault::SessionsTerminated => {
            let running = spawn_relay(relay)?;
            pause(20..200).await;
            admin
                .batch_execute(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{database}' AND application_name = '{RELAY_APPLICATION}'"
                ))
                .await?;
            summaries.extend(finish(running).await?);
        }
    }
    Ok(summaries)
}

async fn chaos(args: &Args) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let tag = run.get(run.len() - 8..).unwrap_or("chaos").to_owned();
    stack::api_command(&args.database_url, &["migrate"])?;
    let created = stack::api_command(
        &args.database_url,
        &["admin", "create-merchant", "--name", "Chaos merchant"],
    )?;
    let api_key = created
        .lines()
        .find_map(|l| l.strip_prefix("api_key="))
        .context("no api_key printed")?
        .to_owned();
    let api = stack::start_api(&args.database_url).await?;
    let client = Client::connect(&api.base_url, &api_key).await?;
    let separator = if args.database_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let relay = RelayTarget {
        database_url: format!(
            "{}{separator}application_name={RELAY_APPLICATION}",
            args.database_url
        ),
        brokers: args.kafka_brokers.clone(),
        events_topic: format!("chaos.{tag}.payments.events"),
        dlq_topic: format!("chaos.{tag}.payments.dlq"),
    };
    let database = args
        .database_url
        .rsplit('/')
        .next()
        .and_then(|name| name.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let admin_url = args
        .database_url
        .replacen(&format!("/{database}"), "/postgres", 1);
    say(format!(
        "chaos: {} rounds on {} (broker pid {})",
        args.rounds, relay.events_topic, args.broker_pid
    ));

    let mut admin = AsyncPgConnection::establish(&admin_url).await?;
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut exits: BTreeMap<String, u64> = BTreeMap::new();
    for round in 0..args.rounds {
        let fault = Fault::ALL[round as usize % Fault::ALL.len()];
        *faults.entry(fault.name()).or_default() += 1;
        let round_tag = format!("{tag}-{round}");
        let (injected, written) = tokio::join!(
            inject(fault, &relay, args.broker_pid, &mut admin, &database),
            workload::run(&client, args.payments_per_round, &round_tag, |_| {})
        );
        for summary in injected? {
            let outcome = summary["outcome"].as_str().unwrap_or("?").to_owned();
            *exits.entry(outcome).or_default() += 1;
        }
        expected.extend(written?.expected_events);
        if (round + 1) % 10 == 0 {
            say(format!("  round {}/{}: {faults:?}", round + 1, args.rounds));
        }
    }

    // A clean drain: ticks until nothing is pending (deferred events become due again after
    // --message-timeout, retried ones after their backoff).
    let drain_started = Instant::now();
    let mut remaining = -1;
    while drain_started.elapsed() < Duration::from_secs(90) {
        let mut settings = RELAY_SETTINGS.to_vec();
        settings[1] = "10s";
        let (code, summary) = relay.tick(&settings)?;
        remaining = summary["remaining"].as_i64().unwrap_or(-1);
        if code == 0 && remaining == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(api);

    let mut db = AsyncPgConnection::establish(&args.database_url).await?;
    let committed: HashSet<String> = committed_event_ids(&mut db).await?;
    let tail = relay.tail()?;
    let read: HashSet<&String> = tail.event_ids.iter().collect();
    let lost = committed.iter().filter(|id| !read.contains(id)).count();
    let dead = dead_events(&mut db).await?;
    let written: i64 = expected.values().sum();
    Ok(serde_json::json!({
        "rounds": args.rounds,
        "faults": faults,
        "relay_outcomes": exits,
        "events_written": written,
        "outbox_events": committed.len(),
        "records_read": tail.events,
        "lost": lost,
        "reorders": tail.reorders,
        "gaps": tail.gaps,
        "identical_duplicates": tail.identical_duplicates,
        "conflicting_duplicates": tail.conflicting_duplicates,
        "dead_letters": tail.dead_letters,
        "dead_events": dead,
        "remaining_after_drain": remaining,
        "schema_invalid": tail.schema_invalid,
        "duration_s": started.elapsed().as_secs(),
    }))
}

async fn dead_events(db: &mut AsyncPgConnection) -> anyhow::Result<i64> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use payment_db::schema::outbox_events::dsl as o;
    Ok(o::outbox_events
        .filter(o::status.eq("dead"))
        .count()
        .get_result(db)
        .await?)
}

async fn committed_event_ids(db: &mut AsyncPgConnection) -> anyhow::Result<HashSet<String>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use payment_db::schema::outbox_events::dsl as o;
    Ok(o::outbox_events
        .select(o::event_id)
        .load::<uuid::Uuid>(db)
        .await?
        .into_iter()
        .map(|id| id.to_string())
        .collect())
}
