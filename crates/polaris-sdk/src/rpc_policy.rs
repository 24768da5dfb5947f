//! Per-method RPC policies that Polaris does not push as rules (call timeout, retries,
//! degradation), read from the config center and followed live: the governance-config suite
//! the tonic and Volo integrations share.
//!
//! The files follow the Kitex config suites' naming and JSON shapes, in namespace and group
//! of [`SuiteKeys`] (group `governance` by default):
//!
//! | file | content |
//! |---|---|
//! | `{caller}.{callee}.rpc_timeout` | `{"*": {"rpc_timeout_ms": 1000, "conn_timeout_ms": 200}, "Echo": {"rpc_timeout_ms": 50}}` |
//! | `{caller}.{callee}.retry` | `{"*": {"enable": true, "type": 0, "failure_policy": {"stop_policy": {"max_retry_times": 2}}}}` |
//! | `{caller}.{callee}.degradation` | `{"enable": true, "percentage": 30}` |
//!
//! Method keys are the bare method name (`Echo`), the full gRPC path (`/echo.Echo/Echo`) or
//! `*` (every other method). A file that is missing, deleted or does not decode leaves the
//! policies set in code for its category.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Deserialize;

use crate::client::Client;

/// Retries of one method: on `UNAVAILABLE` answers and connection errors, each to another
/// instance unless `same_node`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: u32,
    /// Retry on the instance that failed.
    pub same_node: bool,
}

/// The policies in force: looked up per call, without allocating.
#[derive(Clone, Debug, Default)]
pub struct RpcPolicy {
    timeouts: HashMap<String, Duration>,
    connect_timeouts: HashMap<String, Duration>,
    retries: HashMap<String, RetryPolicy>,
    degradation_percent: u32,
}

/// The key of `method` in a policy map: the full path, the bare method name, then `*`.
fn lookup<'m, T>(map: &'m HashMap<String, T>, method: &str) -> Option<&'m T> {
    if map.is_empty() {
        return None;
    }
    let bare = method.rsplit('/').next().unwrap_or(method);
    map.get(method)
        .or_else(|| map.get(bare))
        .or_else(|| map.get("*"))
}

impl RpcPolicy {
    /// Sets the call timeout of `method` (`*` for every method).
    pub fn with_timeout(mut self, method: impl Into<String>, timeout: Duration) -> Self {
        self.timeouts.insert(method.into(), timeout);
        self
    }

    /// Sets the retries of `method` (`*` for every method).
    pub fn with_retry(mut self, method: impl Into<String>, retry: RetryPolicy) -> Self {
        self.retries.insert(method.into(), retry);
        self
    }

    /// Refuses this percentage of calls on the client side (0 disables).
    pub fn with_degradation(mut self, percent: u32) -> Self {
        self.degradation_percent = percent.min(100);
        self
    }

    /// The call timeout of a method (`/pkg.Svc/Method` or `Method`).
    pub fn timeout(&self, method: &str) -> Option<Duration> {
        lookup(&self.timeouts, method).copied()
    }

    /// The connect timeout of a method.
    pub fn connect_timeout(&self, method: &str) -> Option<Duration> {
        lookup(&self.connect_timeouts, method).copied()
    }

    /// The retries of a method.
    pub fn retry(&self, method: &str) -> RetryPolicy {
        lookup(&self.retries, method).copied().unwrap_or_default()
    }

    /// The share of calls refused by degradation, in percent.
    pub fn degradation_percent(&self) -> u32 {
        self.degradation_percent
    }
}

/// Where the suite's files live and whose they are.
#[derive(Clone, Debug)]
pub struct SuiteKeys {
    /// Namespace of the files (`default`).
    pub namespace: String,
    /// Group of the files (`governance`).
    pub group: String,
    /// The calling service (`{caller}` in file names).
    pub caller: String,
    /// The called service (`{callee}` in file names).
    pub callee: String,
}

impl SuiteKeys {
    /// The files of `caller` calling `callee`, in `default/governance`.
    pub fn new(caller: impl Into<String>, callee: impl Into<String>) -> SuiteKeys {
        SuiteKeys {
            namespace: "default".into(),
            group: "governance".into(),
            caller: caller.into(),
            callee: callee.into(),
        }
    }

    /// The file name of a category.
    pub fn file(&self, category: &str) -> String {
        format!("{}.{}.{category}", self.caller, self.callee)
    }
}

/// The live policies: cheap to clone, read per call, replaced when a file changes.
#[derive(Clone, Debug)]
pub struct RpcPolicies {
    current: Arc<ArcSwap<RpcPolicy>>,
    calls: Arc<AtomicU64>,
}

impl Default for RpcPolicies {
    fn default() -> Self {
        RpcPolicies::fixed(RpcPolicy::default())
    }
}

impl RpcPolicies {
    /// Policies set in code only.
    pub fn fixed(policy: RpcPolicy) -> RpcPolicies {
        RpcPolicies {
            current: Arc::new(ArcSwap::from_pointee(policy)),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Starts from `base` and follows the suite's files in the config center: each category
    /// found replaces `base`'s for that category, live. Missing files are looked for again
    /// every `recheck`. The tasks end with the client.
    pub fn watch(client: &Client, keys: SuiteKeys, base: RpcPolicy, recheck: Duration) -> Self {
        let policies = RpcPolicies::fixed(base.clone());
        let state = Arc::new(parking_lot::Mutex::new(Files::default()));
        for category in [Category::Timeout, Category::Retry, Category::Degradation] {
            let follower = Follower {
                client: client.clone(),
                keys: keys.clone(),
                base: base.clone(),
                state: state.clone(),
                target: policies.current.clone(),
                recheck,
            };
            tokio::spawn(follower.run(category));
        }
        policies
    }

    /// The policies now.
    pub fn load(&self) -> arc_swap::Guard<Arc<RpcPolicy>> {
        self.current.load()
    }

    /// Replaces the policies (as a changed file does).
    pub fn store(&self, policy: RpcPolicy) {
        self.current.store(Arc::new(policy));
    }

    /// True when degradation refuses this call: exactly `percentage` of every 100 calls,
    /// spread evenly.
    pub fn degrade_now(&self) -> bool {
        let percent = self.current.load().degradation_percent;
        if percent == 0 {
            return false;
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        // Spread the refused calls over each window of 100 (a multiplicative permutation).
        (n.wrapping_mul(37) % 100) < u64::from(percent)
    }
}

#[derive(Clone, Copy, Debug)]
enum Category {
    Timeout,
    Retry,
    Degradation,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Category::Timeout => "rpc_timeout",
            Category::Retry => "retry",
            Category::Degradation => "degradation",
        }
    }
}

/// The decoded content of each category's file, `None` while absent.
#[derive(Default)]
struct Files {
    timeout: Option<HashMap<String, TimeoutDoc>>,
    retry: Option<HashMap<String, RetryDoc>>,
    degradation: Option<DegradationDoc>,
}

#[derive(Deserialize, Clone)]
struct TimeoutDoc {
    #[serde(default)]
    rpc_timeout_ms: u64,
    #[serde(default)]
    conn_timeout_ms: u64,
}

#[derive(Deserialize, Clone)]
struct RetryDoc {
    #[serde(default)]
    enable: bool,
    #[serde(default, rename = "type")]
    kind: u32,
    #[serde(default)]
    failure_policy: Option<FailurePolicyDoc>,
}

#[derive(Deserialize, Clone)]
struct FailurePolicyDoc {
    #[serde(default)]
    stop_policy: Option<StopPolicyDoc>,
    #[serde(default)]
    retry_same_node: bool,
}

#[derive(Deserialize, Clone)]
struct StopPolicyDoc {
    #[serde(default)]
    max_retry_times: u32,
}

#[derive(Deserialize, Clone)]
struct DegradationDoc {
    #[serde(default)]
    enable: bool,
    #[serde(default)]
    percentage: u32,
}

impl Files {
    /// `base` with each category found in a file replaced by the file's.
    fn merge(&self, base: &RpcPolicy) -> RpcPolicy {
        let mut out = base.clone();
        if let Some(doc) = &self.timeout {
            let ms = |v: u64| (v > 0).then(|| Duration::from_millis(v));
            out.timeouts = doc
                .iter()
                .filter_map(|(k, v)| ms(v.rpc_timeout_ms).map(|d| (k.clone(), d)))
                .collect();
            out.connect_timeouts = doc
                .iter()
                .filter_map(|(k, v)| ms(v.conn_timeout_ms).map(|d| (k.clone(), d)))
                .collect();
        }
        if let Some(doc) = &self.retry {
            out.retries = doc
                .iter()
                .filter(|(_, v)| v.enable && v.kind == 0)
                .map(|(k, v)| {
                    let failure = v.failure_policy.as_ref();
                    let retry = RetryPolicy {
                        max_retries: failure
                            .and_then(|f| f.stop_policy.as_ref())
                            .map_or(0, |s| s.max_retry_times),
                        same_node: failure.is_some_and(|f| f.retry_same_node),
                    };
                    (k.clone(), retry)
                })
                .collect();
        }
        if let Some(doc) = &self.degradation {
            out.degradation_percent = if doc.enable {
                doc.percentage.min(100)
            } else {
                0
            };
        }
        out
    }

    /// Installs one file's content (`None`: absent or empty); false when it does not decode.
    fn set(&mut self, category: Category, content: Option<&str>) -> bool {
        fn parse<T: serde::de::DeserializeOwned>(text: Option<&str>) -> Result<Option<T>, ()> {
            match text.map(str::trim).filter(|t| !t.is_empty()) {
                None => Ok(None),
                Some(text) => crate::config_center::decode(text, crate::Format::Json)
                    .or_else(|_| crate::config_center::decode(text, crate::Format::Yaml))
                    .map(Some)
                    .map_err(|_| ()),
            }
        }
        let decoded = match category {
            Category::Timeout => parse(content).map(|v| self.timeout = v),
            Category::Retry => parse(content).map(|v| self.retry = v),
            Category::Degradation => parse(content).map(|v| self.degradation = v),
        };
        decoded.is_ok()
    }
}

/// Follows one category's file.
struct Follower {
    client: Client,
    keys: SuiteKeys,
    base: RpcPolicy,
    state: Arc<parking_lot::Mutex<Files>>,
    target: Arc<ArcSwap<RpcPolicy>>,
    recheck: Duration,
}

impl Follower {
    fn apply(&self, category: Category, content: Option<&str>) {
        let mut files = self.state.lock();
        if !files.set(category, content) {
            tracing::warn!(file = %self.keys.file(category.name()), "RPC policy file does not decode: left as it was");
            return;
        }
        self.target.store(Arc::new(files.merge(&self.base)));
        tracing::debug!(file = %self.keys.file(category.name()), "RPC policy applied");
    }

    async fn run(self, category: Category) {
        let name = self.keys.file(category.name());
        let mut shutdown = self.client.inner.shutdown.subscribe();
        let config = self.client.config();
        loop {
            let watch = tokio::select! {
                w = config.watch_file(&self.keys.namespace, &self.keys.group, &name) => w,
                _ = shutdown.changed() => return,
            };
            let mut watch = match watch {
                Ok(watch) => watch,
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.recheck) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            };
            self.apply(category, Some(&watch.current().content));
            loop {
                let changed = tokio::select! {
                    c = watch.changed() => c,
                    _ = shutdown.changed() => return,
                };
                match changed {
                    Ok(file) => self.apply(category, Some(&file.content)),
                    Err(_) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_override_their_category_only() {
        let base = RpcPolicy::default()
            .with_timeout("*", Duration::from_secs(3))
            .with_retry(
                "Echo",
                RetryPolicy {
                    max_retries: 1,
                    same_node: false,
                },
            )
            .with_degradation(10);
        let mut files = Files::default();
        assert!(files.set(
            Category::Timeout,
            Some(r#"{"*": {"rpc_timeout_ms": 800}, "Slow": {"rpc_timeout_ms": 5000, "conn_timeout_ms": 50}}"#)
        ));
        let merged = files.merge(&base);
        assert_eq!(
            merged.timeout("/echo.Echo/Echo"),
            Some(Duration::from_millis(800))
        );
        assert_eq!(
            merged.timeout("/echo.Echo/Slow"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            merged.connect_timeout("Slow"),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            merged.retry("/echo.Echo/Echo").max_retries,
            1,
            "retry left as coded"
        );
        assert_eq!(merged.degradation_percent(), 10);

        assert!(files.set(
            Category::Retry,
            Some(r#"{"*": {"enable": true, "type": 0, "failure_policy": {"stop_policy": {"max_retry_times": 3}, "retry_same_node": true}}, "Off": {"enable": false}}"#)
        ));
        assert!(files.set(
            Category::Degradation,
            Some("enable: true\npercentage: 40\n")
        ));
        let merged = files.merge(&base);
        assert_eq!(
            merged.retry("Echo"),
            RetryPolicy {
                max_retries: 3,
                same_node: true
            }
        );
        assert_eq!(
            merged.retry("Off"),
            RetryPolicy {
                max_retries: 3,
                same_node: true
            },
            "disabled entries fall back to *"
        );
        assert_eq!(merged.degradation_percent(), 40);

        assert!(
            !files.set(Category::Timeout, Some("{not json")),
            "bad files are refused"
        );
        assert!(
            files.set(Category::Timeout, Some("")),
            "an empty file clears the category"
        );
        assert_eq!(
            files.merge(&base).timeout("Echo"),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn degradation_refuses_the_configured_share() {
        let policies = RpcPolicies::fixed(RpcPolicy::default().with_degradation(30));
        let refused = (0..1000).filter(|_| policies.degrade_now()).count();
        assert_eq!(refused, 300);
        policies.store(RpcPolicy::default());
        assert!(!(0..100).any(|_| policies.degrade_now()));
    }
}
