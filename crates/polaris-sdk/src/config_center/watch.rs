//! Following config files: the long-poll loop and the watch handed to users.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polaris_proto::v1;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio_stream::{Stream, StreamExt, wrappers::WatchStream};

use super::{ConfigFile, ConfigState, FileEntry, FileKey, Format};
use crate::error::{Error, Result, codes};

/// The server holds a watch 30 s; the call deadline leaves room for that.
const LONG_POLL_DEADLINE: Duration = Duration::from_secs(40);
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Follows one config file.
pub struct FileWatch {
    rx: watch::Receiver<Arc<ConfigFile>>,
}

impl FileWatch {
    pub(crate) fn new(mut rx: watch::Receiver<Arc<ConfigFile>>) -> FileWatch {
        rx.borrow_and_update();
        FileWatch { rx }
    }

    /// The newest release.
    pub fn current(&self) -> Arc<ConfigFile> {
        self.rx.borrow().clone()
    }

    /// Waits for the next release; [`Error::Closed`] when the client is gone.
    pub async fn changed(&mut self) -> Result<Arc<ConfigFile>> {
        self.rx.changed().await.map_err(|_| Error::Closed)?;
        Ok(self.rx.borrow_and_update().clone())
    }

    /// Every release as a `Stream`, starting with the current one.
    pub fn into_stream(self) -> impl Stream<Item = Arc<ConfigFile>> + Send + Unpin + 'static {
        WatchStream::new(self.rx)
    }

    /// Every release decoded as `format`, starting with the current one; a release that
    /// does not decode yields its error and the stream goes on.
    pub fn into_typed<T: DeserializeOwned + Send + Sync + 'static>(
        self,
        format: Format,
    ) -> impl Stream<Item = Result<Arc<T>>> + Send + Unpin + 'static {
        self.into_stream()
            .map(move |file| file.parse::<T>(format).map(Arc::new))
    }
}

/// Long-polls the server for every watched file and publishes new releases.
pub(crate) async fn poll_loop(
    state: Arc<ConfigState>,
    mut new_files: mpsc::UnboundedReceiver<Arc<FileEntry>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut files: HashMap<FileKey, Arc<FileEntry>> = HashMap::new();
    let mut backoff = BACKOFF_MIN;
    loop {
        while let Ok(entry) = new_files.try_recv() {
            files.insert(entry.key.clone(), entry);
        }
        let request = v1::ClientWatchConfigFileRequest {
            watch_files: files
                .values()
                .map(|e| v1::ClientConfigFileInfo {
                    namespace: Some(e.key.namespace.clone()),
                    group: Some(e.key.group.clone()),
                    file_name: Some(e.key.name.clone()),
                    version: Some(e.tx.borrow().version),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let rpc = &state.rpc;
        let mut call = tonic::Request::new(request);
        rpc.decorate(&mut call);
        call.set_timeout(LONG_POLL_DEADLINE);
        let mut client = rpc.config();
        let answer = tokio::select! {
            answer = rpc.unary_within(LONG_POLL_DEADLINE, client.watch_config_files(call)) => answer,
            entry = new_files.recv() => {
                // A new file: restart the poll so it is included.
                match entry {
                    Some(entry) => { files.insert(entry.key.clone(), entry); continue; }
                    None => return,
                }
            }
            _ = shutdown.changed() => return,
        };
        let failure = match answer {
            Ok(answer) => match answer.code.unwrap_or_default() {
                codes::OK => {
                    backoff = BACKOFF_MIN;
                    let notified = answer.config_file.as_ref().map(|f| FileKey {
                        namespace: f.namespace.clone().unwrap_or_default(),
                        group: f.group.clone().unwrap_or_default(),
                        name: f.file_name.clone().unwrap_or_default(),
                    });
                    let targets: Vec<Arc<FileEntry>> = match notified.and_then(|k| files.get(&k)) {
                        Some(entry) => vec![entry.clone()],
                        None => files.values().cloned().collect(),
                    };
                    let mut advanced = false;
                    for entry in targets {
                        advanced |= refresh(&state, &entry).await;
                    }
                    if !advanced {
                        // The server's read side lags its notification: retry shortly.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    None
                }
                codes::DATA_NO_CHANGE => {
                    backoff = BACKOFF_MIN;
                    None
                }
                code => Some(Error::Server {
                    code,
                    info: answer.info.unwrap_or_default(),
                }),
            },
            Err(e) => Some(e),
        };
        if let Some(error) = failure {
            tracing::debug!(%error, "config watch failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// Fetches a file and publishes it when its version moved; true when it did.
async fn refresh(state: &ConfigState, entry: &FileEntry) -> bool {
    match state.fetch(&entry.key).await {
        Ok(file) => {
            let current = entry.tx.borrow().version;
            if file.version > current || entry.tx.borrow().from_local_cache {
                tracing::debug!(key = ?entry.key, version = file.version, "config file released");
                entry.tx.send_replace(Arc::new(file));
                true
            } else {
                false
            }
        }
        Err(e) => {
            tracing::debug!(key = ?entry.key, error = %e, "fetching a notified config file failed");
            false
        }
    }
}
