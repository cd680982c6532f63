"""Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

The policy is kept verbatim in the bucket's `attrs["policy"]` (GetBucketPolicy returns the
document as it was put) after `s3front.access.policy.parse` has accepted it. Only the bucket
owner may read or change it (`authorize` enforces that whatever the policy says).
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.access import controls
from s3front.access import policy as policies
from s3front.api.buckets import xml_response
from s3front.api.context import Ctx
from s3front.body import read_all


async def handle_put_bucket_policy(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, policies.MAX_POLICY_BYTES + 1)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.MalformedPolicy("This policy contains invalid Json") from None
    parsed = policies.parse(text, bucket.name)
    if controls.pab_of(bucket.attrs).block_public_policy and controls.is_public_policy(parsed):
        # BlockPublicPolicy: S3 refuses a public policy with 403 AccessDenied.
        raise errors.AccessDenied()
    attrs = dict(bucket.attrs)
    attrs["policy"] = text
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


async def handle_get_bucket_policy(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    text = bucket.attrs.get("policy")
    if not text:
        raise errors.NoSuchBucketPolicy(BucketName=bucket.name)
    return Response(text.encode("utf-8"), media_type="application/json")


async def handle_delete_bucket_policy(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if "policy" in bucket.attrs:
        attrs = {k: v for k, v in bucket.attrs.items() if k != "policy"}
        await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


async def handle_get_bucket_policy_status(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    text = bucket.attrs.get("policy")
    if not text:
        raise errors.NoSuchBucketPolicy(BucketName=bucket.name)
    policy = policies.parse_cached(text, bucket.name)
    public = controls.is_public_policy(policy)
    doc = xmldocs.simple_document("PolicyStatus", (("IsPublic", "true" if public else "false"),))
    return xml_response(doc)
