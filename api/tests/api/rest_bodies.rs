//! K03: REST body rejections are ours (problem+json, stable code, field path, fixed status per
//! kind), mean the same as the gRPC status for the same mistake, and write nothing.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_our_envelope_and_write_nothing() {
    let app = TestApp::spawn().await;
    let tail = r#""currency":"USD","payment_method":"pm_card_visa""#;
    // (name, content type, body, status, code, field)
    type Case<'a> = (&'a str, Option<&'a str>, String, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "no content type",
            None,
            format!(r#"{{"amount_minor":100,{tail}}}"#),
            415,
            "unsupported_media_type",
            "",
        ),
        (
            "text/plain",
            Some("text/plain"),
            format!(r#"{{"amount_minor":100,{tail}}}"#),
            415,
            "unsupported_media_type",
            "",
        ),
        (
            "truncated",
            Some("application/json"),
            format!(r#"{{"amount_minor":100,{tail}"#),
            400,
            "malformed_json",
            "",
        ),
        (
            "amount as string",
            Some("application/json"),
            format!(r#"{{"amount_minor":"100",{tail}}}"#),
            422,
            "field_invalid_type",
            "amount_minor",
        ),
        (
            "amount 1e2",
            Some("application/json"),
            format!(r#"{{"amount_minor":1e2,{tail}}}"#),
            422,
            "field_invalid_type",
            "amount_minor",
        ),
        (
            "amount 100.5",
            Some("application/json"),
            format!(r#"{{"amount_minor":100.5,{tail}}}"#),
            422,
            "field_invalid_type",
            "amount_minor",
        ),
        (
            "amount -1",
            Some("application/json"),
            format!(r#"{{"amount_minor":-1,{tail}}}"#),
            422,
            "amount_not_positive",
            "amount_minor",
        ),
        (
            "the fields as an array",
            Some("application/json"),
            r#"[100,"USD","pm_card_visa"]"#.to_owned(),
            422,
            "field_invalid_type",
            "",
        ),
        (
            "currency missing",
            Some("application/json"),
            r#"{"amount_minor":100,"payment_method":"pm_card_visa"}"#.to_owned(),
            422,
            "field_required",
            "currency",
        ),
        (
            "unknown field",
            Some("application/json"),
            format!(r#"{{"amount_minor":100,{tail},"cvv":"123"}}"#),
            422,
            "field_unknown",
            "cvv",
        ),
        (
            "field twice",
            Some("application/json"),
            format!(r#"{{"amount_minor":100,"amount_minor":200,{tail}}}"#),
            422,
            "field_duplicated",
            "amount_minor",
        ),
        (
            "json with charset",
            Some("application/json; charset=utf-8"),
            format!(r#"{{"amount_minor":0,{tail}}}"#),
            422,
            "amount_not_positive",
            "amount_minor",
        ),
    ];
    for (name, content_type, body, status, code, field) in cases {
        let mut request = app
            .http
            .post(app.url("/v1/payments"))
            .bearer_auth(&app.api_key)
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        let problem = problem(response).await;
        assert_eq!(problem["code"], code, "{name}");
        assert_eq!(problem["status"], status, "{name}");
        assert_eq!(
            problem["type"],
            format!("https://payment-service.dev/problems/{code}"),
            "{name}"
        );
        assert_eq!(
            problem.get("field").and_then(|f| f.as_str()).unwrap_or(""),
            field,
            "{name}"
        );
        let detail = problem["detail"].as_str().unwrap();
        for leak in [
            "i64", "line ", "column", "cvv", "123", "serde", "expected", "100.5", "1e2",
        ] {
            assert!(!detail.contains(leak), "{name}: {detail} leaks {leak}");
        }
        assert_eq!(
            app.footprint().await,
            [0, 0, 0, 0],
            "{name} wrote something"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_mistake_means_the_same_on_grpc() {
    let app = TestApp::spawn().await;
    let rest = app
        .post(
            "/v1/payments",
            &authorize_body(-1, "USD", "pm_card_visa"),
            None,
        )
        .await;
    let rest = problem(rest).await;
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(-1, "USD", "pm_card_visa"), None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(grpc_code(&status), rest["code"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn array_bodies_are_refused_on_every_write() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(500, "USD").await;
    let before = app.footprint().await;
    for (path, body) in [
        ("capture", serde_json::json!([300])),
        ("capture", serde_json::json!([])),
        ("void", serde_json::json!([])),
        ("refunds", serde_json::json!([100])),
    ] {
        let response = app
            .post(&format!("/v1/payments/{id}/{path}"), &body, None)
            .await;
        assert_eq!(response.status(), 422, "{path} {body}");
        assert_eq!(problem(response).await["code"], "field_invalid_type");
    }
    assert_eq!(app.footprint().await, before, "nothing written");
    assert_eq!(
        app.get(&format!("/v1/payments/{id}"))
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["status"],
        "authorized"
    );
}
