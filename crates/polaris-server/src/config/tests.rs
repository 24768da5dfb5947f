use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use tracing::level_filters::LevelFilter;

use super::*;

/// A full configuration in the official layout, every section present,
/// modelled on the Go server's release file (values changed here and there
/// so that defaults and file values can be told apart).
const OFFICIAL: &str = include_str!("testdata/official.yaml");

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn load_text(text: &str) -> Result<Loaded, ConfigError> {
    load_str(text, "polaris-server.yaml", &no_env())
}

fn parse_err(text: &str) -> ConfigError {
    match load_text(text) {
        Ok(l) => panic!("expected an error, got {l:?}"),
        Err(e) => e,
    }
}

#[test]
fn golden_official_file() {
    let Loaded { config, warnings } = load_text(OFFICIAL).unwrap();
    assert!(warnings.is_empty(), "spurious warnings: {warnings:?}");

    // Logger.
    assert_eq!(
        config.logger.keys().map(String::as_str).collect::<Vec<_>>(),
        ["HistoryLogger", "config", "default", "naming", "store"]
    );
    let naming = &config.logger["naming"];
    assert_eq!(
        naming.rotate_output_path,
        Some(PathBuf::from("log/runtime/polaris-naming.log"))
    );
    assert_eq!(
        naming.error_rotate_output_path,
        Some(PathBuf::from("log/runtime/polaris-naming-error.log"))
    );
    assert_eq!(naming.rotation_max_size_mb, 50);
    assert_eq!(naming.rotation_max_backups, 30);
    assert_eq!(naming.rotation_max_age_days, 3);
    assert_eq!(naming.output_level, LevelFilter::DEBUG);
    assert!(naming.compress);
    assert_eq!(config.logger["store"].output_level, LevelFilter::WARN);
    assert!(config.logger["HistoryLogger"].only_content);

    // Listeners.
    let http = config.http.clone().unwrap();
    assert_eq!(http.listen_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(http.listen_port, 18090);
    let names: Vec<&str> = config.apiservers.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["service-eureka", "service-grpc", "config-grpc", "xds-v3"]
    );
    let grpc = config.apiserver("service-grpc").unwrap();
    assert_eq!(grpc.listener.listen_port, 8091);
    assert_eq!(grpc.option["sizeCacheProto"], serde_json::json!(128));
    assert_eq!(grpc.option["tls"]["trustedCAFile"], serde_json::json!(""));
    assert_eq!(
        grpc.api["client"],
        ApiGroupConfig {
            enable: true,
            include: vec!["discover".into(), "register".into(), "healthcheck".into()]
        }
    );
    let eureka = config.apiserver("service-eureka").unwrap();
    assert_eq!(eureka.listener.socket_addr().to_string(), "0.0.0.0:8761");
    assert_eq!(
        eureka.option["connLimit"]["purgeCounterInterval"],
        serde_json::json!("10s")
    );
    assert_eq!(
        config.apiserver("xds-v3").unwrap().listener.listen_port,
        15010
    );

    // Modules.
    assert!(!config.namespace.auto_create);
    assert!(config.naming.auto_create);
    let reg = &config.naming.batch_register;
    assert_eq!(reg.queue_size, 20480);
    assert_eq!(reg.wait_time, Duration::from_millis(64));
    assert_eq!(reg.max_batch_count, 256);
    assert_eq!(reg.concurrency, 64);
    assert_eq!(reg.task_life, Duration::from_secs(60));
    assert_eq!(config.naming.batch_deregister.max_batch_count, 128);

    let hc = &config.healthcheck;
    assert!(hc.open);
    assert_eq!(hc.slot_num, 60);
    assert_eq!(hc.min_check_interval, Duration::from_secs(2));
    assert_eq!(hc.max_check_interval, Duration::from_secs(5400));
    assert_eq!(hc.client_report_interval, Duration::from_secs(120));
    assert_eq!(hc.checkers, ["heartbeatMemory"]);
    assert_eq!(hc.batch_heartbeat.max_batch_count, 32);

    assert!(config.cache.open);
    assert_eq!(
        config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("./polaris.bolt")
        }
    );
}

#[test]
fn defaults_without_file() {
    let Loaded { config, warnings } = load(None, &no_env()).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(config, ServerConfig::default());

    assert_eq!(config.logger.len(), 1);
    let scope = &config.logger["default"];
    assert_eq!(scope.rotate_output_path, None);
    assert_eq!(scope.error_rotate_output_path, None);
    assert_eq!(
        (
            scope.rotation_max_size_mb,
            scope.rotation_max_backups,
            scope.rotation_max_age_days
        ),
        (100, 10, 7)
    );
    assert_eq!(scope.output_level, LevelFilter::INFO);

    assert_eq!(config.http, Some(ListenerConfig::new(8090)));
    assert_eq!(
        config.http.clone().unwrap().socket_addr().to_string(),
        "0.0.0.0:8090"
    );
    let grpc = config
        .apiserver("service-grpc")
        .expect("naming gRPC is on by default");
    assert_eq!(grpc.listener.socket_addr().to_string(), "0.0.0.0:8091");
    let config_grpc = config
        .apiserver("config-grpc")
        .expect("config gRPC is on by default");
    assert_eq!(
        config_grpc.listener.socket_addr().to_string(),
        "0.0.0.0:8093"
    );
    let ports: Vec<(&str, u16)> = config
        .apiservers
        .iter()
        .map(|a| (a.name.as_str(), a.listener.listen_port))
        .collect();
    assert_eq!(
        ports,
        [
            ("service-grpc", 8091),
            ("config-grpc", 8093),
            ("service-eureka", 8761),
            ("xds-v3", 15010),
            ("console", 8080)
        ]
    );

    assert!(config.naming.auto_create);
    let reg = &config.naming.batch_register;
    assert_eq!(
        (reg.queue_size, reg.wait_time, reg.max_batch_count),
        (10240, Duration::from_millis(32), 128)
    );
    assert!(config.namespace.auto_create);
    let hc = &config.healthcheck;
    assert!(hc.open);
    assert_eq!(
        (hc.min_check_interval, hc.max_check_interval, hc.slot_num),
        (Duration::from_secs(1), Duration::from_secs(30), 30)
    );
    assert_eq!(
        config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("./polaris-data")
        }
    );
    assert!(config.cache.open);

    // An empty or comment-only file means the same.
    assert_eq!(load_text("").unwrap().config, config);
    assert_eq!(load_text("# nothing\n").unwrap().config, config);
    assert_eq!(load_text("naming:\n").unwrap().config, config);
}

#[test]
fn sample_config_loads_without_warnings() {
    let text = include_str!("../../../../conf/polaris-server.yaml");
    let Loaded { config, warnings } =
        load_str(text, "conf/polaris-server.yaml", &no_env()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.http, Some(ListenerConfig::new(8090)));
    // The sample serves what a start without a file serves.
    let listeners = |c: &ServerConfig| {
        c.apiservers
            .iter()
            .map(|a| (a.name.clone(), a.listener.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(listeners(&config), listeners(&ServerConfig::default()));
    assert_eq!(
        config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("./polaris-data")
        }
    );
    assert_eq!(config.logger["default"].rotate_output_path, None);
    assert_eq!(config.naming, NamingConfig::default());
    assert_eq!(config.healthcheck, HealthCheckConfig::default());

    // And through the file path API.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/polaris-server.yaml");
    let loaded = load(Some(&path), &no_env()).unwrap();
    assert_eq!(loaded.config, config);
}

#[test]
fn unknown_keys_warn_with_full_path() {
    let text = "\
apiservers:
  - name: api-http
    option:
      listenPort: 8090
      foo: 1
    extra: [1, 2]
naming:
  autoCreate: true
  batch:
    register:
      queueSze: 10
    clientRegister:
      open: true
bootstrap:
  logger:
    default:
      outputLevle: info
mystery:
  nested:
    deep: true
";
    let Loaded { config, warnings } = load_text(text).unwrap();
    assert_eq!(
        warnings,
        [
            "unknown key apiservers[0].option.foo ignored",
            "unknown key apiservers[0].extra ignored",
            "unknown key naming.batch.register.queueSze ignored",
            "unknown key bootstrap.logger.default.outputLevle ignored",
            "unknown key mystery ignored",
        ]
    );
    assert_eq!(config.http, Some(ListenerConfig::new(8090)));
    assert_eq!(config.naming.batch_register.queue_size, 10240);
}

#[test]
fn apiservers_section_controls_http() {
    // Present without api-http: HTTP disabled.
    let l = load_text("apiservers:\n  - name: service-grpc\n").unwrap();
    assert_eq!(l.config.http, None);
    assert_eq!(l.config.apiservers[0].listener, ListenerConfig::new(8091));
    assert!(l.config.apiservers[0].option.is_empty());
    let l = load_text("apiservers: []\n").unwrap();
    assert_eq!(l.config.http, None);

    // api-http with defaults.
    let l = load_text("apiservers:\n  - name: api-http\n").unwrap();
    assert_eq!(l.config.http, Some(ListenerConfig::new(8090)));

    // Unknown plugin and duplicates are warnings.
    let l = load_text(
        "apiservers:\n  - name: api-http\n  - name: api-http\n    option: {listenPort: 1}\n  - name: service-foo\n    option: {listenPort: 7}\n",
    )
    .unwrap();
    assert_eq!(l.config.http, Some(ListenerConfig::new(8090)));
    assert_eq!(l.config.apiservers.len(), 1);
    assert_eq!(l.config.apiservers[0].listener.listen_port, 7);
    assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
    assert!(l.warnings[0].contains("apiservers[1]") && l.warnings[0].contains("duplicate"));
    assert!(l.warnings[1].contains("apiservers[2]") && l.warnings[1].contains("service-foo"));
}

#[test]
fn store_variants() {
    for name in ["embedded", "boltdbStore", "redbStore"] {
        let l = load_text(&format!("store:\n  name: {name}\n")).unwrap();
        assert_eq!(l.config.store, StoreConfig::default(), "{name}");
    }
    let l = load_text("store:\n  option:\n    path: /var/lib/polaris\n").unwrap();
    assert_eq!(
        l.config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("/var/lib/polaris")
        }
    );

    let text = "\
store:
  name: defaultStore
  option:
    master:
      dbType: mysql
      dbName: polaris_server
      maxOpenConns: 300
";
    let l = load_text(text).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(
        l.config.store,
        StoreConfig::Sql {
            name: "defaultStore".into(),
            option: serde_json::json!({"master": {"dbType": "mysql", "dbName": "polaris_server", "maxOpenConns": 300}}),
        }
    );
}

#[test]
fn env_expansion() {
    let text = "\
apiservers:
  - name: api-http
    option:
      listenIP: ${POLARIS_IP}
      listenPort: $POLARIS_PORT
store:
  option:
    path: ${DATA_DIR}/data$UNSET
";
    let env: HashMap<String, String> = [
        ("POLARIS_IP", "127.0.0.1"),
        ("POLARIS_PORT", "9999"),
        ("DATA_DIR", "/srv"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let l = load_str(text, "x.yaml", &env).unwrap();
    assert_eq!(
        l.config.http.unwrap().socket_addr().to_string(),
        "127.0.0.1:9999"
    );
    assert_eq!(
        l.config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("/srv/data")
        }
    );

    // A missing variable expands to the empty string: here that leaves the
    // port null, i.e. the default.
    let l = load_str(text, "x.yaml", &no_env()).unwrap();
    assert_eq!(l.config.http, Some(ListenerConfig::new(8090)));
    assert_eq!(
        l.config.store,
        StoreConfig::Embedded {
            path: PathBuf::from("/data")
        }
    );
}

#[test]
fn durations_accept_strings_and_seconds() {
    let l = load_text("healthcheck:\n  minCheckInterval: 500ms\n  maxCheckInterval: 45\n  clientReportInterval: 1h30m\n").unwrap();
    assert_eq!(
        l.config.healthcheck.min_check_interval,
        Duration::from_millis(500)
    );
    assert_eq!(
        l.config.healthcheck.max_check_interval,
        Duration::from_secs(45)
    );
    assert_eq!(
        l.config.healthcheck.client_report_interval,
        Duration::from_secs(5400)
    );

    let e = parse_err("healthcheck:\n  minCheckInterval: 5 parsecs\n").to_string();
    assert!(e.starts_with("polaris-server.yaml:2:"), "{e}");
    assert!(
        e.contains("healthcheck.minCheckInterval") && e.contains("invalid duration"),
        "{e}"
    );
}

#[test]
fn type_error_names_file_line_column_and_key() {
    let text = "\
apiservers:
  - name: api-http
    option:
      listenIP: 0.0.0.0
      listenPort: abc
";
    let e = parse_err(text);
    match &e {
        ConfigError::Parse {
            file,
            line,
            column,
            key_path,
            ..
        } => {
            assert_eq!(file, "polaris-server.yaml");
            assert_eq!(*line, Some(5));
            assert_eq!(*column, Some(19));
            assert_eq!(key_path.as_deref(), Some("apiservers[0].option.listenPort"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let shown = e.to_string();
    assert!(
        shown.starts_with("polaris-server.yaml:5:19: apiservers[0].option.listenPort: "),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "{shown}");

    // Out of range.
    let e = parse_err("apiservers:\n  - name: api-http\n    option:\n      listenPort: 70000\n")
        .to_string();
    assert!(
        e.starts_with("polaris-server.yaml:4:19: apiservers[0].option.listenPort: "),
        "{e}"
    );

    // Wrong shape of a whole section.
    let e = parse_err("naming:\n  autoCreate: maybe\n").to_string();
    assert!(
        e.starts_with("polaris-server.yaml:2:") && e.contains("naming.autoCreate"),
        "{e}"
    );
    let e = parse_err("apiservers: 5\n").to_string();
    assert!(
        e.starts_with("polaris-server.yaml:1:") && e.contains("apiservers"),
        "{e}"
    );
}

#[test]
fn syntax_error_names_file_and_line() {
    let e = parse_err("apiservers:\n  - name: a\n   option: : x\n");
    let shown = e.to_string();
    assert!(shown.starts_with("polaris-server.yaml:3:"), "{shown}");
    match e {
        ConfigError::Parse { key_path, .. } => assert_eq!(key_path, None),
        other => panic!("unexpected {other:?}"),
    }
    let e = parse_err("naming: [unclosed\n").to_string();
    assert!(e.starts_with("polaris-server.yaml:"), "{e}");
}

#[test]
fn invalid_values_are_errors() {
    let e = parse_err("bootstrap:\n  logger:\n    naming:\n      outputLevel: loud\n").to_string();
    assert!(
        e.starts_with("polaris-server.yaml: bootstrap.logger.naming.outputLevel: unknown level"),
        "{e}"
    );
    let e = parse_err("apiservers:\n  - name: api-http\n    option:\n      listenIP: not-an-ip\n")
        .to_string();
    assert!(e.contains("apiservers[0].option.listenIP"), "{e}");
    let e =
        parse_err("healthcheck:\n  minCheckInterval: 1m\n  maxCheckInterval: 30s\n").to_string();
    assert!(e.contains("healthcheck.minCheckInterval"), "{e}");
    let e = parse_err("healthcheck:\n  slotNum: 0\n").to_string();
    assert!(e.contains("healthcheck.slotNum"), "{e}");
    let e = parse_err("apiservers:\n  - option: {listenPort: 1}\n").to_string();
    assert!(e.contains("apiservers[0].name"), "{e}");
}

#[test]
fn logger_levels_and_empty_paths() {
    let text = "\
bootstrap:
  logger:
    default:
      rotateOutputPath: \"\"
      outputLevel: fatal
    naming:
      outputLevel: none
";
    let l = load_text(text).unwrap();
    assert_eq!(l.config.logger["default"].rotate_output_path, None);
    assert_eq!(l.config.logger["default"].output_level, LevelFilter::ERROR);
    assert_eq!(l.config.logger["naming"].output_level, LevelFilter::OFF);
    assert_eq!(l.config.logger["naming"].rotation_max_size_mb, 100);
}

#[test]
fn missing_file_is_io_error() {
    let e = load(
        Some(std::path::Path::new("/nonexistent/polaris-server.yaml")),
        &no_env(),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string().contains("/nonexistent/polaris-server.yaml"),
        "{e}"
    );
}

#[test]
fn null_sections_mean_defaults() {
    let text = "\
bootstrap:
  logger:
    default:
apiservers:
  - name: api-http
    option:
    api:
      admin:
naming:
  batch:
    register:
healthcheck:
  batch:
store:
  option:
cache:
namespace:
";
    let l = load_text(text).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // The section lists only api-http, so no other listener is served.
    let mut expected = ServerConfig {
        apiservers: Vec::new(),
        ..ServerConfig::default()
    };
    // A null option gives api-http the default limits, whether or not it is listed by name.
    assert_eq!(
        l.config.limits.listener("api-http"),
        expected.limits.listener("api-http")
    );
    expected.limits = l.config.limits.clone();
    assert_eq!(l.config, expected);
}

#[test]
fn tls_blocks_turn_listeners_to_tls() {
    let text = "apiservers:
  - name: api-http
    option:
      listenPort: 8090
      tls: { certFile: /tls/server.pem, keyFile: /tls/server.key }
  - name: service-grpc
    option:
      tls: { certFile: /tls/server.pem, keyFile: /tls/server.key, trustedCAFile: /tls/ca.pem }
  - name: config-grpc
    option:
      tls: { certFile: \"\", keyFile: \"\", trustedCAFile: \"\" }
";
    let config = load_text(text).unwrap().config;
    let http = config.http.clone().unwrap().tls.unwrap();
    assert_eq!(http.cert_file, std::path::Path::new("/tls/server.pem"));
    assert_eq!(http.key_file, std::path::Path::new("/tls/server.key"));
    assert_eq!(http.trusted_ca_file, None);
    let grpc = config
        .apiserver("service-grpc")
        .unwrap()
        .listener
        .tls
        .clone();
    assert_eq!(
        grpc.unwrap().trusted_ca_file.as_deref(),
        Some(std::path::Path::new("/tls/ca.pem"))
    );
    // The official template's empty block is plain text.
    assert_eq!(config.apiserver("config-grpc").unwrap().listener.tls, None);

    let e =
        parse_err("apiservers:\n  - name: xds-v3\n    option:\n      tls: { certFile: /a.pem }\n")
            .to_string();
    assert!(e.contains("apiservers[0].option.tls.keyFile"), "{e}");
    let e = parse_err(
        "apiservers:\n  - name: console\n    option:\n      tls: { trustedCAFile: /ca.pem }\n",
    )
    .to_string();
    assert!(e.contains("apiservers[0].option.tls.certFile"), "{e}");
}
