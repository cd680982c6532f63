"""Store statistics: how much clients stored, how much the store keeps, and the dedup ratio.

Logical bytes are what clients see: the size of every stored object version (delete markers
have none; a multipart object counts its full size, an inline one its inline bytes). Stored
bytes are what the store keeps: the sizes of the distinct blocks present in the block store,
plus inline bytes. Blocks are content-addressed, so a block shared by many objects (or many
offsets of one) counts once; blocks not yet collected by GC and blocks of multipart uploads in
progress count too, since they take space. Manifest and index rows are not counted.

A full scan (`objects.scan`), like a GC mark: admin use, not a hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from s3front.objects.scan import Progress, ProgressCallback, all_buckets, block_pages, object_pages
from s3front.store.protocols import Store


@dataclass(frozen=True, slots=True)
class Stats:
    buckets: int
    objects: int  # object versions holding data or empty (delete markers excluded)
    delete_markers: int
    logical_bytes: int
    inline_bytes: int
    blocks: int
    block_bytes: int

    @property
    def stored_bytes(self) -> int:
        return self.block_bytes + self.inline_bytes

    @property
    def dedup_ratio(self) -> float:
        """logical / stored; 1.0 for a store that keeps nothing."""
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 1.0

    def summary(self) -> str:
        return (
            f"{self.buckets} buckets, {self.objects} objects ({self.delete_markers} delete "
            f"markers), {self.logical_bytes} logical bytes, {self.stored_bytes} stored bytes "
            f"({self.blocks} blocks, {self.inline_bytes} inline), dedup ratio "
            f"{self.dedup_ratio:.2f}"
        )


async def collect_stats(store: Store, progress: ProgressCallback | None = None) -> Stats:
    status = Progress(progress)
    buckets = await all_buckets(store)
    objects = markers = logical = inline = 0
    status.phase("counting objects")
    for bucket in buckets:
        async for rows in object_pages(store, bucket):
            status.rows(len(rows))
            for r in rows:
                if r.delete_marker:
                    markers += 1
                    continue
                objects += 1
                logical += r.size
                # Scans leave `inline` out; a non-empty object without a manifest is inline.
                if r.manifest_id is None:
                    inline += r.size
    status.phase("counting blocks")
    blocks = block_bytes = 0
    async for page in block_pages(store):
        status.rows(len(page))
        blocks += len(page)
        block_bytes += sum(b.size for b in page)
    return Stats(
        buckets=len(buckets),
        objects=objects,
        delete_markers=markers,
        logical_bytes=logical,
        inline_bytes=inline,
        blocks=blocks,
        block_bytes=block_bytes,
    )
