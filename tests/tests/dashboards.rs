//! The committed Grafana dashboard (`dashboards/grafana/payment-service.json`) asks only for
//! metrics the code exports: the API's, read from a running server's `/metrics`, and the
//! relay's, pushed to the Pushgateway (`relay_job::pushgateway::METRIC_NAMES`). A renamed metric
//! fails here instead of leaving an empty panel.

use std::collections::BTreeSet;

use e2e::stack;

const DASHBOARD: &str = include_str!("../../dashboards/grafana/payment-service.json");

/// PromQL functions, aggregations and keywords (Prometheus documentation, "Querying").
const PROMQL_WORDS: &[&str] = &[
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "deriv",
    "histogram_quantile",
    "time",
    "clamp_min",
    "clamp_max",
    "by",
    "without",
    "on",
    "ignoring",
    "and",
    "or",
    "unless",
    "offset",
];

/// Removes every `open … close` group (label matchers, `by (…)` lists, range selectors).
fn without_groups(expr: &str, open: char, close: char) -> String {
    let mut depth = 0_u32;
    expr.chars()
        .filter(|c| {
            if *c == open {
                depth += 1;
            } else if *c == close && depth > 0 {
                depth -= 1;
                return false;
            }
            depth == 0
        })
        .collect()
}

/// The metric names an expression selects.
fn metrics_in(expr: &str) -> BTreeSet<String> {
    let mut bare = without_groups(&without_groups(expr, '{', '}'), '[', ']');
    // `by (label, …)` and `without (…)` name labels, not metrics.
    for keyword in ["by (", "without ("] {
        while let Some(start) = bare.find(keyword) {
            let end = bare[start..]
                .find(')')
                .map_or(bare.len(), |i| start + i + 1);
            bare.replace_range(start..end, " ");
        }
    }
    bare.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| token.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        .filter(|token| !PROMQL_WORDS.contains(token))
        .map(str::to_owned)
        .collect()
}

#[test]
fn expressions_are_read_as_their_metrics() {
    assert_eq!(
        metrics_in(
            r#"histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{surface="rest"}[5m])))"#
        ),
        BTreeSet::from(["http_request_duration_seconds_bucket".to_owned()])
    );
    assert_eq!(
        metrics_in("time() - max(relay_last_success_timestamp_seconds) / clamp_min(x_total, 1)"),
        BTreeSet::from([
            "relay_last_success_timestamp_seconds".to_owned(),
            "x_total".to_owned()
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_query_names_an_exported_metric() {
    let (_, url) = payment_db::testing::fresh_database().await;
    let merchant = stack::migrated_with_merchant(&url, "Dashboards").unwrap();
    let api = stack::start_api(&url).await.unwrap();
    let http = reqwest::Client::new();
    // One answer and one refusal, so every labelled family has a series.
    for key in [merchant.api_key.as_str(), "wrong"] {
        http.get(format!("{}/v1/payments", api.base_url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
    }
    let scraped = http
        .get(format!("{}/metrics", api.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut exported: BTreeSet<String> = relay_job::pushgateway::METRIC_NAMES
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    for line in scraped.lines() {
        let mut words = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (words.next(), words.next(), words.next(), words.next())
        {
            exported.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    exported.insert(format!("{name}{suffix}"));
                }
            }
        }
    }

    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            let metrics = metrics_in(expr);
            assert!(!metrics.is_empty(), "{expr} selects no metric");
            for metric in &metrics {
                assert!(
                    exported.contains(metric),
                    "panel {:?} asks for {metric}, which nothing exports (exported: {exported:?})",
                    panel["title"]
                );
            }
            queried.extend(metrics);
        }
    }
    // And the figures an operator looks for first are on it.
    for needed in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "outbox_backlog",
        "relay_last_run_published_events",
        "relay_last_run_dead_lettered_events",
        "relay_outbox_oldest_pending_age_seconds",
    ] {
        assert!(queried.contains(needed), "no panel shows {needed}");
    }
}
