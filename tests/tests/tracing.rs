//! One trace from request to Kafka record: the API and relay-job export spans over OTLP/HTTP to
//! a receiver in the test ([`e2e::otlp::Receiver`]), and the record's `traceparent` header is
//! the context of the relay's produce span, in the trace the API request started or continued.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::client::{Call, Client, Surface};
use e2e::otlp::{ReceivedSpan, Receiver};
use e2e::stack::{self, RelayTarget};
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers as _;

/// `(key, traceparent header)` of every record on `topic`, read from the beginning until
/// `count` are in.
fn records(brokers: &str, topic: &str, count: usize) -> Vec<(String, String)> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("trace-test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < count && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
        let traceparent = message
            .headers()
            .and_then(|headers| {
                headers
                    .iter()
                    .find(|header| header.key == "traceparent")
                    .and_then(|header| header.value)
                    .map(|value| String::from_utf8(value.to_vec()).unwrap())
            })
            .expect("a traceparent header");
        records.push((key, traceparent));
    }
    assert_eq!(records.len(), count, "records on {topic}");
    records
}

/// Waits until `found` holds for the spans received (the exporters batch every 100 ms).
async fn spans_until(
    receiver: &Receiver,
    found: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = receiver.spans();
        if found(&spans) || Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `(trace id, span id)` of a version-00 `traceparent`.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!((parts.len(), parts[0]), (4, "00"), "{traceparent}");
    (parts[1].to_owned(), parts[2].to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorization_and_its_kafka_record_are_one_trace_across_both_services() {
    let receiver = Receiver::start().await.unwrap();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (_, database_url) = payment_db::testing::fresh_database().await;
    let merchant = stack::migrated_with_merchant(&database_url, "Traces").unwrap();
    let api = stack::start_api_with(&database_url, &otel).await.unwrap();

    // Over REST, continuing the caller's trace.
    let caller_trace = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/payments", api.base_url))
        .bearer_auth(&merchant.api_key)
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .json(&serde_json::json!({"amount_minor": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let rest_payment = answer.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Over gRPC, with no trace of the caller's: the API starts one.
    let client = Client::connect(&api.base_url, &merchant.api_key)
        .await
        .unwrap();
    let grpc_payment = client
        .call(
            Surface::Grpc,
            &Call::Authorize {
                amount_minor: 500,
                currency: "USD".into(),
                payment_method: "pm_card_visa".into(),
            },
            None,
        )
        .await
        .unwrap()
        .id;

    let relay = RelayTarget::with_own_topics(&database_url, "trace");
    let output = relay
        .command(&["run", "--max-runtime", "10s"])
        .unwrap()
        .envs(otel)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let headers: HashMap<String, String> = records(&relay.brokers, &relay.events_topic, 2)
        .into_iter()
        .collect();

    let (rest_trace, rest_record_span) = ids(&headers[&rest_payment]);
    let (grpc_trace, grpc_record_span) = ids(&headers[&grpc_payment]);
    assert_eq!(
        rest_trace, caller_trace,
        "the record continues the caller's trace"
    );
    assert_ne!(grpc_trace, rest_trace);
    let spans = spans_until(&receiver, |spans| {
        [&rest_record_span, &grpc_record_span]
            .iter()
            .all(|id| spans.iter().any(|span| &&span.span_id == id))
            && spans
                .iter()
                .filter(|span| span.service == "payment-api")
                .count()
                >= 4
    })
    .await;
    let find = |service: &str, trace: &str, name: &str| {
        spans
            .iter()
            .find(|span| span.service == service && span.trace_id == trace && span.name == name)
            .unwrap_or_else(|| panic!("no {service} span {name:?} in trace {trace}: {spans:#?}"))
            .clone()
    };

    // REST: the API's server span is the caller's child; its transaction is the server span's
    // child; the relay's produce span is the server span's child, and is what the record names.
    let server = find("payment-api", &rest_trace, "POST /v1/payments");
    assert_eq!(server.parent_span_id, caller_span);
    let transaction = spans.iter().find(|span| {
        span.trace_id == rest_trace
            && span.name == "transaction"
            && span.parent_span_id == server.span_id
    });
    assert!(
        transaction.is_some(),
        "no transaction span under {server:?}: {spans:#?}"
    );
    let produce = find(
        "relay-job",
        &rest_trace,
        &format!("{} publish", relay.events_topic),
    );
    assert_eq!(produce.parent_span_id, server.span_id);
    assert_eq!(produce.span_id, rest_record_span);
    // The produce span links to the relay's batch, whose trace is the run's.
    let run = spans
        .iter()
        .find(|span| span.service == "relay-job" && span.name == "relay run")
        .expect("the relay's run span");
    assert!(
        spans
            .iter()
            .any(|span| produce.links.contains(&span.span_id) && span.trace_id == run.trace_id),
        "the produce span links into the run's trace: {produce:?}"
    );

    // gRPC: the API's server span is the root of the trace the record continues.
    let server = find(
        "payment-api",
        &grpc_trace,
        "payments.v1.PaymentService/Authorize",
    );
    assert_eq!(server.parent_span_id, "");
    let produce = find(
        "relay-job",
        &grpc_trace,
        &format!("{} publish", relay.events_topic),
    );
    assert_eq!(produce.parent_span_id, server.span_id);
    assert_eq!(produce.span_id, grpc_record_span);
}
