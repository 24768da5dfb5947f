//! Config-center protobuf messages to domain requests and the domain's client answers
//! (`polaris_config::client`) to protobuf messages; nothing here decides an answer.

use polaris_config::client::{
    self, BetaLabel, ClientFile, FileQuery, PublishRequest, ReleaseNotice,
};
use polaris_config::{FileSpec, PublishSpec, WatchedFile};
use polaris_proto::v1;
use polaris_types::{Code, ConfigFileKey, ConfigRelease, PolarisError, Result};

/// A `ConfigClientResponse` carrying a code and its text.
pub fn client_reply(
    code: Code,
    file: Option<v1::ClientConfigFileInfo>,
) -> v1::ConfigClientResponse {
    v1::ConfigClientResponse {
        code: Some(code.value()),
        info: Some(code.info().to_string()),
        config_file: file,
    }
}

/// A `ConfigClientResponse` for a failed operation.
pub fn client_error(
    err: &PolarisError,
    file: Option<v1::ClientConfigFileInfo>,
) -> v1::ConfigClientResponse {
    v1::ConfigClientResponse {
        code: Some(err.code.value()),
        info: Some(err.info()),
        config_file: file,
    }
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// `(key, value)` pairs of tags; missing parts become empty strings.
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

/// The peer's address as a client label (see [`client::client_ip`]); empty when unknown.
pub fn peer_ip(addr: Option<std::net::SocketAddr>) -> String {
    addr.map(|a| client::client_ip(a.ip())).unwrap_or_default()
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
pub fn watched_files(request: &v1::ClientWatchConfigFileRequest) -> Result<Vec<WatchedFile>> {
    client::watched_files(request.watch_files.iter().map(|f| {
        (
            f.namespace.as_deref().unwrap_or_default(),
            f.group.as_deref().unwrap_or_default(),
            f.file_name.as_deref().unwrap_or_default(),
            f.version.unwrap_or(0),
        )
    }))
}

/// A file as CreateConfigFile / UpdateConfigFile send it (plaintext content; the domain
/// encrypts it when `encrypted` is set).
pub fn file_spec(file: &v1::ConfigFile) -> FileSpec {
    FileSpec {
        key: ConfigFileKey::new(text(&file.namespace), text(&file.group), text(&file.name)),
        content: text(&file.content),
        format: text(&file.format),
        comment: text(&file.comment),
        tags: tags(&file.tags),
        encrypted: file.encrypted.unwrap_or(false),
        encrypt_algo: text(&file.encrypt_algo),
    }
}

/// The file and publish halves of an UpsertAndPublishConfigFile request.
pub fn upsert_specs(info: &v1::ConfigFilePublishInfo) -> (FileSpec, PublishSpec) {
    let key = ConfigFileKey::new(
        text(&info.namespace),
        text(&info.group),
        text(&info.file_name),
    );
    let file = FileSpec {
        key: key.clone(),
        content: text(&info.content),
        format: text(&info.format),
        comment: text(&info.comment),
        tags: tags(&info.tags),
        // As officially (1.18.1 and main), `encrypted` and `encrypt_algo` of this request are
        // not applied: the file is written unencrypted.
        ..Default::default()
    };
    let publish = PublishSpec {
        key,
        release_name: text(&info.release_name),
        comment: text(&info.release_description),
        gray_labels: None,
    };
    (file, publish)
}

/// 400904 InvalidMatchRule, for gray labels that are missing or do not compile.
pub const INVALID_MATCH_RULE: u32 = Code::InvalidMatchRule.value();

/// The reply for a gray publish whose beta labels are missing or invalid.
pub fn invalid_beta_labels(detail: &str) -> v1::ConfigClientResponse {
    v1::ConfigClientResponse {
        code: Some(INVALID_MATCH_RULE),
        info: Some(format!("invalid gray config beta labels: {detail}")),
        config_file: None,
    }
}

/// A PublishConfigFile request as the domain's publish request (see
/// [`client::publish_spec`]).
pub fn publish_request(release: &v1::ConfigFileRelease) -> PublishRequest {
    PublishRequest {
        key: ConfigFileKey::new(
            text(&release.namespace),
            text(&release.group),
            text(&release.file_name),
        ),
        release_name: text(&release.name),
        release_type: text(&release.release_type),
        release_description: text(&release.release_description),
        comment: text(&release.comment),
        beta_labels: release.beta_labels.iter().map(beta_label).collect(),
    }
}

/// A `ClientLabel` as the domain's beta label.
pub fn beta_label(label: &v1::ClientLabel) -> BetaLabel {
    let value = label.value.as_ref();
    let text = value.and_then(|v| v.value.as_deref());
    BetaLabel::new(&label.key, value.map(|v| v.r#type), text)
}
