//! InfluxDB line protocol: `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
//!
//! Escapes follow InfluxDB's rules: in the measurement a backslash escapes comma and space; in tag
//! keys, tag values and field keys it escapes comma, equals sign and space; in string field values
//! it escapes the double quote and itself. A backslash before any other character is kept as is,
//! as InfluxDB does. Lines are separated by `\n`, so a string field cannot span lines.

use std::str::FromStr;

/// One field's typed value, as the suffix or syntax of the value says.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

/// One parsed point line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch; `None` when the line carries no timestamp, in which case
    /// the receive time is used.
    pub timestamp_unix_nano: Option<u64>,
}

/// The unit of the timestamps of a request (`precision` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
}

/// A `precision` value that is none of `ns`, `n`, `us`, `u`, `ms`, `s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported precision {0:?}, supported: ns (n), us (u), ms, s")]
pub struct PrecisionError(pub String);

impl FromStr for Precision {
    type Err = PrecisionError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "" | "ns" | "n" => Ok(Precision::Nanoseconds),
            "us" | "u" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            other => Err(PrecisionError(other.to_string())),
        }
    }
}

impl Precision {
    fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }
}

/// Why one line is not a valid point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorKind {
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("missing measurement")]
    MissingMeasurement,
    #[error("tag {0:?} has no `=value`")]
    TagWithoutValue(String),
    #[error("empty tag key or value")]
    EmptyTag,
    #[error("missing fields")]
    MissingFields,
    #[error("field {0:?} has no `=value`")]
    FieldWithoutValue(String),
    #[error("empty field key")]
    EmptyFieldKey,
    #[error("field {field:?} has an invalid value {value:?}")]
    InvalidFieldValue { field: String, value: String },
    #[error("string value of field {0:?} has no closing quote")]
    UnterminatedString(String),
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    #[error("timestamp {0:?} is out of range (before the Unix epoch or too large)")]
    TimestampOutOfRange(String),
    #[error("unexpected text after the timestamp: {0:?}")]
    TrailingText(String),
}

/// A bad line with its 1-based line number in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct LineError {
    pub line: usize,
    pub kind: LineErrorKind,
}

/// Everything a body holds: its valid points and the errors of its bad lines, so that one bad line
/// does not cost the others.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Parsed {
    pub lines: Vec<Line>,
    pub errors: Vec<LineError>,
}

/// Parses a whole body; comment lines (`#`) and blank lines are skipped.
pub fn parse(body: &[u8], precision: Precision) -> Parsed {
    let mut parsed = Parsed::default();
    for (index, raw) in body.split(|&byte| byte == b'\n').enumerate() {
        let result = std::str::from_utf8(raw)
            .map_err(|_| LineErrorKind::NotUtf8)
            .and_then(|text| {
                let text = text.trim_end_matches('\r').trim_start();
                if text.trim_end().is_empty() || text.starts_with('#') {
                    Ok(None)
                } else {
                    parse_line(text.as_bytes(), precision).map(Some)
                }
            });
        match result {
            Ok(Some(line)) => parsed.lines.push(line),
            Ok(None) => {}
            Err(kind) => parsed.errors.push(LineError {
                line: index + 1,
                kind,
            }),
        }
    }
    parsed
}

const MEASUREMENT_ESCAPES: &[u8] = b", ";
const KEY_ESCAPES: &[u8] = b",= ";

/// A position in one line's bytes. Escapes and delimiters are ASCII, so working on bytes never
/// splits a UTF-8 sequence.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.position += 1;
        }
    }

    /// Reads up to the first unescaped byte of `stops`, undoing the escapes of `escapable`.
    fn token(&mut self, stops: &[u8], escapable: &[u8]) -> String {
        let mut out = Vec::new();
        while let Some(byte) = self.peek() {
            if byte == b'\\' {
                if let Some(&next) = self.bytes.get(self.position + 1)
                    && escapable.contains(&next)
                {
                    out.push(next);
                    self.position += 2;
                    continue;
                }
            } else if stops.contains(&byte) {
                break;
            }
            out.push(byte);
            self.position += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads a double-quoted string whose opening quote is at the cursor.
    fn quoted(&mut self, field: &str) -> Result<String, LineErrorKind> {
        self.position += 1;
        let mut out = Vec::new();
        while let Some(byte) = self.peek() {
            match byte {
                b'"' => {
                    self.position += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' if matches!(self.bytes.get(self.position + 1), Some(b'"' | b'\\')) => {
                    out.push(self.bytes[self.position + 1]);
                    self.position += 2;
                }
                _ => {
                    out.push(byte);
                    self.position += 1;
                }
            }
        }
        Err(LineErrorKind::UnterminatedString(field.to_string()))
    }
}

fn parse_line(bytes: &[u8], precision: Precision) -> Result<Line, LineErrorKind> {
    let mut cursor = Cursor { bytes, position: 0 };
    let measurement = cursor.token(b", ", MEASUREMENT_ESCAPES);
    if measurement.is_empty() {
        return Err(LineErrorKind::MissingMeasurement);
    }
    let mut tags = Vec::new();
    while cursor.peek() == Some(b',') {
        cursor.position += 1;
        let key = cursor.token(b",= ", KEY_ESCAPES);
        if cursor.peek() != Some(b'=') {
            return Err(LineErrorKind::TagWithoutValue(key));
        }
        cursor.position += 1;
        let value = cursor.token(b",= ", KEY_ESCAPES);
        if key.is_empty() || value.is_empty() || cursor.peek() == Some(b'=') {
            return Err(LineErrorKind::EmptyTag);
        }
        tags.push((key, value));
    }
    cursor.skip_spaces();
    if cursor.peek().is_none() {
        return Err(LineErrorKind::MissingFields);
    }
    let fields = parse_fields(&mut cursor)?;
    cursor.skip_spaces();
    let timestamp_unix_nano = match cursor.peek() {
        None => None,
        Some(_) => {
            let raw = cursor.token(b" ", b"");
            cursor.skip_spaces();
            if cursor.position < bytes.len() {
                let rest = String::from_utf8_lossy(&bytes[cursor.position..]).into_owned();
                return Err(LineErrorKind::TrailingText(rest));
            }
            Some(timestamp(&raw, precision)?)
        }
    };
    Ok(Line {
        measurement,
        tags,
        fields,
        timestamp_unix_nano,
    })
}

fn parse_fields(cursor: &mut Cursor<'_>) -> Result<Vec<(String, FieldValue)>, LineErrorKind> {
    let mut fields = Vec::new();
    loop {
        let key = cursor.token(b",= ", KEY_ESCAPES);
        if key.is_empty() {
            return Err(LineErrorKind::EmptyFieldKey);
        }
        if cursor.peek() != Some(b'=') {
            return Err(LineErrorKind::FieldWithoutValue(key));
        }
        cursor.position += 1;
        let value = if cursor.peek() == Some(b'"') {
            FieldValue::String(cursor.quoted(&key)?)
        } else {
            let raw = cursor.token(b", ", b"");
            scalar(&raw).ok_or_else(|| LineErrorKind::InvalidFieldValue {
                field: key.clone(),
                value: raw,
            })?
        };
        fields.push((key, value));
        if cursor.peek() != Some(b',') {
            return Ok(fields);
        }
        cursor.position += 1;
    }
}

/// A non-string field value: `1i` integer, `1u` unsigned, a boolean word, or a finite float.
fn scalar(raw: &str) -> Option<FieldValue> {
    if let Some(digits) = raw.strip_suffix('i') {
        return digits.parse().ok().map(FieldValue::Integer);
    }
    if let Some(digits) = raw.strip_suffix('u') {
        return digits.parse().ok().map(FieldValue::Unsigned);
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Some(FieldValue::Boolean(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Some(FieldValue::Boolean(false)),
        _ => {}
    }
    // Rust also reads `inf` and `NaN`, which the line protocol does not allow.
    let numeric = raw
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    let value: f64 = raw.parse().ok().filter(|_| numeric)?;
    value.is_finite().then_some(FieldValue::Float(value))
}

fn timestamp(raw: &str, precision: Precision) -> Result<u64, LineErrorKind> {
    let value: i64 = raw
        .parse()
        .map_err(|_| LineErrorKind::InvalidTimestamp(raw.to_string()))?;
    value
        .checked_mul(precision.nanos_per_unit())
        .and_then(|nanos| u64::try_from(nanos).ok())
        .ok_or_else(|| LineErrorKind::TimestampOutOfRange(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Line {
        let parsed = parse(text.as_bytes(), Precision::Nanoseconds);
        assert_eq!(parsed.errors, [], "{text}");
        assert_eq!(parsed.lines.len(), 1, "{text}");
        parsed.lines.into_iter().next().unwrap()
    }

    fn error_of(text: &str) -> LineErrorKind {
        let parsed = parse(text.as_bytes(), Precision::Nanoseconds);
        assert_eq!(parsed.lines, [], "{text}");
        assert_eq!(parsed.errors.len(), 1, "{text}");
        parsed.errors[0].kind.clone()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_a_full_line() {
        let line = one("cpu,host=a,cpu=cpu0 usage_idle=97.5,usage_user=1i 1700000000000000000");
        assert_eq!(line.measurement, "cpu");
        assert_eq!(line.tags, owned(&[("host", "a"), ("cpu", "cpu0")]));
        assert_eq!(
            line.fields,
            [
                ("usage_idle".to_string(), FieldValue::Float(97.5)),
                ("usage_user".to_string(), FieldValue::Integer(1)),
            ]
        );
        assert_eq!(line.timestamp_unix_nano, Some(1_700_000_000_000_000_000));
    }

    #[test]
    fn undoes_escapes() {
        let line = one(r"disk\ io\,total,path=C:\\data,a\=b=x\ y\,z value=1");
        assert_eq!(line.measurement, "disk io,total");
        assert_eq!(line.tags, owned(&[("path", r"C:\\data"), ("a=b", "x y,z")]));
        let line = one(r#"log,level=info message="say \"hi\" to C:\\ and \n",f\ k\=1=2i"#);
        assert_eq!(
            line.fields,
            [
                (
                    "message".to_string(),
                    FieldValue::String(r#"say "hi" to C:\ and \n"#.to_string())
                ),
                ("f k=1".to_string(), FieldValue::Integer(2)),
            ]
        );
        let line = one(r#"m s="a,b c=d" 5"#);
        assert_eq!(
            line.fields,
            [("s".to_string(), FieldValue::String("a,b c=d".into()))]
        );
        assert_eq!(line.timestamp_unix_nano, Some(5));
    }

    #[test]
    fn reads_every_field_type() {
        let line = one("m a=1,b=1.5,c=-1e3,d=-7i,e=18446744073709551615u,f=t,g=FALSE,h=\"x\"");
        let values: Vec<FieldValue> = line.fields.into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            values,
            [
                FieldValue::Float(1.0),
                FieldValue::Float(1.5),
                FieldValue::Float(-1000.0),
                FieldValue::Integer(-7),
                FieldValue::Unsigned(u64::MAX),
                FieldValue::Boolean(true),
                FieldValue::Boolean(false),
                FieldValue::String("x".into()),
            ]
        );
        for word in ["t", "T", "true", "True", "TRUE"] {
            assert_eq!(
                one(&format!("m v={word}")).fields[0].1,
                FieldValue::Boolean(true)
            );
        }
        for word in ["f", "F", "false", "False", "FALSE"] {
            assert_eq!(
                one(&format!("m v={word}")).fields[0].1,
                FieldValue::Boolean(false)
            );
        }
    }

    #[test]
    fn scales_each_precision_to_nanoseconds() {
        let cases = [
            ("ns", 1),
            ("n", 1),
            ("us", 1_000),
            ("u", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
        ];
        for (name, factor) in cases {
            let precision: Precision = name.parse().unwrap();
            let parsed = parse(b"m v=1 1700000000", precision);
            assert_eq!(
                parsed.lines[0].timestamp_unix_nano,
                Some(1_700_000_000 * factor),
                "{name}"
            );
        }
        assert_eq!(
            "h".parse::<Precision>(),
            Err(PrecisionError("h".to_string()))
        );
        let parsed = parse(b"m v=1 9223372036854775807", Precision::Seconds);
        assert_eq!(
            parsed.errors[0].kind,
            LineErrorKind::TimestampOutOfRange("9223372036854775807".into())
        );
    }

    #[test]
    fn timestamp_is_optional() {
        assert_eq!(one("m v=1").timestamp_unix_nano, None);
        assert_eq!(one("m v=1   ").timestamp_unix_nano, None);
    }

    #[test]
    fn skips_comments_and_blank_lines() {
        let body = b"# a comment\n\n   \nm v=1 1\r\n  # indented comment\nm v=2 2\n";
        let parsed = parse(body, Precision::Nanoseconds);
        assert_eq!(parsed.errors, []);
        assert_eq!(parsed.lines.len(), 2);
        assert_eq!(parsed.lines[1].timestamp_unix_nano, Some(2));
    }

    #[test]
    fn names_each_malformed_line_by_number() {
        let body = b"m v=1\nbroken\nm v=2\nm v=abc\nm,t=1 v=\"open\n";
        let parsed = parse(body, Precision::Nanoseconds);
        assert_eq!(parsed.lines.len(), 2);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4, 5]);
        assert_eq!(parsed.errors[0].to_string(), "line 2: missing fields");
        assert_eq!(
            parsed.errors[1].kind,
            LineErrorKind::InvalidFieldValue {
                field: "v".into(),
                value: "abc".into()
            }
        );
        assert_eq!(
            parsed.errors[2].kind,
            LineErrorKind::UnterminatedString("v".into())
        );
    }

    #[test]
    fn refuses_each_kind_of_malformed_line() {
        assert_eq!(error_of(",t=1 v=1"), LineErrorKind::MissingMeasurement);
        assert_eq!(
            error_of("m,t v=1"),
            LineErrorKind::TagWithoutValue("t".into())
        );
        assert_eq!(error_of("m,t= v=1"), LineErrorKind::EmptyTag);
        assert_eq!(
            error_of("m v"),
            LineErrorKind::FieldWithoutValue("v".into())
        );
        assert_eq!(error_of("m =1"), LineErrorKind::EmptyFieldKey);
        for value in ["", "1x", "inf", "NaN", "1.5i", "-1u", "yes"] {
            assert_eq!(
                error_of(&format!("m v={value}")),
                LineErrorKind::InvalidFieldValue {
                    field: "v".into(),
                    value: value.into()
                },
                "{value}"
            );
        }
        assert_eq!(
            error_of("m v=1 12x"),
            LineErrorKind::InvalidTimestamp("12x".into())
        );
        assert_eq!(
            error_of("m v=1 1 2"),
            LineErrorKind::TrailingText("2".into())
        );
        assert_eq!(
            error_of("m v=1 -5"),
            LineErrorKind::TimestampOutOfRange("-5".into())
        );
        let parsed = parse(b"m v=1\n\xff v=1", Precision::Nanoseconds);
        assert_eq!(
            parsed.errors,
            [LineError {
                line: 2,
                kind: LineErrorKind::NotUtf8
            }]
        );
    }
}
