//! The TCP side of an accepted connection: the stream itself, or the stream with its writes
//! coalesced by a writer task of its own.
//!
//! Why coalesce: h2 hands a DATA frame of more than 256 bytes to the IO on its own (the frame
//! header in its buffer, the payload chained behind it) and flushes the IO before it takes the
//! next frame, so a push to many streams of one connection became one `writev` per stream,
//! each running the loopback receiver's TCP path in the sender's system call. A coalescing
//! socket takes the bytes into a buffer and answers a flush at once; its writer task wakes
//! after the connection's task yields and writes everything queued by then in one system call
//! (up to [`BUFFER_LIMIT`] at a time). Backpressure is kept: a write waits while the buffer
//! holds [`BUFFER_LIMIT`] bytes. A write error is reported by the next write or flush; a
//! shutdown waits until the buffer is on the wire. Dropping the socket stops its writer.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpConnectInfo;

/// How many bytes a coalescing socket buffers before writes wait for its writer.
pub(crate) const BUFFER_LIMIT: usize = 64 * 1024;

/// The buffer a burst starts with.
const BUFFER_START: usize = 8 * 1024;

/// An accepted TCP connection.
pub(crate) enum Socket {
    Direct(TcpStream),
    Coalescing(Coalescing),
}

impl Socket {
    pub(crate) fn new(stream: TcpStream, coalesce: bool) -> Socket {
        if coalesce {
            Socket::Coalescing(Coalescing::new(stream))
        } else {
            Socket::Direct(stream)
        }
    }

    pub(crate) fn connect_info(&self) -> TcpConnectInfo {
        match self {
            Socket::Direct(stream) => TcpConnectInfo {
                local_addr: stream.local_addr().ok(),
                remote_addr: stream.peer_addr().ok(),
            },
            Socket::Coalescing(socket) => TcpConnectInfo {
                local_addr: socket.local_addr,
                remote_addr: socket.peer_addr,
            },
        }
    }
}

/// A TCP stream whose writes go through a buffer drained by a writer task.
pub(crate) struct Coalescing {
    read: OwnedReadHalf,
    shared: Arc<Shared>,
    writer: JoinHandle<()>,
    local_addr: Option<SocketAddr>,
    peer_addr: Option<SocketAddr>,
}

struct Shared {
    state: parking_lot::Mutex<State>,
    /// Wakes the writer task: bytes to write, or a shutdown asked for.
    work: Notify,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// What the writer failed with; every later write, flush or shutdown answers it.
    failed: Option<(io::ErrorKind, String)>,
    /// A write waiting for room, or a shutdown waiting for the buffer to drain.
    waiting: Option<Waker>,
    shutdown_asked: bool,
    shut: bool,
}

impl State {
    fn error(&self) -> Option<io::Error> {
        let (kind, text) = self.failed.as_ref()?;
        Some(io::Error::new(*kind, text.clone()))
    }

    fn wait(&mut self, cx: &Context<'_>) {
        match &self.waiting {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waiting = Some(cx.waker().clone()),
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }
}

impl Coalescing {
    fn new(stream: TcpStream) -> Coalescing {
        let (local_addr, peer_addr) = (stream.local_addr().ok(), stream.peer_addr().ok());
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            state: parking_lot::Mutex::new(State::default()),
            work: Notify::new(),
        });
        let writer = tokio::spawn(write_out(write, shared.clone()));
        Coalescing {
            read,
            shared,
            writer,
            local_addr,
            peer_addr,
        }
    }

    /// Copies as much of `bufs` as fits into the buffer.
    fn poll_take(&self, cx: &Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let mut state = self.shared.state.lock();
        if let Some(err) = state.error() {
            return Poll::Ready(Err(err));
        }
        let room = BUFFER_LIMIT.saturating_sub(state.buffer.len());
        if room == 0 {
            state.wait(cx);
            drop(state);
            self.shared.work.notify_one();
            return Poll::Pending;
        }
        if state.buffer.capacity() == 0 {
            let wanted: usize = bufs.iter().map(|b| b.len()).sum();
            state.buffer.reserve(wanted.clamp(BUFFER_START, room));
        }
        let mut taken = 0;
        for buf in bufs {
            let part = &buf[..buf.len().min(room - taken)];
            state.buffer.extend_from_slice(part);
            taken += part.len();
            if taken == room {
                break;
            }
        }
        Poll::Ready(Ok(taken))
    }
}

impl Drop for Coalescing {
    fn drop(&mut self) {
        self.writer.abort();
    }
}

/// The writer task: writes what the buffer holds whenever woken, until a shutdown or an error.
async fn write_out(mut write: OwnedWriteHalf, shared: Arc<Shared>) {
    let mut out = Vec::new();
    loop {
        let shutdown = {
            let mut state = shared.state.lock();
            std::mem::swap(&mut state.buffer, &mut out);
            if !out.is_empty() {
                // Room again for a waiting write.
                state.wake();
            }
            state.shutdown_asked
        };
        if out.is_empty() {
            if shutdown {
                let result = write.shutdown().await;
                let mut state = shared.state.lock();
                if let Err(err) = result {
                    state.failed = Some((err.kind(), err.to_string()));
                }
                state.shut = true;
                state.wake();
                return;
            }
            shared.work.notified().await;
            // Let the tasks that are ready now run first: the streams of this connection
            // queue their frames and the connection's task hands them over, so this wake-up
            // writes them all at once.
            tokio::task::yield_now().await;
            continue;
        }
        if let Err(err) = write.write_all(&out).await {
            let mut state = shared.state.lock();
            state.failed = Some((err.kind(), err.to_string()));
            state.wake();
            return;
        }
        // The next burst allocates its own buffer: an idle connection keeps none.
        out = Vec::new();
    }
}

impl AsyncRead for Coalescing {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().read).poll_read(cx, buf)
    }
}

impl AsyncWrite for Coalescing {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Hands the buffer to the writer task and returns: the bytes go out once the caller's
    /// task yields.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let state = self.shared.state.lock();
        if let Some(err) = state.error() {
            return Poll::Ready(Err(err));
        }
        let pending = !state.buffer.is_empty();
        drop(state);
        if pending {
            self.shared.work.notify_one();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.state.lock();
        if state.shut {
            return Poll::Ready(state.error().map_or(Ok(()), Err));
        }
        if let Some(err) = state.error() {
            return Poll::Ready(Err(err));
        }
        state.shutdown_asked = true;
        state.wait(cx);
        drop(state);
        self.shared.work.notify_one();
        Poll::Pending
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Direct(stream) => Pin::new(stream).poll_read(cx, buf),
            Socket::Coalescing(socket) => Pin::new(socket).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Direct(stream) => Pin::new(stream).poll_write(cx, buf),
            Socket::Coalescing(socket) => Pin::new(socket).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Direct(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Socket::Coalescing(socket) => Pin::new(socket).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Socket::Direct(stream) => stream.is_write_vectored(),
            Socket::Coalescing(socket) => socket.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Direct(stream) => Pin::new(stream).poll_flush(cx),
            Socket::Coalescing(socket) => Pin::new(socket).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Direct(stream) => Pin::new(stream).poll_shutdown(cx),
            Socket::Coalescing(socket) => Pin::new(socket).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::{BUFFER_LIMIT, Socket};

    /// A coalescing server side and the client's stream of one loopback connection.
    async fn pair() -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (Socket::new(accepted.unwrap().0, true), client.unwrap())
    }

    #[tokio::test]
    async fn writes_arrive_whole_and_in_order_and_shutdown_ends_them() {
        let (mut server, mut client) = pair().await;
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut sent = Vec::new();
        for i in 0..2_000u32 {
            // Sizes around h2's 256-byte chain threshold and over the buffer's limit.
            let len = [1, 9, 300, 1_960, 20_000, BUFFER_LIMIT + 7][i as usize % 6];
            let chunk: Vec<u8> = (0..len).map(|b| (b as u32 ^ i) as u8).collect();
            let halves = [
                std::io::IoSlice::new(&chunk[..len / 2]),
                std::io::IoSlice::new(&chunk[len / 2..]),
            ];
            let mut written = 0;
            while written < len {
                written += if written == 0 {
                    server.write_vectored(&halves).await.unwrap()
                } else {
                    server.write(&chunk[written..]).await.unwrap()
                };
            }
            server.flush().await.unwrap();
            sent.extend_from_slice(&chunk);
        }
        server.shutdown().await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(30), reader)
            .await
            .expect("the peer reads to the end")
            .unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "bytes changed or reordered");
    }

    #[tokio::test]
    async fn a_peer_that_does_not_read_holds_writes_back() {
        let (mut server, _client) = pair().await;
        let chunk = vec![7u8; 16 * 1024];
        let mut accepted = 0usize;
        // Until a write stays pending: the kernel's buffers are full, then ours.
        loop {
            let write = tokio::time::timeout(Duration::from_millis(200), server.write(&chunk));
            match write.await {
                Ok(written) => accepted += written.unwrap(),
                Err(_) => break,
            }
            assert!(accepted < 256 * 1024 * 1024, "writes never wait");
        }
        let Socket::Coalescing(socket) = &server else {
            unreachable!()
        };
        assert_eq!(socket.shared.state.lock().buffer.len(), BUFFER_LIMIT);
    }

    #[tokio::test]
    async fn writes_fail_once_the_peer_is_gone() {
        let (mut server, client) = pair().await;
        // Closed: the first bytes it gets are answered with a reset.
        drop(client);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let failed = loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "writes keep succeeding"
            );
            let wrote = server.write(b"after the reset").await;
            let flushed = server.flush().await;
            if let Err(err) = wrote.and(flushed) {
                break err;
            }
            tokio::task::yield_now().await;
        };
        assert!(
            matches!(
                failed.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{failed:?}"
        );
    }
}
