//! Row models: one module per table, a read struct and a `New*` insert struct each, and query
//! functions that take the connection as their first argument.
//!
//! The inserts on the write path use `treat_none_as_default_value = false`: every column is a
//! bind parameter (never `DEFAULT`), which lets diesel cache their prepared statements — one round
//! trip per insert instead of a prepare and an execute.

pub mod api_key;
pub mod idempotency_record;
pub mod ledger_entry;
pub mod merchant;
pub mod merchant_rate_limit;
pub mod outbox_event;
pub mod payment;

pub use api_key::{ApiKey, NewApiKey};
pub use idempotency_record::{IdempotencyRecord, NewIdempotencyRecord};
pub use ledger_entry::{LedgerEntry, NewLedgerEntry};
pub use merchant::{Merchant, NewMerchant};
pub use merchant_rate_limit::{MerchantRateLimit, RateLimitOverride};
pub use outbox_event::{NewOutboxEvent, OutboxEvent};
pub use payment::{NewPayment, Payment, PaymentChange};
