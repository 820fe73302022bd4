//! DURATION values of the CLI: a whole number followed by `s`, `m`, `h` or `d`.

/// Parses `90s`, `15m`, `24h`, `14d` into seconds. Zero, missing units,
/// fractions and values over ten years are refused.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let unit = s.chars().last().ok_or("empty duration")?;
    let mult: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => {
            return Err(format!(
                "'{s}' needs a unit: s, m, h or d (like 90s, 15m, 24h, 14d)"
            ))
        }
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{s}' is not a whole number followed by s, m, h or d"
        ));
    }
    let n: i64 = digits.parse().map_err(|_| format!("'{s}' is too large"))?;
    let secs = n
        .checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if secs == 0 {
        return Err(format!("'{s}' must be longer than zero"));
    }
    if secs > 10 * 365 * 86400 {
        return Err(format!("'{s}' is longer than ten years"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("24h"), Ok(86400));
        assert_eq!(parse_duration("14d"), Ok(14 * 86400));
        for bad in [
            "",
            "s",
            "10",
            "1.5h",
            "-5m",
            "0s",
            "5w",
            "99999999999999999999d",
            "4000d",
            "1 h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
