//! Records to rows and back. A row holds the columns of its [`Table`] in order: key, data, then
//! `flag`, the two times and `seq`. Encoders yield the key and data values; the writer appends
//! the tail. Nested collections are JSON arrays of tuples (the domain types carry no serde).

use polaris_store::{Change, StoreError, StoreResult};
use polaris_types::{
    AuthAction, ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate,
    ContractInterface, FileAttrs, GrayLabel, GroupAttrs, HealthCheck, Instance, InstanceMetadata,
    Location, Metadata, Millis, Namespace, ReleaseHistory, ReleaseKind, ResourceKind, Revision,
    Rule, RuleKind, RuleTarget, Service, ServiceContract, ServiceKey, Strategy, StrategyResource,
    TargetRole, User, UserGroup, UserRole,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::schema::{Table, Ty};

/// Declares a plain record's columns once, in schema order (each a field and how it is stored:
/// `text`, `u64`, `bool` or `json`), and derives its encoder and its decoder from that one list,
/// so the two cannot disagree. The times follow the columns as for every record.
macro_rules! plain_record {
    ($encode:ident, $decode:ident, $ty:ident { $($field:ident: $kind:ident),+ $(,)? }) => {
        pub(crate) fn $encode(r: &$ty) -> Encoded {
            Encoded {
                values: vec![$(plain_record!(@put $kind, &r.$field)),+],
                ctime: r.ctime,
                mtime: r.mtime,
            }
        }

        pub(crate) fn $decode(c: &mut Cursor) -> StoreResult<$ty> {
            $(let $field = plain_record!(@get $kind, c);)+
            let (ctime, mtime) = c.times()?;
            Ok($ty { $($field,)+ ctime, mtime })
        }
    };
    (@put text, $v:expr) => { s($v) };
    (@put u64, $v:expr) => { u(*$v) };
    (@put bool, $v:expr) => { b(*$v) };
    (@put json, $v:expr) => { json($v) };
    (@get text, $c:ident) => { $c.text()? };
    (@get u64, $c:ident) => { $c.u64()? };
    (@get bool, $c:ident) => { $c.bool()? };
    (@get json, $c:ident) => { $c.json()? };
}

mod auth;
mod config;

pub(crate) use auth::*;
pub(crate) use config::*;

/// One bound value.
#[derive(Clone, Debug, PartialEq, Eq)]
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
            s(&ins.revision.to_string()),
            json(&ins.metadata.to_map()),
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
        region: c.text()?.into(),
        zone: c.text()?.into(),
        campus: c.text()?.into(),
    };
    let priority = c.u32()?;
    let revision = Revision::parse(&c.text()?);
    let metadata = InstanceMetadata::from(c.json::<Metadata>()?);
    let (ctime, mtime) = c.times()?;
    Ok(Instance {
        id,
        namespace: namespace.into(),
        service: service.into(),
        vpc_id: vpc_id.into(),
        host,
        port,
        protocol: protocol.into(),
        version: version.into(),
        priority,
        weight,
        health_check: checked.then_some(HealthCheck { ttl_secs }),
        healthy,
        isolate,
        location,
        metadata,
        logic_set: logic_set.into(),
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
            Value::Bytes(rule.body.to_vec()),
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
        body: body.into(),
        revision,
        ctime,
        mtime,
    })
}

/// The next text column (keys of loads).
pub(crate) fn text(c: &mut Cursor) -> StoreResult<String> {
    c.text()
}
