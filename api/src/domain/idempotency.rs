//! Idempotency keys and request fingerprints.
//!
//! A key is scoped per merchant and operation. The fingerprint is the SHA-256 of the
//! canonical request (the validated command serialized with sorted maps), so the same meaning
//! sent over REST or gRPC gives the same fingerprint.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Longest accepted key, in characters.
pub const MAX_KEY_LEN: usize = 255;

/// Name of the REST header and of the gRPC metadata entry carrying the key.
pub const HEADER: &str = "idempotency-key";

/// Name of the REST header and gRPC metadata entry set on replayed answers (value `true`).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A validated idempotency key: 1..=255 visible ASCII characters (0x21..=0x7E).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates the raw bytes of the header or metadata value.
    ///
    /// # Errors
    /// [`ApiError::Malformed`] `idempotency_key_invalid` (HTTP 400, INVALID_ARGUMENT) when empty,
    /// longer than 255 characters, or holding anything but visible ASCII (spaces, NUL, …).
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_KEY_LEN
            && raw.iter().all(|b| (0x21..=0x7e).contains(b));
        if !valid {
            return Err(ApiError::malformed(
                "idempotency_key_invalid",
                HEADER,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of `operation` and the canonical JSON of `request`.
///
/// # Errors
/// [`ApiError::Internal`] if the request cannot be serialized (a bug).
pub fn fingerprint<T: Serialize>(operation: &str, request: &T) -> Result<Vec<u8>, ApiError> {
    let canonical = serde_json::to_vec(&(operation, request)).map_err(ApiError::internal)?;
    Ok(Sha256::digest(canonical).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse(b"order-42").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256][..],
            b"a\0b",
            b"with space",
            "caf\u{e9}".as_bytes(),
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().code(),
                "idempotency_key_invalid"
            );
        }
    }

    #[test]
    fn fingerprints_depend_on_operation_and_request() {
        let a = fingerprint("capture", &Some(5)).unwrap();
        assert_eq!(a, fingerprint("capture", &Some(5)).unwrap());
        assert_ne!(a, fingerprint("refund", &Some(5)).unwrap());
        assert_ne!(a, fingerprint("capture", &Some(6)).unwrap());
    }
}
