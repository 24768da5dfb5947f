//! `store.option` in the official shape: `master.{dbType, dbName, dbUser, dbPwd, dbAddr,
//! maxOpenConns, maxIdleConns, connMaxLifetime}` (`dbType: mysql` as officially, `postgresql`
//! ours; `connMaxLifetime` in seconds, 0 for no limit).

use std::time::Duration;

use serde_json::Value;

use crate::{Dialect, SqlOptions};

fn text<'a>(master: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match master.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.trim().is_empty())),
        Some(other) => Err(format!("{key} must be a string, not {other}")),
    }
}

fn number(master: &Value, key: &str) -> Result<Option<u64>, String> {
    let bad = || format!("{key} must be a non-negative integer");
    match master.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

impl SqlOptions {
    /// Reads `store.option` (the value holding `master`). Errors name the offending key.
    pub fn from_store_option(option: &Value) -> Result<SqlOptions, String> {
        let master = option
            .get("master")
            .filter(|m| m.is_object())
            .ok_or("store.option.master is required for defaultStore")?;
        let dialect = match text(master, "dbType")? {
            None => Dialect::MySql,
            Some(name) => Dialect::parse(name).ok_or_else(|| {
                format!("dbType {name:?} is not supported: use mysql or postgresql")
            })?,
        };
        let database = text(master, "dbName")?.ok_or("dbName is required")?;
        let addr = match text(master, "dbAddr")? {
            Some(addr) => addr.trim().to_string(),
            None => format!("127.0.0.1:{}", dialect.default_port()),
        };
        let mut options = SqlOptions::new(dialect, addr, database.trim());
        if let Some(user) = text(master, "dbUser")? {
            options.user = user.to_string();
        }
        // YAML reads an all-digit password as a number.
        match master.get("dbPwd") {
            Some(Value::String(password)) => options.password = password.clone(),
            Some(Value::Number(password)) => options.password = password.to_string(),
            _ => {}
        }
        let count = |key| -> Result<Option<u32>, String> {
            number(master, key)?
                .map(|n| u32::try_from(n).map_err(|_| format!("{key} is too large")))
                .transpose()
        };
        if let Some(max) = count("maxOpenConns")?.filter(|n| *n > 0) {
            options.max_open_conns = max;
        }
        if let Some(idle) = count("maxIdleConns")? {
            options.max_idle_conns = idle.min(options.max_open_conns);
        }
        if let Some(secs) = number(master, "connMaxLifetime")? {
            options.conn_max_lifetime = (secs > 0).then(|| Duration::from_secs(secs));
        }
        // Ours: how long a write may wait for a connection and for its commit (milliseconds).
        if let Some(ms) = number(master, "writeTimeoutMs")?.filter(|n| *n > 0) {
            options.acquire_timeout = Duration::from_millis(ms);
            options.write_timeout = Duration::from_millis(ms);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_official_keys() {
        let option = json!({"master": {
            "dbType": "postgresql", "dbName": "polaris_server", "dbUser": "polaris",
            "dbPwd": "p@ss:w/rd", "dbAddr": "db.local:6543", "maxOpenConns": 300,
            "maxIdleConns": "50", "connMaxLifetime": 0
        }});
        let o = SqlOptions::from_store_option(&option).unwrap();
        assert_eq!(o.dialect, Dialect::Postgres);
        assert_eq!(
            (o.addr.as_str(), o.database.as_str()),
            ("db.local:6543", "polaris_server")
        );
        assert_eq!(
            (o.user.as_str(), o.password.as_str()),
            ("polaris", "p@ss:w/rd")
        );
        assert_eq!((o.max_open_conns, o.max_idle_conns), (300, 50));
        assert_eq!(o.conn_max_lifetime, None);
    }

    #[test]
    fn defaults_follow_the_engine() {
        let o = SqlOptions::from_store_option(&json!({"master": {"dbName": "p"}})).unwrap();
        assert_eq!(o.dialect, Dialect::MySql);
        assert_eq!(
            (o.addr.as_str(), o.user.as_str()),
            ("127.0.0.1:3306", "root")
        );
        assert_eq!(o.conn_max_lifetime, Some(Duration::from_secs(1800)));
        let o = SqlOptions::from_store_option(&json!({"master": {"dbName": "p", "dbPwd": 123456}}))
            .unwrap();
        assert_eq!(o.password, "123456");
    }

    #[test]
    fn bad_options_name_the_key() {
        let err = |v: Value| SqlOptions::from_store_option(&v).unwrap_err();
        assert!(err(json!({})).contains("master"));
        assert!(err(json!({"master": {"dbType": "mysql"}})).contains("dbName"));
        assert!(err(json!({"master": {"dbType": "oracle", "dbName": "p"}})).contains("oracle"));
        assert!(
            err(json!({"master": {"dbName": "p", "maxOpenConns": -1}})).contains("maxOpenConns")
        );
    }
}
