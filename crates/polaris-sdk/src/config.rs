//! Settings, read from the official `polaris.yaml` keys or set from code.
//!
//! Unknown keys are ignored, so a `polaris.yaml` written for polaris-go or polaris-java loads
//! as is; the keys below are the ones this SDK acts on. Durations are strings such as `2s`,
//! `1m`, `500ms`, `1h30m` (a bare number is milliseconds).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// The whole `polaris.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// `global.*`: server connection and API defaults.
    pub global: Global,
    /// `consumer.*`: local cache, routers, load balancer, circuit breaker.
    pub consumer: ConsumerSettings,
    /// `provider.*`: rate limiting.
    pub provider: ProviderSettings,
    /// `config.*`: the config center connection and its local cache.
    pub config: ConfigSettings,
}

/// `global`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Global {
    /// `global.serverConnector`.
    pub server_connector: ServerConnector,
    /// `global.api`.
    pub api: Api,
}

/// `global.serverConnector`: where the naming server is.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServerConnector {
    /// `host:port` of the naming gRPC listener (8091 by default on the server).
    pub addresses: Vec<String>,
    /// Sent as gRPC metadata `x-polaris-token` when non-empty.
    pub token: String,
    /// Timeout of a TCP connect. Default 500 ms.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// `trustedCAFile`: CA certificates (PEM) of the server's certificate (see [`TlsSettings`]).
    #[serde(rename = "trustedCAFile")]
    pub trusted_ca_file: Option<PathBuf>,
    /// `certFile`: the client's certificate chain (PEM), for servers requiring one.
    pub cert_file: Option<PathBuf>,
    /// `keyFile`: the client's private key (PEM).
    pub key_file: Option<PathBuf>,
}

impl ServerConnector {
    /// The TLS keys of this connector.
    pub fn tls(&self) -> TlsSettings {
        TlsSettings {
            trusted_ca_file: self.trusted_ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
        }
    }
}

impl Default for ServerConnector {
    fn default() -> Self {
        ServerConnector {
            addresses: vec!["127.0.0.1:8091".into()],
            token: String::new(),
            connect_timeout: Duration::from_millis(500),
            trusted_ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }
}

/// TLS to a server (`trustedCAFile`, `certFile`, `keyFile`, as polaris-java reads them from
/// `global.serverConnector`). TLS is used when any file is set or an address starts with
/// `https://`; without `trustedCAFile` the server's certificate is checked against the
/// public web roots. `certFile` and `keyFile` are the client's certificate, for servers that
/// require one (mutual TLS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates (PEM) that issued the server's certificate.
    pub trusted_ca_file: Option<PathBuf>,
    /// The client's certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// The client's private key (PEM).
    pub key_file: Option<PathBuf>,
}

impl TlsSettings {
    /// Whether any TLS file is set.
    pub fn is_set(&self) -> bool {
        self.trusted_ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// `global.api`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Api {
    /// Deadline of one call to the server, and of a first cache load. Default 1 s.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            timeout: Duration::from_secs(1),
        }
    }
}

/// `consumer`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConsumerSettings {
    /// `consumer.localCache`.
    pub local_cache: LocalCache,
    /// `consumer.serviceRouter`.
    pub service_router: ServiceRouter,
    /// `consumer.loadbalancer`.
    pub loadbalancer: LoadBalancerSettings,
    /// `consumer.circuitBreaker`.
    pub circuit_breaker: CircuitBreakerSettings,
}

/// `consumer.localCache`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LocalCache {
    /// Revision poll period when the server does not push. Default 2 s.
    #[serde(deserialize_with = "duration")]
    pub service_refresh_interval: Duration,
    /// Where Discover answers are persisted; `None` disables persistence.
    /// Default `./polaris/backup`.
    pub persist_dir: Option<PathBuf>,
    /// Never replace a non-empty instance list by an empty one. Default true.
    pub push_empty_protection: bool,
    /// Serve a persisted answer at once when it is newer than `persistAvailableInterval`.
    /// Default true.
    pub start_use_file_cache: bool,
    /// How old a persisted answer may be to be served before the server answered. Default 60 s.
    #[serde(deserialize_with = "duration")]
    pub persist_available_interval: Duration,
}

impl Default for LocalCache {
    fn default() -> Self {
        LocalCache {
            service_refresh_interval: Duration::from_secs(2),
            persist_dir: Some(PathBuf::from("./polaris/backup")),
            push_empty_protection: true,
            start_use_file_cache: true,
            persist_available_interval: Duration::from_secs(60),
        }
    }
}

/// `consumer.serviceRouter`: the router chain, by the official router names.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceRouter {
    /// Routers run first. Default `[laneRouter]`.
    pub before_chain: Vec<String>,
    /// The main chain. Default `[ruleBasedRouter, nearbyBasedRouter, dstMetaRouter]`.
    pub chain: Vec<String>,
    /// Routers run last. Default `[filterOnlyRouter]` (healthy, non-isolated, not broken;
    /// every instance when none is).
    pub after_chain: Vec<String>,
    /// `plugin.*` router options.
    pub plugin: RouterPlugins,
}

impl Default for ServiceRouter {
    fn default() -> Self {
        ServiceRouter {
            before_chain: vec!["laneRouter".into()],
            chain: vec![
                "ruleBasedRouter".into(),
                "nearbyBasedRouter".into(),
                "dstMetaRouter".into(),
            ],
            after_chain: vec!["filterOnlyRouter".into()],
            plugin: RouterPlugins::default(),
        }
    }
}

impl ServiceRouter {
    /// The whole chain in order: before, main, after.
    pub fn full_chain(&self) -> Vec<String> {
        let all = [&self.before_chain, &self.chain, &self.after_chain];
        all.into_iter().flatten().cloned().collect()
    }
}

/// `consumer.serviceRouter.plugin`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouterPlugins {
    /// `nearbyBasedRouter` options.
    pub nearby_based_router: NearbyRouterSettings,
}

/// `consumer.serviceRouter.plugin.nearbyBasedRouter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NearbyRouterSettings {
    /// `region`, `zone` or `campus`. Default `zone`.
    pub match_level: String,
}

impl Default for NearbyRouterSettings {
    fn default() -> Self {
        NearbyRouterSettings {
            match_level: "zone".into(),
        }
    }
}

/// `consumer.loadbalancer`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LoadBalancerSettings {
    /// `weightedRandom` (default), `ringHash`, `maglev`, `hash` or `roundRobin`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Default for LoadBalancerSettings {
    fn default() -> Self {
        LoadBalancerSettings {
            kind: "weightedRandom".into(),
        }
    }
}

/// `consumer.circuitBreaker`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CircuitBreakerSettings {
    /// Whether reported results drive circuit breakers. Default true.
    pub enable: bool,
    /// How often open breakers are re-examined. Default 10 s.
    #[serde(deserialize_with = "duration")]
    pub check_period: Duration,
    /// How long a breaker stays open before half-opening. Default 30 s.
    #[serde(deserialize_with = "duration")]
    pub sleep_window: Duration,
    /// Requests allowed while half-open. Default 10.
    pub request_count_after_half_open: u32,
    /// Successes needed to close a half-open breaker. Default 3.
    pub success_count_after_half_open: u32,
    /// Whether instances no rule covers get the default rule. Default true.
    pub default_rule_enable: bool,
    /// Consecutive errors that open the default rule's breaker. Default 10.
    pub default_error_count: u32,
    /// Error percentage that opens the default rule's breaker. Default 50.
    pub default_error_percent: u32,
    /// The default rule's error-rate window. Default 60 s.
    #[serde(deserialize_with = "duration")]
    pub default_interval: Duration,
    /// Calls in the window before the default rule's error rate counts. Default 10.
    pub default_minimum_request: u32,
}

impl CircuitBreakerSettings {
    /// The rule for instances no server rule covers.
    pub fn defaults(&self) -> polaris_traffic::breaker::BreakerDefaults {
        polaris_traffic::breaker::BreakerDefaults {
            enabled: self.default_rule_enable,
            error_count: self.default_error_count,
            error_percent: self.default_error_percent,
            interval: self.default_interval,
            minimum_request: self.default_minimum_request,
            sleep_window: self.sleep_window,
            success_count_after_half_open: self.success_count_after_half_open,
            request_count_after_half_open: self.request_count_after_half_open,
        }
    }
}

impl Default for CircuitBreakerSettings {
    fn default() -> Self {
        CircuitBreakerSettings {
            enable: true,
            check_period: Duration::from_secs(10),
            sleep_window: Duration::from_secs(30),
            request_count_after_half_open: 10,
            success_count_after_half_open: 3,
            default_rule_enable: true,
            default_error_count: 10,
            default_error_percent: 50,
            default_interval: Duration::from_secs(60),
            default_minimum_request: 10,
        }
    }
}

/// `provider`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProviderSettings {
    /// `provider.rateLimit`.
    pub rate_limit: RateLimitSettings,
}

/// `provider.rateLimit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimitSettings {
    /// Whether rate-limit rules apply. Default true.
    pub enable: bool,
    /// The most a `unirate` rule may make a caller wait. Default 1 s
    /// (`plugin.unirate.maxQueuingTime`).
    #[serde(skip)]
    pub max_queuing_time: Duration,
    /// `plugin.*`.
    plugin: RateLimitPlugins,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RateLimitPlugins {
    unirate: Option<Unirate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Unirate {
    #[serde(deserialize_with = "duration")]
    max_queuing_time: Duration,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enable: true,
            max_queuing_time: Duration::from_secs(1),
            plugin: RateLimitPlugins::default(),
        }
    }
}

/// `config`: the config center.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigSettings {
    /// `config.configConnector`.
    pub config_connector: ConfigConnector,
    /// `config.localCache`.
    pub local_cache: ConfigLocalCache,
}

/// `config.configConnector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigConnector {
    /// `host:port` of the config gRPC listener. Empty: the host of the first naming address,
    /// port 8093.
    pub addresses: Vec<String>,
    /// `trustedCAFile`, `certFile`, `keyFile`: TLS to the config server, as for
    /// `global.serverConnector`. All unset: the naming connector's TLS settings.
    #[serde(rename = "trustedCAFile")]
    pub trusted_ca_file: Option<PathBuf>,
    /// See `trusted_ca_file`.
    pub cert_file: Option<PathBuf>,
    /// See `trusted_ca_file`.
    pub key_file: Option<PathBuf>,
}

/// `config.localCache`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ConfigLocalCache {
    /// Where fetched files are kept; `None` disables the copy. Default
    /// `./polaris/backup/config`.
    pub persist_dir: Option<PathBuf>,
    /// Serve the local copy when the server is unreachable. Default true.
    pub fallback_to_local_cache: bool,
}

impl Default for ConfigLocalCache {
    fn default() -> Self {
        ConfigLocalCache {
            persist_dir: Some(PathBuf::from("./polaris/backup/config")),
            fallback_to_local_cache: true,
        }
    }
}

impl Settings {
    /// Parses a `polaris.yaml` document.
    pub fn from_yaml(text: &str) -> Result<Settings> {
        let mut settings: Settings =
            serde_saphyr::from_str(text).map_err(|e| Error::Settings(e.to_string()))?;
        settings.normalise();
        Ok(settings)
    }

    /// Reads and parses a `polaris.yaml` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Settings::from_yaml(&text)
    }

    fn normalise(&mut self) {
        if let Some(unirate) = self.provider.rate_limit.plugin.unirate.take() {
            self.provider.rate_limit.max_queuing_time = unirate.max_queuing_time;
        }
    }

    /// The config center addresses, derived from the naming address when unset.
    pub fn config_addresses(&self) -> Vec<String> {
        if !self.config.config_connector.addresses.is_empty() {
            return self.config.config_connector.addresses.clone();
        }
        let first = self.global.server_connector.addresses.first();
        let host = first
            .and_then(|a| a.rsplit_once(':').map(|(h, _)| h.to_string()))
            .unwrap_or_else(|| "127.0.0.1".into());
        vec![format!("{host}:8093")]
    }

    /// The config connector's TLS settings, the naming connector's when it has none.
    pub fn config_tls(&self) -> TlsSettings {
        let own = &self.config.config_connector;
        let own = TlsSettings {
            trusted_ca_file: own.trusted_ca_file.clone(),
            cert_file: own.cert_file.clone(),
            key_file: own.key_file.clone(),
        };
        if own.is_set() {
            own
        } else {
            self.global.server_connector.tls()
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        for (at, tls) in [
            ("global.serverConnector", self.global.server_connector.tls()),
            ("config.configConnector", self.config_tls()),
        ] {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return Err(Error::Settings(format!(
                    "{at}: certFile and keyFile go together"
                )));
            }
        }
        if self.global.server_connector.addresses.is_empty() {
            return Err(Error::Settings(
                "global.serverConnector.addresses is empty".into(),
            ));
        }
        if self.global.api.timeout.is_zero() {
            return Err(Error::Settings("global.api.timeout must be > 0".into()));
        }
        if self.consumer.local_cache.service_refresh_interval.is_zero() {
            return Err(Error::Settings(
                "consumer.localCache.serviceRefreshInterval must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// Parses `1h2m3s`, `500ms`, `2s`, `1.5s`, `10us`; a bare number is milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(ms) = text.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += value * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

fn duration<'de, D: Deserializer<'de>>(de: D) -> std::result::Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(de)? {
        Raw::Number(ms) => Ok(Duration::from_millis(ms)),
        Raw::Text(text) => parse_duration(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {text:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn official_keys_and_unknown_ones() {
        let yaml = r#"
global:
  serverConnector:
    addresses: ["10.0.0.1:8091"]
    token: "t0k"
    protocol: grpc
  api:
    timeout: 3s
    maxRetryTimes: 5
  statReporter: { enable: true }
consumer:
  localCache:
    serviceRefreshInterval: 500ms
    persistDir: /tmp/x
    pushEmptyProtection: false
    startUseFileCache: false
    persistAvailableInterval: 1m
  serviceRouter:
    beforeChain: []
    chain: [ruleBasedRouter]
    afterChain: [isolatedRouter]
    plugin:
      nearbyBasedRouter:
        matchLevel: region
  loadbalancer:
    type: ringHash
  circuitBreaker:
    sleepWindow: 5s
    defaultErrorCount: 4
    defaultErrorPercent: 30
    defaultInterval: 20s
    defaultRuleEnable: false
provider:
  rateLimit:
    enable: true
    plugin:
      unirate:
        maxQueuingTime: 2s
config:
  localCache:
    fallbackToLocalCache: false
"#;
        let s = Settings::from_yaml(yaml).unwrap();
        assert_eq!(s.global.server_connector.addresses, ["10.0.0.1:8091"]);
        assert_eq!(s.global.server_connector.token, "t0k");
        assert_eq!(s.global.api.timeout, Duration::from_secs(3));
        let lc = &s.consumer.local_cache;
        assert_eq!(lc.service_refresh_interval, Duration::from_millis(500));
        assert_eq!(lc.persist_dir.as_deref(), Some(Path::new("/tmp/x")));
        assert!(!lc.push_empty_protection && !lc.start_use_file_cache);
        assert_eq!(lc.persist_available_interval, Duration::from_secs(60));
        assert_eq!(
            s.consumer.service_router.full_chain(),
            ["ruleBasedRouter", "isolatedRouter"]
        );
        assert_eq!(
            s.consumer
                .service_router
                .plugin
                .nearby_based_router
                .match_level,
            "region"
        );
        assert_eq!(s.consumer.loadbalancer.kind, "ringHash");
        let breaker = s.consumer.circuit_breaker.defaults();
        assert_eq!(breaker.sleep_window, Duration::from_secs(5));
        assert_eq!((breaker.error_count, breaker.error_percent), (4, 30));
        assert_eq!(breaker.interval, Duration::from_secs(20));
        assert!(!breaker.enabled);
        assert_eq!(
            breaker.minimum_request, 10,
            "unset keys keep the official default"
        );
        assert_eq!(
            s.provider.rate_limit.max_queuing_time,
            Duration::from_secs(2)
        );
        assert!(!s.config.local_cache.fallback_to_local_cache);
        assert_eq!(s.config_addresses(), ["10.0.0.1:8093"]);
    }

    #[test]
    fn empty_document_is_all_defaults() {
        let s = Settings::from_yaml("{}").unwrap();
        assert_eq!(s.global.server_connector.addresses, ["127.0.0.1:8091"]);
        assert_eq!(
            s.consumer.local_cache.service_refresh_interval,
            Duration::from_secs(2)
        );
        assert!(s.consumer.local_cache.push_empty_protection);
        assert!(Settings::from_yaml("global: {api: {timeout: soon}}").is_err());
    }
}
