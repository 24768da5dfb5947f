//! Connection counts per listener and per client address, in the official `connLimit` shape
//! (`openConnLimit`, `maxConnPerHost`, `maxConnLimit`, `whiteList`). A connection over a limit
//! is closed as soon as it is accepted, before a byte is read, as the official server's limited
//! listener does; every admitted connection holds a [`ConnPermit`] that gives its place back
//! when the connection is dropped, so the counts are exact and need no purging.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::metrics::{Limit, metrics};

/// `apiservers[].option.connLimit` of one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnLimitOptions {
    /// `openConnLimit`: the switch (default on).
    pub open: bool,
    /// `maxConnPerHost`: open connections one client address may hold (default 512).
    pub max_conn_per_host: usize,
    /// `maxConnLimit`: open connections of the whole listener (default 20480).
    pub max_conn_limit: usize,
    /// `whiteList`: addresses never refused (default `127.0.0.1`, as in the official sample).
    pub white_list: Vec<IpAddr>,
}

impl Default for ConnLimitOptions {
    fn default() -> Self {
        ConnLimitOptions {
            open: true,
            max_conn_per_host: 512,
            max_conn_limit: 20_480,
            white_list: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        }
    }
}

/// Why a connection was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnRefusal {
    /// The client address already holds `maxConnPerHost` connections.
    PerHost,
    /// The listener already holds `maxConnLimit` connections.
    PerListener,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_host: HashMap<IpAddr, usize>,
}

/// The connection counts of one listener.
pub struct ConnLimiter {
    listener: String,
    options: ConnLimitOptions,
    counts: Mutex<Counts>,
}

impl ConnLimiter {
    /// A limiter for the listener named `listener` (the `apiservers` entry name, used as the
    /// metrics label).
    pub fn new(listener: &str, options: ConnLimitOptions) -> Arc<ConnLimiter> {
        Arc::new(ConnLimiter {
            listener: listener.to_string(),
            options,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The listener's name.
    pub fn listener(&self) -> &str {
        &self.listener
    }

    /// Admits a connection from `ip`, or says which limit it would pass (and counts that).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, ConnRefusal> {
        let ip = ip.to_canonical();
        let exempt = !self.options.open || self.options.white_list.contains(&ip);
        let mut counts = self.counts.lock();
        if !exempt {
            if counts.total >= self.options.max_conn_limit {
                drop(counts);
                metrics().refused(Limit::ConnectionsPerListener, &self.listener);
                return Err(ConnRefusal::PerListener);
            }
            if counts.per_host.get(&ip).copied().unwrap_or(0) >= self.options.max_conn_per_host {
                drop(counts);
                metrics().refused(Limit::ConnectionsPerHost, &self.listener);
                return Err(ConnRefusal::PerHost);
            }
        }
        counts.total += 1;
        // Exempt clients are counted in the total (the gauge shows them) but not per host.
        if !exempt {
            *counts.per_host.entry(ip).or_default() += 1;
        }
        drop(counts);
        metrics().connections(&self.listener).inc();
        Ok(ConnPermit {
            limiter: self.clone(),
            host: (!exempt).then_some(ip),
        })
    }

    /// Open connections of the listener.
    pub fn open_connections(&self) -> usize {
        self.counts.lock().total
    }

    /// Client addresses with at least one counted connection (exempt ones are not tracked).
    pub fn tracked_hosts(&self) -> usize {
        self.counts.lock().per_host.len()
    }

    fn release(&self, host: Option<IpAddr>) {
        let mut counts = self.counts.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = host
            && let Some(n) = counts.per_host.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_host.remove(&ip);
            }
        }
        drop(counts);
        metrics().connections(&self.listener).dec();
    }
}

/// A place in the counts, given back on drop.
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    host: Option<IpAddr>,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        self.limiter.release(self.host);
    }
}

impl std::fmt::Debug for ConnPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnPermit")
            .field("listener", &self.limiter.listener)
            .field("host", &self.host)
            .finish()
    }
}

/// The connection admission of a listener (`polaris_tls::Admission`): admits a client through
/// `limiter`, keeping the permit with the connection, or closes it at once when the client is
/// over a limit.
pub type Admission = Arc<dyn Fn(SocketAddr) -> Option<Box<dyn Send + Sync>> + Send + Sync>;

impl ConnLimiter {
    /// This limiter as a listener's connection admission.
    pub fn admission(self: &Arc<Self>) -> Admission {
        let limiter = Arc::clone(self);
        Arc::new(move |peer: SocketAddr| match limiter.admit(peer.ip()) {
            Ok(permit) => Some(Box::new(permit) as Box<dyn Send + Sync>),
            Err(refusal) => {
                tracing::debug!(target: "polaris_limits", listener = limiter.listener(), %peer,
                    ?refusal, "connection refused: over the limit");
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn limiter(per_host: usize, total: usize) -> Arc<ConnLimiter> {
        ConnLimiter::new(
            "test",
            ConnLimitOptions {
                open: true,
                max_conn_per_host: per_host,
                max_conn_limit: total,
                white_list: vec![ip(9)],
            },
        )
    }

    #[test]
    fn a_host_over_its_limit_is_refused_and_others_are_not() {
        let limiter = limiter(2, 100);
        let a1 = limiter.admit(ip(1)).unwrap();
        let _a2 = limiter.admit(ip(1)).unwrap();
        assert_eq!(limiter.admit(ip(1)).unwrap_err(), ConnRefusal::PerHost);
        let _b = limiter.admit(ip(2)).unwrap();
        drop(a1);
        let _a3 = limiter.admit(ip(1)).expect("a place was given back");
        assert_eq!(limiter.open_connections(), 3);
    }

    #[test]
    fn the_listener_total_caps_everyone_but_the_white_list() {
        let limiter = limiter(10, 2);
        let _a = limiter.admit(ip(1)).unwrap();
        let _b = limiter.admit(ip(2)).unwrap();
        assert_eq!(limiter.admit(ip(3)).unwrap_err(), ConnRefusal::PerListener);
        let _white = limiter.admit(ip(9)).expect("white-listed");
        assert_eq!(limiter.open_connections(), 3);
    }

    #[test]
    fn counts_forget_hosts_that_left() {
        let limiter = limiter(10, 100);
        let permits: Vec<_> = (10..60).map(|n| limiter.admit(ip(n)).unwrap()).collect();
        assert_eq!(limiter.tracked_hosts(), 50);
        drop(permits);
        assert_eq!(limiter.tracked_hosts(), 0);
        assert_eq!(limiter.open_connections(), 0);
    }

    #[test]
    fn a_closed_switch_admits_everything() {
        let limiter = ConnLimiter::new(
            "test",
            ConnLimitOptions {
                open: false,
                max_conn_per_host: 0,
                max_conn_limit: 0,
                white_list: Vec::new(),
            },
        );
        let _a = limiter.admit(ip(1)).unwrap();
        let _b = limiter.admit(ip(1)).unwrap();
    }

    #[test]
    fn mapped_v6_addresses_count_as_their_v4_host() {
        let limiter = limiter(1, 100);
        let _a = limiter.admit(ip(1)).unwrap();
        let mapped = match ip(1) {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => IpAddr::V6(v6),
        };
        assert_eq!(limiter.admit(mapped).unwrap_err(), ConnRefusal::PerHost);
    }
}
