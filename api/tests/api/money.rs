//! K10: money rules through the API: ISO 4217 exponents, bounds below 2^53, checked totals,
//! clear 422s, balanced ledgers, the same on both surfaces and in the event schema.

use serde_json::json;
use tonic::Code;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn amounts_in_minor_units_of_each_currency() {
    let app = TestApp::spawn().await;
    for (amount, currency) in [
        (1000, "JPY"),
        (1234, "KWD"),
        (1, "USD"),
        (100_000_000_000_000, "KWD"),
        (100_000_000_000, "JPY"),
    ] {
        let payment = app.authorize(amount, currency).await;
        assert_eq!(
            (
                payment["amount_minor"].as_i64(),
                payment["currency"].as_str()
            ),
            (Some(amount), Some(currency))
        );
        let events = app.assert_consistent(payment["id"].as_str().unwrap()).await;
        assert_eq!(events[0]["data"]["amount_minor"], amount);
    }
    let rejected = [
        (0, "USD", "amount_not_positive"),
        (-1, "USD", "amount_not_positive"),
        (i64::MAX, "USD", "amount_above_maximum"),
        ((1 << 53) + 1, "USD", "amount_above_maximum"),
        (100_000_000_001, "JPY", "amount_above_maximum"),
        (100, "usd", "currency_invalid"),
        (100, "XTS", "currency_not_supported"),
        (100, "QQQ", "currency_unknown"),
    ];
    let before = app.footprint().await;
    for (amount, currency, code) in rejected {
        let response = app
            .post(
                "/v1/payments",
                &authorize_body(amount, currency, "pm_card_visa"),
                None,
            )
            .await;
        assert_eq!(response.status(), 422, "{amount} {currency}");
        assert_eq!(problem(response).await["code"], code);
        let status = app
            .grpc
            .clone()
            .authorize(app.grpc_request(authorize_message(amount, currency, "pm_card_visa"), None))
            .await
            .unwrap_err();
        assert_eq!(
            (status.code(), grpc_code(&status).as_str()),
            (Code::InvalidArgument, code)
        );
    }
    assert_eq!(app.footprint().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn refund_totals_never_pass_the_captured_amount() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(1000, "USD").await;
    app.post(
        &format!("/v1/payments/{id}/capture"),
        &json!({"amount_minor": 700}),
        None,
    )
    .await;
    for amount in [701, i64::MAX] {
        let response = app
            .post(
                &format!("/v1/payments/{id}/refunds"),
                &json!({"amount_minor": amount}),
                None,
            )
            .await;
        assert_eq!(response.status(), 422);
        let code = problem(response).await["code"].as_str().unwrap().to_owned();
        assert!(
            code == "amount_exceeds_refundable" || code == "amount_overflow",
            "{code}"
        );
    }
    app.post(
        &format!("/v1/payments/{id}/refunds"),
        &json!({"amount_minor": 699}),
        None,
    )
    .await;
    let response = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount_minor": i64::MAX}),
            None,
        )
        .await;
    assert_eq!(
        response.status(),
        422,
        "a total that would overflow is refused, not wrapped"
    );
    let capture_zero = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount_minor": 0}),
            None,
        )
        .await;
    assert_eq!(capture_zero.status(), 422);
    let mut conn = app.db().await;
    let sums = texts(
        &mut conn,
        "SELECT (sum(amount_minor) FILTER (WHERE direction = 'debit') - sum(amount_minor) FILTER (WHERE direction = 'credit'))::text AS value FROM ledger_entries",
    )
    .await;
    assert_eq!(sums, ["0"], "debits equal credits");
    app.assert_consistent(&id).await;
}
