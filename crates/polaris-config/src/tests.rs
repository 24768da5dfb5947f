//! Config center rules against the in-memory store backend; waiting on paused time.

use std::sync::Arc;
use std::time::Duration;

use polaris_store::memory::MemoryStore;
use polaris_types::{
    Code, ConfigFileKey, ConfigRelease, FileAttrs, GrayLabel, GroupAttrs, PolarisError,
};

use crate::{ConfigCenter, FileSpec, PublishSpec, WatchedFile, writes::content_md5};

fn key(name: &str) -> ConfigFileKey {
    ConfigFileKey::new("default", "app", name)
}

fn file(name: &str, content: &str) -> FileSpec {
    FileSpec {
        key: key(name),
        content: content.into(),
        attrs: FileAttrs {
            format: "yaml".into(),
            ..Default::default()
        },
    }
}

fn publish(name: &str) -> PublishSpec {
    PublishSpec {
        key: key(name),
        ..Default::default()
    }
}

/// The code of a call that must fail.
fn code<T: std::fmt::Debug>(result: Result<T, PolarisError>) -> Code {
    result.unwrap_err().code
}

/// The release a client without labels gets for `name` now.
fn latest(config: &ConfigCenter, name: &str) -> Arc<ConfigRelease> {
    config.client_release(&key(name), 0, &[]).unwrap().unwrap()
}

async fn center() -> (Arc<MemoryStore>, Arc<ConfigCenter>) {
    let store = Arc::new(MemoryStore::new());
    let center = Arc::new(ConfigCenter::open(store.clone()).await.unwrap());
    (store, center)
}

#[tokio::test]
async fn publishing_makes_versioned_releases_with_md5() {
    let (store, config) = center().await;
    config.create_file(file("a.yaml", "x: 1")).await.unwrap();
    assert_eq!(
        code(config.client_release(&key("a.yaml"), 0, &[])),
        Code::NotFoundResource
    );
    let first = config.publish(publish("a.yaml")).await.unwrap();
    assert_eq!(
        (first.version, first.md5.as_str()),
        (1, content_md5("x: 1").as_str())
    );
    config.update_file(file("a.yaml", "x: 2")).await.unwrap();
    let second = config.publish(publish("a.yaml")).await.unwrap();
    assert_eq!(second.version, 2);
    let got = config
        .client_release(&key("a.yaml"), 1, &[])
        .unwrap()
        .unwrap();
    assert_eq!(got.content, "x: 2");
    assert!(
        config
            .client_release(&key("a.yaml"), 3, &[])
            .unwrap()
            .is_none(),
        "client ahead: no change"
    );
    // Durable: a reopened center sees the same releases and keeps counting versions.
    let reopened = ConfigCenter::open(Arc::new(MemoryStore::open(store.data())))
        .await
        .unwrap();
    assert_eq!(latest(&reopened, "a.yaml").version, 2);
    assert_eq!(reopened.snapshot().next_version(&key("a.yaml")), 3);
}

#[tokio::test(start_paused = true)]
async fn a_publish_wakes_its_watchers_and_silence_times_out() {
    let (_, config) = center().await;
    config.create_file(file("w.yaml", "v: 1")).await.unwrap();
    config
        .create_file(file("other.yaml", "o: 1"))
        .await
        .unwrap();
    config.publish(publish("w.yaml")).await.unwrap();
    let watched = vec![WatchedFile {
        key: key("w.yaml"),
        version: 1,
    }];
    let waiter = {
        let config = config.clone();
        let watched = watched.clone();
        tokio::spawn(async move { config.watch(&watched, &[], Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    config.publish(publish("other.yaml")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !waiter.is_finished(),
        "another file's publish does not wake it"
    );
    config.update_file(file("w.yaml", "v: 2")).await.unwrap();
    config.publish(publish("w.yaml")).await.unwrap();
    let woken = waiter.await.unwrap().unwrap().expect("a newer release");
    assert_eq!(woken.version, 2);
    assert!(config.watchers().is_empty(), "registrations are cleaned up");
    let timed_out = config
        .watch(
            &[WatchedFile {
                key: key("w.yaml"),
                version: 2,
            }],
            &[],
            Duration::from_secs(30),
        )
        .await;
    assert!(timed_out.unwrap().is_none());
    // Behind already: answered at once.
    let behind = config
        .watch(&watched, &[], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(behind.unwrap().version, 2);
}

#[tokio::test]
async fn compare_and_swap_publish_refuses_a_stale_md5() {
    let (_, config) = center().await;
    let created = config
        .upsert_and_publish(
            file("cas.yaml", "a"),
            Some("ignored for a new file"),
            publish("cas.yaml"),
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let stale = config
        .upsert_and_publish(
            file("cas.yaml", "b"),
            Some(&content_md5("zzz")),
            publish("cas.yaml"),
        )
        .await;
    assert_eq!(stale.unwrap_err().code, Code::DataConflict);
    let fresh = config
        .upsert_and_publish(
            file("cas.yaml", "b"),
            Some(&content_md5("a")),
            publish("cas.yaml"),
        )
        .await
        .unwrap();
    assert_eq!((fresh.version, fresh.content.as_str()), (2, "b"));
}

#[tokio::test]
async fn gray_releases_reach_matching_clients_only_until_stopped() {
    let (_, config) = center().await;
    config.create_file(file("g.yaml", "stable")).await.unwrap();
    config.publish(publish("g.yaml")).await.unwrap();
    config.update_file(file("g.yaml", "canary")).await.unwrap();
    let labels = vec![GrayLabel {
        key: "CLIENT_IP".into(),
        match_type: "EXACT".into(),
        value: "10.0.0.9".into(),
    }];
    let gray = PublishSpec {
        gray_labels: Some(labels),
        ..publish("g.yaml")
    };
    config.publish(gray).await.unwrap();
    let canary_client = [("CLIENT_IP".to_string(), "10.0.0.9".to_string())];
    let other_client = [("CLIENT_IP".to_string(), "10.0.0.1".to_string())];
    let seen_by = |client: &[(String, String)]| {
        let release = config.client_release(&key("g.yaml"), 0, client).unwrap();
        release.unwrap().content.clone()
    };
    assert_eq!(seen_by(&canary_client), "canary");
    assert_eq!(seen_by(&other_client), "stable");
    let blocked = config.publish(publish("g.yaml")).await.unwrap_err();
    assert_eq!(
        blocked.code,
        Code::DataConflict,
        "no full publish during a gray release"
    );
    config.stop_gray(&key("g.yaml")).await.unwrap();
    assert_eq!(seen_by(&canary_client), "stable");
}

#[tokio::test]
async fn rollback_reactivates_an_earlier_release() {
    let (_, config) = center().await;
    config.create_file(file("r.yaml", "one")).await.unwrap();
    let first = config
        .publish(PublishSpec {
            release_name: "r-1".into(),
            ..publish("r.yaml")
        })
        .await
        .unwrap();
    config.update_file(file("r.yaml", "two")).await.unwrap();
    config.publish(publish("r.yaml")).await.unwrap();
    let back = config.rollback(&key("r.yaml"), &first.name).await.unwrap();
    assert_eq!(
        (back.content.as_str(), back.version),
        ("one", 3),
        "a rollback takes the next version"
    );
    assert_eq!(
        code(config.delete_release(&key("r.yaml"), &first.name).await),
        Code::ExistedResource,
        "the active release stays"
    );
    let second_name = config
        .snapshot()
        .releases_of(&key("r.yaml"))
        .find(|r| !r.active)
        .unwrap()
        .name
        .clone();
    config
        .delete_release(&key("r.yaml"), &second_name)
        .await
        .unwrap();
    config
        .delete_release(&key("r.yaml"), "never existed")
        .await
        .unwrap();
    assert_eq!(latest(&config, "r.yaml").name, "r-1");
    let kinds: Vec<_> = config
        .snapshot()
        .history
        .values()
        .map(|h| h.kind.clone())
        .collect();
    assert_eq!(kinds, ["normal", "normal", "rollback", "delete"]);
    assert_eq!(
        code(config.rollback(&key("r.yaml"), "nope").await),
        Code::NotFoundResource
    );
}

#[tokio::test]
async fn groups_with_files_are_kept_and_bad_input_is_refused() {
    let (_, config) = center().await;
    config.create_file(file("f.yaml", "x")).await.unwrap();
    assert_eq!(
        code(config.delete_group("default", "app").await),
        Code::ExistedResource
    );
    assert_eq!(
        code(config.create_file(file("f.yaml", "x")).await),
        Code::ExistedResource
    );
    let huge = "x".repeat(crate::MAX_CONTENT_CHARS + 1);
    assert_eq!(
        code(config.create_file(file("big.yaml", &huge)).await),
        Code::InvalidConfigFileContentLength
    );
    let bad_format = FileSpec {
        attrs: FileAttrs {
            format: "exe".into(),
            ..file("b.yaml", "x").attrs
        },
        ..file("b.yaml", "x")
    };
    assert_eq!(
        config.create_file(bad_format).await.unwrap_err().code,
        Code::InvalidConfigFileFormat
    );
    assert_eq!(
        code(config.watch(&[], &[], Duration::from_secs(1)).await),
        Code::InvalidWatchConfigFileFormat
    );
    let updated = config
        .update_group(crate::GroupSpec {
            namespace: "default".into(),
            name: "app".into(),
            attrs: GroupAttrs {
                comment: "c".into(),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    assert_eq!(updated.attrs.comment, "c");
    let missing = crate::GroupSpec {
        namespace: "default".into(),
        name: "nope".into(),
        ..Default::default()
    };
    assert_eq!(
        config.update_group(missing).await.unwrap_err().code,
        Code::NotFoundResource
    );
    config.delete_file(&key("f.yaml")).await.unwrap();
    config.delete_group("default", "app").await.unwrap();
}

#[tokio::test]
async fn templates_are_durable_and_unique() {
    let (store, config) = center().await;
    let spec = crate::TemplateSpec {
        name: "spring".into(),
        content: "a=1".into(),
        format: "properties".into(),
        ..Default::default()
    };
    config.create_template(spec.clone()).await.unwrap();
    assert_eq!(
        config.create_template(spec).await.unwrap_err().code,
        Code::ExistedResource
    );
    let bad = crate::TemplateSpec {
        name: "bad name".into(),
        ..Default::default()
    };
    assert_eq!(
        config.create_template(bad).await.unwrap_err().code,
        Code::InvalidConfigFileTemplateName
    );
    let reopened = ConfigCenter::open(Arc::new(MemoryStore::open(store.data())))
        .await
        .unwrap();
    assert_eq!(reopened.snapshot().templates["spring"].content, "a=1");
}

#[tokio::test(start_paused = true)]
async fn a_watch_over_the_file_limit_is_refused_and_one_at_the_limit_waits() {
    let (_, config) = center().await;
    config.set_max_watch_files(3);
    let files = |n: usize| -> Vec<WatchedFile> {
        (0..n)
            .map(|i| WatchedFile {
                key: key(&format!("f{i}.yaml")),
                version: 0,
            })
            .collect()
    };
    let refused = config
        .watch(&files(4), &[], Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(refused.code, Code::BatchSizeOverLimit);
    assert!(refused.detail.contains("at most 3"), "{}", refused.detail);
    assert_eq!(config.watchers().len(), 0, "nothing was registered");
    let waited = config
        .watch(&files(3), &[], Duration::from_secs(1))
        .await
        .unwrap();
    assert!(waited.is_none(), "no change within the timeout");
}
