//! Discover answers on disk, so a restarted application keeps working during a server outage.
//!
//! Each resource is one file `<kind>#<namespace>#<service>.pb` (names percent-encoded) holding
//! the protobuf bytes of its last Discover answer. Writes go through one task, in order, and
//! are atomic: a temporary file in the same directory is renamed over the old one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use polaris_proto::v1;
use prost::Message;
use tokio::sync::mpsc;

use super::cache::{ResourceKind, ServiceKey};

/// Writes answers on a background task and reads them back. Encoding and writing happen off
/// the Discover task; when answers for one file queue up, only the newest is written.
#[derive(Clone)]
pub(crate) struct Persist {
    dir: PathBuf,
    writes: mpsc::UnboundedSender<(PathBuf, Arc<v1::DiscoverResponse>)>,
}

impl Persist {
    /// Starts the writer task for `dir` (created on first write).
    pub(crate) fn start(dir: PathBuf) -> Persist {
        let (writes, mut rx) = mpsc::unbounded_channel::<(PathBuf, Arc<v1::DiscoverResponse>)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch: Vec<(PathBuf, Arc<v1::DiscoverResponse>)> = vec![first];
                while let Ok(next) = rx.try_recv() {
                    match batch.iter_mut().find(|(p, _)| *p == next.0) {
                        Some(slot) => *slot = next,
                        None => batch.push(next),
                    }
                }
                let written = tokio::task::spawn_blocking(move || {
                    for (path, answer) in batch {
                        if let Err(e) = write_atomic(&path, &answer.encode_to_vec()) {
                            tracing::warn!(file = %path.display(), error = %e, "persisting failed");
                        }
                    }
                })
                .await;
                if let Err(e) = written {
                    tracing::warn!(error = %e, "persist task failed");
                }
            }
        });
        Persist { dir, writes }
    }

    /// The file of one resource.
    pub(crate) fn path(&self, kind: ResourceKind, key: &ServiceKey) -> PathBuf {
        self.dir.join(file_name(kind, key))
    }

    /// Queues the answer for writing.
    pub(crate) fn save(
        &self,
        kind: ResourceKind,
        key: &ServiceKey,
        answer: &Arc<v1::DiscoverResponse>,
    ) {
        let _ = self.writes.send((self.path(kind, key), answer.clone()));
    }

    /// The persisted answer and its age, if a readable one exists. A persisted empty instance
    /// list is not served: it holds nothing a restarted application could call, and serving it
    /// at start would hide the live list until the next change.
    pub(crate) fn load(
        &self,
        kind: ResourceKind,
        key: &ServiceKey,
    ) -> Option<(v1::DiscoverResponse, Duration)> {
        let path = self.path(kind, key);
        let bytes = std::fs::read(&path).ok()?;
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        match v1::DiscoverResponse::decode(bytes.as_slice()) {
            Ok(answer) if kind == ResourceKind::Instances && answer.instances.is_empty() => None,
            Ok(answer) => Some((answer, age)),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable cache file");
                None
            }
        }
    }
}

/// `<kind>#<namespace>#<service>.pb`, every byte outside `[A-Za-z0-9._-]` as `%XX`.
pub(crate) fn file_name(kind: ResourceKind, key: &ServiceKey) -> String {
    format!(
        "{}#{}#{}.pb",
        kind.as_str(),
        encode(&key.namespace),
        encode(&key.name)
    )
}

/// Percent-encodes everything but `[A-Za-z0-9._-]` (a leading `.` too, so no hidden files).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, b) in text.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes `bytes` to a temporary file (mode 0600 on Unix) next to `path`, syncs it and renames
/// it over `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Only the owner reads the copies (config copies hold decrypted content).
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_flat_and_safe() {
        let key = ServiceKey::new("ns/a", ".hidden:svc");
        assert_eq!(
            file_name(ResourceKind::Instances, &key),
            "instance#ns%2Fa#%2Ehidden%3Asvc.pb"
        );
    }

    #[tokio::test]
    async fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::start(dir.path().join("backup"));
        let key = ServiceKey::new("default", "svc");
        let empty = v1::DiscoverResponse {
            code: Some(200_000),
            info: Some("x".into()),
            ..Default::default()
        };
        let answer = v1::DiscoverResponse {
            instances: vec![v1::Instance {
                host: Some("10.0.0.1".into()),
                ..Default::default()
            }],
            ..empty.clone()
        };
        assert!(persist.load(ResourceKind::Instances, &key).is_none());
        // An empty list is written (it replaces an older copy) but never served.
        write_atomic(
            &persist.path(ResourceKind::Instances, &key),
            &empty.encode_to_vec(),
        )
        .unwrap();
        assert!(persist.load(ResourceKind::Instances, &key).is_none());
        persist.save(ResourceKind::Instances, &key, &Arc::new(answer.clone()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((read, age)) = persist.load(ResourceKind::Instances, &key) {
                assert_eq!(read, answer);
                assert!(age < Duration::from_secs(60));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never written");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::fs::write(persist.path(ResourceKind::Routing, &key), b"\xff\xff").unwrap();
        assert!(persist.load(ResourceKind::Routing, &key).is_none());
    }
}
