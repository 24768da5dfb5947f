//! `discover`: long-lived Discover streams with one request in flight each.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::net::{Limit, NAMESPACE, Pacer};
use crate::proc::CpuMark;
use crate::report::{Recorder, Report};
use crate::unary::register_all;
use crate::{Common, DiscoverArgs, Mode};

/// An INSTANCE request for `service`, carrying `revision` when the client has one.
pub fn instance_request(service: &str, revision: Option<String>) -> v1::DiscoverRequest {
    v1::DiscoverRequest {
        r#type: DiscoverRequestType::Instance as i32,
        service: Some(v1::Service {
            name: Some(service.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            revision,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the bench reads of a Discover reply.
pub trait Reply: prost::Message + Default + Send + 'static {
    fn code(&self) -> u32;
    fn revision(&self) -> Option<String>;
}

impl Reply for v1::DiscoverResponse {
    fn code(&self) -> u32 {
        self.code.unwrap_or(0)
    }

    fn revision(&self) -> Option<String> {
        self.service.as_ref().and_then(|s| s.revision.clone())
    }
}

/// A `DiscoverResponse` read for its code (field 1) and service revision (field 4, then 15)
/// only: prost skips the instances without decoding them, so the bench's own decoding does not
/// limit how hard it can drive the server (`--lean`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeanReply {
    #[prost(message, optional, tag = "1")]
    code: Option<u32>,
    #[prost(message, optional, tag = "4")]
    service: Option<LeanService>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LeanService {
    #[prost(message, optional, tag = "15")]
    revision: Option<String>,
}

impl Reply for LeanReply {
    fn code(&self) -> u32 {
        self.code.unwrap_or(0)
    }

    fn revision(&self) -> Option<String> {
        self.service.as_ref().and_then(|s| s.revision.clone())
    }
}

/// One open Discover stream: requests go in through `tx`, replies come out of `rx`.
pub struct DiscoverStream<R = v1::DiscoverResponse> {
    tx: mpsc::Sender<v1::DiscoverRequest>,
    rx: tonic::Streaming<R>,
}

impl<R: Reply> DiscoverStream<R> {
    /// Opens a stream and sends `first` on it; with `push`, asks the server for pushes.
    pub async fn open(channel: Channel, first: v1::DiscoverRequest, push: bool) -> Result<Self> {
        let (tx, requests) = mpsc::channel(4);
        tx.send(first).await.context("queue first request")?;
        let mut request = tonic::Request::new(ReceiverStream::new(requests));
        if push {
            request
                .metadata_mut()
                .insert("x-polaris-push", "true".parse().expect("ascii value"));
        }
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.context("channel not ready")?;
        let codec = tonic_prost::ProstCodec::<v1::DiscoverRequest, R>::default();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static("/v1.PolarisGRPC/Discover");
        let rx = grpc.streaming(request, path, codec).await?.into_inner();
        Ok(DiscoverStream { tx, rx })
    }

    pub async fn send(&self, request: v1::DiscoverRequest) -> Result<()> {
        self.tx.send(request).await.context("stream closed")
    }

    /// The next reply; an error when the stream ends.
    pub async fn next(&mut self) -> Result<R> {
        self.rx.message().await?.context("stream ended")
    }
}

/// Sends and times requests on one stream until the pacer says stop.
async fn worker<R: Reply>(
    channel: Channel,
    service: String,
    mode: Mode,
    pacer: Arc<Pacer>,
) -> Result<(Recorder, u64)> {
    let mut stream =
        DiscoverStream::<R>::open(channel, instance_request(&service, None), false).await?;
    let first = stream.next().await?;
    let mut revision = first.revision();
    let mut rec = Recorder::default();
    let mut ops = 0u64;
    while pacer.next().is_some() {
        let asked = match mode {
            Mode::Unchanged => revision.clone(),
            Mode::Changed => None,
        };
        let began = Instant::now();
        stream.send(instance_request(&service, asked)).await?;
        let outcome = match stream.next().await {
            Ok(reply) => {
                let code = reply.code();
                if code == 200_000 {
                    revision = reply.revision().or(revision);
                }
                Ok(code)
            }
            Err(err) => Err(err.to_string()),
        };
        let failed = outcome.is_err();
        rec.record(began.elapsed(), outcome);
        ops += 1;
        if failed {
            break;
        }
    }
    Ok((rec, ops))
}

/// `discover --mode changed|unchanged` over `services` services of `instances` instances each.
pub async fn discover(common: &Common, args: &DiscoverArgs) -> Result<Report> {
    let channels = common.channels().await?;
    let services: Vec<String> = (0..args.services.max(1))
        .map(|s| format!("bench-discover-{s}"))
        .collect();
    for service in &services {
        let (setup, _, _) = register_all(&channels, 32, service, 0, args.instances, None).await?;
        if setup.errors > 0 {
            bail!("setup of {service}: {:?}", setup.first_error);
        }
    }
    let limit = common.limit(Limit::For(std::time::Duration::from_secs(10)))?;
    let pacer = Arc::new(Pacer::new(limit));
    let mark = CpuMark::start(common.server_pid)?;
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for w in 0..common.concurrency.max(1) {
        let channel = channels[w % channels.len()].clone();
        let service = services[w % services.len()].clone();
        if args.lean {
            workers.spawn(worker::<LeanReply>(
                channel,
                service,
                args.mode,
                pacer.clone(),
            ));
        } else {
            workers.spawn(worker::<v1::DiscoverResponse>(
                channel,
                service,
                args.mode,
                pacer.clone(),
            ));
        }
    }
    let mut rec = Recorder::default();
    let mut ops = 0;
    while let Some(done) = workers.join_next().await {
        match done? {
            Ok((r, n)) => {
                rec.merge(r);
                ops += n;
            }
            Err(err) => rec.error(format!("stream failed: {err:#}")),
        }
    }
    let elapsed = start.elapsed();
    let mode = match args.mode {
        Mode::Changed => "changed",
        Mode::Unchanged => "unchanged",
    };
    Ok(Report {
        scenario: format!(
            "discover {mode}{}",
            if args.lean { " (lean client)" } else { "" }
        ),
        ops,
        elapsed,
        rec,
        usage: mark.finish()?,
        note: format!(
            "streams={} conns={} services={} instances/service={}",
            common.concurrency,
            common.connections,
            services.len(),
            args.instances
        ),
    })
}
