//! Membership rows and the fenced lease on the real engines: taking an ended lease bumps the
//! fence, renewing needs the holder at its fence, and once a node runs membership the
//! change-feed probe reads the nodes and leases in the same statement, so membership finds a
//! fresh reading without a query of its own.

#[macro_use]
mod common;

use std::time::Duration;

use common::SqlHarness;
use polaris_store_sql::{ClusterReading, Dialect, Domain};

const KEY: &str = "MaintainJob";
const LEASE_MS: i64 = 10_000;

fn holder(reading: &ClusterReading) -> Option<(String, i64, bool)> {
    let lease = reading.leases.iter().find(|l| l.key == KEY)?;
    Some((lease.leader.clone(), lease.version, lease.lease_left_ms > 0))
}

async fn the_lease_is_fenced_and_the_probe_reads_the_cluster(dialect: Dialect) {
    let harness = SqlHarness::new(dialect);
    let (a, b) = (harness.open_sql().await, harness.open_sql().await);
    let (ta, tb) = (a.cluster(), b.cluster());
    ta.renew_node("127.0.0.1:1", "127.0.0.1", 1, "a", LEASE_MS)
        .await
        .unwrap();
    tb.renew_node("127.0.0.1:2", "127.0.0.1", 2, "b", -1)
        .await
        .unwrap();

    assert!(ta.lead(KEY, "127.0.0.1:1", None, LEASE_MS).await.unwrap());
    assert!(
        !tb.lead(KEY, "127.0.0.1:2", None, LEASE_MS).await.unwrap(),
        "a running lease cannot be taken"
    );
    assert!(
        !ta.lead(KEY, "127.0.0.1:1", Some(2), LEASE_MS)
            .await
            .unwrap(),
        "renewing needs the fence held"
    );

    // The probe (every node's change-feed poll) refreshes the reading ...
    let revisions = a.revisions().await.unwrap();
    assert!(revisions.iter().any(|r| r.0 == Domain::Naming));
    let probed = ta.reading(Duration::from_secs(60)).await.unwrap();
    // ... so membership gets that very reading back rather than reading again.
    let again = ta.reading(Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.at, probed.at);
    let ids: Vec<_> = probed.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["127.0.0.1:1", "127.0.0.1:2"]);
    assert!(probed.nodes[0].lease_left_ms > 0 && probed.nodes[1].lease_left_ms < 0);
    assert_eq!(probed.nodes[1].detail, "b");
    assert_eq!(holder(&probed), Some(("127.0.0.1:1".into(), 1, true)));

    assert!(
        ta.lead(KEY, "127.0.0.1:1", Some(1), LEASE_MS)
            .await
            .unwrap()
    );
    ta.resign(KEY, "127.0.0.1:1", 1).await.unwrap();
    assert!(tb.lead(KEY, "127.0.0.1:2", None, LEASE_MS).await.unwrap());
    let fresh = tb.reading(Duration::ZERO).await.unwrap();
    assert!(fresh.at > probed.at);
    assert_eq!(
        holder(&fresh),
        Some(("127.0.0.1:2".into(), 2, true)),
        "a new holder gets a higher fence"
    );
    assert!(
        !ta.lead(KEY, "127.0.0.1:1", Some(1), LEASE_MS)
            .await
            .unwrap(),
        "the deposed holder cannot renew"
    );
}

on_both_engines!(the_lease_is_fenced_and_the_probe_reads_the_cluster);
