//! The Polaris v1 wire protocol (naming and config center). This crate owns our own `.proto` files under
//! `proto/polaris/v1/` (package `v1`, so gRPC paths are `/v1.PolarisGRPC/<Method>` and so on)
//! and the prost messages plus tonic clients (and, with the `server` feature, servers)
//! generated from them by `build.rs`,
//! which compiles the files with the pure-Rust `protox`, so no system `protoc` is needed. It
//! covers what the official SDKs of specification 1.5 to 1.8 send and expect on the naming
//! port: `PolarisGRPC` (`ReportClient`, `RegisterInstance`, `DeregisterInstance`, `Heartbeat`,
//! `Discover`) and `PolarisServiceContractGRPC`, with the messages they carry (not the official
//! servers' own `PolarisHeartbeatGRPC`, which no client calls: polaris-rs nodes share
//! heartbeats through Redis), including the governance rules: routing (v1 `Routing` and v2
//! `RouteRule` with its `RuleRoutingConfig` / `MetadataRoutingConfig` / `NearbyRoutingConfig`
//! bodies), rate limits (`RateLimit`, `Rule`), circuit breakers (`CircuitBreaker`,
//! `CircuitBreakerRule`), fault detectors (`FaultDetector`, `FaultDetectRule`), lanes
//! (`LaneGroup`, `LaneRule`), lossless rules (`LosslessRule`) and block/allow lists
//! (`BlockAllowListRule`). It also covers the config center: `PolarisConfigGRPC`
//! (`GetConfigFile`, `CreateConfigFile`, `UpdateConfigFile`, `PublishConfigFile`,
//! `UpsertAndPublishConfigFile`, `WatchConfigFiles`, `GetConfigFileMetadataList` and the
//! bidirectional `Discover`, served on the config port) with every message of the
//! specification's `config_manage` files (`ConfigFileGroup`, `ConfigFile`, `ConfigFileRelease`,
//! `ConfigFileReleaseHistory`, `ConfigFileTemplate`, `ClientConfigFileInfo`, the requests,
//! `ConfigDiscoverRequest` / `ConfigDiscoverResponse` and the `Config*Response` envelopes).
//! The server's protocol adapters use it with the `server` feature; the client side
//! (`polaris-sdk`, `polaris-traffic`, the framework integrations) without, and the domain
//! crates never.
//!
//! # Layout
//!
//! Everything is in [`v1`], as prost generates it: messages such as [`v1::Instance`] and
//! [`v1::DiscoverResponse`], nested enums in snake-case modules
//! ([`v1::discover_request::DiscoverRequestType`]), and for each service a
//! `<name>_client` module (for example [`v1::polaris_grpc_client::PolarisGrpcClient`]) and,
//! with the `server` feature, a `<name>_server` module (trait plus tower service, for example
//! `v1::polaris_grpc_server::PolarisGrpc`).
//! Wrapper types map to `Option` of the plain Rust type (`StringValue` is `Option<String>`,
//! `UInt32Value` is `Option<u32>`), `Any` is [`prost_types::Any`] and `Duration` is
//! [`prost_types::Duration`]. Clients are generated without transport helpers: build a tonic
//! `Channel` in the caller and pass it to `new`.
//!
//! # Descriptors and proto3 JSON
//!
//! [`FILE_DESCRIPTOR_SET`] holds the encoded descriptors of all our files (well-known imports
//! included). With the `reflect` feature, `descriptor_pool()` returns them as a prost-reflect
//! `DescriptorPool` (and `prost_reflect` is re-exported), so rule bodies can go between
//! proto3 JSON and protobuf through `DynamicMessage` with the official JSON names: the reader
//! accepts both the JSON name and the original field name, and `Any` bodies such as
//! `routing_config` resolve `type.googleapis.com/v1.*` against the same pool. prost-reflect
//! rejects unknown JSON fields unless `DeserializeOptions::deny_unknown_fields(false)` is set,
//! which the official server's input (`AllowUnknownFields`) needs.
//!
//! # Field numbers left out on purpose
//!
//! Unknown fields are skipped when decoding, so leaving a number out never breaks a peer; a
//! number we declare, though, is one we may emit. We therefore leave out:
//!
//! * **Numbers whose meaning changed between specification versions** (checked against every
//!   release tag from 1.5.0 to 1.8.0). Both SDK generations stay decodable and we never send a
//!   value one of them misreads.
//!   * `Service` 26 and `Namespace` 18 are `BoolValue deleteable` up to spec 1.7 and `bool
//!     sync_to_global_registry` from 1.8 on. `deleteable` is declared at 100 (its 1.8 number),
//!     which older SDKs skip as unknown.
//!   * `DiscoverResponse` 25 is `repeated LosslessRule losslessRules` up to 1.7 and a single
//!     `LosslessRule lossless` from 1.8 on. Its 1.8 companion `repeated LosslessRule
//!     losslessRuleList` = 100 is declared (unused before 1.8).
//!   * `RouteRule` 50, `Rule` (rate limit) 50 and `FaultDetectRule` 50: `metadata` in 1.5.2
//!     only; from 1.5.3 `metadata` is `RouteRule` 21, `Rule` 29 and `FaultDetectRule` 30, which
//!     we declare.
//!   * `CircuitBreakerRule` 31: `metadata` in 1.5.3 to 1.6 only; `metadata` is 50 in 1.5.2 and
//!     from 1.7 on, which we declare.
//!   * `LaneGroup` 13 (`baselineFilterStrategy`, 1.5.3 only, with its enum) and 20 (`metadata`
//!     map in 1.5.2, `bool editable` in 1.5.3 to 1.7).
//!   * `LaneRule` 14 (`repeated string label_values` in 1.5.3, `string label_key` from 1.5.4)
//!     and 15 (`string label_key` in 1.5.3, `TrafficGray traffic_gray` from 1.7; the
//!     `TrafficGray` message itself is declared).
//!   * The config-center messages have no such number: from 1.5.0 to 1.8.0 (pre-release
//!     tags included) every change to `config_file.proto` and `config_file_response.proto` only
//!     adds a field, so all of their 1.8 numbers are declared. The 1.6 and 1.8 additions
//!     (`supported_client`, `persistent`, `client_type`, `config_file_id`, `ConfigResponse`
//!     configFiles 8, `ConfigImportResponse` failedConfigFiles 6, `ConfigExportResponse`
//!     base64Content 4, `ConfigFileImportRequest`) are skipped by older SDKs.
//! * **Governance payloads not yet needed**: `DiscoverResponse` trafficMirroring 27 and
//!   faultInjection 28 (spec 1.6 on) with their messages.
//! * **Config and auth payloads** of the console envelopes: `Response` configRelease 11 and
//!   user 19, userGroup 20, authStrategy 21, relation 22, loginResponse 23,
//!   modifyAuthStrategy 24, modifyUserGroup 25, resources 26; `BatchQueryResponse`
//!   configWithServices 11, users 18, userGroups 19, authStrategies 20.
//! * **Spec 1.9 snapshot additions** no released SDK relies on: `Service` extended_metadata
//!   102, `Client` 100..=102, `Response` clientEvent 100 and the `WatchClientEvents` method.
//!
//! Fields that a later release only removed, without reusing the number, are declared: the
//! `editable` / `deleteable` flags of `RouteRule` (30, 31), `CircuitBreakerRule` and
//! `FaultDetectRule` (40, 41), `LosslessRule` (30, 31) and `LaneGroup` `deleteable` 21 exist
//! in 1.5.3 to 1.7 and are gone in 1.8. Fields added by a later release are declared too
//! (older SDKs skip them), for example `CircuitBreakerRule` regex_separate 51, `BlockConfig`
//! recoverCondition 5, `BlockAllowListRule` revision 13, `Route` metadata 50 and
//! `TSEGatewaySelector` (all 1.8).
//!
//! # Config-center JSON names
//!
//! Most config fields carry no `json_name` option, so their JSON name is protoc's lower
//! camel case default (`ConfigFile` create_time is `createTime`, encrypt_algo `encryptAlgo`,
//! `ClientConfigFileInfo` file_name `fileName`, `ConfigFilePersistent` post_cmd `postCmd`); the
//! explicit ones are snake case (`supported_client`, `client_type`, `config_file_id`,
//! `release_time` on `ClientConfigFileInfo`, `user_ids`, `config_file_infos`, ...), and
//! `base64Content` is `base64_content`. Readers accept either spelling. The 64-bit ids and
//! versions are `UInt64Value`, which proto3 JSON writes as a string (`"version": "3"`).
//!
//! # JSON names that drifted
//!
//! Some explicit `json_name` options changed while the wire number and type stayed the same.
//! We keep the earlier name, which the official 1.x servers emit; readers accept the original
//! field name as well: `Rule` concurrencyAmount 27 is `concurrency_amount` (1.7 on:
//! `concurrencyAmount`), `ConcurrencyAmount` maxAmount 1 is `max_amount` (1.8: `maxAmount`),
//! `LaneRule` group_name 3, traffic_match_rule 4, default_label_value 5 and match_mode 7 are
//! `groupName`, `trafficMatchRule`, `defaultLabelValue`, `matchMode` (snake case from 1.7 or
//! 1.8), and `TrafficMatchRule` matchMode 14 is `matchMode` (1.8: `match_mode`).

#![forbid(unsafe_code)]

/// The encoded `google.protobuf.FileDescriptorSet` of every file in `proto/polaris/v1/`, with
/// the well-known types they import and without source info. Decode it with
/// `prost_reflect::DescriptorPool::decode` (or use `descriptor_pool()` with the `reflect`
/// feature) to convert rule bodies between proto3 JSON and protobuf with the official JSON
/// names, for example through `DynamicMessage`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/polaris_v1.bin"));

/// The `PolarisGRPC` server whose `Discover` replies can be shared pre-encoded bytes.
#[cfg(feature = "server")]
pub mod shared;

/// Proto3 JSON `Serialize` impls for every [`v1`] message (generated; see the module).
#[cfg(feature = "json")]
pub mod json;

/// The prost-reflect version `descriptor_pool()` is built with.
#[cfg(feature = "reflect")]
pub use prost_reflect;

/// [`FILE_DESCRIPTOR_SET`] as a prost-reflect pool, decoded once. Message names are
/// package-qualified (`v1.RouteRule`). Cloning the pool is cheap.
#[cfg(feature = "reflect")]
#[must_use]
pub fn descriptor_pool() -> prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set built by build.rs decodes")
    })
    .clone()
}

/// Generated code for protobuf package `v1`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    rustdoc::all
)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/v1.rs"));
}
