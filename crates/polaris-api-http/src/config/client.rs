//! The config client API over HTTP: `GET /v1/GetConfigFile`, `POST /v1/WatchConfigFile`,
//! `POST /v1/GetConfigFileMetadataList` and `POST /v1/ConfigDiscover`, also mounted under
//! `/config/v1` for old clients (`docs/wire/config.md` §4).

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_config::{DEFAULT_WATCH_TIMEOUT, WatchedFile};
use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType as ReqType;
use polaris_types::{Code, ConfigFileKey, ConfigRelease, PolarisError, Result};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::convert::{client_info, group_json, tags_in, tags_out};
use super::{PREFIX, some, text};
use crate::AppState;
use crate::body::{Query, read_body};
use crate::governance::json::{parse_message, to_json};
use crate::reply::{Reply, json_reply};

pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in ["/v1", PREFIX] {
        router = router
            .route(&format!("{prefix}/GetConfigFile"), get(get_file))
            .route(&format!("{prefix}/WatchConfigFile"), post(watch))
            .route(
                &format!("{prefix}/GetConfigFileMetadataList"),
                post(metadata_list),
            )
            .route(&format!("{prefix}/ConfigDiscover"), post(discover));
    }
    router
}

/// The caller's IP: the socket peer when the server records it, else a proxy header.
fn peer_ip(request: &Request) -> String {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return addr.ip().to_string();
    }
    forwarded_ip(request.headers())
}

fn forwarded_ip(headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    header("x-forwarded-for")
        .or_else(|| header("x-real-ip"))
        .unwrap_or_default()
}

fn ip_labels(ip: &str) -> Vec<(String, String)> {
    vec![("CLIENT_IP".to_string(), ip.to_string())]
}

fn empty_key() -> PolarisError {
    PolarisError::new(
        Code::BadRequest,
        "namespace & group & fileName can not be empty",
    )
}

fn key_of(info: &v1::ClientConfigFileInfo) -> Result<ConfigFileKey> {
    let key = ConfigFileKey::new(
        text(&info.namespace),
        text(&info.group),
        text(&info.file_name),
    );
    if key.namespace.is_empty() || key.group.is_empty() || key.name.is_empty() {
        return Err(empty_key());
    }
    Ok(key)
}

/// GetConfigFile's answer: (code, info, configFile). Unpublished and up-to-date clients get
/// their own request back.
fn answer_get(state: &AppState, request: v1::ClientConfigFileInfo) -> (u32, String, Value) {
    let key = match key_of(&request) {
        Ok(key) => key,
        Err(err) => return (err.code.value(), err.info(), Value::Null),
    };
    let labels = tags_in(&request.tags);
    let version = request.version.unwrap_or(0);
    let echo = |code: Code| {
        let value = to_json(&request, "v1.ClientConfigFileInfo");
        (code.value(), code.info().to_string(), value)
    };
    match state.config.client_release(&key, version, &labels) {
        Ok(Some(release)) => {
            let info = full_info(&key, &release);
            let ok = Code::ExecuteSuccess;
            (
                ok.value(),
                ok.info().into(),
                to_json(&info, "v1.ClientConfigFileInfo"),
            )
        }
        Ok(None) => echo(Code::DataNoChange),
        Err(err) if err.code == Code::NotFoundResource => echo(Code::NotFoundResource),
        Err(err) => (err.code.value(), err.info(), Value::Null),
    }
}

fn full_info(key: &ConfigFileKey, release: &ConfigRelease) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: some(&key.namespace),
        group: some(&key.group),
        file_name: some(&key.name),
        content: some(&release.content),
        version: Some(release.version),
        md5: some(&release.md5),
        encrypted: Some(!release.data_key.is_empty()),
        tags: tags_out(&client_tags(release)),
        ..Default::default()
    }
}

/// A release's tags for a client: user tags, then (for encrypted files) the internal flags and
/// the base64 data key (no public key travels over HTTP, so the key is not RSA-wrapped).
fn client_tags(release: &ConfigRelease) -> Vec<(String, String)> {
    use polaris_config::crypto::{DATA_KEY_TAG, ENCRYPT_ALGO_TAG, ENCRYPTED_TAG};
    let mut tags: Vec<(String, String)> = release
        .tags
        .iter()
        .filter(|(k, _)| k != DATA_KEY_TAG)
        .cloned()
        .collect();
    if !release.data_key.is_empty() {
        tags.push((ENCRYPTED_TAG.into(), "true".into()));
        tags.push((ENCRYPT_ALGO_TAG.into(), release.encrypt_algo.clone()));
        tags.push((DATA_KEY_TAG.into(), release.data_key.clone()));
    }
    tags
}

/// `GET /v1/GetConfigFile?namespace&group&fileName&version&tags=k=v...`.
async fn get_file(State(state): State<AppState>, request: Request) -> Response {
    let ip = peer_ip(&request);
    let query = Query::parse(request.uri().query());
    let mut tags = Vec::new();
    for tag in query.all("tags") {
        let Some((k, v)) = tag.split_once('=') else {
            let err = PolarisError::new(Code::BadRequest, "tags must be key=value");
            return Reply::from(err).into_response();
        };
        tags.push(v1::ConfigFileTag {
            key: some(k.trim()),
            value: some(v.trim()),
        });
    }
    if tags.is_empty() {
        tags = tags_out(&ip_labels(&ip));
    }
    let info = v1::ClientConfigFileInfo {
        namespace: some(&query.text("namespace")),
        group: some(&query.text("group")),
        file_name: some(&query.text("fileName")),
        version: Some(query.text("version").parse().unwrap_or(0)),
        tags,
        ..Default::default()
    };
    let (code, text, file) = answer_get(&state, info);
    json_reply(
        code,
        &text,
        &json!({ "code": code, "info": text, "configFile": file }),
    )
}

/// `POST /v1/WatchConfigFile`: a 30 s long poll through the domain's watcher index.
async fn watch(State(state): State<AppState>, request: Request) -> Response {
    let ip = peer_ip(&request);
    let parsed = async {
        let bytes = read_body(request.into_body()).await?;
        parse_message::<v1::ClientWatchConfigFileRequest>("v1.ClientWatchConfigFileRequest", &bytes)
    }
    .await;
    let request = match parsed {
        Ok(request) => request,
        Err(err) => return Reply::from(err).into_response(),
    };
    if request.watch_files.is_empty() {
        return Reply::of(Code::InvalidWatchConfigFileFormat).into_response();
    }
    let files = match request
        .watch_files
        .iter()
        .map(|f| {
            key_of(f).map(|key| WatchedFile {
                key,
                version: f.version.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>>>()
    {
        Ok(files) => files,
        Err(err) => return Reply::from(err).into_response(),
    };
    let client_ip = text(&request.client_ip);
    let labels = ip_labels(if client_ip.is_empty() {
        &ip
    } else {
        &client_ip
    });
    match state
        .config
        .watch(&files, &labels, DEFAULT_WATCH_TIMEOUT)
        .await
    {
        Ok(Some(release)) => {
            let info = client_info(&release.key, &release);
            Reply::ok()
                .with("configFile", to_json(&info, "v1.ClientConfigFileInfo"))
                .into_response()
        }
        Ok(None) => {
            let code = Code::DataNoChange.value();
            json_reply(
                code,
                "",
                &json!({ "code": code, "info": null, "configFile": null }),
            )
        }
        Err(err) => {
            if err.code == Code::BatchSizeOverLimit {
                polaris_limits::metrics().refused(polaris_limits::Limit::WatchFiles, "api-http");
            }
            Reply::from(err).into_response()
        }
    }
}

/// The active releases of a group with its revision (`None`: no active release).
fn group_files(state: &AppState, namespace: &str, group: &str) -> Option<(String, Vec<Value>)> {
    let snapshot = state.config.snapshot();
    let mut digest = Sha1::new();
    let mut items = Vec::new();
    for file in snapshot.files_of(namespace, group) {
        for release in snapshot.releases_of(&file.key).filter(|r| r.active) {
            digest.update(format!(
                "{}|{}|{};",
                file.key.name, release.name, release.version
            ));
            let mut info = client_info(&file.key, release);
            info.md5 = None;
            info.release_time = some(&polaris_types::time::format_or_empty(release.mtime));
            info.tags = tags_out(&release.tags);
            items.push(to_json(&info, "v1.ClientConfigFileInfo"));
        }
    }
    (!items.is_empty()).then(|| (hex::encode(digest.finalize()), items))
}

fn list_answer(state: &AppState, namespace: &str, group: &str, revision: &str) -> Value {
    let ok = Code::ExecuteSuccess;
    if namespace.is_empty() || group.is_empty() {
        let err = Code::BadRequest;
        return json!({ "code": err.value(), "info": err.info() });
    }
    match group_files(state, namespace, group) {
        None => json!({ "code": ok.value(), "info": ok.info(), "revision": null,
                        "namespace": "", "group": "", "config_file_infos": [] }),
        Some((current, _)) if current == revision => {
            let same = Code::DataNoChange;
            json!({ "code": same.value(), "info": same.info() })
        }
        Some((current, items)) => json!({
            "code": ok.value(), "info": ok.info(), "revision": current,
            "namespace": namespace, "group": group, "config_file_infos": items,
        }),
    }
}

fn reply_value(value: Value) -> Response {
    let code = value["code"].as_u64().unwrap_or(200_000) as u32;
    let info = value["info"].as_str().unwrap_or_default().to_string();
    json_reply(code, &info, &value)
}

async fn metadata_list(State(state): State<AppState>, body: Body) -> Response {
    let parsed = async {
        let bytes = read_body(body).await?;
        parse_message::<v1::ConfigFileGroupRequest>("v1.ConfigFileGroupRequest", &bytes)
    }
    .await;
    let request = match parsed {
        Ok(request) => request,
        Err(err) => return Reply::from(err).into_response(),
    };
    let group = request.config_file_group.unwrap_or_default();
    reply_value(list_answer(
        &state,
        &text(&group.namespace),
        &text(&group.name),
        &text(&request.revision),
    ))
}

/// `POST /v1/ConfigDiscover`: one answer per request, typed as the request.
async fn discover(State(state): State<AppState>, body: Body) -> Response {
    let parsed = async {
        let bytes = read_body(body).await?;
        parse_message::<v1::ConfigDiscoverRequest>("v1.ConfigDiscoverRequest", &bytes)
    }
    .await;
    let request = match parsed {
        Ok(request) => request,
        Err(err) => return Reply::from(err).into_response(),
    };
    let file = request.config_file.clone().unwrap_or_default();
    let kind = ReqType::try_from(request.r#type).unwrap_or(ReqType::Unknown);
    let mut value = match kind {
        ReqType::ConfigFile => {
            let asked = v1::ClientConfigFileInfo {
                tags: Vec::new(),
                public_key: None,
                ..file
            };
            let (code, info, file) = answer_get(&state, asked);
            let revision = file["version"].as_str().unwrap_or("0").to_string();
            json!({ "code": code, "info": info, "revision": revision, "config_file": file })
        }
        ReqType::ConfigFileNames => {
            let mut answer = list_answer(
                &state,
                &text(&file.namespace),
                &text(&file.group),
                &request.revision,
            );
            let items = answer
                .as_object_mut()
                .and_then(|o| o.remove("config_file_infos"));
            json!({ "code": answer["code"], "info": answer["info"],
                    "revision": answer["revision"], "config_file_names": items })
        }
        ReqType::ConfigFileGroups => groups_answer(&state, &text(&file.namespace), &request),
        ReqType::Unknown => {
            let code = Code::InvalidDiscoverResource;
            json!({ "code": code.value(), "info": code.info() })
        }
    };
    value["type"] = kind.as_str_name().into();
    reply_value(value)
}

fn groups_answer(state: &AppState, namespace: &str, request: &v1::ConfigDiscoverRequest) -> Value {
    let ok = Code::ExecuteSuccess;
    if namespace.is_empty() {
        return json!({ "code": Code::BadRequest.value(), "info": "invalid namespace" });
    }
    let snapshot = state.config.snapshot();
    let mut digest = Sha1::new();
    let mut groups = Vec::new();
    for group in snapshot
        .groups
        .values()
        .filter(|g| g.namespace == namespace)
    {
        digest.update(format!("{}|{}|{};", group.name, group.id, group.mtime));
        let mut item = group_json(group, 0);
        if let Some(object) = item.as_object_mut() {
            object.retain(|k, _| k == "namespace" || k == "name");
        }
        groups.push(item);
    }
    if groups.is_empty() {
        return json!({ "code": ok.value(), "info": ok.info() });
    }
    let revision = hex::encode(digest.finalize());
    if revision == request.revision {
        let same = Code::DataNoChange;
        return json!({ "code": same.value(), "info": same.info() });
    }
    json!({
        "code": ok.value(), "info": ok.info(), "revision": revision,
        "config_file": { "namespace": namespace }, "config_file_groups": groups,
    })
}
