//! ClickHouse's compressed-block framing for request bodies sent with `decompress=1`.
//!
//! Each block is a 16-byte checksum followed by a 9-byte header and the compressed bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 16 | CityHash128 (v1.0.2) of everything after it in the block: its two 64-bit words, each little-endian |
//! | 1 | method: `0x82` LZ4 block, `0x90` ZSTD |
//! | 4 | compressed size, little-endian, *including* this 9-byte header |
//! | 4 | uncompressed size, little-endian |
//! | n | the compressed payload |
//!
//! ClickHouse decompresses block by block, so the input is cut into blocks of at most
//! [`MAX_BLOCK_SIZE`] uncompressed bytes: the server never has to hold more than one block's
//! buffers per request, and a single block never gets near the `u32` size fields.
//! ClickHouse pins CityHash at v1.0.2, which later CityHash releases changed; `cityhash-rs`
//! implements exactly that version (it is what the official Rust client uses).

use serde::Deserialize;
use std::fmt;

/// Largest uncompressed size of one block: ClickHouse's own writers use 1 MiB.
pub const MAX_BLOCK_SIZE: usize = 1 << 20;

const CHECKSUM_SIZE: usize = 16;
const HEADER_SIZE: usize = 9;
const METHOD_LZ4: u8 = 0x82;
const METHOD_ZSTD: u8 = 0x90;

/// ZSTD level for request bodies: ClickHouse's own default for network compression
/// (`network_zstd_compression_level`), which favours speed over the last few percent of size.
const ZSTD_LEVEL: i32 = 1;

/// `compress`: how request bodies travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Compression {
    /// LZ4 blocks: cheap on both ends, about half the bytes of raw RowBinary.
    #[default]
    Lz4,
    /// ZSTD blocks: fewer bytes for more collector CPU.
    Zstd,
    /// The RowBinary body as is.
    None,
}

impl TryFrom<String> for Compression {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            // `true` is the clickhouse-go DSN spelling of "compress with the default", LZ4.
            "lz4" | "true" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            "none" | "false" | "" => Ok(Compression::None),
            "gzip" | "deflate" | "br" => Err(format!(
                "compress: \"{name}\" is not supported: ClickHouse's block framing carries lz4 or \
                 zstd; choose lz4 (default), zstd or none"
            )),
            _ => Err(format!(
                "compress: unknown method \"{name}\"; choose lz4 (default), zstd or none"
            )),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        })
    }
}

/// Why a body could not be compressed.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("zstd compression failed: {0}")]
    Zstd(#[source] std::io::Error),
    #[error("a compressed block of {0} bytes does not fit the 32-bit size field")]
    TooLarge(usize),
}

impl Compression {
    /// Frames `body` in compressed blocks; `None` returns `None` because the body goes as is.
    pub fn frame(self, body: &[u8]) -> Result<Option<Vec<u8>>, CompressError> {
        let method = match self {
            Compression::None => return Ok(None),
            Compression::Lz4 => METHOD_LZ4,
            Compression::Zstd => METHOD_ZSTD,
        };
        // LZ4's worst case grows incompressible input by under 0.5 %; start from the raw size.
        let mut framed = Vec::with_capacity(body.len() / 2 + CHECKSUM_SIZE + HEADER_SIZE);
        for block in body.chunks(MAX_BLOCK_SIZE) {
            let compressed = match method {
                METHOD_LZ4 => lz4_flex::block::compress(block),
                _ => zstd::bulk::compress(block, ZSTD_LEVEL).map_err(CompressError::Zstd)?,
            };
            push_block(&mut framed, method, block.len(), &compressed)?;
        }
        Ok(Some(framed))
    }
}

/// Appends one framed block: checksum, header, payload.
fn push_block(
    out: &mut Vec<u8>,
    method: u8,
    uncompressed: usize,
    compressed: &[u8],
) -> Result<(), CompressError> {
    let total = HEADER_SIZE + compressed.len();
    let total_u32 = u32::try_from(total).map_err(|_| CompressError::TooLarge(total))?;
    let uncompressed_u32 =
        u32::try_from(uncompressed).map_err(|_| CompressError::TooLarge(uncompressed))?;
    let start = out.len();
    out.extend_from_slice(&[0; CHECKSUM_SIZE]);
    out.push(method);
    out.extend_from_slice(&total_u32.to_le_bytes());
    out.extend_from_slice(&uncompressed_u32.to_le_bytes());
    out.extend_from_slice(compressed);
    let checksum = checksum(&out[start + CHECKSUM_SIZE..]);
    out[start..start + CHECKSUM_SIZE].copy_from_slice(&checksum);
    Ok(())
}

/// The block checksum: CityHash128 v1.0.2 as ClickHouse writes it, the hash's first 64-bit word
/// and then its second, each little-endian. `cityhash-rs` returns the first word in the high
/// half of its `u128`.
fn checksum(block: &[u8]) -> [u8; CHECKSUM_SIZE] {
    let hash = cityhash_rs::cityhash_102_128(block);
    let mut wire = [0; CHECKSUM_SIZE];
    wire[..8].copy_from_slice(&((hash >> 64) as u64).to_le_bytes());
    wire[8..].copy_from_slice(&(hash as u64).to_le_bytes());
    wire
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes framed blocks the way the server does, checking every checksum and size.
    fn unframe(mut framed: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        while !framed.is_empty() {
            let (sum, rest) = framed.split_at(CHECKSUM_SIZE);
            let total = u32::from_le_bytes(rest[1..5].try_into().unwrap()) as usize;
            let uncompressed = u32::from_le_bytes(rest[5..9].try_into().unwrap()) as usize;
            let (block, next) = rest.split_at(total);
            assert_eq!(sum, checksum(block), "checksum mismatch");
            assert!(uncompressed <= MAX_BLOCK_SIZE);
            let payload = &block[HEADER_SIZE..];
            let decoded = match block[0] {
                METHOD_LZ4 => lz4_flex::block::decompress(payload, uncompressed).unwrap(),
                METHOD_ZSTD => zstd::bulk::decompress(payload, uncompressed).unwrap(),
                other => panic!("unexpected method {other:#x}"),
            };
            assert_eq!(decoded.len(), uncompressed);
            body.extend_from_slice(&decoded);
            framed = next;
        }
        body
    }

    /// Compressible but not trivial: repeated structure with a changing counter, like rows.
    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ ((i / 4096) as u8))
            .collect()
    }

    #[test]
    fn cityhash_matches_clickhouse_v1_0_2() {
        // Reference values from the `clickhouse-cityhash` Python package (ClickHouse's CityHash
        // v1.0.2 bindings): CityHash128(data) as an integer, high half first.
        let vectors: [(&[u8], u128); 3] = [
            (b"", 0x3df09dfc64c09a2b3cb540c392e51e29),
            (b"abc", 0x900ff195577748fe13a9176355b20d7e),
            (
                b"ClickHouse compressed block checksum over more than sixty-four bytes of input.",
                0xfc518b857c2f4306c9ceeda3ad7a7187,
            ),
        ];
        for (data, expected) in vectors {
            assert_eq!(
                cityhash_rs::cityhash_102_128(data),
                expected,
                "CityHash128 of {:?}",
                String::from_utf8_lossy(data)
            );
        }
        // On the wire the hash's first word (the high half of the integer) comes first.
        let wire = checksum(b"abc");
        assert_eq!(wire[..8], 0x900ff195577748fe_u64.to_le_bytes());
        assert_eq!(wire[8..], 0x13a9176355b20d7e_u64.to_le_bytes());
    }

    #[test]
    fn lz4_frame_matches_a_block_clickhouse_accepts() {
        // A 23-byte RowBinary body and its LZ4 block as ClickHouse's own framing writes it (the
        // fixture of the official Rust client's compression tests).
        let body = [
            1u8, 0, 2, 255, 255, 255, 255, 0, 1, 1, 1, 115, 6, 83, 116, 114, 105, 110, 103, 3, 97,
            98, 99,
        ];
        let expected = [
            245u8, 5, 222, 235, 225, 158, 59, 108, 225, 31, 65, 215, 66, 66, 36, 92, 130, 34, 0, 0,
            0, 23, 0, 0, 0, 240, 8, 1, 0, 2, 255, 255, 255, 255, 0, 1, 1, 1, 115, 6, 83, 116, 114,
            105, 110, 103, 3, 97, 98, 99,
        ];
        assert_eq!(Compression::Lz4.frame(&body).unwrap().unwrap(), expected);
    }

    #[test]
    fn lz4_and_zstd_frames_round_trip_across_blocks() {
        let body = sample(2 * MAX_BLOCK_SIZE + 12_345);
        for method in [Compression::Lz4, Compression::Zstd] {
            let framed = method.frame(&body).unwrap().unwrap();
            assert!(framed.len() < body.len() / 2, "{method} did not compress");
            assert_eq!(unframe(&framed), body, "{method}");
            let expected_method = if method == Compression::Lz4 {
                METHOD_LZ4
            } else {
                METHOD_ZSTD
            };
            assert_eq!(framed[CHECKSUM_SIZE], expected_method);
        }
    }

    #[test]
    fn blocks_are_cut_at_one_mebibyte() {
        let body = sample(MAX_BLOCK_SIZE + 1);
        let framed = Compression::Lz4.frame(&body).unwrap().unwrap();
        let first_total =
            u32::from_le_bytes(framed[17..21].try_into().unwrap()) as usize + CHECKSUM_SIZE;
        let first_raw = u32::from_le_bytes(framed[21..25].try_into().unwrap()) as usize;
        assert_eq!(first_raw, MAX_BLOCK_SIZE);
        let second_raw = u32::from_le_bytes(
            framed[first_total + 21..first_total + 25]
                .try_into()
                .unwrap(),
        );
        assert_eq!(second_raw, 1);
    }

    #[test]
    fn a_corrupted_block_fails_its_checksum() {
        let mut framed = Compression::Lz4.frame(&sample(1000)).unwrap().unwrap();
        let last = framed.len() - 1;
        framed[last] ^= 0xff;
        let block = &framed[CHECKSUM_SIZE..];
        assert_ne!(framed[..CHECKSUM_SIZE], checksum(block));
    }

    #[test]
    fn none_and_empty_bodies() {
        assert_eq!(Compression::None.frame(b"rows").unwrap(), None);
        assert_eq!(Compression::Lz4.frame(b"").unwrap(), Some(Vec::new()));
    }

    #[test]
    fn names() {
        for (name, method) in [
            ("lz4", Compression::Lz4),
            ("LZ4", Compression::Lz4),
            ("true", Compression::Lz4),
            ("zstd", Compression::Zstd),
            ("none", Compression::None),
            ("false", Compression::None),
        ] {
            assert_eq!(Compression::try_from(name.to_string()), Ok(method));
        }
        let gzip = Compression::try_from("gzip".to_string()).unwrap_err();
        assert!(gzip.contains("not supported"), "{gzip}");
        let bogus = Compression::try_from("snappy".to_string()).unwrap_err();
        assert!(bogus.contains("unknown method \"snappy\""), "{bogus}");
    }
}
