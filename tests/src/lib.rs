//! End-to-end support for payment-service: one client over the three surfaces (REST, native
//! gRPC, gRPC-web), a realistic workload, and helpers to run the binaries as an operator would.
//! Used by the demo (`src/bin/demo.rs`) and the end-to-end tests (`tests/`).

#![expect(
    clippy::indexing_slicing,
    reason = "test and demo driver: indices are in range by construction (i % len, JSON lookups)"
)]

pub mod client;
pub mod cluster;
pub mod otlp;
pub mod stack;
pub mod workload;
