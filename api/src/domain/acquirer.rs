//! The authorization decision: a trait for acquirers and a deterministic simulated one.
//!
//! The simulated acquirer decides from the payment method token alone, like card-network
//! test tokens: `pm_card_visa` and `pm_card_mastercard` authorize, `pm_card_declined` declines
//! with `card_declined`, `pm_card_insufficient_funds` with `insufficient_funds`.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Why an acquirer declined an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// The issuer refused without a more specific reason.
    CardDeclined,
    /// Not enough funds or credit.
    InsufficientFunds,
}

impl DeclineReason {
    /// snake_case name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::CardDeclined, Self::InsufficientFunds]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

/// The outcome of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The amount is held on the payment method.
    Approved,
    /// Refused; no money moves.
    Declined(DeclineReason),
}

/// Decides authorizations. Implementations must be deterministic for a given token and amount
/// within one request, and must not see raw card numbers (callers refuse them first).
pub trait Acquirer: Send + Sync + 'static {
    /// Decides an authorization of `amount_minor` in `currency` on `payment_method`.
    ///
    /// # Errors
    /// [`ApiError::InvalidField`] `payment_method_unknown` for a token it does not know.
    fn authorize(
        &self,
        payment_method: &str,
        amount_minor: i64,
        currency: &str,
    ) -> Result<Decision, ApiError>;
}

/// Deterministic test acquirer driven by the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedAcquirer;

impl Acquirer for SimulatedAcquirer {
    fn authorize(
        &self,
        payment_method: &str,
        _amount_minor: i64,
        _currency: &str,
    ) -> Result<Decision, ApiError> {
        match payment_method {
            "pm_card_visa" | "pm_card_mastercard" | "pm_card_amex" => Ok(Decision::Approved),
            "pm_card_declined" => Ok(Decision::Declined(DeclineReason::CardDeclined)),
            "pm_card_insufficient_funds" => {
                Ok(Decision::Declined(DeclineReason::InsufficientFunds))
            }
            _ => Err(ApiError::invalid(
                "payment_method_unknown",
                "payment_method",
                "unknown payment method token",
            )),
        }
    }
}
