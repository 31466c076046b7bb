//! Payment rules, free of transport and storage: money, the lifecycle, ledger postings, the
//! authorization decision, idempotency keys and the payment view both surfaces return.

pub mod acquirer;
pub mod idempotency;
pub mod ledger;
pub mod lifecycle;
pub mod money;
pub mod pan;
pub mod payment;
