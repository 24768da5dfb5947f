//! The config client API over HTTP: `GET /v1/GetConfigFile`, `POST /v1/WatchConfigFile`,
//! `POST /v1/GetConfigFileMetadataList` and `POST /v1/ConfigDiscover`, also mounted under
//! `/config/v1` for old clients (`docs/wire/config.md` §4).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Extension, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_config::DEFAULT_WATCH_TIMEOUT;
use polaris_config::client::{self, Listing};
use polaris_discovery::config_client;
use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType as ReqType;
use polaris_types::{Code, ConfigRelease, PolarisError};
use serde_json::{Value, json};

use super::{PREFIX, some};
use crate::AppState;
use crate::body::{Query, read_body};
use crate::governance::json::{parse_message, to_json};
use crate::rendered::Rendered;
use crate::reply::{Reply, json_bytes_reply, json_reply};

pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    let bodies = Arc::new(FileBodies::default());
    for prefix in ["/v1", PREFIX] {
        router = router
            .route(
                &format!("{prefix}/GetConfigFile"),
                get(get_file).layer(Extension(bodies.clone())),
            )
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
        return client::client_ip(addr.ip());
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

/// The domain's GetConfigFile answer as (code, info, configFile); the echoes of 200001 and
/// 400202 carry the request with the tags it was matched with.
fn answer_get(
    state: &AppState,
    request: v1::ClientConfigFileInfo,
    peer: &str,
) -> (u32, String, Value) {
    let (answer, file) = config_client::file_answer(&state.config, request, peer);
    let file = file.map_or(Value::Null, |f| to_json(&f, "v1.ClientConfigFileInfo"));
    (answer.code().value(), answer.info(), file)
}

/// `GET /v1/GetConfigFile?namespace&group&fileName&version&tags=k=v...`.
/// Rendered GetConfigFile bodies by file name as asked, each with the release it shows.
type FileBodies = Rendered<String, Arc<ConfigRelease>>;

async fn get_file(
    State(state): State<AppState>,
    Extension(bodies): Extension<Arc<FileBodies>>,
    request: Request,
) -> Response {
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
    let info = v1::ClientConfigFileInfo {
        namespace: some(&query.text("namespace")),
        group: some(&query.text("group")),
        file_name: some(&query.text("fileName")),
        version: Some(query.text("version").parse().unwrap_or(0)),
        tags,
        ..Default::default()
    };
    // A release answer is the same for every client given that release (it echoes only the
    // names): it is rendered once per release and file name and then shared.
    let release = state
        .config
        .answer_release(&config_client::file_query(&info, &ip));
    let shared_key = release.as_ref().map(|_| {
        let mut key = String::with_capacity(64);
        for part in [&info.namespace, &info.group, &info.file_name] {
            key.push_str(part.as_deref().unwrap_or_default());
            key.push('\0');
        }
        key
    });
    if let (Some(release), Some(key)) = (&release, &shared_key)
        && let Some(bytes) = bodies.get(key, |r| Arc::ptr_eq(r, release))
    {
        let code = Code::ExecuteSuccess;
        return json_bytes_reply(code.value(), code.info(), bytes);
    }
    let (code, text, file) = answer_get(&state, info, &ip);
    let body = json!({ "code": code, "info": text, "configFile": file });
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    if code == Code::ExecuteSuccess.value()
        && let (Some(release), Some(key)) = (release, shared_key)
    {
        bodies.put(key, release, bytes.clone());
    }
    json_bytes_reply(code, &text, bytes)
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
    let files = config_client::watched_files(&request);
    let files = match files {
        Ok(files) => files,
        Err(err) => return Reply::from(err).into_response(),
    };
    let labels = client::watch_labels(&ip);
    match state
        .config
        .watch(&files, &labels, DEFAULT_WATCH_TIMEOUT)
        .await
    {
        Ok(Some(release)) => {
            let info = config_client::watch_file(&release);
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

/// A listing's `code`, `info` and `revision`; `Changed` adds its items under `field` and
/// `extra` (the HTTP list answer also names an empty listing's fields).
fn listing_json<T>(
    answer: Listing<T>,
    field: &str,
    item: impl Fn(T) -> Value,
    extra: impl FnOnce(&mut serde_json::Map<String, Value>, bool),
) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("code".into(), answer.code().value().into());
    object.insert("info".into(), answer.info().into());
    match answer {
        Listing::Changed { revision, items } => {
            object.insert("revision".into(), revision.into());
            extra(&mut object, true);
            let items: Vec<Value> = items.into_iter().map(item).collect();
            object.insert(field.into(), items.into());
        }
        Listing::Empty => extra(&mut object, false),
        Listing::Refused(_) | Listing::Unchanged => {}
    }
    Value::Object(object)
}

fn list_answer(state: &AppState, namespace: &str, group: &str, revision: &str) -> Value {
    let answer = client::file_list(&state.config.snapshot(), namespace, group, revision);
    listing_json(
        answer,
        "config_file_infos",
        |notice| {
            to_json(
                &config_client::listed_file(notice),
                "v1.ClientConfigFileInfo",
            )
        },
        |object, changed| {
            if changed {
                object.insert("namespace".into(), namespace.into());
                object.insert("group".into(), group.into());
            } else {
                object.insert("revision".into(), Value::Null);
                object.insert("namespace".into(), "".into());
                object.insert("group".into(), "".into());
                object.insert("config_file_infos".into(), json!([]));
            }
        },
    )
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
        &config_client::text(&group.namespace),
        &config_client::text(&group.name),
        &config_client::text(&request.revision),
    ))
}

/// `POST /v1/ConfigDiscover`: one answer per request, typed as the request.
async fn discover(State(state): State<AppState>, request: Request) -> Response {
    let ip = peer_ip(&request);
    let parsed = async {
        let bytes = read_body(request.into_body()).await?;
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
            let version = asked.version.unwrap_or(0);
            let (code, info, file) = answer_get(&state, asked, &ip);
            let revision = file["version"]
                .as_str()
                .map_or_else(|| version.to_string(), str::to_string);
            json!({ "code": code, "info": info, "revision": revision, "config_file": file })
        }
        ReqType::ConfigFileNames => {
            let mut answer = list_answer(
                &state,
                &config_client::text(&file.namespace),
                &config_client::text(&file.group),
                &request.revision,
            );
            let items = answer
                .as_object_mut()
                .and_then(|o| o.remove("config_file_infos"));
            json!({ "code": answer["code"], "info": answer["info"],
                    "revision": answer["revision"], "config_file_names": items })
        }
        ReqType::ConfigFileGroups => {
            groups_answer(&state, &config_client::text(&file.namespace), &request)
        }
        ReqType::Unknown => {
            let code = Code::InvalidDiscoverResource;
            json!({ "code": code.value(), "info": code.info() })
        }
    };
    value["type"] = kind.as_str_name().into();
    reply_value(value)
}

fn groups_answer(state: &AppState, namespace: &str, request: &v1::ConfigDiscoverRequest) -> Value {
    let answer = client::group_list(&state.config.snapshot(), namespace, &request.revision);
    listing_json(
        answer,
        "config_file_groups",
        |g| json!({ "namespace": g.namespace, "name": g.name }),
        |object, changed| {
            if changed {
                object.insert("config_file".into(), json!({ "namespace": namespace }));
            }
        },
    )
}
