//! `healthcheck.checkers`: which heartbeat store the node uses, in the official shape
//! (`heartbeatMemory` for one node, `heartbeatRedis` with `option.kvAddr`/`kvPasswd` for a
//! cluster).

use super::file::FileChecker;
use super::typed::{Invalid, invalid};

/// `healthcheck.checkers[{name: heartbeatRedis, option}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCheckerConfig {
    /// `kvAddr`: `host:port`.
    pub addr: String,
    /// `kvUser` (Redis 6 ACL; empty: none).
    pub user: String,
    /// `kvPasswd`.
    pub password: String,
    /// `keyPrefix` (ours): prefix of every key and channel.
    pub prefix: String,
}

/// The `heartbeatRedis` entry of `healthcheck.checkers`, which needs `option.kvAddr`.
pub(super) fn redis_checker(
    checkers: Option<&[FileChecker]>,
) -> Result<Option<RedisCheckerConfig>, Invalid> {
    let Some(entry) = checkers
        .unwrap_or_default()
        .iter()
        .find(|c| c.name == "heartbeatRedis")
    else {
        return Ok(None);
    };
    let option = entry.option.as_ref();
    let addr = option
        .and_then(|o| o.kv_addr.clone())
        .filter(|a| !a.trim().is_empty())
        .ok_or_else(|| {
            invalid(
                "healthcheck.checkers[heartbeatRedis].option.kvAddr",
                "is required (host:port)",
            )
        })?;
    Ok(Some(RedisCheckerConfig {
        addr,
        user: option.and_then(|o| o.kv_user.clone()).unwrap_or_default(),
        password: option.and_then(|o| o.kv_passwd.clone()).unwrap_or_default(),
        prefix: option
            .and_then(|o| o.key_prefix.clone())
            .unwrap_or_else(|| "polaris:".to_string()),
    }))
}
