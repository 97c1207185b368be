//! SkyWalking ids as OTLP ids: one fixed mapping, shared by every component that meets them (the
//! `skywalking` receiver converting segments, the eBPF receiver reading `sw8` headers), so spans
//! from either source land in the same traces with the same parents.
//!
//! - A trace or segment id of 32 hex digits (Python, Node) or a dashed UUID (nginx-lua, Envoy,
//!   browsers) is those 16 bytes.
//! - Any other id (Java's `{process uuid}.{thread}.{time×10000+seq}`) is the first 16 bytes of
//!   the SHA-256 of the whole id. Its leading 32 hex digits alone name the JVM, not the trace or
//!   segment, so taking only them would merge every trace of one process.
//! - SkyWalking names a span by (segment id, span index). Its 8-byte OTLP id is the segment's
//!   16 bytes folded in half (`b[i] ^ b[i + 8]`) with the big-endian span index XORed into the
//!   low four bytes.
//!
//! An all-zero result is invalid in OTLP and comes back as `None`.

use ring::digest::{SHA256, digest};

/// The 16-byte OTLP id of a SkyWalking trace or segment id.
pub fn id_bytes(id: &str) -> Option<[u8; 16]> {
    let bytes = hex_id(id).unwrap_or_else(|| {
        let mut hashed = [0u8; 16];
        hashed.copy_from_slice(&digest(&SHA256, id.as_bytes()).as_ref()[..16]);
        hashed
    });
    non_zero(bytes)
}

/// The 8-byte OTLP span id of span `span_index` of segment `segment_id`.
pub fn span_id(segment_id: &str, span_index: i32) -> Option<[u8; 8]> {
    let segment = id_bytes(segment_id)?;
    let mut span = [0u8; 8];
    for (index, byte) in span.iter_mut().enumerate() {
        *byte = segment[index] ^ segment[index + 8];
    }
    for (byte, index_byte) in span[4..].iter_mut().zip(span_index.to_be_bytes()) {
        *byte ^= index_byte;
    }
    non_zero(span)
}

/// 32 hex digits, or a UUID with its dashes in the usual places, as 16 bytes.
fn hex_id(id: &str) -> Option<[u8; 16]> {
    let dashed = id.len() == 36
        && id
            .char_indices()
            .all(|(at, c)| (c == '-') == matches!(at, 8 | 13 | 18 | 23));
    if id.len() != 32 && !dashed {
        return None;
    }
    let mut bytes = [0u8; 16];
    let mut digits = id.chars().filter(|c| *c != '-');
    for byte in &mut bytes {
        let high = digits.next()?.to_digit(16)?;
        let low = digits.next()?.to_digit(16)?;
        *byte = (high << 4 | low) as u8;
    }
    Some(bytes)
}

fn non_zero<const N: usize>(id: [u8; N]) -> Option<[u8; N]> {
    id.iter().any(|byte| *byte != 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value_text::hex;

    #[test]
    fn hex_and_uuid_ids_are_their_bytes() {
        let python = "8c81fc30e62211f19f0702fc00000001";
        assert_eq!(hex(&id_bytes(python).unwrap()), python);
        let uuid = "6f1e62c2-7cd4-4bd2-8d2b-3a0f4a77b6e1";
        assert_eq!(
            hex(&id_bytes(uuid).unwrap()),
            "6f1e62c27cd44bd28d2b3a0f4a77b6e1"
        );
    }

    #[test]
    fn java_ids_of_one_process_stay_distinct() {
        let first = id_bytes("56a5e1c519ae4c76a2b8b11d92cead7f.12.16563474296430001").unwrap();
        let second = id_bytes("56a5e1c519ae4c76a2b8b11d92cead7f.12.16563474296430002").unwrap();
        assert_ne!(first, second);
        assert_eq!(
            first,
            id_bytes("56a5e1c519ae4c76a2b8b11d92cead7f.12.16563474296430001").unwrap(),
            "the mapping is fixed"
        );
    }

    #[test]
    fn span_ids_fold_the_segment_and_mix_in_the_index() {
        let segment = "8c81f88ee62211f19f0702fc00000001";
        // 8c81f88e e62211f1 ^ 9f0702fc 00000001 = 1386fa72 e62211f0; index 1 flips the low bit.
        assert_eq!(hex(&span_id(segment, 0).unwrap()), "1386fa72e62211f0");
        assert_eq!(hex(&span_id(segment, 1).unwrap()), "1386fa72e62211f1");
        assert_eq!(hex(&span_id(segment, -1).unwrap()), "1386fa7219ddee0f");
    }

    #[test]
    fn zero_ids_are_invalid() {
        assert_eq!(id_bytes("00000000000000000000000000000000"), None);
        assert_eq!(span_id("0123456789abcdef0123456789abcdef", 0), None);
    }

    #[test]
    fn malformed_hex_falls_back_to_hashing() {
        assert!(id_bytes("zz81fc30e62211f19f0702fc00000001").is_some());
        assert!(id_bytes("short").is_some());
    }
}
