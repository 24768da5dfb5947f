//! Publishing: releases, compare-and-swap publishes, rollbacks and gray releases.

use std::sync::Arc;

use polaris_store::Mutation;
use polaris_types::{
    Code, ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, FileAttrs, Millis, PolarisError,
    ReleaseHistory, ReleaseKind, Result,
};

use crate::writes::{
    FileSpec, GroupSpec, PublishSpec, check_file, check_key, content_md5, now_millis, written_file,
};
use crate::{ConfigCenter, ConfigSnapshot, crypto};

impl ConfigCenter {
    /// Publishes the file's current content as a new release (gray when labels are given).
    pub async fn publish(&self, spec: PublishSpec) -> Result<Arc<ConfigRelease>> {
        check_key(&spec.key)?;
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let Some(file) = next.files.get(&spec.key).cloned() else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("file {}", spec.key),
            ));
        };
        refuse_during_gray(&next, &spec.key)?;
        let batch = self.release_into(&mut next, &file, spec);
        let release = batch.release.clone();
        self.commit(batch.mutations, next, std::slice::from_ref(&file.key))
            .await?;
        Ok(release)
    }

    /// Creates or updates the file and publishes it in one durable step. When `expected_md5` is
    /// given and the file exists, it must equal the MD5 of the current content (else
    /// `DataConflict`), as the official compare-and-swap publish requires; for an encrypted file
    /// that is the MD5 of its ciphertext. The file's `encrypted` choice applies as in
    /// `update_file` (officially the CAS and createandpub paths pass `encrypted = false`).
    pub async fn upsert_and_publish(
        &self,
        file: FileSpec,
        expected_md5: Option<&str>,
        publish: PublishSpec,
    ) -> Result<Arc<ConfigRelease>> {
        check_file(&file)?;
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let now = now_millis();
        let current = next.files.get(&file.key).cloned();
        if let (Some(current), Some(expected)) = (&current, expected_md5)
            && content_md5(&current.content) != expected
        {
            return Err(PolarisError::new(
                Code::DataConflict,
                "the file changed since it was read",
            ));
        }
        let (content, attrs) = crypto::seal(file.content, file.attrs, current.as_deref())?;
        // An existing file keeps its id, creation time and (when none is given) format.
        let base = match &current {
            Some(current) => ConfigFile::clone(current),
            None => self.blank_file(file.key.clone(), now),
        };
        let stored = Arc::new(written_file(
            ConfigFile { mtime: now, ..base },
            content,
            attrs,
        ));
        let mut mutations = Vec::new();
        let group_id = (file.key.namespace.clone(), file.key.group.clone());
        if !next.groups.contains_key(&group_id) {
            let group = self.new_group(GroupSpec {
                namespace: file.key.namespace.clone(),
                name: file.key.group.clone(),
                ..Default::default()
            });
            mutations.push(Mutation::PutConfigGroup(ConfigGroup::clone(&group)));
            next.groups.insert(group_id, group);
        }
        mutations.push(Mutation::PutConfigFile(ConfigFile::clone(&stored)));
        next.files.insert(file.key.clone(), stored.clone());
        refuse_during_gray(&next, &file.key)?;
        let batch = self.release_into(&mut next, &stored, publish);
        mutations.extend(batch.mutations);
        self.commit(mutations, next, &[file.key]).await?;
        Ok(batch.release)
    }

    /// Re-activates an earlier release of the file.
    pub async fn rollback(
        &self,
        key: &ConfigFileKey,
        release_name: &str,
    ) -> Result<Arc<ConfigRelease>> {
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let Some(target) = next
            .releases
            .get(&(key.clone(), release_name.to_string()))
            .cloned()
        else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("release {release_name}"),
            ));
        };
        let now = now_millis();
        let mut mutations = Vec::new();
        for release in next
            .releases_of(key)
            .filter(|r| r.active && r.kind == ReleaseKind::Normal)
            .cloned()
            .collect::<Vec<_>>()
        {
            let off = Arc::new(ConfigRelease {
                active: false,
                mtime: now,
                ..ConfigRelease::clone(&release)
            });
            mutations.push(Mutation::PutConfigRelease(ConfigRelease::clone(&off)));
            next.releases
                .insert((key.clone(), release.name.clone()), off);
        }
        // Officially an activation takes the next version, so clients holding the newer
        // content see the rolled-back one as a change (and their watches wake).
        let version = next.next_version(key);
        let on = Arc::new(ConfigRelease {
            active: true,
            version,
            mtime: now,
            ..ConfigRelease::clone(&target)
        });
        mutations.push(Mutation::PutConfigRelease(ConfigRelease::clone(&on)));
        next.releases
            .insert((key.clone(), on.name.clone()), on.clone());
        let history = self.history(&on, "rollback", now);
        mutations.push(Mutation::AppendReleaseHistory(ReleaseHistory::clone(
            &history,
        )));
        next.history.insert(history.id, history);
        self.commit(mutations, next, std::slice::from_ref(key))
            .await?;
        Ok(on)
    }

    /// Deletes a release. The active one cannot be deleted (`ExistedResource`, as a group with
    /// files); deleting a missing one succeeds.
    pub async fn delete_release(&self, key: &ConfigFileKey, release_name: &str) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let id = (key.clone(), release_name.to_string());
        let Some(release) = next.releases.remove(&id) else {
            return Ok(());
        };
        if release.active {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("release {release_name} is active"),
            ));
        }
        let now = now_millis();
        let history = self.history(&release, "delete", now);
        next.history.insert(history.id, history.clone());
        let mutations = vec![
            Mutation::DeleteConfigRelease {
                key: key.clone(),
                name: release_name.to_string(),
                mtime: now,
            },
            Mutation::AppendReleaseHistory(ReleaseHistory::clone(&history)),
        ];
        self.commit(mutations, next, &[]).await
    }

    /// Ends the file's gray release; clients fall back to the normal release.
    pub async fn stop_gray(&self, key: &ConfigFileKey) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let Some(gray) = next.active(key, ReleaseKind::Gray) else {
            return Ok(());
        };
        let now = now_millis();
        next.releases.remove(&(key.clone(), gray.name.clone()));
        let history = self.history(&gray, "cancel-gray", now);
        next.history.insert(history.id, history.clone());
        let mutations = vec![
            Mutation::DeleteConfigRelease {
                key: key.clone(),
                name: gray.name.clone(),
                mtime: now,
            },
            Mutation::AppendReleaseHistory(ReleaseHistory::clone(&history)),
        ];
        self.commit(mutations, next, std::slice::from_ref(key))
            .await
    }

    fn history(&self, release: &ConfigRelease, kind: &str, now: Millis) -> Arc<ReleaseHistory> {
        Arc::new(ReleaseHistory {
            id: self.next_id(),
            key: release.key.clone(),
            release_name: release.name.clone(),
            kind: kind.to_string(),
            status: "success".into(),
            content: release.content.clone(),
            md5: release.md5.clone(),
            version: release.version,
            format: release.attrs.format.clone(),
            comment: release.attrs.comment.clone(),
            tags: release.attrs.tags.clone(),
            ctime: now,
        })
    }

    /// Builds a release of `file` into `next` (deactivating the previous one of its kind).
    fn release_into(
        &self,
        next: &mut ConfigSnapshot,
        file: &ConfigFile,
        spec: PublishSpec,
    ) -> ReleaseBatch {
        let now = now_millis();
        let kind = if spec.gray_labels.as_ref().is_some_and(|l| !l.is_empty()) {
            ReleaseKind::Gray
        } else {
            ReleaseKind::Normal
        };
        let version = next.next_version(&file.key);
        let name = if spec.release_name.is_empty() {
            format!(
                "{}-{}-{version}",
                file.key.name.replace('/', "-"),
                now / 1000
            )
        } else {
            spec.release_name
        };
        let mut mutations = Vec::new();
        let previous: Vec<_> = next
            .releases_of(&file.key)
            .filter(|r| r.active && r.kind == kind)
            .cloned()
            .collect();
        for old in previous {
            let off = Arc::new(ConfigRelease {
                active: false,
                mtime: now,
                ..ConfigRelease::clone(&old)
            });
            mutations.push(Mutation::PutConfigRelease(ConfigRelease::clone(&off)));
            next.releases
                .insert((file.key.clone(), old.name.clone()), off);
        }
        let release = Arc::new(ConfigRelease {
            id: self.next_id(),
            key: file.key.clone(),
            name,
            content: file.content.clone(),
            md5: content_md5(&file.content),
            version,
            active: true,
            kind,
            gray_labels: spec.gray_labels.unwrap_or_default(),
            attrs: FileAttrs {
                comment: spec.comment,
                ..file.attrs.clone()
            },
            ctime: now,
            mtime: now,
        });
        mutations.push(Mutation::PutConfigRelease(ConfigRelease::clone(&release)));
        next.releases
            .insert((file.key.clone(), release.name.clone()), release.clone());
        let history_kind = if kind == ReleaseKind::Gray {
            "gray"
        } else {
            "normal"
        };
        let history = self.history(&release, history_kind, now);
        mutations.push(Mutation::AppendReleaseHistory(ReleaseHistory::clone(
            &history,
        )));
        next.history.insert(history.id, history);
        ReleaseBatch { mutations, release }
    }
}

/// While a gray release is active, the official server refuses any other publish of the file
/// (stop the gray release first).
fn refuse_during_gray(snapshot: &ConfigSnapshot, key: &ConfigFileKey) -> Result<()> {
    match snapshot.active(key, ReleaseKind::Gray) {
        Some(_) => Err(PolarisError::new(
            Code::DataConflict,
            "a gray release of this file is active",
        )),
        None => Ok(()),
    }
}

struct ReleaseBatch {
    mutations: Vec<Mutation>,
    release: Arc<ConfigRelease>,
}
