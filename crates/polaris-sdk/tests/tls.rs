//! The SDK over TLS, as `polaris.yaml` asks (polaris-java's keys `trustedCAFile`, `certFile`,
//! `keyFile` of `global.serverConnector`), against the real server with both gRPC ports on
//! TLS and client certificates required.

use polaris_testkit as support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use polaris_sdk::{Client, InstanceSpec, ServiceKey};
use polaris_testkit::tls::Ca;
use support::{TestServer, eventually};

/// `ca`'s certificate written to `dir/<name>-ca.pem`.
fn ca_file(ca: &Ca, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&path, &ca.pem).unwrap();
    path
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
    let (server_ca, client_ca) = (Ca::new("server"), Ca::new("client"));
    let (server_ca_file, client_ca_file) = (
        ca_file(&server_ca, pki.path(), "server"),
        ca_file(&client_ca, pki.path(), "client"),
    );
    let server_leaf = server_ca.leaf(&["localhost", "127.0.0.1"]);
    let (cert, key) = server_leaf.write(pki.path(), "server");
    let server = TestServer::start_with_grpc_option(&format!(
        "tls: {{ certFile: \"{}\", keyFile: \"{}\", trustedCAFile: \"{}\" }}",
        cert.display(),
        key.display(),
        client_ca_file.display()
    ));
    server.publish_file("tls", "app.yaml", "greeting: over tls\n", false);

    let (client_cert, client_key) = client_ca.leaf(&["sdk-client"]).write(pki.path(), "client");
    let identity = format!(
        "    trustedCAFile: \"{}\"\n    certFile: \"{}\"\n    keyFile: \"{}\"\n",
        server_ca_file.display(),
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
    let anonymous = format!("    trustedCAFile: \"{}\"\n", server_ca_file.display());
    let refused = client_from_yaml(pki.path(), &server, &anonymous).await;
    let result = refused
        .provider()
        .register(InstanceSpec::new("default", "tls-echo", "127.0.0.1", 9101))
        .await;
    assert!(result.is_err(), "registration without a client certificate");
}

/// The error building a client from `settings` gives.
async fn build_error(settings: polaris_sdk::config::Settings) -> polaris_sdk::Error {
    Client::builder()
        .settings(settings)
        .build()
        .await
        .err()
        .unwrap()
}

#[tokio::test]
async fn half_a_client_identity_or_a_missing_file_is_a_settings_error() {
    let settings = polaris_sdk::config::Settings::from_yaml(
        "global:\n  serverConnector:\n    addresses: [\"127.0.0.1:1\"]\n    certFile: \"/x.pem\"\n",
    )
    .unwrap();
    let err = build_error(settings).await;
    assert!(err.to_string().contains("certFile and keyFile"), "{err}");

    let settings = polaris_sdk::config::Settings::from_yaml(
        "global:\n  serverConnector:\n    addresses: [\"127.0.0.1:1\"]\n    trustedCAFile: \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    let err = build_error(settings).await;
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
