//! Go-style durations: `"32ms"`, `"1s"`, `"1h30m"`, `"1.5s"`, or a plain
//! integer meaning seconds.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration as written in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileDuration(pub Duration);

/// Parses a Go `time.ParseDuration` string (`ns`, `us`/`µs`/`μs`, `ms`,
/// `s`, `m`, `h` units; decimal fractions; several terms such as `1h30m`).
/// Differences from Go: negative durations are rejected, and a bare number
/// without unit is taken as seconds (Go only allows a bare `0`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return Err("empty duration".to_owned());
    }
    if s.starts_with('-') {
        return Err(format!("negative duration {text:?} is not allowed"));
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bad = || format!("invalid duration {text:?} (expected e.g. \"32ms\", \"1s\", \"1h30m\")");
    let mut total_nanos: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return Err(bad()),
        };
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if frac_part.contains('.') {
            return Err(bad());
        }
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut nanos = int_val.checked_mul(unit_nanos).ok_or_else(bad)?;
        // Fraction: keep up to 18 digits, enough for nanosecond precision.
        let frac: String = frac_part.chars().take(18).collect();
        if !frac.is_empty() {
            let digits: u128 = frac.parse().map_err(|_| bad())?;
            let scale = 10u128.pow(u32::try_from(frac.len()).map_err(|_| bad())?);
            nanos = nanos
                .checked_add(digits.saturating_mul(unit_nanos) / scale)
                .ok_or_else(bad)?;
        }
        total_nanos = total_nanos.checked_add(nanos).ok_or_else(bad)?;
        rest = next;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| bad())?;
    // The remainder is < 1e9 and so always fits.
    let sub = u32::try_from(total_nanos % 1_000_000_000).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = FileDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a duration such as \"32ms\", \"1s\", \"1h30m\" or an integer number of seconds",
        )
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileDuration, E> {
        Ok(FileDuration(Duration::from_secs(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileDuration, E> {
        u64::try_from(v)
            .map(|s| FileDuration(Duration::from_secs(s)))
            .map_err(|_| E::custom(format!("negative duration {v} is not allowed")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FileDuration, E> {
        parse_duration(v).map(FileDuration).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_strings() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("32ms"), Ok(ms(32)));
        assert_eq!(parse_duration("1s"), Ok(ms(1000)));
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("1m"), Ok(ms(60_000)));
        assert_eq!(parse_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "s",
            "5x",
            "-5s",
            "1..5s",
            "ms5",
            "1h 30m",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
