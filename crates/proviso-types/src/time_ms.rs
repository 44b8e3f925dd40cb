use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC. The ledger's unit of time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Self(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    /// RFC 3339 form, e.g. `2026-11-24T09:30:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }

    /// The calendar month (UTC) this time falls in, as `YYYY-MM`, and the
    /// milliseconds from this time to the month's end.
    pub fn month(self) -> (String, i64) {
        let nanos = i128::from(self.0) * 1_000_000;
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
            return ("0000-00".into(), 0);
        };
        let (y, m) = (t.year(), t.month());
        let (ny, nm) = if m == time::Month::December {
            (y + 1, time::Month::January)
        } else {
            (y, m.next())
        };
        let end = time::Date::from_calendar_date(ny, nm, 1)
            .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
            .unwrap_or(self.0);
        (format!("{y:04}-{:02}", u8::from(m)), (end - self.0).max(0))
    }

    /// Parses RFC 3339 (`2026-11-24T09:30:00Z`), a date (`2026-11-24`, taken
    /// as midnight UTC) or a plain number of milliseconds.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(ms) = s.parse::<i64>() {
            return Ok(Self(ms));
        }
        if let Ok(t) =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        {
            return Ok(Self(
                i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
            ));
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        if let Ok(d) = time::Date::parse(s, &fmt) {
            let t = d.midnight().assume_utc();
            return Ok(Self(t.unix_timestamp() * 1000));
        }
        Err(format!(
            "invalid time {s:?}: expected RFC 3339 (2026-11-24T09:30:00Z), a date (2026-11-24) or milliseconds"
        ))
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixMillis({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(UnixMillis::parse("1000").unwrap(), UnixMillis(1000));
        assert_eq!(
            UnixMillis::parse("1970-01-02").unwrap(),
            UnixMillis(86_400_000)
        );
        assert_eq!(
            UnixMillis::parse("1970-01-01T00:00:01Z").unwrap(),
            UnixMillis(1000)
        );
        assert!(UnixMillis::parse("yesterday").is_err());
    }

    #[test]
    fn month_and_time_to_its_end() {
        let t = UnixMillis::parse("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(t.month(), ("2026-12".to_string(), 1000));
        let t = UnixMillis::parse("2026-02-01").unwrap();
        assert_eq!(t.month(), ("2026-02".to_string(), 28 * 86_400_000));
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(UnixMillis(86_400_000).to_rfc3339(), "1970-01-02T00:00:00Z");
    }
}
