//! Each error class of the architecture's table on REST and gRPC, and that none writes.

use payment_proto::v1 as pb;
use serde_json::json;
use tonic::Code;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn missing_bad_and_unknown_keys_are_401_and_unauthenticated() {
    let app = TestApp::spawn().await;
    let body = authorize_body(100, "USD", "pm_card_visa");
    let unauthenticated = [
        app.http
            .post(app.url("/v1/payments"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        app.http
            .post(app.url("/v1/payments"))
            .bearer_auth("sk_nope")
            .json(&body)
            .send()
            .await
            .unwrap(),
        app.http
            .post(app.url("/v1/payments"))
            .bearer_auth(format!("sk_{}", "A".repeat(43)))
            .json(&body)
            .send()
            .await
            .unwrap(),
    ];
    for response in unauthenticated {
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(problem(response).await["code"], "unauthenticated");
    }
    let status = app
        .grpc
        .clone()
        .authorize(tonic::Request::new(authorize_message(
            100,
            "USD",
            "pm_card_visa",
        )))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::Unauthenticated, "unauthenticated")
    );
    let status = app
        .grpc
        .clone()
        .get_payment(grpc_request_as(
            "sk_wrong",
            pb::GetPaymentRequest {
                payment_id: String::new(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_merchants_payment_is_not_found_everywhere() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(100, "USD").await;
    let other = app.other_merchant_key().await;
    let before = app.footprint().await;
    let get = app
        .http
        .get(app.url(&format!("/v1/payments/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    assert_eq!(problem(get).await["code"], "not_found");
    for path in ["capture", "void", "refunds"] {
        let response = app
            .post_as(
                &other,
                &format!("/v1/payments/{id}/{path}"),
                &json!({}),
                None,
            )
            .await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let status = app
        .grpc
        .clone()
        .capture(grpc_request_as(
            &other,
            pb::CaptureRequest {
                payment_id: id.clone(),
                amount_minor: None,
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::NotFound, "not_found")
    );
    let list: serde_json::Value = app
        .http
        .get(app.url("/v1/payments"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["payments"], json!([]));
    let unknown = app
        .get(&format!("/v1/payments/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(app.footprint().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ids_are_400_and_invalid_argument() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/payments/not-a-uuid").await;
    assert_eq!(response.status(), 400);
    let body = problem(response).await;
    assert_eq!(
        (body["code"].as_str(), body["field"].as_str()),
        (Some("payment_id_invalid"), Some("payment_id"))
    );
    let status = app
        .grpc
        .clone()
        .refund(app.grpc_request(
            pb::RefundRequest {
                payment_id: "x".into(),
                amount_minor: Some(1),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::InvalidArgument, "payment_id_invalid")
    );
    let bad_utf8 = app.get("/v1/payments/%FF%FE").await;
    assert_eq!(bad_utf8.status(), 400);
    assert_eq!(problem(bad_utf8).await["code"], "payment_id_invalid");
    let wrong_method = app
        .http
        .delete(app.url("/v1/payments"))
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(problem(wrong_method).await["code"], "method_not_allowed");
    let unknown_route = app.get("/v1/nothing-here").await;
    assert_eq!(unknown_route.status(), 404);
    assert_eq!(problem(unknown_route).await["code"], "not_found");
    let token = app.get("/v1/payments?page_token=zzz").await;
    assert_eq!(token.status(), 400);
    let size = app.get("/v1/payments?page_size=-1").await;
    assert_eq!(size.status(), 422);
    let size = app.get("/v1/payments?page_size=ten").await;
    assert_eq!(size.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_errors_carry_error_info_and_field_violations() {
    use tonic_types::StatusExt;
    let app = TestApp::spawn().await;
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(0, "USD", "pm_card_visa"), None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("amount_not_positive", "payment-service")
    );
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "amount_minor"
    );
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_over_its_rate_limit_gets_429_and_resource_exhausted() {
    use std::num::NonZeroU32;
    let limit = payment_api::rate_limit::RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    };
    let app = TestApp::spawn_with(Options {
        rate_limits: payment_api::rate_limit::RateLimits::both(limit),
        ..Options::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.post(
                "/v1/payments",
                &authorize_body(1, "USD", "pm_card_visa"),
                None
            )
            .await
            .status(),
            201
        );
    }
    let before = app.footprint().await;
    let limited = app
        .post(
            "/v1/payments",
            &authorize_body(1, "USD", "pm_card_visa"),
            None,
        )
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    // draft-ietf-httpapi-ratelimit-headers: 3 units that take 3 s to refill; none left.
    assert_eq!(limited.headers()["ratelimit-policy"], "\"writes\";q=3;w=3");
    assert_eq!(limited.headers()["ratelimit"], "\"writes\";r=0;t=1");
    assert_eq!(problem(limited).await["code"], "rate_limited");
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(1, "USD", "pm_card_visa"), None))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::ResourceExhausted, "rate_limited")
    );
    {
        use tonic_types::StatusExt as _;
        let retry = status.get_details_retry_info().expect("a RetryInfo detail");
        assert_eq!(retry.retry_delay, Some(std::time::Duration::from_secs(1)));
    }
    assert_eq!(
        app.footprint().await,
        before,
        "a limited request writes nothing"
    );
    // Limits are per merchant.
    let other = app.other_merchant_key().await;
    assert_eq!(
        app.post_as(
            &other,
            "/v1/payments",
            &authorize_body(1, "USD", "pm_card_visa"),
            None
        )
        .await
        .status(),
        201
    );
}
