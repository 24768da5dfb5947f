//! TLS for every polaris-rs listener. [`TlsFiles`] names the PEM files of the official
//! `apiservers[].option.tls` block (`certFile`, `keyFile`, `trustedCAFile`; a trusted CA turns on
//! client-certificate verification). [`CertStore`] turns them into a rustls server
//! configuration and keeps it current: it re-reads the files when their content changes or the
//! process gets SIGHUP, and keeps serving the previous certificate when the new files are bad.
//! [`Listener`] wraps a bound TCP listener, plain or TLS, and is served unchanged by axum (it
//! implements `axum::serve::Listener`) and by tonic ([`Listener::into_incoming`]); on a TLS
//! listener every handshake runs in its own task, so a slow or plain-text client delays nobody.

mod listener;
mod load;
mod socket;
mod store;

pub use listener::{Conn, Listener};
pub use load::{TlsError, TlsFiles};
pub use store::{CertStore, RELOAD_POLL};

/// ALPN protocols of a gRPC listener (HTTP/2 only; gRPC clients insist on `h2`).
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];

/// ALPN protocols of an HTTP/1.1 listener (the OpenAPI, Eureka and the console).
pub const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

#[cfg(test)]
mod tests;
