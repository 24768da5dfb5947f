//! gRPC harnesses for the naming port (8091), the config port (8093) and xDS (15010,
//! `DiscoveryRequest` and `DeltaDiscoveryRequest` streams with their node ids and metadata): an
//! input becomes one
//! call of a method, its request message(s) taken from the input and sent in gRPC framing through
//! the port's real service (tonic decoding, the auth layer, our handlers). The call must end
//! within the deadline, and every reply message must carry a Polaris code that is not a server
//! fault (`5xxxxx`).

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use polaris_api_grpc::fuzzing::GrpcPort;
use tonic::body::Body;
use tonic::codegen::http::{Request, header};
use tower::ServiceExt;

use crate::stack::{Stack, with_stack};

/// How a method's reply carries its code: as a `UInt32Value` wrapper, a plain `uint32`, or not
/// at all (xDS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeField {
    Wrapped,
    Plain,
    Absent,
}

/// One gRPC method of a port.
#[derive(Clone, Copy, Debug)]
pub struct Method {
    pub path: &'static str,
    /// Client streaming: the input holds several messages.
    pub streaming: bool,
    pub code: CodeField,
}

const fn unary(path: &'static str) -> Method {
    Method {
        path,
        streaming: false,
        code: CodeField::Wrapped,
    }
}

/// The naming port's methods.
pub const NAMING_METHODS: &[Method] = &[
    unary("/v1.PolarisGRPC/ReportClient"),
    unary("/v1.PolarisGRPC/RegisterInstance"),
    unary("/v1.PolarisGRPC/DeregisterInstance"),
    unary("/v1.PolarisGRPC/Heartbeat"),
    Method {
        path: "/v1.PolarisGRPC/Discover",
        streaming: true,
        code: CodeField::Wrapped,
    },
    unary("/v1.PolarisServiceContractGRPC/ReportServiceContract"),
    unary("/v1.PolarisServiceContractGRPC/GetServiceContract"),
];

/// The config port's methods.
pub const CONFIG_METHODS: &[Method] = &[
    unary("/v1.PolarisConfigGRPC/GetConfigFile"),
    unary("/v1.PolarisConfigGRPC/CreateConfigFile"),
    unary("/v1.PolarisConfigGRPC/UpdateConfigFile"),
    unary("/v1.PolarisConfigGRPC/PublishConfigFile"),
    unary("/v1.PolarisConfigGRPC/UpsertAndPublishConfigFile"),
    unary("/v1.PolarisConfigGRPC/WatchConfigFiles"),
    unary("/v1.PolarisConfigGRPC/GetConfigFileMetadataList"),
    Method {
        path: "/v1.PolarisConfigGRPC/Discover",
        streaming: true,
        code: CodeField::Plain,
    },
];

const fn xds_stream(path: &'static str) -> Method {
    Method {
        path,
        streaming: true,
        code: CodeField::Absent,
    }
}

/// The xDS port's methods: ADS and the per-type services, state of the world and delta.
pub const XDS_METHODS: &[Method] = &[
    xds_stream("/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"),
    xds_stream("/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"),
    xds_stream("/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters"),
    xds_stream("/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters"),
    xds_stream("/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints"),
    xds_stream("/envoy.service.endpoint.v3.EndpointDiscoveryService/DeltaEndpoints"),
    xds_stream("/envoy.service.listener.v3.ListenerDiscoveryService/StreamListeners"),
    xds_stream("/envoy.service.listener.v3.ListenerDiscoveryService/DeltaListeners"),
    xds_stream("/envoy.service.route.v3.RouteDiscoveryService/StreamRoutes"),
    xds_stream("/envoy.service.route.v3.RouteDiscoveryService/DeltaRoutes"),
    Method {
        path: "/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
        streaming: false,
        code: CodeField::Absent,
    },
    Method {
        path: "/envoy.service.endpoint.v3.EndpointDiscoveryService/FetchEndpoints",
        streaming: false,
        code: CodeField::Absent,
    },
    Method {
        path: "/envoy.service.listener.v3.ListenerDiscoveryService/FetchListeners",
        streaming: false,
        code: CodeField::Absent,
    },
    Method {
        path: "/envoy.service.route.v3.RouteDiscoveryService/FetchRoutes",
        streaming: false,
        code: CodeField::Absent,
    },
];

/// Messages of a streaming call sent from one input, at most.
pub const MAX_STREAM_MESSAGES: usize = 8;

#[derive(Clone, PartialEq, prost::Message)]
struct WrappedCode {
    #[prost(message, optional, tag = "1")]
    code: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PlainCode {
    #[prost(uint32, tag = "1")]
    code: u32,
}

/// The request messages of an input: the whole input for a unary call; for a stream, chunks
/// each led by a two-byte little-endian length (a short last chunk takes what is left).
pub fn messages<'a>(method: &Method, mut data: &'a [u8]) -> Vec<&'a [u8]> {
    if !method.streaming {
        return vec![data];
    }
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < MAX_STREAM_MESSAGES {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(&data[2..2 + len]);
        data = &data[2 + len..];
    }
    out
}

/// gRPC length-prefixed framing of `messages`, uncompressed.
pub fn frame(messages: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        out.push(0);
        let len = u32::try_from(message.len()).expect("fuzz inputs are small");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(message);
    }
    out
}

/// Calls `method` on `port` with `data`, and checks the reply.
pub fn call(stack: &Stack, port: &GrpcPort, method: &Method, data: &[u8]) {
    let body = frame(&messages(method, data));
    let request = Request::builder()
        .method("POST")
        .uri(method.path)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers")
        .body(Body::new(Full::new(Bytes::from(body))))
        .expect("a valid request");
    let reply = stack.run(async {
        let response = port.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.expect("a readable reply");
        let status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status").cloned())
            .or_else(|| parts.headers.get("grpc-status").cloned());
        (status, collected.to_bytes())
    });
    let Some((status, payload)) = reply else {
        panic!("{} did not answer within the deadline", method.path);
    };
    assert!(
        status.is_some(),
        "{} answered without grpc-status",
        method.path
    );
    if crate::tracing_replies() {
        eprintln!(
            "{} -> grpc-status {status:?}, {} bytes",
            method.path,
            payload.len()
        );
    }
    for message in reply_messages(payload) {
        let code = match method.code {
            CodeField::Wrapped => <WrappedCode as prost::Message>::decode(message.as_slice())
                .expect("a reply with a code field")
                .code
                .unwrap_or_else(|| panic!("{} replied without a code", method.path)),
            CodeField::Plain => {
                <PlainCode as prost::Message>::decode(message.as_slice())
                    .expect("a reply with a code field")
                    .code
            }
            CodeField::Absent => continue,
        };
        assert!(
            code < 500_000,
            "{} replied with server fault code {code}",
            method.path
        );
    }
}

/// The messages of a gRPC reply body.
fn reply_messages(mut payload: Bytes) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while payload.remaining() >= 5 {
        let _compressed = payload.get_u8();
        let len = payload.get_u32() as usize;
        assert!(payload.remaining() >= len, "a truncated reply frame");
        out.push(payload.split_to(len).to_vec());
    }
    assert!(!payload.has_remaining(), "trailing bytes in a reply");
    out
}

fn on_port(methods: &[Method], data: &[u8], port: fn(&Stack) -> &GrpcPort) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let method = &methods[usize::from(pick) % methods.len()];
    with_stack(|stack| call(stack, port(stack), method, rest));
}

/// One call on the naming port: byte 0 picks the method, the rest is the request.
pub fn naming(data: &[u8]) {
    on_port(NAMING_METHODS, data, |stack| &stack.grpc_naming);
}

/// One call on the config port: byte 0 picks the method, the rest is the request.
pub fn config(data: &[u8]) {
    on_port(CONFIG_METHODS, data, |stack| &stack.grpc_config);
}

/// One xDS stream (or fetch): byte 0 picks the method, the rest holds the requests.
pub fn xds(data: &[u8]) {
    on_port(XDS_METHODS, data, |stack| &stack.xds);
}
