//! The limits per client and per connection, read from the raw pass in the official shapes
//! where the official server has one:
//!
//! - `apiservers[].option.connLimit` (`openConnLimit`, `maxConnPerHost`, `maxConnLimit`,
//!   `whiteList` as a comma-separated string or a list; `purgeCounterInterval` and
//!   `purgeCounterExpired` are accepted and unused: counts here are exact, nothing to purge);
//! - `plugin.ratelimit.option.ip-limit` (`open`, `global.open`, `global.bucket`,
//!   `global.rate`, `resource-cache-amount`, `white-list`), applied to write requests;
//! - our own keys: `apiservers[].option.maxConcurrentStreams` (gRPC and xDS listeners),
//!   `apiservers[].option.maxSubscriptionsPerStream` (`service-grpc`) and
//!   `config.maxWatchFiles`.
//!
//! Every key is optional; the defaults are on (see `polaris-limits`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use polaris_limits::{
    ConnLimitOptions, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM,
    IpRateOptions,
};
use serde_json::Value;

use super::file::{FileApiServer, RawDoc};
use super::typed::{Invalid, invalid};

/// Every limit of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Per listener, by `apiservers` name; listeners not named here get the defaults.
    pub listeners: BTreeMap<String, ListenerLimits>,
    /// Write rate per client address, shared by every listener that takes writes.
    pub ip_rate: IpRateOptions,
    /// Files one config watch may name.
    pub max_watch_files: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            listeners: BTreeMap::new(),
            ip_rate: IpRateOptions::default(),
            max_watch_files: polaris_config::DEFAULT_MAX_WATCH_FILES,
        }
    }
}

impl LimitsConfig {
    /// The limits of the listener `name`.
    pub fn listener(&self, name: &str) -> ListenerLimits {
        self.listeners.get(name).cloned().unwrap_or_default()
    }
}

/// The limits of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerLimits {
    /// `connLimit`.
    pub conn: ConnLimitOptions,
    /// `maxConcurrentStreams`: HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// `maxSubscriptionsPerStream`: subscriptions per Discover stream.
    pub max_subscriptions_per_stream: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            conn: ConnLimitOptions::default(),
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_subscriptions_per_stream: DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM,
        }
    }
}

/// Reads the limits from the file's entries and raw pass.
pub(crate) fn build(
    entries: Option<&[FileApiServer]>,
    raw: &RawDoc,
) -> Result<LimitsConfig, Invalid> {
    let mut limits = LimitsConfig::default();
    let raw_options = raw.apiservers.as_deref().unwrap_or_default();
    for (i, entry) in entries.unwrap_or_default().iter().enumerate() {
        let at = format!("apiservers[{i}].option");
        let option = raw_options.get(i).and_then(|r| r.option.as_ref());
        let listener = listener_limits(&at, option)?;
        limits
            .listeners
            .entry(entry.name.clone())
            .or_insert(listener);
    }
    if let Some(ip_limit) = raw
        .plugin
        .as_ref()
        .and_then(|p| p.pointer("/ratelimit/option/ip-limit"))
        .filter(|v| !v.is_null())
    {
        limits.ip_rate = ip_rate("plugin.ratelimit.option.ip-limit", ip_limit)?;
    }
    if let Some(max) = raw.config.as_ref().and_then(|c| c.get("maxWatchFiles")) {
        limits.max_watch_files = positive("config.maxWatchFiles", max)?;
    }
    Ok(limits)
}

fn listener_limits(at: &str, option: Option<&Value>) -> Result<ListenerLimits, Invalid> {
    let mut limits = ListenerLimits::default();
    let Some(option) = option.filter(|o| o.is_object()) else {
        return Ok(limits);
    };
    if let Some(conn) = option.get("connLimit").filter(|v| !v.is_null()) {
        let at = format!("{at}.connLimit");
        let Some(map) = conn.as_object() else {
            return Err(invalid(&at, "must be a mapping"));
        };
        for (key, value) in map {
            let path = format!("{at}.{key}");
            match key.as_str() {
                "openConnLimit" => limits.conn.open = flag(&path, value)?,
                "maxConnPerHost" => limits.conn.max_conn_per_host = positive(&path, value)?,
                "maxConnLimit" => limits.conn.max_conn_limit = positive(&path, value)?,
                "whiteList" => limits.conn.white_list = addresses(&path, value)?,
                _ => {}
            }
        }
    }
    if let Some(value) = option.get("maxConcurrentStreams") {
        let path = format!("{at}.maxConcurrentStreams");
        let n = positive(&path, value)?;
        limits.max_concurrent_streams =
            u32::try_from(n).map_err(|_| invalid(&path, "must fit in 32 bits"))?;
    }
    if let Some(value) = option.get("maxSubscriptionsPerStream") {
        limits.max_subscriptions_per_stream =
            positive(&format!("{at}.maxSubscriptionsPerStream"), value)?;
    }
    Ok(limits)
}

fn ip_rate(at: &str, section: &Value) -> Result<IpRateOptions, Invalid> {
    let mut options = IpRateOptions::default();
    let Some(map) = section.as_object() else {
        return Err(invalid(at, "must be a mapping"));
    };
    let mut global_open = true;
    for (key, value) in map {
        let path = format!("{at}.{key}");
        match key.as_str() {
            "open" => options.open = flag(&path, value)?,
            "resource-cache-amount" => options.resource_cache_amount = positive(&path, value)?,
            "white-list" => options.white_list = addresses(&path, value)?,
            "global" => {
                let Some(global) = value.as_object() else {
                    return Err(invalid(&path, "must be a mapping"));
                };
                for (key, value) in global {
                    let path = format!("{path}.{key}");
                    let as_u32 = |value: &Value| -> Result<u32, Invalid> {
                        u32::try_from(positive(&path, value)?)
                            .map_err(|_| invalid(&path, "must fit in 32 bits"))
                    };
                    match key.as_str() {
                        "open" => global_open = flag(&path, value)?,
                        "bucket" => options.bucket = as_u32(value)?,
                        "rate" => options.rate = as_u32(value)?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    options.open &= global_open;
    Ok(options)
}

fn flag(path: &str, value: &Value) -> Result<bool, Invalid> {
    value
        .as_bool()
        .ok_or_else(|| invalid(path, "must be true or false"))
}

/// A whole number of at least 1 (YAML numbers, or numbers written as strings).
fn positive(path: &str, value: &Value) -> Result<usize, Invalid> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(invalid(path, "must be a whole number of at least 1")),
    }
}

/// IP addresses as a list or a comma-separated string.
fn addresses(path: &str, value: &Value) -> Result<Vec<IpAddr>, Invalid> {
    let texts: Vec<String> = match value {
        Value::Null => Vec::new(),
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(path, "must list IP addresses"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid(path, "must list IP addresses")),
    };
    texts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<IpAddr>()
                .map(|ip| ip.to_canonical())
                .map_err(|_| invalid(path, format!("{t:?} is not an IP address")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::Ipv4Addr;

    use super::*;

    fn load(text: &str) -> crate::config::Loaded {
        crate::config::load_str(text, "limits.yaml", &HashMap::new()).unwrap()
    }

    #[test]
    fn the_official_shapes_and_our_keys_are_read() {
        let loaded = load(
            r#"
apiservers:
  - name: service-grpc
    option:
      listenPort: 8091
      maxConcurrentStreams: 64
      maxSubscriptionsPerStream: 500
      connLimit:
        openConnLimit: true
        maxConnPerHost: 16
        maxConnLimit: 256
        whiteList: 10.0.0.1, 10.0.0.2
        purgeCounterInterval: 10s
        purgeCounterExpired: 5s
  - name: api-http
    option:
      listenPort: 8090
config:
  maxWatchFiles: 50
plugin:
  ratelimit:
    name: token-bucket
    option:
      remote-conf: false
      ip-limit:
        open: true
        global:
          open: true
          bucket: 30
          rate: 20
        resource-cache-amount: 4096
        white-list: [10.0.0.9]
"#,
        );
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let limits = &loaded.config.limits;
        let grpc = limits.listener("service-grpc");
        assert_eq!(grpc.max_concurrent_streams, 64);
        assert_eq!(grpc.max_subscriptions_per_stream, 500);
        assert_eq!(
            grpc.conn,
            ConnLimitOptions {
                open: true,
                max_conn_per_host: 16,
                max_conn_limit: 256,
                white_list: vec![
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))
                ],
            }
        );
        assert_eq!(limits.listener("api-http"), ListenerLimits::default());
        assert_eq!(limits.max_watch_files, 50);
        assert_eq!(
            limits.ip_rate,
            IpRateOptions {
                open: true,
                bucket: 30,
                rate: 20,
                resource_cache_amount: 4096,
                white_list: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))],
            }
        );
    }

    #[test]
    fn without_keys_the_safe_defaults_apply() {
        let limits = load("").config.limits;
        assert_eq!(limits, LimitsConfig::default());
        let conn = limits.listener("service-grpc").conn;
        assert!(conn.open && limits.ip_rate.open);
        assert_eq!(conn.white_list, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }

    #[test]
    fn the_sample_file_states_the_defaults() {
        let text = include_str!("../../../../conf/polaris-server.yaml");
        let limits = load(text).config.limits;
        for name in ["api-http", "service-grpc", "config-grpc", "xds-v3"] {
            assert_eq!(limits.listener(name), ListenerLimits::default(), "{name}");
        }
        assert_eq!(limits.ip_rate, IpRateOptions::default());
        assert_eq!(
            limits.max_watch_files,
            polaris_config::DEFAULT_MAX_WATCH_FILES
        );
    }

    #[test]
    fn the_official_sample_switches_turn_limits_off() {
        let limits = load(
            r#"
plugin:
  ratelimit:
    option:
      ip-limit:
        open: false
        global: { open: false, bucket: 300, rate: 200 }
apiservers:
  - name: config-grpc
    option:
      connLimit: { openConnLimit: false, maxConnPerHost: 128, maxConnLimit: 5120 }
"#,
        )
        .config
        .limits;
        assert!(!limits.ip_rate.open);
        assert!(!limits.listener("config-grpc").conn.open);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            (
                "apiservers:\n  - name: xds-v3\n    option:\n      maxConcurrentStreams: 0\n",
                "apiservers[0].option.maxConcurrentStreams",
            ),
            (
                "apiservers:\n  - name: api-http\n    option:\n      connLimit:\n        whiteList: nope\n",
                "apiservers[0].option.connLimit.whiteList",
            ),
            (
                "plugin:\n  ratelimit:\n    option:\n      ip-limit:\n        global:\n          rate: -1\n",
                "plugin.ratelimit.option.ip-limit.global.rate",
            ),
            ("config:\n  maxWatchFiles: lots\n", "config.maxWatchFiles"),
        ] {
            let err = crate::config::load_str(text, "limits.yaml", &HashMap::new())
                .expect_err(key)
                .to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
