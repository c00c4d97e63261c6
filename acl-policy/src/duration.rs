//! Durations as text: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1.5s"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"250ms"`, `"10s"`, `"5m"`, `"1h"` (and `"1.5s"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    read_duration(text).map_err(|e| format!("{e}; write e.g. \"250ms\", \"5s\", \"2m\""))
}

fn read_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (ms, s, m, h)"))?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}`: {e}"))
}

/// Writes a duration as [`parse_duration`] reads it back, exactly: whole seconds as
/// `"10s"`, anything else in (possibly fractional) milliseconds.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ms", d.as_nanos() as f64 / 1e6)
    }
}

/// Durations as text, for serde (`#[serde(with = "acl_policy::duration::text")]`).
pub mod text {
    use super::*;
    /// Writes the duration.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
    /// Reads the duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_write_and_refuse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("1e400s").is_err());
        for d in [
            Duration::from_secs(10),
            Duration::from_millis(250),
            Duration::from_micros(1500),
            Duration::from_nanos(1),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }
}
