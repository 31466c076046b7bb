//! How the relay ends (K08, K09): broker or database down, deadline, SIGTERM mid-batch, and a
//! kill -9 between the broker's acknowledgement and the mark.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn broker_down_at_start_exits_3_and_charges_nothing() {
    let outbox = Outbox::new().await;
    outbox.payment_with(2).await;
    let output = outbox
        .relay_command(&["run"])
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(code, 3, "{summary}");
    assert_eq!(summary["outcome"], "kafka_unavailable");
    assert!(
        summary["reason"]
            .as_str()
            .unwrap()
            .contains("kafka unavailable")
    );
    assert_eq!(
        (
            summary["published"].as_u64(),
            summary["dead_lettered"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(summary["remaining"], 2);
    let attempts = crate::operations::attempts(&outbox).await;
    assert!(
        attempts.iter().all(|a| *a == 0),
        "no attempt charged: {attempts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_down_with_nothing_to_publish_still_exits_3() {
    let outbox = Outbox::new().await;
    let (code, summary) = summary_of(
        &outbox
            .relay_command(&["run", "--message-timeout", "2s"])
            .env("KAFKA_BROKERS", "127.0.0.1:1")
            .output()
            .unwrap(),
    );
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
    assert_eq!(summary["remaining"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_claim_does_not_wait_for_kafka_and_is_rolled_back_when_it_never_answers() {
    // A broker that accepts connections and never answers: the topics check can only time out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let outbox = Outbox::new().await;
    outbox.payment_with(3).await;
    let output = outbox
        .relay_command(&["run", "--message-timeout", "2s"])
        .env("KAFKA_BROKERS", &address)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("first claim"),
        "claimed before Kafka answered: {log}"
    );
    assert_eq!(summary["remaining"], 3, "the claim was rolled back");
    let attempts = crate::operations::attempts(&outbox).await;
    assert!(attempts.iter().all(|a| *a == 0), "{attempts:?}");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn database_down_exits_4() {
    let outbox = Outbox::new().await;
    let output = outbox
        .relay_command(&["run"])
        .env(
            "DATABASE_URL",
            payment_db::testing::url_for("no_such_database_here"),
        )
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (4, Some("database_unavailable")),
        "{summary}"
    );
    assert!(summary["remaining"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_over_a_large_backlog_exits_0_with_remaining_work_and_the_next_run_continues() {
    let outbox = Outbox::new().await;
    outbox.bulk(2000, 5).await;
    let (code, first) = outbox.run(&["--max-runtime", "1s", "--batch-size", "20"]);
    assert_eq!(
        (code, first["outcome"].as_str()),
        (0, Some("deadline")),
        "{first}"
    );
    let remaining = first["remaining"].as_i64().unwrap();
    assert!(remaining > 0, "{first}");
    assert_eq!(first["published"].as_i64().unwrap() + remaining, 10_000);
    let (code, second) = outbox.run(&["--max-runtime", "120s"]);
    assert_eq!(
        (
            code,
            second["outcome"].as_str(),
            second["remaining"].as_i64()
        ),
        (0, Some("drained"), Some(0))
    );
    assert_eq!(second["published"].as_i64().unwrap(), remaining);
}

/// Makes marking slow so a test can act between the broker's acknowledgement and the commit.
async fn slow_marks(outbox: &Outbox, seconds: f64) {
    outbox
        .sql(&format!(
            "CREATE FUNCTION slow_mark() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$; \
             CREATE TRIGGER slow_mark BEFORE UPDATE ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION slow_mark();"
        ))
        .await;
}

fn wait_for_records(outbox: &Outbox, count: usize) -> Vec<Record> {
    let started = Instant::now();
    loop {
        let records = outbox.read(&outbox.events_topic, count);
        if records.len() >= count || started.elapsed() > Duration::from_secs(30) {
            return records;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_between_ack_and_mark_loses_nothing_and_duplicates_only_identically() {
    let outbox = Outbox::new().await;
    outbox.bulk(20, 2).await;
    outbox
        .sql(
            "CREATE FUNCTION slow_mark() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$; \
             CREATE TRIGGER slow_mark BEFORE UPDATE ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION slow_mark();",
        )
        .await;
    let mut relay = outbox.spawn_run(&[]);
    let acknowledged = wait_for_records(&outbox, 20);
    assert_eq!(
        acknowledged.len(),
        20,
        "the first batch (the 20 heads) reached the broker"
    );
    relay.kill().unwrap(); // SIGKILL
    relay.wait().unwrap();
    assert_eq!(
        outbox.statuses().await.get("pending"),
        Some(&40),
        "nothing was marked"
    );
    outbox.sql("DROP TRIGGER slow_mark ON outbox_events").await;

    let (code, summary) = outbox.run(&[]);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(40)),
        "{summary}"
    );
    let records = outbox.read(&outbox.events_topic, 60);
    assert_eq!(
        records.len(),
        60,
        "20 duplicates of the unmarked batch, nothing lost"
    );
    let mut by_id: HashMap<&str, Vec<&Record>> = HashMap::new();
    for record in &records {
        by_id
            .entry(record.headers["ce_id"].as_str())
            .or_default()
            .push(record);
    }
    assert_eq!(by_id.len(), 40);
    for copies in by_id.values() {
        assert!(
            copies
                .windows(2)
                .all(|pair| pair[0].raw == pair[1].raw && pair[0].key == pair[1].key),
            "identical copies"
        );
    }
    // Order holds per key even with the duplicates: each version appears after all lower ones
    // first appeared.
    let mut seen: HashMap<&str, i64> = HashMap::new();
    for record in &records {
        let highest = seen.entry(record.key.as_str()).or_insert(0);
        assert!(
            record.sequence() <= *highest + 1,
            "no version skipped ahead"
        );
        *highest = (*highest).max(record.sequence());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_batch_finishes_the_batch_then_exits() {
    let outbox = Outbox::new().await;
    outbox.bulk(30, 3).await;
    slow_marks(&outbox, 3.0).await;
    let relay = outbox.spawn_run(&["--batch-size", "30"]);
    let first = wait_for_records(&outbox, 30);
    assert_eq!(first.len(), 30);
    let pid = relay.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (code, summary) = summary_of(&relay.wait_with_output().unwrap());
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (0, Some("interrupted")),
        "{summary}"
    );
    // SIGTERM lands while a batch of 30 is in flight: that batch is finished and marked, no
    // new batch is claimed.
    let published = summary["published"].as_i64().unwrap();
    assert!(published == 30 || published == 60, "{summary}");
    assert_eq!(summary["remaining"].as_i64().unwrap(), 90 - published);
    assert_eq!(outbox.statuses().await.get("published"), Some(&published));
    assert_eq!(
        outbox.read(&outbox.events_topic, published as usize).len() as i64,
        published
    );
}

/// The broker (not our own size check) refuses a record as too large: it is dead-lettered as a
/// reference, not retried forever, and its successor waits.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_the_broker_refuses_as_too_large_is_dead_lettered_as_a_reference() {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    let outbox = Outbox::new().await;
    let payment = outbox.payment_with(2).await;
    let cluster = MockCluster::new(1).unwrap();
    cluster
        .create_topic(&outbox.events_topic, PARTITIONS, 1)
        .unwrap();
    cluster
        .create_topic(&outbox.dlq_topic, PARTITIONS, 1)
        .unwrap();
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let output = outbox
        .relay_command(&["run", "--create-topics", "false"])
        .env("KAFKA_BROKERS", cluster.bootstrap_servers())
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(
        (
            code,
            summary["dead_lettered"].as_u64(),
            summary["published"].as_u64()
        ),
        (0, Some(1), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["parked_keys"], 1);
    let dead = crate::operations::dead_classes(&outbox).await;
    assert_eq!(dead, [(payment, 1)]);
}
