//! Issue 15: per-merchant budgets shared through a real Redis (a `redis-server` of our own on a
//! free port): two instances share one budget; Redis stopped → fail-open admits, fail-closed
//! answers 503 `rate_limiter_unavailable` (never a 500, never a hang); Redis back → limited
//! again, without a restart.

use std::num::NonZeroU32;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use payment_api::rate_limit::{FailMode, RedisSettings};
use payment_api::service::RateLimit;

use crate::harness::*;

/// A `redis-server` on 127.0.0.1, without persistence; killed on drop.
struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn options(port: u16, fail_mode: FailMode, per_second: u32, burst: u32) -> Options {
    Options {
        rate_limit: Some(RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }),
        redis: Some(RedisSettings {
            url: format!("redis://127.0.0.1:{port}/").into(),
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
    let redis = RedisServer::start(free_port());
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
    assert_eq!(
        limited.headers()["ratelimit-policy"],
        "\"merchant\";q=10;w=5"
    );
    assert_eq!(limited.headers()["ratelimit"], "\"merchant\";r=0;t=1");
    assert_eq!(limited.headers()["retry-after"], "1");
    // Another merchant has its own budget.
    let other = first.other_merchant_key().await;
    let missing = uuid::Uuid::now_v7().to_string();
    assert_eq!(first.get_status_as(&other, &missing).await, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_fails_open_or_closed_and_recovery_needs_no_restart() {
    let port = free_port();
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
