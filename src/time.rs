//! UTC instants as seconds since the Unix epoch: as CloudTrail writes them
//! (`2026-11-30T14:02:11Z`), as users give `--since` and `--until` (RFC 3339 with any offset, or
//! a date), and the civil dates of pre-signed URLs. One calendar for the crate; a date crate
//! for these few formats would cost more than it saves.

/// Seconds since 1970-01-01T00:00:00Z.
pub type Seconds = i64;

/// Days from 1970-01-01 to a civil date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn date(text: &str) -> Option<Seconds> {
    let (year, rest) = text.split_once('-')?;
    let (month, day) = rest.split_once('-')?;
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or a date `YYYY-MM-DD` (its midnight, UTC).
/// Fractions of a second are dropped.
pub fn parse(text: &str) -> Option<Seconds> {
    let text = text.trim();
    if text.len() == 10 {
        return date(text);
    }
    let (day, time) = text.split_once(['T', 't', ' '])?;
    let day = date(day)?;
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone[1..].split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let (hours, minutes) = (number(hours)?, number(minutes)?);
        if hours > 23 || minutes > 59 {
            return None;
        }
        (clock, sign * (hours * 3600 + minutes * 60))
    };
    let clock = clock.split_once('.').map_or(clock, |(whole, fraction)| {
        if number(fraction).is_some() {
            whole
        } else {
            ""
        }
    });
    let mut parts = clock.split(':');
    let (Some(h), Some(m), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if h.len() != 2 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(day + h * 3600 + m * 60 + s - offset)
}

/// `2026-11-30T14:02:11Z`.
pub fn format(seconds: Seconds) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `2025-12-02T00:00:00.123Z`: milliseconds since the epoch as the log lines and metric lines
/// stamp them (what Lambda's log-level filtering reads as RFC 3339).
pub fn format_millis(millis: u64) -> String {
    let seconds = format(i64::try_from(millis / 1000).unwrap_or(i64::MAX));
    let whole = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{whole}.{:03}Z", millis % 1000)
}

/// Milliseconds since the epoch, now (0 before it: a clock that wrong stamps nothing useful).
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc_3339_with_three_decimals() {
        assert_eq!(format_millis(1_764_633_600_123), "2025-12-02T00:00:00.123Z");
        assert_eq!(format_millis(5), "1970-01-01T00:00:00.005Z");
        assert!(now_millis() > 1_764_633_600_000);
    }

    #[test]
    fn cloudtrail_times_and_user_bounds_parse_to_the_same_instant() {
        let t = parse("2026-11-30T14:02:11Z").unwrap_or_default();
        assert_eq!(format(t), "2026-11-30T14:02:11Z");
        assert_eq!(parse("2026-11-30T15:02:11+01:00"), Some(t));
        assert_eq!(parse("2026-11-30T14:02:11.250Z"), Some(t));
        assert_eq!(parse("2026-11-30"), parse("2026-11-30T00:00:00Z"));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            format(parse("2024-02-29T23:59:59Z").unwrap_or_default()),
            "2024-02-29T23:59:59Z"
        );
    }

    #[test]
    fn malformed_times_are_refused() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2025-02-29",
            "2026-11-30T25:00:00Z",
            "2026-11-30T14:02Z",
            "2026-11-30T14:02:11",
            "2026-11-30T14:02:11+1:00",
            "2026-11-30T14:02:11.x1Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
