//! The Polaris v1 naming wire protocol. This crate owns our own `.proto` files under
//! `proto/polaris/v1/` (package `v1`, so gRPC paths are `/v1.PolarisGRPC/<Method>` and so on)
//! and the prost messages plus tonic clients and servers generated from them by `build.rs`,
//! which compiles the files with the pure-Rust `protox`, so no system `protoc` is needed. It
//! covers what the official SDKs of specification 1.5 to 1.8 send and expect on the naming
//! port: `PolarisGRPC` (`ReportClient`, `RegisterInstance`, `DeregisterInstance`, `Heartbeat`,
//! `Discover`), `PolarisServiceContractGRPC` and the server-to-server `PolarisHeartbeatGRPC`,
//! with the messages they carry. Protocol adapters (`polaris-api-grpc`), tests and tools use it;
//! nothing else should know protobuf.
//!
//! # Layout
//!
//! Everything is in [`v1`], as prost generates it: messages such as [`v1::Instance`] and
//! [`v1::DiscoverResponse`], nested enums in snake-case modules
//! ([`v1::discover_request::DiscoverRequestType`]), and for each service a
//! `<name>_server` module (trait plus tower service) and a `<name>_client` module (for example
//! [`v1::polaris_grpc_server::PolarisGrpc`] and [`v1::polaris_grpc_client::PolarisGrpcClient`]).
//! Wrapper types map to `Option` of the plain Rust type (`StringValue` is `Option<String>`,
//! `UInt32Value` is `Option<u32>`), and `Any` is [`prost_types::Any`]. Clients are generated
//! without transport helpers: build a tonic `Channel` in the caller and pass it to `new`.
//!
//! # Field numbers left out on purpose
//!
//! Unknown fields are skipped when decoding, so leaving a number out never breaks a peer; a
//! number we declare, though, is one we may emit. We therefore leave out:
//!
//! * **Numbers whose meaning changed between specification versions.** `Service` 26 and
//!   `Namespace` 18 are `BoolValue deleteable` up to spec 1.7 and `bool
//!   sync_to_global_registry` from 1.8 on. `DiscoverResponse` 25 is `repeated LosslessRule
//!   losslessRules` up to 1.7 and a single `LosslessRule lossless` from 1.8 on. Both SDK
//!   generations stay decodable and we never send a value one of them misreads.
//!   `deleteable` is declared at 100 (its 1.8 number), which older SDKs skip as unknown.
//! * **Governance payloads**, added by a later issue together with their messages:
//!   `DiscoverResponse` routing 6, rateLimit 7, circuitBreaker 8, faultDetector 11, lanes 22,
//!   customRouteRules 23, nearbyRouteRules 24, blockAllowListRule 26, trafficMirroring 27,
//!   faultInjection 28, losslessRuleList 100; `Response` routing 7, rateLimit 9,
//!   circuitBreaker 10; `BatchQueryResponse` routings 8, rateLimits 10.
//! * **Config and auth payloads** of the console envelopes: `Response` configRelease 11 and
//!   user 19, userGroup 20, authStrategy 21, relation 22, loginResponse 23,
//!   modifyAuthStrategy 24, modifyUserGroup 25, resources 26; `BatchQueryResponse`
//!   configWithServices 11, users 18, userGroups 19, authStrategies 20.
//! * **Spec 1.9 snapshot additions** no released SDK relies on: `Service` extended_metadata
//!   102, `Client` 100..=102, `Response` clientEvent 100 and the `WatchClientEvents` method.

#![forbid(unsafe_code)]

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
