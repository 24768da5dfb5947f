//! The README's five-minute tour, run as written against a fresh server (only the port differs).

mod common;

use std::process::Command;

use common::TestServer;
use serde_json::Value;

/// The shell lines of the tour's code block.
fn tour_commands() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let tour = readme
        .split("## Five-minute tour")
        .nth(1)
        .expect("README has a tour");
    let block = tour
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("curl"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_tour_works() {
    let server = TestServer::start();
    let commands = tour_commands();
    assert!(
        commands.len() >= 10,
        "the tour has its commands: {commands:?}"
    );
    let mut codes = Vec::new();
    // The tour logs in first and exports the token it gets; the test does the same.
    let mut token = String::new();
    for command in &commands {
        let command = command.replace("localhost:8090", &format!("127.0.0.1:{}", server.port()));
        let output = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .env("POLARIS_TOKEN", &token)
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{command} failed: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.trim().is_empty(), "{command} printed nothing");
        if let Ok(body) = serde_json::from_str::<Value>(&stdout) {
            if let Some(login) = body["loginResponse"]["token"].as_str() {
                token = login.to_string();
            }
            codes.push(body["code"].as_u64().expect("a Polaris code"));
        } else {
            assert!(
                stdout.contains("polaris_http_requests_total"),
                "{command}: {stdout}"
            );
        }
    }
    // Everything succeeds except the refused namespace delete, which the tour shows on purpose.
    let refused: Vec<_> = codes.iter().filter(|c| **c != 200_000).collect();
    assert_eq!(refused, [&400_203], "codes: {codes:?}");
}
