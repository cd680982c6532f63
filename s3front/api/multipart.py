"""Multipart uploads: Create, UploadPart, Complete, Abort, ListParts.

Each part is written as its own manifest; completion writes one manifest whose entries point at
the part manifests, then the object row. No data moves: completing 10 GiB is a metadata write
of O(parts) rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from starlette.responses import Response

from s3front import checksums, errors, xml, xmldocs
from s3front.access import tenants
from s3front.access.acl import attrs_with_request_acl
from s3front.api import integrity, lock_headers, sse
from s3front.api import lifecycle as lifecycle_headers
from s3front.api.access_hooks import writer
from s3front.api.context import Ctx
from s3front.api.headers import stored_headers
from s3front.api.tagging_attrs import parse_tagging_header, with_tags
from s3front.body import read_all
from s3front.checksums import COMPOSITE
from s3front.clock import now_ms
from s3front.objects import completions, mp_checksums
from s3front.objects.commit import new_version
from s3front.objects.encryption import sealing_of, with_sealing
from s3front.objects.intents import WriteIntent
from s3front.objects.limits import MAX_OBJECT_SIZE, MAX_PART_NUMBER
from s3front.objects.manifest_ids import new_manifest_id
from s3front.objects.multipart import assemble, write_assembly
from s3front.objects.writer import write_object_data
from s3front.store.records import BucketRecord, ObjectRecord, PartRecord, UploadRecord
from s3front.xmldocs import XMLResponse


async def handle_create_multipart_upload(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    alg = ctx.req.header("x-amz-checksum-algorithm")
    algorithm = checksums.parse_algorithm(alg) if alg else ""
    checksum_type = mp_checksums.upload_type(algorithm, ctx.req.header("x-amz-checksum-type"))
    # One data key per upload: every part is sealed under it (SSE-C: the same customer key
    # must come with every part, or the part is refused).
    sealed = await sse.begin_for(ctx, sse.requested(ctx.req, bucket.attrs))
    attrs = attrs_with_request_acl(
        ctx.req,
        with_tags(
            # Explicit lock headers now; the default retention when the upload completes.
            lock_headers.requested_attrs(ctx.req.headers.get, bucket, now_ms(), defaults=False),
            parse_tagging_header(ctx.req.header("x-amz-tagging")),
        ),
        writer(ctx, bucket),
        bucket.owner,
    )
    rec = UploadRecord(
        key=ctx.key,
        # Unguessable (an upload id grants part writes), and hex: a base64url id may start
        # with "-", which the AWS CLI then parses as an option (`--upload-id -abc`).
        upload_id=secrets.token_hex(24),
        initiated_ms=now_ms(),
        owner=writer(ctx, bucket),
        headers=stored_headers(ctx.req),
        # The ACL asked for here is carried to the completed object with the other attrs,
        # and so is the upload's wrapped data key.
        attrs=with_sealing(attrs, sealed.sealing if sealed else None)
        | ({mp_checksums.TYPE_ATTR: checksum_type} if checksum_type else {}),
        checksum_algorithm=algorithm,
    )
    await ctx.store.meta.put_upload(bucket.bucket_id, rec)
    headers = lifecycle_headers.abort_headers(ctx, bucket, rec.key, rec.initiated_ms)
    if rec.checksum_algorithm:
        headers["x-amz-checksum-algorithm"] = rec.checksum_algorithm
        headers["x-amz-checksum-type"] = checksum_type
    headers.update(sse.response_headers(sealed))
    return XMLResponse(
        xmldocs.initiate_multipart_upload(bucket.name, rec.key, rec.upload_id), headers=headers
    )


async def _upload(ctx: Ctx, bucket: BucketRecord) -> UploadRecord:
    upload_id = ctx.req.param("uploadId") or ""
    rec = await ctx.store.meta.get_upload(bucket.bucket_id, ctx.key, upload_id)
    if rec is None:
        raise errors.NoSuchUpload(UploadId=upload_id)
    return rec


def _part_number(ctx: Ctx) -> int:
    raw = ctx.req.param("partNumber") or ""
    # isascii: str.isdigit() admits "²", which int() refuses; the length bounds int()'s work.
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > 10
        or not 1 <= int(raw) <= MAX_PART_NUMBER
    ):
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    return int(raw)


async def handle_upload_part(ctx: Ctx) -> Response:
    # The intent keeps GC off the part's blocks until its part row is written.
    async with WriteIntent(ctx.store.meta) as intent:
        return await _upload_part(ctx, intent)


async def _upload_part(ctx: Ctx, intent: WriteIntent) -> Response:
    bucket = await ctx.bucket()
    number = _part_number(ctx)
    upload = await _upload(ctx, bucket)
    if ctx.body.length is not None and ctx.body.length > MAX_OBJECT_SIZE:
        raise errors.EntityTooLarge(MaxSizeAllowed=str(MAX_OBJECT_SIZE))
    exp = integrity.expected(ctx.req, default_algorithm=upload.checksum_algorithm)
    if lock_headers.has_lock_attrs(upload.attrs):
        lock_headers.check_put_integrity(exp)  # AWS: required once lock parameters are set
    opened = await sse.open_for(ctx, sealing_of(upload.attrs))
    result = await write_object_data(
        ctx.store.blocks,
        ctx.store.meta,
        aiter(ctx.body),
        block_size=ctx.settings.block_size,
        inline_limit=-1,  # parts are always manifests: completion points at them
        algorithms=exp.algorithms,
        expected_length=ctx.body.length,
        intent=intent,
        payload_sha256=lambda: ctx.body.sha256,
        cipher=opened.cipher if opened else None,
    )
    checksums = integrity.verify(exp, result.md5, result.checksums, ctx.body.trailers)
    manifest_id = result.manifest_id or new_manifest_id()  # defensive: the writer always gives one
    part = PartRecord(
        part_number=number,
        size=result.size,
        etag=sse.etag(opened, result.md5),
        last_modified_ms=now_ms(),
        manifest_id=manifest_id,
        checksums=checksums,
    )
    await ctx.store.meta.put_part(upload.upload_id, part)
    out = {"etag": f'"{part.etag}"'}
    for alg, value in checksums.items():
        out[integrity.header_name(alg)] = value
    out.update(sse.response_headers(opened))
    return Response(status_code=200, headers=out)


async def handle_complete_multipart_upload(ctx: Ctx) -> Response:
    # The intent keeps GC off the new manifest until the object row is written.
    async with WriteIntent(ctx.store.meta) as intent:
        return await _complete_multipart_upload(ctx, intent)


async def _complete_multipart_upload(ctx: Ctx, intent: WriteIntent) -> Response:
    bucket = await ctx.bucket()
    upload_id = ctx.req.param("uploadId") or ""
    upload = await ctx.store.meta.get_upload(bucket.bucket_id, ctx.key, upload_id)
    body = await read_all(ctx.body, ctx.settings.max_xml_body)
    requested = xml.parse_complete_multipart(body)
    named = [(p.part_number, p.etag) for p in requested]
    if upload is None:
        # Gone: completed already (a retry after a lost response gets the same answer) or not.
        return await _replayed(ctx, bucket, upload_id, named)
    parts = await ctx.store.meta.list_parts(upload.upload_id)
    algorithm = upload.checksum_algorithm
    checksum_type = mp_checksums.type_of(upload.attrs, algorithm)
    assembly = assemble(
        parts,
        named,
        checksum_algorithm=algorithm,
        checksum_type=checksum_type or COMPOSITE,
        requested_checksums={p.part_number: p.checksums for p in requested if p.checksums},
    )
    # The object checksum the client names (its own count over the bytes it sent) must be the
    # one the parts give, before anything is written.
    mp_checksums.verify_complete(ctx.req.headers, algorithm, checksum_type, assembly.checksums)
    manifest_id = await write_assembly(ctx.store.meta, assembly, intent)
    # The part rows keep the part manifests until the object row does; a completion or abort
    # that won meanwhile has deleted them, so re-read the upload after the manifest that now
    # reaches them is written (the argument is in s3front.objects.gc).
    if await ctx.store.meta.get_upload(bucket.bucket_id, upload.key, upload.upload_id) is None:
        # A completion of the same parts that won (this request may be its client's retry)
        # answers for both; the manifest written here is left to GC.
        return await _replayed(ctx, bucket, upload_id, named)
    seq, version_id = new_version(bucket)
    rec = ObjectRecord(
        key=upload.key,
        seq=seq,
        version_id=version_id,
        size=assembly.size,
        etag=assembly.etag,
        last_modified_ms=now_ms(),
        owner=upload.owner,
        manifest_id=manifest_id,
        headers=upload.headers,
        checksums=assembly.checksums,
        parts=len(requested),
        attrs=lock_headers.with_default_retention(
            bucket,
            mp_checksums.object_attrs(upload.attrs, algorithm, assembly.part_checksums),
            now_ms(),
        ),
    )
    rec = await ctx.commit(bucket, rec)
    headers = lifecycle_headers.expiration_headers(ctx, bucket, rec)
    if bucket.versioning:
        headers["x-amz-version-id"] = rec.version_id
    sealing = sealing_of(upload.attrs)
    headers.update(sse.response_headers(None, sealing=sealing, region=ctx.settings.region))
    if ctx.settings.completion_retention > 0:
        # Before the upload row goes: a retry that finds no upload then finds this.
        kept = completions.record(
            key=rec.key,
            upload_id=upload.upload_id,
            requested=named,
            etag=rec.etag,
            version_id=rec.version_id,
            checksums=rec.checksums,
            headers=headers,
            now_ms=now_ms(),
            retention_seconds=ctx.settings.completion_retention,
        )
        await ctx.store.meta.put_completion(bucket.bucket_id, kept)
    # The part manifests now belong to the object; the part rows and the upload go.
    await ctx.store.meta.delete_upload(bucket.bucket_id, upload.key, upload.upload_id)
    await ctx.store.meta.delete_parts(upload.upload_id)
    return _completed(ctx, bucket.name, rec.key, rec.etag, rec.checksums, headers)


async def _replayed(
    ctx: Ctx, bucket: BucketRecord, upload_id: str, named: list[tuple[int, str]]
) -> Response:
    """The kept answer of this upload's completion with the same parts; else NoSuchUpload."""
    kept = await completions.replay(ctx.store.meta, bucket.bucket_id, ctx.key, upload_id, named)
    if kept is None:
        raise errors.NoSuchUpload(UploadId=upload_id)
    return _completed(ctx, bucket.name, kept.key, kept.etag, kept.checksums, kept.headers)


def _completed(
    ctx: Ctx,
    bucket_name: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str],
    headers: Mapping[str, str],
) -> Response:
    location = f"{ctx.req.scheme}://{ctx.req.headers.get('host', '')}/{bucket_name}/{key}"
    return XMLResponse(
        xmldocs.complete_multipart_upload(location, bucket_name, key, etag, checksums),
        headers=dict(headers),
    )


async def handle_abort_multipart_upload(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    upload = await _upload(ctx, bucket)
    await ctx.store.meta.delete_upload(bucket.bucket_id, upload.key, upload.upload_id)
    await ctx.store.meta.delete_parts(upload.upload_id)
    return Response(status_code=204)


def _int_param(ctx: Ctx, name: str, default: int, maximum: int) -> int:
    raw = ctx.req.param(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise errors.InvalidArgument(
            f"{name} must be a non-negative integer", ArgumentName=name, ArgumentValue=raw
        )
    return min(int(raw), maximum) if len(raw) <= 18 else maximum


async def handle_list_parts(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    upload = await _upload(ctx, bucket)
    max_parts = _int_param(ctx, "max-parts", 1000, 1000)
    marker = _int_param(ctx, "part-number-marker", 0, MAX_PART_NUMBER)
    parts = await ctx.store.meta.list_parts(upload.upload_id, after=marker, limit=max_parts + 1)
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    return XMLResponse(
        xmldocs.list_parts(
            bucket=bucket.name,
            upload=upload,
            parts=parts,
            part_number_marker=marker,
            next_part_number_marker=parts[-1].part_number if truncated and parts else None,
            max_parts=max_parts,
            is_truncated=truncated,
            owner_name=await tenants.owner_names(ctx),
            checksum_type=mp_checksums.type_of(upload.attrs, upload.checksum_algorithm),
        ),
        headers=lifecycle_headers.abort_headers(ctx, bucket, upload.key, upload.initiated_ms),
    )
