//! What every list endpoint shares, in one place: the page (`offset`/`limit` read, cut and
//! answered once) and the official name filters with `*` wildcards. Each filter flavour is a
//! quirk of the official endpoints that use it, named here so that a handler picks one instead
//! of writing its own.

use axum::response::Response;
use polaris_naming::Page;
use polaris_types::{Code, PolarisError, Result};
use serde_json::Value;

use crate::body::Query;
use crate::reply::{query_error, query_reply};

/// Reads `offset` and `limit` ([`Query::page`]), cuts the page out of `items` and answers it
/// under `field` with the total as `amount`.
pub(crate) fn page_of(query: &Query, items: Vec<Value>, field: &str) -> Response {
    match query.page() {
        Ok(page) => page_reply(field, items, page),
        Err(err) => query_error(&err),
    }
}

/// Cuts `page` out of `items` and answers it under `field` with the total as `amount`.
pub(crate) fn page_reply(field: &str, items: Vec<Value>, page: Page) -> Response {
    let paged = page.apply(items);
    query_reply(field, paged.total, paged.items)
}

/// `offset` and `limit` with the config center's codes: an empty value is the default, and a
/// value that is not a number is 400000 with Go's `strconv.Atoi` text.
pub(crate) fn config_page(query: &Query) -> Result<Page> {
    let number = |key: &str, default: usize| -> Result<usize> {
        match query.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                PolarisError::new(
                    Code::BadRequest,
                    format!("strconv.Atoi: parsing \"{v}\": invalid syntax"),
                )
            }),
        }
    };
    Ok(Page::new(number("offset", 0)?, number("limit", 100)?))
}

/// The official `IsWildMatch`: `x*` prefix, `*x` suffix, `*x*` contains, else exact; an
/// empty filter (or `*`) matches everything.
pub(crate) fn wild_match(value: &str, filter: &str) -> bool {
    if filter.is_empty() || filter == "*" {
        return true;
    }
    let (starts, ends) = (filter.starts_with('*'), filter.ends_with('*'));
    match (starts, ends) {
        (true, true) => value.contains(filter.trim_matches('*')),
        (false, true) => value.starts_with(filter.trim_end_matches('*')),
        (true, false) => value.ends_with(filter.trim_start_matches('*')),
        (false, false) => value == filter,
    }
}

/// Auth lists: a trailing `*` is a prefix match, else exact; no or an empty filter matches.
pub(crate) fn prefix_or_exact(value: &str, filter: Option<&str>) -> bool {
    match filter {
        None | Some("") => true,
        Some(f) => match f.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => value == f,
        },
    }
}

/// Routing lists: a trailing `*` is a substring match of the rest, else exact; an empty filter
/// matches.
pub(crate) fn contains_or_exact(value: &str, filter: &str) -> bool {
    match filter.strip_suffix('*') {
        _ if filter.is_empty() => true,
        Some(part) => value.contains(part),
        None => value == filter,
    }
}

/// Rate-limit lists: a substring match, a trailing `*` stripped first.
pub(crate) fn contains_star_stripped(value: &str, filter: &str) -> bool {
    value.contains(filter.strip_suffix('*').unwrap_or(filter))
}

/// `value` contains `needle` (an empty needle matches everything).
pub(crate) fn contains(value: &str, needle: &str) -> bool {
    needle.is_empty() || value.contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wild_matches() {
        assert!(wild_match("abc", ""));
        assert!(wild_match("abc", "*"));
        assert!(wild_match("abc", "a*"));
        assert!(wild_match("abc", "*c"));
        assert!(wild_match("abc", "*b*"));
        assert!(wild_match("abc", "abc"));
        assert!(!wild_match("abc", "b*"));
        assert!(!wild_match("abc", "ab"));
    }

    #[test]
    fn star_flavours() {
        assert!(prefix_or_exact("orders", Some("ord*")));
        assert!(!prefix_or_exact("orders", Some("ord")));
        assert!(prefix_or_exact("x", None));
        assert!(contains_or_exact("orders", "der*"));
        assert!(!contains_or_exact("orders", "der"));
        assert!(contains_or_exact("x", ""));
        assert!(contains_star_stripped("orders", "der"));
        assert!(contains_star_stripped("orders", "der*"));
        assert!(!contains_star_stripped("orders", "x"));
    }

    #[test]
    fn config_paging_codes() {
        let query = Query::parse(Some("offset=&limit=500"));
        assert_eq!(config_page(&query).unwrap(), Page::new(0, 100));
        let bad = config_page(&Query::parse(Some("limit=x"))).unwrap_err();
        assert_eq!(bad.code, Code::BadRequest);
    }
}
