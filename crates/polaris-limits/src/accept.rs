//! Accepting connections through a [`ConnLimiter`]: [`LimitedIncoming`] is the incoming stream
//! for tonic servers, [`LimitedListener`] the listener for `axum::serve`. Both set TCP_NODELAY
//! (Nagle plus delayed ACKs add tens of milliseconds to small replies), close refused
//! connections at once, and back off briefly when accepting fails for lack of resources (out of
//! file descriptors), instead of spinning.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_stream::Stream;

use crate::conn::{ConnLimiter, Limited};

/// Pause after an accept failure that is not about one connection (EMFILE, ENOMEM, ...).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Errors that concern only the connection being accepted: accept the next one at once.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn nodelay(stream: &TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(target: "polaris_limits", %err, "cannot set TCP_NODELAY");
    }
}

/// Accepted, admitted connections of a listener, as a stream for
/// `tonic::transport::Server::serve_with_incoming_shutdown`.
pub struct LimitedIncoming {
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl LimitedIncoming {
    /// Accepts on `listener`, admitting through `limiter`.
    pub fn new(listener: TcpListener, limiter: Arc<ConnLimiter>) -> Self {
        LimitedIncoming {
            listener,
            limiter,
            backoff: None,
        }
    }
}

impl Stream for LimitedIncoming {
    type Item = io::Result<Limited<TcpStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(sleep) = self.backoff.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.backoff = None;
            }
            match ready!(self.listener.poll_accept(cx)) {
                Ok((stream, peer)) => {
                    if let Some(admitted) = admit(&self.limiter, stream, peer) {
                        return Poll::Ready(Some(Ok(admitted)));
                    }
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    tracing::warn!(target: "polaris_limits", listener = self.limiter.listener(),
                        %err, "accept failed; pausing");
                    self.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
                }
            }
        }
    }
}

/// Admits `stream` or closes it (by dropping it) when its client is over a limit.
fn admit(
    limiter: &Arc<ConnLimiter>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<Limited<TcpStream>> {
    match limiter.admit(peer.ip()) {
        Ok(permit) => {
            nodelay(&stream);
            Some(Limited::new(stream, permit))
        }
        Err(refusal) => {
            tracing::debug!(target: "polaris_limits", listener = limiter.listener(), %peer,
                ?refusal, "connection refused: over the limit");
            None
        }
    }
}

/// A TCP listener for `axum::serve` that admits connections through a [`ConnLimiter`].
/// axum's connect-info extractor works through [`axum::serve::ListenerExt::tap_io`]:
/// serve `LimitedListener::new(..).tap_io(|_| {})` to keep `ConnectInfo<SocketAddr>`.
pub struct LimitedListener {
    listener: TcpListener,
    limiter: Arc<ConnLimiter>,
}

impl LimitedListener {
    /// Accepts on `listener`, admitting through `limiter`.
    pub fn new(listener: TcpListener, limiter: Arc<ConnLimiter>) -> Self {
        LimitedListener { listener, limiter }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = Limited<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    if let Some(admitted) = admit(&self.limiter, stream, peer) {
                        return (admitted, peer);
                    }
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    tracing::warn!(target: "polaris_limits", listener = self.limiter.listener(),
                        %err, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::ConnLimitOptions;
    use tokio::io::AsyncReadExt;
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn a_connection_over_the_limit_is_closed_and_a_freed_place_is_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limiter = ConnLimiter::new(
            "accept-test",
            ConnLimitOptions {
                open: true,
                max_conn_per_host: 1,
                max_conn_limit: 10,
                white_list: Vec::new(),
            },
        );
        let mut incoming = LimitedIncoming::new(listener, limiter.clone());
        let first = TcpStream::connect(addr).await.unwrap();
        let admitted = incoming.next().await.unwrap().unwrap();
        // A second connection of the same host is closed while the first is open: its socket
        // reads end of file, and the stream admits nothing meanwhile.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let deadline = Duration::from_secs(5);
        tokio::select! {
            item = incoming.next() => panic!("admitted over the limit: {item:?}"),
            read = tokio::time::timeout(deadline, second.read(&mut buf)) => {
                assert_eq!(read.expect("closed in time").unwrap_or(0), 0);
            }
        }
        drop(admitted);
        drop(first);
        let third = TcpStream::connect(addr).await.unwrap();
        let again = tokio::time::timeout(deadline, incoming.next())
            .await
            .expect("admitted once a place is free")
            .unwrap()
            .unwrap();
        assert_eq!(
            again.get_ref().peer_addr().unwrap(),
            third.local_addr().unwrap()
        );
        assert_eq!(limiter.open_connections(), 1);
    }
}
