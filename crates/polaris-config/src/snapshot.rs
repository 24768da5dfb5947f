//! The read side: one immutable snapshot of groups, files, releases and history.

use std::sync::Arc;

use imbl::OrdMap;
use polaris_matcher::{MatchKind, MatchString, Matcher};
use polaris_store::NamingStore;
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, GrayLabel,
    ReleaseHistory, ReleaseKind, Result,
};

/// Everything the config center knows at one point in time.
#[derive(Clone, Debug, Default)]
pub struct ConfigSnapshot {
    pub groups: OrdMap<(String, String), Arc<ConfigGroup>>,
    pub files: OrdMap<ConfigFileKey, Arc<ConfigFile>>,
    pub releases: OrdMap<(ConfigFileKey, String), Arc<ConfigRelease>>,
    pub history: OrdMap<u64, Arc<ReleaseHistory>>,
    pub templates: OrdMap<String, Arc<ConfigTemplate>>,
}

impl ConfigSnapshot {
    pub(crate) async fn load(store: &dyn NamingStore) -> Result<ConfigSnapshot> {
        let mut snapshot = ConfigSnapshot::default();
        for group in store
            .load_config_groups(0)
            .await?
            .into_iter()
            .filter_map(|c| c.upserted())
        {
            snapshot.groups.insert(
                (group.namespace.clone(), group.name.clone()),
                Arc::new(group),
            );
        }
        for file in store
            .load_config_files(0)
            .await?
            .into_iter()
            .filter_map(|c| c.upserted())
        {
            snapshot.files.insert(file.key.clone(), Arc::new(file));
        }
        for release in store
            .load_config_releases(0)
            .await?
            .into_iter()
            .filter_map(|c| c.upserted())
        {
            snapshot.releases.insert(
                (release.key.clone(), release.name.clone()),
                Arc::new(release),
            );
        }
        for template in store.load_config_templates().await? {
            snapshot
                .templates
                .insert(template.name.clone(), Arc::new(template));
        }
        for entry in store.load_release_history(0).await? {
            snapshot.history.insert(entry.id, Arc::new(entry));
        }
        Ok(snapshot)
    }

    /// The largest id of any record, so new ids keep increasing across restarts.
    pub(crate) fn max_id(&self) -> u64 {
        let groups = self.groups.values().map(|g| g.id);
        let files = self.files.values().map(|f| f.id);
        let releases = self.releases.values().map(|r| r.id);
        let history = self.history.keys().copied();
        groups
            .chain(files)
            .chain(releases)
            .chain(history)
            .max()
            .unwrap_or(0)
    }

    /// Releases of one file, in name order.
    pub fn releases_of<'a>(
        &'a self,
        key: &'a ConfigFileKey,
    ) -> impl Iterator<Item = &'a Arc<ConfigRelease>> + 'a {
        self.releases
            .range((key.clone(), String::new())..)
            .take_while(move |((k, _), _)| k == key)
            .map(|(_, r)| r)
    }

    /// The active release of a kind.
    pub fn active(&self, key: &ConfigFileKey, kind: ReleaseKind) -> Option<Arc<ConfigRelease>> {
        self.releases_of(key)
            .find(|r| r.active && r.kind == kind)
            .cloned()
    }

    /// The release a client with `labels` sees: a matching active gray release first.
    pub fn release_for(
        &self,
        key: &ConfigFileKey,
        labels: &[(String, String)],
    ) -> Option<Arc<ConfigRelease>> {
        if let Some(gray) = self.active(key, ReleaseKind::Gray)
            && !labels.is_empty()
            && gray_matches(&gray.gray_labels, labels)
        {
            return Some(gray);
        }
        self.active(key, ReleaseKind::Normal)
    }

    /// The next version for a file: one past every version it ever had.
    pub fn next_version(&self, key: &ConfigFileKey) -> u64 {
        let released = self.releases_of(key).map(|r| r.version);
        let history = self
            .history
            .values()
            .filter(|h| &h.key == key)
            .map(|h| h.version);
        released.chain(history).max().unwrap_or(0) + 1
    }

    /// Files of one group, in name order.
    pub fn files_of<'a>(
        &'a self,
        namespace: &'a str,
        group: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ConfigFile>> + 'a {
        let start = ConfigFileKey::new(namespace, group, "");
        self.files
            .range(start..)
            .take_while(move |(k, _)| k.namespace == namespace && k.group == group)
            .map(|(_, f)| f)
    }
}

/// True when the client's labels satisfy every gray label (missing label: no match).
fn gray_matches(gray: &[GrayLabel], labels: &[(String, String)]) -> bool {
    !gray.is_empty()
        && gray.iter().all(|label| {
            let kind = MatchKind::parse(&label.match_type).unwrap_or(MatchKind::Exact);
            let Ok(matcher) = Matcher::compile(&MatchString::new(kind, label.value.clone())) else {
                return false;
            };
            let value = labels
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&label.key))
                .map(|(_, v)| v.as_str());
            value.is_some() && matcher.matches(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_labels_must_all_match() {
        let gray = vec![
            GrayLabel {
                key: "CLIENT_IP".into(),
                match_type: "IN".into(),
                value: "10.0.0.1,10.0.0.2".into(),
            },
            GrayLabel {
                key: "CLIENT_LANGUAGE".into(),
                match_type: "EXACT".into(),
                value: "rust".into(),
            },
        ];
        let labels = |ip: &str| {
            vec![
                ("CLIENT_IP".to_string(), ip.to_string()),
                ("CLIENT_LANGUAGE".into(), "rust".into()),
            ]
        };
        assert!(gray_matches(&gray, &labels("10.0.0.2")));
        assert!(!gray_matches(&gray, &labels("10.0.0.3")));
        assert!(
            !gray_matches(&gray, &[("CLIENT_IP".into(), "10.0.0.1".into())]),
            "a missing label fails"
        );
        assert!(!gray_matches(&[], &labels("10.0.0.1")));
    }
}
