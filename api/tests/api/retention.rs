//! Retention of idempotency records: `payment-api admin purge-idempotency` deletes expired
//! records in bounded batches, has a dry run, never deletes a record that can still answer a
//! replay, and touches nothing else.

use crate::harness::*;

/// `admin purge-idempotency ARGS`: its exit code, JSON line (if any) and stderr.
fn purge(app: &TestApp, args: &[&str]) -> (Option<i32>, Option<serde_json::Value>, String) {
    let mut all = vec!["purge-idempotency"];
    all.extend_from_slice(args);
    let output = app.admin(&all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let line = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|line| serde_json::from_str(line).unwrap());
    (output.status.code(), line, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_deletes_expired_records_in_bounded_batches_and_nothing_else() {
    let app = TestApp::spawn().await;
    for n in 0..10 {
        let response = app
            .post(
                "/v1/payments",
                &authorize_body(100 + n, "USD", "pm_card_visa"),
                Some(&format!("key-{n}")),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    // Seven records past the 24 h TTL, three inside it.
    let mut conn = app.db().await;
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "UPDATE idempotency_records SET created_at = now() - interval '25 hours' \
         WHERE idempotency_key < 'key-7'",
    )
    .await
    .unwrap();
    assert_eq!(app.footprint().await, [10, 20, 10, 10]);

    // Shorter than the TTL, or a TTL out of range: refused before the database, nothing gone.
    for (args, message) in [
        (
            vec!["--older-than", "1h"],
            "shorter than IDEMPOTENCY_KEY_TTL",
        ),
        (
            vec!["--idempotency-key-ttl", "48h", "--older-than", "25h"],
            "shorter than IDEMPOTENCY_KEY_TTL",
        ),
        (vec!["--idempotency-key-ttl", "30s"], "from 1m to 365d"),
        (vec!["--older-than", "soon"], "soon"),
        (vec!["--batch", "0"], "--batch"),
    ] {
        let (code, line, stderr) = purge(&app, &args);
        assert_eq!((code, line), (Some(2), None), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert_eq!(app.count("idempotency_records").await, 10);

    let (code, dry, _) = purge(&app, &["--dry-run"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        dry.unwrap(),
        serde_json::json!({"dry_run": true, "would_purge": 7, "more": false})
    );
    assert_eq!(app.count("idempotency_records").await, 10);

    // Batches of 2, at most 5 rows: 2 + 2 + 1, and more remain.
    let (code, first, _) = purge(&app, &["--batch", "2", "--max-rows", "5"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        first.unwrap(),
        serde_json::json!({"purged": 5, "more": true, "batches": 3})
    );
    let (_, rest, _) = purge(&app, &[]);
    assert_eq!(
        rest.unwrap(),
        serde_json::json!({"purged": 2, "more": false, "batches": 1})
    );
    assert_eq!(app.footprint().await, [10, 20, 10, 3], "only records go");
    assert_eq!(
        texts(
            &mut app.db().await,
            "SELECT idempotency_key AS value FROM idempotency_records ORDER BY 1"
        )
        .await,
        ["key-7", "key-8", "key-9"]
    );

    // A record inside the TTL still replays; a purged key is a new request.
    let kept = app
        .post(
            "/v1/payments",
            &authorize_body(109, "USD", "pm_card_visa"),
            Some("key-9"),
        )
        .await;
    assert_eq!(kept.headers()["idempotent-replayed"], "true");
    let purged = app
        .post(
            "/v1/payments",
            &authorize_body(100, "USD", "pm_card_visa"),
            Some("key-0"),
        )
        .await;
    assert_eq!(purged.status(), 201);
    assert!(purged.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.footprint().await, [11, 22, 11, 4]);
}
