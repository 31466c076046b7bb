//! PostgreSQL stopped (`pg_ctl stop -m fast`) and started again while the API takes writes and
//! relays drain, on a throwaway cluster this test creates (never the machine's shared server):
//! the API answers 503 while the database is down and recovers by itself, never a 500; a relay
//! run caught by the outage exits 4 and later runs finish the drain; the ledger stays
//! balanced and every committed event reaches the topic under its event id.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use e2e::cluster::PasswordCluster;
use e2e::stack::{self, RelayTarget};
use serde_json::json;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(diesel::QueryableByName)]
struct EventId {
    #[diesel(sql_type = Text)]
    event_id: String,
}

/// How long the writers run, and when the database goes down and for how long.
const WRITING: Duration = Duration::from_secs(7);
const OUTAGE_AT: Duration = Duration::from_secs(2);
const OUTAGE: Duration = Duration::from_millis(1500);
const WRITERS: usize = 4;

/// One writer: authorizations then captures, each under an idempotency key and sent again
/// while the answer is 503 (as a client honouring Retry-After would). Returns the statuses
/// seen and the payments whose authorization was answered 201.
async fn writer(
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    name: usize,
) -> (BTreeMap<u16, u64>, Vec<String>) {
    let mut statuses = BTreeMap::new();
    let mut committed = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < WRITING {
        n += 1;
        let send = |path: String, key: String, body: serde_json::Value| {
            let http = http.clone();
            let url = format!("{base_url}{path}");
            let api_key = api_key.clone();
            async move {
                http.post(url)
                    .bearer_auth(api_key)
                    .header("idempotency-key", key)
                    .json(&body)
                    .send()
                    .await
            }
        };
        let mut id = None;
        for _ in 0..100 {
            let body =
                json!({"amount_minor": 1250, "currency": "EUR", "payment_method": "pm_card_visa"});
            let Ok(answer) = send("/v1/payments".to_owned(), format!("w{name}-{n}"), body).await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            *statuses.entry(answer.status().as_u16()).or_default() += 1;
            if answer.status() == 503 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let payment: serde_json::Value = answer.json().await.unwrap();
            id = payment["id"].as_str().map(str::to_owned);
            break;
        }
        let id = id.expect("the authorization got through once the database was back");
        committed.push(id.clone());
        for _ in 0..100 {
            let Ok(answer) = send(
                format!("/v1/payments/{id}/capture"),
                format!("w{name}-{n}-capture"),
                json!({}),
            )
            .await
            else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            *statuses.entry(answer.status().as_u16()).or_default() += 1;
            if answer.status() != 503 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    (statuses, committed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_restart_under_load_loses_nothing_and_answers_503_meanwhile() {
    let cluster = PasswordCluster::start().unwrap();
    let mut admin = AsyncPgConnection::establish(&cluster.admin_url())
        .await
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE payments")
        .await
        .unwrap();
    drop(admin);
    let url = cluster.url("postgres", PasswordCluster::SUPERUSER_PASSWORD, "payments");
    let api_key = stack::migrated_with_merchant(&url, "Restart")
        .unwrap()
        .api_key;
    let api = stack::start_api_with(&url, &[("DATABASE_TIMEOUT_MS", "500")])
        .await
        .unwrap();
    let relay = RelayTarget::with_own_topics(&url, "restart");

    // Relays run one after another, as cron would start them, while the writers write.
    let stop = Arc::new(AtomicBool::new(false));
    let relays = {
        let relay = relay.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut exits = BTreeMap::<i32, u64>::new();
            while !AtomicBool::load(&stop, Ordering::Acquire) {
                let (code, _) = relay
                    .tick(&["--max-runtime", "400ms", "--batch-size", "20"])
                    .unwrap();
                *exits.entry(code).or_default() += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            exits
        })
    };
    let http = reqwest::Client::new();
    let writers: Vec<_> = (0..WRITERS)
        .map(|name| {
            tokio::spawn(writer(
                http.clone(),
                api.base_url.clone(),
                api_key.clone(),
                name,
            ))
        })
        .collect();

    tokio::time::sleep(OUTAGE_AT).await;
    cluster.stop_fast().unwrap();
    tokio::time::sleep(OUTAGE).await;
    cluster.start_again().unwrap();

    let mut statuses = BTreeMap::<u16, u64>::new();
    let mut committed = Vec::new();
    for writer in writers {
        let (seen, ids) = writer.await.unwrap();
        for (status, count) in seen {
            *statuses.entry(status).or_default() += count;
        }
        committed.extend(ids);
    }
    stop.store(true, Ordering::Release);
    let exits = relays.join().unwrap();
    eprintln!("answers by status: {statuses:?}; relay exits: {exits:?}");

    let unexpected: Vec<_> = statuses
        .keys()
        .filter(|status| ![200, 201, 503].contains(*status))
        .collect();
    assert!(unexpected.is_empty(), "unexpected answers: {statuses:?}");
    assert!(
        statuses.get(&503).copied().unwrap_or(0) > 0,
        "no 503 while down: {statuses:?}"
    );
    assert!(
        exits.keys().all(|code| [0, 4].contains(code)),
        "relay exits: {exits:?}"
    );
    assert!(
        exits.contains_key(&4),
        "no relay run met the outage: {exits:?}"
    );

    // The next runs finish the drain.
    let mut drained = false;
    for _ in 0..50 {
        let (code, summary) = relay
            .tick(&["--max-runtime", "2s", "--batch-size", "100"])
            .unwrap();
        assert_eq!(code, 0, "{summary}");
        if summary["outcome"] == "drained" {
            drained = true;
            break;
        }
    }
    assert!(drained, "the relay never drained after the restart");

    let mut db = AsyncPgConnection::establish(&url).await.unwrap();
    let unbalanced: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM (SELECT transaction_id FROM ledger_entries \
         GROUP BY transaction_id, currency \
         HAVING sum(CASE direction WHEN 'debit' THEN amount_minor ELSE -amount_minor END) <> 0) t",
    )
    .get_result(&mut db)
    .await
    .unwrap();
    assert_eq!(unbalanced.count, 0, "every ledger transaction balances");
    let payments: Count = diesel::sql_query("SELECT count(*) AS count FROM payments")
        .get_result(&mut db)
        .await
        .unwrap();
    assert_eq!(
        payments.count,
        i64::try_from(committed.len()).unwrap(),
        "one payment per authorization, whatever the retries"
    );
    let stored: BTreeSet<String> =
        diesel::sql_query("SELECT event_id::text AS event_id FROM outbox_events")
            .load::<EventId>(&mut db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.event_id)
            .collect();
    let tail = relay.tail().unwrap();
    let published: BTreeSet<String> = tail.event_ids.iter().cloned().collect();
    assert_eq!(
        published, stored,
        "every committed event is on the topic, nothing else"
    );
    assert_eq!(
        (
            tail.conflicting_duplicates,
            tail.reorders,
            tail.gaps,
            tail.schema_invalid
        ),
        (0, 0, 0, 0),
        "{tail:?}"
    );
    eprintln!(
        "{} payments, {} events, {} identical duplicate records",
        committed.len(),
        stored.len(),
        tail.identical_duplicates
    );
}
