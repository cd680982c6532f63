"""Put/Get/DeleteBucketOwnershipControls and x-amz-object-ownership on CreateBucket.

The setting (`s3front.access.controls`): BucketOwnerEnforced disables ACLs (setting one gets
400 AccessControlListNotSupported, stored ones grant nothing, the bucket owner owns every
object); BucketOwnerPreferred gives the bucket owner the objects written with the
bucket-owner-full-control canned ACL; ObjectWriter (and no setting) leaves them to the writer.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml
from s3front.access import acl as acls
from s3front.access import controls
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.request import S3Request
from s3front.store.records import BucketRecord
from s3front.xmldocs import XMLResponse

HEADER = "x-amz-object-ownership"


def parse_ownership_controls(body: bytes) -> str:
    """`<OwnershipControls><Rule><ObjectOwnership>...` with exactly one rule."""
    root = xml.parse(body)
    if xml.local_name(root) != "OwnershipControls":
        raise errors.MalformedXML()
    rules = [el for el in root if xml.local_name(el)]
    if len(rules) != 1 or xml.local_name(rules[0]) != "Rule":
        raise errors.MalformedXML()
    fields = [el for el in rules[0] if xml.local_name(el)]
    if len(fields) != 1 or xml.local_name(fields[0]) != "ObjectOwnership":
        raise errors.MalformedXML()
    value = (fields[0].text or "").strip()
    if value not in controls.OWNERSHIPS:
        raise errors.MalformedXML()
    return value


def requested_ownership(req: S3Request) -> str | None:
    """The x-amz-object-ownership header of a CreateBucket, checked; None when absent."""
    if HEADER not in req.headers:
        return None
    value = req.headers[HEADER].strip()
    if value not in controls.OWNERSHIPS:
        raise errors.InvalidArgument(
            f"Invalid {HEADER} header: {value}", ArgumentName=HEADER, ArgumentValue=value
        )
    return value


def check_bucket_acl(ownership: str | None, acl: acls.Acl, bucket_owner: str) -> None:
    """ACLs disabled and an ACL that grants more than the owner's full control: refused, as
    S3 refuses it on CreateBucket and on PutBucketOwnershipControls."""
    if ownership == controls.BUCKET_OWNER_ENFORCED and not controls.is_owner_only_acl(
        acl, bucket_owner
    ):
        raise errors.InvalidBucketAclWithObjectOwnership()


async def handle_put_bucket_ownership_controls(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    ownership = parse_ownership_controls(body)
    check_bucket_acl(ownership, acls.acl_of(bucket.attrs, bucket.owner), bucket.owner)
    await ctx.store.meta.update_bucket(with_ownership(bucket, ownership))
    return Response(status_code=200)


def with_ownership(bucket: BucketRecord, ownership: str) -> BucketRecord:
    attrs = dict(bucket.attrs)
    attrs[controls.OWNERSHIP_ATTR] = ownership
    return replace(bucket, attrs=attrs)


async def handle_get_bucket_ownership_controls(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    ownership = bucket.attrs.get(controls.OWNERSHIP_ATTR)
    if not ownership:
        raise errors.OwnershipControlsNotFoundError(BucketName=bucket.name)
    root = xml.element("OwnershipControls")
    rule = xml.sub(root, "Rule")
    xml.sub(rule, "ObjectOwnership", ownership)
    return XMLResponse(xml.to_bytes(root))


async def handle_delete_bucket_ownership_controls(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if controls.OWNERSHIP_ATTR in bucket.attrs:
        attrs = {k: v for k, v in bucket.attrs.items() if k != controls.OWNERSHIP_ATTR}
        await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)
