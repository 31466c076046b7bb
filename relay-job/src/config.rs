//! Command line and environment configuration of `relay-job`, validated by clap at start-up.
//! A bad or missing value exits with code 2 and one JSON line naming the flag and its variable
//! (see [`crate::cli`]).

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

/// The exit codes, as `--help` prints them (§6.7 of the architecture notes).
pub const EXIT_CODES_HELP: &str = "\
Exit codes (every invocation prints exactly one JSON line on stdout; `tail` and `dead list`
print one line per record):
  0  completed: drained, deadline reached with progress (or, with --follow, with nothing to
     claim and Kafka reachable), or stopped by SIGTERM after marking
  1  unexpected error (`dead show`: no dead event with that id)
  2  usage or configuration error, also Kafka authentication/authorization failures
     (the JSON line's `reason` names the flag and its variable)
  3  Kafka unavailable: unreachable at start, circuit breaker open, acknowledgements not back
     within --flush-timeout, or a fatal idempotent-producer error (events stay pending)
  4  database unavailable, or not migrated (run `payment-api migrate`)";

/// relay-job: drains the payment-service outbox to Kafka, then exits.
///
/// Without a subcommand, `run` is meant: `relay-job --max-runtime 45s` is
/// `relay-job run --max-runtime 45s`.
#[derive(Debug, Parser)]
#[command(name = "relay-job", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do (`run` when the arguments start with a flag, or there are none).
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (program name first) with `run` as the default subcommand.
    ///
    /// # Errors
    /// clap's error for unknown, missing or invalid arguments (and for `--help`/`--version`,
    /// whose kind says so).
    pub fn parse_args(args: Vec<OsString>) -> Result<Self, clap::Error> {
        Self::try_parse_from(with_default_command(args))
    }
}

/// `args` with `run` inserted after the program name unless they start with a subcommand
/// name, `help`, `-h`/`--help` or `-V`/`--version`.
pub fn with_default_command(mut args: Vec<OsString>) -> Vec<OsString> {
    let explicit = args
        .get(1)
        .and_then(|first| first.to_str())
        .is_some_and(|first| {
            matches!(first, "help" | "-h" | "--help" | "-V" | "--version")
                || Cli::command()
                    .get_subcommands()
                    .any(|command| command.get_name() == first)
        });
    if !explicit {
        args.insert(1.min(args.len()), OsString::from("run"));
    }
    args
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drain due outbox events to Kafka once, print a JSON summary line, exit (the default).
    #[command(after_help = EXIT_CODES_HELP)]
    Run(Box<RunArgs>),
    /// Move dead-lettered events back to pending (per-payment order is kept).
    Replay(ReplayArgs),
    /// Delete published events older than the retention period, at most --max-rows per call.
    Purge(PurgeArgs),
    /// Print backlog, oldest pending age, parked payments and dead count as JSON.
    Stats(DatabaseArgs),
    /// Inspect dead-lettered events: `dead list`, `dead show --event-id ID`.
    Dead(DeadArgs),
    /// Read the events and DLQ topics, validate every record and each payment's order, and
    /// print one line per record (or `--json`: one report). Exit 1 when the contract is broken.
    Tail(Box<TailArgs>),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Run(_) => "run",
            Self::Replay(_) => "replay",
            Self::Purge(_) => "purge",
            Self::Stats(_) => "stats",
            Self::Dead(_) => "dead",
            Self::Tail(_) => "tail",
        }
    }
}

/// Settings of `dead`.
#[derive(Debug, Clone, Args)]
pub struct DeadArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to show.
    #[command(subcommand)]
    pub command: DeadCommand,
}

/// `dead` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DeadCommand {
    /// One JSON line per dead event, most recently dead first: event id, payment id, type,
    /// version, attempts, reason, dead since.
    List {
        /// Only this payment's dead events.
        #[arg(long)]
        payment_id: Option<uuid::Uuid>,
        /// Most lines printed.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        limit: i64,
    },
    /// The stored event of one dead event and its error history, as one JSON object.
    Show {
        /// Event id (the CloudEvents `id`).
        #[arg(long)]
        event_id: uuid::Uuid,
    },
}

/// Settings of `tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Topic of the events.
    #[arg(long, env = "RELAY_EVENTS_TOPIC", default_value = "payments.events")]
    pub events_topic: String,
    /// Dead-letter topic.
    #[arg(long, env = "RELAY_DLQ_TOPIC", default_value = "payments.dlq")]
    pub dlq_topic: String,
    /// Start every partition at this offset instead of the beginning.
    #[arg(long)]
    pub from_offset: Option<i64>,
    /// Stop after no record arrived for this long.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Print only the JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Database settings. `Debug` does not show the URL (it may hold a password).
#[derive(Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the payment-service database. Without it, the URL is composed from
    /// `DATABASE_HOST`, `DATABASE_NAME` and `DATABASE_USER` + `DATABASE_PASSWORD` or
    /// `DATABASE_SECRET_ARN`, with `DATABASE_SSLMODE` / `DATABASE_SSLROOTCERT` (see
    /// `payment_secrets::database`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// What sits between the relay and PostgreSQL: `session` (a direct connection or a
    /// session-mode pooler) or `transaction` (a transaction-mode pooler such as PgBouncer
    /// `pool_mode = transaction` or RDS Proxy: no prepared statement outlives its transaction).
    #[arg(long, env = "DATABASE_POOL_MODE", default_value = "session", value_parser = clap::builder::ValueParser::new(str::parse::<payment_db::PoolMode>))]
    pub database_pool_mode: payment_db::PoolMode,
}

impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("database_pool_mode", &self.database_pool_mode)
            .finish()
    }
}

impl DatabaseArgs {
    /// Where the database URL comes from, as described on [`DatabaseArgs::database_url`].
    ///
    /// # Errors
    /// When no complete form of the settings is given.
    pub fn source(
        &self,
    ) -> Result<payment_secrets::DatabaseUrl, payment_secrets::CredentialsError> {
        payment_secrets::DatabaseUrl::from_env(self.database_url.as_deref())
    }
}

/// Which dead-lettered events `replay` moves back.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ReplaySelector {
    /// One event, by its event id.
    #[arg(long)]
    pub event_id: Option<uuid::Uuid>,
    /// Every dead event of one payment.
    #[arg(long)]
    pub payment_id: Option<uuid::Uuid>,
    /// Every dead event.
    #[arg(long)]
    pub all: bool,
}

/// Settings of `replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Selection.
    #[command(flatten)]
    pub selector: ReplaySelector,
    /// Only count the dead events that would be replayed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Settings of `purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Retention: published events older than this go (e.g. `7d`, `12h`).
    #[arg(long, env = "RELAY_RETENTION", value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// Rows deleted per statement.
    #[arg(long, env = "RELAY_PURGE_BATCH", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub batch: i64,
    /// Most rows deleted by one call (the output says whether more remain); `--yes` lifts it.
    #[arg(long, env = "RELAY_PURGE_MAX_ROWS", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=i64::MAX))]
    pub max_rows: i64,
    /// Delete every eligible row, however many.
    #[arg(long)]
    pub yes: bool,
    /// Only count the rows that would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Kafka connection settings, passed to librdkafka. `Debug` shows neither the SASL password
/// nor the values of `KAFKA_CONFIG` (which may hold `sasl.password`).
#[derive(Clone, Args)]
pub struct KafkaArgs {
    /// Bootstrap servers, `host:port[,host:port]`.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: String,
    /// `security.protocol`: plaintext, ssl, sasl_plaintext or sasl_ssl.
    #[arg(long, env = "KAFKA_SECURITY_PROTOCOL", default_value = "plaintext",
          value_parser = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"])]
    pub kafka_security_protocol: String,
    /// `sasl.mechanism`, e.g. SCRAM-SHA-512 or PLAIN.
    #[arg(long, env = "KAFKA_SASL_MECHANISM")]
    pub kafka_sasl_mechanism: Option<String>,
    /// `sasl.username`.
    #[arg(long, env = "KAFKA_SASL_USERNAME")]
    pub kafka_sasl_username: Option<String>,
    /// `sasl.password` (prefer the environment variable over the flag).
    #[arg(long, env = "KAFKA_SASL_PASSWORD", hide_env_values = true, value_parser = secret)]
    pub kafka_sasl_password: Option<SecretString>,
    /// ARN of a Secrets Manager secret `{"username": …, "password": …}` for SASL (read through
    /// the AWS SDK, cached by the process, re-read after a run ends in a configuration error
    /// such as refused credentials); overrides the two settings above.
    #[arg(long, env = "KAFKA_SASL_SECRET_ARN")]
    pub kafka_sasl_secret_arn: Option<String>,
    /// Authenticate to Amazon MSK with IAM (SASL/OAUTHBEARER tokens signed with the process's AWS
    /// credentials for `AWS_REGION`); sets `sasl_ssl` and `OAUTHBEARER`.
    #[arg(long, env = "KAFKA_MSK_IAM", default_value_t = false, action = clap::ArgAction::Set)]
    pub kafka_msk_iam: bool,
    /// `ssl.ca.location`: CA bundle file.
    #[arg(long, env = "KAFKA_SSL_CA_LOCATION")]
    pub kafka_ssl_ca_location: Option<String>,
    /// `compression.type`: none, gzip, snappy, lz4 or zstd.
    #[arg(long, env = "KAFKA_COMPRESSION", default_value = "zstd",
          value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub kafka_compression: String,
    /// Any other librdkafka setting, `key=value`; repeatable (env: comma-separated).
    #[arg(long = "kafka-config", env = "KAFKA_CONFIG", hide_env_values = true, value_delimiter = ',', value_parser = parse_key_value)]
    pub kafka_config: Vec<(String, String)>,
}

impl std::fmt::Debug for KafkaArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("KafkaArgs")
            .field("kafka_brokers", &self.kafka_brokers)
            .field("kafka_security_protocol", &self.kafka_security_protocol)
            .field("kafka_sasl_mechanism", &self.kafka_sasl_mechanism)
            .field("kafka_sasl_username", &self.kafka_sasl_username)
            .field(
                "kafka_sasl_password",
                &redacted(self.kafka_sasl_password.is_some()),
            )
            .field("kafka_sasl_secret_arn", &self.kafka_sasl_secret_arn)
            .field("kafka_msk_iam", &self.kafka_msk_iam)
            .field("kafka_ssl_ca_location", &self.kafka_ssl_ca_location)
            .field("kafka_compression", &self.kafka_compression)
            .field(
                "kafka_config",
                &self
                    .kafka_config
                    .iter()
                    .map(|(key, _)| (key.as_str(), "<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A secret-bearing value, held so that it cannot be printed by accident.
fn secret(raw: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(raw))
}

fn parse_key_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected key=value, got `{raw}`")),
    }
}

/// Settings of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Topic of the events.
    #[arg(long, env = "RELAY_EVENTS_TOPIC", default_value = "payments.events")]
    pub events_topic: String,
    /// Dead-letter topic.
    #[arg(long, env = "RELAY_DLQ_TOPIC", default_value = "payments.dlq")]
    pub dlq_topic: String,
    /// Partitions of the topics when the relay creates them.
    #[arg(long, env = "RELAY_TOPIC_PARTITIONS", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub topic_partitions: i32,
    /// Replication factor of the topics when the relay creates them; by default min(3,
    /// brokers), with `min.insync.replicas=2` from 3 replicas on.
    #[arg(long, env = "RELAY_TOPIC_REPLICATION", value_parser = clap::value_parser!(i32).range(1..=100))]
    pub topic_replication: Option<i32>,
    /// Accept a single copy of each record on a cluster of several brokers (created with
    /// `--topic-replication 1`, or found so). Without it the relay refuses such topics (exit 2):
    /// with acks=all, one replica is still one disk.
    #[arg(long, env = "RELAY_ALLOW_SINGLE_REPLICA", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_single_replica: bool,
    /// Create the topics when missing (needs the CreateTopics permission). With `false` the
    /// relay only checks, through metadata, that they exist: the production path, where
    /// terraform or the platform team creates the topics.
    #[arg(long, env = "RELAY_CREATE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub create_topics: bool,
    /// librdkafka `partitioner`: `murmur2_random` puts a key on the partition Java clients and
    /// Kafka Streams compute (murmur2 of the key), so every producer of the topic agrees.
    #[arg(long, env = "KAFKA_PARTITIONER", default_value = "murmur2_random",
          value_parser = ["murmur2_random", "murmur2", "consistent_random", "consistent", "fnv1a_random", "fnv1a", "random"])]
    pub kafka_partitioner: String,
    /// librdkafka `message.send.max.retries`: how often librdkafka resends a record the broker
    /// refused with a retriable error before reporting that error, which then charges the
    /// event an attempt with persisted backoff.
    #[arg(long, env = "RELAY_KAFKA_RETRIES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub kafka_retries: u32,
    /// Batches relayed at once, each on its own database connection (claiming while another
    /// batch waits for its acknowledgements). Per-payment order holds for any value: a payment's
    /// next event is claimable only after its head is committed as published.
    #[arg(long, env = "RELAY_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Events claimed per batch.
    #[arg(long, env = "RELAY_BATCH_SIZE", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch_size: i64,
    /// Stop claiming after this long (e.g. `30s`, `5m`).
    #[arg(long, env = "RELAY_MAX_RUNTIME", default_value = "30s", value_parser = humantime::parse_duration)]
    pub max_runtime: Duration,
    /// Keep relaying until `--max-runtime` instead of exiting when the outbox is drained (a
    /// scheduler fires at most once a minute; a following relay publishes within about
    /// `--follow-poll`). Idle, it looks for due events every `--follow-poll`, and at once when a
    /// NOTIFY on `outbox_events` wakes it (databases that opt in: README "Follow mode"; not
    /// through a transaction-mode pooler, which cannot LISTEN).
    #[arg(long, env = "RELAY_FOLLOW", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub follow: bool,
    /// How often an idle following relay looks for due events (e.g. `50ms`).
    #[arg(long, env = "RELAY_FOLLOW_POLL", default_value = "50ms", value_parser = humantime::parse_duration)]
    pub follow_poll: Duration,
    /// Longest wait for the Kafka cluster: for its first answer at start (topic metadata or
    /// creation), and, mid-run, for any broker while all are down before the run ends with
    /// exit 3 (the events in flight stay pending, no attempt charged).
    #[arg(long, env = "RELAY_KAFKA_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub kafka_timeout: Duration,
    /// After the deadline or SIGTERM, how long to wait for in-flight acknowledgements.
    #[arg(long, env = "RELAY_FLUSH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub flush_timeout: Duration,
    /// librdkafka `message.timeout.ms`: how long one produce may take before it fails.
    #[arg(long, env = "RELAY_MESSAGE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub message_timeout: Duration,
    /// Failed publish attempts after which an event is dead-lettered.
    #[arg(long, env = "RELAY_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub max_attempts: i32,
    /// First retry delay; doubles per attempt, with full jitter.
    #[arg(long, env = "RELAY_BACKOFF_BASE", default_value = "1s", value_parser = humantime::parse_duration)]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[arg(long, env = "RELAY_BACKOFF_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    pub backoff_max: Duration,
    /// Consecutive broker-level failures that open the circuit breaker and end the run (exit 3).
    #[arg(long, env = "RELAY_BREAKER_THRESHOLD", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub breaker_threshold: u32,
    /// Largest record value in bytes; a larger event is dead-lettered as a reference.
    #[arg(long, env = "RELAY_MAX_MESSAGE_BYTES", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1024..=100_000_000))]
    pub max_message_bytes: u64,
    /// Prometheus Pushgateway (`http://host:9091`) that receives the run's metrics when it ends
    /// (each Lambda invocation's too); unset: no push. A failed push is a warning, never a
    /// different exit code.
    #[arg(long, env = "RELAY_METRICS_PUSH_URL")]
    pub metrics_push_url: Option<String>,
    /// The `instance` grouping label of the pushed metrics: relays that run at the same time
    /// need different values, or the later push replaces the earlier one's figures.
    #[arg(long, env = "RELAY_METRICS_INSTANCE", default_value = "relay-job")]
    pub metrics_instance: String,
    /// Log format (logs go to stderr; stdout has only the summary line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let cli = Cli::parse_args(
            [
                "relay-job",
                "run",
                "--kafka-brokers",
                "b:9092",
                "--kafka-sasl-password",
                "hunter2-sasl",
                "--kafka-config",
                "sasl.password=hunter2-config",
                "--database-url",
                "postgres://u:hunter2-url@h/db",
            ]
            .map(OsString::from)
            .to_vec(),
        )
        .unwrap();
        let printed = format!("{cli:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("sasl.password") && printed.contains("<redacted>"));
    }
}
