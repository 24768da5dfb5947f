//! The config center: fetch files, decode them into typed values and follow their releases.
//!
//! [`ConfigCenter::get_file`] asks the server (sending a fresh RSA public key so encrypted
//! files come back with a wrapped data key) and keeps a copy under
//! `config.localCache.persistDir`, served when the server is unreachable.
//! [`ConfigCenter::watch_file`] adds the file to the client's single long-poll loop
//! (`WatchConfigFiles`, held 30 s by the server): each notified release is fetched and
//! published to the file's watchers.

mod crypto;
mod decode;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use polaris_proto::v1;
use prost::Message;
use serde::de::DeserializeOwned;
use tokio::sync::{OnceCell, mpsc, watch as tokio_watch};

pub use decode::{Format, decode, parse_properties};
pub use watch::FileWatch;

use crate::client::Inner;
use crate::config::Settings;
use crate::consumer::persist::{encode, write_atomic};
use crate::error::{Error, Result, codes};
use crate::rpc::Rpc;
use crypto::{DATA_KEY_TAG, KeyPair};

/// A released config file, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Namespace.
    pub namespace: String,
    /// Group.
    pub group: String,
    /// File name (may contain `/`).
    pub name: String,
    /// The content (plaintext, even for encrypted files).
    pub content: String,
    /// The release version (per file, increasing).
    pub version: u64,
    /// Hex MD5 of the stored content, as the server computed it.
    pub md5: String,
    /// True when the file is stored encrypted on the server.
    pub encrypted: bool,
    /// The release tags (internal encryption tags removed).
    pub tags: BTreeMap<String, String>,
    /// True when this copy was read from the local cache because the server was unreachable.
    pub from_local_cache: bool,
}

impl ConfigFile {
    /// Decodes the content as `format`.
    pub fn parse<T: DeserializeOwned>(&self, format: Format) -> Result<T> {
        decode(&self.content, format)
    }

    /// Decodes the content in the format its file name suggests.
    pub fn parse_auto<T: DeserializeOwned>(&self) -> Result<T> {
        decode(&self.content, Format::from_file_name(&self.name))
    }
}

/// Identity of a file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    pub(crate) namespace: String,
    pub(crate) group: String,
    pub(crate) name: String,
}

/// A watched file: the newest copy, for its watchers.
pub(crate) struct FileEntry {
    pub(crate) key: FileKey,
    pub(crate) tx: tokio_watch::Sender<Arc<ConfigFile>>,
}

/// Per-client config center state.
pub(crate) struct ConfigState {
    pub(crate) rpc: Rpc,
    persist_dir: Option<PathBuf>,
    fallback: bool,
    keys: OnceCell<Arc<KeyPair>>,
    pub(crate) watched: Mutex<HashMap<FileKey, Arc<FileEntry>>>,
    watch_tx: mpsc::UnboundedSender<Arc<FileEntry>>,
    watch_rx: Mutex<Option<mpsc::UnboundedReceiver<Arc<FileEntry>>>>,
    shutdown: tokio_watch::Receiver<bool>,
}

impl ConfigState {
    pub(crate) fn new(
        rpc: Rpc,
        settings: &Settings,
        shutdown: tokio_watch::Receiver<bool>,
    ) -> Self {
        let (watch_tx, watch_rx) = mpsc::unbounded_channel();
        ConfigState {
            rpc,
            persist_dir: settings.config.local_cache.persist_dir.clone(),
            fallback: settings.config.local_cache.fallback_to_local_cache,
            keys: OnceCell::new(),
            watched: Mutex::new(HashMap::new()),
            watch_tx,
            watch_rx: Mutex::new(Some(watch_rx)),
            shutdown,
        }
    }

    async fn key_pair(&self) -> Result<Arc<KeyPair>> {
        self.keys
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(KeyPair::generate)
                    .await
                    .map_err(|e| Error::Crypto(e.to_string()))?
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    fn local_path(&self, key: &FileKey) -> Option<PathBuf> {
        let dir = self.persist_dir.as_ref()?;
        Some(dir.join(format!(
            "{}#{}#{}.pb",
            encode(&key.namespace),
            encode(&key.group),
            encode(&key.name)
        )))
    }

    async fn save_local(&self, file: &ConfigFile) {
        let key = FileKey {
            namespace: file.namespace.clone(),
            group: file.group.clone(),
            name: file.name.clone(),
        };
        let Some(path) = self.local_path(&key) else {
            return;
        };
        let record = v1::ClientConfigFileInfo {
            namespace: Some(file.namespace.clone()),
            group: Some(file.group.clone()),
            file_name: Some(file.name.clone()),
            content: Some(file.content.clone()),
            version: Some(file.version),
            md5: Some(file.md5.clone()),
            encrypted: Some(file.encrypted),
            tags: file
                .tags
                .iter()
                .map(|(k, v)| v1::ConfigFileTag {
                    key: Some(k.clone()),
                    value: Some(v.clone()),
                })
                .collect(),
            ..Default::default()
        };
        let bytes = record.encode_to_vec();
        let shown = path.display().to_string();
        match tokio::task::spawn_blocking(move || write_atomic(&path, &bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(file = %shown, error = %e, "saving config copy failed"),
            Err(e) => tracing::warn!(error = %e, "config copy task failed"),
        }
    }

    fn load_local(&self, key: &FileKey) -> Option<ConfigFile> {
        let bytes = std::fs::read(self.local_path(key)?).ok()?;
        let record = v1::ClientConfigFileInfo::decode(bytes.as_slice()).ok()?;
        Some(ConfigFile {
            namespace: key.namespace.clone(),
            group: key.group.clone(),
            name: key.name.clone(),
            content: record.content.unwrap_or_default(),
            version: record.version.unwrap_or_default(),
            md5: record.md5.unwrap_or_default(),
            encrypted: record.encrypted.unwrap_or_default(),
            tags: tags_of(&record.tags),
            from_local_cache: true,
        })
    }

    /// Asks the server for the released file (no local fallback).
    pub(crate) async fn fetch(&self, key: &FileKey) -> Result<ConfigFile> {
        let pair = self.key_pair().await?;
        let request = v1::ClientConfigFileInfo {
            namespace: Some(key.namespace.clone()),
            group: Some(key.group.clone()),
            file_name: Some(key.name.clone()),
            encrypted: Some(true),
            public_key: Some(pair.public_key().to_string()),
            ..Default::default()
        };
        let rpc = &self.rpc;
        let answer = rpc
            .unary(rpc.config().get_config_file(rpc.request(request)))
            .await?;
        let code = answer.code.unwrap_or_default();
        if code != codes::OK {
            return Err(Error::Server {
                code,
                info: answer.info.unwrap_or_default(),
            });
        }
        let info = answer
            .config_file
            .ok_or_else(|| Error::Decode("answer without configFile".into()))?;
        let mut tags = tags_of(&info.tags);
        let data_key = tags.remove(DATA_KEY_TAG);
        let stored = info.content.unwrap_or_default();
        let encrypted = info.encrypted.unwrap_or(false) || data_key.is_some();
        let content = match (&data_key, encrypted) {
            (Some(tag), true) => crypto::decrypt(&stored, &pair.data_key(tag)?)?,
            (None, true) => {
                return Err(Error::Crypto("encrypted file without a data key".into()));
            }
            _ => stored,
        };
        tags.remove("internal-encrypted");
        tags.remove("internal-encryptalgo");
        let file = ConfigFile {
            namespace: key.namespace.clone(),
            group: key.group.clone(),
            name: key.name.clone(),
            content,
            version: info.version.unwrap_or_default(),
            md5: info.md5.unwrap_or_default(),
            encrypted,
            tags,
            from_local_cache: false,
        };
        self.save_local(&file).await;
        Ok(file)
    }

    /// The file from the server, or from the local copy when the server is unreachable.
    pub(crate) async fn get(&self, key: &FileKey) -> Result<ConfigFile> {
        match self.fetch(key).await {
            Ok(file) => Ok(file),
            Err(e) if e.is_retryable() && self.fallback => match self.load_local(key) {
                Some(file) => {
                    tracing::info!(?key, error = %e, "config server unreachable: using the local copy");
                    Ok(file)
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

fn tags_of(tags: &[v1::ConfigFileTag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The config center API of a [`Client`](crate::Client).
#[derive(Clone)]
pub struct ConfigCenter {
    pub(crate) inner: Arc<Inner>,
}

impl ConfigCenter {
    /// The released file (decrypted), from the server or, when it is unreachable and
    /// `config.localCache.fallbackToLocalCache` is on, from the local copy.
    pub async fn get_file(
        &self,
        namespace: &str,
        group: &str,
        name: &str,
    ) -> Result<Arc<ConfigFile>> {
        let key = FileKey {
            namespace: namespace.into(),
            group: group.into(),
            name: name.into(),
        };
        self.inner.config.get(&key).await.map(Arc::new)
    }

    /// The released file decoded as `format`.
    pub async fn get_as<T: DeserializeOwned>(
        &self,
        namespace: &str,
        group: &str,
        name: &str,
        format: Format,
    ) -> Result<T> {
        self.get_file(namespace, group, name).await?.parse(format)
    }

    /// Follows a file as typed values: a `Stream` starting with the current release decoded
    /// as `format`, then every later release (a release that does not decode is an error
    /// item; the stream goes on).
    pub async fn watch_as<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        namespace: &str,
        group: &str,
        name: &str,
        format: Format,
    ) -> Result<impl tokio_stream::Stream<Item = Result<Arc<T>>> + Send + Unpin + 'static> {
        Ok(self
            .watch_file(namespace, group, name)
            .await?
            .into_typed::<T>(format))
    }

    /// Follows a file: the watch starts with the current release and sees every later one.
    pub async fn watch_file(&self, namespace: &str, group: &str, name: &str) -> Result<FileWatch> {
        let key = FileKey {
            namespace: namespace.into(),
            group: group.into(),
            name: name.into(),
        };
        let state = &self.inner.config;
        let existing = state.watched.lock().get(&key).cloned();
        if let Some(entry) = existing {
            return Ok(FileWatch::new(entry.tx.subscribe()));
        }
        let first = Arc::new(state.get(&key).await?);
        let entry = {
            let mut watched = state.watched.lock();
            watched
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(FileEntry {
                        key,
                        tx: tokio_watch::channel(first).0,
                    })
                })
                .clone()
        };
        if let Some(rx) = state.watch_rx.lock().take() {
            tokio::spawn(watch::poll_loop(state.clone(), rx, state.shutdown.clone()));
        }
        let _ = state.watch_tx.send(entry.clone());
        Ok(FileWatch::new(entry.tx.subscribe()))
    }
}
