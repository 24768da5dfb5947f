//! Polaris rate-limit rules as Envoy's local rate limit: route `rate_limits` actions that build
//! descriptors from the path, headers, query parameters, method and caller address, and a
//! per-route `LocalRateLimit` whose descriptors carry each rule's token buckets. The default
//! bucket is effectively unlimited, as officially. Where the official server keeps only the last
//! rule's descriptors, every enabled rule's descriptors are kept.

use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, RuntimeFractionalPercent,
};
use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, QueryParameterMatcher, RateLimit,
    header_matcher::HeaderMatchSpecifier,
    query_parameter_matcher::QueryParameterMatchSpecifier,
    rate_limit::Action,
    rate_limit::action::{
        ActionSpecifier, HeaderValueMatch, QueryParameterValueMatch, RemoteAddress, RequestHeaders,
    },
};
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::{
    LocalRateLimitDescriptor, rate_limit_descriptor::Entry,
};
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::v3::{FractionalPercent, TokenBucket};
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration};
use polaris_proto::v1;
use polaris_types::ServiceKey;

use super::{regex, string_matcher};
use crate::build::{any, seconds, u32_value};

/// The local rate-limit stage (global limits use stage 1).
const LOCAL_STAGE: u32 = 0;
const GLOBAL_STAGE: u32 = 1;

fn percent_100(key: String) -> RuntimeFractionalPercent {
    RuntimeFractionalPercent {
        default_value: Some(FractionalPercent {
            numerator: 100,
            denominator: 0,
        }),
        runtime_key: key,
    }
}

fn base_config(prefix: &str) -> LocalRateLimit {
    LocalRateLimit {
        stat_prefix: prefix.to_string(),
        token_bucket: Some(TokenBucket {
            max_tokens: u32::MAX,
            tokens_per_fill: Some(u32_value(u32::MAX)),
            fill_interval: Some(seconds(1)),
        }),
        filter_enabled: Some(percent_100(format!("{prefix}_local_rate_limit_enabled"))),
        filter_enforced: Some(percent_100(format!("{prefix}_local_rate_limit_enforced"))),
        response_headers_to_add: vec![HeaderValueOption {
            header: Some(HeaderValue {
                key: "x-local-rate-limit".into(),
                value: "true".into(),
                ..Default::default()
            }),
            #[allow(deprecated)]
            append: Some(BoolValue { value: false }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn header(name: &str, match_type: i32, value: &str) -> Option<HeaderMatcher> {
    use v1::match_string::MatchStringType as T;
    let (pattern, invert) = match T::try_from(match_type) {
        Ok(T::Exact) => (MatchPattern::Exact(value.into()), false),
        Ok(T::NotEquals) => (MatchPattern::Exact(value.into()), true),
        Ok(T::Regex) => (MatchPattern::SafeRegex(regex(value.into())), false),
        _ => return None,
    };
    Some(HeaderMatcher {
        name: name.into(),
        invert_match: invert,
        header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(string_matcher(pattern))),
        ..Default::default()
    })
}

fn header_value_match(key: &str, value: &str, headers: Vec<HeaderMatcher>) -> Action {
    Action {
        action_specifier: Some(ActionSpecifier::HeaderValueMatch(HeaderValueMatch {
            descriptor_key: key.into(),
            descriptor_value: value.into(),
            headers,
            ..Default::default()
        })),
    }
}

fn entry(key: &str, value: &str) -> Entry {
    Entry {
        key: key.into(),
        value: value.into(),
    }
}

/// The actions and descriptors of one rule.
fn rule_descriptors(rule: &v1::Rule) -> (Vec<Action>, Vec<LocalRateLimitDescriptor>) {
    use v1::match_argument::Type as Arg;
    let method = rule.method.as_ref();
    let mut path = method.and_then(|m| m.value.clone()).unwrap_or_default();
    let path_matcher = if path.is_empty() {
        path = "/".into();
        Some(HeaderMatcher {
            name: ":path".into(),
            header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(string_matcher(
                MatchPattern::Prefix("/".into()),
            ))),
            ..Default::default()
        })
    } else {
        header(":path", method.map(|m| m.r#type).unwrap_or_default(), &path)
    };
    let mut actions = vec![header_value_match(
        ":path",
        &path,
        path_matcher.into_iter().collect(),
    )];
    let mut entries = vec![entry(":path", &path)];
    for arg in &rule.arguments {
        let Some(value) = arg.value.as_ref() else {
            continue;
        };
        if value.value_type != v1::match_string::ValueType::Text as i32 {
            continue;
        }
        let text = value.value.clone().unwrap_or_default();
        let kind = Arg::try_from(arg.r#type).unwrap_or(Arg::Custom);
        let key = format!("{}.{}", kind.as_str_name().to_lowercase(), arg.key);
        match kind {
            Arg::Header => {
                let matcher = header(&arg.key, value.r#type, &text).into_iter().collect();
                actions.push(header_value_match(&key, &text, matcher));
                entries.push(entry(&key, &text));
            }
            Arg::Query => {
                let pattern = match value.r#type {
                    0 => MatchPattern::Exact(text.clone()),
                    1 => MatchPattern::SafeRegex(regex(text.clone())),
                    _ => continue,
                };
                actions.push(Action {
                    action_specifier: Some(ActionSpecifier::QueryParameterValueMatch(
                        QueryParameterValueMatch {
                            descriptor_key: key.clone(),
                            descriptor_value: text.clone(),
                            expect_match: Some(BoolValue { value: true }),
                            query_parameters: vec![QueryParameterMatcher {
                                name: arg.key.clone(),
                                query_parameter_match_specifier: Some(
                                    QueryParameterMatchSpecifier::StringMatch(string_matcher(
                                        pattern,
                                    )),
                                ),
                            }],
                            ..Default::default()
                        },
                    )),
                });
                entries.push(entry(&key, &text));
            }
            Arg::Method => {
                actions.push(Action {
                    action_specifier: Some(ActionSpecifier::RequestHeaders(RequestHeaders {
                        header_name: ":method".into(),
                        descriptor_key: key.clone(),
                        ..Default::default()
                    })),
                });
                entries.push(entry(&key, &text));
            }
            Arg::CallerIp => {
                actions.push(Action {
                    action_specifier: Some(ActionSpecifier::RemoteAddress(RemoteAddress {})),
                });
                entries.push(entry("remote_address", &text));
            }
            _ => {}
        }
    }
    let descriptors = rule
        .amounts
        .iter()
        .map(|amount| {
            let max = amount.max_amount.unwrap_or_default();
            let fill = amount.valid_duration.as_ref().map(|d| Duration {
                seconds: d.seconds,
                nanos: d.nanos,
            });
            LocalRateLimitDescriptor {
                entries: entries.clone(),
                token_bucket: Some(TokenBucket {
                    max_tokens: max,
                    tokens_per_fill: Some(u32_value(max)),
                    fill_interval: fill,
                }),
                ..Default::default()
            }
        })
        .collect();
    (actions, descriptors)
}

/// The route rate limits and the `LocalRateLimit` per-filter config of `key`, or `None` when
/// the service has no rate-limit rule.
pub fn local_limits(key: &ServiceKey, rules: &[v1::Rule]) -> Option<(Vec<RateLimit>, Any)> {
    if rules.is_empty() {
        return None;
    }
    let prefix = format!("INBOUND|SIDECAR|{}|{}", key.namespace, key.name);
    let mut config = base_config(&prefix);
    let mut limits = Vec::new();
    for rule in rules.iter().filter(|r| r.disable != Some(true)) {
        let (actions, descriptors) = rule_descriptors(rule);
        config.descriptors.extend(descriptors);
        let stage = if rule.r#type == v1::rule::Type::Global as i32 {
            GLOBAL_STAGE
        } else {
            LOCAL_STAGE
        };
        limits.push(RateLimit {
            stage: Some(u32_value(stage)),
            actions,
            ..Default::default()
        });
    }
    Some((limits, any(&config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_rule_becomes_descriptors_with_its_bucket() {
        let rule = v1::Rule {
            r#type: v1::rule::Type::Local as i32,
            amounts: vec![v1::Amount {
                max_amount: Some(10),
                valid_duration: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let key = ServiceKey::new("ns", "svc");
        let (limits, any) = local_limits(&key, &[rule]).unwrap();
        assert_eq!(limits.len(), 1);
        assert_eq!(limits[0].stage.as_ref().unwrap().value, LOCAL_STAGE);
        let config = <LocalRateLimit as prost::Message>::decode(any.value.as_slice()).unwrap();
        assert_eq!(config.stat_prefix, "INBOUND|SIDECAR|ns|svc");
        assert_eq!(config.descriptors.len(), 1);
        assert_eq!(
            config.descriptors[0]
                .token_bucket
                .as_ref()
                .unwrap()
                .max_tokens,
            10
        );
        assert_eq!(config.descriptors[0].entries[0].value, "/");
    }
}
