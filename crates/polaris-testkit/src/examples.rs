//! Runs a crate's examples as processes against a test server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestServer;

/// The example `name` of the crate whose manifest directory is `crate_dir`, built by cargo test next to this test binary
/// (`target/<profile>/examples/<name>-<hash>`). Several crates have examples of the same name
/// (`quickstart_provider`...), and their uplifted `examples/<name>` copies overwrite each
/// other, so the binary is the newest one whose dep-info lists this crate's source.
fn example_path(crate_dir: &str, name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let examples = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples");
    let source = Path::new(crate_dir)
        .join("examples")
        .join(format!("{name}.rs"));
    let source = source.to_string_lossy().into_owned();
    let prefix = format!("{name}-");
    let mut built: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&examples)
        .map(|entries| entries.filter_map(Result::ok).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| {
            let path = entry.path();
            let file = path.file_name()?.to_str()?;
            let hash = file.strip_prefix(&prefix)?.strip_suffix(".d")?;
            let info = std::fs::read_to_string(&path).ok()?;
            // Dep-info paths are absolute or relative to the workspace root.
            let lists_source = info.split_whitespace().any(|dep| {
                let dep = dep.trim_end_matches(':');
                dep == source || (!dep.starts_with('/') && source.ends_with(&format!("/{dep}")))
            });
            let binary = examples.join(format!("{prefix}{hash}"));
            let modified = binary.metadata().and_then(|m| m.modified()).ok()?;
            lists_source.then_some((modified, binary))
        })
        .collect();
    built.sort();
    let path = built
        .pop()
        .map(|(_, path)| path)
        .unwrap_or_else(|| examples.join(name));
    assert!(
        path.is_file(),
        "example {name} not built at {}",
        path.display()
    );
    path
}

fn command(crate_dir: &str, name: &str, server: &TestServer, scratch: &Path) -> Command {
    let mut command = Command::new(example_path(crate_dir, name));
    command
        .env("POLARIS_ADDR", server.naming_addr())
        .env("POLARIS_CONFIG_ADDR", server.config_addr())
        .env("RUST_LOG", "warn")
        .current_dir(scratch);
    command
}

/// A running example process.
pub struct Example {
    child: Option<Child>,
    port: u16,
}

impl Example {
    /// Starts the provider example `name` of the crate at `crate_dir` (its
    /// `env!("CARGO_MANIFEST_DIR")`) and waits for its `port N` line.
    pub fn start(crate_dir: &str, name: &str, server: &TestServer) -> Example {
        let scratch = server.scratch(name);
        let mut child = command(crate_dir, name, server, &scratch)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn example");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("port ") {
                    let _ = tx.send(port.trim().parse::<u16>().expect("port number"));
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider printed its port");
        Example {
            child: Some(child),
            port,
        }
    }

    /// The port the provider printed.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGTERM, then waits for a clean exit (panics past 20 s or on a failure status).
    pub fn terminate(mut self) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "provider exited with {status}");
                return;
            }
            assert!(
                Instant::now() < until,
                "provider did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no deregistration.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the consumer example `name` of the crate at `crate_dir` to its end; returns its
/// stdout, panicking unless it exits 0.
pub fn run_consumer(crate_dir: &str, name: &str, server: &TestServer, args: &[&str]) -> String {
    let scratch = server.scratch(name);
    let output = command(crate_dir, name, server, &scratch)
        .args(args)
        .output()
        .expect("run consumer");
    assert!(
        output.status.success(),
        "{name} exited with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}
