//! The Eureka instance as clients send it, and how it maps onto a Polaris instance: the official
//! `internal-eureka-*` metadata keys, ids, ports, lease durations as heartbeat TTLs, and status
//! as isolation.

use polaris_naming::{HealthCheckSpec, InstanceSpec};
use polaris_types::{Code, Location, Metadata, PolarisError, Result};
use serde_json::Value;

pub const META_REGISTER_FROM: &str = "internal-register-from";
pub const META_APP_GROUP: &str = "internal-eureka-app-group";
pub const META_COUNTRY_ID: &str = "internal-eureka-country-id";
pub const META_DCI_CLASS: &str = "internal-eureka-dci-clazz";
pub const META_DCI_NAME: &str = "internal-eureka-dci-name";
pub const META_HOSTNAME: &str = "internal-eureka-hostname";
pub const META_RENEWAL: &str = "internal-eureka-renewal-interval";
pub const META_DURATION: &str = "internal-eureka-duration";
pub const META_HOME_URL: &str = "internal-eureka-home-url";
pub const META_STATUS_URL: &str = "internal-eureka-status-url";
pub const META_HEALTH_URL: &str = "internal-eureka-health-url";
pub const META_VIP: &str = "internal-eureka-vip";
pub const META_SECURE_VIP: &str = "internal-eureka-secure-vip";
pub const META_PORT: &str = "internal-eureka-insecure-port";
pub const META_PORT_ENABLED: &str = "internal-eureka-insecure-port-enabled";
pub const META_SECURE_PORT: &str = "internal-eureka-secure-port";
pub const META_SECURE_PORT_ENABLED: &str = "internal-eureka-secure-port-enabled";
pub const META_INSTANCE_ID: &str = "internal-eureka-instance-id";
pub const META_STATUS: &str = "internal-eureka-status";
pub const META_OVERRIDDEN: &str = "internal-eureka-overriddenStatus";

pub const STATUS_UP: &str = "UP";
pub const STATUS_DOWN: &str = "DOWN";
pub const STATUS_OUT_OF_SERVICE: &str = "OUT_OF_SERVICE";
pub const STATUS_UNKNOWN: &str = "UNKNOWN";

pub const DEFAULT_DCI_CLASS: &str = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
pub const DEFAULT_DCI_NAME: &str = "MyOwn";
pub const DEFAULT_RENEWAL_SECS: u32 = 30;
pub const DEFAULT_DURATION_SECS: u32 = 90;
pub const DEFAULT_PORT: u32 = 8080;
pub const DEFAULT_SECURE_PORT: u32 = 443;

/// A port with its `enabled` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    pub port: u32,
    pub enabled: bool,
}

/// An instance as an Eureka client registers it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EurekaInstance {
    pub instance_id: String,
    pub host_name: String,
    pub ip_addr: String,
    pub status: String,
    pub overridden_status: String,
    pub port: Option<Port>,
    pub secure_port: Option<Port>,
    pub app_group: String,
    pub country_id: String,
    pub dci_class: String,
    pub dci_name: String,
    pub renewal_secs: u32,
    pub duration_secs: u32,
    pub home_url: String,
    pub status_url: String,
    pub health_url: String,
    pub vip: String,
    pub secure_vip: String,
    /// The client's own metadata, in order.
    pub metadata: Vec<(String, String)>,
}

fn invalid(code: Code, message: impl Into<String>) -> PolarisError {
    PolarisError::new(code, message)
}

/// A scalar field as text ("" when absent or not a scalar).
pub fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn number(value: Option<&Value>, what: &str) -> Result<u32> {
    let raw = text(value);
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse::<u32>()
        .map_err(|_| invalid(Code::InvalidParameter, format!("{what} must be a number")))
}

fn port(value: Option<&Value>, default_enabled: bool) -> Result<Option<Port>> {
    let (raw, enabled) = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => (o.get("$"), o.get("@enabled")),
        other => (other, None),
    };
    let port = text(raw)
        .parse::<u32>()
        .ok()
        .filter(|p| *p <= 65535)
        .ok_or_else(|| {
            invalid(
                Code::InvalidInstancePort,
                "port must be a number in 0..=65535",
            )
        })?;
    let enabled = match text(enabled).as_str() {
        "" => default_enabled,
        "true" => true,
        "false" => false,
        _ => {
            return Err(invalid(
                Code::InvalidInstancePort,
                "port @enabled must be true or false",
            ));
        }
    };
    Ok(Some(Port { port, enabled }))
}

impl EurekaInstance {
    /// Reads the `instance` object of a registration (JSON `{"instance": {...}}` or XML
    /// `<instance>`, both already in the JSON shape).
    pub fn decode(document: &Value) -> Result<EurekaInstance> {
        let Some(object) = document.get("instance").and_then(Value::as_object) else {
            return Err(invalid(
                Code::EmptyRequest,
                "an instance object is required",
            ));
        };
        let field = |key: &str| text(object.get(key));
        let dci = object.get("dataCenterInfo");
        let lease = object.get("leaseInfo");
        let metadata = match object.get("metadata") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .map(|(k, v)| (k.clone(), text(Some(v))))
                .collect(),
            _ => Vec::new(),
        };
        let instance = EurekaInstance {
            instance_id: field("instanceId"),
            host_name: field("hostName"),
            ip_addr: field("ipAddr"),
            status: field("status").to_ascii_uppercase(),
            overridden_status: [field("overriddenStatus"), field("overriddenstatus")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or_default()
                .to_ascii_uppercase(),
            port: port(object.get("port"), true)?,
            secure_port: port(object.get("securePort"), false)?,
            app_group: field("appGroupName"),
            country_id: field("countryId"),
            dci_class: text(dci.and_then(|d| d.get("@class"))),
            dci_name: text(dci.and_then(|d| d.get("name"))),
            renewal_secs: number(
                lease.and_then(|l| l.get("renewalIntervalInSecs")),
                "renewalIntervalInSecs",
            )?,
            duration_secs: number(
                lease.and_then(|l| l.get("durationInSecs")),
                "durationInSecs",
            )?,
            home_url: field("homePageUrl"),
            status_url: field("statusPageUrl"),
            health_url: field("healthCheckUrl"),
            vip: field("vipAddress"),
            secure_vip: field("secureVipAddress"),
            metadata,
        };
        if instance.instance_id.is_empty() && instance.host_name.is_empty() {
            return Err(invalid(
                Code::InvalidInstanceId,
                "instanceId or hostName is required",
            ));
        }
        if instance.ip_addr.is_empty() {
            return Err(invalid(Code::InvalidInstanceHost, "ipAddr is required"));
        }
        Ok(instance)
    }

    /// The Eureka instance id: `instanceId`, else `hostName`.
    pub fn eureka_id(&self) -> &str {
        if self.instance_id.is_empty() {
            &self.host_name
        } else {
            &self.instance_id
        }
    }
}

/// How Eureka ids become Polaris instance ids, from the listener's options.
#[derive(Clone, Debug)]
pub struct IdRule {
    /// The namespace Eureka clients use without an `x-namespace` header.
    pub default_namespace: String,
    /// `generateUniqueInstId`: prefix ids with the app name unless they contain it.
    pub unique_ids: bool,
}

impl IdRule {
    /// The Polaris id of an Eureka instance of `app` in `namespace`, as officially.
    pub fn polaris_id(&self, namespace: &str, app: &str, eureka_id: &str) -> String {
        let mut id = eureka_id.to_string();
        if self.unique_ids {
            let (app, lower) = (app.to_lowercase(), eureka_id.to_lowercase());
            if !lower.contains(&app) {
                id = format!("{app}:{lower}");
            }
        }
        if namespace != self.default_namespace {
            id = format!("{namespace}:{id}");
        }
        id
    }
}

/// The heartbeat TTL of a lease, as officially: min(ceil(duration / 3), renewal interval).
pub fn lease_ttl(renewal_secs: u32, duration_secs: u32) -> u32 {
    duration_secs.div_ceil(3).min(renewal_secs)
}

/// The Polaris registration of an Eureka instance of `app` (lower-cased) in `namespace`.
/// `override_status` is a status an operator set earlier, which a re-registration keeps.
pub fn to_spec(
    instance: &EurekaInstance,
    namespace: &str,
    app: &str,
    ids: &IdRule,
    override_status: Option<&str>,
) -> InstanceSpec {
    let mut meta = Metadata::new();
    let mut put = |k: &str, v: &str| {
        if !v.is_empty() {
            meta.insert(k.to_string(), v.to_string());
        }
    };
    put(META_REGISTER_FROM, "eureka");
    put(META_INSTANCE_ID, instance.eureka_id());
    put(META_APP_GROUP, &instance.app_group);
    if instance.country_id != "1" {
        put(META_COUNTRY_ID, &instance.country_id);
    }
    if instance.dci_class != DEFAULT_DCI_CLASS {
        put(META_DCI_CLASS, &instance.dci_class);
    }
    if instance.dci_name != DEFAULT_DCI_NAME {
        put(META_DCI_NAME, &instance.dci_name);
    }
    put(META_HOSTNAME, &instance.host_name);
    put(META_HOME_URL, &instance.home_url);
    put(META_STATUS_URL, &instance.status_url);
    put(META_HEALTH_URL, &instance.health_url);
    put(META_VIP, &instance.vip);
    put(META_SECURE_VIP, &instance.secure_vip);
    let mut location = Location::default();
    for (k, v) in &instance.metadata {
        match k.as_str() {
            "region" => location.region = v.into(),
            "zone" => location.zone = v.into(),
            "campus" => location.campus = v.into(),
            _ => {}
        }
        meta.insert(k.clone(), v.clone());
    }
    let renewal = Some(instance.renewal_secs)
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_RENEWAL_SECS);
    let duration = Some(instance.duration_secs)
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_DURATION_SECS);
    let port = instance.port.unwrap_or(Port {
        port: DEFAULT_PORT,
        enabled: true,
    });
    let secure = instance.secure_port.unwrap_or(Port {
        port: DEFAULT_SECURE_PORT,
        enabled: false,
    });
    let status = match override_status {
        Some(s) => s.to_string(),
        None if instance.status.is_empty() => STATUS_UP.to_string(),
        None => instance.status.clone(),
    };
    let overridden = override_status.unwrap_or(match instance.overridden_status.as_str() {
        "" => STATUS_UNKNOWN,
        s => s,
    });
    for (k, v) in [
        (META_RENEWAL, renewal.to_string()),
        (META_DURATION, duration.to_string()),
        (META_PORT, port.port.to_string()),
        (META_PORT_ENABLED, port.enabled.to_string()),
        (META_SECURE_PORT, secure.port.to_string()),
        (META_SECURE_PORT_ENABLED, secure.enabled.to_string()),
        (META_STATUS, status.clone()),
        (META_OVERRIDDEN, overridden.to_string()),
    ] {
        meta.insert(k.to_string(), v);
    }
    let has_location =
        !(location.region.is_empty() && location.zone.is_empty() && location.campus.is_empty());
    InstanceSpec {
        id: Some(ids.polaris_id(namespace, app, instance.eureka_id())),
        namespace: namespace.to_string(),
        service: app.to_string(),
        host: instance.ip_addr.clone(),
        port: Some(port.port),
        protocol: Some("HTTP".into()),
        weight: Some(100),
        health_check: Some(HealthCheckSpec {
            ttl: Some(lease_ttl(renewal, duration)),
        }),
        enable_health_check: Some(true),
        healthy: Some(true),
        isolate: Some(status != STATUS_UP),
        location: has_location.then_some(location),
        metadata: Some(meta),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> IdRule {
        IdRule {
            default_namespace: "default".into(),
            unique_ids: false,
        }
    }

    #[test]
    fn a_spring_registration_maps_as_officially() {
        let body = json!({"instance": {
            "instanceId": "host1:demo:8081", "hostName": "host1", "app": "DEMO",
            "ipAddr": "10.0.0.5", "status": "UP", "overriddenStatus": "UNKNOWN",
            "port": {"$": 8081, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
            "countryId": 1,
            "dataCenterInfo": {"@class": DEFAULT_DCI_CLASS, "name": "MyOwn"},
            "leaseInfo": {"renewalIntervalInSecs": 10, "durationInSecs": 20},
            "metadata": {"@class": "java.util.Collections$EmptyMap", "zone": "z1", "k": "v"},
            "vipAddress": "demo",
        }});
        let instance = EurekaInstance::decode(&body).unwrap();
        let spec = to_spec(&instance, "default", "demo", &ids(), None);
        assert_eq!(spec.id.as_deref(), Some("host1:demo:8081"));
        assert_eq!(
            (spec.host.as_str(), spec.port, spec.isolate),
            ("10.0.0.5", Some(8081), Some(false))
        );
        assert_eq!(spec.health_check.unwrap().ttl, Some(7));
        let meta = spec.metadata.unwrap();
        assert_eq!(meta[META_VIP], "demo");
        assert_eq!(meta[META_PORT], "8081");
        assert_eq!(meta["k"], "v");
        assert!(!meta.contains_key("@class") && !meta.contains_key(META_COUNTRY_ID));
        assert_eq!(spec.location.unwrap().zone, "z1");
    }

    #[test]
    fn status_other_than_up_isolates_and_an_override_survives_re_registration() {
        let body =
            json!({"instance": {"hostName": "h", "ipAddr": "1.2.3.4", "status": "starting"}});
        let instance = EurekaInstance::decode(&body).unwrap();
        assert_eq!(
            to_spec(&instance, "default", "a", &ids(), None).isolate,
            Some(true)
        );
        let up = EurekaInstance {
            status: "UP".into(),
            ..instance
        };
        let spec = to_spec(&up, "default", "a", &ids(), Some(STATUS_OUT_OF_SERVICE));
        assert_eq!(spec.isolate, Some(true));
        assert_eq!(spec.metadata.unwrap()[META_STATUS], STATUS_OUT_OF_SERVICE);
    }

    #[test]
    fn ids_follow_namespace_and_unique_option() {
        let plain = ids();
        assert_eq!(plain.polaris_id("default", "app", "i1"), "i1");
        assert_eq!(plain.polaris_id("prod", "app", "i1"), "prod:i1");
        let unique = IdRule {
            unique_ids: true,
            ..ids()
        };
        assert_eq!(unique.polaris_id("default", "App", "Host-1"), "app:host-1");
        assert_eq!(unique.polaris_id("default", "app", "my-app-1"), "my-app-1");
        assert_eq!(unique.polaris_id("ns", "app", "h"), "ns:app:h");
    }

    #[test]
    fn lease_ttl_is_a_third_of_the_duration_capped_by_renewal() {
        assert_eq!(lease_ttl(30, 90), 30);
        assert_eq!(lease_ttl(5, 90), 5);
        assert_eq!(lease_ttl(30, 10), 4);
    }

    #[test]
    fn missing_fields_and_bad_ports_are_refused() {
        let cases = [
            (json!({}), Code::EmptyRequest),
            (
                json!({"instance": {"ipAddr": "1.1.1.1"}}),
                Code::InvalidInstanceId,
            ),
            (
                json!({"instance": {"hostName": "h"}}),
                Code::InvalidInstanceHost,
            ),
            (
                json!({"instance": {"hostName": "h", "ipAddr": "1.1.1.1", "port": {"$": "x"}}}),
                Code::InvalidInstancePort,
            ),
            (
                json!({"instance": {"hostName": "h", "ipAddr": "1.1.1.1", "port": 70000}}),
                Code::InvalidInstancePort,
            ),
            (
                json!({"instance": {"hostName": "h", "ipAddr": "1.1.1.1", "port": {"$": 1, "@enabled": "maybe"}}}),
                Code::InvalidInstancePort,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(
                EurekaInstance::decode(&body).unwrap_err().code,
                code,
                "{body}"
            );
        }
    }
}
