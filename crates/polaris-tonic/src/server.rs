//! The server side for tonic: [`PolarisServer`] (the SDK's [`ServerRegistration`]) serves a
//! tonic router on a listener through [`ServeTonic::serve_tonic`].

use std::future::Future;

use polaris_sdk::ServerRegistration;
use polaris_sdk::lifecycle::{BoxError, ShutdownSignal};
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;

use crate::ratelimit::RateLimitLayer;

/// Registers a tonic server in Polaris for as long as it serves.
///
/// ```no_run
/// # async fn demo(client: polaris_sdk::Client, router: tonic::transport::server::Router) -> Result<(), polaris_tonic::BoxError> {
/// use polaris_tonic::ServeTonic;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// polaris_tonic::PolarisServer::builder(client)
///     .service_name("EchoServerTonic")
///     .serve_tonic(listener, |incoming, shutdown| {
///         router.serve_with_incoming_shutdown(incoming, shutdown)
///     })
///     .await
/// # }
/// ```
pub type PolarisServer = ServerRegistration;

/// tonic's side of [`PolarisServer`].
pub trait ServeTonic: Sized {
    /// Registers under the gRPC service name of `S` (`package.Service`), as grpc-go-polaris
    /// does when no service name is given.
    fn service<S: NamedService>(self) -> Self;

    /// A layer enforcing the `RATE_LIMIT` rules of the first registered service:
    /// `Server::builder().layer(polaris.rate_limit_layer())`.
    fn rate_limit_layer(&self) -> RateLimitLayer;

    /// Serves through `serve` (given tonic's incoming connections on `listener` and its
    /// shutdown signal), registering once listening and, on SIGINT or SIGTERM (or the
    /// builder's `shutdown_on` signal), deregistering, draining, then shutting tonic down
    /// gracefully.
    fn serve_tonic<F, Fut, E>(
        self,
        listener: tokio::net::TcpListener,
        serve: F,
    ) -> impl Future<Output = Result<(), BoxError>> + Send
    where
        F: FnOnce(TcpIncoming, ShutdownSignal) -> Fut + Send,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static;
}

impl ServeTonic for ServerRegistration {
    fn service<S: NamedService>(self) -> Self {
        self.service_name(S::NAME)
    }

    fn rate_limit_layer(&self) -> RateLimitLayer {
        RateLimitLayer(self.server_limit())
    }

    async fn serve_tonic<F, Fut, E>(
        self,
        listener: tokio::net::TcpListener,
        serve: F,
    ) -> Result<(), BoxError>
    where
        F: FnOnce(TcpIncoming, ShutdownSignal) -> Fut + Send,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let local = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        self.serve(local, move |shutdown| serve(incoming, shutdown))
            .await
    }
}
