//! Compiled rate-limit rules (v1 `Rule` of `RateLimit`).

use std::time::Duration;

use polaris_matcher::{Argument, Matcher, RequestContext};
use polaris_proto::v1;

use crate::Skipped;
use crate::rules::{compile_match, is_wide};

/// Queueing limit of a `unirate` rule that gives none (official default).
pub const DEFAULT_MAX_QUEUE_DELAY: Duration = Duration::from_secs(1);

/// Where an argument of a rule reads its value.
#[derive(Debug, Clone)]
pub(crate) enum ArgumentSource {
    /// Any argument polaris-matcher knows.
    Plain(Argument),
    /// The calling service; the rule's key is its namespace (empty or `*` for any), and
    /// the request's `caller_service` is `namespace/service` or `service`.
    CallerService { namespace: String },
}

impl ArgumentSource {
    pub(crate) fn value<'a>(&self, request: &'a RequestContext) -> Option<&'a str> {
        match self {
            ArgumentSource::Plain(argument) => argument.value(request),
            ArgumentSource::CallerService { namespace } => {
                let caller = request.caller_service.as_deref()?;
                match caller.split_once('/') {
                    Some((ns, service)) => {
                        (namespace.is_empty() || namespace == "*" || namespace == ns)
                            .then_some(service)
                    }
                    None => Some(caller),
                }
            }
        }
    }
}

/// One condition and whether each distinct value gets its own counter.
#[derive(Debug, Clone)]
pub(crate) struct RuleArgument {
    pub(crate) source: ArgumentSource,
    pub(crate) matcher: Matcher,
    pub(crate) per_value: bool,
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LimitKind {
    /// Every amount is a window counter; a call over any of them is rejected.
    Reject(Vec<(u32, Duration, u32)>),
    /// Calls leave one per `interval`; a call that would wait more than `max_queue` is rejected.
    Unirate {
        interval: Option<Duration>,
        max_queue: Duration,
        /// The strictest amount, reported on refusal.
        max_amount: u32,
        duration: Duration,
    },
    /// At most this many calls at once.
    Concurrency(u32),
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(crate) struct LimitRule {
    pub(crate) name: String,
    /// Rule id and revision: counters carry over to a new limiter only for the same pair.
    pub(crate) identity: Option<(String, String)>,
    pub(crate) priority: u32,
    pub(crate) global: bool,
    pub(crate) method: RuleArgument,
    pub(crate) arguments: Vec<RuleArgument>,
    pub(crate) kind: LimitKind,
    pub(crate) custom_response: Option<String>,
}

fn argument_source(kind: i32, key: &str) -> Option<ArgumentSource> {
    let name = match kind {
        0 => "CUSTOM",
        1 => "METHOD",
        2 => "HEADER",
        3 => "QUERY",
        4 => {
            return Some(ArgumentSource::CallerService {
                namespace: key.to_string(),
            });
        }
        5 => "CALLER_IP",
        6 => "CALLER_METADATA",
        _ => return None,
    };
    Argument::parse(name, key).map(ArgumentSource::Plain)
}

/// Longest window accepted; longer ones are cut to it, so time arithmetic cannot overflow.
const MAX_WINDOW: Duration = Duration::from_secs(366 * 24 * 3600);

fn duration_of(d: Option<&prost_types::Duration>) -> Duration {
    d.map_or(Duration::ZERO, |d| {
        Duration::new(
            d.seconds.max(0) as u64,
            d.nanos.clamp(0, 999_999_999) as u32,
        )
    })
    .min(MAX_WINDOW)
}

/// True when a match string is present with a non-empty value (an empty one means "any
/// request" rather than "each value apart").
fn has_value(ms: Option<&v1::MatchString>) -> bool {
    ms.and_then(|m| m.value.as_deref())
        .is_some_and(|v| !v.is_empty())
}

fn rule_name(rule: &v1::Rule) -> String {
    rule.name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| rule.id.clone())
        .unwrap_or_default()
}

impl LimitRule {
    /// Compiles one enabled rule; `Err` says why it is left out.
    pub(crate) fn compile(rule: &v1::Rule) -> Result<LimitRule, String> {
        let combine = rule.regex_combine.unwrap_or(false);
        let method_matcher =
            compile_match(rule.method.as_ref()).map_err(|e| format!("method: {e}"))?;
        let method = RuleArgument {
            source: ArgumentSource::Plain(Argument::Method),
            per_value: !combine && is_wide(&method_matcher) && has_value(rule.method.as_ref()),
            matcher: method_matcher,
        };
        let mut arguments = Vec::new();
        for argument in &rule.arguments {
            let source = argument_source(argument.r#type, &argument.key)
                .ok_or_else(|| format!("unknown argument type {}", argument.r#type))?;
            let matcher = compile_match(argument.value.as_ref())
                .map_err(|e| format!("argument {:?}: {e}", argument.key))?;
            arguments.push(RuleArgument {
                source,
                per_value: !combine && is_wide(&matcher) && has_value(argument.value.as_ref()),
                matcher,
            });
        }
        if rule.arguments.is_empty() {
            // Rules of older consoles: `labels` are custom arguments.
            let mut labels: Vec<_> = rule.labels.iter().collect();
            labels.sort_by(|a, b| a.0.cmp(b.0));
            for (key, value) in labels {
                let matcher =
                    compile_match(Some(value)).map_err(|e| format!("label {key:?}: {e}"))?;
                arguments.push(RuleArgument {
                    source: ArgumentSource::Plain(Argument::Custom(key.clone())),
                    per_value: !combine && is_wide(&matcher),
                    matcher,
                });
            }
        }
        let kind = if rule.resource == 1 {
            let max = rule.concurrency_amount.map_or(0, |c| c.max_amount);
            LimitKind::Concurrency(max)
        } else {
            let mut amounts = Vec::new();
            for amount in &rule.amounts {
                let duration = duration_of(amount.valid_duration.as_ref());
                if duration.is_zero() {
                    return Err("an amount has no validDuration".into());
                }
                let max = amount.max_amount.unwrap_or(0);
                let buckets = amount.precision.unwrap_or(1).clamp(1, 100);
                amounts.push((max, duration, buckets));
            }
            if amounts.is_empty() {
                return Err("no amount".into());
            }
            let action = rule
                .action
                .as_deref()
                .unwrap_or("reject")
                .to_ascii_lowercase();
            match action.as_str() {
                "" | "reject" => LimitKind::Reject(amounts),
                "unirate" => {
                    // The strictest amount sets the pace; an amount of 0 lets nothing through.
                    let interval = amounts
                        .iter()
                        .map(|(max, duration, _)| (*max > 0).then(|| *duration / *max))
                        .try_fold(Duration::ZERO, |slowest, each| each.map(|i| slowest.max(i)));
                    let (max_amount, duration, _) = amounts
                        .iter()
                        .copied()
                        .max_by_key(|(max, duration, _)| {
                            duration.as_nanos() / u128::from((*max).max(1))
                        })
                        .unwrap_or_default();
                    let max_queue = rule
                        .max_queue_delay
                        .map_or(DEFAULT_MAX_QUEUE_DELAY, |s| {
                            Duration::from_secs(u64::from(s))
                        })
                        .min(MAX_WINDOW);
                    LimitKind::Unirate {
                        interval,
                        max_queue,
                        max_amount,
                        duration,
                    }
                }
                other => return Err(format!("unknown action {other:?}")),
            }
        };
        Ok(LimitRule {
            name: rule_name(rule),
            identity: rule
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .map(|id| (id, rule.revision.clone().unwrap_or_default())),
            priority: rule.priority.unwrap_or(0),
            global: rule.r#type == 0,
            method,
            arguments,
            kind,
            custom_response: rule.custom_response.as_ref().map(|r| r.body.clone()),
        })
    }

    /// True when the rule applies to the request.
    pub(crate) fn matches(&self, request: &RequestContext) -> bool {
        std::iter::once(&self.method)
            .chain(&self.arguments)
            .all(|a| a.matcher.matches(a.source.value(request)))
    }

    /// The counter key: the values of the per-value arguments (empty when there is none).
    pub(crate) fn counter_key(&self, request: &RequestContext) -> String {
        let mut key = String::new();
        for argument in std::iter::once(&self.method).chain(&self.arguments) {
            if argument.per_value {
                key.push_str(argument.source.value(request).unwrap_or_default());
                key.push('\u{1f}');
            }
        }
        key
    }
}

/// Compiles the enabled rules of a `RateLimit`, by ascending priority.
pub(crate) fn compile_rules(message: &v1::RateLimit) -> (Vec<LimitRule>, Vec<Skipped>) {
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    for rule in message.rules.iter().filter(|r| !r.disable.unwrap_or(false)) {
        match LimitRule::compile(rule) {
            Ok(compiled) => rules.push(compiled),
            Err(reason) => skipped.push(Skipped::new(rule_name(rule), reason)),
        }
    }
    rules.sort_by_key(|r| r.priority);
    (rules, skipped)
}
