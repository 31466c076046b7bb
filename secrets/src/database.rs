//! The PostgreSQL URL of the binaries, in one of three forms:
//!
//! 1. `DATABASE_URL` as given;
//! 2. `DATABASE_HOST` + `DATABASE_NAME` + `DATABASE_USER` + `DATABASE_PASSWORD`;
//! 3. `DATABASE_HOST` + `DATABASE_NAME` + `DATABASE_SECRET_ARN`: the password (and the user,
//!    unless `DATABASE_USER` names it) from a Secrets Manager secret `{"username",
//!    "password"}` such as the one RDS manages and rotates. [`DatabaseUrl::url`] answers from
//!    the cache; [`DatabaseUrl::refreshed_url`] reads the secret again, for a connection the
//!    server refused with SQLSTATE 28P01 (see `payment_db::pool`).
//!
//! Forms 2 and 3 add the libpq TLS parameters `sslmode` and `sslrootcert` from
//! `DATABASE_SSLMODE` and `DATABASE_SSLROOTCERT` when set (the terraform module sets
//! `verify-full` and the CA file shipped in the image); with form 1 they belong in the URL.
//! `DATABASE_HOST` may carry a port (`host:6432`; default 5432).

use crate::secrets_manager::{Freshness, SecretsManager};

/// Why no database URL could be made; the message names the variables involved, never a
/// password.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsError(String);

impl From<crate::SecretError> for CredentialsError {
    fn from(error: crate::SecretError) -> Self {
        Self(format!("DATABASE_SECRET_ARN: {error}"))
    }
}

/// Where the database URL comes from, decided once from the settings (see the module docs).
#[derive(Clone)]
pub struct DatabaseUrl(Source);

#[derive(Clone)]
enum Source {
    Fixed(String),
    Secret {
        host: String,
        name: String,
        user: Option<String>,
        secret_id: String,
        tls: Vec<(&'static str, String)>,
    },
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Source::Fixed(_) => f.write_str("DatabaseUrl::Fixed(<redacted>)"),
            Source::Secret {
                host,
                name,
                secret_id,
                ..
            } => write!(f, "DatabaseUrl::Secret({host}/{name}, {secret_id})"),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl DatabaseUrl {
    /// A URL that never changes.
    pub fn fixed(url: impl Into<String>) -> Self {
        Self(Source::Fixed(url.into()))
    }

    /// The source the settings describe: `explicit` (`DATABASE_URL`) when given, else the
    /// `DATABASE_*` variables described in the module docs.
    ///
    /// # Errors
    /// When no form is complete (the message lists the variables), the parts do not form
    /// a URL, or `DATABASE_URL` is given together with any part (which it would silently
    /// override, e.g. `DATABASE_SSLMODE`).
    pub fn from_env(explicit: Option<&str>) -> Result<Self, CredentialsError> {
        /// The variables that compose a URL when DATABASE_URL is absent.
        const PARTS: [&str; 7] = [
            "DATABASE_HOST",
            "DATABASE_NAME",
            "DATABASE_USER",
            "DATABASE_PASSWORD",
            "DATABASE_SECRET_ARN",
            "DATABASE_SSLMODE",
            "DATABASE_SSLROOTCERT",
        ];
        if let Some(url) = explicit.filter(|url| !url.is_empty()) {
            // The parts would be ignored: refuse rather than, say, connect in plain text to a
            // URL without `sslmode` while DATABASE_SSLMODE=verify-full is set.
            let ignored: Vec<&str> = PARTS
                .into_iter()
                .filter(|name| env(name).is_some())
                .collect();
            if !ignored.is_empty() {
                return Err(CredentialsError(format!(
                    "DATABASE_URL is set, so {} would be ignored: put the setting in DATABASE_URL \
                     (e.g. ?sslmode=verify-full&sslrootcert=…) or unset DATABASE_URL",
                    ignored.join(", ")
                )));
            }
            return Ok(Self::fixed(url));
        }
        let missing = || {
            CredentialsError(
                "set DATABASE_URL, or DATABASE_HOST + DATABASE_NAME with DATABASE_USER + DATABASE_PASSWORD or DATABASE_SECRET_ARN"
                    .to_owned(),
            )
        };
        let (host, name) = (
            env("DATABASE_HOST").ok_or_else(missing)?,
            env("DATABASE_NAME").ok_or_else(missing)?,
        );
        let tls: Vec<(&'static str, String)> = [
            ("sslmode", env("DATABASE_SSLMODE")),
            ("sslrootcert", env("DATABASE_SSLROOTCERT")),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
        let user = env("DATABASE_USER");
        if let (Some(user), Some(password)) = (&user, env("DATABASE_PASSWORD")) {
            return compose_url(&host, &name, user, &password, &tls).map(Self::fixed);
        }
        let secret_id = env("DATABASE_SECRET_ARN").ok_or_else(missing)?;
        // Fail now, not at the first connection, when the parts cannot form a URL.
        compose_url(&host, &name, "user", "password", &tls)?;
        Ok(Self(Source::Secret {
            host,
            name,
            user,
            secret_id,
            tls,
        }))
    }

    /// Whether [`refreshed_url`](Self::refreshed_url) may differ from [`url`](Self::url)
    /// (the password comes from a secret).
    pub fn can_refresh(&self) -> bool {
        matches!(self.0, Source::Secret { .. })
    }

    /// The URL, with the secret's cached value.
    ///
    /// # Errors
    /// When the secret cannot be read or lacks a field.
    pub async fn url(&self) -> Result<String, CredentialsError> {
        self.resolve(Freshness::Cached).await
    }

    /// The URL with the secret read again: for a connection refused with SQLSTATE 28P01
    /// (invalid password) after a rotation.
    ///
    /// # Errors
    /// As [`url`](Self::url).
    pub async fn refreshed_url(&self) -> Result<String, CredentialsError> {
        self.resolve(Freshness::Refresh).await
    }

    async fn resolve(&self, freshness: Freshness) -> Result<String, CredentialsError> {
        match &self.0 {
            Source::Fixed(url) => Ok(url.clone()),
            Source::Secret {
                host,
                name,
                user,
                secret_id,
                tls,
            } => {
                let secret = SecretsManager::shared().json(secret_id, freshness).await?;
                let field = |key: &str| {
                    secret
                        .get(key)
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            CredentialsError(format!(
                                "DATABASE_SECRET_ARN: secret {secret_id} has no string `{key}`"
                            ))
                        })
                };
                let user = match user {
                    Some(user) => user.clone(),
                    None => field("username")?,
                };
                compose_url(host, name, &user, &field("password")?, tls)
            }
        }
    }
}

/// A PostgreSQL URL from its parts, user and password percent-encoded, with the query
/// parameters `params` (e.g. `sslmode`).
///
/// # Errors
/// When the host and name do not form a URL.
pub fn compose_url(
    host: &str,
    name: &str,
    user: &str,
    password: &str,
    params: &[(&str, String)],
) -> Result<String, CredentialsError> {
    let port = if host.contains(':') { "" } else { ":5432" };
    let mut url = url::Url::parse(&format!("postgres://{host}{port}/{name}")).map_err(|error| {
        CredentialsError(format!(
            "DATABASE_HOST/DATABASE_NAME do not form a URL: {error}"
        ))
    })?;
    url.set_username(user)
        .map_err(|()| CredentialsError("DATABASE_USER cannot be set".to_owned()))?;
    url.set_password(Some(password))
        .map_err(|()| CredentialsError("the database password cannot be set".to_owned()))?;
    if !params.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(key, value)| (*key, value.as_str())));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_percent_encoded_and_tls_parameters_appended() {
        let url = compose_url("proxy.example", "payments", "payments", "p@ss/w:rd?#", &[]).unwrap();
        assert_eq!(
            url,
            "postgres://payments:p%40ss%2Fw%3Ard%3F%23@proxy.example:5432/payments"
        );
        assert_eq!(
            compose_url("db:6432", "x", "u", "p", &[]).unwrap(),
            "postgres://u:p@db:6432/x"
        );
        let tls = [
            ("sslmode", "verify-full".to_owned()),
            (
                "sslrootcert",
                "/usr/share/payment-service/amazon-root-ca.pem".to_owned(),
            ),
        ];
        assert_eq!(
            compose_url("proxy.example", "payments", "u", "p&q", &tls).unwrap(),
            "postgres://u:p&q@proxy.example:5432/payments?sslmode=verify-full&sslrootcert=%2Fusr%2Fshare%2Fpayment-service%2Famazon-root-ca.pem"
        );
    }

    #[test]
    fn debug_never_shows_a_password() {
        let url = DatabaseUrl::fixed("postgres://u:hunter2@db/x");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
