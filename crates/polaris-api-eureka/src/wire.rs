//! One document model for both of Eureka's wire formats. Eureka's JSON is its XML spelled as
//! JSON: an attribute becomes an `@name` key, an element's text next to attributes becomes `$`,
//! and repeated elements become an array. So requests in XML are read into the same
//! `serde_json::Value` a JSON request gives, one decoder reads both, and every answer is built
//! once as a `Value` and written out as JSON or XML.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

/// Elements nested deeper than this are refused (Eureka documents are four levels deep).
const MAX_DEPTH: usize = 32;

/// Reads an XML document into `{root_name: content}` in the Eureka JSON shape.
pub fn parse_xml(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                let name = element_name(&start)?;
                let content = read_element(&mut reader, &start, 1)?;
                return Ok(Value::Object(Map::from_iter([(name, content)])));
            }
            Event::Empty(start) => {
                let name = element_name(&start)?;
                return Ok(Value::Object(Map::from_iter([(name, attributes(&start)?)])));
            }
            Event::Eof => return Err("no root element".into()),
            Event::Text(t) if !t.xml10_content().trim().is_empty() => {
                return Err("text outside the root element".into());
            }
            _ => {}
        }
    }
}

fn element_name(start: &BytesStart) -> Result<String, String> {
    Ok(start.local_name().as_ref().to_string())
}

/// The attributes of an element as `@name` keys (an element without any becomes "").
fn attributes(start: &BytesStart) -> Result<Value, String> {
    let mut object = Map::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = attr.key.local_name().as_ref().to_string();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        object.insert(format!("@{key}"), Value::String(value.into_owned()));
    }
    Ok(if object.is_empty() {
        Value::String(String::new())
    } else {
        Value::Object(object)
    })
}

fn read_element(
    reader: &mut Reader<&[u8]>,
    start: &BytesStart,
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("elements nested deeper than {MAX_DEPTH}"));
    }
    let mut object = match attributes(start)? {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let mut text = String::new();
    let mut children = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(child) => {
                let name = element_name(&child)?;
                let value = read_element(reader, &child, depth + 1)?;
                add_child(&mut object, name, value);
                children = true;
            }
            Event::Empty(child) => {
                let name = element_name(&child)?;
                add_child(&mut object, name, attributes(&child)?);
                children = true;
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.into_inner()),
            Event::GeneralRef(r) => match r.resolve_char_ref().map_err(|e| e.to_string())? {
                Some(ch) => text.push(ch),
                None => text.push_str(predefined_entity(&r.xml10_content())?),
            },
            Event::End(_) => break,
            Event::Eof => return Err("document ends inside an element".into()),
            _ => {}
        }
    }
    let text = text.trim();
    if object.is_empty() && !children {
        return Ok(Value::String(text.to_string()));
    }
    if !text.is_empty() {
        object.insert("$".into(), Value::String(text.to_string()));
    }
    Ok(Value::Object(object))
}

fn predefined_entity(name: &str) -> Result<&'static str, String> {
    Ok(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        other => return Err(format!("unknown entity &{other};")),
    })
}

fn add_child(object: &mut Map<String, Value>, name: String, value: Value) {
    match object.get_mut(&name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            object.insert(name, value);
        }
    }
}

/// Element names that differ between the formats (Netflix's XML spells this one in lower case).
fn xml_name(key: &str) -> &str {
    match key {
        "overriddenStatus" => "overriddenstatus",
        other => other,
    }
}

/// Whether `name` can be written as an XML element name.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

/// Writes `value` as the element `name`: `@` keys become attributes, `$` the text, arrays
/// repeated elements, `null` nothing. Keys that are not XML names are left out.
pub fn write_xml(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|item| write_xml(out, name, item)),
        Value::Object(object) => {
            let name = xml_name(name);
            out.push('<');
            out.push_str(name);
            for (key, attr) in object.iter().filter(|(k, _)| k.starts_with('@')) {
                if is_xml_name(&key[1..]) {
                    out.push(' ');
                    out.push_str(&key[1..]);
                    out.push_str("=\"");
                    escape_into(out, &scalar_text(attr));
                    out.push('"');
                }
            }
            out.push('>');
            if let Some(text) = object.get("$") {
                escape_into(out, &scalar_text(text));
            }
            for (key, child) in object.iter().filter(|(k, _)| !k.starts_with(['@', '$'])) {
                if is_xml_name(key) {
                    write_xml(out, key, child);
                }
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        scalar => {
            let name = xml_name(name);
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape_into(out, &scalar_text(scalar));
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

/// A scalar as text: strings as they are, numbers and booleans in JSON spelling.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn escape_into(out: &mut String, text: &str) {
    out.push_str(&quick_xml::escape::escape(text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xml_reads_into_the_eureka_json_shape() {
        let xml = br#"<?xml version="1.0"?>
            <instance>
              <app>DEMO</app>
              <port enabled="true">8080</port>
              <dataCenterInfo class="x.Y"><name>MyOwn</name></dataCenterInfo>
              <metadata><a>1 &amp; 2</a><b/></metadata>
              <tag>one</tag><tag>two</tag>
            </instance>"#;
        let value = parse_xml(xml).unwrap();
        assert_eq!(
            value,
            json!({"instance": {
                "app": "DEMO",
                "port": {"@enabled": "true", "$": "8080"},
                "dataCenterInfo": {"@class": "x.Y", "name": "MyOwn"},
                "metadata": {"a": "1 & 2", "b": ""},
                "tag": ["one", "two"],
            }})
        );
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        for bad in [
            &b"<instance><app>x</instance>"[..],
            b"<instance>",
            b"",
            b"just text",
            b"<a>&bogus;</a>",
            b"\xff\xfe",
        ] {
            assert!(
                parse_xml(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse_xml(deep.as_bytes()).is_err());
    }

    #[test]
    fn xml_writing_round_trips_through_the_reader() {
        let value = json!({
            "app": "DEMO",
            "port": {"@enabled": "true", "$": 8080},
            "overriddenStatus": "UNKNOWN",
            "metadata": {"k": "<v>", "not a name": "x"},
            "skipped": null,
        });
        let mut out = String::new();
        write_xml(&mut out, "instance", &value);
        assert!(
            out.contains("<overriddenstatus>UNKNOWN</overriddenstatus>"),
            "{out}"
        );
        assert!(out.contains(r#"<port enabled="true">8080</port>"#), "{out}");
        assert!(
            !out.contains("not a name") && !out.contains("skipped"),
            "{out}"
        );
        let back = parse_xml(out.as_bytes()).unwrap();
        assert_eq!(back["instance"]["metadata"]["k"], "<v>");
        assert_eq!(back["instance"]["port"]["$"], "8080");
    }
}
