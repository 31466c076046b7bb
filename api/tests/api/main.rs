//! Integration tests of payment-api against a real PostgreSQL server. One binary; each test
//! gets its own freshly migrated database and its own server on port 0.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod harness;

mod answers;
mod auth;
mod database;
mod errors;
mod idempotency;
mod keys;
mod lifecycle;
mod limits;
mod migrations;
mod money;
mod pan;
mod parity;
mod rate_limit;
mod resilience;
mod rest_bodies;
mod retention;
mod routes;
mod surfaces;
mod tls;
mod web;
