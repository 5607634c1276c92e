//! Times and durations as people read and write them: dates in the
//! user's time zone, durations like `90s`, `2h`, `30d`.

use anyhow::{anyhow, Result};

/// `ms` (since the Unix epoch) as a date and time in the local time zone,
/// to the second: `2026-11-30 07:40:12 UTC`.
pub fn when(ms: u64) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX)) else {
        return format!("{ms} ms since the Unix epoch");
    };
    ts.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A span as people write it: `365d`, `2h 30m`, `90s`.
pub fn span(ms: u64) -> String {
    const DAY: u64 = 86_400_000;
    if ms >= DAY && ms.is_multiple_of(DAY) {
        return format!("{}d", ms / DAY);
    }
    format!("{:#}", jiff::SignedDuration::from_millis(ms as i64))
}

/// A duration in milliseconds: a number of milliseconds, or a duration
/// such as `500ms`, `90s`, `1m`, `2h`, `30d`, `1h30m` (days are 24 hours).
pub fn duration_ms(text: &str) -> Result<u64> {
    use crate::model::duration::DurationError;
    let text = text.trim();
    crate::model::duration::duration_ms(text).map_err(|e| match e {
        DurationError::NotADuration => anyhow!(
            "{text:?} is not a duration: give milliseconds (`90000`) or a duration such as \
             `500ms`, `90s`, `1m`, `2h`, `30d`, `1h30m`"
        ),
        DurationError::Negative => anyhow!("{text:?}: a duration cannot be negative"),
    })
}

/// A point in time in milliseconds since the Unix epoch: a date in the
/// local time zone (`2026-11-30`, `2026-11-30T08:00`), an RFC 3339 time
/// (`2026-11-30T08:00:00Z`), or a duration before `now_ms` (`2h`, `7d`).
pub fn instant_ms(text: &str, now_ms: u64) -> Result<u64> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(u64::try_from(ts.as_millisecond()).unwrap_or(0));
    }
    let zone = jiff::tz::TimeZone::system();
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        if let Ok(z) = dt.to_zoned(zone.clone()) {
            return Ok(u64::try_from(z.timestamp().as_millisecond()).unwrap_or(0));
        }
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        if let Ok(z) = d.to_zoned(zone) {
            return Ok(u64::try_from(z.timestamp().as_millisecond()).unwrap_or(0));
        }
    }
    match duration_ms(text) {
        Ok(ago) => Ok(now_ms.saturating_sub(ago)),
        Err(_) => Err(anyhow!(
            "{text:?} is not a time: give a date (`2026-11-30`, `2026-11-30T08:00`), an RFC 3339 \
             time (`2026-11-30T08:00:00Z`) or how long ago (`2h`, `7d`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_ms("1500").unwrap(), 1_500);
        assert_eq!(duration_ms("1m").unwrap(), 60_000);
        assert_eq!(duration_ms("2h").unwrap(), 7_200_000);
        assert_eq!(duration_ms("30d").unwrap(), 2_592_000_000);
        assert_eq!(duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(duration_ms("250ms").unwrap(), 250);
        assert!(duration_ms("soon").unwrap_err().to_string().contains("2h"));
        assert!(duration_ms("-5s").is_err());
    }

    #[test]
    fn instants_read_as_dates_or_durations_ago() {
        let now = 1_000_000_000;
        assert_eq!(instant_ms("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(
            instant_ms("2026-11-30T08:00:00Z", now).unwrap(),
            1_796_025_600_000
        );
        assert!(instant_ms("2026-11-30", now).is_ok());
        assert!(instant_ms("yesterday-ish", now)
            .unwrap_err()
            .to_string()
            .contains("2h"));
    }

    #[test]
    fn times_read_as_dates() {
        assert!(when(0).starts_with("1970-01-01") || when(0).starts_with("1969-12-31"));
    }
}
