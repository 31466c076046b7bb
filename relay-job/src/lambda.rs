//! `relay-job` as an AWS Lambda function: with `AWS_LAMBDA_RUNTIME_API` set, `relay-job run`
//! serves the Lambda Runtime API instead of running once. Each invocation (for example from
//! EventBridge Scheduler) is one [`run`](crate::run::run) with the same settings; it returns the
//! summary, and turns Kafka or database unavailability into a function error so retries,
//! on-failure destinations and alarms see it. Each invocation also prints the summary and a
//! CloudWatch embedded-metric-format line (namespace `PaymentService/Relay`) from which the
//! dead-letter and backlog alarms are computed, and pushes its metrics to a Pushgateway when
//! `--metrics-push-url` is set; its spans are exported before it returns. A run that ends in a configuration error (for
//! example Kafka refusing the SASL credentials) drops the cached SASL secret, so the next
//! invocation reads a rotated one.

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

/// The CloudWatch embedded-metric-format record of a run: `Published`, `DeadLettered` and
/// `ExitCode` always; `Remaining`, `ParkedKeys` and `OldestPendingAgeMs` (ms) only when the run
/// could read them. A backlog that could not be read (database down) is absent, never 0: the
/// oldest-pending alarm treats missing data as breaching, so it fires instead of seeing an
/// empty outbox.
pub fn emf(summary: &RunSummary, function: &str) -> Value {
    let millis = chrono::Utc::now().timestamp_millis();
    let mut record = json!({
        "Function": function,
        "Published": summary.published,
        "DeadLettered": summary.dead_lettered,
        "ExitCode": summary.exit_code,
    });
    let mut metrics = vec![
        json!({ "Name": "Published", "Unit": "Count" }),
        json!({ "Name": "DeadLettered", "Unit": "Count" }),
        json!({ "Name": "ExitCode", "Unit": "None" }),
    ];
    for (name, unit, value) in [
        ("Remaining", "Count", summary.remaining),
        ("ParkedKeys", "Count", summary.parked_keys),
        (
            "OldestPendingAgeMs",
            "Milliseconds",
            summary.oldest_pending_age_ms,
        ),
    ] {
        if let (Some(value), Some(fields)) = (value, record.as_object_mut()) {
            fields.insert(name.to_owned(), json!(value));
            metrics.push(json!({ "Name": name, "Unit": unit }));
        }
    }
    if let Some(fields) = record.as_object_mut() {
        fields.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": millis,
                "CloudWatchMetrics": [{
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": metrics,
                }]
            }),
        );
    }
    record
}

/// Serves Lambda invocations until the runtime stops the process.
///
/// # Errors
/// When the Lambda Runtime API cannot be reached.
pub async fn serve(
    args: RunArgs,
    telemetry: payment_telemetry::Telemetry,
) -> Result<(), lambda_runtime::Error> {
    let args = Arc::new(args);
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "relay-job".to_owned());
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let args = Arc::clone(&args);
        let function = function.clone();
        let telemetry = telemetry.clone();
        async move {
            let (_never, stop) = tokio::sync::watch::channel(false);
            let summary = crate::run::run(&args, stop).await;
            if let Some(url) = &args.metrics_push_url {
                crate::pushgateway::push(url, &args.metrics_instance, &summary).await;
            }
            // The run's spans leave before the invocation returns and the function is frozen.
            let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
            crate::summary::print(&summary);
            crate::summary::print_value(&emf(&summary, &function));
            if summary.outcome == Outcome::ConfigError
                && let Some(arn) = &args.kafka.kafka_sasl_secret_arn
            {
                payment_secrets::SecretsManager::shared().forget(arn).await;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(outcome: Outcome, backlog: Option<i64>) -> RunSummary {
        RunSummary {
            run_id: uuid::Uuid::nil(),
            published: 3,
            retried: 0,
            dead_lettered: 1,
            parked_keys: backlog,
            remaining: backlog,
            oldest_pending_age_ms: backlog,
            duration_ms: 5,
            outcome,
            exit_code: outcome.exit_code(),
            reason: None,
            failures: std::collections::BTreeMap::new(),
        }
    }

    fn declared(record: &Value) -> Vec<&str> {
        record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_run_that_read_the_backlog_reports_it() {
        let record = emf(&summary(Outcome::Drained, Some(0)), "relay");
        assert_eq!(
            declared(&record),
            [
                "Published",
                "DeadLettered",
                "ExitCode",
                "Remaining",
                "ParkedKeys",
                "OldestPendingAgeMs"
            ]
        );
        assert_eq!(record["OldestPendingAgeMs"], 0);
        assert_eq!(record["Function"], "relay");
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
    }

    #[test]
    fn with_the_database_down_the_backlog_is_absent_not_zero() {
        let record = emf(&summary(Outcome::DatabaseUnavailable, None), "relay");
        assert_eq!(declared(&record), ["Published", "DeadLettered", "ExitCode"]);
        for name in ["Remaining", "ParkedKeys", "OldestPendingAgeMs"] {
            assert!(
                record.get(name).is_none(),
                "{name} must be absent: {record}"
            );
        }
        assert_eq!(record["ExitCode"], 4);
    }
}
