//! Config-center protobuf messages of the gRPC port to domain requests (the client answers'
//! messages are `polaris_discovery::config_client`'s, shared with HTTP); nothing here decides
//! an answer.

use polaris_config::client::{self, BetaLabel, PublishRequest};
use polaris_config::{FileSpec, PublishSpec};
use polaris_discovery::config_client::{self, text};
use polaris_proto::v1;
use polaris_types::{Code, ConfigFileKey, FileAttrs, PolarisError};

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

/// The peer's address as a client label (see [`client::client_ip`]); empty when unknown.
pub fn peer_ip(addr: Option<std::net::SocketAddr>) -> String {
    addr.map(|a| client::client_ip(a.ip())).unwrap_or_default()
}

/// A file as CreateConfigFile / UpdateConfigFile send it (plaintext content; the domain
/// encrypts it when `encrypted` is set).
pub fn file_spec(file: &v1::ConfigFile) -> FileSpec {
    FileSpec {
        key: ConfigFileKey::new(text(&file.namespace), text(&file.group), text(&file.name)),
        content: text(&file.content),
        attrs: FileAttrs {
            format: text(&file.format),
            comment: text(&file.comment),
            tags: config_client::tags(&file.tags),
            encrypted: file.encrypted.unwrap_or(false),
            encrypt_algo: text(&file.encrypt_algo),
            ..Default::default()
        },
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
        // As officially (1.18.1 and main), `encrypted` and `encrypt_algo` of this request are
        // not applied: the file is written unencrypted.
        attrs: FileAttrs {
            format: text(&info.format),
            comment: text(&info.comment),
            tags: config_client::tags(&info.tags),
            ..Default::default()
        },
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
