//! Load test of a payment-service deployment, with goose (`scripts/load` runs it; every goose
//! option works, `--help` lists them). Users run two scenarios against `--host`:
//!
//! - **REST** (weight 2): authorize → capture → partial refund → get → list, each write with
//!   its own `Idempotency-Key`;
//! - **gRPC** (weight 1): the same lifecycle through gRPC-web (`Authorize`, `Capture`,
//!   `Refund`, `GetPayment`): the same service and codecs as native gRPC, over HTTP/1.1 so the
//!   engine's HTTP client can carry it. A call counts as failed unless its `grpc-status` is 0.
//!   (Native HTTP/2 gRPC is measured in-machine by the `bench` binary.)
//!
//! The merchant's API key comes from `LOAD_API_KEY`. Thresholds (`--threshold "p95<250ms"`,
//! `--threshold "error-rate<1%"`) make the run exit non-zero when they fail; `--report-file
//! out.html` writes goose's HTML report with its charts.

use std::sync::OnceLock;

use e2e::client::{grpc_web_frame, grpc_web_status};
use goose::prelude::*;
use payment_proto::v1 as pb;
use prost::Message as _;

/// The merchant key every user sends (`LOAD_API_KEY`).
static API_KEY: OnceLock<String> = OnceLock::new();

fn api_key() -> &'static str {
    API_KEY.get().map_or("", String::as_str)
}

/// A failure of a step whose answer was not what the lifecycle needs.
fn failed(
    user: &mut GooseUser,
    request: &mut goose::metrics::GooseRequestMetric,
    why: &str,
) -> TransactionResult {
    user.set_failure(why, request, None, None)
}

/// One REST call named `name`: a JSON `body` POSTed (with an idempotency key) or a GET; the
/// answer's JSON when its status is `expected`.
async fn rest(
    user: &mut GooseUser,
    name: &str,
    path: &str,
    body: Option<serde_json::Value>,
    expected: u16,
) -> Result<Option<serde_json::Value>, Box<TransactionError>> {
    let method = if body.is_some() {
        GooseMethod::Post
    } else {
        GooseMethod::Get
    };
    let mut builder = user
        .get_request_builder(&method, path)?
        .header("authorization", format!("Bearer {}", api_key()));
    if let Some(body) = body {
        builder = builder
            .header("content-type", "application/json")
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .body(body.to_string());
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(expected)
        .set_request_builder(builder)
        .build();
    let mut goose = user.request(request).await?;
    let answer = match goose.response {
        Ok(response) if response.status().as_u16() == expected => response.json().await.ok(),
        _ => None,
    };
    if answer.is_none() {
        failed(user, &mut goose.request, "unexpected answer")?;
    }
    Ok(answer)
}

async fn rest_lifecycle(user: &mut GooseUser) -> TransactionResult {
    let authorize = serde_json::json!({"amount_minor": 1999, "currency": "USD", "payment_method": "pm_card_visa"});
    let Some(payment) = rest(user, "REST authorize", "/v1/payments", Some(authorize), 201).await?
    else {
        return Ok(());
    };
    let id = payment
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let capture = serde_json::json!({});
    rest(
        user,
        "REST capture",
        &format!("/v1/payments/{id}/capture"),
        Some(capture),
        200,
    )
    .await?;
    let refund = serde_json::json!({"amount_minor": 500});
    rest(
        user,
        "REST refund",
        &format!("/v1/payments/{id}/refunds"),
        Some(refund),
        201,
    )
    .await?;
    rest(user, "REST get", &format!("/v1/payments/{id}"), None, 200).await?;
    rest(user, "REST list", "/v1/payments?page_size=10", None, 200).await?;
    Ok(())
}

/// One gRPC-web call of `method` with `message`; the answer's message when `grpc-status` is 0.
async fn grpc_web(
    user: &mut GooseUser,
    method: &str,
    message: &[u8],
    write: bool,
) -> Result<Option<pb::Payment>, Box<TransactionError>> {
    let path = format!("/payments.v1.PaymentService/{method}");
    let mut builder = user
        .get_request_builder(&GooseMethod::Post, &path)?
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {}", api_key()))
        .body(grpc_web_frame(message));
    if write {
        builder = builder.header("idempotency-key", uuid::Uuid::new_v4().to_string());
    }
    let name = format!("gRPC {method}");
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path.as_str())
        .name(name.as_str())
        .set_request_builder(builder)
        .build();
    let mut goose = user.request(request).await?;
    let mut payment = None;
    if let Ok(response) = goose.response {
        let headers = response.headers().clone();
        if let Ok(body) = response.bytes().await
            && grpc_web_status(&headers, &body) == Some(0)
        {
            payment = e2e::client::split_frames(&body)
                .0
                .and_then(|message| pb::Payment::decode(message.as_slice()).ok());
        }
    }
    if payment.is_none() {
        failed(user, &mut goose.request, "grpc-status not 0")?;
    }
    Ok(payment)
}

async fn grpc_lifecycle(user: &mut GooseUser) -> TransactionResult {
    let authorize = pb::AuthorizeRequest {
        amount_minor: 2500,
        currency: "EUR".into(),
        payment_method: "pm_card_visa".into(),
        ..Default::default()
    };
    let Some(payment) = grpc_web(user, "Authorize", &authorize.encode_to_vec(), true).await? else {
        return Ok(());
    };
    let id = payment.id;
    let capture = pb::CaptureRequest {
        payment_id: id.clone(),
        amount_minor: None,
    };
    grpc_web(user, "Capture", &capture.encode_to_vec(), true).await?;
    let refund = pb::RefundRequest {
        payment_id: id.clone(),
        amount_minor: Some(700),
    };
    grpc_web(user, "Refund", &refund.encode_to_vec(), true).await?;
    let get = pb::GetPaymentRequest { payment_id: id };
    grpc_web(user, "GetPayment", &get.encode_to_vec(), false).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let _ = API_KEY.set(std::env::var("LOAD_API_KEY").unwrap_or_default());
    if api_key().is_empty() {
        eprintln!("LOAD_API_KEY must hold the merchant's API key (scripts/load sets it)");
        std::process::exit(2);
    }
    GooseAttack::initialize()?
        .register_scenario(
            scenario!("REST")
                .set_weight(2)?
                .register_transaction(transaction!(rest_lifecycle).set_name("REST lifecycle")),
        )
        .register_scenario(
            scenario!("gRPC")
                .set_weight(1)?
                .register_transaction(transaction!(grpc_lifecycle).set_name("gRPC lifecycle")),
        )
        .execute()
        .await?;
    Ok(())
}
