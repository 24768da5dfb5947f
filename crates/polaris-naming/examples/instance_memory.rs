//! Heap bytes per instance held by the registry cache: 100,000 instances over 100 services,
//! each with what real instances carry (a protocol, a version, one metadata key), put into a
//! [`NamingCache`] the way registration does; the heap is counted by a counting allocator.
//!
//! `cargo run --release -p polaris-naming --example instance_memory [instances] [services]`

use std::alloc::System;

use polaris_naming::NamingCache;
use polaris_types::{Instance, Metadata, Service, instance_id, new_revision};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let instances = args.next().unwrap_or(100_000);
    let services = args.next().unwrap_or(100).max(1);
    let cache = NamingCache::default();
    for s in 0..services {
        cache.put_service(Service {
            namespace: "default".into(),
            name: format!("bench-rss-{s}"),
            ..Default::default()
        });
    }
    let region = Region::new(GLOBAL);
    for n in 0..instances {
        let service = format!("bench-rss-{}", n % services);
        let host = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
        let mut metadata = Metadata::new();
        metadata.insert("env".into(), "prod".into());
        cache.put_instance(Instance {
            id: instance_id("default", &service, "", &host, 8000),
            namespace: "default".into(),
            service,
            host,
            port: 8000,
            protocol: "grpc".into(),
            version: "1.4.2".into(),
            weight: 100,
            healthy: true,
            metadata,
            revision: new_revision(),
            ..Default::default()
        });
    }
    let stats = region.change();
    let live = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    let blocks = stats.allocations as i64 - stats.deallocations as i64;
    println!(
        "{instances} instances in {services} services: {:.1} MiB live heap, {} B and {:.1} blocks per instance ({} allocations in all)",
        live as f64 / (1024.0 * 1024.0),
        live / instances as i64,
        blocks as f64 / instances as f64,
        stats.allocations
    );
}
