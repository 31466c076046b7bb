//! Several writers and several relays at once: late commits are never skipped (K06), work is
//! split without reordering or duplicating (10,000 events, 3 relays).

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use uuid::Uuid;

use crate::harness::*;

async fn committed_event_ids(outbox: &Outbox) -> HashSet<String> {
    use payment_db::schema::outbox_events::dsl as o;
    o::outbox_events
        .select(o::event_id)
        .load::<Uuid>(&mut outbox.db().await)
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_commits_late_is_still_published() {
    let outbox = Outbox::new().await;
    // Transaction A inserts row N and waits.
    let mut a = outbox.db().await;
    a.batch_execute("BEGIN").await.unwrap();
    let late_payment = Uuid::now_v7();
    payment_db::outbox::insert_event(&mut a, &event(late_payment, outbox.merchant, 1), "")
        .await
        .unwrap();
    // Transaction B inserts N+1 and commits.
    let early_payment = outbox.payment_with(1).await;
    let (code, first) = outbox.run(&[]);
    assert_eq!((code, first["published"].as_u64()), (0, Some(1)), "{first}");
    a.batch_execute("COMMIT").await.unwrap();
    let (code, second) = outbox.run(&[]);
    assert_eq!(
        (code, second["published"].as_u64()),
        (0, Some(1)),
        "{second}"
    );
    let keys: Vec<String> = outbox
        .read(&outbox.events_topic, 2)
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&late_payment.to_string()) && keys.contains(&early_payment.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_writers_with_random_commit_delays_and_relays_running_meanwhile() {
    let outbox = Outbox::new().await;
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..50_u64 {
        let url = outbox.url.clone();
        let merchant = outbox.merchant;
        writers.spawn(async move {
            let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                .await
                .unwrap();
            conn.batch_execute("BEGIN").await.unwrap();
            let payment = Uuid::now_v7();
            for version in 1..=2 {
                payment_db::outbox::insert_event(&mut conn, &event(payment, merchant, version), "")
                    .await
                    .unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis((i * 37) % 1500)).await;
            conn.batch_execute("COMMIT").await.unwrap();
        });
    }
    let mut relay_runs = 0;
    while !writers.is_empty() || relay_runs < 2 {
        let relays = [
            outbox.spawn_run(&["--batch-size", "5"]),
            outbox.spawn_run(&["--batch-size", "5"]),
        ];
        for relay in relays {
            assert_eq!(summary_of(&relay.wait_with_output().unwrap()).0, 0);
        }
        relay_runs += 1;
        while writers.try_join_next().is_some() {}
        if writers.is_empty() {
            let (code, _) = outbox.run(&[]);
            assert_eq!(code, 0);
            break;
        }
    }
    let records = outbox.read(&outbox.events_topic, 100);
    let on_topic: HashSet<String> = records.iter().map(|r| r.headers["ce_id"].clone()).collect();
    assert_eq!(
        on_topic,
        committed_event_ids(&outbox).await,
        "the topic holds exactly the committed events"
    );
    assert_eq!(records.len(), 100, "no duplicates when nothing crashed");
    assert_ordered(&records);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_events_over_500_payments_with_three_relays() {
    let outbox = Outbox::new().await;
    outbox.bulk(500, 20).await;
    let relays: Vec<_> = (0..3)
        .map(|_| outbox.spawn_run(&["--max-runtime", "120s"]))
        .collect();
    let mut published = 0;
    for relay in relays {
        let (code, summary) = summary_of(&relay.wait_with_output().unwrap());
        assert_eq!(code, 0, "{summary}");
        published += summary["published"].as_u64().unwrap();
    }
    assert_eq!(published, 10_000);
    let records = outbox.read(&outbox.events_topic, 10_000);
    assert_eq!(
        records.len(),
        10_000,
        "every committed event reached the topic, once"
    );
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r.headers["ce_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 10_000, "no duplicates");
    assert_ordered(&records);
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for record in &records {
        *per_key.entry(record.key.as_str()).or_default() += 1;
    }
    assert_eq!(per_key.len(), 500);
    assert!(per_key.values().all(|count| *count == 20));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_relay_with_eight_workers_drains_long_chains_in_order() {
    // 30 payments of 40 events in batches of 7: most claims find every head held by another
    // worker, which must wait for that batch instead of ending the run.
    let outbox = Outbox::new().await;
    outbox.bulk(30, 40).await;
    let (code, summary) = outbox.run(&["--workers", "8", "--batch-size", "7"]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["outcome"], "drained");
    assert_eq!(summary["published"], 1_200);
    assert_eq!(summary["remaining"], 0, "one run drains everything");
    let records = outbox.read(&outbox.events_topic, 1_200);
    let ids: HashSet<&str> = records
        .iter()
        .map(|r| r.headers["ce_id"].as_str())
        .collect();
    assert_eq!(
        (records.len(), ids.len()),
        (1_200, 1_200),
        "each event once"
    );
    assert_ordered(&records);
}
