//! Compatibility check of the official Rust SDK (`polaris-rust` 0.2.0-alpha.0) against a
//! polaris-rs server, naming only: register an instance with a heartbeat TTL, heartbeat a few
//! times, read the service's instances through the SDK's consumer API (its Discover stream and
//! local cache) and find our own instance, then deregister.
//!
//! Usage: `polaris-rust-client <host:port of the naming gRPC listener>`. Exits 0 on success,
//! 1 with a message on stderr on failure, 2 on bad usage.
//!
//! The SDK's config-center APIs panic in this version, so no `config://` address is configured;
//! `GetOneInstanceRequest` cannot be built from outside the crate (private field types), and
//! `get_health_instance` always answers an empty list in this version (the SDK's cache never fills
//! its `available_instances`), so the consumer side is exercised through `get_all_instance`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use polaris_rust::core::config::config::load;
use polaris_rust::core::context::SDKContext;
use polaris_rust::core::model::naming::Location;
use polaris_rust::discovery::api::{
    new_consumer_api_by_context, new_provider_api_by_context, ConsumerAPI, ProviderAPI,
};
use polaris_rust::discovery::req::{
    GetAllInstanceRequest, InstanceDeregisterRequest, InstanceHeartbeatRequest,
    InstanceRegisterRequest,
};

const CONFIG_TEMPLATE: &str = include_str!("../polaris.yaml");
const NAMESPACE: &str = "default";
const HOST: &str = "127.0.0.1";
const PORT: u32 = 18080;
const TTL_SECONDS: u32 = 5;
const HEARTBEATS: usize = 3;
const OVERALL_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let address = match (args.next(), args.next()) {
        (Some(address), None) if !address.is_empty() => address,
        _ => {
            eprintln!("usage: polaris-rust-client <naming gRPC host:port>");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("FAIL: cannot start a tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match tokio::time::timeout(OVERALL_TIMEOUT, run(&address)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no result within {OVERALL_TIMEOUT:?}")),
        }
    });
    let code = match outcome {
        Ok(()) => {
            println!("OK: polaris-rust registered, heartbeat, discovered and deregistered");
            0
        }
        Err(message) => {
            eprintln!("FAIL: {message}");
            1
        }
    };
    // The SDK owns a tokio runtime of its own that panics when dropped from async context, and
    // its background tasks never end: leave without running destructors.
    std::process::exit(code);
}

fn write_config(address: &str) -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("polaris-rust-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = CONFIG_TEMPLATE
        .replace("${POLARIS_ADDRESS}", address)
        .replace("${CACHE_DIR}", &dir.join("backup").display().to_string());
    let path = dir.join("polaris.yaml");
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

async fn run(address: &str) -> Result<(), String> {
    let config_path = write_config(address)?;
    let config =
        load(&config_path).map_err(|e| format!("cannot load {}: {e}", config_path.display()))?;
    let context = Arc::new(
        SDKContext::create_by_configuration(config)
            .map_err(|e| format!("cannot create the SDK context: {e}"))?,
    );
    let provider = new_provider_api_by_context(context.clone())
        .map_err(|e| format!("cannot create the provider API: {e}"))?;
    let consumer = new_consumer_api_by_context(context)
        .map_err(|e| format!("cannot create the consumer API: {e}"))?;

    let service = format!("polaris-rust-compat-{}", std::process::id());
    let mut metadata = HashMap::new();
    metadata.insert("sdk".to_string(), "polaris-rust".to_string());

    let registered = provider
        .register(InstanceRegisterRequest {
            flow_id: String::new(),
            timeout: Duration::from_secs(5),
            id: None,
            namespace: NAMESPACE.to_string(),
            service: service.clone(),
            ip: HOST.to_string(),
            port: PORT,
            vpc_id: String::new(),
            version: "1.0.0".to_string(),
            protocol: "grpc".to_string(),
            health: true,
            isolated: false,
            weight: 100,
            priority: 0,
            metadata,
            location: Location::default(),
            ttl: TTL_SECONDS,
            auto_heartbeat: false,
        })
        .await
        .map_err(|e| format!("register failed: {e}"))?;
    if registered.instance_id.is_empty() {
        return Err("register returned an empty instance id".into());
    }
    println!("registered {service} as {}", registered.instance_id);

    for beat in 1..=HEARTBEATS {
        provider
            .heartbeat(InstanceHeartbeatRequest {
                flow_id: String::new(),
                timeout: Duration::from_secs(5),
                id: None,
                namespace: NAMESPACE.to_string(),
                service: service.clone(),
                ip: HOST.to_string(),
                port: PORT,
                vpc_id: String::new(),
            })
            .await
            .map_err(|e| format!("heartbeat {beat} failed: {e}"))?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("sent {HEARTBEATS} heartbeats");

    let all = consumer
        .get_all_instance(GetAllInstanceRequest {
            flow_id: String::new(),
            timeout: Duration::from_secs(10),
            service: service.clone(),
            namespace: NAMESPACE.to_string(),
        })
        .await
        .map_err(|e| format!("get_all_instance failed: {e}"))?;
    let own: Vec<_> = all
        .instances
        .instances
        .iter()
        .filter(|i| i.ip == HOST && i.port == PORT)
        .collect();
    let [mine] = own.as_slice() else {
        return Err(format!(
            "expected exactly our instance {HOST}:{PORT} in {NAMESPACE}/{service}, got {:?}",
            all.instances.instances
        ));
    };
    if mine.id != registered.instance_id {
        return Err(format!(
            "discovered id {} differs from registered id {}",
            mine.id, registered.instance_id
        ));
    }
    if !mine.health || mine.isolated || mine.weight != 100 {
        return Err(format!("unexpected instance state: {mine:?}"));
    }
    if mine.metadata.get("sdk").map(String::as_str) != Some("polaris-rust") {
        return Err(format!("instance metadata lost: {:?}", mine.metadata));
    }
    println!("discovered own instance {}", mine.id);

    provider
        .deregister(InstanceDeregisterRequest {
            flow_id: String::new(),
            timeout: Duration::from_secs(5),
            namespace: NAMESPACE.to_string(),
            service: service.clone(),
            ip: HOST.to_string(),
            port: PORT,
            vpc_id: String::new(),
        })
        .await
        .map_err(|e| format!("deregister failed: {e}"))?;
    println!("deregistered {}", registered.instance_id);

    // The SDK refreshes its cache over the Discover stream (revision-based, every
    // serviceRefreshInterval = 2s): the instance must disappear from its view.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = consumer
            .get_all_instance(GetAllInstanceRequest {
                flow_id: String::new(),
                timeout: Duration::from_secs(10),
                service: service.clone(),
                namespace: NAMESPACE.to_string(),
            })
            .await
            .map_err(|e| format!("get_all_instance after deregister failed: {e}"))?;
        if !all
            .instances
            .instances
            .iter()
            .any(|i| i.id == registered.instance_id)
        {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("deregistered instance still in the SDK's view after 15s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("SDK view no longer lists {}", registered.instance_id);
    let _ = std::fs::remove_dir_all(config_path.parent().unwrap_or(&config_path));
    Ok(())
}
