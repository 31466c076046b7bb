//! Database credentials as the terraform module hands them to the binaries: host, name and an
//! RDS-style secret in Secrets Manager (moto), read with the AWS SDK. The API keeps serving
//! after the password is rotated (new password in PostgreSQL and in the secret, old sessions
//! ended): its next connection is refused with SQLSTATE 28P01, it re-reads the secret and
//! connects, without a restart. Needs a cluster with password authentication (made with
//! initdb; the machine's server trusts every connection).
#![expect(clippy::unwrap_used, reason = "tests")]

use std::process::Command;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use e2e::cluster::PasswordCluster;
use e2e::stack;
use payment_secrets::testing::Moto;
use serde_json::json;

async fn admin(cluster: &PasswordCluster, sql: &str) {
    let mut conn = AsyncPgConnection::establish(&cluster.admin_url())
        .await
        .unwrap();
    conn.batch_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_database_password_is_picked_up_without_a_restart() {
    let cluster = PasswordCluster::start().unwrap();
    admin(&cluster, "CREATE ROLE payments LOGIN PASSWORD 'first'").await;
    admin(&cluster, "CREATE DATABASE payments OWNER payments").await;
    let moto = Moto::start();
    let secret =
        |password: &str| json!({ "username": "payments", "password": password }).to_string();
    let arn = moto.create_secret("rds-payments", &secret("first")).await;
    let host = format!("127.0.0.1:{}", cluster.port);
    let mut env: Vec<(&str, String)> = moto.env().into_iter().collect();
    env.extend([
        ("DATABASE_HOST", host),
        ("DATABASE_NAME", "payments".to_owned()),
        ("DATABASE_SECRET_ARN", arn.clone()),
        ("DATABASE_SSLMODE", "disable".to_owned()),
    ]);
    let command = |args: &[&str]| {
        let output = Command::new(stack::binary("payment-api").unwrap())
            .args(args)
            .env_remove("DATABASE_URL")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "payment-api {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    command(&["migrate"]);
    let created = command(&["admin", "create-merchant", "--name", "Rotation"]);
    let key = created
        .lines()
        .find_map(|line| line.strip_prefix("api_key="))
        .unwrap()
        .to_owned();

    let api_env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain([("DATABASE_POOL_SIZE", "1")])
        .collect();
    let api = stack::start_api_with("", &api_env).await.unwrap();
    let started = Instant::now();
    let http = reqwest::Client::new();
    let list = || {
        http.get(format!("{}/v1/payments", api.base_url))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(list().await.unwrap().status(), 200);

    // Rotate as Secrets Manager's RDS rotation does, then end the sessions opened with the old
    // password so the pool must open a new connection.
    admin(&cluster, "ALTER ROLE payments PASSWORD 'second'").await;
    moto.put_secret(&arn, &secret("second")).await;
    admin(
        &cluster,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'payments'",
    )
    .await;
    // The cache re-reads a secret at most every 5 s (payment_secrets::secrets_manager).
    tokio::time::sleep(
        payment_secrets::secrets_manager::MIN_REFRESH_INTERVAL.saturating_sub(started.elapsed()),
    )
    .await;

    let mut statuses = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let status = list().await.unwrap().status().as_u16();
        statuses.push(status);
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        statuses.last(),
        Some(&200),
        "the API did not reconnect with the rotated password: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|status| [200, 503].contains(status)),
        "only 503 while reconnecting: {statuses:?}"
    );
}
