//! AWS Secrets Manager through the AWS SDK for Rust (`GetSecretValue`), with the credentials
//! and region the SDK finds the usual way (the Lambda or ECS task role, `AWS_*` variables, a
//! profile) and the endpoint overridable by the SDK's standard `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` (the tests point it at moto).
//!
//! A small cache keyed by secret id, shared by the whole process (a warm Lambda keeps it
//! across invocations):
//! - [`Freshness::Cached`] answers from the cache while the value is younger than [`MAX_AGE`]:
//!   the steady state costs no API call per connection.
//! - [`Freshness::Refresh`] is for a caller whose server refused the cached credentials (a
//!   rotation): it reads the secret again, unless it was read less than
//!   [`MIN_REFRESH_INTERVAL`] ago, so a burst of refused connections costs one read, not one
//!   per connection.
//!
//! Reads are serialised, so concurrent misses make one call. Secret values are never logged.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde_json::{Map, Value};

/// Longest time a cached value is used without reading the secret again (15 minutes).
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// A [`Freshness::Refresh`] within this time of the last read (5 s) returns that read.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Longest wait for one `GetSecretValue` call, retries included (10 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How current a value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The cached value unless it is older than [`MAX_AGE`].
    Cached,
    /// A new read: a server refused the cached credentials (see the module docs).
    Refresh,
}

/// Why a secret could not be read; messages name the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager could not be reached or refused (missing permission, unknown secret).
    #[error("cannot read secret {secret_id} from Secrets Manager: {reason}")]
    Read {
        /// The secret's ARN or name.
        secret_id: String,
        /// The SDK's error, with its service error code.
        reason: String,
    },
    /// The secret has no `SecretString` holding a JSON object.
    #[error("secret {secret_id} is not a JSON object")]
    NotJsonObject {
        /// The secret's ARN or name.
        secret_id: String,
    },
    /// The secret lacks a string field the caller needs.
    #[error("secret {secret_id} has no string `{field}`")]
    MissingField {
        /// The secret's ARN or name.
        secret_id: String,
        /// The missing field, e.g. `password`.
        field: String,
    },
}

struct Entry {
    value: Arc<Map<String, Value>>,
    read_at: Instant,
}

/// A Secrets Manager client with the cache described in the module docs.
pub struct SecretsManager {
    config: Option<aws_config::SdkConfig>,
    min_refresh_interval: Duration,
    client: tokio::sync::OnceCell<Client>,
    entries: tokio::sync::Mutex<HashMap<String, Entry>>,
}

impl Default for SecretsManager {
    fn default() -> Self {
        Self::new()
    }
}

impl SecretsManager {
    /// A client configured from the environment on first use.
    pub fn new() -> Self {
        Self {
            config: None,
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            client: tokio::sync::OnceCell::new(),
            entries: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A client with this SDK configuration (endpoint, region, credentials) instead of the
    /// environment's.
    pub fn with_config(config: aws_config::SdkConfig) -> Self {
        Self {
            config: Some(config),
            ..Self::new()
        }
    }

    /// The same with another shortest interval between two reads of one secret than
    /// [`MIN_REFRESH_INTERVAL`] (tests use zero).
    #[must_use]
    pub fn with_min_refresh_interval(self, interval: Duration) -> Self {
        Self {
            min_refresh_interval: interval,
            ..self
        }
    }

    /// The process-wide instance the binaries use.
    pub fn shared() -> &'static Self {
        static SHARED: LazyLock<SecretsManager> = LazyLock::new(SecretsManager::new);
        &SHARED
    }

    /// The secret `secret_id` (ARN or name) as a JSON object, from the cache or read as
    /// `freshness` requires.
    ///
    /// # Errors
    /// When the secret cannot be read or is not a JSON object; the cache keeps its last good
    /// value.
    pub async fn json(
        &self,
        secret_id: &str,
        freshness: Freshness,
    ) -> Result<Arc<Map<String, Value>>, SecretError> {
        let mut entries = self.entries.lock().await;
        if let Some(entry) = entries.get(secret_id) {
            let limit = match freshness {
                Freshness::Cached => MAX_AGE,
                Freshness::Refresh => self.min_refresh_interval,
            };
            if entry.read_at.elapsed() < limit {
                return Ok(Arc::clone(&entry.value));
            }
        }
        let value = Arc::new(Box::pin(self.read(secret_id)).await?);
        entries.insert(
            secret_id.to_owned(),
            Entry {
                value: Arc::clone(&value),
                read_at: Instant::now(),
            },
        );
        Ok(value)
    }

    /// Drops the cached value of `secret_id`: the next [`json`](Self::json) reads it.
    pub async fn forget(&self, secret_id: &str) {
        self.entries.lock().await.remove(secret_id);
    }

    async fn read(&self, secret_id: &str) -> Result<Map<String, Value>, SecretError> {
        let client = self
            .client
            .get_or_init(|| async {
                let config = match &self.config {
                    Some(config) => config.clone(),
                    None => aws_config::defaults(BehaviorVersion::latest()).load().await,
                };
                let config = aws_sdk_secretsmanager::config::Builder::from(&config)
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_timeout(CALL_TIMEOUT)
                            .build(),
                    )
                    .build();
                Client::from_conf(config)
            })
            .await;
        // Boxed: the SDK's future is deep, and callers nest it in their own.
        let output = Box::pin(client.get_secret_value().secret_id(secret_id).send())
            .await
            .map_err(|error| SecretError::Read {
                secret_id: secret_id.to_owned(),
                reason: DisplayErrorContext(&error).to_string(),
            })?;
        tracing::info!(secret.id = secret_id, "read secret from Secrets Manager");
        match output.secret_string().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(map))) => Ok(map),
            _ => Err(SecretError::NotJsonObject {
                secret_id: secret_id.to_owned(),
            }),
        }
    }
}
