//! The lifecycle of the architecture, through the API, with the per-payment sequence.

use payment_proto::v1 as pb;
use serde_json::json;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn authorize_partial_capture_two_refunds_then_refund_past_captured_fails() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(10_000, "USD").await;
    let capture = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount_minor": 6000}),
            None,
        )
        .await;
    assert_eq!(capture.status(), 200);
    for (amount, status) in [(1000, "partially_refunded"), (2000, "partially_refunded")] {
        let refund = app
            .post(
                &format!("/v1/payments/{id}/refunds"),
                &json!({"amount_minor": amount}),
                None,
            )
            .await;
        assert_eq!(refund.status(), 201);
        assert_eq!(
            refund.json::<serde_json::Value>().await.unwrap()["status"],
            status
        );
    }
    let before = app.footprint().await;
    let too_much = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount_minor": 3001}),
            None,
        )
        .await;
    assert_eq!(too_much.status(), 422);
    let body = problem(too_much).await;
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("amount_exceeds_refundable"), Some("amount_minor"))
    );
    assert_eq!(
        app.footprint().await,
        before,
        "a refused refund changes nothing"
    );

    let last = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount_minor": 3000}),
            None,
        )
        .await;
    assert_eq!(
        last.json::<serde_json::Value>().await.unwrap()["status"],
        "refunded"
    );
    let events = app.assert_consistent(&id).await;
    let sequences: Vec<&str> = events
        .iter()
        .map(|e| e["sequence"].as_str().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=5)
            .map(payment_events::format_sequence)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn illegal_transitions_are_409_and_failed_precondition_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(500, "USD").await;
    assert_eq!(
        app.post(&format!("/v1/payments/{id}/capture"), &json!({}), None)
            .await
            .status(),
        200
    );
    let before = app.footprint().await;
    for path in ["void", "capture"] {
        let response = app
            .post(&format!("/v1/payments/{id}/{path}"), &json!({}), None)
            .await;
        assert_eq!(response.status(), 409, "{path} after capture");
        assert_eq!(problem(response).await["code"], "illegal_transition");
    }
    let status = app
        .grpc
        .clone()
        .void(app.grpc_request(
            pb::VoidRequest {
                payment_id: id.clone(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(grpc_code(&status), "illegal_transition");
    let declined = app
        .post(
            "/v1/payments",
            &authorize_body(5, "USD", "pm_card_declined"),
            None,
        )
        .await;
    let declined_id = declined.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before_declined = app.footprint().await;
    let refund = app
        .post(
            &format!("/v1/payments/{declined_id}/capture"),
            &json!({}),
            None,
        )
        .await;
    assert_eq!(refund.status(), 409);
    assert_eq!(app.footprint().await, before_declined);
    assert_eq!(before[0] + 1, before_declined[0]);
}
