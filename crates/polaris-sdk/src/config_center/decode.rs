//! Typed decoding of config file content: JSON, YAML, Java-style properties, plain text.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The format of a config file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// JSON, decoded with `serde_json`.
    Json,
    /// YAML, decoded with `serde-saphyr`.
    Yaml,
    /// `key=value` lines. Keys map to fields; values that read as booleans or numbers are
    /// typed, the rest are strings.
    Properties,
    /// The whole content as one string (decode into `String`).
    Text,
}

impl Format {
    /// The format a file name suggests (`.json`, `.yaml`/`.yml`, `.properties`; text otherwise).
    pub fn from_file_name(name: &str) -> Format {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("json") => Format::Json,
            Some("yaml" | "yml") => Format::Yaml,
            Some("properties") => Format::Properties,
            _ => Format::Text,
        }
    }
}

/// Decodes `content` as `format` into `T`.
pub fn decode<T: DeserializeOwned>(content: &str, format: Format) -> Result<T> {
    match format {
        Format::Json => serde_json::from_str(content).map_err(|e| Error::Decode(e.to_string())),
        Format::Yaml => serde_saphyr::from_str(content).map_err(|e| Error::Decode(e.to_string())),
        Format::Properties => {
            let object: serde_json::Map<String, serde_json::Value> = parse_properties(content)
                .into_iter()
                .map(|(k, v)| (k, typed(v)))
                .collect();
            serde_json::from_value(serde_json::Value::Object(object))
                .map_err(|e| Error::Decode(e.to_string()))
        }
        Format::Text => serde_json::from_value(serde_json::Value::String(content.to_string()))
            .map_err(|e| Error::Decode(e.to_string())),
    }
}

fn typed(value: String) -> serde_json::Value {
    match value.as_str() {
        "true" => return serde_json::Value::Bool(true),
        "false" => return serde_json::Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = value.parse::<f64>()
        && f.is_finite()
        && value.contains('.')
    {
        return f.into();
    }
    serde_json::Value::String(value)
}

/// Parses Java-style properties: `#`/`!` comments, `=`, `:` or blank separators, trailing
/// backslash continuations and `\t \n \r \uXXXX` escapes. Later keys win.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_pair(&logical);
        out.insert(unescape(key), unescape(value));
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

fn split_pair(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' => return (line[..i].trim_end(), line[i + 1..].trim_start()),
            b' ' | b'\t' => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .map(str::trim_start)
                    .unwrap_or(rest);
                return (&line[..i], rest);
            }
            _ => i += 1,
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct App {
        name: String,
        port: u16,
        debug: bool,
    }

    #[test]
    fn formats() {
        let want = App {
            name: "echo".into(),
            port: 8080,
            debug: true,
        };
        let json = r#"{"name":"echo","port":8080,"debug":true}"#;
        assert_eq!(decode::<App>(json, Format::Json).unwrap(), want);
        let yaml = "name: echo\nport: 8080\ndebug: true\n";
        assert_eq!(decode::<App>(yaml, Format::Yaml).unwrap(), want);
        let props = "# c\nname = echo\nport:8080\ndebug true\n";
        assert_eq!(decode::<App>(props, Format::Properties).unwrap(), want);
        assert_eq!(decode::<String>("raw", Format::Text).unwrap(), "raw");
        assert!(decode::<App>("port: x", Format::Yaml).is_err());
        assert_eq!(Format::from_file_name("a/b.YML"), Format::Yaml);
        assert_eq!(Format::from_file_name("app"), Format::Text);
    }

    #[test]
    fn properties_details() {
        let p = parse_properties("a=1\\\n   2\n! x\nb\\=c = d\\u0041\nempty\n k2 : v : w\n");
        assert_eq!(p["a"], "12");
        assert_eq!(p["b=c"], "dA");
        assert_eq!(p["empty"], "");
        assert_eq!(p["k2"], "v : w");
        assert_eq!(p.len(), 4);
    }
}
