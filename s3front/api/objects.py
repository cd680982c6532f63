"""PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

Versions: what a write or delete does in each versioning state is `s3front.objects.versions`;
the bucket-level operations and the delete-marker error answers are `s3front.api.versioning`.
"""

from __future__ import annotations

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.access.acl import attrs_with_request_acl
from s3front.api import conditions, integrity, lock_headers, sse
from s3front.api import lifecycle as lifecycle_headers
from s3front.api.access_hooks import writer
from s3front.api.context import Ctx
from s3front.api.headers import object_headers, stored_headers
from s3front.api.streaming import BodyStream
from s3front.api.tagging_attrs import parse_tagging_header, tags_of, with_tags
from s3front.api.versioning import (
    DeleteMarkerNoSuchKey,
    DeleteMarkerNotAllowed,
    marker_error_response,
    version_headers,
    write_version_headers,
)
from s3front.clock import now_ms
from s3front.objects import versions
from s3front.objects.commit import new_version
from s3front.objects.encryption import sealing_of, with_sealing
from s3front.objects.intents import WriteIntent
from s3front.objects.limits import MAX_OBJECT_SIZE, MAX_PART_NUMBER
from s3front.objects.listing import shard_of
from s3front.objects.multipart import part_sizes
from s3front.objects.ranges import parse_range
from s3front.objects.reader import first_piece, inline_bytes, read_object
from s3front.objects.writer import write_object_data
from s3front.store.records import BucketRecord, ObjectRecord


async def handle_put_object(ctx: Ctx) -> Response:
    # The intent keeps GC off the blocks from the first one until the object row is written.
    async with WriteIntent(ctx.store.meta) as intent:
        return await _put_object(ctx, intent)


async def _put_object(ctx: Ctx, intent: WriteIntent) -> Response:
    bucket = await ctx.bucket()
    key = ctx.key
    headers = stored_headers(ctx.req)
    exp = integrity.expected(ctx.req)
    # Lock headers are checked before the body is read: a refusal stores nothing.
    lock_attrs = lock_headers.requested_attrs(ctx.req.headers.get, bucket, now_ms())
    if lock_headers.has_lock_fields(ctx.req.headers.get):
        lock_headers.check_put_integrity(exp)
    if ctx.body.length is not None and ctx.body.length > MAX_OBJECT_SIZE:
        raise errors.EntityTooLarge(MaxSizeAllowed=str(MAX_OBJECT_SIZE))
    sealed = await sse.begin_for(ctx, sse.requested(ctx.req, bucket.attrs))
    result = await write_object_data(
        ctx.store.blocks,
        ctx.store.meta,
        aiter(ctx.body),
        block_size=ctx.settings.block_size,
        inline_limit=ctx.settings.inline_limit,
        algorithms=exp.algorithms,
        expected_length=ctx.body.length,
        intent=intent,
        payload_sha256=lambda: ctx.body.sha256,
        cipher=sealed.cipher if sealed else None,
    )
    checksums = integrity.verify(exp, result.md5, result.checksums, ctx.body.trailers)
    if checksums:
        checksums["type"] = "FULL_OBJECT"
    seq, version_id = new_version(bucket)
    attrs = {}
    if tagging_header := ctx.req.header("x-amz-tagging"):
        attrs = with_tags({}, parse_tagging_header(tagging_header))
    attrs = attrs_with_request_acl(ctx.req, attrs, writer(ctx, bucket), bucket.owner)
    attrs.update(lock_attrs)
    if sealed is not None:
        attrs = with_sealing(attrs, sealed.sealing)
    rec = ObjectRecord(
        key=key,
        seq=seq,
        version_id=version_id,
        size=result.size,
        etag=sse.etag(sealed, result.md5),
        last_modified_ms=now_ms(),
        owner=writer(ctx, bucket),
        manifest_id=result.manifest_id,
        inline=result.inline,
        headers=headers,
        checksums=checksums,
        attrs=attrs,
    )
    rec = await ctx.commit(bucket, rec)
    out = {"etag": f'"{rec.etag}"'}
    for alg, value in checksums.items():
        if alg != "type":
            out[integrity.header_name(alg)] = value
    out.update(write_version_headers(bucket, rec.version_id))
    out.update(lifecycle_headers.expiration_headers(ctx, bucket, rec))
    out.update(sse.response_headers(sealed))
    return Response(status_code=200, headers=out)


async def find_object(ctx: Ctx, bucket: BucketRecord, key: str) -> ObjectRecord:
    """The version a GET/HEAD-like request names: `?versionId=` (a point read for our ids;
    "null" is accepted in every bucket) or the newest. Delete markers are errors; see
    `s3front.api.versioning` for the headers those carry."""
    version_id = ctx.req.param("versionId")
    rec = await versions.resolve(ctx.store.meta, bucket, key, version_id)
    if version_id is not None:
        if rec is None:
            raise errors.NoSuchVersion(Key=key, VersionId=version_id)
        if rec.delete_marker:
            raise DeleteMarkerNotAllowed(rec, ctx.req.method)
    else:
        if rec is None:
            raise errors.NoSuchKey(Key=key)
        if rec.delete_marker:
            raise DeleteMarkerNoSuchKey(rec)
    return rec


async def _part_range(ctx: Ctx, rec: ObjectRecord, ranged: bool) -> tuple[int, int] | None:
    """`?partNumber=N` of GetObject/HeadObject as AWS: the bytes of part N of a multipart
    object, part 1 = the whole of a single-part one; 416 InvalidPartNumber past the last part.
    Offsets are of the plaintext, so the ranged reader (and its cipher for SSE) serves them."""
    raw = ctx.req.param("partNumber")
    if raw is None:
        return None
    # isascii: str.isdigit() admits "²", which int() refuses; the length bounds int()'s work.
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > 5
        or not 1 <= int(raw) <= MAX_PART_NUMBER
    ):
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    if ranged:
        raise errors.InvalidRequest(
            "Cannot specify both Range header and partNumber query parameter"
        )
    number = int(raw)
    sizes = await part_sizes(ctx.store.meta, rec) if rec.parts else [rec.size]
    if number > len(sizes):
        raise errors.InvalidPartNumber()
    start = sum(sizes[: number - 1])
    return start, start + sizes[number - 1]


async def handle_get_object(ctx: Ctx) -> Response:
    return await _get_or_head(ctx, head=False)


async def handle_head_object(ctx: Ctx) -> Response:
    return await _get_or_head(ctx, head=True)


async def _get_or_head(ctx: Ctx, *, head: bool) -> Response:
    bucket = await ctx.bucket()
    try:
        rec = await find_object(ctx, bucket, ctx.key)
    except (DeleteMarkerNoSuchKey, DeleteMarkerNotAllowed) as err:
        return marker_error_response(ctx, bucket, err)
    # Before the conditions, as AWS: an SSE-C object without (or with a wrong) key is refused
    # whatever the preconditions say.
    opened = await sse.open_for(ctx, sealing_of(rec.attrs))
    try:
        conditions.check(ctx.req, rec)
    except errors.NotModified:
        h = object_headers(rec)
        return Response(status_code=304, headers={k: h[k] for k in ("etag", "last-modified")})
    headers = object_headers(rec, ctx.req)
    headers.update(version_headers(bucket, rec.version_id))
    if ctx.req.param("versionId") is None:  # the current version: when a rule expires it
        headers.update(lifecycle_headers.expiration_headers(ctx, bucket, rec))
    if tags := tags_of(rec.attrs):
        headers["x-amz-tagging-count"] = str(len(tags))
    headers.update(lock_headers.response_headers(ctx, bucket, rec))
    headers.update(sse.response_headers(opened))
    status = 200
    start, end = 0, rec.size
    range_header = ctx.req.header("range")
    part = await _part_range(ctx, rec, bool(range_header))
    if part is not None:
        start, end = part
        status = 206
        headers["content-range"] = f"bytes {start}-{max(end - 1, 0)}/{rec.size}"
        headers = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
    elif range_header:
        rng = parse_range(range_header, rec.size)
        if rng is not None:
            start, end = rng
            status = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{rec.size}"
            # A checksum of the whole object does not describe a range.
            headers = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
    headers["content-length"] = str(end - start)
    if head or end == start:
        return Response(status_code=status, headers=headers)
    if rec.inline is not None:
        # Small objects live in their row: a plain response avoids the task group a
        # StreamingResponse starts per request (a fifth of a small GET's CPU in profiles).
        data = inline_bytes(rec, opened.cipher if opened else None, ctx.request_id)
        return Response(data[start:end], status_code=status, headers=headers)
    stream = read_object(
        ctx.store.meta,
        ctx.store.blocks,
        rec,
        start,
        end,
        request_id=ctx.request_id,
        cipher=opened.cipher if opened else None,
    )
    # Before the status line: an object whose first block is lost gets a 500 error document,
    # not a 200 with a short body (a later lost block can only cut the connection short).
    first = await first_piece(stream)
    return BodyStream(stream, length=end - start, status_code=status, headers=headers, first=first)


async def delete_key(
    ctx: Ctx, bucket: BucketRecord, key: str, version_id: str | None
) -> versions.Deletion:
    """Delete one key (or one version of it). A key that does not exist is no error, as in S3.

    Without a version id: a never-versioned bucket loses the row, a versioned one gains a
    delete marker. With one: exactly that version (or marker) goes.
    """
    if len(key.encode("utf-8")) > 1024:
        raise errors.KeyTooLongError()
    shard = shard_of(key, bucket.shards)
    meta = ctx.store.meta
    if version_id is not None:
        guard = lock_headers.delete_guard(ctx, bucket, key)
        return await versions.delete_version(meta, bucket, shard, key, version_id, guard)
    return await versions.delete_latest(
        meta, bucket, shard, key, owner=writer(ctx, bucket), now_ms=now_ms()
    )


async def handle_delete_object(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    done = await delete_key(ctx, bucket, ctx.key, ctx.req.param("versionId"))
    headers = version_headers(bucket, done.version_id)
    if done.delete_marker and bucket.versioning:
        headers["x-amz-delete-marker"] = "true"
    return Response(status_code=204, headers=headers)


async def handle_delete_objects(ctx: Ctx) -> Response:
    """DeleteObjects: up to 1000 keys, per-key results, Quiet mode.

    AWS requires an integrity header; boto3, the AWS CLI, s3fs and the JS SDK send
    x-amz-checksum-crc32 (or another x-amz-checksum-*) instead of Content-MD5, s3cmd and minio
    send Content-MD5. Either is accepted.
    """
    bucket = await ctx.bucket()
    body = await integrity.required_document(ctx.req, ctx.body, ctx.settings.max_xml_body)
    request = xml.parse_delete(body)
    deleted: list[xmldocs.Deleted] = []
    failures: list[xmldocs.DeleteFailure] = []
    for key, version_id in request.objects:
        try:
            # Per key: a bucket policy may allow or deny some prefixes only.
            action = "s3:DeleteObjectVersion" if version_id is not None else "s3:DeleteObject"
            await ctx.authorize_object(bucket, key, None, action)
            done = await delete_key(ctx, bucket, key, version_id)
        except errors.S3Error as err:
            failures.append(xmldocs.DeleteFailure(key, err.code, err.message, version_id))
            continue
        if not request.quiet:
            marker_id = done.version_id if done.delete_marker else None
            deleted.append(xmldocs.Deleted(key, version_id, marker_id, done.delete_marker))
    return Response(xmldocs.delete_result(deleted, failures), media_type="application/xml")
