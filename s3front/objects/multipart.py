"""CompleteMultipartUpload as a metadata operation.

Each uploaded part already has its own manifest. Completing the upload validates the client's
part list against the stored parts and writes one new manifest with ONE entry per part that
points at the part's manifest (a child entry) -- O(parts) rows, whatever the object size, and
not a byte is copied. The reader follows child entries.

Validation follows AWS: part numbers strictly ascending (InvalidPartOrder), each part present
with the ETag the client names (InvalidPart), every part but the last at least 5 MiB
(EntityTooSmall), at least one part (MalformedXML).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from s3front.checksums import (
    COMPOSITE,
    CRC_ALGORITHMS,
    FULL_OBJECT,
    combine_crcs,
    composite_checksum,
    multipart_etag,
)
from s3front.errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
)
from s3front.objects.intents import WriteIntent
from s3front.objects.limits import MIN_PART_SIZE
from s3front.objects.manifest_ids import new_manifest_id
from s3front.objects.writer import MANIFEST_BATCH
from s3front.store.protocols import MetaStore
from s3front.store.records import ManifestEntry, ObjectRecord, PartRecord


@dataclass(frozen=True, slots=True)
class Assembly:
    """What the completed object's row and manifest need."""

    # One child entry per non-empty part, at cumulative offsets. A zero-length part (only the
    # last may be one) gets no entry: it holds no bytes and would share its offset.
    entries: list[ManifestEntry]
    size: int
    etag: str  # md5(concat(part md5s))-N, without quotes
    parts: int
    # algorithm -> base64 value, plus "type" -> COMPOSITE / FULL_OBJECT; empty if the upload
    # had no checksum algorithm.
    checksums: dict[str, str] = field(default_factory=dict)
    # The chosen parts' values of the upload's checksum algorithm, in part order (kept with
    # the object for GetObjectAttributes); empty if the upload had no checksum algorithm.
    part_checksums: list[str] = field(default_factory=list)


def _normalise_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _same_checksum(a: str, b: str) -> bool:
    try:
        return base64.b64decode(a, validate=True) == base64.b64decode(b, validate=True)
    except (binascii.Error, ValueError):
        return False


def assemble(
    parts: Sequence[PartRecord],
    requested: Sequence[tuple[int, str]],
    *,
    min_part_size: int = MIN_PART_SIZE,
    checksum_algorithm: str = "",
    checksum_type: str = COMPOSITE,
    requested_checksums: Mapping[int, Mapping[str, str]] | None = None,
) -> Assembly:
    """Validate the client's (part number, ETag) list against the stored parts.

    `requested_checksums`: per part number, the Checksum<Alg> values the client put in the
    CompleteMultipartUpload XML; each must match the stored part checksum.
    """
    if not requested:
        raise MalformedXML()
    by_number = {p.part_number: p for p in parts}
    chosen: list[PartRecord] = []
    previous = 0
    for number, etag in requested:
        if number <= previous:
            raise InvalidPartOrder()
        previous = number
        part = by_number.get(number)
        if part is None or _normalise_etag(part.etag) != _normalise_etag(etag):
            raise InvalidPart(PartNumber=str(number), ETag=etag)
        for alg, value in (requested_checksums or {}).get(number, {}).items():
            stored = part.checksums.get(alg)
            if stored is None or not _same_checksum(stored, value):
                raise InvalidPart(
                    f"The {alg} checksum of part {number} does not match the uploaded part.",
                    PartNumber=str(number),
                )
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < min_part_size:
            raise EntityTooSmall(
                ProposedSize=str(part.size),
                MinSizeAllowed=str(min_part_size),
                PartNumber=str(part.part_number),
                ETag=part.etag,
            )
    values = _part_values(chosen, checksum_algorithm)
    entries: list[ManifestEntry] = []
    offset = 0
    for part in chosen:
        if part.size:
            entries.append(ManifestEntry(offset=offset, length=part.size, child=part.manifest_id))
        offset += part.size
    return Assembly(
        entries=entries,
        size=offset,
        etag=multipart_etag([p.etag for p in chosen]),
        parts=len(chosen),
        checksums=_object_checksums(chosen, values, checksum_algorithm, checksum_type),
        part_checksums=values,
    )


def _part_values(chosen: Sequence[PartRecord], algorithm: str) -> list[str]:
    if not algorithm:
        return []
    values: list[str] = []
    for part in chosen:
        value = part.checksums.get(algorithm)
        if value is None:
            raise InvalidRequest(f"Part {part.part_number} has no {algorithm} checksum.")
        values.append(value)
    return values


def _object_checksums(
    chosen: Sequence[PartRecord], values: Sequence[str], algorithm: str, kind: str
) -> dict[str, str]:
    if not algorithm:
        return {}
    if kind == FULL_OBJECT:
        if algorithm not in CRC_ALGORITHMS:
            raise InvalidRequest(f"The FULL_OBJECT checksum type is not supported for {algorithm}.")
        pairs = [(v, p.size) for v, p in zip(values, chosen, strict=True)]
        return {algorithm: combine_crcs(algorithm, pairs), "type": FULL_OBJECT}
    return {algorithm: composite_checksum(algorithm, values), "type": COMPOSITE}


async def write_assembly(meta: MetaStore, assembly: Assembly, intent: WriteIntent) -> str:
    """Write the completed object's manifest (child entries only); return its id.

    `intent` is the completion's, held until its object row is written. The caller must then
    re-read the upload row before writing the object row (see `s3front.objects.gc`): the part rows are
    what keeps the part manifests until the object row does, and a concurrent completion or
    abort deletes them.
    """
    await intent.ensure()
    manifest_id = new_manifest_id()
    for i in range(0, len(assembly.entries), MANIFEST_BATCH):
        await meta.put_manifest(manifest_id, assembly.entries[i : i + MANIFEST_BATCH])
    intent.check()
    return manifest_id


_MANIFEST_PAGE = 1000


async def _all_entries(meta: MetaStore, manifest_id: str) -> list[ManifestEntry]:
    out: list[ManifestEntry] = []
    offset = 0
    while True:
        # Entries are contiguous, so the next page starts exactly at the end of this one.
        page = await meta.get_manifest(manifest_id, from_offset=offset, limit=_MANIFEST_PAGE)
        out.extend(page)
        if len(page) < _MANIFEST_PAGE:
            return out
        offset = out[-1].offset + out[-1].length


async def part_sizes(meta: MetaStore, rec: ObjectRecord) -> list[int]:
    """The sizes of a completed multipart object's parts, in part order: the entries of the
    manifest `write_assembly` wrote, one per part."""
    if rec.manifest_id is None:
        return [0] * rec.parts
    entries = await _all_entries(meta, rec.manifest_id)
    # A copy's manifest is one child entry standing for the source's manifest: look through it.
    while (
        rec.parts > 1
        and len(entries) == 1
        and entries[0].child is not None
        and entries[0].length == rec.size
    ):
        entries = await _all_entries(meta, entries[0].child)
    sizes = [e.length for e in entries]
    # An empty last part has no manifest entry (it holds no bytes).
    return sizes + [0] * max(0, rec.parts - len(sizes))
