//! Each limit per client and per connection, against the real binary: the answer a client over
//! the limit gets (HTTP 429 with `429002`, the gRPC reply carrying `429002` with status OK,
//! `400003` for too many subscriptions or watched files, a closed connection, an HTTP/2 stream
//! held back), that other clients are not affected, and the refusal counted in `/metrics`.

mod limits_support;

use std::time::Duration;

use limits_support::{HttpConn, LimitServer, Limits, discover, instance, loopback, sample};
use polaris_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;

const LIMITS: Limits = Limits {
    per_host: 4,
    bucket: 5,
    rate: 1,
    streams: 20,
    subscriptions: 3,
    watch_files: 2,
};

const WAIT: Duration = Duration::from_secs(10);

fn register_body(port: u32) -> String {
    format!(r#"{{"namespace":"default","service":"rated","host":"10.1.1.1","port":{port}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_limit_answers_in_its_protocol() {
    let server = LimitServer::start(&LIMITS).await;
    http_writes_over_the_rate_get_429(&server).await;
    grpc_writes_over_the_rate_get_the_code_in_the_reply(&server).await;
    connections_over_the_host_limit_are_closed(&server).await;
    subscriptions_over_the_stream_limit_are_refused(&server).await;
    watches_over_the_file_limit_are_refused(&server).await;
    streams_over_the_connection_limit_wait(&server).await;

    let page = server.metrics().await;
    for (labels, what) in [
        (r#"{limit="write_rate",listener="api-http"}"#, "HTTP writes"),
        (
            r#"{limit="write_rate",listener="service-grpc"}"#,
            "gRPC writes",
        ),
        (
            r#"{limit="connections_per_host",listener="api-http"}"#,
            "connections",
        ),
        (
            r#"{limit="subscriptions_per_stream",listener="service-grpc"}"#,
            "subscriptions",
        ),
        (
            r#"{limit="files_per_watch",listener="config-grpc"}"#,
            "gRPC watches",
        ),
        (
            r#"{limit="files_per_watch",listener="api-http"}"#,
            "HTTP watches",
        ),
    ] {
        let name = format!("polaris_limit_refusals_total{labels}");
        assert!(
            sample(&page, &name) >= 1.0,
            "{what} not counted: {name}\n{page}"
        );
    }
    assert!(
        sample(
            &page,
            r#"polaris_limit{limit="streams_per_connection",listener="service-grpc"}"#
        ) == 20.0,
        "configured stream limit exported:\n{page}"
    );
}

async fn http_writes_over_the_rate_get_429(server: &LimitServer) {
    let mut conn = HttpConn::open(server.http, loopback(2)).await.unwrap();
    let mut statuses = Vec::new();
    let mut refused_body = None;
    for port in 0..8 {
        let (status, body) = conn
            .request("POST", "/v1/RegisterInstance", &register_body(port))
            .await
            .unwrap();
        if status == 429 {
            refused_body = Some(body);
        }
        statuses.push(status);
    }
    assert!(
        statuses[..5].iter().all(|s| *s == 200),
        "the burst passes: {statuses:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&refused_body.expect("a 429")).unwrap();
    assert_eq!(body["code"], 429002, "{body}");
    // Heartbeats and reads are not writes: never limited, even with the bucket empty.
    for _ in 0..10 {
        let (status, _) = conn
            .request("POST", "/v1/Heartbeat", &register_body(0))
            .await
            .unwrap();
        assert_ne!(status, 429);
        let (status, _) = conn
            .request(
                "POST",
                "/v1/Discover",
                r#"{"type":"INSTANCE","service":{"namespace":"default","name":"rated"}}"#,
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    // Another client address has its own bucket.
    let (status, _) = server
        .http_from(
            loopback(12),
            "POST",
            "/v1/RegisterInstance",
            &register_body(99),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
}

async fn grpc_writes_over_the_rate_get_the_code_in_the_reply(server: &LimitServer) {
    let mut client = server.naming(loopback(3)).await;
    let mut codes = Vec::new();
    for port in 0..8 {
        let reply = client
            .register_instance(instance("rated-grpc", "10.2.2.2", port))
            .await
            .expect("gRPC status OK")
            .into_inner();
        codes.push(reply.code.unwrap_or_default());
    }
    assert!(codes[..5].iter().all(|c| *c == 200_000), "{codes:?}");
    assert!(codes.contains(&429_002), "{codes:?}");
    let beat = client
        .heartbeat(instance("rated-grpc", "10.2.2.2", 0))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(beat.code, Some(429_002), "heartbeats are never limited");
}

async fn connections_over_the_host_limit_are_closed(server: &LimitServer) {
    let mut admitted = Vec::new();
    for _ in 0..LIMITS.per_host {
        let mut conn = HttpConn::open(server.http, loopback(4)).await.unwrap();
        let (status, _) = conn.request("GET", "/healthz", "").await.unwrap();
        assert_eq!(status, 200);
        admitted.push(conn);
    }
    let mut over = HttpConn::open(server.http, loopback(4)).await.unwrap();
    assert!(
        over.closed_within(WAIT).await,
        "the connection over the limit is closed"
    );
    // Other addresses still connect, and the host gets a place back when one closes.
    let (status, _) = server
        .http_from(loopback(14), "GET", "/healthz", "")
        .await
        .unwrap();
    assert_eq!(status, 200);
    drop(admitted.pop());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut again = HttpConn::open(server.http, loopback(4)).await.unwrap();
        if let Ok((200, _)) = again.request("GET", "/healthz", "").await {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no place given back"
        );
        tokio::task::yield_now().await;
    }
}

async fn subscriptions_over_the_stream_limit_are_refused(server: &LimitServer) {
    let mut client = server.naming(loopback(6)).await;
    for name in ["sub-a", "sub-b", "sub-c", "sub-d"] {
        let reply = client
            .register_instance(instance(name, "10.3.3.3", 80))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.code, Some(200_000), "{reply:?}");
    }
    let (tx, rx) = mpsc::channel(8);
    let mut request = Request::new(ReceiverStream::new(rx));
    request
        .metadata_mut()
        .insert("x-polaris-push", "true".parse().unwrap());
    let mut replies = client.discover(request).await.unwrap().into_inner();
    let mut next = async |req: v1::DiscoverRequest| {
        tx.send(req).await.unwrap();
        tokio::time::timeout(WAIT, replies.next())
            .await
            .expect("a reply")
            .expect("stream open")
            .expect("status OK")
    };
    for name in ["sub-a", "sub-b", "sub-c"] {
        assert_eq!(next(discover(name)).await.code, Some(200_000));
    }
    let refused = next(discover("sub-d")).await;
    assert_eq!(refused.code, Some(400_003), "{refused:?}");
    assert!(refused.instances.is_empty());
    // A resource already subscribed is not a new subscription.
    assert_eq!(next(discover("sub-a")).await.code, Some(200_000));
    // The stream carries on: a change of sub-a is pushed, one of sub-d is not (written from
    // another address: this one's bucket is nearly empty).
    let mut writer = server.naming(loopback(16)).await;
    for name in ["sub-d", "sub-a"] {
        let reply = writer
            .register_instance(instance(name, "10.3.3.4", 80))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.code, Some(200_000), "{reply:?}");
    }
    let pushed = tokio::time::timeout(WAIT, replies.next())
        .await
        .expect("a push")
        .unwrap()
        .unwrap();
    assert_eq!(
        pushed.service.and_then(|s| s.name).as_deref(),
        Some("sub-a")
    );
    assert_eq!(pushed.instances.len(), 2);
    drop(tx);
}

fn watched(n: usize) -> Vec<v1::ClientConfigFileInfo> {
    (0..n)
        .map(|i| v1::ClientConfigFileInfo {
            namespace: Some("default".into()),
            group: Some("g".into()),
            file_name: Some(format!("f{i}.yaml")),
            version: Some(0),
            ..Default::default()
        })
        .collect()
}

async fn watches_over_the_file_limit_are_refused(server: &LimitServer) {
    let mut client = server.config_client(loopback(7)).await;
    let reply = tokio::time::timeout(
        WAIT,
        client.watch_config_files(v1::ClientWatchConfigFileRequest {
            watch_files: watched(3),
            ..Default::default()
        }),
    )
    .await
    .expect("answered at once")
    .unwrap()
    .into_inner();
    assert_eq!(reply.code, Some(400_003), "{reply:?}");
    let files: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::json!({"namespace":"default","group":"g","fileName":format!("f{i}.yaml")}))
        .collect();
    let body = serde_json::json!({ "watchFiles": files }).to_string();
    let (status, text) = server
        .http_from(loopback(7), "POST", "/v1/WatchConfigFile", &body)
        .await
        .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("400003"), "{text}");
}

async fn streams_over_the_connection_limit_wait(server: &LimitServer) {
    let mut client = server.naming(loopback(8)).await;
    let mut open = Vec::new();
    for _ in 0..LIMITS.streams {
        let (tx, rx) = mpsc::channel(1);
        tx.send(discover("sub-a")).await.unwrap();
        let mut replies = client
            .discover(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        replies.next().await.unwrap().unwrap();
        open.push((tx, replies));
    }
    // One more stream on the same connection: HTTP/2 holds it back until a stream ends.
    let mut extra = client.clone();
    let (tx, rx) = mpsc::channel(1);
    tx.send(discover("sub-a")).await.unwrap();
    let mut pending = tokio::spawn(async move {
        let mut replies = extra
            .discover(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let first = replies.next().await;
        (first, tx)
    });
    let early = tokio::time::timeout(Duration::from_millis(500), &mut pending).await;
    assert!(early.is_err(), "a stream over the limit was served at once");
    drop(open.pop());
    let (first, _tx) = tokio::time::timeout(WAIT, pending)
        .await
        .expect("served once a stream ended")
        .unwrap();
    assert_eq!(first.unwrap().unwrap().code, Some(200_000));
    // Another connection of the same client is not affected.
    let mut other = server.naming(loopback(8)).await;
    let (tx, rx) = mpsc::channel(1);
    tx.send(discover("sub-a")).await.unwrap();
    let mut replies = other
        .discover(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    assert!(replies.next().await.unwrap().is_ok());
}
