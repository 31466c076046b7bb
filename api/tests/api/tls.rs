//! TLS to PostgreSQL by the libpq parameters `sslmode` / `sslrootcert`, against the test
//! server's own certificate (on this machine Debian's snakeoil certificate: self-signed, names
//! `localhost` only).

use diesel_async::AsyncPgConnection;

use crate::harness::*;

/// Whether the session of `conn` is encrypted, from the server's point of view.
async fn encrypted(conn: &mut AsyncPgConnection) -> bool {
    texts(
        conn,
        "SELECT ssl::text AS value FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await
        == ["true"]
}

#[tokio::test(flavor = "multi_thread")]
async fn each_sslmode_connects_as_libpq_would_and_verify_full_checks_the_name() {
    let (_database, url) = fresh_database().await;
    let certificate = server_certificate(&url).await;
    let connect = |url: String| async move {
        payment_db::pool::connect_url(&url, payment_db::PoolMode::Session).await
    };

    let mut plain = connect(url.clone()).await.unwrap();
    assert!(
        !encrypted(&mut plain).await,
        "no sslmode: plain, as written"
    );
    let mut disabled = connect(format!("{url}?sslmode=disable")).await.unwrap();
    assert!(!encrypted(&mut disabled).await);
    for mode in ["prefer", "require"] {
        let mut conn = connect(format!("{url}?sslmode={mode}")).await.unwrap();
        assert!(encrypted(&mut conn).await, "{mode}");
    }
    // verify-ca checks the chain only: the IP address the certificate does not name is fine.
    let mut ca = connect(format!("{url}?sslmode=verify-ca&sslrootcert={certificate}"))
        .await
        .unwrap();
    assert!(encrypted(&mut ca).await);
    let mut full = connect(verify_full_url(&url).await).await.unwrap();
    assert!(encrypted(&mut full).await);

    // verify-full to a host the certificate does not name: refused, never plain text.
    let Err(error) = connect(format!(
        "{url}?sslmode=verify-full&sslrootcert={certificate}"
    ))
    .await
    else {
        panic!("verify-full accepted a certificate that does not name 127.0.0.1");
    };
    let message = error.to_string();
    assert!(message.contains("not valid for"), "{message}");

    // A root that did not sign the server's certificate: refused.
    let Err(error) = connect(format!(
        "{}?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt",
        url.replace("127.0.0.1", "localhost")
    ))
    .await
    else {
        panic!("verify-full accepted a certificate no given root signed");
    };
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tls_settings_stop_migrate_and_name_the_setting() {
    let (_database, url) = fresh_database().await;
    for (query, named) in [
        ("sslmode=verify-full", "sslrootcert"),
        ("sslmode=bogus", "sslmode"),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent.pem",
            "/nonexistent.pem",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_payment-api"))
            .arg("migrate")
            .env("DATABASE_URL", format!("{url}?{query}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{query}: {stderr}");
        assert!(stderr.contains(named), "{query}: {stderr}");
    }
    // TLS settings beside DATABASE_URL would be ignored (plain text): refused, naming them.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_payment-api"))
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("DATABASE_SSLMODE", "verify-full")
        .env(
            "DATABASE_SSLROOTCERT",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("DATABASE_SSLMODE") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    let mut conn = payment_db::pool::connect_url(&url, payment_db::PoolMode::Session)
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS value FROM pg_tables WHERE tablename = 'payments'"
        )
        .await,
        0,
        "nothing was migrated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_serves_over_verify_full_connections() {
    let app = TestApp::spawn_with(Options {
        tls: true,
        ..Options::default()
    })
    .await;
    let created = app.authorize(700, "EUR").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.status(), 200);
    app.assert_consistent(id).await;
    let mut conn = app.db().await;
    // The test's own plain connections (the consistency check's) end a moment after they are
    // dropped: wait up to 2 s for them to go, then no plain session may be left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let sessions = loop {
        let sessions = scalar(
            &mut conn,
            &format!(
                "SELECT count(*) AS value FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE datname = '{}' AND pid <> pg_backend_pid() AND NOT ssl",
                app.database
            ),
        )
        .await;
        if sessions == 0 || std::time::Instant::now() > deadline {
            break sessions;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(sessions, 0, "every server connection is encrypted");
}
