//! RESP2/RESP3 framing: finds where one value ends without building it.
//!
//! Every type of RESP3 is covered (including streamed strings and aggregates, and attributes
//! that precede a reply) because a reply whose end is misjudged shifts every later pipelined
//! reply onto the wrong request. Nesting and declared sizes are bounded so garbage that happens
//! to start with a type byte fails fast instead of waiting for gigabytes.

use crate::protocol::{ParseError, Protocol};

/// Redis's own limit on a bulk string (`proto-max-bulk-len`).
pub const MAX_BULK_LENGTH: i64 = 512 * 1024 * 1024;
/// Far above any real command's argument count or reply size we could parse in a buffer.
pub const MAX_ELEMENTS: i64 = 1024 * 1024;
/// Nesting deeper than this is not a real reply.
const MAX_DEPTH: u32 = 32;
/// A simple-string, error or number line longer than this is not RESP.
pub const MAX_LINE: usize = 64 * 1024;

pub fn malformed(detail: &'static str) -> ParseError {
    ParseError::Malformed {
        protocol: Protocol::Redis,
        detail,
    }
}

/// Reads the CRLF-terminated line starting at `position`: its content and the position after
/// the CRLF, or `None` when the line is not complete yet.
pub fn read_line(buf: &[u8], position: usize) -> Result<Option<(&[u8], usize)>, ParseError> {
    let rest = buf.get(position..).unwrap_or_default();
    match rest
        .iter()
        .position(|byte| *byte == b'\r' || *byte == b'\n')
    {
        None if rest.len() > MAX_LINE => Err(malformed("line too long")),
        None => Ok(None),
        Some(end) if rest[end] == b'\n' => Err(malformed("line ends without CR")),
        Some(end) => match rest.get(end + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((&rest[..end], position + end + 2))),
            Some(_) => Err(malformed("bare CR")),
        },
    }
}

/// Parses a RESP integer line (optional `-`, at most 19 digits).
pub fn parse_integer(line: &[u8]) -> Result<i64, ParseError> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed("invalid integer"));
    }
    let value = digits
        .iter()
        .fold(0i64, |value, digit| value * 10 + i64::from(digit - b'0'));
    Ok(if line.len() > digits.len() {
        -value
    } else {
        value
    })
}

fn valid_double(line: &[u8]) -> bool {
    matches!(line, b"inf" | b"-inf" | b"nan")
        || (!line.is_empty()
            && line.len() <= 64
            && line
                .iter()
                .all(|byte| byte.is_ascii_digit() || b"+-.eE".contains(byte)))
}

/// Reads a bulk length line (`$`, `=`, `!`): `None` for the RESP2 null bulk string (`$-1`).
pub fn bulk_length(tag: u8, line: &[u8]) -> Result<Option<usize>, ParseError> {
    let length = parse_integer(line)?;
    if length == -1 && tag == b'$' {
        return Ok(None);
    }
    if !(0..=MAX_BULK_LENGTH).contains(&length) {
        return Err(malformed("invalid bulk length"));
    }
    Ok(Some(length as usize))
}

/// Reads an aggregate count line: how many values follow (`None` for the RESP2 null array).
pub fn aggregate_values(tag: u8, line: &[u8]) -> Result<Option<usize>, ParseError> {
    let count = parse_integer(line)?;
    if count == -1 && tag == b'*' {
        return Ok(None);
    }
    if !(0..=MAX_ELEMENTS).contains(&count) {
        return Err(malformed("invalid aggregate length"));
    }
    let per_entry = if matches!(tag, b'%' | b'|') { 2 } else { 1 };
    Ok(Some(count as usize * per_entry))
}

/// Finds the end of the bulk payload of `length` bytes starting at `start`.
pub fn bulk_end(buf: &[u8], start: usize, length: usize) -> Result<Option<usize>, ParseError> {
    let end = start + length + 2;
    match buf.get(end - 2..end) {
        None => Ok(None),
        Some(b"\r\n") => Ok(Some(end)),
        Some(_) => Err(malformed("bulk payload not followed by CRLF")),
    }
}

/// Finds the end of the value starting at `position`; `Ok(None)` when more bytes are needed.
pub fn value_end(buf: &[u8], position: usize, depth: u32) -> Result<Option<usize>, ParseError> {
    let Some(&tag) = buf.get(position) else {
        return Ok(None);
    };
    if depth > MAX_DEPTH {
        return Err(malformed("nesting too deep"));
    }
    if !b"+-:,#_($=!*~>%|".contains(&tag) {
        return Err(malformed("unknown RESP type"));
    }
    let Some((line, after)) = read_line(buf, position + 1)? else {
        return Ok(None);
    };
    match tag {
        b'+' | b'-' => Ok(Some(after)),
        b':' | b'(' => {
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(malformed("invalid number"));
            }
            Ok(Some(after))
        }
        b',' if valid_double(line) => Ok(Some(after)),
        b',' => Err(malformed("invalid double")),
        b'#' if line == b"t" || line == b"f" => Ok(Some(after)),
        b'#' => Err(malformed("invalid boolean")),
        b'_' if line.is_empty() => Ok(Some(after)),
        b'_' => Err(malformed("invalid null")),
        b'$' if line == b"?" => streamed_string_end(buf, after),
        b'$' | b'=' | b'!' => match bulk_length(tag, line)? {
            None => Ok(Some(after)),
            Some(length) => bulk_end(buf, after, length),
        },
        _ if line == b"?" && tag != b'|' => streamed_aggregate_end(buf, after, depth),
        _ => match aggregate_values(tag, line)? {
            None => Ok(Some(after)),
            Some(values) => {
                let Some(end) = values_end(buf, after, values, depth + 1)? else {
                    return Ok(None);
                };
                if tag == b'|' {
                    // An attribute annotates the value that follows it: both are one reply.
                    value_end(buf, end, depth + 1)
                } else {
                    Ok(Some(end))
                }
            }
        },
    }
}

/// Finds the end of `count` consecutive values starting at `position`.
pub fn values_end(
    buf: &[u8],
    mut position: usize,
    count: usize,
    depth: u32,
) -> Result<Option<usize>, ParseError> {
    for _ in 0..count {
        match value_end(buf, position, depth)? {
            Some(end) => position = end,
            None => return Ok(None),
        }
    }
    Ok(Some(position))
}

/// RESP3 streamed string: `;{len}\r\n{data}\r\n` parts until `;0\r\n`.
fn streamed_string_end(buf: &[u8], mut position: usize) -> Result<Option<usize>, ParseError> {
    loop {
        match buf.get(position) {
            None => return Ok(None),
            Some(b';') => {}
            Some(_) => return Err(malformed("streamed string part without ';'")),
        }
        let Some((line, after)) = read_line(buf, position + 1)? else {
            return Ok(None);
        };
        match bulk_length(b';', line)? {
            Some(0) => return Ok(Some(after)),
            Some(length) => match bulk_end(buf, after, length)? {
                Some(end) => position = end,
                None => return Ok(None),
            },
            None => return Err(malformed("invalid streamed string part")),
        }
    }
}

/// RESP3 streamed aggregate: values until the `.\r\n` end marker.
fn streamed_aggregate_end(
    buf: &[u8],
    mut position: usize,
    depth: u32,
) -> Result<Option<usize>, ParseError> {
    for _ in 0..MAX_ELEMENTS {
        if buf.get(position) == Some(&b'.') {
            return match read_line(buf, position + 1)? {
                Some((b"", after)) => Ok(Some(after)),
                Some(_) => Err(malformed("invalid end marker")),
                None => Ok(None),
            };
        }
        match value_end(buf, position, depth + 1)? {
            Some(end) => position = end,
            None => return Ok(None),
        }
    }
    Err(malformed("streamed aggregate too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(bytes: &[u8]) -> Result<Option<usize>, ParseError> {
        value_end(bytes, 0, 0)
    }

    #[test]
    fn resp3_types_end_where_expected() {
        let values: [&[u8]; 18] = [
            b"+OK\r\n",
            b"-ERR unknown command 'FOO'\r\n",
            b":1000\r\n",
            b"$5\r\nhello\r\n",
            b"$-1\r\n",
            b"$0\r\n\r\n",
            b"*2\r\n$3\r\nfoo\r\n:1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b",3.14\r\n",
            b",-inf\r\n",
            b"#t\r\n",
            b"(3492890328409238509324850943850943825024385\r\n",
            b"!21\r\nSYNTAX invalid syntax\r\n",
            b"=15\r\ntxt:Some string\r\n",
            b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
            b"~2\r\n+a\r\n+b\r\n",
            b">3\r\n+message\r\n+channel\r\n$5\r\nhello\r\n",
        ];
        for value in values {
            let mut with_tail = value.to_vec();
            with_tail.extend_from_slice(b"+NEXT\r\n");
            assert_eq!(end(&with_tail), Ok(Some(value.len())), "{value:?}");
            for cut in 0..value.len() {
                assert_eq!(end(&value[..cut]), Ok(None), "{value:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn attributes_and_streamed_values() {
        let attributed = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n";
        assert_eq!(end(attributed), Ok(Some(attributed.len())));
        let streamed = b"$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;0\r\n";
        assert_eq!(end(streamed), Ok(Some(streamed.len())));
        let aggregate = b"*?\r\n:1\r\n$1\r\nx\r\n.\r\n";
        assert_eq!(end(aggregate), Ok(Some(aggregate.len())));
    }

    #[test]
    fn garbage_fails_fast() {
        assert!(end(b"\x16\x03\x01\x02\x00").is_err());
        assert!(end(b"$abc\r\n").is_err());
        assert!(end(b"$3\r\nabcde\r\n").is_err());
        assert!(end(b"*99999999999\r\n").is_err());
        assert!(end(b"+OK\rX").is_err());
        assert!(end(b"+OK\n").is_err());
        assert!(end(b"#x\r\n").is_err());
        assert!(end(&b"*1\r\n".repeat(40)).is_err());
    }
}
