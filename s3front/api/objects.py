"""PutObject, GetObject, HeadObject, DeleteObject."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from s3front import checksums, errors, xml, xmldocs
from s3front.api import conditions, integrity
from s3front.api.context import Ctx, now_ms
from s3front.api.headers import object_headers, stored_headers
from s3front.api.tagging_attrs import parse_tagging_header, tags_of, with_tags
from s3front.body import read_all
from s3front.objects.listing import shard_of
from s3front.objects.ranges import parse_range
from s3front.objects.reader import read_object
from s3front.objects.writer import write_object_data
from s3front.store.records import NULL_VERSION, BucketRecord, ObjectRecord

MAX_PUT_SIZE = 5 * 1024**3  # S3's limit for a single PUT


async def handle_put_object(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    key = ctx.key
    headers = stored_headers(ctx.req)
    exp = integrity.expected(ctx.req)
    if ctx.body.length is not None and ctx.body.length > MAX_PUT_SIZE:
        raise errors.EntityTooLarge(MaxSizeAllowed=str(MAX_PUT_SIZE))
    result = await write_object_data(
        ctx.store.blocks,
        ctx.store.meta,
        aiter(ctx.body),
        block_size=ctx.settings.block_size,
        inline_limit=ctx.settings.inline_limit,
        algorithms=exp.algorithms,
        expected_length=ctx.body.length,
    )
    checksums = integrity.verify(exp, result.md5, result.checksums, ctx.body.trailers)
    if checksums:
        checksums["type"] = "FULL_OBJECT"
    seq, version_id = new_version(bucket)
    attrs = {}
    if tagging_header := ctx.req.header("x-amz-tagging"):
        attrs = with_tags({}, parse_tagging_header(tagging_header))
    rec = ObjectRecord(
        key=key,
        seq=seq,
        version_id=version_id,
        size=result.size,
        etag=result.md5,
        last_modified_ms=now_ms(),
        owner=ctx.tenant,
        manifest_id=result.manifest_id,
        inline=result.inline,
        headers=headers,
        checksums=checksums,
        attrs=attrs,
    )
    await commit_object(ctx, bucket, rec)
    out = {"etag": f'"{rec.etag}"'}
    for alg, value in checksums.items():
        if alg != "type":
            out[integrity.header_name(alg)] = value
    if bucket.versioning:
        out["x-amz-version-id"] = version_id
    return Response(status_code=200, headers=out)


async def commit_object(ctx: Ctx, bucket: BucketRecord, rec: ObjectRecord) -> None:
    """Write the object row: the single switch that makes the new version visible (its blocks
    and manifest are already written).

    Conditional writes (PutObject / CompleteMultipartUpload with `If-None-Match: *` or
    `If-Match: <etag>`) become a conditional row write, a lightweight transaction on
    Cassandra, so of two racing writers at most one wins; the loser gets 412 if the condition
    no longer holds, or 409 ConditionalRequestConflict if the row changed under it.
    """
    meta = ctx.store.meta
    shard = shard_of(rec.key, bucket.shards)
    if_none = ctx.req.header("if-none-match").strip()
    if_match = ctx.req.header("if-match").strip()
    if not if_none and not if_match:
        await meta.put_object(bucket.bucket_id, shard, rec)
        return
    if if_none and if_none != "*":
        raise errors.NotImplemented("If-None-Match on writes supports only '*'.")
    current = await meta.get_object(bucket.bucket_id, shard, rec.key)
    live = current is not None and not current.delete_marker
    if if_none and live:
        raise errors.PreconditionFailed(Condition="If-None-Match")
    if if_match:
        if not live:
            raise errors.NoSuchKey(Key=rec.key)
        assert current is not None
        if not conditions.etag_matches(if_match, current.etag):
            raise errors.PreconditionFailed(Condition="If-Match")
    expected = current if current is not None and current.seq == rec.seq else None
    if current is not None and current.seq != rec.seq:
        raise errors.NotImplemented(
            "Conditional writes to versioned buckets are not supported yet."
        )
    if not await meta.put_object_if(bucket.bucket_id, shard, rec, expected):
        raise errors.ConditionalRequestConflict()


def new_version(bucket: BucketRecord) -> tuple[int, str]:
    """(seq, version id) of a new version. Unversioned buckets keep one row per key (seq 0)."""
    if bucket.versioning == "Enabled":
        raise errors.NotImplemented("Versioning is not supported yet.")
    return 0, NULL_VERSION


async def find_object(ctx: Ctx, bucket: BucketRecord, key: str) -> ObjectRecord:
    shard = shard_of(key, bucket.shards)
    version_id = ctx.req.param("versionId")
    if version_id is not None:
        rec = await ctx.store.meta.get_object_by_version(bucket.bucket_id, shard, key, version_id)
        if rec is None:
            raise errors.NoSuchVersion(Key=key, VersionId=version_id)
    else:
        rec = await ctx.store.meta.get_object(bucket.bucket_id, shard, key)
        if rec is None or rec.delete_marker:
            raise errors.NoSuchKey(Key=key)
    return rec


async def handle_get_object(ctx: Ctx) -> Response:
    return await _get_or_head(ctx, head=False)


async def handle_head_object(ctx: Ctx) -> Response:
    return await _get_or_head(ctx, head=True)


async def _get_or_head(ctx: Ctx, *, head: bool) -> Response:
    bucket = await ctx.bucket()
    rec = await find_object(ctx, bucket, ctx.key)
    try:
        conditions.check(ctx.req, rec)
    except errors.NotModified:
        h = object_headers(rec)
        return Response(status_code=304, headers={k: h[k] for k in ("etag", "last-modified")})
    headers = object_headers(rec, ctx.req)
    if tags := tags_of(rec.attrs):
        headers["x-amz-tagging-count"] = str(len(tags))
    status = 200
    start, end = 0, rec.size
    range_header = ctx.req.header("range")
    if range_header:
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
    stream: AsyncIterator[bytes] = read_object(ctx.store.meta, ctx.store.blocks, rec, start, end)
    return StreamingResponse(stream, status_code=status, headers=headers)


async def delete_key(ctx: Ctx, bucket: BucketRecord, key: str, version_id: str | None) -> None:
    """Delete one key (or one version of it). A key that does not exist is no error, as in S3."""
    if len(key.encode("utf-8")) > 1024:
        raise errors.KeyTooLongError()
    shard = shard_of(key, bucket.shards)
    meta = ctx.store.meta
    if version_id is not None:
        rec = await meta.get_object_by_version(bucket.bucket_id, shard, key, version_id)
    else:
        rec = await meta.get_object(bucket.bucket_id, shard, key)
    if rec is None:
        return
    # The data is released by removing the row; the GC frees blocks no manifest references.
    await meta.delete_object(bucket.bucket_id, shard, key, rec.seq)


async def handle_delete_object(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    await delete_key(ctx, bucket, ctx.key, ctx.req.param("versionId"))
    return Response(status_code=204)


async def handle_delete_objects(ctx: Ctx) -> Response:
    """DeleteObjects: up to 1000 keys, per-key results, Quiet mode.

    AWS requires an integrity header; boto3, the AWS CLI, s3fs and the JS SDK send
    x-amz-checksum-crc32 (or another x-amz-checksum-*) instead of Content-MD5, s3cmd and minio
    send Content-MD5. Either is accepted.
    """
    bucket = await ctx.bucket()
    exp = integrity.expected(ctx.req)
    if exp.content_md5 is None and not exp.values and not exp.trailer:
        raise errors.InvalidRequest("Missing required header for this request: Content-MD5")
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    computed = {alg: checksums.checksum(alg, body) for alg in exp.algorithms}
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    integrity.verify(exp, md5, computed, ctx.body.trailers)
    request = xml.parse_delete(body)
    deleted: list[xmldocs.Deleted] = []
    failures: list[xmldocs.DeleteFailure] = []
    for key, version_id in request.objects:
        try:
            await delete_key(ctx, bucket, key, version_id)
        except errors.S3Error as err:
            failures.append(xmldocs.DeleteFailure(key, err.code, err.message, version_id))
            continue
        if not request.quiet:
            deleted.append(xmldocs.Deleted(key, version_id))
    return Response(xmldocs.delete_result(deleted, failures), media_type="application/xml")
