"""Put/Get/DeleteBucketLifecycleConfiguration, and the lifecycle response headers.

The rules live in the bucket's `attrs["lifecycle"]` (JSON, `s3front.objects.lifecycle`); the
worker that applies them is `s3front.lifecycle_worker`. PutBucketLifecycleConfiguration needs
an integrity header (Content-MD5 or an x-amz-checksum-*), as AWS requires.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3front import errors
from s3front.api import integrity
from s3front.api.context import Ctx
from s3front.api.tagging_attrs import tags_of
from s3front.objects import lifecycle
from s3front.store.records import BucketRecord, ObjectRecord
from s3front.xmldocs import XMLResponse


async def handle_put_bucket_lifecycle(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await integrity.required_document(ctx.req, ctx.body, ctx.settings.max_xml_body)
    rules = lifecycle.parse_configuration(body)
    attrs = dict(bucket.attrs)
    attrs[lifecycle.ATTR] = lifecycle.dumps(rules)
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_bucket_lifecycle(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    rules = lifecycle.rules_of(bucket.attrs)
    if not rules:
        raise errors.NoSuchLifecycleConfiguration(BucketName=bucket.name)
    return XMLResponse(lifecycle.to_document(rules))


async def handle_delete_bucket_lifecycle(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if lifecycle.ATTR in bucket.attrs:
        attrs = {k: v for k, v in bucket.attrs.items() if k != lifecycle.ATTR}
        await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


def expiration_headers(ctx: Ctx, bucket: BucketRecord, rec: ObjectRecord) -> dict[str, str]:
    """x-amz-expiration for the current version `rec` (empty when no rule expires it)."""
    rules = lifecycle.rules_of(bucket.attrs)
    if not rules or rec.delete_marker:
        return {}
    day_ms = int(ctx.settings.lifecycle_day_seconds * 1000)
    found = lifecycle.expiration(
        rules, rec.key, rec.size, tags_of(rec.attrs), rec.last_modified_ms, day_ms
    )
    if found is None:
        return {}
    return {"x-amz-expiration": lifecycle.expiration_header(*found)}


def abort_headers(ctx: Ctx, bucket: BucketRecord, key: str, initiated_ms: int) -> dict[str, str]:
    """x-amz-abort-date and x-amz-abort-rule-id for a multipart upload of `key`."""
    rules = lifecycle.rules_of(bucket.attrs)
    day_ms = int(ctx.settings.lifecycle_day_seconds * 1000)
    found = lifecycle.abort_date(rules, key, initiated_ms, day_ms) if rules else None
    if found is None:
        return {}
    return {"x-amz-abort-date": lifecycle.http_date(found[0]), "x-amz-abort-rule-id": found[1]}
