//! Stage one: the file-shaped view of `polaris-server.yaml`.
//!
//! Every struct here mirrors one section of the official Go server's
//! configuration file, key for key (camelCase, as the Go `yaml` tags spell
//! them). All fields are optional: absence means "use the default", which the
//! typed stage ([`super::typed`]) fills in. Keys that the official file knows
//! but polaris-rs does not act on yet are declared with type [`Known`],
//! so they are accepted without a warning and without a type check; any key
//! not declared here is reported as an unknown key.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::duration::FileDuration;

/// Deserializes `T`, treating an explicit null (`naming:` with nothing
/// under it) like an absent key.
fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileConfig {
    /// `bootstrap`: logger scopes, start order, self registration.
    #[serde(deserialize_with = "or_default")]
    pub bootstrap: FileBootstrap,
    /// `apiservers`: protocol listeners. `None` when the section is absent
    /// (or null), which selects the default listeners.
    pub apiservers: Option<Vec<FileApiServer>>,
    /// `auth`: user / strategy plugins (read from the raw pass, see `config::auth`).
    pub auth: Option<Known>,
    /// `namespace`: namespace module.
    #[serde(deserialize_with = "or_default")]
    pub namespace: FileNamespace,
    /// `naming`: service registry module.
    #[serde(deserialize_with = "or_default")]
    pub naming: FileNaming,
    /// `healthcheck`: instance health checking.
    #[serde(deserialize_with = "or_default")]
    pub healthcheck: FileHealthCheck,
    /// `config`: configuration-center module (not interpreted yet).
    pub config: Option<Known>,
    /// `cache`: the in-memory cache layer.
    #[serde(deserialize_with = "or_default")]
    pub cache: FileCache,
    /// `maintain`: maintenance jobs (not interpreted yet).
    pub maintain: Option<Known>,
    /// `store`: storage plugin.
    #[serde(deserialize_with = "or_default")]
    pub store: FileStore,
    /// `plugin`: auxiliary plugins (not interpreted yet).
    pub plugin: Option<Known>,
}

/// `bootstrap`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileBootstrap {
    /// `bootstrap.logger`: scope name → options.
    pub logger: Option<BTreeMap<String, Option<FileLoggerScope>>>,
    /// `bootstrap.startInOrder` (cluster start lock; not interpreted yet).
    #[serde(rename = "startInOrder")]
    pub start_in_order: Option<Known>,
    /// `bootstrap.polaris_service` (self registration; not interpreted yet).
    pub polaris_service: Option<Known>,
}

/// `bootstrap.logger.<scope>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileLoggerScope {
    /// Log file; empty or absent = stdout.
    pub rotate_output_path: Option<String>,
    /// File receiving only ERROR events of the scope; empty = none.
    pub error_rotate_output_path: Option<String>,
    /// Size in MB at which the file is rotated (default 100).
    pub rotation_max_size: Option<u64>,
    /// Number of rotated files kept (default 10).
    pub rotation_max_backups: Option<u64>,
    /// Days a rotated file is kept (default 7).
    pub rotation_max_age: Option<u64>,
    /// `debug` / `info` / `warn` / `error` / `fatal` / `none` (default info).
    pub output_level: Option<String>,
    /// gzip rotated files (default false).
    pub compress: Option<bool>,
    /// Print only the message, without time, level or target (default false).
    pub only_content: Option<bool>,
    /// Known Go keys without an equivalent here.
    pub rotation_max_duration_for_hour: Option<Known>,
    /// Known Go key (zap output paths); not interpreted.
    pub output_paths: Option<Known>,
    /// Known Go key (zap error output paths); not interpreted.
    pub error_output_paths: Option<Known>,
    /// Known Go key; not interpreted.
    pub stacktrace_level: Option<Known>,
    /// Known Go key; not interpreted.
    pub json_encoding: Option<Known>,
    /// Known Go key; not interpreted.
    pub log_grpc: Option<Known>,
}

/// One `apiservers[]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileApiServer {
    /// Plugin name: `api-http`, `service-grpc`, `config-grpc`, `xds-v3`,
    /// `service-eureka`, `service-nacos`, `service-l5`.
    pub name: String,
    /// Listener and protocol options.
    #[serde(deserialize_with = "or_default")]
    pub option: FileApiServerOption,
    /// API groups exposed: group name (`admin`, `console`, `client`, `config`)
    /// → switch and sub-groups.
    #[serde(deserialize_with = "or_default")]
    pub api: BTreeMap<String, Option<FileApiGroup>>,
}

/// `apiservers[].option`: the union of the keys that the official plugins
/// understand.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileApiServerOption {
    /// Listen address (default `0.0.0.0`).
    #[serde(rename = "listenIP")]
    pub listen_ip: Option<String>,
    /// Listen port (default depends on the plugin).
    pub listen_port: Option<u16>,
    /// api-http: Go pprof endpoints.
    pub enable_pprof: Option<Known>,
    /// api-http: swagger document.
    pub enable_swagger: Option<Known>,
    /// Per-listener connection limits.
    pub conn_limit: Option<FileConnLimit>,
    /// TLS files.
    pub tls: Option<FileTls>,
    /// service-grpc: protobuf response cache switch.
    pub enable_cache_proto: Option<Known>,
    /// service-grpc: protobuf response cache size.
    pub size_cache_proto: Option<Known>,
    /// service-eureka / service-nacos: default namespace.
    pub namespace: Option<Known>,
    /// service-nacos: default namespace.
    pub default_namespace: Option<Known>,
    /// service-eureka: owner of auto-created services.
    pub owner: Option<Known>,
    /// service-eureka: cache refresh period (seconds).
    pub refresh_interval: Option<Known>,
    /// service-eureka: delta cache expiry (seconds).
    pub delta_expire_interval: Option<Known>,
    /// service-eureka: unhealthy instance expiry (seconds).
    pub unhealthy_expire_interval: Option<Known>,
    /// service-eureka: id generation switch.
    pub generate_unique_inst_id: Option<Known>,
    /// service-eureka: custom values.
    pub custom_values: Option<Known>,
    /// service-l5: cluster name.
    pub cluster_name: Option<Known>,
    /// gRPC and xDS listeners: HTTP/2 streams per connection (ours, see `config::limits`).
    pub max_concurrent_streams: Option<Known>,
    /// service-grpc: subscriptions per Discover stream (ours, see `config::limits`).
    pub max_subscriptions_per_stream: Option<Known>,
}

/// `apiservers[].option.connLimit`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileConnLimit {
    /// Master switch.
    pub open_conn_limit: Option<Known>,
    /// Connections per client IP.
    pub max_conn_per_host: Option<Known>,
    /// Connections per listener.
    pub max_conn_limit: Option<Known>,
    /// Comma separated IPs exempt from the limit.
    pub white_list: Option<Known>,
    /// Purge period of the per-IP counters.
    pub purge_counter_interval: Option<Known>,
    /// Idle time after which a counter is purged.
    pub purge_counter_expired: Option<Known>,
}

/// `apiservers[].option.tls`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileTls {
    /// Certificate chain (PEM).
    pub cert_file: Option<String>,
    /// Private key (PEM).
    pub key_file: Option<String>,
    /// CA bundle for client certificates.
    #[serde(rename = "trustedCAFile")]
    pub trusted_ca_file: Option<String>,
}

/// `apiservers[].api.<group>`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileApiGroup {
    /// Whether the group is served (default false).
    pub enable: Option<bool>,
    /// Sub-groups served; empty = all.
    pub include: Option<Vec<String>>,
}

/// `namespace`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileNamespace {
    /// Create missing namespaces on first use (default true).
    pub auto_create: Option<bool>,
}

/// `naming`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileNaming {
    /// Create missing services on instance registration (default true).
    pub auto_create: Option<bool>,
    /// Legacy per-module auth switch (not interpreted).
    pub auth: Option<Known>,
    /// Batch write controllers.
    #[serde(deserialize_with = "or_default")]
    pub batch: FileNamingBatch,
}

/// `naming.batch`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileNamingBatch {
    /// Instance registration.
    pub register: Option<FileBatch>,
    /// Instance deregistration.
    pub deregister: Option<FileBatch>,
    /// SDK client registration (not interpreted yet).
    pub client_register: Option<FileBatch>,
    /// SDK client deregistration (not interpreted yet).
    pub client_deregister: Option<FileBatch>,
}

/// One batch write controller.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileBatch {
    /// Whether batching is on.
    pub open: Option<bool>,
    /// Pending task queue capacity.
    pub queue_size: Option<usize>,
    /// Longest wait for a batch to fill.
    pub wait_time: Option<FileDuration>,
    /// Tasks per batch.
    pub max_batch_count: Option<usize>,
    /// Worker count.
    pub concurrency: Option<usize>,
    /// register only: drop tasks older than `taskLife`.
    pub drop_expire_task: Option<bool>,
    /// register only: task lifetime.
    pub task_life: Option<FileDuration>,
}

/// `healthcheck`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileHealthCheck {
    /// Module switch (default true).
    pub open: Option<bool>,
    /// Service whose instances share the checking work.
    pub service: Option<String>,
    /// Time wheel slots (default 30).
    pub slot_num: Option<usize>,
    /// Lower bound of the re-check delay (default 1s).
    pub min_check_interval: Option<FileDuration>,
    /// Upper bound of the re-check delay (default 30s).
    pub max_check_interval: Option<FileDuration>,
    /// SDK client report check period (default 120s).
    pub client_report_interval: Option<FileDuration>,
    /// Batch controllers.
    #[serde(deserialize_with = "or_default")]
    pub batch: FileHealthCheckBatch,
    /// Checker plugins.
    pub checkers: Option<Vec<FileChecker>>,
}

/// `healthcheck.checkers[]`: a checker plugin and its options.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileChecker {
    /// `heartbeatMemory` or `heartbeatRedis` (`heartbeatLeader` is refused).
    pub name: String,
    pub option: Option<FileCheckerOption>,
}

/// `healthcheck.checkers[].option`, in the official names. Only the Redis address, user and
/// password are interpreted (plus our `keyPrefix`); the official pool and timeout knobs are
/// accepted and left to the connection manager's own behaviour.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileCheckerOption {
    pub kv_addr: Option<String>,
    pub kv_user: Option<String>,
    pub kv_passwd: Option<String>,
    /// Prefix of every Redis key and channel (ours; default `polaris:`).
    pub key_prefix: Option<String>,
    pub pool_size: Option<Known>,
    pub min_idle_conns: Option<Known>,
    pub idle_timeout: Option<Known>,
    pub connect_timeout: Option<Known>,
    pub msg_timeout: Option<Known>,
    pub concurrency: Option<Known>,
    #[serde(rename = "withTLS")]
    pub with_tls: Option<Known>,
    pub deploy_mode: Option<Known>,
    pub addrs: Option<Known>,
    pub solt_num: Option<Known>,
    pub stream_num: Option<Known>,
}

/// `healthcheck.batch`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileHealthCheckBatch {
    /// Heartbeat status writes.
    pub heartbeat: Option<FileBatch>,
}

/// A `{ name, option }` plugin entry whose option is not interpreted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FilePlugin {
    /// Plugin name.
    pub name: String,
    /// Plugin options.
    pub option: Option<Known>,
}

/// `cache`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct FileCache {
    /// Module switch (default true).
    pub open: Option<bool>,
    /// Store polling period (default 1s).
    pub refresh_interval: Option<FileDuration>,
    /// Overlap of successive polls (Go default -5s; not interpreted).
    pub diff_time: Option<Known>,
    /// Cached resource kinds.
    pub resources: Option<Vec<FilePlugin>>,
}

/// `store`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileStore {
    /// Plugin name (`boltdbStore`, `defaultStore`, ...).
    pub name: Option<String>,
    /// Plugin options.
    #[serde(deserialize_with = "or_default")]
    pub option: FileStoreOption,
}

/// `store.option`: the union of the embedded and SQL plugins' keys.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileStoreOption {
    /// Embedded store: data path.
    pub path: Option<String>,
    /// SQL store: primary database.
    pub master: Option<Known>,
    /// SQL store: replica database.
    pub slave: Option<Known>,
}

/// The second, untyped pass: the raw option maps kept for later consumers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawDoc {
    /// `apiservers[].option`.
    pub apiservers: Option<Vec<RawApiServer>>,
    /// `store.option`.
    #[serde(deserialize_with = "or_default")]
    pub store: RawStore,
    /// `auth`, read by [`super::auth`].
    pub auth: Option<serde_json::Value>,
    /// `plugin`, for `plugin.ratelimit` (read by [`super::limits`]).
    pub plugin: Option<serde_json::Value>,
    /// `config`, for `config.maxWatchFiles` (read by [`super::limits`]).
    pub config: Option<serde_json::Value>,
}

/// `apiservers[]` in the raw pass.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawApiServer {
    /// `apiservers[].option` as a JSON value.
    pub option: Option<serde_json::Value>,
}

/// `store` in the raw pass.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawStore {
    /// `store.option` as a JSON value.
    pub option: Option<serde_json::Value>,
}

/// Any YAML value, accepted and dropped without type check. Unlike
/// [`serde::de::IgnoredAny`] it reads the value through `deserialize_any`,
/// so `serde_ignored` does not report it (or anything inside it) as unknown.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Known;

impl<'de> Deserialize<'de> for Known {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KnownVisitor)
    }
}

struct KnownVisitor;

impl<'de> Visitor<'de> for KnownVisitor {
    type Value = Known;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_none<E: de::Error>(self) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Known, E> {
        Ok(Known)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Known, D::Error> {
        Known::deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Known, D::Error> {
        Known::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Known, A::Error> {
        while seq.next_element::<Known>()?.is_some() {}
        Ok(Known)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Known, A::Error> {
        while map.next_entry::<Known, Known>()?.is_some() {}
        Ok(Known)
    }
}
