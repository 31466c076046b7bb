//! Operator commands: stats, purge, replay selectors.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::harness::*;

pub async fn attempts(outbox: &Outbox) -> Vec<i32> {
    use payment_db::schema::outbox_events::dsl as o;
    o::outbox_events
        .select(o::attempts)
        .load(&mut outbox.db().await)
        .await
        .unwrap()
}

pub async fn dead_classes(outbox: &Outbox) -> Vec<(uuid::Uuid, i64)> {
    use payment_db::schema::outbox_events::dsl as o;
    o::outbox_events
        .filter(o::status.eq("dead"))
        .select((o::aggregate_id, o::aggregate_version))
        .load(&mut outbox.db().await)
        .await
        .unwrap()
}

fn json_of(outbox: &Outbox, args: &[&str]) -> Value {
    let output = outbox.relay_command(args).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_purge_and_replay() {
    let outbox = Outbox::new().await;
    let parked = outbox.payment_with(2).await;
    outbox.bulk(5, 1).await;
    outbox
        .sql(&format!("UPDATE outbox_events SET status = 'dead' WHERE aggregate_id = '{parked}' AND aggregate_version = 1"))
        .await;
    let stats = json_of(&outbox, &["stats"]);
    assert_eq!(
        (
            stats["pending"].as_i64(),
            stats["dead"].as_i64(),
            stats["parked_payments"].as_i64()
        ),
        (Some(6), Some(1), Some(1))
    );
    assert!(stats["oldest_pending_age_ms"].as_i64().unwrap() >= 0);

    let (code, _) = outbox.run(&[]);
    assert_eq!(code, 0);
    assert_eq!(
        json_of(&outbox, &["purge", "--older-than", "1h"])["purged"],
        0,
        "recent rows are kept"
    );
    outbox.sql("UPDATE outbox_events SET published_at = now() - interval '8 days' WHERE status = 'published'").await;
    assert_eq!(
        json_of(&outbox, &["purge", "--older-than", "7d", "--batch", "2"])["purged"],
        5
    );

    assert_eq!(json_of(&outbox, &["replay", "--all"])["replayed"], 1);
    assert_eq!(outbox.run(&[]).1["published"], 2);
    let usage = outbox.relay_command(&["replay"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2), "replay needs a selector");
}

/// The relay's work queue as the database keeps it, and as the outbox statuses say it must be.
async fn queue_and_expected(outbox: &Outbox) -> (Vec<(i64, bool)>, Vec<(i64, bool)>) {
    use payment_db::schema::outbox_events::dsl as o;
    use payment_db::schema::outbox_pending::dsl as p;
    let mut conn = outbox.db().await;
    let queue = p::outbox_pending
        .select((p::sequence, p::dead))
        .order(p::sequence)
        .load(&mut conn)
        .await
        .unwrap();
    let expected = o::outbox_events
        .filter(o::status.ne("published"))
        .select((o::sequence, o::status.eq("dead")))
        .order(o::sequence)
        .load(&mut conn)
        .await
        .unwrap();
    (queue, expected)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_work_queue_follows_every_status_change_also_by_hand() {
    let outbox = Outbox::new().await;
    outbox.bulk(4, 3).await;
    for sql in [
        "UPDATE outbox_events SET status = 'dead' WHERE aggregate_version = 2",
        "UPDATE outbox_events SET status = 'published', published_at = now() WHERE aggregate_version = 1",
        "UPDATE outbox_events SET status = 'pending' WHERE sequence = (SELECT min(sequence) FROM outbox_events WHERE status = 'dead')",
        "DELETE FROM outbox_events WHERE aggregate_version = 3",
    ] {
        outbox.sql(sql).await;
        let (queue, expected) = queue_and_expected(&outbox).await;
        assert_eq!(queue, expected, "after {sql}");
    }
    outbox.sql("TRUNCATE outbox_events").await;
    assert_eq!(queue_and_expected(&outbox).await, (vec![], vec![]));
}
