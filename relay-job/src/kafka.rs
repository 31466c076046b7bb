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

use crate::config::{KafkaArgs, RunArgs};

/// Kafka record headers (contract): CloudEvents attributes in the Kafka binding's `ce_` form
/// plus the W3C trace context.
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
        self.state().all_down_since = None;
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
    let optional = [
        ("sasl.mechanism", &kafka.kafka_sasl_mechanism),
        ("sasl.username", &kafka.kafka_sasl_username),
        ("sasl.password", &kafka.kafka_sasl_password),
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
        .set("linger.ms", "5")
        .set("message.timeout.ms", millis(args.message_timeout))
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
    /// It exists (possibly still electing leaders).
    Exists,
    /// The cluster does not know it.
    Missing,
}

/// Makes sure the events and DLQ topics exist, within `timeout` in all: one metadata request
/// per topic on the producer's own connection (which the first produce needs anyway), and a
/// CreateTopics request only for a missing topic when `--create-topics` is on. Topics that
/// exist cost no admin request, so a run against known topics starts producing after one
/// round trip.
///
/// # Errors
/// `KafkaUnavailable` when the cluster does not answer in time; `ConfigError` when a topic is
/// missing and may not be created, or the credentials may not describe or create it.
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
            let state = match metadata.topics().iter().find(|t| t.name() == topic) {
                None => TopicState::Missing,
                Some(found) => match found.error().map(RDKafkaErrorCode::from) {
                    None if found.partitions().is_empty() => TopicState::Missing,
                    None | Some(RDKafkaErrorCode::LeaderNotAvailable) => TopicState::Exists,
                    Some(RDKafkaErrorCode::UnknownTopicOrPartition) => TopicState::Missing,
                    Some(code) => return Err(KafkaError::MetadataFetch(code)),
                },
            };
            Ok((topic, state))
        })
    });
    let mut missing = Vec::new();
    for lookup in futures::future::join_all(lookups).await {
        match lookup {
            Ok(Ok((_, TopicState::Exists))) => {}
            Ok(Ok((topic, TopicState::Missing))) => missing.push(topic),
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
    let remaining = until.saturating_duration_since(Instant::now());
    create_topics(args, context, &missing, remaining)
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

/// Creates `topics` with `--topic-partitions` partitions.
async fn create_topics(
    args: &RunArgs,
    context: RelayContext,
    topics: &[String],
    timeout: Duration,
) -> Result<(), KafkaError> {
    let admin: AdminClient<RelayContext> =
        client_config(&args.kafka).create_with_context(context)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                args.topic_partitions,
                TopicReplication::Fixed(args.topic_replication),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
    let results = admin.create_topics(&new, &options).await?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, partitions = args.topic_partitions, "created topic"),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::info!(topic, "topic exists")
            }
            Err((_, code)) => return Err(KafkaError::AdminOp(code)),
        }
    }
    Ok(())
}

/// The reason of an authentication or authorization failure, naming the settings involved.
pub fn config_reason(error: &KafkaError) -> String {
    format!(
        "kafka refused the credentials or their permissions ({error}): check KAFKA_SECURITY_PROTOCOL, \
         KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD (or KAFKA_SASL_SECRET_ARN, \
         KAFKA_MSK_IAM) and the ACLs for RELAY_EVENTS_TOPIC and RELAY_DLQ_TOPIC"
    )
}

/// How a failed delivery counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not the event's fault (cluster unreachable, not serving, misconfigured, or an error we
    /// cannot attribute to one record): no attempt is charged; enough of these in a row open
    /// the circuit breaker, so an incident ends runs with exit 3 instead of dead-lettering.
    Broker,
    /// The record will never be accepted as it is: dead-letter it.
    Permanent(DeadClass),
    /// This record failed for a reason of its own that may pass later: retry with backoff,
    /// dead-letter after `--max-attempts`.
    Transient,
    /// Authentication or authorization refused: a configuration error (exit 2).
    Config,
}

/// Why the broker refused a record for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadClass {
    /// Larger than a broker or topic limit.
    TooLarge,
    /// Refused as invalid or by policy.
    Rejected,
}

/// Classifies a delivery error (librdkafka has already retried what it can retry). Unknown
/// codes count as broker-level: an unexplained failure must not spend attempts.
pub fn classify(error: &KafkaError) -> Failure {
    use RDKafkaErrorCode as C;
    match error.rdkafka_error_code() {
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize | C::MessageBatchTooLarge) => {
            Failure::Permanent(DeadClass::TooLarge)
        }
        Some(C::InvalidRecord | C::InvalidMessage | C::PolicyViolation) => {
            Failure::Permanent(DeadClass::Rejected)
        }
        Some(C::InvalidTimestamp) => Failure::Transient,
        Some(
            C::Authentication
            | C::SaslAuthenticationFailed
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::TransactionalIdAuthorizationFailed,
        ) => Failure::Config,
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

/// Headers of an event record.
pub fn event_headers(
    event_id: &str,
    event_type: &str,
    sequence: &str,
    traceparent: Option<&str>,
) -> OwnedHeaders {
    let headers = OwnedHeaders::new_with_capacity(4)
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

    #[test]
    fn outages_are_not_event_failures() {
        let timeout = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert_eq!(classify(&timeout), Failure::Broker);
        let too_large = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        assert_eq!(
            classify(&too_large),
            Failure::Permanent(DeadClass::TooLarge)
        );
        for unexplained in [
            RDKafkaErrorCode::OutOfOrderSequenceNumber,
            RDKafkaErrorCode::KafkaStorageError,
        ] {
            assert_eq!(
                classify(&KafkaError::MessageProduction(unexplained)),
                Failure::Broker
            );
        }
        assert_eq!(classify(&KafkaError::Canceled), Failure::Broker);
        assert_eq!(
            classify(&KafkaError::MessageProduction(
                RDKafkaErrorCode::InvalidTimestamp
            )),
            Failure::Transient
        );
    }
}
