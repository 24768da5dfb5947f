//! Governance rules: routing, rate limiting, circuit breaking, fault detection and lanes. The
//! domain keeps each rule's envelope (id, name, namespace, enable flag, priority, the services it
//! applies to, revision, times) and treats the rule body as opaque bytes that only protocol
//! adapters interpret. Writes are durable before they are visible; reads come from an immutable
//! snapshot. [`Governance::rules_for`] selects the enabled rules of one kind that apply to a
//! service (exactly or through `*` wildcards), in priority order, with a revision that changes
//! whenever any of them changes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use imbl::OrdMap;
use polaris_store::{Mutation, NamingStore};
use polaris_types::validate::is_valid_name;
use polaris_types::{
    Code, Millis, PolarisError, Result, Rule, RuleKind, ServiceKey, TargetRole, new_revision,
    new_uuid,
};
use sha1::{Digest, Sha1};

mod follow;
use tokio::sync::{Mutex, broadcast};

/// Longest rule name.
pub const MAX_RULE_NAME_LEN: usize = 64;
/// Most services one rule may name.
pub const MAX_TARGETS: usize = 1024;
/// Largest encoded rule body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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
    /// What the caller may see: rules of visible namespaces.
    pub visible: polaris_types::Visible,
}

/// The rules that apply to one service and their combined revision.
#[derive(Clone, Debug)]
pub struct Applicable {
    pub rules: Vec<Arc<Rule>>,
    /// Empty when no rule applies.
    pub revision: String,
}

/// The official codes of one kind: for a name used twice in a namespace (`None` when names
/// need not be unique), for an unknown id, and for an overlong name.
struct KindCodes {
    duplicate: Option<Code>,
    not_found: Code,
    long_name: Code,
}

fn codes(kind: RuleKind) -> KindCodes {
    let (duplicate, not_found, long_name) = match kind {
        RuleKind::Routing => (None, Code::NotFoundRouting, Code::InvalidRoutingName),
        RuleKind::RateLimit => (None, Code::NotFoundRateLimit, Code::InvalidRateLimitName),
        RuleKind::CircuitBreaker => (
            Some(Code::ServiceExistedCircuitBreakers),
            Code::NotFoundCircuitBreaker,
            Code::InvalidCircuitBreakerName,
        ),
        RuleKind::FaultDetector => (
            Some(Code::FaultDetectRuleExisted),
            Code::NotFoundResource,
            Code::InvalidRateLimitName,
        ),
        RuleKind::Lane => (
            Some(Code::ExistedResource),
            Code::NotFoundResource,
            Code::InvalidParameter,
        ),
    };
    KindCodes {
        duplicate,
        not_found,
        long_name,
    }
}

fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn validate(spec: &Rule) -> Result<()> {
    let name_ok =
        spec.name.chars().count() <= MAX_RULE_NAME_LEN && !spec.name.chars().any(char::is_control);
    if !name_ok {
        return Err(PolarisError::new(
            codes(spec.kind).long_name,
            format!(
                "name must be at most {MAX_RULE_NAME_LEN} characters, without control characters"
            ),
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
        let loaded = store.load_rules(0).await.map_err(PolarisError::from)?;
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

    /// Creates a rule with a fresh id (a client id is kept; an existing rule with that id is
    /// replaced, as the official server does for routing rules). For kinds whose names are
    /// unique, the name must be unused in its namespace.
    pub async fn create(&self, spec: Rule) -> Result<Arc<Rule>> {
        self.write_rule(spec, false).await
    }

    /// Replaces the rule with the spec's id, keeping its creation time.
    pub async fn update(&self, spec: Rule) -> Result<Arc<Rule>> {
        self.write_rule(spec, true).await
    }

    /// Stores `spec` as written, with its revision and times set here and, on create, an id
    /// when it has none.
    async fn write_rule(&self, spec: Rule, must_exist: bool) -> Result<Arc<Rule>> {
        validate(&spec)?;
        let kind_codes = codes(spec.kind);
        let _writer = self.writer.lock().await;
        let id = match spec.id.as_str() {
            id if !id.is_empty() => id.to_string(),
            _ if must_exist => {
                return Err(PolarisError::new(
                    kind_codes.not_found,
                    "rule id is required",
                ));
            }
            _ => new_uuid(),
        };
        let current = self.rules.load().get(&(spec.kind, id.clone())).cloned();
        if must_exist && current.is_none() {
            return Err(PolarisError::new(
                kind_codes.not_found,
                format!("rule {id}"),
            ));
        }
        if let Some(taken) = kind_codes.duplicate
            && let Some(other) = self.find_name(spec.kind, &spec.namespace, &spec.name)
            && other.id != id
        {
            return Err(PolarisError::new(
                taken,
                format!("rule {} exists", spec.name),
            ));
        }
        let now = now_millis();
        let rule = Rule {
            id,
            revision: new_revision(),
            ctime: current.map_or(now, |c| c.ctime),
            mtime: now,
            ..spec
        };
        self.store
            .apply(vec![Mutation::PutRule(rule.clone())])
            .await
            .map_err(PolarisError::from)?;
        let rule = Arc::new(rule);
        self.publish(rule.kind, |m| {
            m.insert((rule.kind, rule.id.clone()), rule.clone());
        });
        Ok(rule)
    }

    /// Turns a rule on or off.
    pub async fn enable(&self, kind: RuleKind, id: &str, enable: bool) -> Result<Arc<Rule>> {
        let _writer = self.writer.lock().await;
        let Some(current) = self.rules.load().get(&(kind, id.to_string())).cloned() else {
            return Err(PolarisError::new(
                codes(kind).not_found,
                format!("rule {id}"),
            ));
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
            .map_err(PolarisError::from)?;
        let rule = Arc::new(rule);
        self.publish(kind, |m| {
            m.insert((kind, rule.id.clone()), rule.clone());
        });
        Ok(rule)
    }

    /// Deletes a rule. Deleting an unknown rule succeeds, as officially.
    pub async fn delete(&self, kind: RuleKind, id: &str) -> Result<()> {
        let _writer = self.writer.lock().await;
        if !self.rules.load().contains_key(&(kind, id.to_string())) {
            return Ok(());
        }
        let mutation = Mutation::DeleteRule {
            kind,
            id: id.to_string(),
            mtime: now_millis(),
        };
        self.store
            .apply(vec![mutation])
            .await
            .map_err(PolarisError::from)?;
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
            .filter(|r| r.namespace.is_empty() || filter.visible.namespace(&r.namespace))
            .cloned()
            .collect();
        matching.sort_by(|a, b| b.mtime.cmp(&a.mtime).then_with(|| a.id.cmp(&b.id)));
        matching
    }

    /// The rules of `kind` that apply to `key` in `role` (any role when `None`), by priority,
    /// with their combined revision. Disabled rules are left out, except for the kinds that the
    /// official server delivers flagged for the SDK to skip ([`delivers_disabled`]).
    pub fn rules_for(
        &self,
        kind: RuleKind,
        key: &ServiceKey,
        role: Option<TargetRole>,
    ) -> Applicable {
        let snapshot = self.rules.load();
        let mut rules: Vec<Arc<Rule>> = snapshot
            .values()
            .filter(|r| r.kind == kind && (r.enable || delivers_disabled(kind)))
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
        let revision = match kind {
            // These kinds hash even a single rule's revision, as the official server does.
            RuleKind::RateLimit | RuleKind::CircuitBreaker | RuleKind::FaultDetector
                if !rules.is_empty() =>
            {
                hashed_revision(&rules)
            }
            _ => combined_revision(&rules),
        };
        Applicable { rules, revision }
    }
}

/// The revision of a set of rules as the official server computes it: a single rule's own
/// revision, else the hex SHA-1 of the sorted revisions concatenated; empty for no rules.
pub fn combined_revision(rules: &[Arc<Rule>]) -> String {
    match rules {
        [] => String::new(),
        [only] => only.revision.clone(),
        many => hashed_revision(many),
    }
}

/// The lowercase hex SHA-1 of the rules' revisions, sorted and concatenated.
fn hashed_revision(rules: &[Arc<Rule>]) -> String {
    let mut revisions: Vec<&str> = rules.iter().map(|r| r.revision.as_str()).collect();
    revisions.sort_unstable();
    let mut hasher = Sha1::new();
    for revision in revisions {
        hasher.update(revision.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether discovery delivers disabled rules of `kind`: rate limits (flagged `disable`) and
/// circuit breakers (flagged `enable: false`) are delivered and the SDKs skip them; routing and
/// lane rules are left out when disabled.
pub fn delivers_disabled(kind: RuleKind) -> bool {
    matches!(kind, RuleKind::RateLimit | RuleKind::CircuitBreaker)
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

#[cfg(test)]
mod tests;
