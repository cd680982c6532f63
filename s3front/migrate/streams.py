"""Paged walks of the stores, and the merge that pairs a source walk with a target walk.

Both backends return each scan in the same order -- object rows by (key ascending, seq
descending), uploads by (key, upload_id), parts by part number, keys compared as UTF-8 bytes,
which is code point order, Python's string order -- so the rows of one partition on the two
stores can be walked side by side, a page at a time, and paired like a merge join. The copier
uses the pairs to write only what the target lacks (or has differently); the verification
uses them to count what matches. Nothing holds more than a page per walk.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from s3front.store.records import (
    AccessKeyRecord,
    BucketRecord,
    ManifestEntry,
    ObjectRecord,
    PartRecord,
    UploadRecord,
)

T = TypeVar("T")
PAGE = 256  # rows per scan call (object rows carry inline bytes: a page stays a few MiB)


class ReadMeta(Protocol):
    """The MetaStore reads a migration makes (s3front.store.protocols.MetaStore has them)."""

    async def list_buckets(self, after: str, limit: int) -> list[BucketRecord]: ...

    async def get_bucket_mark(self, name: str) -> tuple[str, str] | None: ...

    async def scan_objects(
        self,
        bucket_id: str,
        shard: int,
        *,
        start_key: str = "",
        start_exclusive: bool = False,
        after_seq: int | None = None,
        end_key: str | None = None,
        limit: int,
        with_inline: bool = False,
    ) -> list[ObjectRecord]: ...

    async def get_manifest(
        self, manifest_id: str, from_offset: int = 0, limit: int = 1000
    ) -> list[ManifestEntry]: ...

    async def scan_uploads(
        self, bucket_id: str, *, after_key: str = "", after_upload_id: str = "", limit: int
    ) -> list[UploadRecord]: ...

    async def list_parts(
        self, upload_id: str, after: int = 0, limit: int = 10000
    ) -> list[PartRecord]: ...


class ReadBlocks(Protocol):
    async def get_block(self, block_id: bytes) -> bytes | None: ...


class ReadKeys(Protocol):
    async def list_keys(self) -> list[AccessKeyRecord]: ...


class ReadStore(Protocol):
    """What a migration reads: a Store, or the read-only source (s3front.migrate.source)."""

    @property
    def meta(self) -> ReadMeta: ...

    @property
    def blocks(self) -> ReadBlocks: ...

    @property
    def keys(self) -> ReadKeys: ...


async def buckets(meta: ReadMeta) -> AsyncIterator[BucketRecord]:
    after = ""
    while page := await meta.list_buckets(after, PAGE):
        for b in page:
            yield b
        after = page[-1].name


async def objects(meta: ReadMeta, bucket_id: str, shard: int) -> AsyncIterator[ObjectRecord]:
    """Every row of one object-index partition (every version and delete marker), inline bytes
    included, in clustering order."""
    start_key, after_seq = "", None
    while rows := await meta.scan_objects(
        bucket_id, shard, start_key=start_key, after_seq=after_seq, limit=PAGE, with_inline=True
    ):
        for r in rows:
            yield r
        start_key, after_seq = rows[-1].key, rows[-1].seq
        if len(rows) < PAGE:
            return


async def uploads(meta: ReadMeta, bucket_id: str) -> AsyncIterator[UploadRecord]:
    after_key, after_id = "", ""
    while page := await meta.scan_uploads(
        bucket_id, after_key=after_key, after_upload_id=after_id, limit=PAGE
    ):
        for u in page:
            yield u
        after_key, after_id = page[-1].key, page[-1].upload_id
        if len(page) < PAGE:
            return


async def parts(meta: ReadMeta, upload_id: str) -> AsyncIterator[PartRecord]:
    after = 0
    while page := await meta.list_parts(upload_id, after, PAGE):
        for p in page:
            yield p
        after = page[-1].part_number
        if len(page) < PAGE:
            return


async def manifest_pages(
    meta: ReadMeta, manifest_id: str, page: int = PAGE
) -> AsyncIterator[list[ManifestEntry]]:
    """The entries of one manifest in offset order, a page at a time.

    get_manifest starts at the entry that *contains* an offset, so paging asks from just past
    the last entry and drops what it has seen (a zero-length entry shares its offset).
    """
    from_offset, last_offset = 0, -1
    while True:
        entries = await meta.get_manifest(manifest_id, from_offset, page)
        fresh = [e for e in entries if e.offset > last_offset]
        if not fresh:
            return
        yield fresh
        last = fresh[-1]
        last_offset = last.offset
        from_offset = max(last.offset + last.length, last.offset + 1)
        if len(entries) < page:
            return


def object_order(r: ObjectRecord) -> tuple[str, int]:
    return (r.key, -r.seq)


def upload_order(u: UploadRecord) -> tuple[str, str]:
    return (u.key, u.upload_id)


def part_order(p: PartRecord) -> int:
    return p.part_number


async def paired(
    left: AsyncIterator[T], right: AsyncIterator[T], order: Callable[[T], Any]
) -> AsyncIterator[tuple[T | None, T | None]]:
    """Merge two walks in the same order: (l, r) for equal positions, (l, None) for a row only
    on the left, (None, r) for one only on the right."""
    a = await anext(left, None)
    b = await anext(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and order(a) < order(b)):
            yield a, None
            a = await anext(left, None)
        elif a is None or order(b) < order(a):
            yield None, b
            b = await anext(right, None)
        else:
            yield a, b
            a = await anext(left, None)
            b = await anext(right, None)


def same_object(a: ObjectRecord, b: ObjectRecord) -> bool:
    """Equal rows, an empty inline value and none being the same (an empty object reads the
    same either way, and a store may give back either for an empty blob)."""
    return (a.inline or b"") == (b.inline or b"") and _without_inline(a) == _without_inline(b)


def _without_inline(r: ObjectRecord) -> tuple[Any, ...]:
    return (
        r.key, r.seq, r.version_id, r.size, r.etag, r.last_modified_ms, r.owner, r.manifest_id,
        r.delete_marker, dict(r.headers), dict(r.checksums), r.parts, dict(r.attrs),
    )  # fmt: skip


async def manifest_digest(
    meta: ReadMeta, blocks: ReadBlocks, manifest_id: str, digest: Any, depth: int = 0
) -> None:
    """Feed `digest` the whole manifest tree (entries, child trees, block bytes) in order.

    Raises DataMismatch for a missing block, a block whose bytes do not hash to its id, or a
    tree deeper than any copy chain could make (a cycle)."""
    if depth > 64:
        raise DataMismatch(f"manifest {manifest_id}: nested more than 64 deep")
    async for page in manifest_pages(meta, manifest_id):
        for e in page:
            digest.update(f"{e.offset}:{e.length};".encode())
            if e.child is not None:
                digest.update(b"child:")
                await manifest_digest(meta, blocks, e.child, digest, depth + 1)
            elif e.block_id is not None:
                data = await blocks.get_block(e.block_id)
                if data is None:
                    raise DataMismatch(f"block {e.block_id.hex()} is missing")
                if hashlib.sha256(data).digest() != e.block_id:
                    raise DataMismatch(f"block {e.block_id.hex()} does not match its id")
                digest.update(data)


async def object_digest(meta: ReadMeta, blocks: ReadBlocks, rec: ObjectRecord) -> str:
    """SHA-256 of an object version's stored bytes, read back from a store (sealed bytes for an
    encrypted object, as both stores hold them), with its manifest structure."""
    h = hashlib.sha256()
    if rec.inline is not None:
        h.update(b"inline:" + rec.inline)
    elif rec.manifest_id is not None:
        await manifest_digest(meta, blocks, rec.manifest_id, h)
    return h.hexdigest()


class DataMismatch(Exception):
    """Stored data that is missing or not what its id says."""
