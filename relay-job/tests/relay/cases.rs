//! The relay's contract on single runs: records, headers, summary, poison events, parking,
//! replay and backoff waiting (K07, K09's oversized event).

use std::collections::HashSet;

use serde_json::Value;

use crate::harness::*;

const SUMMARY_FIELDS: [&str; 10] = [
    "run_id",
    "published",
    "retried",
    "dead_lettered",
    "parked_keys",
    "remaining",
    "oldest_pending_age_ms",
    "duration_ms",
    "outcome",
    "exit_code",
];

#[tokio::test(flavor = "multi_thread")]
async fn publishes_every_event_with_key_headers_and_a_summary() {
    let outbox = Outbox::new().await;
    let first = outbox.payment_with(3).await;
    let second = outbox.payment_with(1).await;
    let (code, summary) = outbox.run(&[]);
    assert_eq!(code, 0, "{summary}");
    for field in SUMMARY_FIELDS {
        assert!(
            summary.get(field).is_some(),
            "summary lacks {field}: {summary}"
        );
    }
    assert_eq!(
        (summary["published"].as_u64(), summary["outcome"].as_str()),
        (Some(4), Some("drained"))
    );
    assert_eq!(
        (
            summary["remaining"].as_i64(),
            summary["oldest_pending_age_ms"].as_i64()
        ),
        (Some(0), Some(0))
    );

    let records = outbox.read(&outbox.events_topic, 4);
    assert_eq!(records.len(), 4);
    assert_ordered(&records);
    for record in &records {
        payment_events::validate_event(&record.value).unwrap();
        assert_eq!(
            record.key,
            record.value["subject"].as_str().unwrap(),
            "key = payment id"
        );
        assert_eq!(
            record.headers["ce_id"],
            record.value["id"].as_str().unwrap()
        );
        assert_eq!(
            record.headers["ce_type"],
            record.value["type"].as_str().unwrap()
        );
        assert_eq!(
            record.headers["ce_sequence"],
            record.value["sequence"].as_str().unwrap()
        );
        assert!(record.headers["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }
    let keys: HashSet<&str> = records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        HashSet::from([first.to_string().as_str(), second.to_string().as_str()])
    );
    assert_eq!(outbox.statuses().await.get("published"), Some(&4));

    let (code, again) = outbox.run(&[]);
    assert_eq!(
        (code, again["published"].as_u64()),
        (0, Some(0)),
        "nothing is published twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_is_dead_lettered_its_successors_park_and_replay_restores_order() {
    let outbox = Outbox::new().await;
    let poisoned = outbox.payment_with(3).await;
    let healthy = outbox.payment_with(2).await;
    // Corrupt version 1 behind the API's back: it no longer satisfies its schema.
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{{data,currency}}', '\"usd\"') \
             WHERE aggregate_id = '{poisoned}' AND aggregate_version = 1"
        ))
        .await;
    let (code, summary) = outbox.run(&[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(
        (
            summary["published"].as_u64(),
            summary["dead_lettered"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            summary["parked_keys"].as_i64(),
            summary["remaining"].as_i64()
        ),
        (Some(1), Some(2))
    );

    let dlq = outbox.read(&outbox.dlq_topic, 1);
    assert_eq!(dlq.len(), 1);
    payment_events::validate_dead_letter(&dlq[0].value).unwrap();
    assert_eq!(dlq[0].key, poisoned.to_string());
    assert_eq!(
        (
            dlq[0].value["error_class"].as_str(),
            dlq[0].value["sequence"].as_i64()
        ),
        (Some("schema_invalid"), Some(1))
    );
    assert_eq!(dlq[0].value["original_topic"], outbox.events_topic.as_str());
    assert_eq!(
        dlq[0].headers["ce_id"],
        dlq[0].value["event_id"].as_str().unwrap()
    );

    let (_, again) = outbox.run(&[]);
    assert_eq!(again["published"], 0, "parked events stay parked");
    let events = outbox.read(&outbox.events_topic, 2);
    assert!(events.iter().all(|r| r.key == healthy.to_string()));

    // The operator fixes the event and replays the payment: 1, 2, 3 go out in order.
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{{data,currency}}', '\"USD\"') \
             WHERE aggregate_id = '{poisoned}' AND aggregate_version = 1"
        ))
        .await;
    let replay = outbox
        .relay_command(&["replay", "--payment-id", &poisoned.to_string()])
        .output()
        .unwrap();
    assert!(replay.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&replay.stdout).unwrap()["replayed"],
        1
    );
    let (code, after) = outbox.run(&[]);
    assert_eq!(
        (
            code,
            after["published"].as_u64(),
            after["parked_keys"].as_i64()
        ),
        (0, Some(3), Some(0))
    );
    let records = outbox.read(&outbox.events_topic, 5);
    let sequences: Vec<i64> = records
        .iter()
        .filter(|r| r.key == poisoned.to_string())
        .map(Record::sequence)
        .collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_ordered(&records);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_event_is_dead_lettered_as_a_small_reference() {
    let outbox = Outbox::new().await;
    let payment = outbox.payment_with(2).await;
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET payload = payload || jsonb_build_object('padding', repeat('x', 1500000)) \
             WHERE aggregate_id = '{payment}' AND aggregate_version = 1"
        ))
        .await;
    let (code, summary) = outbox.run(&["--max-message-bytes", "1000000"]);
    assert_eq!(
        (code, summary["dead_lettered"].as_u64()),
        (0, Some(1)),
        "{summary}"
    );
    let dlq = outbox.read(&outbox.dlq_topic, 1);
    payment_events::validate_dead_letter(&dlq[0].value).unwrap();
    assert_eq!(dlq[0].value["error_class"], "too_large");
    assert!(dlq[0].value.get("event").is_none());
    assert!(dlq[0].value["event_ref"]["size_bytes"].as_i64().unwrap() > 1_500_000);
    assert!(
        dlq[0].raw.len() < 2000,
        "the DLQ record is a small reference"
    );
    assert_eq!(
        outbox.read(&outbox.events_topic, 0).len(),
        0,
        "version 2 waits behind the dead version 1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn later_events_wait_while_the_first_backs_off_also_with_two_relays() {
    let outbox = Outbox::new().await;
    let payment = outbox.payment_with(3).await;
    let others = outbox.bulk(50, 2).await;
    // Version 1 failed once and backs off for 3 s, as recorded by an earlier run.
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET attempts = 1, next_attempt_at = now() + interval '3 seconds', \
             last_error = 'injected', first_failed_at = now() \
             WHERE aggregate_id = '{payment}' AND aggregate_version = 1"
        ))
        .await;
    let relays = [
        outbox.spawn_run(&["--batch-size", "7"]),
        outbox.spawn_run(&["--batch-size", "7"]),
    ];
    for relay in relays {
        let (code, summary) = summary_of(&relay.wait_with_output().unwrap());
        assert_eq!(code, 0, "{summary}");
    }
    let records = outbox.read(&outbox.events_topic, 100);
    assert_eq!(records.len(), 100);
    assert!(
        records.iter().all(|r| r.key != payment.to_string()),
        "nothing of the backing-off payment"
    );
    assert_eq!(outbox.statuses().await.get("pending"), Some(&3));

    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let relays = [outbox.spawn_run(&[]), outbox.spawn_run(&[])];
    for relay in relays {
        assert_eq!(summary_of(&relay.wait_with_output().unwrap()).0, 0);
    }
    let records = outbox.read(&outbox.events_topic, 103);
    assert_eq!(records.len(), 103);
    assert_ordered(&records);
    let sequences: Vec<i64> = records
        .iter()
        .filter(|r| r.key == payment.to_string())
        .map(Record::sequence)
        .collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_eq!(others.len(), 50);
}
