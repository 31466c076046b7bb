//! The load test (`src/bin/load.rs`, run by `scripts/load`) against a local API: a run within
//! its thresholds exits 0 and writes the HTML report with its charts; a threshold that cannot be
//! met makes it exit non-zero, after the report is written.
#![expect(clippy::unwrap_used, reason = "tests")]

use std::process::Command;

use e2e::stack;

async fn local_api() -> (stack::ApiProcess, String) {
    let (_, url) = payment_db::testing::fresh_database().await;
    let merchant = stack::migrated_with_merchant(&url, "Load").unwrap();
    (stack::start_api(&url).await.unwrap(), merchant.api_key)
}

fn load(api: &stack::ApiProcess, key: &str, report: &std::path::Path, threshold: &str) -> i32 {
    let output = Command::new(stack::binary("load").unwrap())
        .env("LOAD_API_KEY", key)
        .args([
            "--host",
            &api.base_url,
            "--users",
            "4",
            "--increase-rate",
            "4",
        ])
        .args(["--run-time", "3s", "--quiet", "--report-file"])
        .arg(report)
        .args(["--threshold", threshold])
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output.status.code().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_within_its_thresholds_passes_and_one_that_cannot_be_met_fails() {
    let (api, key) = local_api().await;
    let dir = std::env::temp_dir().join(format!("load-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    let passing = dir.join("pass.html");
    assert_eq!(load(&api, &key, &passing, "error-rate<1%"), 0);
    let html = std::fs::read_to_string(&passing).unwrap();
    for request in [
        "REST authorize",
        "REST refund",
        "REST list",
        "gRPC Authorize",
        "gRPC GetPayment",
    ] {
        assert!(html.contains(request), "the report names {request}");
    }
    assert!(
        html.contains("<svg") || html.contains("<canvas") || html.contains("echarts"),
        "the report has charts"
    );

    let failing = dir.join("fail.html");
    assert_ne!(load(&api, &key, &failing, "p95<1us"), 0);
    assert!(
        failing.exists(),
        "the report is written before the run fails"
    );
    let _ = std::fs::remove_dir_all(dir);
}
