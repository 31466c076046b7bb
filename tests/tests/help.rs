//! Secrets never reach a terminal: every `--help` of both binaries, and their usage errors, run
//! with every secret-bearing variable set, print none of the values.
#![expect(clippy::expect_used, reason = "tests")]

use std::process::Command;

use e2e::stack;

/// Secret-bearing variables and the values planted in them.
const SECRETS: [(&str, &str); 5] = [
    (
        "DATABASE_URL",
        "postgres://payments:hunter2-url@db.example/payments",
    ),
    ("DATABASE_PASSWORD", "hunter2-password"),
    ("KAFKA_SASL_PASSWORD", "hunter2-sasl"),
    ("KAFKA_CONFIG", "sasl.password=hunter2-config,linger.ms=5"),
    ("REDIS_URL", "rediss://:hunter2-redis@cache.example:6379/"),
];

fn output_of(binary: &str, args: &[&str]) -> String {
    let output = Command::new(stack::binary(binary).expect("the binary is built"))
        .args(args)
        .envs(SECRETS)
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .expect("the binary runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn no_help_and_no_usage_error_prints_a_secret() {
    let api: &[&[&str]] = &[
        &["--help"],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["admin", "--help"],
        &["admin", "create-merchant", "--help"],
        &["ops", "--help"],
        &["serve", "--database-pool-size", "0"],
        &["serve", "--bogus"],
        &["serve", "--rate-limit-fail-mode", "maybe"],
    ];
    let relay: &[&[&str]] = &[
        &["--help"],
        &["run", "--help"],
        &["stats", "--help"],
        &["dead", "list", "--help"],
        &["dead", "show", "--help"],
        &["replay", "--help"],
        &["purge", "--help"],
        &["tail", "--help"],
        &["run", "--batch-size", "0"],
        &["run", "--bogus"],
    ];
    let mut checked = 0;
    for (binary, commands) in [("payment-api", api), ("relay-job", relay)] {
        for args in commands {
            let printed = output_of(binary, args);
            assert!(!printed.is_empty(), "{binary} {args:?} printed nothing");
            for (name, value) in SECRETS {
                let secret = value
                    .split(['=', ',', ':', '@'])
                    .find(|part| part.contains("hunter2"))
                    .unwrap_or(value);
                assert!(
                    !printed.contains(secret),
                    "{binary} {args:?} printed {name}:\n{printed}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 19);
}
