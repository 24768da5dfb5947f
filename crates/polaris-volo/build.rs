//! Generates the examples' Echo service for volo-grpc with volo-build from the one
//! `echo.proto` of the framework integrations, polaris-tonic's (volo-build's protobuf parser
//! is pure Rust: no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?)
        .join("../polaris-tonic/proto");
    let file = root.join("echo.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    volo_build::Builder::protobuf()
        .add_service(&file)
        .include_dirs(vec![root])
        .filename("echo_gen.rs".into())
        .write()?;
    Ok(())
}
