"""Put/Get/DeletePublicAccessBlock: the four flags of `s3front.access.controls`.

The flags are enforced where the decisions are made: BlockPublicAcls where an ACL is set
(`controls.check_acl_write`), IgnorePublicAcls and RestrictPublicBuckets in
`s3front.access.authorize`, BlockPublicPolicy in PutBucketPolicy (`s3front.api.policy`).
"""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import Response

from s3front import errors, xml, xmldocs
from s3front.access import controls
from s3front.api.context import Ctx
from s3front.body import read_all
from s3front.xmldocs import XMLResponse


def parse_public_access_block(body: bytes) -> controls.PublicAccessBlock:
    """A PublicAccessBlockConfiguration document; a flag left out is false, as in S3."""
    root = xml.parse(body)
    if xml.local_name(root) != "PublicAccessBlockConfiguration":
        raise errors.MalformedXML()
    flags: dict[str, bool] = {}
    for el in root:
        name = xml.local_name(el)
        if not name:
            continue
        value = (el.text or "").strip().lower()
        if name not in controls.PAB_FLAGS or name in flags or value not in ("true", "false"):
            raise errors.MalformedXML()
        flags[name] = value == "true"
    return controls.pab_from_flags(flags)


async def handle_put_public_access_block(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    pab = parse_public_access_block(body)
    attrs = dict(bucket.attrs)
    attrs[controls.PAB_ATTR] = controls.pab_json(pab)
    await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=200)


async def handle_get_public_access_block(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if controls.PAB_ATTR not in bucket.attrs:
        raise errors.NoSuchPublicAccessBlockConfiguration(BucketName=bucket.name)
    flags = controls.pab_of(bucket.attrs).flags()
    children = tuple((name, "true" if on else "false") for name, on in flags.items())
    return XMLResponse(xmldocs.simple_document("PublicAccessBlockConfiguration", children))


async def handle_delete_public_access_block(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    if controls.PAB_ATTR in bucket.attrs:
        attrs = {k: v for k, v in bucket.attrs.items() if k != controls.PAB_ATTR}
        await ctx.store.meta.update_bucket(replace(bucket, attrs=attrs))
    return Response(status_code=204)
