use std::sync::Arc;
use std::time::Duration;

use super::test_support::{ids, instance};
use super::*;
use crate::balance::{Criteria, LoadBalancer, WeightedRandomBalancer};
use crate::breaker::{CircuitBreakers, Outcome, Resource};

fn snapshot() -> InstanceList {
    let mut sick = (*instance("sz-sick", &[], ["south", "sz", "a"])).clone();
    sick.healthy = false;
    vec![
        instance("sz-1", &[], ["south", "sz", "a"]),
        Arc::new(sick),
        instance("sz-2", &[], ["south", "sz", "b"]),
        instance("bj-1", &[], ["north", "bj", "a"]),
    ]
    .into()
}

fn cx() -> RouteContext {
    RouteContext {
        destination: ServiceKey::new("default", "orders"),
        caller_location: Some(Location {
            region: "south".into(),
            zone: "sz".into(),
            campus: "a".into(),
        }),
        ..Default::default()
    }
}

#[test]
fn default_chain_has_the_official_order() {
    assert_eq!(
        RouterChain::default().names(),
        [
            "laneRouter",
            "ruleBasedRouter",
            "nearbyBasedRouter",
            "filterOnlyRouter"
        ]
    );
}

#[test]
fn chain_narrows_and_repeats_with_the_same_arc() {
    let chain = RouterChain::default();
    let set = snapshot();
    let first = chain.route(&cx(), &set).unwrap();
    assert_eq!(ids(&first), ["sz-1", "sz-2"]);
    let second = chain.route(&cx(), &set).unwrap();
    assert!(Arc::ptr_eq(&first, &second), "memoised all the way down");
    let balancer = WeightedRandomBalancer::with_seed(3);
    for _ in 0..100 {
        let picked = balancer.pick(&second, &Criteria::default()).unwrap();
        assert!(picked.id.starts_with("sz-") && picked.healthy);
    }
}

#[test]
fn unfiltered_snapshot_passes_through_untouched() {
    let set: InstanceList = vec![
        instance("a", &[], ["", "", ""]),
        instance("b", &[], ["", "", ""]),
    ]
    .into();
    let out = RouterChain::default()
        .route(&RouteContext::default(), &set)
        .unwrap();
    assert!(Arc::ptr_eq(&out, &set));
}

#[tokio::test(start_paused = true)]
async fn open_instance_breakers_are_routed_around() {
    let breakers = Arc::new(CircuitBreakers::new());
    let chain = RouterChain::new(
        vec![],
        vec![Arc::new(NearbyRouter::default())],
        vec![Arc::new(FilterOnlyRouter::new(
            true,
            Some(breakers.clone()),
        ))],
    );
    let set = snapshot();
    let failing = Resource::Instance(ServiceKey::new("default", "orders"), "host-sz-1".into(), 80);
    for _ in 0..10 {
        breakers.report(
            None,
            &failing,
            &Outcome {
                code: "500",
                delay: Duration::from_millis(1),
                success: false,
            },
        );
    }
    assert_eq!(ids(&chain.route(&cx(), &set).unwrap()), ["sz-2"]);
    tokio::time::advance(crate::breaker::DEFAULT_SLEEP_WINDOW).await;
    assert_eq!(
        ids(&chain.route(&cx(), &set).unwrap()),
        ["sz-1", "sz-2"],
        "half-open admits trials"
    );
}

#[test]
fn an_empty_result_names_the_router() {
    let set: InstanceList = vec![Arc::new(Instance {
        isolate: true,
        ..(*instance("x", &[], ["", "", ""])).clone()
    })]
    .into();
    assert_eq!(
        RouterChain::default().route(&RouteContext::default(), &set),
        Err(RouteError::NoInstances {
            router: "filterOnlyRouter"
        })
    );
}
