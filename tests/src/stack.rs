//! Running the binaries as an operator would: locating them, starting the API, running
//! relay-job ticks and reading their summaries.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Directory of the workspace's binaries: next to the running executable (the demo), or its
/// parent (test binaries live in `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.parent().map(PathBuf::from).unwrap_or(dir)
    } else {
        dir
    }
}

/// Path of a workspace binary, e.g. `relay-job`.
///
/// # Errors
/// When it has not been built (`cargo build --workspace --bins` builds it).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir().join(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it first (`cargo build --workspace --bins`)",
        path.display()
    );
    Ok(path)
}

/// A free TCP port on 127.0.0.1.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A `payment-api serve` child process; killed on drop.
#[derive(Debug)]
pub struct ApiProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

impl ApiProcess {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `payment-api serve` on a free port against `database_url` and waits until `/readyz`
/// answers 200.
///
/// # Errors
/// When the binary is missing or the server does not become ready within 20 s.
pub async fn start_api(database_url: &str) -> anyhow::Result<ApiProcess> {
    start_api_with(database_url, &[]).await
}

/// [`start_api`] with extra environment variables (they override the defaults above).
///
/// # Errors
/// As [`start_api`].
pub async fn start_api_with(
    database_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<ApiProcess> {
    let port = free_port()?;
    let child = Command::new(binary("payment-api")?)
        .args(["serve", "--listen-addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        // The workload is one client sending as fast as it can; production limits do not apply
        // (unless `env` sets them: it comes last).
        .env("RATE_LIMIT_WRITES_PER_SECOND", "0")
        .env("RATE_LIMIT_READS_PER_SECOND", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()?;
    let api = ApiProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    let http = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(response) = http.get(format!("{}/readyz", api.base_url)).send().await
            && response.status().is_success()
        {
            return Ok(api);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("payment-api did not become ready")
}

/// Runs `payment-api` with `args` and returns its stdout.
///
/// # Errors
/// When it fails.
pub fn api_command(database_url: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(binary("payment-api")?)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "payment-api {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// A merchant made by `payment-api admin create-merchant`.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// Its id.
    pub merchant_id: String,
    /// Its first API key (`sk_…`).
    pub api_key: String,
}

/// Migrates the database at `database_url` (`payment-api migrate`) and creates merchant
/// `name` in it (`payment-api admin create-merchant`).
///
/// # Errors
/// When either command fails or prints no id or key.
pub fn migrated_with_merchant(database_url: &str, name: &str) -> anyhow::Result<Merchant> {
    api_command(database_url, &["migrate"])?;
    let created = api_command(database_url, &["admin", "create-merchant", "--name", name])?;
    let field = |prefix: &str| {
        created
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("create-merchant printed no {prefix}"))
    };
    Ok(Merchant {
        merchant_id: field("merchant_id=")?,
        api_key: field("api_key=")?,
    })
}

/// Where relay-job runs: database, brokers and topics.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// PostgreSQL URL.
    pub database_url: String,
    /// Bootstrap servers.
    pub brokers: String,
    /// Events topic.
    pub events_topic: String,
    /// DLQ topic.
    pub dlq_topic: String,
}

impl RelayTarget {
    /// A target on `database_url`, the broker of `KAFKA_BROKERS` and topics of its own
    /// (`{prefix}.{random}.events` / `.dlq`), for one test.
    ///
    /// # Panics
    /// When `KAFKA_BROKERS` is not set (`scripts/test` starts tansu and sets it).
    #[expect(clippy::expect_used, reason = "test support fails loudly")]
    pub fn with_own_topics(database_url: &str, prefix: &str) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Self {
            database_url: database_url.to_owned(),
            brokers: std::env::var("KAFKA_BROKERS")
                .expect("KAFKA_BROKERS (scripts/test starts tansu)"),
            events_topic: format!("{prefix}.{tag}.events"),
            dlq_topic: format!("{prefix}.{tag}.dlq"),
        }
    }

    /// A `relay-job` command with this target's environment.
    ///
    /// # Errors
    /// When the binary is missing.
    pub fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let mut command = Command::new(binary("relay-job")?);
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("KAFKA_BROKERS", &self.brokers)
            .env("RELAY_EVENTS_TOPIC", &self.events_topic)
            .env("RELAY_DLQ_TOPIC", &self.dlq_topic)
            .env("RUST_LOG", "warn");
        Ok(command)
    }

    /// Runs one relay tick (`relay-job run` + `args`) and returns its exit code and summary.
    ///
    /// # Errors
    /// When it cannot start or prints no JSON summary.
    pub fn tick(&self, args: &[&str]) -> anyhow::Result<(i32, serde_json::Value)> {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let output = self.command(&all)?.stderr(Stdio::inherit()).output()?;
        let summary = serde_json::from_slice(&output.stdout).map_err(|error| {
            anyhow::anyhow!(
                "no summary line ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })?;
        Ok((output.status.code().unwrap_or(-1), summary))
    }

    /// Starts a relay tick in the background.
    ///
    /// # Errors
    /// When it cannot start.
    pub fn spawn(&self, args: &[&str]) -> anyhow::Result<Child> {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        Ok(self
            .command(&all)?
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?)
    }

    /// Reads both topics with relay-job's consumer check (`relay-job tail`, in process).
    ///
    /// # Errors
    /// When the tool fails to run or prints no report.
    pub fn tail(&self) -> anyhow::Result<relay_job::tail::TailReport> {
        let args = relay_job::config::TailArgs {
            kafka: relay_job::config::KafkaArgs {
                kafka_brokers: self.brokers.clone(),
                kafka_security_protocol: "plaintext".to_owned(),
                kafka_sasl_mechanism: None,
                kafka_sasl_username: None,
                kafka_sasl_password: None,
                kafka_sasl_secret_arn: None,
                kafka_msk_iam: false,
                kafka_ssl_ca_location: None,
                kafka_compression: "none".to_owned(),
                kafka_config: Vec::new(),
            },
            events_topic: self.events_topic.clone(),
            dlq_topic: self.dlq_topic.clone(),
            from_offset: None,
            idle_timeout: Duration::from_secs(2),
            json: true,
        };
        relay_job::tail::tail(&args, &mut std::io::sink()).map_err(|error| anyhow::anyhow!(error))
    }
}
