//! Issue 17 pt 4: `run --follow` keeps relaying until `--max-runtime`: what commits while it runs
//! is published within its poll, in order; and where the database opts in, a NOTIFY from the
//! outbox insert wakes it long before its poll would.

use std::time::{Duration, Instant};

use crate::harness::{Outbox, assert_ordered, summary_of};

#[tokio::test(flavor = "multi_thread")]
async fn a_following_relay_publishes_what_commits_while_it_runs() {
    let outbox = Outbox::new().await;
    let relay = outbox.spawn_run(&["--follow", "--follow-poll", "100ms", "--max-runtime", "4s"]);
    // Written as the API writes them (one event per statement), while the relay runs.
    tokio::time::sleep(Duration::from_millis(800)).await;
    for _ in 0..5 {
        outbox.payment_with(2).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    for _ in 0..5 {
        outbox.payment_with(1).await;
    }
    let (code, summary) = summary_of(&relay.wait_with_output().unwrap());
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["outcome"], "deadline", "{summary}");
    assert_eq!(summary["published"], 15, "{summary}");
    assert_eq!(summary["remaining"], 0, "{summary}");
    assert_ordered(&outbox.read(&outbox.events_topic, 15));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notify_wakes_a_following_relay_before_its_poll() {
    let outbox = Outbox::new().await;
    if outbox.relay_pool_mode == payment_db::PoolMode::Transaction {
        // A transaction-mode pooler cannot LISTEN: there the relay only polls (README).
        return;
    }
    let database = outbox.url.rsplit('/').next().unwrap().to_owned();
    outbox
        .sql(&format!(
            "ALTER DATABASE {database} SET payment.outbox_notify = 'on'"
        ))
        .await;
    // A deadline far away: on a loaded machine the start alone may take seconds.
    let mut relay = outbox
        .relay_command(&[
            "run",
            "--follow",
            "--follow-poll",
            "60s",
            "--max-runtime",
            "60s",
        ])
        .env("RUST_LOG", "relay_job=debug,payment_db=debug")
        .spawn()
        .unwrap();
    // Started (its LISTEN comes before its first claim), drained and idle: without a wake-up
    // it would look again only in 60 s.
    let started = Instant::now();
    while !outbox.listening().await {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the relay never LISTENed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let written = Instant::now();
    outbox.payment_with(1).await;
    while outbox.statuses().await.get("published").copied() != Some(1) {
        // Well under the 60 s poll: only the NOTIFY can have woken it (on a loaded machine a
        // batch to the broker may take a second).
        if written.elapsed() > Duration::from_secs(10) {
            let _ = relay.kill();
            let output = relay.wait_with_output().unwrap();
            panic!(
                "not published within 10 s of the commit: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("published {:?} after the commit", written.elapsed());
    // Asked to stop (as a scheduler's timeout would), it finishes and reports the one event.
    std::process::Command::new("kill")
        .args(["-TERM", &relay.id().to_string()])
        .status()
        .unwrap();
    let (code, summary) = summary_of(&relay.wait_with_output().unwrap());
    assert_eq!(
        (
            code,
            summary["published"].as_u64(),
            summary["outcome"].as_str()
        ),
        (0, Some(1), Some("interrupted")),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_following_run_with_nothing_to_do_and_no_broker_still_exits_3() {
    // Following an empty outbox to its deadline is exit 0 only with a reachable Kafka, like a
    // drained run (§6.7).
    let outbox = Outbox::new().await;
    let (code, summary) = summary_of(
        &outbox
            .relay_command(&["run", "--follow", "--max-runtime", "2s"])
            .env("KAFKA_BROKERS", "127.0.0.1:1")
            .env("RELAY_KAFKA_TIMEOUT", "1s")
            .output()
            .unwrap(),
    );
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
}
