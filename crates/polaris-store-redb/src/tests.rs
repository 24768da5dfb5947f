use std::sync::Arc;

use async_trait::async_trait;
use polaris_store::conformance::StoreHarness;
use polaris_store::{Mutation, NamingStore, StoreError};
use polaris_types::Namespace;
use prometheus_client::registry::Registry;
use tempfile::TempDir;

use super::*;

/// A temporary data directory; every `open` opens the same `polaris.redb` inside it.
struct RedbHarness {
    dir: TempDir,
}

impl RedbHarness {
    fn new() -> Self {
        RedbHarness {
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

#[async_trait]
impl StoreHarness for RedbHarness {
    async fn open(&self) -> Arc<dyn NamingStore> {
        Arc::new(RedbStore::open(self.dir.path(), GroupCommitOptions::default()).unwrap())
    }
}

polaris_store::naming_store_conformance!(RedbHarness::new());

fn namespace(name: &str) -> Mutation {
    Mutation::PutNamespace(Namespace {
        name: name.to_string(),
        mtime: 1,
        ..Namespace::default()
    })
}

#[test]
fn second_open_of_a_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = RedbStore::open(&data, GroupCommitOptions::default()).unwrap();
    let error = RedbStore::open(&data, GroupCommitOptions::default())
        .err()
        .unwrap();
    assert!(matches!(error, OpenError::AlreadyInUse { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "data directory {} is already used by another polaris-server process",
            data.display()
        )
    );
    drop(first);
    RedbStore::open(&data, GroupCommitOptions::default()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_are_group_committed() {
    const REQUESTS: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(dir.path(), GroupCommitOptions::default()).unwrap());
    let mut registry = Registry::default();
    store.register_metrics(&mut registry);
    let baseline = store.commit_count();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.apply(vec![namespace(&format!("ns-{i}"))]).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let commits = store.commit_count() - baseline;
    assert!(
        commits >= 1 && commits < REQUESTS as u64,
        "{commits} commits for {REQUESTS} applies"
    );
    assert_eq!(store.load_namespaces(0).await.unwrap().len(), REQUESTS);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(&format!("store_commit_batch_size_sum {REQUESTS}")),
        "{text}"
    );
    assert!(text.contains("store_commit_seconds_count"), "{text}");
}

#[tokio::test]
async fn max_wait_groups_sequentially_arriving_requests() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GroupCommitOptions {
        max_wait: Duration::from_millis(200),
        ..Default::default()
    };
    let store = Arc::new(RedbStore::open(dir.path(), opts).unwrap());
    let first = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.apply(vec![namespace("a")]).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.apply(vec![namespace("b")]).await.unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(store.commit_count(), 1);
}

#[tokio::test]
async fn close_is_idempotent_and_refuses_reads_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path(), GroupCommitOptions::default()).unwrap();
    store.apply(vec![namespace("a")]).await.unwrap();
    store.close().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.load_namespaces(0).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(
        store.purge_tombstones(0).await,
        Err(StoreError::Closed)
    ));
    let reopened = RedbStore::open(dir.path(), GroupCommitOptions::default()).unwrap();
    assert_eq!(reopened.load_namespaces(0).await.unwrap().len(), 1);
}
