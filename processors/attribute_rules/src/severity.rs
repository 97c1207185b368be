//! `log_severity_number: {min, match_undefined}`: a log record matches when its severity number
//! is at least `min`, and a record without a severity number matches only when `match_undefined`
//! is set, as otelcol's log filters decide.

use cormorant_confmap::ConfValue;
use serde::Deserialize;

/// The setting as written; `min` is a number (1–24) or a name (`INFO`, `warn2`, `Error`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityNumberConfig {
    pub min: ConfValue,
    pub match_undefined: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeverityMatcher {
    min: i32,
    match_undefined: bool,
}

/// Severity names in OTLP order, each covering four numbers (`TRACE` = 1 … `FATAL4` = 24).
const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

impl SeverityMatcher {
    pub(crate) fn new(config: &SeverityNumberConfig) -> Result<SeverityMatcher, String> {
        let min = match &config.min {
            ConfValue::Int(number) if (0..=24).contains(number) => *number as i32,
            ConfValue::String(name) => severity_number(name).ok_or_else(|| {
                format!(
                    "log_severity_number: unknown severity {name:?}: use a number from 1 to 24 or \
                     a name such as INFO, WARN2 or ERROR"
                )
            })?,
            other => {
                return Err(format!(
                    "log_severity_number: \"min\" must be a severity name or a number from 1 to \
                     24, not {other:?}"
                ));
            }
        };
        Ok(SeverityMatcher {
            min,
            match_undefined: config.match_undefined,
        })
    }

    pub(crate) fn matches(self, severity_number: i32) -> bool {
        if severity_number == 0 {
            return self.match_undefined;
        }
        severity_number >= self.min
    }
}

/// The OTLP severity number of a name: `INFO` → 9, `warn2` → 14, `UNDEFINED` → 0; case does not
/// matter.
pub fn severity_number(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    if upper == "UNDEFINED" || upper == "UNSPECIFIED" {
        return Some(0);
    }
    LEVELS.iter().zip(0..).find_map(|(level, index)| {
        let step = match upper.strip_prefix(level)? {
            "" => 1,
            digit @ ("2" | "3" | "4") => digit.parse().ok()?,
            _ => return None,
        };
        Some(index * 4 + step)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(min: ConfValue, match_undefined: bool) -> Result<SeverityMatcher, String> {
        SeverityMatcher::new(&SeverityNumberConfig {
            min,
            match_undefined,
        })
    }

    #[test]
    fn names_map_to_otlp_numbers() {
        let cases = [
            ("TRACE", 1),
            ("debug", 5),
            ("Info", 9),
            ("INFO4", 12),
            ("warn2", 14),
            ("ERROR", 17),
            ("FATAL4", 24),
            ("undefined", 0),
        ];
        for (name, number) in cases {
            assert_eq!(severity_number(name), Some(number), "{name}");
        }
        assert_eq!(severity_number("INFO5"), None);
        assert_eq!(severity_number("NOTICE"), None);
    }

    #[test]
    fn records_at_or_above_min_match_and_undefined_follows_the_flag() {
        let warn = matcher(ConfValue::String("WARN".into()), false).unwrap();
        assert!(!warn.matches(9), "INFO is below WARN");
        assert!(warn.matches(13));
        assert!(warn.matches(21));
        assert!(!warn.matches(0));
        let with_undefined = matcher(ConfValue::Int(13), true).unwrap();
        assert!(with_undefined.matches(0));
    }

    #[test]
    fn bad_minimums_are_refused() {
        assert!(matcher(ConfValue::String("LOUD".into()), false).is_err());
        assert!(matcher(ConfValue::Int(25), false).is_err());
        assert!(matcher(ConfValue::Null, false).is_err());
    }
}
