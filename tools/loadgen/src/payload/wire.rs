//! Finds where ids and timestamps sit inside an encoded OTLP request.
//!
//! Every id (16- or 8-byte `bytes`) and every timestamp (`fixed64`) has a fixed width on the
//! wire, so a request can be encoded once and refreshed for each send by overwriting those
//! bytes in place. That keeps the generator from re-encoding (or even re-allocating) a
//! 100 KB message per request while it shares the cores with the collector under test.

use std::ops::Range;
use thiserror::Error;

/// An encoded message that does not follow the protobuf wire format.
///
/// The generator only walks bytes it has just encoded itself, so this error means a bug in
/// the payload builder, not bad input from outside.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("protobuf message truncated at byte {0}")]
    Truncated(usize),
    #[error("unsupported protobuf wire type {wire_type} at byte {offset}")]
    UnsupportedWireType { wire_type: u64, offset: usize },
    #[error("field {field} at byte {offset} has {actual} bytes, expected {expected}")]
    UnexpectedIdLength {
        field: u32,
        offset: usize,
        actual: usize,
        expected: usize,
    },
}

/// Which fields to descend into and which leaf fields to record.
///
/// `path[i]` lists the field numbers of nested messages to enter at depth `i` (more than one
/// when a message holds alternatives, such as a metric's `gauge` or `sum`). Once the path is
/// exhausted, `id_fields` (field number and expected length) and `fixed64_fields` are
/// recorded in the message reached.
pub(crate) struct FieldLayout<'a> {
    pub path: &'a [&'a [u32]],
    pub id_fields: &'a [(u32, usize)],
    pub fixed64_fields: &'a [u32],
}

/// Byte positions of the patchable fields, in encoding order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PatchOffsets {
    pub ids: Vec<Range<usize>>,
    pub fixed64: Vec<usize>,
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_FIXED32: u64 = 5;

/// Walks `encoded` and returns the offsets of every field named by `layout`.
pub(crate) fn locate(encoded: &[u8], layout: &FieldLayout<'_>) -> Result<PatchOffsets, WireError> {
    let mut offsets = PatchOffsets::default();
    walk(encoded, 0, encoded.len(), layout.path, layout, &mut offsets)?;
    Ok(offsets)
}

fn walk(
    buf: &[u8],
    mut pos: usize,
    end: usize,
    path: &[&[u32]],
    layout: &FieldLayout<'_>,
    out: &mut PatchOffsets,
) -> Result<(), WireError> {
    while pos < end {
        let (key, after_key) = read_varint(buf, pos, end)?;
        let field = (key >> 3) as u32;
        let wire_type = key & 0x7;
        pos = after_key;
        match wire_type {
            WIRE_VARINT => pos = read_varint(buf, pos, end)?.1,
            WIRE_FIXED64 => {
                let value_end = checked_end(pos, 8, end)?;
                if path.is_empty() && layout.fixed64_fields.contains(&field) {
                    out.fixed64.push(pos);
                }
                pos = value_end;
            }
            WIRE_FIXED32 => pos = checked_end(pos, 4, end)?,
            WIRE_LEN => {
                let (len, body_start) = read_varint(buf, pos, end)?;
                let body_end = checked_end(body_start, len as usize, end)?;
                match path.split_first() {
                    Some((here, deeper)) if here.contains(&field) => {
                        walk(buf, body_start, body_end, deeper, layout, out)?;
                    }
                    None => record_id(field, body_start, body_end, layout, out)?,
                    Some(_) => {}
                }
                pos = body_end;
            }
            other => {
                return Err(WireError::UnsupportedWireType {
                    wire_type: other,
                    offset: pos,
                });
            }
        }
    }
    Ok(())
}

fn record_id(
    field: u32,
    start: usize,
    end: usize,
    layout: &FieldLayout<'_>,
    out: &mut PatchOffsets,
) -> Result<(), WireError> {
    let Some(&(_, expected)) = layout.id_fields.iter().find(|(number, _)| *number == field) else {
        return Ok(());
    };
    if end - start != expected {
        return Err(WireError::UnexpectedIdLength {
            field,
            offset: start,
            actual: end - start,
            expected,
        });
    }
    out.ids.push(start..end);
    Ok(())
}

fn checked_end(start: usize, len: usize, end: usize) -> Result<usize, WireError> {
    start
        .checked_add(len)
        .filter(|value_end| *value_end <= end)
        .ok_or(WireError::Truncated(start))
}

fn read_varint(buf: &[u8], start: usize, end: usize) -> Result<(u64, usize), WireError> {
    let mut value = 0u64;
    for (index, pos) in (start..end).enumerate().take(10) {
        let byte = buf[pos];
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, pos + 1));
        }
    }
    Err(WireError::Truncated(start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// A two-level message shaped like `ScopeSpans { spans: [Span] }` for walking tests.
    #[derive(Clone, PartialEq, Message)]
    struct Outer {
        #[prost(uint32, tag = "1")]
        count: u32,
        #[prost(message, repeated, tag = "2")]
        inner: Vec<Inner>,
        #[prost(message, repeated, tag = "3")]
        ignored: Vec<Inner>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct Inner {
        #[prost(bytes = "vec", tag = "1")]
        id: Vec<u8>,
        #[prost(fixed64, tag = "2")]
        time: u64,
        #[prost(string, tag = "3")]
        name: String,
        #[prost(fixed32, tag = "4")]
        flags: u32,
    }

    fn inner(id_byte: u8, time: u64) -> Inner {
        Inner {
            id: vec![id_byte; 8],
            time,
            name: "n".repeat(200),
            flags: 7,
        }
    }

    const LAYOUT: FieldLayout<'static> = FieldLayout {
        path: &[&[2]],
        id_fields: &[(1, 8)],
        fixed64_fields: &[2],
    };

    #[test]
    fn finds_ids_and_timestamps_only_under_the_path() {
        let message = Outer {
            count: 300,
            inner: vec![inner(0xaa, 11), inner(0xbb, 22)],
            ignored: vec![inner(0xcc, 33)],
        };
        let encoded = message.encode_to_vec();
        let offsets = locate(&encoded, &LAYOUT).unwrap();

        let ids: Vec<&[u8]> = offsets.ids.iter().map(|r| &encoded[r.clone()]).collect();
        assert_eq!(ids, vec![&[0xaa; 8][..], &[0xbb; 8][..]]);
        let times: Vec<u64> = offsets
            .fixed64
            .iter()
            .map(|&at| u64::from_le_bytes(encoded[at..at + 8].try_into().unwrap()))
            .collect();
        assert_eq!(times, vec![11, 22]);
    }

    #[test]
    fn rejects_an_id_of_the_wrong_length() {
        let mut short = inner(1, 5);
        short.id.truncate(3);
        let encoded = Outer {
            count: 0,
            inner: vec![short],
            ignored: vec![],
        }
        .encode_to_vec();
        assert!(matches!(
            locate(&encoded, &LAYOUT),
            Err(WireError::UnexpectedIdLength {
                actual: 3,
                expected: 8,
                ..
            })
        ));
    }

    #[test]
    fn reports_truncation_instead_of_panicking() {
        // `count: 0` is not encoded, so every cut lands inside the nested message.
        let encoded = Outer {
            count: 0,
            inner: vec![inner(1, 5)],
            ignored: vec![],
        }
        .encode_to_vec();
        for cut in 1..encoded.len() {
            let result = locate(&encoded[..cut], &LAYOUT);
            assert!(
                matches!(result, Err(WireError::Truncated(_))),
                "cut at {cut}: {result:?}"
            );
        }
    }
}
