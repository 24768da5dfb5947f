//! `PolarisConfigGRPC`, the config-center port (8093): client pulls (`GetConfigFile`), long
//! polls (`WatchConfigFiles`), group listings, writes, and the `Discover` stream, with the
//! official codes in the reply body and gRPC status OK (see `docs/wire/config.md` §4).

mod convert;
mod discover;
pub(crate) mod watch_route;

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_config::{ConfigCenter, DEFAULT_WATCH_TIMEOUT};
use polaris_proto::v1;
use polaris_proto::v1::polaris_config_grpc_server::PolarisConfigGrpc;
use polaris_types::Code;
use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::metrics::GrpcMetrics;
pub(crate) use convert::peer_ip;
use convert::{
    client_error, client_reply, file_spec, invalid_beta_labels, publish_request, upsert_specs,
};
use polaris_config::client::{self, Listing};
use polaris_discovery::config_client::{self, listed_file, watch_file, watched_files};

/// Settings of the config port.
#[derive(Clone, Debug)]
pub struct ConfigGrpcOptions {
    /// How long `WatchConfigFiles` holds a request without a change (officially 30 s).
    pub watch_timeout: Duration,
    /// Connections, streams and write rates allowed per client.
    pub limits: crate::GrpcLimits,
}

impl Default for ConfigGrpcOptions {
    fn default() -> Self {
        ConfigGrpcOptions {
            watch_timeout: DEFAULT_WATCH_TIMEOUT,
            limits: crate::GrpcLimits::unlimited("config-grpc"),
        }
    }
}

/// `PolarisConfigGRPC` over the config center.
pub(crate) struct ConfigService {
    center: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    options: ConfigGrpcOptions,
    /// Turns true when the server stops: parked watches then answer "no change" at once, so
    /// a graceful shutdown does not wait for them.
    stopping: watch::Receiver<bool>,
}

impl ConfigService {
    /// WatchConfigFiles: a long poll, answered at once when a watched file is behind, else at
    /// its publish, at the watch timeout or at shutdown (both `200001`). Shared by tonic's
    /// method and the lean route in front of it (`watch_route.rs`).
    pub(crate) async fn watch(
        &self,
        peer: &str,
        request: v1::ClientWatchConfigFileRequest,
    ) -> v1::ConfigClientResponse {
        let started = Instant::now();
        let labels = client::watch_labels(peer);
        let files = watched_files(&request);
        // A watch may wait 30 s: keep only what it needs, not the request.
        drop(request);
        let reply = match files {
            Err(err) => client_error(&err, None),
            Ok(files) => {
                let mut stopping = self.stopping.clone();
                let result = tokio::select! {
                    result = self.center.watch(&files, &labels, self.options.watch_timeout) => result,
                    _ = stopping.wait_for(|stop| *stop) => Ok(None),
                };
                match result {
                    Ok(Some(release)) => {
                        client_reply(Code::ExecuteSuccess, Some(watch_file(&release)))
                    }
                    // Officially the timeout reply carries neither `info` nor a file.
                    Ok(None) => v1::ConfigClientResponse {
                        code: Some(Code::DataNoChange.value()),
                        info: None,
                        config_file: None,
                    },
                    Err(err) => {
                        if err.code == Code::BatchSizeOverLimit {
                            polaris_limits::metrics().refused(
                                polaris_limits::Limit::WatchFiles,
                                self.options.limits.listener(),
                            );
                        }
                        client_error(&err, None)
                    }
                }
            }
        };
        self.metrics.observe("WatchConfigFiles", started);
        reply
    }

    pub(crate) fn new(
        center: Arc<ConfigCenter>,
        metrics: Arc<GrpcMetrics>,
        options: ConfigGrpcOptions,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        ConfigService {
            center,
            metrics,
            options,
            stopping,
        }
    }
}

/// GetConfigFile: the domain's answer (`polaris_config::client`) as a reply; the echoes of
/// 200001 and 400202 carry the request with the tags it was matched with.
pub(crate) fn get_file(
    center: &ConfigCenter,
    info: v1::ClientConfigFileInfo,
    peer: &str,
) -> v1::ConfigClientResponse {
    let (answer, file) = config_client::file_answer(center, info, peer);
    v1::ConfigClientResponse {
        code: Some(answer.code().value()),
        info: Some(answer.info()),
        config_file: file,
    }
}

fn list_reply(code: Code, info: String) -> v1::ConfigClientListResponse {
    v1::ConfigClientListResponse {
        code: Some(code.value()),
        info: Some(info),
        ..Default::default()
    }
}

type DiscoverStream =
    Pin<Box<dyn Stream<Item = Result<v1::ConfigDiscoverResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PolarisConfigGrpc for ConfigService {
    async fn get_config_file(
        &self,
        request: Request<v1::ClientConfigFileInfo>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let started = Instant::now();
        let peer = peer_ip(request.remote_addr());
        let reply = get_file(&self.center, request.into_inner(), &peer);
        self.metrics.observe("GetConfigFile", started);
        Ok(Response::new(reply))
    }

    async fn create_config_file(
        &self,
        request: Request<v1::ConfigFile>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let started = Instant::now();
        let spec = file_spec(request.get_ref());
        let reply = match self.center.create_file(spec).await {
            Ok(_) => client_reply(Code::ExecuteSuccess, None),
            Err(err) => client_error(&err, None),
        };
        self.metrics.observe("CreateConfigFile", started);
        Ok(Response::new(reply))
    }

    async fn update_config_file(
        &self,
        request: Request<v1::ConfigFile>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let started = Instant::now();
        let spec = file_spec(request.get_ref());
        let reply = match self.center.update_file(spec).await {
            Ok(_) => client_reply(Code::ExecuteSuccess, None),
            Err(err) => client_error(&err, None),
        };
        self.metrics.observe("UpdateConfigFile", started);
        Ok(Response::new(reply))
    }

    async fn publish_config_file(
        &self,
        request: Request<v1::ConfigFileRelease>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let started = Instant::now();
        let reply = match client::publish_spec(publish_request(request.get_ref())) {
            Err(detail) => invalid_beta_labels(&detail),
            Ok(spec) => match self.center.publish(spec).await {
                Ok(_) => client_reply(Code::ExecuteSuccess, None),
                Err(err) => client_error(&err, None),
            },
        };
        self.metrics.observe("PublishConfigFile", started);
        Ok(Response::new(reply))
    }

    async fn upsert_and_publish_config_file(
        &self,
        request: Request<v1::ConfigFilePublishInfo>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let started = Instant::now();
        let info = request.into_inner();
        let (file, publish) = upsert_specs(&info);
        // The official compare-and-swap: an existing file's stored content must hash to the
        // request's md5 (an absent md5 is the empty string, so it never matches).
        let expected = info.md5.clone().unwrap_or_default();
        let echo = v1::ClientConfigFileInfo {
            namespace: info.namespace,
            group: info.group,
            file_name: info.file_name,
            ..Default::default()
        };
        let reply = match self
            .center
            .upsert_and_publish(file, Some(&expected), publish)
            .await
        {
            Ok(_) => client_reply(Code::ExecuteSuccess, Some(echo)),
            Err(err) => client_error(&err, Some(echo)),
        };
        self.metrics.observe("UpsertAndPublishConfigFile", started);
        Ok(Response::new(reply))
    }

    async fn watch_config_files(
        &self,
        request: Request<v1::ClientWatchConfigFileRequest>,
    ) -> Result<Response<v1::ConfigClientResponse>, Status> {
        let peer = peer_ip(request.remote_addr());
        Ok(Response::new(self.watch(&peer, request.into_inner()).await))
    }

    async fn get_config_file_metadata_list(
        &self,
        request: Request<v1::ConfigFileGroupRequest>,
    ) -> Result<Response<v1::ConfigClientListResponse>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        let group = request.config_file_group.unwrap_or_default();
        let namespace = group.namespace.unwrap_or_default();
        let name = group.name.unwrap_or_default();
        let revision = request.revision.unwrap_or_default();
        let answer = client::file_list(&self.center.snapshot(), &namespace, &name, &revision);
        let mut reply = list_reply(answer.code(), answer.info());
        if let Listing::Changed { revision, items } = answer {
            reply.revision = Some(revision);
            reply.namespace = namespace;
            reply.group = name;
            reply.config_file_infos = items.into_iter().map(listed_file).collect();
        }
        self.metrics.observe("GetConfigFileMetadataList", started);
        Ok(Response::new(reply))
    }

    type DiscoverStream = DiscoverStream;

    async fn discover(
        &self,
        request: Request<Streaming<v1::ConfigDiscoverRequest>>,
    ) -> Result<Response<Self::DiscoverStream>, Status> {
        let peer = peer_ip(request.remote_addr());
        let outbound = discover::run_stream(
            self.center.clone(),
            self.metrics.clone(),
            peer,
            request.into_inner(),
        );
        Ok(Response::new(Box::pin(outbound)))
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lists;
