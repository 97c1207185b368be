//! Request body decompression and size limits.

use axum::body::Body;
use bytes::Bytes;
use cormorant_core::server::{
    AcceptedEncodings, BodyError, ContentEncoding, decompress, read_limited,
};
use http::{HeaderValue, StatusCode};
use std::io::Write;

const PAYLOAD: &[u8] = b"resource spans, scope spans, spans: the same bytes every time. ";

fn payload() -> Vec<u8> {
    PAYLOAD.repeat(200)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn snappy_framed(data: &[u8]) -> Vec<u8> {
    let mut encoder = snap::write::FrameEncoder::new(Vec::new());
    encoder.write_all(data).unwrap();
    encoder.into_inner().unwrap()
}

fn lz4(data: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn decode(header: &str, data: Vec<u8>, limit: usize) -> Result<Bytes, BodyError> {
    let encoding =
        AcceptedEncodings::default().negotiate(Some(&HeaderValue::from_str(header).unwrap()))?;
    decompress(encoding, Bytes::from(data), limit)
}

#[test]
fn every_supported_encoding_round_trips() {
    let original = payload();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("identity", original.clone()),
        ("gzip", gzip(&original)),
        ("x-gzip", gzip(&original)),
        ("GZIP", gzip(&original)),
        ("zstd", zstd::encode_all(&original[..], 3).unwrap()),
        ("zlib", zlib(&original)),
        ("deflate", zlib(&original)),
        ("deflate", raw_deflate(&original)),
        (
            "snappy",
            snap::raw::Encoder::new().compress_vec(&original).unwrap(),
        ),
        ("snappy", snappy_framed(&original)),
        ("x-snappy-framed", snappy_framed(&original)),
        ("lz4", lz4(&original)),
    ];
    for (header, encoded) in cases {
        let decoded = decode(header, encoded, 1 << 20).unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(decoded, original, "{header}");
    }
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    let mut two = gzip(b"first ");
    two.extend(gzip(b"second"));
    assert_eq!(decode("gzip", two, 1024).unwrap(), &b"first second"[..]);
}

#[test]
fn decompression_bombs_hit_the_limit() {
    let zeros = vec![0u8; 8 << 20];
    let limit = 1 << 20;
    let bombs: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", gzip(&zeros)),
        ("zstd", zstd::encode_all(&zeros[..], 3).unwrap()),
        ("deflate", zlib(&zeros)),
        (
            "snappy",
            snap::raw::Encoder::new().compress_vec(&zeros).unwrap(),
        ),
        ("x-snappy-framed", snappy_framed(&zeros)),
        ("lz4", lz4(&zeros)),
    ];
    for (header, bomb) in bombs {
        assert!(
            bomb.len() < limit,
            "{header} bomb must be small on the wire"
        );
        let error = decode(header, bomb, limit).unwrap_err();
        assert_eq!(error, BodyError::TooLarge { limit }, "{header}");
        assert_eq!(error.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let exact = decode("gzip", gzip(&zeros[..limit]), limit).unwrap();
    assert_eq!(exact.len(), limit);
}

#[test]
fn uncompressed_bodies_over_the_limit_are_too_large() {
    let error = decompress(ContentEncoding::Identity, Bytes::from(vec![1u8; 11]), 10).unwrap_err();
    assert_eq!(error, BodyError::TooLarge { limit: 10 });
}

#[test]
fn corrupt_data_is_a_bad_request_naming_the_encoding() {
    for header in ["gzip", "zstd", "zlib", "snappy", "x-snappy-framed", "lz4"] {
        let error = decode(header, b"definitely not compressed".to_vec(), 1024).unwrap_err();
        assert!(
            matches!(error, BodyError::Corrupt { .. }),
            "{header}: {error}"
        );
        assert_eq!(error.http_status(), StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains(header), "{error}");
    }
}

#[test]
fn unknown_or_disabled_encodings_are_refused() {
    let error = decode("br", payload(), 1024).unwrap_err();
    assert_eq!(error.to_string(), "unsupported Content-Encoding: br");
    assert_eq!(error.http_status(), StatusCode::BAD_REQUEST);

    let gzip_only = AcceptedEncodings::from_names(&["gzip".to_string()]).unwrap();
    let zstd = HeaderValue::from_static("zstd");
    assert!(matches!(
        gzip_only.negotiate(Some(&zstd)),
        Err(BodyError::UnsupportedEncoding(name)) if name == "zstd"
    ));
    assert_eq!(
        gzip_only.negotiate(None).unwrap(),
        ContentEncoding::Identity
    );
    let snappy_only = AcceptedEncodings::from_names(&["snappy".to_string()]).unwrap();
    let framed = HeaderValue::from_static("x-snappy-framed");
    assert_eq!(
        snappy_only.negotiate(Some(&framed)).unwrap(),
        ContentEncoding::SnappyFramed
    );
    assert!(
        AcceptedEncodings::from_names(&["brotli".to_string()])
            .unwrap_err()
            .contains("brotli")
    );
}

#[tokio::test]
async fn bodies_are_read_up_to_the_limit() {
    let body = read_limited(Body::from(vec![7u8; 10]), 10).await.unwrap();
    assert_eq!(body.len(), 10);
    let error = read_limited(Body::from(vec![7u8; 11]), 10)
        .await
        .unwrap_err();
    assert_eq!(error, BodyError::TooLarge { limit: 10 });
}
