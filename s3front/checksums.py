"""Checksums as S3 speaks them: ETags, Content-MD5 and the x-amz-checksum-* family.

S3 sends and stores every checksum as base64 of its raw bytes; a CRC's raw bytes are the
big-endian bytes of its integer value (4 for CRC32/CRC32C, 8 for CRC64NVME). Multipart objects
carry either a COMPOSITE checksum (the checksum of the concatenated raw part checksums,
suffixed "-N") or, for the CRCs, a FULL_OBJECT one (the CRC of the whole object, which the CRC
combine operation derives from the part CRCs without reading any data). The ETag of a
multipart object is md5(concat(raw part md5s))-N.

CRC32C and CRC64NVME come from awscrt (C, releases the GIL on large buffers, so hashing in a
worker thread really runs beside the event loop); the rest from hashlib/zlib.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from s3front.errors import BadDigest, InvalidDigest, InvalidRequest

# Raw digest size of each algorithm S3 accepts (the names S3 uses in x-amz-checksum-algorithm).
DIGEST_SIZE: Mapping[str, int] = {
    "CRC32": 4,
    "CRC32C": 4,
    "CRC64NVME": 8,
    "SHA1": 20,
    "SHA256": 32,
}
ALGORITHMS: tuple[str, ...] = tuple(DIGEST_SIZE)
# The CRCs can be combined across parts into a whole-object value (ChecksumType FULL_OBJECT).
CRC_ALGORITHMS: frozenset[str] = frozenset({"CRC32", "CRC32C", "CRC64NVME"})

FULL_OBJECT = "FULL_OBJECT"
COMPOSITE = "COMPOSITE"


def header_name(algorithm: str) -> str:
    """ "CRC32" -> "x-amz-checksum-crc32"."""
    return "x-amz-checksum-" + algorithm.lower()


_BY_HEADER: Mapping[str, str] = {header_name(a): a for a in ALGORITHMS}


def algorithm_of_header(name: str) -> str | None:
    """ "x-amz-checksum-crc32" (any case) -> "CRC32"; None for any other header."""
    return _BY_HEADER.get(name.lower())


def parse_algorithm(value: str) -> str:
    """Validate x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm (case-insensitive)."""
    alg = value.strip().upper()
    if alg not in DIGEST_SIZE:
        raise InvalidRequest(f"Checksum algorithm provided is unsupported: {value}")
    return alg


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC with the hashlib interface."""

    __slots__ = ("_fn", "_value", "_width")

    def __init__(self, fn: Callable[[bytes, int], int], width: int) -> None:
        self._fn = fn
        self._width = width
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        # awscrt wants a bytes-like object supporting the buffer protocol; all three do.
        self._value = self._fn(data, self._value)  # type: ignore[arg-type]

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _zlib_crc32(data: bytes, previous: int) -> int:
    return zlib.crc32(data, previous)


def new_hasher(algorithm: str) -> Hasher:
    """A streaming hasher for "MD5" or any of ALGORITHMS."""
    if algorithm == "MD5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    if algorithm == "CRC32":
        return _Crc(_zlib_crc32, 4)
    if algorithm in ("CRC32C", "CRC64NVME"):
        # Imported on first use: awscrt's native library is ~6 MiB of every worker's memory,
        # which a server whose clients never send these two CRCs does not need to pay.
        from awscrt import checksums as crt

        if algorithm == "CRC32C":
            return _Crc(crt.crc32c, 4)
        return _Crc(crt.crc64nvme, 8)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checksum(algorithm: str, data: bytes) -> str:
    """One-shot base64 checksum of `data`."""
    h = new_hasher(algorithm)
    h.update(data)
    return b64(h.digest())


def _b64decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def decode_checksum(algorithm: str, value: str) -> bytes:
    """The raw bytes of a client-sent checksum; InvalidRequest if it cannot be one (as AWS)."""
    raw = _b64decode(value)
    if raw is None or len(raw) != DIGEST_SIZE[algorithm]:
        raise InvalidRequest(f"Value for {header_name(algorithm)} header is invalid.")
    return raw


def verify_checksum(algorithm: str, expected: str, actual: str) -> None:
    """Compare a client-sent checksum (validated here) with the computed one (base64)."""
    if decode_checksum(algorithm, expected) != base64.b64decode(actual):
        raise BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")


def requested_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """The x-amz-checksum-<alg> values among request headers (lower-case names), validated."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        alg = algorithm_of_header(name)
        if alg is not None:
            decode_checksum(alg, value)
            found[alg] = value.strip()
    if len(found) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    return found


def decode_content_md5(value: str) -> bytes:
    """The 16 raw bytes of a Content-MD5 header; InvalidDigest if malformed."""
    raw = _b64decode(value)
    if raw is None or len(raw) != 16:
        raise InvalidDigest("The Content-MD5 you specified was invalid.")
    return raw


def verify_content_md5(value: str, md5_hex: str) -> None:
    """Check a Content-MD5 header against the MD5 (hex) of what was received."""
    if decode_content_md5(value) != bytes.fromhex(md5_hex):
        raise BadDigest("The Content-MD5 you specified did not match what we received.")


def multipart_etag(part_md5_hex: Sequence[str]) -> str:
    """md5(concat(raw part md5s))-N, without quotes."""
    h = hashlib.md5(usedforsecurity=False)
    for etag in part_md5_hex:
        h.update(bytes.fromhex(etag.strip('"')))
    return f"{h.hexdigest()}-{len(part_md5_hex)}"


def composite_checksum(algorithm: str, part_values: Sequence[str]) -> str:
    """Checksum of the concatenated raw part checksums (base64), suffixed "-N"."""
    h = new_hasher(algorithm)
    for value in part_values:
        h.update(base64.b64decode(value))
    return f"{b64(h.digest())}-{len(part_values)}"


def combine_crcs(algorithm: str, parts: Sequence[tuple[str, int]]) -> str:
    """The whole-object CRC (FULL_OBJECT) from (base64 part CRC, part length) pairs."""
    from awscrt import checksums as crt  # on first use, as in new_hasher

    combine: Callable[[int, int, int], int] = {
        "CRC32": crt.combine_crc32,
        "CRC32C": crt.combine_crc32c,
        "CRC64NVME": crt.combine_crc64nvme,
    }[algorithm]
    value = 0
    for part_value, length in parts:
        value = combine(value, int.from_bytes(base64.b64decode(part_value), "big"), length)
    return b64(value.to_bytes(DIGEST_SIZE[algorithm], "big"))
