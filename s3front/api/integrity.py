"""Integrity headers of uploads: Content-MD5 and the x-amz-checksum-* family.

A client names a checksum by sending its value in a header (`x-amz-checksum-crc32: ...`), by
announcing a trailer (`x-amz-trailer: x-amz-checksum-crc32`, the value arrives after the
aws-chunked body), or by `x-amz-sdk-checksum-algorithm` alone. We compute what was asked for
while the body streams, compare once it has ended, and store the values so that GET/HEAD with
`x-amz-checksum-mode: ENABLED` can return them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from s3front import errors
from s3front.request import S3Request

# algorithm -> length of the raw digest in bytes
ALGORITHMS = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
HEADER_PREFIX = "x-amz-checksum-"


def header_name(alg: str) -> str:
    return HEADER_PREFIX + alg.lower()


def _check_format(alg: str, value: str, where: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != ALGORITHMS[alg]:
        raise errors.InvalidRequest(f"Value for {where} is invalid.")


def algorithm_of(name: str) -> str:
    alg = name.strip().upper()
    if alg not in ALGORITHMS:
        raise errors.InvalidRequest(f"Checksum algorithm {name!r} is not supported.")
    return alg


@dataclass(slots=True)
class Expected:
    """What the client asked us to compute and check."""

    md5_b64: str | None  # Content-MD5
    values: dict[str, str]  # algorithm -> base64 value given in a header
    trailer: str | None  # algorithm whose value comes in the trailer
    algorithms: set[str]  # every algorithm to compute (besides MD5, which is always computed)


def expected(req: S3Request, *, default_algorithm: str = "") -> Expected:
    md5 = req.headers.get("content-md5")
    if md5 is not None:
        try:
            raw = base64.b64decode(md5.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 16:
            raise errors.InvalidDigest(Content_MD5=md5)
    values: dict[str, str] = {}
    for name, value in req.headers.items():
        if name.startswith(HEADER_PREFIX) and name not in ("x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"):
            alg = name[len(HEADER_PREFIX):].upper()
            if alg in ALGORITHMS:
                _check_format(alg, value.strip(), name)
                values[alg] = value.strip()
    trailer = None
    announced = req.header("x-amz-trailer").strip().lower()
    if announced:
        if not announced.startswith(HEADER_PREFIX):
            raise errors.InvalidRequest(f"Unsupported trailer {announced!r}.")
        trailer = algorithm_of(announced[len(HEADER_PREFIX):])
    algorithms = set(values)
    if trailer:
        algorithms.add(trailer)
    sdk = req.header("x-amz-sdk-checksum-algorithm") or default_algorithm
    if sdk:
        algorithms.add(algorithm_of(sdk))
    return Expected(md5.strip() if md5 else None, values, trailer, algorithms)


def verify(exp: Expected, md5_hex: str, computed: Mapping[str, str], trailers: Mapping[str, str]) -> dict[str, str]:
    """Compare what was computed with what the client sent; the checksums to store."""
    if exp.md5_b64 is not None and base64.b64encode(bytes.fromhex(md5_hex)).decode() != exp.md5_b64:
        raise errors.BadDigest("The Content-MD5 you specified did not match what we received.")
    given = dict(exp.values)
    if exp.trailer:
        value = trailers.get(header_name(exp.trailer))
        if value is None:
            raise errors.InvalidRequest(f"The trailer {header_name(exp.trailer)} was announced but not sent.")
        _check_format(exp.trailer, value.strip(), header_name(exp.trailer))
        given[exp.trailer] = value.strip()
    for alg, value in given.items():
        if computed.get(alg) != value:
            raise errors.BadDigest(f"The {alg} you specified did not match the calculated checksum.")
    return {alg: computed[alg] for alg in exp.algorithms if alg in computed}
