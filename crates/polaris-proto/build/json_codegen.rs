//! Generates `serde::Serialize` for every message of package `v1`, as proto3 JSON the way the
//! official server writes it (jsonpb `EmitDefaults`): official JSON names, scalars, lists and
//! maps always written (defaults included), message and wrapper fields only when set, enums by
//! name (the number when unknown), 64-bit integers as strings, bytes as base64, `Duration` as
//! `"1.5s"` and `Any` as `{"@type": ..., fields}` resolved against the same package. Keys come
//! in JSON-name order (maps sorted too), so the bytes are stable for a given message.
//!
//! The output is plain Rust text written to `OUT_DIR/v1_json.rs` and included by
//! `src/json.rs`, whose small runtime adapters (`Text`, `Base64`, `EnumText`, ...) it calls.

use std::collections::HashSet;
use std::fmt::Write as _;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

/// prost's identifier rules (`prost-build` `ident.rs`): keywords become raw identifiers.
fn sanitize(ident: String) -> String {
    match ident.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        _ => ident,
    }
}

fn snake(s: &str) -> String {
    sanitize(s.to_snake_case())
}

fn camel(s: &str) -> String {
    sanitize(s.to_upper_camel_case())
}

/// protoc's default JSON name: underscores dropped, the next letter upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for ch in name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// The Rust path of a `.v1.Outer.Inner` type name: `crate::v1::outer::Inner`.
fn rust_path(type_name: &str) -> String {
    let parts: Vec<&str> = type_name.trim_start_matches('.').split('.').collect();
    let (last, modules) = parts.split_last().expect("a type name has a last part");
    let mut path = String::from("crate");
    for (i, part) in modules.iter().enumerate() {
        path.push_str("::");
        // The first part is the package (kept as is); the rest are message modules.
        path.push_str(&if i == 0 {
            (*part).to_string()
        } else {
            snake(part)
        });
    }
    path.push_str("::");
    path.push_str(&camel(last));
    path
}

/// What a field holds, as far as its JSON form goes.
enum Shape {
    /// A Rust value whose own `Serialize` is the JSON form (string, bool, i32, u32, messages).
    Plain,
    /// A 64-bit integer or a `Duration`, written through `Display` as a string.
    Text,
    F32,
    F64,
    Bytes,
    /// An enum stored as `i32`; the Rust path of its type.
    Enum(String),
    Any,
}

/// The shape of a (non-map) field and whether it has presence (`Option` in prost).
fn shape(field: &FieldDescriptorProto) -> (Shape, bool) {
    let kind = field.r#type();
    match kind {
        Type::String | Type::Bool | Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
            (Shape::Plain, false)
        }
        Type::Uint32 | Type::Fixed32 => (Shape::Plain, false),
        Type::Int64 | Type::Sint64 | Type::Sfixed64 | Type::Uint64 | Type::Fixed64 => {
            (Shape::Text, false)
        }
        Type::Float => (Shape::F32, false),
        Type::Double => (Shape::F64, false),
        Type::Bytes => (Shape::Bytes, false),
        Type::Enum => (Shape::Enum(rust_path(field.type_name())), false),
        Type::Message => {
            let shape = match field.type_name() {
                ".google.protobuf.StringValue"
                | ".google.protobuf.BoolValue"
                | ".google.protobuf.Int32Value"
                | ".google.protobuf.UInt32Value" => Shape::Plain,
                ".google.protobuf.Int64Value" | ".google.protobuf.UInt64Value" => Shape::Text,
                ".google.protobuf.FloatValue" => Shape::F32,
                ".google.protobuf.DoubleValue" => Shape::F64,
                ".google.protobuf.BytesValue" => Shape::Bytes,
                ".google.protobuf.Duration" => Shape::Text,
                ".google.protobuf.Any" => Shape::Any,
                other if other.starts_with(".google.protobuf.") => {
                    panic!("proto JSON generator: {other} is not supported")
                }
                _ => Shape::Plain,
            };
            (shape, true)
        }
        Type::Group => panic!("proto JSON generator: groups are not supported"),
    }
}

/// An expression of a `Serialize` type for the value behind the reference `var`.
fn value_expr(shape: &Shape, var: &str) -> String {
    match shape {
        Shape::Plain => var.to_string(),
        Shape::Text => format!("crate::json::Text({var})"),
        Shape::F32 => format!("crate::json::F32(*{var})"),
        Shape::F64 => format!("crate::json::F64(*{var})"),
        Shape::Bytes => format!("crate::json::Base64({var})"),
        Shape::Enum(path) => format!(
            "crate::json::EnumText({path}::try_from(*{var}).ok().map(|e| e.as_str_name()), *{var})"
        ),
        Shape::Any => format!("crate::json::AnyJson({var})"),
    }
}

/// Collects `(full proto name, descriptor)` for every message, nested ones included.
fn collect<'a>(
    prefix: &str,
    messages: &'a [DescriptorProto],
    out: &mut Vec<(String, &'a DescriptorProto)>,
) {
    for message in messages {
        let name = format!("{prefix}.{}", message.name());
        collect(&name, &message.nested_type, out);
        out.push((name, message));
    }
}

/// The generated source for every message in `package` of `fds`.
pub fn generate(fds: &FileDescriptorSet, package: &str) -> String {
    let mut all = Vec::new();
    for file in fds.file.iter().filter(|f| f.package() == package) {
        collect(&format!(".{package}"), &file.message_type, &mut all);
    }
    let map_entries: HashSet<String> = all
        .iter()
        .filter(|(_, m)| m.options.as_ref().is_some_and(|o| o.map_entry()))
        .map(|(name, _)| name.clone())
        .collect();
    let find = |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, m)| *m);

    let mut out = String::new();
    let mut any_arms = String::new();
    for (name, message) in &all {
        if map_entries.contains(name) {
            continue;
        }
        if message.field.iter().any(|f| f.oneof_index.is_some()) {
            panic!("proto JSON generator: oneof fields in {name} are not supported");
        }
        let path = rust_path(name);
        let mut fields: Vec<(String, &FieldDescriptorProto)> = message
            .field
            .iter()
            .map(|f| {
                let json = f
                    .json_name
                    .clone()
                    .unwrap_or_else(|| default_json_name(f.name()));
                (json, f)
            })
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut body = String::new();
        for (json, field) in &fields {
            let member = format!("self.{}", snake(field.name()));
            let repeated = field.label() == Label::Repeated;
            let entry = field
                .type_name
                .as_deref()
                .filter(|t| map_entries.contains(*t))
                .and_then(find);
            if let Some(entry) = entry {
                let value = entry
                    .field
                    .iter()
                    .find(|f| f.number() == 2)
                    .expect("map value");
                let (value_shape, _) = shape(value);
                let expr = value_expr(&value_shape, "v");
                writeln!(
                    body,
                    "        map.serialize_entry({json:?}, &crate::json::SortedMap(&{member}, |v| {expr}))?;"
                )
                .unwrap();
            } else if repeated {
                let (item_shape, _) = shape(field);
                let line = match item_shape {
                    Shape::Plain => format!("        map.serialize_entry({json:?}, &{member})?;"),
                    ref other => format!(
                        "        map.serialize_entry({json:?}, &crate::json::Seq(&{member}, |v| {}))?;",
                        value_expr(other, "v")
                    ),
                };
                body.push_str(&line);
                body.push('\n');
            } else {
                let (value_shape, optional) = shape(field);
                if optional {
                    let expr = value_expr(&value_shape, "v");
                    writeln!(
                        body,
                        "        if let Some(v) = &{member} {{ map.serialize_entry({json:?}, &{expr})?; }}"
                    )
                    .unwrap();
                } else {
                    let expr = value_expr(&value_shape, &format!("&{member}"));
                    writeln!(body, "        map.serialize_entry({json:?}, &{expr})?;").unwrap();
                }
            }
        }
        let proto_name = name.trim_start_matches('.');
        writeln!(
            out,
            "impl crate::json::ProtoJson for {path} {{\n    fn write_fields<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {{\n{body}        let _ = map;\n        Ok(())\n    }}\n}}\n\nimpl serde::Serialize for {path} {{\n    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{\n        crate::json::write_message(self, serializer)\n    }}\n}}\n"
        )
        .unwrap();
        writeln!(
            any_arms,
            "        {proto_name:?} => crate::json::decode_fields::<{path}, M>(value, map),"
        )
        .unwrap();
    }
    writeln!(
        out,
        "/// Writes the fields of the `{package}` message named `name` (package-qualified), decoded\n/// from `value`, into `map`; `None` when the package has no such message.\npub(crate) fn any_fields<M: serde::ser::SerializeMap>(name: &str, value: &[u8], map: &mut M) -> Option<Result<(), M::Error>> {{\n    Some(match name {{\n{any_arms}        _ => return None,\n    }})\n}}"
    )
    .unwrap();
    out
}
