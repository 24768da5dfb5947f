//! Circuit breaking and rate limiting: the IO side of `polaris-traffic`'s breakers and
//! limiters. Rules come from the cache (CIRCUIT_BREAKER, FAULT_DETECTOR, RATE_LIMIT) and are
//! recompiled whenever the server delivers new ones.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use polaris_matcher::RequestContext;
use polaris_traffic::Instance;
use polaris_traffic::breaker::{Outcome, Resource};
use polaris_traffic::limiter::{Admission, RateLimiter};

pub use polaris_traffic::limiter::Permit;

use crate::client::Inner;
use crate::consumer::Consumer;
use crate::consumer::cache::{ResourceKind, ServiceKey};
use crate::consumer::select::traffic_key;
use crate::error::{Error, Result};
use crate::fault_detect;

/// The result of one call, reported to the circuit breakers.
#[derive(Clone, Debug)]
pub struct CallResult {
    /// The service called.
    pub service: ServiceKey,
    /// The calling service, matched by rules' sources.
    pub caller: Option<ServiceKey>,
    /// The method called (enables method-level breaking); an integration keeps one `Arc`
    /// per method, so a report copies no text.
    pub method: Option<Arc<str>>,
    /// The instance called (enables instance-level breaking).
    pub instance: Option<Arc<Instance>>,
    /// The return code as text (HTTP status, gRPC code...); [`code_text`] has the common
    /// ones without an allocation.
    pub code: Cow<'static, str>,
    /// How long the call took.
    pub delay: Duration,
    /// Whether the caller considers the call successful.
    pub success: bool,
}

impl CallResult {
    /// A successful call.
    pub fn success(service: ServiceKey, delay: Duration) -> CallResult {
        CallResult {
            service,
            caller: None,
            method: None,
            instance: None,
            code: Cow::Borrowed("0"),
            delay,
            success: true,
        }
    }

    /// A failed call with its code.
    pub fn failure(
        service: ServiceKey,
        code: impl Into<Cow<'static, str>>,
        delay: Duration,
    ) -> CallResult {
        CallResult {
            code: code.into(),
            success: false,
            ..CallResult::success(service, delay)
        }
    }

    /// Sets the instance called.
    pub fn instance(mut self, instance: Arc<Instance>) -> Self {
        self.instance = Some(instance);
        self
    }

    /// Sets the method called.
    pub fn method(mut self, method: impl Into<Arc<str>>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Sets the caller.
    pub fn caller(mut self, caller: ServiceKey) -> Self {
        self.caller = Some(caller);
        self
    }
}

/// The text of a code below 1000 (every gRPC code and HTTP status) as a `'static` string
/// (made once), so a report of it allocates nothing; other codes are formatted.
pub fn code_text(code: i64) -> Cow<'static, str> {
    static TEXTS: std::sync::OnceLock<Box<[Box<str>]>> = std::sync::OnceLock::new();
    let Some(index) = usize::try_from(code).ok().filter(|c| *c < 1000) else {
        return Cow::Owned(code.to_string());
    };
    let texts = TEXTS.get_or_init(|| (0..1000).map(|c| c.to_string().into()).collect());
    Cow::Borrowed(&texts[index])
}

impl Inner {
    /// Follows the breaker and fault-detect rules of `service` from now on (once per service).
    pub(crate) fn ensure_breaker_rules(&self, service: &ServiceKey) {
        {
            // Called twice per call (check, report): look up before copying the key.
            let mut services = self.breaker_services.lock();
            if services.contains(service) || !services.insert(service.clone()) {
                return;
            }
        }
        let rules = self.entry(ResourceKind::CircuitBreaker, service);
        let mut installer = RuleInstaller {
            breakers: self.breakers.clone(),
            key: traffic_key(service),
            last: None,
            installed: false,
        };
        let mut shutdown = self.shutdown.subscribe();
        let mut rx = rules.subscribe();
        // Rules already cached apply before this call returns (and before its report).
        installer.offer(rx.borrow_and_update().snapshot.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() { return },
                    _ = shutdown.changed() => return,
                }
                installer.offer(rx.borrow_and_update().snapshot.clone());
            }
        });
        fault_detect::start(self, service);
    }
}

/// Hands each new breaker-rule snapshot of one service to the breakers.
struct RuleInstaller {
    breakers: Arc<polaris_traffic::breaker::CircuitBreakers>,
    key: polaris_traffic::ServiceKey,
    last: Option<Arc<crate::consumer::Snapshot>>,
    installed: bool,
}

impl RuleInstaller {
    fn offer(&mut self, snapshot: Option<Arc<crate::consumer::Snapshot>>) {
        let Some(snapshot) = snapshot else { return };
        if self
            .last
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, &snapshot))
        {
            return;
        }
        let message = snapshot
            .response
            .circuit_breaker
            .clone()
            .unwrap_or_default();
        // Installing rules resets the service's breakers: skip it while there never were
        // rules, so reports made against the defaults before the first answer still count.
        if self.installed || !message.rules.is_empty() {
            self.installed = true;
            for s in self.breakers.set_rules(&self.key, &message) {
                tracing::warn!(rule = %s.rule, reason = %s.reason, "breaker rule left out");
            }
        }
        self.last = Some(snapshot);
    }
}

impl Consumer {
    /// Reports a call's outcome to the circuit breakers (service level, plus method and
    /// instance level when given). An open instance breaker keeps the instance out of
    /// [`get_one_instance`](Consumer::get_one_instance) until it half-opens.
    pub fn report(&self, result: &CallResult) {
        if !self.inner.settings.consumer.circuit_breaker.enable {
            return;
        }
        self.inner.ensure_breaker_rules(&result.service);
        let key = traffic_key(&result.service);
        let caller = result.caller.as_ref().map(traffic_key);
        let outcome = Outcome {
            code: &result.code,
            delay: result.delay,
            success: result.success,
        };
        let breakers = &self.inner.breakers;
        let now = tokio::time::Instant::now();
        let service = Resource::Service(key.clone());
        breakers.report_at(now, caller.as_ref(), &service, &outcome);
        if let Some(method) = &result.method {
            let resource = Resource::Method(key.clone(), method.clone());
            breakers.report_at(now, caller.as_ref(), &resource, &outcome);
        }
        if let Some(instance) = &result.instance {
            let resource = Resource::Instance(key, instance.host.clone(), instance.port);
            breakers.report_at(now, caller.as_ref(), &resource, &outcome);
        }
    }

    /// Asks the service (and method) breakers whether a call may proceed;
    /// [`Error::CircuitOpen`] when one is open. Pass the method as an `Arc<str>` kept per
    /// method to check without an allocation (a `&str` is copied).
    pub fn check<M: Into<Arc<str>>>(&self, service: &ServiceKey, method: Option<M>) -> Result<()> {
        self.inner.ensure_breaker_rules(service);
        let key = traffic_key(service);
        let breakers = &self.inner.breakers;
        let refuse = |e: polaris_traffic::breaker::CallAborted| Error::CircuitOpen(e.to_string());
        let now = tokio::time::Instant::now();
        breakers
            .check_at(now, &Resource::Service(key.clone()))
            .map_err(refuse)?;
        if let Some(method) = method {
            breakers
                .check_at(now, &Resource::Method(key, method.into()))
                .map_err(refuse)?;
        }
        Ok(())
    }
}

/// The request a rate limit is checked against.
#[derive(Clone, Debug)]
pub struct Quota {
    /// The service whose `RATE_LIMIT` rules apply (usually the provider's own).
    pub service: ServiceKey,
    /// The request as the rules see it (method, headers, labels, caller IP...).
    pub request: RequestContext,
}

impl Quota {
    /// A quota request for `service`.
    pub fn new(service: ServiceKey) -> Quota {
        Quota {
            service,
            request: RequestContext::default(),
        }
    }

    /// Sets the method (`$method`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.request.method = Some(method.into());
        self
    }

    /// Adds a header (`$header.<key>`).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.headers.insert(key.into(), value.into());
        self
    }

    /// Adds a custom label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.custom.insert(key.into(), value.into());
        self
    }

    /// Sets the caller's IP (`$caller_ip`).
    pub fn caller_ip(mut self, ip: impl Into<String>) -> Self {
        self.request.caller_ip = Some(ip.into());
        self
    }
}

/// The rate limiter API of a [`Client`](crate::Client).
#[derive(Clone)]
pub struct Limiter {
    pub(crate) inner: Arc<Inner>,
}

impl Limiter {
    /// Admits a request or refuses it with [`Error::RateLimited`]. A `unirate` rule makes the
    /// caller wait its turn here (up to `provider.rateLimit.plugin.unirate.maxQueuingTime`).
    /// A concurrency permit gives its slot back when dropped. With no rules (or the server
    /// unreachable and nothing cached) every request is admitted.
    pub async fn acquire(&self, quota: &Quota) -> Result<Permit> {
        let settings = &self.inner.settings.provider.rate_limit;
        if !settings.enable {
            return Ok(Permit::default());
        }
        let Ok(snapshot) = self
            .inner
            .load(ResourceKind::RateLimit, &quota.service)
            .await
        else {
            return Ok(Permit::default());
        };
        let Some(rules) = snapshot.response.rate_limit.as_ref() else {
            return Ok(Permit::default());
        };
        let service = &quota.service;
        let limiter = self.inner.limiters.get(service, &snapshot, |_| {
            let (limiter, skipped) = RateLimiter::new(rules);
            for s in skipped {
                tracing::warn!(%service, rule = %s.rule, reason = %s.reason, "rate-limit rule left out");
            }
            limiter
        });
        match limiter.acquire(&quota.request) {
            Admission::Allowed(permit) => Ok(permit),
            Admission::Wait(wait, permit) if wait <= settings.max_queuing_time => {
                tokio::time::sleep(wait).await;
                Ok(permit)
            }
            Admission::Wait(wait, _) => Err(Error::RateLimited(format!(
                "queueing {wait:?} exceeds maxQueuingTime"
            ))),
            Admission::Limited { rule, info } => Err(Error::RateLimited(format!(
                "rule {rule:?}: {:?} {} per {:?}",
                info.kind, info.max_amount, info.duration
            ))),
        }
    }
}

/// The rate limit a server enforces on the calls it receives: the `RATE_LIMIT` rules of its
/// own service (what the server rate-limit layers of `polaris-tonic` and `polaris-volo` ask
/// before each call).
#[derive(Clone)]
pub struct ServerLimit {
    limiter: Limiter,
    service: ServiceKey,
}

impl ServerLimit {
    /// Enforces the rules of `service` (the provider's own Polaris service) through `limiter`.
    pub fn new(limiter: Limiter, service: ServiceKey) -> ServerLimit {
        ServerLimit { limiter, service }
    }

    /// The quota request of one call: the full method (`$method`, e.g. `/echo.Echo/Echo`),
    /// the request `headers` the rules may see (`$header.<key>`) and the caller's IP.
    pub fn quota<'a>(
        &self,
        method: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        caller_ip: Option<String>,
    ) -> Quota {
        let mut quota = Quota::new(self.service.clone()).method(method);
        for (name, value) in headers {
            quota = quota.header(name, value);
        }
        if let Some(ip) = caller_ip {
            quota = quota.caller_ip(ip);
        }
        quota
    }

    /// Admits a call: the permit to hold until the handler answers, or the message to answer
    /// `RESOURCE_EXHAUSTED` with (`rate limited: <why>`). When the limiter cannot decide
    /// (server unreachable, no rules) the call is admitted.
    pub async fn admit(&self, quota: &Quota) -> std::result::Result<Permit, String> {
        match self.limiter.acquire(quota).await {
            Ok(permit) => Ok(permit),
            Err(Error::RateLimited(why)) => {
                tracing::debug!(method = ?quota.request.method, %why, "rate limited");
                Err(format!("rate limited: {why}"))
            }
            Err(e) => {
                tracing::debug!(error = %e, "rate limiter unavailable: call admitted");
                Ok(Permit::default())
            }
        }
    }
}
