//! Every REST route and RPC on its success path, with the database state each write leaves.

use payment_proto::v1 as pb;
use serde_json::json;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn rest_routes_write_payment_ledger_and_one_event_each() {
    let app = TestApp::spawn().await;
    let payment = app.authorize(5000, "EUR").await;
    let id = payment["id"].as_str().unwrap().to_owned();
    assert_eq!(payment["status"], "authorized");
    assert_eq!(payment["authorized_minor"], 5000);
    assert_eq!(app.footprint().await, [1, 2, 1, 0]);

    let fetched: serde_json::Value = app
        .get(&format!("/v1/payments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, payment);

    let captured = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount_minor": 3000}),
            None,
        )
        .await;
    assert_eq!(captured.status(), 200);
    let captured: serde_json::Value = captured.json().await.unwrap();
    assert_eq!(
        (
            captured["status"].as_str(),
            captured["captured_minor"].as_i64()
        ),
        (Some("captured"), Some(3000))
    );
    assert_eq!(app.footprint().await, [1, 6, 2, 0]);

    let refunded = app
        .post(&format!("/v1/payments/{id}/refunds"), &json!({}), None)
        .await;
    assert_eq!(refunded.status(), 201);
    let refunded: serde_json::Value = refunded.json().await.unwrap();
    assert_eq!(
        (
            refunded["status"].as_str(),
            refunded["refunded_minor"].as_i64()
        ),
        (Some("refunded"), Some(3000))
    );
    assert_eq!(app.footprint().await, [1, 8, 3, 0]);

    let voidable = app.authorize(100, "USD").await;
    let voided = app
        .http
        .post(app.url(&format!(
            "/v1/payments/{}/void",
            voidable["id"].as_str().unwrap()
        )))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(voided.status(), 200, "a void needs no body");
    let voided: serde_json::Value = voided.json().await.unwrap();
    assert_eq!(voided["status"], "voided");

    let list: serde_json::Value = app.get("/v1/payments").await.json().await.unwrap();
    let ids: Vec<&str> = list["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![voided["id"].as_str().unwrap(), id.as_str()],
        "newest first"
    );
    assert!(list.get("next_page_token").is_none());

    let events = app.assert_consistent(&id).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["payment.authorized", "payment.captured", "payment.refunded"]
    );
    app.assert_consistent(voided["id"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_methods_write_payment_ledger_and_one_event_each() {
    let app = TestApp::spawn().await;
    let mut grpc = app.grpc.clone();
    let mut message = authorize_message(1234, "KWD", "pm_card_visa");
    message.description = Some("order 7".into());
    message.metadata.insert("order".into(), "7".into());
    let payment = grpc
        .authorize(app.grpc_request(message, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(payment.status(), pb::PaymentStatus::Authorized);
    assert_eq!(
        (payment.version, payment.description.as_deref()),
        (1, Some("order 7"))
    );
    let id = payment.id.clone();

    let captured = grpc
        .capture(app.grpc_request(
            pb::CaptureRequest {
                payment_id: id.clone(),
                amount_minor: None,
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (captured.status(), captured.captured_minor),
        (pb::PaymentStatus::Captured, 1234)
    );

    let refunded = grpc
        .refund(app.grpc_request(
            pb::RefundRequest {
                payment_id: id.clone(),
                amount_minor: Some(234),
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (refunded.status(), refunded.refunded_minor),
        (pb::PaymentStatus::PartiallyRefunded, 234)
    );

    let fetched = grpc
        .get_payment(app.grpc_request(
            pb::GetPaymentRequest {
                payment_id: id.clone(),
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, refunded);

    let second = grpc
        .authorize(app.grpc_request(authorize_message(1, "JPY", "pm_card_visa"), None))
        .await
        .unwrap()
        .into_inner();
    let voided = grpc
        .void(app.grpc_request(
            pb::VoidRequest {
                payment_id: second.id.clone(),
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voided.status(), pb::PaymentStatus::Voided);

    let page = grpc
        .list_payments(app.grpc_request(
            pb::ListPaymentsRequest {
                page_size: 1,
                page_token: String::new(),
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.payments.len(), 1);
    assert_eq!(page.payments[0].id, second.id);
    let next = grpc
        .list_payments(app.grpc_request(
            pb::ListPaymentsRequest {
                page_size: 1,
                page_token: page.next_page_token,
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.payments[0].id, id);
    assert!(next.next_page_token.is_empty());

    assert_eq!(app.assert_consistent(&id).await.len(), 3);
    assert_eq!(app.assert_consistent(&second.id).await.len(), 2);
    assert_eq!(app.footprint().await, [2, 2 + 4 + 2 + 2 + 2, 5, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decline_stores_a_declined_payment_and_event_without_ledger_entries() {
    let app = TestApp::spawn().await;
    for (token, reason) in [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
    ] {
        let response = app
            .post("/v1/payments", &authorize_body(700, "USD", token), None)
            .await;
        assert_eq!(response.status(), 201);
        let payment: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            (
                payment["status"].as_str(),
                payment["decline_reason"].as_str()
            ),
            (Some("declined"), Some(reason))
        );
        assert_eq!(payment["authorized_minor"], 0);
        let events = app.assert_consistent(payment["id"].as_str().unwrap()).await;
        assert_eq!(events[0]["type"], "payment.declined");
        assert_eq!(events[0]["data"]["decline_reason"], reason);
    }
    assert_eq!(
        app.count("ledger_entries").await,
        0,
        "a decline moves no money"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_are_capped_at_100() {
    let app = TestApp::spawn().await;
    let mut conn = app.db().await;
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        &format!(
            "INSERT INTO payments (id, merchant_id, status, currency, amount_minor, authorized_minor, captured_minor, \
             refunded_minor, payment_method, version, created_at, updated_at) \
             SELECT gen_random_uuid(), '{}', 'authorized', 'USD', 1, 1, 0, 0, 'pm_card_visa', 1, now(), now() \
             FROM generate_series(1, 130)",
            app.merchant_id
        ),
    )
    .await
    .unwrap();
    let page: serde_json::Value = app
        .get("/v1/payments?page_size=100000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["payments"].as_array().unwrap().len(), 100);
    assert!(page["next_page_token"].is_string());
    let grpc_page = app
        .grpc
        .clone()
        .list_payments(app.grpc_request(
            pb::ListPaymentsRequest {
                page_size: i32::MAX,
                page_token: String::new(),
            },
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grpc_page.payments.len(), 100);
    let rest: serde_json::Value = app
        .get(&format!(
            "/v1/payments?page_size=100&page_token={}",
            page["next_page_token"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["payments"].as_array().unwrap().len(), 30);
}
