use super::*;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/wire/auth.md");
const BEGIN: &str =
    "<!-- grpc permission table: generated from crates/polaris-api-grpc/src/auth/mod.rs -->\n";
const END: &str = "<!-- end of grpc permission table -->";

/// The documented gRPC table is the code's (`UPDATE_DOCS=1` rewrites it).
#[test]
fn the_documented_grpc_table_is_the_enforced_one() {
    polaris_testkit::docs::check_generated_section(DOC, BEGIN, END, &markdown());
}

#[test]
fn heartbeats_are_never_checked_and_registrations_are_writes() {
    use polaris_auth::{Access, Scope};
    let scope = |p: &str| endpoint_of(p).map(Endpoint::scope);
    assert_eq!(scope("/v1.PolarisGRPC/Heartbeat"), Some(Scope::Heartbeat));
    assert_eq!(scope("/v1.PolarisGRPC/ReportClient"), Some(Scope::Report));
    let register = endpoint_of("/v1.PolarisGRPC/RegisterInstance").unwrap();
    assert_eq!(
        (register.scope(), register.access()),
        (Scope::Client, Access::Write)
    );
    // The HTTP `/v1` route and the gRPC method are one endpoint.
    assert_eq!(register, Endpoint::RegisterInstance);
    assert_eq!(
        endpoint_of("/v1.PolarisConfigGRPC/Discover"),
        Some(Endpoint::ConfigDiscover)
    );
}

#[test]
fn a_registration_names_its_service_and_carries_its_token() {
    let instance = v1::Instance {
        namespace: Some("ns".into()),
        service: Some("svc".into()),
        service_token: Some("tok".into()),
        ..Default::default()
    };
    assert_eq!(
        instance.resources(),
        vec![ResourceRef::service("ns", "svc")]
    );
    assert_eq!(instance.token(), Some("tok"));
    // A message without a namespace names the empty one, which no strategy grants.
    assert_eq!(
        v1::Instance::default().resources(),
        vec![ResourceRef::namespace("")]
    );
    assert_eq!(v1::Instance::default().token(), None);
    let file = v1::ConfigFile {
        namespace: Some("ns".into()),
        group: Some("g".into()),
        ..Default::default()
    };
    assert_eq!(file.resources(), vec![ResourceRef::config_group("ns", "g")]);
}

#[test]
fn a_refusal_is_the_reply_message_with_the_code() {
    let err = PolarisError::new(polaris_types::Code::NotAllowedAccess, "no");
    let reply = v1::Response::refused(&err);
    assert_eq!(reply.code, Some(401001));
    let reply = v1::ConfigDiscoverResponse::refused(&err);
    assert_eq!(reply.code, 401001);
}

/// A naming port with client checks on (strict), over loopback.
async fn strict_port()
-> polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient<tonic::transport::Channel> {
    use polaris_health::{Health, HealthOptions, MemoryBeats};
    use polaris_naming::{Naming, NamingOptions};
    let store = Arc::new(polaris_store::memory::MemoryStore::new());
    let naming = Arc::new(
        Naming::open(store.clone(), NamingOptions::default())
            .await
            .unwrap(),
    );
    let governance = Arc::new(
        polaris_governance::Governance::open(store.clone())
            .await
            .unwrap(),
    );
    let options = polaris_auth::AuthOptions {
        client_open: true,
        client_strict: true,
        ..Default::default()
    };
    let auth = Auth::open(store, options).await.unwrap();
    let health = Health::start(
        naming.clone(),
        Arc::new(MemoryBeats::default()),
        HealthOptions::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = Arc::new(crate::GrpcMetrics::default());
    tokio::spawn(crate::serve_with(
        listener,
        naming,
        governance,
        health,
        metrics,
        auth,
        crate::GrpcLimits::unlimited("service-grpc"),
        std::future::pending(),
    ));
    let channel = crate::tests::connect(addr).await;
    polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient::new(channel)
}

#[tokio::test]
async fn strict_client_checks_answer_in_the_methods_reply_and_spare_heartbeats() {
    let mut client = strict_port().await;
    let instance = v1::Instance {
        namespace: Some("default".into()),
        service: Some("guarded".into()),
        host: Some("10.0.0.1".into()),
        port: Some(80),
        ..Default::default()
    };
    let reply = client
        .register_instance(instance.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.code, Some(401001), "{reply:?}");
    let mut with_token = Request::new(instance.clone());
    with_token.metadata_mut().insert(
        TOKEN_METADATA_KEY,
        polaris_auth::DEFAULT_ADMIN_TOKEN.parse().unwrap(),
    );
    let reply = client
        .register_instance(with_token)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.code, Some(200000), "{reply:?}");
    // The instance's own token works as well.
    let own = v1::Instance {
        port: Some(81),
        service_token: Some(polaris_auth::DEFAULT_ADMIN_TOKEN.into()),
        ..instance.clone()
    };
    let reply = client.register_instance(own).await.unwrap().into_inner();
    assert_eq!(reply.code, Some(200000), "{reply:?}");
    // Heartbeats are never checked.
    let reply = client.heartbeat(instance).await.unwrap().into_inner();
    assert_ne!(reply.code, Some(401001), "{reply:?}");
    // A Discover stream without a token gets one refusal message, status OK.
    let request = v1::DiscoverRequest {
        r#type: polaris_proto::v1::discover_request::DiscoverRequestType::Instance as i32,
        service: Some(v1::Service {
            name: Some("guarded".into()),
            namespace: Some("default".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut answers = client
        .discover(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let first = answers.message().await.unwrap().expect("one refusal");
    assert_eq!(first.code, Some(401001), "{first:?}");
    assert!(
        answers.message().await.unwrap().is_none(),
        "the stream ends"
    );
}
