//! Rule storage, validation and selection against the in-memory store backend.

use std::sync::Arc;

use polaris_store::NamingStore;
use polaris_store::memory::MemoryStore;
use polaris_types::{Code, Rule, RuleKind, RuleTarget, ServiceKey, TargetRole};

use crate::{Governance, RuleFilter};

fn target(ns: &str, svc: &str, role: TargetRole) -> RuleTarget {
    RuleTarget {
        namespace: ns.into(),
        service: svc.into(),
        role,
    }
}

fn spec(kind: RuleKind, name: &str, priority: u32, targets: Vec<RuleTarget>) -> Rule {
    Rule {
        priority,
        ..Rule::new(kind, name, targets, name.as_bytes().to_vec())
    }
}

async fn governance() -> (Arc<MemoryStore>, Governance) {
    let store = Arc::new(MemoryStore::new());
    let governance = Governance::open(store.clone()).await.unwrap();
    (store, governance)
}

#[tokio::test]
async fn rules_apply_by_exact_name_or_wildcard_in_priority_order() {
    let (_, g) = governance().await;
    let key = ServiceKey::new("default", "svc");
    g.create(spec(
        RuleKind::RateLimit,
        "late",
        5,
        vec![target("default", "svc", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    g.create(spec(
        RuleKind::RateLimit,
        "early",
        1,
        vec![target("*", "*", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    g.create(spec(
        RuleKind::RateLimit,
        "other",
        0,
        vec![target("default", "nope", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    g.create(spec(
        RuleKind::CircuitBreaker,
        "cb",
        0,
        vec![target("default", "svc", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    let applicable = g.rules_for(RuleKind::RateLimit, &key, None);
    let names: Vec<_> = applicable.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["early", "late"]);
    assert!(!applicable.revision.is_empty());
    assert!(g.rules_for(RuleKind::Lane, &key, None).revision.is_empty());
}

#[tokio::test]
async fn the_revision_follows_every_change_and_disabled_rules_are_excluded() {
    let (_, g) = governance().await;
    let key = ServiceKey::new("default", "svc");
    let rule = g
        .create(spec(
            RuleKind::Routing,
            "r",
            0,
            vec![target("default", "svc", TargetRole::Caller)],
        ))
        .await
        .unwrap();
    let r1 = g.rules_for(RuleKind::Routing, &key, None).revision;
    let mut changed = spec(RuleKind::Routing, "r", 3, rule.targets.clone());
    changed.id = rule.id.clone();
    g.update(changed).await.unwrap();
    let r2 = g.rules_for(RuleKind::Routing, &key, None).revision;
    assert_ne!(r1, r2);
    g.enable(RuleKind::Routing, &rule.id, false).await.unwrap();
    assert!(g.rules_for(RuleKind::Routing, &key, None).rules.is_empty());
    assert!(
        g.rules_for(RuleKind::Routing, &key, Some(TargetRole::Callee))
            .rules
            .is_empty()
    );
}

#[tokio::test]
async fn names_are_unique_per_kind_and_namespace_with_official_codes() {
    let (_, g) = governance().await;
    let targets = vec![target("default", "svc", TargetRole::Callee)];
    g.create(spec(RuleKind::CircuitBreaker, "x", 0, targets.clone()))
        .await
        .unwrap();
    let again = g
        .create(spec(RuleKind::CircuitBreaker, "x", 0, targets.clone()))
        .await
        .unwrap_err();
    assert_eq!(again.code, Code::ServiceExistedCircuitBreakers);
    g.create(spec(RuleKind::FaultDetector, "x", 0, targets.clone()))
        .await
        .unwrap();
    let again = g
        .create(spec(RuleKind::FaultDetector, "x", 0, targets.clone()))
        .await
        .unwrap_err();
    assert_eq!(again.code, Code::FaultDetectRuleExisted);
    // Rate-limit and routing names need not be unique.
    g.create(spec(RuleKind::RateLimit, "x", 0, targets.clone()))
        .await
        .unwrap();
    g.create(spec(RuleKind::RateLimit, "x", 0, targets.clone()))
        .await
        .unwrap();
    g.delete(RuleKind::RateLimit, "unknown id").await.unwrap();
    let missing = g
        .enable(RuleKind::RateLimit, "nope", true)
        .await
        .unwrap_err();
    assert_eq!(missing.code, Code::NotFoundRateLimit);
    let mut update = spec(RuleKind::CircuitBreaker, "y", 0, targets.clone());
    update.id = "nope".into();
    assert_eq!(
        g.update(update).await.unwrap_err().code,
        Code::NotFoundCircuitBreaker
    );
    let long = "n".repeat(65);
    let bad = g
        .create(spec(RuleKind::RateLimit, &long, 0, targets))
        .await
        .unwrap_err();
    assert_eq!(bad.code, Code::InvalidRateLimitName);
}

#[tokio::test]
async fn writes_are_durable_and_failed_writes_invisible() {
    let (store, g) = governance().await;
    let rule = g
        .create(spec(RuleKind::Lane, "lane", 0, vec![]))
        .await
        .unwrap();
    let reopened = Governance::open(Arc::new(MemoryStore::open(store.data())))
        .await
        .unwrap();
    assert_eq!(
        reopened
            .get(RuleKind::Lane, &rule.id)
            .unwrap()
            .body
            .as_slice(),
        b"lane"
    );
    store.fail_writes(true);
    let err = g
        .create(spec(RuleKind::Lane, "lost", 0, vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::StoreLayerException);
    assert!(
        g.list(
            RuleKind::Lane,
            &RuleFilter {
                name: "lost".into(),
                ..Default::default()
            }
        )
        .is_empty()
    );
    store.fail_writes(false);
    g.delete(RuleKind::Lane, &rule.id).await.unwrap();
    assert!(
        store
            .load_rules(0)
            .await
            .unwrap()
            .iter()
            .all(|c| c.clone().upserted().is_none())
    );
}

#[tokio::test]
async fn changes_are_announced_by_kind() {
    let (_, g) = governance().await;
    let mut events = g.subscribe();
    g.create(spec(RuleKind::FaultDetector, "fd", 0, vec![]))
        .await
        .unwrap();
    assert_eq!(events.try_recv().unwrap(), RuleKind::FaultDetector);
}

#[tokio::test]
async fn listing_filters() {
    let (_, g) = governance().await;
    g.create(spec(
        RuleKind::RateLimit,
        "alpha",
        0,
        vec![target("default", "a", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    g.create(spec(
        RuleKind::RateLimit,
        "beta",
        0,
        vec![target("default", "b", TargetRole::Callee)],
    ))
    .await
    .unwrap();
    let by_prefix = g.list(
        RuleKind::RateLimit,
        &RuleFilter {
            name: "al*".into(),
            ..Default::default()
        },
    );
    assert_eq!(by_prefix.len(), 1);
    let by_service = g.list(
        RuleKind::RateLimit,
        &RuleFilter {
            service: "b".into(),
            ..Default::default()
        },
    );
    assert_eq!(by_service[0].name, "beta");
    assert_eq!(g.list(RuleKind::RateLimit, &RuleFilter::default()).len(), 2);
}

#[tokio::test]
async fn oversized_and_invalid_rules_are_refused() {
    let (_, g) = governance().await;
    let many: Vec<_> = (0..2000)
        .map(|i| target("default", &format!("s{i}"), TargetRole::Callee))
        .collect();
    assert_eq!(
        g.create(spec(RuleKind::RateLimit, "many", 0, many))
            .await
            .unwrap_err()
            .code,
        Code::InvalidParameter
    );
    let bad_service = vec![target("default", "bad name", TargetRole::Callee)];
    assert_eq!(
        g.create(spec(RuleKind::RateLimit, "bad", 0, bad_service))
            .await
            .unwrap_err()
            .code,
        Code::InvalidServiceName
    );
    assert!(
        g.list(RuleKind::RateLimit, &RuleFilter::default())
            .is_empty()
    );
}

#[test]
fn combined_revisions_follow_the_official_scheme() {
    let rule = |revision: &str| {
        Arc::new(polaris_types::Rule {
            kind: RuleKind::RateLimit,
            id: revision.into(),
            name: String::new(),
            namespace: "default".into(),
            enable: true,
            priority: 0,
            description: String::new(),
            targets: vec![],
            body: Vec::new().into(),
            revision: revision.into(),
            ctime: 0,
            mtime: 0,
        })
    };
    assert_eq!(crate::combined_revision(&[]), "");
    assert_eq!(crate::combined_revision(&[rule("only")]), "only");
    // SHA-1 of "ab" (sorted concatenation), computed independently with Python's hashlib.
    assert_eq!(
        crate::combined_revision(&[rule("b"), rule("a")]),
        "da23614e02469a0d7c7bd1bdab5c9c474b1904dc"
    );
}
