//! Test support (feature `test-support`): a moto server (the AWS emulator from PyPI,
//! `moto[server]`, installed by the project's scripts) on a free port of 127.0.0.1, and
//! secrets in it. Tests talk to Secrets Manager's real API through the real SDK; only the
//! service behind it is an emulator.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::config::{Credentials, Region};

/// The region the emulator is addressed with.
pub const REGION: &str = "eu-west-1";

/// A running moto server; stopped on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `moto_server` is: `MOTO_SERVER`, else the venv the scripts make in the cache
/// (`$PAYMENT_SERVICE_CACHE/moto`, default `/var/cache/payment-service/moto`).
pub fn moto_server_path() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return path.into();
    }
    let cache = std::env::var_os("PAYMENT_SERVICE_CACHE")
        .unwrap_or_else(|| "/var/cache/payment-service".into());
    std::path::Path::new(&cache).join("moto/bin/moto_server")
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    ///
    /// # Panics
    /// When moto is not installed (`scripts/test` installs it) or does not start.
    #[expect(
        clippy::expect_used,
        clippy::panic,
        reason = "test support fails loudly"
    )]
    pub fn start() -> Self {
        let path = moto_server_path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}): scripts/test installs moto[server] (or set MOTO_SERVER)",
                    path.display()
                )
            });
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// SDK configuration for the emulator (static test credentials, [`REGION`]).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(
                aws_sdk_secretsmanager::config::SharedCredentialsProvider::new(Credentials::new(
                    "test", "test", None, None, "moto",
                )),
            )
            .build()
    }

    /// The environment a child process needs to reach the emulator through the SDK's
    /// standard variables.
    pub fn env(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ]
    }

    fn client(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config())
    }

    /// Creates secret `name` holding `value` (a JSON text); returns its ARN.
    ///
    /// # Panics
    /// When moto refuses.
    #[expect(clippy::expect_used, reason = "test support fails loudly")]
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        self.client()
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("CreateSecret")
            .arn()
            .expect("an ARN")
            .to_owned()
    }

    /// Stores a new current value of secret `id`, as a rotation does.
    ///
    /// # Panics
    /// When moto refuses.
    #[expect(clippy::expect_used, reason = "test support fails loudly")]
    pub async fn put_secret(&self, id: &str, value: &str) {
        self.client()
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .expect("PutSecretValue");
    }
}
