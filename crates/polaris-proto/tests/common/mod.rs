//! Helpers shared by the integration tests of this crate: protobuf wire bytes written by hand
//! (so that field numbers and wire types are checked independently of our `.proto` files), a
//! transport that records gRPC paths, and proto3 JSON through prost-reflect.
#![allow(dead_code)] // each test binary uses its own part of these helpers

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use polaris_proto::FILE_DESCRIPTOR_SET;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::body::Body;
use tonic::codegen::http;

// ---------------------------------------------------------------------------------------------
// Wire bytes

const VARINT: u8 = 0;
const LEN: u8 = 2;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3 | u64::from(wire_type), out);
}

/// Field `field` as a varint (integers, bools, enums).
pub fn int(field: u32, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    key(field, VARINT, &mut out);
    varint(v, &mut out);
    out
}

/// Field `field` as length-delimited bytes (string, bytes or embedded message).
pub fn bytes(field: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    key(field, LEN, &mut out);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

/// Field `field` as a string.
pub fn string(field: u32, s: &str) -> Vec<u8> {
    bytes(field, s.as_bytes())
}

/// A `google.protobuf.StringValue` at `field`: an embedded message with the string at 1.
pub fn string_value(field: u32, s: &str) -> Vec<u8> {
    bytes(field, &string(1, s))
}

/// A `UInt64Value` / `UInt32Value` / `BoolValue` at `field`: embedded message, varint at 1.
pub fn int_value(field: u32, v: u64) -> Vec<u8> {
    bytes(field, &int(1, v))
}

/// One entry of a map field: an embedded message with key = 1 and value = 2.
pub fn entry(field: u32, k: &str, value: &[u8]) -> Vec<u8> {
    bytes(field, &cat(&[string(1, k), bytes(2, value)]))
}

pub fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------------------------
// gRPC paths

/// A transport that records the path of every request and answers a bare HTTP 200, which
/// the client then reports as a (missing grpc-status) error. Only the path matters here.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<String>>>);

impl tonic::codegen::Service<http::Request<Body>> for Recorder {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        self.0
            .lock()
            .expect("recorder lock")
            .push(req.uri().path().to_owned());
        std::future::ready(Ok(http::Response::new(Body::empty())))
    }
}

impl Recorder {
    /// The paths called so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.0.lock().expect("recorder lock").clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Proto3 JSON

pub fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// Proto3 JSON text into `name`, through `DynamicMessage`, encoded, decoded as `T`.
pub fn from_json<T: Message + Default>(pool: &DescriptorPool, name: &str, json: &str) -> T {
    let desc = pool.get_message_by_name(name).expect(name);
    let mut de = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(desc, &mut de).expect("proto3 JSON");
    de.end().expect("trailing input");
    T::decode(dynamic.encode_to_vec().as_slice()).expect("decode into prost type")
}
