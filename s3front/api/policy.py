"""Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

The policy is kept verbatim in the bucket's `attrs["policy"]` (GetBucketPolicy returns the
document as it was put) after `s3front.access.policy.parse` has accepted it. Only the bucket
owner may read or change it (`authorize` enforces that whatever the policy says). A policy
naming an IAM user (`arn:aws:iam::<tenant>:user/<name>`) is accepted only when that user exists.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.access import controls
from s3front.access import policy as policies
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.keys import tenant_id
from s3front.xmldocs import XMLResponse


async def handle_put_bucket_policy(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, policies.MAX_POLICY_BYTES + 1)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.MalformedPolicy("This policy contains invalid Json") from None
    policy = policies.parse(text, bucket.name)
    if policy.users:
        await _check_users(ctx, policy.users)
    if controls.pab_of(bucket.attrs).block_public_policy and controls.is_public_policy(policy):
        # BlockPublicPolicy: S3 refuses a public policy with 403 AccessDenied.
        raise errors.AccessDenied()
    attrs = dict(bucket.attrs)
    attrs["policy"] = text
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)


async def _check_users(ctx: Ctx, users: frozenset[tuple[str, str]]) -> None:
    """MalformedPolicy unless every IAM user the policy names exists (a key of the tenant with
    that display name), as AWS refuses a principal it does not know: a Deny naming a user
    that cannot exist would be stored and never apply."""
    known = {(tenant_id(k.tenant), k.display_name) for k in await ctx.store.keys.list_keys()}
    if not users <= known:
        raise errors.MalformedPolicy("Invalid principal in policy")


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
    return XMLResponse(doc)
