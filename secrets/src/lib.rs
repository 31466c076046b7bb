//! Credentials of the payment-service binaries, so that none is ever a plain setting in a
//! deployment.
//!
//! - [`secrets_manager`]: AWS Secrets Manager through the AWS SDK for Rust, with a small
//!   process-wide cache that a caller re-reads when a server refused what it held (a rotation).
//! - [`database`]: the PostgreSQL URL from `DATABASE_URL`, or composed from `DATABASE_HOST`,
//!   `DATABASE_NAME`, `DATABASE_USER` and a password (`DATABASE_PASSWORD`, or the secret
//!   `DATABASE_SECRET_ARN`), with the libpq TLS parameters `DATABASE_SSLMODE` and
//!   `DATABASE_SSLROOTCERT`.
//! - [`kafka_sasl`]: the relay's SASL/SCRAM username and password from a secret.
//! - [`redis_password`]: the AUTH token of the API's rate-limit Redis from a secret.
//!
//! This crate knows where credentials come from, never what they unlock: connecting (and
//! recognising a refused password by its SQLSTATE) belongs to `payment-db`.

pub mod database;
pub mod secrets_manager;
#[cfg(feature = "test-support")]
pub mod testing;

pub use database::{CredentialsError, DatabaseUrl};
pub use secrets_manager::{Freshness, SecretError, SecretsManager};

/// SASL username and password read from a Secrets Manager secret `{"username", "password"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    /// `sasl.username`.
    pub username: String,
    /// `sasl.password`.
    pub password: String,
}

impl std::fmt::Debug for SaslCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The SASL credentials in the secret `secret_id` (the relay's `KAFKA_SASL_SECRET_ARN`), from
/// the process-wide cache unless `freshness` asks for a new read.
///
/// # Errors
/// When the secret cannot be read or lacks `username` or `password`.
pub async fn kafka_sasl(
    secret_id: &str,
    freshness: Freshness,
) -> Result<SaslCredentials, SecretError> {
    let secret = SecretsManager::shared().json(secret_id, freshness).await?;
    Ok(SaslCredentials {
        username: secret_manager_field(&secret, secret_id, "username")?,
        password: secret_manager_field(&secret, secret_id, "password")?,
    })
}

/// The AUTH password of the rate limiter's Redis (ElastiCache's auth token) in the secret
/// `secret_id` (the API's `REDIS_AUTH_SECRET_ARN`), a JSON object `{"password": …}`, from the
/// process-wide cache.
///
/// # Errors
/// When the secret cannot be read or lacks `password`.
pub async fn redis_password(secret_id: &str) -> Result<String, SecretError> {
    let secret = SecretsManager::shared()
        .json(secret_id, Freshness::Cached)
        .await?;
    secret_manager_field(&secret, secret_id, "password")
}

/// The string field `key` of a JSON secret.
fn secret_manager_field(
    secret: &serde_json::Map<String, serde_json::Value>,
    secret_id: &str,
    key: &str,
) -> Result<String, SecretError> {
    secret
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SecretError::MissingField {
            secret_id: secret_id.to_owned(),
            field: key.to_owned(),
        })
}
