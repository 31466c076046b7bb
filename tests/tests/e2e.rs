//! End to end: the API and relay-job as separate processes, a real PostgreSQL and the broker of
//! `KAFKA_BROKERS`. Needs the workspace binaries built (`scripts/test` builds them).
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::client::{Call, Client, Surface};
use e2e::stack::{self, RelayTarget};
use e2e::workload;

struct Stack {
    database_url: String,
    client: Client,
    relay: RelayTarget,
    _api: stack::ApiProcess,
}

async fn stack() -> Stack {
    let (_, database_url) = payment_db::testing::fresh_database().await;
    stack::api_command(&database_url, &["migrate"]).unwrap();
    let created = stack::api_command(
        &database_url,
        &["admin", "create-merchant", "--name", "E2E"],
    )
    .unwrap();
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("api_key="))
        .unwrap()
        .to_owned();
    let api = stack::start_api(&database_url).await.unwrap();
    let client = Client::connect(&api.base_url, &key).await.unwrap();
    let relay = RelayTarget::with_own_topics(&database_url, "e2e");
    Stack {
        database_url,
        client,
        relay,
        _api: api,
    }
}

fn drain(relay: &RelayTarget) -> u64 {
    let mut published = 0;
    for _ in 0..30 {
        let (code, summary) = relay
            .tick(&["--max-runtime", "200ms", "--batch-size", "25"])
            .unwrap();
        assert_eq!(code, 0, "{summary}");
        published += summary["published"].as_u64().unwrap();
        if summary["outcome"] == "drained" {
            return published;
        }
    }
    panic!("never drained");
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_over_three_surfaces_reach_the_topic_valid_and_in_order() {
    let stack = stack().await;
    let report = workload::run(&stack.client, 60, "e2e", |_| {})
        .await
        .unwrap();
    assert!(report.calls.len() == 3 && report.replays_verified > 0);
    let published = drain(&stack.relay);
    assert_eq!(published as i64, report.total_events());
    let tail = stack.relay.tail().unwrap();
    assert!(tail.is_clean(), "{tail:?}");
    assert_eq!(tail.events as i64, report.total_events());
    assert_eq!(tail.payments as usize, report.expected_events.len());
    assert_eq!((tail.identical_duplicates, tail.dead_letters), (0, 0));
    for event_type in [
        "payment.authorized",
        "payment.declined",
        "payment.captured",
        "payment.voided",
        "payment.refunded",
    ] {
        assert!(
            tail.by_type.get(event_type).copied().unwrap_or(0) > 0,
            "no {event_type}: {:?}",
            tail.by_type
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_idempotency_key_over_three_surfaces_at_once_makes_one_payment() {
    let stack = stack().await;
    let authorize = Call::Authorize {
        amount_minor: 777,
        currency: "EUR".into(),
        payment_method: "pm_card_visa".into(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let (client, call) = (stack.client.clone(), authorize.clone());
        tasks.spawn(async move {
            client
                .call(Surface::ALL[i % 3], &call, Some("three-surfaces"))
                .await
        });
    }
    let results = tasks.join_all().await;
    let ids: BTreeSet<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|p| p.id.clone()))
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            error.code == "idempotency_key_in_flight" || error.status == 10,
            "{error}"
        );
    }
    // Afterwards every surface replays the same payment.
    for surface in Surface::ALL {
        let replay = stack
            .client
            .call(surface, &authorize, Some("three-surfaces"))
            .await
            .unwrap();
        assert!(
            replay.replayed && ids.contains(&replay.id),
            "{surface:?}: {replay:?}"
        );
    }
    let changed = Call::Authorize {
        amount_minor: 778,
        currency: "EUR".into(),
        payment_method: "pm_card_visa".into(),
    };
    for surface in Surface::ALL {
        let error = stack
            .client
            .call(surface, &changed, Some("three-surfaces"))
            .await
            .unwrap_err();
        assert_eq!(error.code, "idempotency_key_reused", "{surface:?}");
    }
    assert_eq!(drain(&stack.relay), 1, "one payment, one event");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_a_relay_mid_batch_then_another_run_loses_nothing() {
    let stack = stack().await;
    let report = workload::run(&stack.client, 30, "kill", |_| {})
        .await
        .unwrap();
    let mut db = AsyncPgConnection::establish(&stack.database_url)
        .await
        .unwrap();
    // Marking is slowed down so the kill lands after the broker acknowledged a batch.
    db.batch_execute(
        "CREATE FUNCTION slow_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(20); RETURN NULL; END $$; \
         CREATE TRIGGER slow_mark BEFORE UPDATE ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION slow_mark();",
    )
    .await
    .unwrap();
    let mut relay = stack.relay.spawn(&["--batch-size", "50"]).unwrap();
    let started = Instant::now();
    loop {
        let tail = stack.relay.tail().unwrap();
        if tail.events >= 30 || started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    relay.kill().unwrap(); // SIGKILL, mid-batch
    relay.wait().unwrap();
    db.batch_execute("DROP TRIGGER slow_mark ON outbox_events")
        .await
        .unwrap();

    drain(&stack.relay);
    let tail = stack.relay.tail().unwrap();
    assert!(
        tail.is_clean(),
        "order kept, duplicates identical: {tail:?}"
    );
    assert_eq!(
        tail.events as i64 - tail.identical_duplicates as i64,
        report.total_events(),
        "nothing lost"
    );
    assert!(
        tail.identical_duplicates > 0,
        "the killed batch was acknowledged but not marked: {tail:?}"
    );
}
