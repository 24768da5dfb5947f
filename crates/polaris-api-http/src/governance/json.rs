//! proto3 JSON ↔ protobuf for governance rule bodies, through prost-reflect.
//!
//! A console batch is read as a JSON array (the usual batch checks: `[]` → 400002, more than
//! 100 items → 400003), then every item is parsed as a [`DynamicMessage`] of the kind's
//! message (`v1.RouteRule`, `v1.Rule`, ...) with unknown fields ignored, as the official
//! server's jsonpb `AllowUnknownFields` does; JSON names and original proto names are both
//! accepted. Any item that does not parse (bad JSON, wrong types, unknown enum names, an
//! unresolvable `Any` type) fails the whole batch with 400001. Parsed items are transcoded to
//! the prost types of `polaris-proto` so that validation reads typed fields.
//!
//! Rendering goes the other way without reflection: the `serde::Serialize` impls that
//! `polaris-proto` generates (feature `json`) write JSON names and default fields (close to
//! jsonpb `EmitDefaults`; unset message and wrapper fields are left out rather than written as
//! `null`), the same output prost-reflect gave (`polaris-proto/tests/json.rs` checks it).

use crate::body::Payload;
use axum::response::Response;
use polaris_proto::prost_reflect::{DeserializeOptions, DynamicMessage, Kind, MessageDescriptor};
use polaris_types::{Code, PolarisError, Result};
use serde_json::{Map, Value};

use crate::reply::BatchReply;

/// The prefix of every `Any` type URL.
pub(crate) const TYPE_PREFIX: &str = "type.googleapis.com/";

/// The descriptor of a package-qualified message (`v1.RouteRule`).
fn descriptor(message: &str) -> Result<MessageDescriptor> {
    polaris_proto::descriptor_pool()
        .get_message_by_name(message)
        .ok_or_else(|| {
            PolarisError::new(
                Code::ExecuteException,
                format!("message {message} is not compiled in"),
            )
        })
}

fn parse_error(err: impl std::fmt::Display) -> PolarisError {
    PolarisError::new(Code::ParseException, err.to_string())
}

/// Reads a console batch of `message` items. `rewrite_v2` replaces every
/// `type.googleapis.com/v2.` with `type.googleapis.com/v1.` in the raw body first, as the
/// official routing handlers do; `prepare` may adjust each item's JSON before it is parsed.
/// Any failure is the batch-level reply.
pub(crate) async fn read_items<T>(
    body: Payload,
    message: &str,
    rewrite_v2: bool,
    prepare: fn(&mut Value),
) -> std::result::Result<Vec<T>, Response>
where
    T: prost::Message + Default,
{
    let parsed = async {
        let mut values = body.array::<Value>().await?;
        if rewrite_v2 {
            values.iter_mut().for_each(rewrite_v2_value);
        }
        let desc = descriptor(message)?;
        values
            .into_iter()
            .map(|mut value| {
                prepare(&mut value);
                parse_item::<T>(&desc, value)
            })
            .collect::<Result<Vec<T>>>()
    }
    .await;
    parsed.map_err(|err| BatchReply::failed(&err))
}

/// Replaces `type.googleapis.com/v2.` with `type.googleapis.com/v1.` in every string and key
/// of a parsed body, as the official routing handlers do on the raw body.
pub(crate) fn rewrite_v2_value(value: &mut Value) {
    const FROM: &str = "type.googleapis.com/v2.";
    const TO: &str = "type.googleapis.com/v1.";
    match value {
        Value::String(s) if s.contains(FROM) => *s = s.replace(FROM, TO),
        Value::Array(items) => items.iter_mut().for_each(rewrite_v2_value),
        Value::Object(object) => {
            if object.keys().any(|k| k.contains(FROM)) {
                let entries = std::mem::take(object);
                for (key, value) in entries {
                    object.insert(key.replace(FROM, TO), value);
                }
            }
            object.values_mut().for_each(rewrite_v2_value);
        }
        _ => {}
    }
}

/// Parses one JSON item as `desc` and transcodes it to the prost type `T`. Unknown fields are
/// dropped first; unknown enum names still fail, as with jsonpb `AllowUnknownFields` (the
/// prost-reflect option that ignores unknown fields would also drop unknown enum names).
/// Decodes one JSON object body as message `message` (proto3 JSON, unknown fields ignored).
pub(crate) fn parse_message<T>(message: &str, bytes: &[u8]) -> Result<T>
where
    T: prost::Message + Default,
{
    let value: Value = serde_json::from_slice(bytes).map_err(parse_error)?;
    parse_json(message, value)
}

/// [`parse_message`] of JSON already parsed.
pub(crate) fn parse_json<T>(message: &str, value: Value) -> Result<T>
where
    T: prost::Message + Default,
{
    if !value.is_object() {
        return Err(PolarisError::new(
            Code::ParseException,
            "expected a JSON object",
        ));
    }
    parse_item(&descriptor(message)?, value)
}

pub(crate) fn parse_item<T>(desc: &MessageDescriptor, mut value: Value) -> Result<T>
where
    T: prost::Message + Default,
{
    strip_unknown(desc, &mut value);
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let dynamic = DynamicMessage::deserialize_with_options(desc.clone(), value, &options)
        .map_err(parse_error)?;
    dynamic.transcode_to::<T>().map_err(parse_error)
}

/// Removes the keys of `value` (JSON of message `desc`, nested messages included) that name no
/// field. Well-known types keep their special JSON forms untouched; an `Any` is followed into
/// the message its `@type` names when the pool knows it (else parsing reports the type).
fn strip_unknown(desc: &MessageDescriptor, value: &mut Value) {
    let Value::Object(object) = value else {
        return;
    };
    if desc.full_name() == "google.protobuf.Any" {
        let inner = object
            .get("@type")
            .and_then(Value::as_str)
            .and_then(|url| url.rsplit('/').next())
            .and_then(|name| polaris_proto::descriptor_pool().get_message_by_name(name));
        if let Some(inner) = inner.filter(|d| !d.full_name().starts_with("google.protobuf.")) {
            let type_url = object.remove("@type");
            strip_unknown(&inner, value);
            if let (Value::Object(object), Some(type_url)) = (value, type_url) {
                object.insert("@type".into(), type_url);
            }
        }
        return;
    }
    if desc.full_name().starts_with("google.protobuf.") {
        return;
    }
    object.retain(|key, _| {
        desc.get_field_by_json_name(key).is_some() || desc.get_field_by_name(key).is_some()
    });
    for (key, item) in object.iter_mut() {
        let Some(field) = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key))
        else {
            continue;
        };
        let kind = if field.is_map() {
            match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            }
        } else {
            field.kind()
        };
        let Kind::Message(inner) = kind else { continue };
        match item {
            Value::Array(items) if field.is_list() => {
                items.iter_mut().for_each(|i| strip_unknown(&inner, i));
            }
            Value::Object(entries) if field.is_map() => {
                entries.values_mut().for_each(|i| strip_unknown(&inner, i));
            }
            _ if !field.is_list() && !field.is_map() => strip_unknown(&inner, item),
            _ => {}
        }
    }
}

/// Serialises a protocol message as proto3 JSON (an object) through the generated
/// `polaris_proto::json` impls: official JSON names, defaults emitted, 64-bit integers as
/// strings. `message` (`v1.RouteRule`) only names the type in the log when rendering fails.
pub(crate) fn to_json<T: serde::Serialize>(msg: &T, message: &str) -> Value {
    match serde_json::to_value(msg) {
        Ok(value) => value,
        Err(err) => {
            tracing::error!(target: "polaris_api_http", %err, message, "rule rendering failed");
            Value::Object(Map::new())
        }
    }
}

/// Serialises a prost message in the JSON form of an `Any`: `{"@type": ..., fields...}`.
pub(crate) fn to_any_json<T: serde::Serialize>(msg: &T, message: &str) -> Value {
    let mut object = Map::new();
    object.insert("@type".into(), format!("{TYPE_PREFIX}{message}").into());
    if let Value::Object(fields) = to_json(msg, message) {
        object.extend(fields);
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polaris_proto::v1;

    #[test]
    fn v2_type_urls_become_v1() {
        let mut value =
            serde_json::json!([{"@type":"type.googleapis.com/v2.RuleRoutingConfig","x":"v2."}]);
        rewrite_v2_value(&mut value);
        assert_eq!(
            value,
            serde_json::json!([{"@type":"type.googleapis.com/v1.RuleRoutingConfig","x":"v2."}])
        );
    }

    #[test]
    fn items_parse_with_unknown_fields_and_both_names() {
        let desc = descriptor("v1.RouteRule").expect("RouteRule");
        let value = serde_json::json!({
            "name": "r", "routingPolicy": "RulePolicy", "whatever": 1,
            "routing_config": {"@type": "type.googleapis.com/v1.RuleRoutingConfig",
                               "sources": [{"service": "a", "namespace": "n"}]}
        });
        let rule: v1::RouteRule = parse_item(&desc, value).expect("parses");
        assert_eq!(rule.name, "r");
        assert!(rule.routing_config.is_some());
        let bad = serde_json::json!({ "routing_policy": "NoSuchPolicy" });
        assert!(parse_item::<v1::RouteRule>(&desc, bad).is_err());
        let nested_bad = serde_json::json!({ "routing_config": {
            "@type": "type.googleapis.com/v1.RuleRoutingConfig", "extra": {"a": 1},
            "sources": [{"arguments": [{"type": "NOPE", "more": 1}]}]}});
        assert!(parse_item::<v1::RouteRule>(&desc, nested_bad).is_err());
        let nested_ok = serde_json::json!({ "routing_config": {
            "@type": "type.googleapis.com/v1.RuleRoutingConfig", "extra": {"a": 1},
            "sources": [{"arguments": [{"type": "HEADER", "more": 1}]}]}});
        assert!(parse_item::<v1::RouteRule>(&desc, nested_ok).is_ok());
        let wrong = serde_json::json!({ "enable": "yes" });
        assert!(parse_item::<v1::RouteRule>(&desc, wrong).is_err());
    }

    #[test]
    fn rendering_emits_json_names_and_any_type() {
        let rule = v1::RouteRule {
            id: "i".into(),
            ..Default::default()
        };
        let json = to_any_json(&rule, "v1.RouteRule");
        assert_eq!(json["@type"], "type.googleapis.com/v1.RouteRule");
        assert_eq!(json["id"], "i");
        assert_eq!(json["enable"], false);
        assert_eq!(json["routing_policy"], "RulePolicy");
    }
}
