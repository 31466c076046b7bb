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

fn json_lines(outbox: &Outbox, args: &[&str]) -> Vec<Value> {
    let output = outbox.relay_command(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_events_are_listed_and_shown_with_their_reason() {
    let outbox = Outbox::new().await;
    let poisoned = outbox.payment_with(2).await;
    let other = outbox.payment_with(1).await;
    for payment in [poisoned, other] {
        outbox.set_currency(payment, 1, "usd").await;
    }
    let (code, summary) = outbox.run(&[]);
    assert_eq!(
        (code, summary["dead_lettered"].as_u64()),
        (0, Some(2)),
        "{summary}"
    );

    let all = json_lines(&outbox, &["dead", "list"]);
    assert_eq!(all.len(), 2, "{all:?}");
    for line in &all {
        for field in [
            "event_id",
            "payment_id",
            "type",
            "version",
            "attempts",
            "reason",
            "dead_since",
        ] {
            assert!(line.get(field).is_some(), "{field} missing: {line}");
        }
        let reason = line["reason"].as_str().unwrap();
        assert!(reason.starts_with("schema_invalid: "), "{reason}");
        // The envelope and the type's schema both reject the currency: said once.
        assert_eq!(reason.matches("/data/currency").count(), 1, "{reason}");
    }
    let one = json_lines(
        &outbox,
        &["dead", "list", "--payment-id", &poisoned.to_string()],
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["payment_id"], poisoned.to_string());
    assert_eq!(one[0]["type"], "payment.authorized");
    assert_eq!(
        json_lines(&outbox, &["dead", "list", "--limit", "1"]).len(),
        1
    );

    let event_id = one[0]["event_id"].as_str().unwrap();
    let shown = json_of(&outbox, &["dead", "show", "--event-id", event_id]);
    assert_eq!(shown["event_id"], event_id);
    assert_eq!(shown["event"]["id"], event_id, "the stored CloudEvent");
    assert_eq!(shown["event"]["data"]["currency"], "usd");
    assert!(shown["reason"].as_str().unwrap().contains("schema_invalid"));
    let missing = outbox
        .relay_command(&[
            "dead",
            "show",
            "--event-id",
            &uuid::Uuid::now_v7().to_string(),
        ])
        .output()
        .unwrap();
    let (code, line) = summary_of(&missing);
    assert_eq!(code, 1, "{line}");
    assert!(line["reason"].as_str().unwrap().contains("no dead event"));

    // A dry run counts and changes nothing.
    let dry = json_of(&outbox, &["replay", "--all", "--dry-run"]);
    assert_eq!(
        (dry["dry_run"].as_bool(), dry["would_replay"].as_i64()),
        (Some(true), Some(2))
    );
    assert_eq!(
        json_lines(&outbox, &["dead", "list"]).len(),
        2,
        "still dead"
    );
    let dry = json_of(
        &outbox,
        &["replay", "--payment-id", &poisoned.to_string(), "--dry-run"],
    );
    assert_eq!(dry["would_replay"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_has_a_dry_run_and_a_bound_per_call_unless_yes() {
    let outbox = Outbox::new().await;
    outbox.bulk(25, 1).await;
    assert_eq!(outbox.run(&[]).0, 0);
    outbox
        .sql("UPDATE outbox_events SET published_at = now() - interval '8 days'")
        .await;
    let dry = json_of(
        &outbox,
        &[
            "purge",
            "--older-than",
            "7d",
            "--dry-run",
            "--max-rows",
            "10",
        ],
    );
    assert_eq!(
        (
            dry["dry_run"].as_bool(),
            dry["would_purge"].as_i64(),
            dry["more"].as_bool()
        ),
        (Some(true), Some(10), Some(true)),
        "{dry}"
    );
    assert_eq!(
        outbox.statuses().await.get("published"),
        Some(&25),
        "nothing deleted"
    );

    let first = json_of(
        &outbox,
        &[
            "purge",
            "--older-than",
            "7d",
            "--max-rows",
            "10",
            "--batch",
            "4",
        ],
    );
    assert_eq!(
        (
            first["purged"].as_i64(),
            first["more"].as_bool(),
            first["batches"].as_i64()
        ),
        (Some(10), Some(true), Some(3)),
        "{first}"
    );
    let all = json_of(
        &outbox,
        &["purge", "--older-than", "7d", "--max-rows", "10", "--yes"],
    );
    assert_eq!(
        (all["purged"].as_i64(), all["more"].as_bool()),
        (Some(15), Some(false)),
        "{all}"
    );
    assert_eq!(outbox.statuses().await.get("published"), None);
}
