//! Strategies: which principals (users, groups) may read or read-write which resources.
//! Every user and group has one default strategy, created and deleted with it, whose
//! principals cannot change.

use std::collections::BTreeSet;

use polaris_store::Mutation;
use polaris_types::{
    AuthAction, Code, Millis, PolarisError, ResourceKind, Result, Strategy, StrategyResource,
    UserRole,
};

use crate::check::{PrincipalKind, grants, main_account};
use crate::users::check_name;
use crate::{Auth, AuthState, Operator, ResourceRef, new_id, now_millis};

/// Resources to grant or revoke.
pub type ResourceSet = BTreeSet<StrategyResource>;

/// A strategy to create.
#[derive(Clone, Debug)]
pub struct StrategySpec {
    pub name: String,
    pub comment: String,
    pub action: AuthAction,
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub resources: ResourceSet,
}

/// Changes to a strategy; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct StrategyUpdate {
    pub id: String,
    pub comment: Option<String>,
    pub action: Option<AuthAction>,
    pub add_users: BTreeSet<String>,
    pub add_groups: BTreeSet<String>,
    pub remove_users: BTreeSet<String>,
    pub remove_groups: BTreeSet<String>,
    pub add_resources: ResourceSet,
    pub remove_resources: ResourceSet,
}

/// `*` for namespaces, services and config groups: everything.
pub(crate) fn everything() -> ResourceSet {
    [
        ResourceKind::Namespace,
        ResourceKind::Service,
        ResourceKind::ConfigGroup,
    ]
    .into_iter()
    .map(|kind| StrategyResource {
        kind,
        id: "*".to_string(),
        namespace: String::new(),
        name: String::new(),
    })
    .collect()
}

/// The default strategy of a new user or group, named as the official server names it.
pub(crate) fn default_strategy_for(
    id: String,
    principal_name: &str,
    action: AuthAction,
    kind: PrincipalKind,
    principal_id: &str,
    owner: &str,
    now: Millis,
) -> Strategy {
    let (name, users, groups) = match kind {
        PrincipalKind::User => (
            format!("(用户) {principal_name}的默认策略"),
            BTreeSet::from([principal_id.to_string()]),
            BTreeSet::new(),
        ),
        PrincipalKind::Group => (
            format!("(用户组) {principal_name}的默认策略"),
            BTreeSet::new(),
            BTreeSet::from([principal_id.to_string()]),
        ),
    };
    Strategy {
        id,
        name,
        users,
        groups,
        resources: BTreeSet::new(),
        action,
        comment: String::new(),
        owner: owner.to_string(),
        default_strategy: true,
        source: "Polaris".to_string(),
        ctime: now,
        mtime: now,
    }
}

/// The writes that remove a deleted principal from every strategy (its default one goes).
pub(crate) fn forget_principal(state: &AuthState, kind: PrincipalKind, id: &str) -> Vec<Mutation> {
    let mut batch = Vec::new();
    for strategy in state.strategies.values() {
        let member = match kind {
            PrincipalKind::User => strategy.users.contains(id),
            PrincipalKind::Group => strategy.groups.contains(id),
        };
        if !member {
            continue;
        }
        if strategy.default_strategy {
            batch.push(Mutation::DeleteStrategy {
                id: strategy.id.clone(),
            });
        } else {
            let mut strategy = strategy.clone();
            strategy.users.remove(id);
            strategy.groups.remove(id);
            batch.push(Mutation::PutStrategy(strategy));
        }
    }
    batch
}

/// Whether `operator` may see `strategy`: main accounts and admins see all of their tenant,
/// others the strategies that apply to them.
fn can_see(state: &AuthState, operator: &Operator, strategy: &Strategy) -> bool {
    match operator {
        Operator::Unchecked => true,
        Operator::User { role, .. } if *role != UserRole::Sub => true,
        Operator::User { id, .. } => {
            strategy.users.contains(id)
                || state
                    .memberships
                    .get(id)
                    .is_some_and(|groups| groups.iter().any(|g| strategy.groups.contains(g)))
        }
        Operator::Group { id, .. } => strategy.groups.contains(id),
        Operator::Anonymous => false,
    }
}

fn check_principals(
    state: &AuthState,
    users: &BTreeSet<String>,
    groups: &BTreeSet<String>,
) -> Result<()> {
    if let Some(missing) = users.iter().find(|u| !state.users.contains_key(*u)) {
        return Err(PolarisError::new(Code::NotFoundUser, missing.clone()));
    }
    if let Some(missing) = groups.iter().find(|g| !state.groups.contains_key(*g)) {
        return Err(PolarisError::new(Code::NotFoundUserGroup, missing.clone()));
    }
    Ok(())
}

impl Auth {
    /// Creates a strategy owned by the operator's main account.
    pub async fn create_strategy(
        &self,
        operator: &Operator,
        spec: StrategySpec,
    ) -> Result<Strategy> {
        let owner = main_account(operator, "strategies")?;
        check_name(&spec.name, Code::InvalidAuthStrategyName)?;
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        if state
            .strategies
            .values()
            .any(|s| s.owner == owner && s.name == spec.name)
        {
            return Err(PolarisError::new(Code::AuthStrategyRuleExisted, spec.name));
        }
        check_principals(&state, &spec.users, &spec.groups)?;
        let now = now_millis();
        let strategy = Strategy {
            id: new_id(),
            name: spec.name,
            users: spec.users,
            groups: spec.groups,
            resources: spec.resources,
            action: spec.action,
            comment: spec.comment,
            owner,
            default_strategy: false,
            source: "Polaris".to_string(),
            ctime: now,
            mtime: now,
        };
        self.commit(vec![Mutation::PutStrategy(strategy.clone())])
            .await?;
        Ok(strategy)
    }

    /// The strategy `id`, if the operator may see it.
    pub fn strategy(&self, operator: &Operator, id: &str) -> Result<Strategy> {
        let state = self.state.load();
        let strategy = state
            .strategies
            .get(id)
            .ok_or_else(|| PolarisError::new(Code::NotFoundAuthStrategyRule, id))?;
        if !can_see(&state, operator, strategy) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        Ok(strategy.clone())
    }

    /// Every strategy the operator may see, in name order.
    pub fn strategies(&self, operator: &Operator) -> Vec<Strategy> {
        let state = self.state.load();
        let mut all: Vec<Strategy> = state
            .strategies
            .values()
            .filter(|s| can_see(&state, operator, s))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    /// Applies `update`. The principals of a default strategy cannot change (400508).
    pub async fn update_strategy(
        &self,
        operator: &Operator,
        update: StrategyUpdate,
    ) -> Result<Strategy> {
        main_account(operator, "strategies")?;
        let _guard = self.writer.lock().await;
        let mut strategy = self.strategy(operator, &update.id)?;
        let changes_principals = !(update.add_users.is_empty()
            && update.add_groups.is_empty()
            && update.remove_users.is_empty()
            && update.remove_groups.is_empty());
        if strategy.default_strategy && changes_principals {
            return Err(PolarisError::new(
                Code::NotAllowModifyDefaultStrategyPrincipal,
                "",
            ));
        }
        check_principals(&self.state.load(), &update.add_users, &update.add_groups)?;
        let before = strategy.clone();
        if let Some(comment) = update.comment {
            strategy.comment = comment;
        }
        if let Some(action) = update.action {
            strategy.action = action;
        }
        strategy.users.extend(update.add_users);
        strategy.users.retain(|u| !update.remove_users.contains(u));
        strategy.groups.extend(update.add_groups);
        strategy
            .groups
            .retain(|g| !update.remove_groups.contains(g));
        strategy.resources.extend(update.add_resources);
        strategy
            .resources
            .retain(|r| !update.remove_resources.contains(r));
        if strategy == before {
            return Err(PolarisError::new(Code::NoNeedUpdate, ""));
        }
        strategy.mtime = now_millis();
        self.commit(vec![Mutation::PutStrategy(strategy.clone())])
            .await?;
        Ok(strategy)
    }

    /// Deletes a strategy; unknown ids succeed, default strategies cannot be deleted.
    pub async fn delete_strategy(&self, operator: &Operator, id: &str) -> Result<()> {
        main_account(operator, "strategies")?;
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        let Some(strategy) = state.strategies.get(id) else {
            return Ok(());
        };
        if strategy.default_strategy {
            return Err(PolarisError::new(
                Code::BadRequest,
                "default strategy can't delete",
            ));
        }
        self.commit(vec![Mutation::DeleteStrategy { id: id.to_string() }])
            .await
    }

    /// The resources every strategy of a principal (a user also through its groups) names.
    pub fn principal_resources(
        &self,
        operator: &Operator,
        principal_id: &str,
        group: bool,
    ) -> Result<ResourceSet> {
        let state = self.state.load();
        let subject = if group {
            let g = state
                .groups
                .get(principal_id)
                .ok_or_else(|| PolarisError::new(Code::NotFoundUserGroup, principal_id))?;
            Operator::Group {
                id: g.id.clone(),
                name: g.name.clone(),
                owner_id: g.owner.clone(),
            }
        } else {
            let u = state
                .users
                .get(principal_id)
                .ok_or_else(|| PolarisError::new(Code::NotFoundUser, principal_id))?;
            if !crate::users::can_manage_user(operator, u) {
                return Err(PolarisError::new(Code::NotAllowedAccess, ""));
            }
            Operator::User {
                id: u.id.clone(),
                name: u.name.clone(),
                role: UserRole::Sub,
                owner_id: u.owner.clone(),
            }
        };
        Ok(state
            .strategies
            .values()
            .filter(|s| can_see(&state, &subject, s))
            .flat_map(|s| s.resources.iter().cloned())
            .collect())
    }

    /// Adds a resource the operator just created to its default strategy, so that a sub
    /// account (or group) can keep using what it made.
    pub async fn grant_creator(&self, operator: &Operator, resource: ResourceRef) -> Result<()> {
        let principal = match operator {
            Operator::User {
                id,
                role: UserRole::Sub,
                ..
            }
            | Operator::Group { id, .. } => id,
            _ => return Ok(()),
        };
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        let Some(mut strategy) = state.default_strategy_of(principal).cloned() else {
            return Ok(());
        };
        if grants(&strategy, &resource) {
            return Ok(());
        }
        let entry = match resource.kind {
            ResourceKind::Namespace => StrategyResource {
                kind: ResourceKind::Namespace,
                id: resource.namespace,
                namespace: String::new(),
                name: String::new(),
            },
            kind => StrategyResource {
                kind,
                id: String::new(),
                namespace: resource.namespace,
                name: resource.name,
            },
        };
        strategy.resources.insert(entry);
        strategy.mtime = now_millis();
        self.commit(vec![Mutation::PutStrategy(strategy)]).await
    }
}
