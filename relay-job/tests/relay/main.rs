//! relay-job against a real PostgreSQL and a real Kafka-protocol broker (`KAFKA_BROKERS`, which
//! `scripts/test` starts). The relay runs as its own process, as cron would run it.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod harness;

mod budgets;
mod cases;
mod cli;
mod concurrency;
mod failures;
mod follow;
mod kafka_failures;
mod metrics;
mod mock;
mod operations;
mod tls;
