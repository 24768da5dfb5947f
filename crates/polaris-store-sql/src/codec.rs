//! Records to rows and back. A row holds the columns of its [`Table`] in order: key, data, then
//! `flag`, the two times and `seq`. Encoders yield the key and data values; the writer appends
//! the tail. Nested collections are JSON arrays of tuples (the domain types carry no serde).

use std::collections::BTreeSet;

use polaris_store::{Change, StoreError, StoreResult};
use polaris_types::{
    AuthAction, ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate,
    ContractInterface, GrayLabel, HealthCheck, Instance, Location, Millis, Namespace,
    ReleaseHistory, ReleaseKind, ResourceKind, Rule, RuleKind, RuleTarget, Service,
    ServiceContract, ServiceKey, Strategy, StrategyResource, TargetRole, User, UserGroup, UserRole,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::schema::{Table, Ty};

/// One bound value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// The value a tombstone row holds in a data column of type `ty`.
    pub fn empty(ty: Ty) -> Value {
        match ty {
            Ty::Int | Ty::Big => Value::Int(0),
            Ty::Blob => Value::Bytes(Vec::new()),
            Ty::Str(_) | Ty::Text => Value::Text(String::new()),
        }
    }
}

fn s(value: &str) -> Value {
    Value::Text(value.to_string())
}

fn n(value: impl Into<i64>) -> Value {
    Value::Int(value.into())
}

fn b(value: bool) -> Value {
    Value::Int(i64::from(value))
}

fn u(value: u64) -> Value {
    Value::Int(value as i64)
}

fn json(value: &impl Serialize) -> Value {
    Value::Text(serde_json::to_string(value).expect("plain data serializes"))
}

/// Reads a row's columns in order.
pub(crate) struct Cursor<'r> {
    row: &'r AnyRow,
    at: usize,
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

impl<'r> Cursor<'r> {
    pub fn new(row: &'r AnyRow) -> Self {
        Cursor { row, at: 0 }
    }

    fn next<T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(&mut self) -> StoreResult<T> {
        self.at += 1;
        self.row.try_get(self.at - 1).map_err(corrupt)
    }

    pub fn text(&mut self) -> StoreResult<String> {
        self.next()
    }

    fn int(&mut self) -> StoreResult<i64> {
        self.next()
    }

    fn u32(&mut self) -> StoreResult<u32> {
        u32::try_from(self.int()?).map_err(corrupt)
    }

    fn u64(&mut self) -> StoreResult<u64> {
        u64::try_from(self.int()?).map_err(corrupt)
    }

    fn bool(&mut self) -> StoreResult<bool> {
        Ok(self.int()? != 0)
    }

    fn bytes(&mut self) -> StoreResult<Vec<u8>> {
        self.next()
    }

    fn json<T: DeserializeOwned>(&mut self) -> StoreResult<T> {
        serde_json::from_str(&self.text()?).map_err(corrupt)
    }

    /// `(ctime, mtime)`, skipping the flag before them.
    fn times(&mut self) -> StoreResult<(Millis, Millis)> {
        self.at += 1;
        Ok((self.int()?, self.int()?))
    }
}

/// Decodes a loaded row: a tombstone (flag 1) yields its key and mtime, a live row its record.
pub(crate) fn change<T, K>(
    table: &Table,
    row: &AnyRow,
    key: impl Fn(&mut Cursor) -> StoreResult<K>,
    record: impl Fn(&mut Cursor) -> StoreResult<T>,
) -> StoreResult<Change<T, K>> {
    let flag_at = table.key.len() + table.data.len();
    let flag: i64 = row.try_get(flag_at).map_err(corrupt)?;
    if flag != 0 {
        let mtime = row.try_get(flag_at + 2).map_err(corrupt)?;
        return Ok(Change::Deleted {
            key: key(&mut Cursor::new(row))?,
            mtime,
        });
    }
    Ok(Change::Upsert(record(&mut Cursor::new(row))?))
}

/// Key and data values of a record, with its times.
pub(crate) struct Encoded {
    pub values: Vec<Value>,
    pub ctime: Millis,
    pub mtime: Millis,
}

pub(crate) fn namespace(ns: &Namespace) -> Encoded {
    Encoded {
        values: vec![
            s(&ns.name),
            s(&ns.comment),
            s(&ns.token),
            s(&ns.owners),
            json(&ns.service_export_to),
        ],
        ctime: ns.ctime,
        mtime: ns.mtime,
    }
}

pub(crate) fn decode_namespace(c: &mut Cursor) -> StoreResult<Namespace> {
    let name = c.text()?;
    let (comment, token, owners) = (c.text()?, c.text()?, c.text()?);
    let service_export_to = c.json()?;
    let (ctime, mtime) = c.times()?;
    Ok(Namespace {
        name,
        comment,
        owners,
        token,
        service_export_to,
        ctime,
        mtime,
    })
}

pub(crate) fn decode_service_key(c: &mut Cursor) -> StoreResult<ServiceKey> {
    Ok(ServiceKey::new(c.text()?, c.text()?))
}

pub(crate) fn service(svc: &Service) -> Encoded {
    let reference = svc
        .reference
        .as_ref()
        .map(|k| (k.namespace.as_str(), k.name.as_str()));
    Encoded {
        values: vec![
            s(&svc.namespace),
            s(&svc.name),
            s(&svc.id),
            s(&svc.ports),
            s(&svc.business),
            s(&svc.department),
            s(&svc.cmdb_mod1),
            s(&svc.cmdb_mod2),
            s(&svc.cmdb_mod3),
            s(&svc.comment),
            s(&svc.token),
            s(&svc.owners),
            s(&svc.platform_id),
            json(&svc.export_to),
            json(&reference),
            json(&svc.metadata),
        ],
        ctime: svc.ctime,
        mtime: svc.mtime,
    }
}

pub(crate) fn decode_service(c: &mut Cursor) -> StoreResult<Service> {
    let key = decode_service_key(c)?;
    let id = c.text()?;
    let ports = c.text()?;
    let (business, department) = (c.text()?, c.text()?);
    let (cmdb_mod1, cmdb_mod2, cmdb_mod3) = (c.text()?, c.text()?, c.text()?);
    let (comment, token, owners, platform_id) = (c.text()?, c.text()?, c.text()?, c.text()?);
    let export_to = c.json()?;
    let reference: Option<(String, String)> = c.json()?;
    let metadata = c.json()?;
    let (ctime, mtime) = c.times()?;
    Ok(Service {
        id,
        namespace: key.namespace,
        name: key.name,
        metadata,
        ports,
        business,
        department,
        cmdb_mod1,
        cmdb_mod2,
        cmdb_mod3,
        comment,
        owners,
        token,
        platform_id,
        export_to,
        reference: reference.map(|(ns, name)| ServiceKey::new(ns, name)),
        ctime,
        mtime,
    })
}

pub(crate) fn instance(ins: &Instance) -> Encoded {
    let ttl = ins.health_check.map_or(0, |h| h.ttl_secs);
    Encoded {
        values: vec![
            s(&ins.id),
            s(&ins.namespace),
            s(&ins.service),
            s(&ins.vpc_id),
            s(&ins.host),
            n(ins.port),
            s(&ins.protocol),
            s(&ins.version),
            b(ins.healthy),
            b(ins.isolate),
            n(ins.weight),
            b(ins.health_check.is_some()),
            n(ttl),
            s(&ins.logic_set),
            s(&ins.location.region),
            s(&ins.location.zone),
            s(&ins.location.campus),
            n(ins.priority),
            s(&ins.revision),
            json(&ins.metadata),
        ],
        ctime: ins.ctime,
        mtime: ins.mtime,
    }
}

pub(crate) fn decode_instance(c: &mut Cursor) -> StoreResult<Instance> {
    let (id, namespace, service, vpc_id, host) =
        (c.text()?, c.text()?, c.text()?, c.text()?, c.text()?);
    let port = c.u32()?;
    let (protocol, version) = (c.text()?, c.text()?);
    let (healthy, isolate, weight) = (c.bool()?, c.bool()?, c.u32()?);
    let (checked, ttl_secs) = (c.bool()?, c.u32()?);
    let logic_set = c.text()?;
    let location = Location {
        region: c.text()?,
        zone: c.text()?,
        campus: c.text()?,
    };
    let priority = c.u32()?;
    let revision = c.text()?;
    let metadata = c.json()?;
    let (ctime, mtime) = c.times()?;
    Ok(Instance {
        id,
        namespace,
        service,
        vpc_id,
        host,
        port,
        protocol,
        version,
        priority,
        weight,
        health_check: checked.then_some(HealthCheck { ttl_secs }),
        healthy,
        isolate,
        location,
        metadata,
        logic_set,
        revision,
        ctime,
        mtime,
    })
}

fn role_name(role: TargetRole) -> &'static str {
    match role {
        TargetRole::Caller => "caller",
        TargetRole::Callee => "callee",
    }
}

pub(crate) fn rule(rule: &Rule) -> Encoded {
    let targets: Vec<(&str, &str, &str)> = rule
        .targets
        .iter()
        .map(|t| (t.namespace.as_str(), t.service.as_str(), role_name(t.role)))
        .collect();
    Encoded {
        values: vec![
            s(&rule.id),
            s(&rule.name),
            s(&rule.namespace),
            b(rule.enable),
            n(rule.priority),
            s(&rule.description),
            json(&targets),
            Value::Bytes(rule.body.clone()),
            s(&rule.revision),
        ],
        ctime: rule.ctime,
        mtime: rule.mtime,
    }
}

pub(crate) fn decode_rule(kind: RuleKind, c: &mut Cursor) -> StoreResult<Rule> {
    let (id, name, namespace) = (c.text()?, c.text()?, c.text()?);
    let (enable, priority, description) = (c.bool()?, c.u32()?, c.text()?);
    let targets: Vec<(String, String, String)> = c.json()?;
    let targets = targets
        .into_iter()
        .map(|(namespace, service, role)| {
            let role = match role.as_str() {
                "caller" => TargetRole::Caller,
                "callee" => TargetRole::Callee,
                other => return Err(corrupt(format!("rule target role {other:?}"))),
            };
            Ok(RuleTarget {
                namespace,
                service,
                role,
            })
        })
        .collect::<StoreResult<_>>()?;
    let (body, revision) = (c.bytes()?, c.text()?);
    let (ctime, mtime) = c.times()?;
    Ok(Rule {
        kind,
        id,
        name,
        namespace,
        enable,
        priority,
        description,
        targets,
        body,
        revision,
        ctime,
        mtime,
    })
}

pub(crate) fn config_group(g: &ConfigGroup) -> Encoded {
    Encoded {
        values: vec![
            s(&g.namespace),
            s(&g.name),
            u(g.id),
            s(&g.comment),
            s(&g.owners),
            s(&g.business),
            s(&g.department),
            json(&g.metadata),
        ],
        ctime: g.ctime,
        mtime: g.mtime,
    }
}

pub(crate) fn decode_config_group(c: &mut Cursor) -> StoreResult<ConfigGroup> {
    let (namespace, name, id) = (c.text()?, c.text()?, c.u64()?);
    let (comment, owners, business, department) = (c.text()?, c.text()?, c.text()?, c.text()?);
    let metadata = c.json()?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigGroup {
        id,
        namespace,
        name,
        comment,
        owners,
        business,
        department,
        metadata,
        ctime,
        mtime,
    })
}

pub(crate) fn decode_file_key(c: &mut Cursor) -> StoreResult<ConfigFileKey> {
    Ok(ConfigFileKey::new(c.text()?, c.text()?, c.text()?))
}

fn file_key(key: &ConfigFileKey) -> [Value; 3] {
    [s(&key.namespace), s(&key.group), s(&key.name)]
}

/// The columns config files and releases share, in schema order.
struct FileBody<'a> {
    format: &'a str,
    comment: &'a str,
    tags: &'a [(String, String)],
    encrypted: bool,
    encrypt_algo: &'a str,
    data_key: &'a str,
    content: &'a str,
}

impl FileBody<'_> {
    fn values(&self) -> [Value; 7] {
        [
            s(self.format),
            s(self.comment),
            json(&self.tags),
            b(self.encrypted),
            s(self.encrypt_algo),
            s(self.data_key),
            s(self.content),
        ]
    }
}

/// Decoded [`FileBody`] columns: format, comment, tags, encrypted, algorithm, data key, content.
type FileColumns = (
    String,
    String,
    Vec<(String, String)>,
    bool,
    String,
    String,
    String,
);

fn decode_file_body(c: &mut Cursor) -> StoreResult<FileColumns> {
    Ok((
        c.text()?,
        c.text()?,
        c.json()?,
        c.bool()?,
        c.text()?,
        c.text()?,
        c.text()?,
    ))
}

pub(crate) fn config_file(f: &ConfigFile) -> Encoded {
    let body = FileBody {
        format: &f.format,
        comment: &f.comment,
        tags: &f.tags,
        encrypted: f.encrypted,
        encrypt_algo: &f.encrypt_algo,
        data_key: &f.data_key,
        content: &f.content,
    };
    let mut values = file_key(&f.key).to_vec();
    values.push(u(f.id));
    values.extend(body.values());
    Encoded {
        values,
        ctime: f.ctime,
        mtime: f.mtime,
    }
}

pub(crate) fn decode_config_file(c: &mut Cursor) -> StoreResult<ConfigFile> {
    let (key, id) = (decode_file_key(c)?, c.u64()?);
    let (format, comment, tags, encrypted, encrypt_algo, data_key, content) = decode_file_body(c)?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigFile {
        id,
        key,
        content,
        format,
        comment,
        tags,
        encrypted,
        encrypt_algo,
        data_key,
        ctime,
        mtime,
    })
}

pub(crate) fn config_release(r: &ConfigRelease) -> Encoded {
    let kind = match r.kind {
        ReleaseKind::Normal => "",
        ReleaseKind::Gray => "gray",
    };
    let labels: Vec<(&str, &str, &str)> = r
        .gray_labels
        .iter()
        .map(|l| (l.key.as_str(), l.match_type.as_str(), l.value.as_str()))
        .collect();
    let body = FileBody {
        format: &r.format,
        comment: &r.comment,
        tags: &r.tags,
        encrypted: r.encrypted,
        encrypt_algo: &r.encrypt_algo,
        data_key: &r.data_key,
        content: &r.content,
    };
    let mut values = file_key(&r.key).to_vec();
    values.extend([s(&r.name), u(r.id), s(&r.md5), u(r.version), b(r.active)]);
    values.extend([s(kind), json(&labels)]);
    values.extend(body.values());
    Encoded {
        values,
        ctime: r.ctime,
        mtime: r.mtime,
    }
}

pub(crate) fn decode_release_key(c: &mut Cursor) -> StoreResult<(ConfigFileKey, String)> {
    Ok((decode_file_key(c)?, c.text()?))
}

pub(crate) fn decode_config_release(c: &mut Cursor) -> StoreResult<ConfigRelease> {
    let (key, name) = decode_release_key(c)?;
    let (id, md5, version, active) = (c.u64()?, c.text()?, c.u64()?, c.bool()?);
    let kind = match c.text()?.as_str() {
        "" => ReleaseKind::Normal,
        "gray" => ReleaseKind::Gray,
        other => return Err(corrupt(format!("release type {other:?}"))),
    };
    let labels: Vec<(String, String, String)> = c.json()?;
    let gray_labels = labels
        .into_iter()
        .map(|(key, match_type, value)| GrayLabel {
            key,
            match_type,
            value,
        })
        .collect();
    let (format, comment, tags, encrypted, encrypt_algo, data_key, content) = decode_file_body(c)?;
    let (ctime, mtime) = c.times()?;
    Ok(ConfigRelease {
        id,
        key,
        name,
        content,
        md5,
        version,
        active,
        kind,
        gray_labels,
        format,
        comment,
        tags,
        encrypted,
        encrypt_algo,
        data_key,
        ctime,
        mtime,
    })
}

pub(crate) fn release_history(h: &ReleaseHistory) -> Encoded {
    let mut values = vec![u(h.id)];
    values.extend(file_key(&h.key));
    values.extend([s(&h.release_name), s(&h.kind), s(&h.status), s(&h.content)]);
    values.extend([
        s(&h.md5),
        u(h.version),
        s(&h.format),
        s(&h.comment),
        json(&h.tags),
    ]);
    Encoded {
        values,
        ctime: h.ctime,
        mtime: h.ctime,
    }
}

pub(crate) fn decode_release_history(c: &mut Cursor) -> StoreResult<ReleaseHistory> {
    let (id, key) = (c.u64()?, decode_file_key(c)?);
    let (release_name, kind, status, content) = (c.text()?, c.text()?, c.text()?, c.text()?);
    let (md5, version, format, comment, tags) =
        (c.text()?, c.u64()?, c.text()?, c.text()?, c.json()?);
    let (ctime, _) = c.times()?;
    Ok(ReleaseHistory {
        id,
        key,
        release_name,
        kind,
        status,
        content,
        md5,
        version,
        format,
        comment,
        tags,
        ctime,
    })
}

pub(crate) fn config_template(t: &ConfigTemplate) -> Encoded {
    Encoded {
        values: vec![
            s(&t.name),
            u(t.id),
            s(&t.content),
            s(&t.format),
            s(&t.comment),
        ],
        ctime: t.ctime,
        mtime: t.mtime,
    }
}

pub(crate) fn decode_config_template(c: &mut Cursor) -> StoreResult<ConfigTemplate> {
    let (name, id, content, format, comment) =
        (c.text()?, c.u64()?, c.text()?, c.text()?, c.text()?);
    let (ctime, mtime) = c.times()?;
    Ok(ConfigTemplate {
        id,
        name,
        content,
        format,
        comment,
        ctime,
        mtime,
    })
}

pub(crate) fn service_contract(sc: &ServiceContract) -> Encoded {
    let (namespace, service, name, version, protocol) = sc.key();
    let interfaces: Vec<_> = sc
        .interfaces
        .iter()
        .map(|i| (&i.name, &i.method, &i.path, &i.content, &i.kind))
        .collect();
    Encoded {
        values: vec![
            s(&namespace),
            s(&service),
            s(&name),
            s(&version),
            s(&protocol),
            s(&sc.name),
            s(&sc.kind),
            s(&sc.content),
            json(&interfaces),
            s(&sc.revision),
        ],
        ctime: sc.mtime,
        mtime: sc.mtime,
    }
}

pub(crate) fn decode_service_contract(c: &mut Cursor) -> StoreResult<ServiceContract> {
    let (namespace, service, _key_name) = (c.text()?, c.text()?, c.text()?);
    let (version, protocol, name, kind, content) =
        (c.text()?, c.text()?, c.text()?, c.text()?, c.text()?);
    let interfaces: Vec<(String, String, String, String, String)> = c.json()?;
    let interfaces = interfaces
        .into_iter()
        .map(|(name, method, path, content, kind)| ContractInterface {
            name,
            method,
            path,
            content,
            kind,
        })
        .collect();
    let revision = c.text()?;
    let (_, mtime) = c.times()?;
    Ok(ServiceContract {
        namespace,
        service,
        name,
        kind,
        version,
        protocol,
        content,
        interfaces,
        revision,
        mtime,
    })
}

pub(crate) fn user(user: &User) -> Encoded {
    Encoded {
        values: vec![
            s(&user.id),
            s(&user.name),
            s(&user.password_hash),
            s(&user.owner),
            s(&user.source),
            s(&user.token),
            b(user.token_enable),
            s(&user.comment),
            s(&user.mobile),
            s(&user.email),
            n(user.role.value()),
        ],
        ctime: user.ctime,
        mtime: user.mtime,
    }
}

pub(crate) fn decode_user(c: &mut Cursor) -> StoreResult<User> {
    let (id, name, password_hash, owner, source, token) = (
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
    );
    let (token_enable, comment, mobile, email) = (c.bool()?, c.text()?, c.text()?, c.text()?);
    let role = c.u32()?;
    let role = UserRole::from_value(role).ok_or_else(|| corrupt(format!("user type {role}")))?;
    let (ctime, mtime) = c.times()?;
    Ok(User {
        id,
        name,
        password_hash,
        owner,
        source,
        token,
        token_enable,
        comment,
        mobile,
        email,
        role,
        ctime,
        mtime,
    })
}

pub(crate) fn user_group(g: &UserGroup) -> Encoded {
    Encoded {
        values: vec![
            s(&g.id),
            s(&g.name),
            s(&g.owner),
            s(&g.source),
            s(&g.token),
            b(g.token_enable),
            s(&g.comment),
            json(&g.user_ids),
        ],
        ctime: g.ctime,
        mtime: g.mtime,
    }
}

pub(crate) fn decode_user_group(c: &mut Cursor) -> StoreResult<UserGroup> {
    let (id, name, owner, source, token) = (c.text()?, c.text()?, c.text()?, c.text()?, c.text()?);
    let (token_enable, comment) = (c.bool()?, c.text()?);
    let user_ids: BTreeSet<String> = c.json()?;
    let (ctime, mtime) = c.times()?;
    Ok(UserGroup {
        id,
        name,
        owner,
        source,
        token,
        token_enable,
        comment,
        user_ids,
        ctime,
        mtime,
    })
}

fn resource_kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Namespace => "namespace",
        ResourceKind::Service => "service",
        ResourceKind::ConfigGroup => "config_group",
    }
}

pub(crate) fn strategy(st: &Strategy) -> Encoded {
    let resources: Vec<_> = st
        .resources
        .iter()
        .map(|r| (resource_kind_name(r.kind), &r.id, &r.namespace, &r.name))
        .collect();
    let action = match st.action {
        AuthAction::ReadOnly => 0,
        AuthAction::ReadWrite => 1,
    };
    Encoded {
        values: vec![
            s(&st.id),
            s(&st.name),
            json(&st.users),
            json(&st.groups),
            json(&resources),
            n(action),
            s(&st.comment),
            s(&st.owner),
            b(st.default_strategy),
            s(&st.source),
        ],
        ctime: st.ctime,
        mtime: st.mtime,
    }
}

pub(crate) fn decode_strategy(c: &mut Cursor) -> StoreResult<Strategy> {
    let (id, name, users, groups) = (c.text()?, c.text()?, c.json()?, c.json()?);
    let resources: Vec<(String, String, String, String)> = c.json()?;
    let resources = resources
        .into_iter()
        .map(|(kind, id, namespace, name)| {
            let kind = match kind.as_str() {
                "namespace" => ResourceKind::Namespace,
                "service" => ResourceKind::Service,
                "config_group" => ResourceKind::ConfigGroup,
                other => return Err(corrupt(format!("resource kind {other:?}"))),
            };
            Ok(StrategyResource {
                kind,
                id,
                namespace,
                name,
            })
        })
        .collect::<StoreResult<_>>()?;
    let action = match c.int()? {
        0 => AuthAction::ReadOnly,
        1 => AuthAction::ReadWrite,
        other => return Err(corrupt(format!("strategy action {other}"))),
    };
    let (comment, owner, default_strategy, source) = (c.text()?, c.text()?, c.bool()?, c.text()?);
    let (ctime, mtime) = c.times()?;
    Ok(Strategy {
        id,
        name,
        users,
        groups,
        resources,
        action,
        comment,
        owner,
        default_strategy,
        source,
        ctime,
        mtime,
    })
}

/// The next text column (keys of loads).
pub(crate) fn text(c: &mut Cursor) -> StoreResult<String> {
    c.text()
}
