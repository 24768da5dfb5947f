//! The server side for Volo: [`PolarisServer`] (the SDK's [`ServerRegistration`]) serves a
//! volo-grpc server on a listener through [`ServeVolo::serve_volo`].

use std::future::Future;
use std::pin::Pin;

use polaris_sdk::ServerRegistration;
use polaris_sdk::lifecycle::BoxError;
use volo::net::incoming::DefaultIncoming;

use crate::ratelimit::RateLimitLayer;

/// Registers a Volo server in Polaris for as long as it serves.
///
/// ```no_run
/// # async fn demo(client: polaris_sdk::Client) -> Result<(), polaris_volo::BoxError> {
/// use polaris_volo::ServeVolo;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let server = volo_grpc::server::Server::new(); // .add_service(...)
/// polaris_volo::PolarisServer::builder(client)
///     .service_name("EchoServerVolo")
///     .serve_volo(listener, |incoming, shutdown| {
///         server.run_with_shutdown(incoming, shutdown)
///     })
///     .await
/// # }
/// ```
pub type PolarisServer = ServerRegistration;

/// The shutdown signal handed to Volo's `run_with_shutdown`.
pub type VoloShutdown = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// Volo's side of [`PolarisServer`].
pub trait ServeVolo: Sized {
    /// A layer enforcing the `RATE_LIMIT` rules of the first registered service:
    /// `Server::new().layer_front(polaris.rate_limit_layer())`.
    fn rate_limit_layer(&self) -> RateLimitLayer;

    /// Serves through `serve` (given Volo's incoming connections on `listener` and its
    /// shutdown signal), registering once listening and, on SIGINT or SIGTERM (or the
    /// builder's `shutdown_on` signal), deregistering, draining, then shutting Volo down
    /// gracefully (calls in flight finish, bounded by the max wait).
    fn serve_volo<F, Fut>(
        self,
        listener: tokio::net::TcpListener,
        serve: F,
    ) -> impl Future<Output = Result<(), BoxError>> + Send
    where
        F: FnOnce(DefaultIncoming, VoloShutdown) -> Fut + Send,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static;
}

impl ServeVolo for ServerRegistration {
    fn rate_limit_layer(&self) -> RateLimitLayer {
        RateLimitLayer(self.server_limit())
    }

    async fn serve_volo<F, Fut>(
        self,
        listener: tokio::net::TcpListener,
        serve: F,
    ) -> Result<(), BoxError>
    where
        F: FnOnce(DefaultIncoming, VoloShutdown) -> Fut + Send,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let local = listener.local_addr()?;
        let incoming = DefaultIncoming::from(listener);
        self.serve(local, move |shutdown| {
            let shutdown: VoloShutdown = Box::pin(async move {
                shutdown.await;
                Ok(())
            });
            serve(incoming, shutdown)
        })
        .await
    }
}
