//! Generates the tonic/prost code and a descriptor set (for gRPC reflection) from
//! `proto/payments/v1/*.proto`, using the protoc shipped by `protoc-bin-vendored` so no system
//! protoc is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY-free: build scripts are single-threaded; prost-build reads PROTOC.
    // `set_var` is unsafe in edition 2024 because of other threads; we have none here.
    #[expect(
        unsafe_code,
        reason = "single-threaded build script sets PROTOC for prost-build"
    )]
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("payments_descriptor.bin"))
        .compile_protos(&["proto/payments/v1/payments.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
