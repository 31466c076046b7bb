//! Issue 16 pt 2: a run's metrics reach a real Prometheus Pushgateway (Debian's
//! `prometheus-pushgateway`, started by the test on a free port), keep the last success across a
//! failed run, and a Pushgateway that is down changes nothing about the run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Outbox;

/// A `prometheus-pushgateway` on 127.0.0.1 (no persistence); killed on drop.
struct Pushgateway {
    child: Child,
    url: String,
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pushgateway {
    fn start() -> Self {
        let port = payment_db::testing::free_port();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "prometheus-pushgateway (Debian's package; scripts/test installs it): {error}"
                )
            });
        let gateway = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the Pushgateway did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        gateway
    }

    /// The value of `metric` for `instance`, as Prometheus would scrape it from the gateway.
    async fn value(&self, metric: &str, instance: &str) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with(&format!("{metric}{{")))
            .find(|line| {
                line.contains(&format!("instance=\"{instance}\""))
                    && line.contains("job=\"relay-job\"")
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_run_pushes_its_metrics_and_a_failed_run_keeps_the_last_success() {
    let gateway = Pushgateway::start();
    let outbox = Outbox::new().await;
    outbox.bulk(3, 2).await;
    let instance = format!("test-{}", uuid::Uuid::new_v4().simple());
    let url = gateway.url.clone();
    let push = [
        "--metrics-push-url",
        url.as_str(),
        "--metrics-instance",
        instance.as_str(),
    ];

    let (code, summary) = outbox.run(&push);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(6)),
        "{summary}"
    );
    let value = |metric: &'static str| gateway.value(metric, &instance);
    assert_eq!(value("relay_last_run_published_events").await, Some(6.0));
    assert_eq!(value("relay_last_run_exit_code").await, Some(0.0));
    assert_eq!(value("relay_outbox_pending_events").await, Some(0.0));
    assert_eq!(
        value("relay_outbox_oldest_pending_age_seconds").await,
        Some(0.0)
    );
    let succeeded = value("relay_last_success_timestamp_seconds").await.unwrap();
    assert!(value("relay_last_run_duration_seconds").await.unwrap() > 0.0);

    // A run that cannot reach its database: its own figures replace the last run's, while the
    // last success and the backlog (unknown now) keep their values.
    let mut failing = outbox.relay_command(&["run"]);
    failing
        .args(push)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none");
    let (code, _) = crate::harness::summary_of(&failing.output().unwrap());
    assert_eq!(code, 4);
    assert_eq!(value("relay_last_run_exit_code").await, Some(4.0));
    assert_eq!(value("relay_last_run_published_events").await, Some(0.0));
    assert_eq!(
        value("relay_last_success_timestamp_seconds").await,
        Some(succeeded)
    );
    assert_eq!(value("relay_outbox_pending_events").await, Some(0.0));

    // The Pushgateway down: the run is the same, its exit code too.
    outbox.bulk(1, 1).await;
    drop(gateway);
    let started = Instant::now();
    let (code, summary) = outbox.run(&push);
    assert_eq!(
        (code, summary["published"].as_u64()),
        (0, Some(1)),
        "{summary}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}
