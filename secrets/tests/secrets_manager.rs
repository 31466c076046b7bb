//! Secrets Manager through the real SDK against moto: what the cache answers, when it reads
//! again, and how a bad secret is reported.

use std::time::Duration;

use payment_secrets::testing::Moto;
use payment_secrets::{Freshness, SecretError, SecretsManager};

#[tokio::test]
async fn a_cached_value_is_reused_until_a_refresh_reads_the_rotated_one() {
    let moto = Moto::start();
    let arn = moto
        .create_secret("db", r#"{"username":"payments","password":"first"}"#)
        .await;
    let secrets =
        SecretsManager::with_config(moto.sdk_config()).with_min_refresh_interval(Duration::ZERO);

    let first = secrets.json(&arn, Freshness::Cached).await.unwrap();
    assert_eq!(first["password"], "first");

    moto.put_secret(&arn, r#"{"username":"payments","password":"second"}"#)
        .await;
    let cached = secrets.json(&arn, Freshness::Cached).await.unwrap();
    assert_eq!(
        cached["password"], "first",
        "the cache answers without a call"
    );

    let refreshed = secrets.json(&arn, Freshness::Refresh).await.unwrap();
    assert_eq!(
        refreshed["password"], "second",
        "a refresh reads the rotation"
    );
    let cached = secrets.json(&arn, Freshness::Cached).await.unwrap();
    assert_eq!(cached["password"], "second", "and the cache keeps it");
}

#[tokio::test]
async fn a_refresh_right_after_a_read_does_not_read_again() {
    let moto = Moto::start();
    let arn = moto.create_secret("burst", r#"{"password":"first"}"#).await;
    // The default interval (5 s): a burst of refused connections costs one read.
    let secrets = SecretsManager::with_config(moto.sdk_config());
    secrets.json(&arn, Freshness::Cached).await.unwrap();
    moto.put_secret(&arn, r#"{"password":"second"}"#).await;
    let refreshed = secrets.json(&arn, Freshness::Refresh).await.unwrap();
    assert_eq!(refreshed["password"], "first");
    secrets.forget(&arn).await;
    let read = secrets.json(&arn, Freshness::Cached).await.unwrap();
    assert_eq!(read["password"], "second", "forget drops the cached value");
}

#[tokio::test]
async fn unknown_and_non_json_secrets_are_named_errors() {
    let moto = Moto::start();
    let secrets = SecretsManager::with_config(moto.sdk_config());
    let error = secrets
        .json("missing", Freshness::Cached)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SecretError::Read { secret_id, reason }
            if secret_id == "missing" && reason.contains("ResourceNotFoundException")),
        "{error}"
    );
    let arn = moto.create_secret("plain", "hunter2").await;
    let error = secrets.json(&arn, Freshness::Cached).await.unwrap_err();
    assert!(
        matches!(error, SecretError::NotJsonObject { .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
}
