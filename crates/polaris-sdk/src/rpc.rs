//! gRPC plumbing: lazily connected channels, the token header and per-call deadlines.

use std::future::Future;
use std::time::Duration;

use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, Result};

/// Largest answer accepted (a Discover answer with many thousand instances fits).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A channel to one server role (naming or config) with the call defaults.
#[derive(Clone)]
pub(crate) struct Rpc {
    channel: Channel,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
    pub(crate) timeout: Duration,
}

impl Rpc {
    /// A channel that connects on first use and reconnects by itself after failures.
    pub(crate) fn new(
        addresses: &[String],
        token: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Rpc> {
        let mut endpoints = Vec::with_capacity(addresses.len());
        for address in addresses {
            let uri = if address.contains("://") {
                address.clone()
            } else {
                format!("http://{address}")
            };
            let endpoint = Endpoint::from_shared(uri)
                .map_err(|e| Error::Settings(format!("address {address:?}: {e}")))?
                .connect_timeout(connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true);
            endpoints.push(endpoint);
        }
        let channel = match endpoints.len() {
            0 => return Err(Error::Settings("no server address".into())),
            1 => endpoints.remove(0).connect_lazy(),
            _ => Channel::balance_list(endpoints.into_iter()),
        };
        let token = if token.is_empty() {
            None
        } else {
            Some(
                token
                    .parse()
                    .map_err(|_| Error::Settings("token is not valid ASCII".into()))?,
            )
        };
        Ok(Rpc {
            channel,
            token,
            timeout,
        })
    }

    /// Wraps a message with the token and the call deadline.
    pub(crate) fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        self.decorate(&mut request);
        request.set_timeout(self.timeout);
        request
    }

    /// Adds the token header.
    pub(crate) fn decorate<T>(&self, request: &mut tonic::Request<T>) {
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("x-polaris-token", token.clone());
        }
    }

    pub(crate) fn naming(&self) -> PolarisGrpcClient<Channel> {
        PolarisGrpcClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    pub(crate) fn config(&self) -> PolarisConfigGrpcClient<Channel> {
        PolarisConfigGrpcClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    /// Runs a unary call under the call deadline.
    pub(crate) async fn unary<T, F>(&self, call: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        self.unary_within(self.timeout, call).await
    }

    /// Runs a unary call under `deadline`.
    pub(crate) async fn unary_within<T, F>(&self, deadline: Duration, call: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        match tokio::time::timeout(deadline, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => {
                Err(Error::Timeout(deadline))
            }
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(Error::Timeout(deadline)),
        }
    }
}
