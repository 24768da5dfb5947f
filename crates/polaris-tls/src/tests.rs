//! Real handshakes on loopback with certificates made by rcgen for each test.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_testkit::tls::{Ca, Identity};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

use crate::{ALPN_HTTP1, CertStore, Listener, TlsError, TlsFiles};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn server_files(dir: &Path, ca: &Ca, trusted: Option<&Ca>) -> TlsFiles {
    let Identity { cert, key } = ca.leaf(&["localhost", "127.0.0.1"]);
    TlsFiles {
        cert_file: write(dir, "server.pem", &cert),
        key_file: write(dir, "server.key", &key),
        trusted_ca_file: trusted.map(|t| write(dir, "clients-ca.pem", &t.pem)),
    }
}

/// A client trusting `ca`, presenting `identity` if given.
fn connector(ca: &Ca, identity: Option<Identity>) -> TlsConnector {
    let config = polaris_testkit::tls::client_config(ca, identity.as_ref());
    TlsConnector::from(Arc::new(config))
}

use rustls_pki_types::pem::PemObject;

/// Serves `listener`: every accepted connection is answered "hello" and closed.
async fn serve_hello(mut listener: Listener) {
    loop {
        let (mut conn, _) = listener.next().await;
        tokio::spawn(async move {
            let _ = conn.write_all(b"hello").await;
            let _ = conn.shutdown().await;
        });
    }
}

async fn tls_listener(certs: Arc<CertStore>) -> std::net::SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = Listener::tls(tcp, certs);
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_hello(listener));
    addr
}

/// Connects with `connector` and reads what the server says: the bytes and the leaf
/// certificate it showed, or the error.
async fn greet(
    addr: std::net::SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok((answer, leaf))
}

fn leaf_der(pem_file: &Path) -> Vec<u8> {
    let pem = std::fs::read(pem_file).unwrap();
    CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn bad_files_are_refused_with_the_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let good = server_files(dir.path(), &ca, None);

    let missing = TlsFiles {
        cert_file: dir.path().join("nope.pem"),
        ..good.clone()
    };
    let err = CertStore::open(missing, ALPN_HTTP1).err().unwrap();
    assert!(
        matches!(
            err,
            TlsError::Read {
                key: "certFile",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("nope.pem"), "{err}");

    let garbage = TlsFiles {
        cert_file: write(dir.path(), "garbage.pem", "not a certificate"),
        ..good.clone()
    };
    let err = CertStore::open(garbage, ALPN_HTTP1).err().unwrap();
    assert!(err.to_string().contains("no CERTIFICATE block"), "{err}");

    let other_key = ca.leaf(&["localhost"]).key;
    let wrong_key = TlsFiles {
        key_file: write(dir.path(), "other.key", &other_key),
        ..good.clone()
    };
    let err = CertStore::open(wrong_key, ALPN_HTTP1).err().unwrap();
    assert!(matches!(err, TlsError::Mismatch { .. }), "{err}");

    let no_key = TlsFiles {
        key_file: write(dir.path(), "empty.key", ""),
        ..good.clone()
    };
    let err = CertStore::open(no_key, ALPN_HTTP1).err().unwrap();
    assert!(matches!(err, TlsError::Pem { key: "keyFile", .. }), "{err}");

    let bad_ca = TlsFiles {
        trusted_ca_file: Some(write(dir.path(), "ca.pem", "")),
        ..good.clone()
    };
    let err = CertStore::open(bad_ca, ALPN_HTTP1).err().unwrap();
    assert!(
        matches!(
            err,
            TlsError::Pem {
                key: "trustedCAFile",
                ..
            }
        ),
        "{err}"
    );

    assert!(CertStore::open(good, ALPN_HTTP1).is_ok());
}

#[tokio::test]
async fn plain_text_on_a_tls_port_gets_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let certs = CertStore::open(server_files(dir.path(), &ca, None), ALPN_HTTP1).unwrap();
    let addr = tls_listener(certs).await;

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    assert!(!answer.windows(5).any(|w| w == b"hello"), "{answer:?}");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");

    let (answer, _) = greet(addr, &connector(&ca, None)).await.unwrap();
    assert_eq!(answer, b"hello");
}

#[tokio::test]
async fn a_trusted_ca_requires_a_client_certificate_it_issued() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let stranger_ca = Ca::new("stranger CA");
    let files = server_files(dir.path(), &server_ca, Some(&client_ca));
    let addr = tls_listener(CertStore::open(files, ALPN_HTTP1).unwrap()).await;

    let anonymous = greet(addr, &connector(&server_ca, None)).await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let stranger = connector(&server_ca, Some(stranger_ca.leaf(&["client"])));
    assert!(greet(addr, &stranger).await.is_err());

    let member = connector(&server_ca, Some(client_ca.leaf(&["client"])));
    let (answer, _) = greet(addr, &member).await.unwrap();
    assert_eq!(answer, b"hello");
}

#[tokio::test]
async fn new_files_are_served_to_new_connections_and_bad_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let files = server_files(dir.path(), &ca, None);
    let certs = CertStore::open(files.clone(), ALPN_HTTP1).unwrap();
    let addr = tls_listener(certs.clone()).await;
    let client = connector(&ca, None);
    let (_, first) = greet(addr, &client).await.unwrap();
    assert_eq!(first, leaf_der(&files.cert_file));

    // A rewrite is noticed by the watcher within a poll or two.
    let Identity { cert, key } = ca.leaf(&["localhost"]);
    std::fs::write(&files.key_file, key).unwrap();
    std::fs::write(&files.cert_file, cert).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while certs.generation() < 2 {
        assert!(Instant::now() < deadline, "the rewrite was not picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, second) = greet(addr, &client).await.unwrap();
    assert_eq!(second, leaf_der(&files.cert_file));
    assert_ne!(first, second);

    // A broken rewrite is refused and the current certificate stays.
    std::fs::write(&files.cert_file, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    assert!(certs.reload().is_err());
    let (_, still) = greet(addr, &client).await.unwrap();
    assert_eq!(still, second);
}
