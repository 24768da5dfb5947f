//! From PEM files to a rustls server configuration, with errors that name the file at fault.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The files of one listener's `option.tls` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `certFile`: the server's certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// `keyFile`: the private key of the leaf certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// `trustedCAFile`: CA certificates (PEM). When set, every client must present a
    /// certificate issued by one of them (mutual TLS).
    pub trusted_ca_file: Option<PathBuf>,
}

/// Why a listener's TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{key} {path}: cannot read: {source}")]
    Read {
        /// The configuration key that names the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file holds no usable PEM block of the expected kind, or a malformed one.
    #[error("{key} {path}: {detail}")]
    Pem {
        /// The configuration key that names the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The files are readable but do not make a configuration (for instance the key does not
    /// belong to the certificate).
    #[error("certFile {cert} with keyFile {key}: {detail}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        detail: String,
    },
}

/// The bytes of the files, read once so that a fingerprint and a configuration come from the
/// same content.
pub(crate) struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Option<Vec<u8>>,
}

impl Contents {
    /// Reads every file of `files`.
    pub(crate) fn read(files: &TlsFiles) -> Result<Contents, TlsError> {
        Ok(Contents {
            cert: read("certFile", &files.cert_file)?,
            key: read("keyFile", &files.key_file)?,
            ca: match &files.trusted_ca_file {
                Some(path) => Some(read("trustedCAFile", path)?),
                None => None,
            },
        })
    }

    /// A hash of the content: equal fingerprints mean nothing changed.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.cert.hash(&mut hasher);
        self.key.hash(&mut hasher);
        self.ca.hash(&mut hasher);
        hasher.finish()
    }

    /// The server configuration these files describe, offering `alpn`.
    pub(crate) fn server_config(
        &self,
        files: &TlsFiles,
        alpn: &[&[u8]],
    ) -> Result<rustls::ServerConfig, TlsError> {
        let chain = certificates("certFile", &files.cert_file, &self.cert)?;
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|e| TlsError::Pem {
            key: "keyFile",
            path: files.key_file.clone(),
            detail: format!("no usable private key: {e}"),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| mismatch(files, e))?;
        let builder = match (&files.trusted_ca_file, &self.ca) {
            (Some(path), Some(ca)) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates("trustedCAFile", path, ca)? {
                    roots.add(cert).map_err(|e| TlsError::Pem {
                        key: "trustedCAFile",
                        path: path.clone(),
                        detail: format!("not a usable CA certificate: {e}"),
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TlsError::Pem {
                            key: "trustedCAFile",
                            path: path.clone(),
                            detail: e.to_string(),
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| mismatch(files, e))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_path_buf(),
        source,
    })
}

/// Every `CERTIFICATE` block of `pem`; at least one.
fn certificates(
    key: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |detail: String| TlsError::Pem {
        key,
        path: path.to_path_buf(),
        detail,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn mismatch(files: &TlsFiles, err: rustls::Error) -> TlsError {
    TlsError::Mismatch {
        cert: files.cert_file.clone(),
        key: files.key_file.clone(),
        detail: err.to_string(),
    }
}
