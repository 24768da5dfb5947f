//! Proto-JSON value conventions: wrapper numbers may arrive as strings, times go out as
//! `YYYY-MM-DD hh:mm:ss`.

use polaris_types::Millis;
use serde::{Deserialize, Deserializer, de::Error};
use serde_json::Value;

/// Reads an optional unsigned 32-bit number written as a JSON number or a numeric string.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not an unsigned 32-bit integer"))),
        Some(Value::String(s)) => s
            .parse::<u32>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("\"{s}\" is not an unsigned 32-bit integer"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a number, found {other}"
        ))),
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DD hh:mm:ss` (UTC), or `null` when unset.
pub fn time(ms: Millis) -> Value {
    polaris_types::time::format_millis(ms).map_or(Value::Null, Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Port {
        #[serde(default, deserialize_with = "opt_u32")]
        port: Option<u32>,
    }

    fn port(json: &str) -> Result<Option<u32>, serde_json::Error> {
        serde_json::from_str::<Port>(json).map(|p| p.port)
    }

    #[test]
    fn wrapper_numbers() {
        assert_eq!(port(r#"{"port":8080}"#).unwrap(), Some(8080));
        assert_eq!(port(r#"{"port":"8080"}"#).unwrap(), Some(8080));
        assert_eq!(port(r#"{"port":null}"#).unwrap(), None);
        assert_eq!(port(r#"{}"#).unwrap(), None);
        assert!(port(r#"{"port":-1}"#).is_err());
        assert!(port(r#"{"port":4294967296}"#).is_err());
        assert!(port(r#"{"port":true}"#).is_err());
        assert!(port(r#"{"port":1.5}"#).is_err());
    }
}
