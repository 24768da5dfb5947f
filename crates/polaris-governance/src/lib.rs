//! Governance rules: routing, rate limiting, circuit breaking, fault detection and lanes. The
//! domain keeps each rule's envelope (id, name, namespace, enable flag, priority, the services it
//! applies to, revision, times) and treats the rule body as opaque bytes that only protocol
//! adapters interpret. Writes are durable before they are visible; reads come from an immutable
//! snapshot. [`Governance::rules_for`] selects the enabled rules of one kind that apply to a
//! service (exactly or through `*` wildcards), in priority order, with a revision that changes
//! whenever any of them changes.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use imbl::OrdMap;
use polaris_store::{Mutation, NamingStore};
use polaris_types::validate::is_valid_name;
use polaris_types::{
    Code, Millis, PolarisError, Result, Rule, RuleKind, RuleTarget, ServiceKey, TargetRole,
    new_revision, new_uuid,
};
use tokio::sync::{Mutex, broadcast};

/// Longest rule name.
pub const MAX_RULE_NAME_LEN: usize = 64;
/// Most services one rule may name.
pub const MAX_TARGETS: usize = 1024;
/// Largest encoded rule body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A rule as a caller writes it. `id` is absent on create.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub kind: RuleKind,
    pub id: Option<String>,
    pub name: String,
    pub namespace: String,
    pub enable: bool,
    pub priority: u32,
    pub description: String,
    pub targets: Vec<RuleTarget>,
    pub body: Vec<u8>,
}

/// List filters. Empty strings match everything; `name` accepts a trailing `*`.
#[derive(Clone, Debug, Default)]
pub struct RuleFilter {
    pub id: String,
    pub name: String,
    pub namespace: String,
    /// A service the rule names (exactly, not through a wildcard).
    pub service: String,
    pub service_namespace: String,
    pub enable: Option<bool>,
}

/// The rules that apply to one service and their combined revision.
#[derive(Clone, Debug)]
pub struct Applicable {
    pub rules: Vec<Arc<Rule>>,
    /// Empty when no rule applies.
    pub revision: String,
}

/// Official codes per kind: (name taken, not found, invalid name).
fn codes(kind: RuleKind) -> (Code, Code, Code) {
    match kind {
        RuleKind::Routing => (
            Code::ExistedResource,
            Code::NotFoundRouting,
            Code::InvalidParameter,
        ),
        RuleKind::RateLimit => (
            Code::ExistedResource,
            Code::NotFoundRateLimit,
            Code::InvalidRateLimitName,
        ),
        RuleKind::CircuitBreaker => (
            Code::CircuitBreakerRuleExisted,
            Code::NotFoundCircuitBreaker,
            Code::InvalidCircuitBreakerName,
        ),
        RuleKind::FaultDetector => (
            Code::FaultDetectRuleExisted,
            Code::NotFoundResource,
            Code::InvalidFaultDetectName,
        ),
        RuleKind::Lane => (
            Code::ExistedResource,
            Code::NotFoundResource,
            Code::InvalidParameter,
        ),
    }
}

fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn validate(spec: &RuleSpec) -> Result<()> {
    let (_, _, invalid_name) = codes(spec.kind);
    let name_ok = !spec.name.is_empty()
        && spec.name.chars().count() <= MAX_RULE_NAME_LEN
        && !spec.name.chars().any(char::is_control);
    if !name_ok {
        return Err(PolarisError::new(
            invalid_name,
            format!("name must be 1 to {MAX_RULE_NAME_LEN} characters"),
        ));
    }
    if !(spec.namespace == "*" || is_valid_name(&spec.namespace, 64)) {
        return Err(PolarisError::new(
            Code::InvalidNamespaceName,
            "invalid rule namespace",
        ));
    }
    if spec.targets.len() > MAX_TARGETS {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            format!("at most {MAX_TARGETS} services per rule"),
        ));
    }
    for target in &spec.targets {
        let part_ok = |v: &str, max| v == "*" || is_valid_name(v, max);
        if !part_ok(&target.namespace, 64) || !part_ok(&target.service, 128) {
            return Err(PolarisError::new(
                Code::InvalidServiceName,
                "invalid service in rule",
            ));
        }
    }
    if spec.body.len() > MAX_BODY_BYTES {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "rule is too large",
        ));
    }
    Ok(())
}

/// The governance rule service.
pub struct Governance {
    store: Arc<dyn NamingStore>,
    rules: ArcSwap<OrdMap<(RuleKind, String), Arc<Rule>>>,
    writer: Mutex<()>,
    events: broadcast::Sender<RuleKind>,
}

impl Governance {
    /// Loads every stored rule.
    pub async fn open(store: Arc<dyn NamingStore>) -> Result<Governance> {
        let loaded = store.load_rules(0).await.map_err(store_error)?;
        let rules: OrdMap<_, _> = loaded
            .into_iter()
            .filter_map(|c| c.upserted())
            .map(|r| ((r.kind, r.id.clone()), Arc::new(r)))
            .collect();
        tracing::info!(target: "polaris_governance", rules = rules.len(), "governance rules loaded");
        Ok(Governance {
            store,
            rules: ArcSwap::from_pointee(rules),
            writer: Mutex::new(()),
            events: broadcast::channel(1024).0,
        })
    }

    /// Announces the kind of every rule change, after it is visible.
    pub fn subscribe(&self) -> broadcast::Receiver<RuleKind> {
        self.events.subscribe()
    }

    fn publish(
        &self,
        kind: RuleKind,
        change: impl FnOnce(&mut OrdMap<(RuleKind, String), Arc<Rule>>),
    ) {
        let mut next = OrdMap::clone(&self.rules.load());
        change(&mut next);
        self.rules.store(Arc::new(next));
        let _ = self.events.send(kind);
    }

    fn find_name(&self, kind: RuleKind, namespace: &str, name: &str) -> Option<Arc<Rule>> {
        self.rules
            .load()
            .values()
            .find(|r| r.kind == kind && r.namespace == namespace && r.name == name)
            .cloned()
    }

    /// Creates a rule with a fresh id; the name must be unused in its namespace.
    pub async fn create(&self, spec: RuleSpec) -> Result<Arc<Rule>> {
        validate(&spec)?;
        let (taken, _, _) = codes(spec.kind);
        let _writer = self.writer.lock().await;
        if self
            .find_name(spec.kind, &spec.namespace, &spec.name)
            .is_some()
        {
            return Err(PolarisError::new(
                taken,
                format!("rule {} exists", spec.name),
            ));
        }
        let now = now_millis();
        let rule = Rule {
            kind: spec.kind,
            id: spec.id.filter(|id| !id.is_empty()).unwrap_or_else(new_uuid),
            name: spec.name,
            namespace: spec.namespace,
            enable: spec.enable,
            priority: spec.priority,
            description: spec.description,
            targets: spec.targets,
            body: spec.body,
            revision: new_revision(),
            ctime: now,
            mtime: now,
        };
        if self
            .rules
            .load()
            .contains_key(&(rule.kind, rule.id.clone()))
        {
            return Err(PolarisError::new(
                taken,
                format!("rule id {} exists", rule.id),
            ));
        }
        self.store
            .apply(vec![Mutation::PutRule(rule.clone())])
            .await
            .map_err(store_error)?;
        let rule = Arc::new(rule);
        self.publish(rule.kind, |m| {
            m.insert((rule.kind, rule.id.clone()), rule.clone());
        });
        Ok(rule)
    }

    /// Replaces the rule with the spec's id, keeping its creation time.
    pub async fn update(&self, spec: RuleSpec) -> Result<Arc<Rule>> {
        validate(&spec)?;
        let (taken, not_found, _) = codes(spec.kind);
        let _writer = self.writer.lock().await;
        let id = spec.id.clone().unwrap_or_default();
        let Some(current) = self.rules.load().get(&(spec.kind, id.clone())).cloned() else {
            return Err(PolarisError::new(not_found, format!("rule {id}")));
        };
        if let Some(other) = self.find_name(spec.kind, &spec.namespace, &spec.name)
            && other.id != id
        {
            return Err(PolarisError::new(
                taken,
                format!("rule {} exists", spec.name),
            ));
        }
        let rule = Rule {
            kind: spec.kind,
            id,
            name: spec.name,
            namespace: spec.namespace,
            enable: spec.enable,
            priority: spec.priority,
            description: spec.description,
            targets: spec.targets,
            body: spec.body,
            revision: new_revision(),
            ctime: current.ctime,
            mtime: now_millis(),
        };
        self.store
            .apply(vec![Mutation::PutRule(rule.clone())])
            .await
            .map_err(store_error)?;
        let rule = Arc::new(rule);
        self.publish(rule.kind, |m| {
            m.insert((rule.kind, rule.id.clone()), rule.clone());
        });
        Ok(rule)
    }

    /// Turns a rule on or off.
    pub async fn enable(&self, kind: RuleKind, id: &str, enable: bool) -> Result<Arc<Rule>> {
        let (_, not_found, _) = codes(kind);
        let _writer = self.writer.lock().await;
        let Some(current) = self.rules.load().get(&(kind, id.to_string())).cloned() else {
            return Err(PolarisError::new(not_found, format!("rule {id}")));
        };
        let rule = Rule {
            enable,
            revision: new_revision(),
            mtime: now_millis(),
            ..Rule::clone(&current)
        };
        self.store
            .apply(vec![Mutation::PutRule(rule.clone())])
            .await
            .map_err(store_error)?;
        let rule = Arc::new(rule);
        self.publish(kind, |m| {
            m.insert((kind, rule.id.clone()), rule.clone());
        });
        Ok(rule)
    }

    /// Deletes a rule; `not found` when there is none.
    pub async fn delete(&self, kind: RuleKind, id: &str) -> Result<()> {
        let (_, not_found, _) = codes(kind);
        let _writer = self.writer.lock().await;
        if !self.rules.load().contains_key(&(kind, id.to_string())) {
            return Err(PolarisError::new(not_found, format!("rule {id}")));
        }
        let mutation = Mutation::DeleteRule {
            kind,
            id: id.to_string(),
            mtime: now_millis(),
        };
        self.store
            .apply(vec![mutation])
            .await
            .map_err(store_error)?;
        self.publish(kind, |m| {
            m.remove(&(kind, id.to_string()));
        });
        Ok(())
    }

    /// A rule by id.
    pub fn get(&self, kind: RuleKind, id: &str) -> Option<Arc<Rule>> {
        self.rules.load().get(&(kind, id.to_string())).cloned()
    }

    /// Rules of a kind matching the filter, most recently modified first.
    pub fn list(&self, kind: RuleKind, filter: &RuleFilter) -> Vec<Arc<Rule>> {
        let snapshot = self.rules.load();
        let mut matching: Vec<_> = snapshot
            .values()
            .filter(|r| r.kind == kind && matches(filter, r))
            .cloned()
            .collect();
        matching.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.id.cmp(&b.id)));
        matching
    }

    /// The enabled rules of `kind` that apply to `key` in `role` (any role when `None`), by
    /// priority, with their combined revision.
    pub fn rules_for(
        &self,
        kind: RuleKind,
        key: &ServiceKey,
        role: Option<TargetRole>,
    ) -> Applicable {
        let snapshot = self.rules.load();
        let mut rules: Vec<Arc<Rule>> = snapshot
            .values()
            .filter(|r| r.kind == kind && r.enable)
            .filter(|r| {
                r.targets
                    .iter()
                    .any(|t| role.is_none_or(|role| t.role == role) && t.matches(key))
            })
            .cloned()
            .collect();
        rules.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.ctime.cmp(&b.ctime))
                .then_with(|| a.id.cmp(&b.id))
        });
        let revision = if rules.is_empty() {
            String::new()
        } else {
            let mut hasher = DefaultHasher::new();
            for rule in &rules {
                (&rule.id, &rule.revision).hash(&mut hasher);
            }
            format!("{:016x}", hasher.finish())
        };
        Applicable { rules, revision }
    }
}

fn matches(f: &RuleFilter, r: &Rule) -> bool {
    let name_ok = match f.name.strip_suffix('*') {
        Some(prefix) => r.name.starts_with(prefix),
        None => f.name.is_empty() || f.name == r.name,
    };
    name_ok
        && (f.id.is_empty() || f.id == r.id)
        && (f.namespace.is_empty() || f.namespace == r.namespace)
        && f.enable.is_none_or(|e| e == r.enable)
        && (f.service.is_empty()
            || r.targets.iter().any(|t| {
                t.service == f.service
                    && (f.service_namespace.is_empty() || t.namespace == f.service_namespace)
            }))
}

fn store_error(err: polaris_store::StoreError) -> PolarisError {
    tracing::error!(target: "polaris_governance", error = %err, "store operation failed");
    PolarisError::new(Code::StoreLayerException, err.to_string())
}

#[cfg(test)]
mod tests;
