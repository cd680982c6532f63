"""Checksums on browser POST uploads: the `x-amz-checksum-*` form fields.

A form names a checksum as a PUT does with headers: a value field (`x-amz-checksum-crc32`, at
most one algorithm) and/or the algorithm (`x-amz-checksum-algorithm`, or the SDKs'
`x-amz-sdk-checksum-algorithm`). The file's bytes are hashed while they stream, compared once
they have ended (400 BadDigest before anything is committed, as for a PUT), and the values are
stored with the object like a PUT's (type FULL_OBJECT), returned by GET/HEAD with
x-amz-checksum-mode. AWS documents these fields for POST (the POST Object "Form fields" of the
S3 API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from s3front import checksums, errors


@dataclass(frozen=True, slots=True)
class FormChecksums:
    values: dict[str, str]  # algorithm -> base64 value sent in a field
    algorithms: frozenset[str]  # every algorithm to compute


def expected(fields: Mapping[str, str]) -> FormChecksums:
    """What the form's fields (lower-case names) ask for; InvalidRequest when malformed."""
    values = checksums.requested_checksums(fields)
    algorithms = set(values)
    for name in ("x-amz-checksum-algorithm", "x-amz-sdk-checksum-algorithm"):
        if fields.get(name):
            alg = checksums.parse_algorithm(fields[name])
            if values and alg not in values:
                # AWS: the algorithm named and the value sent must be of one algorithm.
                raise errors.InvalidRequest(
                    f"Value for {checksums.header_name(alg)} header is missing or invalid."
                )
            algorithms.add(alg)
    return FormChecksums(values, frozenset(algorithms))


def verify(exp: FormChecksums, computed: Mapping[str, str]) -> dict[str, str]:
    """Compare the computed values with the fields; the checksums to store (empty if none)."""
    for alg, value in exp.values.items():
        checksums.verify_checksum(alg, value, computed[alg])
    out = {alg: computed[alg] for alg in exp.algorithms}
    if out:
        out["type"] = checksums.FULL_OBJECT
    return out
