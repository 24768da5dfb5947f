//! The config client protocol's answers in the protocol's message types, shared by the gRPC
//! config port and the HTTP config client routes: the domain (`polaris_config::client`) decides
//! every answer, this module only names it as `ClientConfigFileInfo` and back, so the two
//! adapters cannot drift apart (no trimming of client names, as officially).

use polaris_config::client::{self, ClientFile, FileAnswer, FileQuery, ReleaseNotice};
use polaris_config::{ConfigCenter, WatchedFile};
use polaris_proto::v1;
use polaris_types::ConfigRelease;

/// An optional wire string, empty when missing (the official server's reading).
pub fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// `(key, value)` pairs of wire tags; missing parts become empty strings.
pub fn tags(tags: &[v1::ConfigFileTag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (text(&t.key), text(&t.value)))
        .collect()
}

/// Tag pairs as `ConfigFileTag`s.
pub fn wire_tags(pairs: &[(String, String)]) -> Vec<v1::ConfigFileTag> {
    pairs
        .iter()
        .map(|(key, value)| v1::ConfigFileTag {
            key: Some(key.clone()),
            value: Some(value.clone()),
        })
        .collect()
}

/// A GetConfigFile request as the domain's query: matched with its tags, or with the peer's
/// address when it sent none.
pub fn file_query(info: &v1::ClientConfigFileInfo, peer: &str) -> FileQuery {
    FileQuery {
        namespace: text(&info.namespace),
        group: text(&info.group),
        file_name: text(&info.file_name),
        version: info.version.unwrap_or(0),
        labels: client::client_labels(tags(&info.tags), peer),
        public_key: info.public_key.clone(),
    }
}

/// The GetConfigFile answer for `info` from `peer`, with the file it carries: the release, or
/// for 200001 and 400202 the request echoed with the tags it was matched with.
pub fn file_answer(
    center: &ConfigCenter,
    mut info: v1::ClientConfigFileInfo,
    peer: &str,
) -> (FileAnswer, Option<v1::ClientConfigFileInfo>) {
    let query = file_query(&info, peer);
    let answer = center.client_file(&query);
    let file = match &answer {
        FileAnswer::Release(file) => Some(client_file(file)),
        FileAnswer::Echo(_) => {
            if info.tags.is_empty() {
                info.tags = wire_tags(&query.labels);
            }
            Some(info)
        }
        FileAnswer::Refused(_) => None,
    };
    (answer, file)
}

/// A release as GetConfigFile returns it.
pub fn client_file(file: &ClientFile) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(file.key.namespace.clone()),
        group: Some(file.key.group.clone()),
        file_name: Some(file.key.name.clone()),
        content: Some(file.content.clone()),
        version: Some(file.version),
        md5: Some(file.md5.clone()),
        tags: wire_tags(&file.tags),
        encrypted: Some(file.encrypted),
        ..Default::default()
    }
}

/// A release as a watch notification names it: no content, no tags, no time.
pub fn watch_file(release: &ConfigRelease) -> v1::ClientConfigFileInfo {
    let notice = ReleaseNotice::of(release);
    v1::ClientConfigFileInfo {
        md5: Some(notice.md5.clone()),
        tags: Vec::new(),
        release_time: None,
        ..listed_file(notice)
    }
}

/// A release as the file list shows it (no md5, as officially).
pub fn listed_file(notice: ReleaseNotice) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(notice.key.namespace),
        group: Some(notice.key.group),
        file_name: Some(notice.key.name),
        name: Some(notice.name),
        version: Some(notice.version),
        release_time: Some(notice.release_time),
        tags: wire_tags(&notice.tags),
        ..Default::default()
    }
}

/// The watched files of a watch request (see [`client::watched_files`]).
pub fn watched_files(
    request: &v1::ClientWatchConfigFileRequest,
) -> polaris_types::Result<Vec<WatchedFile>> {
    client::watched_files(request.watch_files.iter().map(|f| {
        (
            f.namespace.as_deref().unwrap_or_default(),
            f.group.as_deref().unwrap_or_default(),
            f.file_name.as_deref().unwrap_or_default(),
            f.version.unwrap_or(0),
        )
    }))
}
