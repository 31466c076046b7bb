//! PCI: no card number leaves the server. Bad input carrying card numbers (in every field,
//! key, id, path, query, header and metadata entry a client controls) is sent over REST, native
//! gRPC and gRPC-web; every answer (status line, headers, body, gRPC message, details and
//! metadata), every log line (our crates at `debug`) and `/metrics` is then searched for the
//! card numbers sent, in any separator form: none is found.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use payment_proto::v1 as pb;
use serde_json::json;

use crate::harness::*;

/// Luhn-valid test numbers (Visa, Mastercard, Amex), with and without separators.
const PANS: [&str; 6] = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555555555554444",
    "378282246310005",
    "4012.8888.8888.1881",
];

/// The digits of `text`, separators dropped, so a number is found however it is written.
fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Everything a REST answer carries, as text.
async fn rest_text(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let mut text = format!("{status}\n");
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push_str(&response.text().await.unwrap_or_default());
    (status, text)
}

/// Everything a gRPC status carries, as text.
fn status_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?} {}\n", status.code(), status.message());
    text.push_str(&String::from_utf8_lossy(status.details()));
    for entry in status.metadata().iter() {
        if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry {
            text.push_str(&format!(
                "{key}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn no_card_number_leaves_the_server_on_any_surface() {
    let captured = Captured::install("info,payment_api=debug,payment_db=debug");
    let app = TestApp::spawn().await;
    let id = app.authorized_id(1000, "USD").await;
    let before = app.footprint().await;
    let mut answers: Vec<String> = Vec::new();
    let mut statuses = Vec::new();

    for pan in PANS {
        // REST: bodies, keys, ids, paths, queries, headers.
        let bodies = [
            json!({"amount_minor": 100, "currency": pan, "payment_method": "pm_card_visa"}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": pan}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": format!("pm_{pan}")}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": "pm_card_visa", "metadata": {pan: 1}}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": "pm_card_visa", "metadata": {"note": pan}}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": "pm_card_visa", pan: true}),
            json!({"amount_minor": pan, "currency": "USD", "payment_method": "pm_card_visa"}),
            json!({"amount_minor": 100, "currency": "USD", "payment_method": "pm_card_visa", "metadata": {"a": {pan: [pan]}}}),
        ];
        for body in &bodies {
            for key in [None, Some(pan)] {
                let (status, text) = rest_text(app.post("/v1/payments", body, key).await).await;
                statuses.push(status);
                answers.push(text);
            }
        }
        // A truncated body whose last value is the number.
        for body in [format!(
            "{{\"amount_minor\": 100, \"currency\": \"USD\", \"payment_method\": \"{pan}\""
        )] {
            let response = app.post_raw_json("/v1/payments", body).await;
            let (status, text) = rest_text(response).await;
            statuses.push(status);
            answers.push(text);
        }
        let encoded = pan.replace(' ', "%20");
        for path in [
            format!("/v1/payments/{encoded}"),
            format!("/v1/payments/{encoded}/capture"),
            format!("/v1/payments?{encoded}=1"),
            format!("/v1/payments?page_token={encoded}"),
            format!("/v1/{encoded}"),
        ] {
            let (status, text) = rest_text(app.get(&path).await).await;
            statuses.push(status);
            answers.push(text);
            let (status, text) = rest_text(
                app.post(&path, &json!({"amount_minor": 1}), Some(pan))
                    .await,
            )
            .await;
            statuses.push(status);
            answers.push(text);
        }
        for (name, value) in [
            ("x-request-id", pan.to_owned()),
            ("authorization", format!("Bearer {pan}")),
            ("authorization", format!("Bearer sk_{}", digits(pan))),
        ] {
            let response = app
                .http
                .get(app.url(&format!("/v1/payments/{id}")))
                .bearer_auth(&app.api_key)
                .header(name, value)
                .send()
                .await
                .unwrap();
            let (status, text) = rest_text(response).await;
            statuses.push(status);
            answers.push(text);
        }

        // Native gRPC: the same fields, ids, idempotency key and request id.
        let mut messages = vec![
            authorize_message(100, pan, "pm_card_visa"),
            authorize_message(100, "USD", pan),
        ];
        let mut with_metadata = authorize_message(100, "USD", "pm_card_visa");
        with_metadata
            .metadata
            .insert(pan.to_owned(), "1".to_owned());
        messages.push(with_metadata);
        let mut with_value = authorize_message(100, "USD", "pm_card_visa");
        with_value
            .metadata
            .insert("note".to_owned(), pan.to_owned());
        messages.push(with_value);
        for message in &messages {
            for key in [None, Some(pan)] {
                let mut request = app.grpc_request(message.clone(), key);
                if let Ok(value) = pan.parse() {
                    request.metadata_mut().insert("x-request-id", value);
                }
                if let Err(status) = app.grpc.clone().authorize(request).await {
                    assert_ne!(status.code(), tonic::Code::Internal, "{status:?}");
                    answers.push(status_text(&status));
                }
            }
        }
        let get = app
            .grpc
            .clone()
            .get_payment(app.grpc_request(
                pb::GetPaymentRequest {
                    payment_id: pan.to_owned(),
                },
                None,
            ))
            .await
            .unwrap_err();
        answers.push(status_text(&get));
        let capture = app
            .grpc
            .clone()
            .capture(app.grpc_request(
                pb::CaptureRequest {
                    payment_id: pan.to_owned(),
                    amount_minor: None,
                },
                Some(pan),
            ))
            .await
            .unwrap_err();
        answers.push(status_text(&capture));

        // gRPC-web: the same messages, binary and text mode.
        for message in &messages {
            for text_mode in [false, true] {
                let body = crate::web::frame(message);
                let (content_type, body) = if text_mode {
                    (
                        "application/grpc-web-text",
                        STANDARD.encode(body).into_bytes(),
                    )
                } else {
                    ("application/grpc-web+proto", body)
                };
                let response = app
                    .http
                    .post(app.url("/payments.v1.PaymentService/Authorize"))
                    .header("content-type", content_type)
                    .header("authorization", format!("Bearer {}", app.api_key))
                    .header("idempotency-key", pan)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let mut text = String::new();
                for (name, value) in response.headers() {
                    text.push_str(&format!(
                        "{name}: {}\n",
                        String::from_utf8_lossy(value.as_bytes())
                    ));
                }
                let bytes = response.bytes().await.unwrap();
                let bytes = if text_mode {
                    bytes
                        .chunks(4)
                        .flat_map(|group| STANDARD.decode(group).unwrap_or_default())
                        .collect::<Vec<u8>>()
                } else {
                    bytes.to_vec()
                };
                text.push_str(&String::from_utf8_lossy(&bytes));
                answers.push(text);
            }
        }
    }

    answers.push(app.get("/metrics").await.text().await.unwrap());
    let logs = captured.text();
    assert!(logs.lines().count() > 100, "the log was captured");
    assert!(
        statuses
            .iter()
            .all(|status| (400..500).contains(status) || *status == 200),
        "bad input is a 4xx, never a 5xx: {statuses:?}"
    );
    assert_eq!(app.footprint().await, before, "rejections write nothing");

    for pan in PANS {
        let wanted = digits(pan);
        for answer in &answers {
            assert!(
                !digits(answer).contains(&wanted),
                "{pan} in an answer:\n{answer}"
            );
        }
        for line in logs.lines() {
            assert!(
                !digits(line).contains(&wanted),
                "{pan} in a log line:\n{line}"
            );
        }
    }
    // What a reader sees instead: the last four digits.
    assert!(
        answers
            .iter()
            .any(|answer| answer.contains("************1111"))
    );
}
