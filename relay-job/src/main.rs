//! `relay-job` binary: `run` (default), `replay`, `purge`, `stats`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use diesel_async::AsyncPgConnection;
use relay_job::config::{Cli, Command, LogFormat};
use relay_job::queue::{self, ReplayScope};
use relay_job::summary::Outcome;
use tracing_subscriber::EnvFilter;

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn print_json(value: &impl serde::Serialize) -> ExitCode {
    let line = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

async fn connect(
    database: &relay_job::config::DatabaseArgs,
) -> Result<AsyncPgConnection, ExitCode> {
    let url = database.source().map_err(|error| {
        tracing::error!(%error, "database settings");
        ExitCode::from(Outcome::ConfigError.exit_code())
    })?;
    payment_db::pool::establish(&url).await.map_err(|error| {
        tracing::error!(%error, "cannot connect to DATABASE_URL");
        ExitCode::from(Outcome::DatabaseUnavailable.exit_code())
    })
}

fn database_failure(error: &diesel::result::Error) -> ExitCode {
    tracing::error!(%error, "database error");
    ExitCode::from(Outcome::DatabaseUnavailable.exit_code())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match (cli.command, cli.run) {
        (Some(command), _) => command,
        (None, Some(run)) => Command::Run(Box::new(run)),
        (None, None) => {
            let _ = writeln!(std::io::stderr(), "relay-job: missing settings; see --help");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Run(args) => {
            init_logging(args.log_format);
            if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
                return match relay_job::lambda::serve(*args).await {
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
            relay_job::summary::print(&summary);
            ExitCode::from(summary.exit_code)
        }
        Command::Replay(args) => {
            init_logging(LogFormat::Text);
            let scope = match (args.selector.event_id, args.selector.payment_id) {
                (Some(id), _) => ReplayScope::Event(id),
                (None, Some(id)) => ReplayScope::Payment(id),
                (None, None) => ReplayScope::All,
            };
            let mut conn = match connect(&args.database).await {
                Ok(conn) => conn,
                Err(code) => return code,
            };
            match queue::replay(&mut conn, scope).await {
                Ok(replayed) => print_json(&serde_json::json!({ "replayed": replayed })),
                Err(error) => database_failure(&error),
            }
        }
        Command::Purge(args) => {
            init_logging(LogFormat::Text);
            let mut conn = match connect(&args.database).await {
                Ok(conn) => conn,
                Err(code) => return code,
            };
            let cutoff = chrono::Duration::from_std(args.older_than)
                .ok()
                .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
            match queue::purge(&mut conn, cutoff, args.batch).await {
                Ok(purged) => print_json(&serde_json::json!({ "purged": purged })),
                Err(error) => database_failure(&error),
            }
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
                    tracing::error!(%error, "tail failed");
                    ExitCode::from(Outcome::KafkaUnavailable.exit_code())
                }
            }
        }
        Command::Stats(args) => {
            init_logging(LogFormat::Text);
            let mut conn = match connect(&args).await {
                Ok(conn) => conn,
                Err(code) => return code,
            };
            match queue::backlog(&mut conn).await {
                Ok(backlog) => print_json(&backlog),
                Err(error) => database_failure(&error),
            }
        }
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
