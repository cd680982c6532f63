"""Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.access import acl as acls
from s3front.access import tenants
from s3front.api import ownership
from s3front.api.context import Ctx, owner_names
from s3front.api.continuation import decode_token, encode_token
from s3front.body import read_all
from s3front.clock import now_ms
from s3front.keys import tenant_id
from s3front.objects import bucket_deletion
from s3front.objects.lock import BUCKET_ATTR as OBJECT_LOCK_ATTR
from s3front.store.records import BucketRecord, OwnerBucket
from s3front.xmldocs import XMLResponse

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def check_bucket_name(name: str) -> None:
    """S3's rules for new bucket names (general purpose buckets)."""
    ok = bool(_NAME.match(name)) and ".." not in name and ".-" not in name and "-." not in name
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False  # formatted like an IP address
        except ValueError:
            pass
    if ok and (name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3"))):
        ok = False
    if not ok:
        raise errors.InvalidBucketName(BucketName=name)


# ListBuckets' max-buckets range (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html).
_MAX_BUCKETS = 10000


async def handle_list_buckets(ctx: Ctx) -> Response:
    """ListBuckets, paginated as AWS does since 2024: `prefix`, `bucket-region`,
    `max-buckets` (1-10000; without it every bucket) and an opaque `continuation-token`,
    returned when more buckets follow."""
    tenant = ctx.tenant
    prefix = ctx.req.param("prefix") or ""
    region = ctx.req.param("bucket-region")
    token = ctx.req.param("continuation-token")
    after = decode_token(token) if token else ""
    limit = _max_buckets(ctx.req.param("max-buckets"))
    rows = [
        row
        for row in await ctx.store.meta.list_owner_buckets(tenant)
        if row.name > after and row.name.startswith(prefix)
    ]
    if region is not None and region != ctx.settings.region:
        rows = []  # every bucket of this server is in its one region
    rows.sort(key=lambda row: row.name)
    more = limit is not None and len(rows) > limit
    page = rows[:limit] if limit is not None else rows
    doc = xmldocs.list_all_my_buckets(
        tenant,
        page,
        owner_names(ctx),
        region=ctx.settings.region,
        continuation=encode_token(page[-1].name) if more else None,
        prefix=ctx.req.param("prefix"),
    )
    return XMLResponse(doc)


def _max_buckets(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_BUCKETS:
        raise errors.InvalidArgument(
            f"max-buckets must be an integer between 1 and {_MAX_BUCKETS}",
            ArgumentName="max-buckets",
            ArgumentValue=raw,
        )
    return int(raw)


async def handle_create_bucket(ctx: Ctx) -> Response:
    """CreateBucket. x-amz-acl / x-amz-grant-* and x-amz-object-ownership are checked before
    anything is written, and go into the new bucket's record: one write makes the bucket, so it
    is never seen without its ACL."""
    tenant = ctx.tenant
    expected = ctx.req.header("x-amz-expected-bucket-owner").strip()
    if expected and tenant_id(expected) != tenant:
        raise errors.AccessDenied()  # the new bucket's owner would be someone else
    requested = acls.from_headers(ctx.req, tenant, tenant)
    wanted = ownership.requested_ownership(ctx.req)
    if requested is not None:
        ownership.check_bucket_acl(wanted, requested, tenant)
        await tenants.check_grantees(ctx.store.keys, requested, tenant, header=True)
    name = ctx.bucket_name
    check_bucket_name(name)
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    location = xml.parse_create_bucket(body) if body.strip() else None
    # Be lenient with us-east-1: s3fs sends it explicitly, which AWS itself rejects.
    if location not in (None, "", ctx.settings.region, "us-east-1"):
        raise errors.InvalidLocationConstraint(LocationConstraint=location or "")
    created = now_ms()
    locked = _object_lock_requested(ctx)
    # x-amz-object-ownership was checked above (`ownership.requested_ownership`).
    object_ownership = ctx.req.header("x-amz-object-ownership").strip()
    attrs = {
        **({OBJECT_LOCK_ATTR: ""} if locked else {}),
        **({"ownership": object_ownership} if object_ownership else {}),
    }
    rec = BucketRecord(
        name=name,
        bucket_id=uuid.uuid4().hex,
        owner=tenant,
        created_ms=created,
        region=ctx.settings.region,
        shards=ctx.settings.bucket_shards,
        # Object lock is on from the first write, with versioning that can never be suspended.
        versioning="Enabled" if locked else "",
        attrs=acls.with_acl(attrs, requested) if requested is not None else attrs,
    )
    if not await ctx.store.meta.insert_bucket(rec):
        existing = await ctx.store.meta.get_bucket(name)
        if existing is not None and existing.owner == tenant:
            # Repair a by-owner row a crash may have lost between the two writes.
            await ctx.store.meta.put_owner_bucket(OwnerBucket(tenant, name, existing.created_ms))
            # AWS answers 200 in us-east-1 (legacy behaviour, its CreateBucket docs) and 409
            # BucketAlreadyOwnedByYou elsewhere; MinIO always sends the 409. The bucket, its ACL
            # and settings are left as they are either way.
            if ctx.settings.region == "us-east-1":
                if requested is not None:  # the re-create sets the ACL it names, as before
                    attrs = acls.with_acl(existing.attrs, requested)
                    await ctx.store.meta.update_bucket(replace(existing, attrs=attrs))
                return Response(status_code=200, headers={"location": f"/{name}"})
            raise errors.BucketAlreadyOwnedByYou(BucketName=name)
        raise errors.BucketAlreadyExists(BucketName=name)
    await ctx.store.meta.put_owner_bucket(OwnerBucket(tenant, name, created))
    return Response(status_code=200, headers={"location": f"/{name}"})


def _object_lock_requested(ctx: Ctx) -> bool:
    """x-amz-bucket-object-lock-enabled: "true" or "false" (what SDKs send); anything else is
    refused rather than read as either."""
    value = ctx.req.headers.get("x-amz-bucket-object-lock-enabled")
    if value is None or value.strip().lower() == "false":
        return False
    if value.strip().lower() == "true":
        return True
    raise errors.InvalidArgument(
        "x-amz-bucket-object-lock-enabled must be true or false.",
        ArgumentName="x-amz-bucket-object-lock-enabled",
        ArgumentValue=value,
    )


async def handle_delete_bucket(ctx: Ctx) -> Response:
    # Race-free against object writes in flight: see s3front.objects.bucket_deletion.
    await bucket_deletion.delete_bucket(ctx.store.meta, await ctx.bucket())
    return Response(status_code=204)


async def handle_head_bucket(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    return Response(status_code=200, headers={"x-amz-bucket-region": bucket.region})


async def handle_get_bucket_location(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    return XMLResponse(xmldocs.location_constraint(bucket.region))
