//! payment-api: payment rules (`domain`), the operations both surfaces share (`service`), the
//! gRPC and REST surfaces, authentication, configuration and the server.
//!
//! Layering: `grpc` and `rest` translate wire formats and call `service`; `service` runs one
//! database transaction per write using `domain` rules and `payment-db`; nothing below
//! `service` knows about HTTP or gRPC.

pub mod access;
pub mod admin;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod peer;
pub mod rate_limit;
pub mod rest;
pub mod server;
pub mod service;
pub mod state;
pub mod trace;

pub use error::ApiError;
