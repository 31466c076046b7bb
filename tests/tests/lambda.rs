//! Both binaries as AWS Lambda functions, against a minimal Lambda Runtime API emulator
//! (`/2018-06-01/runtime/invocation/next`, `…/{id}/response`, `…/{id}/error`): the API answers an
//! API Gateway HTTP API (payload v2) event for `POST /v1/payments` with a 201; the relay answers a
//! scheduler event with its summary. Also: the binaries need no glibc newer than 2.34 (Amazon
//! Linux 2023), checked with objdump.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use e2e::stack;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

/// What the function answered: `Ok(response body)` or `Err(error body)`.
type Outcome = Result<Value, Value>;

#[derive(Clone)]
struct Emulator {
    events: Arc<Mutex<Vec<Value>>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

async fn next(State(emulator): State<Emulator>) -> impl IntoResponse {
    let event = emulator.events.lock().await.pop();
    let Some(event) = event else {
        // No more invocations: hold the function here, as Lambda freezes it.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        "4102444800000".parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:test"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
    );
    (headers, axum::Json(event))
}

async fn respond(
    State(emulator): State<Emulator>,
    Path(_id): Path<String>,
    body: axum::body::Bytes,
) -> &'static str {
    let _ = emulator
        .outcomes
        .send(Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    "{}"
}

async fn fail(State(emulator): State<Emulator>, body: axum::body::Bytes) -> &'static str {
    let _ = emulator
        .outcomes
        .send(Err(serde_json::from_slice(&body).unwrap_or(Value::Null)));
    "{}"
}

/// Runs `command` as a Lambda function handed `event`; returns its one outcome.
async fn invoke(mut command: Command, event: Value) -> Outcome {
    let (outcomes, mut received) = mpsc::unbounded_channel();
    let emulator = Emulator {
        events: Arc::new(Mutex::new(vec![event])),
        outcomes,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
        .route("/2018-06-01/runtime/init/error", post(fail))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut child = command
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), received.recv())
        .await
        .expect("the function answered")
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_serves_an_api_gateway_http_api_event() {
    let (_, database_url) = payment_db::testing::fresh_database().await;
    stack::api_command(&database_url, &["migrate"]).unwrap();
    let created = stack::api_command(
        &database_url,
        &["admin", "create-merchant", "--name", "Lambda"],
    )
    .unwrap();
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("api_key="))
        .unwrap();
    let body = json!({"amount_minor": 1999, "currency": "USD", "payment_method": "pm_card_visa"})
        .to_string();
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/payments",
        "rawQueryString": "",
        "headers": { "authorization": format!("Bearer {key}"), "content-type": "application/json", "idempotency-key": "lambda-1" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "api", "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 1_796_000_000_000_i64,
            "http": { "method": "POST", "path": "/v1/payments", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test" }
        },
        "body": body,
        "isBase64Encoded": false
    });
    let mut command = Command::new(stack::binary("payment-api").unwrap());
    command.arg("serve").env("DATABASE_URL", &database_url);
    let response = invoke(command, event)
        .await
        .expect("a response, not an error");
    assert_eq!(response["statusCode"], 201, "{response}");
    let payment: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (payment["status"].as_str(), payment["amount_minor"].as_i64()),
        (Some("authorized"), Some(1999))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_answers_a_scheduler_event_with_its_summary_and_fails_when_kafka_is_down() {
    let (_, database_url) = payment_db::testing::migrated_database().await;
    let brokers = std::env::var("KAFKA_BROKERS").expect("KAFKA_BROKERS");
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let scheduled =
        json!({ "source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {} });
    let relay = |brokers: &str| {
        let mut command = Command::new(stack::binary("relay-job").unwrap());
        command
            .arg("run")
            .env("DATABASE_URL", &database_url)
            .env("KAFKA_BROKERS", brokers)
            .env("RELAY_EVENTS_TOPIC", format!("lambda.{tag}.events"))
            .env("RELAY_DLQ_TOPIC", format!("lambda.{tag}.dlq"))
            .env("RELAY_MESSAGE_TIMEOUT", "2s");
        command
    };
    let summary = invoke(relay(&brokers), scheduled.clone())
        .await
        .expect("a summary");
    assert_eq!(
        (summary["outcome"].as_str(), summary["exit_code"].as_u64()),
        (Some("drained"), Some(0)),
        "{summary}"
    );
    let failure = invoke(relay("127.0.0.1:1"), scheduled)
        .await
        .expect_err("a function error");
    assert_eq!(
        failure["errorType"], "RelayRun::KafkaUnavailable",
        "{failure}"
    );
    let summary: Value = serde_json::from_str(failure["errorMessage"].as_str().unwrap()).unwrap();
    assert_eq!(summary["exit_code"], 3);
}

#[test]
fn the_binaries_need_no_glibc_newer_than_2_34() {
    for name in ["payment-api", "relay-job"] {
        let output = Command::new("objdump")
            .arg("-T")
            .arg(stack::binary(name).unwrap())
            .output()
            .expect("objdump (binutils)");
        let symbols = String::from_utf8_lossy(&output.stdout);
        let newest = symbols
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .filter_map(|word| word.strip_prefix("GLIBC_"))
            .filter_map(|version| {
                let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
                Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
            })
            .max()
            .unwrap();
        assert!(
            newest <= (2, 34),
            "{name} needs GLIBC_{}.{}",
            newest.0,
            newest.1
        );
    }
}

/// The credentials forms the terraform module uses: the relay reads an RDS-managed secret with
/// the AWS SDK (Secrets Manager emulated by moto), and the API composes its URL from host,
/// name, user and a password given directly. (Rotation: `tests/credentials.rs`.)
#[tokio::test(flavor = "multi_thread")]
async fn database_credentials_come_from_a_secret_or_from_parts() {
    let (name, _) = payment_db::testing::fresh_database().await;
    let admin = payment_db::testing::admin_url();
    let host = admin
        .trim_start_matches("postgres://")
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let user = admin
        .trim_start_matches("postgres://")
        .split('@')
        .next()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_owned();

    // Parts plus a password (trust auth ignores it; its encoding is tested in payment-secrets).
    let output = Command::new(stack::binary("payment-api").unwrap())
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .env("DATABASE_HOST", &host)
        .env("DATABASE_NAME", &name)
        .env("DATABASE_USER", &user)
        .env("DATABASE_PASSWORD", "s3cr#t/with:chars")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Lambda form: the secret read through the AWS SDK.
    let moto = payment_secrets::testing::Moto::start();
    let arn = moto
        .create_secret(
            "rds-db-credentials",
            &json!({ "username": user, "password": "rotated" }).to_string(),
        )
        .await;
    let stats_with_secret = |arn: &str| {
        Command::new(stack::binary("relay-job").unwrap())
            .arg("stats")
            .env_remove("DATABASE_URL")
            .env("DATABASE_HOST", &host)
            .env("DATABASE_NAME", &name)
            .env("DATABASE_SECRET_ARN", arn)
            .envs(moto.env())
            .output()
            .unwrap()
    };
    let output = stats_with_secret(&arn);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["pending"], 0);

    // A secret that does not exist: an error naming the variable.
    let output = stats_with_secret("arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing");
    assert_ne!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("DATABASE_SECRET_ARN"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Nothing given: a configuration error that names the variables.
    let output = Command::new(stack::binary("relay-job").unwrap())
        .arg("stats")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_HOST"));
}

/// The ops function terraform invokes: `migrate`, then an admin command whose output (the new
/// key) comes back in the answer; commands other than migrate/admin and failing commands are
/// function errors carrying the exit code.
#[tokio::test(flavor = "multi_thread")]
async fn the_ops_function_migrates_and_runs_admin_commands() {
    let (_, database_url) = payment_db::testing::fresh_database().await;
    let ops = || {
        let mut command = Command::new(stack::binary("payment-api").unwrap());
        command.arg("ops").env("DATABASE_URL", &database_url);
        command
    };
    let migrated = invoke(ops(), json!({ "args": ["migrate"] }))
        .await
        .expect("migrate succeeds");
    assert_eq!(migrated["exit_code"], 0, "{migrated}");

    let created = invoke(
        ops(),
        json!({ "args": ["admin", "create-merchant", "--name", "Ops"] }),
    )
    .await
    .expect("create-merchant succeeds");
    let stdout = created["stdout"].as_str().unwrap();
    assert!(
        stdout.contains("merchant_id=") && stdout.contains("api_key=sk_"),
        "{created}"
    );

    let refused = invoke(ops(), json!({ "args": ["serve"] }))
        .await
        .expect_err("serve is not an ops command");
    assert_eq!(refused["errorType"], "OpsCommandFailed", "{refused}");
    let result: Value = serde_json::from_str(refused["errorMessage"].as_str().unwrap()).unwrap();
    assert_eq!(result["exit_code"], 2);

    let failed = invoke(
        ops(),
        json!({ "args": ["admin", "create-merchant", "--name", ""] }),
    )
    .await
    .expect_err("an invalid name fails");
    let result: Value = serde_json::from_str(failed["errorMessage"].as_str().unwrap()).unwrap();
    assert_ne!(result["exit_code"], 0, "{failed}");
}
