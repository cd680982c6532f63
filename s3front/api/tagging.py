"""Object and bucket tagging.

Tags live in the record's `attrs["tags"]` as JSON. Changing an object's tags rewrites its row
with a conditional write (compare-and-set on etag and modification time), so a tag update that
races an overwrite can never bring the old object back: it retries on the new row instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.api.context import Ctx
from s3front.api.objects import find_object
from s3front.api.tagging_attrs import BUCKET_MAX_TAGS, OBJECT_MAX_TAGS, tags_of, with_tags
from s3front.body import read_all
from s3front.objects.listing import shard_of
from s3front.store.records import NULL_VERSION, ObjectRecord
from s3front.xmldocs import XMLResponse

_RETRIES = 5


async def _update_object_tags(ctx: Ctx, tags: Mapping[str, str]) -> ObjectRecord:
    bucket = await ctx.bucket()
    shard = shard_of(ctx.key, bucket.shards)
    for _ in range(_RETRIES):
        rec = await find_object(ctx, bucket, ctx.key)
        new = replace(rec, attrs=with_tags(rec.attrs, tags))
        if await ctx.store.meta.put_object_if(bucket.bucket_id, shard, new, rec):
            return new
    raise errors.SlowDown("The object changed while its tags were being updated; retry.")


def _version_header(rec: ObjectRecord) -> dict[str, str] | None:
    return {"x-amz-version-id": rec.version_id} if rec.version_id != NULL_VERSION else None


async def handle_get_object_tagging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    rec = await find_object(ctx, bucket, ctx.key)
    return XMLResponse(xmldocs.tagging(tags_of(rec.attrs)), headers=_version_header(rec))


async def handle_put_object_tagging(ctx: Ctx) -> Response:
    await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    tags = xml.parse_tagging(body, max_tags=OBJECT_MAX_TAGS)
    rec = await _update_object_tags(ctx, tags)
    return Response(status_code=200, headers=_version_header(rec))


async def handle_delete_object_tagging(ctx: Ctx) -> Response:
    rec = await _update_object_tags(ctx, {})
    return Response(status_code=204, headers=_version_header(rec))


async def handle_get_bucket_tagging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    tags = tags_of(bucket.attrs)
    if not tags:
        raise errors.NoSuchTagSet(BucketName=bucket.name)
    return XMLResponse(xmldocs.tagging(tags))


async def handle_put_bucket_tagging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    tags = xml.parse_tagging(body, max_tags=BUCKET_MAX_TAGS)
    await ctx.store.meta.update_bucket(replace(bucket, attrs=with_tags(bucket.attrs, tags)))
    return Response(status_code=204)


async def handle_delete_bucket_tagging(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    await ctx.store.meta.update_bucket(replace(bucket, attrs=with_tags(bucket.attrs, {})))
    return Response(status_code=204)
