//! TLS on every listener of the real binary, with certificates made by rcgen for each test:
//! HTTPS on the OpenAPI, Eureka and the console, gRPC over TLS on the naming, config and xDS
//! ports, plain text refused, client certificates required by `trustedCAFile`, certificates
//! re-read on change and on SIGHUP, and clear start errors for bad files.

mod common;
mod tls_support;

use std::time::{Duration, Instant};

use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use polaris_proto::v1::{ClientConfigFileInfo, Instance};
use tls_support::{Pki, Probe, TlsServer};

/// The official switch for a listener: `option.tls` with the server's files, and the client
/// CA when `mtls`.
fn tls_block(pki: &Pki, mtls: bool) -> String {
    let ca = if mtls {
        format!(", trustedCAFile: \"{}\"", pki.client_ca_file.display())
    } else {
        String::new()
    };
    format!(
        "tls: {{ certFile: \"{}\", keyFile: \"{}\"{ca} }}",
        pki.server_cert.display(),
        pki.server_key.display()
    )
}

fn string(text: &str) -> Option<String> {
    Some(text.to_owned())
}

fn instance(port: u32) -> Instance {
    Instance {
        namespace: string("default"),
        service: string("tls-demo"),
        host: string("127.0.0.1"),
        port: Some(port),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_speaks_tls_and_refuses_plain_text() {
    let pki = Pki::new();
    let names = [
        "api-http",
        "service-grpc",
        "config-grpc",
        "service-eureka",
        "xds-v3",
        "console",
    ];
    let tls = names.map(|_| Some(tls_block(&pki, false)));
    let server = TlsServer::start(&pki, &names, &tls, Probe::Https).expect("start");

    // HTTPS: the OpenAPI, Eureka and the console.
    let https = pki.https_agent(None);
    let (status, body) = tls_support::get(&https, &server.https_url("api-http", "/")).unwrap();
    assert_eq!((status, body.as_str()), (200, "Polaris Server"));
    let (status, body) =
        tls_support::get(&https, &server.https_url("service-eureka", "/eureka/apps")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("applications"), "{body}");
    let (status, body) = tls_support::get(&https, &server.https_url("console", "/")).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("<html") || body.contains("<!doctype"),
        "{body}"
    );

    // Plain text on each of those ports gets no HTTP answer.
    for name in ["api-http", "service-eureka", "console"] {
        let port = server.port(name);
        let answer = tls_support::plain_http_exchange(port);
        assert!(
            !answer.starts_with(b"HTTP/"),
            "{name} answered plain text: {answer:?}"
        );
        let url = format!("http://127.0.0.1:{port}/");
        assert!(tls_support::get(&https, &url).is_err(), "{name}");
    }

    // gRPC over TLS: a registration, a config read, and the xDS port's gRPC framing.
    let channel = pki
        .grpc_channel(server.port("service-grpc"), None)
        .await
        .unwrap();
    let reply = PolarisGrpcClient::new(channel)
        .register_instance(instance(9001))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.code, Some(200000), "{reply:?}");
    let channel = pki
        .grpc_channel(server.port("config-grpc"), None)
        .await
        .unwrap();
    let reply = PolarisConfigGrpcClient::new(channel)
        .get_config_file(ClientConfigFileInfo {
            namespace: string("default"),
            group: string("tls"),
            file_name: string("missing.yaml"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.code.is_some_and(|c| c != 200000), "{reply:?}");
    let channel = pki.grpc_channel(server.port("xds-v3"), None).await.unwrap();
    let status = tls_support::unknown_grpc_method(channel).await;
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");

    // Plain-text gRPC to every gRPC port fails.
    for name in ["service-grpc", "config-grpc", "xds-v3"] {
        let plain = tonic::transport::Endpoint::from_shared(format!(
            "http://127.0.0.1:{}",
            server.port(name)
        ))
        .unwrap()
        .connect_timeout(Duration::from_secs(2));
        let result = match plain.connect().await {
            Ok(channel) => PolarisGrpcClient::new(channel)
                .register_instance(instance(9002))
                .await
                .map(|_| ()),
            Err(err) => Err(tonic::Status::unavailable(err.to_string())),
        };
        assert!(result.is_err(), "{name} accepted plain-text gRPC");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_ca_file_requires_client_certificates() {
    let pki = Pki::new();
    let names = ["api-http", "service-grpc"];
    let tls = names.map(|_| Some(tls_block(&pki, true)));
    let server = TlsServer::start(&pki, &names, &tls, Probe::Mtls).expect("start");
    let url = server.https_url("api-http", "/");

    // Without a certificate, and with one from another CA: refused on both ports.
    assert!(tls_support::get(&pki.https_agent(None), &url).is_err());
    let stranger = pki.stranger_identity();
    assert!(tls_support::get(&pki.https_agent(Some(&stranger)), &url).is_err());
    let grpc = server.port("service-grpc");
    for identity in [None, Some(&stranger)] {
        let result = match pki.grpc_channel(grpc, identity).await {
            Ok(channel) => PolarisGrpcClient::new(channel)
                .register_instance(instance(9003))
                .await
                .map(|_| ()),
            Err(err) => Err(tonic::Status::unavailable(err.to_string())),
        };
        assert!(result.is_err(), "gRPC without a trusted client certificate");
    }

    // With a certificate the client CA issued: served.
    let member = pki.client_identity();
    let (status, body) = tls_support::get(&pki.https_agent(Some(&member)), &url).unwrap();
    assert_eq!((status, body.as_str()), (200, "Polaris Server"));
    let channel = pki.grpc_channel(grpc, Some(&member)).await.unwrap();
    let reply = PolarisGrpcClient::new(channel)
        .register_instance(instance(9004))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.code, Some(200000), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_reloaded_on_change_and_on_sighup() {
    let pki = Pki::new();
    let names = ["api-http", "service-grpc"];
    let tls = names.map(|_| Some(tls_block(&pki, false)));
    let mut server = TlsServer::start(&pki, &names, &tls, Probe::Https).expect("start");
    let http = server.port("api-http");
    let grpc = server.port("service-grpc");
    let first = pki.served_leaf(http, None).await.unwrap();
    assert_eq!(first, pki.server_leaf_der());

    // Rewritten files reach new connections on both listeners without a restart.
    pki.reissue_server_certificate();
    let second = pki.server_leaf_der();
    assert_ne!(first, second);
    for port in [http, grpc] {
        wait_for_leaf(&pki, port, &second).await;
    }

    // SIGHUP re-reads them too, and does not stop the server.
    pki.reissue_server_certificate();
    let third = pki.server_leaf_der();
    server.signal("-HUP");
    wait_for_leaf(&pki, http, &third).await;
    assert!(server.is_running());
    let (status, _) = tls_support::get(&pki.https_agent(None), &server.https_url("api-http", "/"))
        .expect("served after the reload");
    assert_eq!(status, 200);

    // A broken rewrite is refused; the last good certificate stays in service.
    std::fs::write(&pki.server_cert, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    server.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stdout().contains("new TLS files refused")
        && !server.stdout().contains("cannot re-read TLS files")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            server.stdout()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pki.served_leaf(http, None).await.unwrap(), third);
}

async fn wait_for_leaf(pki: &Pki, port: u16, expected: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(leaf) = pki.served_leaf(port, None).await
            && leaf == expected
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "port {port} still serves the old certificate"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_half_configured_tls_files_stop_the_start() {
    let pki = Pki::new();
    let missing = format!(
        "tls: {{ certFile: \"{}\", keyFile: \"{}\" }}",
        pki.dir.path().join("absent.pem").display(),
        pki.server_key.display()
    );
    let err = TlsServer::start(&pki, &["service-grpc"], &[Some(missing)], Probe::Plain)
        .err()
        .expect("a start with a missing certFile fails");
    assert!(err.contains("TLS for naming gRPC"), "{err}");
    assert!(
        err.contains("certFile") && err.contains("absent.pem"),
        "{err}"
    );

    let half = format!("tls: {{ certFile: \"{}\" }}", pki.server_cert.display());
    let err = TlsServer::start(&pki, &["api-http"], &[Some(half)], Probe::Plain)
        .err()
        .expect("a start with certFile but no keyFile fails");
    assert!(err.contains("apiservers[0].option.tls.keyFile"), "{err}");

    // The official template's empty block means plain text.
    let empty = "tls: { certFile: \"\", keyFile: \"\", trustedCAFile: \"\" }".to_owned();
    let server = TlsServer::start(&pki, &["api-http"], &[Some(empty)], Probe::Plain)
        .expect("an empty tls block serves plain text");
    let plain = format!("http://127.0.0.1:{}/", server.port("api-http"));
    let (status, body) = tls_support::get(&pki.https_agent(None), &plain)
        .unwrap_or_else(|err| panic!("{err}; server output:\n{}", server.stdout()));
    assert_eq!((status, body.as_str()), (200, "Polaris Server"));
}
