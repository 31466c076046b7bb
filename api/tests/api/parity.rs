//! The same requests over REST and gRPC give the same outcome: same status class, same stable
//! code, same field, and the same payment fields on success.

use payment_proto::v1 as pb;
use serde_json::{Value, json};
use tonic::Code;

use crate::harness::*;

struct Case {
    name: &'static str,
    body: Value,
    /// `Ok(status)` for a success, `Err(code)` for the stable error code.
    expect: Result<&'static str, &'static str>,
}

fn cases() -> Vec<Case> {
    let ok = |name, amount: i64, currency: &str, method: &str, status| Case {
        name,
        body: authorize_body(amount, currency, method),
        expect: Ok(status),
    };
    let err = |name, body: Value, code| Case {
        name,
        body,
        expect: Err(code),
    };
    vec![
        ok("visa", 1999, "USD", "pm_card_visa", "authorized"),
        ok("jpy", 1000, "JPY", "pm_card_mastercard", "authorized"),
        ok("declined", 10, "EUR", "pm_card_declined", "declined"),
        ok(
            "insufficient",
            10,
            "EUR",
            "pm_card_insufficient_funds",
            "declined",
        ),
        err(
            "zero",
            authorize_body(0, "USD", "pm_card_visa"),
            "amount_not_positive",
        ),
        err(
            "negative",
            authorize_body(-5, "USD", "pm_card_visa"),
            "amount_not_positive",
        ),
        err(
            "too big",
            authorize_body(10_000_000_000_001, "USD", "pm_card_visa"),
            "amount_above_maximum",
        ),
        err(
            "lowercase",
            authorize_body(1, "usd", "pm_card_visa"),
            "currency_invalid",
        ),
        err(
            "unknown currency",
            authorize_body(1, "ZZZ", "pm_card_visa"),
            "currency_unknown",
        ),
        err(
            "test currency",
            authorize_body(1, "XTS", "pm_card_visa"),
            "currency_not_supported",
        ),
        err(
            "missing method",
            authorize_body(1, "USD", ""),
            "payment_method_required",
        ),
        err(
            "card number",
            authorize_body(1, "USD", "4111111111111111"),
            "raw_card_number_refused",
        ),
        err(
            "bad token",
            authorize_body(1, "USD", "card visa"),
            "payment_method_invalid",
        ),
        err(
            "unknown token",
            authorize_body(1, "USD", "pm_card_unknown"),
            "payment_method_unknown",
        ),
        err(
            "long description",
            json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa", "description": "d".repeat(1001)}),
            "description_too_long",
        ),
        err(
            "nul in description",
            json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa", "description": "a\u{0}b"}),
            "text_invalid_character",
        ),
        err(
            "card number in metadata",
            json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa", "metadata": {"note": "4242 4242 4242 4242"}}),
            "raw_card_number_refused",
        ),
        err(
            "long metadata value",
            json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa", "metadata": {"k": "v".repeat(501)}}),
            "metadata_value_too_long",
        ),
    ]
}

fn to_message(body: &Value) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        amount_minor: body["amount_minor"].as_i64().unwrap(),
        currency: body["currency"].as_str().unwrap().to_owned(),
        payment_method: body["payment_method"].as_str().unwrap().to_owned(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: body
            .get("metadata")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_and_grpc_agree_on_every_case() {
    let app = TestApp::spawn().await;
    let status_name = |status: pb::PaymentStatus| {
        status
            .as_str_name()
            .trim_start_matches("PAYMENT_STATUS_")
            .to_lowercase()
    };
    for case in cases() {
        let before = app.footprint().await;
        let rest = app.post("/v1/payments", &case.body, None).await;
        let rest_status = rest.status().as_u16();
        let rest_body: Value = rest.json().await.unwrap();
        let grpc = app
            .grpc
            .clone()
            .authorize(app.grpc_request(to_message(&case.body), None))
            .await;
        match case.expect {
            Ok(status) => {
                assert_eq!(rest_status, 201, "{}", case.name);
                assert_eq!(rest_body["status"], status, "{}", case.name);
                let payment = grpc
                    .unwrap_or_else(|e| panic!("{}: {e:?}", case.name))
                    .into_inner();
                assert_eq!(status_name(payment.status()), status, "{}", case.name);
                for (field, value) in [
                    ("amount_minor", payment.amount_minor),
                    ("authorized_minor", payment.authorized_minor),
                    ("captured_minor", payment.captured_minor),
                ] {
                    assert_eq!(rest_body[field], value, "{} {field}", case.name);
                }
                assert_eq!(rest_body["currency"], payment.currency, "{}", case.name);
                assert_eq!(
                    rest_body["decline_reason"].as_str(),
                    payment.decline_reason.as_deref(),
                    "{}",
                    case.name
                );
            }
            Err(code) => {
                assert_eq!(rest_status, 422, "{}", case.name);
                assert_eq!(rest_body["code"], code, "{}", case.name);
                let status = grpc.unwrap_err();
                assert_eq!(status.code(), Code::InvalidArgument, "{}", case.name);
                assert_eq!(grpc_code(&status), code, "{}", case.name);
                assert_eq!(status.message(), rest_body["detail"], "{}", case.name);
                assert_eq!(
                    app.footprint().await,
                    before,
                    "{}: a rejected request writes nothing",
                    case.name
                );
            }
        }
    }
}
