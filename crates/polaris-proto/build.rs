//! Compiles `proto/polaris/v1/*.proto` with protox (no system `protoc`) and
//! generates the prost messages plus tonic clients and servers into `OUT_DIR`.
//! It also writes the encoded `FileDescriptorSet` (imports included, source
//! info stripped) to `OUT_DIR/polaris_v1.bin` for runtime reflection.

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &[
    "model.proto",
    "namespace.proto",
    "service.proto",
    "client.proto",
    "contract.proto",
    "discover.proto",
    "routing.proto",
    "ratelimit.proto",
    "circuitbreaker.proto",
    "fault_detector.proto",
    "lane.proto",
    "lossless.proto",
    "block_allow_list.proto",
    "response.proto",
    "heartbeat.proto",
    "grpc.proto",
    "config_file.proto",
    "config_file_response.proto",
    "grpc_config_api.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let files: Vec<PathBuf> = FILES
        .iter()
        .map(|f| root.join("polaris").join("v1").join(f))
        .collect();
    println!("cargo:rerun-if-changed=build.rs");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let fds = protox::compile(&files, [&root])?;

    let mut bare = fds.clone();
    for file in &mut bare.file {
        file.source_code_info = None;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("polaris_v1.bin"), bare.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Callers bring their own channel; this keeps tonic's transport
        // feature out of this crate.
        .build_transport(false)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
