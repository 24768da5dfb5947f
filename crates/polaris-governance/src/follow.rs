//! Following a shared store: rules other nodes committed are swapped into the snapshot through
//! the same `publish` step as local writes, which also announces each changed kind. The writer
//! lock is held from before the feed is read until its rows are applied, so a stale row never
//! overwrites a newer local write; rules equal to the cached ones are skipped.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use polaris_store::Mutation;
use polaris_store::feed::{FeedBatch, FeedDomain, FeedFollower};
use polaris_types::RuleKind;

use crate::Governance;

impl FeedFollower for Governance {
    const DOMAIN: FeedDomain = FeedDomain::Governance;

    fn writer(&self) -> &tokio::sync::Mutex<()> {
        &self.writer
    }

    /// How many rule kinds changed.
    fn apply_batch(&self, batch: FeedBatch) -> usize {
        let current = self.rules.load_full();
        let mut next = imbl::OrdMap::clone(&current);
        let mut kinds = BTreeSet::new();
        let mut listed = HashSet::new();
        for mutation in batch.mutations {
            match mutation {
                Mutation::PutRule(rule) => {
                    let key = (rule.kind, rule.id.clone());
                    listed.insert(key.clone());
                    if next.get(&key).is_none_or(|r| **r != rule) {
                        kinds.insert(rule.kind);
                        next.insert(key, Arc::new(rule));
                    }
                }
                Mutation::DeleteRule { kind, id, .. } => {
                    let removed = next.remove(&(kind, id)).is_some();
                    if removed {
                        kinds.insert(kind);
                    }
                }
                _ => {}
            }
        }
        if batch.full {
            let gone: Vec<(RuleKind, String)> = next
                .keys()
                .filter(|k| !listed.contains(*k))
                .cloned()
                .collect();
            for key in gone {
                kinds.insert(key.0);
                next.remove(&key);
            }
        }
        let changed = kinds.len();
        let mut kinds = kinds.into_iter();
        if let Some(first) = kinds.next() {
            // Visible first, then announced (publish announces its kind after the swap).
            self.publish(first, move |m| *m = next);
            for kind in kinds {
                let _ = self.events.send(kind);
            }
        }
        changed
    }
}
