use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::rules::ms;

const EXACT: i32 = 0;
const REGEX: i32 = 1;

fn amount(max: u32, seconds: i64) -> v1::Amount {
    v1::Amount {
        max_amount: Some(max),
        valid_duration: Some(prost_types::Duration { seconds, nanos: 0 }),
        ..Default::default()
    }
}

fn rule(name: &str, amounts: Vec<v1::Amount>) -> v1::Rule {
    v1::Rule {
        name: Some(name.into()),
        r#type: 1,
        amounts,
        ..Default::default()
    }
}

fn header(key: &str, kind: i32, value: &str) -> v1::MatchArgument {
    v1::MatchArgument {
        r#type: 2,
        key: key.into(),
        value: Some(ms(kind, value)),
    }
}

fn limiter(rules: Vec<v1::Rule>) -> RateLimiter {
    let (limiter, skipped) = RateLimiter::new(&v1::RateLimit {
        rules,
        revision: None,
    });
    assert!(skipped.is_empty(), "{skipped:?}");
    limiter
}

fn request(headers: &[(&str, &str)]) -> RequestContext {
    RequestContext {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    }
}

fn allowed(limiter: &RateLimiter, request: &RequestContext) -> bool {
    limiter.acquire(request).is_allowed()
}

#[tokio::test(start_paused = true)]
async fn every_amount_must_have_room() {
    let limiter = limiter(vec![rule("two", vec![amount(3, 1), amount(5, 10)])]);
    let any = request(&[]);
    assert_eq!(
        (0..4).map(|_| allowed(&limiter, &any)).collect::<Vec<_>>(),
        [true, true, true, false]
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(allowed(&limiter, &any));
    assert!(allowed(&limiter, &any));
    match limiter.acquire(&any) {
        Admission::Limited { rule, info } => {
            assert_eq!(rule, "two");
            assert_eq!(info.kind, LimitKindInfo::Reject);
            assert_eq!(
                (info.max_amount, info.duration),
                (5, Duration::from_secs(10))
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(allowed(&limiter, &any), "the 10 s window rolled over");
}

#[tokio::test(start_paused = true)]
async fn precision_makes_the_window_slide() {
    let mut sliding = amount(4, 2);
    sliding.precision = Some(2);
    let limiter = limiter(vec![rule("sliding", vec![sliding])]);
    let any = request(&[]);
    assert!(allowed(&limiter, &any) && allowed(&limiter, &any));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(allowed(&limiter, &any) && allowed(&limiter, &any));
    tokio::time::advance(Duration::from_millis(500)).await;
    assert!(!allowed(&limiter, &any));
    tokio::time::advance(Duration::from_millis(500)).await;
    // The first second's two calls left the window; the next second's two remain.
    assert!(allowed(&limiter, &any) && allowed(&limiter, &any));
    assert!(!allowed(&limiter, &any));
}

#[tokio::test(start_paused = true)]
async fn regex_arguments_count_each_value_unless_combined() {
    let mut separate = rule("per-user", vec![amount(1, 1)]);
    separate.arguments = vec![header("x-user", REGEX, ".*")];
    let limiter_separate = limiter(vec![separate.clone()]);
    let (a, b) = (request(&[("x-user", "a")]), request(&[("x-user", "b")]));
    assert!(allowed(&limiter_separate, &a));
    assert!(!allowed(&limiter_separate, &a));
    assert!(allowed(&limiter_separate, &b));
    separate.regex_combine = Some(true);
    let limiter_combined = limiter(vec![separate]);
    assert!(allowed(&limiter_combined, &a));
    assert!(!allowed(&limiter_combined, &b));
}

#[tokio::test(start_paused = true)]
async fn first_matching_rule_by_priority_decides() {
    let mut vip = rule("vip-blocked", vec![amount(0, 1)]);
    vip.priority = Some(0);
    vip.arguments = vec![header("x-user", EXACT, "vip")];
    vip.custom_response = Some(v1::CustomResponse {
        body: "slow down".into(),
    });
    let mut general = rule("general", vec![amount(100, 1)]);
    general.priority = Some(1);
    general.method = Some(ms(EXACT, "/pay"));
    let mut disabled = rule("disabled", vec![amount(0, 1)]);
    disabled.disable = Some(true);
    let limiter = limiter(vec![general, vip, disabled]);
    assert_eq!(
        limiter.rules(),
        [("vip-blocked", false), ("general", false)]
    );
    match limiter.acquire(&request(&[("x-user", "vip")])) {
        Admission::Limited { rule, info } => {
            assert_eq!(rule, "vip-blocked");
            assert_eq!(info.custom_response.as_deref(), Some("slow down"));
        }
        other => panic!("{other:?}"),
    }
    let mut pay = request(&[]);
    pay.method = Some("/pay".into());
    assert!(allowed(&limiter, &pay));
    // A request no rule matches is allowed.
    assert!(allowed(&limiter, &request(&[("x-user", "other")])));
}

#[tokio::test(start_paused = true)]
async fn unirate_spaces_calls_and_refuses_past_the_queue_limit() {
    let mut paced = rule("paced", vec![amount(10, 1)]);
    paced.action = Some("UNIRATE".into());
    let limiter = limiter(vec![paced]);
    let any = request(&[]);
    assert!(matches!(limiter.acquire(&any), Admission::Allowed(_)));
    for expected in 1..=10u64 {
        match limiter.acquire(&any) {
            Admission::Wait(wait, _) => assert_eq!(wait, Duration::from_millis(100 * expected)),
            other => panic!("call {expected}: {other:?}"),
        }
    }
    match limiter.acquire(&any) {
        Admission::Limited { info, .. } => {
            assert_eq!(info.kind, LimitKindInfo::Unirate);
            assert_eq!(
                (info.max_amount, info.duration),
                (10, Duration::from_secs(1))
            );
        }
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_millis(1050)).await;
    match limiter.acquire(&any) {
        Admission::Wait(wait, _) => assert_eq!(wait, Duration::from_millis(50)),
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(matches!(limiter.acquire(&any), Admission::Allowed(_)));
}

#[tokio::test(start_paused = true)]
async fn concurrency_permits_are_released_on_drop() {
    let mut parallel = rule("parallel", vec![]);
    parallel.resource = 1;
    parallel.concurrency_amount = Some(v1::ConcurrencyAmount { max_amount: 2 });
    let limiter = limiter(vec![parallel]);
    let any = request(&[]);
    let first = limiter.acquire(&any);
    let second = limiter.acquire(&any);
    assert!(first.is_allowed() && second.is_allowed());
    assert!(matches!(
        limiter.acquire(&any),
        Admission::Limited {
            info: LimitInfo {
                kind: LimitKindInfo::Concurrency,
                max_amount: 2,
                ..
            },
            ..
        }
    ));
    drop(first);
    assert!(
        limiter.acquire(&any).is_allowed(),
        "a slot was freed (and the permit dropped again)"
    );
    let third = limiter.acquire(&any);
    assert!(third.is_allowed());
    assert!(!limiter.acquire(&any).is_allowed());
}

#[test]
fn caller_service_argument_reads_namespace_and_service() {
    let mut by_caller = rule("from-web", vec![amount(0, 1)]);
    by_caller.arguments = vec![v1::MatchArgument {
        r#type: 4,
        key: "prod".into(),
        value: Some(ms(EXACT, "web")),
    }];
    let limiter = limiter(vec![by_caller]);
    let from = |caller: &str| RequestContext {
        caller_service: Some(caller.into()),
        ..Default::default()
    };
    assert!(!allowed(&limiter, &from("prod/web")));
    assert!(!allowed(&limiter, &from("web")));
    assert!(allowed(&limiter, &from("test/web")));
    assert!(allowed(&limiter, &from("prod/app")));
}

#[test]
fn bad_rules_are_skipped_with_a_reason() {
    let mut unknown_action = rule("odd", vec![amount(1, 1)]);
    unknown_action.action = Some("THROTTLE".into());
    let no_amount = rule("empty", vec![]);
    let mut bad_regex = rule("regex", vec![amount(1, 1)]);
    bad_regex.arguments = vec![header("x", REGEX, "(")];
    let (limiter, skipped) = RateLimiter::new(&v1::RateLimit {
        rules: vec![unknown_action, no_amount, bad_regex],
        revision: None,
    });
    assert!(limiter.rules().is_empty());
    let reasons: Vec<&str> = skipped.iter().map(|s| s.rule.as_str()).collect();
    assert_eq!(reasons, ["odd", "empty", "regex"]);
}

#[tokio::test(start_paused = true)]
async fn wildcard_splits_per_value_and_lists_share_one_counter() {
    let mut wildcard = rule("per-user", vec![amount(1, 1)]);
    wildcard.arguments = vec![header("x-user", EXACT, "*")];
    let per_user = limiter(vec![wildcard]);
    assert!(allowed(&per_user, &request(&[("x-user", "a")])));
    assert!(allowed(&per_user, &request(&[("x-user", "b")])));
    assert!(!allowed(&per_user, &request(&[("x-user", "a")])));

    let mut listed = rule("listed", vec![amount(1, 1)]);
    listed.arguments = vec![header("x-user", 3, "a,b")];
    let shared = limiter(vec![listed]);
    assert!(allowed(&shared, &request(&[("x-user", "a")])));
    assert!(
        !allowed(&shared, &request(&[("x-user", "b")])),
        "IN values share the counter"
    );
    assert!(
        allowed(&shared, &request(&[("x-user", "c")])),
        "no rule matches c"
    );
}

#[test]
fn legacy_labels_are_custom_arguments() {
    let mut legacy = rule("legacy", vec![amount(0, 1)]);
    legacy.labels = [("tenant".to_string(), ms(EXACT, "t1"))]
        .into_iter()
        .collect();
    let limiter = limiter(vec![legacy]);
    let mut t1 = RequestContext::default();
    t1.custom.insert("tenant".into(), "t1".into());
    assert!(!allowed(&limiter, &t1));
    assert!(allowed(&limiter, &RequestContext::default()));
}

#[tokio::test(start_paused = true)]
async fn absurd_durations_do_not_overflow() {
    let mut paced = rule("paced", vec![amount(1, i64::MAX)]);
    paced.action = Some("unirate".into());
    paced.max_queue_delay = Some(u32::MAX);
    let limiter = limiter(vec![paced, rule("window", vec![amount(1, i64::MAX)])]);
    let any = request(&[]);
    assert!(matches!(limiter.acquire(&any), Admission::Allowed(_)));
    assert!(matches!(limiter.acquire(&any), Admission::Wait(..)));
}

#[tokio::test(start_paused = true)]
async fn replacing_keeps_counters_of_unchanged_rules_only() {
    let with_id = |name: &str, revision: &str| v1::Rule {
        id: Some(name.into()),
        revision: Some(revision.into()),
        method: Some(ms(EXACT, name)),
        ..rule(name, vec![amount(1, 60)])
    };
    let call = |method: &str| RequestContext {
        method: Some(method.into()),
        ..Default::default()
    };
    let first = limiter(vec![with_id("a", "r1"), with_id("b", "r1")]);
    assert!(allowed(&first, &call("a")) && allowed(&first, &call("b")));
    let (second, skipped) = RateLimiter::replacing(
        &first,
        &v1::RateLimit {
            rules: vec![with_id("a", "r1"), with_id("b", "r2")],
            revision: None,
        },
    );
    assert!(skipped.is_empty());
    assert!(
        !allowed(&second, &call("a")),
        "a is unchanged: its count carried over"
    );
    assert!(allowed(&second, &call("b")), "b changed: fresh counter");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A one-bucket window admits exactly the first `max` calls of each window (windows
        /// start at the first call), whatever the spacing of the calls.
        #[test]
        fn fixed_window_matches_a_reference(
            max in 0u32..5,
            gaps in proptest::collection::vec(0u64..700, 1..40),
        ) {
            crate::paused_runtime().block_on(async {
                let limiter = limiter(vec![rule("fixed", vec![amount(max, 1)])]);
                let any = request(&[]);
                let (mut elapsed, mut window, mut used) = (0u64, 0u64, 0u32);
                let mut first_call = None;
                for gap in gaps {
                    tokio::time::advance(Duration::from_millis(gap)).await;
                    elapsed += gap;
                    let start = *first_call.get_or_insert(elapsed);
                    if (elapsed - start) / 1000 != window {
                        window = (elapsed - start) / 1000;
                        used = 0;
                    }
                    let expected = used < max;
                    used += u32::from(expected);
                    prop_assert_eq!(allowed(&limiter, &any), expected, "at {} ms", elapsed);
                }
                Ok(())
            })?;
        }
    }
}
