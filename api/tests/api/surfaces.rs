//! The operator surfaces: OpenAPI (drift and real responses validated against it), Swagger UI
//! offline, health (gRPC and HTTP) following the database, reflection, metrics.

use std::time::Duration;

use jsonschema::{Registry, Resource};
use payment_proto::v1 as pb;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::harness::*;

const SPEC_URI: &str = "https://payment-service.dev/openapi.json";

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/openapi.json"
    ))
    .unwrap();
    let generated = payment_api::openapi::document().unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -p payment-api -- openapi > openapi/openapi.json`"
    );
}

struct Spec {
    document: Value,
    registry: Registry<'static>,
}

impl Spec {
    fn load() -> Self {
        let document: Value =
            serde_json::from_str(&payment_api::openapi::document().unwrap()).unwrap();
        let registry = Registry::new()
            .add(SPEC_URI, Resource::from_contents(document.clone()))
            .unwrap()
            .prepare()
            .unwrap();
        Self { document, registry }
    }

    /// Checks that `status` is documented for the operation and `body` matches its schema.
    fn check(&self, method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
        let response = &self.document["paths"][path][method]["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} does not document {status}"
        );
        let schema_ref = response["content"][content_type]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} {status} has no {content_type} schema"));
        let validator = jsonschema::options()
            .with_registry(&self.registry)
            .build(&json!({ "$ref": format!("{SPEC_URI}{schema_ref}") }))
            .unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:?}\n{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_responses_match_the_spec_for_successes_and_every_error_class() {
    let app = TestApp::spawn().await;
    let spec = Spec::load();
    let json_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (
            status,
            content_type,
            response.json::<Value>().await.unwrap(),
        )
    };
    let mut observed = Vec::new();
    let created = app
        .post(
            "/v1/payments",
            &authorize_body(100, "USD", "pm_card_visa"),
            None,
        )
        .await;
    let (status, ct, payment) = json_of(created).await;
    let id = payment["id"].as_str().unwrap().to_owned();
    observed.push(("post", "/v1/payments", status, ct, payment));
    observed.push((
        "get",
        "/v1/payments/{id}",
        200,
        "application/json".into(),
        app.get(&format!("/v1/payments/{id}"))
            .await
            .json()
            .await
            .unwrap(),
    ));
    observed.push((
        "get",
        "/v1/payments",
        200,
        "application/json".into(),
        app.get("/v1/payments").await.json().await.unwrap(),
    ));
    let captured = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({"amount_minor": 50}),
            None,
        )
        .await;
    let (status, ct, body) = json_of(captured).await;
    observed.push(("post", "/v1/payments/{id}/capture", status, ct, body));
    let refunded = app
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &json!({"amount_minor": 10}),
            None,
        )
        .await;
    let (status, ct, body) = json_of(refunded).await;
    observed.push(("post", "/v1/payments/{id}/refunds", status, ct, body));
    let (status, ct, body) = json_of(
        app.post(&format!("/v1/payments/{id}/void"), &json!({}), None)
            .await,
    )
    .await;
    assert_eq!(status, 409);
    observed.push(("post", "/v1/payments/{id}/void", status, ct, body));
    // One of each remaining error class.
    let cases = [
        ("post", "/v1/payments", app.post("/v1/payments", &authorize_body(0, "USD", "pm_card_visa"), None).await),
        ("post", "/v1/payments", app.http.post(app.url("/v1/payments")).body("{}").send().await.unwrap()),
        ("post", "/v1/payments", app.http.post(app.url("/v1/payments")).bearer_auth(&app.api_key).body("{}").send().await.unwrap()),
        ("post", "/v1/payments", app.http.post(app.url("/v1/payments")).bearer_auth(&app.api_key).header("content-type", "application/json").body("{").send().await.unwrap()),
        ("get", "/v1/payments/{id}", app.get(&format!("/v1/payments/{}", uuid::Uuid::new_v4())).await),
        ("post", "/v1/payments", app.post("/v1/payments", &json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa", "description": "x".repeat(20_000)}), None).await),
        ("post", "/v1/payments", {
            app.post("/v1/payments", &authorize_body(7, "USD", "pm_card_visa"), Some("k")).await;
            app.post("/v1/payments", &authorize_body(8, "USD", "pm_card_visa"), Some("k")).await
        }),
    ];
    for (method, path, response) in cases {
        let (status, ct, body) = json_of(response).await;
        observed.push((method, path, status, ct, body));
    }
    let statuses: std::collections::BTreeSet<u16> = observed.iter().map(|o| o.2).collect();
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [200, 201, 400, 401, 404, 409, 413, 415, 422]
    );
    for (method, path, status, content_type, body) in &observed {
        spec.check(method, path, *status, content_type, body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn swagger_ui_is_served_without_the_internet() {
    let app = TestApp::spawn().await;
    let page = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
}

async fn wait_for_health(
    client: &mut tonic_health::pb::health_client::HealthClient<Channel>,
    service: &str,
    serving: bool,
) {
    use tonic_health::pb::health_check_response::ServingStatus;
    let wanted = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for _ in 0..100 {
        let answer = client
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await;
        // Right after start the service may not be registered yet (NOT_FOUND): not yet.
        let status = match answer {
            Ok(response) => response.into_inner().status(),
            Err(status) if status.code() == tonic::Code::NotFound => ServingStatus::Unknown,
            Err(status) => panic!("{status:?}"),
        };
        if status == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health of {service:?} never became {wanted:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_follows_the_database() {
    let app = TestApp::spawn_with(Options {
        database_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let channel = Channel::from_shared(app.base_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    wait_for_health(&mut health, "", true).await;
    wait_for_health(&mut health, "payments.v1.PaymentService", true).await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    payment_db::testing::set_connections(&app.database, false).await;
    wait_for_health(&mut health, "payments.v1.PaymentService", false).await;
    wait_for_health(&mut health, "", false).await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        app.http
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "alive all the same"
    );

    payment_db::testing::set_connections(&app.database, true).await;
    wait_for_health(&mut health, "payments.v1.PaymentService", true).await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reflection_lists_and_describes_the_services() {
    use prost::Message;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let app = TestApp::spawn().await;
    let channel = Channel::from_shared(app.base_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ServerReflectionClient::new(channel);
    let ask = |request: MessageRequest| {
        tokio_stream_once(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        })
    };
    let mut responses = client
        .server_reflection_info(ask(MessageRequest::ListServices(String::new())))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["payments.v1.PaymentService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    let mut responses = client
        .server_reflection_info(ask(MessageRequest::FileContainingSymbol(
            "payments.v1.PaymentService".into(),
        )))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("no descriptor");
    };
    let file = prost_types::FileDescriptorProto::decode(files.file_descriptor_proto[0].as_slice())
        .unwrap();
    let service = file
        .service
        .iter()
        .find(|s| s.name() == "PaymentService")
        .unwrap();
    let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
    assert_eq!(
        methods,
        [
            "Authorize",
            "Capture",
            "Void",
            "Refund",
            "GetPayment",
            "ListPayments"
        ]
    );

    // v1alpha, which older grpcurl versions use, answers too.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
    let channel = Channel::from_shared(app.base_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            ),
        ),
    };
    let mut alpha = AlphaClient::new(channel)
        .server_reflection_info(tokio_stream_once(request))
        .await
        .unwrap()
        .into_inner();
    assert!(alpha.message().await.unwrap().is_some());
}

fn tokio_stream_once<T: Send + 'static>(
    item: T,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::iter([item])
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_route_counters_pool_and_the_outbox_backlog() {
    let app = TestApp::spawn().await;
    app.authorize(10, "USD").await;
    app.authorize(20, "USD").await;
    app.post(
        "/v1/payments",
        &authorize_body(0, "USD", "pm_card_visa"),
        None,
    )
    .await;
    app.grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(5, "EUR", "pm_card_visa"), None))
        .await
        .unwrap();
    app.grpc
        .clone()
        .get_payment(app.grpc_request(
            pb::GetPaymentRequest {
                payment_id: uuid::Uuid::new_v4().to_string(),
            },
            None,
        ))
        .await
        .unwrap_err();
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    for line in [
        r#"http_requests_total{route="/v1/payments",status="201",surface="rest"} 2"#,
        r#"http_requests_total{route="/v1/payments",status="422",surface="rest"} 1"#,
        r#"http_requests_total{route="/payments.v1.PaymentService/Authorize",status="0",surface="grpc"} 1"#,
        r#"http_requests_total{route="/payments.v1.PaymentService/GetPayment",status="5",surface="grpc"} 1"#,
        r#"outbox_backlog{measure="pending"} 3"#,
        r#"outbox_backlog{measure="dead"} 0"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{route="/v1/payments",surface="rest""#
        )
    );
    assert!(text.contains(r#"db_pool_connections{state="max"} 8"#));
    assert!(text.contains(r#"outbox_backlog{measure="oldest_pending_age_ms"}"#));
}

/// Lines of `/metrics` that are series (not comments).
async fn series(app: &TestApp) -> Vec<String> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            line.rsplit_once(' ')
                .map_or(line, |(series, _)| series)
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_and_methods_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let unknown = |i: usize| {
        [
            (app.http.get(app.url(&format!("/v1/nope/{i}"))), "rest"),
            (
                app.http
                    .post(app.url(&format!("/payments.v1.PaymentService/Nope{i}")))
                    .header("content-type", "application/grpc-web+proto"),
                "grpc-web",
            ),
            (
                h2.post(app.url(&format!("/payments.v1.PaymentService/Nope{i}")))
                    .header("content-type", "application/grpc"),
                "grpc",
            ),
            (
                h2.post(app.url(&format!("/nope{i}.Service/Method")))
                    .header("content-type", "application/grpc"),
                "grpc",
            ),
        ]
    };
    // One round first, so every kind of answer has its series; then 1,000 more.
    for (request, _) in unknown(0) {
        request.send().await.unwrap();
    }
    // The first scrape adds the scrape's own series.
    series(&app).await;
    let before = series(&app).await;
    for i in 1..=250 {
        for (request, surface) in unknown(i) {
            let answer = request.send().await.unwrap();
            assert!(answer.status().as_u16() < 500, "{surface} {i}");
        }
    }
    let after = series(&app).await;
    assert_eq!(after.len(), before.len(), "new series: {:?}", {
        let old: std::collections::HashSet<_> = before.iter().collect();
        after
            .iter()
            .filter(|s| !old.contains(s))
            .take(5)
            .collect::<Vec<_>>()
    });
    assert!(
        after
            .iter()
            .all(|s| !s.contains("Nope") && !s.contains("/v1/nope")),
        "a request path became a label"
    );
    assert!(after.iter().any(|s| s.contains(r#"route="unmatched""#)));
}
