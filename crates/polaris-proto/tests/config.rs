//! The config-center protocol (`PolarisConfigGRPC` and its messages): gRPC paths, wire checks
//! built from hand-written bytes (numbers and wire types from the official specification's
//! `config_manage` files, releases 1.5.0 to 1.8.0, not from our `.proto` files) and proto3
//! JSON through prost-reflect with the official JSON names.

mod common;
use common::*;

use polaris_proto::v1;
use polaris_proto::v1::config_discover_request::ConfigDiscoverRequestType;
use polaris_proto::v1::config_discover_response::ConfigDiscoverResponseType;
use polaris_proto::v1::match_string::MatchStringType;
use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_proto::v1::{
    ClientConfigFileInfo, ClientWatchConfigFileRequest, ConfigClientListResponse,
    ConfigClientResponse, ConfigClientType, ConfigDiscoverRequest, ConfigDiscoverResponse,
    ConfigFile, ConfigFileGroupRequest, ConfigFilePersistent, ConfigFilePublishInfo,
    ConfigFileRelease, ConfigFileSupportedClient, ConfigFileTag, ConfigResponse,
    polaris_config_grpc_server,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::codegen::tokio_stream;

// ---------------------------------------------------------------------------------------------
// gRPC paths
#[tokio::test]
async fn config_client_paths() {
    let rec = Recorder::default();
    let mut c = PolarisConfigGrpcClient::new(rec.clone());
    let _ = c.get_config_file(ClientConfigFileInfo::default()).await;
    let _ = c.create_config_file(ConfigFile::default()).await;
    let _ = c.update_config_file(ConfigFile::default()).await;
    let _ = c.publish_config_file(ConfigFileRelease::default()).await;
    let _ = c
        .upsert_and_publish_config_file(ConfigFilePublishInfo::default())
        .await;
    let _ = c
        .watch_config_files(ClientWatchConfigFileRequest::default())
        .await;
    let _ = c
        .get_config_file_metadata_list(ConfigFileGroupRequest::default())
        .await;
    let _ = c
        .discover(tokio_stream::iter(vec![ConfigDiscoverRequest::default()]))
        .await;
    assert_eq!(
        rec.paths(),
        [
            "/v1.PolarisConfigGRPC/GetConfigFile",
            "/v1.PolarisConfigGRPC/CreateConfigFile",
            "/v1.PolarisConfigGRPC/UpdateConfigFile",
            "/v1.PolarisConfigGRPC/PublishConfigFile",
            "/v1.PolarisConfigGRPC/UpsertAndPublishConfigFile",
            "/v1.PolarisConfigGRPC/WatchConfigFiles",
            "/v1.PolarisConfigGRPC/GetConfigFileMetadataList",
            "/v1.PolarisConfigGRPC/Discover",
        ]
    );
}

#[test]
fn config_server_name() {
    assert_eq!(
        polaris_config_grpc_server::SERVICE_NAME,
        "v1.PolarisConfigGRPC"
    );
}

/// The method names and streaming shapes as the descriptors carry them (what reflection and
/// the server router see).
#[test]
fn config_service_descriptor() {
    let pool = pool();
    let svc = pool
        .get_service_by_name("v1.PolarisConfigGRPC")
        .expect("service");
    let methods: Vec<_> = svc
        .methods()
        .map(|m| {
            (
                m.name().to_owned(),
                m.input().full_name().to_owned(),
                m.output().full_name().to_owned(),
                m.is_client_streaming(),
                m.is_server_streaming(),
            )
        })
        .collect();
    let unary = |name: &str, input: &str, output: &str| {
        (
            name.to_owned(),
            format!("v1.{input}"),
            format!("v1.{output}"),
            false,
            false,
        )
    };
    assert_eq!(
        methods,
        [
            unary(
                "GetConfigFile",
                "ClientConfigFileInfo",
                "ConfigClientResponse"
            ),
            unary("CreateConfigFile", "ConfigFile", "ConfigClientResponse"),
            unary("UpdateConfigFile", "ConfigFile", "ConfigClientResponse"),
            unary(
                "PublishConfigFile",
                "ConfigFileRelease",
                "ConfigClientResponse"
            ),
            unary(
                "UpsertAndPublishConfigFile",
                "ConfigFilePublishInfo",
                "ConfigClientResponse"
            ),
            unary(
                "WatchConfigFiles",
                "ClientWatchConfigFileRequest",
                "ConfigClientResponse"
            ),
            unary(
                "GetConfigFileMetadataList",
                "ConfigFileGroupRequest",
                "ConfigClientListResponse"
            ),
            (
                "Discover".to_owned(),
                "v1.ConfigDiscoverRequest".to_owned(),
                "v1.ConfigDiscoverResponse".to_owned(),
                true,
                true,
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Wire bytes

/// Decodes `wire` as `T`, checks it against `expected`, and checks that prost encodes it back
/// to the same bytes (the parts are in field order and carry no defaults).
fn check<T: Message + Default + PartialEq + std::fmt::Debug>(wire: &[u8], expected: &T) {
    let got = T::decode(wire).expect("decode");
    assert_eq!(&got, expected);
    assert_eq!(got.encode_to_vec(), wire);
}

const BIG: u64 = 1 << 40;

fn persistent_wire() -> Vec<u8> {
    cat(&[
        string(1, "UTF-8"),
        string(2, "/etc/app.yaml"),
        string(3, "reload"),
    ])
}

fn persistent() -> ConfigFilePersistent {
    ConfigFilePersistent {
        encoding: "UTF-8".into(),
        path: "/etc/app.yaml".into(),
        post_cmd: "reload".into(),
    }
}

#[test]
fn config_file_fields() {
    let wire = cat(&[
        int_value(1, BIG),
        string_value(2, "app.yaml"),
        string_value(3, "default"),
        string_value(4, "g1"),
        string_value(5, "k: v\n"),
        string_value(6, "yaml"),
        string_value(7, "c"),
        string_value(8, "success"),
        bytes(9, &cat(&[string_value(1, "env"), string_value(2, "prod")])),
        string_value(10, "2024-01-02 03:04:05"),
        string_value(11, "admin"),
        string_value(12, "2024-01-02 03:04:06"),
        string_value(13, "ops"),
        string_value(14, "2024-01-02 03:04:07"),
        string_value(15, "rel"),
        int_value(16, 1),
        string_value(17, "AES"),
        int(18, 2),
        bytes(19, &persistent_wire()),
    ]);
    let expected = ConfigFile {
        id: Some(BIG),
        name: Some("app.yaml".into()),
        namespace: Some("default".into()),
        group: Some("g1".into()),
        content: Some("k: v\n".into()),
        format: Some("yaml".into()),
        comment: Some("c".into()),
        status: Some("success".into()),
        tags: vec![ConfigFileTag {
            key: Some("env".into()),
            value: Some("prod".into()),
        }],
        create_time: Some("2024-01-02 03:04:05".into()),
        create_by: Some("admin".into()),
        modify_time: Some("2024-01-02 03:04:06".into()),
        modify_by: Some("ops".into()),
        release_time: Some("2024-01-02 03:04:07".into()),
        release_by: Some("rel".into()),
        encrypted: Some(true),
        encrypt_algo: Some("AES".into()),
        supported_client: ConfigFileSupportedClient::ClientAll as i32,
        persistent: Some(persistent()),
    };
    check(&wire, &expected);
}

#[test]
fn client_config_file_info_fields() {
    let wire = cat(&[
        string_value(1, "default"),
        string_value(2, "g1"),
        string_value(3, "app.yaml"),
        string_value(4, "k: v\n"),
        // version = 5 is a UInt64Value: an embedded message, not a plain varint.
        int_value(5, BIG + 7),
        string_value(6, "0123abcd"),
        bytes(7, &cat(&[string_value(1, "env"), string_value(2, "prod")])),
        int_value(8, 1),
        string_value(9, "pk"),
        string_value(10, "release-1"),
        string_value(11, "2024-01-02 03:04:05"),
        int(12, 1),
        int(13, 1),
        bytes(14, &persistent_wire()),
    ]);
    let expected = ClientConfigFileInfo {
        namespace: Some("default".into()),
        group: Some("g1".into()),
        file_name: Some("app.yaml".into()),
        content: Some("k: v\n".into()),
        version: Some(BIG + 7),
        md5: Some("0123abcd".into()),
        tags: vec![ConfigFileTag {
            key: Some("env".into()),
            value: Some("prod".into()),
        }],
        encrypted: Some(true),
        public_key: Some("pk".into()),
        name: Some("release-1".into()),
        release_time: Some("2024-01-02 03:04:05".into()),
        client_type: ConfigClientType::Agent as i32,
        supported_client: ConfigFileSupportedClient::ClientAgent as i32,
        persistent: Some(persistent()),
    };
    check(&wire, &expected);
}

#[test]
fn config_client_response_fields() {
    let wire = cat(&[
        int_value(1, 200_000),
        string_value(2, "execute success"),
        bytes(
            3,
            &cat(&[
                string_value(1, "default"),
                string_value(2, "g1"),
                string_value(3, "app.yaml"),
                int_value(5, 3),
            ]),
        ),
    ]);
    let expected = ConfigClientResponse {
        code: Some(200_000),
        info: Some("execute success".into()),
        config_file: Some(ClientConfigFileInfo {
            namespace: Some("default".into()),
            group: Some("g1".into()),
            file_name: Some("app.yaml".into()),
            version: Some(3),
            ..Default::default()
        }),
    };
    check(&wire, &expected);
}

#[test]
fn config_client_list_response_fields() {
    let wire = cat(&[
        int_value(1, 200_000),
        string_value(2, "ok"),
        string_value(3, "rev-1"),
        string(4, "default"),
        string(5, "g1"),
        bytes(6, &string_value(3, "a.yaml")),
        bytes(6, &string_value(3, "b.yaml")),
    ]);
    let file = |name: &str| ClientConfigFileInfo {
        file_name: Some(name.into()),
        ..Default::default()
    };
    let expected = ConfigClientListResponse {
        code: Some(200_000),
        info: Some("ok".into()),
        revision: Some("rev-1".into()),
        namespace: "default".into(),
        group: "g1".into(),
        config_file_infos: vec![file("a.yaml"), file("b.yaml")],
    };
    check(&wire, &expected);
}

#[test]
fn config_file_release_fields() {
    // beta_labels = 19 is a repeated ClientLabel { key = 1 (string), value = 2 MatchString {
    // type = 1 (enum), value = 2 (StringValue) } }.
    let label = cat(&[
        string(1, "env"),
        bytes(2, &cat(&[int(1, 1), string_value(2, "gray.*")])),
    ]);
    let wire = cat(&[
        string_value(2, "release-1"),
        string_value(5, "app.yaml"),
        int_value(9, 4),
        int_value(15, 1),
        string_value(18, "gray"),
        bytes(19, &label),
        int_value(20, BIG),
        int(21, 1),
    ]);
    let expected = ConfigFileRelease {
        name: Some("release-1".into()),
        file_name: Some("app.yaml".into()),
        version: Some(4),
        active: Some(true),
        release_type: Some("gray".into()),
        beta_labels: vec![v1::ClientLabel {
            key: "env".into(),
            value: Some(v1::MatchString {
                r#type: MatchStringType::Regex as i32,
                value: Some("gray.*".into()),
                ..Default::default()
            }),
        }],
        config_file_id: Some(BIG),
        supported_client: ConfigFileSupportedClient::ClientAgent as i32,
        ..Default::default()
    };
    check(&wire, &expected);
}

#[test]
fn config_discover_fields() {
    let request = cat(&[
        int(1, 2),
        bytes(
            2,
            &cat(&[string_value(1, "default"), string_value(2, "g1")]),
        ),
        string(3, "rev-0"),
    ]);
    check(
        &request,
        &ConfigDiscoverRequest {
            r#type: ConfigDiscoverRequestType::ConfigFileNames as i32,
            config_file: Some(ClientConfigFileInfo {
                namespace: Some("default".into()),
                group: Some("g1".into()),
                ..Default::default()
            }),
            revision: "rev-0".into(),
        },
    );

    // code, info and revision are plain scalars here, not wrappers.
    let response = cat(&[
        int(1, 200_000),
        string(2, "ok"),
        string(3, "rev-1"),
        int(4, 3),
        bytes(5, &string_value(3, "a.yaml")),
        bytes(6, &string_value(3, "b.yaml")),
        bytes(7, &cat(&[string_value(2, "g1"), int_value(9, 2)])),
    ]);
    check(
        &response,
        &ConfigDiscoverResponse {
            code: 200_000,
            info: "ok".into(),
            revision: "rev-1".into(),
            r#type: ConfigDiscoverResponseType::ConfigFileGroups as i32,
            config_file: Some(ClientConfigFileInfo {
                file_name: Some("a.yaml".into()),
                ..Default::default()
            }),
            config_file_names: vec![ClientConfigFileInfo {
                file_name: Some("b.yaml".into()),
                ..Default::default()
            }],
            config_file_groups: vec![v1::ConfigFileGroup {
                name: Some("g1".into()),
                file_count: Some(2),
                ..Default::default()
            }],
        },
    );
    assert_eq!(
        ConfigDiscoverRequestType::ConfigFileNames.as_str_name(),
        "CONFIG_FILE_Names"
    );
}

#[test]
fn config_file_group_request_and_watch_fields() {
    // client_labels = 12 is a map: repeated entries { key = 1, value = 2 }.
    let wire = cat(&[
        string_value(1, "rev"),
        bytes(
            2,
            &cat(&[string_value(2, "g1"), string_value(3, "default")]),
        ),
        bytes(12, &cat(&[string(1, "zone"), string(2, "z1")])),
        int(13, 1),
    ]);
    let got = ConfigFileGroupRequest::decode(wire.as_slice()).expect("decode");
    assert_eq!(got.revision.as_deref(), Some("rev"));
    let group = got.config_file_group.expect("group");
    assert_eq!(group.name.as_deref(), Some("g1"));
    assert_eq!(group.namespace.as_deref(), Some("default"));
    assert_eq!(
        got.client_labels.get("zone").map(String::as_str),
        Some("z1")
    );
    assert_eq!(got.client_type, ConfigClientType::Agent as i32);

    let watch = cat(&[
        string_value(1, "10.0.0.1"),
        string_value(2, "svc"),
        bytes(3, &cat(&[string_value(3, "a.yaml"), int_value(5, 9)])),
        int(4, 1),
    ]);
    check(
        &watch,
        &ClientWatchConfigFileRequest {
            client_ip: Some("10.0.0.1".into()),
            service_name: Some("svc".into()),
            watch_files: vec![ClientConfigFileInfo {
                file_name: Some("a.yaml".into()),
                version: Some(9),
                ..Default::default()
            }],
            client_type: ConfigClientType::Agent as i32,
        },
    );
}

#[test]
fn config_response_fields() {
    let wire = cat(&[
        int_value(1, 200_000),
        bytes(3, &string_value(2, "g1")),
        bytes(4, &string_value(2, "a.yaml")),
        bytes(5, &int_value(9, 1)),
        bytes(6, &string_value(10, "normal")),
        bytes(7, &string_value(2, "tpl")),
        bytes(8, &string_value(2, "b.yaml")),
    ]);
    let got = ConfigResponse::decode(wire.as_slice()).expect("decode");
    assert_eq!(got.code, Some(200_000));
    assert_eq!(
        got.config_file_group.and_then(|g| g.name).as_deref(),
        Some("g1")
    );
    assert_eq!(
        got.config_file.and_then(|f| f.name).as_deref(),
        Some("a.yaml")
    );
    assert_eq!(got.config_file_release.and_then(|r| r.version), Some(1));
    assert_eq!(
        got.config_file_release_history
            .and_then(|h| h.r#type)
            .as_deref(),
        Some("normal")
    );
    assert_eq!(
        got.config_file_template.and_then(|t| t.name).as_deref(),
        Some("tpl")
    );
    assert_eq!(got.config_files.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Proto3 JSON

fn to_json<T: Message>(pool: &DescriptorPool, name: &str, value: &T) -> serde_json::Value {
    let desc = pool.get_message_by_name(name).expect(name);
    let dynamic = DynamicMessage::decode(desc, value.encode_to_vec().as_slice()).expect("decode");
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
        .expect("serialize")
}

/// The JSON name of every field of `message`, keyed by field name.
fn json_names(pool: &DescriptorPool, message: &str) -> Vec<(String, String)> {
    pool.get_message_by_name(message)
        .expect(message)
        .fields()
        .map(|f| (f.name().to_owned(), f.json_name().to_owned()))
        .collect()
}

#[test]
fn config_json_names() {
    let pool = pool();
    let names = json_names(&pool, "v1.ConfigFile");
    let get = |field: &str| {
        names
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, j)| j.as_str())
            .expect(field)
    };
    // No json_name option in the spec: protoc's lowerCamelCase default.
    assert_eq!(get("create_time"), "createTime");
    assert_eq!(get("modify_by"), "modifyBy");
    assert_eq!(get("encrypt_algo"), "encryptAlgo");
    // Explicit json_name options.
    assert_eq!(get("supported_client"), "supported_client");
    assert_eq!(get("persistent"), "persistent");

    let field = |message: &str, name: &str| {
        pool.get_message_by_name(message)
            .expect(message)
            .get_field_by_name(name)
            .expect(name)
            .json_name()
            .to_owned()
    };
    assert_eq!(field("v1.ClientConfigFileInfo", "file_name"), "fileName");
    assert_eq!(
        field("v1.ClientConfigFileInfo", "release_time"),
        "release_time"
    );
    assert_eq!(
        field("v1.ClientConfigFileInfo", "client_type"),
        "client_type"
    );
    assert_eq!(field("v1.ConfigFileGroup", "fileCount"), "fileCount");
    assert_eq!(field("v1.ConfigFileGroup", "user_ids"), "user_ids");
    assert_eq!(field("v1.ConfigFileRelease", "beta_labels"), "betaLabels");
    assert_eq!(
        field("v1.ConfigFileRelease", "config_file_id"),
        "config_file_id"
    );
    assert_eq!(field("v1.ConfigFilePublishInfo", "file_name"), "file_name");
    assert_eq!(
        field("v1.ConfigFilePublishInfo", "encrypt_algo"),
        "encryptAlgo"
    );
    assert_eq!(
        field("v1.ConfigFileImportRequest", "base64Content"),
        "base64_content"
    );
    assert_eq!(
        field("v1.ConfigResponse", "configFileGroup"),
        "configFileGroup"
    );
    assert_eq!(
        field("v1.ConfigClientListResponse", "config_file_infos"),
        "config_file_infos"
    );
    assert_eq!(
        field("v1.ConfigDiscoverResponse", "config_file"),
        "config_file"
    );
    assert_eq!(field("v1.ConfigFilePersistent", "post_cmd"), "postCmd");
}

#[test]
fn config_file_json_round_trip() {
    let pool = pool();
    // JSON names and original field names mixed; the 64-bit wrapper as a string.
    let json = r#"{
        "id": "1099511627776", "name": "app.yaml", "namespace": "default", "group": "g1",
        "content": "k: v\n", "format": "yaml", "tags": [{"key": "env", "value": "prod"}],
        "createTime": "2024-01-02 03:04:05", "create_by": "admin",
        "encrypted": true, "encrypt_algo": "AES",
        "supported_client": "CLIENT_AGENT",
        "persistent": {"encoding": "UTF-8", "path": "/etc/app.yaml", "post_cmd": "reload"}
    }"#;
    let file: ConfigFile = from_json(&pool, "v1.ConfigFile", json);
    assert_eq!(file.id, Some(BIG));
    assert_eq!(file.content.as_deref(), Some("k: v\n"));
    assert_eq!(file.create_time.as_deref(), Some("2024-01-02 03:04:05"));
    assert_eq!(file.create_by.as_deref(), Some("admin"));
    assert_eq!(file.encrypt_algo.as_deref(), Some("AES"));
    assert_eq!(
        file.supported_client,
        ConfigFileSupportedClient::ClientAgent as i32
    );
    assert_eq!(file.persistent, Some(persistent()));

    let out = to_json(&pool, "v1.ConfigFile", &file);
    assert_eq!(
        out,
        serde_json::json!({
            "id": "1099511627776", "name": "app.yaml", "namespace": "default", "group": "g1",
            "content": "k: v\n", "format": "yaml", "tags": [{"key": "env", "value": "prod"}],
            "createTime": "2024-01-02 03:04:05", "createBy": "admin",
            "encrypted": true, "encryptAlgo": "AES",
            "supported_client": "CLIENT_AGENT",
            "persistent": {"encoding": "UTF-8", "path": "/etc/app.yaml", "postCmd": "reload"}
        })
    );
    let back: ConfigFile = from_json(&pool, "v1.ConfigFile", &out.to_string());
    assert_eq!(back, file);
}

#[test]
fn client_config_file_info_json() {
    let pool = pool();
    let info = ClientConfigFileInfo {
        file_name: Some("a.yaml".into()),
        version: Some(u64::MAX),
        release_time: Some("t".into()),
        client_type: ConfigClientType::Agent as i32,
        ..Default::default()
    };
    let out = to_json(&pool, "v1.ClientConfigFileInfo", &info);
    assert_eq!(
        out,
        serde_json::json!({
            "fileName": "a.yaml",
            "version": "18446744073709551615",
            "release_time": "t",
            "client_type": "Agent"
        })
    );
    let back: ClientConfigFileInfo = from_json(&pool, "v1.ClientConfigFileInfo", &out.to_string());
    assert_eq!(back, info);
}

#[cfg(feature = "reflect")]
#[test]
fn config_messages_in_descriptor_pool() {
    let pool = polaris_proto::descriptor_pool();
    for name in [
        "v1.ConfigFileGroup",
        "v1.ConfigFile",
        "v1.ConfigFileTag",
        "v1.ConfigFileRelease",
        "v1.ConfigFileReleaseHistory",
        "v1.ConfigFileTemplate",
        "v1.ClientConfigFileInfo",
        "v1.ClientWatchConfigFileRequest",
        "v1.ConfigFileExportRequest",
        "v1.ConfigFileImportRequest",
        "v1.ConfigFilePublishInfo",
        "v1.ConfigFileGroupRequest",
        "v1.ConfigDiscoverRequest",
        "v1.ConfigDiscoverResponse",
        "v1.ConfigSimpleResponse",
        "v1.ConfigResponse",
        "v1.ConfigBatchWriteResponse",
        "v1.ConfigBatchQueryResponse",
        "v1.ConfigClientResponse",
        "v1.ConfigClientListResponse",
        "v1.ConfigImportResponse",
        "v1.ConfigExportResponse",
        "v1.ConfigEncryptAlgorithmResponse",
    ] {
        assert!(pool.get_message_by_name(name).is_some(), "{name}");
    }
    let export = pool
        .get_message_by_name("v1.ConfigExportResponse")
        .expect("export");
    let field = export.get_field_by_name("base64Content").expect("field");
    assert_eq!((field.number(), field.json_name()), (4, "base64_content"));
}
