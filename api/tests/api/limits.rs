//! K02: one size limit on every surface, applied after decompression; oversized requests get
//! RESOURCE_EXHAUSTED / 413 problem+json and write nothing.

use std::collections::BTreeMap;

use payment_proto::v1 as pb;
use prost::Message;
use serde_json::Value;
use tonic::Code;

use crate::harness::*;

/// Metadata whose entries make the encoded request exactly `target` bytes by `size`.
fn metadata_for(
    target: usize,
    size: impl Fn(&BTreeMap<String, String>) -> usize,
) -> BTreeMap<String, String> {
    for bulk in 0..=45 {
        let mut metadata: BTreeMap<String, String> = (0..bulk)
            .map(|i| (format!("k{i:02}"), "v".repeat(400)))
            .collect();
        for last in 0..=500 {
            metadata.insert("zz".to_owned(), "w".repeat(last));
            if size(&metadata) == target {
                return metadata;
            }
        }
    }
    panic!("no metadata reaches {target} bytes");
}

fn grpc_message(target: usize) -> pb::AuthorizeRequest {
    let base = authorize_message(100, "USD", "pm_card_visa");
    let metadata = metadata_for(target, |metadata| {
        pb::AuthorizeRequest {
            metadata: metadata.clone().into_iter().collect(),
            ..base.clone()
        }
        .encoded_len()
    });
    pb::AuthorizeRequest {
        metadata: metadata.into_iter().collect(),
        ..base
    }
}

fn rest_body(target: usize) -> Vec<u8> {
    let body = |metadata: &BTreeMap<String, String>| -> Vec<u8> {
        let mut value = authorize_body(100, "USD", "pm_card_visa");
        value["metadata"] = serde_json::to_value(metadata).unwrap();
        serde_json::to_vec(&value).unwrap()
    };
    body(&metadata_for(target, |metadata| body(metadata).len()))
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_messages_under_at_and_over_the_limit() {
    let app = TestApp::spawn().await;
    for (delta, ok) in [(-1_i64, true), (0, true), (1, false)] {
        let target = (TEST_BODY_LIMIT as i64 + delta) as usize;
        let message = grpc_message(target);
        assert_eq!(message.encoded_len(), target);
        let before = app.footprint().await;
        let result = app
            .grpc
            .clone()
            .authorize(app.grpc_request(message, None))
            .await;
        if ok {
            result.unwrap_or_else(|e| panic!("{delta}: {e:?}"));
        } else {
            let status = result.unwrap_err();
            assert_eq!(
                (status.code(), grpc_code(&status).as_str()),
                (Code::ResourceExhausted, "payload_too_large")
            );
            assert_eq!(app.footprint().await, before);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_gzip_body_that_inflates_past_the_limit_is_refused() {
    let app = TestApp::spawn().await;
    let mut message = authorize_message(100, "USD", "pm_card_visa");
    message.description = Some("a".repeat(TEST_BODY_LIMIT * 4));
    let status = app
        .grpc_gzip()
        .authorize(app.grpc_request(message, None))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::ResourceExhausted, "payload_too_large")
    );
    // A compressed request within the limit is fine.
    let ok = app
        .grpc_gzip()
        .authorize(app.grpc_request(authorize_message(100, "USD", "pm_card_visa"), None))
        .await;
    ok.unwrap();
    assert_eq!(app.footprint().await, [1, 2, 1, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_bodies_under_at_and_over_the_limit() {
    let app = TestApp::spawn().await;
    for (delta, status) in [(-1_i64, 201), (0, 201), (1, 413)] {
        let body = rest_body((TEST_BODY_LIMIT as i64 + delta) as usize);
        let before = app.footprint().await;
        let response = app.post_raw_json("/v1/payments", body).await;
        assert_eq!(response.status().as_u16(), status, "{delta}");
        if status == 413 {
            let problem: Value = problem(response).await;
            assert_eq!(problem["code"], "payload_too_large");
            assert_eq!(app.footprint().await, before);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_rest_body_without_length_is_cut_at_the_limit() {
    let app = TestApp::spawn().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        std::iter::once(Ok(br#"{"description":""#.to_vec()))
            .chain((0..40).map(|_| Ok(vec![b'x'; 1024])))
            .collect();
    let response = app
        .http
        .post(app.url("/v1/payments"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(problem(response).await["code"], "payload_too_large");
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
}
