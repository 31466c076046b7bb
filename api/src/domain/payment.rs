//! The payment as both surfaces return it, and the validated inputs of the writes.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::acquirer::DeclineReason;
use crate::domain::lifecycle::{Amounts, PaymentStatus};
use crate::domain::money::Currency;
use crate::error::ApiError;

/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Most `metadata` entries.
pub const MAX_METADATA_ENTRIES: usize = 50;
/// Longest `metadata` key, in characters.
pub const MAX_METADATA_KEY_CHARS: usize = 40;
/// Longest `metadata` value, in characters.
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Longest payment method token, in characters.
pub const MAX_PAYMENT_METHOD_CHARS: usize = 100;

/// A payment. Amounts are ISO 4217 minor units; times are RFC 3339 UTC with microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// Payment id (UUID).
    pub id: Uuid,
    /// Lifecycle status.
    pub status: PaymentStatus,
    /// Uppercase ISO 4217 alpha-3 code.
    #[schema(example = "USD")]
    pub currency: String,
    /// Amount asked for at authorization.
    pub amount_minor: i64,
    /// Amount held (0 when declined).
    pub authorized_minor: i64,
    /// Amount captured.
    pub captured_minor: i64,
    /// Amount refunded so far.
    pub refunded_minor: i64,
    /// Payment method token.
    pub payment_method: String,
    /// Merchant's free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Merchant's key/value pairs.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Set when declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_reason: Option<DeclineReason>,
    /// 1 after authorization, +1 per write; equals the `sequence` of the latest event.
    pub version: i64,
    /// Creation time (RFC 3339).
    #[serde(with = "rfc3339_micros")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Time of the last write (RFC 3339).
    #[serde(with = "rfc3339_micros")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    /// The amounts a transition reads.
    pub fn amounts(&self) -> Amounts {
        Amounts {
            authorized_minor: self.authorized_minor,
            captured_minor: self.captured_minor,
            refunded_minor: self.refunded_minor,
        }
    }
}

impl TryFrom<payment_db::models::Payment> for Payment {
    type Error = ApiError;

    fn try_from(row: payment_db::models::Payment) -> Result<Self, ApiError> {
        let status = PaymentStatus::parse(&row.status)
            .ok_or_else(|| ApiError::internal(format!("payment {} has unknown status", row.id)))?;
        let metadata = serde_json::from_value(row.metadata).map_err(ApiError::internal)?;
        let decline_reason = match row.decline_reason.as_deref() {
            None => None,
            Some(reason) => Some(DeclineReason::parse(reason).ok_or_else(|| {
                ApiError::internal(format!("payment {} has unknown decline reason", row.id))
            })?),
        };
        Ok(Self {
            id: row.id,
            status,
            currency: row.currency,
            amount_minor: row.amount_minor,
            authorized_minor: row.authorized_minor,
            captured_minor: row.captured_minor,
            refunded_minor: row.refunded_minor,
            payment_method: row.payment_method,
            description: row.description,
            metadata,
            decline_reason,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Formats a time as both surfaces send it: RFC 3339, UTC, microseconds.
pub fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// serde helpers for [`format_time`].
pub mod rfc3339_micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes with [`super::format_time`].
    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_time(time))
    }

    /// Parses any RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Body of an authorization (`POST /v1/payments`; gRPC `AuthorizeRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// Amount in ISO 4217 minor units: > 0 and at most 10^11 major units
    /// (USD 10,000,000,000,000; JPY 100,000,000,000; KWD 100,000,000,000,000).
    #[schema(example = 1999)]
    pub amount_minor: i64,
    /// Uppercase ISO 4217 alpha-3 code of a currency with minor units.
    #[schema(example = "USD")]
    pub currency: String,
    /// Payment method token, e.g. `pm_card_visa`, `pm_card_declined`,
    /// `pm_card_insufficient_funds`. Raw card numbers are refused.
    #[schema(example = "pm_card_visa")]
    pub payment_method: String,
    /// At most 1000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// At most 50 entries; keys 1..=40 characters, values at most 500 characters.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Body of a capture or refund: `amount_minor` absent means the whole remaining amount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Amount in ISO 4217 minor units, > 0; absent means everything capturable or refundable.
    #[serde(default)]
    pub amount_minor: Option<i64>,
}

/// Body of a void: no fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {}

/// A validated authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizeCommand {
    /// Amount in minor units, within the currency's bounds.
    pub amount_minor: i64,
    /// The currency.
    #[serde(serialize_with = "serialize_currency")]
    pub currency: Currency,
    /// Token, checked to be no card number.
    pub payment_method: String,
    /// Bounded free text.
    pub description: Option<String>,
    /// Bounded pairs, sorted.
    pub metadata: BTreeMap<String, String>,
}

fn serialize_currency<S: serde::Serializer>(
    currency: &Currency,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(currency.code())
}

fn too_long(code: &'static str, field: &'static str, message: String) -> ApiError {
    ApiError::invalid(code, field, message)
}

/// Refuses anything that looks like a primary account number (12 to 19 digits once spaces
/// and dashes are removed), so card data is never stored, logged or echoed.
fn looks_like_card_number(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let only_card_chars = value
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    only_card_chars && (12..=19).contains(&digits)
}

/// Checks a free-text value: no control characters other than tab and line breaks (PostgreSQL
/// cannot store NUL), and no card number.
fn check_free_text(text: &str, field: &'static str) -> Result<(), ApiError> {
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ApiError::invalid(
            "text_invalid_character",
            field,
            "text fields must not contain control characters",
        ));
    }
    if super::pan::contains_card_number(text) {
        return Err(ApiError::invalid(
            "raw_card_number_refused",
            field,
            "card numbers must not be sent in free text; use a payment method token",
        ));
    }
    Ok(())
}

impl AuthorizeRequest {
    /// Validates every field; the same rules serve REST and gRPC.
    ///
    /// # Errors
    /// [`ApiError::InvalidField`] for the first invalid field: the currency and amount rules of
    /// [`Currency`], `payment_method_required`, `raw_card_number_refused`,
    /// `payment_method_invalid`, `description_too_long`, `metadata_too_many_entries`,
    /// `metadata_key_invalid`, `metadata_value_too_long`.
    pub fn validate(self) -> Result<AuthorizeCommand, ApiError> {
        let currency = Currency::parse(&self.currency, "currency")?;
        let amount_minor = currency.check_amount(self.amount_minor, "amount_minor")?;
        let method = self.payment_method;
        if method.is_empty() {
            return Err(ApiError::invalid(
                "payment_method_required",
                "payment_method",
                "payment_method is required",
            ));
        }
        if looks_like_card_number(&method) {
            return Err(ApiError::invalid(
                "raw_card_number_refused",
                "payment_method",
                "raw card numbers are not accepted; send a payment method token such as pm_card_visa",
            ));
        }
        let token_ok = method.len() <= MAX_PAYMENT_METHOD_CHARS
            && method.starts_with("pm_")
            && method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !token_ok {
            return Err(ApiError::invalid(
                "payment_method_invalid",
                "payment_method",
                format!(
                    "payment_method must be a token like pm_card_visa (pm_ then lowercase letters, digits or _; at most {MAX_PAYMENT_METHOD_CHARS} characters)"
                ),
            ));
        }
        if let Some(description) = &self.description
            && description.chars().count() > MAX_DESCRIPTION_CHARS
        {
            return Err(too_long(
                "description_too_long",
                "description",
                format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        if let Some(description) = &self.description {
            check_free_text(description, "description")?;
        }
        if self.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(too_long(
                "metadata_too_many_entries",
                "metadata",
                format!("metadata must have at most {MAX_METADATA_ENTRIES} entries"),
            ));
        }
        for (key, value) in &self.metadata {
            let key_chars = key.chars().count();
            if key_chars == 0 || key_chars > MAX_METADATA_KEY_CHARS {
                return Err(too_long(
                    "metadata_key_invalid",
                    "metadata",
                    format!("metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters"),
                ));
            }
            if value.chars().count() > MAX_METADATA_VALUE_CHARS {
                return Err(too_long(
                    "metadata_value_too_long",
                    "metadata",
                    format!(
                        "metadata values must be at most {MAX_METADATA_VALUE_CHARS} characters"
                    ),
                ));
            }
        }
        for (key, value) in &self.metadata {
            check_free_text(key, "metadata")?;
            check_free_text(value, "metadata")?;
        }
        Ok(AuthorizeCommand {
            amount_minor,
            currency,
            payment_method: method,
            description: self.description,
            metadata: self.metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            amount_minor: 1000,
            currency: "USD".into(),
            payment_method: "pm_card_visa".into(),
            description: None,
            metadata: BTreeMap::new(),
        }
    }

    #[test]
    fn card_numbers_are_refused_without_echo() {
        for pan in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
        ] {
            let err = AuthorizeRequest {
                payment_method: pan.into(),
                ..request()
            }
            .validate()
            .unwrap_err();
            assert_eq!(err.code(), "raw_card_number_refused");
            assert!(!err.public_message().contains("4242"));
        }
    }

    #[test]
    fn free_text_refuses_nul_and_card_numbers_but_not_ordinary_numbers() {
        for (text, code) in [
            ("a\0b", "text_invalid_character"),
            ("pay 4242 4242 4242 4242 now", "raw_card_number_refused"),
            ("4111-1111-1111-1111", "raw_card_number_refused"),
        ] {
            let err = AuthorizeRequest {
                description: Some(text.into()),
                ..request()
            }
            .validate()
            .unwrap_err();
            assert_eq!(err.code(), code, "{text:?}");
            let metadata = BTreeMap::from([("note".to_owned(), text.to_owned())]);
            assert_eq!(
                AuthorizeRequest {
                    metadata,
                    ..request()
                }
                .validate()
                .unwrap_err()
                .code(),
                code
            );
        }
        for fine in [
            "order 1234567890123",
            "line one\nline two",
            "tel +44 20 7946 0958",
            "1234567890123456",
        ] {
            assert!(
                AuthorizeRequest {
                    description: Some(fine.into()),
                    ..request()
                }
                .validate()
                .is_ok(),
                "{fine:?}"
            );
        }
    }

    #[test]
    fn free_text_is_bounded() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert_eq!(
            AuthorizeRequest {
                description: Some(long),
                ..request()
            }
            .validate()
            .unwrap_err()
            .code(),
            "description_too_long"
        );
        let many = (0..=MAX_METADATA_ENTRIES)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(
            AuthorizeRequest {
                metadata: many,
                ..request()
            }
            .validate()
            .unwrap_err()
            .code(),
            "metadata_too_many_entries"
        );
        assert!(
            AuthorizeRequest {
                description: Some("é".repeat(MAX_DESCRIPTION_CHARS)),
                ..request()
            }
            .validate()
            .is_ok()
        );
    }
}
