//! Durability and process behaviour: acknowledged writes survive `kill -9`, SIGTERM exits
//! cleanly, a data directory is used by one process at a time, and start-up errors are clear.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestServer, assert_code, binary, free_port, instance_id};
use serde_json::{Value, json};

const THREADS: usize = 16;
const PER_THREAD: usize = 13; // 16 × 13 = 208 ≥ 200

/// Every instance id of service `svc` in `default`, read page by page.
fn listed_ids(server: &TestServer, svc: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut offset = 0;
    loop {
        let r = server.get_full(&format!(
            "/naming/v1/instances?service={svc}&namespace=default&offset={offset}&limit=100"
        ));
        assert_code(&r, 200_000);
        let page = r.body["instances"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        offset += page.len();
        ids.extend(page.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        if offset as u64 >= r.body["amount"].as_u64().unwrap() {
            break;
        }
    }
    ids
}

#[test]
fn acknowledged_registrations_survive_kill_9() {
    let mut server = TestServer::start();
    let base = Arc::new(server.base_url());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = common::agent();
                let mut acked = Vec::new();
                for i in 0..PER_THREAD {
                    let host = format!("10.{t}.{i}.1");
                    let port = 1000 + i as u16;
                    let body = json!({ "service": "durable", "namespace": "default",
                        "host": host, "port": port });
                    let mut response = agent
                        .post(&format!("{base}/v1/RegisterInstance"))
                        .header("Content-Type", "application/json")
                        .send(body.to_string().as_bytes())
                        .expect("register");
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap();
                    let reply: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(status, 200, "{text}");
                    assert_eq!(reply["code"], 200_000, "{text}");
                    let id = reply["instance"]["id"].as_str().unwrap().to_string();
                    assert_eq!(id, instance_id("default", "durable", &host, port));
                    acked.push(id);
                }
                acked
            })
        })
        .collect();
    let acked: BTreeSet<String> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("register thread"))
        .collect();
    assert_eq!(acked.len(), THREADS * PER_THREAD);

    server.kill9();
    server.restart();

    let listed = listed_ids(&server, "durable");
    let missing: Vec<_> = acked.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged instances lost after kill -9: {:?}",
        missing.len(),
        missing
    );
    assert_eq!(listed.len(), acked.len());
}

#[test]
fn sigterm_exits_zero_and_data_persists() {
    let mut server = TestServer::start();
    assert_code(
        &server.post_full(
            "/naming/v1/namespaces",
            &json!([{ "name": "kept", "comment": "persist me" }]).to_string(),
        ),
        200_000,
    );
    assert_code(
        &server.post_full(
            "/v1/RegisterInstance",
            &json!({ "service": "term", "namespace": "kept", "host": "1.2.3.4", "port": 5 })
                .to_string(),
        ),
        200_000,
    );
    let status = server.sigterm(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    assert!(!server.is_up(), "server still answers after exiting");

    server.restart();
    let r = server.get_full("/naming/v1/namespaces?name=kept");
    assert_code(&r, 200_000);
    assert_eq!(
        r.body["namespaces"][0]["comment"], "persist me",
        "{}",
        r.text
    );
    let r = server.get_full("/naming/v1/instances?service=term&namespace=kept");
    assert_code(&r, 200_000);
    assert_eq!(r.body["amount"], 1, "{}", r.text);
    assert_eq!(
        r.body["instances"][0]["id"],
        instance_id("kept", "term", "1.2.3.4", 5).as_str()
    );
}

/// Runs the binary to completion (bounded by `deadline`); returns (exit code, stdout, stderr).
fn run_to_exit(args: &[&str], deadline: Duration) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn");
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`polaris-server {}` did not exit within {deadline:?}; stderr: {}",
                args.join(" "),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    (
        status.code(),
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    )
}

#[test]
fn second_server_on_same_data_dir_is_refused() {
    let server = TestServer::start();
    let config = server.work_dir().join("second.yaml");
    TestServer::write_config(&config, free_port(), &server.data_dir());
    let (code, _out, err) = run_to_exit(
        &["start", "--config", config.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_ne!(code, Some(0), "second server must fail; stderr: {err}");
    assert!(code.is_some(), "second server must exit, not be killed");
    assert!(err.contains("already used"), "stderr: {err}");
    // The first one is unaffected.
    assert!(server.is_up());
}

#[test]
fn version_prints_a_version() {
    let (code, out, err) = run_to_exit(&["version"], Duration::from_secs(10));
    assert_eq!(code, Some(0), "stderr: {err}");
    let version = out.split_whitespace().last().unwrap_or_default();
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() >= 3 && parts[..3].iter().all(|p| p.parse::<u32>().is_ok()),
        "no semantic version in {out:?}"
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("broken.yaml");
    // Line 4 opens a flow mapping that never closes.
    std::fs::write(
        &config,
        "apiservers:\n  - name: api-http\n    option:\n      listenIP: { \"127.0.0.1\"\n      listenPort: 1\nstore:\n  name: embedded\n",
    )
    .unwrap();
    let (code, _out, err) = run_to_exit(
        &["start", "--config", config.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_ne!(code, Some(0), "stderr: {err}");
    assert!(code.is_some());
    assert!(
        err.contains("broken.yaml"),
        "stderr must name the file: {err}"
    );
    // `file:line` with a line number in the broken region.
    let line = err
        .split("broken.yaml:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        matches!(line, Some(4..=8)),
        "stderr must name the line: {err}"
    );
}
