//! Group-level reads (the released files of a group, the groups of a namespace) and the config
//! `Discover` stream, which answers each request with exactly one reply, in order.

use std::sync::Arc;
use std::time::Instant;

use polaris_config::ConfigCenter;
use polaris_config::client::{self, Listing};
use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType as RequestType;
use polaris_proto::v1::config_discover_response::ConfigDiscoverResponseType as ResponseType;
use polaris_types::Code;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

use crate::metrics::GrpcMetrics;
use polaris_discovery::config_client::listed_file;

/// Replies answered but not yet sent before the reader stops reading the client.
const PENDING_REPLIES: usize = 16;

fn reply(code: Code, info: String, kind: ResponseType) -> v1::ConfigDiscoverResponse {
    v1::ConfigDiscoverResponse {
        code: code.value(),
        info,
        r#type: kind as i32,
        ..Default::default()
    }
}

/// A listing's answer: code, info and revision; `items` fills in the listed values.
fn listing<T>(
    answer: Listing<T>,
    kind: ResponseType,
    items: impl FnOnce(Vec<T>, &mut v1::ConfigDiscoverResponse),
) -> v1::ConfigDiscoverResponse {
    let mut out = reply(answer.code(), answer.info(), kind);
    if let Listing::Changed {
        revision,
        items: listed,
    } = answer
    {
        out.revision = revision;
        items(listed, &mut out);
    }
    out
}

/// Answers one Discover request from the current snapshot. A file is asked for by its names
/// and version only (tags and public key are not read, as officially).
pub(crate) fn answer(
    center: &ConfigCenter,
    peer: &str,
    request: v1::ConfigDiscoverRequest,
) -> v1::ConfigDiscoverResponse {
    let file = request.config_file.unwrap_or_default();
    let namespace = file.namespace.clone().unwrap_or_default();
    match RequestType::try_from(request.r#type) {
        Ok(RequestType::ConfigFile) => {
            let asked = v1::ClientConfigFileInfo {
                tags: Vec::new(),
                public_key: None,
                ..file
            };
            let got = super::get_file(center, asked, peer);
            v1::ConfigDiscoverResponse {
                code: got.code.unwrap_or_default(),
                info: got.info.unwrap_or_default(),
                revision: got
                    .config_file
                    .as_ref()
                    .and_then(|f| f.version)
                    .unwrap_or(0)
                    .to_string(),
                r#type: ResponseType::ConfigFile as i32,
                config_file: got.config_file,
                ..Default::default()
            }
        }
        Ok(RequestType::ConfigFileNames) => {
            let group = file.group.unwrap_or_default();
            let answer =
                client::file_list(&center.snapshot(), &namespace, &group, &request.revision);
            listing(answer, ResponseType::ConfigFileNames, |items, out| {
                out.config_file_names = items.into_iter().map(listed_file).collect();
            })
        }
        Ok(RequestType::ConfigFileGroups) => {
            let answer = client::group_list(&center.snapshot(), &namespace, &request.revision);
            listing(answer, ResponseType::ConfigFileGroups, |items, out| {
                out.config_file = Some(v1::ClientConfigFileInfo {
                    namespace: Some(namespace.clone()),
                    ..Default::default()
                });
                out.config_file_groups = items
                    .into_iter()
                    .map(|g| v1::ConfigFileGroup {
                        namespace: Some(g.namespace),
                        name: Some(g.name),
                        ..Default::default()
                    })
                    .collect();
            })
        }
        Ok(RequestType::Unknown) | Err(_) => {
            let code = Code::InvalidDiscoverResource;
            reply(code, code.info().to_string(), ResponseType::Unknown)
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
    peer: String,
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
            let response = answer(&center, &peer, request);
            metrics.observe("ConfigDiscover", started);
            if tx.send(Ok(Box::new(response))).await.is_err() {
                break;
            }
        }
    });
    ReceiverStream::new(rx).map(|reply| reply.map(|boxed| *boxed))
}
