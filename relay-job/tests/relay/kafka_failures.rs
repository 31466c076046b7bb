//! Kafka failure classes, each against librdkafka's mock cluster (3 brokers where it matters)
//! and run end to end by the relay binary: per-record retriable errors charge only their
//! events (backoff, then the DLQ), every partition failing is an outage, a fatal
//! idempotent-producer error ends the run with the events pending, authorization failures are
//! configuration errors, and a full local queue is back-pressure (K16).

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use uuid::Uuid;

use crate::harness::*;
use crate::mock::Cluster;

/// The partition Java's default partitioner gives `key` (`Utils.toPositive(murmur2(key)) % n`).
pub fn java_partition(key: &str, partitions: u32) -> i32 {
    let hash = murmur2::murmur2(key.as_bytes(), murmur2::KAFKA_SEED);
    i32::try_from((hash & 0x7fff_ffff) % partitions).unwrap()
}

/// A 3-broker cluster whose topics have 6 partitions and 3 replicas; partition 2 of the events
/// topic is led by broker 3 alone, every other partition by brokers 1 and 2.
fn three_brokers(outbox: &Outbox) -> Cluster {
    let cluster = Cluster::new(3);
    {
        let mock = cluster.mock();
        for topic in [&outbox.events_topic, &outbox.dlq_topic] {
            mock.create_topic(topic, 6, 3).unwrap();
            for partition in 0..6 {
                let leader = if topic == &outbox.events_topic && partition == 2 {
                    3
                } else {
                    1 + partition % 2
                };
                mock.partition_leader(topic, partition, Some(leader))
                    .unwrap();
            }
        }
    }
    cluster
}

fn run_against(outbox: &Outbox, brokers: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["run", "--create-topics", "false"];
    all.extend_from_slice(args);
    summary_of(
        &outbox
            .relay_command(&all)
            .env("KAFKA_BROKERS", brokers)
            .env("RELAY_TOPIC_PARTITIONS", "6")
            .output()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn k16_one_partition_refusing_writes_charges_only_its_events_then_dead_letters_them() {
    let outbox = Outbox::new().await;
    let payments = outbox.bulk(100, 3).await;
    let cluster = three_brokers(&outbox);
    // Partition 2 answers NOT_ENOUGH_REPLICAS for longer than the events' attempts last.
    cluster.push_broker_errors(
        3,
        RDKafkaApiKey::Produce,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        5000,
    );
    let on_two: HashSet<Uuid> = payments
        .iter()
        .copied()
        .filter(|p| java_partition(&p.to_string(), 6) == 2)
        .collect();
    assert!(!on_two.is_empty() && on_two.len() < 100);
    let healthy_events = 3 * (100 - on_two.len() as u64);
    let settings = [
        "--max-attempts",
        "3",
        "--backoff-base",
        "200ms",
        "--backoff-max",
        "400ms",
        "--kafka-retries",
        "1",
    ];
    let brokers = cluster.bootstrap_servers();
    let (code, first) = run_against(&outbox, &brokers, &settings);
    assert_eq!(
        (code, first["outcome"].as_str()),
        (0, Some("drained")),
        "{first}"
    );
    // The other partitions went out at full speed, in the first run.
    assert_eq!(first["published"].as_u64(), Some(healthy_events), "{first}");
    // Each of partition 2's events was charged at least once (again within the run when its
    // backoff ended before the run did).
    assert!(
        first["retried"].as_u64().unwrap() >= on_two.len() as u64,
        "{first}"
    );
    assert!(first["failures"]["NotEnoughReplicas"].as_u64().unwrap() >= on_two.len() as u64);
    // Later runs retry after the persisted backoff (no SQL shortcut: the test waits it out)
    // until the attempts are spent and the events are dead-lettered.
    let mut retried = first["retried"].as_u64().unwrap();
    let mut dead = first["dead_lettered"].as_u64().unwrap();
    for _ in 0..40 {
        if dead == on_two.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(450)).await;
        let (code, summary) = run_against(&outbox, &brokers, &settings);
        assert_eq!(code, 0, "never 'Kafka unavailable': {summary}");
        retried += summary["retried"].as_u64().unwrap();
        dead += summary["dead_lettered"].as_u64().unwrap();
        if dead == on_two.len() as u64 {
            assert_eq!(summary["parked_keys"].as_u64(), Some(on_two.len() as u64));
            break;
        }
    }
    assert_eq!(
        dead,
        on_two.len() as u64,
        "every event of partition 2 dead-lettered"
    );
    assert_eq!(
        retried,
        2 * on_two.len() as u64,
        "attempts 1 and 2 retried, 3 dead"
    );
    let listed = crate::operations::dead_classes(&outbox).await;
    let dead_payments: HashSet<Uuid> = listed.iter().map(|(p, _)| *p).collect();
    assert_eq!(dead_payments, on_two, "exactly the payments on partition 2");
    assert!(listed.iter().all(|(_, version)| *version == 1));
    let attempts = crate::operations::attempts(&outbox).await;
    assert_eq!(attempts.iter().filter(|a| **a == 3).count(), on_two.len());
    assert_eq!(attempts.iter().filter(|a| **a != 0 && **a != 3).count(), 0);
    let output = outbox.relay_command(&["dead", "list"]).output().unwrap();
    let reasons = String::from_utf8_lossy(&output.stdout);
    assert!(
        reasons.contains("attempts_exhausted: ") && reasons.contains("NotEnoughReplicas"),
        "{reasons}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_partition_failing_is_an_outage_that_charges_no_attempt() {
    let outbox = Outbox::new().await;
    outbox.bulk(40, 2).await;
    let cluster = three_brokers(&outbox);
    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 5000],
    );
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(
        &outbox,
        &brokers,
        &[
            "--kafka-retries",
            "1",
            "--breaker-threshold",
            "3",
            "--workers",
            "1",
        ],
    );
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
    assert!(
        summary["reason"]
            .as_str()
            .unwrap()
            .contains("circuit breaker"),
        "{summary}"
    );
    assert!(
        crate::operations::attempts(&outbox)
            .await
            .iter()
            .all(|a| *a == 0),
        "no attempt charged"
    );
    cluster.mock().clear_request_errors(RDKafkaApiKey::Produce);
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(80)),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fatal_idempotent_producer_error_ends_the_run_and_the_next_run_starts_afresh() {
    let outbox = Outbox::new().await;
    outbox.bulk(30, 1).await;
    let cluster = three_brokers(&outbox);
    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER; 3],
    );
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (3, Some("kafka_unavailable")),
        "{summary}"
    );
    assert!(
        summary["reason"]
            .as_str()
            .unwrap()
            .contains("fatal idempotent-producer error"),
        "{summary}"
    );
    assert_eq!(summary["dead_lettered"], 0);
    let pending = outbox.statuses().await.get("pending").copied().unwrap_or(0);
    assert_eq!(pending + summary["published"].as_i64().unwrap(), 30);
    assert!(
        crate::operations::attempts(&outbox)
            .await
            .iter()
            .all(|a| *a == 0)
    );
    // Errors the first run did not consume are not the second run's concern.
    cluster.mock().clear_request_errors(RDKafkaApiKey::Produce);
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["remaining"].as_i64()),
        (0, Some(0)),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_failures_are_configuration_errors() {
    let outbox = Outbox::new().await;
    outbox.bulk(10, 1).await;
    let cluster = three_brokers(&outbox);
    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 100],
    );
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (2, Some("config_error")),
        "{summary}"
    );
    let reason = summary["reason"].as_str().unwrap();
    assert!(
        reason.contains("KAFKA_SASL_USERNAME") && reason.contains("ACLs"),
        "{reason}"
    );
    assert!(
        crate::operations::attempts(&outbox)
            .await
            .iter()
            .all(|a| *a == 0)
    );
    assert_eq!(outbox.statuses().await.get("pending"), Some(&10));

    // The same when the topics check is refused.
    cluster.mock().clear_request_errors(RDKafkaApiKey::Produce);
    cluster
        .mock()
        .topic_error(
            &outbox.events_topic,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        )
        .unwrap();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (2, Some("config_error")),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_local_queue_is_back_pressure_not_an_outage() {
    let outbox = Outbox::new().await;
    outbox.bulk(300, 1).await;
    let cluster = three_brokers(&outbox);
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(
        &outbox,
        &brokers,
        &[
            "--kafka-config",
            "queue.buffering.max.messages=5",
            "--batch-size",
            "300",
        ],
    );
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (0, Some("drained")),
        "{summary}"
    );
    assert_eq!(summary["published"], 300);
    assert!(summary.get("failures").is_none(), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn k13_every_key_lands_on_the_partition_java_computes() {
    // The known case: a Java producer puts this key on partition 4 of 6.
    assert_eq!(java_partition("01a22b83-3f93-7700-b9d0-072dbf0a4d10", 6), 4);
    let outbox = Outbox::new().await;
    let payments = outbox.bulk(600, 1).await;
    let cluster = Cluster::new(1);
    cluster
        .mock()
        .create_topic(&outbox.events_topic, 6, 1)
        .unwrap();
    cluster
        .mock()
        .create_topic(&outbox.dlq_topic, 6, 1)
        .unwrap();
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(600)),
        "{summary}"
    );
    let records = read_from(&brokers, &outbox.events_topic, 6, 600);
    assert_eq!(records.len(), 600);
    let mut used = HashSet::new();
    for record in &records {
        assert_eq!(
            record.partition,
            java_partition(&record.key, 6),
            "key {}",
            record.key
        );
        used.insert(record.partition);
    }
    assert_eq!(used.len(), 6, "keys spread over every partition");
    assert_eq!(payments.len(), 600);
}

#[tokio::test(flavor = "multi_thread")]
async fn k14_a_cloudevents_sdk_reads_every_record_back_as_the_same_event() {
    use cloudevents::AttributesReader;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use payment_db::schema::outbox_events::dsl as o;

    let outbox = Outbox::new().await;
    outbox.payment_with(3).await;
    outbox.bulk(20, 2).await;
    let cluster = Cluster::new(1);
    cluster
        .mock()
        .create_topic(&outbox.events_topic, 6, 1)
        .unwrap();
    cluster
        .mock()
        .create_topic(&outbox.dlq_topic, 6, 1)
        .unwrap();
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(43)),
        "{summary}"
    );
    let stored: std::collections::HashMap<String, serde_json::Value> = o::outbox_events
        .select((o::event_id, o::payload))
        .load::<(Uuid, serde_json::Value)>(&mut outbox.db().await)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, payload)| (id.to_string(), payload))
        .collect();
    let records = read_from(&brokers, &outbox.events_topic, 6, 43);
    assert_eq!(records.len(), 43);
    for record in &records {
        assert_eq!(
            record.headers["content-type"],
            "application/cloudevents+json"
        );
        // The SDK's structured-mode decoding, as its Kafka binding applies it.
        let event = relay_job::tail::cloud_event(
            record.headers.get("content-type").map(String::as_str),
            &record.raw,
        )
        .unwrap();
        let original = &stored[event.id()];
        assert_eq!(event.specversion().as_str(), "1.0");
        assert_eq!(event.ty(), original["type"].as_str().unwrap());
        assert_eq!(
            event.source().as_str(),
            original["source"].as_str().unwrap()
        );
        assert_eq!(event.subject(), original["subject"].as_str());
        assert_eq!(event.subject(), Some(record.key.as_str()));
        assert_eq!(
            event.time().map(|t| t.timestamp_micros()),
            chrono::DateTime::parse_from_rfc3339(original["time"].as_str().unwrap())
                .ok()
                .map(|t| t.timestamp_micros())
        );
        assert_eq!(
            event.dataschema().map(|u| u.as_str()),
            original["dataschema"].as_str()
        );
        assert_eq!(
            event
                .extension("sequence")
                .map(ToString::to_string)
                .as_deref(),
            original["sequence"].as_str()
        );
        let data = match event.data() {
            Some(cloudevents::Data::Json(json)) => json.clone(),
            other => panic!("JSON data expected: {other:?}"),
        };
        assert_eq!(&data, &original["data"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn single_replica_topics_are_refused_on_a_multi_broker_cluster_unless_allowed() {
    let outbox = Outbox::new().await;
    outbox.bulk(5, 1).await;
    let cluster = Cluster::new(3);
    cluster
        .mock()
        .create_topic(&outbox.events_topic, 6, 1)
        .unwrap();
    cluster
        .mock()
        .create_topic(&outbox.dlq_topic, 6, 3)
        .unwrap();
    let brokers = cluster.bootstrap_servers();
    let (code, summary) = run_against(&outbox, &brokers, &[]);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (2, Some("config_error")),
        "{summary}"
    );
    let reason = summary["reason"].as_str().unwrap();
    assert!(
        reason.contains(&outbox.events_topic) && reason.contains("RELAY_ALLOW_SINGLE_REPLICA"),
        "{reason}"
    );
    assert_eq!(outbox.statuses().await.get("pending"), Some(&5));
    let (code, summary) = run_against(&outbox, &brokers, &["--allow-single-replica", "true"]);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(5)),
        "{summary}"
    );

    // Creating one with a single replica on 3 brokers is refused before asking the cluster.
    let fresh = Outbox::new().await;
    fresh.bulk(1, 1).await;
    let output = fresh
        .relay_command(&["run", "--topic-replication", "1"])
        .env("KAFKA_BROKERS", &brokers)
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(
        (code, summary["outcome"].as_str()),
        (2, Some("config_error")),
        "{summary}"
    );
    assert!(
        summary["reason"]
            .as_str()
            .unwrap()
            .contains("replication factor 1"),
        "{summary}"
    );
}
