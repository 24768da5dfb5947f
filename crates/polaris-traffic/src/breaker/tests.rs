use std::time::Duration;

use super::*;
use crate::rules::ms;

fn orders() -> ServiceKey {
    ServiceKey::new("default", "orders")
}

fn instance(host: &str) -> Resource {
    Resource::Instance(orders(), host.into(), 8080)
}

fn ok() -> Outcome<'static> {
    Outcome {
        code: "200",
        delay: Duration::from_millis(5),
        success: true,
    }
}

fn failed() -> Outcome<'static> {
    Outcome {
        code: "503",
        delay: Duration::from_millis(5),
        success: false,
    }
}

fn trigger(
    kind: i32,
    count: u32,
    percent: u32,
    interval: u32,
    minimum: u32,
) -> v1::TriggerCondition {
    v1::TriggerCondition {
        trigger_type: kind,
        error_count: count,
        error_percent: percent,
        interval,
        minimum_request: minimum,
    }
}

fn rule(name: &str, level: i32, triggers: Vec<v1::TriggerCondition>) -> v1::CircuitBreakerRule {
    v1::CircuitBreakerRule {
        name: name.into(),
        enable: true,
        level,
        rule_matcher: Some(v1::RuleMatcher {
            source: Some(v1::rule_matcher::SourceService {
                service: "*".into(),
                namespace: "*".into(),
            }),
            destination: Some(v1::rule_matcher::DestinationService {
                service: "orders".into(),
                namespace: "default".into(),
                method: None,
            }),
        }),
        trigger_condition: triggers,
        recover_condition: Some(v1::RecoverCondition {
            sleep_window: 5,
            consecutive_success: 2,
        }),
        ..Default::default()
    }
}

fn with_rules(rules: Vec<v1::CircuitBreakerRule>) -> CircuitBreakers {
    let breakers = CircuitBreakers::new();
    let skipped = breakers.set_rules(
        &orders(),
        &v1::CircuitBreaker {
            rules,
            ..Default::default()
        },
    );
    assert!(skipped.is_empty(), "{skipped:?}");
    breakers
}

#[tokio::test(start_paused = true)]
async fn default_instance_rule_opens_after_ten_errors_and_recovers() {
    let breakers = CircuitBreakers::new();
    let target = instance("10.0.0.1");
    for _ in 0..9 {
        breakers.report(None, &target, &failed());
    }
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);
    assert!(!breakers.is_instance_open(&orders(), "10.0.0.1", 8080));
    breakers.report(None, &target, &failed());
    assert_eq!(breakers.status(&target), BreakerStatus::Open);
    assert!(breakers.is_instance_open(&orders(), "10.0.0.1", 8080));
    assert!(!breakers.is_instance_open(&orders(), "10.0.0.2", 8080));
    let refused = breakers.check(&target).unwrap_err();
    assert_eq!(refused.resource, target);

    tokio::time::advance(DEFAULT_SLEEP_WINDOW - Duration::from_millis(1)).await;
    assert!(breakers.check(&target).is_err(), "still sleeping");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(breakers.status(&target), BreakerStatus::HalfOpen);
    for _ in 0..DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN {
        assert!(breakers.check(&target).is_ok());
    }
    assert!(breakers.check(&target).is_err(), "trial budget used up");
    assert!(breakers.is_instance_open(&orders(), "10.0.0.1", 8080));
    for _ in 0..DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN {
        breakers.report(None, &target, &ok());
    }
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);
    assert!(breakers.check(&target).is_ok());
    assert!(!breakers.is_instance_open(&orders(), "10.0.0.1", 8080));
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_consecutive_errors_and_half_open_error_reopens() {
    let breakers = with_rules(vec![rule("consecutive", 4, vec![trigger(2, 3, 0, 0, 0)])]);
    let target = instance("10.0.0.1");
    for outcome in [failed(), failed(), ok(), failed(), failed()] {
        breakers.report(None, &target, &outcome);
    }
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);
    breakers.report(None, &target, &failed());
    assert_eq!(breakers.status(&target), BreakerStatus::Open);
    assert_eq!(&*breakers.check(&target).unwrap_err().rule, "consecutive");
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(breakers.check(&target).is_ok());
    breakers.report(None, &target, &failed());
    assert_eq!(
        breakers.status(&target),
        BreakerStatus::Open,
        "error while half-open"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(breakers.check(&target).is_ok());
    breakers.report(None, &target, &ok());
    assert_eq!(
        breakers.status(&target),
        BreakerStatus::HalfOpen,
        "one of two successes"
    );
    breakers.report(None, &target, &ok());
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);
}

#[tokio::test(start_paused = true)]
async fn error_rate_counts_only_the_window_and_needs_the_minimum() {
    let breakers = with_rules(vec![rule("rate", 1, vec![trigger(1, 0, 50, 10, 4)])]);
    let service = Resource::Service(orders());
    for outcome in [failed(), failed(), failed()] {
        breakers.report(None, &service, &outcome);
    }
    assert_eq!(
        breakers.status(&service),
        BreakerStatus::Closed,
        "3 calls < minimum 4"
    );
    tokio::time::advance(Duration::from_secs(11)).await;
    // The three errors left the window: 1 error of 4 calls is 25 %.
    for outcome in [ok(), ok(), ok(), failed()] {
        breakers.report(None, &service, &outcome);
    }
    assert_eq!(breakers.status(&service), BreakerStatus::Closed);
    breakers.report(None, &service, &failed());
    breakers.report(None, &service, &failed());
    // 3 errors of 6 calls: 50 %.
    assert_eq!(breakers.status(&service), BreakerStatus::Open);
}

#[tokio::test(start_paused = true)]
async fn error_conditions_decide_what_an_error_is() {
    let mut conditions = rule("conditions", 1, vec![trigger(2, 2, 0, 0, 0)]);
    conditions.error_conditions = vec![
        v1::ErrorCondition {
            input_type: 1,
            condition: Some(ms(1, "^5\\d\\d$")),
        },
        v1::ErrorCondition {
            input_type: 2,
            condition: Some(ms(0, "100")),
        },
    ];
    let breakers = with_rules(vec![conditions]);
    let service = Resource::Service(orders());
    let slow = Outcome {
        code: "200",
        delay: Duration::from_millis(101),
        success: true,
    };
    let not_found = Outcome {
        code: "404",
        delay: Duration::from_millis(1),
        success: false,
    };
    let server_error = Outcome {
        code: "502",
        delay: Duration::from_millis(1),
        success: true,
    };
    breakers.report(None, &service, &slow);
    breakers.report(None, &service, &not_found);
    assert_eq!(
        breakers.status(&service),
        BreakerStatus::Closed,
        "404 is no error here"
    );
    breakers.report(None, &service, &slow);
    breakers.report(None, &service, &server_error);
    assert_eq!(breakers.status(&service), BreakerStatus::Open);
}

#[tokio::test(start_paused = true)]
async fn method_rules_match_the_method_and_carry_the_fallback() {
    let mut by_method = rule("pay-method", 2, vec![trigger(2, 1, 0, 0, 0)]);
    if let Some(destination) = by_method
        .rule_matcher
        .as_mut()
        .and_then(|m| m.destination.as_mut())
    {
        destination.method = Some(ms(1, "^/pay"));
    }
    by_method.fallback_config = Some(v1::FallbackConfig {
        enable: true,
        response: Some(v1::FallbackResponse {
            code: 503,
            headers: vec![],
            body: "later".into(),
        }),
    });
    let breakers = with_rules(vec![by_method]);
    let pay = Resource::Method(orders(), "/pay/now".into());
    let list = Resource::Method(orders(), "/list".into());
    breakers.report(None, &list, &failed());
    assert_eq!(
        breakers.status(&list),
        BreakerStatus::Closed,
        "no rule for /list"
    );
    breakers.report(None, &pay, &failed());
    let refused = breakers.check(&pay).unwrap_err();
    assert_eq!(
        refused.fallback.map(|f| (f.code, f.body.clone())),
        Some((503, "later".into()))
    );
    // The service itself has no rule and is never broken.
    let service = Resource::Service(orders());
    for _ in 0..50 {
        breakers.report(None, &service, &failed());
    }
    assert!(breakers.check(&service).is_ok());
}

#[tokio::test(start_paused = true)]
async fn rule_updates_keep_unchanged_breakers_and_skip_bad_rules() {
    let breakers = CircuitBreakers::new();
    let target = instance("10.0.0.1");
    for _ in 0..DEFAULT_ERROR_COUNT {
        breakers.report(None, &target, &failed());
    }
    assert!(breakers.check(&target).is_err());
    let bad_level = rule("bad", 9, vec![trigger(2, 1, 0, 0, 0)]);
    let no_trigger = rule("no-trigger", 1, vec![]);
    let skipped = breakers.set_rules(
        &orders(),
        &v1::CircuitBreaker {
            rules: vec![bad_level, no_trigger],
            ..Default::default()
        },
    );
    assert_eq!(skipped.len(), 2);
    assert!(
        breakers.check(&target).is_err(),
        "still the default rule: state kept"
    );

    let versioned = |revision: &str| v1::CircuitBreakerRule {
        id: "r-1".into(),
        revision: revision.into(),
        ..rule("instance-rule", 4, vec![trigger(2, 2, 0, 0, 0)])
    };
    let set = |rule: v1::CircuitBreakerRule| {
        breakers.set_rules(
            &orders(),
            &v1::CircuitBreaker {
                rules: vec![rule],
                ..Default::default()
            },
        )
    };
    assert!(set(versioned("1")).is_empty());
    assert!(
        breakers.check(&target).is_ok(),
        "an instance rule replaced the default"
    );
    assert!(!breakers.is_instance_open(&orders(), "10.0.0.1", 8080));
    breakers.report(None, &target, &failed());
    breakers.report(None, &target, &failed());
    assert_eq!(breakers.status(&target), BreakerStatus::Open);
    assert!(set(versioned("1")).is_empty());
    assert_eq!(
        breakers.status(&target),
        BreakerStatus::Open,
        "same id and revision"
    );
    assert!(set(versioned("2")).is_empty());
    assert_eq!(
        breakers.status(&target),
        BreakerStatus::Closed,
        "new revision"
    );
    assert!(!breakers.may_block(&orders()));
}

#[tokio::test(start_paused = true)]
async fn the_gate_only_considers_services_with_open_instances() {
    let breakers = CircuitBreakers::new();
    let payments = ServiceKey::new("default", "payments");
    assert!(!breakers.may_block(&orders()));
    for _ in 0..DEFAULT_ERROR_COUNT {
        breakers.report(None, &instance("10.0.0.1"), &failed());
    }
    assert!(breakers.may_block(&orders()));
    assert!(!breakers.may_block(&payments));
    let open = Instance {
        host: "10.0.0.1".into(),
        port: 8080,
        ..Default::default()
    };
    assert!(breakers.is_blocked(&orders(), &open));
    assert!(
        !breakers.is_blocked(&payments, &open),
        "same address, other service"
    );
    tokio::time::advance(DEFAULT_SLEEP_WINDOW).await;
    for _ in 0..DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN {
        breakers.report(None, &instance("10.0.0.1"), &ok());
    }
    assert!(
        !breakers.may_block(&orders()),
        "closed again: nothing left to ask about"
    );
}

#[test]
fn the_ejection_cap_comes_from_instance_rules() {
    let breakers = CircuitBreakers::new();
    assert_eq!(
        breakers.max_blocked_percent(&orders()),
        None,
        "default rule: no cap"
    );
    let capped = v1::CircuitBreakerRule {
        max_ejection_percent: 40,
        ..rule("capped", 4, vec![trigger(2, 1, 0, 0, 0)])
    };
    let service_rule = v1::CircuitBreakerRule {
        max_ejection_percent: 90,
        ..rule("service", 1, vec![trigger(2, 1, 0, 0, 0)])
    };
    assert!(
        breakers
            .set_rules(
                &orders(),
                &v1::CircuitBreaker {
                    rules: vec![capped, service_rule],
                    ..Default::default()
                }
            )
            .is_empty()
    );
    assert_eq!(breakers.max_blocked_percent(&orders()), Some(40));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// With only a consecutive-error trigger, the breaker opens exactly when the reference
        /// model sees `threshold` errors in a row, and stays open (no time passes).
        #[test]
        fn consecutive_trigger_matches_a_reference(
            threshold in 1u32..6,
            outcomes in proptest::collection::vec(any::<bool>(), 0..40),
        ) {
            crate::paused_runtime().block_on(async {
                let breakers = with_rules(vec![rule("n", 1, vec![trigger(2, threshold, 0, 0, 0)])]);
                let service = Resource::Service(orders());
                let mut run = 0u32;
                let mut open = false;
                for error in outcomes {
                    let outcome = if error { failed() } else { ok() };
                    breakers.report(None, &service, &outcome);
                    if !open {
                        run = if error { run + 1 } else { 0 };
                        open = run >= threshold;
                    }
                    let expected = if open { BreakerStatus::Open } else { BreakerStatus::Closed };
                    prop_assert_eq!(breakers.status(&service), expected);
                    prop_assert_eq!(breakers.check(&service).is_ok(), !open);
                }
                Ok(())
            })?;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn configured_defaults_replace_the_official_ones_or_switch_the_default_rule_off() {
    let defaults = BreakerDefaults {
        error_count: 3,
        sleep_window: Duration::from_secs(5),
        success_count_after_half_open: 1,
        request_count_after_half_open: 1,
        ..BreakerDefaults::default()
    };
    let breakers = CircuitBreakers::with_defaults(&defaults);
    let target = instance("10.0.0.1");
    for _ in 0..2 {
        breakers.report(None, &target, &failed());
    }
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);
    breakers.report(None, &target, &failed());
    assert_eq!(breakers.status(&target), BreakerStatus::Open);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(breakers.check(&target).is_ok(), "one trial after 5 s");
    assert!(breakers.check(&target).is_err(), "only one");
    breakers.report(None, &target, &ok());
    assert_eq!(breakers.status(&target), BreakerStatus::Closed);

    let off = CircuitBreakers::with_defaults(&BreakerDefaults {
        enabled: false,
        ..BreakerDefaults::default()
    });
    for _ in 0..100 {
        off.report(None, &target, &failed());
    }
    assert_eq!(off.status(&target), BreakerStatus::Closed);
    assert!(off.check(&target).is_ok());
}
