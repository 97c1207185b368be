//! Request bodies: reading them under a size limit and undoing `Content-Encoding`, also under
//! that limit.
//!
//! The limit applies to the decompressed size too (the OTLP spec requires it), and decoders are
//! read in fixed chunks into a buffer whose capacity never exceeds the limit, so a decompression
//! bomb costs at most `limit` bytes of memory before it is answered with 413.
//!
//! An unknown `Content-Encoding` is answered with 400 `unsupported Content-Encoding: …`, as
//! otelcol's `confighttp` does, rather than 415: clients written against otelcol expect it, and
//! 415 is reserved here for an unsupported `Content-Type`.

use axum::body::Body;
use bytes::Bytes;
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::io::Read;

/// The stream identifier every framed-snappy stream starts with.
const SNAPPY_FRAMED_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decoders are drained in chunks of this size.
const CHUNK: usize = 64 * 1024;

/// A `Content-Encoding` a server can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Zstd,
    /// zlib-wrapped deflate (RFC 1950).
    Zlib,
    /// HTTP `deflate`: zlib-wrapped by the RFC, but some clients send raw deflate (RFC 1951), so
    /// the wrapper is detected.
    Deflate,
    /// Snappy block format, or the framed format when the body starts with its stream identifier.
    Snappy,
    SnappyFramed,
    /// The LZ4 frame format.
    Lz4,
}

impl ContentEncoding {
    /// Parses a `Content-Encoding` value (case-insensitive; empty and `identity` mean none).
    pub fn from_header(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => ContentEncoding::Identity,
            "gzip" | "x-gzip" => ContentEncoding::Gzip,
            "zstd" => ContentEncoding::Zstd,
            "zlib" => ContentEncoding::Zlib,
            "deflate" => ContentEncoding::Deflate,
            "snappy" => ContentEncoding::Snappy,
            "x-snappy-framed" => ContentEncoding::SnappyFramed,
            "lz4" => ContentEncoding::Lz4,
            _ => return None,
        })
    }

    /// The name used in errors and in otelcol's `compression_algorithms`.
    pub fn name(self) -> &'static str {
        match self {
            ContentEncoding::Identity => "",
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Zstd => "zstd",
            ContentEncoding::Zlib => "zlib",
            ContentEncoding::Deflate => "deflate",
            ContentEncoding::Snappy => "snappy",
            ContentEncoding::SnappyFramed => "x-snappy-framed",
            ContentEncoding::Lz4 => "lz4",
        }
    }
}

/// The encodings one server accepts: otelcol's `compression_algorithms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedEncodings(Vec<ContentEncoding>);

impl Default for AcceptedEncodings {
    /// otelcol's default list: everything it can decode.
    fn default() -> Self {
        AcceptedEncodings(vec![
            ContentEncoding::Gzip,
            ContentEncoding::Zstd,
            ContentEncoding::Zlib,
            ContentEncoding::Snappy,
            ContentEncoding::SnappyFramed,
            ContentEncoding::Deflate,
            ContentEncoding::Lz4,
        ])
    }
}

impl AcceptedEncodings {
    /// From `compression_algorithms` names. Uncompressed bodies are always accepted (the OTLP spec
    /// requires it), and `snappy` covers both snappy formats as otelcol's auto-detection does.
    pub fn from_names(names: &[String]) -> Result<Self, String> {
        let mut accepted = Vec::with_capacity(names.len() + 1);
        for name in names {
            let encoding = ContentEncoding::from_header(name)
                .ok_or_else(|| format!("unsupported compression algorithm {name:?}"))?;
            accepted.push(encoding);
            if encoding == ContentEncoding::Snappy {
                accepted.push(ContentEncoding::SnappyFramed);
            }
        }
        Ok(AcceptedEncodings(accepted))
    }

    /// The encoding of a request with this `Content-Encoding` header, if accepted.
    pub fn negotiate(&self, header: Option<&HeaderValue>) -> Result<ContentEncoding, BodyError> {
        let Some(header) = header else {
            return Ok(ContentEncoding::Identity);
        };
        let raw = header.to_str().unwrap_or("");
        match ContentEncoding::from_header(raw) {
            Some(ContentEncoding::Identity) => Ok(ContentEncoding::Identity),
            Some(encoding) if self.0.contains(&encoding) => Ok(encoding),
            _ => Err(BodyError::UnsupportedEncoding(
                String::from_utf8_lossy(header.as_bytes()).into_owned(),
            )),
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("unsupported Content-Encoding: {0}")]
    UnsupportedEncoding(String),
    #[error("failed to decompress {encoding} request body: {message}")]
    Corrupt {
        encoding: &'static str,
        message: String,
    },
    #[error("failed to read request body: {0}")]
    Read(String),
}

impl BodyError {
    /// 413 for size (not retryable, per the OTLP spec), 400 for everything else.
    pub fn http_status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Collects a request body, failing as soon as more than `limit` bytes have arrived.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(error) => Err(BodyError::Read(error.to_string())),
    }
}

/// Undoes `encoding`, failing with [`BodyError::TooLarge`] once the output would pass `limit`.
pub fn decompress(
    encoding: ContentEncoding,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let name = encoding.name();
    match encoding {
        ContentEncoding::Identity if data.len() > limit => Err(BodyError::TooLarge { limit }),
        ContentEncoding::Identity => Ok(data),
        ContentEncoding::Gzip => drain(MultiGzDecoder::new(&data[..]), limit, name),
        ContentEncoding::Zlib => drain(ZlibDecoder::new(&data[..]), limit, name),
        ContentEncoding::Deflate if has_zlib_header(&data) => {
            drain(ZlibDecoder::new(&data[..]), limit, name)
        }
        ContentEncoding::Deflate => drain(DeflateDecoder::new(&data[..]), limit, name),
        ContentEncoding::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(&data[..]).map_err(|e| corrupt(name, e))?;
            drain(decoder, limit, name)
        }
        ContentEncoding::Snappy | ContentEncoding::SnappyFramed
            if data.starts_with(SNAPPY_FRAMED_MAGIC) =>
        {
            drain(snap::read::FrameDecoder::new(&data[..]), limit, name)
        }
        ContentEncoding::SnappyFramed => Err(BodyError::Corrupt {
            encoding: name,
            message: "missing snappy stream identifier".into(),
        }),
        ContentEncoding::Snappy => snappy_block(&data, limit),
        ContentEncoding::Lz4 => drain(lz4_flex::frame::FrameDecoder::new(&data[..]), limit, name),
    }
}

/// The snappy block format states its decompressed length up front, so an oversized body is
/// refused before anything is allocated.
fn snappy_block(data: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    let length = snap::raw::decompress_len(data).map_err(|e| corrupt("snappy", e))?;
    if length > limit {
        return Err(BodyError::TooLarge { limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map(Bytes::from)
        .map_err(|e| corrupt("snappy", e))
}

/// A zlib stream starts with a CMF byte naming deflate and a check value making CMF·256+FLG a
/// multiple of 31; raw deflate data almost never does.
fn has_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// Reads `reader` to the end into a buffer that never grows past `limit`.
fn drain(mut reader: impl Read, limit: usize, encoding: &'static str) -> Result<Bytes, BodyError> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK.min(limit.saturating_add(1))];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => return Ok(Bytes::from(out)),
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(encoding, e)),
        };
        let needed = out.len() + read;
        if needed > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if out.capacity() < needed {
            let target = (out.capacity() * 2).max(needed).min(limit);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

fn corrupt(encoding: &'static str, error: impl std::fmt::Display) -> BodyError {
    BodyError::Corrupt {
        encoding,
        message: error.to_string(),
    }
}
