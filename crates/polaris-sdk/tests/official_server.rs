//! The SDK against a stand-in for the official server, which never pushes and answers Discover
//! kinds it does not serve with 400004 typed ROUTING.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_proto::v1::polaris_grpc_server::{PolarisGrpc, PolarisGrpcServer};
use polaris_sdk::{Client, Criteria, ServiceKey};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

#[derive(Default)]
struct Official {
    /// (revision, ports) of `default/svc`.
    state: Mutex<(String, Vec<u32>)>,
    unchanged: AtomicUsize,
}

fn answer(state: &(String, Vec<u32>), request: &v1::DiscoverRequest) -> v1::DiscoverResponse {
    let service = request.service.clone().unwrap_or_default();
    let asked = service.revision.clone().unwrap_or_default();
    let kind =
        DiscoverRequestType::try_from(request.r#type).unwrap_or(DiscoverRequestType::Unknown);
    let reply = |code: u32, r#type: DiscoverRequestType| v1::DiscoverResponse {
        code: Some(code),
        r#type: r#type as i32,
        service: Some(service.clone()),
        ..Default::default()
    };
    match kind {
        DiscoverRequestType::Instance if asked == state.0 => reply(200_001, kind),
        DiscoverRequestType::Instance => v1::DiscoverResponse {
            service: Some(v1::Service {
                revision: Some(state.0.clone()),
                ..service.clone()
            }),
            instances: state
                .1
                .iter()
                .map(|port| v1::Instance {
                    id: Some(format!("id-{port}")),
                    host: Some("127.0.0.1".into()),
                    port: Some(*port),
                    healthy: Some(true),
                    weight: Some(100),
                    ..Default::default()
                })
                .collect(),
            ..reply(200_000, kind)
        },
        DiscoverRequestType::Routing => reply(200_000, kind),
        // The official bug: unserved kinds come back as ROUTING with 400004.
        _ => reply(400_004, DiscoverRequestType::Routing),
    }
}

type Answers = Pin<Box<dyn Stream<Item = Result<v1::DiscoverResponse, Status>> + Send>>;

/// The service handle (a newtype: the trait is foreign).
#[derive(Clone)]
struct Fake(Arc<Official>);

#[tonic::async_trait]
impl PolarisGrpc for Fake {
    async fn report_client(
        &self,
        _: Request<v1::Client>,
    ) -> Result<Response<v1::Response>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn register_instance(
        &self,
        _: Request<v1::Instance>,
    ) -> Result<Response<v1::Response>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn deregister_instance(
        &self,
        _: Request<v1::Instance>,
    ) -> Result<Response<v1::Response>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn heartbeat(&self, _: Request<v1::Instance>) -> Result<Response<v1::Response>, Status> {
        Err(Status::unimplemented("fake"))
    }

    type DiscoverStream = Answers;

    async fn discover(
        &self,
        request: Request<Streaming<v1::DiscoverRequest>>,
    ) -> Result<Response<Answers>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let me = self.0.clone();
        tokio::spawn(async move {
            while let Some(Ok(request)) = inbound.next().await {
                let reply = answer(&me.state.lock(), &request);
                if reply.code == Some(200_001) {
                    me.unchanged.fetch_add(1, Ordering::SeqCst);
                }
                if tx.send(Ok(reply)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn start(official: Arc<Official>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(PolarisGrpcServer::new(Fake(official)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_with_revisions_and_tolerates_unserved_kinds() {
    let official = Arc::new(Official::default());
    *official.state.lock() = ("r1".into(), vec![1, 2]);
    let address = start(official.clone()).await;
    let client = Client::builder()
        .addresses([address])
        .persist_dir(None)
        .refresh_interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let svc = ServiceKey::new("default", "svc");
    let consumer = client.consumer();
    assert_eq!(
        consumer
            .get_all_instances(&svc)
            .await
            .unwrap()
            .instances
            .len(),
        2
    );

    // A caller brings the lane router in: its LANE request gets the official 400004, which
    // must not stall the call until the timeout.
    let started = Instant::now();
    let with_caller = Criteria::default().caller(ServiceKey::new("default", "web"));
    consumer.get_one_instance(&svc, &with_caller).await.unwrap();
    consumer.get_one_instance(&svc, &with_caller).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // No push: revisions are polled and answered "unchanged"...
    let deadline = Instant::now() + Duration::from_secs(10);
    while official.unchanged.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no revision polls");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!consumer.push_active());
    // ...until the data changes.
    let mut watch = consumer.watch(&svc).await.unwrap();
    *official.state.lock() = ("r2".into(), vec![1, 2, 3]);
    let changed = tokio::time::timeout(Duration::from_secs(10), watch.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.revision, "r2");
    assert_eq!(changed.instances.len(), 3);
}
