//! The relay and its operator commands over `sslmode=verify-full` TLS to PostgreSQL, rooted
//! at the test server's own certificate (`SHOW ssl_cert_file`; on this machine Debian's
//! snakeoil certificate, which names `localhost` only).

use diesel_async::AsyncPgConnection;

use crate::harness::*;

async fn one_text(conn: &mut AsyncPgConnection, sql: &str) -> String {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(diesel::sql_query(sql), conn)
        .await
        .unwrap();
    rows.into_iter().next().unwrap().value
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_drains_and_reports_over_verify_full() {
    let outbox = Outbox::new().await;
    let mut conn = outbox.db().await;
    assert_eq!(
        one_text(&mut conn, "SELECT current_setting('ssl') AS value").await,
        "on",
        "the test server must serve TLS"
    );
    let certificate = one_text(
        &mut conn,
        "SELECT current_setting('ssl_cert_file') AS value",
    )
    .await;
    outbox.bulk(5, 3).await;
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={certificate}",
        outbox.url.replace("127.0.0.1", "localhost")
    );

    let output = outbox
        .relay_command(&["run"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let (code, summary) = summary_of(&output);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["published"], 15, "{summary}");
    assert_eq!(outbox.read(&outbox.events_topic, 15).len(), 15);

    let stats = outbox
        .relay_command(&["stats"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );

    // The same URL naming the IP address the certificate does not name: refused (database
    // unavailable, exit 4), nothing published, never a plain-text fallback.
    outbox.bulk(1, 1).await;
    let refused = outbox
        .relay_command(&["run"])
        .env(
            "DATABASE_URL",
            format!(
                "{}?sslmode=verify-full&sslrootcert={certificate}",
                outbox.url
            ),
        )
        .output()
        .unwrap();
    let (code, summary) = summary_of(&refused);
    assert_ne!(code, 0, "{summary}");
    assert_eq!(outbox.statuses().await.get("pending"), Some(&1));
}

/// Settings that can never work are configuration errors (exit 2: fix the deployment), not an
/// outage (exit 4: the next run retries); a database error that is not transient (here a role
/// without privileges, SQLSTATE 42501) is exit 1 on every command alike.
#[tokio::test(flavor = "multi_thread")]
async fn unusable_tls_settings_exit_2_and_a_refused_privilege_exits_1_on_every_command() {
    let outbox = Outbox::new().await;
    for query in [
        "sslmode=bogus",
        "sslmode=verify-full",
        "sslmode=verify-ca&sslrootcert=/nonexistent.pem",
    ] {
        for command in [
            &["run"][..],
            &["stats"],
            &["dead", "list"],
            &["replay", "--all"],
        ] {
            let output = outbox
                .relay_command(command)
                .env("DATABASE_URL", format!("{}?{query}", outbox.url))
                .output()
                .unwrap();
            let (code, summary) = summary_of(&output);
            assert_eq!(
                (code, summary["outcome"].as_str()),
                (2, Some("config_error")),
                "{command:?} {query}: {summary}"
            );
        }
    }

    let role = format!("noperm_{}", uuid::Uuid::new_v4().simple());
    let mut db = outbox.db().await;
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut db,
        &format!("CREATE ROLE {role} LOGIN; GRANT SELECT ON __diesel_schema_migrations TO {role}"),
    )
    .await
    .unwrap();
    let url = outbox
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    for command in [&["run"][..], &["stats"], &["dead", "list"]] {
        let output = outbox
            .relay_command(command)
            .env("DATABASE_URL", &url)
            .env("DATABASE_POOL_MODE", "session")
            .output()
            .unwrap();
        let (code, summary) = summary_of(&output);
        assert_eq!(
            (code, summary["outcome"].as_str()),
            (1, Some("error")),
            "{command:?}: {summary}"
        );
    }
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut db,
        &format!("REVOKE ALL ON __diesel_schema_migrations FROM {role}; DROP ROLE {role}"),
    )
    .await
    .unwrap();
}
