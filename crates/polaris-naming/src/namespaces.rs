//! Namespace operations.

use std::sync::Arc;

use polaris_store::Mutation;
use polaris_types::validate::{MAX_NAMESPACE_LEN, MAX_TEXT_LEN, is_valid_name};
use polaris_types::{Code, Namespace, PolarisError, Result, new_token};

use crate::query::{Page, Paged, matches_pattern};
use crate::{Naming, now_millis};

/// What a caller may set on a namespace.
#[derive(Clone, Debug, Default)]
pub struct NamespaceSpec {
    pub name: String,
    pub comment: Option<String>,
    pub owners: Option<String>,
    pub service_export_to: Option<Vec<String>>,
}

/// List filters for namespaces.
#[derive(Clone, Debug, Default)]
pub struct NamespaceFilter {
    /// Name patterns (see [`matches_pattern`]), OR-ed.
    pub names: Vec<String>,
    /// Owner patterns, OR-ed.
    pub owners: Vec<String>,
    /// What the caller may see; pages and totals count only these.
    pub visible: polaris_types::Visible,
}

/// A namespace with the counts the console shows.
#[derive(Clone, Debug)]
pub struct NamespaceSummary {
    pub namespace: Arc<Namespace>,
    pub service_count: usize,
    pub instance_count: usize,
    pub healthy_instance_count: usize,
}

fn validate(spec: &NamespaceSpec) -> Result<()> {
    if !is_valid_name(&spec.name, MAX_NAMESPACE_LEN) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            format!(
                "name must match [0-9A-Za-z-./:_]+ with at most {MAX_NAMESPACE_LEN} characters"
            ),
        ));
    }
    if spec
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_TEXT_LEN)
    {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "comment is too long",
        ));
    }
    if spec
        .owners
        .as_ref()
        .is_some_and(|o| o.chars().count() > MAX_TEXT_LEN)
    {
        return Err(PolarisError::new(
            Code::InvalidNamespaceOwners,
            "owners is too long",
        ));
    }
    crate::services::check_export_to(spec.service_export_to.as_ref(), "service_export_to")
}

impl Naming {
    /// Creates a namespace; `ExistedResource` when the name is taken.
    pub async fn create_namespace(&self, spec: NamespaceSpec) -> Result<Arc<Namespace>> {
        validate(&spec)?;
        let _guard = self.structure.write().await;
        if self.snapshot().namespaces.contains_key(&spec.name) {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("namespace {}", spec.name),
            ));
        }
        let now = now_millis();
        let namespace = Namespace {
            name: spec.name,
            comment: spec.comment.unwrap_or_default(),
            owners: spec.owners.unwrap_or_else(|| "polaris".into()),
            token: new_token(),
            service_export_to: spec.service_export_to.unwrap_or_default(),
            ctime: now,
            mtime: now,
        };
        self.write(vec![Mutation::PutNamespace(namespace.clone())])
            .await?;
        self.cache.put_namespace(namespace.clone());
        Ok(Arc::new(namespace))
    }

    /// Creates the namespace unless it exists. Caller holds the structure lock.
    pub(crate) async fn ensure_namespace_locked(&self, name: &str) -> Result<()> {
        if self.snapshot().namespaces.contains_key(name) {
            return Ok(());
        }
        let now = now_millis();
        let namespace = Namespace {
            name: name.to_string(),
            owners: "polaris".into(),
            token: new_token(),
            ctime: now,
            mtime: now,
            ..Default::default()
        };
        self.write(vec![Mutation::PutNamespace(namespace.clone())])
            .await?;
        self.cache.put_namespace(namespace);
        Ok(())
    }

    pub(crate) async fn ensure_builtin_namespaces(&self) -> Result<()> {
        let _guard = self.structure.write().await;
        for name in [
            polaris_types::DEFAULT_NAMESPACE,
            polaris_types::POLARIS_NAMESPACE,
        ] {
            self.ensure_namespace_locked(name).await?;
        }
        Ok(())
    }

    /// Updates comment, owners and export list (always rewritten, as officially).
    pub async fn update_namespace(&self, spec: NamespaceSpec) -> Result<Arc<Namespace>> {
        validate(&spec)?;
        let _guard = self.structure.write().await;
        let Some(current) = self.snapshot().namespaces.get(&spec.name).cloned() else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("namespace {}", spec.name),
            ));
        };
        let mut next = Namespace::clone(&current);
        if let Some(comment) = spec.comment {
            next.comment = comment;
        }
        if let Some(owners) = spec.owners {
            next.owners = owners;
        }
        if let Some(export) = spec.service_export_to {
            next.service_export_to = export;
        }
        next.mtime = now_millis();
        self.write(vec![Mutation::PutNamespace(next.clone())])
            .await?;
        self.cache.put_namespace(next.clone());
        Ok(Arc::new(next))
    }

    /// Deletes an empty namespace. Deleting a missing one succeeds.
    pub async fn delete_namespace(&self, name: &str) -> Result<()> {
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        if !snapshot.namespaces.contains_key(name) {
            return Ok(());
        }
        if snapshot.namespace_services(name).next().is_some() {
            return Err(PolarisError::new(
                Code::NamespaceExistedServices,
                name.to_string(),
            ));
        }
        let mutation = Mutation::DeleteNamespace {
            name: name.to_string(),
            mtime: now_millis(),
        };
        self.write_checked(
            vec![polaris_store::Precondition::NamespaceEmpty(
                name.to_string(),
            )],
            vec![mutation],
            Code::NamespaceExistedServices,
            name.to_string(),
        )
        .await?;
        self.cache.remove_namespace(name);
        Ok(())
    }

    /// Namespaces matching the filter, most recently modified first. Each filter list is an OR
    /// of patterns; an empty list matches everything.
    pub fn list_namespaces(&self, filter: &NamespaceFilter, page: Page) -> Paged<NamespaceSummary> {
        let snapshot = self.snapshot();
        let any = |patterns: &[String], value: &str| {
            patterns.is_empty() || patterns.iter().any(|p| matches_pattern(p, value))
        };
        let mut matching: Vec<_> = snapshot
            .namespaces
            .values()
            .filter(|ns| any(&filter.names, &ns.name) && any(&filter.owners, &ns.owners))
            .filter(|ns| filter.visible.namespace(&ns.name))
            .collect();
        matching.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.name.cmp(&b.name)));
        page.apply(matching).items_map(|ns| {
            let mut summary = NamespaceSummary {
                namespace: ns.clone(),
                service_count: 0,
                instance_count: 0,
                healthy_instance_count: 0,
            };
            for view in snapshot
                .namespace_services(&ns.name)
                .filter(|v| !v.service.is_alias())
            {
                summary.service_count += 1;
                summary.instance_count += view.instances.len();
                summary.healthy_instance_count += view.healthy_count;
            }
            summary
        })
    }
}
