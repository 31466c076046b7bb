//! K05: idempotency keys under pressure, across REST and gRPC.

use payment_proto::v1 as pb;
use serde_json::json;
use tonic::Code;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_calls_with_one_key_make_one_payment() {
    let app = TestApp::spawn().await;
    let body = authorize_body(4200, "USD", "pm_card_visa");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (http, grpc, url, api_key, body) = (
            app.http.clone(),
            app.grpc.clone(),
            app.url("/v1/payments"),
            app.api_key.clone(),
            body.clone(),
        );
        tasks.spawn(async move {
            if i % 2 == 0 {
                let response = http
                    .post(url)
                    .bearer_auth(&api_key)
                    .header("idempotency-key", "pressure")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                match status {
                    201 => Ok(body["id"].as_str().unwrap().to_owned()),
                    409 => Err(body["code"].as_str().unwrap().to_owned()),
                    other => panic!("unexpected {other}: {body}"),
                }
            } else {
                let request = grpc_request_as(
                    &api_key,
                    authorize_message(4200, "USD", "pm_card_visa"),
                    Some("pressure"),
                );
                match grpc.clone().authorize(request).await {
                    Ok(response) => Ok(response.into_inner().id),
                    Err(status) if status.code() == Code::Aborted => Err(grpc_code(&status)),
                    Err(status) => panic!("unexpected {status:?}"),
                }
            }
        });
    }
    let results: Vec<Result<String, String>> = tasks.join_all().await;
    let ids: std::collections::BTreeSet<&String> =
        results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        ids.len(),
        1,
        "every successful caller sees the same payment: {results:?}"
    );
    for conflict in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(conflict, "idempotency_key_in_flight");
    }
    assert_eq!(app.footprint().await, [1, 2, 1, 1]);
    app.assert_consistent(ids.first().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_mismatches_and_cross_surface_reuse() {
    let app = TestApp::spawn().await;
    let body = authorize_body(1500, "EUR", "pm_card_visa");
    let first = app.post("/v1/payments", &body, Some("order-1")).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();

    let again = app.post("/v1/payments", &body, Some("order-1")).await;
    assert_eq!(
        (
            again.status().as_u16(),
            again.headers()["idempotent-replayed"].to_str().unwrap()
        ),
        (201, "true")
    );
    assert_eq!(again.json::<serde_json::Value>().await.unwrap(), first);

    // The same meaning over gRPC replays too.
    let replay = app
        .grpc
        .clone()
        .authorize(app.grpc_request(
            authorize_message(1500, "EUR", "pm_card_visa"),
            Some("order-1"),
        ))
        .await
        .unwrap();
    assert_eq!(
        replay.metadata().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(replay.into_inner().id, first["id"].as_str().unwrap());

    for changed in [
        authorize_body(1501, "EUR", "pm_card_visa"),
        authorize_body(1500, "USD", "pm_card_visa"),
    ] {
        let response = app.post("/v1/payments", &changed, Some("order-1")).await;
        assert_eq!(response.status(), 422);
        assert_eq!(problem(response).await["code"], "idempotency_key_reused");
    }
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(9, "EUR", "pm_card_visa"), Some("order-1")))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::FailedPrecondition, "idempotency_key_reused")
    );

    // Keys are scoped per operation: the same key may capture.
    let id = first["id"].as_str().unwrap();
    let capture = app
        .post(
            &format!("/v1/payments/{id}/capture"),
            &json!({}),
            Some("order-1"),
        )
        .await;
    assert_eq!(capture.status(), 200);
    let capture_again = app
        .grpc
        .clone()
        .capture(app.grpc_request(
            pb::CaptureRequest {
                payment_id: id.to_owned(),
                amount_minor: None,
            },
            Some("order-1"),
        ))
        .await
        .unwrap();
    assert_eq!(
        capture_again.metadata().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(app.footprint().await, [1, 6, 2, 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_attempts_leave_the_key_free() {
    let app = TestApp::spawn().await;
    // Validation failure first, then a valid retry with the same key.
    let invalid = app
        .post(
            "/v1/payments",
            &authorize_body(0, "USD", "pm_card_visa"),
            Some("retry-me"),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
    let valid = app
        .post(
            "/v1/payments",
            &authorize_body(10, "USD", "pm_card_visa"),
            Some("retry-me"),
        )
        .await;
    assert_eq!(valid.status(), 201);
    assert!(valid.headers().get("idempotent-replayed").is_none());

    // A failure inside the transaction (here: the first payment insert raises), then a retry.
    let mut conn = app.db().await;
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "CREATE SEQUENCE fail_once; \
         CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF nextval('fail_once') = 1 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER fail_once BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION fail_once();",
    )
    .await
    .unwrap();
    let before = app.footprint().await;
    let failed = app
        .post(
            "/v1/payments",
            &authorize_body(20, "USD", "pm_card_visa"),
            Some("inside"),
        )
        .await;
    assert_eq!(failed.status(), 500);
    let problem = problem(failed).await;
    assert_eq!(
        (problem["code"].as_str(), problem["detail"].as_str()),
        (Some("internal"), Some("internal error"))
    );
    assert_eq!(
        app.footprint().await,
        before,
        "a failed transaction leaves nothing, not even the key"
    );
    let retried = app
        .post(
            "/v1/payments",
            &authorize_body(20, "USD", "pm_card_visa"),
            Some("inside"),
        )
        .await;
    assert_eq!(retried.status(), 201);
    assert!(retried.headers().get("idempotent-replayed").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_per_merchant_and_in_flight_keys_conflict() {
    let app = TestApp::spawn().await;
    let other = app.other_merchant_key().await;
    let body = authorize_body(10, "USD", "pm_card_visa");
    let mine: serde_json::Value = app
        .post("/v1/payments", &body, Some("shared"))
        .await
        .json()
        .await
        .unwrap();
    let theirs = app
        .post_as(&other, "/v1/payments", &body, Some("shared"))
        .await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    assert_ne!(
        theirs.json::<serde_json::Value>().await.unwrap()["id"],
        mine["id"]
    );

    // Hold the key's lock from another session, as a request still running would.
    let mut holder = app.db().await;
    let scope = format!("idempotency:{}:authorize:busy", app.merchant_id);
    texts(
        &mut holder,
        &format!("SELECT pg_advisory_lock(hashtextextended('{scope}', 0))::text AS value"),
    )
    .await;
    let before = app.footprint().await;
    let busy = app.post("/v1/payments", &body, Some("busy")).await;
    assert_eq!(busy.status(), 409);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(problem(busy).await["code"], "idempotency_key_in_flight");
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(10, "USD", "pm_card_visa"), Some("busy")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(app.footprint().await, before);
    drop(holder);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_keys_are_400_and_invalid_argument() {
    let app = TestApp::spawn().await;
    let body = authorize_body(10, "USD", "pm_card_visa");
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "two words"] {
        let response = app.post("/v1/payments", &body, Some(key)).await;
        assert_eq!(response.status(), 400, "{key:?}");
        let problem = problem(response).await;
        assert_eq!(
            (problem["code"].as_str(), problem["field"].as_str()),
            (Some("idempotency_key_invalid"), Some("idempotency-key"))
        );
    }
    let non_ascii = app
        .http
        .post(app.url("/v1/payments"))
        .bearer_auth(&app.api_key)
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(non_ascii.status(), 400);
    // A NUL byte cannot travel in an HTTP/1.1 or HTTP/2 header at all (clients refuse it);
    // the parser's refusal of it is covered by the unit tests of `domain::idempotency`.
    assert!(reqwest::header::HeaderValue::from_bytes(b"a\0b").is_err());
    let status = app
        .grpc
        .clone()
        .authorize(app.grpc_request(authorize_message(10, "USD", "pm_card_visa"), Some(&long)))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), grpc_code(&status).as_str()),
        (Code::InvalidArgument, "idempotency_key_invalid")
    );
    assert_eq!(app.footprint().await, [0, 0, 0, 0]);
}

/// Moves the creation time of every idempotency record with key `key` back by `minutes`.
async fn age_key(app: &TestApp, key: &str, minutes: i64) {
    let mut conn = app.db().await;
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        &format!(
            "UPDATE idempotency_records SET created_at = now() - interval '{minutes} minutes' \
             WHERE idempotency_key = '{key}'"
        ),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_key_is_a_new_request_on_every_surface() {
    let app = TestApp::spawn_with(Options {
        idempotency_key_ttl: std::time::Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let body = authorize_body(700, "USD", "pm_card_visa");
    let first = app.post("/v1/payments", &body, Some("renewed")).await;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();

    // Inside the TTL (59 of 60 minutes): replayed, and another body is still refused.
    age_key(&app, "renewed", 59).await;
    let replay = app.post("/v1/payments", &body, Some("renewed")).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<serde_json::Value>().await.unwrap(), first);
    let other = authorize_body(800, "EUR", "pm_card_visa");
    let reused = app.post("/v1/payments", &other, Some("renewed")).await;
    assert_eq!(problem(reused).await["code"], "idempotency_key_reused");

    // Past it (61 minutes): the key is free, even for another body; one record remains.
    age_key(&app, "renewed", 61).await;
    let renewed = app.post("/v1/payments", &other, Some("renewed")).await;
    assert_eq!(renewed.status(), 201);
    assert!(renewed.headers().get("idempotent-replayed").is_none());
    let renewed: serde_json::Value = renewed.json().await.unwrap();
    assert_ne!(renewed["id"], first["id"]);
    assert_eq!(renewed["currency"], "EUR");
    // And the new record answers replays again.
    let replay = app.post("/v1/payments", &other, Some("renewed")).await;
    assert_eq!(replay.json::<serde_json::Value>().await.unwrap(), renewed);

    // The same over gRPC: replayed inside the TTL, a new payment past it.
    let grpc_authorize = async || {
        app.grpc
            .clone()
            .authorize(app.grpc_request(
                authorize_message(800, "EUR", "pm_card_visa"),
                Some("renewed"),
            ))
            .await
    };
    let replay = grpc_authorize().await.unwrap();
    assert_eq!(
        replay.metadata().get("idempotent-replayed").unwrap(),
        "true"
    );
    assert_eq!(replay.into_inner().id, renewed["id"].as_str().unwrap());
    age_key(&app, "renewed", 61).await;
    let fresh = grpc_authorize().await.unwrap();
    assert!(fresh.metadata().get("idempotent-replayed").is_none());
    let fresh = fresh.into_inner().id;
    assert_ne!(fresh, renewed["id"].as_str().unwrap());
    assert_eq!(app.footprint().await, [3, 6, 3, 1]);

    // An expired key whose new request is refused inside the transaction (capturing a
    // captured payment) keeps its old record: the refusal changes nothing.
    let capture = format!("/v1/payments/{fresh}/capture");
    assert_eq!(
        app.post(&capture, &json!({}), Some("capture-1"))
            .await
            .status(),
        200
    );
    age_key(&app, "capture-1", 61).await;
    let before = app.footprint().await;
    let refused = app.post(&capture, &json!({}), Some("capture-1")).await;
    assert_eq!(problem(refused).await["code"], "illegal_transition");
    assert_eq!(app.footprint().await, before);
    let aged = scalar(
        &mut app.db().await,
        "SELECT count(*) AS value FROM idempotency_records \
         WHERE idempotency_key = 'capture-1' AND created_at < now() - interval '60 minutes'",
    )
    .await;
    assert_eq!(aged, 1, "the expired record is still there, unchanged");
}
