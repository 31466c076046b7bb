//! TLS to PostgreSQL from the libpq URL parameters `sslmode` and `sslrootcert`
//! (<https://www.postgresql.org/docs/current/libpq-ssl.html>), through rustls (no OpenSSL).
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | `disable` (also when absent) | never | — |
//! | `prefer` | when the server offers it | no (as libpq) |
//! | `require` | always | no; with `sslrootcert` as `verify-ca` (as libpq) |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain to `sslrootcert` and the host name (the production setting) |
//!
//! Unlike libpq, an absent `sslmode` means `disable`, not `prefer`: whether a connection is
//! encrypted is always written in the URL. A verifying mode needs `sslrootcert` (a PEM file,
//! e.g. the RDS CA bundle); there is no silent fallback to plain text in any mode but `prefer`.
//! Only URL-form settings (`postgres://…?sslmode=…`) carry these parameters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The libpq `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, certificate not checked.
    Prefer,
    /// TLS, certificate not checked.
    Require,
    /// TLS, certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` value.
    ///
    /// # Errors
    /// [`TlsConfigError::UnknownMode`] for anything else (`allow` included: it would try
    /// plain text first).
    pub fn parse(value: &str) -> Result<Self, TlsConfigError> {
        match value {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(TlsConfigError::UnknownMode(
                other.chars().take(32).collect(),
            )),
        }
    }
}

/// A database URL's TLS settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsConfigError {
    /// `sslmode` is not a libpq value we support.
    #[error(
        "database URL: unknown sslmode `{0}`; use disable, prefer, require, verify-ca or verify-full"
    )]
    UnknownMode(String),
    /// A verifying `sslmode` without `sslrootcert`.
    #[error(
        "database URL: sslmode={0} needs sslrootcert=<path of a PEM file with the CA certificates> (DATABASE_SSLROOTCERT)"
    )]
    MissingRootCert(&'static str),
    /// `sslrootcert` cannot be read or holds no certificate.
    #[error("database URL: sslrootcert {path}: {reason}")]
    RootCert {
        /// The path given.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
}

/// How to connect: the URL for tokio-postgres (TLS parameters rewritten to values it
/// understands) and the rustls configuration, `None` for plain connections.
pub struct Connector {
    /// URL without `sslrootcert`, with `sslmode` as `disable`, `prefer` or `require`.
    pub url: String,
    /// The TLS client configuration when the mode may use TLS.
    pub tls: Option<ClientConfig>,
}

/// Reads `sslmode` and `sslrootcert` of a `postgres://` URL and builds the connector.
/// A URL in key=value form passes through unchanged, without TLS.
///
/// # Errors
/// [`TlsConfigError`]: an unknown mode, a verifying mode without a root certificate, an
/// unreadable or empty root certificate file.
pub fn connector(url: &str) -> Result<Connector, TlsConfigError> {
    let Some((scheme, rest)) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|scheme| Some((*scheme, url.strip_prefix(scheme)?)))
    else {
        return Ok(Connector {
            url: url.to_owned(),
            tls: None,
        });
    };
    // As tokio-postgres reads it: the credentials run to the first `@`, so a raw `?` in a
    // password is not the start of the query.
    let (credentials, location) = match rest.split_once('@') {
        Some((credentials, location)) => (Some(credentials), location),
        None => (None, rest),
    };
    let (location, query) = location.split_once('?').unwrap_or((location, ""));
    let base = match credentials {
        Some(credentials) => format!("{scheme}{credentials}@{location}"),
        None => format!("{scheme}{location}"),
    };
    // Other parameters are kept byte for byte: tokio-postgres decodes `%xx` but not `+`, so
    // re-encoding them as a form would change values with spaces.
    let mut mode = SslMode::Disable;
    let mut root_cert: Option<PathBuf> = None;
    let mut kept: Vec<&str> = Vec::new();
    for segment in query.split('&').filter(|segment| !segment.is_empty()) {
        let decoded = url::form_urlencoded::parse(segment.as_bytes()).next();
        match decoded {
            Some((name, value)) if name == "sslmode" => mode = SslMode::parse(&value)?,
            Some((name, value)) if name == "sslrootcert" => {
                root_cert = Some(PathBuf::from(value.as_ref()));
            }
            _ => kept.push(segment),
        }
    }
    if mode == SslMode::Require && root_cert.is_some() {
        // libpq: `require` with a root certificate verifies the chain, like `verify-ca`.
        mode = SslMode::VerifyCa;
    }
    let wire_mode = match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
    };
    let wire_mode = format!("sslmode={wire_mode}");
    kept.push(&wire_mode);
    let rewritten = format!("{base}?{}", kept.join("&"));
    let tls = match mode {
        SslMode::Disable => None,
        SslMode::Prefer | SslMode::Require => Some(name_unchecked(None)?),
        SslMode::VerifyCa => Some(verified(root_cert.as_deref(), "verify-ca", false)?),
        SslMode::VerifyFull => Some(verified(root_cert.as_deref(), "verify-full", true)?),
    };
    Ok(Connector {
        url: rewritten,
        tls,
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsConfigError> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsConfigError::RootCert {
            path: String::new(),
            reason: error.to_string(),
        })
}

fn verified(
    root_cert: Option<&Path>,
    mode: &'static str,
    check_host: bool,
) -> Result<ClientConfig, TlsConfigError> {
    let path = root_cert.ok_or(TlsConfigError::MissingRootCert(mode))?;
    let unusable = |reason: String| TlsConfigError::RootCert {
        path: path.display().to_string(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unusable(e.to_string()))? {
        let cert = cert.map_err(|e| unusable(e.to_string()))?;
        roots.add(cert).map_err(|e| unusable(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unusable("no certificate in the file".to_owned()));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| unusable(e.to_string()))?;
    if check_host {
        Ok(builder()?
            .with_webpki_verifier(webpki)
            .with_no_client_auth())
    } else {
        name_unchecked(Some(webpki))
    }
}

/// The verifier of the modes that do not check the host name. `chain: Some` (`verify-ca`):
/// the chain must lead to a root, whatever name the certificate carries. `chain: None`
/// (`prefer` / `require` without a root certificate): encrypted, not authenticated, as libpq.
/// Either way the handshake signatures are checked, so the session key belongs to the
/// certificate the server sent.
#[derive(Debug)]
struct NameUnchecked {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NameUnchecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A configuration whose certificates are checked by [`NameUnchecked`].
fn name_unchecked(
    chain: Option<Arc<WebPkiServerVerifier>>,
) -> Result<ClientConfig, TlsConfigError> {
    let verifier = NameUnchecked {
        chain,
        algorithms: provider().signature_verification_algorithms,
    };
    Ok(builder()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_parameter() {
        let error = |url: &str| {
            connector(url)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(error("postgres://h/db?sslmode=bogus").contains("sslmode"));
        assert!(error("postgres://h/db?sslmode=allow").contains("sslmode"));
        assert!(error("postgres://h/db?sslmode=verify-full").contains("sslrootcert"));
        assert!(error("postgres://h/db?sslmode=verify-ca").contains("sslrootcert"));
        assert!(
            error("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem")
                .contains("/nonexistent.pem")
        );
    }

    #[test]
    fn modes_become_what_tokio_postgres_understands() {
        let plain = connector("postgres://u@h/db?application_name=x").unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(
            plain.url,
            "postgres://u@h/db?application_name=x&sslmode=disable"
        );
        let required = connector("postgres://u@h/db?sslmode=require").unwrap();
        assert!(required.tls.is_some());
        assert_eq!(required.url, "postgres://u@h/db?sslmode=require");
        // Other parameters are kept as written (tokio-postgres reads `%20`, not `+`).
        let options =
            connector("postgres://u@h/db?options=-c%20lock_timeout%3D5s&sslmode=disable").unwrap();
        assert_eq!(
            options.url,
            "postgres://u@h/db?options=-c%20lock_timeout%3D5s&sslmode=disable"
        );
        // A raw `?` in the password is part of the credentials, as tokio-postgres reads it.
        let password = connector("postgres://app:s3?cr@db/pay?sslmode=require").unwrap();
        assert!(password.tls.is_some());
        assert_eq!(password.url, "postgres://app:s3?cr@db/pay?sslmode=require");
        let key_value = connector("host=h dbname=db").unwrap();
        assert_eq!(key_value.url, "host=h dbname=db");
    }
}
