"""Get/PutBucketAcl, Get/PutObjectAcl, and ACL headers on the requests that create things.

The ACL lives in the record's `attrs["acl"]` (see `s3front.access.acl`). PutBucketAcl and
PutObjectAcl take either a canned ACL (x-amz-acl), grant headers (x-amz-grant-*), or an
AccessControlPolicy body; `s3cmd setacl --acl-public` GETs the ACL and PUTs it back with an
AllUsers READ grant added, and `s3cmd cp` PUTs ?acl after every copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.access import acl as acls
from s3front.access import controls, tenants
from s3front.api.context import Ctx
from s3front.api.objects import find_object
from s3front.body import read_all
from s3front.objects.listing import shard_of
from s3front.store.records import NULL_VERSION, BucketRecord
from s3front.xmldocs import XMLResponse

_RETRIES = 5


async def _document(acl: acls.Acl, ctx: Ctx) -> bytes:
    names = await tenants.owner_names(ctx)  # grantees of other tenants by their real names
    return xmldocs.access_control_policy(acl.owner, list(acl.grants), names)


async def _requested(ctx: Ctx, owner: str, bucket: BucketRecord) -> acls.Acl:
    if controls.acls_disabled(bucket.attrs):
        owner = bucket.owner  # it owns every object, also those written before
    acl = await _parsed(ctx, owner, bucket.owner)
    # Ownership controls and the public access block decide whether it may be set at all.
    controls.check_acl_write(bucket.attrs, acl, bucket.owner)
    return acl


async def _parsed(ctx: Ctx, owner: str, bucket_owner: str) -> acls.Acl:
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    from_headers = acls.from_headers(ctx.req, owner, bucket_owner)
    if body.strip():
        if from_headers is not None:
            raise errors.InvalidRequest(
                "Specify an ACL either in headers or in the body, not both."
            )
        parsed = xml.parse_acl(body)
        acl = acls.from_policy(parsed.owner_id, parsed.grants, owner)
        await tenants.check_grantees(ctx.store.keys, acl, bucket_owner, header=False)
        return acl
    if from_headers is None:
        raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
    await tenants.check_grantees(ctx.store.keys, from_headers, bucket_owner, header=True)
    return from_headers


def _effective(acl: acls.Acl, attrs: Mapping[str, str], bucket_owner: str) -> acls.Acl:
    """With ACLs disabled (BucketOwnerEnforced) the bucket owner owns everything and a stored
    ACL grants nothing: report what holds, as S3 does."""
    return acls.private(bucket_owner) if controls.acls_disabled(attrs) else acl


async def handle_get_bucket_acl(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    acl = _effective(acls.acl_of(bucket.attrs, bucket.owner), bucket.attrs, bucket.owner)
    return XMLResponse(await _document(acl, ctx))


async def handle_put_bucket_acl(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    acl = await _requested(ctx, bucket.owner, bucket)
    await ctx.store.meta.update_bucket(replace(bucket, attrs=acls.with_acl(bucket.attrs, acl)))
    return Response(status_code=200)


async def handle_get_object_acl(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    rec = await find_object(ctx, bucket, ctx.key)
    headers = {"x-amz-version-id": rec.version_id} if rec.version_id != NULL_VERSION else None
    acl = _effective(acls.acl_of(rec.attrs, rec.owner), bucket.attrs, bucket.owner)
    return XMLResponse(await _document(acl, ctx), headers=headers)


async def handle_put_object_acl(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    shard = shard_of(ctx.key, bucket.shards)
    rec = await find_object(ctx, bucket, ctx.key)
    acl = await _requested(ctx, rec.owner, bucket)
    for _ in range(_RETRIES):
        new = replace(rec, attrs=acls.with_acl(rec.attrs, replace(acl, owner=rec.owner)))
        # Compare-and-set: an ACL change that races an overwrite must not bring the old
        # object back (the same rule as tagging).
        if await ctx.store.meta.put_object_if(bucket.bucket_id, shard, new, rec):
            headers = (
                {"x-amz-version-id": rec.version_id} if rec.version_id != NULL_VERSION else None
            )
            return Response(status_code=200, headers=headers)
        rec = await find_object(ctx, bucket, ctx.key)
    raise errors.SlowDown("The object changed while its ACL was being updated; retry.")
