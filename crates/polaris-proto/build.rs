//! Compiles `proto/polaris/v1/*.proto` with protox (no system `protoc`) and
//! generates the prost messages plus tonic clients (and, with the `server` feature, servers)
//! into `OUT_DIR`.
//! It also writes the encoded `FileDescriptorSet` (imports included, source
//! info stripped) to `OUT_DIR/polaris_v1.bin` for runtime reflection, and the proto3 JSON
//! `Serialize` impls of every `v1` message to `OUT_DIR/v1_json.rs` (see `build/json_codegen.rs`).

use std::path::PathBuf;

use prost::Message;

#[path = "build/json_codegen.rs"]
mod json_codegen;

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
    println!("cargo:rerun-if-changed=build/json_codegen.rs");
    std::fs::write(out.join("v1_json.rs"), json_codegen::generate(&fds, "v1"))?;

    // Server stubs only with the `server` feature: client-side crates do not compile them.
    let server = std::env::var_os("CARGO_FEATURE_SERVER").is_some();
    tonic_prost_build::configure()
        .build_server(server)
        .build_client(true)
        // Callers bring their own channel; this keeps tonic's transport
        // feature out of this crate.
        .build_transport(false)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    if server {
        shared_discover_server(&out.join("shared"))?;
    }
    Ok(())
}

/// `PolarisGRPC` once more, by hand, with `Discover` streaming `crate::shared::DiscoverReply`
/// (a message or its encoding) so that servers can send encoded answers they share. The
/// module it writes (`OUT_DIR/shared/v1.PolarisGRPC.rs`) holds only `polaris_grpc_server`.
fn shared_discover_server(dir: &std::path::Path) -> std::io::Result<()> {
    use tonic_build::manual::{Method, Service};

    std::fs::create_dir_all(dir)?;
    let codec = "tonic_prost::ProstCodec";
    let unary = |name: &str, route: &str, input: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            .input_type(input)
            .output_type("crate::v1::Response")
            .codec_path(codec)
            .build()
    };
    let service = Service::builder()
        .name("PolarisGRPC")
        .package("v1")
        .method(unary("report_client", "ReportClient", "crate::v1::Client"))
        .method(unary(
            "register_instance",
            "RegisterInstance",
            "crate::v1::Instance",
        ))
        .method(unary(
            "deregister_instance",
            "DeregisterInstance",
            "crate::v1::Instance",
        ))
        .method(unary("heartbeat", "Heartbeat", "crate::v1::Instance"))
        .method(
            Method::builder()
                .name("discover")
                .route_name("Discover")
                .input_type("crate::v1::DiscoverRequest")
                .output_type("crate::shared::DiscoverReply")
                .codec_path(codec)
                .client_streaming()
                .server_streaming()
                .build(),
        )
        .build();
    tonic_build::manual::Builder::new()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        .out_dir(dir)
        .compile(&[service]);
    Ok(())
}
