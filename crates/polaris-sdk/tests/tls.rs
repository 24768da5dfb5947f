//! The SDK over TLS, as `polaris.yaml` asks (polaris-java's keys `trustedCAFile`, `certFile`,
//! `keyFile` of `global.serverConnector`), against the real server with both gRPC ports on
//! TLS and client certificates required.

use polaris_testkit as support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use polaris_sdk::{Client, InstanceSpec, ServiceKey};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use support::{TestServer, eventually};

/// A CA written to `dir/<name>-ca.pem` that signs leaves into `dir`.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    dir: PathBuf,
    name: String,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join(format!("{name}-ca.pem")), cert.pem()).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
            dir: dir.to_path_buf(),
            name: name.to_owned(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// Writes a leaf for `names` as `<leaf>.pem` / `<leaf>.key`; returns both paths.
    fn leaf(&self, leaf: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let (cert_file, key_file) = (
            self.dir.join(format!("{leaf}.pem")),
            self.dir.join(format!("{leaf}.key")),
        );
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }
}

async fn client_from_yaml(dir: &Path, server: &TestServer, identity: &str) -> Client {
    let yaml = format!(
        "global:\n  serverConnector:\n    addresses: [\"{}\"]\n{identity}config:\n  configConnector:\n    addresses: [\"{}\"]\n",
        server.naming_addr(),
        server.config_addr(),
    );
    let file = dir.join(format!("polaris-{}.yaml", identity.len()));
    std::fs::write(&file, yaml).unwrap();
    Client::builder()
        .config_file(file)
        .persist_dir(None)
        .config_persist_dir(None)
        .timeout(Duration::from_secs(3))
        .build()
        .await
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_speaks_mutual_tls_when_polaris_yaml_asks() {
    let pki = tempfile::tempdir().unwrap();
    let server_ca = Ca::new(pki.path(), "server");
    let client_ca = Ca::new(pki.path(), "client");
    let (cert, key) = server_ca.leaf("server", &["localhost", "127.0.0.1"]);
    let server = TestServer::start_with_grpc_option(&format!(
        "tls: {{ certFile: \"{}\", keyFile: \"{}\", trustedCAFile: \"{}\" }}",
        cert.display(),
        key.display(),
        client_ca.file().display()
    ));
    server.publish_file("tls", "app.yaml", "greeting: over tls\n", false);

    let (client_cert, client_key) = client_ca.leaf("client", &["sdk-client"]);
    let identity = format!(
        "    trustedCAFile: \"{}\"\n    certFile: \"{}\"\n    keyFile: \"{}\"\n",
        server_ca.file().display(),
        client_cert.display(),
        client_key.display()
    );
    let client = client_from_yaml(pki.path(), &server, &identity).await;
    let registration = client
        .provider()
        .register(InstanceSpec::new("default", "tls-echo", "127.0.0.1", 9100))
        .await
        .expect("registration over mutual TLS");
    assert!(!registration.instance_id().is_empty());
    let key = ServiceKey::new("default", "tls-echo");
    let ports = eventually("instance visible", Duration::from_secs(15), async || {
        let all = client.consumer().get_all_instances(&key).await.ok()?;
        (!all.instances.is_empty())
            .then(|| all.instances.iter().map(|i| i.port).collect::<Vec<_>>())
    })
    .await;
    assert_eq!(ports, [9100]);
    // The config connector has no TLS keys of its own: it uses the naming connector's.
    let file = client
        .config()
        .get_file("default", "tls", "app.yaml")
        .await
        .expect("config over mutual TLS");
    assert_eq!(file.content, "greeting: over tls\n");

    // Trusting the server but without a client certificate: refused by the server.
    let anonymous = format!("    trustedCAFile: \"{}\"\n", server_ca.file().display());
    let refused = client_from_yaml(pki.path(), &server, &anonymous).await;
    let result = refused
        .provider()
        .register(InstanceSpec::new("default", "tls-echo", "127.0.0.1", 9101))
        .await;
    assert!(result.is_err(), "registration without a client certificate");
}

#[tokio::test]
async fn half_a_client_identity_or_a_missing_file_is_a_settings_error() {
    let settings = polaris_sdk::config::Settings::from_yaml(
        "global:\n  serverConnector:\n    addresses: [\"127.0.0.1:1\"]\n    certFile: \"/x.pem\"\n",
    )
    .unwrap();
    let err = Client::builder()
        .settings(settings)
        .build()
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("certFile and keyFile"), "{err}");

    let settings = polaris_sdk::config::Settings::from_yaml(
        "global:\n  serverConnector:\n    addresses: [\"127.0.0.1:1\"]\n    trustedCAFile: \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    let err = Client::builder()
        .settings(settings)
        .build()
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
