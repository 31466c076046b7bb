//! The payment lifecycle as pure functions.
//!
//! `authorize` → `authorized` | `declined`; `capture` (once, full or partial) → `captured`;
//! `void` (only before capture) → `voided`; `refund` (partial, repeatable, total ≤ captured) →
//! `partially_refunded` | `refunded`. Any other transition is refused with
//! [`ApiError::IllegalTransition`] and changes nothing.

use payment_events::EventType;
use serde::{Deserialize, Serialize};

use crate::domain::ledger::{self, Posting};
use crate::domain::money;
use crate::error::ApiError;

/// Status of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// An amount is held.
    Authorized,
    /// The authorization was refused; final.
    Declined,
    /// Captured, nothing refunded.
    Captured,
    /// Released before capture; final.
    Voided,
    /// Some of the captured amount was refunded.
    PartiallyRefunded,
    /// All of the captured amount was refunded; final.
    Refunded,
}

impl PaymentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Authorized,
        Self::Declined,
        Self::Captured,
        Self::Voided,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    /// snake_case name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorized => "authorized",
            Self::Declined => "declined",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// The amounts of a payment that a transition reads (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amounts {
    /// Amount held (0 after a decline).
    pub authorized_minor: i64,
    /// Amount captured.
    pub captured_minor: i64,
    /// Amount refunded so far.
    pub refunded_minor: i64,
}

/// What a later write (capture, void, refund) does to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Status after the write.
    pub status: PaymentStatus,
    /// Amounts after the write.
    pub amounts: Amounts,
    /// Event to emit.
    pub event_type: EventType,
    /// The amount the event is about.
    pub event_amount_minor: i64,
    /// Ledger postings of the write.
    pub postings: Vec<Posting>,
}

fn illegal(operation: &'static str, status: PaymentStatus) -> ApiError {
    ApiError::IllegalTransition {
        operation,
        status: status.as_str(),
    }
}

/// Captures `requested` (or everything held when `None`) once, releasing the rest of the hold.
///
/// # Errors
/// [`ApiError::IllegalTransition`] unless `authorized`; `amount_exceeds_authorized` (422) when
/// `requested` is above the held amount; `amount_not_positive` for a non-positive amount.
pub fn capture(
    status: PaymentStatus,
    amounts: Amounts,
    requested: Option<i64>,
) -> Result<Transition, ApiError> {
    if status != PaymentStatus::Authorized {
        return Err(illegal("capture", status));
    }
    let amount = match requested {
        Some(amount) => money::check_positive(amount, "amount_minor")?,
        None => amounts.authorized_minor,
    };
    if amount > amounts.authorized_minor {
        return Err(ApiError::invalid(
            "amount_exceeds_authorized",
            "amount_minor",
            format!(
                "amount_minor must be at most the authorized {}",
                amounts.authorized_minor
            ),
        ));
    }
    Ok(Transition {
        status: PaymentStatus::Captured,
        amounts: Amounts {
            captured_minor: amount,
            ..amounts
        },
        event_type: EventType::Captured,
        event_amount_minor: amount,
        postings: vec![
            ledger::release(amounts.authorized_minor),
            ledger::settle(amount),
        ],
    })
}

/// Voids an authorization before capture, releasing the whole hold.
///
/// # Errors
/// [`ApiError::IllegalTransition`] unless `authorized`.
pub fn void(status: PaymentStatus, amounts: Amounts) -> Result<Transition, ApiError> {
    if status != PaymentStatus::Authorized {
        return Err(illegal("void", status));
    }
    Ok(Transition {
        status: PaymentStatus::Voided,
        amounts,
        event_type: EventType::Voided,
        event_amount_minor: amounts.authorized_minor,
        postings: vec![ledger::release(amounts.authorized_minor)],
    })
}

/// Refunds `requested` (or everything still refundable when `None`).
///
/// # Errors
/// [`ApiError::IllegalTransition`] unless `captured` or `partially_refunded`;
/// `amount_exceeds_refundable` (422) when the refunded total would pass the captured amount;
/// `amount_not_positive`; `amount_overflow`; [`ApiError::Internal`] when the stored amounts
/// are inconsistent (refunded above captured).
pub fn refund(
    status: PaymentStatus,
    amounts: Amounts,
    requested: Option<i64>,
) -> Result<Transition, ApiError> {
    if !matches!(
        status,
        PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
    ) {
        return Err(illegal("refund", status));
    }
    // Stored amounts obey refunded <= captured (CHECK constraints); anything else is a bug
    // or corrupted data, answered 500 rather than a wrapped or negative amount.
    let refundable = amounts
        .captured_minor
        .checked_sub(amounts.refunded_minor)
        .filter(|refundable| *refundable >= 0)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "stored amounts inconsistent: refunded {} of captured {}",
                amounts.refunded_minor, amounts.captured_minor
            ))
        })?;
    let amount = match requested {
        Some(amount) => money::check_positive(amount, "amount_minor")?,
        None => refundable,
    };
    let refunded = money::checked_add(amounts.refunded_minor, amount, "amount_minor")?;
    if refunded > amounts.captured_minor {
        return Err(ApiError::invalid(
            "amount_exceeds_refundable",
            "amount_minor",
            format!("amount_minor must be at most the refundable {refundable}"),
        ));
    }
    let status = if refunded == amounts.captured_minor {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    };
    Ok(Transition {
        status,
        amounts: Amounts {
            refunded_minor: refunded,
            ..amounts
        },
        event_type: EventType::Refunded,
        event_amount_minor: amount,
        postings: vec![ledger::refund(amount)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    const HELD: Amounts = Amounts {
        authorized_minor: 1000,
        captured_minor: 0,
        refunded_minor: 0,
    };

    #[test]
    fn inconsistent_stored_amounts_are_an_internal_error_not_arithmetic() {
        for amounts in [
            Amounts {
                authorized_minor: 10,
                captured_minor: 10,
                refunded_minor: 20,
            },
            Amounts {
                authorized_minor: 10,
                captured_minor: i64::MIN,
                refunded_minor: 1,
            },
        ] {
            assert!(matches!(
                refund(Captured, amounts, None),
                Err(ApiError::Internal(_))
            ));
        }
    }

    #[test]
    fn only_an_authorized_payment_can_be_captured_or_voided() {
        for status in PaymentStatus::ALL {
            assert_eq!(
                capture(status, HELD, None).is_ok(),
                status == Authorized,
                "{status:?}"
            );
            assert_eq!(
                void(status, HELD).is_ok(),
                status == Authorized,
                "{status:?}"
            );
        }
    }

    #[test]
    fn partial_capture_releases_the_whole_hold() {
        let t = capture(Authorized, HELD, Some(600)).unwrap();
        assert_eq!(t.amounts.captured_minor, 600);
        assert_eq!(t.postings, vec![ledger::release(1000), ledger::settle(600)]);
        assert_eq!(
            capture(Authorized, HELD, Some(1001)).unwrap_err().code(),
            "amount_exceeds_authorized"
        );
        assert_eq!(
            capture(Authorized, HELD, Some(0)).unwrap_err().code(),
            "amount_not_positive"
        );
    }

    #[test]
    fn refunds_add_up_to_the_captured_amount_and_no_further() {
        let captured = Amounts {
            captured_minor: 600,
            ..HELD
        };
        let first = refund(Captured, captured, Some(100)).unwrap();
        assert_eq!(
            (first.status, first.amounts.refunded_minor),
            (PartiallyRefunded, 100)
        );
        let rest = refund(first.status, first.amounts, None).unwrap();
        assert_eq!((rest.status, rest.event_amount_minor), (Refunded, 500));
        assert_eq!(
            refund(first.status, first.amounts, Some(501))
                .unwrap_err()
                .code(),
            "amount_exceeds_refundable"
        );
        assert_eq!(
            refund(Refunded, rest.amounts, Some(1)).unwrap_err().code(),
            "illegal_transition"
        );
        assert_eq!(
            refund(Authorized, HELD, None).unwrap_err().code(),
            "illegal_transition"
        );
        let huge = Amounts {
            captured_minor: i64::MAX,
            refunded_minor: 1,
            ..HELD
        };
        assert_eq!(
            refund(PartiallyRefunded, huge, Some(i64::MAX))
                .unwrap_err()
                .code(),
            "amount_overflow"
        );
    }
}
