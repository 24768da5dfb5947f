//! Config-center protobuf messages to domain specs and domain records to client views.

use std::net::IpAddr;

use polaris_config::crypto::{self, DATA_KEY_TAG, ENCRYPT_ALGO_TAG, ENCRYPTED_TAG};
use polaris_config::{FileSpec, PublishSpec, WatchedFile};
use polaris_matcher::{MatchKind, Matcher};
use polaris_proto::v1;
use polaris_proto::v1::match_string::MatchStringType;
use polaris_types::{Code, ConfigFileKey, ConfigRelease, GrayLabel, PolarisError, Result};
use sha1::{Digest, Sha1};

/// The label the server adds for a client that sends no tags.
pub const CLIENT_IP_LABEL: &str = "CLIENT_IP";

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

/// The error for a client request that does not name a file completely (1.18.1 text).
pub fn incomplete_key() -> PolarisError {
    PolarisError::new(
        Code::BadRequest,
        "namespace & group & fileName can not be empty",
    )
}

fn text(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

/// The file a client names; `BadRequest` when a part is missing.
pub fn client_key(info: &v1::ClientConfigFileInfo) -> Result<ConfigFileKey> {
    let key = ConfigFileKey::new(
        text(&info.namespace),
        text(&info.group),
        text(&info.file_name),
    );
    if key.namespace.is_empty() || key.group.is_empty() || key.name.is_empty() {
        return Err(incomplete_key());
    }
    Ok(key)
}

/// `(key, value)` pairs of tags; missing parts become empty strings.
pub fn tags(tags: &[v1::ConfigFileTag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (text(&t.key), text(&t.value)))
        .collect()
}

fn wire_tags(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<v1::ConfigFileTag> {
    pairs
        .into_iter()
        .map(|(key, value)| v1::ConfigFileTag {
            key: Some(key),
            value: Some(value),
        })
        .collect()
}

/// The address as a client label: IPv4-mapped IPv6 peers are shown as IPv4.
pub fn peer_ip(addr: Option<std::net::SocketAddr>) -> Option<String> {
    addr.map(|a| match a.ip() {
        IpAddr::V6(v6) => v6.to_canonical().to_string(),
        ip => ip.to_string(),
    })
}

/// The labels a GetConfigFile request is matched with: its tags, or, when it has none, the
/// peer's address as `CLIENT_IP` (which is then also echoed back as a tag).
pub fn inject_ip_label(info: &mut v1::ClientConfigFileInfo, peer: Option<&str>) {
    if info.tags.is_empty()
        && let Some(ip) = peer
    {
        info.tags = wire_tags([(CLIENT_IP_LABEL.to_string(), ip.to_string())]);
    }
}

/// The release's metadata as a client sees it: user tags, then for encrypted releases the
/// encryption flag, the algorithm and the data key: RSA-wrapped for the client's `public_key`
/// when it sent one that works, else the stored base64 key (as officially).
pub fn release_tags(release: &ConfigRelease, public_key: Option<&str>) -> Vec<v1::ConfigFileTag> {
    let mut pairs: Vec<(String, String)> = release
        .tags
        .iter()
        .filter(|(k, _)| k != ENCRYPTED_TAG && k != ENCRYPT_ALGO_TAG && k != DATA_KEY_TAG)
        .cloned()
        .collect();
    if release.encrypted || !release.data_key.is_empty() {
        pairs.push((ENCRYPTED_TAG.into(), "true".into()));
        if !release.encrypt_algo.is_empty() {
            pairs.push((ENCRYPT_ALGO_TAG.into(), release.encrypt_algo.clone()));
        }
    }
    if !release.data_key.is_empty() && !release.encrypt_algo.is_empty() {
        let key = match public_key.filter(|k| !k.is_empty()) {
            None => release.data_key.clone(),
            Some(public_key) => crypto::wrap_data_key(&release.data_key, public_key)
                .unwrap_or_else(|err| {
                    tracing::debug!(target: "polaris_api_grpc", %err, file = %release.key, "cannot wrap the data key; sending it unwrapped");
                    release.data_key.clone()
                }),
        };
        pairs.push((DATA_KEY_TAG.into(), key));
    }
    wire_tags(pairs)
}

/// A release as GetConfigFile returns it (names from the request, as officially; the content
/// is the stored form, i.e. the ciphertext of an encrypted file).
pub fn client_file(
    key: &ConfigFileKey,
    release: &ConfigRelease,
    public_key: Option<&str>,
) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(key.namespace.clone()),
        group: Some(key.group.clone()),
        file_name: Some(key.name.clone()),
        content: Some(release.content.clone()),
        version: Some(release.version),
        md5: Some(release.md5.clone()),
        tags: release_tags(release, public_key),
        encrypted: Some(!release.data_key.is_empty()),
        ..Default::default()
    }
}

/// A release as a watch notification names it: no content and no tags.
pub fn watch_file(release: &ConfigRelease) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(release.key.namespace.clone()),
        group: Some(release.key.group.clone()),
        file_name: Some(release.key.name.clone()),
        version: Some(release.version),
        md5: Some(release.md5.clone()),
        name: Some(release.name.clone()),
        ..Default::default()
    }
}

/// A release as the metadata list shows it.
pub fn metadata_item(release: &ConfigRelease) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(release.key.namespace.clone()),
        group: Some(release.key.group.clone()),
        file_name: Some(release.key.name.clone()),
        name: Some(release.name.clone()),
        version: Some(release.version),
        release_time: polaris_types::time::format_millis(release.mtime),
        // Officially the list shows the release metadata, stored data key included.
        tags: release_tags(release, None),
        ..Default::default()
    }
}

/// The watched files of a watch request; 400806 when there are none.
pub fn watched_files(request: &v1::ClientWatchConfigFileRequest) -> Result<Vec<WatchedFile>> {
    if request.watch_files.is_empty() {
        return Err(Code::InvalidWatchConfigFileFormat.into());
    }
    request
        .watch_files
        .iter()
        .map(|f| {
            Ok(WatchedFile {
                key: client_key(f)?,
                version: f.version.unwrap_or(0),
            })
        })
        .collect()
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

/// A PublishConfigFile request; a gray release needs valid beta labels (else the detail of
/// what is wrong, for [`invalid_beta_labels`]).
pub fn publish_spec(release: &v1::ConfigFileRelease) -> std::result::Result<PublishSpec, String> {
    let gray = release.release_type.as_deref() == Some("gray");
    let gray_labels = if gray {
        if release.beta_labels.is_empty() {
            return Err("a gray release needs beta labels".into());
        }
        Some(
            release
                .beta_labels
                .iter()
                .map(gray_label)
                .collect::<std::result::Result<Vec<_>, String>>()?,
        )
    } else {
        None
    };
    let comment = release
        .release_description
        .clone()
        .filter(|d| !d.is_empty())
        .or_else(|| release.comment.clone())
        .unwrap_or_default();
    Ok(PublishSpec {
        key: ConfigFileKey::new(
            text(&release.namespace),
            text(&release.group),
            text(&release.file_name),
        ),
        release_name: text(&release.name),
        comment,
        gray_labels,
    })
}

/// A beta label as the domain keeps it; the match string must compile.
fn gray_label(label: &v1::ClientLabel) -> std::result::Result<GrayLabel, String> {
    if label.key.trim().is_empty() {
        return Err("a beta label has no key".into());
    }
    let value = label.value.clone().unwrap_or_default();
    let kind_number = value.r#type;
    let (Some(kind), Ok(name)) = (
        MatchKind::from_number(kind_number),
        MatchStringType::try_from(kind_number),
    ) else {
        return Err(format!("beta label {}: unknown match type", label.key));
    };
    let text = value.value.unwrap_or_default();
    Matcher::compile(&polaris_matcher::MatchString::new(kind, text.clone()))
        .map_err(|e| format!("beta label {}: {e}", label.key))?;
    Ok(GrayLabel {
        key: label.key.clone(),
        match_type: name.as_str_name().to_string(),
        value: text,
    })
}

/// Lowercase hex SHA-1 over `a|b|c;` entries: the same revisions as the HTTP `/v1` routes.
pub fn revision<const N: usize>(entries: impl IntoIterator<Item = [String; N]>) -> String {
    let mut hasher = Sha1::new();
    for entry in entries {
        hasher.update(entry.join("|"));
        hasher.update(";");
    }
    hex::encode(hasher.finalize())
}
