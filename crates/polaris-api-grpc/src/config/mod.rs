//! `PolarisConfigGRPC`, the config-center port (8093): client pulls (`GetConfigFile`), long
//! polls (`WatchConfigFiles`), group listings, writes, and the `Discover` stream, with the
//! official codes in the reply body and gRPC status OK (see `docs/wire/config.md` §4).

mod convert;
mod discover;

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
use convert::{
    CLIENT_IP_LABEL, client_error, client_file, client_key, client_reply, file_spec,
    inject_ip_label, invalid_beta_labels, peer_ip, publish_spec, tags, upsert_specs, watch_file,
    watched_files,
};

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

/// GetConfigFile: the release the client should see, or 200001 when it already holds a newer
/// version, or 400202 when the file has no active release (both with the request echoed).
pub(crate) fn get_file(
    center: &ConfigCenter,
    mut info: v1::ClientConfigFileInfo,
    peer: Option<&str>,
) -> v1::ConfigClientResponse {
    let key = match client_key(&info) {
        Ok(key) => key,
        Err(err) => return client_error(&err, Some(info)),
    };
    inject_ip_label(&mut info, peer);
    let labels = tags(&info.tags);
    match center.client_release(&key, info.version.unwrap_or(0), &labels) {
        Ok(Some(release)) => {
            let file = client_file(&key, &release, info.public_key.as_deref());
            client_reply(Code::ExecuteSuccess, Some(file))
        }
        Ok(None) => client_reply(Code::DataNoChange, Some(info)),
        Err(err) => client_error(&err, Some(info)),
    }
}

fn list_reply(code: Code) -> v1::ConfigClientListResponse {
    v1::ConfigClientListResponse {
        code: Some(code.value()),
        info: Some(code.info().to_string()),
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
        let reply = get_file(&self.center, request.into_inner(), peer.as_deref());
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
        let reply = match publish_spec(request.get_ref()) {
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
        let started = Instant::now();
        // As in 1.18.1, gray rules see only the peer's address (`client_ip` is ignored).
        let labels: Vec<(String, String)> = peer_ip(request.remote_addr())
            .map(|ip| (CLIENT_IP_LABEL.to_string(), ip))
            .into_iter()
            .collect();
        let files = watched_files(request.get_ref());
        // A watch may wait 30 s: keep only what it needs, not the request's metadata and body.
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
        Ok(Response::new(reply))
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
        let reply = if namespace.is_empty() || name.is_empty() {
            list_reply(Code::BadRequest)
        } else {
            match discover::file_list(&self.center.snapshot(), &namespace, &name) {
                None => list_reply(Code::ExecuteSuccess),
                Some(list) if request.revision.as_deref() == Some(list.revision.as_str()) => {
                    list_reply(Code::DataNoChange)
                }
                Some(list) => v1::ConfigClientListResponse {
                    revision: Some(list.revision),
                    namespace,
                    group: name,
                    config_file_infos: list
                        .releases
                        .iter()
                        .map(|r| convert::metadata_item(r))
                        .collect(),
                    ..list_reply(Code::ExecuteSuccess)
                },
            }
        };
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
