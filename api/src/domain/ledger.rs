//! Double-entry postings of each write.
//!
//! Accounts (per merchant and currency, all amounts in minor units):
//! - `authorizations_receivable`: amounts held on customers' payment methods;
//! - `authorizations_payable`: the matching promise to the merchant while the hold lasts;
//! - `acquirer_receivable`: captured money due from the acquirer;
//! - `merchant_payable`: captured money due to the merchant.
//!
//! | write | postings (debit / credit) |
//! |---|---|
//! | authorize A | authorizations_receivable / authorizations_payable A |
//! | capture C of hold A | authorizations_payable / authorizations_receivable A, then acquirer_receivable / merchant_payable C |
//! | void of hold A | authorizations_payable / authorizations_receivable A |
//! | refund R | merchant_payable / acquirer_receivable R |
//! | decline | none: no money moves |
//!
//! Every posting is one debit and one credit of the same amount, so each write balances by
//! construction; the database checks it again at commit.

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Amounts held on customers' payment methods.
    AuthorizationsReceivable,
    /// The matching promise to the merchant while a hold lasts.
    AuthorizationsPayable,
    /// Captured money due from the acquirer.
    AcquirerReceivable,
    /// Captured money due to the merchant.
    MerchantPayable,
}

impl Account {
    /// Stored account name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationsReceivable => "authorizations_receivable",
            Self::AuthorizationsPayable => "authorizations_payable",
            Self::AcquirerReceivable => "acquirer_receivable",
            Self::MerchantPayable => "merchant_payable",
        }
    }
}

/// One debit and one credit of the same amount (minor units, > 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    /// Debited account.
    pub debit: Account,
    /// Credited account.
    pub credit: Account,
    /// Amount in minor units.
    pub amount_minor: i64,
}

/// Places a hold of `amount_minor`.
pub fn hold(amount_minor: i64) -> Posting {
    Posting {
        debit: Account::AuthorizationsReceivable,
        credit: Account::AuthorizationsPayable,
        amount_minor,
    }
}

/// Releases a hold of `amount_minor`.
pub fn release(amount_minor: i64) -> Posting {
    Posting {
        debit: Account::AuthorizationsPayable,
        credit: Account::AuthorizationsReceivable,
        amount_minor,
    }
}

/// Books captured money.
pub fn settle(amount_minor: i64) -> Posting {
    Posting {
        debit: Account::AcquirerReceivable,
        credit: Account::MerchantPayable,
        amount_minor,
    }
}

/// Books a refund.
pub fn refund(amount_minor: i64) -> Posting {
    Posting {
        debit: Account::MerchantPayable,
        credit: Account::AcquirerReceivable,
        amount_minor,
    }
}
