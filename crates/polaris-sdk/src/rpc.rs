//! gRPC plumbing: lazily connected channels (TLS when the settings ask), the token header and
//! per-call deadlines.

use std::future::Future;
use std::time::Duration;

use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::config::TlsSettings;
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
        tls: &TlsSettings,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Rpc> {
        let use_tls = tls.is_set() || addresses.iter().any(|a| a.starts_with("https://"));
        let tls_config = if use_tls {
            Some(client_tls(tls)?)
        } else {
            None
        };
        let mut endpoints = Vec::with_capacity(addresses.len());
        for address in addresses {
            let uri = match (address.contains("://"), use_tls) {
                (true, _) => address.clone(),
                (false, true) => format!("https://{address}"),
                (false, false) => format!("http://{address}"),
            };
            let mut endpoint = Endpoint::from_shared(uri)
                .map_err(|e| Error::Settings(format!("address {address:?}: {e}")))?;
            if let Some(config) = &tls_config {
                endpoint = endpoint
                    .tls_config(config.clone())
                    .map_err(|e| Error::Settings(format!("TLS to {address:?}: {e}")))?;
            }
            let endpoint = endpoint
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

/// The client side of TLS: the server checked against `trustedCAFile` (the public web roots
/// without one), and the client's own certificate when `certFile` and `keyFile` are set.
fn client_tls(tls: &TlsSettings) -> Result<ClientTlsConfig> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| Error::Settings(format!("{key} {}: {e}", path.display())))
    };
    let mut config = ClientTlsConfig::new();
    config = match &tls.trusted_ca_file {
        Some(path) => config.ca_certificate(Certificate::from_pem(read("trustedCAFile", path)?)),
        None => config.with_webpki_roots(),
    };
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        config = config.identity(Identity::from_pem(
            read("certFile", cert)?,
            read("keyFile", key)?,
        ));
    }
    Ok(config)
}
