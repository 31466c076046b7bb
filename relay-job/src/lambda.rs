//! `relay-job` as an AWS Lambda function: with `AWS_LAMBDA_RUNTIME_API` set, `relay-job run`
//! serves the Lambda Runtime API instead of running once. Each invocation (for example from
//! EventBridge Scheduler) is one [`run`](crate::run::run) with the same settings; it returns the
//! summary, and turns Kafka or database unavailability into a function error so retries,
//! on-failure destinations and alarms see it. Each invocation also prints the summary and a
//! CloudWatch embedded-metric-format line (namespace `PaymentService/Relay`) from which the
//! dead-letter and backlog alarms are computed.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::config::RunArgs;
use crate::summary::{Outcome, RunSummary};

/// CloudWatch namespace of the relay's metrics.
pub const METRICS_NAMESPACE: &str = "PaymentService/Relay";

/// A run that ended because Kafka or the database is unavailable (or worse).
#[derive(Debug)]
pub struct RunFailed(RunSummary);

impl From<RunFailed> for Diagnostic {
    fn from(failure: RunFailed) -> Self {
        Self {
            error_type: format!("RelayRun::{:?}", failure.0.outcome),
            error_message: serde_json::to_string(&failure.0).unwrap_or_default(),
        }
    }
}

/// The CloudWatch embedded-metric-format record of a run.
pub fn emf(summary: &RunSummary, function: &str) -> Value {
    let millis = chrono::Utc::now().timestamp_millis();
    json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [
                    { "Name": "Published", "Unit": "Count" },
                    { "Name": "DeadLettered", "Unit": "Count" },
                    { "Name": "Remaining", "Unit": "Count" },
                    { "Name": "ParkedKeys", "Unit": "Count" },
                    { "Name": "OldestPendingAgeMs", "Unit": "Milliseconds" },
                    { "Name": "ExitCode", "Unit": "None" }
                ]
            }]
        },
        "Function": function,
        "Published": summary.published,
        "DeadLettered": summary.dead_lettered,
        "Remaining": summary.remaining.unwrap_or(0),
        "ParkedKeys": summary.parked_keys.unwrap_or(0),
        "OldestPendingAgeMs": summary.oldest_pending_age_ms.unwrap_or(0),
        "ExitCode": summary.exit_code,
    })
}

/// Serves Lambda invocations until the runtime stops the process.
///
/// # Errors
/// When the Lambda Runtime API cannot be reached.
pub async fn serve(args: RunArgs) -> Result<(), lambda_runtime::Error> {
    let args = Arc::new(args);
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "relay-job".to_owned());
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let args = Arc::clone(&args);
        let function = function.clone();
        async move {
            let (_never, stop) = tokio::sync::watch::channel(false);
            let summary = crate::run::run(&args, stop).await;
            crate::summary::print(&summary);
            crate::summary::print_value(&emf(&summary, &function));
            match summary.outcome {
                Outcome::Drained | Outcome::Deadline | Outcome::Interrupted => {
                    Ok(serde_json::to_value(&summary).unwrap_or_default())
                }
                Outcome::Error
                | Outcome::ConfigError
                | Outcome::KafkaUnavailable
                | Outcome::DatabaseUnavailable => Err(RunFailed(summary)),
            }
        }
    }))
    .await
}
