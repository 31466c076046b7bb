//! Where the binaries get their credentials, so that none is ever a plain setting in a
//! deployment: `DATABASE_URL` as is; or `DATABASE_HOST` + `DATABASE_NAME` + `DATABASE_USER` +
//! `DATABASE_PASSWORD` (ECS injects the password from Secrets Manager); or `DATABASE_HOST` +
//! `DATABASE_NAME` + `DATABASE_SECRET_ARN`, read at start through the AWS Parameters and Secrets
//! Lambda Extension (an RDS-managed secret: `{"username": …, "password": …}`).
//! [`secret_json`] is also how the relay reads its Kafka SASL/SCRAM secret.

use std::time::Duration;

use serde_json::Value;

/// Port of the AWS Parameters and Secrets Lambda Extension unless
/// `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` says otherwise.
pub const EXTENSION_DEFAULT_PORT: u16 = 2773;

/// Why credentials could not be found; the message names the variables involved.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsError(String);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// A PostgreSQL URL from its parts, with the user and password percent-encoded.
///
/// # Errors
/// When the host is not a valid URL host.
pub fn compose_url(
    host: &str,
    name: &str,
    user: &str,
    password: &str,
) -> Result<String, CredentialsError> {
    let port = if host.contains(':') {
        String::new()
    } else {
        ":5432".to_owned()
    };
    let mut url =
        reqwest::Url::parse(&format!("postgres://{host}{port}/{name}")).map_err(|error| {
            CredentialsError(format!(
                "DATABASE_HOST/DATABASE_NAME do not form a URL: {error}"
            ))
        })?;
    url.set_username(user)
        .map_err(|()| CredentialsError("DATABASE_USER cannot be set".to_owned()))?;
    url.set_password(Some(password))
        .map_err(|()| CredentialsError("the database password cannot be set".to_owned()))?;
    Ok(url.to_string())
}

/// Reads a Secrets Manager secret whose value is JSON, through the AWS Parameters and Secrets
/// Lambda Extension (`http://localhost:2773/secretsmanager/get`, authenticated with the
/// function's `AWS_SESSION_TOKEN`).
///
/// # Errors
/// When the extension is not reachable, refuses, or the secret is not a JSON object.
pub async fn secret_json(secret_id: &str) -> Result<Value, CredentialsError> {
    let port = env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
        .unwrap_or_else(|| EXTENSION_DEFAULT_PORT.to_string());
    let token = env("AWS_SESSION_TOKEN").ok_or_else(|| {
        CredentialsError("reading a secret needs AWS_SESSION_TOKEN (set by Lambda)".to_owned())
    })?;
    let url = reqwest::Url::parse_with_params(
        &format!("http://localhost:{port}/secretsmanager/get"),
        [("secretId", secret_id)],
    )
    .map_err(|error| CredentialsError(format!("bad secret id: {error}")))?;
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| CredentialsError(error.to_string()))?
        .get(url)
        .header("X-Aws-Parameters-Secrets-Token", token)
        .send()
        .await
        .map_err(|error| {
            CredentialsError(format!(
                "the secrets extension is not reachable on port {port}: {error}"
            ))
        })?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|error| CredentialsError(format!("secrets extension: {error}")))?;
    if !status.is_success() {
        return Err(CredentialsError(format!(
            "secrets extension answered {status} for {secret_id}"
        )));
    }
    let text = body
        .get("SecretString")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value: Value = serde_json::from_str(text)
        .map_err(|_| CredentialsError(format!("secret {secret_id} is not a JSON object")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(CredentialsError(format!(
            "secret {secret_id} is not a JSON object"
        )))
    }
}

/// The database URL: `explicit` (`DATABASE_URL`) when given, else composed from the
/// `DATABASE_*` variables described in the module docs.
///
/// # Errors
/// When none of the three forms is complete; the message lists what is missing.
pub async fn database_url(explicit: Option<&str>) -> Result<String, CredentialsError> {
    if let Some(url) = explicit.filter(|url| !url.is_empty()) {
        return Ok(url.to_owned());
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
    if let (Some(user), Some(password)) = (env("DATABASE_USER"), env("DATABASE_PASSWORD")) {
        return compose_url(&host, &name, &user, &password);
    }
    let arn = env("DATABASE_SECRET_ARN").ok_or_else(missing)?;
    let secret = secret_json(&arn).await?;
    let field = |key: &str| {
        secret
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| CredentialsError(format!("DATABASE_SECRET_ARN secret has no `{key}`")))
    };
    compose_url(&host, &name, &field("username")?, &field("password")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_percent_encoded() {
        let url = compose_url("proxy.example", "payments", "payments", "p@ss/w:rd?#").unwrap();
        assert_eq!(
            url,
            "postgres://payments:p%40ss%2Fw%3Ard%3F%23@proxy.example:5432/payments"
        );
        assert_eq!(
            compose_url("db:6432", "x", "u", "p").unwrap(),
            "postgres://u:p@db:6432/x"
        );
    }
}
