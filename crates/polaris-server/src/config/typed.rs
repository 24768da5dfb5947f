//! Stage two: the typed configuration the server runs with, and the
//! conversion from the file-shaped structs (defaults + validation).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use tracing::level_filters::LevelFilter;

use super::file::{FileBatch, FileConfig, FileLoggerScope, RawDoc};

/// The complete, validated server configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Logger scopes by name (`default`, `config`, `auth`, `store`, `naming`,
    /// `cache`, `healthcheck`, `apiserver`, ...), from `bootstrap.logger`.
    /// Without a logger section: a single `default` scope on stdout.
    pub logger: BTreeMap<String, LoggerScope>,
    /// The HTTP OpenAPI listener (`apiservers` entry named `api-http`).
    /// `Some(0.0.0.0:8090)` when the file has no `apiservers` section;
    /// `None` (HTTP disabled) when the section exists without `api-http`.
    pub http: Option<ListenerConfig>,
    /// Every other `apiservers` entry, in file order (`service-grpc`,
    /// `config-grpc`, `xds-v3`, `service-eureka`, ...). Without an `apiservers` section:
    /// `service-grpc` on 8091 and `config-grpc` on 8093.
    pub apiservers: Vec<ApiServerConfig>,
    /// The `naming` section.
    pub naming: NamingConfig,
    /// The `namespace` section.
    pub namespace: NamespaceConfig,
    /// The `healthcheck` section.
    pub healthcheck: HealthCheckConfig,
    /// The `store` section.
    pub store: StoreConfig,
    /// The `cache` section.
    pub cache: CacheConfig,
    /// The `auth` section (`auth.user.option`, `auth.strategy.option`).
    pub auth: polaris_auth::AuthOptions,
    /// Limits per client and per connection (`connLimit`, `plugin.ratelimit`, ...).
    pub limits: super::limits::LimitsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let mut logger = BTreeMap::new();
        logger.insert("default".to_owned(), LoggerScope::default());
        Self {
            logger,
            http: Some(ListenerConfig::new(DEFAULT_HTTP_PORT)),
            // Without an `apiservers` section every listener is served: naming and config gRPC,
            // Eureka, xDS and the console.
            apiservers: [
                "service-grpc",
                "config-grpc",
                "service-eureka",
                "xds-v3",
                "console",
            ]
            .into_iter()
            .filter_map(|name| {
                Some(ApiServerConfig {
                    name: name.to_owned(),
                    listener: ListenerConfig::new(default_port(name)?),
                    option: serde_json::Map::new(),
                    api: BTreeMap::new(),
                })
            })
            .collect(),
            naming: NamingConfig::default(),
            namespace: NamespaceConfig::default(),
            healthcheck: HealthCheckConfig::default(),
            store: StoreConfig::default(),
            cache: CacheConfig::default(),
            auth: polaris_auth::AuthOptions::default(),
            limits: super::limits::LimitsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The non-HTTP apiserver entry called `name`, if configured.
    pub fn apiserver(&self, name: &str) -> Option<&ApiServerConfig> {
        self.apiservers.iter().find(|a| a.name == name)
    }
}

/// One logger scope (`bootstrap.logger.<scope>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerScope {
    /// `rotateOutputPath`: log file; `None` (empty/absent) = stdout.
    pub rotate_output_path: Option<PathBuf>,
    /// `errorRotateOutputPath`: extra file receiving only ERROR events.
    pub error_rotate_output_path: Option<PathBuf>,
    /// `rotationMaxSize`: rotate the file at this many MB (default 100).
    pub rotation_max_size_mb: u64,
    /// `rotationMaxBackups`: rotated files kept (default 10).
    pub rotation_max_backups: u64,
    /// `rotationMaxAge`: days to keep rotated files (default 7). Recorded
    /// but not enforced: rotation is by size and pruning by count.
    pub rotation_max_age_days: u64,
    /// `outputLevel` (default info). `fatal`/`panic` map to ERROR, `none` to
    /// OFF.
    pub output_level: LevelFilter,
    /// `compress`: gzip rotated files (default false).
    pub compress: bool,
    /// `onlyContent`: print just the message (default false).
    pub only_content: bool,
}

impl Default for LoggerScope {
    fn default() -> Self {
        Self {
            rotate_output_path: None,
            error_rotate_output_path: None,
            rotation_max_size_mb: 100,
            rotation_max_backups: 10,
            rotation_max_age_days: 7,
            output_level: LevelFilter::INFO,
            compress: false,
            only_content: false,
        }
    }
}

/// Default port of the `api-http` listener.
pub const DEFAULT_HTTP_PORT: u16 = 8090;

/// Default listen port of an apiserver plugin, by name.
pub fn default_port(name: &str) -> Option<u16> {
    Some(match name {
        "api-http" => DEFAULT_HTTP_PORT,
        "service-grpc" => 8091,
        "config-grpc" => 8093,
        "service-eureka" => 8761,
        "xds-v3" => 15010,
        "console" => 8080,
        "service-nacos" => 8848,
        "service-l5" => 7779,
        _ => return None,
    })
}

/// A TCP listen address (`option.listenIP` / `option.listenPort`) and its TLS files
/// (`option.tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// `listenIP` (default `0.0.0.0`).
    pub listen_ip: IpAddr,
    /// `listenPort`.
    pub listen_port: u16,
    /// `tls.certFile` and `tls.keyFile` (both non-empty: the official switch) and
    /// `tls.trustedCAFile` (non-empty: client certificates required). `None`: plain text.
    pub tls: Option<polaris_tls::TlsFiles>,
}

impl ListenerConfig {
    /// `0.0.0.0:<port>`, plain text.
    pub fn new(port: u16) -> Self {
        Self {
            listen_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            listen_port: port,
            tls: None,
        }
    }

    /// The address to bind.
    pub fn socket_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.listen_ip, self.listen_port)
    }
}

/// A non-HTTP `apiservers` entry, kept for the protocol layers to come.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiServerConfig {
    /// Plugin name, e.g. `service-grpc`.
    pub name: String,
    /// Listen address; the port defaults by plugin name ([`default_port`]),
    /// 0 for an unknown plugin without `listenPort`.
    pub listener: ListenerConfig,
    /// The entry's whole `option` map, uninterpreted.
    pub option: serde_json::Map<String, serde_json::Value>,
    /// The `api` groups (`client`, `admin`, ...).
    pub api: BTreeMap<String, ApiGroupConfig>,
}

/// `apiservers[].api.<group>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiGroupConfig {
    /// `enable` (default false).
    pub enable: bool,
    /// `include`: sub-groups; empty = all.
    pub include: Vec<String>,
}

/// The `naming` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingConfig {
    /// `naming.autoCreate`: create the service on first registration
    /// (default true).
    pub auto_create: bool,
    /// `naming.batch.register`.
    pub batch_register: BatchConfig,
    /// `naming.batch.deregister`.
    pub batch_deregister: BatchConfig,
}

impl Default for NamingConfig {
    fn default() -> Self {
        Self {
            auto_create: true,
            batch_register: BatchConfig::default(),
            batch_deregister: BatchConfig {
                drop_expire_task: false,
                ..BatchConfig::default()
            },
        }
    }
}

/// A batch write controller (`naming.batch.*`, `healthcheck.batch.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    /// `open` (default true).
    pub open: bool,
    /// `queueSize` (default 10240).
    pub queue_size: usize,
    /// `waitTime` (default 32ms).
    pub wait_time: Duration,
    /// `maxBatchCount` (default 128; heartbeat 32).
    pub max_batch_count: usize,
    /// `concurrency` (default 128; heartbeat 64).
    pub concurrency: usize,
    /// `dropExpireTask` (default true for register).
    pub drop_expire_task: bool,
    /// `taskLife` (default 30s).
    pub task_life: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            open: true,
            queue_size: 10240,
            wait_time: Duration::from_millis(32),
            max_batch_count: 128,
            concurrency: 128,
            drop_expire_task: true,
            task_life: Duration::from_secs(30),
        }
    }
}

/// The `namespace` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceConfig {
    /// `namespace.autoCreate` (default true).
    pub auto_create: bool,
}

impl Default for NamespaceConfig {
    fn default() -> Self {
        Self { auto_create: true }
    }
}

/// The `healthcheck` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// `open` (default true).
    pub open: bool,
    /// `service` (default `polaris.checker`).
    pub service: String,
    /// `slotNum`: time wheel slots (default 30).
    pub slot_num: usize,
    /// `minCheckInterval` (default 1s).
    pub min_check_interval: Duration,
    /// `maxCheckInterval` (default 30s).
    pub max_check_interval: Duration,
    /// `clientReportInterval` (default 120s).
    pub client_report_interval: Duration,
    /// `checkers[].name` (default `[heartbeatMemory]`).
    pub checkers: Vec<String>,
    /// The `heartbeatRedis` checker's options, when it is the one configured.
    pub redis: Option<super::checkers::RedisCheckerConfig>,
    /// `batch.heartbeat`.
    pub batch_heartbeat: BatchConfig,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            open: true,
            service: "polaris.checker".to_owned(),
            slot_num: 30,
            min_check_interval: Duration::from_secs(1),
            max_check_interval: Duration::from_secs(30),
            client_report_interval: Duration::from_secs(120),
            checkers: vec!["heartbeatMemory".to_owned()],
            redis: None,
            batch_heartbeat: heartbeat_batch_default(),
        }
    }
}

fn heartbeat_batch_default() -> BatchConfig {
    BatchConfig {
        max_batch_count: 32,
        concurrency: 64,
        drop_expire_task: false,
        ..BatchConfig::default()
    }
}

/// Store names that select the embedded store.
pub const EMBEDDED_STORE_NAMES: [&str; 3] = ["embedded", "boltdbStore", "redbStore"];

/// The `store` section.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreConfig {
    /// The embedded single-node store (`name: embedded`, or the aliases
    /// `boltdbStore` / `redbStore`).
    Embedded {
        /// `option.path` (default `./polaris-data`).
        path: PathBuf,
    },
    /// Any other plugin (e.g. `defaultStore`, the Go server's MySQL store),
    /// kept for a later issue.
    Sql {
        /// `name` as written.
        name: String,
        /// The whole `option` value, uninterpreted (`null` when absent).
        option: serde_json::Value,
    },
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig::Embedded {
            path: PathBuf::from("./polaris-data"),
        }
    }
}

/// The `cache` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// `open` (default true).
    pub open: bool,
    /// `refreshInterval`: store polling period (default 1s).
    pub refresh_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            open: true,
            refresh_interval: Duration::from_secs(1),
        }
    }
}

/// A validation failure: the key path and what is wrong.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub key_path: String,
    pub message: String,
}

pub(super) fn invalid(key_path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key_path: key_path.into(),
        message: message.into(),
    }
}

/// Parses a Go zap level name.
pub(crate) fn parse_level(text: &str) -> Option<LevelFilter> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" | "" => LevelFilter::INFO,
        "warn" | "warning" => LevelFilter::WARN,
        "error" | "dpanic" | "panic" | "fatal" => LevelFilter::ERROR,
        "none" | "off" => LevelFilter::OFF,
        _ => return None,
    })
}

fn non_empty_path(p: Option<String>) -> Option<PathBuf> {
    p.filter(|s| !s.trim().is_empty()).map(PathBuf::from)
}

fn logger_scope(name: &str, f: FileLoggerScope) -> Result<LoggerScope, Invalid> {
    let d = LoggerScope::default();
    let output_level = match f.output_level {
        None => d.output_level,
        Some(text) => parse_level(&text).ok_or_else(|| {
            invalid(
                format!("bootstrap.logger.{name}.outputLevel"),
                format!(
                    "unknown level {text:?} (expected debug, info, warn, error, fatal or none)"
                ),
            )
        })?,
    };
    let rotation_max_size_mb = f.rotation_max_size.unwrap_or(d.rotation_max_size_mb);
    if rotation_max_size_mb == 0 {
        return Err(invalid(
            format!("bootstrap.logger.{name}.rotationMaxSize"),
            "must be at least 1 (MB)",
        ));
    }
    Ok(LoggerScope {
        rotate_output_path: non_empty_path(f.rotate_output_path),
        error_rotate_output_path: non_empty_path(f.error_rotate_output_path),
        rotation_max_size_mb,
        rotation_max_backups: f.rotation_max_backups.unwrap_or(d.rotation_max_backups),
        rotation_max_age_days: f.rotation_max_age.unwrap_or(d.rotation_max_age_days),
        output_level,
        compress: f.compress.unwrap_or(d.compress),
        only_content: f.only_content.unwrap_or(d.only_content),
    })
}

fn batch(f: Option<FileBatch>, d: BatchConfig) -> BatchConfig {
    let Some(f) = f else { return d };
    BatchConfig {
        open: f.open.unwrap_or(d.open),
        queue_size: f.queue_size.unwrap_or(d.queue_size),
        wait_time: f.wait_time.map_or(d.wait_time, |w| w.0),
        max_batch_count: f.max_batch_count.unwrap_or(d.max_batch_count),
        concurrency: f.concurrency.unwrap_or(d.concurrency),
        drop_expire_task: f.drop_expire_task.unwrap_or(d.drop_expire_task),
        task_life: f.task_life.map_or(d.task_life, |w| w.0),
    }
}

fn check_batch(path: &str, b: &BatchConfig) -> Result<(), Invalid> {
    for (key, v) in [
        ("queueSize", b.queue_size),
        ("maxBatchCount", b.max_batch_count),
        ("concurrency", b.concurrency),
    ] {
        if b.open && v == 0 {
            return Err(invalid(format!("{path}.{key}"), "must be at least 1"));
        }
    }
    Ok(())
}

/// `option.tls` of the entry at `at`: TLS when `certFile` and `keyFile` are both set, plain
/// text when the block is absent or all its paths are empty (the official template ships them
/// empty). Half a block is refused rather than silently served in plain text.
fn tls_files(
    at: &str,
    tls: Option<&super::file::FileTls>,
) -> Result<Option<polaris_tls::TlsFiles>, Invalid> {
    let Some(tls) = tls else {
        return Ok(None);
    };
    let path = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    };
    let (cert, key, ca) = (
        path(&tls.cert_file),
        path(&tls.key_file),
        path(&tls.trusted_ca_file),
    );
    match (cert, key) {
        (Some(cert_file), Some(key_file)) => Ok(Some(polaris_tls::TlsFiles {
            cert_file,
            key_file,
            trusted_ca_file: ca,
        })),
        (None, None) if ca.is_none() => Ok(None),
        (cert, _) => {
            let missing = if cert.is_none() {
                "certFile"
            } else {
                "keyFile"
            };
            Err(invalid(
                format!("{at}.option.tls.{missing}"),
                "TLS needs both certFile and keyFile (leave all of tls empty for plain text)",
            ))
        }
    }
}

/// Builds the typed config from both parse passes.
pub(crate) fn build(
    file: FileConfig,
    raw: RawDoc,
    warnings: &mut Vec<String>,
) -> Result<ServerConfig, Invalid> {
    let defaults = ServerConfig::default();

    // Logger.
    let logger = match file.bootstrap.logger {
        None => defaults.logger,
        Some(scopes) => {
            let mut out = BTreeMap::new();
            for (name, scope) in scopes {
                let typed = logger_scope(&name, scope.unwrap_or_default())?;
                out.insert(name, typed);
            }
            out
        }
    };

    let limits = super::limits::build(file.apiservers.as_deref(), &raw)?;

    // API servers.
    let (http, apiservers) = match file.apiservers {
        None => (defaults.http, defaults.apiservers),
        Some(entries) => {
            let mut raw_entries = raw.apiservers.unwrap_or_default().into_iter();
            let mut http = None;
            let mut others: Vec<ApiServerConfig> = Vec::new();
            for (i, entry) in entries.into_iter().enumerate() {
                let raw_option = raw_entries.next().and_then(|r| r.option);
                let at = format!("apiservers[{i}]");
                if entry.name.trim().is_empty() {
                    return Err(invalid(
                        format!("{at}.name"),
                        "apiserver entry without a name",
                    ));
                }
                let listen_ip = match entry.option.listen_ip.as_deref().map(str::trim) {
                    None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    Some(text) => text.parse().map_err(|_| {
                        invalid(
                            format!("{at}.option.listenIP"),
                            format!("{text:?} is not an IP address"),
                        )
                    })?,
                };
                let known_port = default_port(&entry.name);
                if known_port.is_none() {
                    warnings.push(format!(
                        "{at}: unknown apiserver plugin {:?} kept but not served",
                        entry.name
                    ));
                }
                let listener = ListenerConfig {
                    listen_ip,
                    listen_port: entry.option.listen_port.or(known_port).unwrap_or(0),
                    tls: tls_files(&at, entry.option.tls.as_ref())?,
                };
                let duplicate = if entry.name == "api-http" {
                    http.is_some()
                } else {
                    others.iter().any(|o| o.name == entry.name)
                };
                if duplicate {
                    warnings.push(format!(
                        "{at}: duplicate apiserver {:?} ignored",
                        entry.name
                    ));
                    continue;
                }
                if entry.name == "api-http" {
                    http = Some(listener);
                    continue;
                }
                let option = match raw_option {
                    Some(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                let api = entry
                    .api
                    .into_iter()
                    .map(|(k, g)| {
                        let g = g.unwrap_or_default();
                        let group = ApiGroupConfig {
                            enable: g.enable.unwrap_or(false),
                            include: g.include.unwrap_or_default(),
                        };
                        (k, group)
                    })
                    .collect();
                others.push(ApiServerConfig {
                    name: entry.name,
                    listener,
                    option,
                    api,
                });
            }
            (http, others)
        }
    };

    // Naming.
    let nd = defaults.naming;
    let naming = NamingConfig {
        auto_create: file.naming.auto_create.unwrap_or(nd.auto_create),
        batch_register: batch(file.naming.batch.register, nd.batch_register),
        batch_deregister: batch(file.naming.batch.deregister, nd.batch_deregister),
    };
    check_batch("naming.batch.register", &naming.batch_register)?;
    check_batch("naming.batch.deregister", &naming.batch_deregister)?;

    let namespace = NamespaceConfig {
        auto_create: file
            .namespace
            .auto_create
            .unwrap_or(defaults.namespace.auto_create),
    };

    // Health check.
    let hd = defaults.healthcheck;
    let hc = file.healthcheck;
    let healthcheck = HealthCheckConfig {
        open: hc.open.unwrap_or(hd.open),
        service: hc
            .service
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(hd.service),
        slot_num: hc.slot_num.unwrap_or(hd.slot_num),
        min_check_interval: hc.min_check_interval.map_or(hd.min_check_interval, |d| d.0),
        max_check_interval: hc.max_check_interval.map_or(hd.max_check_interval, |d| d.0),
        client_report_interval: hc
            .client_report_interval
            .map_or(hd.client_report_interval, |d| d.0),
        redis: super::checkers::redis_checker(hc.checkers.as_deref())?,
        checkers: match hc.checkers {
            None => hd.checkers,
            Some(list) => list.into_iter().map(|c| c.name).collect(),
        },
        batch_heartbeat: batch(hc.batch.heartbeat, hd.batch_heartbeat),
    };
    if let Some(name) = healthcheck
        .checkers
        .iter()
        .find(|n| !matches!(n.as_str(), "heartbeatMemory" | "heartbeatRedis"))
    {
        return Err(invalid(
            "healthcheck.checkers",
            format!("unsupported checker {name:?}: use heartbeatMemory or heartbeatRedis"),
        ));
    }
    if healthcheck.slot_num == 0 {
        return Err(invalid("healthcheck.slotNum", "must be at least 1"));
    }
    if healthcheck.min_check_interval > healthcheck.max_check_interval {
        return Err(invalid(
            "healthcheck.minCheckInterval",
            "must not exceed healthcheck.maxCheckInterval",
        ));
    }
    check_batch("healthcheck.batch.heartbeat", &healthcheck.batch_heartbeat)?;

    // Store.
    let name = file
        .store
        .name
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    let store = if name.is_empty() || EMBEDDED_STORE_NAMES.contains(&name.as_str()) {
        match non_empty_path(file.store.option.path) {
            Some(path) => StoreConfig::Embedded { path },
            None => defaults.store,
        }
    } else {
        StoreConfig::Sql {
            name,
            option: raw.store.option.unwrap_or(serde_json::Value::Null),
        }
    };
    let auth = super::auth::options(raw.auth.as_ref())?;

    let cache = CacheConfig {
        open: file.cache.open.unwrap_or(defaults.cache.open),
        refresh_interval: file
            .cache
            .refresh_interval
            .map_or(defaults.cache.refresh_interval, |d| d.0),
    };

    Ok(ServerConfig {
        logger,
        http,
        apiservers,
        naming,
        namespace,
        healthcheck,
        store,
        cache,
        auth,
        limits,
    })
}
