//! Proto3 JSON output for the `v1` messages without reflection: `build.rs` generates a
//! `serde::Serialize` impl per message (see `build/json_codegen.rs`), so
//! `serde_json::to_vec(&response)` writes the official JSON form directly. The form matches
//! what prost-reflect writes with `skip_default_fields(false)` (jsonpb `EmitDefaults`):
//!
//! * official JSON names; scalars, lists and maps always present (defaults included);
//! * message and wrapper fields only when set (never `null`);
//! * enums by name, or by number when the number has no name;
//! * 64-bit integers (plain or wrapped) as strings, `bytes` as base64, `Duration` as `"1.5s"`;
//! * `Any` as `{"@type": url, fields...}`, its payload decoded as the `v1` message it names
//!   (an unknown type is a serialisation error, as with prost-reflect).
//!
//! Object keys come in JSON-name order and map entries sorted by key, so one message always
//! renders to the same bytes (answers can be encoded once and shared).
//!
//! This module holds the small adapters the generated code calls; it is compiled with the
//! `json` feature.

use std::collections::HashMap;
use std::fmt::Display;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};

/// A message whose fields can be written into an already open JSON object (what `Any`
/// needs: its payload's fields sit beside `@type`).
pub trait ProtoJson {
    /// Writes every field of the message (JSON name → value) into `map`.
    fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// A message as one JSON object.
pub(crate) fn write_message<T: ProtoJson, S: Serializer>(
    message: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    message.write_fields(&mut map)?;
    map.end()
}

/// Decodes `value` as `T` and writes its fields into `map`.
pub(crate) fn decode_fields<T, M>(value: &[u8], map: &mut M) -> Result<(), M::Error>
where
    T: ProtoJson + prost::Message + Default,
    M: SerializeMap,
{
    let message = T::decode(value).map_err(M::Error::custom)?;
    message.write_fields(map)
}

/// A value written through `Display` as a JSON string (64-bit integers, `Duration`).
pub(crate) struct Text<'a, T: Display>(pub &'a T);

impl<T: Display> Serialize for Text<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self.0)
    }
}

// The float adapters are for generated code; today's messages have no float fields.
/// A `float`: a number when finite, else `"NaN"`, `"Infinity"` or `"-Infinity"`.
#[allow(dead_code)]
pub(crate) struct F32(pub f32);

impl Serialize for F32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match non_finite(f64::from(self.0)) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_f32(self.0),
        }
    }
}

/// A `double`: a number when finite, else `"NaN"`, `"Infinity"` or `"-Infinity"`.
#[allow(dead_code)]
pub(crate) struct F64(pub f64);

impl Serialize for F64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match non_finite(self.0) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_f64(self.0),
        }
    }
}

#[allow(dead_code)]
fn non_finite(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("Infinity")
    } else if value == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

/// `bytes` as standard base64 with padding.
pub(crate) struct Base64<'a>(pub &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.0))
    }
}

/// An enum value: its proto name when known, else its number.
pub(crate) struct EnumText(pub Option<&'static str>, pub i32);

impl Serialize for EnumText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(name) => serializer.serialize_str(name),
            None => serializer.serialize_i32(self.1),
        }
    }
}

/// A repeated field whose items need an adapter.
pub(crate) struct Seq<'a, T, F>(pub &'a [T], pub F);

impl<'a, T, F, R> Serialize for Seq<'a, T, F>
where
    F: Fn(&'a T) -> R,
    R: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

/// A map field, entries sorted by key, keys written as strings.
pub(crate) struct SortedMap<'a, K, V, F>(pub &'a HashMap<K, V>, pub F);

impl<'a, K, V, F, R> Serialize for SortedMap<'a, K, V, F>
where
    K: Display + Ord,
    F: Fn(&'a V) -> R,
    R: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&K, &V)> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(&Text(key), &(self.1)(value))?;
        }
        map.end()
    }
}

/// `google.protobuf.Any` as `{"@type": url, fields of the named v1 message...}`.
pub struct AnyJson<'a>(pub &'a prost_types::Any);

impl Serialize for AnyJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let url = &self.0.type_url;
        let name = url.rsplit_once('/').map_or(url.as_str(), |(_, name)| name);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("@type", url)?;
        match generated::any_fields(name, &self.0.value, &mut map) {
            Some(written) => written?,
            None => return Err(S::Error::custom(format!("message '{name}' not found"))),
        }
        map.end()
    }
}

/// The generated impls (one `ProtoJson` and one `Serialize` per message) and `any_fields`.
#[allow(clippy::all, clippy::pedantic)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/v1_json.rs"));
}
