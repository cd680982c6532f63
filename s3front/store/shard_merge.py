"""`MetaStore.scan_bucket` made of per-shard scans: every shard's first rows, merged.

Cassandra's shards are partitions (possibly on different nodes) and cannot be read as one
ordered scan; SQLite merges at most `max_merged_shards` shards inside one statement. Past that,
both read each shard's first `limit` rows concurrently and merge them here: correct for any
shard count, at up to `shards` times the rows a page shows. Listings therefore use this only
where the store merges cheaply; elsewhere they page each shard as the page needs it
(`s3front.objects.listing`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
from collections.abc import Awaitable
from typing import Protocol

from s3front.store.records import ObjectRecord


class ShardScan(Protocol):
    """`MetaStore.scan_objects`."""

    def __call__(
        self,
        bucket_id: str,
        shard: int,
        *,
        start_key: str = ...,
        start_exclusive: bool = ...,
        after_seq: int | None = ...,
        end_key: str | None = ...,
        limit: int,
        with_inline: bool = ...,
    ) -> Awaitable[list[ObjectRecord]]: ...


def listed(rec: ObjectRecord) -> ObjectRecord:
    """What a merged scan returns of a row: what a listing shows (no bytes, no mappings)."""
    return dataclasses.replace(rec, inline=None, headers={}, checksums={}, attrs={})


async def merge_shards(
    scan_objects: ShardScan,
    bucket_id: str,
    shards: int,
    *,
    start_key: str,
    start_exclusive: bool,
    after_seq: int | None,
    end_key: str | None,
    limit: int,
) -> list[ObjectRecord]:
    if limit <= 0:
        return []
    pages = await asyncio.gather(
        *(
            scan_objects(
                bucket_id,
                shard,
                start_key=start_key,
                start_exclusive=start_exclusive,
                after_seq=after_seq,
                end_key=end_key,
                limit=limit,
            )
            for shard in range(shards)
        )
    )
    # Each page is in clustering order (key ascending, seq descending); a key lives in one shard.
    merged = heapq.merge(*pages, key=lambda r: (r.key, -r.seq))
    return [listed(r) for r in itertools.islice(merged, limit)]
