//! The run keeps its budget: with a healthy broker it ends within `--max-runtime` +
//! `--flush-timeout` (topic checks included); with no broker at start within `--kafka-timeout`;
//! a broker lost mid-run ends it after `--kafka-timeout` with one line on stderr and one summary
//! of the failures. Durations are read from the summaries (`duration_ms`) and compared with the
//! settings, not timed by the test.

use rdkafka::mocking::MockCluster;

use crate::harness::*;

fn duration_ms(summary: &serde_json::Value) -> u64 {
    summary["duration_ms"].as_u64().unwrap()
}

/// stderr lines at warn level or above.
fn log_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn short_ticks_keep_their_budget_also_when_they_create_the_topics() {
    let outbox = Outbox::new().await;
    outbox.bulk(400, 3).await;
    // The first tick finds no topics and creates them; later ticks find them by metadata.
    let mut published = 0;
    for tick in 0..30 {
        let (code, summary) = outbox.run(&[
            "--max-runtime",
            "150ms",
            "--flush-timeout",
            "1s",
            "--batch-size",
            "100",
        ]);
        assert_eq!(code, 0, "tick {tick}: {summary}");
        assert!(
            duration_ms(&summary) <= 150 + 1000,
            "tick {tick} over max-runtime + flush-timeout: {summary}"
        );
        published += summary["published"].as_u64().unwrap();
        if summary["outcome"] == "drained" {
            break;
        }
        assert_eq!(summary["outcome"], "deadline", "{summary}");
    }
    assert_eq!(published, 1200);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_broker_at_start_ends_within_the_kafka_timeout_with_one_log_line() {
    let outbox = Outbox::new().await;
    outbox.payment_with(2).await;
    for create_topics in ["true", "false"] {
        let output = outbox
            .relay_command(&[
                "--kafka-timeout",
                "1s",
                "--flush-timeout",
                "500ms",
                "--create-topics",
                create_topics,
            ])
            .env("KAFKA_BROKERS", "127.0.0.1:1")
            .output()
            .unwrap();
        let (code, summary) = summary_of(&output);
        assert_eq!(
            (code, summary["outcome"].as_str()),
            (3, Some("kafka_unavailable")),
            "{summary}"
        );
        assert!(
            duration_ms(&summary) <= 1000 + 500,
            "over --kafka-timeout + --flush-timeout: {summary}"
        );
        let lines = log_lines(&output);
        assert_eq!(lines.len(), 1, "one error line: {lines:#?}");
        assert!(lines[0].contains("ERROR"), "{lines:?}");
        assert_eq!(summary["remaining"], 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_lost_mid_run_ends_the_run_with_one_summary_of_the_failures() {
    let outbox = Outbox::new().await;
    outbox.bulk(300, 1).await;
    // Each batch's mark takes 0.5 s, so the test can act between batches.
    outbox
        .sql(
            "CREATE FUNCTION slow_mark() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$; \
             CREATE TRIGGER slow_mark BEFORE UPDATE ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION slow_mark();",
        )
        .await;
    let cluster = MockCluster::new(1).unwrap();
    cluster
        .create_topic(&outbox.events_topic, PARTITIONS, 1)
        .unwrap();
    cluster
        .create_topic(&outbox.dlq_topic, PARTITIONS, 1)
        .unwrap();
    let relay = outbox
        .relay_command(&[
            "--create-topics",
            "false",
            "--workers",
            "1",
            "--batch-size",
            "100",
            "--kafka-timeout",
            "1s",
            "--message-timeout",
            "30s",
            "--max-runtime",
            "30s",
        ])
        .env("KAFKA_BROKERS", cluster.bootstrap_servers())
        .spawn()
        .unwrap();
    // Once a batch is published, the next ones' produce requests hang until the broker goes
    // away.
    for _ in 0..200 {
        if outbox.statuses().await.contains_key("published") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cluster
        .broker_round_trip_time(1, std::time::Duration::from_secs(10))
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    cluster.broker_down(-1).unwrap();
    let output = relay.wait_with_output().unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
    assert!(
        summary["reason"]
            .as_str()
            .unwrap()
            .contains("every broker down"),
        "{summary}"
    );
    // Ended by --kafka-timeout, long before --message-timeout would fail the records.
    assert!(duration_ms(&summary) < 30_000, "{summary}");
    let published = summary["published"].as_i64().unwrap();
    assert!((1..300).contains(&published), "{summary}");
    assert_eq!(summary["dead_lettered"], 0);
    let lines = log_lines(&output);
    assert!(lines.len() <= 2, "no line per event: {lines:#?}");
    assert!(
        crate::operations::attempts(&outbox)
            .await
            .iter()
            .all(|a| *a == 0),
        "no attempt charged"
    );
    assert_eq!(
        outbox.statuses().await.get("pending").copied(),
        Some(300 - published)
    );
}
