//! Kafka through librdkafka (`rdkafka`, built from its bundled source): the producer's
//! settings, topic creation, the records (event and dead letter) and the classification of
//! delivery errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, Producer};
use secrecy::ExposeSecret as _;

use crate::config::{KafkaArgs, RunArgs};

/// Kafka record headers (contract). The value is the CloudEvent in the JSON event format and
/// `content-type` says so: the CloudEvents Kafka protocol binding's structured mode, which every
/// CloudEvents SDK recognises. `ce_id`, `ce_type` and `ce_sequence` repeat three attributes so
/// consumers can route, deduplicate and order without parsing the value (an SDK decides the
/// mode by `content-type` first, so they do not make the record look like binary mode; there is
/// no `ce_specversion`), and `traceparent` carries the W3C trace context.
pub const HEADER_CONTENT_TYPE: &str = "content-type";
/// `content-type` of an event record: structured mode, JSON event format.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// `content-type` of a dead-letter record (`schemas/dead_letter.json`, not a CloudEvent).
pub const DEAD_LETTER_JSON: &str = "application/json";
/// CloudEvents id header.
pub const HEADER_ID: &str = "ce_id";
/// CloudEvents type header.
pub const HEADER_TYPE: &str = "ce_type";
/// Per-payment sequence header (same string as the event's `sequence`).
pub const HEADER_SEQUENCE: &str = "ce_sequence";
/// W3C trace context header.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// The librdkafka client context of every client the relay makes: keeps librdkafka's own log
/// lines at `debug` (a broker outage makes librdkafka log every reconnect; the run reports it
/// once, in its summary), records the client-level errors in a [`ClientHealth`] and, with MSK
/// IAM, supplies OAUTHBEARER tokens.
#[derive(Debug, Clone, Default)]
pub struct RelayContext {
    msk_iam: Option<crate::msk_iam::MskIamSigner>,
    health: Arc<ClientHealth>,
}

/// What librdkafka's error callback reported about the cluster during a run: counts per error
/// code and since when every broker has been down (cleared by the next acknowledgement).
#[derive(Debug, Default)]
pub struct ClientHealth {
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    errors: BTreeMap<String, u64>,
    last: Option<(RDKafkaErrorCode, String)>,
    all_down_since: Option<Instant>,
    last_acknowledged: Option<Instant>,
}

impl ClientHealth {
    fn state(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a client-level error (librdkafka's error callback).
    pub fn record(&self, code: Option<RDKafkaErrorCode>, reason: &str) {
        let mut state = self.state();
        let name = code.map_or_else(|| "Unknown".to_owned(), |code| format!("{code:?}"));
        *state.errors.entry(name).or_default() += 1;
        if let Some(code) = code {
            if code == RDKafkaErrorCode::AllBrokersDown && state.all_down_since.is_none() {
                state.all_down_since = Some(Instant::now());
            }
            state.last = Some((code, reason.to_owned()));
        }
    }

    /// A broker acknowledged a record: the cluster is reachable.
    pub fn acknowledged(&self) {
        let mut state = self.state();
        state.all_down_since = None;
        state.last_acknowledged = Some(Instant::now());
    }

    /// Whether some record was acknowledged within the last `window`.
    pub fn acknowledged_within(&self, window: Duration) -> bool {
        self.state()
            .last_acknowledged
            .is_some_and(|at| at.elapsed() <= window)
    }

    /// How long every broker has been down, if they are.
    pub fn all_down_for(&self) -> Option<Duration> {
        self.state().all_down_since.map(|since| since.elapsed())
    }

    /// Client-level errors so far, by librdkafka error code name.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.state().errors.clone()
    }

    /// The last client-level error and its reason.
    pub fn last(&self) -> Option<(RDKafkaErrorCode, String)> {
        self.state().last.clone()
    }
}

impl RelayContext {
    /// The context for `kafka`: with `--kafka-msk-iam`, a token signer for `AWS_REGION`.
    ///
    /// # Errors
    /// When MSK IAM is asked for without `AWS_REGION`.
    pub fn for_settings(kafka: &KafkaArgs) -> Result<Self, String> {
        if !kafka.kafka_msk_iam {
            return Ok(Self::default());
        }
        let region =
            std::env::var("AWS_REGION").map_err(|_| "KAFKA_MSK_IAM needs AWS_REGION".to_owned())?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "KAFKA_MSK_IAM needs a tokio runtime".to_owned())?;
        Ok(Self {
            msk_iam: Some(crate::msk_iam::MskIamSigner::new(region, runtime)),
            health: Arc::default(),
        })
    }

    /// The client-level errors of every client made with this context.
    pub fn health(&self) -> &ClientHealth {
        &self.health
    }
}

impl rdkafka::ClientContext for RelayContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        // Configuration warnings matter once, at start; the rest repeats per reconnect.
        if fac == "CONFWARN" {
            tracing::warn!(target: "librdkafka", "{fac} {log_message}");
        } else {
            tracing::debug!(target: "librdkafka", ?level, "{fac} {log_message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, reason, "client error");
        self.health.record(error.rdkafka_error_code(), reason);
    }

    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        match &self.msk_iam {
            Some(signer) => signer.token(),
            None => Err("OAUTHBEARER tokens are only generated for MSK IAM (KAFKA_MSK_IAM)".into()),
        }
    }
}

impl rdkafka::consumer::ConsumerContext for RelayContext {}

/// The relay's producer.
pub type RelayProducer = FutureProducer<RelayContext>;

/// The librdkafka settings shared by the producer and the admin client.
pub fn client_config(kafka: &KafkaArgs) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &kafka.kafka_brokers)
        .set("security.protocol", &kafka.kafka_security_protocol)
        .set("client.id", "relay-job");
    if kafka.kafka_msk_iam {
        config
            .set("security.protocol", "sasl_ssl")
            .set("sasl.mechanism", "OAUTHBEARER");
    }
    let password = kafka
        .kafka_sasl_password
        .as_ref()
        .map(|password| password.expose_secret().to_owned());
    let optional = [
        ("sasl.mechanism", &kafka.kafka_sasl_mechanism),
        ("sasl.username", &kafka.kafka_sasl_username),
        ("sasl.password", &password),
        ("ssl.ca.location", &kafka.kafka_ssl_ca_location),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            config.set(key, value);
        }
    }
    config
}

/// The idempotent producer of the relay: `enable.idempotence=true` and `acks=all` (§6.3),
/// per-partition order kept by librdkafka across its internal retries.
///
/// # Errors
/// A librdkafka configuration error (an unknown or invalid `--kafka-config` key, for example).
pub fn producer(args: &RunArgs, context: RelayContext) -> Result<RelayProducer, KafkaError> {
    let mut config = client_config(&args.kafka);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &args.kafka.kafka_compression)
        // A batch is handed to librdkafka in one burst, so it is batched without lingering;
        // a longer linger only delays every acknowledgement (5 ms, the default: +6 ms at p50
        // from commit to consumer in follow mode, no throughput gained).
        .set("linger.ms", "1")
        .set("message.timeout.ms", millis(args.message_timeout))
        .set("partitioner", &args.kafka_partitioner)
        // A metadata request must not create a missing topic with the broker's defaults
        // (often one replica): the relay creates it durable, or refuses (see `ensure_topics`).
        .set("allow.auto.create.topics", "false")
        .set("message.send.max.retries", args.kafka_retries.to_string())
        .set(
            "message.max.bytes",
            (args.max_message_bytes + 64 * 1024).to_string(),
        )
        .set("queue.buffering.max.messages", "1000000");
    for (key, value) in &args.kafka.kafka_config {
        config.set(key, value);
    }
    config.create_with_context(context)
}

fn millis(duration: Duration) -> String {
    duration.as_millis().max(1).to_string()
}

/// Why the topics are not ready: the outcome the run ends with and the reason.
pub type TopicsError = (crate::summary::Outcome, String);

/// What cluster metadata says about one topic.
enum TopicState {
    /// It exists (possibly still electing leaders), with this many replicas per partition
    /// (the fewest of any partition).
    Exists(usize),
    /// The cluster does not know it.
    Missing,
}

/// The replication factor and `min.insync.replicas` the relay gives a topic it creates on a
/// cluster of `brokers`: `--topic-replication`, else min(3, brokers); `min.insync.replicas` 2
/// from 3 replicas on, so acks=all means two copies and one broker may be down.
///
/// # Errors
/// The reason, when the result would be one replica on several brokers and
/// `--allow-single-replica` is off.
pub fn durability(args: &RunArgs, brokers: usize) -> Result<(i32, Option<i32>), String> {
    let available = i32::try_from(brokers).unwrap_or(i32::MAX).max(1);
    let replication = args.topic_replication.unwrap_or(available.min(3));
    if replication == 1 && brokers > 1 && !args.allow_single_replica {
        return Err(single_replica(brokers, "would be created with"));
    }
    let min_insync = (replication >= 3).then_some(2);
    Ok((replication, min_insync))
}

fn single_replica(brokers: usize, how: &str) -> String {
    format!(
        "a topic {how} replication factor 1 on a cluster of {brokers} brokers: one copy of each \
         record even with acks=all; use --topic-replication (RELAY_TOPIC_REPLICATION) of 2 or \
         more, or set RELAY_ALLOW_SINGLE_REPLICA=true to accept it"
    )
}

/// Makes sure the events and DLQ topics exist, within `timeout` in all: one metadata request
/// per topic on the producer's own connection (which the first produce needs anyway), and a
/// CreateTopics request only for a missing topic when `--create-topics` is on. Topics that
/// exist cost no admin request, so a run against known topics starts producing after one
/// round trip. Topics are created durable (see [`durability`]); an existing topic with one
/// replica on a multi-broker cluster is refused unless `--allow-single-replica`.
///
/// # Errors
/// `KafkaUnavailable` when the cluster does not answer in time; `ConfigError` when a topic is
/// missing and may not be created, is not durable, or the credentials may not describe or
/// create it.
pub async fn ensure_topics(
    producer: &RelayProducer,
    args: &RunArgs,
    context: RelayContext,
    timeout: Duration,
) -> Result<(), TopicsError> {
    use crate::summary::Outcome;
    let until = Instant::now() + timeout;
    let topics = [args.events_topic.clone(), args.dlq_topic.clone()];
    let lookups = topics.iter().cloned().map(|topic| {
        let producer = producer.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer.client().fetch_metadata(Some(&topic), timeout)?;
            let brokers = metadata.brokers().len();
            let state = match metadata.topics().iter().find(|t| t.name() == topic) {
                None => TopicState::Missing,
                Some(found) => match found.error().map(RDKafkaErrorCode::from) {
                    None if found.partitions().is_empty() => TopicState::Missing,
                    None | Some(RDKafkaErrorCode::LeaderNotAvailable) => TopicState::Exists(
                        found
                            .partitions()
                            .iter()
                            .map(|p| p.replicas().len())
                            .min()
                            .unwrap_or(0),
                    ),
                    Some(RDKafkaErrorCode::UnknownTopicOrPartition) => TopicState::Missing,
                    Some(code) => return Err(KafkaError::MetadataFetch(code)),
                },
            };
            Ok((topic, state, brokers))
        })
    });
    let mut missing = Vec::new();
    let mut brokers = 0;
    for lookup in futures::future::join_all(lookups).await {
        match lookup {
            Ok(Ok((topic, state, seen))) => {
                brokers = brokers.max(seen);
                match state {
                    TopicState::Exists(1) if seen > 1 && !args.allow_single_replica => {
                        return Err((
                            Outcome::ConfigError,
                            format!("{topic}: {}", single_replica(seen, "exists with")),
                        ));
                    }
                    TopicState::Exists(_) => {}
                    TopicState::Missing => missing.push(topic),
                }
            }
            Ok(Err(error)) => return Err(topic_failure(&error)),
            Err(_) => return Err((Outcome::Error, "topic metadata lookup panicked".to_owned())),
        }
    }
    if missing.is_empty() {
        tracing::debug!("topics exist");
        return Ok(());
    }
    if !args.create_topics {
        return Err((
            Outcome::ConfigError,
            format!(
                "topic(s) {} do not exist and --create-topics (RELAY_CREATE_TOPICS) is false: \
                 create them, or let the relay create them",
                missing.join(", ")
            ),
        ));
    }
    let (replication, min_insync) =
        durability(args, brokers).map_err(|reason| (Outcome::ConfigError, reason))?;
    let remaining = until.saturating_duration_since(Instant::now());
    create_topics(
        args,
        context,
        &missing,
        (replication, min_insync),
        remaining,
    )
    .await
    .map_err(|error| topic_failure(&error))
}

/// The outcome of a failed topic lookup or creation.
fn topic_failure(error: &KafkaError) -> TopicsError {
    use crate::summary::Outcome;
    match classify(error) {
        Failure::Config => (Outcome::ConfigError, config_reason(error)),
        _ => (
            Outcome::KafkaUnavailable,
            format!("kafka unavailable: {error}"),
        ),
    }
}

/// Creates `topics` with `--topic-partitions` partitions and the given replication factor and
/// `min.insync.replicas`.
async fn create_topics(
    args: &RunArgs,
    context: RelayContext,
    topics: &[String],
    (replication, min_insync): (i32, Option<i32>),
    timeout: Duration,
) -> Result<(), KafkaError> {
    let admin: AdminClient<RelayContext> =
        client_config(&args.kafka).create_with_context(context)?;
    let min_insync = min_insync.map(|n| n.to_string());
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            let topic = NewTopic::new(
                name,
                args.topic_partitions,
                TopicReplication::Fixed(replication),
            );
            match &min_insync {
                Some(n) => topic.set("min.insync.replicas", n),
                None => topic,
            }
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin.create_topics(&new, &options).await?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(
                topic,
                partitions = args.topic_partitions,
                replication,
                min_insync_replicas = min_insync.as_deref().unwrap_or("broker default"),
                "created topic"
            ),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::info!(topic, "topic exists")
            }
            Err((_, code)) => return Err(KafkaError::AdminOp(code)),
        }
    }
    Ok(())
}

/// The leader of each partition of `topic` (-1 when it has none), from fresh metadata.
///
/// # Errors
/// When the cluster does not answer within `timeout`.
pub async fn partition_leaders(
    producer: &RelayProducer,
    topic: &str,
    timeout: Duration,
) -> Result<std::collections::HashMap<i32, i32>, KafkaError> {
    let producer = producer.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = producer.client().fetch_metadata(Some(&topic), timeout)?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions())
            .map(|p| (p.id(), if p.error().is_some() { -1 } else { p.leader() }))
            .collect())
    })
    .await
    .map_err(|_| KafkaError::Canceled)?
}

/// The reason of an authentication or authorization failure, naming the settings involved.
pub fn config_reason(error: &KafkaError) -> String {
    format!(
        "kafka refused the credentials or their permissions ({error}): check KAFKA_SECURITY_PROTOCOL, \
         KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (or KAFKA_SASL_SECRET_ARN, \
         KAFKA_MSK_IAM) and the ACLs for RELAY_EVENTS_TOPIC and RELAY_DLQ_TOPIC"
    )
}

/// How a failed delivery (or a refused send) counts, by its librdkafka error code. The table
/// and the reasons are in ARCHITECTURE.md, "Kafka failure classes"; [`crate::batch`] turns each
/// class into the event's fate in one match arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The broker answered for this record's partition with a retriable error (not enough
    /// in-sync replicas, not the leader, storage error, …) after librdkafka's own
    /// `--kafka-retries` retries: charge this event an attempt with persisted backoff; the rest
    /// of the batch proceeds; dead-letter it after `--max-attempts`.
    Record,
    /// No answer within `--message-timeout`: the record's own failure when its partition's
    /// leader is up (the cluster served the batch, or metadata names a leader), broker-wide
    /// otherwise.
    TimedOut,
    /// Not the event's fault (no broker reachable, transport failure, an error we cannot
    /// attribute to one record): no attempt is charged; enough of these in a row open the
    /// circuit breaker, so an incident ends runs with exit 3 instead of dead-lettering.
    Broker,
    /// The idempotent producer is in a fatal state (sequence desynchronised, producer id or
    /// epoch refused, queue purged): end the run with the events pending (exit 3); the next run
    /// starts a fresh producer.
    Fatal,
    /// librdkafka's local queue is full: back-pressure; wait for deliveries and send again.
    QueueFull,
    /// Authentication or authorization refused: a configuration error (exit 2).
    Config,
    /// The record will never be accepted as it is: dead-letter it.
    Permanent(DeadClass),
}

/// Why the broker refused a record for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadClass {
    /// Larger than a broker or topic limit.
    TooLarge,
    /// Refused as invalid or by policy.
    Rejected,
}

/// Classifies a delivery or send error by its librdkafka error code (never its text).
/// Unknown codes count as broker-level: an unexplained failure must not spend attempts.
pub fn classify(error: &KafkaError) -> Failure {
    use RDKafkaErrorCode as C;
    let Some(code) = error.rdkafka_error_code() else {
        // `Canceled` (the producer went away) and client-side errors without a code.
        return Failure::Broker;
    };
    match code {
        C::MessageSizeTooLarge | C::InvalidMessageSize | C::MessageBatchTooLarge => {
            Failure::Permanent(DeadClass::TooLarge)
        }
        C::InvalidRecord
        | C::PolicyViolation
        | C::UnsupportedForMessageFormat
        | C::InvalidRequiredAcks
        | C::BadMessage => Failure::Permanent(DeadClass::Rejected),
        C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::RequestTimedOut
        | C::NotLeaderForPartition
        | C::LeaderNotAvailable
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::KafkaStorageError
        | C::NetworkException
        | C::InvalidMessage
        | C::InvalidTimestamp
        | C::UnknownTopicOrPartition
        | C::ThrottlingQuotaExceeded => Failure::Record,
        C::MessageTimedOut | C::TimedOutQueue => Failure::TimedOut,
        C::Fatal
        | C::OutOfOrderSequenceNumber
        | C::InvalidProducerEpoch
        | C::UnknownProducerId
        | C::InvalidProducerIdMapping
        | C::ProducerFenced
        | C::PurgeQueue
        | C::PurgeInflight => Failure::Fatal,
        C::QueueFull => Failure::QueueFull,
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::UnsupportedSASLMechanism
        | C::IllegalSASLState
        | C::SSL
        | C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed => Failure::Config,
        _ => Failure::Broker,
    }
}

/// librdkafka settings that carry the relay's guarantees and that `--kafka-config` may not
/// override: the idempotent producer (§6.3) and acknowledgement by all in-sync replicas (§6.1).
pub const PROTECTED_SETTINGS: [&str; 5] = [
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "enable.gapless.guarantee",
    "max.in.flight.requests.per.connection",
];

/// Refuses `--kafka-config` entries that would weaken delivery guarantees.
///
/// # Errors
/// The name of the first protected setting found.
pub fn check_overrides(kafka: &KafkaArgs) -> Result<(), String> {
    match kafka
        .kafka_config
        .iter()
        .find(|(key, _)| PROTECTED_SETTINGS.contains(&key.as_str()))
    {
        Some((key, _)) => Err(format!(
            "--kafka-config may not set `{key}`: the relay needs an idempotent producer with acks=all"
        )),
        None => Ok(()),
    }
}

/// Headers of an event record (`content_type` [`CLOUDEVENTS_JSON`]) or of its dead letter
/// ([`DEAD_LETTER_JSON`]).
pub fn event_headers(
    content_type: &str,
    event_id: &str,
    event_type: &str,
    sequence: &str,
    traceparent: Option<&str>,
) -> OwnedHeaders {
    let headers = OwnedHeaders::new_with_capacity(5)
        .insert(Header {
            key: HEADER_CONTENT_TYPE,
            value: Some(content_type),
        })
        .insert(Header {
            key: HEADER_ID,
            value: Some(event_id),
        })
        .insert(Header {
            key: HEADER_TYPE,
            value: Some(event_type),
        })
        .insert(Header {
            key: HEADER_SEQUENCE,
            value: Some(sequence),
        });
    match traceparent {
        Some(traceparent) => headers.insert(Header {
            key: HEADER_TRACEPARENT,
            value: Some(traceparent),
        }),
        None => headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(code: RDKafkaErrorCode) -> Failure {
        classify(&KafkaError::MessageProduction(code))
    }

    fn run_args(extra: &[&str]) -> RunArgs {
        let mut args = vec!["relay-job", "run", "--kafka-brokers", "b:9092"];
        args.extend_from_slice(extra);
        match crate::config::Cli::parse_args(args.into_iter().map(Into::into).collect()) {
            Ok(crate::config::Cli {
                command: crate::config::Command::Run(run),
            }) => *run,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn created_topics_are_durable() {
        let default = run_args(&[]);
        assert_eq!(durability(&default, 1), Ok((1, None)));
        assert_eq!(durability(&default, 2), Ok((2, None)));
        assert_eq!(durability(&default, 3), Ok((3, Some(2))));
        assert_eq!(durability(&default, 9), Ok((3, Some(2))));
        let two = run_args(&["--topic-replication", "2"]);
        assert_eq!(durability(&two, 5), Ok((2, None)));
        let one = run_args(&["--topic-replication", "1"]);
        assert!(durability(&one, 3).is_err());
        assert_eq!(durability(&one, 1), Ok((1, None)));
        let allowed = run_args(&["--topic-replication", "1", "--allow-single-replica", "true"]);
        assert_eq!(durability(&allowed, 3), Ok((1, None)));
    }

    #[test]
    fn each_code_has_its_class() {
        use RDKafkaErrorCode as C;
        for (code, expected) in [
            (C::NotEnoughReplicas, Failure::Record),
            (C::NotEnoughReplicasAfterAppend, Failure::Record),
            (C::NotLeaderForPartition, Failure::Record),
            (C::KafkaStorageError, Failure::Record),
            (C::MessageTimedOut, Failure::TimedOut),
            (C::AllBrokersDown, Failure::Broker),
            (C::BrokerTransportFailure, Failure::Broker),
            (C::OutOfOrderSequenceNumber, Failure::Fatal),
            (C::Fatal, Failure::Fatal),
            (C::PurgeQueue, Failure::Fatal),
            (C::QueueFull, Failure::QueueFull),
            (C::SaslAuthenticationFailed, Failure::Config),
            (C::TopicAuthorizationFailed, Failure::Config),
            (
                C::MessageSizeTooLarge,
                Failure::Permanent(DeadClass::TooLarge),
            ),
            (C::InvalidRecord, Failure::Permanent(DeadClass::Rejected)),
        ] {
            assert_eq!(class(code), expected, "{code:?}");
        }
        assert_eq!(classify(&KafkaError::Canceled), Failure::Broker);
    }
}
