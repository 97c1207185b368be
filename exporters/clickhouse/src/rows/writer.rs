//! A byte buffer that appends values in ClickHouse's RowBinary layout.
//!
//! RowBinary has no per-row or per-column framing: values follow each other in the column order
//! named by the INSERT, so writing is a sequence of appends to one growing buffer. Everything is
//! little-endian; strings and arrays carry an unsigned LEB128 length in front.

/// Lowercase hex digits, indexed by nibble.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends RowBinary-encoded values to one buffer.
#[derive(Debug, Default, Clone)]
pub struct RowBinaryWriter {
    buf: Vec<u8>,
}

impl RowBinaryWriter {
    /// A writer whose buffer can take `capacity` bytes before it reallocates; callers size it
    /// from the row count so a batch is written with few or no reallocations.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Empties the buffer, keeping its capacity for the next use.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends bytes that are already RowBinary (a pre-encoded run of columns shared by many rows).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Unsigned LEB128: the length prefix of strings, arrays and maps.
    pub fn var_uint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    pub fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i32(&mut self, value: i32) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn f64(&mut self, value: f64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// `Bool` is one byte, 0 or 1.
    pub fn bool(&mut self, value: bool) {
        self.buf.push(u8::from(value));
    }

    /// `DateTime64(9)`: signed nanoseconds since the epoch. OTLP times are unsigned; anything past
    /// `i64::MAX` (the year 2262) is clamped rather than wrapped into the past.
    pub fn datetime64_nanos(&mut self, unix_nanos: u64) {
        self.i64(i64::try_from(unix_nanos).unwrap_or(i64::MAX));
    }

    /// `String` and `LowCardinality(String)`: length, then the bytes.
    pub fn string(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    /// A `String` column holding arbitrary bytes.
    pub fn bytes(&mut self, value: &[u8]) {
        self.var_uint(value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    /// A trace or span id as a `String`: lowercase hex, or the empty string when the id is empty
    /// or all zeros (OTLP's "no id"), which is how the contrib schema stores a missing parent.
    pub fn hex_id(&mut self, id: &[u8]) {
        if id.iter().all(|byte| *byte == 0) {
            self.var_uint(0);
            return;
        }
        self.var_uint(2 * id.len() as u64);
        let start = self.buf.len();
        self.buf.resize(start + 2 * id.len(), 0);
        for (pair, byte) in self.buf[start..].chunks_exact_mut(2).zip(id) {
            pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
            pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_uint_is_little_endian_base_128() {
        let mut w = RowBinaryWriter::default();
        w.var_uint(0);
        w.var_uint(127);
        w.var_uint(128);
        w.var_uint(300);
        w.var_uint(u64::MAX);
        assert_eq!(
            w.as_bytes(),
            [
                0x00, 0x7f, 0x80, 0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, 0x01
            ]
        );
    }

    #[test]
    fn fixed_width_values_are_little_endian() {
        let mut w = RowBinaryWriter::default();
        w.u32(0x0304_0506);
        w.i32(-2);
        w.bool(true);
        w.f64(1.5);
        let mut expected = vec![0x06, 0x05, 0x04, 0x03, 0xfe, 0xff, 0xff, 0xff, 1];
        expected.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(w.as_bytes(), expected);
    }

    #[test]
    fn datetime64_clamps_instead_of_wrapping() {
        let mut w = RowBinaryWriter::default();
        w.datetime64_nanos(u64::MAX);
        w.datetime64_nanos(1_700_000_000_123_456_789);
        assert_eq!(&w.as_bytes()[..8], i64::MAX.to_le_bytes());
        assert_eq!(
            &w.as_bytes()[8..],
            1_700_000_000_123_456_789i64.to_le_bytes()
        );
    }

    #[test]
    fn strings_carry_their_length() {
        let mut w = RowBinaryWriter::default();
        w.string("héllo");
        w.string("");
        assert_eq!(w.as_bytes(), b"\x06h\xc3\xa9llo\x00");
    }

    #[test]
    fn ids_are_lowercase_hex_and_zero_ids_are_empty() {
        let mut w = RowBinaryWriter::default();
        w.hex_id(&[0xab, 0x01, 0xff, 0x00]);
        w.hex_id(&[0; 8]);
        w.hex_id(&[]);
        assert_eq!(w.as_bytes(), b"\x08ab01ff00\x00\x00");
    }
}
