//! Metrics for a job that exits: when a run ends (`relay-job run`, and each Lambda invocation),
//! its figures are pushed to a Prometheus Pushgateway (`--metrics-push-url`), where Prometheus
//! scrapes them after the process is gone. The CloudWatch EMF line ([`crate::lambda::emf`])
//! stays for CloudWatch; this is the same run seen from Prometheus.
//!
//! Every metric is a gauge of the last run, grouped by `job="relay-job"` and `instance`
//! (`--metrics-instance`), pushed with POST (Pushgateway "push_add"): a metric a run does not
//! know (the backlog while the database is down) keeps its last value instead of vanishing,
//! and `relay_last_success_timestamp_seconds` survives failed runs, which is what a "the relay
//! has not succeeded for N minutes" alert reads. Names follow the Prometheus naming
//! conventions (base units: seconds; `_events` counts events).
//!
//! The push is bounded (10 s, the client's timeout) and best-effort: a failure is logged and
//! changes neither the summary nor the exit code.

use std::collections::HashMap;

use prometheus::{Gauge, GaugeVec, Opts, Registry};

use crate::summary::{Outcome, RunSummary};

/// `job` grouping label of every push.
pub const JOB: &str = "relay-job";

/// Every metric name this module pushes (the dashboards' test checks its queries against it).
pub const METRIC_NAMES: &[&str] = &[
    "relay_last_run_published_events",
    "relay_last_run_retried_events",
    "relay_last_run_dead_lettered_events",
    "relay_last_run_duration_seconds",
    "relay_last_run_exit_code",
    "relay_last_run_timestamp_seconds",
    "relay_last_run_delivery_failures",
    "relay_last_success_timestamp_seconds",
    "relay_outbox_pending_events",
    "relay_outbox_oldest_pending_age_seconds",
    "relay_parked_payments",
];

fn gauge(registry: &Registry, name: &str, help: &str, value: f64) -> prometheus::Result<()> {
    let gauge = Gauge::with_opts(Opts::new(name, help))?;
    gauge.set(value);
    registry.register(Box::new(gauge))
}

/// The registry holding `summary`'s metrics, as of `now` (Unix seconds).
///
/// # Errors
/// A metric that cannot be registered (a bug: names are constants).
pub fn registry(summary: &RunSummary, now: f64) -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let count = |value: u64| value as f64;
    gauge(
        &registry,
        "relay_last_run_published_events",
        "Events the last run published (acknowledged and marked).",
        count(summary.published),
    )?;
    gauge(
        &registry,
        "relay_last_run_retried_events",
        "Failed attempts the last run recorded for a later retry.",
        count(summary.retried),
    )?;
    gauge(
        &registry,
        "relay_last_run_dead_lettered_events",
        "Events the last run sent to the dead-letter topic.",
        count(summary.dead_lettered),
    )?;
    gauge(
        &registry,
        "relay_last_run_duration_seconds",
        "Duration of the last run.",
        summary.duration_ms as f64 / 1000.0,
    )?;
    gauge(
        &registry,
        "relay_last_run_exit_code",
        "Exit code of the last run (0 drained or deadline, 3 Kafka, 4 database, 2 configuration, 1 other).",
        f64::from(summary.exit_code),
    )?;
    gauge(
        &registry,
        "relay_last_run_timestamp_seconds",
        "When the last run ended (Unix time).",
        now,
    )?;
    let failures = GaugeVec::new(
        Opts::new(
            "relay_last_run_delivery_failures",
            "Failed deliveries of the last run by librdkafka error code.",
        ),
        &["code"],
    )?;
    for (code, n) in &summary.failures {
        failures.with_label_values(&[code]).set(count(*n));
    }
    // A push replaces only the series it carries: a run without failures pushes `none`, so the
    // last failing run's codes stop showing (an empty family would not be pushed at all).
    if summary.failures.is_empty() {
        failures.with_label_values(&["none"]).set(0.0);
    }
    registry.register(Box::new(failures))?;
    if matches!(
        summary.outcome,
        Outcome::Drained | Outcome::Deadline | Outcome::Interrupted
    ) {
        gauge(
            &registry,
            "relay_last_success_timestamp_seconds",
            "When a run last ended without a failure (Unix time).",
            now,
        )?;
    }
    for (name, help, value) in [
        (
            "relay_outbox_pending_events",
            "Pending outbox events after the last run, due or not.",
            summary.remaining.map(|n| n as f64),
        ),
        (
            "relay_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event after the last run (0 when none).",
            summary.oldest_pending_age_ms.map(|ms| ms as f64 / 1000.0),
        ),
        (
            "relay_parked_payments",
            "Payments whose events wait behind a dead event.",
            summary.parked_keys.map(|n| n as f64),
        ),
    ] {
        if let Some(value) = value {
            gauge(&registry, name, help, value)?;
        }
    }
    Ok(registry)
}

/// Pushes `summary`'s metrics to the Pushgateway at `url` under `instance`; logs a warning on
/// failure (at most 10 s).
pub async fn push(url: &str, instance: &str, summary: &RunSummary) {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let families = match registry(summary, now) {
        Ok(registry) => registry.gather(),
        Err(error) => {
            tracing::warn!(%error, "run metrics not built");
            return;
        }
    };
    let (url, instance) = (url.to_owned(), instance.to_owned());
    let pushed = tokio::task::spawn_blocking(move || {
        let grouping = HashMap::from([("instance".to_owned(), instance)]);
        prometheus::push_add_metrics(JOB, grouping, &url, families, None)
    })
    .await;
    match pushed {
        Ok(Ok(())) => tracing::debug!("run metrics pushed"),
        Ok(Err(error)) => tracing::warn!(%error, "run metrics not pushed to the Pushgateway"),
        Err(error) => tracing::warn!(%error, "run metrics push did not finish"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(outcome: Outcome, backlog: Option<i64>) -> RunSummary {
        RunSummary {
            run_id: uuid::Uuid::nil(),
            published: 7,
            retried: 1,
            dead_lettered: 2,
            parked_keys: backlog,
            remaining: backlog,
            oldest_pending_age_ms: backlog.map(|n| n * 1000),
            duration_ms: 1500,
            outcome,
            exit_code: outcome.exit_code(),
            reason: None,
            failures: [("MessageTimedOut".to_owned(), 3)].into(),
        }
    }

    fn names(registry: &Registry) -> Vec<String> {
        registry
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect()
    }

    #[test]
    fn a_drained_run_pushes_every_metric() {
        let registry = registry(&summary(Outcome::Drained, Some(4)), 1e9).unwrap();
        let mut expected: Vec<String> = METRIC_NAMES.iter().map(|&n| n.to_owned()).collect();
        expected.sort();
        assert_eq!(names(&registry), expected);
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_and_an_unknown_backlog() {
        let registry = registry(&summary(Outcome::DatabaseUnavailable, None), 1e9).unwrap();
        let names = names(&registry);
        for kept in [
            "relay_last_success_timestamp_seconds",
            "relay_outbox_pending_events",
            "relay_parked_payments",
        ] {
            assert!(!names.iter().any(|n| n == kept), "{kept} pushed");
        }
        assert!(names.iter().any(|n| n == "relay_last_run_exit_code"));
    }
}
