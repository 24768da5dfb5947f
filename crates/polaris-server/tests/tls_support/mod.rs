//! Certificates made at test time (rcgen), clients that use them (ureq for HTTPS, tonic for
//! gRPC, a bare rustls handshake to see which certificate a port serves), and the real binary
//! started with `option.tls` on chosen listeners.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity as GrpcIdentity};

use crate::common::{START_DEADLINE, binary, free_port};

pub use polaris_testkit::tls::{Ca, Identity};

/// The certificates of one test: the server's (from `ca`), the CA of client certificates,
/// and a stranger CA nobody trusts.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    pub client_ca: Ca,
    pub stranger_ca: Ca,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub ca_file: PathBuf,
    pub client_ca_file: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("polaris test server CA");
        let client_ca = Ca::new("polaris test client CA");
        let stranger_ca = Ca::new("polaris test stranger CA");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca_file = write("ca.pem", &ca.pem);
        let client_ca_file = write("client-ca.pem", &client_ca.pem);
        let pki = Pki {
            server_cert: dir.path().join("server.pem"),
            server_key: dir.path().join("server.key"),
            ca_file,
            client_ca_file,
            ca,
            client_ca,
            stranger_ca,
            dir,
        };
        pki.reissue_server_certificate();
        pki
    }

    /// Writes a new server certificate and key (key first, as a renewal tool might; the
    /// server retries until the pair matches).
    pub fn reissue_server_certificate(&self) {
        let leaf = self.ca.leaf(&["localhost", "127.0.0.1"]);
        std::fs::write(&self.server_key, leaf.key).unwrap();
        std::fs::write(&self.server_cert, leaf.cert).unwrap();
    }

    /// The DER of the server certificate on disk now.
    pub fn server_leaf_der(&self) -> Vec<u8> {
        let pem = std::fs::read(&self.server_cert).unwrap();
        CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    }

    /// A client certificate the client CA issued.
    pub fn client_identity(&self) -> Identity {
        self.client_ca.leaf(&["polaris-client"])
    }

    /// A client certificate from a CA the server does not trust.
    pub fn stranger_identity(&self) -> Identity {
        self.stranger_ca.leaf(&["polaris-client"])
    }

    /// An HTTPS agent trusting the server CA, presenting `identity` if given.
    pub fn https_agent(&self, identity: Option<&Identity>) -> ureq::Agent {
        use ureq::tls::{Certificate as UCert, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let root = UCert::from_pem(self.ca.pem.as_bytes()).unwrap();
        let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[root]));
        if let Some(id) = identity {
            let cert = UCert::from_pem(id.cert.as_bytes()).unwrap();
            let key = PrivateKey::from_pem(id.key.as_bytes()).unwrap();
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into()
    }

    /// A connected gRPC channel over TLS to `127.0.0.1:port`.
    pub async fn grpc_channel(
        &self,
        port: u16,
        identity: Option<&Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.pem))
            .domain_name("localhost");
        if let Some(id) = identity {
            tls = tls.identity(GrpcIdentity::from_pem(&id.cert, &id.key));
        }
        Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
            .unwrap()
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
    }

    /// The leaf certificate `127.0.0.1:port` shows in a handshake (DER).
    pub async fn served_leaf(
        &self,
        port: u16,
        identity: Option<&Identity>,
    ) -> std::io::Result<Vec<u8>> {
        let config = polaris_testkit::tls::client_config(&self.ca, identity);
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await?;
        Ok(tls.get_ref().1.peer_certificates().unwrap()[0].to_vec())
    }
}

/// GET `url`: status and body, or the transport error (a refused handshake).
pub fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.get(url).header("Accept", "application/json").call()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok((status, body))
}

/// Writes a plain HTTP request to `127.0.0.1:port` and returns whatever comes back.
pub fn plain_http_exchange(port: u16) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// Calls a method no server has over `channel`: the gRPC status proves the transport works.
pub async fn unknown_grpc_method(channel: Channel) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/polaris.test.Nobody/Call");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    grpc.unary(tonic::Request::new(()), path, codec)
        .await
        .unwrap_err()
}

/// How the harness knows the server is up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// HTTPS `GET /` on api-http.
    Https,
    /// HTTPS `GET /` on api-http with a client certificate.
    Mtls,
    /// Plain `GET /` on api-http, or (without api-http) the first port accepting TCP.
    Plain,
}

/// The real binary with the listeners `names`, each with its `option.tls` line, if any.
pub struct TlsServer {
    dir: tempfile::TempDir,
    ports: Vec<(String, u16)>,
    child: Option<Child>,
}

impl TlsServer {
    /// Starts the server and waits until `probe` succeeds; the server's output when it exits
    /// instead.
    pub fn start(
        pki: &Pki,
        names: &[&str],
        tls: &[Option<String>],
        probe: Probe,
    ) -> Result<TlsServer, String> {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("apiservers:\n");
        let mut ports = Vec::new();
        for (name, tls) in names.iter().zip(tls) {
            let port = free_port();
            let tls = tls.as_ref().map(|t| format!(", {t}")).unwrap_or_default();
            yaml.push_str(&format!(
                "  - name: {name}\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {port}{tls} }}\n"
            ));
            ports.push((name.to_string(), port));
        }
        yaml.push_str(&format!(
            "store:\n  name: embedded\n  option: {{ path: \"{}\" }}\n",
            dir.path().join("data").display()
        ));
        let config = dir.path().join("polaris-server.yaml");
        std::fs::write(&config, yaml).unwrap();
        let stdout = File::create(dir.path().join("stdout.log")).unwrap();
        let stderr = File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(binary())
            .arg("start")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn polaris-server");
        let mut server = TlsServer {
            dir,
            ports,
            child: Some(child),
        };
        server.wait_ready(pki, probe)?;
        Ok(server)
    }

    fn wait_ready(&mut self, pki: &Pki, probe: Probe) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        let http = self
            .ports
            .iter()
            .find(|(n, _)| n == "api-http")
            .map(|p| p.1);
        let identity = pki.client_identity();
        let agent = match probe {
            Probe::Https | Probe::Plain => pki.https_agent(None),
            Probe::Mtls => pki.https_agent(Some(&identity)),
        };
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "exited with {status}\n{}{}",
                    self.stderr(),
                    self.stdout()
                ));
            }
            let up = match (http, probe) {
                (Some(port), Probe::Plain) => {
                    get(&agent, &format!("http://127.0.0.1:{port}/")).is_ok_and(|r| r.0 == 200)
                }
                (Some(port), _) => {
                    get(&agent, &format!("https://127.0.0.1:{port}/")).is_ok_and(|r| r.0 == 200)
                }
                (None, _) => std::net::TcpStream::connect(("127.0.0.1", self.ports[0].1)).is_ok(),
            };
            if up {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up within {START_DEADLINE:?}:\n{}",
                self.stdout()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports.iter().find(|(n, _)| n == name).unwrap().1
    }

    pub fn https_url(&self, name: &str, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port(name))
    }

    /// Sends `signal` (as `kill` spells it, e.g. `-HUP`) to the server.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
