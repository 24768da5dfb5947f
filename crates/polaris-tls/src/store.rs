//! The live server configuration of one TLS listener, re-read when its files change or on
//! SIGHUP. New connections get the newest certificate; open ones keep the one they shook hands
//! with. A reload that fails (a file half written, a key that does not match) keeps the previous
//! configuration and says why in the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio_rustls::TlsAcceptor;

use crate::load::{Contents, TlsError, TlsFiles};

/// How often the files are compared with what is being served.
pub const RELOAD_POLL: Duration = Duration::from_secs(1);

/// The certificate, key and client CAs of one listener, kept current.
pub struct CertStore {
    files: TlsFiles,
    alpn: &'static [&'static [u8]],
    current: ArcSwap<rustls::ServerConfig>,
    last: Mutex<Seen>,
    generation: AtomicU64,
}

/// What the last look at the files found.
#[derive(PartialEq)]
enum Seen {
    /// Files with this fingerprint (loaded, or refused once and not retried until they change).
    Content(u64),
    /// The files could not be read, for this reason (logged once per reason).
    Failed(String),
}

impl CertStore {
    /// Loads `files` for a listener offering the ALPN protocols `alpn`, and starts watching
    /// them (a task on the current tokio runtime, ended when the store is dropped).
    pub fn open(files: TlsFiles, alpn: &'static [&'static [u8]]) -> Result<Arc<Self>, TlsError> {
        let contents = Contents::read(&files)?;
        let config = contents.server_config(&files, alpn)?;
        let store = Arc::new(CertStore {
            last: Mutex::new(Seen::Content(contents.fingerprint())),
            files,
            alpn,
            current: ArcSwap::from_pointee(config),
            generation: AtomicU64::new(1),
        });
        tokio::spawn(watch(Arc::downgrade(&store)));
        Ok(store)
    }

    /// The files this store serves.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// An acceptor with the newest configuration.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// How many configurations have been installed (1 after [`open`](Self::open)).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Re-reads the files now, whether or not they changed. `Ok(true)` when a new
    /// configuration was installed; on an error the previous one stays.
    pub fn reload(&self) -> Result<bool, TlsError> {
        self.check(true)
    }

    /// Re-reads the files and installs them if their content changed (or `forced`).
    fn check(&self, forced: bool) -> Result<bool, TlsError> {
        let cert = self.files.cert_file.display();
        let contents = Contents::read(&self.files);
        let mut last = self.last.lock();
        let contents = match contents {
            Ok(contents) => contents,
            Err(err) => {
                let reason = err.to_string();
                if forced || *last != Seen::Failed(reason.clone()) {
                    tracing::warn!(target: "polaris_tls", %err, "cannot re-read TLS files; keeping the certificate being served");
                }
                *last = Seen::Failed(reason);
                return Err(err);
            }
        };
        let fingerprint = contents.fingerprint();
        if !forced && *last == Seen::Content(fingerprint) {
            return Ok(false);
        }
        *last = Seen::Content(fingerprint);
        match contents.server_config(&self.files, self.alpn) {
            Ok(config) => {
                self.current.store(Arc::new(config));
                let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
                tracing::info!(target: "polaris_tls", %cert, generation, "TLS certificate loaded");
                Ok(true)
            }
            Err(err) => {
                tracing::warn!(target: "polaris_tls", %err, "new TLS files refused; keeping the certificate being served");
                Err(err)
            }
        }
    }
}

/// Looks at the files every [`RELOAD_POLL`] and at once on SIGHUP, while the store lives.
async fn watch(store: Weak<CertStore>) {
    let mut hangup = hangups();
    let mut tick = tokio::time::interval(RELOAD_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = next_hangup(&mut hangup) => true,
        };
        let Some(store) = store.upgrade() else {
            return;
        };
        if forced {
            tracing::info!(target: "polaris_tls", cert = %store.files.cert_file.display(), "SIGHUP: re-reading TLS files");
        }
        // Small local files, but still blocking IO: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || store.check(forced)).await;
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(err) => {
            tracing::warn!(target: "polaris_tls", %err, "cannot listen for SIGHUP; TLS files are still re-read when they change");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

/// The next SIGHUP; never, when signals are not available.
async fn next_hangup(hangup: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}
