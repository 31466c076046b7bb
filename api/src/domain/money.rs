//! Money: ISO 4217 currencies and integer amounts in minor units.
//!
//! The exponent (number of minor digits) comes from the `iso_currency` crate's ISO 4217
//! table: JPY 0, USD 2, KWD 3. Accepted currencies are the circulating ones that have minor
//! units; fund codes (e.g. CLF, USN) and special codes (e.g. XTS for testing, XAU for gold)
//! are refused.
//!
//! **Maximum amount:** 10^11 major units per payment, in minor units `10^(11 + exponent)`:
//! JPY 100,000,000,000; USD 10,000,000,000,000; KWD 100,000,000,000,000. With at most 3
//! minor digits this never exceeds 10^14, far below 2^53 so JSON consumers read amounts exactly.

use iso_currency::{Currency as IsoCurrency, IntoEnumIterator};

use crate::error::ApiError;

/// Largest amount of one payment, in major units of any currency.
pub const MAX_MAJOR_UNITS: i64 = 100_000_000_000;

/// An accepted ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(IsoCurrency);

impl Currency {
    /// Parses an uppercase ISO 4217 alpha-3 code.
    ///
    /// # Errors
    /// [`ApiError::InvalidField`] on `field` with code `currency_invalid` (not three uppercase
    /// letters), `currency_unknown` (not in ISO 4217) or `currency_not_supported` (a fund or
    /// special code, or no minor unit defined).
    pub fn parse(code: &str, field: &'static str) -> Result<Self, ApiError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::invalid(
                "currency_invalid",
                field,
                "currency must be an uppercase ISO 4217 alpha-3 code such as USD",
            ));
        }
        let iso = IsoCurrency::from_code(code).ok_or_else(|| {
            ApiError::invalid(
                "currency_unknown",
                field,
                "currency is not an ISO 4217 code",
            )
        })?;
        if !Self::accepts(iso) {
            return Err(ApiError::invalid(
                "currency_not_supported",
                field,
                "currency is a fund, test or precious-metal code and cannot be used for payments",
            ));
        }
        Ok(Self(iso))
    }

    /// Every accepted currency (what [`Currency::parse`] accepts: the circulating codes with a
    /// minor unit), sorted by alpha-3 code.
    pub fn all() -> Vec<Self> {
        let mut all: Vec<Self> = IsoCurrency::iter()
            .filter(|iso| Self::accepts(*iso))
            .map(Self)
            .collect();
        all.sort_by_key(|currency| currency.code());
        all
    }

    fn accepts(iso: IsoCurrency) -> bool {
        !iso.is_fund() && !iso.is_special() && iso.exponent().is_some()
    }

    /// The uppercase alpha-3 code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of minor digits (ISO 4217 exponent).
    pub fn exponent(self) -> u32 {
        self.0.exponent().map_or(0, u32::from)
    }

    /// Largest amount of one payment in minor units: `10^11 * 10^exponent`.
    pub fn max_amount_minor(self) -> i64 {
        10_i64
            .checked_pow(self.exponent())
            .and_then(|scale| scale.checked_mul(MAX_MAJOR_UNITS))
            .unwrap_or(i64::MAX)
    }

    /// Checks an amount in minor units: > 0 and at most [`Currency::max_amount_minor`].
    ///
    /// # Errors
    /// [`ApiError::InvalidField`] on `field`: `amount_not_positive` or `amount_above_maximum`.
    pub fn check_amount(self, amount_minor: i64, field: &'static str) -> Result<i64, ApiError> {
        check_positive(amount_minor, field)?;
        let max = self.max_amount_minor();
        if amount_minor > max {
            return Err(ApiError::invalid(
                "amount_above_maximum",
                field,
                format!("amount_minor must be at most {max} for {}", self.code()),
            ));
        }
        Ok(amount_minor)
    }
}

/// Checks that an amount in minor units is > 0.
///
/// # Errors
/// [`ApiError::InvalidField`] on `field` with code `amount_not_positive`.
pub fn check_positive(amount_minor: i64, field: &'static str) -> Result<i64, ApiError> {
    if amount_minor <= 0 {
        return Err(ApiError::invalid(
            "amount_not_positive",
            field,
            "amount_minor must be a positive integer in minor units",
        ));
    }
    Ok(amount_minor)
}

/// `a + b` for amounts, failing instead of wrapping.
///
/// # Errors
/// [`ApiError::InvalidField`] `amount_overflow` on `field`.
pub fn checked_add(a: i64, b: i64, field: &'static str) -> Result<i64, ApiError> {
    a.checked_add(b)
        .ok_or_else(|| ApiError::invalid("amount_overflow", field, "the total would overflow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_come_from_iso_4217() {
        for (code, exponent) in [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)] {
            assert_eq!(
                Currency::parse(code, "currency").unwrap().exponent(),
                exponent,
                "{code}"
            );
        }
    }

    #[test]
    fn codes_are_checked() {
        for (code, expected) in [
            ("usd", "currency_invalid"),
            ("US", "currency_invalid"),
            ("ABC", "currency_unknown"),
            ("XTS", "currency_not_supported"),
            ("XAU", "currency_not_supported"),
            ("CLF", "currency_not_supported"),
        ] {
            assert_eq!(
                Currency::parse(code, "currency").unwrap_err().code(),
                expected,
                "{code}"
            );
        }
    }

    #[test]
    fn the_accepted_list_is_what_parse_accepts() {
        let all: Vec<_> = Currency::all().into_iter().map(Currency::code).collect();
        assert!(all.is_sorted(), "{all:?}");
        assert!(all.len() > 100, "{all:?}");
        for code in ["USD", "EUR", "JPY", "KWD"] {
            assert!(all.contains(&code), "{code}");
        }
        for code in ["XTS", "XAU", "CLF", "USN"] {
            assert!(!all.contains(&code), "{code}");
        }
        for code in all {
            assert_eq!(Currency::parse(code, "currency").unwrap().code(), code);
        }
    }

    #[test]
    fn maxima_stay_below_2_pow_53() {
        let usd = Currency::parse("USD", "currency").unwrap();
        let kwd = Currency::parse("KWD", "currency").unwrap();
        let jpy = Currency::parse("JPY", "currency").unwrap();
        assert_eq!(jpy.max_amount_minor(), 100_000_000_000);
        assert_eq!(usd.max_amount_minor(), 10_000_000_000_000);
        assert_eq!(kwd.max_amount_minor(), 100_000_000_000_000);
        assert!(kwd.max_amount_minor() < (1_i64 << 53));
        for amount in [0, -1] {
            assert_eq!(
                usd.check_amount(amount, "amount_minor").unwrap_err().code(),
                "amount_not_positive"
            );
        }
        for amount in [i64::MAX, (1 << 53) + 1, usd.max_amount_minor() + 1] {
            assert_eq!(
                usd.check_amount(amount, "amount_minor").unwrap_err().code(),
                "amount_above_maximum"
            );
        }
        assert_eq!(usd.check_amount(1, "amount_minor").unwrap(), 1);
        assert_eq!(
            checked_add(i64::MAX, 1, "amount_minor").unwrap_err().code(),
            "amount_overflow"
        );
    }
}
