"""Checksums against known vectors and botocore's own implementations."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from botocore import httpchecksum  # type: ignore[import-untyped]

from s3front import checksums
from s3front.errors import BadDigest, InvalidDigest, InvalidRequest

HELLO = b"hello world"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", "DUoRhQ=="),
        ("CRC32C", "yZRlqg=="),
        ("CRC64NVME", "jSnVw/bqjr4="),
        ("SHA1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        ("SHA256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
    ],
)
def test_known_vectors(algorithm: str, expected: str) -> None:
    assert checksums.checksum(algorithm, HELLO) == expected


_BOTOCORE = {
    "CRC32": httpchecksum.Crc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
@pytest.mark.parametrize("size", [0, 1, 4095, 100_003])
def test_streaming_matches_botocore(algorithm: str, size: int) -> None:
    data = os.urandom(size)
    ours = checksums.new_hasher(algorithm)
    theirs = _BOTOCORE[algorithm]()
    for i in range(0, size, 997):  # odd chunking: the running state must carry over
        ours.update(memoryview(data)[i : i + 997])
        theirs.update(data[i : i + 997])
    assert checksums.b64(ours.digest()) == theirs.b64digest()
    assert len(ours.digest()) == checksums.DIGEST_SIZE[algorithm]


def test_md5_hasher() -> None:
    h = checksums.new_hasher("MD5")
    h.update(HELLO)
    assert h.digest().hex() == hashlib.md5(HELLO).hexdigest()


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        ("x-amz-checksum-crc32", "CRC32"),
        ("X-Amz-Checksum-CRC32C", "CRC32C"),
        ("x-amz-checksum-crc64nvme", "CRC64NVME"),
        ("x-amz-checksum-sha1", "SHA1"),
        ("x-amz-checksum-sha256", "SHA256"),
        ("x-amz-checksum-md5", None),
        ("x-amz-checksum-algorithm", None),
        ("content-md5", None),
    ],
)
def test_header_mapping(header: str, algorithm: str | None) -> None:
    assert checksums.algorithm_of_header(header) == algorithm
    if algorithm is not None:
        assert checksums.header_name(algorithm) == header.lower()


@pytest.mark.parametrize(
    ("value", "expected"), [("crc32", "CRC32"), ("SHA256", "SHA256"), (" crc64nvme ", "CRC64NVME")]
)
def test_parse_algorithm(value: str, expected: str) -> None:
    assert checksums.parse_algorithm(value) == expected


@pytest.mark.parametrize("value", ["MD5", "", "crc16", "XXHASH64"])
def test_parse_algorithm_rejects(value: str) -> None:
    with pytest.raises(InvalidRequest):
        checksums.parse_algorithm(value)


@pytest.mark.parametrize(
    ("algorithm", "value", "error"),
    [
        ("CRC32", "DUoRhQ==", None),
        ("CRC32", "DUoRhA==", BadDigest),  # well-formed, wrong value
        ("CRC32", "not base64!", InvalidRequest),
        ("CRC32", "AAAAAAAA", InvalidRequest),  # 6 bytes, not 4
        ("CRC32", "", InvalidRequest),
        ("SHA256", "DUoRhQ==", InvalidRequest),
        ("SHA1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0=", None),
    ],
)
def test_verify_checksum(algorithm: str, value: str, error: type[Exception] | None) -> None:
    actual = checksums.checksum(algorithm, HELLO)
    if error is None:
        checksums.verify_checksum(algorithm, value, actual)
    else:
        with pytest.raises(error):
            checksums.verify_checksum(algorithm, value, actual)


def test_bad_digest_names_the_algorithm() -> None:
    with pytest.raises(BadDigest, match="CRC32C you specified did not match"):
        checksums.verify_checksum("CRC32C", "AAAAAA==", checksums.checksum("CRC32C", HELLO))


def test_requested_checksums() -> None:
    found = checksums.requested_checksums(
        {"x-amz-checksum-crc32": "DUoRhQ==", "content-type": "text/plain"}
    )
    assert found == {"CRC32": "DUoRhQ=="}
    assert checksums.requested_checksums({"x-amz-sdk-checksum-algorithm": "CRC32"}) == {}
    with pytest.raises(InvalidRequest):
        checksums.requested_checksums({"x-amz-checksum-crc32": "???"})
    with pytest.raises(InvalidRequest):
        checksums.requested_checksums(
            {"x-amz-checksum-crc32": "DUoRhQ==", "x-amz-checksum-crc32c": "yZRlqg=="}
        )


MD5_HELLO = hashlib.md5(HELLO).hexdigest()


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (base64.b64encode(bytes.fromhex(MD5_HELLO)).decode(), None),
        (base64.b64encode(hashlib.md5(b"other").digest()).decode(), BadDigest),
        (MD5_HELLO, InvalidDigest),  # hex instead of base64: 32 chars decode to 24 bytes
        ("!!!", InvalidDigest),
        ("", InvalidDigest),
        (base64.b64encode(b"short").decode(), InvalidDigest),
    ],
)
def test_content_md5(header: str, error: type[Exception] | None) -> None:
    if error is None:
        checksums.verify_content_md5(header, MD5_HELLO)
    else:
        with pytest.raises(error):
            checksums.verify_content_md5(header, MD5_HELLO)


def test_multipart_etag() -> None:
    parts = [b"a" * 10, b"b" * 20, b"c"]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert checksums.multipart_etag(md5s) == f"{expected}-3"
    assert checksums.multipart_etag([f'"{m}"' for m in md5s]) == f"{expected}-3"


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_composite_checksum(algorithm: str) -> None:
    parts = [b"first part", b"second", b""]
    values = [checksums.checksum(algorithm, p) for p in parts]
    raw = b"".join(base64.b64decode(v) for v in values)
    assert checksums.composite_checksum(algorithm, values) == (
        f"{checksums.checksum(algorithm, raw)}-3"
    )


@pytest.mark.parametrize("algorithm", sorted(checksums.CRC_ALGORITHMS))
def test_combined_crc_equals_whole_object_crc(algorithm: str) -> None:
    parts = [os.urandom(n) for n in (5000, 1, 0, 77_777)]
    pairs = [(checksums.checksum(algorithm, p), len(p)) for p in parts]
    assert checksums.combine_crcs(algorithm, pairs) == checksums.checksum(
        algorithm, b"".join(parts)
    )
