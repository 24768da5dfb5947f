//! Time as the official server prints it.

use crate::Millis;

/// Formats Unix milliseconds as `YYYY-MM-DD hh:mm:ss` in UTC; `None` for an unset (0) time.
pub fn format_millis(ms: Millis) -> Option<String> {
    if ms <= 0 {
        return None;
    }
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

/// [`format_millis`], with `""` for an unset time (how protobuf string fields carry it).
pub fn format_or_empty(ms: Millis) -> String {
    format_millis(ms).unwrap_or_default()
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
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_official_server() {
        assert_eq!(format_millis(0), None);
        // Expected values checked with `date -u -d @<secs>`.
        assert_eq!(
            format_millis(1_614_834_367_000).as_deref(),
            Some("2021-03-04 05:06:07")
        );
        assert_eq!(
            format_millis(951_868_799_000).as_deref(),
            Some("2000-02-29 23:59:59")
        );
    }
}
