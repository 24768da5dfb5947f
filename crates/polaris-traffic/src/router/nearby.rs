//! `nearbyBasedRouter`: prefers instances close to the caller.

use super::{InstanceList, Memo, RouteContext, RouteError, ServiceRouter, retain};
use crate::hash::StableHasher;
use crate::{Instance, Location};

/// How close an instance must be, from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LocationLevel {
    /// Same region, zone and campus.
    Campus,
    /// Same region and zone.
    Zone,
    /// Same region.
    Region,
    /// Anywhere.
    All,
}

impl LocationLevel {
    /// Parses the official configuration names (`campus`, `zone`, `region`, `all`, any case).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "campus" => LocationLevel::Campus,
            "zone" => LocationLevel::Zone,
            "region" => LocationLevel::Region,
            "all" | "" => LocationLevel::All,
            _ => return None,
        })
    }

    fn wider(self) -> Option<Self> {
        match self {
            LocationLevel::Campus => Some(LocationLevel::Zone),
            LocationLevel::Zone => Some(LocationLevel::Region),
            LocationLevel::Region => Some(LocationLevel::All),
            LocationLevel::All => None,
        }
    }

    fn matches(self, caller: &Location, instance: &Location) -> bool {
        let region = caller.region == instance.region;
        let zone = region && caller.zone == instance.zone;
        match self {
            LocationLevel::Campus => zone && caller.campus == instance.campus,
            LocationLevel::Zone => zone,
            LocationLevel::Region => region,
            LocationLevel::All => true,
        }
    }

    /// True when the caller's location names this level (so it can be matched).
    fn known(self, caller: &Location) -> bool {
        match self {
            LocationLevel::Campus => !caller.campus.is_empty() && LocationLevel::Zone.known(caller),
            LocationLevel::Zone => !caller.zone.is_empty() && !caller.region.is_empty(),
            LocationLevel::Region => !caller.region.is_empty(),
            LocationLevel::All => true,
        }
    }
}

/// Keeps the instances at `match_level` (default zone) of the caller. When none of them is
/// healthy it widens one level at a time up to `max_match_level` (default all); with
/// `strict` it never widens. A caller with no location passes the set through.
#[derive(Debug)]
pub struct NearbyRouter {
    match_level: LocationLevel,
    max_match_level: LocationLevel,
    strict: bool,
    memo: Memo,
}

impl Default for NearbyRouter {
    fn default() -> Self {
        NearbyRouter::new(LocationLevel::Zone, LocationLevel::All, false)
    }
}

impl NearbyRouter {
    /// A router matching at `match_level` and widening at most to `max_match_level`.
    pub fn new(match_level: LocationLevel, max_match_level: LocationLevel, strict: bool) -> Self {
        NearbyRouter {
            match_level,
            max_match_level: max_match_level.max(match_level),
            strict,
            memo: Memo::default(),
        }
    }

    fn at_level(
        &self,
        set: &InstanceList,
        caller: &Location,
        level: LocationLevel,
    ) -> InstanceList {
        let mut hasher = StableHasher::with_seed(2);
        hasher
            .write_u64(level as u64)
            .write(caller.region.as_bytes())
            .write(&[0])
            .write(caller.zone.as_bytes())
            .write(&[0])
            .write(caller.campus.as_bytes());
        self.memo.get_or(set, hasher.finish(), || {
            retain(set, |instance: &Instance| {
                level.matches(caller, &instance.location)
            })
        })
    }
}

impl ServiceRouter for NearbyRouter {
    fn name(&self) -> &'static str {
        "nearbyBasedRouter"
    }

    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        let Some(caller) = cx.caller_location.as_ref().filter(|l| !l.region.is_empty()) else {
            return Ok(InstanceList::clone(set));
        };
        let mut level = self.match_level;
        loop {
            if level.known(caller) {
                let near = self.at_level(set, caller, level);
                if near.iter().any(|i| i.healthy && !i.isolate && i.weight > 0) {
                    return Ok(near);
                }
            }
            if self.strict || level >= self.max_match_level {
                return Err(RouteError::NoInstances {
                    router: self.name(),
                });
            }
            match level.wider() {
                Some(wider) => level = wider,
                None => {
                    return Err(RouteError::NoInstances {
                        router: self.name(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::test_support::{ids, instance};

    fn set() -> InstanceList {
        vec![
            instance("sz-1", &[], ["south", "sz", "a"]),
            instance("sz-2", &[], ["south", "sz", "b"]),
            instance("gz-1", &[], ["south", "gz", "a"]),
            instance("bj-1", &[], ["north", "bj", "a"]),
        ]
        .into()
    }

    fn from(region: &str, zone: &str, campus: &str) -> RouteContext {
        RouteContext {
            caller_location: Some(Location {
                region: region.into(),
                zone: zone.into(),
                campus: campus.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn zone_by_default_then_widens() {
        let router = NearbyRouter::default();
        let set = set();
        assert_eq!(
            ids(&router.route(&from("south", "sz", "b"), &set).unwrap()),
            ["sz-1", "sz-2"]
        );
        // No instance in zone "fs": widen to region "south".
        assert_eq!(
            ids(&router.route(&from("south", "fs", "a"), &set).unwrap()),
            ["sz-1", "sz-2", "gz-1"]
        );
        // Unknown region: widen to all.
        assert_eq!(
            router.route(&from("west", "x", "y"), &set).unwrap().len(),
            4
        );
        // No location: unchanged.
        assert!(std::sync::Arc::ptr_eq(
            &router.route(&RouteContext::default(), &set).unwrap(),
            &set
        ));
    }

    #[test]
    fn campus_level_strict_and_max_level() {
        let set = set();
        let campus = NearbyRouter::new(LocationLevel::Campus, LocationLevel::All, false);
        assert_eq!(
            ids(&campus.route(&from("south", "sz", "b"), &set).unwrap()),
            ["sz-2"]
        );
        let strict = NearbyRouter::new(LocationLevel::Zone, LocationLevel::All, true);
        assert!(strict.route(&from("south", "fs", "a"), &set).is_err());
        let capped = NearbyRouter::new(LocationLevel::Zone, LocationLevel::Region, false);
        assert!(capped.route(&from("west", "x", "y"), &set).is_err());
        assert_eq!(
            capped.route(&from("south", "fs", "y"), &set).unwrap().len(),
            3
        );
    }

    #[test]
    fn unhealthy_zone_degrades() {
        let mut sick = (*instance("sz-1", &[], ["south", "sz", "a"])).clone();
        sick.healthy = false;
        let set: InstanceList = vec![
            std::sync::Arc::new(sick),
            instance("gz-1", &[], ["south", "gz", "a"]),
        ]
        .into();
        let out = NearbyRouter::default()
            .route(&from("south", "sz", "a"), &set)
            .unwrap();
        assert_eq!(ids(&out), ["sz-1", "gz-1"]);
    }
}
