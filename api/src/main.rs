//! `payment-api` binary: `serve`, `migrate`, `admin create-merchant`, `ops` (Lambda).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use payment_api::config::{AdminCommand, Cli, Command, DatabaseArgs, LogFormat, ServeArgs};
use payment_api::server::{self, ServerConfig};
use payment_telemetry::Telemetry;
use secrecy::ExposeSecret;

/// Exit code for configuration and usage errors (also used by clap).
const EXIT_USAGE: u8 = 2;

/// `service.name` of the API's spans unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "payment-api";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        Command::Migrate(_) | Command::Admin(_) | Command::Openapi | Command::Ops => {
            LogFormat::Text
        }
    };
    // Spans are exported for the server only; one-shot commands log.
    let telemetry = if matches!(cli.command, Command::Serve(_)) {
        match payment_telemetry::init(SERVICE_NAME, log_format == LogFormat::Json) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                let _ = writeln!(std::io::stderr(), "{error}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        payment_telemetry::init_logs(log_format == LogFormat::Json);
        Telemetry::default()
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args, &telemetry).await,
        Command::Migrate(database) => migrate(&database).await,
        Command::Admin(AdminCommand::CreateMerchant { database, name }) => {
            create_merchant(&database, &name).await
        }
        Command::Admin(command) => admin(command).await,
        Command::Openapi => print_openapi(),
        Command::Ops => ops().await,
    };
    // Spans still queued leave before the process does.
    let exporter = telemetry.clone();
    let _ = tokio::task::spawn_blocking(move || exporter.shutdown()).await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            tracing::error!("{message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

async fn database_url(database: &DatabaseArgs) -> Result<String, Failure> {
    database
        .url()
        .await
        .map_err(|error| (EXIT_USAGE, format!("database settings: {error}")))
}

/// The exit code of a failure to reach the database: 2 (usage) for settings that can never
/// work (`sslmode`, `sslrootcert`: `InvalidConnectionUrl`), 1 for anything else.
fn connect_exit_code(error: &(dyn std::error::Error + 'static)) -> u8 {
    match error.downcast_ref::<diesel::ConnectionError>() {
        Some(diesel::ConnectionError::InvalidConnectionUrl(_)) => EXIT_USAGE,
        _ => 1,
    }
}

async fn migrate(database: &DatabaseArgs) -> Result<(), Failure> {
    let database_url = database_url(database).await?;
    let applied = payment_db::migrations::run_pending(&database_url, database.database_pool_mode)
        .await
        .map_err(|error| {
            (
                connect_exit_code(error.as_ref()),
                format!("migrations failed: {error}"),
            )
        })?;
    tracing::info!(applied = applied.len(), versions = ?applied, "migrations applied");
    Ok(())
}

async fn create_merchant(database: &DatabaseArgs, name: &str) -> Result<(), Failure> {
    let database_url = database_url(database).await?;
    let mut conn = payment_db::pool::connect_url(&database_url, database.database_pool_mode)
        .await
        .map_err(|error| {
            (
                connect_exit_code(&error),
                format!("cannot connect to DATABASE_URL: {error}"),
            )
        })?;
    let created = payment_api::admin::create_merchant(&mut conn, name)
        .await
        .map_err(|error| (1, format!("cannot create merchant: {error}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "merchant_id={}", created.merchant_id)
        .and_then(|()| writeln!(out, "api_key={}", created.api_key.expose_secret()))
        .map_err(|error| (1, format!("cannot print: {error}")))
}

/// Connects an admin command (exit 2 for unusable TLS settings, 1 when unreachable).
async fn admin_connection(
    database: &DatabaseArgs,
) -> Result<diesel_async::AsyncPgConnection, Failure> {
    let database_url = database_url(database).await?;
    payment_db::pool::connect_url(&database_url, database.database_pool_mode)
        .await
        .map_err(|error| {
            (
                connect_exit_code(&error),
                format!("cannot connect to DATABASE_URL: {error}"),
            )
        })
}

/// The key management commands; each prints its answer on stdout.
async fn admin(command: AdminCommand) -> Result<(), Failure> {
    use payment_api::admin;
    let failed = |error: admin::AdminError| (1, error.to_string());
    let mut out = String::new();
    match command {
        AdminCommand::CreateMerchant { .. } => {}
        AdminCommand::CreateKey {
            database,
            merchant_id,
        } => {
            let mut conn = admin_connection(&database).await?;
            let created = admin::create_key(&mut conn, merchant_id)
                .await
                .map_err(failed)?;
            out = format!(
                "key_id={}\napi_key={}\n",
                created.key_id,
                created.api_key.expose_secret()
            );
        }
        AdminCommand::ListKeys {
            database,
            merchant_id,
        } => {
            let mut conn = admin_connection(&database).await?;
            for key in admin::list_keys(&mut conn, merchant_id)
                .await
                .map_err(failed)?
            {
                out.push_str(&format!("{}\n", admin::key_json(&key)));
            }
        }
        AdminCommand::RevokeKey { database, key_id } => {
            let mut conn = admin_connection(&database).await?;
            let key = admin::revoke_key(&mut conn, key_id).await.map_err(failed)?;
            out = format!("{}\n", admin::key_json(&key));
        }
        AdminCommand::ListMerchants { database } => {
            let mut conn = admin_connection(&database).await?;
            for merchant in admin::list_merchants(&mut conn).await.map_err(failed)? {
                out.push_str(&format!("{merchant}\n"));
            }
        }
        AdminCommand::SetRateLimit {
            database,
            merchant_id,
            limits,
        } => {
            let mut conn = admin_connection(&database).await?;
            let stored = admin::set_rate_limit(&mut conn, merchant_id, &limits)
                .await
                .map_err(failed)?;
            out = format!("{stored}\n");
        }
        AdminCommand::PurgeIdempotency(args) => {
            let age = admin::purge_age(&args).map_err(|message| (EXIT_USAGE, message))?;
            let mut conn = admin_connection(&args.database).await?;
            let done = admin::purge_idempotency(&mut conn, &args, age)
                .await
                .map_err(failed)?;
            out = format!("{done}\n");
        }
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|error| (1, format!("cannot print: {error}")))
}

async fn ops() -> Result<(), Failure> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err((
            EXIT_USAGE,
            "`ops` serves AWS Lambda invocations; elsewhere run `payment-api migrate` or `payment-api admin …` directly".to_owned(),
        ));
    }
    payment_api::ops::serve()
        .await
        .map_err(|error| (1, format!("lambda runtime: {error}")))
}

fn print_openapi() -> Result<(), Failure> {
    let document = payment_api::openapi::document()
        .map_err(|error| (1, format!("cannot render OpenAPI: {error}")))?;
    std::io::stdout()
        .lock()
        .write_all(document.as_bytes())
        .map_err(|error| (1, format!("cannot print: {error}")))
}

async fn serve(args: ServeArgs, telemetry: &Telemetry) -> Result<(), Failure> {
    let url = &database_url(&args.database).await?;
    let mode = args.database.database_pool_mode;
    let pending = payment_db::migrations::pending(url, mode)
        .await
        .map_err(|error| {
            (
                connect_exit_code(error.as_ref()),
                format!("cannot check migrations on DATABASE_URL: {error}"),
            )
        })?;
    if !pending.is_empty() {
        return Err((
            EXIT_USAGE,
            format!(
                "refusing to start: {} pending migration(s) {pending:?}; run `payment-api migrate` first",
                pending.len()
            ),
        ));
    }
    payment_events::warm_up();
    let pool_size = usize::try_from(args.database_pool_size).unwrap_or(1);
    let source = args
        .database
        .source()
        .map_err(|error| (EXIT_USAGE, format!("database settings: {error}")))?;
    let pool = payment_db::pool::build_pool_from(source, mode, pool_size, args.database_timeout())
        .map_err(|error| (EXIT_USAGE, format!("invalid DATABASE_POOL_SIZE: {error}")))?;
    let db = payment_db::Database::new(pool, args.transaction_settings());
    let body_limit = usize::try_from(args.body_limit_bytes).unwrap_or(usize::MAX);
    let redis_password = match &args.redis_auth_secret_arn {
        Some(arn) => Some(
            payment_secrets::redis_password(arn)
                .await
                .map(secrecy::SecretString::from)
                .map_err(|error| (1, format!("REDIS_AUTH_SECRET_ARN: {error}")))?,
        ),
        None => None,
    };
    let config = ServerConfig {
        body_limit,
        cors_allowed_origins: args.cors_allowed_origins.clone(),
        health_interval: Duration::from_millis(args.health_check_interval_ms),
        auth: args.auth_settings(),
        trusted_proxies: args.trusted_proxies.clone(),
        redis: args
            .redis_url
            .clone()
            .map(|url| payment_api::rate_limit::RedisSettings {
                url,
                password: redis_password.clone(),
                key_prefix: args.rate_limit_redis_prefix.clone(),
                timeout: Duration::from_millis(args.rate_limit_redis_timeout_ms),
                fail_mode: args.rate_limit_fail_mode,
            }),
        rate_limits: args.rate_limits(),
        idempotency_key_ttl: args.idempotency.idempotency_key_ttl,
    };
    let router = server::router(db, &config)
        .map_err(|error| (1, format!("cannot build the server: {error}")))?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        // The same router, behind API Gateway (HTTP API, payload v2): REST and gRPC-web.
        tracing::info!("running as an AWS Lambda function");
        // Each invocation's spans are exported before it returns: the function may be frozen
        // right after, for minutes or for good.
        let telemetry = telemetry.clone();
        let router = tower::ServiceBuilder::new()
            .map_future(move |answer| {
                let telemetry = telemetry.clone();
                async move {
                    let answer = answer.await;
                    let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
                    answer
                }
            })
            .service(router);
        return lambda_http::run(router)
            .await
            .map_err(|error| (1, format!("lambda runtime: {error}")));
    }
    let listener = tokio::net::TcpListener::bind(args.listen_addr)
        .await
        .map_err(|error| {
            (
                EXIT_USAGE,
                format!("cannot listen on LISTEN_ADDR {}: {error}", args.listen_addr),
            )
        })?;
    tracing::info!(listen_addr = %args.listen_addr, "serving gRPC and REST");
    let grace = Duration::from_millis(args.shutdown_grace_ms);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        server::shutdown_signal().await;
        let _ = stop_tx.send(());
    };
    let serving = server::serve(listener, router, shutdown);
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => result.map_err(|error| (1, format!("server failed: {error}"))),
        _ = async { let _ = stop_rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_ms = args.shutdown_grace_ms, "in-flight requests did not finish within the grace period");
            Ok(())
        }
    }
}
