//! Compiles the Release 1 schema with a vendored `protoc`, so a fresh machine needs no system one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/bittensor.proto";
    println!("cargo:rerun-if-changed={proto}");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    // Tensor buffers and signatures decode as `Bytes`: slices of the received frame, not copies.
    config.bytes(["."]);
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_with_config(config, &[proto], &["proto"])?;
    Ok(())
}
