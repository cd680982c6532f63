"""CopyObject and UploadPartCopy.

No data moves for a copy (DESIGN.md section 2). A manifest-backed source is copied by writing a
FRESH manifest with one child entry that stands for the whole source manifest, then the new
object row; inline and empty sources carry their bytes (or none) in the row itself. A part copy
of a whole single-PUT source does the same for the part's manifest; a ranged part copy (or one
whose ETag must be computed: the source is multipart) streams the range through the writer,
which stores no block twice anyway (blocks are content-addressed).

Why the copy writes a fresh manifest rather than pointing the new row at the source's manifest:
manifests have no reference counts, GC finds what is live by marking from rows. A fresh manifest
is stamped with its creation time (`objects.manifest_ids`), and GC keeps every young manifest as
a root -- young meaning stamped at or after the oldest live write intent's start, and the copy
holds an intent (`objects.intents`) from before the fresh manifest until its row is written.
That, plus re-reading the source row after writing the fresh manifest, closes the race with a
concurrent delete of the source and a GC pass, at any grace period -- see `_pin_source`.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.access.acl import attrs_with_request_acl
from s3front.api import conditions, lock_headers, sse
from s3front.api import lifecycle as lifecycle_headers
from s3front.api.access_hooks import authorize_read, writer
from s3front.api.context import Ctx
from s3front.api.headers import stored_headers
from s3front.api.multipart import _part_number, _upload
from s3front.api.tagging_attrs import parse_tagging_header, tags_of, with_tags
from s3front.checksums import COMPOSITE
from s3front.clock import now_ms
from s3front.objects import versions
from s3front.objects.commit import new_version
from s3front.objects.encryption import SSE_S3, sealing_of, with_sealing
from s3front.objects.intents import WriteIntent
from s3front.objects.keys import shard_of
from s3front.objects.limits import MAX_OBJECT_SIZE
from s3front.objects.manifest_ids import new_manifest_id
from s3front.objects.ranges import offset
from s3front.objects.reader import read_object
from s3front.objects.writer import write_object_data
from s3front.store.bucket_cache import bucket_for_objects
from s3front.store.records import (
    BucketRecord,
    ManifestEntry,
    ObjectRecord,
    PartRecord,
    UploadRecord,
)
from s3front.xmldocs import XMLResponse

# Jitter only. A generator of our own leaves the global `random` state to its other users.
_rng = random.Random()

_PREFIX = "x-amz-copy-source-"
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")
_RANGE_MESSAGE = (
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
    "last are the zero-based offsets of the first and last bytes to copy"
)
_SELF_COPY_MESSAGE = (
    "This copy request is illegal because it is trying to copy an object to itself without "
    "changing the object's metadata, storage class, website redirect location or encryption "
    "attributes."
)


@dataclass(frozen=True, slots=True)
class Source:
    bucket: BucketRecord
    rec: ObjectRecord
    version_id: str | None  # as named in the header, None for "the current version"


# A copy whose source is overwritten while it pins it starts over; it gives up (SlowDown) after
# this long. Each attempt loses only to an overwrite landing inside one manifest write.
_PIN_PATIENCE_SECONDS = 10.0
_PIN_PAUSE_SECONDS = 0.005


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of an `x-amz-copy-source` header.

    The header is "bucket/key" or "/bucket/key", URL-encoded, optionally followed by
    "?versionId=...". A "?" inside a key arrives encoded (%3F), so the first literal "?" starts
    the query.
    """
    path, _, query = value.strip().partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    version_id = None
    for name, v in parse_qsl(query, keep_blank_values=True):
        if name == "versionId":
            if not v:
                raise errors.InvalidArgument(
                    "Version id cannot be the empty string",
                    ArgumentName="versionId",
                    ArgumentValue=v,
                )
            version_id = v
    return bucket, key, version_id


async def _read_source_row(
    ctx: Ctx, bucket: BucketRecord, key: str, version_id: str | None
) -> ObjectRecord:
    rec = await versions.resolve(ctx.store.meta, bucket, key, version_id)
    if version_id is not None:
        if rec is None:
            raise errors.NoSuchVersion(Key=key, VersionId=version_id)
        if rec.delete_marker:
            raise errors.InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker "
                "by version id."
            )
        return rec
    if rec is None or rec.delete_marker:
        raise errors.NoSuchKey(Key=key)
    return rec


async def load_source(ctx: Ctx) -> Source:
    """The copy source named by the request, if the caller may read it and its conditions
    (x-amz-copy-source-if-*) hold."""
    name, key, version_id = parse_copy_source(ctx.req.header("x-amz-copy-source"))
    # A read of objects, like GET: the cached record (s3front.store.bucket_cache), not a store
    # read per copy.
    bucket = await bucket_for_objects(ctx.store, name)
    if bucket is None:
        raise errors.NoSuchBucket(BucketName=name)
    # The source is another resource: the caller must be allowed to read it (owner, ACL or
    # bucket policy), and learns nothing about it otherwise.
    await authorize_read(ctx, bucket, key, version_id)
    rec = await _read_source_row(ctx, bucket, key, version_id)
    conditions.check(ctx.req, rec, prefix=_PREFIX)
    return Source(bucket, rec, version_id)


async def _pin_source(ctx: Ctx, src: Source, intent: WriteIntent) -> str:
    """Write a fresh manifest that stands for the source's bytes; return its id.

    The race with GC: a GC pass marks from upload and object rows, then keeps every manifest
    younger than its horizon as a root; `intent`, registered before the fresh manifest is
    stamped, holds that horizon at or before the stamp until the copy's row is written. We
    write the fresh manifest first, then re-read the source row. If the row is still there
    (pointing at the same manifest) when we re-read, then either GC read the row (and marked
    the source manifest from it) or GC had not yet read it -- and then GC reads the manifest
    table even later, when our fresh manifest already exists, is young, and leads to the
    source manifest through its child entry. Either way the source's blocks survive. If the
    row is gone the copy fails (NoSuchKey); if it points elsewhere (an overwrite) the copy
    starts over from the new version (`_retrying`). Either way the fresh manifest is garbage
    for a later pass.

    Only the manifest write lies between the source read and the re-read: a concurrent
    overwrite that lands in that window costs an attempt, so the window is kept as short as
    it can be (the target bucket and upload are read before the source, in the handlers).
    """
    rec = src.rec
    assert rec.manifest_id is not None
    meta = ctx.store.meta
    await intent.ensure()
    manifest_id = await _one_child_manifest(ctx, rec.manifest_id, rec.size)
    shard = shard_of(rec.key, src.bucket.shards)
    again = await meta.get_object(src.bucket.bucket_id, shard, rec.key, seq=rec.seq)
    if again is None or again.delete_marker:
        raise errors.NoSuchKey(Key=rec.key)
    if again.manifest_id != rec.manifest_id or again.version_id != rec.version_id:
        raise _SourceChanged()
    flat = await _flattened(ctx, manifest_id, rec)
    intent.check()  # the row that references it comes next
    return flat


async def _flattened(ctx: Ctx, pinned: str, rec: ObjectRecord) -> str:
    """A copy of a copy: a fresh manifest pointing at what the source's one-child manifest
    points at, so repeated copies (e.g. metadata updates by self-copy) do not nest manifests
    ever deeper; otherwise `pinned` itself.

    Safe after the pin: the grandchild is reachable from the source manifest, which the pinned
    manifest (or the source row) keeps live until the new manifest, young, takes over. The
    cost: a copy of a copy writes two manifests (the pinned one becomes garbage), so that the
    pin's window holds one write only.
    """
    assert rec.manifest_id is not None
    head = await ctx.store.meta.get_manifest(rec.manifest_id, 0, limit=2)
    if not (
        len(head) == 1
        and head[0].child is not None
        and head[0].offset == 0
        and head[0].length == rec.size
    ):
        return pinned
    return await _one_child_manifest(ctx, head[0].child, rec.size)


async def _one_child_manifest(ctx: Ctx, child: str, size: int) -> str:
    """A fresh manifest whose one entry stands for all `size` bytes of manifest `child`."""
    manifest_id = new_manifest_id()
    await ctx.store.meta.put_manifest(
        manifest_id, [ManifestEntry(offset=0, length=size, child=child)]
    )
    return manifest_id


def _directive(ctx: Ctx, header: str) -> str:
    value = ctx.req.header(header).strip() or "COPY"
    if value not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            f"Unknown {header.removeprefix('x-amz-').replace('-', ' ')}: {value}",
            ArgumentName=header,
            ArgumentValue=value,
        )
    return value


async def _is_current(ctx: Ctx, src: Source) -> bool:
    if src.version_id is None:
        return True
    shard = shard_of(src.rec.key, src.bucket.shards)
    current = await ctx.store.meta.get_object(src.bucket.bucket_id, shard, src.rec.key)
    return current is not None and current.seq == src.rec.seq


def _version_headers(src: Source, target: BucketRecord, version_id: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if src.bucket.versioning:
        out["x-amz-copy-source-version-id"] = src.rec.version_id
    if target.versioning:
        out["x-amz-version-id"] = version_id
    return out


async def handle_copy_object(ctx: Ctx) -> Response:
    # The target is read once, before the source: see `_pin_source` for why the time between
    # reading the source and pinning it must stay short.
    bucket = await ctx.bucket()
    async with WriteIntent(ctx.store.meta) as intent:
        return await _retrying(ctx, lambda src: _copy_object(ctx, bucket, src, intent))


async def handle_upload_part_copy(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    number = _part_number(ctx)
    upload = await _upload(ctx, bucket)
    async with WriteIntent(ctx.store.meta) as intent:
        return await _retrying(ctx, lambda src: _upload_part_copy(ctx, upload, number, src, intent))


class _SourceChanged(Exception):
    """The source row changed (was overwritten) between reading it and pinning its manifest."""


async def _retrying(ctx: Ctx, copy: Callable[[Source], Awaitable[Response]]) -> Response:
    """Run a copy against a freshly read source, again if the source is overwritten meanwhile.

    The copy is of the version read first; but if a concurrent PUT replaced that version
    before its manifest was pinned, GC may no longer protect it, so the copy starts over from
    the new version (source conditions are checked again). Every body read by the copy is the
    copy-source, never the request body, so starting over is safe.

    Attempts go on for a while rather than a fixed number of times: under a burst of
    overwrites of the source each attempt has a fair chance, and a short random pause keeps
    the attempts from falling into step with a writer's rhythm.
    """
    deadline = time.monotonic() + _PIN_PATIENCE_SECONDS
    while True:
        src = await load_source(ctx)
        try:
            return await copy(src)
        except _SourceChanged:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(_rng.uniform(0, _PIN_PAUSE_SECONDS))
    raise errors.SlowDown("The copy source keeps changing; retry the copy.")


async def _copy_object(
    ctx: Ctx, bucket: BucketRecord, src: Source, intent: WriteIntent
) -> Response:
    rec = src.rec
    metadata = _directive(ctx, "x-amz-metadata-directive")
    tagging = _directive(ctx, "x-amz-tagging-directive")
    # The source's key (SSE-C: x-amz-copy-source-server-side-encryption-customer-*) and the
    # target's encryption (its own headers or the target bucket's default, never the source's).
    source = await sse.open_for(ctx, sealing_of(rec.attrs), prefix=sse.COPY_CUSTOMER)
    want = sse.requested(ctx.req, bucket.attrs)
    if (
        src.bucket.name == bucket.name
        and rec.key == ctx.key
        and metadata != "REPLACE"
        and sse.requested(ctx.req, {}) is None  # a self-copy may change the encryption
        and await _is_current(ctx, src)
    ):
        raise errors.InvalidRequest(_SELF_COPY_MESSAGE)
    if rec.size > MAX_OBJECT_SIZE:
        raise errors.InvalidRequest(
            "The specified copy source is larger than the maximum allowable size for a copy "
            f"source: {MAX_OBJECT_SIZE}"
        )
    headers = dict(rec.headers) if metadata == "COPY" else stored_headers(ctx.req)
    # The source's lock is not copied: the copy takes the request's lock headers or the
    # target bucket's default retention, as in S3.
    lock_attrs = lock_headers.requested_attrs(ctx.req.headers.get, bucket, now_ms())
    tags = (
        tags_of(rec.attrs)
        if tagging == "COPY"
        else parse_tagging_header(ctx.req.header("x-amz-tagging"))
    )
    # Only the tags travel: an ACL or other per-object document is not copied (as in S3).
    attrs = attrs_with_request_acl(
        ctx.req, with_tags(lock_attrs, tags), writer(ctx, bucket), bucket.owner
    )
    seq, version_id = new_version(bucket)
    new = ObjectRecord(
        key=ctx.key,
        seq=seq,
        version_id=version_id,
        size=rec.size,
        etag=rec.etag,
        last_modified_ms=now_ms(),
        owner=writer(ctx, bucket),
        headers=headers,
        checksums=dict(rec.checksums),
        parts=rec.parts,
        attrs=attrs,
    )
    target: sse.Opened | None = None
    if source is None and want is None:
        # No data moves.
        manifest_id = await _pin_source(ctx, src, intent) if rec.manifest_id is not None else None
        inline = rec.inline if manifest_id is None else None
        new = replace(new, manifest_id=manifest_id, inline=inline)
    elif source is not None and want is not None and source.sealing.mode == want.mode == SSE_S3:
        # Same key (the master key): the copy shares the source's sealed blocks and data key;
        # nothing is encrypted again, so no nonce is used twice. No data moves.
        manifest_id = await _pin_source(ctx, src, intent) if rec.manifest_id is not None else None
        inline = rec.inline if manifest_id is None else None
        sealing = replace(source.sealing, bucket_key=want.bucket_key)
        target = sse.Opened(sealing, source.cipher)
        new = replace(
            new, manifest_id=manifest_id, inline=inline, attrs=with_sealing(attrs, sealing)
        )
    else:
        # Between different keys (or in or out of encryption) the bytes are read, opened with
        # the source's key and sealed again under a new data key (DESIGN.md section 5).
        target = await sse.begin_for(ctx, want)
        new = await _reencrypted(ctx, src, source, target, intent, new)
    written = await ctx.commit(bucket, new)
    return XMLResponse(
        xmldocs.copy_object_result(written.etag, written.last_modified_ms, written.checksums),
        headers={
            **_version_headers(src, bucket, written.version_id),
            **lifecycle_headers.expiration_headers(ctx, bucket, written),
            **sse.response_headers(target),
        },
    )


async def _reencrypted(
    ctx: Ctx,
    src: Source,
    source: sse.Opened | None,
    target: sse.Opened | None,
    intent: WriteIntent,
    new: ObjectRecord,
) -> ObjectRecord:
    """`new` with the source's bytes streamed through the writer under `target`'s key."""
    rec = src.rec
    full = rec.checksums.get("type") != COMPOSITE
    algorithms = [a for a in rec.checksums if a != "type"] if full else []
    result = await write_object_data(
        ctx.store.blocks,
        ctx.store.meta,
        read_object(
            ctx.store.meta,
            ctx.store.blocks,
            rec,
            0,
            rec.size,
            cipher=source.cipher if source else None,
            request_id=ctx.request_id,
        ),
        block_size=ctx.settings.block_size,
        inline_limit=ctx.settings.inline_limit,
        algorithms=algorithms,
        expected_length=rec.size,
        intent=intent,
        cipher=target.cipher if target else None,
    )
    checksums: dict[str, str] = dict(result.checksums)
    if checksums:
        checksums["type"] = "FULL_OBJECT"
    # A multipart source keeps its ETag (as a metadata copy does); a single PUT's is the MD5
    # again -- or, under SSE-C, a keyed digest.
    etag = rec.etag if "-" in rec.etag else sse.etag(target, result.md5)
    return replace(
        new,
        etag=etag,
        manifest_id=result.manifest_id,
        inline=result.inline,
        checksums=checksums,
        parts=0,  # the bytes are one run of blocks now, not part manifests
        attrs=with_sealing(new.attrs, target.sealing if target else None),
    )


def parse_copy_range(header: str, size: int) -> tuple[int, int]:
    """(start, end exclusive) of `x-amz-copy-source-range: bytes=first-last`.

    Unlike Range on GET, nothing here is ignored: a malformed value is InvalidArgument, a range
    that is not inside the source is InvalidRange (AWS documents both; the exact code AWS uses
    for an out-of-bounds range is not documented, InvalidRange is what MinIO and Ceph send).
    """
    m = _RANGE.fullmatch(header.strip())
    if m is None or offset(m.group(1)) > offset(m.group(2)):
        raise errors.InvalidArgument(
            _RANGE_MESSAGE, ArgumentName="x-amz-copy-source-range", ArgumentValue=header
        )
    first, last = offset(m.group(1)), offset(m.group(2))
    if last >= size:
        raise errors.InvalidRange(
            f"Range specified is not valid for source object of size: {size}",
            RangeRequested=header.strip(),
            ActualObjectSize=str(size),
        )
    return first, last + 1


async def _upload_part_copy(
    ctx: Ctx, upload: UploadRecord, number: int, src: Source, intent: WriteIntent
) -> Response:
    rec = src.rec
    range_header = ctx.req.header("x-amz-copy-source-range")
    if range_header:
        start, end = parse_copy_range(range_header, rec.size)
    elif rec.size > MAX_OBJECT_SIZE:
        raise errors.InvalidRequest(
            "The specified copy source is larger than the maximum allowable size for a copy "
            f"source: {MAX_OBJECT_SIZE}"
        )
    else:
        start, end = 0, rec.size
    if end - start > MAX_OBJECT_SIZE:
        raise errors.EntityTooLarge(MaxSizeAllowed=str(MAX_OBJECT_SIZE))
    source = await sse.open_for(ctx, sealing_of(rec.attrs), prefix=sse.COPY_CUSTOMER)
    target = await sse.open_for(ctx, sealing_of(upload.attrs))
    alg = upload.checksum_algorithm
    reusable_checksum = not alg or (alg in rec.checksums and rec.checksums.get("type") != COMPOSITE)
    if (
        start == 0
        and end == rec.size
        and rec.manifest_id is not None
        and "-" not in rec.etag
        and reusable_checksum
        and source is None
        and target is None  # sealed bytes never move between data keys
    ):
        # The whole of a single-PUT object: its ETag is the MD5 of its bytes, which is what the
        # part's ETag must be, so the part can stand on the source's manifest. No data moves.
        manifest_id = await _pin_source(ctx, src, intent)
        size, etag = rec.size, rec.etag
        part_checksums = {alg: rec.checksums[alg]} if alg else {}
    else:
        # A range, a multipart source (its ETag is not an MD5 of its bytes) or a missing part
        # checksum: the part's ETag and checksum must be computed, so the bytes go through the
        # writer. Blocks already stored (the source's own, when aligned) are not stored twice.
        result = await write_object_data(
            ctx.store.blocks,
            ctx.store.meta,
            read_object(
                ctx.store.meta,
                ctx.store.blocks,
                rec,
                start,
                end,
                cipher=source.cipher if source else None,
                request_id=ctx.request_id,
            ),
            block_size=ctx.settings.block_size,
            inline_limit=-1,  # parts are always manifests: completion points at them
            algorithms=[alg] if alg else [],
            expected_length=end - start,
            intent=intent,
            cipher=target.cipher if target else None,
        )
        # An empty part has a manifest with no rows.
        manifest_id = result.manifest_id or new_manifest_id()
        size, part_checksums = result.size, result.checksums
        etag = sse.etag(target, result.md5)
    part = PartRecord(
        part_number=number,
        size=size,
        etag=etag,
        last_modified_ms=now_ms(),
        manifest_id=manifest_id,
        checksums=part_checksums,
    )
    await ctx.store.meta.put_part(upload.upload_id, part)
    headers = {"x-amz-copy-source-version-id": rec.version_id} if src.bucket.versioning else {}
    headers.update(sse.response_headers(target))
    return XMLResponse(
        xmldocs.copy_part_result(part.etag, part.last_modified_ms, part.checksums),
        headers=headers,
    )
