"""GetObjectAttributes: ETag, Checksum, ObjectParts, StorageClass, ObjectSize of one version.

ObjectParts comes from the object's manifest: a completed multipart upload's manifest has one
child entry per (non-empty) part, so part N is entry N-1 and its Size the entry's length. The
part checksums of an upload made with a checksum algorithm are kept in the object's attrs at
completion (`s3front.objects.mp_checksums`) and listed with the sizes. AWS also
lists Part elements only for objects uploaded with checksums; here sizes are always listed,
which clients read the same way.
"""

from __future__ import annotations

from starlette.responses import Response

from s3front import errors, xmldocs
from s3front.api import sse
from s3front.api.context import Ctx
from s3front.api.headers import http_date
from s3front.api.objects import find_object
from s3front.objects import mp_checksums
from s3front.objects.encryption import sealing_of
from s3front.objects.multipart import part_sizes
from s3front.store.records import PartRecord
from s3front.xmldocs import XMLResponse

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def parse_attributes(header: str) -> set[str]:
    names = {n.strip() for n in header.split(",") if n.strip()}
    if not names:
        raise errors.InvalidArgument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is "
            "either missing or empty",
            ArgumentName="x-amz-object-attributes",
        )
    unknown = sorted(names - set(ATTRIBUTES))
    if unknown:
        raise errors.InvalidArgument(
            "Invalid attribute name specified.",
            ArgumentName="x-amz-object-attributes",
            ArgumentValue=unknown[0],
        )
    return names


def _int_header(ctx: Ctx, name: str, default: int) -> int:
    raw = ctx.req.header(name).strip()
    if not raw:
        return default
    # isascii: str.isdigit() admits "²", which int() refuses; the length bounds int()'s work.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise errors.InvalidArgument(
            f"{name} must be a non-negative integer", ArgumentName=name, ArgumentValue=raw
        )
    return int(raw)


async def handle_get_object_attributes(ctx: Ctx) -> Response:
    bucket = await ctx.bucket()
    wanted = parse_attributes(ctx.req.header("x-amz-object-attributes"))
    rec = await find_object(ctx, bucket, ctx.key)  # delete markers are errors there
    # An SSE-C object's attributes need its key, as on AWS (400 without, 403 with a wrong one).
    opened = await sse.open_for(ctx, sealing_of(rec.attrs))
    parts: xmldocs.ObjectParts | None = None
    if "ObjectParts" in wanted and rec.parts:
        max_parts = min(_int_header(ctx, "x-amz-max-parts", MAX_PARTS), MAX_PARTS)
        marker = _int_header(ctx, "x-amz-part-number-marker", 0)
        sizes = await part_sizes(ctx.store.meta, rec)
        # Part checksums kept at completion (s3front.objects.mp_checksums), when there are any.
        kept = mp_checksums.unpack_parts(rec.attrs, len(sizes))
        chosen = [
            PartRecord(
                part_number=n,
                size=size,
                etag="",
                last_modified_ms=0,
                manifest_id="",
                checksums={kept[0]: kept[1][n - 1]} if kept else {},
            )
            for n, size in enumerate(sizes, start=1)
            if n > marker
        ]
        truncated = len(chosen) > max_parts
        chosen = chosen[:max_parts]
        parts = xmldocs.ObjectParts(
            parts=chosen,
            total_parts=rec.parts,
            part_number_marker=marker,
            next_part_number_marker=chosen[-1].part_number if chosen else None,
            max_parts=max_parts,
            is_truncated=truncated,
        )
    body = xmldocs.object_attributes(
        etag=rec.etag if "ETag" in wanted else None,
        checksums=rec.checksums if "Checksum" in wanted else None,
        parts=parts,
        storage_class=xmldocs.STORAGE_CLASS if "StorageClass" in wanted else None,
        object_size=rec.size if "ObjectSize" in wanted else None,
    )
    headers = {"last-modified": http_date(rec.last_modified_ms)}
    headers.update(sse.response_headers(opened))
    if bucket.versioning:
        headers["x-amz-version-id"] = rec.version_id
    return XMLResponse(body, headers=headers)
