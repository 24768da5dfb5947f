//! How Polaris governance rules match a request, with no IO, so that the server (to validate
//! rules) and the Rust SDK (to route and limit calls) share one definition. A [`MatchString`] as
//! it appears in rules (`EXACT`, `REGEX`, `NOT_EQUALS`, `IN`, `NOT_IN`, `RANGE`) compiles into a
//! [`Matcher`]; an [`Argument`] says which part of a request a condition reads (header, query,
//! method, path, caller service, caller IP, caller metadata, cookie, custom); a [`Condition`]
//! pairs them. Semantics follow the official SDKs: an empty or `*` exact value matches anything,
//! `IN`/`NOT_IN` take comma-separated values, `RANGE` takes `low~high` integers (inclusive), and
//! regular expressions match anywhere in the value unless anchored.

mod argument;
mod matcher;

pub use argument::{Argument, Condition, RequestContext};
pub use matcher::{MAX_REGEX_LEN, MatchError, MatchKind, MatchString, Matcher};
