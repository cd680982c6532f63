"""A retried CompleteMultipartUpload gets the first completion's answer.

A client whose Complete succeeded but whose response was lost (a connection reset; botocore
retries Complete then) sends the same request again, after the upload row is gone. AWS answers
such a retry 200 with the same result for a while after the completion (shown against real S3
in adobe/S3Mock#2586; Ceph's s3-tests check it, ceph/s3-tests#739); answering 404 NoSuchUpload
makes the SDK report a failed upload of an object that exists.

So a completion keeps its result (ETag, version id, checksums, response headers) beside the
digest of the part list it named, for `completion_retention` seconds. A Complete that finds no
upload but a kept result for the same part list (numbers and ETags) answers with that result and
writes nothing; any other part list gets 404 NoSuchUpload, as AWS. Abort, UploadPart and
ListParts never look here: for them the upload is gone (404 NoSuchUpload), as on AWS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from s3front.store.protocols import MetaStore
from s3front.store.records import CompletionRecord


def _normalise_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def parts_digest(requested: Sequence[tuple[int, str]]) -> str:
    """SHA-256 (hex) of the (part number, ETag) list, ETags without quotes and in lower case
    (clients quote them or not)."""
    h = hashlib.sha256()
    for number, etag in requested:
        h.update(f"{number}:{_normalise_etag(etag)}\n".encode())
    return h.hexdigest()


def record(
    *,
    key: str,
    upload_id: str,
    requested: Sequence[tuple[int, str]],
    etag: str,
    version_id: str,
    checksums: Mapping[str, str],
    headers: Mapping[str, str],
    now_ms: int,
    retention_seconds: float,
) -> CompletionRecord:
    return CompletionRecord(
        key=key,
        upload_id=upload_id,
        parts_digest=parts_digest(requested),
        etag=etag,
        version_id=version_id,
        expires_ms=now_ms + int(retention_seconds * 1000),
        checksums=dict(checksums),
        headers=dict(headers),
    )


async def replay(
    meta: MetaStore,
    bucket_id: str,
    key: str,
    upload_id: str,
    requested: Sequence[tuple[int, str]],
) -> CompletionRecord | None:
    """The kept result of this upload's completion if `requested` names the same parts."""
    kept = await meta.get_completion(bucket_id, key, upload_id)
    if kept is None or kept.parts_digest != parts_digest(requested):
        return None
    return kept
