//! The config port over a real loopback connection, with the generated client.

use std::sync::Arc;
use std::time::Duration;

use polaris_config::ConfigCenter;
use polaris_proto::v1;
use polaris_proto::v1::match_string::MatchStringType;
use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_store::memory::MemoryStore;
use tokio::net::TcpListener;
use tonic::transport::Channel;

use crate::ConfigGrpcOptions;

pub(super) const NS: &str = "default";
pub(super) const GROUP: &str = "app";
/// `printf 'hello' | md5sum`
const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";

pub(super) struct Fixture {
    pub(super) center: Arc<ConfigCenter>,
    pub(super) client: PolarisConfigGrpcClient<Channel>,
}

async fn fixture_with(watch_timeout: Duration) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let center = Arc::new(ConfigCenter::open(store.clone()).await.unwrap());
    let auth = polaris_auth::Auth::open(store, polaris_auth::AuthOptions::default())
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(crate::serve_config_with(
        listener,
        center.clone(),
        Arc::new(crate::GrpcMetrics::default()),
        ConfigGrpcOptions {
            watch_timeout,
            ..ConfigGrpcOptions::default()
        },
        auth,
        std::future::pending(),
    ));
    let channel = crate::tests::connect(addr).await;
    Fixture {
        center,
        client: PolarisConfigGrpcClient::new(channel),
    }
}

pub(super) async fn fixture() -> Fixture {
    fixture_with(Duration::from_millis(200)).await
}

pub(super) fn tag(key: &str, value: &str) -> v1::ConfigFileTag {
    v1::ConfigFileTag {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}

pub(super) fn file(name: &str, content: &str) -> v1::ConfigFile {
    v1::ConfigFile {
        namespace: Some(NS.into()),
        group: Some(GROUP.into()),
        name: Some(name.into()),
        content: Some(content.into()),
        format: Some("text".into()),
        ..Default::default()
    }
}

pub(super) fn release(name: &str) -> v1::ConfigFileRelease {
    v1::ConfigFileRelease {
        namespace: Some(NS.into()),
        group: Some(GROUP.into()),
        file_name: Some(name.into()),
        ..Default::default()
    }
}

pub(super) fn info(name: &str, version: u64) -> v1::ClientConfigFileInfo {
    v1::ClientConfigFileInfo {
        namespace: Some(NS.into()),
        group: Some(GROUP.into()),
        file_name: Some(name.into()),
        version: Some(version),
        ..Default::default()
    }
}

pub(super) fn code<T: HasCode>(reply: &T) -> u32 {
    reply.code()
}

pub(super) trait HasCode {
    fn code(&self) -> u32;
}
impl HasCode for v1::ConfigClientResponse {
    fn code(&self) -> u32 {
        self.code.unwrap_or(0)
    }
}
impl HasCode for v1::ConfigClientListResponse {
    fn code(&self) -> u32 {
        self.code.unwrap_or(0)
    }
}

impl Fixture {
    pub(super) async fn create_and_publish(&mut self, name: &str, content: &str) {
        let created = self.client.create_config_file(file(name, content)).await;
        assert_eq!(code(created.unwrap().get_ref()), 200000);
        let published = self.client.publish_config_file(release(name)).await;
        assert_eq!(code(published.unwrap().get_ref()), 200000);
    }

    pub(super) async fn get(
        &mut self,
        request: v1::ClientConfigFileInfo,
    ) -> v1::ConfigClientResponse {
        self.client
            .get_config_file(request)
            .await
            .unwrap()
            .into_inner()
    }

    pub(super) async fn watch(
        &mut self,
        files: Vec<v1::ClientConfigFileInfo>,
    ) -> v1::ConfigClientResponse {
        let request = v1::ClientWatchConfigFileRequest {
            watch_files: files,
            ..Default::default()
        };
        self.client
            .watch_config_files(request)
            .await
            .unwrap()
            .into_inner()
    }

    pub(super) async fn list(
        &mut self,
        group: &str,
        revision: Option<String>,
    ) -> v1::ConfigClientListResponse {
        let request = v1::ConfigFileGroupRequest {
            revision,
            config_file_group: Some(v1::ConfigFileGroup {
                namespace: Some(NS.into()),
                name: Some(group.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.client
            .get_config_file_metadata_list(request)
            .await
            .unwrap()
            .into_inner()
    }
}

#[tokio::test]
async fn create_publish_get_and_the_version_check() {
    let mut f = fixture().await;
    f.create_and_publish("app.yaml", "hello").await;
    let reply = f.get(info("app.yaml", 0)).await;
    assert_eq!(code(&reply), 200000, "{reply:?}");
    let got = reply.config_file.expect("the file");
    assert_eq!(got.content.as_deref(), Some("hello"));
    assert_eq!(got.md5.as_deref(), Some(HELLO_MD5));
    assert_eq!(got.file_name.as_deref(), Some("app.yaml"));
    assert_eq!(got.encrypted, Some(false));
    let version = got.version.expect("a version");
    assert!(version >= 1);

    // The same version is served again; a client ahead of the server hears "no change".
    assert_eq!(code(&f.get(info("app.yaml", version)).await), 200000);
    let ahead = f.get(info("app.yaml", version + 1)).await;
    assert_eq!(code(&ahead), 200001);
    let echo = ahead.config_file.expect("the request echoed");
    assert_eq!(echo.version, Some(version + 1));
    assert_eq!(echo.content, None);
}

#[tokio::test]
async fn unpublished_files_are_not_found_with_the_request_echoed() {
    let mut f = fixture().await;
    let created = f.client.create_config_file(file("draft", "x")).await;
    assert_eq!(code(created.unwrap().get_ref()), 200000);
    let reply = f.get(info("draft", 0)).await;
    assert_eq!(code(&reply), 400202);
    let echo = reply.config_file.expect("echo");
    assert_eq!(echo.file_name.as_deref(), Some("draft"));
    // The server labelled the tagless request with the peer's address.
    assert_eq!(echo.tags, vec![tag("CLIENT_IP", "127.0.0.1")]);

    let incomplete = f.get(v1::ClientConfigFileInfo::default()).await;
    assert_eq!(code(&incomplete), 400000);
}

#[tokio::test]
async fn a_watch_is_woken_by_a_publish() {
    let mut f = fixture_with(Duration::from_secs(20)).await;
    f.create_and_publish("live", "v1").await;
    let version = f.get(info("live", 0)).await.config_file.unwrap().version;
    let mut watcher = f.client.clone();
    let watch = tokio::spawn(async move {
        let request = v1::ClientWatchConfigFileRequest {
            watch_files: vec![info("other", 0), info("live", version.unwrap())],
            ..Default::default()
        };
        watcher
            .watch_config_files(request)
            .await
            .unwrap()
            .into_inner()
    });
    // Publish only once the watch is parked, so the reply must come from the wake-up.
    let parked = tokio::time::timeout(Duration::from_secs(5), async {
        while f.center.watchers().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    parked.await.expect("the watch parks");
    let update = v1::ConfigFile {
        content: Some("hello".into()),
        ..file("live", "")
    };
    assert_eq!(
        code(f.client.update_config_file(update).await.unwrap().get_ref()),
        200000
    );
    assert_eq!(
        code(
            f.client
                .publish_config_file(release("live"))
                .await
                .unwrap()
                .get_ref()
        ),
        200000
    );
    let reply = tokio::time::timeout(Duration::from_secs(5), watch)
        .await
        .expect("woken well before the 20 s timeout")
        .unwrap();
    assert_eq!(code(&reply), 200000, "{reply:?}");
    let changed = reply.config_file.expect("the changed file");
    assert_eq!(changed.file_name.as_deref(), Some("live"));
    assert_eq!(changed.md5.as_deref(), Some(HELLO_MD5));
    assert!(changed.version > version);
    assert_eq!(changed.content, None, "a notification carries no content");
    assert!(f.center.watchers().is_empty(), "the registration is gone");

    // A client that is already behind is answered at once.
    let behind = f.watch(vec![info("live", 0)]).await;
    assert_eq!(code(&behind), 200000);
}

#[tokio::test]
async fn a_watch_times_out_with_a_bare_no_change() {
    let mut f = fixture().await;
    f.create_and_publish("quiet", "q").await;
    let version = f.get(info("quiet", 0)).await.config_file.unwrap().version;
    let started = std::time::Instant::now();
    let reply = f.watch(vec![info("quiet", version.unwrap())]).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(reply.code, Some(200001));
    assert_eq!(reply.info, None, "officially the timeout reply has no info");
    assert_eq!(reply.config_file, None);
}

#[tokio::test]
async fn hostile_watches_and_names_are_refused() {
    let mut f = fixture().await;
    assert_eq!(code(&f.watch(Vec::new()).await), 400806);
    assert_eq!(code(&f.watch(vec![info("", 0)]).await), 400000);
    for bad in ["../etc/passwd", "a/../b", "/abs", "a//b"] {
        let created = f.client.create_config_file(file(bad, "x")).await.unwrap();
        assert_eq!(code(created.get_ref()), 400802, "{bad}");
        let upsert = v1::ConfigFilePublishInfo {
            namespace: Some(NS.into()),
            group: Some(GROUP.into()),
            file_name: Some(bad.into()),
            content: Some("x".into()),
            ..Default::default()
        };
        let reply = f
            .client
            .upsert_and_publish_config_file(upsert)
            .await
            .unwrap();
        assert_eq!(code(reply.get_ref()), 400802, "{bad}");
    }
    assert!(f.center.snapshot().files.is_empty());
}

#[tokio::test]
async fn upsert_and_publish_is_a_compare_and_swap() {
    let mut f = fixture().await;
    let upsert = |content: &str, md5: Option<&str>| v1::ConfigFilePublishInfo {
        namespace: Some(NS.into()),
        group: Some(GROUP.into()),
        file_name: Some("cas".into()),
        content: Some(content.into()),
        md5: md5.map(str::to_string),
        ..Default::default()
    };
    // Absent file: created and published, whatever the md5.
    let first = f
        .client
        .upsert_and_publish_config_file(upsert("hello", Some("junk")))
        .await;
    let first = first.unwrap().into_inner();
    assert_eq!(code(&first), 200000, "{first:?}");
    let echo = first.config_file.expect("echo");
    assert_eq!(
        (
            echo.namespace.as_deref(),
            echo.group.as_deref(),
            echo.file_name.as_deref()
        ),
        (Some(NS), Some(GROUP), Some("cas"))
    );
    // A stale md5 (or none) conflicts and writes nothing.
    for stale in [Some("d41d8cd98f00b204e9800998ecf8427e"), None] {
        let reply = f
            .client
            .upsert_and_publish_config_file(upsert("lost", stale))
            .await;
        let reply = reply.unwrap().into_inner();
        assert_eq!(code(&reply), 409000);
        assert_eq!(
            reply.config_file.and_then(|f| f.file_name).as_deref(),
            Some("cas")
        );
    }
    assert_eq!(
        f.get(info("cas", 0))
            .await
            .config_file
            .unwrap()
            .content
            .as_deref(),
        Some("hello")
    );
    // The md5 of what was read wins.
    let ok = f
        .client
        .upsert_and_publish_config_file(upsert("world", Some(HELLO_MD5)))
        .await;
    assert_eq!(code(ok.unwrap().get_ref()), 200000);
    let got = f.get(info("cas", 0)).await.config_file.unwrap();
    assert_eq!(got.content.as_deref(), Some("world"));
}

fn beta(key: &str, kind: MatchStringType, value: &str) -> v1::ClientLabel {
    v1::ClientLabel {
        key: key.into(),
        value: Some(v1::MatchString {
            r#type: kind as i32,
            value: Some(value.into()),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn gray_releases_reach_only_matching_clients() {
    let mut f = fixture().await;
    f.create_and_publish("gray.yaml", "stable").await;
    let update = v1::ConfigFile {
        content: Some("beta".into()),
        ..file("gray.yaml", "")
    };
    assert_eq!(
        code(f.client.update_config_file(update).await.unwrap().get_ref()),
        200000
    );

    let gray = |labels: Vec<v1::ClientLabel>| v1::ConfigFileRelease {
        release_type: Some("gray".into()),
        beta_labels: labels,
        ..release("gray.yaml")
    };
    let refused = f
        .client
        .publish_config_file(gray(Vec::new()))
        .await
        .unwrap();
    assert_eq!(code(refused.get_ref()), 400904);
    let bad_regex = vec![beta("CLIENT_ID", MatchStringType::Regex, "(")];
    let refused = f.client.publish_config_file(gray(bad_regex)).await.unwrap();
    assert_eq!(code(refused.get_ref()), 400904);
    let labels = vec![beta("CLIENT_IP", MatchStringType::In, "10.0.0.7,127.0.0.1")];
    let published = f.client.publish_config_file(gray(labels)).await.unwrap();
    assert_eq!(code(published.get_ref()), 200000);

    // A tagless client is matched by its peer address (127.0.0.1 here).
    let by_ip = f.get(info("gray.yaml", 0)).await.config_file.unwrap();
    assert_eq!(by_ip.content.as_deref(), Some("beta"));
    // Client tags replace the address label.
    let tagged = |ip: &str| v1::ClientConfigFileInfo {
        tags: vec![tag("CLIENT_IP", ip)],
        ..info("gray.yaml", 0)
    };
    let matching = f.get(tagged("10.0.0.7")).await.config_file.unwrap();
    assert_eq!(matching.content.as_deref(), Some("beta"));
    let other = f.get(tagged("10.0.0.8")).await.config_file.unwrap();
    assert_eq!(other.content.as_deref(), Some("stable"));
    // Another publish of the file waits until the gray release ends.
    let normal = f
        .client
        .publish_config_file(release("gray.yaml"))
        .await
        .unwrap();
    assert_eq!(code(normal.get_ref()), 409000);
}
