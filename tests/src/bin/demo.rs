//! The demo behind `scripts/demo`: drives a realistic batch through REST, native gRPC and
//! gRPC-web, runs relay-job as cron would (several short ticks), shows a poison event going to
//! the dead-letter topic and coming back after a replay, reads the topics back and prints a
//! report. Exits non-zero when anything is wrong.
//!
//! Needs `DATABASE_URL` (a database it may migrate) and `KAFKA_BROKERS`; `scripts/demo` provides
//! both and the built binaries.

#![expect(
    clippy::indexing_slicing,
    reason = "demo driver: JSON lookups of relay summaries"
)]

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::client::Client;
use e2e::stack::{self, RelayTarget};
use e2e::workload;

/// Demo of payment-service end to end.
#[derive(Debug, Parser)]
struct Args {
    /// PostgreSQL URL of a database the demo may migrate and write.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: String,
    /// Payments to create.
    #[arg(long, env = "DEMO_PAYMENTS", default_value_t = 200)]
    payments: usize,
}

fn say(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stdout().lock(), "{}", line.as_ref());
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match demo(&args).await {
        Ok(()) => {
            say("\nDEMO OK");
            ExitCode::SUCCESS
        }
        Err(error) => {
            say(format!("\nDEMO FAILED: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

fn summary_line(summary: &serde_json::Value) -> String {
    format!(
        "published={:<4} retried={} dead_lettered={} parked_keys={} remaining={:<4} duration_ms={:<5} outcome={}",
        summary["published"],
        summary["retried"],
        summary["dead_lettered"],
        summary["parked_keys"],
        summary["remaining"],
        summary["duration_ms"],
        summary["outcome"].as_str().unwrap_or("?")
    )
}

/// A tick's budget: `--max-runtime` 150 ms plus `--flush-timeout` 1 s, the longest a run may
/// take (topic checks included).
const TICK_BUDGET_MS: u64 = 150 + 1000;

/// Runs relay ticks until one drains; returns the ticks' summaries.
fn drain(relay: &RelayTarget, label: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut summaries = Vec::new();
    for tick in 1..=20 {
        let (code, summary) = relay.tick(&[
            "--max-runtime",
            "150ms",
            "--flush-timeout",
            "1s",
            "--batch-size",
            "40",
        ])?;
        say(format!(
            "  {label} tick {tick}: exit {code}  {}",
            summary_line(&summary)
        ));
        anyhow::ensure!(code == 0, "relay tick exited {code}: {summary}");
        let duration = summary["duration_ms"].as_u64().unwrap_or(u64::MAX);
        anyhow::ensure!(
            duration <= TICK_BUDGET_MS,
            "relay tick took {duration} ms, over its {TICK_BUDGET_MS} ms budget"
        );
        let drained = summary["outcome"] == "drained";
        summaries.push(summary);
        if drained {
            return Ok(summaries);
        }
    }
    anyhow::bail!("the relay did not drain the outbox in 20 ticks")
}

async fn demo(args: &Args) -> anyhow::Result<()> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let tag = run.get(run.len() - 8..).unwrap_or("demo").to_owned();
    say("== 1. Database and merchant");
    stack::api_command(&args.database_url, &["migrate"])?;
    let created = stack::api_command(
        &args.database_url,
        &["admin", "create-merchant", "--name", "Demo merchant"],
    )?;
    let api_key = created
        .lines()
        .find_map(|l| l.strip_prefix("api_key="))
        .context("no api_key printed")?
        .to_owned();
    say(format!(
        "  merchant created; API key {}… (shown once, stored hashed)",
        api_key.get(..11).unwrap_or("")
    ));

    say("== 2. API (gRPC, gRPC-web and REST on one port)");
    let api = stack::start_api(&args.database_url).await?;
    say(format!("  serving on {}", api.base_url));
    let client = Client::connect(&api.base_url, &api_key).await?;

    say(format!(
        "== 3. {} payments over REST, gRPC and gRPC-web",
        args.payments
    ));
    let report = workload::run(&client, args.payments, &tag, |done| {
        if done % 50 == 0 {
            say(format!("  {done} payments"));
        }
    })
    .await?;
    for (surface, calls) in &report.calls {
        say(format!("  {surface:<9} {calls} calls"));
    }
    say(format!("  currencies {:?}", report.currencies));
    say(format!("  final statuses {:?}", report.statuses));
    say(format!(
        "  idempotent retries answered as replays: {}",
        report.replays_verified
    ));
    say(format!(
        "  events written to the outbox: {}",
        report.total_events()
    ));

    say("== 4. A poison event: one stored event is corrupted behind the API's back");
    let (poisoned, versions) = report
        .expected_events
        .iter()
        .find(|(_, versions)| **versions >= 3)
        .map(|(id, v)| (id.clone(), *v))
        .context("no payment with 3 events")?;
    let mut db = AsyncPgConnection::establish(&args.database_url).await?;
    let corrupt = |currency: &str| {
        format!(
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{{data,currency}}', '\"{currency}\"') \
             WHERE aggregate_id = '{poisoned}' AND aggregate_version = 1"
        )
    };
    db.batch_execute(&corrupt("usd")).await?;
    say(format!(
        "  payment {poisoned}: version 1 of {versions} now fails its schema"
    ));

    say(format!(
        "== 5. relay-job as cron ticks would run it (--max-runtime 150ms, --flush-timeout 1s: \
         each within {TICK_BUDGET_MS} ms; batches of 40)"
    ));
    let relay = RelayTarget {
        database_url: args.database_url.clone(),
        brokers: args.kafka_brokers.clone(),
        events_topic: format!("demo.{tag}.payments.events"),
        dlq_topic: format!("demo.{tag}.payments.dlq"),
    };
    say(format!(
        "  topics {} and {}",
        relay.events_topic, relay.dlq_topic
    ));
    let first = drain(&relay, "relay")?;
    let dead: u64 = first
        .iter()
        .filter_map(|s| s["dead_lettered"].as_u64())
        .sum();
    anyhow::ensure!(
        dead == 1,
        "expected exactly one dead-lettered event, got {dead}"
    );
    let parked = first
        .last()
        .and_then(|s| s["parked_keys"].as_i64())
        .unwrap_or(0);
    anyhow::ensure!(
        parked == 1,
        "expected the poisoned payment to be parked, got {parked}"
    );
    let tail = relay.tail()?;
    let expected_now = report.total_events() - versions;
    say(format!(
        "  topic holds {} events (expected {expected_now}); DLQ holds {}",
        tail.events, tail.dead_letters
    ));
    anyhow::ensure!(
        i64::try_from(tail.events)? == expected_now && tail.dead_letters == 1,
        "unexpected topic contents: {tail:?}"
    );

    say("== 6. The operator repairs the event and replays the payment");
    let currency = currency_of(&mut db, &poisoned).await?;
    db.batch_execute(&corrupt(&currency)).await?;
    let replay = relay
        .command(&["replay", "--payment-id", &poisoned])?
        .output()?;
    say(format!(
        "  relay-job replay --payment-id {poisoned}: {}",
        String::from_utf8_lossy(&replay.stdout).trim()
    ));
    let second = drain(&relay, "relay")?;
    anyhow::ensure!(
        second.last().and_then(|s| s["parked_keys"].as_i64()) == Some(0),
        "still parked after the replay"
    );

    say("== 7. Reading the topics back (relay-job tail)");
    let tail = relay.tail()?;
    say(format!(
        "  events on {}: {}",
        relay.events_topic, tail.events
    ));
    for (event_type, count) in &tail.by_type {
        say(format!("    {event_type:<20} {count}"));
    }
    say(format!("  payments: {}", tail.payments));
    say(format!(
        "  schema-valid: {} of {}",
        tail.events - tail.schema_invalid,
        tail.events
    ));
    say(format!(
        "  per-payment order: {} gaps, {} reorders; duplicates: {} identical, {} conflicting",
        tail.gaps, tail.reorders, tail.identical_duplicates, tail.conflicting_duplicates
    ));
    say(format!(
        "  dead letters on {}: {} (all schema-valid: {})",
        relay.dlq_topic,
        tail.dead_letters,
        tail.dead_letters_invalid == 0
    ));
    let runs = first.len() + second.len();
    let published: u64 = first
        .iter()
        .chain(&second)
        .filter_map(|s| s["published"].as_u64())
        .sum();
    say(format!("  relay ticks: {runs}, published {published}"));
    anyhow::ensure!(tail.is_clean(), "the topics break the contract: {tail:?}");
    anyhow::ensure!(
        i64::try_from(tail.events)? == report.total_events(),
        "expected {} events, read {}",
        report.total_events(),
        tail.events
    );
    anyhow::ensure!(
        tail.payments == report.expected_events.len() as u64,
        "payments missing on the topic"
    );
    drop(api);
    Ok(())
}

async fn currency_of(db: &mut AsyncPgConnection, payment: &str) -> anyhow::Result<String> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use payment_db::schema::payments::dsl as p;
    let id = uuid::Uuid::parse_str(payment)?;
    Ok(p::payments
        .find(id)
        .select(p::currency)
        .first::<String>(db)
        .await?)
}
