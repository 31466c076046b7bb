//! API keys: generation, hashing and bearer authentication (RFC 6750).
//!
//! A key is `sk_` followed by 43 base64url characters (256 random bits). Only its SHA-256 is
//! stored: with that much entropy a fast hash is as safe as a slow one and keeps every request
//! to one indexed lookup. Keys are held in [`SecretString`] so they cannot be logged by accident.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use payment_db::Database;
use payment_db::models::api_key;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// Start of every key.
pub const KEY_PREFIX: &str = "sk_";
/// Characters of the non-secret prefix kept in the database (`sk_` + 8).
const STORED_PREFIX_LEN: usize = 11;
/// Length of a whole key.
const KEY_LEN: usize = 3 + 43;

/// A freshly generated key: the secret (shown once), its hash and its non-secret prefix.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The key itself; print once, never store.
    pub secret: SecretString,
    /// SHA-256 of the key.
    pub hash: Vec<u8>,
    /// First characters, for recognising the key.
    pub prefix: String,
}

/// Generates a new random key.
pub fn generate_key() -> GeneratedKey {
    let bytes: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = key.chars().take(STORED_PREFIX_LEN).collect();
    GeneratedKey {
        hash: hash_key(&key),
        prefix,
        secret: SecretString::from(key),
    }
}

/// SHA-256 of a key.
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Extracts the key of an `Authorization: Bearer <key>` value (scheme case-insensitive,
/// RFC 7235), without touching the database.
fn bearer_key(header: Option<&[u8]>) -> Option<SecretString> {
    let value = std::str::from_utf8(header?).ok()?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && key.len() == KEY_LEN
        && key.starts_with(KEY_PREFIX)
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| SecretString::from(key.to_owned()))
}

/// Returns the merchant of the key in an `Authorization` header value (gRPC: the
/// `authorization` metadata entry).
///
/// # Errors
/// [`ApiError::Unauthenticated`] for a missing, malformed, unknown or revoked key;
/// [`ApiError::DatabaseUnavailable`] when the key cannot be checked.
pub async fn authenticate(db: &Database, header: Option<&[u8]>) -> Result<Uuid, ApiError> {
    let key = bearer_key(header).ok_or(ApiError::Unauthenticated)?;
    let hash = hash_key(key.expose_secret());
    db.transaction::<_, ApiError, _>(async |conn| {
        Ok(api_key::find_active_merchant(conn, &hash).await?)
    })
    .await?
    .ok_or(ApiError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_as_bearer_tokens() {
        let key = generate_key();
        let header = format!("Bearer {}", key.secret.expose_secret());
        let parsed = bearer_key(Some(header.as_bytes())).unwrap();
        assert_eq!(hash_key(parsed.expose_secret()), key.hash);
        assert!(
            bearer_key(Some(
                format!("bearer {}", key.secret.expose_secret()).as_bytes()
            ))
            .is_some()
        );
        assert_eq!(key.prefix.len(), STORED_PREFIX_LEN);
        assert!(!format!("{key:?}").contains(key.secret.expose_secret()));
    }

    #[test]
    fn anything_else_is_refused_before_the_database() {
        for header in [
            "",
            "Bearer",
            "Basic abc",
            "Bearer sk_short",
            "Token sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(bearer_key(Some(header.as_bytes())).is_none(), "{header}");
        }
        assert!(bearer_key(None).is_none());
    }
}
