//! `Outbox`: a migrated database of its own, topic names of its own, helpers to write events,
//! run the relay binary and read the topics back.

use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use payment_events::{CloudEvent, EventType, PaymentEventData};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use uuid::Uuid;

pub const PARTITIONS: i32 = 3;

pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .expect("KAFKA_BROKERS must point at a Kafka-protocol broker (scripts/test starts tansu)")
}

pub struct Outbox {
    /// The database, for the test's own set-up and checks (direct).
    pub url: String,
    /// How the relay under test reaches it (`TEST_DATABASE_ROUTE`).
    pub relay_url: String,
    pub relay_pool_mode: payment_db::PoolMode,
    pub events_topic: String,
    pub dlq_topic: String,
    pub merchant: Uuid,
}

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: String,
    pub value: Value,
    pub raw: Vec<u8>,
    pub headers: HashMap<String, String>,
    pub partition: i32,
}

impl Record {
    pub fn sequence(&self) -> i64 {
        payment_events::parse_sequence(&self.headers["ce_sequence"]).unwrap()
    }
}

/// The event of version `version` of a payment in a capture-then-refund life.
pub fn event(payment: Uuid, merchant: Uuid, version: i64) -> CloudEvent {
    let (event_type, status, captured, refunded) = match version {
        1 => (EventType::Authorized, "authorized", 0, 0),
        2 => (EventType::Captured, "captured", 1000, 0),
        v => (EventType::Refunded, "partially_refunded", 1000, v - 2),
    };
    CloudEvent::new(
        Uuid::now_v7(),
        event_type,
        version,
        Utc::now(),
        PaymentEventData {
            payment_id: payment,
            merchant_id: merchant,
            status: status.to_owned(),
            currency: "USD".to_owned(),
            amount_minor: if version > 2 { 1 } else { 1000 },
            authorized_minor: 1000,
            captured_minor: captured,
            refunded_minor: refunded,
            decline_reason: None,
        },
    )
}

impl Outbox {
    pub async fn new() -> Self {
        let (_, url) = payment_db::testing::migrated_database().await;
        let (relay_url, relay_pool_mode) = payment_db::testing::service_url(&url).await;
        let tag = Uuid::new_v4().simple().to_string();
        Self {
            url,
            relay_url,
            relay_pool_mode,
            events_topic: format!("test.{tag}.events"),
            dlq_topic: format!("test.{tag}.dlq"),
            merchant: Uuid::now_v7(),
        }
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }

    /// Inserts versions `1..=versions` of a new payment's events; returns the payment id.
    pub async fn payment_with(&self, versions: i64) -> Uuid {
        let payment = Uuid::now_v7();
        let mut conn = self.db().await;
        for version in 1..=versions {
            payment_db::outbox::insert_event(
                &mut conn,
                &event(payment, self.merchant, version),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .await
            .unwrap();
        }
        payment
    }

    /// Inserts `payments` × `versions` events in bulk (valid, pending); returns the payment ids.
    pub async fn bulk(&self, payments: usize, versions: i64) -> Vec<Uuid> {
        use payment_db::schema::outbox_events::dsl as o;
        let ids: Vec<Uuid> = (0..payments).map(|_| Uuid::now_v7()).collect();
        let mut rows = Vec::new();
        for version in 1..=versions {
            for id in &ids {
                let payload = serde_json::to_value(event(*id, self.merchant, version)).unwrap();
                rows.push((
                    o::event_id.eq(Uuid::now_v7()),
                    o::aggregate_type.eq("payment"),
                    o::aggregate_id.eq(*id),
                    o::aggregate_version.eq(version),
                    o::event_type.eq(payload["type"].as_str().unwrap().to_owned()),
                    o::payload.eq(payload),
                ));
            }
        }
        let mut conn = self.db().await;
        for chunk in rows.chunks(2000) {
            diesel::insert_into(o::outbox_events)
                .values(chunk)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // Keep the event ids of the payloads equal to the rows'.
        diesel_async::SimpleAsyncConnection::batch_execute(
            &mut conn,
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{id}', to_jsonb(event_id::text))",
        )
        .await
        .unwrap();
        ids
    }

    pub fn relay_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relay-job"));
        command
            .args(args)
            .env("DATABASE_URL", &self.relay_url)
            .env("DATABASE_POOL_MODE", self.relay_pool_mode.to_string())
            .env("KAFKA_BROKERS", brokers())
            .env("RELAY_EVENTS_TOPIC", &self.events_topic)
            .env("RELAY_DLQ_TOPIC", &self.dlq_topic)
            .env("RELAY_TOPIC_PARTITIONS", PARTITIONS.to_string())
            .env("RELAY_MESSAGE_TIMEOUT", "10s")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `relay-job run` with `args`; returns the exit code and the parsed summary line.
    pub fn run(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let output = self.relay_command(&all).output().unwrap();
        summary_of(&output)
    }

    pub fn spawn_run(&self, args: &[&str]) -> std::process::Child {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        self.relay_command(&all).spawn().unwrap()
    }

    /// Reads every record of `topic` until `expected` are read or nothing new came for a while.
    pub fn read(&self, topic: &str, expected: usize) -> Vec<Record> {
        read_from(&brokers(), topic, PARTITIONS, expected)
    }
}

/// Reads every record of `topic` (`partitions` partitions) at `brokers` until `expected` are
/// read or nothing new came for a while.
pub fn read_from(brokers: &str, topic: &str, partitions: i32, expected: usize) -> Vec<Record> {
    {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", format!("test-{}", Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let mut records = Vec::new();
        let mut last_progress = Instant::now();
        while records.len() < expected || last_progress.elapsed() < Duration::from_millis(500) {
            if last_progress.elapsed()
                > Duration::from_secs(if records.len() < expected { 20 } else { 1 })
            {
                break;
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    let raw = message.payload().unwrap_or_default().to_vec();
                    let headers = message
                        .headers()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.key.to_owned(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    records.push(Record {
                        partition: message.partition(),
                        key: String::from_utf8_lossy(message.key().unwrap_or_default())
                            .into_owned(),
                        value: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                        raw,
                        headers,
                    });
                    last_progress = Instant::now();
                }
                Some(Err(error)) => panic!("consumer error: {error}"),
                None => {}
            }
        }
        records
    }
}

impl Outbox {
    pub async fn statuses(&self) -> HashMap<String, i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            status: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        diesel::sql_query("SELECT status, count(*) AS count FROM outbox_events GROUP BY status")
            .load::<Row>(&mut self.db().await)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.status, row.count))
            .collect()
    }

    /// Whether a session of this database LISTENs for the outbox's NOTIFY (a following relay).
    pub async fn listening(&self) -> bool {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let database = self.url.rsplit('/').next().unwrap_or_default();
        diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_activity \
             WHERE datname = $1 AND query = 'LISTEN outbox_events'",
        )
        .bind::<diesel::sql_types::Text, _>(database)
        .get_result::<Row>(&mut self.db().await)
        .await
        .unwrap()
        .count
            > 0
    }

    /// Rewrites `data.currency` of a payment's stored event `version` behind the API's back:
    /// `"usd"` breaks the schema (a poison event), `"USD"` repairs it.
    pub async fn set_currency(&self, payment: Uuid, version: i64, currency: &str) {
        self.sql(&format!(
            "UPDATE outbox_events SET payload = jsonb_set(payload, '{{data,currency}}', '\"{currency}\"') \
             WHERE aggregate_id = '{payment}' AND aggregate_version = {version}"
        ))
        .await;
    }

    /// The text a query returns as its column `value`.
    pub async fn text(&self, sql: &str) -> String {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        diesel::sql_query(sql)
            .get_result::<Row>(&mut self.db().await)
            .await
            .unwrap()
            .value
    }

    pub async fn sql(&self, sql: &str) {
        diesel_async::SimpleAsyncConnection::batch_execute(&mut self.db().await, sql)
            .await
            .unwrap();
    }
}

pub fn summary_of(output: &Output) -> (i32, Value) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one summary line on stdout; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_str(lines[0]).unwrap();
    (output.status.code().unwrap_or(-1), summary)
}

/// Asserts per-key order: for each key, `ce_sequence` strictly increases along the topic.
pub fn assert_ordered(records: &[Record]) {
    let mut last: HashMap<&str, i64> = HashMap::new();
    for record in records {
        let sequence = record.sequence();
        if let Some(previous) = last.insert(&record.key, sequence) {
            assert!(
                sequence > previous,
                "key {} went {previous} → {sequence}",
                record.key
            );
        }
    }
}
