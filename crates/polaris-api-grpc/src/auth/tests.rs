use super::*;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/wire/auth.md");
const BEGIN: &str =
    "<!-- grpc permission table: generated from crates/polaris-api-grpc/src/auth/mod.rs -->\n";
const END: &str = "<!-- end of grpc permission table -->";

/// The documented gRPC table is the code's (`UPDATE_DOCS=1` rewrites it).
#[test]
fn the_documented_grpc_table_is_the_enforced_one() {
    let doc = std::fs::read_to_string(DOC).expect("docs/wire/auth.md");
    let start = doc.find(BEGIN).expect("table start marker") + BEGIN.len();
    let end = doc.find(END).expect("table end marker");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{}{}", &doc[..start], markdown(), &doc[end..]);
        std::fs::write(DOC, updated).expect("write docs");
        return;
    }
    assert_eq!(
        &doc[start..end],
        markdown(),
        "run with UPDATE_DOCS=1 to regenerate"
    );
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
