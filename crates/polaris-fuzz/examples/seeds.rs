//! Writes the hand-made seed inputs of every fuzz target into `fuzz/corpus/<target>/seed-*`
//! (well-formed requests the fuzzer starts mutating from): `cargo run -p polaris-fuzz --example
//! seeds`. The committed corpus is these seeds plus what the campaign found, minimised.

use std::io::Write;
use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use polaris_fuzz::grpc::{CONFIG_METHODS, NAMING_METHODS, XDS_METHODS};
use polaris_fuzz::http::OPENAPI_ROUTES;
use polaris_proto::v1;
use prost::Message;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = corpus().join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), data).expect("seed file");
}

/// A JSON body for a route, by what the path names.
fn body_for(path: &str) -> &'static str {
    const INSTANCE: &str = r#"{"service":"orders","namespace":"default","host":"10.0.0.1","port":8080,"weight":100,"protocol":"http","version":"v1","metadata":{"env":"gray"},"healthCheck":{"type":1,"heartbeat":{"ttl":5}}}"#;
    match path {
        p if p.ends_with("/RegisterInstance")
            || p.ends_with("/DeregisterInstance")
            || p.ends_with("/Heartbeat") =>
        {
            INSTANCE
        }
        p if p.ends_with("/ReportClient") => {
            r#"{"host":"10.0.0.2","type":"SDK","version":"1.0","location":{"region":"r","zone":"z"}}"#
        }
        p if p.ends_with("/Discover") => {
            r#"{"type":"INSTANCE","service":{"name":"orders","namespace":"default","revision":""}}"#
        }
        p if p.ends_with("/ConfigDiscover") => {
            r#"{"type":"CONFIG_FILE_GROUPS","configFile":{"namespace":"default","group":"g"}}"#
        }
        p if p.ends_with("/WatchConfigFile") => {
            r#"{"clientIp":"10.0.0.3","watchFiles":[{"namespace":"default","group":"g","fileName":"a.yaml","version":0}]}"#
        }
        p if p.ends_with("/GetConfigFileMetadataList") => {
            r#"{"revision":"","configFileGroup":{"namespace":"default","name":"g"}}"#
        }
        p if p.contains("/instances") => {
            r#"[{"service":"orders","namespace":"default","host":"10.0.0.1","port":8080,"isolate":true,"metadata":{"k":"v"}}]"#
        }
        p if p.contains("/namespaces") => r#"[{"name":"ns1","comment":"c","owners":"polaris"}]"#,
        p if p.contains("/alias") => {
            r#"[{"service":"orders","namespace":"default","alias":"o2","alias_namespace":"default"}]"#
        }
        p if p.contains("/services") => {
            r#"[{"name":"orders","namespace":"default","metadata":{"a":"b"},"ports":"8080","department":"d"}]"#
        }
        p if p.contains("/routings") => {
            r#"[{"name":"gray","namespace":"default","enable":true,"priority":1,"routing_policy":"RulePolicy","routing_config":{"@type":"type.googleapis.com/v2.RuleRoutingConfig","rules":[{"name":"r1","sources":[{"service":"web","namespace":"default","arguments":[{"type":"HEADER","key":"x-user","value":{"type":"REGEX","value":"^vip-.*$"}}]}],"destinations":[{"service":"orders","namespace":"default","weight":100,"labels":{"env":{"type":"EXACT","value":"gray"}}}]}]}}]"#
        }
        p if p.contains("/ratelimits") => {
            r#"[{"service":"orders","namespace":"default","name":"rl","priority":1,"resource":"QPS","type":"GLOBAL","amounts":[{"maxAmount":10,"validDuration":"1s"}],"arguments":[{"type":"QUERY","key":"uid","value":{"type":"IN","value":"1,2"}}]}]"#
        }
        p if p.contains("/circuitbreaker") => {
            r#"[{"name":"cb","enable":true,"level":"SERVICE","rule_matcher":{"source":{"service":"*","namespace":"*"},"destination":{"service":"orders","namespace":"default","method":{"type":"REGEX","value":"^/api/.*"}}},"error_conditions":[{"input_type":"RET_CODE","condition":{"type":"RANGE","value":"500~599"}}],"trigger_condition":[{"trigger_type":"CONSECUTIVE_ERROR","error_count":5}]}]"#
        }
        p if p.contains("/faultdetectors") => {
            r#"[{"name":"fd","interval":10,"timeout":1,"protocol":"HTTP","target_service":{"service":"orders","namespace":"default"},"http_config":{"method":"GET","url":"/health"}}]"#
        }
        p if p.contains("/lane") => {
            r#"[{"name":"lg","entries":[{"type":"polarismesh.cn/service","selector":{"@type":"type.googleapis.com/v1.ServiceSelector","namespace":"default","service":"gateway"}}],"destinations":[{"service":"orders","namespace":"default"}],"rules":[{"name":"gray","enable":true,"traffic_match_rule":{"arguments":[{"type":"HEADER","key":"lane","value":{"type":"EXACT","value":"gray"}}]}}]}]"#
        }
        p if p.contains("/configfilegroups") => {
            r#"{"namespace":"default","name":"g","comment":"c"}"#
        }
        p if p.contains("/createandpub") || p.contains("/configfiles/release") => {
            r#"{"namespace":"default","group":"g","fileName":"a.yaml","name":"v1","content":"a: 1","format":"yaml","releaseType":"gray","betaLabels":[{"key":"CLIENT_IP","value":{"type":"IN","value":"10.0.0.1"}}]}"#
        }
        p if p.contains("/releases") => {
            r#"[{"namespace":"default","group":"g","fileName":"a.yaml","name":"v1"}]"#
        }
        p if p.contains("/configfiletemplates") => r#"{"name":"t","content":"x","format":"text"}"#,
        p if p.contains("/export") => r#"{"namespace":"default","groups":["g"]}"#,
        p if p.contains("/configfiles") => {
            r#"{"namespace":"default","group":"g","name":"a.yaml","content":"a: 1","format":"yaml","tags":[{"key":"k","value":"v"}],"encrypted":true,"encryptAlgo":"AES"}"#
        }
        p if p.contains("/login") => r#"{"name":"polaris","password":"wrong"}"#,
        p if p.contains("/users") || p.ends_with("/user") => {
            r#"[{"name":"u1","password":"secret123","comment":"c"}]"#
        }
        p if p.contains("/password") => r#"{"id":"u1","old_password":"a","new_password":"bbbbbb"}"#,
        p if p.contains("usergroup") => r#"{"name":"g1","relation":{"users":[{"id":"u1"}]}}"#,
        p if p.contains("/strateg") => {
            r#"{"name":"s1","principals":{"users":[{"id":"u1"}]},"resources":{"namespaces":[{"id":"default"}],"services":[{"id":"*"}]},"action":"READ_WRITE"}"#
        }
        _ => "",
    }
}

/// A query string for a route.
fn query_for(path: &str) -> &'static str {
    match path {
        p if p.contains("config") => {
            "namespace=default&group=g&name=a.yaml&fileName=a.yaml&offset=0&limit=10"
        }
        p if p.contains("/core/v1") => "name=polaris&id=u1&offset=0&limit=10&type=user",
        _ => "namespace=default&service=orders&host=10.0.0.1&offset=0&limit=10&keys=a,b&brief=true",
    }
}

fn http_seeds() {
    for (i, (_, path)) in OPENAPI_ROUTES.iter().enumerate() {
        let mut data = vec![u8::try_from(i).expect("fewer than 256 routes")];
        data.extend_from_slice(query_for(path).as_bytes());
        data.push(b'\n');
        data.extend_from_slice(body_for(path).as_bytes());
        write("http_openapi", &format!("{i:03}"), &data);
    }
    // The governance target numbers its own routes: seed each with every body.
    for pick in 0u8..24 {
        for (name, path) in [
            ("rt", "/routings"),
            ("rl", "/ratelimits"),
            ("cb", "/circuitbreaker"),
            ("fd", "/faultdetectors"),
            ("ln", "/lane"),
        ] {
            let mut data = vec![pick];
            data.extend_from_slice(b"\n");
            data.extend_from_slice(body_for(path).as_bytes());
            write("governance_rules", &format!("{name}-{pick:02}"), &data);
        }
    }
    let gets = OPENAPI_ROUTES.iter().filter(|(m, _)| *m == "GET");
    for (i, (_, path)) in gets.enumerate() {
        let mut data = vec![u8::try_from(i).expect("fewer than 256 routes")];
        data.extend_from_slice(query_for(path).as_bytes());
        write("http_query", &format!("{i:03}"), &data);
    }
}

fn zip_seeds() {
    let options = zip::write::SimpleFileOptions::default();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("g/a.yaml", options).expect("entry");
    writer.write_all(b"a: 1\n").expect("write");
    writer.start_file("g/b.properties", options).expect("entry");
    writer.write_all(b"k=v\n").expect("write");
    writer.start_file("META", options).expect("entry");
    writer
        .write_all(br#"{"g/a.yaml":{"tags":{"k":"v"},"comment":"c"}}"#)
        .expect("write");
    let archive = writer.finish().expect("archive").into_inner();
    write("config_zip", "plain", &archive);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("g/c.json", stored).expect("entry");
    writer.write_all(br#"{"x":1}"#).expect("write");
    write(
        "config_zip",
        "stored",
        &writer.finish().expect("archive").into_inner(),
    );
}

fn instance() -> v1::Instance {
    v1::Instance {
        service: Some("orders".into()),
        namespace: Some("default".into()),
        host: Some("10.0.0.1".into()),
        port: Some(8080),
        weight: Some(100),
        metadata: [("env".to_string(), "gray".to_string())].into(),
        ..Default::default()
    }
}

fn stream_of(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&u16::try_from(m.len()).expect("small").to_le_bytes());
        out.extend_from_slice(m);
    }
    out
}

fn pick(methods: &[polaris_fuzz::grpc::Method], suffix: &str) -> u8 {
    let at = methods.iter().position(|m| m.path.ends_with(suffix));
    u8::try_from(at.expect("a known method")).expect("few methods")
}

fn seed(target: &str, name: &str, pick: u8, body: &[u8]) {
    let mut data = vec![pick];
    data.extend_from_slice(body);
    write(target, name, &data);
}

fn grpc_seeds() {
    let m = NAMING_METHODS;
    for name in ["RegisterInstance", "DeregisterInstance", "Heartbeat"] {
        seed(
            "grpc_naming",
            name,
            pick(m, name),
            &instance().encode_to_vec(),
        );
    }
    let client = v1::Client {
        host: Some("10.0.0.2".into()),
        version: Some("1.0".into()),
        ..Default::default()
    };
    seed(
        "grpc_naming",
        "ReportClient",
        pick(m, "ReportClient"),
        &client.encode_to_vec(),
    );
    let discover = |kind: i32| {
        v1::DiscoverRequest {
            r#type: kind,
            service: Some(v1::Service {
                name: Some("orders".into()),
                namespace: Some("default".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let stream = stream_of(&(0..8).map(discover).collect::<Vec<_>>());
    seed("grpc_naming", "Discover", pick(m, "Discover"), &stream);
    let contract = v1::ServiceContract {
        name: "orders".into(),
        namespace: "default".into(),
        service: "orders".into(),
        protocol: "http".into(),
        ..Default::default()
    };
    for name in ["ReportServiceContract", "GetServiceContract"] {
        seed(
            "grpc_naming",
            name,
            pick(m, name),
            &contract.encode_to_vec(),
        );
    }

    let m = CONFIG_METHODS;
    let file = v1::ConfigFile {
        namespace: Some("default".into()),
        group: Some("g".into()),
        name: Some("a.yaml".into()),
        content: Some("a: 1".into()),
        format: Some("yaml".into()),
        ..Default::default()
    };
    for name in ["CreateConfigFile", "UpdateConfigFile"] {
        seed("grpc_config", name, pick(m, name), &file.encode_to_vec());
    }
    let release = v1::ConfigFileRelease {
        namespace: Some("default".into()),
        group: Some("g".into()),
        file_name: Some("a.yaml".into()),
        ..Default::default()
    };
    seed(
        "grpc_config",
        "Publish",
        pick(m, "/PublishConfigFile"),
        &release.encode_to_vec(),
    );
    let info = v1::ClientConfigFileInfo {
        namespace: Some("default".into()),
        group: Some("g".into()),
        file_name: Some("a.yaml".into()),
        version: Some(0),
        ..Default::default()
    };
    seed(
        "grpc_config",
        "Get",
        pick(m, "GetConfigFile"),
        &info.encode_to_vec(),
    );
    let watch = v1::ClientWatchConfigFileRequest {
        watch_files: vec![info.clone()],
        ..Default::default()
    };
    seed(
        "grpc_config",
        "Watch",
        pick(m, "WatchConfigFiles"),
        &watch.encode_to_vec(),
    );
    let group = v1::ConfigFileGroupRequest {
        config_file_group: Some(v1::ConfigFileGroup {
            namespace: Some("default".into()),
            name: Some("g".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let metadata = pick(m, "GetConfigFileMetadataList");
    seed("grpc_config", "Metadata", metadata, &group.encode_to_vec());
    let publish = v1::ConfigFilePublishInfo {
        namespace: Some("default".into()),
        group: Some("g".into()),
        file_name: Some("a.yaml".into()),
        content: Some("a: 1".into()),
        format: Some("yaml".into()),
        ..Default::default()
    };
    let upsert = pick(m, "UpsertAndPublishConfigFile");
    seed("grpc_config", "Upsert", upsert, &publish.encode_to_vec());
    let discover = v1::ConfigDiscoverRequest {
        r#type: 1,
        config_file: Some(info),
        ..Default::default()
    };
    let stream = stream_of(&[discover.encode_to_vec()]);
    seed("grpc_config", "Discover", pick(m, "/Discover"), &stream);
}

fn xds_seeds() {
    let node = |id: &str| Node {
        id: id.into(),
        cluster: "orders".into(),
        ..Default::default()
    };
    let sidecar = node("default/orders~10.0.0.1~orders-1.default~default.svc.cluster.local");
    for (i, method) in XDS_METHODS.iter().enumerate() {
        let delta = method.path.contains("/Delta");
        let types = [
            "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
            "type.googleapis.com/envoy.config.listener.v3.Listener",
            "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        ];
        let messages: Vec<Vec<u8>> = types
            .iter()
            .map(|ty| {
                if delta {
                    DeltaDiscoveryRequest {
                        node: Some(sidecar.clone()),
                        type_url: (*ty).into(),
                        resource_names_subscribe: vec!["*".into()],
                        ..Default::default()
                    }
                    .encode_to_vec()
                } else {
                    DiscoveryRequest {
                        node: Some(sidecar.clone()),
                        type_url: (*ty).into(),
                        resource_names: vec!["orders".into()],
                        ..Default::default()
                    }
                    .encode_to_vec()
                }
            })
            .collect();
        let pick = u8::try_from(i).expect("few methods");
        let body = if method.streaming {
            stream_of(&messages)
        } else {
            messages[0].clone()
        };
        seed("xds_requests", &format!("{i:02}"), pick, &body);
    }
}

fn eureka_seeds() {
    let json = r#"{"instance":{"instanceId":"i1","hostName":"h","app":"DEMO","ipAddr":"10.0.0.9","status":"UP","port":{"$":8080,"@enabled":"true"},"vipAddress":"demo","metadata":{"a":"1"}}}"#;
    let xml = r#"<instance><instanceId>x1</instanceId><hostName>h</hostName><app>XAPP</app><ipAddr>10.0.0.9</ipAddr><status>UP</status><port enabled="true">9090</port><metadata><a>1</a></metadata></instance>"#;
    let batch = r#"{"replicationList":[{"appName":"DEMO","id":"i1","lastDirtyTimestamp":1,"status":"UP","action":"Register","instanceInfo":{"instanceId":"i1","hostName":"h","app":"DEMO","ipAddr":"10.0.0.9","status":"UP","port":{"$":8080,"@enabled":"true"}}}]}"#;
    // Byte 0: method in bits 0-1 (GET, POST, PUT, DELETE), content type in bits 2-3 (JSON, XML).
    let seeds: [(&str, u8, &str, &str); 10] = [
        ("register-json", 1, "apps/DEMO", json),
        ("register-xml", 1 | 4, "apps/XAPP", xml),
        ("apps", 0, "apps", ""),
        ("delta", 16, "v2/apps/delta", ""),
        (
            "renew",
            2,
            "apps/DEMO/i1?status=UP&lastDirtyTimestamp=1",
            "",
        ),
        ("status", 2, "apps/DEMO/i1/status?value=OUT_OF_SERVICE", ""),
        ("metadata", 2, "apps/DEMO/i1/metadata?k=v", ""),
        ("cancel", 3, "apps/DEMO/i1", ""),
        ("vip", 0, "vips/demo", ""),
        ("batch", 1, "peerreplication/batch", batch),
    ];
    for (name, pick, line, body) in seeds {
        let mut data = vec![pick];
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        data.extend_from_slice(body.as_bytes());
        write("eureka_bodies", name, &data);
    }
}

fn text_seeds() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/polaris-server.yaml");
    let yaml = std::fs::read(conf).expect("conf/polaris-server.yaml");
    write("server_config", "shipped", &yaml);
    write(
        "server_config",
        "small",
        b"bootstrap:\n  logger:\n    config:\n      rotateOutputPath: ${POLARIS_HOME}/log\napiservers:\n  - name: service-eureka\n    option:\n      listenIP: 0.0.0.0\n      listenPort: ${PORT}\nstore:\n  name: boltdbStore\n  option:\n    path: ./polaris.bolt\n",
    );
    for (name, kind, body) in [
        ("exact", 0u8, &b"gray\0gray"[..]),
        ("regex", 1, b"^v1\\.[0-9]+(-beta)?$\0v1.2-beta"),
        ("not-equals", 2, b"a\0b"),
        ("in", 3, b"a, b,c\0b"),
        ("not-in", 4, b"a,b\0c"),
        ("range", 5, b"100~599\0 404 "),
    ] {
        let mut data = vec![kind];
        data.extend_from_slice(body);
        write("match_string", name, &data);
    }
    let salt = b"polarismesh@2021";
    for (name, owner) in [
        (
            "user",
            polaris_auth::token::TokenOwner::User("65e4789a6d5b49669adf1e9e8387549c".into()),
        ),
        ("group", polaris_auth::token::TokenOwner::Group("g1".into())),
    ] {
        let mut data = vec![0u8];
        data.extend_from_slice(polaris_auth::token::issue(salt, &owner).as_bytes());
        write("access_token", name, &data);
    }
}

fn main() {
    http_seeds();
    zip_seeds();
    grpc_seeds();
    xds_seeds();
    eureka_seeds();
    text_seeds();
    println!("seeds written under {}", corpus().display());
}
