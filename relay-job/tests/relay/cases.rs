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
    outbox.set_currency(poisoned, 1, "usd").await;
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
    outbox.set_currency(poisoned, 1, "USD").await;
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

/// The schema check runs where the writer did not validate: the API marks what it validated
/// (`payload_validated`), any later change of the payload clears the mark, and a row written
/// some other way has none. A marked row is sent as stored, unparsed: the record value is the
/// stored JSON text.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_checks_the_schema_of_every_event_the_writer_did_not_validate() {
    let outbox = Outbox::new().await;
    let validated = outbox.payment_with(1).await;
    let changed = outbox.payment_with(1).await;
    let trusted = outbox.payment_with(1).await;
    let marks = |ids: &[uuid::Uuid]| {
        let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
        format!(
            "SELECT (count(*) FILTER (WHERE payload_validated))::text AS value \
             FROM outbox_events WHERE aggregate_id IN ({})",
            list.join(", ")
        )
    };
    assert_eq!(
        outbox.text(&marks(&[validated, changed, trusted])).await,
        "3",
        "the API's writes are marked"
    );
    // An update of another column keeps the mark; a changed payload loses it.
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET attempts = 0 WHERE aggregate_id = '{validated}'"
        ))
        .await;
    outbox.set_currency(changed, 1, "usd").await;
    outbox.set_currency(trusted, 1, "usd").await;
    assert_eq!(outbox.text(&marks(&[validated])).await, "1");
    assert_eq!(outbox.text(&marks(&[changed, trusted])).await, "0");
    // A writer that claims to have validated is trusted (this one did not: the record shows it).
    outbox
        .sql(&format!(
            "UPDATE outbox_events SET payload_validated = true WHERE aggregate_id = '{trusted}'"
        ))
        .await;
    // Written some other way: no mark, and its payload breaks the schema.
    let inserted = uuid::Uuid::now_v7();
    let mut event = serde_json::to_value(event(inserted, outbox.merchant, 1)).unwrap();
    event["data"]["amount_minor"] = Value::from(-5);
    outbox
        .sql(&format!(
            "INSERT INTO outbox_events (event_id, aggregate_type, aggregate_id, aggregate_version, \
             event_type, payload, headers) VALUES ('{}', 'payment', '{inserted}', 1, \
             'payment.authorized', '{}', '{{}}')",
            event["id"].as_str().unwrap(),
            event
        ))
        .await;

    let (code, summary) = outbox.run(&[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(
        (
            summary["published"].as_u64(),
            summary["dead_lettered"].as_u64()
        ),
        (Some(2), Some(2)),
        "{summary}"
    );
    let dead: HashSet<String> = outbox
        .read(&outbox.dlq_topic, 2)
        .iter()
        .map(|record| record.key.clone())
        .collect();
    assert_eq!(
        dead,
        HashSet::from([changed.to_string(), inserted.to_string()])
    );
    let events = outbox.read(&outbox.events_topic, 2);
    let stored = outbox
        .text(&format!(
            "SELECT payload::text AS value FROM outbox_events WHERE aggregate_id = '{validated}'"
        ))
        .await;
    let sent = events
        .iter()
        .find(|record| record.key == validated.to_string())
        .expect("the validated event is published");
    assert_eq!(String::from_utf8_lossy(&sent.raw), stored, "sent as stored");
    let trusted_record = events
        .iter()
        .find(|record| record.key == trusted.to_string())
        .expect("the event marked validated is published unchecked");
    assert_eq!(trusted_record.value["data"]["currency"], "usd");
}
