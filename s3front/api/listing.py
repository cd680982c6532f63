"""ListObjects (V1), ListObjectsV2, ListObjectVersions and ListMultipartUploads."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.access import tenants
from s3front.api.context import Ctx, owner_names
from s3front.api.continuation import decode_token, encode_token
from s3front.objects.listing import list_objects, list_uploads, list_versions
from s3front.xmldocs import XMLResponse

MAX_KEYS = 1000


def _max_keys(ctx: Ctx, name: str = "max-keys") -> int:
    raw = ctx.req.param(name)
    if raw is None or raw == "":
        return MAX_KEYS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, MAX_KEYS)


def _encoding(ctx: Ctx) -> str:
    enc = ctx.req.param("encoding-type")
    if enc is None or enc == "":
        return ""
    if enc.lower() != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=enc,
        )
    return "url"


@dataclass(frozen=True, slots=True)
class ListParams:
    """The parameters every listing takes (the caller reads its own markers)."""

    prefix: str
    delimiter: str  # an empty delimiter means none
    max_keys: int  # or max-uploads
    encoding: str  # "" or "url"


def _list_params(ctx: Ctx, max_name: str = "max-keys") -> ListParams:
    """Checked in this order: the count, then the encoding (which error a request with both
    wrong gets)."""
    prefix = ctx.req.param("prefix") or ""
    delimiter = ctx.req.param("delimiter") or ""
    max_keys = _max_keys(ctx, max_name)
    return ListParams(prefix, delimiter, max_keys, _encoding(ctx))


async def handle_list_objects(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    marker = ctx.req.param("marker") or ""
    p = _list_params(ctx)
    page = await list_objects(
        ctx.store.meta,
        bucket,
        prefix=p.prefix,
        delimiter=p.delimiter,
        start_after=marker,
        max_keys=p.max_keys,
    )
    return XMLResponse(
        xmldocs.list_objects_v1(
            bucket=bucket.name,
            prefix=p.prefix,
            delimiter=p.delimiter,
            marker=marker,
            max_keys=p.max_keys,
            encoding_type=p.encoding,
            page=page,
            owner_name=await tenants.owner_names(ctx),
        )
    )


async def handle_list_objects_v2(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    token = ctx.req.param("continuation-token")
    start_after = ctx.req.param("start-after") or ""
    p = _list_params(ctx)
    fetch_owner = (ctx.req.param("fetch-owner") or "").lower() == "true"
    position = start_after
    if token is not None:
        position = max(decode_token(token), start_after)
    page = await list_objects(
        ctx.store.meta,
        bucket,
        prefix=p.prefix,
        delimiter=p.delimiter,
        start_after=position,
        max_keys=p.max_keys,
    )
    next_token = encode_token(page.next_marker) if page.is_truncated and page.next_marker else None
    return XMLResponse(
        xmldocs.list_objects_v2(
            bucket=bucket.name,
            prefix=p.prefix,
            delimiter=p.delimiter,
            max_keys=p.max_keys,
            encoding_type=p.encoding,
            page=page,
            continuation_token=token,
            next_continuation_token=next_token,
            start_after=start_after or None,
            fetch_owner=fetch_owner,
            owner_name=await tenants.owner_names(ctx) if fetch_owner else owner_names(ctx),
        )
    )


async def handle_list_object_versions(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    key_marker = ctx.req.param("key-marker") or ""
    version_marker = ctx.req.param("version-id-marker") or ""
    if version_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version_marker,
        )
    p = _list_params(ctx)
    page = await list_versions(
        ctx.store.meta,
        bucket,
        prefix=p.prefix,
        delimiter=p.delimiter,
        key_marker=key_marker,
        version_id_marker=version_marker,
        max_keys=p.max_keys,
    )
    return XMLResponse(
        xmldocs.list_object_versions(
            bucket=bucket.name,
            prefix=p.prefix,
            delimiter=p.delimiter,
            key_marker=key_marker,
            version_id_marker=version_marker,
            max_keys=p.max_keys,
            encoding_type=p.encoding,
            page=page,
            owner_name=await tenants.owner_names(ctx),
        )
    )


async def handle_list_multipart_uploads(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    key_marker = ctx.req.param("key-marker") or ""
    upload_marker = ctx.req.param("upload-id-marker") or ""
    p = _list_params(ctx, "max-uploads")
    page = await list_uploads(
        ctx.store.meta,
        bucket,
        prefix=p.prefix,
        delimiter=p.delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_marker,
        max_uploads=p.max_keys,
    )
    return XMLResponse(
        xmldocs.list_multipart_uploads(
            bucket=bucket.name,
            prefix=p.prefix,
            delimiter=p.delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_marker,
            max_uploads=p.max_keys,
            encoding_type=p.encoding,
            page=page,
            owner_name=await tenants.owner_names(ctx),
        )
    )
