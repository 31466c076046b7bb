//! Protobuf contract of payment-service (`payments.v1`).
//!
//! Generated from `proto/payments/v1/payments.proto` at build time with a vendored protoc.
//! Owns only wire types and service stubs; no business rules live here.

/// `payments.v1`: messages, the `PaymentService` server and client.
#[allow(
    missing_docs,
    unused_qualifications,
    clippy::all,
    clippy::pedantic,
    reason = "generated code; the set of lints it trips varies with tonic versions"
)]
pub mod v1 {
    tonic::include_proto!("payments.v1");
}

/// Encoded `FileDescriptorSet` of every proto in this crate, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("payments_descriptor");
