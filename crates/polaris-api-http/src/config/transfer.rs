//! `POST /config/v1/configfiles/export` (a zip of `<group>/<file>` entries plus `META`) and
//! `POST /config/v1/configfiles/import` (multipart field `config`; `conflict_handling` skip or
//! overwrite). An import is checked completely (archive limits, names, content) before the
//! first file is written, so a refused archive stores nothing.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use polaris_config::{FORMATS, FileSpec, MAX_CONTENT_CHARS};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, ConfigFile, ConfigFileKey, FileAttrs, PolarisError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

use super::convert::file_proto;
use super::groups::check_names;
use super::zipread::{boundary, parts, read_zip, safe_name};
use super::{PREFIX, batch_failed, text};
use crate::AppState;
use crate::body::{Query, read_body};
use crate::governance::json::{parse_message, to_json};
use crate::reply::{Reply, json_reply};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{PREFIX}/configfiles/export"), post(export))
        .route(&format!("{PREFIX}/configfiles/import"), post(import))
}

/// What `META` says about one entry.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct Meta {
    tags: BTreeMap<String, String>,
    comment: String,
}

fn export_error(err: &PolarisError) -> Response {
    let body = json!({ "code": err.code.value(), "info": err.info(), "data": "" });
    json_reply(err.code.value(), &err.info(), &body)
}

async fn export(State(state): State<AppState>, request: Request) -> Response {
    let parsed = async {
        let bytes = read_body(request.into_body()).await?;
        parse_message::<v1::ConfigFileExportRequest>("v1.ConfigFileExportRequest", &bytes)
    }
    .await;
    let request = match parsed {
        Ok(request) => request,
        Err(err) => return batch_failed(&err),
    };
    let namespace = text(&request.namespace);
    if !is_valid_name(&namespace, 64) {
        return export_error(&Code::InvalidNamespaceName.into());
    }
    let snapshot = state.config.snapshot();
    let groups: Vec<&str> = request.groups.iter().map(|g| g.trim()).collect();
    let files: Vec<(String, Arc<ConfigFile>)> = match (groups.as_slice(), request.names.len()) {
        ([_, ..], 0) => groups
            .iter()
            .flat_map(|g| snapshot.files_of(&namespace, g))
            .map(|f| (format!("{}/{}", f.key.group, f.key.name), f.clone()))
            .collect(),
        ([group], _) => request
            .names
            .iter()
            .filter_map(|name| {
                let key = ConfigFileKey::new(namespace.as_str(), *group, name.trim());
                snapshot
                    .files
                    .get(&key)
                    .map(|f| (f.key.name.clone(), f.clone()))
            })
            .collect(),
        _ => return export_error(&Code::InvalidParameter.into()),
    };
    if files.is_empty() {
        return export_error(&Code::NotFoundResourceConfigFile.into());
    }
    match write_zip(&files) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/zip"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=config.zip",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(err) => export_error(&err),
    }
}

fn write_zip(files: &[(String, Arc<ConfigFile>)]) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| PolarisError::new(Code::ExecuteException, e.to_string());
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut meta = BTreeMap::new();
    for (entry, file) in files {
        writer
            .start_file(entry.as_str(), options)
            .map_err(|e| fail(&e))?;
        writer
            .write_all(file.content.as_bytes())
            .map_err(|e| fail(&e))?;
        let tags = file.attrs.tags.iter().cloned().collect();
        let comment = file.attrs.comment.clone();
        meta.insert(entry.clone(), Meta { tags, comment });
    }
    let mut meta_bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut meta_bytes, formatter);
    meta.serialize(&mut serializer).map_err(|e| fail(&e))?;
    writer.start_file("META", options).map_err(|e| fail(&e))?;
    writer.write_all(&meta_bytes).map_err(|e| fail(&e))?;
    Ok(writer.finish().map_err(|e| fail(&e))?.into_inner())
}

/// The upload: the multipart field `config`, named `*.zip` and starting like a zip.
fn upload(content_type: &str, body: &[u8]) -> Result<Vec<u8>> {
    let invalid = || PolarisError::new(Code::ParseException, "invalid content type");
    let boundary = boundary(content_type).ok_or_else(invalid)?;
    let parts = parts(body, &boundary).ok_or_else(invalid)?;
    let part = parts
        .iter()
        .find(|p| p.name == "config")
        .ok_or_else(invalid)?;
    let named_zip = part
        .filename
        .as_deref()
        .is_some_and(|f| f.to_ascii_lowercase().ends_with(".zip"));
    if !named_zip || !part.data.starts_with(b"PK\x03\x04") {
        return Err(invalid());
    }
    Ok(part.data.to_vec())
}

/// Every file of the archive as a checked spec (the first invalid one refuses the import).
fn specs(entries: Vec<super::zipread::Entry>, query: &Query) -> Result<Vec<FileSpec>> {
    let meta: BTreeMap<String, Meta> = match entries.iter().find(|e| e.name == "META") {
        Some(entry) => serde_json::from_slice(&entry.data)
            .map_err(|e| PolarisError::new(Code::ParseException, format!("invalid META: {e}")))?,
        None => BTreeMap::new(),
    };
    let namespace = query.text("namespace");
    let group_override = query.text("group");
    let mut specs = Vec::new();
    for entry in entries.into_iter().filter(|e| e.name != "META") {
        let (group, name) = entry.name.split_once('/').unwrap_or(("", &entry.name));
        let group = if group_override.is_empty() {
            group
        } else {
            &group_override
        };
        check_names(&namespace, group)?;
        if !safe_name(name) || name.len() > 128 {
            return Err(Code::InvalidConfigFileName.into());
        }
        let content = String::from_utf8(entry.data).map_err(|_| {
            PolarisError::new(Code::ParseException, format!("{} is not UTF-8", entry.name))
        })?;
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(PolarisError::new(
                Code::InvalidConfigFileContentLength,
                format!("content length too long. max length ={MAX_CONTENT_CHARS}"),
            ));
        }
        let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("text");
        let format = if FORMATS.contains(&extension) {
            extension
        } else {
            "text"
        };
        let meta = meta.get(&entry.name);
        let tags: Vec<(String, String)> = meta
            .map(|m| m.tags.clone().into_iter().collect())
            .unwrap_or_default();
        if tags.len() > 64
            || tags
                .iter()
                .any(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
        {
            return Err(Code::InvalidConfigFileTags.into());
        }
        specs.push(FileSpec {
            key: ConfigFileKey::new(namespace.as_str(), group, name),
            content,
            attrs: FileAttrs {
                format: format.to_string(),
                comment: meta.map(|m| m.comment.clone()).unwrap_or_default(),
                tags,
                ..Default::default()
            },
        });
    }
    Ok(specs)
}

async fn import(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let checked = async {
        let body = read_body(request.into_body()).await?;
        let archive = upload(&content_type, &body)?;
        specs(read_zip(&archive)?, &query)
    }
    .await;
    let specs = match checked {
        Ok(specs) => specs,
        Err(err) => return Reply::from(err).into_response(),
    };
    let handling = query.text("conflict_handling");
    let (mut created, mut skipped, mut overwritten) = (Vec::new(), Vec::new(), Vec::new());
    for spec in specs {
        let exists = state.config.snapshot().files.contains_key(&spec.key);
        let outcome = match (exists, handling.as_str()) {
            (false, _) => state
                .config
                .create_file(spec)
                .await
                .map(|f| (&mut created, f)),
            (true, "overwrite") => state
                .config
                .update_file(spec)
                .await
                .map(|f| (&mut overwritten, f)),
            (true, "skip") => match state.config.snapshot().files.get(&spec.key) {
                Some(f) => Ok((&mut skipped, f.clone())),
                None => continue,
            },
            (true, _) => continue,
        };
        match outcome {
            Ok((list, file)) => list.push(file),
            Err(err) => return Reply::from(err).into_response(),
        }
    }
    let snapshot = state.config.snapshot();
    let render = |files: Vec<Arc<ConfigFile>>| -> Value {
        files
            .iter()
            .map(|f| to_json(&file_proto(f, &snapshot), "v1.ConfigFile"))
            .collect()
    };
    Reply::ok()
        .with("createConfigFiles", render(created))
        .with("skipConfigFiles", render(skipped))
        .with("overwriteConfigFiles", render(overwritten))
        .into_response()
}
