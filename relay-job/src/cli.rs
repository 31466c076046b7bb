//! What the `relay-job` binary prints when a command cannot do its work: one JSON line on stdout
//! for every exit, so a JSONL log written by cron (`>> relay.jsonl`) has a line for each run,
//! also when clap refuses the arguments. `run` prints its [`RunSummary`] (outcome
//! `config_error` for bad arguments); the operator commands print a [`CommandFailure`].

use std::ffi::OsString;
use std::time::Instant;

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use serde::Serialize;

use crate::config::Cli;
use crate::summary::{Outcome, RunSummary};

/// The JSON line of an operator command (`replay`, `purge`, `stats`, `dead`, `tail`) that
/// failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandFailure {
    /// The subcommand, e.g. `stats`.
    pub command: String,
    /// Why it failed, as in the run summary (`config_error`, `database_unavailable`, …).
    pub outcome: Outcome,
    /// The process exit code.
    pub exit_code: u8,
    /// What went wrong, naming the setting when one is at fault.
    pub reason: String,
}

impl CommandFailure {
    /// A failure of `command` with `outcome`.
    pub fn new(command: &str, outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            command: command.to_owned(),
            outcome,
            exit_code: outcome.exit_code(),
            reason: reason.into(),
        }
    }
}

/// The subcommand `args` (program name first) ask for, `run` when none is named.
pub fn requested_command(args: &[OsString]) -> String {
    crate::config::with_default_command(args.to_vec())
        .get(1)
        .and_then(|name| name.to_str())
        .unwrap_or("run")
        .to_owned()
}

/// The flag and environment variable of the argument clap names in `shown`
/// (e.g. `--max-runtime <MAX_RUNTIME>`), as `--max-runtime (RELAY_MAX_RUNTIME)`.
fn setting_name(command: &clap::Command, shown: &str) -> String {
    let flag = shown.split_whitespace().next().unwrap_or(shown);
    let env = command
        .get_arguments()
        .find(|arg| {
            arg.get_long()
                .is_some_and(|long| flag == format!("--{long}"))
        })
        .and_then(clap::Arg::get_env)
        .and_then(|env| env.to_str());
    match env {
        Some(env) => format!("{flag} (or {env})"),
        None => flag.to_owned(),
    }
}

/// One line saying what clap refused, naming each setting by flag and environment variable.
pub fn reason_of(error: &clap::Error, args: &[OsString]) -> String {
    let root = Cli::command();
    let name = requested_command(args);
    let command = root
        .get_subcommands()
        .find(|command| command.get_name() == name)
        .unwrap_or(&root);
    let names = |value: &ContextValue| -> Vec<String> {
        match value {
            ContextValue::String(shown) => vec![setting_name(command, shown)],
            ContextValue::Strings(shown) => shown
                .iter()
                .map(|shown| setting_name(command, shown))
                .collect(),
            _ => Vec::new(),
        }
    };
    let invalid = error.get(ContextKind::InvalidArg).map(names);
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    match (error.kind(), invalid) {
        (ErrorKind::MissingRequiredArgument, Some(missing)) => {
            format!("missing setting(s): {}", missing.join(", "))
        }
        (ErrorKind::InvalidValue | ErrorKind::ValueValidation, Some(names)) => {
            format!("{first}; setting {}", names.join(", "))
        }
        _ => first,
    }
}

/// The run summary of a `run` that never started: nothing published, backlog unknown.
pub fn summary_without_run(outcome: Outcome, reason: String, started: Instant) -> RunSummary {
    RunSummary {
        run_id: uuid::Uuid::now_v7(),
        published: 0,
        retried: 0,
        dead_lettered: 0,
        parked_keys: None,
        remaining: None,
        oldest_pending_age_ms: None,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        outcome,
        exit_code: outcome.exit_code(),
        reason: Some(reason),
        failures: std::collections::BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn refused(args: &[&str]) -> String {
        let args = os(args);
        let error = Cli::parse_args(args.clone()).expect_err("refused");
        reason_of(&error, &args)
    }

    #[test]
    fn the_bare_command_is_run() {
        let cli = Cli::parse_args(os(&[
            "relay-job",
            "--max-runtime",
            "45s",
            "--kafka-brokers",
            "b:9092",
        ]))
        .map_err(|e| e.to_string());
        assert!(
            matches!(
                cli,
                Ok(Cli {
                    command: crate::config::Command::Run(_)
                })
            ),
            "{cli:?}"
        );
        assert_eq!(requested_command(&os(&["relay-job"])), "run");
        assert_eq!(requested_command(&os(&["relay-job", "stats"])), "stats");
    }

    #[test]
    fn reasons_name_the_flag_and_its_variable() {
        let reason = refused(&["relay-job", "--max-runtime", "5", "--kafka-brokers", "b"]);
        assert!(
            reason.contains("--max-runtime (or RELAY_MAX_RUNTIME)") && reason.contains("'5'"),
            "{reason}"
        );
        // clap also reads KAFKA_BROKERS from the environment: check only where it is unset.
        if std::env::var_os("KAFKA_BROKERS").is_none() {
            let reason = refused(&["relay-job", "run"]);
            assert_eq!(
                reason,
                "missing setting(s): --kafka-brokers (or KAFKA_BROKERS)"
            );
        }
        let reason = refused(&["relay-job", "stats", "--bogus"]);
        assert!(reason.contains("--bogus"), "{reason}");
    }
}
