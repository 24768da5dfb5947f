//! How a Polaris instance looks to an Eureka client, whoever registered it (an Eureka client,
//! an SDK or the console): the official mapping back from `internal-eureka-*` metadata, with
//! Polaris fields where an Eureka client left none.

use polaris_types::Instance;
use serde_json::{Map, Value, json};

use crate::model::*;

/// The data-center info shown for instances that did not register one (`customValues`).
#[derive(Clone, Debug)]
pub struct DataCenter {
    pub class: String,
    pub name: String,
}

impl Default for DataCenter {
    fn default() -> Self {
        DataCenter {
            class: DEFAULT_DCI_CLASS.into(),
            name: DEFAULT_DCI_NAME.into(),
        }
    }
}

/// The Eureka status of an instance: UP unless isolated, then DOWN or OUT_OF_SERVICE.
pub fn status_of(instance: &Instance) -> &'static str {
    if !instance.isolate {
        return STATUS_UP;
    }
    match instance.metadata.get(META_STATUS) {
        Some(STATUS_DOWN) => STATUS_DOWN,
        _ => STATUS_OUT_OF_SERVICE,
    }
}

/// The id Eureka clients know the instance by.
pub fn eureka_id_of(instance: &Instance) -> &str {
    instance
        .metadata
        .get(META_INSTANCE_ID)
        .unwrap_or(&instance.id)
}

fn port_value(port: u32, enabled: bool) -> Value {
    json!({"$": port, "@enabled": enabled.to_string()})
}

fn ports(instance: &Instance) -> (Value, Value) {
    let meta = &instance.metadata;
    let number = |k: &str| meta.get(k).and_then(|v| v.parse::<u32>().ok());
    let flag = |k: &str| meta.get(k).map(|v| v == "true");
    if let (Some(p), Some(pe), Some(s), Some(se)) = (
        number(META_PORT),
        flag(META_PORT_ENABLED),
        number(META_SECURE_PORT),
        flag(META_SECURE_PORT_ENABLED),
    ) {
        return (port_value(p, pe), port_value(s, se));
    }
    if instance.protocol.eq_ignore_ascii_case("https") {
        let insecure = number(META_PORT).filter(|p| *p > 0);
        return (
            port_value(insecure.unwrap_or(DEFAULT_PORT), insecure.is_some()),
            port_value(instance.port, true),
        );
    }
    (
        port_value(instance.port, true),
        port_value(DEFAULT_SECURE_PORT, false),
    )
}

/// The instance in Eureka's JSON shape, without `actionType` (added when it is written).
pub fn instance_value(app: &str, instance: &Instance, dc: &DataCenter) -> Value {
    let meta = &instance.metadata;
    let get = |k: &str| meta.get(k).unwrap_or_default().to_string();
    let positive = |k: &str, default: u32| {
        meta.get(k)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(default)
    };
    let (port, secure_port) = ports(instance);
    let host_name = meta
        .get(META_HOSTNAME)
        .unwrap_or(&instance.host)
        .to_string();
    let vip = meta.get(META_VIP).unwrap_or(app).to_string();
    let country: u64 = meta
        .get(META_COUNTRY_ID)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dci = match (meta.get(META_DCI_CLASS), meta.get(META_DCI_NAME)) {
        (None, None) => json!({"@class": dc.class, "name": dc.name}),
        (class, name) => json!({
            "@class": class.unwrap_or(&dc.class),
            "name": name.unwrap_or(&dc.name),
        }),
    };
    let mut user_meta: Map<String, Value> = meta
        .iter()
        .filter(|(k, _)| !k.starts_with("internal-"))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let location = &instance.location;
    for (k, v) in [
        ("region", &location.region),
        ("zone", &location.zone),
        ("campus", &location.campus),
    ] {
        if !v.is_empty() && !user_meta.contains_key(k) {
            user_meta.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    let overridden = meta
        .get(META_OVERRIDDEN)
        .filter(|s| !s.is_empty())
        .unwrap_or(STATUS_UNKNOWN);
    let mut value = json!({
        "instanceId": eureka_id_of(instance),
        "hostName": host_name,
        "app": app,
        "ipAddr": instance.host,
        "status": status_of(instance),
        "overriddenStatus": overridden,
        "port": port,
        "securePort": secure_port,
        "countryId": country,
        "dataCenterInfo": dci,
        "leaseInfo": {
            "renewalIntervalInSecs": positive(META_RENEWAL, DEFAULT_RENEWAL_SECS),
            "durationInSecs": positive(META_DURATION, DEFAULT_DURATION_SECS),
            "registrationTimestamp": instance.ctime,
            "lastRenewalTimestamp": instance.mtime,
            "evictionTimestamp": 0,
            "serviceUpTimestamp": instance.ctime,
        },
        "metadata": user_meta,
        "homePageUrl": get(META_HOME_URL),
        "statusPageUrl": get(META_STATUS_URL),
        "healthCheckUrl": get(META_HEALTH_URL),
        "vipAddress": vip,
        "secureVipAddress": get(META_SECURE_VIP),
        "isCoordinatingDiscoveryServer": "false",
        "lastUpdatedTimestamp": instance.mtime.to_string(),
        "lastDirtyTimestamp": instance.mtime.to_string(),
    });
    if let Some(group) = meta.get(META_APP_GROUP) {
        value["appGroupName"] = Value::String(group.to_string());
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_instance() -> Instance {
        Instance {
            id: "abc".into(),
            namespace: "default".into(),
            service: "echo".into(),
            host: "10.1.1.1".into(),
            port: 9000,
            healthy: true,
            location: polaris_types::Location {
                zone: "z".into(),
                ..Default::default()
            },
            metadata: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_sdk_instance_gets_eureka_defaults() {
        let value = instance_value("ECHO", &sdk_instance(), &DataCenter::default());
        assert_eq!(value["instanceId"], "abc");
        assert_eq!(value["hostName"], "10.1.1.1");
        assert_eq!(value["port"], json!({"$": 9000, "@enabled": "true"}));
        assert_eq!(value["securePort"]["@enabled"], "false");
        assert_eq!(value["vipAddress"], "ECHO");
        assert_eq!(value["status"], "UP");
        assert_eq!(value["metadata"], json!({"env": "prod", "zone": "z"}));
    }

    #[test]
    fn isolation_shows_as_the_registered_status() {
        let mut instance = sdk_instance();
        instance.isolate = true;
        assert_eq!(status_of(&instance), STATUS_OUT_OF_SERVICE);
        instance.metadata.insert(META_STATUS, STATUS_DOWN);
        assert_eq!(status_of(&instance), STATUS_DOWN);
        instance.isolate = false;
        assert_eq!(status_of(&instance), STATUS_UP);
    }

    #[test]
    fn internal_keys_are_hidden_and_eureka_fields_restored() {
        let mut instance = sdk_instance();
        for (k, v) in [
            (META_INSTANCE_ID, "host:echo:1"),
            (META_HOSTNAME, "host"),
            (META_PORT, "1"),
            (META_PORT_ENABLED, "true"),
            (META_SECURE_PORT, "2"),
            (META_SECURE_PORT_ENABLED, "true"),
            (META_RENEWAL, "10"),
        ] {
            instance.metadata.insert(k, v);
        }
        let value = instance_value("ECHO", &instance, &DataCenter::default());
        assert_eq!(value["instanceId"], "host:echo:1");
        assert_eq!(value["hostName"], "host");
        assert_eq!(value["securePort"], json!({"$": 2, "@enabled": "true"}));
        assert_eq!(value["leaseInfo"]["renewalIntervalInSecs"], 10);
        assert!(
            value["metadata"]
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("internal-"))
        );
    }
}
