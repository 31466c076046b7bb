//! Case K18: a flood of well-formed but unknown keys does not reach the database. Key lookups
//! are cached (unknown keys too) and the lookups that miss the cache are limited per client
//! address, so 400 random keys cost a bounded number of lookups, while a merchant whose key is
//! cached keeps being served.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::harness::*;

/// The `auth_key_database_lookups` gauge of `/metrics`.
async fn lookups(app: &TestApp) -> i64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("auth_key_database_lookups "))
        .unwrap()
        .parse()
        .unwrap()
}

/// Transactions committed in the app's database (`pg_stat_database`), once every backend has
/// reported its statistics (they report when they exit: the pool's are ended first).
async fn committed_transactions(app: &TestApp) -> i64 {
    payment_db::testing::end_sessions(&app.database).await;
    let mut admin = AsyncPgConnection::establish(&payment_db::testing::admin_url())
        .await
        .unwrap();
    scalar(
        &mut admin,
        &format!(
            "SELECT xact_commit AS value FROM pg_stat_database WHERE datname = '{}'",
            app.database
        ),
    )
    .await
}

fn random_key() -> String {
    let tail: String = (0..43)
        .map(|_| {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            char::from(alphabet[rand::random_range(0..alphabet.len())])
        })
        .collect();
    format!("sk_{tail}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_unknown_keys_costs_a_bounded_number_of_lookups() {
    let app = TestApp::spawn().await;
    let id = app.authorized_id(1000, "EUR").await;
    let before_lookups = lookups(&app).await;
    let before_transactions = committed_transactions(&app).await;

    let started = Instant::now();
    let flood = (0..400).map(|_| {
        let http = app.http.clone();
        let url = app.url("/v1/payments");
        async move {
            http.post(url)
                .bearer_auth(random_key())
                .json(&json!({"amount_minor": 1, "currency": "USD", "payment_method": "pm_card_visa"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    // Meanwhile the merchant, from the same address, reads its payment.
    let merchant = async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                app.get(&format!("/v1/payments/{id}"))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    let (flooded, served) = tokio::join!(futures::future::join_all(flood), merchant);
    let elapsed = started.elapsed();
    let refused = |status: u16| flooded.iter().filter(|s| **s == status).count();
    eprintln!(
        "flood: {} × 401, {} × 429 in {elapsed:?}",
        refused(401),
        refused(429)
    );
    assert_eq!(refused(401) + refused(429), 400, "{flooded:?}");
    assert!(served.iter().all(|status| *status == 200), "{served:?}");

    // Lookups: the burst (40) plus 20 per second of the flood, not one per request.
    let spent = lookups(&app).await - before_lookups;
    let bound = 40 + 20 * i64::try_from(elapsed.as_secs() + 1).unwrap();
    assert!(
        spent <= bound,
        "{spent} lookups for 400 unknown keys (bound {bound})"
    );
    // And what the database saw: those lookups and the merchant's 40 reads (each with the
    // pool's `SELECT 1` check on checkout: two transactions per request that reaches the
    // database), the health checks and the metrics scrapes. One lookup per unknown key would
    // be about 800.
    let transactions = committed_transactions(&app).await - before_transactions;
    eprintln!("{spent} key lookups, {transactions} database transactions");
    assert!(
        transactions < 300,
        "{transactions} transactions for 400 unknown keys"
    );

    // The same unknown key again is answered from the cache; so is a known one.
    let key = random_key();
    for _ in 0..3 {
        let answer = app
            .http
            .get(app.url(&format!("/v1/payments/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let body = answer.text().await.unwrap();
        assert!([401, 429].contains(&status), "{status} {body}");
    }
    let settled = lookups(&app).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..20 {
        assert_eq!(app.get(&format!("/v1/payments/{id}")).await.status(), 200);
    }
    assert_eq!(lookups(&app).await, settled, "cached keys need no lookup");
}
