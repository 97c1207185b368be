"""Request and response body encodings of ClickHouse's HTTP interface.

Two layers, applied in ClickHouse's order: the HTTP `Content-Encoding` (gzip, zstd, ...) is
removed first, then, with `decompress=1`, ClickHouse's own compressed-block framing. Each block
of that framing is:

    16 bytes  CityHash128 (CityHash 1.0.2) of the 9-byte header and the payload
     1 byte   method: 0x82 LZ4, 0x90 ZSTD, 0x02 none
     4 bytes  size of header + payload, u32 little endian
     4 bytes  size of the decompressed data, u32 little endian
     payload

`compress=1` asks for the response in the same framing (LZ4 blocks of up to 1 MiB).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zlib

import lz4.block
import lz4.frame
import zstandard
from clickhouse_cityhash.cityhash import CityHash128

from errors import (
    CANNOT_DECOMPRESS,
    CANNOT_READ_ALL_DATA,
    CHECKSUM_DOESNT_MATCH,
    NOT_IMPLEMENTED,
    TOO_LARGE_SIZE_COMPRESSED,
    UNKNOWN_COMPRESSION_METHOD,
    ClickHouseError,
)

METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_ZSTD = 0x90

CHECKSUM_SIZE = 16
HEADER_SIZE = 9
# ClickHouse refuses blocks claiming more than 1 GiB, compressed or not, as corrupted.
MAX_BLOCK_SIZE = 1 << 30
# Response blocks are as large as ClickHouse's default buffer.
RESPONSE_BLOCK_SIZE = 1 << 20

_HEADER = struct.Struct("<BII")
_HALVES = struct.Struct("<QQ")
_LOW_64 = (1 << 64) - 1


def checksum(block: bytes | memoryview) -> bytes:
    """The 16 checksum bytes as they precede a block on the wire.

    `CityHash128` returns the hash as one integer whose upper 64 bits are the hash's first word;
    the wire carries the first word, then the second, each little endian.
    """
    value = CityHash128(bytes(block))
    return _HALVES.pack(value >> 64, value & _LOW_64)


def decode_blocks(body: bytes) -> bytes:
    """The data carried by a body in compressed-block framing, every checksum verified."""
    view = memoryview(body)
    out = bytearray()
    offset = 0
    index = 0
    while offset < len(view):
        start = offset
        if len(view) - offset < CHECKSUM_SIZE + HEADER_SIZE:
            raise ClickHouseError.own(
                CANNOT_READ_ALL_DATA,
                f"Cannot read all data. Bytes read: {len(view) - offset}. Bytes expected: "
                f"{CHECKSUM_SIZE + HEADER_SIZE}: the header of compressed block #{index} "
                f"at byte {start} is cut off",
            )
        expected = bytes(view[offset : offset + CHECKSUM_SIZE])
        offset += CHECKSUM_SIZE
        method, compressed_size, decompressed_size = _HEADER.unpack_from(view, offset)
        if compressed_size > MAX_BLOCK_SIZE or decompressed_size > MAX_BLOCK_SIZE:
            raise ClickHouseError.own(
                TOO_LARGE_SIZE_COMPRESSED,
                f"Too large size of compressed block #{index} at byte {start}: "
                f"{compressed_size} bytes compressed, {decompressed_size} decompressed; "
                "most likely corrupted data",
            )
        if compressed_size < HEADER_SIZE:
            raise ClickHouseError.own(
                CANNOT_DECOMPRESS,
                f"Compressed block #{index} at byte {start} claims {compressed_size} bytes, "
                f"less than its own {HEADER_SIZE}-byte header",
            )
        block = view[offset : offset + compressed_size]
        if len(block) < compressed_size:
            raise ClickHouseError.own(
                CANNOT_READ_ALL_DATA,
                f"Cannot read all data. Bytes read: {len(block)}. Bytes expected: {compressed_size}: "
                f"compressed block #{index} at byte {start} is cut off",
            )
        actual = checksum(block)
        if actual != expected:
            raise ClickHouseError.own(
                CHECKSUM_DOESNT_MATCH,
                f"Checksum doesn't match: corrupted data. Reference: {expected.hex()}. "
                f"Actual: {actual.hex()}. Size of compressed block: {compressed_size}. "
                f"Compressed block #{index} at byte {start}",
            )
        out += _decompress(method, block[HEADER_SIZE:], decompressed_size, index, start)
        offset += compressed_size
        index += 1
    return bytes(out)


def _decompress(method: int, payload: memoryview, size: int, index: int, start: int) -> bytes:
    where = f"compressed block #{index} at byte {start}"
    if method == METHOD_NONE:
        data = bytes(payload)
    elif method == METHOD_LZ4:
        try:
            data = lz4.block.decompress(payload, uncompressed_size=size)
        except lz4.block.LZ4BlockError as error:
            raise ClickHouseError.own(CANNOT_DECOMPRESS, f"Cannot decompress LZ4 {where}: {error}") from None
    elif method == METHOD_ZSTD:
        try:
            data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=size)
        except zstandard.ZstdError as error:
            raise ClickHouseError.own(CANNOT_DECOMPRESS, f"Cannot decompress ZSTD {where}: {error}") from None
    else:
        raise ClickHouseError.own(
            UNKNOWN_COMPRESSION_METHOD,
            f"Unknown compression method 0x{method:02x} in {where}; this server reads "
            "0x82 (LZ4), 0x90 (ZSTD) and 0x02 (none)",
        )
    if len(data) != size:
        raise ClickHouseError.own(
            CANNOT_DECOMPRESS,
            f"Cannot decompress {where}: header says {size} bytes, got {len(data)}",
        )
    return data


def encode_blocks(data: bytes) -> bytes:
    """`data` in LZ4 compressed-block framing, as `compress=1` asks for."""
    out = bytearray()
    for offset in range(0, len(data), RESPONSE_BLOCK_SIZE):
        chunk = data[offset : offset + RESPONSE_BLOCK_SIZE]
        payload = lz4.block.compress(chunk, store_size=False)
        block = _HEADER.pack(METHOD_LZ4, HEADER_SIZE + len(payload), len(chunk)) + payload
        out += checksum(block)
        out += block
    return bytes(out)


def _unzstd(body: bytes) -> bytes:
    """Zstandard frames, several in a row allowed, with or without a content size."""
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True)
    return reader.read()


# Content-Encoding values ClickHouse accepts for request bodies, with their aliases.
_CONTENT_DECODERS = {
    "gzip": gzip.decompress,
    "x-gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "zstd": _unzstd,
    "lz4": lz4.frame.decompress,
    "xz": lzma.decompress,
    "bz2": bz2.decompress,
}


def decode_content(body: bytes, encoding: str) -> bytes:
    """Removes the HTTP `Content-Encoding` of a request body."""
    name = encoding.strip().lower()
    if name in ("", "identity", "none"):
        return body
    decoder = _CONTENT_DECODERS.get(name)
    if decoder is None:
        supported = ", ".join(sorted(_CONTENT_DECODERS))
        raise ClickHouseError.own(
            NOT_IMPLEMENTED,
            f"Unknown Content-Encoding '{encoding}'; this server decodes {supported}",
        )
    try:
        return decoder(body)
    except Exception as error:  # each codec raises its own exception type on corrupt input
        raise ClickHouseError.own(
            CANNOT_DECOMPRESS, f"Cannot decode the {name} request body: {error}"
        ) from None
