//! xDS counters for `/metrics`: open streams, pushed responses and resources, NACKs.

use polaris_limits::register_fields;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::cache::XdsType;

/// The xDS metrics.
#[derive(Default, Debug)]
pub struct XdsMetrics {
    streams: Gauge,
    responses: Counter,
    resources: Counter,
    nacks: Counter,
}

/// Counts a stream as open while alive.
pub struct OpenStream<'a>(&'a Gauge);

impl Drop for OpenStream<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl XdsMetrics {
    /// Registers the metrics under `xds_`.
    pub fn register(registry: &mut Registry) -> XdsMetrics {
        let metrics = XdsMetrics::default();
        register_fields!(registry.sub_registry_with_prefix("xds"), metrics, {
            streams: "streams", "Open xDS streams";
            responses: "responses", "xDS responses sent";
            resources: "resources", "Resources sent in xDS responses";
            nacks: "nacks", "xDS responses rejected by clients";
        });
        metrics
    }

    pub fn stream_opened(&self) -> OpenStream<'_> {
        self.streams.inc();
        OpenStream(&self.streams)
    }

    pub fn pushed(&self, _ty: XdsType, resources: usize) {
        self.responses.inc();
        self.resources.inc_by(resources as u64);
    }

    pub fn nacked(&self, _ty: XdsType) {
        self.nacks.inc();
    }

    /// Open streams now.
    pub fn open_streams(&self) -> i64 {
        self.streams.get()
    }
}
