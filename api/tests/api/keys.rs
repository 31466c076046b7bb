//! Key management: `admin create-key`, `list-keys` (with `last_used_at`), `revoke-key`,
//! `list-merchants`. Several keys of a merchant work at once (rotation without downtime); a
//! revoked key is refused within the auth cache TTL (5 s); listings never show a key.

use std::time::{Duration, Instant};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_without_downtime_and_a_revoked_key_is_refused_within_the_ttl() {
    let app = TestApp::spawn().await;
    let merchant = app.merchant_id.to_string();
    let id = app.authorized_id(500, "USD").await;

    let created = app.admin(&["create-key", "--merchant-id", &merchant]);
    assert!(created.status.success());
    let stdout = String::from_utf8_lossy(&created.stdout).into_owned();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (new_id, new_key) = (field("key_id="), field("api_key="));
    assert!(new_key.starts_with("sk_"));
    let last_used = |keys: &[serde_json::Value], key_id: &str| {
        keys.iter().find(|key| key["key_id"] == key_id).unwrap()["last_used_at"].clone()
    };
    let before = json_lines(&app.admin(&["list-keys", "--merchant-id", &merchant]));
    assert!(
        last_used(&before, &new_id).is_null(),
        "never used: {before:?}"
    );
    // Both keys work at once.
    assert_eq!(app.get_status_as(&app.api_key, &id).await, 200);
    assert_eq!(app.get_status_as(&new_key, &id).await, 200);
    // Each lookup records `last_used_at` in the background.
    let started = Instant::now();
    loop {
        let keys = json_lines(&app.admin(&["list-keys", "--merchant-id", &merchant]));
        if keys.iter().all(|key| key["last_used_at"].is_string()) {
            for key in &keys {
                assert!(
                    key["last_used_at"].as_str() >= key["created_at"].as_str(),
                    "{key}"
                );
            }
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{keys:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let keys = json_lines(&app.admin(&["list-keys", "--merchant-id", &merchant]));
    assert_eq!(keys.len(), 2);
    let listed = serde_json::to_string(&keys).unwrap();
    assert!(!listed.contains(&app.api_key[3..]) && !listed.contains(&new_key[3..]));
    assert!(keys.iter().all(
        |key| key["revoked_at"].is_null() && key["prefix"].as_str().unwrap().starts_with("sk_")
    ));
    let old_id = keys
        .iter()
        .find(|key| key["key_id"] != new_id.as_str())
        .unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = json_lines(&app.admin(&["revoke-key", "--key-id", &old_id]));
    assert!(revoked[0]["revoked_at"].is_string());
    let started = Instant::now();
    while app.get_status_as(&app.api_key, &id).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "a revoked key still passes after the 5 s cache TTL"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get_status_as(&new_key, &id).await, 200);
    // Revoking again keeps the first revocation time.
    let again = json_lines(&app.admin(&["revoke-key", "--key-id", &old_id]));
    assert_eq!(again[0]["revoked_at"], revoked[0]["revoked_at"]);

    let merchants = json_lines(&app.admin(&["list-merchants"]));
    let mine = merchants
        .iter()
        .find(|m| m["merchant_id"] == merchant.as_str())
        .unwrap();
    assert_eq!(mine["active_keys"], 1);

    // Unknown ids: exit 1 with a message naming them, nothing written.
    let unknown = uuid::Uuid::now_v7().to_string();
    for args in [
        &["create-key", "--merchant-id", unknown.as_str()][..],
        &["list-keys", "--merchant-id", &unknown],
        &["revoke-key", "--key-id", &unknown],
    ] {
        let output = app.admin(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(&unknown),
            "{args:?}"
        );
    }
    let output = app.admin(&["create-key", "--merchant-id", "not-a-uuid"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(app.count("api_keys").await, 2);
}
