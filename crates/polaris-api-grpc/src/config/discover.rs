//! Group-level reads (the released files of a group, the groups of a namespace) and the config
//! `Discover` stream, which answers each request with exactly one reply, in order.

use std::sync::Arc;
use std::time::Instant;

use polaris_config::{ConfigCenter, ConfigSnapshot};
use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType as RequestType;
use polaris_proto::v1::config_discover_response::ConfigDiscoverResponseType as ResponseType;
use polaris_types::{Code, ConfigGroup, ConfigRelease};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

use super::convert::{metadata_item, revision};
use crate::metrics::GrpcMetrics;

/// Replies answered but not yet sent before the reader stops reading the client.
const PENDING_REPLIES: usize = 16;

/// The active releases of a group (normal and gray, as the official group bucket holds them)
/// and a revision that changes whenever one of them changes.
pub(crate) struct FileList {
    pub revision: String,
    pub releases: Vec<Arc<ConfigRelease>>,
}

/// `None` when the group has no active release.
pub(crate) fn file_list(
    snapshot: &ConfigSnapshot,
    namespace: &str,
    group: &str,
) -> Option<FileList> {
    let releases: Vec<Arc<ConfigRelease>> = snapshot
        .files_of(namespace, group)
        .flat_map(|f| snapshot.releases_of(&f.key).filter(|r| r.active).cloned())
        .collect();
    if releases.is_empty() {
        return None;
    }
    let revision = revision(
        releases
            .iter()
            .map(|r| [r.key.name.clone(), r.name.clone(), r.version.to_string()]),
    );
    Some(FileList { revision, releases })
}

/// The groups of a namespace and a revision over their names and modification times.
pub(crate) struct GroupList {
    pub revision: String,
    pub groups: Vec<Arc<ConfigGroup>>,
}

/// `None` when the namespace has no group.
pub(crate) fn group_list(snapshot: &ConfigSnapshot, namespace: &str) -> Option<GroupList> {
    let groups: Vec<Arc<ConfigGroup>> = snapshot
        .groups
        .range((namespace.to_string(), String::new())..)
        .take_while(|((ns, _), _)| ns == namespace)
        .map(|(_, g)| g.clone())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let revision = revision(
        groups
            .iter()
            .map(|g| [g.name.clone(), g.id.to_string(), g.mtime.to_string()]),
    );
    Some(GroupList { revision, groups })
}

fn reply(code: Code, kind: ResponseType) -> v1::ConfigDiscoverResponse {
    v1::ConfigDiscoverResponse {
        code: code.value(),
        info: code.info().to_string(),
        r#type: kind as i32,
        ..Default::default()
    }
}

/// Answers one Discover request from the current snapshot.
pub(crate) fn answer(
    center: &ConfigCenter,
    peer: Option<&str>,
    request: v1::ConfigDiscoverRequest,
) -> v1::ConfigDiscoverResponse {
    let file = request.config_file.unwrap_or_default();
    match RequestType::try_from(request.r#type) {
        Ok(RequestType::ConfigFile) => {
            let got = super::get_file(center, file, peer);
            let code = got.code.unwrap_or(Code::ExecuteSuccess.value());
            let revision = match got.config_file.as_ref() {
                Some(f) if code == Code::ExecuteSuccess.value() => {
                    f.version.unwrap_or(0).to_string()
                }
                _ => String::new(),
            };
            v1::ConfigDiscoverResponse {
                code,
                info: got.info.unwrap_or_default(),
                revision,
                r#type: ResponseType::ConfigFile as i32,
                config_file: got.config_file,
                ..Default::default()
            }
        }
        Ok(RequestType::ConfigFileNames) => {
            let kind = ResponseType::ConfigFileNames;
            let namespace = file.namespace.unwrap_or_default();
            let group = file.group.unwrap_or_default();
            if namespace.is_empty() || group.is_empty() {
                return reply(Code::BadRequest, kind);
            }
            match file_list(&center.snapshot(), &namespace, &group) {
                None => reply(Code::ExecuteSuccess, kind),
                Some(list) if list.revision == request.revision => reply(Code::DataNoChange, kind),
                Some(list) => v1::ConfigDiscoverResponse {
                    revision: list.revision,
                    config_file_names: list.releases.iter().map(|r| metadata_item(r)).collect(),
                    ..reply(Code::ExecuteSuccess, kind)
                },
            }
        }
        Ok(RequestType::ConfigFileGroups) => {
            let kind = ResponseType::ConfigFileGroups;
            let namespace = file.namespace.unwrap_or_default();
            if namespace.is_empty() {
                return v1::ConfigDiscoverResponse {
                    info: format!("{}: invalid namespace", Code::BadRequest.info()),
                    ..reply(Code::BadRequest, kind)
                };
            }
            match group_list(&center.snapshot(), &namespace) {
                None => reply(Code::ExecuteSuccess, kind),
                Some(list) if list.revision == request.revision => v1::ConfigDiscoverResponse {
                    revision: list.revision,
                    ..reply(Code::DataNoChange, kind)
                },
                Some(list) => v1::ConfigDiscoverResponse {
                    revision: list.revision,
                    config_file: Some(v1::ClientConfigFileInfo {
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    }),
                    config_file_groups: list
                        .groups
                        .iter()
                        .map(|g| v1::ConfigFileGroup {
                            namespace: Some(g.namespace.clone()),
                            name: Some(g.name.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..reply(Code::ExecuteSuccess, kind)
                },
            }
        }
        Ok(RequestType::Unknown) | Err(_) => {
            reply(Code::InvalidDiscoverResource, ResponseType::Unknown)
        }
    }
}

/// Runs one config Discover stream. A reader task decodes and answers requests in order and
/// queues the boxed replies on a bounded channel, which tonic's writer drains; a slow client
/// fills the channel and the reader stops reading it, so it only ever delays itself. (Config
/// streams have no server push, so unlike the naming stream no writer task of our own is
/// needed.)
pub(crate) fn run_stream(
    center: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    peer: Option<String>,
    mut inbound: Streaming<v1::ConfigDiscoverRequest>,
) -> impl Stream<Item = Result<v1::ConfigDiscoverResponse, Status>> {
    // Boxed: channel slots are allocated in blocks, and a reply can be large.
    let (tx, rx) =
        mpsc::channel::<Result<Box<v1::ConfigDiscoverResponse>, Status>>(PENDING_REPLIES);
    tokio::spawn(async move {
        loop {
            let request = match inbound.message().await {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(target: "polaris_api_grpc", %status, "config discover stream failed");
                    // The stream ends with the reason, as grpc-go ends it, not with OK.
                    let _ = tx.send(Err(crate::oversize::renamed(status))).await;
                    break;
                }
            };
            let started = Instant::now();
            let response = answer(&center, peer.as_deref(), request);
            metrics.observe("ConfigDiscover", started);
            if tx.send(Ok(Box::new(response))).await.is_err() {
                break;
            }
        }
    });
    ReceiverStream::new(rx).map(|reply| reply.map(|boxed| *boxed))
}
