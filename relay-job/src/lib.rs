//! relay-job: drains the payment-service outbox to Kafka and exits, started by cron or a
//! scheduler. `run` (the default) claims due events, produces them with an idempotent producer
//! (`acks=all`), marks them published after their delivery reports, retries failures with
//! persisted exponential backoff, dead-letters poison events and prints a one-line JSON summary.
//! `replay`, `purge`, `stats` and `dead list|show` are the operator's commands; `tail` is a consumer's check of the
//! topics.
//!
//! How the claim keeps no-loss, per-payment order and identical-only duplicates, also with
//! several relays at once, is explained in [`queue`]. Depends on `payment-db` and
//! `payment-events`, never on `payment-api`.

pub mod backoff;
pub mod batch;
pub mod cli;
pub mod config;
pub mod database;
pub mod dead_letter;
pub mod kafka;
pub mod lambda;
pub mod msk_iam;
pub mod pushgateway;
pub mod queue;
pub mod run;
pub mod summary;
pub mod tail;
