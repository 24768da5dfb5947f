//! The config center model: namespaces hold config groups, groups hold files, and a publish
//! turns a file into an immutable release with a per-file version and an MD5 of its content.

use crate::{Metadata, Millis};

/// Identifies a config file: (namespace, group, file name). File names may contain `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigFileKey {
    pub namespace: String,
    pub group: String,
    pub name: String,
}

impl ConfigFileKey {
    pub fn new(
        namespace: impl Into<String>,
        group: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ConfigFileKey {
            namespace: namespace.into(),
            group: group.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ConfigFileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.group, self.name)
    }
}

/// A config group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigGroup {
    pub id: u64,
    pub namespace: String,
    pub name: String,
    pub attrs: GroupAttrs,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// What a config group carries beside its name, as its writer gives it and an update replaces
/// it: a comment, who owns it, what it is for, and free metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupAttrs {
    pub comment: String,
    pub owners: String,
    pub business: String,
    pub department: String,
    pub metadata: Metadata,
}

/// What a config file and each of its releases carry beside the content: its format, comment,
/// tags and encryption.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileAttrs {
    /// text, yaml, json, xml, html or properties.
    pub format: String,
    pub comment: String,
    pub tags: Vec<(String, String)>,
    /// The content is stored encrypted with `data_key` (AES), as the official crypto plugin does.
    pub encrypted: bool,
    /// The algorithm when encrypted; empty means AES, the only one supported.
    pub encrypt_algo: String,
    /// The per-file data key, when encrypted (never returned to console users). A caller's
    /// write leaves it empty: the config center makes it.
    pub data_key: String,
}

/// A config file being edited (its published state lives in [`ConfigRelease`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    pub id: u64,
    pub key: ConfigFileKey,
    pub content: String,
    pub attrs: FileAttrs,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// How a release was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReleaseKind {
    /// A full release, seen by every client.
    #[default]
    Normal,
    /// A gray (beta) release, seen only by clients matching its labels.
    Gray,
}

/// A client label a gray release matches: key (`CLIENT_IP`, `CLIENT_ID`, ...) and a match
/// string kept as written (type name and value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrayLabel {
    pub key: String,
    pub match_type: String,
    pub value: String,
}

/// An immutable published snapshot of a config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigRelease {
    pub id: u64,
    pub key: ConfigFileKey,
    /// The release's own name (defaults to `<file>-<unixSec>-<seq>` officially).
    pub name: String,
    pub content: String,
    /// Hex MD5 of `content`.
    pub md5: String,
    /// Monotonic per file.
    pub version: u64,
    pub active: bool,
    pub kind: ReleaseKind,
    pub gray_labels: Vec<GrayLabel>,
    /// The file's attributes as they were at the publish.
    pub attrs: FileAttrs,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// One entry of a file's release history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReleaseHistory {
    /// Monotonic over the whole store.
    pub id: u64,
    pub key: ConfigFileKey,
    pub release_name: String,
    /// normal, gray, cancel-gray, delete or rollback.
    pub kind: String,
    /// success or failure.
    pub status: String,
    pub content: String,
    pub md5: String,
    pub version: u64,
    pub format: String,
    pub comment: String,
    pub tags: Vec<(String, String)>,
    pub ctime: Millis,
}

/// A reusable starting point for new config files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigTemplate {
    pub id: u64,
    pub name: String,
    pub content: String,
    pub format: String,
    pub comment: String,
    pub ctime: Millis,
    pub mtime: Millis,
}
