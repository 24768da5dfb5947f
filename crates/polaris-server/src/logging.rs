//! Logging set-up from the `bootstrap.logger` scopes of the configuration.
//!
//! Each configured scope becomes one `tracing-subscriber` fmt layer that
//! receives the events whose **target** (by default the emitting module
//! path, e.g. `polaris_naming::service`) routes to that scope. Routing is by
//! target prefix; when several configured scopes match, the longest prefix
//! wins:
//!
//! | scope         | target prefixes                                                        |
//! |---------------|------------------------------------------------------------------------|
//! | `naming`      | `polaris_naming`, `naming`                                             |
//! | `healthcheck` | `polaris_healthcheck`, `polaris_naming::healthcheck`, `healthcheck`    |
//! | `store`       | `polaris_store` (also `polaris_store_redb`, ...), `store`              |
//! | `apiserver`   | `polaris_api` (also `polaris_api_http`, ...), `apiserver`              |
//! | `xdsv3`       | `polaris_api_xds`, `polaris_xds`, `xdsv3`                              |
//! | `eureka`      | `polaris_api_eureka`, `polaris_eureka`, `eureka`                       |
//! | `config`      | `polaris_config`, `config`                                             |
//! | `auth`        | `polaris_auth`, `auth`                                                 |
//! | `cache`       | `polaris_cache`, `cache`                                               |
//! | any other     | its own name (use `tracing::info!(target: "HistoryLogger", ...)`)      |
//! | `default`     | every target not claimed by another *configured* scope                 |
//!
//! A scope that is not configured claims nothing, so its events go to
//! `default`. When no `default` scope is configured an implicit one (stdout,
//! info) is added so that no event is silently lost.
//!
//! Output goes to stdout when `rotateOutputPath` is empty, otherwise to a
//! size-rotated file (`logroller`: rotated at `rotationMaxSize` MB, keeping
//! `rotationMaxBackups` numbered files, gzip when `compress`), written
//! through a `tracing-appender` non-blocking worker. `errorRotateOutputPath`
//! adds a second, ERROR-only layer for the same scope. Scopes naming the same
//! file share one writer (the first scope's rotation settings apply).
//! `rotationMaxAge` is not enforced.
//!
//! The level of each scope is its `outputLevel`; when the `RUST_LOG`
//! environment variable is set, it replaces every scope's level (routing
//! still applies).

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tracing::Metadata;
use tracing::level_filters::LevelFilter;
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::filter::{EnvFilter, FilterExt as _};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt as _};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LoggerScope;

/// Extra target prefixes of the well-known scopes (besides the scope's own
/// name, which every scope claims).
pub const SCOPE_TARGETS: &[(&str, &[&str])] = &[
    ("naming", &["polaris_naming"]),
    (
        "healthcheck",
        &["polaris_healthcheck", "polaris_naming::healthcheck"],
    ),
    ("store", &["polaris_store"]),
    ("apiserver", &["polaris_api"]),
    ("xdsv3", &["polaris_api_xds", "polaris_xds"]),
    ("eureka", &["polaris_api_eureka", "polaris_eureka"]),
    ("config", &["polaris_config"]),
    ("auth", &["polaris_auth"]),
    ("cache", &["polaris_cache"]),
];

/// Name of the catch-all scope.
pub const DEFAULT_SCOPE: &str = "default";

/// Keeps the non-blocking writer threads alive; drop it at shutdown to flush
/// buffered log lines.
#[must_use = "dropping the guard stops the log writer threads"]
pub struct LogGuard {
    guards: Vec<WorkerGuard>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard")
            .field("writers", &self.guards.len())
            .finish()
    }
}

/// Installs the global tracing subscriber built from `scopes` (see the module
/// docs for routing).
///
/// # Errors
///
/// When a log file or its directory cannot be opened or created, `RUST_LOG`
/// is not a valid filter, or a global subscriber is already installed.
pub fn init(scopes: &BTreeMap<String, LoggerScope>) -> anyhow::Result<LogGuard> {
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let (subscriber, guard) = build_subscriber(scopes, rust_log.as_deref(), ByteSize::FromConfig)?;
    subscriber
        .try_init()
        .context("installing the global tracing subscriber")?;
    Ok(guard)
}

/// How big a file may grow before rotation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ByteSize {
    /// `rotationMaxSize` MB of each scope.
    FromConfig,
    /// A fixed byte count for every file (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Bytes(u64),
}

/// Builds the subscriber without installing it. `rust_log`, when given,
/// replaces the scopes' levels.
pub(crate) fn build_subscriber(
    scopes: &BTreeMap<String, LoggerScope>,
    rust_log: Option<&str>,
    size: ByteSize,
) -> anyhow::Result<(impl tracing::Subscriber + Send + Sync + 'static, LogGuard)> {
    let mut scopes = scopes.clone();
    scopes.entry(DEFAULT_SCOPE.to_owned()).or_default();
    let router = Arc::new(Router::new(scopes.keys().map(String::as_str)));

    if let Some(spec) = rust_log {
        EnvFilter::try_new(spec).with_context(|| format!("invalid RUST_LOG {spec:?}"))?;
    }

    let mut writers = Writers::default();
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    for (name, scope) in &scopes {
        let (writer, ansi) = match &scope.rotate_output_path {
            None => (writers.stdout(), std::io::stdout().is_terminal()),
            Some(path) => (writers.file(path, scope, size)?, false),
        };
        let filter = scope_filter(&router, name, Some(scope.output_level), rust_log)?;
        layers.push(fmt_layer(writer, ansi, scope.only_content, filter));

        if let Some(path) = &scope.error_rotate_output_path {
            let writer = writers.file(path, scope, size)?;
            // ERROR only, unless the scope's level is OFF.
            let level = (scope.output_level != LevelFilter::OFF).then_some(LevelFilter::ERROR);
            let filter =
                scope_filter(&router, name, Some(level.unwrap_or(LevelFilter::OFF)), None)?;
            layers.push(fmt_layer(writer, false, scope.only_content, filter));
        }
    }
    let subscriber = Registry::default().with(layers);
    Ok((
        subscriber,
        LogGuard {
            guards: writers.guards,
        },
    ))
}

type BoxFilter = Box<dyn Filter<Registry> + Send + Sync>;

fn scope_filter(
    router: &Arc<Router>,
    scope: &str,
    level: Option<LevelFilter>,
    rust_log: Option<&str>,
) -> anyhow::Result<BoxFilter> {
    let route = RouteFilter {
        router: Arc::clone(router),
        scope: scope.to_owned(),
        level: None,
    };
    Ok(match rust_log {
        Some(spec) => Box::new(route.and(EnvFilter::try_new(spec)?)),
        None => Box::new(RouteFilter { level, ..route }),
    })
}

fn fmt_layer(
    writer: NonBlocking,
    ansi: bool,
    only_content: bool,
    filter: BoxFilter,
) -> Box<dyn Layer<Registry> + Send + Sync> {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    if only_content {
        layer
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_filter(filter)
            .boxed()
    } else {
        layer.with_filter(filter).boxed()
    }
}

/// The non-blocking writers, one per destination.
#[derive(Default)]
struct Writers {
    stdout: Option<NonBlocking>,
    files: HashMap<PathBuf, NonBlocking>,
    guards: Vec<WorkerGuard>,
}

impl Writers {
    fn stdout(&mut self) -> NonBlocking {
        if let Some(w) = &self.stdout {
            return w.clone();
        }
        let (w, guard) = non_blocking(std::io::stdout());
        self.guards.push(guard);
        self.stdout = Some(w.clone());
        w
    }

    fn file(
        &mut self,
        path: &Path,
        scope: &LoggerScope,
        size: ByteSize,
    ) -> anyhow::Result<NonBlocking> {
        if let Some(w) = self.files.get(path) {
            return Ok(w.clone());
        }
        let roller = roller(path, scope, size)?;
        let (w, guard) = non_blocking(roller);
        self.guards.push(guard);
        self.files.insert(path.to_path_buf(), w.clone());
        Ok(w)
    }
}

/// Lines a writer thread may have queued before new ones are dropped. The library's default
/// (128,000) preallocates 4 MB per writer; a burst that outruns the disk by this much is better
/// dropped (and counted as lost by the library) than held.
const BUFFERED_LINES: usize = 8_192;

fn non_blocking<W: std::io::Write + Send + 'static>(writer: W) -> (NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .finish(writer)
}

fn roller(
    path: &Path,
    scope: &LoggerScope,
    size: ByteSize,
) -> anyhow::Result<logroller::LogRoller> {
    use logroller::{Compression, LogRollerBuilder, Rotation, RotationSize};

    let file_name = path
        .file_name()
        .with_context(|| format!("log path {} has no file name", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating log directory {}", dir.display()))?;
    let rotation_size = match size {
        ByteSize::FromConfig => RotationSize::MB(scope.rotation_max_size_mb.max(1)),
        ByteSize::Bytes(b) => RotationSize::Bytes(b.max(1)),
    };
    let mut builder = LogRollerBuilder::new(dir.as_path(), Path::new(file_name))
        .rotation(Rotation::SizeBased(rotation_size))
        .max_keep_files(scope.rotation_max_backups);
    if scope.compress {
        builder = builder.compression(Compression::Gzip);
    }
    builder
        .build()
        .with_context(|| format!("opening log file {}", path.display()))
}

/// Maps a target to the configured scope that claims it.
#[derive(Debug)]
struct Router {
    /// (prefix, scope), longest prefix first.
    prefixes: Vec<(String, String)>,
}

impl Router {
    fn new<'a>(scopes: impl Iterator<Item = &'a str>) -> Self {
        let mut prefixes = Vec::new();
        for scope in scopes {
            if scope == DEFAULT_SCOPE {
                continue;
            }
            prefixes.push((scope.to_owned(), scope.to_owned()));
            if let Some((_, extra)) = SCOPE_TARGETS.iter().find(|(s, _)| *s == scope) {
                prefixes.extend(extra.iter().map(|p| ((*p).to_owned(), scope.to_owned())));
            }
        }
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Self { prefixes }
    }

    fn route<'a>(&'a self, target: &str) -> &'a str {
        self.prefixes
            .iter()
            .find(|(prefix, _)| target.starts_with(prefix.as_str()))
            .map_or(DEFAULT_SCOPE, |(_, scope)| scope.as_str())
    }
}

/// Passes what routes to `scope`, at or above `level` when set.
struct RouteFilter {
    router: Arc<Router>,
    scope: String,
    level: Option<LevelFilter>,
}

impl<S> Filter<S> for RouteFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        self.level.is_none_or(|l| meta.level() <= &l)
            && self.router.route(meta.target()) == self.scope
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.level
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn file_scope(path: &Path) -> LoggerScope {
        LoggerScope {
            rotate_output_path: Some(path.to_path_buf()),
            ..LoggerScope::default()
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn routing_prefers_longest_configured_prefix() {
        let r = Router::new(["default", "naming", "healthcheck", "store", "apiserver"].into_iter());
        assert_eq!(r.route("polaris_naming::service"), "naming");
        assert_eq!(r.route("naming"), "naming");
        assert_eq!(r.route("polaris_naming::healthcheck::wheel"), "healthcheck");
        assert_eq!(r.route("polaris_store_redb::tx"), "store");
        assert_eq!(r.route("polaris_api_http::router"), "apiserver");
        assert_eq!(r.route("polaris_server::bootstrap"), "default");
        assert_eq!(r.route("hyper::proto"), "default");
        // Unconfigured scopes claim nothing.
        let r = Router::new(["default", "naming"].into_iter());
        assert_eq!(r.route("polaris_store::x"), "default");
    }

    #[test]
    fn scope_receives_only_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let naming_log = dir.path().join("naming.log");
        let naming_err = dir.path().join("naming-error.log");
        let store_log = dir.path().join("store.log");
        let default_log = dir.path().join("default.log");
        let mut scopes = BTreeMap::new();
        scopes.insert(
            "naming".to_owned(),
            LoggerScope {
                error_rotate_output_path: Some(naming_err.clone()),
                output_level: LevelFilter::DEBUG,
                ..file_scope(&naming_log)
            },
        );
        scopes.insert(
            "store".to_owned(),
            LoggerScope {
                output_level: LevelFilter::WARN,
                ..file_scope(&store_log)
            },
        );
        scopes.insert("default".to_owned(), file_scope(&default_log));

        let (subscriber, guard) = build_subscriber(&scopes, None, ByteSize::FromConfig).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "polaris_naming::service", "naming-debug-event");
            tracing::error!(target: "polaris_naming::service", "naming-error-event");
            tracing::info!(target: "polaris_store::redb", "store-info-event");
            tracing::warn!(target: "polaris_store_redb", "store-warn-event");
            tracing::info!(target: "polaris_server::bootstrap", "default-info-event");
            tracing::debug!(target: "polaris_server::bootstrap", "default-debug-event");
        });
        drop(guard);

        let naming = read(&naming_log);
        assert!(naming.contains("naming-debug-event"), "{naming}");
        assert!(naming.contains("naming-error-event"), "{naming}");
        assert!(
            !naming.contains("store-") && !naming.contains("default-"),
            "{naming}"
        );

        let err = read(&naming_err);
        assert!(
            err.contains("naming-error-event") && !err.contains("naming-debug-event"),
            "{err}"
        );

        let store = read(&store_log);
        assert!(store.contains("store-warn-event"), "{store}");
        assert!(
            !store.contains("store-info-event"),
            "store level is warn: {store}"
        );
        assert!(
            !store.contains("naming-") && !store.contains("default-"),
            "{store}"
        );

        let default = read(&default_log);
        assert!(default.contains("default-info-event"), "{default}");
        assert!(!default.contains("default-debug-event"), "{default}");
        assert!(
            !default.contains("naming-") && !default.contains("store-"),
            "{default}"
        );
    }

    #[test]
    fn rust_log_overrides_levels_but_not_routing() {
        let dir = tempfile::tempdir().unwrap();
        let naming_log = dir.path().join("naming.log");
        let default_log = dir.path().join("default.log");
        let mut scopes = BTreeMap::new();
        scopes.insert(
            "naming".to_owned(),
            LoggerScope {
                output_level: LevelFilter::ERROR,
                ..file_scope(&naming_log)
            },
        );
        scopes.insert("default".to_owned(), file_scope(&default_log));

        let (subscriber, guard) =
            build_subscriber(&scopes, Some("debug"), ByteSize::FromConfig).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "polaris_naming", "naming-debug-event");
            tracing::debug!(target: "other", "other-debug-event");
        });
        drop(guard);
        let naming = read(&naming_log);
        assert!(
            naming.contains("naming-debug-event") && !naming.contains("other-"),
            "{naming}"
        );
        let default = read(&default_log);
        assert!(
            default.contains("other-debug-event") && !default.contains("naming-"),
            "{default}"
        );

        assert!(build_subscriber(&scopes, Some("=[bad"), ByteSize::FromConfig).is_err());
    }

    #[test]
    fn only_content_prints_bare_messages() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("history.log");
        let mut scopes = BTreeMap::new();
        scopes.insert(
            "HistoryLogger".to_owned(),
            LoggerScope {
                only_content: true,
                ..file_scope(&log)
            },
        );
        let (subscriber, guard) = build_subscriber(&scopes, None, ByteSize::FromConfig).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "HistoryLogger", "create service a");
        });
        drop(guard);
        assert_eq!(read(&log).trim(), "create service a");
    }

    #[test]
    fn file_rotates_when_size_exceeded() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("polaris-default.log");
        let mut scopes = BTreeMap::new();
        scopes.insert(
            "default".to_owned(),
            LoggerScope {
                rotation_max_backups: 2,
                ..file_scope(&log)
            },
        );
        // logroller takes bytes; the config's MB granularity is replaced by
        // 512 bytes so a handful of events trigger several rotations.
        let (subscriber, guard) = build_subscriber(&scopes, None, ByteSize::Bytes(512)).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..40 {
                tracing::info!(target: "anything", "rotation test event number {i:03} with some padding text");
            }
        });
        drop(guard);

        // Archives are shifted and pruned by a background worker: wait for it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let names = loop {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            let rotated = names
                .iter()
                .filter(|n| n.starts_with("polaris-default.log."))
                .count();
            if rotated == 2 || Instant::now() > deadline {
                break names;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let rotated: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("polaris-default.log."))
            .collect();
        assert_eq!(rotated.len(), 2, "max backups is 2, files: {names:?}");
        assert!(
            names.contains(&"polaris-default.log".to_owned()),
            "{names:?}"
        );
        let current = std::fs::metadata(&log).unwrap().len();
        assert!(current <= 512, "current file is {current} bytes");
        // The newest events are in the live file.
        assert!(read(&log).contains("number 039"));
    }

    #[test]
    fn unwritable_log_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let mut scopes = BTreeMap::new();
        scopes.insert("default".to_owned(), file_scope(&blocker.join("x.log")));
        assert!(build_subscriber(&scopes, None, ByteSize::FromConfig).is_err());
    }
}
