//! `xds-push`: many ADS streams subscribed to one service's endpoints (as Envoy sidecars are),
//! one instance registration per round, and the time until every stream holds the new EDS
//! version; also the server's CPU per pushed resource and resident memory per idle stream.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use prost::Message;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt;

use crate::net::{client, connect};
use crate::proc::Proc;
use crate::push::{Pushed, Ready, open_streams, register_first, run_rounds};
use crate::report::{Recorder, Report, per_op};
use crate::{Common, XdsArgs};

const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

fn request(cluster: &str, version: &str, nonce: &str, id: usize) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: format!("default/bench-{id}~127.0.0.1"),
            ..Default::default()
        }),
        type_url: EDS.into(),
        resource_names: vec![cluster.to_string()],
        version_info: version.into(),
        response_nonce: nonce.into(),
        ..Default::default()
    }
}

fn endpoint_count(resources: &[envoy_types::pb::google::protobuf::Any]) -> usize {
    resources
        .iter()
        .filter_map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).ok())
        .map(|cla| {
            cla.endpoints
                .iter()
                .map(|g| g.lb_endpoints.len())
                .sum::<usize>()
        })
        .sum()
}

/// One ADS stream that ACKs every response and reports it.
async fn subscriber(
    channel: tonic::transport::Channel,
    cluster: String,
    id: usize,
    opening: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Ready>,
    pushed: mpsc::UnboundedSender<Pushed>,
) {
    let mut permit = Some(opening.acquire_owned().await);
    let (tx, rx) = mpsc::channel(4);
    let _ = tx.send(request(&cluster, "", "", id)).await;
    let mut client =
        AggregatedDiscoveryServiceClient::new(channel).max_decoding_message_size(64 << 20);
    let opened = client
        .stream_aggregated_resources(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    let mut responses = match opened {
        Ok(r) => r.into_inner(),
        Err(status) => {
            let _ = ready.send(Err(format!("open: {status}")));
            return;
        }
    };
    let mut first = true;
    while let Some(Ok(response)) = responses.next().await {
        let at = Instant::now();
        let ack = request(&cluster, &response.version_info, &response.nonce, id);
        if tx.send(ack).await.is_err() {
            return;
        }
        if first {
            first = false;
            permit.take();
            let _ = ready.send(Ok(()));
            continue;
        }
        let event = Pushed {
            at,
            instances: endpoint_count(&response.resources),
            code: 200_000,
        };
        if pushed.send(event).is_err() {
            return;
        }
    }
    if first {
        let _ = ready.send(Err("open: stream ended before its first response".into()));
    }
}

/// `xds-push --streams N --rounds R --xds-addr A`.
pub async fn xds_push(common: &Common, args: &XdsArgs) -> Result<Report> {
    let channels = connect(common.naming_addr(), 1).await?;
    let per_conn = args.push.streams_per_connection.max(1);
    let conns = common.connections.max(args.push.streams.div_ceil(per_conn));
    let xds = connect(&args.xds_addr, conns).await?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let service = format!("bench-xds-{stamp}");
    let cluster = format!("OUTBOUND|default|{service}");
    let mut registrar = client(&channels, 0);
    register_first(&mut registrar, &service).await?;
    let rss_before = common
        .server_pid
        .map(|p| Proc::pid(p).rss_mib())
        .transpose()?;
    let mut rec = Recorder::default();
    let subscriber = |s: usize, opening, ready, pushed| {
        subscriber(
            xds[s % xds.len()].clone(),
            cluster.clone(),
            s,
            opening,
            ready,
            pushed,
        )
    };
    let mut streams = open_streams(args.push.streams, subscriber, &mut rec).await?;
    let subscribed = streams.subscribed;
    // Let the ACKs land before measuring idle memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = common
        .server_pid
        .map(|p| Proc::pid(p).rss_mib())
        .transpose()?;
    let per_stream_kib = match (rss_before, rss_after) {
        (Some(b), Some(a)) if subscribed > 0 => {
            format!("{:.1}", (a - b) * 1024.0 / subscribed as f64)
        }
        _ => "-".into(),
    };
    eprintln!(
        "xds-push: {subscribed}/{} streams over {conns} connections",
        args.push.streams
    );

    let registrar = (&mut registrar, service.as_str());
    let (pid, rounds, pushed) = (
        common.server_pid,
        args.push.rounds,
        (&mut streams.pushed, subscribed),
    );
    let (report, _) = run_rounds(pid, registrar, rounds, pushed, rec, " (EDS)").await?;
    streams.tasks.abort_all();
    let (per_push, usage) = (per_op(report.ops), report.usage);
    Ok(Report {
        scenario: format!("xds-push {} ADS streams", args.push.streams),
        note: format!(
            "rounds={} conns={conns}; µs CPU/pushed EDS resource: server {}, bench {}; server RSS/idle stream {per_stream_kib} KiB",
            args.push.rounds,
            usage.server_cpu.map_or("-".into(), per_push),
            per_push(usage.bench_cpu),
        ),
        ..report
    })
}
