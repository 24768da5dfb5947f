//! Fuzz harnesses of polaris-rs: one function per decoder of outside input, each calling our
//! real code the way the servers call it and checking what must hold for any input (an answer
//! within the deadline, no panic, no server fault, well-formed replies).
//!
//! The cargo-fuzz project in `fuzz/` (outside the workspace) has one target per function here,
//! each a one-liner; this crate's own tests replay every file of the committed corpus
//! (`fuzz/corpus/<target>/`) through the same functions on stable Rust. [`TARGETS`] is the list
//! both sides use. Listener harnesses run against a whole in-memory server ([`stack`]).

pub mod eureka;
pub mod grpc;
pub mod http;
pub mod stack;
pub mod text;

/// A harness: takes one input, panics on a failure.
pub type Harness = fn(&[u8]);

/// Every target: its name (the cargo-fuzz target and corpus directory) and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("http_openapi", http::openapi),
    ("http_query", http::query_string),
    ("governance_rules", http::governance_rules),
    ("config_zip", http::config_zip),
    ("grpc_naming", grpc::naming),
    ("grpc_config", grpc::config),
    ("xds_requests", grpc::xds),
    ("eureka_bodies", eureka::request_body),
    ("server_config", text::server_config),
    ("match_string", text::match_string),
    ("access_token", text::access_token),
];

/// The harness of target `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Whether harnesses print each reply (`POLARIS_FUZZ_TRACE=1`), to see what seeds reach.
pub fn tracing_replies() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("POLARIS_FUZZ_TRACE").is_some())
}
