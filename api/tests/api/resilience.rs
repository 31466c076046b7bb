//! Failure paths for real: a cancelled request (K04), the database going away and coming
//! back, and an event that fails its schema.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use payment_proto::v1 as pb;
use serde_json::json;
use tonic::Code;

use crate::harness::*;

async fn slow_inserts_of(app: &TestApp, description: &str) {
    app.db()
        .await
        .batch_execute(&format!(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.description = '{description}' THEN PERFORM pg_sleep(0.4); END IF; RETURN NEW; END $$; \
             CREATE TRIGGER slow_insert BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION slow_insert();"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_call_does_not_poison_the_pooled_connection() {
    let app = TestApp::spawn_with(Options {
        pool_size: 1,
        ..Options::default()
    })
    .await;
    slow_inserts_of(&app, "slow").await;

    // gRPC deadline of 50 ms on a slow authorization.
    let mut message = authorize_message(100, "USD", "pm_card_visa");
    message.description = Some("slow".into());
    let mut request = app.grpc_request(message, None);
    request.set_timeout(Duration::from_millis(50));
    let status = app.grpc.clone().authorize(request).await.unwrap_err();
    // The client gives up (tonic reports its own deadline as CANCELLED or DEADLINE_EXCEEDED).
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );

    // A REST call whose client gives up (the connection is dropped).
    let slow_body = json!({"amount_minor": 100, "currency": "USD", "payment_method": "pm_card_visa", "description": "slow"});
    let dropped = app
        .http
        .post(app.url("/v1/payments"))
        .bearer_auth(&app.api_key)
        .timeout(Duration::from_millis(50))
        .json(&slow_body)
        .send()
        .await;
    assert!(dropped.unwrap_err().is_timeout());

    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(app.authorized_id(10, "USD").await);
    }
    let mut separate = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let committed = scalar(
        &mut separate,
        "SELECT count(*) AS value FROM payments WHERE description IS NULL",
    )
    .await;
    assert_eq!(
        committed, 20,
        "all 20 committed and visible from another connection"
    );
    // Each cancelled write committed whole or not at all: as many events and ledger pairs as payments.
    let slow = scalar(
        &mut separate,
        "SELECT count(*) AS value FROM payments WHERE description = 'slow'",
    )
    .await;
    assert_eq!(app.count("outbox_events").await, 20 + slow);
    assert_eq!(app.count("ledger_entries").await, 2 * (20 + slow));
    for id in &ids {
        app.assert_consistent(id).await;
    }
    // A poisoned connection stays idle in transaction; a live one (a health check, a key
    // lookup between its statements) passes through that state for microseconds. So the count
    // must reach 0 within 2 s, not in one snapshot.
    let sql = format!(
        "SELECT count(*) AS value FROM pg_stat_activity WHERE datname = '{}' AND state LIKE 'idle in transaction%'",
        app.database
    );
    let started = std::time::Instant::now();
    let mut idle_in_transaction = scalar(&mut separate, &sql).await;
    while idle_in_transaction != 0 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        idle_in_transaction = scalar(&mut separate, &sql).await;
    }
    assert_eq!(idle_in_transaction, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn database_down_is_503_and_unavailable_then_recovers() {
    let app = TestApp::spawn_with(Options {
        database_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let id = app.authorized_id(10, "USD").await;
    payment_db::testing::set_connections(&app.database, false).await;

    let response = app
        .post(
            "/v1/payments",
            &authorize_body(10, "USD", "pm_card_visa"),
            None,
        )
        .await;
    assert_eq!(response.status(), 503);
    let body = problem(response).await;
    assert_eq!(body["code"], "database_unavailable");
    let get = app.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(get.status(), 503);
    let status = app
        .grpc
        .clone()
        .get_payment(app.grpc_request(
            pb::GetPaymentRequest {
                payment_id: id.clone(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::Unavailable, "database_unavailable")
    );

    payment_db::testing::set_connections(&app.database, true).await;
    // A client that honours Retry-After gets through once the database is back (through a
    // pooler, after its login retry interval).
    let recovered = app.authorize_until(|status| status != 503).await;
    assert_eq!(
        recovered.map(|answer| answer.status()),
        Some(reqwest::StatusCode::CREATED)
    );
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_fails_its_schema_fails_the_write_and_nothing_commits() {
    let app = TestApp::spawn().await;
    // A row written behind the API's back with an amount above what the event schema allows.
    let id = uuid::Uuid::now_v7();
    app.db()
        .await
        .batch_execute(&format!(
            "INSERT INTO payments (id, merchant_id, status, currency, amount_minor, authorized_minor, captured_minor, \
             refunded_minor, payment_method, version, created_at, updated_at) \
             VALUES ('{id}', '{}', 'authorized', 'USD', 900000000000000000, 900000000000000000, 0, 0, 'pm_card_visa', 1, now(), now())",
            app.merchant_id
        ))
        .await
        .unwrap();
    let before = app.footprint().await;
    let response = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({}),
            Some("capture-bad"),
        )
        .await;
    assert_eq!(response.status(), 500);
    assert_eq!(problem(response).await["detail"], "internal error");
    assert_eq!(
        app.footprint().await,
        before,
        "no payment change, ledger entry, event or key"
    );
    let row: serde_json::Value = app
        .get(&format!("/v1/payments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (row["status"].as_str(), row["version"].as_i64()),
        (Some("authorized"), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_in_flight_requests_finish_then_exits() {
    let (_, url) = payment_db::testing::migrated_database().await;
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let created = payment_api::admin::create_merchant(&mut conn, "Drain")
        .await
        .unwrap();
    let key = secrecy::ExposeSecret::expose_secret(&created.api_key).to_owned();
    conn.batch_execute(
        "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$; \
         CREATE TRIGGER slow_insert BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION slow_insert();",
    )
    .await
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_payment-api"))
        .args(["serve", "--listen-addr", &address])
        .env("DATABASE_URL", &url)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://{address}");
    for _ in 0..100 {
        if client
            .get(format!("{base}/v1/payments"))
            .bearer_auth(&key)
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let in_flight = tokio::spawn({
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        async move {
            client
                .post(format!("{base}/v1/payments"))
                .bearer_auth(key)
                .json(&authorize_body(10, "USD", "pm_card_visa"))
                .send()
                .await
                .map(|response| response.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        201,
        "the request in flight completes"
    );
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit 0 after draining: {status:?}");
    assert!(
        client
            .get(format!("{base}/v1/payments"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}
