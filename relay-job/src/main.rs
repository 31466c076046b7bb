//! `relay-job` binary: `run` (also when no subcommand is named), `replay`, `purge`, `stats`,
//! `dead list|show`, `tail`. Every exit prints one JSON line on stdout (see `relay_job::cli`).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::error::ErrorKind;
use diesel_async::AsyncPgConnection;
use relay_job::cli::{self, CommandFailure};
use relay_job::config::{
    Cli, Command, DatabaseArgs, DeadCommand, LogFormat, PurgeArgs, ReplayArgs,
};
use relay_job::database::in_transaction;
use relay_job::queue::{self, ReplayScope};
use relay_job::summary::{self, Outcome};

/// `service.name` of the relay's spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "relay-job";

/// Log lines only, for the operator commands (their spans are not exported).
fn init_logging(format: LogFormat) {
    payment_telemetry::init_logs(format == LogFormat::Json);
}

/// Prints `value` as the command's JSON line; exit 0.
fn print_json(value: &impl serde::Serialize) -> ExitCode {
    let line = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// Logs and prints the failure of an operator command; its exit code.
fn fail(command: &str, outcome: Outcome, reason: String) -> ExitCode {
    tracing::error!(%reason, "{command} failed");
    summary::print_value(&CommandFailure::new(command, outcome, reason));
    ExitCode::from(outcome.exit_code())
}

fn database_failure(command: &str, error: &diesel::result::Error) -> ExitCode {
    fail(
        command,
        relay_job::database::error_outcome(error),
        format!("database: {error}"),
    )
}

/// Connects an operator command and checks that the database is migrated.
async fn connect(command: &str, database: &DatabaseArgs) -> Result<AsyncPgConnection, ExitCode> {
    let url = database.source().map_err(|error| {
        fail(
            command,
            Outcome::ConfigError,
            format!("database settings: {error}"),
        )
    })?;
    let mut conn = payment_db::pool::establish(&url, database.database_pool_mode)
        .await
        .map_err(|error| {
            fail(
                command,
                relay_job::database::connect_outcome(&error),
                format!("cannot connect to the database: {error}"),
            )
        })?;
    match relay_job::database::pending_migrations(&mut conn).await {
        Ok(pending) if pending.is_empty() => Ok(conn),
        Ok(pending) => Err(fail(
            command,
            Outcome::DatabaseUnavailable,
            relay_job::database::not_migrated(&pending),
        )),
        Err(error) => Err(database_failure(command, &error)),
    }
}

/// clap refused the arguments (or was asked for help or the version).
fn refused(error: &clap::Error, args: &[OsString], started: Instant) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    // clap's own message, with usage, for people; the JSON line for logs and scripts.
    let _ = write!(std::io::stderr().lock(), "{}", error.render());
    let reason = cli::reason_of(error, args);
    let command = cli::requested_command(args);
    if command == "run" {
        summary::print(&cli::summary_without_run(
            Outcome::ConfigError,
            reason,
            started,
        ));
    } else {
        summary::print_value(&CommandFailure::new(&command, Outcome::ConfigError, reason));
    }
    ExitCode::from(Outcome::ConfigError.exit_code())
}

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::parse_args(args.clone()) {
        Ok(cli) => cli,
        Err(error) => return refused(&error, &args, started),
    };
    let name = cli.command.name();
    match cli.command {
        Command::Run(args) => {
            let telemetry =
                match payment_telemetry::init(SERVICE_NAME, args.log_format == LogFormat::Json) {
                    Ok(telemetry) => telemetry,
                    Err(error) => {
                        init_logging(args.log_format);
                        tracing::error!(%error, "run refused");
                        let summary = cli::summary_without_run(
                            Outcome::ConfigError,
                            error.to_string(),
                            started,
                        );
                        summary::print(&summary);
                        return ExitCode::from(summary.exit_code);
                    }
                };
            if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
                return match relay_job::lambda::serve(*args, telemetry).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        tracing::error!(%error, "lambda runtime failed");
                        ExitCode::from(1)
                    }
                };
            }
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stop requested: finishing the batch in flight");
                let _ = stop_tx.send(true);
            });
            let summary = relay_job::run::run(&args, stop_rx).await;
            if let Some(url) = &args.metrics_push_url {
                relay_job::pushgateway::push(url, &args.metrics_instance, &summary).await;
            }
            // The run's spans leave before the process does.
            let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
            summary::print(&summary);
            ExitCode::from(summary.exit_code)
        }
        Command::Replay(args) => {
            init_logging(LogFormat::Text);
            replay(name, &args).await
        }
        Command::Purge(args) => {
            init_logging(LogFormat::Text);
            purge(name, &args).await
        }
        Command::Tail(args) => {
            init_logging(LogFormat::Text);
            let mut out = std::io::stdout().lock();
            match relay_job::tail::tail(&args, &mut out) {
                Ok(report) => {
                    let line = serde_json::to_string(&report).unwrap_or_default();
                    let _ = writeln!(out, "{}{line}", if args.json { "" } else { "report " });
                    ExitCode::from(if report.is_clean() { 0 } else { 1 })
                }
                Err(error) => {
                    drop(out);
                    fail(name, Outcome::KafkaUnavailable, error)
                }
            }
        }
        Command::Stats(args) => {
            init_logging(LogFormat::Text);
            let mut conn = match connect(name, &args).await {
                Ok(conn) => conn,
                Err(code) => return code,
            };
            match in_transaction(&mut conn, async |conn| queue::backlog(conn).await).await {
                Ok(backlog) => print_json(&backlog),
                Err(error) => database_failure(name, &error),
            }
        }
        Command::Dead(args) => {
            init_logging(LogFormat::Text);
            let mut conn = match connect(name, &args.database).await {
                Ok(conn) => conn,
                Err(code) => return code,
            };
            match args.command {
                DeadCommand::List { payment_id, limit } => {
                    match in_transaction(&mut conn, async |conn| {
                        queue::dead_events(conn, payment_id, limit).await
                    })
                    .await
                    {
                        Ok(events) => {
                            let mut out = std::io::stdout().lock();
                            for event in &events {
                                let line = serde_json::to_string(event).unwrap_or_default();
                                let _ = writeln!(out, "{line}");
                            }
                            ExitCode::SUCCESS
                        }
                        Err(error) => database_failure(name, &error),
                    }
                }
                DeadCommand::Show { event_id } => {
                    match in_transaction(&mut conn, async |conn| {
                        queue::dead_event(conn, event_id).await
                    })
                    .await
                    {
                        Ok(Some(event)) => print_json(&event),
                        Ok(None) => fail(
                            name,
                            Outcome::Error,
                            format!("no dead event with event id {event_id}"),
                        ),
                        Err(error) => database_failure(name, &error),
                    }
                }
            }
        }
    }
}

async fn replay(name: &str, args: &ReplayArgs) -> ExitCode {
    let scope = match (args.selector.event_id, args.selector.payment_id) {
        (Some(id), _) => ReplayScope::Event(id),
        (None, Some(id)) => ReplayScope::Payment(id),
        (None, None) => ReplayScope::All,
    };
    let mut conn = match connect(name, &args.database).await {
        Ok(conn) => conn,
        Err(code) => return code,
    };
    if args.dry_run {
        return match in_transaction(&mut conn, async |conn| {
            queue::count_replayable(conn, scope).await
        })
        .await
        {
            Ok(count) => print_json(&serde_json::json!({ "dry_run": true, "would_replay": count })),
            Err(error) => database_failure(name, &error),
        };
    }
    match in_transaction(&mut conn, async |conn| queue::replay(conn, scope).await).await {
        Ok(replayed) => print_json(&serde_json::json!({ "replayed": replayed })),
        Err(error) => database_failure(name, &error),
    }
}

async fn purge(name: &str, args: &PurgeArgs) -> ExitCode {
    let mut conn = match connect(name, &args.database).await {
        Ok(conn) => conn,
        Err(code) => return code,
    };
    let cutoff = payment_db::retention::cutoff(args.older_than);
    let max_rows = if args.yes { i64::MAX } else { args.max_rows };
    let settings = relay_job::database::command_settings();
    let policy = queue::RETENTION;
    if args.dry_run {
        return match payment_db::retention::count(
            &mut conn,
            &settings,
            policy,
            cutoff,
            max_rows.saturating_add(1),
        )
        .await
        {
            Ok(count) => print_json(&serde_json::json!({
                "dry_run": true,
                "would_purge": count.min(max_rows),
                "more": count > max_rows,
            })),
            Err(error) => database_failure(name, &error),
        };
    }
    match payment_db::retention::purge(&mut conn, &settings, policy, cutoff, args.batch, max_rows)
        .await
    {
        Ok(done) => {
            if done.more {
                tracing::warn!(
                    purged = done.purged,
                    max_rows,
                    "more published rows are past retention: run again, or pass --yes"
                );
            }
            print_json(&serde_json::json!(done))
        }
        Err(error) => database_failure(name, &error),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
