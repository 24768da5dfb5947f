//! Config writes: groups and files (publishing lives in `releases`).

use std::sync::Arc;

use md5::{Digest, Md5};
use polaris_store::Mutation;
use polaris_types::validate::is_valid_name;
use polaris_types::{
    Code, ConfigFile, ConfigFileKey, ConfigGroup, ConfigTemplate, FileAttrs, GrayLabel, GroupAttrs,
    Millis, PolarisError, Result,
};

use crate::crypto;
use crate::{ConfigCenter, ConfigSnapshot, FORMATS, MAX_CONTENT_CHARS};

/// A config group as a caller writes it.
#[derive(Clone, Debug, Default)]
pub struct GroupSpec {
    pub namespace: String,
    pub name: String,
    pub attrs: GroupAttrs,
}

/// A file template as a caller writes it.
#[derive(Clone, Debug, Default)]
pub struct TemplateSpec {
    pub name: String,
    pub content: String,
    pub format: String,
    pub comment: String,
}

/// A config file as a caller writes it.
#[derive(Clone, Debug, Default)]
pub struct FileSpec {
    pub key: ConfigFileKey,
    pub content: String,
    /// With `encrypted`, the content is stored encrypted with a per-file data key (see
    /// [`crate::crypto`]); releases then carry the ciphertext and its MD5, as officially. The
    /// data key is made here: a caller's is ignored.
    pub attrs: FileAttrs,
}

/// A publish: the release name (generated when empty), a comment, and gray labels for a gray
/// release.
#[derive(Clone, Debug, Default)]
pub struct PublishSpec {
    pub key: ConfigFileKey,
    pub release_name: String,
    pub comment: String,
    pub gray_labels: Option<Vec<GrayLabel>>,
}

pub(crate) fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Hex MD5 of a file's content, as releases carry it.
pub fn content_md5(content: &str) -> String {
    hex::encode(Md5::digest(content.as_bytes()))
}

fn check_group_name(namespace: &str, name: &str) -> Result<()> {
    if !is_valid_name(namespace, 64) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            "invalid namespace",
        ));
    }
    if !is_valid_name(name, 128) {
        return Err(PolarisError::new(
            Code::InvalidConfigFileGroupName,
            "group must match [0-9A-Za-z-./:_]+",
        ));
    }
    Ok(())
}

pub(crate) fn check_key(key: &ConfigFileKey) -> Result<()> {
    check_group_name(&key.namespace, &key.group)?;
    let name_ok = !key.name.is_empty()
        && key.name.len() <= 128
        && !key.name.starts_with('/')
        && !key
            .name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && key
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b));
    if !name_ok {
        return Err(PolarisError::new(
            Code::InvalidConfigFileName,
            "file name must match [0-9A-Za-z-._:/]+",
        ));
    }
    Ok(())
}

pub(crate) fn check_file(spec: &FileSpec) -> Result<()> {
    check_key(&spec.key)?;
    if spec.content.chars().count() > MAX_CONTENT_CHARS {
        return Err(PolarisError::new(
            Code::InvalidConfigFileContentLength,
            format!("content is longer than {MAX_CONTENT_CHARS} characters"),
        ));
    }
    let attrs = &spec.attrs;
    if !attrs.format.is_empty() && !FORMATS.contains(&attrs.format.as_str()) {
        return Err(Code::InvalidConfigFileFormat.into());
    }
    if attrs
        .tags
        .iter()
        .any(|(k, v)| k.trim().is_empty() || v.trim().is_empty())
        || attrs.tags.len() > 64
    {
        return Err(Code::InvalidConfigFileTags.into());
    }
    Ok(())
}

/// `base` (a new file's blank or the current file) with what a write sets: the sealed content
/// and attributes, keeping the base's format when the write leaves it empty.
pub(crate) fn written_file(base: ConfigFile, content: String, mut attrs: FileAttrs) -> ConfigFile {
    if attrs.format.is_empty() {
        attrs.format = base.attrs.format.clone();
    }
    ConfigFile {
        content,
        attrs,
        ..base
    }
}

impl ConfigCenter {
    /// A new file's starting point: a fresh id, format `text`, created and modified `now`.
    pub(crate) fn blank_file(&self, key: ConfigFileKey, now: Millis) -> ConfigFile {
        ConfigFile {
            id: self.next_id(),
            key,
            attrs: FileAttrs {
                format: "text".into(),
                ..Default::default()
            },
            ctime: now,
            mtime: now,
            ..Default::default()
        }
    }

    pub(crate) async fn commit(
        &self,
        batch: Vec<Mutation>,
        next: ConfigSnapshot,
        woken: &[ConfigFileKey],
    ) -> Result<()> {
        self.store.apply(batch).await.map_err(PolarisError::from)?;
        self.snapshot.store(Arc::new(next));
        for key in woken {
            self.watchers.wake(key);
        }
        Ok(())
    }

    /// Creates a group; `ExistedResource` when the name is taken.
    pub async fn create_group(&self, spec: GroupSpec) -> Result<Arc<ConfigGroup>> {
        check_group_name(&spec.namespace, &spec.name)?;
        let _writer = self.writer.lock().await;
        let next = ConfigSnapshot::clone(&self.snapshot());
        if next
            .groups
            .contains_key(&(spec.namespace.clone(), spec.name.clone()))
        {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("group {}", spec.name),
            ));
        }
        let group = self.new_group(spec);
        self.commit_group(next, group).await
    }

    /// Puts `group` into `next` and commits it.
    async fn commit_group(
        &self,
        mut next: ConfigSnapshot,
        group: Arc<ConfigGroup>,
    ) -> Result<Arc<ConfigGroup>> {
        let id = (group.namespace.clone(), group.name.clone());
        next.groups.insert(id, group.clone());
        let batch = vec![Mutation::PutConfigGroup(ConfigGroup::clone(&group))];
        self.commit(batch, next, &[]).await?;
        Ok(group)
    }

    pub(crate) fn new_group(&self, spec: GroupSpec) -> Arc<ConfigGroup> {
        let now = now_millis();
        Arc::new(ConfigGroup {
            id: self.next_id(),
            namespace: spec.namespace,
            name: spec.name,
            attrs: spec.attrs,
            ctime: now,
            mtime: now,
        })
    }

    /// Replaces a group's comment, owners, business, department and metadata;
    /// `NotFoundResource` when it does not exist.
    pub async fn update_group(&self, spec: GroupSpec) -> Result<Arc<ConfigGroup>> {
        check_group_name(&spec.namespace, &spec.name)?;
        let _writer = self.writer.lock().await;
        let next = ConfigSnapshot::clone(&self.snapshot());
        let id = (spec.namespace.clone(), spec.name.clone());
        let Some(current) = next.groups.get(&id).cloned() else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("group {}", spec.name),
            ));
        };
        let group = Arc::new(ConfigGroup {
            attrs: spec.attrs,
            mtime: now_millis(),
            ..ConfigGroup::clone(&current)
        });
        self.commit_group(next, group).await
    }

    /// Creates a file template; `ExistedResource` when the name is taken.
    pub async fn create_template(&self, spec: TemplateSpec) -> Result<Arc<ConfigTemplate>> {
        if !is_valid_name(&spec.name, 128) {
            return Err(PolarisError::new(
                Code::InvalidConfigFileTemplateName,
                "template name must match [0-9A-Za-z-./:_]+",
            ));
        }
        if spec.content.chars().count() > MAX_CONTENT_CHARS {
            return Err(Code::InvalidConfigFileContentLength.into());
        }
        if !spec.format.is_empty() && !FORMATS.contains(&spec.format.as_str()) {
            return Err(Code::InvalidConfigFileFormat.into());
        }
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        if next.templates.contains_key(&spec.name) {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("template {}", spec.name),
            ));
        }
        let now = now_millis();
        let template = Arc::new(ConfigTemplate {
            id: self.next_id(),
            name: spec.name,
            content: spec.content,
            format: if spec.format.is_empty() {
                "text".into()
            } else {
                spec.format
            },
            comment: spec.comment,
            ctime: now,
            mtime: now,
        });
        next.templates
            .insert(template.name.clone(), template.clone());
        self.commit(
            vec![Mutation::PutConfigTemplate(ConfigTemplate::clone(
                &template,
            ))],
            next,
            &[],
        )
        .await?;
        Ok(template)
    }

    /// Deletes an empty group. Deleting a missing one succeeds.
    pub async fn delete_group(&self, namespace: &str, name: &str) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        if next
            .groups
            .remove(&(namespace.to_string(), name.to_string()))
            .is_none()
        {
            return Ok(());
        }
        if next.files_of(namespace, name).next().is_some() {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("group {name} still has files"),
            ));
        }
        let mutation = Mutation::DeleteConfigGroup {
            namespace: namespace.into(),
            name: name.into(),
            mtime: now_millis(),
        };
        self.commit(vec![mutation], next, &[]).await
    }

    /// Creates a file (and its group when missing); `ExistedResource` when it exists.
    pub async fn create_file(&self, spec: FileSpec) -> Result<Arc<ConfigFile>> {
        check_file(&spec)?;
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        if next.files.contains_key(&spec.key) {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("file {}", spec.key),
            ));
        }
        let (content, attrs) = crypto::seal(spec.content, spec.attrs, None)?;
        let mut batch = Vec::new();
        let group_id = (spec.key.namespace.clone(), spec.key.group.clone());
        if !next.groups.contains_key(&group_id) {
            let group = self.new_group(GroupSpec {
                namespace: spec.key.namespace.clone(),
                name: spec.key.group.clone(),
                ..Default::default()
            });
            batch.push(Mutation::PutConfigGroup(ConfigGroup::clone(&group)));
            next.groups.insert(group_id, group);
        }
        let blank = self.blank_file(spec.key.clone(), now_millis());
        let file = Arc::new(written_file(blank, content, attrs));
        batch.push(Mutation::PutConfigFile(ConfigFile::clone(&file)));
        next.files.insert(spec.key, file.clone());
        self.commit(batch, next, &[]).await?;
        Ok(file)
    }

    /// Replaces a file's content, format, comment, tags and encryption; `NotFoundResource` when
    /// absent.
    pub async fn update_file(&self, spec: FileSpec) -> Result<Arc<ConfigFile>> {
        check_file(&spec)?;
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        let Some(current) = next.files.get(&spec.key).cloned() else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("file {}", spec.key),
            ));
        };
        let (content, attrs) = crypto::seal(spec.content, spec.attrs, Some(&current))?;
        let base = ConfigFile {
            mtime: now_millis(),
            ..ConfigFile::clone(&current)
        };
        let file = Arc::new(written_file(base, content, attrs));
        next.files.insert(spec.key, file.clone());
        self.commit(
            vec![Mutation::PutConfigFile(ConfigFile::clone(&file))],
            next,
            &[],
        )
        .await?;
        Ok(file)
    }

    /// Deletes a file with its releases (watchers see the release disappear).
    pub async fn delete_file(&self, key: &ConfigFileKey) -> Result<()> {
        let _writer = self.writer.lock().await;
        let mut next = ConfigSnapshot::clone(&self.snapshot());
        if next.files.remove(key).is_none() {
            return Ok(());
        }
        let now = now_millis();
        let mut batch = vec![Mutation::DeleteConfigFile {
            key: key.clone(),
            mtime: now,
        }];
        let names: Vec<String> = next.releases_of(key).map(|r| r.name.clone()).collect();
        for name in names {
            next.releases.remove(&(key.clone(), name.clone()));
            batch.push(Mutation::DeleteConfigRelease {
                key: key.clone(),
                name,
                mtime: now,
            });
        }
        self.commit(batch, next, std::slice::from_ref(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_hex_of_the_content() {
        // `printf 'hello' | md5sum`
        assert_eq!(content_md5("hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(content_md5(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn file_names_refuse_traversal_and_odd_characters() {
        let key = |name: &str| ConfigFileKey::new("default", "g", name);
        assert!(check_key(&key("app/config.yaml")).is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "sp ace", "中文", "./x"] {
            assert_eq!(
                check_key(&key(bad)).unwrap_err().code,
                Code::InvalidConfigFileName,
                "{bad}"
            );
        }
    }
}
