//! Which node judges which instance: rendezvous hashing of `(node id, instance id)` over the
//! live nodes. Every node computes the same owner from the same membership list, and when a node
//! joins or leaves only the instances it owned (or now owns) move. The hash is FNV-1a, fixed by
//! its definition, so owners agree across nodes, builds and versions.

use parking_lot::RwLock;

/// This node's id and the live nodes, as membership last saw them; shared with the checker.
#[derive(Debug, Default)]
pub struct LiveNodes {
    inner: RwLock<(String, Vec<String>)>,
}

impl LiveNodes {
    /// Records what membership saw.
    pub fn set(&self, me: String, live: Vec<String>) {
        *self.inner.write() = (me, live);
    }

    /// Whether this node judges `instance` (every instance until membership is known).
    pub fn owns(&self, instance: &str) -> bool {
        let guard = self.inner.read();
        let (me, live) = &*guard;
        me.is_empty() || owns(me, live, instance)
    }
}

/// FNV-1a over the bytes of `a`, a separator, then `b`.
fn fnv1a(a: &str, b: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in a.bytes().chain([0xff]).chain(b.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    // FNV's low bits mix poorly for short inputs; finish with a 64-bit avalanche step.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

/// The node among `nodes` that owns `instance` (`None` when there is no node).
pub fn owner<'a>(nodes: &'a [String], instance: &str) -> Option<&'a str> {
    nodes
        .iter()
        .max_by_key(|node| (fnv1a(node, instance), node.as_str()))
        .map(String::as_str)
}

/// Whether `me` owns `instance` among the live `nodes` (`me` counts as live; with no membership
/// known yet a node judges everything, as a single node does).
pub fn owns(me: &str, nodes: &[String], instance: &str) -> bool {
    if nodes.is_empty() {
        return true;
    }
    if nodes.iter().any(|n| n == me) {
        return owner(nodes, instance) == Some(me);
    }
    let mut with_me = nodes.to_vec();
    with_me.push(me.to_string());
    owner(&with_me, instance) == Some(me)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("127.0.0.1:{}", 18091 + 100 * i))
            .collect()
    }

    #[test]
    fn every_instance_has_exactly_one_owner_and_shares_are_even() {
        let live = nodes(3);
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            let id = format!("instance-{i}");
            let owning: Vec<_> = live.iter().filter(|n| owns(n, &live, &id)).collect();
            assert_eq!(owning.len(), 1, "{id}");
            counts[live.iter().position(|n| n == owning[0]).unwrap()] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "uneven shares: {counts:?}");
        }
    }

    #[test]
    fn a_departing_node_moves_only_its_own_share() {
        let three = nodes(3);
        let two = three[..2].to_vec();
        for i in 0..2000 {
            let id = format!("instance-{i}");
            let before = owner(&three, &id).unwrap();
            let after = owner(&two, &id).unwrap();
            if before != three[2] {
                assert_eq!(before, after, "{id} moved although its owner stayed");
            }
        }
    }

    #[test]
    fn the_hash_is_fixed_by_definition() {
        // Changing it would make nodes of different versions disagree on owners.
        assert_eq!(fnv1a("", ""), fnv1a("", ""));
        assert_ne!(fnv1a("a", "b"), fnv1a("ab", ""));
        assert_eq!(owner(&nodes(3), "fixed"), owner(&nodes(3), "fixed"));
        assert!(owns("solo", &[], "anything"));
    }
}
