//! The run summary: one JSON line on stdout (§6.6), and the exit code (§6.7).

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No due event was left. Exit 0.
    Drained,
    /// `--max-runtime` reached; the next run continues. Exit 0.
    Deadline,
    /// SIGTERM or Ctrl-C; everything in flight was acknowledged and marked. Exit 0.
    Interrupted,
    /// Unexpected error. Exit 1.
    Error,
    /// Bad configuration. Exit 2.
    ConfigError,
    /// Kafka unreachable at start, circuit breaker open, or acknowledgements not back within
    /// `--flush-timeout`: those events stay pending, no attempt charged. Exit 3.
    KafkaUnavailable,
    /// The database is unreachable or went away. Exit 4.
    DatabaseUnavailable,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Drained | Self::Deadline | Self::Interrupted => 0,
            Self::Error => 1,
            Self::ConfigError => 2,
            Self::KafkaUnavailable => 3,
            Self::DatabaseUnavailable => 4,
        }
    }
}

/// What one run did. Printed as one JSON line; counts are events, durations ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// Id of this run (also in every log line of the run).
    pub run_id: Uuid,
    /// Events acknowledged by Kafka and marked published.
    pub published: u64,
    /// Failed attempts recorded for a later retry (backoff).
    pub retried: u64,
    /// Events sent to the dead-letter topic and marked dead.
    pub dead_lettered: u64,
    /// Payments whose events wait behind a dead one (null when the database is unreachable).
    pub parked_keys: Option<i64>,
    /// Pending events left, due or not (null when unknown).
    pub remaining: Option<i64>,
    /// Age of the oldest pending event in ms (null when unknown, 0 when none).
    pub oldest_pending_age_ms: Option<i64>,
    /// Run duration in ms.
    pub duration_ms: u64,
    /// How the run ended.
    pub outcome: Outcome,
    /// The exit code.
    pub exit_code: u8,
    /// Why the run ended early, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Failed deliveries by librdkafka error code name (e.g. `{"MessageTimedOut": 1832}`):
    /// one summary instead of a log line per event. Omitted when there were none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, u64>,
}

/// Prints `summary` as one JSON line on stdout.
pub fn print(summary: &RunSummary) {
    print_value(summary);
}

/// Prints any serializable value as one JSON line on stdout.
pub fn print_value(value: &impl Serialize) {
    use std::io::Write;
    let line = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
