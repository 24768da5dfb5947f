//! The generated proto3 JSON (`polaris_proto::json`) against prost-reflect's
//! `skip_default_fields(false)` rendering, which the HTTP adapters used before: every message
//! of the package, filled (every field set, lists and maps with entries, `Any` and `Duration`
//! included) and empty (defaults emitted), must render to the same JSON value; realistic
//! Discover answers must render to the same bytes.

use std::collections::HashMap;

use polaris_proto::json::AnyJson;
use polaris_proto::{FILE_DESCRIPTOR_SET, v1};
use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage,
    SerializeOptions, Value,
};

fn pool() -> DescriptorPool {
    DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

fn options() -> SerializeOptions {
    SerializeOptions::new().skip_default_fields(false)
}

/// The old path: a prost message through `DynamicMessage` to a JSON value.
fn reflect_json<T: Message>(pool: &DescriptorPool, name: &str, msg: &T) -> serde_json::Value {
    let desc = pool.get_message_by_name(name).expect(name);
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).expect("decode");
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options())
        .expect("serialize")
}

/// A value of `kind` that is not the default; `seed` varies strings and numbers.
fn sample(pool: &DescriptorPool, kind: &Kind, seed: u32, depth: usize) -> Value {
    match kind {
        Kind::Bool => Value::Bool(true),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(-7 - seed as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(-9_007_199_254_740_993),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(7 + seed),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(18_446_744_073_709_551_615),
        Kind::Float => Value::F32(1.5),
        Kind::Double => Value::F64(0.1),
        Kind::String => Value::String(format!("s-{seed}\u{e9}\"")),
        Kind::Bytes => Value::Bytes(vec![0, 1, 2, 250].into()),
        Kind::Enum(e) => {
            let number = e
                .values()
                .map(|v| v.number())
                .find(|n| *n != 0)
                .unwrap_or(0);
            Value::EnumNumber(number)
        }
        Kind::Message(m) => Value::Message(filled(pool, m, seed, depth + 1)),
    }
}

/// A message with every field set (nested messages down to a small depth).
fn filled(
    pool: &DescriptorPool,
    desc: &MessageDescriptor,
    seed: u32,
    depth: usize,
) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc.clone());
    match desc.full_name() {
        "google.protobuf.Any" => {
            let inner = pool.get_message_by_name("v1.Location").expect("Location");
            let payload = filled(pool, &inner, seed, depth);
            let any = prost_types::Any {
                type_url: "type.googleapis.com/v1.Location".into(),
                value: payload.encode_to_vec(),
            };
            msg.transcode_from(&any).expect("any");
            return msg;
        }
        "google.protobuf.Duration" => {
            let duration = prost_types::Duration {
                seconds: 3,
                nanos: 500_000_000,
            };
            msg.transcode_from(&duration).expect("duration");
            return msg;
        }
        _ => {}
    }
    if depth > 3 {
        return msg;
    }
    for field in desc.fields() {
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!()
            };
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = HashMap::new();
            for i in 0..3 {
                map.insert(
                    MapKey::String(format!("k{i}")),
                    sample(pool, &value_kind, seed + i, depth),
                );
            }
            Value::Map(map)
        } else if field.is_list() {
            Value::List(
                (0..2)
                    .map(|i| sample(pool, &field.kind(), seed + i, depth))
                    .collect(),
            )
        } else {
            sample(pool, &field.kind(), seed, depth)
        };
        msg.set_field(&field, value);
    }
    msg
}

/// Both renderings of `dynamic` wrapped in an `Any` (the generated side dispatches on the
/// type name, which reaches every message without a table in the test).
fn both(pool: &DescriptorPool, dynamic: &DynamicMessage) -> (serde_json::Value, serde_json::Value) {
    let any = prost_types::Any {
        type_url: format!("type.googleapis.com/{}", dynamic.descriptor().full_name()),
        value: dynamic.encode_to_vec(),
    };
    let generated = serde_json::to_value(AnyJson(&any)).expect("generated serialize");
    let any_desc = pool
        .get_message_by_name("google.protobuf.Any")
        .expect("Any");
    let mut wrapped = DynamicMessage::new(any_desc);
    wrapped.transcode_from(&any).expect("wrap");
    let reflected = wrapped
        .serialize_with_options(serde_json::value::Serializer, &options())
        .expect("reflect serialize");
    (generated, reflected)
}

fn messages(pool: &DescriptorPool) -> Vec<MessageDescriptor> {
    pool.all_messages()
        .filter(|m| m.package_name() == "v1" && !m.is_map_entry())
        .collect()
}

#[test]
fn every_message_filled_renders_as_prost_reflect_does() {
    let pool = pool();
    let all = messages(&pool);
    assert!(all.len() > 100, "only {} messages", all.len());
    for desc in all {
        let dynamic = filled(&pool, &desc, 1, 0);
        let (generated, reflected) = both(&pool, &dynamic);
        assert_eq!(generated, reflected, "{}", desc.full_name());
    }
}

#[test]
fn every_message_empty_renders_its_defaults_as_prost_reflect_does() {
    let pool = pool();
    for desc in messages(&pool) {
        let dynamic = DynamicMessage::new(desc.clone());
        let (generated, reflected) = both(&pool, &dynamic);
        assert_eq!(generated, reflected, "{}", desc.full_name());
    }
}

#[test]
fn unknown_enum_numbers_render_as_numbers() {
    let pool = pool();
    let response = v1::DiscoverResponse {
        r#type: 99,
        ..Default::default()
    };
    let generated = serde_json::to_value(&response).expect("serialize");
    assert_eq!(generated["type"], 99);
    assert_eq!(
        generated,
        reflect_json(&pool, "v1.DiscoverResponse", &response)
    );
}

#[test]
fn an_any_of_an_unknown_type_fails() {
    let any = prost_types::Any {
        type_url: "type.googleapis.com/v9.Nope".into(),
        value: vec![],
    };
    assert!(serde_json::to_vec(&AnyJson(&any)).is_err());
}

fn instance(i: u32) -> v1::Instance {
    v1::Instance {
        id: Some(format!("id-{i}")),
        service: Some("svc".into()),
        namespace: Some("default".into()),
        host: Some(format!("10.0.0.{i}")),
        port: Some(8080 + i),
        protocol: Some("grpc".into()),
        version: Some("1.0.0".into()),
        weight: Some(100),
        healthy: Some(true),
        isolate: Some(false),
        metadata: HashMap::from([("env".into(), "prod".into()), ("zone".into(), "a".into())]),
        revision: Some(format!("rev-{i}")),
        location: Some(v1::Location {
            region: Some("r".into()),
            zone: Some("z".into()),
            campus: Some("c".into()),
        }),
        ..Default::default()
    }
}

#[test]
fn a_discover_answer_renders_to_the_same_bytes() {
    let pool = pool();
    let response = v1::DiscoverResponse {
        code: Some(200000),
        info: Some("execute success".into()),
        r#type: v1::discover_request::DiscoverRequestType::Instance as i32,
        service: Some(v1::Service {
            name: Some("svc".into()),
            namespace: Some("default".into()),
            revision: Some("abc".into()),
            metadata: HashMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
            ..Default::default()
        }),
        instances: (0..10).map(instance).collect(),
        ..Default::default()
    };
    let generated = serde_json::to_string(&response).expect("serialize");
    let reflected = serde_json::to_string(&reflect_json(&pool, "v1.DiscoverResponse", &response))
        .expect("render");
    assert_eq!(generated, reflected);
}
