//! Compiled circuit-breaker rules (v2 `CircuitBreakerRule`) and the official defaults.

use std::sync::Arc;
use std::time::Duration;

use polaris_matcher::Matcher;
use polaris_proto::v1;

use crate::rules::{compile_match, name_matches};
use crate::{ServiceKey, Skipped};

/// Official default: consecutive errors that open a breaker when no rule applies.
pub const DEFAULT_ERROR_COUNT: u32 = 10;
/// Official default: error percentage that opens a breaker.
pub const DEFAULT_ERROR_PERCENT: u32 = 50;
/// Official default: the error-rate window.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Official default: calls in the window before the error rate counts.
pub const DEFAULT_MINIMUM_REQUEST: u32 = 10;
/// Official default: how long a breaker stays open before trying again.
pub const DEFAULT_SLEEP_WINDOW: Duration = Duration::from_secs(30);
/// Official default: successes in half-open that close the breaker.
pub const DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN: u32 = 3;
/// Official default: calls let through while half-open.
pub const DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN: u32 = 10;

/// What a breaker protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// A whole service.
    Service,
    /// One method (interface) of a service.
    Method,
    /// One instance of a service.
    Instance,
}

/// What makes one call count as an error.
#[derive(Debug, Clone)]
pub(crate) enum ErrorCondition {
    /// The return code matches.
    RetCode(Matcher),
    /// The call took longer than this.
    Delay(Duration),
}

/// What opens a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// This many errors in a row.
    Consecutive(u32),
    /// At least `percent`% errors over `interval`, once `minimum` calls were seen.
    ErrorRate {
        percent: u32,
        minimum: u32,
        interval: Duration,
    },
}

/// The answer a caller gets instead of calling, when the rule configures one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Status code to answer with.
    pub code: i32,
    /// Headers to answer with.
    pub headers: Vec<(String, String)>,
    /// Body to answer with.
    pub body: String,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct BreakerRule {
    pub(crate) name: Arc<str>,
    /// Rule id and revision (`None` for the default rule): breakers survive a rule update
    /// only when their rule's pair is still there.
    pub(crate) identity: Option<(String, String)>,
    pub(crate) level: Level,
    pub(crate) priority: u32,
    source: ServiceKey,
    destination: ServiceKey,
    method: Matcher,
    pub(crate) errors: Vec<ErrorCondition>,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) sleep_window: Duration,
    pub(crate) success_to_close: u32,
    pub(crate) half_open_requests: u32,
    pub(crate) fault_detect: bool,
    /// Largest share (percent) of a service's instances this rule may keep open; 0: no cap.
    pub(crate) max_ejection_percent: u32,
    pub(crate) fallback: Option<Arc<Fallback>>,
}

/// The rule applied to instances no rule covers (`consumer.circuitBreaker` of `polaris.yaml`:
/// `defaultRuleEnable`, `defaultErrorCount`, `defaultErrorPercent`, `defaultInterval`,
/// `defaultMinimumRequest`, `sleepWindow`, `successCountAfterHalfOpen`,
/// `requestCountAfterHalfOpen`). `Default` gives the official values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerDefaults {
    /// Whether instances without a rule get the default one at all.
    pub enabled: bool,
    /// Consecutive errors that open a breaker.
    pub error_count: u32,
    /// Error percentage that opens a breaker (with `minimum_request` calls in `interval`).
    pub error_percent: u32,
    /// The error-rate window.
    pub interval: Duration,
    /// Calls needed in the window before the error rate counts.
    pub minimum_request: u32,
    /// How long a breaker stays open before half-opening.
    pub sleep_window: Duration,
    /// Successes that close a half-open breaker.
    pub success_count_after_half_open: u32,
    /// Calls let through while half-open.
    pub request_count_after_half_open: u32,
}

impl Default for BreakerDefaults {
    fn default() -> Self {
        BreakerDefaults {
            enabled: true,
            error_count: DEFAULT_ERROR_COUNT,
            error_percent: DEFAULT_ERROR_PERCENT,
            interval: DEFAULT_INTERVAL,
            minimum_request: DEFAULT_MINIMUM_REQUEST,
            sleep_window: DEFAULT_SLEEP_WINDOW,
            success_count_after_half_open: DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN,
            request_count_after_half_open: DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN,
        }
    }
}

impl BreakerRule {
    /// The rule used when none applies (`defaults`, all errors counted).
    pub(crate) fn default_for(level: Level, defaults: &BreakerDefaults) -> BreakerRule {
        BreakerRule {
            name: Arc::from(""),
            identity: None,
            level,
            priority: u32::MAX,
            source: ServiceKey::default(),
            destination: ServiceKey::default(),
            method: Matcher::Any,
            errors: Vec::new(),
            triggers: vec![
                Trigger::Consecutive(defaults.error_count.max(1)),
                Trigger::ErrorRate {
                    percent: defaults.error_percent.clamp(1, 100),
                    minimum: defaults.minimum_request.max(1),
                    interval: defaults.interval.max(Duration::from_secs(1)),
                },
            ],
            sleep_window: defaults.sleep_window,
            success_to_close: defaults.success_count_after_half_open.max(1),
            half_open_requests: defaults
                .request_count_after_half_open
                .max(defaults.success_count_after_half_open.max(1)),
            fault_detect: false,
            max_ejection_percent: 0,
            fallback: None,
        }
    }

    /// True when the rule applies to a call from `caller` to `service` (and `method`).
    pub(crate) fn applies(
        &self,
        caller: Option<&ServiceKey>,
        service: &ServiceKey,
        method: Option<&str>,
    ) -> bool {
        let (caller_ns, caller_svc) = caller.map_or(("", ""), |c| (&*c.namespace, &*c.service));
        name_matches(&self.source.namespace, caller_ns)
            && name_matches(&self.source.service, caller_svc)
            && name_matches(&self.destination.namespace, &service.namespace)
            && name_matches(&self.destination.service, &service.service)
            && (self.level != Level::Method || self.method.matches(method))
    }

    /// True when the outcome counts as an error under this rule. With no error condition a
    /// call is an error when it did not succeed; otherwise any matching condition makes it one.
    pub(crate) fn is_error(&self, code: &str, delay: Duration, success: bool) -> bool {
        if self.errors.is_empty() {
            return !success;
        }
        self.errors.iter().any(|condition| match condition {
            ErrorCondition::RetCode(matcher) => matcher.matches(Some(code)),
            ErrorCondition::Delay(max) => delay > *max,
        })
    }

    /// Compiles one rule; `Err` says why it is left out.
    pub(crate) fn compile(rule: &v1::CircuitBreakerRule) -> Result<BreakerRule, String> {
        let level = match rule.level {
            1 => Level::Service,
            2 => Level::Method,
            4 => Level::Instance,
            other => return Err(format!("unsupported level {other}")),
        };
        let matcher = rule.rule_matcher.clone().unwrap_or_default();
        let source = matcher.source.unwrap_or_default();
        let destination = matcher.destination.unwrap_or_default();
        let method =
            compile_match(destination.method.as_ref()).map_err(|e| format!("method: {e}"))?;
        let mut errors = Vec::new();
        for condition in &rule.error_conditions {
            let ms = condition.condition.as_ref();
            errors.push(match condition.input_type {
                1 => ErrorCondition::RetCode(
                    compile_match(ms).map_err(|e| format!("ret code: {e}"))?,
                ),
                2 => {
                    let text = ms.and_then(|m| m.value.as_deref()).unwrap_or_default();
                    let millis: u64 = text
                        .trim()
                        .parse()
                        .map_err(|_| format!("delay {text:?} is not milliseconds"))?;
                    ErrorCondition::Delay(Duration::from_millis(millis))
                }
                other => return Err(format!("unknown error condition type {other}")),
            });
        }
        let mut triggers = Vec::new();
        for trigger in &rule.trigger_condition {
            triggers.push(match trigger.trigger_type {
                1 => Trigger::ErrorRate {
                    percent: trigger.error_percent.clamp(1, 100),
                    minimum: trigger.minimum_request,
                    interval: Duration::from_secs(u64::from(trigger.interval.max(1))),
                },
                2 => Trigger::Consecutive(trigger.error_count.max(1)),
                other => return Err(format!("unknown trigger type {other}")),
            });
        }
        if triggers.is_empty() {
            return Err("no trigger condition".into());
        }
        let recover = rule.recover_condition.unwrap_or_default();
        let success_to_close = if recover.consecutive_success == 0 {
            DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN
        } else {
            recover.consecutive_success
        };
        let fallback = rule.fallback_config.as_ref().filter(|f| f.enable).map(|f| {
            let response = f.response.clone().unwrap_or_default();
            Arc::new(Fallback {
                code: response.code,
                headers: response
                    .headers
                    .into_iter()
                    .map(|h| (h.key, h.value))
                    .collect(),
                body: response.body,
            })
        });
        Ok(BreakerRule {
            name: Arc::from(rule.name.as_str()),
            identity: Some((rule.id.clone(), rule.revision.clone())),
            level,
            priority: rule.priority,
            source: ServiceKey::new(source.namespace, source.service),
            destination: ServiceKey::new(destination.namespace, destination.service),
            method,
            errors,
            triggers,
            sleep_window: if recover.sleep_window == 0 {
                DEFAULT_SLEEP_WINDOW
            } else {
                Duration::from_secs(u64::from(recover.sleep_window))
            },
            success_to_close,
            half_open_requests: success_to_close.max(DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN),
            fault_detect: rule.fault_detect_config.is_some_and(|f| f.enable),
            max_ejection_percent: rule.max_ejection_percent.min(100),
            fallback,
        })
    }
}

/// Compiles the enabled rules of a `CircuitBreaker`, by ascending priority.
pub(crate) fn compile_rules(message: &v1::CircuitBreaker) -> (Vec<BreakerRule>, Vec<Skipped>) {
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for rule in message.rules.iter().filter(|r| r.enable) {
        match BreakerRule::compile(rule) {
            Ok(compiled) => rules.push(compiled),
            Err(reason) => skipped.push(Skipped::new(rule.name.clone(), reason)),
        }
    }
    rules.sort_by_key(|r| r.priority);
    (rules, skipped)
}
