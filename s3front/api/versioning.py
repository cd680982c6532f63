"""PutBucketVersioning, GetBucketVersioning, and the answers S3 gives about delete markers.

A bucket is "" (never versioned) until versioning is first set; after that it is "Enabled" or
"Suspended" and can never go back. What each state means for writes and deletes is in
`s3front.objects.versions`.

A GET or HEAD that lands on a delete marker is an error that carries headers: 404 NoSuchKey
when the newest version is a marker, 405 MethodNotAllowed when the marker was asked for by
version id, both with `x-amz-delete-marker: true` (clients tell "deleted" from "never
existed" by it). Error classes have no headers, so `find_object` raises the subclasses below
and the GET/HEAD handler renders them with `marker_error_response`; other callers of
`find_object` (tagging, ACL) send the plain error.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.api import integrity
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.objects import lock
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord
from s3front.xmldocs import XMLResponse


async def handle_put_bucket_versioning(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    exp = integrity.expected(ctx.req)
    if exp.content_md5 is not None:
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        integrity.verify(exp, md5, {}, {})
    status = xml.parse_versioning(body)  # "Enabled" or "Suspended": never back to ""
    if status != "Enabled" and lock.enabled(bucket):
        # Suspending would let a write replace the "null" version in place: never under lock.
        raise errors.InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state "
            "cannot be changed."
        )
    if status != bucket.versioning:
        await ctx.store.meta.update_bucket(replace(bucket, versioning=status))
    return Response(status_code=200)


async def handle_get_bucket_versioning(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    return XMLResponse(xmldocs.versioning_configuration(bucket.versioning))


def version_headers(bucket: BucketRecord, version_id: str | None) -> dict[str, str]:
    """x-amz-version-id, sent only by buckets that have had versioning set. A never-versioned
    bucket's versions are all "null" and S3 does not mention them (CLIENTS.md 11)."""
    if not bucket.versioning or version_id is None:
        return {}
    return {"x-amz-version-id": version_id}


def write_version_headers(bucket: BucketRecord, version_id: str | None) -> dict[str, str]:
    """version_headers for a write's response. A write in a Suspended bucket makes the "null"
    version and AWS sends no x-amz-version-id for it (some servers send "null", which clients
    read as "this write made a version")."""
    if bucket.versioning == "Suspended" and version_id == NULL_VERSION:
        return {}
    return version_headers(bucket, version_id)


class _DeleteMarkerError:
    marker: ObjectRecord


class DeleteMarkerNoSuchKey(errors.NoSuchKey, _DeleteMarkerError):
    """The newest version of the key is a delete marker."""

    def __init__(self, marker: ObjectRecord) -> None:
        super().__init__(Key=marker.key)
        self.marker = marker

    @property
    def code(self) -> str:
        return "NoSuchKey"


class DeleteMarkerNotAllowed(errors.MethodNotAllowed, _DeleteMarkerError):
    """A GET or HEAD asked for a delete marker by version id."""

    def __init__(self, marker: ObjectRecord, method: str) -> None:
        super().__init__(Method=method, ResourceType="DeleteMarker")
        self.marker = marker

    @property
    def code(self) -> str:
        return "MethodNotAllowed"


def marker_error_response(
    ctx: Ctx, bucket: BucketRecord, err: DeleteMarkerNoSuchKey | DeleteMarkerNotAllowed
) -> Response:
    """The error response, as `s3front.app.error_response` renders it, plus the headers."""
    headers = {"x-amz-delete-marker": "true", **version_headers(bucket, err.marker.version_id)}
    if ctx.req.method == "HEAD":
        headers["x-amz-error-code"] = err.code
        return Response(status_code=err.status, headers=headers)
    body = xml.error_document(err, resource=ctx.req.raw_path, request_id=ctx.request_id)
    return Response(body, status_code=err.status, media_type="application/xml", headers=headers)
