//! The command line as an operator meets it: the README's cron line run verbatim, one JSON line
//! for every exit (clap's refusals included), settings named, exit codes in `--help`, and an
//! unmigrated database refused with the remedy by every command.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::*;

/// The cron entry of the README's "Operating the relay": its variable lines and its command.
fn readme_cron() -> (Vec<(String, String)>, String) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = readme
        .split("```cron\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```cron block in the README");
    let mut variables = Vec::new();
    let mut command = None;
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() > 5
            && fields[..5]
                .iter()
                .all(|f| f.chars().all(|c| "*/,-0123456789".contains(c)))
        {
            // The schedule is five fields; the rest of the line is the command, verbatim.
            let mut rest = line;
            for _ in 0..5 {
                rest = rest.trim_start();
                rest = &rest[rest.find(char::is_whitespace).unwrap()..];
            }
            command = Some(rest.trim().to_owned());
        } else if let Some((name, value)) = line.split_once('=') {
            variables.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (variables, command.expect("a schedule line"))
}

fn lines_of(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_cron_line_runs_verbatim_and_logs_one_json_line_per_run() {
    let outbox = Outbox::new().await;
    outbox.payment_with(3).await;
    let (variables, command) = readme_cron();
    let names: Vec<&str> = variables.iter().map(|(name, _)| name.as_str()).collect();
    assert!(
        names.contains(&"DATABASE_URL") && names.contains(&"KAFKA_BROKERS"),
        "the crontab sets the required settings: {names:?}"
    );
    assert!(
        command.starts_with("relay-job "),
        "the bare command: {command}"
    );
    let home = std::env::temp_dir().join(format!("relay-cron-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_relay-job"))
        .parent()
        .unwrap();
    // cron runs the command with /bin/sh and the crontab's variables; ours point at the test's
    // database, broker and topics.
    let tick = |env: &[(&str, &str)], unset: &[&str]| {
        let mut cron = Command::new("/bin/sh");
        cron.arg("-c")
            .arg(&command)
            .env_clear()
            .env("HOME", &home)
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("DATABASE_URL", &outbox.url)
            .env("KAFKA_BROKERS", brokers())
            .env("RELAY_EVENTS_TOPIC", &outbox.events_topic)
            .env("RELAY_DLQ_TOPIC", &outbox.dlq_topic)
            .env("RELAY_TOPIC_PARTITIONS", PARTITIONS.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for name in unset {
            cron.env_remove(name);
        }
        cron.status().unwrap().code()
    };
    assert_eq!(tick(&[], &[]), Some(0));
    let log = home.join(
        command
            .split(">> ")
            .nth(1)
            .and_then(|target| target.split_whitespace().next())
            .unwrap()
            .trim_matches('"')
            .trim_start_matches("$HOME/"),
    );
    let lines = lines_of(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["outcome"].as_str(), lines[0]["published"].as_u64()),
        (Some("drained"), Some(3))
    );
    // A tick without the broker setting still leaves its line, naming what is missing.
    assert_eq!(tick(&[], &["KAFKA_BROKERS"]), Some(2));
    let lines = lines_of(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["outcome"], "config_error");
    assert_eq!(lines[1]["exit_code"], 2);
    assert!(
        lines[1]["reason"]
            .as_str()
            .unwrap()
            .contains("KAFKA_BROKERS"),
        "{}",
        lines[1]
    );
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn clap_refusals_print_one_json_line_naming_the_setting() {
    let outbox = Outbox::new().await;
    for (args, named) in [
        (vec!["--max-runtime", "5"], "RELAY_MAX_RUNTIME"),
        (vec!["run", "--max-runtime", "5"], "RELAY_MAX_RUNTIME"),
        (vec!["--workers", "0"], "RELAY_WORKERS"),
        (vec!["--no-such-flag"], "--no-such-flag"),
    ] {
        let output = outbox.relay_command(&args).output().unwrap();
        let (code, summary) = summary_of(&output);
        assert_eq!(code, 2, "{args:?}: {summary}");
        assert_eq!(summary["outcome"], "config_error");
        assert_eq!(summary["exit_code"], 2);
        assert_eq!(summary["published"], 0, "a run summary: {summary}");
        let reason = summary["reason"].as_str().unwrap();
        assert!(reason.contains(named), "{args:?}: {reason}");
    }
    // Operator commands answer the same way, with their own name.
    let output = outbox
        .relay_command(&["stats", "--bogus"])
        .output()
        .unwrap();
    let (code, line) = summary_of(&output);
    assert_eq!(
        (code, line["command"].as_str(), line["outcome"].as_str()),
        (2, Some("stats"), Some("config_error")),
        "{line}"
    );
    let output = outbox.relay_command(&["replay"]).output().unwrap();
    let (code, line) = summary_of(&output);
    assert_eq!(
        (code, line["command"].as_str()),
        (2, Some("replay")),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_the_exit_codes() {
    let outbox = Outbox::new().await;
    for args in [vec!["--help"], vec!["run", "--help"]] {
        let output = outbox.relay_command(&args).output().unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        for code in ["  0  ", "  1  ", "  2  ", "  3  ", "  4  "] {
            assert!(
                help.contains(code),
                "{args:?} lacks exit code {code:?}: {help}"
            );
        }
        assert!(help.contains("payment-api migrate"), "{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unmigrated_database_is_refused_with_the_remedy_by_every_command() {
    let outbox = Outbox::new().await;
    let (_, empty) = payment_db::testing::fresh_database().await;
    let payment = uuid::Uuid::now_v7().to_string();
    for args in [
        vec!["--max-runtime", "2s"],
        vec!["stats"],
        vec!["replay", "--all"],
        vec!["purge", "--older-than", "7d"],
        vec!["dead", "list"],
        vec!["dead", "show", "--event-id", payment.as_str()],
    ] {
        let output = outbox
            .relay_command(&args)
            .env("DATABASE_URL", &empty)
            .output()
            .unwrap();
        let (code, line) = summary_of(&output);
        assert_eq!(code, 4, "{args:?}: {line}");
        assert_eq!(line["outcome"], "database_unavailable", "{args:?}");
        let reason = line["reason"].as_str().unwrap();
        assert!(
            reason.contains("run `payment-api migrate`"),
            "{args:?}: {reason}"
        );
    }
}
