"""Integrity headers of uploads: which checksums a request asks for, and checking them.

A client names a checksum by sending its value in a header (`x-amz-checksum-crc32: ...`), by
announcing a trailer (`x-amz-trailer: x-amz-checksum-crc32`; the value arrives after the
aws-chunked body), or by `x-amz-sdk-checksum-algorithm` alone. s3cmd, minio and rclone send
Content-MD5 instead; either is accepted. We compute what was asked for while the body streams,
compare once it has ended, and store the values for GET/HEAD with x-amz-checksum-mode.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from s3front import checksums, errors
from s3front.body import Body, read_all
from s3front.request import S3Request

header_name = checksums.header_name


@dataclass(slots=True)
class Expected:
    content_md5: str | None
    values: dict[str, str]  # algorithm -> base64 value sent in a header
    trailer: str | None  # algorithm whose value comes in the trailer
    algorithms: set[str]  # every algorithm to compute (MD5 is always computed)


def expected(req: S3Request, *, default_algorithm: str = "") -> Expected:
    md5 = req.headers.get("content-md5")
    if md5 is not None:
        checksums.decode_content_md5(md5)  # InvalidDigest when it cannot be an MD5
    values = checksums.requested_checksums(req.headers)
    trailer = None
    announced = req.header("x-amz-trailer").strip().lower()
    if announced:
        trailer = checksums.algorithm_of_header(announced)
        if trailer is None:
            raise errors.InvalidRequest(f"The trailer {announced!r} is not supported.")
    algorithms = set(values)
    if trailer:
        algorithms.add(trailer)
    sdk = req.header("x-amz-sdk-checksum-algorithm") or default_algorithm
    if sdk:
        algorithms.add(checksums.parse_algorithm(sdk))
    return Expected(md5, values, trailer, algorithms)


def verify(
    exp: Expected, md5_hex: str, computed: Mapping[str, str], trailers: Mapping[str, str]
) -> dict[str, str]:
    """Compare what was computed with what the client sent; return the checksums to store."""
    if exp.content_md5 is not None:
        checksums.verify_content_md5(exp.content_md5, md5_hex)
    given = dict(exp.values)
    if exp.trailer:
        value = trailers.get(header_name(exp.trailer))
        if value is None:
            raise errors.InvalidRequest(
                f"The trailer {header_name(exp.trailer)} was announced but not sent."
            )
        given[exp.trailer] = value
    for alg, value in given.items():
        checksums.verify_checksum(alg, value, computed[alg])
    return {alg: computed[alg] for alg in exp.algorithms if alg in computed}


async def required_document(req: S3Request, body: Body, limit: int) -> bytes:
    """An XML request body that must carry Content-MD5 or a checksum (DeleteObjects, the
    lifecycle and object lock documents), read whole (at most `limit` bytes) and checked
    against it."""
    exp = expected(req)
    if exp.content_md5 is None and not exp.values and not exp.trailer:
        raise errors.InvalidRequest("Missing required header for this request: Content-MD5")
    data = await read_all(body, limit)
    computed = {alg: checksums.checksum(alg, data) for alg in exp.algorithms}
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    verify(exp, md5, computed, body.trailers)
    return data
