//! On-disk encoding of config-center records, in the same versioned-JSON format as the registry
//! records (see `codec`).

use polaris_store::{ConfigGroupKey, ConfigReleaseKey, StoreError, StoreResult};
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, FileAttrs, GrayLabel,
    GroupAttrs, Metadata, Millis, ReleaseHistory, ReleaseKind,
};
use serde::{Deserialize, Serialize};

use crate::codec::{KEY_SEPARATOR, decode, encode};

#[derive(Serialize, Deserialize)]
struct GroupV1 {
    id: u64,
    namespace: String,
    name: String,
    #[serde(flatten, with = "GroupAttrsV1")]
    attrs: GroupAttrs,
    ctime: Millis,
    mtime: Millis,
}

/// A group's attributes, flattened into the record as [`FileAttrsV1`] is.
#[derive(Serialize, Deserialize)]
#[serde(remote = "GroupAttrs")]
struct GroupAttrsV1 {
    comment: String,
    owners: String,
    business: String,
    department: String,
    metadata: Metadata,
}

/// A file's and a release's attributes, stored as fields of the record itself (flattened), so
/// the JSON is the one written before they were grouped.
#[derive(Serialize, Deserialize)]
#[serde(remote = "FileAttrs")]
struct FileAttrsV1 {
    format: String,
    comment: String,
    tags: Vec<(String, String)>,
    encrypted: bool,
    encrypt_algo: String,
    data_key: String,
}

#[derive(Serialize, Deserialize)]
struct FileV1 {
    id: u64,
    key: (String, String, String),
    content: String,
    #[serde(flatten, with = "FileAttrsV1")]
    attrs: FileAttrs,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct ReleaseV1 {
    id: u64,
    key: (String, String, String),
    name: String,
    content: String,
    md5: String,
    version: u64,
    active: bool,
    gray: bool,
    /// (key, match type, value)
    gray_labels: Vec<(String, String, String)>,
    #[serde(flatten, with = "FileAttrsV1")]
    attrs: FileAttrs,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct HistoryV1 {
    id: u64,
    key: (String, String, String),
    release_name: String,
    kind: String,
    status: String,
    content: String,
    md5: String,
    version: u64,
    format: String,
    comment: String,
    tags: Vec<(String, String)>,
    ctime: Millis,
}

#[derive(Serialize, Deserialize)]
struct TemplateV1 {
    id: u64,
    name: String,
    content: String,
    format: String,
    comment: String,
    ctime: Millis,
    mtime: Millis,
}

pub(crate) fn encode_template(t: &ConfigTemplate) -> Vec<u8> {
    encode(&TemplateV1 {
        id: t.id,
        name: t.name.clone(),
        content: t.content.clone(),
        format: t.format.clone(),
        comment: t.comment.clone(),
        ctime: t.ctime,
        mtime: t.mtime,
    })
}

pub(crate) fn decode_template(bytes: &[u8]) -> StoreResult<ConfigTemplate> {
    let t: TemplateV1 = decode("config template", bytes)?;
    Ok(ConfigTemplate {
        id: t.id,
        name: t.name,
        content: t.content,
        format: t.format,
        comment: t.comment,
        ctime: t.ctime,
        mtime: t.mtime,
    })
}

fn key_parts(k: &ConfigFileKey) -> (String, String, String) {
    (k.namespace.clone(), k.group.clone(), k.name.clone())
}

fn key_of((namespace, group, name): (String, String, String)) -> ConfigFileKey {
    ConfigFileKey {
        namespace,
        group,
        name,
    }
}

pub(crate) fn encode_group(g: &ConfigGroup) -> Vec<u8> {
    encode(&GroupV1 {
        id: g.id,
        namespace: g.namespace.clone(),
        name: g.name.clone(),
        attrs: g.attrs.clone(),
        ctime: g.ctime,
        mtime: g.mtime,
    })
}

pub(crate) fn decode_group(bytes: &[u8]) -> StoreResult<ConfigGroup> {
    let g: GroupV1 = decode("config group", bytes)?;
    Ok(ConfigGroup {
        id: g.id,
        namespace: g.namespace,
        name: g.name,
        attrs: g.attrs,
        ctime: g.ctime,
        mtime: g.mtime,
    })
}

pub(crate) fn encode_file(f: &ConfigFile) -> Vec<u8> {
    encode(&FileV1 {
        id: f.id,
        key: key_parts(&f.key),
        content: f.content.clone(),
        attrs: f.attrs.clone(),
        ctime: f.ctime,
        mtime: f.mtime,
    })
}

pub(crate) fn decode_file(bytes: &[u8]) -> StoreResult<ConfigFile> {
    let f: FileV1 = decode("config file", bytes)?;
    Ok(ConfigFile {
        id: f.id,
        key: key_of(f.key),
        content: f.content,
        ctime: f.ctime,
        mtime: f.mtime,
        attrs: f.attrs,
    })
}

pub(crate) fn encode_release(r: &ConfigRelease) -> Vec<u8> {
    encode(&ReleaseV1 {
        id: r.id,
        key: key_parts(&r.key),
        name: r.name.clone(),
        content: r.content.clone(),
        md5: r.md5.clone(),
        version: r.version,
        active: r.active,
        gray: r.kind == ReleaseKind::Gray,
        gray_labels: r
            .gray_labels
            .iter()
            .map(|l| (l.key.clone(), l.match_type.clone(), l.value.clone()))
            .collect(),
        attrs: r.attrs.clone(),
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

pub(crate) fn decode_release(bytes: &[u8]) -> StoreResult<ConfigRelease> {
    let r: ReleaseV1 = decode("config release", bytes)?;
    Ok(ConfigRelease {
        id: r.id,
        key: key_of(r.key),
        name: r.name,
        content: r.content,
        md5: r.md5,
        version: r.version,
        active: r.active,
        kind: if r.gray {
            ReleaseKind::Gray
        } else {
            ReleaseKind::Normal
        },
        gray_labels: r
            .gray_labels
            .into_iter()
            .map(|(key, match_type, value)| GrayLabel {
                key,
                match_type,
                value,
            })
            .collect(),
        ctime: r.ctime,
        mtime: r.mtime,
        attrs: r.attrs,
    })
}

pub(crate) fn encode_history(h: &ReleaseHistory) -> Vec<u8> {
    encode(&HistoryV1 {
        id: h.id,
        key: key_parts(&h.key),
        release_name: h.release_name.clone(),
        kind: h.kind.clone(),
        status: h.status.clone(),
        content: h.content.clone(),
        md5: h.md5.clone(),
        version: h.version,
        format: h.format.clone(),
        comment: h.comment.clone(),
        tags: h.tags.clone(),
        ctime: h.ctime,
    })
}

pub(crate) fn decode_history(bytes: &[u8]) -> StoreResult<ReleaseHistory> {
    let h: HistoryV1 = decode("release history", bytes)?;
    Ok(ReleaseHistory {
        id: h.id,
        key: key_of(h.key),
        release_name: h.release_name,
        kind: h.kind,
        status: h.status,
        content: h.content,
        md5: h.md5,
        version: h.version,
        format: h.format,
        comment: h.comment,
        tags: h.tags,
        ctime: h.ctime,
    })
}

fn join(parts: &[&str]) -> String {
    parts.join(&KEY_SEPARATOR.to_string())
}

fn split(key: &str, parts: usize, what: &str) -> StoreResult<Vec<String>> {
    let split: Vec<String> = key.split(KEY_SEPARATOR).map(str::to_string).collect();
    if split.len() == parts {
        Ok(split)
    } else {
        Err(StoreError::Corrupt(format!(
            "{what} key {key:?} is malformed"
        )))
    }
}

pub(crate) fn group_key(namespace: &str, name: &str) -> String {
    join(&[namespace, name])
}

pub(crate) fn parse_group_key(key: &str) -> StoreResult<ConfigGroupKey> {
    let mut p = split(key, 2, "config group")?.into_iter();
    Ok((p.next().unwrap_or_default(), p.next().unwrap_or_default()))
}

pub(crate) fn file_key(k: &ConfigFileKey) -> String {
    join(&[&k.namespace, &k.group, &k.name])
}

pub(crate) fn parse_file_key(key: &str) -> StoreResult<ConfigFileKey> {
    let mut p = split(key, 3, "config file")?.into_iter();
    Ok(ConfigFileKey {
        namespace: p.next().unwrap_or_default(),
        group: p.next().unwrap_or_default(),
        name: p.next().unwrap_or_default(),
    })
}

pub(crate) fn release_key(k: &ConfigFileKey, name: &str) -> String {
    join(&[&k.namespace, &k.group, &k.name, name])
}

pub(crate) fn parse_release_key(key: &str) -> StoreResult<ConfigReleaseKey> {
    let mut p = split(key, 4, "config release")?.into_iter();
    let file = ConfigFileKey {
        namespace: p.next().unwrap_or_default(),
        group: p.next().unwrap_or_default(),
        name: p.next().unwrap_or_default(),
    };
    Ok((file, p.next().unwrap_or_default()))
}

/// History keys sort by id.
pub(crate) fn history_key(id: u64) -> String {
    format!("{id:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> FileAttrs {
        FileAttrs {
            format: "yaml".into(),
            comment: "c".into(),
            tags: vec![("t".into(), "1".into())],
            encrypted: true,
            encrypt_algo: "AES".into(),
            data_key: "k".into(),
        }
    }

    /// The attributes are fields of the record itself, as they were before being grouped, so
    /// groups, files and releases written by earlier builds read back.
    #[test]
    fn the_stored_format_of_groups_files_and_releases_is_pinned() {
        let group = ConfigGroup {
            id: 2,
            namespace: "ns".into(),
            name: "g".into(),
            attrs: polaris_store::conformance::group_attrs(),
            ctime: 1,
            mtime: 2,
        };
        let bytes = encode_group(&group);
        let json = r#"{"id":2,"namespace":"ns","name":"g","comment":"c","owners":"o","business":"b","department":"d","metadata":{"k":"v"},"ctime":1,"mtime":2}"#;
        assert_eq!((bytes[0], std::str::from_utf8(&bytes[1..])), (1, Ok(json)));
        assert_eq!(decode_group(&bytes).unwrap(), group);

        let file = ConfigFile {
            id: 3,
            key: ConfigFileKey::new("ns", "g", "a.yaml"),
            content: "x".into(),
            attrs: attrs(),
            ctime: 1,
            mtime: 2,
        };
        let bytes = encode_file(&file);
        let json = r#"{"id":3,"key":["ns","g","a.yaml"],"content":"x","format":"yaml","comment":"c","tags":[["t","1"]],"encrypted":true,"encrypt_algo":"AES","data_key":"k","ctime":1,"mtime":2}"#;
        assert_eq!((bytes[0], std::str::from_utf8(&bytes[1..])), (1, Ok(json)));
        assert_eq!(decode_file(&bytes).unwrap(), file);

        let release = ConfigRelease {
            id: 4,
            key: file.key.clone(),
            name: "r".into(),
            content: "x".into(),
            md5: "m".into(),
            version: 5,
            active: true,
            kind: ReleaseKind::Gray,
            gray_labels: vec![GrayLabel {
                key: "CLIENT_ID".into(),
                ..Default::default()
            }],
            attrs: attrs(),
            ctime: 6,
            mtime: 7,
        };
        let bytes = encode_release(&release);
        let json = r#"{"id":4,"key":["ns","g","a.yaml"],"name":"r","content":"x","md5":"m","version":5,"active":true,"gray":true,"gray_labels":[["CLIENT_ID","",""]],"format":"yaml","comment":"c","tags":[["t","1"]],"encrypted":true,"encrypt_algo":"AES","data_key":"k","ctime":6,"mtime":7}"#;
        assert_eq!((bytes[0], std::str::from_utf8(&bytes[1..])), (1, Ok(json)));
        assert_eq!(decode_release(&bytes).unwrap(), release);
    }
}
