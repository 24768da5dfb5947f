//! The config client read model: what a config client (an SDK over gRPC or HTTP) is answered,
//! as protocol-free values. `GetConfigFile`, the watch notice, the file list of a group
//! (`GetConfigFileMetadataList`, `ConfigDiscover` file names), the group list of a namespace
//! (`ConfigDiscover` groups), their revisions and the publish specs of client requests are built
//! here once; the HTTP and gRPC adapters only turn these values into their wire types, so the
//! two protocols cannot drift (ADR 013).

use std::net::IpAddr;
use std::sync::Arc;

use polaris_matcher::{MatchKind, MatchString, Matcher};
use polaris_types::{Code, ConfigFileKey, ConfigRelease, GrayLabel, PolarisError, Result};
use sha1::{Digest, Sha1};

use crate::crypto::{self, DATA_KEY_TAG, ENCRYPT_ALGO_TAG, ENCRYPTED_TAG};
use crate::{ConfigCenter, ConfigSnapshot, PublishSpec, WatchedFile};

/// The label the server adds for a client that sends no tags.
pub const CLIENT_IP_LABEL: &str = "CLIENT_IP";

/// A peer address as a client label: IPv4-mapped IPv6 peers are shown as IPv4 (as Go prints
/// them officially).
pub fn client_ip(ip: IpAddr) -> String {
    ip.to_canonical().to_string()
}

/// The file a client names, with the names as sent (officially not trimmed); 400000 when a
/// part is missing (the 1.18.1 text).
pub fn client_key(namespace: &str, group: &str, name: &str) -> Result<ConfigFileKey> {
    if namespace.is_empty() || group.is_empty() || name.is_empty() {
        return Err(PolarisError::new(
            Code::BadRequest,
            "namespace & group & fileName can not be empty",
        ));
    }
    Ok(ConfigFileKey::new(namespace, group, name))
}

/// The labels a read is matched with: the request's tags (a repeated key keeps its last value,
/// as the official map does), or, when it sent none, the peer's address as `CLIENT_IP`, which
/// the answer then echoes as the request's tag.
pub fn client_labels(tags: Vec<(String, String)>, peer: &str) -> Vec<(String, String)> {
    if tags.is_empty() {
        return vec![(CLIENT_IP_LABEL.to_string(), peer.to_string())];
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for (key, value) in tags {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

/// A GetConfigFile request, protocol-free.
#[derive(Clone, Debug, Default)]
pub struct FileQuery {
    pub namespace: String,
    pub group: String,
    pub file_name: String,
    /// The version the client holds.
    pub version: u64,
    /// From [`client_labels`].
    pub labels: Vec<(String, String)>,
    /// The client's RSA public key (base64 DER), to wrap the data key of encrypted files.
    pub public_key: Option<String>,
}

/// A release as a client receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFile {
    /// The names of the request, as officially.
    pub key: ConfigFileKey,
    /// The stored form: the ciphertext of an encrypted file.
    pub content: String,
    pub version: u64,
    pub md5: String,
    pub encrypted: bool,
    /// From [`client_tags`].
    pub tags: Vec<(String, String)>,
}

/// The answer to GetConfigFile (and to a `ConfigDiscover` of one file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAnswer {
    /// 200000 with the release the client should see.
    Release(ClientFile),
    /// 200001 (the client holds a newer version) or 400202 (never published): the request is
    /// echoed back.
    Echo(Code),
    /// The request was refused (400000 for an incomplete name); no file.
    Refused(PolarisError),
}

impl FileAnswer {
    pub fn code(&self) -> Code {
        match self {
            FileAnswer::Release(_) => Code::ExecuteSuccess,
            FileAnswer::Echo(code) => *code,
            FileAnswer::Refused(err) => err.code,
        }
    }

    pub fn info(&self) -> String {
        match self {
            FileAnswer::Refused(err) => err.info(),
            other => other.code().info().to_string(),
        }
    }

    /// The `revision` of a `ConfigDiscover` answer: the version of the file it carries (the
    /// echoed request's, or 0 without one), as officially.
    pub fn revision(&self, asked_version: u64) -> String {
        match self {
            FileAnswer::Release(file) => file.version.to_string(),
            FileAnswer::Echo(_) => asked_version.to_string(),
            FileAnswer::Refused(_) => "0".to_string(),
        }
    }
}

/// A release's tags as a client sees them: user tags (internal ones dropped), then for
/// encrypted releases the encryption flag, the algorithm and the data key, RSA-wrapped for
/// `public_key` when one is given and works, else the stored base64 key (as officially).
pub fn client_tags(release: &ConfigRelease, public_key: Option<&str>) -> Vec<(String, String)> {
    let attrs = &release.attrs;
    let mut pairs: Vec<(String, String)> = attrs
        .tags
        .iter()
        .filter(|(k, _)| k != ENCRYPTED_TAG && k != ENCRYPT_ALGO_TAG && k != DATA_KEY_TAG)
        .cloned()
        .collect();
    if attrs.encrypted || !attrs.data_key.is_empty() {
        pairs.push((ENCRYPTED_TAG.into(), "true".into()));
        if !attrs.encrypt_algo.is_empty() {
            pairs.push((ENCRYPT_ALGO_TAG.into(), attrs.encrypt_algo.clone()));
        }
    }
    if !attrs.data_key.is_empty() && !attrs.encrypt_algo.is_empty() {
        let key = match public_key.filter(|k| !k.is_empty()) {
            None => attrs.data_key.clone(),
            Some(public_key) => crypto::wrap_data_key(&attrs.data_key, public_key)
                .unwrap_or_else(|err| {
                    tracing::debug!(target: "polaris_config", %err, file = %release.key, "cannot wrap the data key; sending it unwrapped");
                    attrs.data_key.clone()
                }),
        };
        pairs.push((DATA_KEY_TAG.into(), key));
    }
    pairs
}

impl ConfigCenter {
    /// The release a GetConfigFile of `query` is answered with (a 200000 answer), if any.
    /// With no public key to wrap a data key for, the answer is a function of this release and
    /// the names asked, so an adapter may render it once per release and share the bytes.
    pub fn answer_release(&self, query: &FileQuery) -> Option<Arc<ConfigRelease>> {
        if query.public_key.as_deref().is_some_and(|k| !k.is_empty()) {
            return None;
        }
        let key = client_key(&query.namespace, &query.group, &query.file_name).ok()?;
        self.client_release(&key, query.version, &query.labels)
            .ok()
            .flatten()
    }

    /// GetConfigFile: the release the client should see (a matching gray release first).
    pub fn client_file(&self, query: &FileQuery) -> FileAnswer {
        let key = match client_key(&query.namespace, &query.group, &query.file_name) {
            Ok(key) => key,
            Err(err) => return FileAnswer::Refused(err),
        };
        match self.client_release(&key, query.version, &query.labels) {
            Ok(Some(release)) => FileAnswer::Release(ClientFile {
                content: release.content.clone(),
                version: release.version,
                md5: release.md5.clone(),
                encrypted: !release.attrs.data_key.is_empty(),
                tags: client_tags(&release, query.public_key.as_deref()),
                key,
            }),
            Ok(None) => FileAnswer::Echo(Code::DataNoChange),
            Err(err) if err.code == Code::NotFoundResource => {
                FileAnswer::Echo(Code::NotFoundResource)
            }
            Err(err) => FileAnswer::Refused(err),
        }
    }
}

/// The watched files of a watch request, `(namespace, group, file, version)` each; 400806 when
/// there are none, 400000 when one is named incompletely.
pub fn watched_files<'a>(
    files: impl ExactSizeIterator<Item = (&'a str, &'a str, &'a str, u64)>,
) -> Result<Vec<WatchedFile>> {
    if files.len() == 0 {
        return Err(Code::InvalidWatchConfigFileFormat.into());
    }
    // Sized exactly: a parked watch keeps this list for up to 30 s (a collected `Result`
    // would start at four slots).
    let mut watched = Vec::with_capacity(files.len());
    for (namespace, group, name, version) in files {
        watched.push(WatchedFile {
            key: client_key(namespace, group, name)?,
            version,
        });
    }
    Ok(watched)
}

/// The labels a watch is matched with: only the peer's address (as officially; a request's
/// `client_ip` is ignored).
pub fn watch_labels(peer: &str) -> Vec<(String, String)> {
    vec![(CLIENT_IP_LABEL.to_string(), peer.to_string())]
}

/// A release as a watch notice and the file list name it (no content).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseNotice {
    pub key: ConfigFileKey,
    /// The release's name.
    pub name: String,
    pub version: u64,
    pub md5: String,
    /// `yyyy-MM-dd HH:mm:ss` of the release's last change.
    pub release_time: String,
    /// From [`client_tags`] with no public key (the stored data key included, as officially).
    pub tags: Vec<(String, String)>,
}

impl ReleaseNotice {
    pub fn of(release: &ConfigRelease) -> Self {
        ReleaseNotice {
            key: release.key.clone(),
            name: release.name.clone(),
            version: release.version,
            md5: release.md5.clone(),
            release_time: polaris_types::time::format_or_empty(release.mtime),
            tags: client_tags(release, None),
        }
    }
}

/// A listing with a revision, as the list reads answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listing<T> {
    /// 400000 with the official text.
    Refused(PolarisError),
    /// 200000 and nothing to list (no revision).
    Empty,
    /// 200001: the client's revision is current (no revision in the answer, as officially).
    Unchanged,
    /// 200000 with the current revision and items.
    Changed { revision: String, items: Vec<T> },
}

impl<T> Listing<T> {
    pub fn code(&self) -> Code {
        match self {
            Listing::Refused(err) => err.code,
            Listing::Empty | Listing::Changed { .. } => Code::ExecuteSuccess,
            Listing::Unchanged => Code::DataNoChange,
        }
    }

    /// The `info` to send: the refusal's text as the official server words it, else the
    /// code's text.
    pub fn info(&self) -> String {
        match self {
            Listing::Refused(err) if !err.detail.is_empty() => err.detail.clone(),
            other => other.code().info().to_string(),
        }
    }
}

/// Lowercase hex SHA-1 over `a|b|c;` entries: the revision of every client list.
fn revision<const N: usize>(entries: impl IntoIterator<Item = [String; N]>) -> String {
    let mut hasher = Sha1::new();
    for entry in entries {
        hasher.update(entry.join("|"));
        hasher.update(";");
    }
    hex::encode(hasher.finalize())
}

/// The active releases of a group (normal and gray, as the official group bucket holds them),
/// with a revision that changes whenever one of them changes.
pub fn file_list(
    snapshot: &ConfigSnapshot,
    namespace: &str,
    group: &str,
    client_revision: &str,
) -> Listing<ReleaseNotice> {
    if namespace.is_empty() || group.is_empty() {
        return Listing::Refused(Code::BadRequest.into());
    }
    let releases: Vec<&Arc<ConfigRelease>> = snapshot
        .files_of(namespace, group)
        .flat_map(|f| snapshot.releases_of(&f.key).filter(|r| r.active))
        .collect();
    if releases.is_empty() {
        return Listing::Empty;
    }
    let current = revision(
        releases
            .iter()
            .map(|r| [r.key.name.clone(), r.name.clone(), r.version.to_string()]),
    );
    if current == client_revision {
        return Listing::Unchanged;
    }
    Listing::Changed {
        revision: current,
        items: releases.iter().map(|r| ReleaseNotice::of(r)).collect(),
    }
}

/// A group as the group list names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName {
    pub namespace: String,
    pub name: String,
}

/// The groups of a namespace, with a revision over their names, ids and modification times.
pub fn group_list(
    snapshot: &ConfigSnapshot,
    namespace: &str,
    client_revision: &str,
) -> Listing<GroupName> {
    if namespace.is_empty() {
        return Listing::Refused(PolarisError::new(Code::BadRequest, "invalid namespace"));
    }
    let groups: Vec<_> = snapshot
        .groups
        .range((namespace.to_string(), String::new())..)
        .take_while(|((ns, _), _)| ns == namespace)
        .map(|(_, g)| g)
        .collect();
    if groups.is_empty() {
        return Listing::Empty;
    }
    let current = revision(
        groups
            .iter()
            .map(|g| [g.name.clone(), g.id.to_string(), g.mtime.to_string()]),
    );
    if current == client_revision {
        return Listing::Unchanged;
    }
    Listing::Changed {
        revision: current,
        items: groups
            .iter()
            .map(|g| GroupName {
                namespace: g.namespace.clone(),
                name: g.name.clone(),
            })
            .collect(),
    }
}

/// A beta label of a publish request: key, official match-type number and match text.
#[derive(Clone, Debug, Default)]
pub struct BetaLabel {
    pub key: String,
    pub match_type: i32,
    pub value: String,
}

impl BetaLabel {
    /// A label from a `ClientLabel`'s parts as both protocols carry them: the key, and the
    /// type and text of its `MatchString` (absent parts are the defaults).
    pub fn new(key: &str, match_type: Option<i32>, value: Option<&str>) -> BetaLabel {
        BetaLabel {
            key: key.to_string(),
            match_type: match_type.unwrap_or_default(),
            value: value.unwrap_or_default().to_string(),
        }
    }
}

/// A publish request (PublishConfigFile over gRPC, the console's publish over HTTP).
#[derive(Clone, Debug, Default)]
pub struct PublishRequest {
    pub key: ConfigFileKey,
    pub release_name: String,
    /// `gray` for a gray release.
    pub release_type: String,
    pub release_description: String,
    pub comment: String,
    pub beta_labels: Vec<BetaLabel>,
}

/// The spec of a publish request: the description, or the comment when it has none; a gray
/// release needs beta labels that name a key and compile (else the detail of what is wrong,
/// for a 400904 answer).
pub fn publish_spec(request: PublishRequest) -> std::result::Result<PublishSpec, String> {
    let gray_labels = if request.release_type == "gray" {
        if request.beta_labels.is_empty() {
            return Err("a gray release needs beta labels".into());
        }
        Some(
            request
                .beta_labels
                .iter()
                .map(gray_label)
                .collect::<std::result::Result<Vec<_>, String>>()?,
        )
    } else {
        None
    };
    let comment = if request.release_description.is_empty() {
        request.comment
    } else {
        request.release_description
    };
    Ok(PublishSpec {
        key: request.key,
        release_name: request.release_name,
        comment,
        gray_labels,
    })
}

/// A beta label as the domain keeps it (the key as sent, as officially).
fn gray_label(label: &BetaLabel) -> std::result::Result<GrayLabel, String> {
    if label.key.trim().is_empty() {
        return Err("a beta label has no key".into());
    }
    let Some(kind) = MatchKind::from_number(label.match_type) else {
        return Err(format!("beta label {}: unknown match type", label.key));
    };
    Matcher::compile(&MatchString::new(kind, label.value.clone()))
        .map_err(|e| format!("beta label {}: {e}", label.key))?;
    Ok(GrayLabel {
        key: label.key.clone(),
        match_type: kind.name().to_string(),
        value: label.value.clone(),
    })
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
