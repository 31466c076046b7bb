//! What a mature payments API sends besides the body: request ids on every surface, the
//! access-log line, `Location` on 201, refused unknown query parameters and named unknown
//! fields, the admin CLI's argument checks, and an OpenAPI document that lists those answers.

use std::io::Write as _;

use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_a_request_id_honouring_a_safe_incoming_one() {
    let app = TestApp::spawn().await;
    let body = authorize_body(100, "USD", "pm_card_visa");

    // Generated when absent, on successes and errors alike, and different per request.
    let first = app.post("/v1/payments", &body, None).await;
    let second = app.http.get(app.url("/v1/nowhere")).send().await.unwrap();
    let ids: Vec<String> = [&first, &second]
        .iter()
        .map(|r| r.headers()["request-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(second.status(), 404);
    assert!(
        ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{ids:?}"
    );
    assert_ne!(ids[0], ids[1]);

    // A safe incoming X-Request-Id is kept; an unsafe one (spaces, too long) is replaced.
    for (incoming, kept) in [
        ("req-42_a.b:c", true),
        ("two words", false),
        ("4111111111111111", false),
        (&*"x".repeat(129), false),
    ] {
        let response = app
            .http
            .get(app.url("/v1/payments"))
            .bearer_auth(&app.api_key)
            .header("x-request-id", incoming)
            .send()
            .await
            .unwrap();
        let id = response.headers()["request-id"].to_str().unwrap();
        assert_eq!(id == incoming, kept, "{incoming}");
    }

    // gRPC: response metadata, also on an error.
    let mut request = app.grpc_request(authorize_message(0, "USD", "pm_card_visa"), None);
    request
        .metadata_mut()
        .insert("x-request-id", "grpc-call-1".parse().unwrap());
    let status = app.grpc.clone().authorize(request).await.unwrap_err();
    assert_eq!(status.metadata().get("request-id").unwrap(), "grpc-call-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_access_log_line_per_request_at_info_without_secrets() {
    // nextest runs each test in its own process, so the global subscriber is this test's.
    let captured = Captured::install("info");
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/v1/payments",
            &authorize_body(100, "USD", "pm_card_visa"),
            None,
        )
        .await;
    let request_id = created.headers()["request-id"].to_str().unwrap().to_owned();
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fetched = app.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(fetched.status(), 200);
    captured.clone().flush().unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request")
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let write = &lines[0];
    assert_eq!(write["level"], "INFO");
    assert_eq!(write["fields"]["http.method"], "POST");
    assert_eq!(write["fields"]["http.route"], "/v1/payments");
    assert_eq!(write["fields"]["http.status"], 201);
    assert!(write["fields"]["latency_ms"].is_string() || write["fields"]["latency_ms"].is_number());
    assert_eq!(write["span"]["request_id"], request_id);
    assert_eq!(write["span"]["merchant_id"], app.merchant_id.to_string());
    assert_eq!(lines[1]["fields"]["http.route"], "/v1/payments/{id}");
    assert!(!text.contains(&app.api_key), "the API key is never logged");
    assert!(!text.contains("pm_card_visa"), "bodies are never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn created_payments_and_refunds_carry_location() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/v1/payments",
            &authorize_body(500, "USD", "pm_card_visa"),
            None,
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let payment: Value = created.json().await.unwrap();
    let id = payment["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/payments/{id}"));
    assert_eq!(app.get(&location).await.status(), 200);

    let captured = app
        .post(&format!("/v1/payments/{id}/capture"), &json!({}), None)
        .await;
    assert_eq!(captured.status(), 200);
    assert!(captured.headers().get("location").is_none());
    let refunded = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount_minor": 100}),
            None,
        )
        .await;
    assert_eq!(refunded.status(), 201);
    assert_eq!(refunded.headers()["location"], location.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_query_parameters_are_refused_by_name() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("limit=1", "limit"),
        ("page_size=abc", "page_size"),
        ("page_size=5&page_size=6", "page_size"),
        ("4111111111111111=x", "************1111"),
    ] {
        let response = app.get(&format!("/v1/payments?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let problem = problem(response).await;
        assert_eq!(
            (problem["code"].as_str(), problem["field"].as_str()),
            (Some("query_invalid"), Some(field)),
            "{query}"
        );
        assert!(!problem.to_string().contains("4111111111111111"));
    }
    assert_eq!(app.get("/v1/payments?page_size=5").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_are_named_and_body_errors_have_no_field() {
    let app = TestApp::spawn().await;
    let before = app.footprint().await;
    let mut body = authorize_body(100, "USD", "pm_card_visa");
    body["amount"] = json!(5);
    let response = app.post("/v1/payments", &body, Some("named-1")).await;
    assert_eq!(response.status(), 422);
    let named = problem(response).await;
    assert_eq!(
        (named["code"].as_str(), named["field"].as_str()),
        (Some("field_unknown"), Some("amount"))
    );

    let malformed = app
        .http
        .post(app.url("/v1/payments"))
        .bearer_auth(&app.api_key)
        .header("content-type", "application/json")
        .body("{\"amount_minor\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let malformed = problem(malformed).await;
    assert_eq!(malformed["code"], "malformed_json");
    assert!(malformed.get("field").is_none(), "{malformed}");

    // K12: a card number in a field path is masked.
    let mut body = authorize_body(100, "USD", "pm_card_visa");
    body["metadata"] = json!({"4111111111111111": 1});
    let response = app.post("/v1/payments", &body, None).await;
    assert_eq!(response.status(), 422);
    let text = response.text().await.unwrap();
    assert!(!text.contains("4111111111111111"), "{text}");
    assert!(text.contains("metadata.************1111"), "{text}");
    assert_eq!(app.footprint().await, before, "rejections write nothing");
}

#[test]
fn admin_create_merchant_checks_its_name_before_the_database() {
    for name in ["", "   ", &*"n".repeat(201), "tab\there"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_payment-api"))
            .args(["admin", "create-merchant", "--name", name])
            // Nothing listens here: a check that reached the database would fail differently.
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name:?}: {stderr}");
        assert!(stderr.contains("--name"), "{name:?}: {stderr}");
        assert!(!stderr.contains("constraint"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_lists_every_answer_the_routes_give() {
    let app = TestApp::spawn().await;
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(document["servers"][0]["url"].is_string());
    let paths = document["paths"].as_object().unwrap();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let mut expected = vec!["400", "401", "429", "500", "503"];
            if method == "post" {
                expected.extend(["409", "413", "415", "422"]);
            }
            for status in expected {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
            assert!(
                responses["429"]["headers"]
                    .as_object()
                    .is_some_and(|h| h.contains_key("Retry-After")),
                "{method} {path}: 429 without Retry-After"
            );
            if method == "post" {
                let key = operation["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == "Idempotency-Key")
                    .unwrap_or_else(|| panic!("{path}: no Idempotency-Key"));
                assert!(key["example"].is_string(), "{path}: no example key");
            }
        }
    }
    let description = document["info"]["description"].as_str().unwrap();
    assert!(description.contains("405"));
    assert!(description.contains("Request-Id"));
}
