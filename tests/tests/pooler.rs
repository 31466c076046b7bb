//! Case K11: both binaries behind PgBouncer in transaction mode (Debian's 1.18, which keeps no
//! prepared statements), as RDS Proxy, Supavisor and most hosted PostgreSQL put one: 40
//! authorizations from 8 concurrent clients, then 40 reads, then a relay drain, all through
//! the pooler with `DATABASE_POOL_MODE=transaction`, on server connections another client left
//! named prepared statements on. `scripts/test` starts PgBouncer and sets `TEST_PGBOUNCER_PORT`.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::process::Stdio;

use e2e::stack::{self, RelayTarget};
use serde_json::json;

/// Server connections PgBouncer hands out: the default pool size of `scripts/lib.sh`.
const SERVER_CONNECTIONS: usize = 10;

/// Leaves named prepared statements `s0`…`s40` on every server connection of the pooler, as a
/// client that prepares statements (a session-mode one, `PREPARE`) does: PgBouncer 1.18 in
/// transaction mode resets nothing between clients. Whoever names statements the same way
/// collides with them (`prepared statement "s0" already exists`).
async fn leave_prepared_statements(pooled: &str) {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(SERVER_CONNECTIONS));
    let prepare: String = (0..=40)
        .map(|n| format!("; PREPARE s{n} AS SELECT {n}"))
        .collect();
    let tasks = (0..SERVER_CONNECTIONS).map(|_| {
        let barrier = std::sync::Arc::clone(&barrier);
        let pooled = pooled.to_owned();
        let prepare = prepare.clone();
        tokio::spawn(async move {
            let mut conn = AsyncPgConnection::establish(&pooled).await.unwrap();
            // All in a transaction at once: each holds its own server connection.
            conn.batch_execute(&format!("BEGIN{prepare}"))
                .await
                .unwrap();
            barrier.wait().await;
            conn.batch_execute("COMMIT").await.unwrap();
        })
    });
    for task in futures::future::join_all(tasks).await {
        task.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_reads_and_a_drain_all_succeed_through_a_transaction_pooler() {
    let port = std::env::var("TEST_PGBOUNCER_PORT")
        .expect("TEST_PGBOUNCER_PORT (scripts/test starts PgBouncer in transaction mode)");
    let (name, direct) = payment_db::testing::fresh_database().await;
    let api_key = stack::migrated_with_merchant(&direct, "Pooled")
        .unwrap()
        .api_key;
    let pooled = format!("postgres://postgres@127.0.0.1:{port}/{name}");
    leave_prepared_statements(&pooled).await;
    let api = stack::start_api_with(&pooled, &[("DATABASE_POOL_MODE", "transaction")])
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let writers = (0..8).map(|client| {
        let http = http.clone();
        let base = api.base_url.clone();
        let key = api_key.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for n in 0..5 {
                let answer = http
                    .post(format!("{base}/v1/payments"))
                    .bearer_auth(&key)
                    .header("idempotency-key", format!("k11-{client}-{n}"))
                    .json(&json!({"amount_minor": 500, "currency": "USD", "payment_method": "pm_card_visa"}))
                    .send()
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                let body: serde_json::Value = answer.json().await.unwrap();
                answers.push((status, body));
            }
            answers
        })
    });
    let mut ids = Vec::new();
    for writer in futures::future::join_all(writers).await {
        for (status, body) in writer.unwrap() {
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 40);
    for id in &ids {
        let answer = http
            .get(format!("{}/v1/payments/{id}", api.base_url))
            .bearer_auth(&api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    let relay = RelayTarget::with_own_topics(&pooled, "k11");
    let output = relay
        .command(&["run", "--max-runtime", "20s"])
        .unwrap()
        .env("DATABASE_POOL_MODE", "transaction")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(summary["outcome"], "drained", "{summary}");
    assert_eq!(summary["published"], 40, "{summary}");
    let tail = relay.tail().unwrap();
    assert_eq!((tail.events, tail.payments), (40, 40), "{tail:?}");
}
