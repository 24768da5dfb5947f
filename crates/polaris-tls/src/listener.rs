//! One listener type for every port, plain or TLS, served by axum and by tonic alike.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::CertStore;
use crate::socket::Socket;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the server to take them.
const READY_QUEUE: usize = 128;

/// Decides, for each accepted TCP connection and before a byte is read from it (so before a
/// TLS handshake), whether it is served. What it returns is kept with the connection and
/// dropped when the connection closes (a connection-count permit); `None` closes it at once.
pub type Admission = Arc<dyn Fn(SocketAddr) -> Option<Guard> + Send + Sync>;

/// What an [`Admission`] keeps alive for as long as its connection.
pub type Guard = Box<dyn Send + Sync>;

/// A bound listener: plain TCP, or TLS with certificates from a [`CertStore`].
pub struct Listener {
    local_addr: io::Result<SocketAddr>,
    kind: Kind,
    admission: Option<Admission>,
    coalesce: bool,
}

enum Kind {
    Plain(TcpListener),
    /// TLS, not accepting yet (the accept task starts on the first `next`).
    TlsIdle(Option<(TcpListener, Arc<CertStore>)>),
    Tls {
        ready: mpsc::Receiver<(Conn, SocketAddr)>,
        acceptor: JoinHandle<()>,
    },
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Listener::plain(listener)
    }
}

impl Listener {
    /// Serves `listener` in plain text.
    pub fn plain(listener: TcpListener) -> Self {
        Listener {
            local_addr: listener.local_addr(),
            kind: Kind::Plain(listener),
            admission: None,
            coalesce: false,
        }
    }

    /// Serves `listener` over TLS only: a client that does not complete a handshake with the
    /// store's current certificate (plain text, an untrusted or missing client certificate when
    /// the store requires one) is disconnected without reaching the server.
    pub fn tls(listener: TcpListener, certs: Arc<CertStore>) -> Self {
        Listener {
            local_addr: listener.local_addr(),
            kind: Kind::TlsIdle(Some((listener, certs))),
            admission: None,
            coalesce: false,
        }
    }

    /// Serves only the connections `admission` admits (see [`Admission`]).
    pub fn admitting(mut self, admission: Admission) -> Self {
        self.admission = Some(admission);
        self
    }

    /// Coalesces each connection's writes (see [`crate::socket`]): for HTTP/2, where h2 hands
    /// most frames to the socket one by one and flushes after each.
    pub fn coalescing_writes(mut self) -> Self {
        self.coalesce = true;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.local_addr {
            Ok(addr) => Ok(*addr),
            Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
        }
    }

    /// Whether this listener speaks TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self.kind, Kind::Plain(_))
    }

    /// The next connection (handshaken, on a TLS listener).
    pub async fn next(&mut self) -> (Conn, SocketAddr) {
        if let Kind::TlsIdle(idle) = &mut self.kind
            && let Some((listener, certs)) = idle.take()
        {
            let (sender, ready) = mpsc::channel(READY_QUEUE);
            let admission = self.admission.clone();
            let coalesce = self.coalesce;
            let acceptor = tokio::spawn(accept_tls(listener, certs, (admission, coalesce), sender));
            self.kind = Kind::Tls { ready, acceptor };
        }
        match &mut self.kind {
            Kind::Plain(listener) => loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if let Some(guard) = admit(self.admission.as_ref(), &stream, peer) {
                            let socket = Socket::new(stream, self.coalesce);
                            return (Conn::new(Io::Plain(socket), guard), peer);
                        }
                    }
                    Err(err) => accept_failed(err).await,
                }
            },
            // Started above; only a listener whose start was taken stays idle.
            Kind::TlsIdle(_) => std::future::pending().await,
            Kind::Tls { ready, .. } => match ready.recv().await {
                Some(accepted) => accepted,
                // The accept task only ends when the listener is dropped.
                None => std::future::pending().await,
            },
        }
    }

    /// The connections as the stream tonic's `serve_with_incoming` takes.
    pub fn into_incoming(self) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
        Incoming {
            next: None,
            listener: Some(self),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Kind::Tls { acceptor, .. } = &self.kind {
            acceptor.abort();
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        self.next().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(self)
    }
}

type NextConn = Pin<Box<dyn std::future::Future<Output = (Listener, Conn)> + Send>>;

/// [`Listener::into_incoming`]: polls one `next()` at a time, moving the listener into it.
struct Incoming {
    next: Option<NextConn>,
    listener: Option<Listener>,
}

impl Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.next.is_none() {
            let Some(mut listener) = this.listener.take() else {
                return Poll::Ready(None);
            };
            this.next = Some(Box::pin(async move {
                let (conn, _) = listener.next().await;
                (listener, conn)
            }));
        }
        let Some(next) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        match next.as_mut().poll(cx) {
            Poll::Ready((listener, conn)) => {
                this.next = None;
                this.listener = Some(listener);
                Poll::Ready(Some(Ok(conn)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Accepts TCP connections and shakes hands with each in its own task.
async fn accept_tls(
    listener: TcpListener,
    certs: Arc<CertStore>,
    (admission, coalesce): (Option<Admission>, bool),
    ready: mpsc::Sender<(Conn, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                accept_failed(err).await;
                continue;
            }
        };
        let Some(guard) = admit(admission.as_ref(), &stream, peer) else {
            continue;
        };
        let acceptor = certs.acceptor();
        let ready = ready.clone();
        tokio::spawn(async move {
            let socket = Socket::new(stream, coalesce);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                Ok(Ok(tls)) => {
                    let conn = Conn::new(Io::Tls(Box::new(tls)), guard);
                    let _ = ready.send((conn, peer)).await;
                }
                Ok(Err(err)) => {
                    tracing::debug!(target: "polaris_tls", %peer, %err, "TLS handshake failed");
                }
                Err(_) => {
                    tracing::debug!(target: "polaris_tls", %peer, "TLS handshake timed out");
                }
            }
        });
    }
}

/// Runs the admission (dropping the stream closes a refused connection) and sets
/// TCP_NODELAY on an admitted one.
fn admit(
    admission: Option<&Admission>,
    stream: &TcpStream,
    peer: SocketAddr,
) -> Option<Option<Guard>> {
    let guard = match admission {
        Some(admission) => Some(admission(peer)?),
        None => None,
    };
    nodelay(stream);
    Some(guard)
}

fn nodelay(stream: &TcpStream) {
    // Nagle plus delayed ACKs add tens of milliseconds to small replies.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(target: "polaris_tls", %err, "cannot set TCP_NODELAY");
    }
}

/// An accept error: a connection that died in the backlog is skipped at once; anything else
/// (out of file descriptors) is retried after a pause instead of spinning.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(target: "polaris_tls", %err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One accepted connection, with what its admission keeps alive.
pub struct Conn {
    io: Io,
    _guard: Option<Guard>,
}

enum Io {
    /// Plain TCP.
    Plain(Socket),
    /// TLS over TCP, handshake done.
    Tls(Box<TlsStream<Socket>>),
}

impl Conn {
    fn new(io: Io, guard: Option<Guard>) -> Self {
        Conn { io, _guard: guard }
    }

    fn socket(&self) -> &Socket {
        match &self.io {
            Io::Plain(socket) => socket,
            Io::Tls(tls) => tls.get_ref().0,
        }
    }
}

/// The same connection info as a plain TCP stream, so `Request::remote_addr` and extractors of
/// `TcpConnectInfo` work unchanged behind TLS.
impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.socket().connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(stream) => stream.is_write_vectored(),
            Io::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
