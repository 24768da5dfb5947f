//! `dstMetaRouter`: keeps the instances carrying the metadata the caller asks for.

use super::{InstanceList, Memo, RouteContext, RouteError, ServiceRouter, retain};
use crate::hash::StableHasher;

/// What `dstMetaRouter` returns when no instance carries the requested metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataFailover {
    /// No instance: the call fails (official `none`, the default).
    #[default]
    None,
    /// Every instance (official `all`).
    All,
    /// The instances that do not carry the requested metadata (official `others`): since
    /// none carries it, every instance.
    Others,
    /// The instances that carry none of the requested keys at all (official
    /// `notContainMetadataKey`, `OTHER_KEYS` in rules).
    OtherKeys,
}

/// Keeps the instances whose metadata contains every requested key with the requested value.
/// Passes the set through when the call asks for no metadata.
#[derive(Debug, Default)]
pub struct DstMetaRouter {
    failover: MetadataFailover,
    memo: Memo,
}

impl DstMetaRouter {
    /// A router with the given failover.
    pub fn new(failover: MetadataFailover) -> Self {
        DstMetaRouter {
            failover,
            memo: Memo::default(),
        }
    }
}

impl ServiceRouter for DstMetaRouter {
    fn name(&self) -> &'static str {
        "dstMetaRouter"
    }

    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        let wanted = &cx.destination_metadata;
        if wanted.is_empty() {
            return Ok(InstanceList::clone(set));
        }
        let carries = |instance: &crate::Instance| {
            wanted
                .iter()
                .all(|(k, v)| instance.metadata.get(k).is_some_and(|x| x == v))
        };
        let mut hasher = StableHasher::with_seed(1);
        for (k, v) in wanted {
            hasher
                .write(k.as_bytes())
                .write(&[0])
                .write(v.as_bytes())
                .write(&[0]);
        }
        let matched = self
            .memo
            .get_or(set, hasher.finish(), || retain(set, carries));
        if !matched.is_empty() {
            return Ok(matched);
        }
        match self.failover {
            MetadataFailover::None => Err(RouteError::NoInstances {
                router: self.name(),
            }),
            MetadataFailover::All => Ok(InstanceList::clone(set)),
            // Nothing carries the metadata, so "the others" are all of them.
            MetadataFailover::Others => Ok(InstanceList::clone(set)),
            MetadataFailover::OtherKeys => {
                let other_keys = self.memo.get_or(set, hasher.finish() ^ 1, || {
                    retain(set, |i| wanted.keys().all(|k| !i.metadata.contains_key(k)))
                });
                if other_keys.is_empty() {
                    Err(RouteError::NoInstances {
                        router: self.name(),
                    })
                } else {
                    Ok(other_keys)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::router::test_support::{ids, instance};

    fn set() -> InstanceList {
        vec![
            instance("a", &[("env", "gray"), ("zone", "1")], ["", "", ""]),
            instance("b", &[("env", "prod")], ["", "", ""]),
            instance("c", &[("env", "gray")], ["", "", ""]),
        ]
        .into()
    }

    fn cx(pairs: &[(&str, &str)]) -> RouteContext {
        RouteContext {
            destination_metadata: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_matching_and_memoises() {
        let router = DstMetaRouter::new(MetadataFailover::None);
        let set = set();
        let first = router.route(&cx(&[("env", "gray")]), &set).unwrap();
        assert_eq!(ids(&first), ["a", "c"]);
        let again = router.route(&cx(&[("env", "gray")]), &set).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let both = router
            .route(&cx(&[("env", "gray"), ("zone", "1")]), &set)
            .unwrap();
        assert_eq!(ids(&both), ["a"]);
        assert!(Arc::ptr_eq(&router.route(&cx(&[]), &set).unwrap(), &set));
    }

    #[test]
    fn failover_when_nothing_matches() {
        let set = set();
        let wanted = cx(&[("env", "canary")]);
        assert!(
            DstMetaRouter::new(MetadataFailover::None)
                .route(&wanted, &set)
                .is_err()
        );
        let all = DstMetaRouter::new(MetadataFailover::All)
            .route(&wanted, &set)
            .unwrap();
        assert_eq!(ids(&all), ["a", "b", "c"]);
        let others = DstMetaRouter::new(MetadataFailover::Others)
            .route(&wanted, &set)
            .unwrap();
        assert_eq!(ids(&others), ["a", "b", "c"]);
        let other_keys = DstMetaRouter::new(MetadataFailover::OtherKeys);
        let without_zone = other_keys.route(&cx(&[("zone", "9")]), &set).unwrap();
        assert_eq!(ids(&without_zone), ["b", "c"]);
        assert!(other_keys.route(&cx(&[("env", "canary")]), &set).is_err());
    }
}
