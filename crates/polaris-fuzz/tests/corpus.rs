//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the harnesses on stable
//! Rust: every input the campaign kept, and every reproducer of a bug it found, must pass.

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str) {
    let harness = polaris_fuzz::target(target).expect("a known target");
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    for file in &files {
        let data = std::fs::read(file).expect("a corpus file");
        // Name the input in the failure: a panic inside the harness carries its own message.
        eprintln!("replaying {}", file.display());
        harness(&data);
    }
}

macro_rules! replays {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*

        #[test]
        fn every_target_is_replayed() {
            let replayed = [$(stringify!($target)),*];
            for (name, _) in polaris_fuzz::TARGETS {
                assert!(replayed.contains(name), "target {name} has no replay test");
            }
        }
    };
}

replays!(
    http_openapi,
    http_query,
    governance_rules,
    config_zip,
    grpc_naming,
    grpc_config,
    xds_requests,
    eureka_bodies,
    server_config,
    match_string,
    access_token,
);
