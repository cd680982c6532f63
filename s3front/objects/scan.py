"""Full scans of a store, shared by GC's mark phase (`objects.gc`) and `objects.stats`: every
bucket, every object row of every shard, every block, a page at a time.

Admin work, not a hot path: each is a walk over whole tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from s3front.store.protocols import Store
from s3front.store.records import BlockInfo, BucketRecord, ObjectRecord

PAGE = 1000  # rows per store call
PROGRESS_EVERY = 1000  # rows between two progress reports

ProgressCallback = Callable[[str], None]


class Progress:
    """Calls back with a short status at each phase and every `every` rows within one."""

    def __init__(self, callback: ProgressCallback | None, every: int = PROGRESS_EVERY) -> None:
        self._callback = callback
        self._every = every
        self._phase = ""
        self._rows = 0

    def phase(self, name: str) -> None:
        self._phase, self._rows = name, 0
        if self._callback is not None:
            self._callback(f"{name}...")

    def rows(self, n: int) -> None:
        before = self._rows // self._every
        self._rows += n
        if self._callback is not None and self._rows // self._every > before:
            self._callback(f"{self._phase}: {self._rows} rows")


async def all_buckets(store: Store) -> list[BucketRecord]:
    out: list[BucketRecord] = []
    after = ""
    while page := await store.meta.list_buckets(after, PAGE):
        out.extend(page)
        after = page[-1].name
    return out


async def object_pages(store: Store, bucket: BucketRecord) -> AsyncIterator[list[ObjectRecord]]:
    """Every object row of `bucket` (all versions and delete markers, every shard), a page at a
    time. Scans leave `inline` out."""
    for shard in range(bucket.shards):
        start_key, after_seq = "", None
        while rows := await store.meta.scan_objects(
            bucket.bucket_id, shard, start_key=start_key, after_seq=after_seq, limit=PAGE
        ):
            start_key, after_seq = rows[-1].key, rows[-1].seq
            yield rows


async def block_pages(store: Store) -> AsyncIterator[list[BlockInfo]]:
    """Every block of the block store, a page at a time."""
    after = b""
    while page := await store.blocks.scan_blocks(after, PAGE):
        after = page[-1].block_id
        yield page
