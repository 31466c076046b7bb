//! Issue 15: per-merchant budgets shared through a real Redis (a `redis-server` of our own on a
//! free port): two instances share one budget; Redis stopped → fail-open admits, fail-closed
//! answers 503 `rate_limiter_unavailable` (never a 500, never a hang); Redis back → limited
//! again, without a restart. Overrides per merchant and class (`admin set-rate-limit`) reach
//! every instance within the key cache's TTL, in Redis and in process.

use std::num::NonZeroU32;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use payment_api::rate_limit::{FailMode, RateClass, RateLimit, RateLimits, RedisSettings};

use crate::harness::*;

/// A `redis-server` on 127.0.0.1, without persistence; killed on drop.
struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// With more `redis-server` arguments (e.g. `--requirepass`).
    fn start_with(port: u16, args: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(args)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("redis-server (Debian's package) is needed: {error}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn options(port: u16, fail_mode: FailMode, per_second: u32, burst: u32) -> Options {
    Options {
        rate_limits: RateLimits::both(RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }),
        redis: Some(RedisSettings {
            url: format!("redis://127.0.0.1:{port}/").into(),
            password: None,
            key_prefix: "test:rate:".to_owned(),
            // Generous, so a loaded test machine does not turn decisions into failures.
            timeout: Duration::from_millis(500),
            fail_mode,
        }),
        ..Options::default()
    }
}

/// A read that writes nothing: 404 when admitted, 429 when limited.
async fn probe(app: &TestApp) -> u16 {
    let missing = uuid::Uuid::now_v7().to_string();
    app.get_status_as(&app.api_key, &missing).await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_share_one_budget_per_merchant() {
    let redis = RedisServer::start(payment_db::testing::free_port());
    let (rate, burst) = (2, 10);
    let settings = options(redis.port, FailMode::Closed, rate, burst);
    let first = TestApp::spawn_with(settings.clone()).await;
    let second = first.another_instance(&settings).await;
    let started = Instant::now();
    let mut admitted = [0_u32; 2];
    for round in 0..30 {
        let (index, app) = if round % 2 == 0 {
            (0, &first)
        } else {
            (1, &second)
        };
        match probe(app).await {
            404 => admitted[index] += 1,
            429 => {}
            other => panic!("status {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = admitted[0] + admitted[1];
    eprintln!("admitted {admitted:?} of 30 in {elapsed:.2} s");
    // GCRA: at most `burst` at once plus `rate` per second elapsed, summed over both.
    let bound = f64::from(burst) + f64::from(rate) * elapsed + 1.0;
    assert!(
        f64::from(total) <= bound && total >= burst,
        "admitted {admitted:?} in {elapsed:.2} s: bound {bound:.1} (in process each would admit {burst})"
    );
    assert!(admitted[0] > 0 && admitted[1] > 0, "{admitted:?}");
    // Spent: a 429 comes within a few calls (a loaded machine may let a unit come back).
    let mut limited = first
        .get(&format!("/v1/payments/{}", uuid::Uuid::now_v7()))
        .await;
    for _ in 0..20 {
        if limited.status() == 429 {
            break;
        }
        limited = first
            .get(&format!("/v1/payments/{}", uuid::Uuid::now_v7()))
            .await;
    }
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["ratelimit-policy"], "\"reads\";q=10;w=5");
    assert_eq!(limited.headers()["ratelimit"], "\"reads\";r=0;t=1");
    assert_eq!(limited.headers()["retry-after"], "1");
    // Another merchant has its own budget.
    let other = first.other_merchant_key().await;
    let missing = uuid::Uuid::now_v7().to_string();
    assert_eq!(first.get_status_as(&other, &missing).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_fails_open_or_closed_and_recovery_needs_no_restart() {
    let port = payment_db::testing::free_port();
    let mut redis = RedisServer::start(port);
    let open = TestApp::spawn_with(options(port, FailMode::Open, 1, 3)).await;
    let closed = open
        .another_instance(&options(port, FailMode::Closed, 1, 3))
        .await;
    // Limited while Redis runs (both instances spend one budget).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(probe(&open).await);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    redis.stop();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(probe(&open).await, 404, "fail-open admits");
        let response = closed
            .http
            .get(closed.url(&format!("/v1/payments/{}", uuid::Uuid::now_v7())))
            .bearer_auth(&closed.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 503, "fail-closed refuses");
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(problem(response).await["code"], "rate_limiter_unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "no hung request"
        );
    }
    let status = closed
        .grpc
        .clone()
        .get_payment(grpc_request_as(
            &closed.api_key,
            payment_proto::v1::GetPaymentRequest {
                payment_id: uuid::Uuid::now_v7().to_string(),
            },
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let metrics = open
        .http
        .get(open.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let errors: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("rate_limiter_errors_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 5, "{errors}");

    // Redis back on the same port: limits apply again, no restart.
    let _redis = RedisServer::start(port);
    let started = Instant::now();
    loop {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(probe(&closed).await);
        }
        if statuses.contains(&429) && !statuses.contains(&503) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not limited again: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open.footprint().await, [0, 0, 0, 0]);
}

/// Statuses of `n` reads of `app`'s merchant.
async fn probes(app: &TestApp, n: usize) -> Vec<u16> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        statuses.push(probe(app).await);
    }
    statuses
}

/// The `RateLimit-Policy` of the first 429 within `tries` calls of `class` by `app`'s merchant:
/// reads of an unknown payment (404 until limited) or authorizations (201 until limited).
async fn first_policy(app: &TestApp, class: RateClass, tries: usize) -> String {
    for _ in 0..tries {
        let response = match class {
            RateClass::Read => {
                app.get(&format!("/v1/payments/{}", uuid::Uuid::now_v7()))
                    .await
            }
            RateClass::Write => {
                app.post(
                    "/v1/payments",
                    &authorize_body(1, "USD", "pm_card_visa"),
                    None,
                )
                .await
            }
        };
        if response.status() == 429 {
            return response.headers()["ratelimit-policy"]
                .to_str()
                .unwrap()
                .to_owned();
        }
        let expected = if class == RateClass::Read { 404 } else { 201 };
        assert_eq!(response.status(), expected);
    }
    panic!("no 429 in {tries} calls of {}", class.as_str());
}

async fn read_policy(app: &TestApp, tries: usize) -> String {
    first_policy(app, RateClass::Read, tries).await
}

async fn write_policy(app: &TestApp, tries: usize) -> String {
    first_policy(app, RateClass::Write, tries).await
}

/// `admin set-rate-limit` with `args`, its JSON line.
fn set_rate_limit(app: &TestApp, args: &[&str]) -> serde_json::Value {
    let merchant = app.merchant_id.to_string();
    let mut all = vec!["set-rate-limit", "--merchant-id", &merchant];
    all.extend_from_slice(args);
    json_lines(&app.admin(&all)).remove(0)
}

/// Long enough for every instance's key cache (200 ms in these tests) to forget the lookup.
const PAST_CACHE_TTL: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread")]
async fn overrides_per_merchant_and_class_reach_every_instance_within_the_cache_ttl() {
    let redis = RedisServer::start(payment_db::testing::free_port());
    let mut settings = options(redis.port, FailMode::Closed, 1, 2);
    settings.auth.cache_ttl = Duration::from_millis(200);
    let first = TestApp::spawn_with(settings.clone()).await;
    let second = first.another_instance(&settings).await;

    // The defaults: 2 reads at once; writes have a budget of their own.
    assert_eq!(read_policy(&first, 4).await, "\"reads\";q=2;w=2");
    assert_eq!(
        first
            .post(
                "/v1/payments",
                &authorize_body(1, "USD", "pm_card_visa"),
                None
            )
            .await
            .status(),
        201
    );

    // Reads raised to 20 at once for this merchant, on both instances.
    let stored = set_rate_limit(&first, &["--reads-per-second", "1", "--reads-burst", "20"]);
    assert_eq!(stored["reads_burst"], 20);
    assert_eq!(stored["reads_per_second"], 1);
    assert_eq!(stored["writes_burst"], serde_json::Value::Null);
    tokio::time::sleep(PAST_CACHE_TTL).await;
    let started = Instant::now();
    let mut statuses = probes(&first, 12).await;
    statuses.extend(probes(&second, 12).await);
    let admitted = statuses.iter().filter(|status| **status == 404).count();
    let elapsed = started.elapsed().as_secs_f64();
    // The budget was spent under the default; GCRA keeps its TAT, so about 18 units are left.
    assert!(
        (15.0..=21.0 + elapsed).contains(&(admitted as f64)),
        "admitted {admitted} of 24 in {elapsed:.2} s: {statuses:?}"
    );
    assert_eq!(read_policy(&second, 10).await, "\"reads\";q=20;w=20");
    // The other merchant keeps the defaults.
    let other = first.other_merchant_key().await;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut other_statuses = Vec::new();
    for _ in 0..4 {
        other_statuses.push(first.get_status_as(&other, &missing).await);
    }
    assert!(other_statuses.contains(&429), "{other_statuses:?}");

    // Writes lowered to 1 at once with the short `--burst`; the reads override stays.
    let stored = set_rate_limit(&first, &["--writes-per-second", "1", "--burst", "1"]);
    assert_eq!(
        (
            stored["writes_burst"].clone(),
            stored["reads_burst"].clone()
        ),
        (1.into(), 20.into())
    );
    tokio::time::sleep(PAST_CACHE_TTL).await;
    assert_eq!(write_policy(&second, 3).await, "\"writes\";q=1;w=1");

    // Reset: the defaults again.
    let stored = set_rate_limit(&first, &["--reset"]);
    assert_eq!(stored["reads_burst"], serde_json::Value::Null);
    assert_eq!(stored["updated_at"], serde_json::Value::Null);
    tokio::time::sleep(PAST_CACHE_TTL).await;
    assert_eq!(read_policy(&first, 25).await, "\"reads\";q=2;w=2");
    assert_eq!(count_overrides(&first).await, 0);
}

async fn count_overrides(app: &TestApp) -> i64 {
    scalar(
        &mut app.db().await,
        "SELECT count(*) AS value FROM merchant_rate_limits",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn overrides_apply_in_process_too_and_bad_ones_change_nothing() {
    let one = RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(1).unwrap(),
    };
    let app = TestApp::spawn_with(Options {
        rate_limits: RateLimits {
            writes: None,
            reads: Some(one),
        },
        auth: payment_api::auth::AuthSettings {
            cache_ttl: Duration::from_millis(200),
            ..payment_api::auth::AuthSettings::default()
        },
        ..Options::default()
    })
    .await;
    assert_eq!(read_policy(&app, 3).await, "\"reads\";q=1;w=1");
    // Writes have no default here; an override limits them all the same.
    set_rate_limit(&app, &["--writes-per-second", "1", "--writes-burst", "2"]);
    tokio::time::sleep(PAST_CACHE_TTL).await;
    assert_eq!(write_policy(&app, 4).await, "\"writes\";q=2;w=2");

    // Refused before the database or by it: nothing stored, a clear message, no panic.
    let merchant = app.merchant_id.to_string();
    let unknown = uuid::Uuid::now_v7().to_string();
    for (args, code, message) in [
        (vec!["--merchant-id", &merchant], 2, "required"),
        (
            vec!["--merchant-id", &merchant, "--reads-burst", "0"],
            2,
            "from 1 to",
        ),
        (
            vec!["--merchant-id", &merchant, "--reads-burst=-3"],
            2,
            "from 1 to",
        ),
        (
            vec!["--merchant-id", &merchant, "--reads-burst", "2147483648"],
            2,
            "from 1 to",
        ),
        (
            vec!["--merchant-id", &merchant, "--reset", "--reads-burst", "2"],
            2,
            "cannot be used",
        ),
        (
            vec!["--merchant-id", &unknown, "--reads-burst", "2"],
            1,
            "no merchant with id",
        ),
    ] {
        let mut all = vec!["set-rate-limit"];
        all.extend(args.iter().copied());
        let output = app.admin(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let stored = scalar(
        &mut app.db().await,
        "SELECT count(*) AS value FROM merchant_rate_limits WHERE reads_burst IS NOT NULL",
    )
    .await;
    assert_eq!(stored, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auth_token_from_its_own_setting_is_used_and_a_wrong_one_fails_as_configured() {
    // ElastiCache's shape: the URL names the host, the token comes from a secret.
    let redis = RedisServer::start_with(
        payment_db::testing::free_port(),
        &["--requirepass", "s3cret-token"],
    );
    let with_password = |password: &str| {
        let mut settings = options(redis.port, FailMode::Closed, 1, 2);
        if let Some(redis) = settings.redis.as_mut() {
            redis.password = Some(password.to_owned().into());
        }
        settings
    };
    let app = TestApp::spawn_with(with_password("s3cret-token")).await;
    let statuses = probes(&app, 4).await;
    assert!(
        statuses.contains(&429) && !statuses.contains(&503),
        "{statuses:?}"
    );
    let wrong = app.another_instance(&with_password("wrong")).await;
    assert_eq!(probes(&wrong, 2).await, [503, 503]);
}
