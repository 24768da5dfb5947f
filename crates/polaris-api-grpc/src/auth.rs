//! Access control for both gRPC ports, as one tower layer in front of every service: it reads
//! the `x-polaris-token` metadata (or the `service_token` of a registered instance, which takes
//! precedence, as officially), lets heartbeats and client reports through unchecked, and checks
//! registrations and config writes against the resources they name. A refusal is the method's
//! own reply message carrying the Polaris code (gRPC status OK), as the official server answers.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use polaris_auth::{Access, Auth, Origin, ResourceRef};
use polaris_proto::v1;
use polaris_types::{Code, PolarisError};
use prost::Message;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, HeaderValue, Request, Response};

use crate::MAX_MESSAGE_BYTES;

/// The metadata key of the token.
pub const TOKEN_METADATA_KEY: &str = "x-polaris-token";

/// The reply message type a method answers with, for refusals.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Naming,
    Discover,
    ConfigClient,
    ConfigList,
    ConfigDiscover,
}

/// How a method is checked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Never checked (heartbeats and client reports, as officially).
    Unchecked,
    /// The token only: reads.
    Token(ReplyKind),
    /// The token, and write access to what the decoded message names.
    Write(ReplyKind, Decoder),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decoder {
    Instance,
    ConfigFile,
    ConfigRelease,
    ConfigPublish,
    Contract,
}

pub(crate) fn classify(path: &str) -> Check {
    use Check::*;
    use ReplyKind::*;
    match path {
        "/v1.PolarisGRPC/Heartbeat"
        | "/v1.PolarisGRPC/BatchHeartbeat"
        | "/v1.PolarisGRPC/BatchGetHeartbeat"
        | "/v1.PolarisGRPC/BatchDelHeartbeat"
        | "/v1.PolarisGRPC/ReportClient"
        | "/v1.PolarisHeartbeatGRPC/BatchHeartbeat" => Unchecked,
        "/v1.PolarisGRPC/RegisterInstance" | "/v1.PolarisGRPC/DeregisterInstance" => {
            Write(Naming, Decoder::Instance)
        }
        "/v1.PolarisGRPC/Discover" => Token(Discover),
        "/v1.PolarisServiceContractGRPC/ReportServiceContract" => Write(Naming, Decoder::Contract),
        "/v1.PolarisConfigGRPC/CreateConfigFile" | "/v1.PolarisConfigGRPC/UpdateConfigFile" => {
            Write(ConfigClient, Decoder::ConfigFile)
        }
        "/v1.PolarisConfigGRPC/PublishConfigFile" => Write(ConfigClient, Decoder::ConfigRelease),
        "/v1.PolarisConfigGRPC/UpsertAndPublishConfigFile" => {
            Write(ConfigClient, Decoder::ConfigPublish)
        }
        "/v1.PolarisConfigGRPC/GetConfigFileMetadataList" => Token(ConfigList),
        "/v1.PolarisConfigGRPC/Discover" => Token(ConfigDiscover),
        p if p.starts_with("/v1.PolarisConfigGRPC/") => Token(ConfigClient),
        _ => Token(Naming),
    }
}

/// The layer for `Server::builder().layer(..)`.
#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<Auth>,
}

impl AuthLayer {
    pub fn new(auth: Arc<Auth>) -> Self {
        AuthLayer { auth }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around the gRPC router.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Auth>,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<Request<Body>> for AuthService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            // With client checks off (the default) nothing is looked at.
            if !auth.options().client_open {
                return inner.call(request).await;
            }
            let check = classify(request.uri().path());
            let (kind, decoder) = match check {
                Check::Unchecked => return inner.call(request).await,
                Check::Token(kind) => (kind, None),
                Check::Write(kind, decoder) => (kind, Some(decoder)),
            };
            let header_token = request
                .headers()
                .get(TOKEN_METADATA_KEY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(decoder) = decoder else {
                return match auth.authenticate(Origin::Client, header_token.as_deref()) {
                    Ok(_) => inner.call(request).await,
                    Err(err) => Ok(refusal(kind, &err)),
                };
            };
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, MAX_MESSAGE_BYTES + 5).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let err = PolarisError::new(Code::ParseException, "unreadable request");
                    return Ok(refusal(kind, &err));
                }
            };
            let (resources, body_token) = named(decoder, &bytes);
            let token = body_token.or(header_token);
            let verdict = auth
                .authenticate(Origin::Client, token.as_deref())
                .and_then(|operator| auth.authorize(&operator, Access::Write, &resources));
            if let Err(err) = verdict {
                return Ok(refusal(kind, &err));
            }
            inner
                .call(Request::from_parts(parts, Body::new(Full::new(bytes))))
                .await
        })
    }
}

/// The resources a unary request message names, and the token it carries. A message that does
/// not decode names nothing; its handler answers the parse error.
fn named(decoder: Decoder, frame: &[u8]) -> (Vec<ResourceRef>, Option<String>) {
    let message = frame.get(5..).unwrap_or_default();
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    match decoder {
        Decoder::Instance => match v1::Instance::decode(message) {
            Ok(i) => (
                service_ref(i.namespace, i.service),
                nonempty(i.service_token),
            ),
            Err(_) => (Vec::new(), None),
        },
        Decoder::Contract => match v1::ServiceContract::decode(message) {
            Ok(c) => (service_ref(Some(c.namespace), Some(c.service)), None),
            Err(_) => (Vec::new(), None),
        },
        Decoder::ConfigFile => match v1::ConfigFile::decode(message) {
            Ok(f) => (group_ref(f.namespace, f.group), None),
            Err(_) => (Vec::new(), None),
        },
        Decoder::ConfigRelease => match v1::ConfigFileRelease::decode(message) {
            Ok(r) => (group_ref(r.namespace, r.group), None),
            Err(_) => (Vec::new(), None),
        },
        Decoder::ConfigPublish => match v1::ConfigFilePublishInfo::decode(message) {
            Ok(p) => (group_ref(p.namespace, p.group), None),
            Err(_) => (Vec::new(), None),
        },
    }
}

fn service_ref(namespace: Option<String>, service: Option<String>) -> Vec<ResourceRef> {
    match (namespace.unwrap_or_default(), service.unwrap_or_default()) {
        (ns, svc) if !ns.is_empty() && !svc.is_empty() => vec![ResourceRef::service(ns, svc)],
        (ns, _) if !ns.is_empty() => vec![ResourceRef::namespace(ns)],
        _ => vec![ResourceRef::namespace("")],
    }
}

fn group_ref(namespace: Option<String>, group: Option<String>) -> Vec<ResourceRef> {
    match (namespace.unwrap_or_default(), group.unwrap_or_default()) {
        (ns, g) if !g.is_empty() => vec![ResourceRef::config_group(ns, g)],
        (ns, _) => vec![ResourceRef::namespace(ns)],
    }
}

/// A complete gRPC reply: one message carrying the code, then an OK status.
pub(crate) fn refusal(kind: ReplyKind, err: &PolarisError) -> Response<Body> {
    let code = err.code.value();
    let info = err.info();
    let message = match kind {
        ReplyKind::Naming => v1::Response {
            code: Some(code),
            info: Some(info),
            ..Default::default()
        }
        .encode_to_vec(),
        ReplyKind::Discover => v1::DiscoverResponse {
            code: Some(code),
            info: Some(info),
            ..Default::default()
        }
        .encode_to_vec(),
        ReplyKind::ConfigClient => v1::ConfigClientResponse {
            code: Some(code),
            info: Some(info),
            ..Default::default()
        }
        .encode_to_vec(),
        ReplyKind::ConfigList => v1::ConfigClientListResponse {
            code: Some(code),
            info: Some(info),
            ..Default::default()
        }
        .encode_to_vec(),
        ReplyKind::ConfigDiscover => v1::ConfigDiscoverResponse {
            code,
            info,
            ..Default::default()
        }
        .encode_to_vec(),
    };
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(&message);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(Frame::data(Bytes::from(frame))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(tokio_stream::iter(frames));
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_never_checked_and_registrations_are_writes() {
        assert_eq!(classify("/v1.PolarisGRPC/Heartbeat"), Check::Unchecked);
        assert_eq!(
            classify("/v1.PolarisGRPC/RegisterInstance"),
            Check::Write(ReplyKind::Naming, Decoder::Instance)
        );
        assert_eq!(
            classify("/v1.PolarisConfigGRPC/Discover"),
            Check::Token(ReplyKind::ConfigDiscover)
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
        let mut frame = vec![0, 0, 0, 0, 0];
        frame.extend(instance.encode_to_vec());
        let (resources, token) = named(Decoder::Instance, &frame);
        assert_eq!(resources, vec![ResourceRef::service("ns", "svc")]);
        assert_eq!(token.as_deref(), Some("tok"));
        // A message without a namespace names the empty one, which no strategy grants.
        assert_eq!(
            named(Decoder::Instance, &[0, 0]).0,
            vec![ResourceRef::namespace("")]
        );
        // Bytes that do not decode name nothing; the handler answers the parse error.
        assert_eq!(
            named(Decoder::Instance, &[0, 0, 0, 0, 9, 0xff, 0xff]).0,
            Vec::<ResourceRef>::new()
        );
    }
}
