//! Row models: one module per table, a read struct and a `New*` insert struct each, and query
//! functions that take the connection as their first argument.

pub mod api_key;
pub mod idempotency_record;
pub mod ledger_entry;
pub mod merchant;
pub mod outbox_event;
pub mod payment;

pub use api_key::{ApiKey, NewApiKey};
pub use idempotency_record::{IdempotencyRecord, NewIdempotencyRecord};
pub use ledger_entry::{LedgerEntry, NewLedgerEntry};
pub use merchant::{Merchant, NewMerchant};
pub use outbox_event::{NewOutboxEvent, OutboxEvent};
pub use payment::{NewPayment, Payment, PaymentChange};
