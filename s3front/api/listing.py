"""ListObjects (V1), ListObjectsV2, ListObjectVersions and ListMultipartUploads."""

from __future__ import annotations

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.api.buckets import xml_response
from s3front.api.context import Ctx, owner_names
from s3front.api.continuation import decode_token, encode_token
from s3front.objects.listing import list_objects, list_uploads, list_versions

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


async def handle_list_objects(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    prefix = ctx.req.param("prefix") or ""
    delimiter = ctx.req.param("delimiter") or ""  # an empty delimiter means none
    marker = ctx.req.param("marker") or ""
    max_keys = _max_keys(ctx)
    encoding = _encoding(ctx)
    page = await list_objects(
        ctx.store.meta,
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        start_after=marker,
        max_keys=max_keys,
    )
    return xml_response(
        xmldocs.list_objects_v1(
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            max_keys=max_keys,
            encoding_type=encoding,
            page=page,
            owner_name=owner_names(ctx),
        )
    )


async def handle_list_objects_v2(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    prefix = ctx.req.param("prefix") or ""
    delimiter = ctx.req.param("delimiter") or ""
    token = ctx.req.param("continuation-token")
    start_after = ctx.req.param("start-after") or ""
    max_keys = _max_keys(ctx)
    encoding = _encoding(ctx)
    fetch_owner = (ctx.req.param("fetch-owner") or "").lower() == "true"
    position = start_after
    if token is not None:
        position = max(decode_token(token), start_after)
    page = await list_objects(
        ctx.store.meta,
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        start_after=position,
        max_keys=max_keys,
    )
    next_token = encode_token(page.next_marker) if page.is_truncated and page.next_marker else None
    return xml_response(
        xmldocs.list_objects_v2(
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            encoding_type=encoding,
            page=page,
            continuation_token=token,
            next_continuation_token=next_token,
            start_after=start_after or None,
            fetch_owner=fetch_owner,
            owner_name=owner_names(ctx),
        )
    )


async def handle_list_object_versions(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    prefix = ctx.req.param("prefix") or ""
    delimiter = ctx.req.param("delimiter") or ""
    key_marker = ctx.req.param("key-marker") or ""
    version_marker = ctx.req.param("version-id-marker") or ""
    if version_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version_marker,
        )
    max_keys = _max_keys(ctx)
    encoding = _encoding(ctx)
    page = await list_versions(
        ctx.store.meta,
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_id_marker=version_marker,
        max_keys=max_keys,
    )
    return xml_response(
        xmldocs.list_object_versions(
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_marker,
            max_keys=max_keys,
            encoding_type=encoding,
            page=page,
            owner_name=owner_names(ctx),
        )
    )


async def handle_list_multipart_uploads(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    prefix = ctx.req.param("prefix") or ""
    delimiter = ctx.req.param("delimiter") or ""
    key_marker = ctx.req.param("key-marker") or ""
    upload_marker = ctx.req.param("upload-id-marker") or ""
    max_uploads = _max_keys(ctx, "max-uploads")
    encoding = _encoding(ctx)
    page = await list_uploads(
        ctx.store.meta,
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        upload_id_marker=upload_marker,
        max_uploads=max_uploads,
    )
    return xml_response(
        xmldocs.list_multipart_uploads(
            bucket=bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_marker,
            max_uploads=max_uploads,
            encoding_type=encoding,
            page=page,
            owner_name=owner_names(ctx),
        )
    )
