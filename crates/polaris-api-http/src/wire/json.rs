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
    if ms <= 0 {
        return Value::Null;
    }
    let secs = ms.div_euclid(1000);
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    Value::String(format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    ))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    #[test]
    fn times() {
        assert_eq!(time(0), Value::Null);
        // 2021-03-04 05:06:07 UTC
        assert_eq!(
            time(1_614_834_367_000),
            Value::String("2021-03-04 05:06:07".into())
        );
        // 2000-02-29 23:59:59 UTC (leap day)
        assert_eq!(
            time(951_868_799_000),
            Value::String("2000-02-29 23:59:59".into())
        );
    }
}
