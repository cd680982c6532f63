"""Checksums of multipart uploads: the checksum type, the value given on Complete, part values.

The rules, as AWS's "Checking object integrity" user guide page
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html, section
"Using full object checksums for multipart upload") and real S3 give them:

- CreateMultipartUpload names an algorithm (x-amz-checksum-algorithm) and may name a type
  (x-amz-checksum-type). SHA-1 and SHA-256 are COMPOSITE only, CRC64NVME is FULL_OBJECT only,
  CRC32 and CRC32C are either (COMPOSITE when no type is named). A type without an algorithm,
  an unknown type or a combination that does not exist: 400 InvalidRequest.
- COMPOSITE: the checksum of the concatenated raw part checksums, "<base64>-N". FULL_OBJECT: the
  CRC of the whole object, combined from the part CRCs and lengths (`checksums.combine_crcs`),
  no second pass over the data.
- CompleteMultipartUpload may carry the object's checksum (x-amz-checksum-<alg>) and type
  (x-amz-checksum-type): each must match what the parts give, else 400 BadDigest and nothing is
  committed. Real S3 also refuses a COMPOSITE Complete whose part list lacks the part
  checksums; s3front computed every part's checksum itself at UploadPart, so it accepts such a
  list (older SDKs, s3cmd and rclone do not send them).

The upload's type is kept in its attrs (`TYPE_ATTR`, taken off before they become the object's),
and the part checksums of a completed upload in the object's attrs (`PARTS_ATTR`: the
algorithm and the concatenated raw part values, base64), so that GetObjectAttributes can list
them after the part rows are gone.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence

from s3front import checksums, errors
from s3front.checksums import COMPOSITE, CRC_ALGORITHMS, FULL_OBJECT

TYPE_ATTR = "mp-checksum-type"
PARTS_ATTR = "part-checksums"

_TYPES = (COMPOSITE, FULL_OBJECT)


def upload_type(algorithm: str, requested: str) -> str:
    """The checksum type of a new upload ("" without an algorithm), or 400 InvalidRequest."""
    kind = requested.strip().upper()
    if kind and kind not in _TYPES:
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    if not algorithm:
        if kind:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        return ""
    if not kind:
        return FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE
    if kind == FULL_OBJECT and algorithm not in CRC_ALGORITHMS:
        raise errors.InvalidRequest(
            f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} "
            "checksum algorithm."
        )
    if kind == COMPOSITE and algorithm == "CRC64NVME":
        raise errors.InvalidRequest(
            "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
        )
    return kind


def type_of(attrs: Mapping[str, str], algorithm: str) -> str:
    """The upload's checksum type (uploads made before types were kept: COMPOSITE)."""
    if not algorithm:
        return ""
    return attrs.get(TYPE_ATTR) or COMPOSITE


def verify_complete(
    headers: Mapping[str, str], algorithm: str, kind: str, computed: Mapping[str, str]
) -> None:
    """Check the object checksum and type a CompleteMultipartUpload names (lower-case header
    names) against the upload's and the value the parts give; 400 BadDigest if they differ."""
    asked_type = headers.get("x-amz-checksum-type", "").strip().upper()
    if asked_type and asked_type != kind:
        if asked_type not in _TYPES:
            raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
        raise errors.BadDigest(
            f"The upload was created using the {kind or 'no'} checksum mode. The complete "
            f"request must use the same checksum mode."
        )
    for name, value in headers.items():
        alg = checksums.algorithm_of_header(name)
        if alg is None:
            continue
        if alg != algorithm:
            raise errors.BadDigest(
                f"The upload was created using {_named(algorithm)} checksum. The complete "
                f"request must use the same checksum algorithm."
            )
        if not _same(value, computed.get(alg, ""), composite=kind == COMPOSITE):
            raise errors.BadDigest(
                f"The {alg.lower()} you specified did not match the calculated checksum."
            )


def _named(algorithm: str) -> str:
    return f"a {algorithm.lower()}" if algorithm else "no"


def _same(given: str, computed: str, *, composite: bool) -> bool:
    """Compare base64 values by their bytes; a COMPOSITE value's "-N" suffix must match too
    (clients send it with or without the suffix)."""
    given, computed = given.strip(), computed.strip()
    if composite:
        value, _, count = computed.rpartition("-")
        given_value, sep, given_count = given.rpartition("-")
        if not sep:
            given_value, given_count = given, count
        if given_count != count:
            return False
        given, computed = given_value, value
    try:
        return base64.b64decode(given, validate=True) == base64.b64decode(computed, validate=True)
    except (binascii.Error, ValueError):
        return False


def pack_parts(algorithm: str, part_values: Sequence[str]) -> str:
    """The part checksums of a completed upload as one attr value: "<ALG> <base64 of the
    concatenated raw part values>" (a 10,000-part CRC32 upload: ~53 KB)."""
    raw = b"".join(base64.b64decode(v) for v in part_values)
    return f"{algorithm} {checksums.b64(raw)}"


def unpack_parts(attrs: Mapping[str, str], parts: int) -> tuple[str, list[str]] | None:
    """(algorithm, base64 part values) kept for an object of `parts` parts, or None."""
    packed = attrs.get(PARTS_ATTR)
    if not packed:
        return None
    algorithm, _, data = packed.partition(" ")
    size = checksums.DIGEST_SIZE.get(algorithm)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if size is None or len(raw) != size * parts:
        return None  # not this object's parts (it cannot be; but never serve a wrong value)
    return algorithm, [checksums.b64(raw[i : i + size]) for i in range(0, len(raw), size)]


def object_attrs(
    upload_attrs: Mapping[str, str], algorithm: str, part_values: Sequence[str]
) -> dict[str, str]:
    """The completed object's attrs: the upload's without its type, with the part checksums."""
    out = {k: v for k, v in upload_attrs.items() if k != TYPE_ATTR}
    if algorithm and part_values:
        out[PARTS_ATTR] = pack_parts(algorithm, part_values)
    return out
