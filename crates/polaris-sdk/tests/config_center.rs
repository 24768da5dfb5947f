//! The config center against the real server binary.

use polaris_testkit as support;

use std::path::PathBuf;
use std::time::Duration;

use polaris_sdk::{Client, Format};
use serde::Deserialize;
use support::TestServer;
use tokio_stream::StreamExt;

const DEADLINE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, PartialEq)]
struct App {
    name: String,
    replicas: u32,
}

async fn client(server: &TestServer, persist: Option<PathBuf>) -> Client {
    let builder = server.client_builder().config_persist_dir(persist);
    builder.build().await.expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_decode_and_missing_files() {
    let server = TestServer::start();
    server.publish_file("app", "app.yaml", "name: echo\nreplicas: 3\n", false);
    server.publish_file("app", "app.json", r#"{"name":"js","replicas":1}"#, false);
    let c = client(&server, None).await;
    let file = c
        .config()
        .get_file("default", "app", "app.yaml")
        .await
        .unwrap();
    assert_eq!(file.content, "name: echo\nreplicas: 3\n");
    assert_eq!(file.version, 1);
    assert!(!file.encrypted && !file.from_local_cache);
    let app: App = file.parse(Format::Yaml).unwrap();
    assert_eq!(
        app,
        App {
            name: "echo".into(),
            replicas: 3
        }
    );
    let json: App = c
        .config()
        .get_as("default", "app", "app.json", Format::Json)
        .await
        .unwrap();
    assert_eq!(json.name, "js");
    let missing = c
        .config()
        .get_file("default", "app", "nope.yaml")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some(400_202), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_new_releases_as_typed_values() {
    let server = TestServer::start();
    server.publish_file("app", "live.yaml", "name: v1\nreplicas: 1\n", false);
    let c = client(&server, None).await;
    let watch = c
        .config()
        .watch_file("default", "app", "live.yaml")
        .await
        .unwrap();
    assert_eq!(watch.current().version, 1);
    let mut typed = watch.into_typed::<App>(Format::Yaml);
    let first = tokio::time::timeout(DEADLINE, typed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.name, "v1");

    for (i, replicas) in [2u32, 5].into_iter().enumerate() {
        let content = format!("name: v{}\nreplicas: {replicas}\n", i + 2);
        server.publish_file("app", "live.yaml", &content, false);
        let next = tokio::time::timeout(DEADLINE, typed.next())
            .await
            .expect("release seen within the deadline")
            .unwrap()
            .unwrap();
        assert_eq!(next.replicas, replicas);
    }

    // A release that does not decode is an error item; the stream goes on.
    server.publish_file("app", "live.yaml", "replicas: [not a number]\n", false);
    let bad = tokio::time::timeout(DEADLINE, typed.next())
        .await
        .unwrap()
        .unwrap();
    assert!(bad.is_err());
    server.publish_file("app", "live.yaml", "name: ok\nreplicas: 7\n", false);
    let good = tokio::time::timeout(DEADLINE, typed.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(good.unwrap().replicas, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_files_are_decrypted() {
    let server = TestServer::start();
    let secret = "password: s3cr3t\nreplicas: 2\nname: vault\n";
    server.publish_file("secure", "db.yaml", secret, true);
    let c = client(&server, None).await;
    let file = c
        .config()
        .get_file("default", "secure", "db.yaml")
        .await
        .unwrap();
    assert!(file.encrypted, "the server stores it encrypted");
    assert_eq!(file.content, secret);
    assert!(!file.tags.contains_key("internal-datakey"));
    let app: App = file.parse(Format::Yaml).unwrap();
    assert_eq!(app.name, "vault");

    // A watch on an encrypted file decrypts every release.
    let mut watch = c
        .config()
        .watch_file("default", "secure", "db.yaml")
        .await
        .unwrap();
    server.publish_file("secure", "db.yaml", "password: rotated\n", true);
    let next = tokio::time::timeout(DEADLINE, watch.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.content, "password: rotated\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_copy_serves_when_the_server_is_down() {
    let mut server = TestServer::start();
    let dir = server.scratch("config-cache");
    server.publish_file(
        "app",
        "cached.properties",
        "name=props\nreplicas=4\n",
        false,
    );
    {
        let c = client(&server, Some(dir.clone())).await;
        let file = c
            .config()
            .get_file("default", "app", "cached.properties")
            .await
            .unwrap();
        let app: App = file.parse_auto().unwrap();
        assert_eq!(
            app,
            App {
                name: "props".into(),
                replicas: 4
            }
        );
    }
    server.kill();
    let fresh = client(&server, Some(dir)).await;
    let file = fresh
        .config()
        .get_file("default", "app", "cached.properties")
        .await
        .expect("local copy");
    assert!(file.from_local_cache);
    assert_eq!(file.version, 1);
    assert_eq!(file.content, "name=props\nreplicas=4\n");

    let no_copy = client(&server, None).await;
    let err = no_copy
        .config()
        .get_file("default", "app", "cached.properties")
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
