//! `payment-api ops`: operator commands run inside AWS Lambda, next to the database.
//!
//! The deployment's database admits only the app's security group, so migrations and admin
//! commands run in a function of the same image in the same VPC. Each invocation's event is
//! `{"args": ["migrate"]}` or `{"args": ["admin", …]}`; the function runs `payment-api` with
//! those arguments once, as a child process with the function's environment, and answers
//! [`OpsResult`] `{"exit_code", "stdout", "stderr"}`. A non-zero exit is a function error
//! (`errorType` `OpsCommandFailed`, `errorMessage` the same JSON), so a failed `migrate` fails
//! the terraform apply that invoked it. Only `migrate` and `admin` run: `serve` and `ops` are
//! refused. The answer carries what the command printed (an `admin create-merchant` prints the
//! new API key once): it goes to the invoker only, never to the logs.

use std::process::Stdio;
use std::time::Duration;

use lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

/// Subcommands an invocation may run.
pub const ALLOWED: [&str; 2] = ["migrate", "admin"];

/// Longest run of one command when Lambda gives no deadline (a migration may take minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(14 * 60);

/// An invocation: the `payment-api` arguments to run.
#[derive(Debug, Deserialize)]
pub struct OpsEvent {
    /// e.g. `["admin", "create-merchant", "--name", "Shop"]`.
    pub args: Vec<String>,
}

/// What the command did.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OpsResult {
    /// The process exit code (124 when it outlived the invocation's deadline).
    pub exit_code: i32,
    /// What it printed on stdout (UTF-8, lossy).
    pub stdout: String,
    /// What it printed on stderr (its log lines).
    pub stderr: String,
}

/// A command that did not exit 0, or that could not be run.
#[derive(Debug)]
pub struct OpsFailed(OpsResult);

impl From<OpsFailed> for Diagnostic {
    fn from(failure: OpsFailed) -> Self {
        Self {
            error_type: "OpsCommandFailed".to_owned(),
            error_message: serde_json::to_string(&failure.0).unwrap_or_default(),
        }
    }
}

fn refused(message: String) -> OpsFailed {
    OpsFailed(OpsResult {
        exit_code: 2,
        stdout: String::new(),
        stderr: message,
    })
}

/// Runs one invocation's command (see the module docs), within `deadline`.
///
/// # Errors
/// [`OpsFailed`] when the command is not allowed, cannot start, or exits non-zero.
pub async fn run(event: OpsEvent, deadline: Duration) -> Result<OpsResult, OpsFailed> {
    match event.args.first() {
        Some(command) if ALLOWED.contains(&command.as_str()) => {}
        _ => {
            return Err(refused(format!(
                "ops runs only {ALLOWED:?} commands, got {:?}",
                event.args.first()
            )));
        }
    }
    let binary = std::env::current_exe()
        .map_err(|error| refused(format!("cannot find payment-api: {error}")))?;
    let child = tokio::process::Command::new(binary)
        .args(&event.args)
        // The child runs the command once instead of serving the Lambda Runtime API.
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| refused(format!("cannot start payment-api: {error}")))?;
    let result = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(output)) => OpsResult {
            exit_code: output.status.code().unwrap_or(1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Ok(Err(error)) => return Err(refused(format!("payment-api failed: {error}"))),
        Err(_) => OpsResult {
            exit_code: 124,
            stdout: String::new(),
            stderr: format!("stopped after {} s", deadline.as_secs()),
        },
    };
    tracing::info!(command = ?event.args.first(), exit_code = result.exit_code, "ops command finished");
    if result.exit_code == 0 {
        Ok(result)
    } else {
        Err(OpsFailed(result))
    }
}

/// Serves ops invocations until the Lambda runtime stops the process.
///
/// # Errors
/// When the Lambda Runtime API cannot be reached.
pub async fn serve() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<OpsEvent>| async move {
        // Leave a second to send the answer before Lambda's own deadline.
        let deadline = event
            .context
            .deadline()
            .duration_since(std::time::SystemTime::now())
            .map_or(DEFAULT_TIMEOUT, |left| {
                left.saturating_sub(Duration::from_secs(1))
            });
        run(event.payload, deadline).await
    }))
    .await
}
