//! Kafka through librdkafka (`rdkafka`, built from its bundled source): the producer's
//! settings, topic creation, the records (event and dead letter) and the classification of
//! delivery errors.

use std::time::Duration;

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

/// The librdkafka client context of every client the relay makes: logs through `tracing`
/// (rdkafka's `tracing` feature) and, with MSK IAM, supplies OAUTHBEARER tokens.
#[derive(Debug, Clone, Default)]
pub struct RelayContext {
    msk_iam: Option<crate::msk_iam::MskIamSigner>,
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
        })
    }
}

impl rdkafka::ClientContext for RelayContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

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

/// Creates the events and DLQ topics when missing (the local broker does not create topics on
/// produce). Fails when the cluster does not answer within `timeout`.
///
/// # Errors
/// [`KafkaError`] when the cluster is unreachable or refuses to create a topic.
pub async fn ensure_topics(
    args: &RunArgs,
    context: RelayContext,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let admin: AdminClient<RelayContext> =
        client_config(&args.kafka).create_with_context(context)?;
    let topics: Vec<NewTopic<'_>> = [args.events_topic.as_str(), args.dlq_topic.as_str()]
        .into_iter()
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
    let results = admin.create_topics(&topics, &options).await?;
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

/// Checks, through cluster metadata, that the events and DLQ topics exist (for relays without
/// the CreateTopics permission).
///
/// # Errors
/// [`KafkaError`] when the cluster does not answer within `timeout` or a topic is missing.
pub async fn check_topics(
    producer: &RelayProducer,
    args: &RunArgs,
    timeout: Duration,
) -> Result<(), KafkaError> {
    for topic in [args.events_topic.clone(), args.dlq_topic.clone()] {
        let producer = producer.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(Some(&topic), timeout)
        })
        .await
        .map_err(|_| KafkaError::Canceled)??;
        let known = metadata
            .topics()
            .iter()
            .all(|t| t.error().is_none() && !t.partitions().is_empty());
        if !known {
            return Err(KafkaError::MetadataFetch(
                RDKafkaErrorCode::UnknownTopicOrPartition,
            ));
        }
    }
    tracing::info!("topics exist");
    Ok(())
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
            RDKafkaErrorCode::SaslAuthenticationFailed,
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
