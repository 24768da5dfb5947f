//! Paging and name patterns shared by every list query.

use polaris_types::validate::MAX_BATCH;

/// A window over a result list: `offset` items skipped, at most `limit` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: MAX_BATCH,
        }
    }
}

impl Page {
    /// A page with the limit clamped to the official maximum of 100.
    pub fn new(offset: usize, limit: usize) -> Self {
        Page {
            offset,
            limit: limit.min(MAX_BATCH),
        }
    }

    /// Cuts one page out of `items`, returning it together with the total count.
    pub fn apply<T>(self, items: impl IntoIterator<Item = T>) -> Paged<T> {
        let mut total = 0;
        let mut page = Vec::new();
        for item in items {
            if total >= self.offset && page.len() < self.limit {
                page.push(item);
            }
            total += 1;
        }
        Paged { total, items: page }
    }
}

/// One page of results and the number of results over all pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged<T> {
    pub total: usize,
    pub items: Vec<T>,
}

impl<T> Paged<T> {
    /// Transforms the items of the page, keeping the total.
    pub fn items_map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            total: self.total,
            items: self.items.into_iter().map(f).collect(),
        }
    }
}

/// Matches `value` against a filter the way the official server does: `abc*` is a prefix,
/// `*abc` a suffix and `*abc*` a substring match; anything else must be equal. An empty pattern
/// matches everything. Case-sensitive.
pub fn matches_pattern(pattern: &str, value: &str) -> bool {
    wildcard_match(pattern, value, false)
}

/// [`matches_pattern`], ignoring ASCII case when the pattern contains a wildcard.
pub fn matches_pattern_fuzzy(pattern: &str, value: &str) -> bool {
    wildcard_match(pattern, value, true)
}

fn wildcard_match(pattern: &str, value: &str, fold_wild: bool) -> bool {
    if pattern.is_empty() || pattern == "*" {
        return true;
    }
    let (lead, trail) = (pattern.starts_with('*'), pattern.ends_with('*'));
    if !lead && !trail {
        return pattern == value;
    }
    let core = pattern.trim_start_matches('*').trim_end_matches('*');
    let (core, value) = if fold_wild {
        (core.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (core.to_string(), value.to_string())
    };
    match (lead, trail) {
        (true, true) => value.contains(&core),
        (true, false) => value.ends_with(&core),
        _ => value.starts_with(&core),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_counts_everything_and_returns_a_window() {
        let paged = Page::new(2, 3).apply(0..10);
        assert_eq!(paged.total, 10);
        assert_eq!(paged.items, vec![2, 3, 4]);
        assert_eq!(Page::new(9, 3).apply(0..10).items, vec![9]);
        assert!(Page::new(20, 3).apply(0..10).items.is_empty());
    }

    #[test]
    fn limit_is_clamped_to_one_hundred() {
        assert_eq!(Page::new(0, 1000).apply(0..500).items.len(), 100);
    }

    #[test]
    fn patterns() {
        assert!(matches_pattern("svc*", "svc-a"));
        assert!(!matches_pattern("svc*", "my-svc"));
        assert!(matches_pattern("svc", "svc"));
        assert!(!matches_pattern("svc", "svc-a"));
        assert!(matches_pattern("", "x"));
        assert!(matches_pattern("*", "x"));
        assert!(matches_pattern("*vc", "svc"));
        assert!(matches_pattern("*v*", "svc"));
        assert!(!matches_pattern("SVC*", "svc-a"));
        assert!(matches_pattern_fuzzy("SVC*", "svc-a"));
        assert!(!matches_pattern_fuzzy("SVC", "svc"));
    }
}
