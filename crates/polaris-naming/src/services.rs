//! Service and service-alias operations.

use std::sync::Arc;

use polaris_store::Mutation;
use polaris_types::validate::{
    MAX_BATCH, MAX_NAMESPACE_LEN, MAX_SERVICE_LEN, MAX_TEXT_LEN, is_valid_metadata, is_valid_name,
};
use polaris_types::{
    Code, Metadata, PolarisError, Result, Service, ServiceKey, new_token, new_uuid,
};

use crate::cache::ServiceView;
use crate::query::{Page, Paged, matches_pattern, matches_pattern_fuzzy};
use crate::{Naming, now_millis};

/// What a caller may set on a service. `None` leaves a field as it is on update.
#[derive(Clone, Debug, Default)]
pub struct ServiceSpec {
    pub namespace: String,
    pub name: String,
    pub metadata: Option<Metadata>,
    pub ports: Option<String>,
    pub business: Option<String>,
    pub department: Option<String>,
    pub cmdb_mod1: Option<String>,
    pub cmdb_mod2: Option<String>,
    pub cmdb_mod3: Option<String>,
    pub comment: Option<String>,
    pub owners: Option<String>,
    pub platform_id: Option<String>,
    pub export_to: Option<Vec<String>>,
}

/// An alias pointing at a source service.
#[derive(Clone, Debug, Default)]
pub struct AliasSpec {
    /// The source service.
    pub service: String,
    pub namespace: String,
    /// The alias itself.
    pub alias: String,
    pub alias_namespace: String,
    pub comment: Option<String>,
    pub owners: Option<String>,
}

/// List filters for services. Empty strings match everything.
#[derive(Clone, Debug, Default)]
pub struct ServiceFilter {
    /// What the caller may see; pages and totals count only these.
    pub visible: polaris_types::Visible,
    pub namespace: String,
    pub name: String,
    pub business: String,
    pub department: String,
    pub owner: String,
    /// Service metadata that must be present (key, value); an empty value matches any value.
    pub metadata: Option<(String, String)>,
    /// Instance metadata pairs that some single instance must all carry (values may use `*`).
    pub instance_metadata: Vec<(String, String)>,
    /// Only services with an instance on one of these hosts.
    pub hosts: Vec<String>,
    /// Only services with an instance on one of these ports.
    pub ports: Vec<u32>,
    pub only_with_healthy_instances: bool,
}

pub(crate) fn check_text(value: &Option<String>, max: usize, code: Code, what: &str) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(PolarisError::new(
            code,
            format!("{what} is longer than {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// `InvalidMetadata` with `message` unless `metadata` is within the official limits.
pub(crate) fn check_metadata(metadata: Option<&Metadata>, message: &'static str) -> Result<()> {
    match metadata {
        Some(m) if !is_valid_metadata(m.iter()) => {
            Err(PolarisError::new(Code::InvalidMetadata, message))
        }
        _ => Ok(()),
    }
}

/// `InvalidParameter` ("invalid <what>") unless `exports` (namespace names a service is
/// exported to) are at most a batch of valid names.
pub(crate) fn check_export_to(exports: Option<&Vec<String>>, what: &str) -> Result<()> {
    let exports = exports.into_iter().flatten();
    if exports.clone().count() > MAX_BATCH
        || exports
            .clone()
            .any(|n| !is_valid_name(n, MAX_NAMESPACE_LEN))
    {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            format!("invalid {what}"),
        ));
    }
    Ok(())
}

pub(crate) fn validate_service_key(namespace: &str, name: &str) -> Result<()> {
    if !is_valid_name(name, MAX_SERVICE_LEN) {
        return Err(PolarisError::new(
            Code::InvalidServiceName,
            format!("name must match [0-9A-Za-z-./:_]+ with at most {MAX_SERVICE_LEN} characters"),
        ));
    }
    if !is_valid_name(namespace, MAX_NAMESPACE_LEN) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            format!(
                "namespace must match [0-9A-Za-z-./:_]+ with at most {MAX_NAMESPACE_LEN} characters"
            ),
        ));
    }
    Ok(())
}

fn validate(spec: &ServiceSpec) -> Result<()> {
    validate_service_key(&spec.namespace, &spec.name)?;
    check_metadata(
        spec.metadata.as_ref(),
        "at most 64 pairs, keys up to 128 and values up to 4096 bytes",
    )?;
    check_text(&spec.ports, 8192, Code::InvalidServicePorts, "ports")?;
    check_text(
        &spec.business,
        128,
        Code::InvalidServiceBusiness,
        "business",
    )?;
    check_text(
        &spec.department,
        MAX_TEXT_LEN,
        Code::InvalidServiceDepartment,
        "department",
    )?;
    for cmdb in [&spec.cmdb_mod1, &spec.cmdb_mod2, &spec.cmdb_mod3] {
        check_text(cmdb, MAX_TEXT_LEN, Code::InvalidServiceCmdb, "cmdb")?;
    }
    check_text(
        &spec.comment,
        MAX_TEXT_LEN,
        Code::InvalidServiceComment,
        "comment",
    )?;
    check_text(
        &spec.owners,
        MAX_TEXT_LEN,
        Code::InvalidServiceOwners,
        "owners",
    )?;
    check_text(&spec.platform_id, 32, Code::InvalidParameter, "platform_id")?;
    check_export_to(spec.export_to.as_ref(), "export_to")
}

fn apply_spec(service: &mut Service, spec: ServiceSpec) {
    let set = |field: &mut String, value: Option<String>| {
        if let Some(value) = value {
            *field = value;
        }
    };
    if let Some(metadata) = spec.metadata {
        service.metadata = metadata;
    }
    if let Some(export_to) = spec.export_to {
        service.export_to = export_to;
    }
    set(&mut service.ports, spec.ports);
    set(&mut service.business, spec.business);
    set(&mut service.department, spec.department);
    set(&mut service.cmdb_mod1, spec.cmdb_mod1);
    set(&mut service.cmdb_mod2, spec.cmdb_mod2);
    set(&mut service.cmdb_mod3, spec.cmdb_mod3);
    set(&mut service.comment, spec.comment);
    set(&mut service.owners, spec.owners);
    set(&mut service.platform_id, spec.platform_id);
}

impl Naming {
    /// Creates a service in an existing namespace.
    pub async fn create_service(&self, spec: ServiceSpec) -> Result<Arc<Service>> {
        validate(&spec)?;
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        let key = ServiceKey::new(spec.namespace.clone(), spec.name.clone());
        if let Some(existing) = snapshot.service(&key) {
            return Err(PolarisError::new(
                Code::ExistedResource,
                existing.service.id.clone(),
            ));
        }
        if !snapshot.namespaces.contains_key(&spec.namespace) {
            if !self.options.auto_create_namespace {
                return Err(PolarisError::new(Code::NotFoundNamespace, spec.namespace));
            }
            self.ensure_namespace_locked(&spec.namespace).await?;
        }
        self.insert_service_locked(spec, true).await
    }

    /// Writes a new service. Caller holds the structure lock and checked it does not exist in
    /// the cache; with `exclusive`, the store also refuses it when another node created it
    /// meanwhile (an auto-created service instead converges: the last writer's row wins).
    pub(crate) async fn insert_service_locked(
        &self,
        spec: ServiceSpec,
        exclusive: bool,
    ) -> Result<Arc<Service>> {
        let now = now_millis();
        let mut service = Service {
            id: new_uuid(),
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
            token: new_token(),
            owners: "polaris".into(),
            ctime: now,
            mtime: now,
            ..Default::default()
        };
        apply_spec(&mut service, spec);
        let checks = match exclusive {
            true => vec![polaris_store::Precondition::ServiceAbsent(service.key())],
            false => Vec::new(),
        };
        self.write_checked(
            checks,
            vec![Mutation::PutService(service.clone())],
            Code::ExistedResource,
            service.key().to_string(),
        )
        .await?;
        self.cache.put_service(service.clone());
        Ok(Arc::new(service))
    }

    /// Updates the fields given in the spec. Aliases cannot be updated this way.
    pub async fn update_service(&self, spec: ServiceSpec) -> Result<Arc<Service>> {
        validate(&spec)?;
        let _guard = self.structure.write().await;
        let key = ServiceKey::new(spec.namespace.clone(), spec.name.clone());
        let Some(view) = self.snapshot().service(&key).cloned() else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("service {key}"),
            ));
        };
        if view.service.is_alias() {
            return Err(PolarisError::new(
                Code::NotAllowAliasUpdate,
                key.to_string(),
            ));
        }
        let mut next = Service::clone(&view.service);
        apply_spec(&mut next, spec);
        self.put_changed_service(&view.service, next).await
    }

    /// Deletes a service without instances or aliases. Deleting a missing one succeeds.
    pub async fn delete_service(&self, key: &ServiceKey) -> Result<()> {
        validate_service_key(&key.namespace, &key.name)?;
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        let Some(view) = snapshot.service(key) else {
            return Ok(());
        };
        if view.service.is_alias() {
            return Err(PolarisError::new(
                Code::InvalidServiceName,
                format!("{key} is an alias"),
            ));
        }
        if !view.instances.is_empty() {
            return Err(PolarisError::new(
                Code::ServiceExistedInstances,
                key.to_string(),
            ));
        }
        if snapshot
            .services
            .values()
            .any(|v| v.service.reference.as_ref() == Some(key))
        {
            return Err(PolarisError::new(
                Code::ServiceExistedAlias,
                key.to_string(),
            ));
        }
        self.drop_service(key).await
    }

    /// Deletes the service or alias `key` from the store, then from the cache.
    async fn drop_service(&self, key: &ServiceKey) -> Result<()> {
        let mtime = now_millis();
        let key = key.clone();
        self.write(vec![Mutation::DeleteService {
            key: key.clone(),
            mtime,
        }])
        .await?;
        self.cache.remove_service(&key);
        Ok(())
    }

    /// Services (not aliases) matching the filter, most recently modified first.
    pub fn list_services(&self, filter: &ServiceFilter, page: Page) -> Paged<Arc<ServiceView>> {
        let snapshot = self.snapshot();
        let mut matching: Vec<_> = snapshot
            .services
            .values()
            .filter(|v| !v.service.is_alias() && service_matches(filter, v))
            .filter(|v| {
                filter
                    .visible
                    .service(&v.service.namespace, &v.service.name)
            })
            .cloned()
            .collect();
        matching.sort_by(|a, b| {
            b.service
                .mtime
                .cmp(&a.service.mtime)
                .then_with(|| a.service.id.cmp(&b.service.id))
        });
        page.apply(matching)
    }

    /// Number of services (aliases excluded).
    pub fn count_services(&self) -> usize {
        self.snapshot()
            .services
            .values()
            .filter(|v| !v.service.is_alias())
            .count()
    }

    /// Creates an alias of an existing, non-alias service.
    pub async fn create_alias(&self, spec: AliasSpec) -> Result<Arc<Service>> {
        let source = ServiceKey::new(spec.namespace.clone(), spec.service.clone());
        validate_service_key(&source.namespace, &source.name)?;
        validate_alias_key(&spec)?;
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        let Some(source_view) = snapshot.service(&source) else {
            return Err(PolarisError::new(Code::NotFoundService, source.to_string()));
        };
        if source_view.service.is_alias() {
            return Err(PolarisError::new(
                Code::NotAllowCreateAliasForAlias,
                source.to_string(),
            ));
        }
        if !snapshot.namespaces.contains_key(&spec.alias_namespace) {
            return Err(PolarisError::new(
                Code::NotFoundNamespace,
                spec.alias_namespace,
            ));
        }
        let alias_key = ServiceKey::new(spec.alias_namespace.clone(), spec.alias.clone());
        if snapshot.service(&alias_key).is_some() {
            return Err(PolarisError::new(
                Code::ExistedResource,
                format!("service {alias_key}"),
            ));
        }
        let now = now_millis();
        let alias = Service {
            id: new_uuid(),
            namespace: alias_key.namespace,
            name: alias_key.name,
            comment: spec.comment.unwrap_or_default(),
            owners: spec.owners.unwrap_or_else(|| "polaris".into()),
            token: new_token(),
            reference: Some(source),
            ctime: now,
            mtime: now,
            ..Default::default()
        };
        self.put_service(alias).await
    }

    /// Writes `next` over `current` with a new mtime; `NoNeedUpdate` when nothing differs.
    async fn put_changed_service(
        &self,
        current: &Service,
        mut next: Service,
    ) -> Result<Arc<Service>> {
        if next == *current {
            return Err(Code::NoNeedUpdate.into());
        }
        next.mtime = now_millis();
        self.put_service(next).await
    }

    /// Writes a service and, once it is durable, caches it.
    async fn put_service(&self, service: Service) -> Result<Arc<Service>> {
        self.write(vec![Mutation::PutService(service.clone())])
            .await?;
        self.cache.put_service(service.clone());
        Ok(Arc::new(service))
    }

    /// Points an alias at another source service or changes its comment and owners.
    pub async fn update_alias(&self, spec: AliasSpec) -> Result<Arc<Service>> {
        validate_alias_key(&spec)?;
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        let alias_key = ServiceKey::new(spec.alias_namespace.clone(), spec.alias.clone());
        let Some(view) = snapshot
            .service(&alias_key)
            .filter(|v| v.service.is_alias())
        else {
            return Err(PolarisError::new(
                Code::NotFoundServiceAlias,
                alias_key.to_string(),
            ));
        };
        let mut next = Service::clone(&view.service);
        if !spec.service.is_empty() {
            let source = ServiceKey::new(spec.namespace.clone(), spec.service.clone());
            match snapshot.service(&source) {
                None => return Err(PolarisError::new(Code::NotFoundService, source.to_string())),
                Some(v) if v.service.is_alias() => {
                    return Err(PolarisError::new(
                        Code::NotAllowCreateAliasForAlias,
                        source.to_string(),
                    ));
                }
                Some(_) => next.reference = Some(source),
            }
        }
        if let Some(comment) = spec.comment {
            next.comment = comment;
        }
        if let Some(owners) = spec.owners {
            next.owners = owners;
        }
        self.put_changed_service(&view.service, next).await
    }

    /// Deletes an alias; `NotFoundServiceAlias` when there is none.
    pub async fn delete_alias(&self, alias: &ServiceKey) -> Result<()> {
        if !is_valid_name(&alias.name, MAX_SERVICE_LEN) {
            return Err(PolarisError::new(
                Code::InvalidServiceAlias,
                "alias must match [0-9A-Za-z-./:_]+",
            ));
        }
        if !is_valid_name(&alias.namespace, MAX_NAMESPACE_LEN) {
            return Err(PolarisError::new(
                Code::InvalidNamespaceWithAlias,
                "invalid alias namespace",
            ));
        }
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        if !snapshot
            .service(alias)
            .is_some_and(|v| v.service.is_alias())
        {
            return Err(PolarisError::new(
                Code::NotFoundServiceAlias,
                alias.to_string(),
            ));
        }
        self.drop_service(alias).await
    }

    /// Aliases matching the filter (`name` and `namespace` filter the alias itself) whose
    /// source service matches `source_service` and `source_namespace` (patterns, empty = any).
    pub fn list_aliases(
        &self,
        filter: &ServiceFilter,
        source_service: &str,
        source_namespace: &str,
        page: Page,
    ) -> Paged<Arc<Service>> {
        let snapshot = self.snapshot();
        let mut matching: Vec<_> = snapshot
            .services
            .values()
            .filter_map(|v| {
                let reference = v.service.reference.as_ref()?;
                let keep = matches_pattern(&filter.name, &v.service.name)
                    && matches_pattern(&filter.namespace, &v.service.namespace)
                    && matches_pattern(source_service, &reference.name)
                    && matches_pattern(source_namespace, &reference.namespace)
                    && (filter.owner.is_empty()
                        || v.service.owners.contains(filter.owner.as_str()))
                    && filter.visible.namespace(&v.service.namespace);
                keep.then(|| v.service.clone())
            })
            .collect();
        matching.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.id.cmp(&b.id)));
        page.apply(matching)
    }
}

fn validate_alias_key(spec: &AliasSpec) -> Result<()> {
    if !is_valid_name(&spec.alias, MAX_SERVICE_LEN) {
        return Err(PolarisError::new(
            Code::InvalidServiceAlias,
            "alias must match [0-9A-Za-z-./:_]+",
        ));
    }
    if !is_valid_name(&spec.alias_namespace, MAX_NAMESPACE_LEN) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceWithAlias,
            "invalid alias namespace",
        ));
    }
    check_text(
        &spec.comment,
        MAX_TEXT_LEN,
        Code::InvalidServiceAliasComment,
        "comment",
    )?;
    check_text(
        &spec.owners,
        MAX_TEXT_LEN,
        Code::InvalidServiceAliasOwners,
        "owners",
    )
}

fn service_matches(filter: &ServiceFilter, view: &ServiceView) -> bool {
    let s = &view.service;
    let business = filter.business.to_ascii_lowercase();
    if !(matches_pattern_fuzzy(&filter.namespace, &s.namespace)
        && matches_pattern_fuzzy(&filter.name, &s.name)
        && s.business.to_ascii_lowercase().contains(&business)
        && (filter.department.is_empty() || filter.department == s.department)
        && (filter.owner.is_empty() || s.owners.contains(filter.owner.as_str())))
    {
        return false;
    }
    let instance_has = |pairs: &[(String, String)]| {
        view.instances.values().any(|i| {
            pairs
                .iter()
                .all(|(k, v)| i.metadata.get(k).is_some_and(|iv| matches_pattern(v, iv)))
        })
    };
    if !filter.instance_metadata.is_empty() && !instance_has(&filter.instance_metadata) {
        return false;
    }
    if let Some((key, value)) = &filter.metadata {
        match s.metadata.get(key) {
            Some(v) if value.is_empty() || v == value => {}
            _ => return false,
        }
    }
    if filter.only_with_healthy_instances && view.healthy_count == 0 {
        return false;
    }
    if !filter.hosts.is_empty()
        && !view
            .instances
            .values()
            .any(|i| filter.hosts.contains(&i.host))
    {
        return false;
    }
    filter.ports.is_empty()
        || view
            .instances
            .values()
            .any(|i| filter.ports.contains(&i.port))
}
