//! Domain records → the config protobuf messages (and their proto3 JSON), and the few inputs
//! that go the other way (tags, gray labels).

use polaris_config::ConfigSnapshot;
use polaris_config::client::BetaLabel;
use polaris_discovery::config_client::wire_tags;
use polaris_proto::v1;
use polaris_proto::v1::match_string::MatchStringType;
use polaris_types::{
    ConfigFile, ConfigGroup, ConfigRelease, GrayLabel, ReleaseHistory, ReleaseKind,
};
use serde_json::Value;

use super::some;
use crate::governance::json::to_json;
use polaris_types::time::format_or_empty as time;

/// The plaintext of stored content (unchanged when the file is not encrypted); a content
/// that does not decrypt is shown as stored, and logged.
pub(crate) fn plain(content: &str, data_key: &str) -> String {
    if data_key.is_empty() {
        return content.to_string();
    }
    polaris_config::crypto::decrypt_with_data_key(content, data_key).unwrap_or_else(|err| {
        tracing::error!(target: "polaris_api_http", %err, "stored config content does not decrypt");
        content.to_string()
    })
}

/// `ConfigFileTag`s as pairs (a repeated key keeps the last value, as the official map does).
pub(crate) fn tags_in(tags: &[v1::ConfigFileTag]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in tags {
        let key = tag.key.clone().unwrap_or_default();
        let value = tag.value.clone().unwrap_or_default();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

pub(crate) fn group_json(group: &ConfigGroup, file_count: usize) -> Value {
    let proto = v1::ConfigFileGroup {
        id: Some(group.id),
        name: some(&group.name),
        namespace: some(&group.namespace),
        comment: some(&group.attrs.comment),
        create_time: some(&time(group.ctime)),
        modify_time: some(&time(group.mtime)),
        create_by: some(""),
        modify_by: some(""),
        file_count: Some(file_count as u64),
        owner: some(&group.attrs.owners),
        business: some(&group.attrs.business),
        department: some(&group.attrs.department),
        metadata: group
            .attrs
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        editable: Some(true),
        deleteable: Some(true),
        ..Default::default()
    };
    to_json(&proto, "v1.ConfigFileGroup")
}

/// The rich file view: status from the active releases (betaing / normal / to-be-released).
pub(crate) fn file_proto(file: &ConfigFile, snapshot: &ConfigSnapshot) -> v1::ConfigFile {
    let gray = snapshot.active(&file.key, ReleaseKind::Gray);
    let normal = snapshot.active(&file.key, ReleaseKind::Normal);
    let (status, release) = match (gray, normal) {
        (Some(g), _) if g.content == file.content => ("betaing", Some(g)),
        (_, Some(n)) if n.content == file.content => ("normal", Some(n)),
        (_, n) => ("to-be-released", n),
    };
    v1::ConfigFile {
        id: Some(file.id),
        name: some(&file.key.name),
        namespace: some(&file.key.namespace),
        group: some(&file.key.group),
        content: some(&plain(&file.content, &file.attrs.data_key)),
        format: some(&file.attrs.format),
        comment: some(&file.attrs.comment),
        status: some(status),
        tags: wire_tags(&file.attrs.tags),
        create_time: some(&time(file.ctime)),
        create_by: some(""),
        modify_time: some(&time(file.mtime)),
        modify_by: some(""),
        release_time: some(&release.as_ref().map(|r| time(r.mtime)).unwrap_or_default()),
        release_by: some(""),
        encrypted: Some(file.attrs.encrypted),
        encrypt_algo: some(&file.attrs.encrypt_algo),
        ..Default::default()
    }
}

pub(crate) fn file_json(file: &ConfigFile, snapshot: &ConfigSnapshot) -> Value {
    to_json(&file_proto(file, snapshot), "v1.ConfigFile")
}

/// A release; list items carry no content and no md5, as officially.
pub(crate) fn release_json(release: &ConfigRelease, with_content: bool) -> Value {
    let proto = v1::ConfigFileRelease {
        id: Some(release.id),
        name: some(&release.name),
        namespace: some(&release.key.namespace),
        group: some(&release.key.group),
        file_name: some(&release.key.name),
        content: with_content.then(|| plain(&release.content, &release.attrs.data_key)),
        comment: some(&release.attrs.comment),
        md5: with_content.then(|| release.md5.clone()),
        version: Some(release.version),
        create_time: some(&time(release.ctime)),
        create_by: some(""),
        modify_time: some(&time(release.mtime)),
        modify_by: some(""),
        tags: wire_tags(&release.attrs.tags),
        active: Some(release.active),
        format: some(&release.attrs.format),
        release_description: some(&release.attrs.comment),
        release_type: some(match release.kind {
            ReleaseKind::Gray => "gray",
            ReleaseKind::Normal => "normal",
        }),
        beta_labels: release.gray_labels.iter().map(label_out).collect(),
        ..Default::default()
    };
    to_json(&proto, "v1.ConfigFileRelease")
}

pub(crate) fn history_json(entry: &ReleaseHistory) -> Value {
    let kind = match entry.kind.as_str() {
        "gray" => "betaing",
        other => other,
    };
    let proto = v1::ConfigFileReleaseHistory {
        id: Some(entry.id),
        name: some(&entry.release_name),
        namespace: some(&entry.key.namespace),
        group: some(&entry.key.group),
        file_name: some(&entry.key.name),
        content: some(&entry.content),
        format: some(&entry.format),
        comment: some(&entry.comment),
        md5: some(&entry.md5),
        r#type: some(kind),
        status: some(&entry.status),
        tags: wire_tags(&entry.tags),
        create_time: some(&time(entry.ctime)),
        create_by: some(""),
        modify_time: some(&time(entry.ctime)),
        modify_by: some(""),
        reason: some(""),
        release_description: some(&entry.comment),
        ..Default::default()
    };
    to_json(&proto, "v1.ConfigFileReleaseHistory")
}

fn label_out(label: &GrayLabel) -> v1::ClientLabel {
    let kind = MatchStringType::from_str_name(&label.match_type).unwrap_or(MatchStringType::Exact);
    v1::ClientLabel {
        key: label.key.clone(),
        value: Some(v1::MatchString {
            r#type: kind as i32,
            value: some(&label.value),
            value_type: 0,
        }),
    }
}

/// A `ClientLabel` as the domain's beta label (checked by `polaris_config::client`).
pub(crate) fn beta_label(label: &v1::ClientLabel) -> BetaLabel {
    let value = label.value.as_ref();
    let text = value.and_then(|v| v.value.as_deref());
    BetaLabel::new(&label.key, value.map(|v| v.r#type), text)
}
