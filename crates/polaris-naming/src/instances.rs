//! Instance operations: registration (an upsert), update, deregistration, host-wide delete and
//! isolation, and queries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use polaris_store::Mutation;
use polaris_types::validate::MAX_HOST_LEN;
use polaris_types::{
    Code, HealthCheck, Instance, InstanceMetadata, Location, Metadata, PolarisError, Result,
    Revision, ServiceKey, Sym, instance_id,
};

use crate::query::{Page, Paged, matches_pattern};
use crate::services::{ServiceSpec, check_metadata, check_text, validate_service_key};
use crate::{Naming, now_millis};

/// Instance metadata key holding the Unix second of the last health flip.
pub const LAST_HEARTBEAT_KEY: &str = "internal-lastheartbeat";

/// Default heartbeat TTL in seconds, also used when a TTL is outside (0, 60].
pub const DEFAULT_TTL_SECS: u32 = 5;
const MAX_TTL_SECS: u32 = 60;
const MAX_ID_LEN: usize = 128;
/// Heartbeats accepted for an unknown instance before `NotFoundResource` is returned.
const UNKNOWN_BEAT_ALLOWANCE: u32 = 3;
const MAX_TRACKED_UNKNOWN_BEATS: usize = 100_000;

/// Heartbeat settings as a caller sends them.
#[derive(Clone, Copy, Debug, Default)]
pub struct HealthCheckSpec {
    /// Seconds; outside (0, 60] (or absent) means 5.
    pub ttl: Option<u32>,
}

/// An instance as a caller describes it. `None` means "not sent".
#[derive(Clone, Debug, Default)]
pub struct InstanceSpec {
    pub id: Option<String>,
    pub namespace: String,
    pub service: String,
    pub vpc_id: String,
    pub host: String,
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub version: Option<String>,
    pub priority: Option<u32>,
    pub weight: Option<u32>,
    pub health_check: Option<HealthCheckSpec>,
    pub enable_health_check: Option<bool>,
    pub healthy: Option<bool>,
    pub isolate: Option<bool>,
    pub location: Option<Location>,
    pub metadata: Option<Metadata>,
    pub logic_set: Option<String>,
}

impl InstanceSpec {
    /// The id the instance has or would get.
    pub fn resolved_id(&self) -> String {
        match &self.id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => instance_id(
                &self.namespace,
                &self.service,
                &self.vpc_id,
                &self.host,
                self.port.unwrap_or(0),
            ),
        }
    }

    fn has_id(&self) -> bool {
        self.id.as_ref().is_some_and(|id| !id.is_empty())
    }
}

/// List filters for instances. Empty strings and `None` match everything.
#[derive(Clone, Debug, Default)]
pub struct InstanceFilter {
    /// What the caller may see; pages and totals count only these.
    pub visible: polaris_types::Visible,
    pub id: String,
    pub namespace: String,
    pub service: String,
    /// Any of these hosts.
    pub hosts: Vec<String>,
    pub port: Option<u32>,
    pub weight: Option<u32>,
    pub protocol: String,
    pub version: String,
    pub healthy: Option<bool>,
    pub isolate: Option<bool>,
    /// Metadata pairs that must all be present (an empty value matches any value).
    pub metadata: Vec<(String, String)>,
    pub region: String,
    pub zone: String,
    pub campus: String,
}

/// Distinct metadata values per key over a service's instances.
pub type LabelValues = BTreeMap<String, BTreeSet<String>>;

/// Checks what identifies an instance: an id, or service, namespace, host and port.
fn validate_identity(spec: &InstanceSpec) -> Result<()> {
    if spec.id.as_ref().is_some_and(|id| id.len() > MAX_ID_LEN) {
        return Err(PolarisError::new(Code::InvalidInstanceId, "id is too long"));
    }
    if spec.has_id() {
        return Ok(());
    }
    validate_service_key(&spec.namespace, &spec.service)?;
    validate_host_port(spec)
}

fn validate_host_port(spec: &InstanceSpec) -> Result<()> {
    if spec.host.trim().is_empty() || spec.host.chars().count() > MAX_HOST_LEN {
        return Err(PolarisError::new(
            Code::InvalidInstanceHost,
            "host is required, at most 128 characters",
        ));
    }
    match spec.port {
        Some(port) if port <= 65535 => Ok(()),
        Some(port) => Err(PolarisError::new(
            Code::InvalidInstancePort,
            format!("port {port} is out of range"),
        )),
        None => Err(PolarisError::new(
            Code::InvalidInstancePort,
            "port is required",
        )),
    }
}

fn validate_full(spec: &InstanceSpec) -> Result<()> {
    validate_service_key(&spec.namespace, &spec.service)?;
    validate_host_port(spec)?;
    validate_identity(spec)?;
    check_metadata(
        spec.metadata.as_ref(),
        "at most 64 pairs, keys up to 128 bytes",
    )?;
    check_text(
        &spec.protocol,
        32,
        Code::InvalidInstanceProtocol,
        "protocol",
    )?;
    check_text(&spec.version, 32, Code::InvalidInstanceVersion, "version")?;
    check_text(
        &spec.logic_set,
        128,
        Code::InvalidInstanceLogicSet,
        "logic_set",
    )?;
    if spec.weight.is_some_and(|w| w > 65535) {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "weight must be at most 65535",
        ));
    }
    if let Some(loc) = &spec.location {
        for part in [&loc.region, &loc.zone, &loc.campus] {
            if part.chars().count() > 128 {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    "location is too long",
                ));
            }
        }
    }
    Ok(())
}

fn health_check_of(spec: &InstanceSpec) -> Option<HealthCheck> {
    let hc = spec.health_check?;
    if spec.enable_health_check == Some(false) {
        return None;
    }
    let ttl = hc
        .ttl
        .filter(|t| (1..=MAX_TTL_SECS).contains(t))
        .unwrap_or(DEFAULT_TTL_SECS);
    Some(HealthCheck { ttl_secs: ttl })
}

/// Builds the stored instance for a registration, following the official defaults.
fn registered_instance(spec: InstanceSpec, id: String, existing: Option<&Instance>) -> Instance {
    let now = now_millis();
    let health_check = health_check_of(&spec);
    Instance {
        id,
        namespace: spec.namespace.into(),
        service: spec.service.into(),
        vpc_id: spec.vpc_id.into(),
        host: spec.host.trim().to_string(),
        port: spec.port.unwrap_or(0),
        protocol: spec.protocol.unwrap_or_default().into(),
        version: spec.version.unwrap_or_default().into(),
        priority: spec.priority.unwrap_or(0),
        weight: spec.weight.unwrap_or(100),
        health_check,
        healthy: spec.healthy.unwrap_or(true),
        isolate: spec
            .isolate
            .or(existing.map(|e| e.isolate))
            .unwrap_or(false),
        location: spec.location.unwrap_or_default(),
        metadata: spec
            .metadata
            .map(InstanceMetadata::from)
            .unwrap_or_default(),
        logic_set: spec.logic_set.unwrap_or_default().into(),
        revision: Revision::new(),
        ctime: existing.map_or(now, |e| e.ctime),
        mtime: now,
    }
}

impl Naming {
    /// Registers an instance: creates it, or replaces it keeping its stored isolation when the
    /// request does not say. Creates the service first when auto-creation is on.
    pub async fn register_instance(&self, spec: InstanceSpec) -> Result<Arc<Instance>> {
        validate_full(&spec)?;
        let key = ServiceKey::new(spec.namespace.clone(), spec.service.clone());
        if self.snapshot().service(&key).is_none() {
            self.auto_create_service(&key).await?;
        }
        let id = spec.resolved_id();
        let _structure = self.structure.read().await;
        let _instance = self.instance_lock(&id).lock().await;
        let snapshot = self.snapshot();
        match snapshot.service(&key) {
            None => return Err(PolarisError::new(Code::NotFoundService, key.to_string())),
            Some(v) if v.service.is_alias() => {
                return Err(PolarisError::new(
                    Code::BadRequest,
                    format!("service {key} is alias"),
                ));
            }
            Some(_) => {}
        }
        let existing = snapshot.instance(&id).map(|i| Instance::clone(i));
        let instance = registered_instance(spec, id, existing.as_ref());
        self.write(vec![Mutation::PutInstance(instance.clone())])
            .await?;
        self.cache.put_instance(instance.clone());
        self.forget_unknown_beats(&instance.id);
        Ok(Arc::new(instance))
    }

    async fn auto_create_service(&self, key: &ServiceKey) -> Result<()> {
        if !self.options.auto_create_service {
            return Err(PolarisError::new(Code::NotFoundService, key.to_string()));
        }
        let _guard = self.structure.write().await;
        let snapshot = self.snapshot();
        if snapshot.service(key).is_some() {
            return Ok(());
        }
        if !snapshot.namespaces.contains_key(&key.namespace) {
            if !self.options.auto_create_namespace {
                return Err(PolarisError::new(
                    Code::NotFoundNamespace,
                    key.namespace.clone(),
                ));
            }
            self.ensure_namespace_locked(&key.namespace).await?;
        }
        let spec = ServiceSpec {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            ..Default::default()
        };
        self.insert_service_locked(spec, false).await.map(drop)
    }

    /// Updates an existing instance with the fields given; `NotFoundInstance` when absent.
    pub async fn update_instance(&self, spec: InstanceSpec) -> Result<Arc<Instance>> {
        validate_identity(&spec)?;
        let id = spec.resolved_id();
        let _structure = self.structure.read().await;
        let _instance = self.instance_lock(&id).lock().await;
        let Some(current) = self.snapshot().instance(&id).cloned() else {
            return Err(PolarisError::new(Code::NotFoundInstance, id));
        };
        let mut merged = spec;
        merged.namespace = current.namespace.to_string();
        merged.service = current.service.to_string();
        merged.host = if merged.host.is_empty() {
            current.host.clone()
        } else {
            merged.host
        };
        merged.port = merged.port.or(Some(current.port));
        validate_full(&merged)?;
        let mut next = Instance::clone(&current);
        let health_check_changed =
            merged.health_check.is_some() || merged.enable_health_check.is_some();
        if health_check_changed {
            next.health_check = match (merged.enable_health_check, merged.health_check) {
                (Some(false), _) => None,
                (_, Some(_)) => health_check_of(&merged),
                (_, None) => current.health_check,
            };
            // Newly checked instances stay unhealthy until their first heartbeat.
            if current.health_check.is_none() && next.health_check.is_some() {
                next.healthy = false;
            }
        }
        next.host = merged.host;
        next.port = merged.port.unwrap_or(current.port);
        let set = |field: &mut Sym, value: Option<String>| {
            if let Some(v) = value {
                *field = v.into();
            }
        };
        set(&mut next.protocol, merged.protocol);
        set(&mut next.version, merged.version);
        set(&mut next.logic_set, merged.logic_set);
        next.priority = merged.priority.unwrap_or(next.priority);
        next.weight = merged.weight.unwrap_or(next.weight);
        next.healthy = merged.healthy.unwrap_or(next.healthy);
        next.isolate = merged.isolate.unwrap_or(next.isolate);
        if let Some(location) = merged.location {
            next.location = location;
        }
        if let Some(metadata) = merged.metadata {
            next.metadata = metadata.into();
        }
        if next == *current {
            return Err(Code::NoNeedUpdate.into());
        }
        next.revision = Revision::new();
        next.mtime = now_millis();
        self.write(vec![Mutation::PutInstance(next.clone())])
            .await?;
        self.cache.put_instance(next.clone());
        Ok(Arc::new(next))
    }

    /// Removes an instance by id, or by service, namespace, host and port. Removing an unknown
    /// instance succeeds.
    pub async fn deregister_instance(&self, spec: &InstanceSpec) -> Result<()> {
        validate_identity(spec)?;
        let id = spec.resolved_id();
        let _structure = self.structure.read().await;
        let _instance = self.instance_lock(&id).lock().await;
        if self.snapshot().instance(&id).is_none() {
            return Ok(());
        }
        self.write(vec![Mutation::DeleteInstance {
            id: id.clone(),
            mtime: now_millis(),
        }])
        .await?;
        self.cache.remove_instance(&id);
        Ok(())
    }

    /// The instances of one service on one host (any port). `NotFoundService` when the service
    /// does not exist.
    fn instances_on_host(&self, key: &ServiceKey, host: &str) -> Result<Vec<Arc<Instance>>> {
        validate_service_key(&key.namespace, &key.name)?;
        if host.trim().is_empty() || host.chars().count() > MAX_HOST_LEN {
            return Err(PolarisError::new(
                Code::InvalidInstanceHost,
                "host is required",
            ));
        }
        let snapshot = self.snapshot();
        let Some(view) = snapshot.service(key) else {
            return Err(PolarisError::new(Code::NotFoundService, key.to_string()));
        };
        Ok(view
            .instances
            .values()
            .filter(|i| i.host == host.trim())
            .cloned()
            .collect())
    }

    /// Removes every instance of a service on a host; returns how many were removed.
    pub async fn delete_instances_by_host(&self, key: &ServiceKey, host: &str) -> Result<usize> {
        let _structure = self.structure.read().await;
        let victims = self.instances_on_host(key, host)?;
        if victims.is_empty() {
            return Ok(0);
        }
        let now = now_millis();
        let batch = victims
            .iter()
            .map(|i| Mutation::DeleteInstance {
                id: i.id.clone(),
                mtime: now,
            })
            .collect();
        self.write(batch).await?;
        for victim in &victims {
            self.cache.remove_instance(&victim.id);
        }
        Ok(victims.len())
    }

    /// Sets the isolation flag on every instance of a service on a host. `NotFoundInstance` when
    /// the host has none, `NoNeedUpdate` when all already have that flag.
    pub async fn isolate_host(
        &self,
        key: &ServiceKey,
        host: &str,
        isolate: Option<bool>,
    ) -> Result<usize> {
        let Some(isolate) = isolate else {
            return Err(PolarisError::new(
                Code::InvalidInstanceIsolate,
                "isolate is required",
            ));
        };
        let _structure = self.structure.read().await;
        let on_host = self.instances_on_host(key, host)?;
        if on_host.is_empty() {
            return Err(PolarisError::new(
                Code::NotFoundInstance,
                format!("no instance of {key} on {host}"),
            ));
        }
        let now = now_millis();
        let changed: Vec<Instance> = on_host
            .into_iter()
            .filter(|i| i.isolate != isolate)
            .map(|i| Instance {
                isolate,
                revision: Revision::new(),
                mtime: now,
                ..Instance::clone(&i)
            })
            .collect();
        if changed.is_empty() {
            return Err(Code::NoNeedUpdate.into());
        }
        self.write(changed.iter().cloned().map(Mutation::PutInstance).collect())
            .await?;
        for instance in &changed {
            self.cache.put_instance(instance.clone());
        }
        Ok(changed.len())
    }

    /// Applies health-check verdicts in one durable batch: each `(id, healthy)` whose instance
    /// still exists, still has health checking on and is in the other state is flipped.
    /// Returns the instances that changed.
    pub async fn set_health(&self, verdicts: &[(String, bool)]) -> Result<Vec<Arc<Instance>>> {
        if verdicts.is_empty() {
            return Ok(Vec::new());
        }
        let _structure = self.structure.read().await;
        // Hold the stripe of every id (in stripe order, so concurrent callers cannot deadlock):
        // no registration of these instances can interleave with this batch.
        let mut stripes: Vec<usize> = verdicts.iter().map(|(id, _)| self.stripe_of(id)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut _guards = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            _guards.push(self.instance_locks[stripe].lock().await);
        }
        let now = now_millis();
        let snapshot = self.snapshot();
        let changed: Vec<Instance> = verdicts
            .iter()
            .filter_map(|(id, healthy)| {
                let current = snapshot.instance(id)?;
                (current.health_check.is_some() && current.healthy != *healthy).then(|| {
                    let mut flipped = Instance {
                        healthy: *healthy,
                        revision: Revision::new(),
                        mtime: now,
                        ..Instance::clone(current)
                    };
                    // As officially, a flip records when it happened for the SDKs to see.
                    flipped
                        .metadata
                        .insert(LAST_HEARTBEAT_KEY.to_string(), (now / 1000).to_string());
                    flipped
                })
            })
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        self.write(changed.iter().cloned().map(Mutation::PutInstance).collect())
            .await?;
        for instance in &changed {
            self.cache.put_instance(instance.clone());
        }
        Ok(changed.into_iter().map(Arc::new).collect())
    }

    /// Instances matching the filter, most recently modified first.
    pub fn list_instances(&self, filter: &InstanceFilter, page: Page) -> Paged<Arc<Instance>> {
        let by_service = !filter.service.is_empty()
            && !filter.namespace.is_empty()
            && !filter.service.contains('*')
            && !filter.namespace.contains('*');
        let snapshot = self.snapshot();
        let mut matching: Vec<Arc<Instance>> = if by_service {
            let key = ServiceKey::new(filter.namespace.clone(), filter.service.clone());
            match snapshot.service(&key) {
                Some(view) => view
                    .instances
                    .values()
                    .filter(|i| instance_matches(filter, i))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            }
        } else {
            snapshot
                .services
                .values()
                .flat_map(|v| v.instances.values())
                .filter(|i| instance_matches(filter, i))
                .cloned()
                .collect()
        };
        if !filter.visible.is_everything() {
            matching.retain(|i| filter.visible.service(&i.namespace, &i.service));
        }
        matching.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| b.id.cmp(&a.id)));
        page.apply(matching)
    }

    /// Number of instances in the registry.
    pub fn count_instances(&self) -> usize {
        self.snapshot().instance_owner.len()
    }

    /// Metadata keys and their distinct values over one service's instances (empty for an
    /// unknown service).
    pub fn instance_labels(&self, key: &ServiceKey) -> LabelValues {
        let mut labels = LabelValues::new();
        if let Some(view) = self.snapshot().service(key) {
            for instance in view.instances.values() {
                for (k, v) in &instance.metadata {
                    labels
                        .entry(k.to_string())
                        .or_default()
                        .insert(v.to_string());
                }
            }
        }
        labels
    }

    /// Checks that a heartbeat may be accepted and returns the instance it is for. `None` means
    /// an unknown instance whose beat is still tolerated (the official server accepts three
    /// before answering `NotFoundResource`). Recording the beat and flipping health belong to
    /// the health checker.
    pub fn heartbeat_target(&self, spec: &InstanceSpec) -> Result<Option<Arc<Instance>>> {
        validate_identity(spec)?;
        let id = spec.resolved_id();
        let Some(instance) = self.snapshot().instance(&id).cloned() else {
            return self.unknown_beat(id).map(|()| None);
        };
        if instance.health_check.is_none() {
            return Err(PolarisError::new(Code::HeartbeatOnDisabledIns, id));
        }
        Ok(Some(instance))
    }

    fn unknown_beat(&self, id: String) -> Result<()> {
        let mut beats = self.unknown_beats.lock();
        if beats.len() >= MAX_TRACKED_UNKNOWN_BEATS {
            beats.clear();
        }
        let count = beats.entry(id.clone()).or_insert(0);
        *count += 1;
        if *count > UNKNOWN_BEAT_ALLOWANCE {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("instance {id}"),
            ));
        }
        Ok(())
    }

    pub(crate) fn forget_unknown_beats(&self, id: &str) {
        let mut beats = self.unknown_beats.lock();
        if !beats.is_empty() {
            beats.remove(id);
        }
    }
}

/// Tracks heartbeats for instances the registry does not know.
pub(crate) type UnknownBeats = parking_lot::Mutex<HashMap<String, u32>>;

fn instance_matches(f: &InstanceFilter, i: &Instance) -> bool {
    let text = |pattern: &str, value: &str| pattern.is_empty() || matches_pattern(pattern, value);
    text(&f.id, &i.id)
        && text(&f.namespace, &i.namespace)
        && text(&f.service, &i.service)
        && (f.hosts.is_empty() || f.hosts.contains(&i.host))
        && f.port.is_none_or(|p| p == i.port)
        && f.weight.is_none_or(|w| w == i.weight)
        && (f.protocol.is_empty() || f.protocol == i.protocol)
        && (f.version.is_empty() || f.version == i.version)
        && f.healthy.is_none_or(|h| h == i.healthy)
        && f.isolate.is_none_or(|v| v == i.isolate)
        && (f.region.is_empty() || f.region == i.location.region)
        && (f.zone.is_empty() || f.zone == i.location.zone)
        && (f.campus.is_empty() || f.campus == i.location.campus)
        && f.metadata.iter().all(|(k, v)| i.metadata.get(k) == Some(v))
}
