//! What the database says, answered by SQLSTATE: a payment row locked elsewhere (an operator's
//! open transaction) is `lock_timeout` → 409 `busy` and never holds the pool; a deadlock is
//! run again and succeeds; a read-only database (a writer after a failover to a replica,
//! `25006`) is 503 for writes while reads go on.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;
use tonic::Code;

use crate::harness::*;

/// Opens a transaction on `conn` that holds the row lock of payment `id`.
async fn lock_payment(conn: &mut AsyncPgConnection, id: &str) {
    conn.batch_execute(&format!(
        "BEGIN; SELECT id FROM payments WHERE id = '{id}' FOR UPDATE"
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_payment_is_busy_after_lock_timeout_and_does_not_hold_the_pool() {
    let mut options = Options {
        pool_size: 3,
        ..Options::default()
    };
    options.transaction.lock_timeout = Some(Duration::from_millis(300));
    let app = TestApp::spawn_with(options).await;
    let locked = app.authorized_id(1000, "EUR").await;
    let other = app.authorized_id(1000, "EUR").await;
    let mut operator = app.db().await;
    lock_payment(&mut operator, &locked).await;
    let before = app.footprint().await;

    // More writers than pooled connections, each waiting on the lock: every one is answered
    // 409 busy (retryable) in about lock_timeout, and the pool still serves other requests.
    let started = Instant::now();
    let path = format!("/v1/payments/{locked}/capture");
    let empty = json!({});
    let captures = (0..9).map(|_| app.post(&path, &empty, None));
    let answers = futures::future::join_all(captures).await;
    for answer in answers {
        assert_eq!(answer.status(), 409);
        assert_eq!(answer.headers()["retry-after"], "1");
        assert_eq!(problem(answer).await["code"], "busy");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let status = app
        .grpc
        .clone()
        .capture(app.grpc_request(
            payment_proto::v1::CaptureRequest {
                payment_id: locked.clone(),
                amount_minor: None,
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::Aborted, "busy")
    );
    assert_eq!(
        app.get(&format!("/v1/payments/{other}")).await.status(),
        200
    );

    // Clients that give up while waiting do not leave connections behind.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    for _ in 0..9 {
        let _ = impatient
            .post(app.url(&format!("/v1/payments/{locked}/capture")))
            .bearer_auth(&app.api_key)
            .json(&json!({}))
            .send()
            .await;
    }
    // Their writes run on (a write is never abandoned half-way) and end busy at lock_timeout,
    // three at a time on the three connections, returning them: the pool serves the next
    // request.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.get(&format!("/v1/payments/{other}")).await.status(),
        200
    );
    assert_eq!(
        app.footprint().await,
        before,
        "nothing was written while locked"
    );
    operator.batch_execute("COMMIT").await.unwrap();
    let captured = app
        .post(&format!("/v1/payments/{locked}/capture"), &json!({}), None)
        .await;
    assert_eq!(captured.status(), 200);
    app.assert_consistent(&locked).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadlock_is_run_again_and_the_write_succeeds() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(1000, "EUR").await;
    let mut operator = app.db().await;
    lock_payment(&mut operator, &id).await;
    // The capture takes its idempotency key's lock, then waits for the row.
    let capture = {
        let http = app.http.clone();
        let url = app.url(&format!("/v1/payments/{id}/capture"));
        let key = app.api_key.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .header("idempotency-key", "deadlock")
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The operator now waits for the key's lock: a deadlock. The capture waited first, so
    // its deadlock check (deadlock_timeout, 1 s) finds it: 40P01, rolled back, run again.
    let scope = format!("idempotency:{}:capture:deadlock", app.merchant_id);
    operator
        .batch_execute(&format!(
            "SELECT pg_advisory_xact_lock(hashtextextended('{scope}', 0)); COMMIT"
        ))
        .await
        .unwrap();
    let answer = capture.await.unwrap();
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    app.assert_consistent(&id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_database_is_503_for_writes_and_reads_go_on() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(1000, "EUR").await;
    let mut admin = AsyncPgConnection::establish(&payment_db::testing::admin_url())
        .await
        .unwrap();
    // What a writer finds after a failover to a replica: every transaction read-only.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            app.database
        ))
        .await
        .unwrap();
    payment_db::testing::end_sessions(&app.database).await;
    let before = app.footprint().await;
    let refused = app
        .authorize_until(|status| status == 503)
        .await
        .expect("writes answered 503 while the database is read-only");
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(problem(refused).await["code"], "database_unavailable");
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(10, "USD", "pm_card_visa"), None))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.status(), 200);
    assert_eq!(app.footprint().await, before);

    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} RESET default_transaction_read_only",
            app.database
        ))
        .await
        .unwrap();
    payment_db::testing::end_sessions(&app.database).await;
    let recovered = app.authorize_until(|status| status != 503).await;
    assert_eq!(
        recovered.map(|answer| answer.status()),
        Some(reqwest::StatusCode::CREATED)
    );
}
