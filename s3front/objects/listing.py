"""Listing drivers: scan the store in key order and feed the pure accumulators of `listers`.

A bucket's object index is `shards` partitions (a key lives in `shard_of(key)`); a listing
merges the shards' ordered scans on (key, newest first) -- or, where the store can merge them
itself (SQLite, `MetaStore.max_merged_shards`), reads its one merged scan. Each shard is read
in pages that start small (about this page's share of max-keys) and grow, so a 1000-key page
over 8 shards reads about 1000 rows, not 8000. When the accumulator has listed a common
prefix it names the first key after it, and every shard seeks there: a delimiter listing of a
bucket with a million keys under "logs/" reads a page per shard, not a million rows.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import heapq
from collections.abc import Awaitable
from typing import Protocol

from s3front.objects.keys import prefix_end, shard_of
from s3front.objects.listers import ObjectLister, UploadLister, VersionLister, clamp_max_keys
from s3front.objects.pages import ListPage, UploadPage, VersionPage
from s3front.store.protocols import MetaStore
from s3front.store.records import BucketRecord, ObjectRecord

__all__ = ["list_objects", "list_uploads", "list_versions", "shard_of"]

_MAX_PAGE = 1000
_JUMP_PAGE = 4


class _Scan(Protocol):
    """One ordered scan: `MetaStore.scan_objects` of one shard or `scan_bucket` of all."""

    def __call__(
        self,
        *,
        start_key: str,
        start_exclusive: bool,
        after_seq: int | None,
        end_key: str | None,
        limit: int,
    ) -> Awaitable[list[ObjectRecord]]: ...


class _ShardCursor:
    """An ordered scan of one shard (or of all, where the store merges them), read in pages,
    that can seek forward."""

    def __init__(
        self,
        scan: _Scan,
        shard: int,
        *,
        start_key: str,
        start_exclusive: bool,
        after_seq: int | None,
        end_key: str | None,
        page: int,
    ) -> None:
        self._scan = scan
        self.shard = shard
        self._start = (start_key, start_exclusive, after_seq)
        self._end = end_key
        self._page = page
        self._rows: collections.deque[ObjectRecord] = collections.deque()
        self._exhausted = end_key is not None and start_key >= end_key

    async def head(self) -> ObjectRecord | None:
        if not self._rows and not self._exhausted:
            key, exclusive, after_seq = self._start
            rows = await self._scan(
                start_key=key,
                start_exclusive=exclusive,
                after_seq=after_seq,
                end_key=self._end,
                limit=self._page,
            )
            self._exhausted = len(rows) < self._page
            if rows:
                last = rows[-1]
                self._start = (last.key, True, last.seq)
            self._rows.extend(rows)
            self._page = min(self._page * 2, _MAX_PAGE)
        return self._rows[0] if self._rows else None

    def pop(self) -> None:
        self._rows.popleft()

    def seek(self, key: str) -> None:
        """Skip every row whose key is < key."""
        while self._rows and self._rows[0].key < key:
            self._rows.popleft()
        if not self._rows and not self._exhausted:
            if key > self._start[0]:
                self._start = (key, False, None)
                # After a jump the rows ahead may roll up into the next prefix too: read a
                # few first, and grow again only if they turn out to be listed one by one.
                self._page = _JUMP_PAGE
            self._exhausted = self._end is not None and key >= self._end


class _MergedScan:
    """The shards of a bucket merged on (key ascending, seq descending)."""

    def __init__(self, cursors: list[_ShardCursor]) -> None:
        self._cursors = cursors
        self._heap: list[tuple[str, int, int]] = []
        self._loaded = False

    async def _load(self, cursors: list[_ShardCursor]) -> None:
        # One cursor (after each row): awaited directly; its next row is usually buffered
        # already, and gather would wrap the call in a task every time.
        if len(cursors) == 1:
            heads = [await cursors[0].head()]
        else:
            heads = await asyncio.gather(*(c.head() for c in cursors))
        for c, rec in zip(cursors, heads, strict=True):
            if rec is not None:
                heapq.heappush(self._heap, (rec.key, -rec.seq, c.shard))

    async def next(self) -> ObjectRecord | None:
        if not self._loaded:
            self._loaded = True
            await self._load(self._cursors)
        if not self._heap:
            return None
        _, _, shard = heapq.heappop(self._heap)
        cursor = self._by_shard(shard)
        rec = await cursor.head()
        assert rec is not None  # the heap only holds shards with a row
        cursor.pop()
        await self._load([cursor])
        return rec

    def seek(self, key: str) -> None:
        for c in self._cursors:
            c.seek(key)
        self._heap.clear()
        self._loaded = False

    def _by_shard(self, shard: int) -> _ShardCursor:
        return self._cursors[shard]  # cursors are built in shard order


class _OneScan:
    """One ordered scan: a bucket with one shard, or all shards merged by the store."""

    def __init__(self, cursor: _ShardCursor) -> None:
        self._cursor = cursor

    async def next(self) -> ObjectRecord | None:
        rec = await self._cursor.head()
        if rec is not None:
            self._cursor.pop()
        return rec

    def seek(self, key: str) -> None:
        self._cursor.seek(key)


def _first_page(max_keys: int, shards: int, delimiter: str) -> int:
    # This shard's share of the page, with slack for uneven spread and old versions; with a
    # delimiter, many rows may roll up into one prefix, so start small and let pages grow.
    # One scan (one shard, or all merged by the store): the page, the row that shows whether
    # there are more, and one spare.
    spread = min(_MAX_PAGE, (max_keys + 1) * 3 // (2 * shards) + 2)
    share = max(8, max_keys + 2 if shards == 1 else spread)
    return min(share, 16) if delimiter else share


def _merged(
    meta: MetaStore,
    bucket: BucketRecord,
    *,
    start_key: str,
    start_exclusive: bool,
    end_key: str | None,
    max_keys: int,
    delimiter: str,
    version_at: tuple[str, int] | None = None,
) -> _MergedScan | _OneScan:
    """The bucket's rows from start_key (or from version_at: (key, seq), the rows of key with
    seq < seq first) up to end_key, in clustering order over every shard."""
    if 1 < bucket.shards <= meta.max_merged_shards:
        scan = functools.partial(meta.scan_bucket, bucket.bucket_id, bucket.shards)
        return _OneScan(
            _cursor(
                scan, 0, start_key, start_exclusive, end_key, max_keys, 1, delimiter, version_at
            )
        )
    cursors = [
        _cursor(
            functools.partial(meta.scan_objects, bucket.bucket_id, shard),
            shard,
            start_key,
            start_exclusive,
            end_key,
            max_keys,
            bucket.shards,
            delimiter,
            version_at if version_at and shard == shard_of(version_at[0], bucket.shards) else None,
        )
        for shard in range(bucket.shards)
    ]
    return _OneScan(cursors[0]) if len(cursors) == 1 else _MergedScan(cursors)


def _cursor(
    scan: _Scan,
    shard: int,
    start_key: str,
    start_exclusive: bool,
    end_key: str | None,
    max_keys: int,
    shards: int,
    delimiter: str,
    version_at: tuple[str, int] | None,
) -> _ShardCursor:
    after_seq = None
    if version_at is not None:
        start_key, start_exclusive, after_seq = version_at[0], False, version_at[1]
    return _ShardCursor(
        scan,
        shard,
        start_key=start_key,
        start_exclusive=start_exclusive,
        after_seq=after_seq,
        end_key=end_key,
        page=_first_page(clamp_max_keys(max_keys), shards, delimiter),
    )


async def _drive(scan: _MergedScan | _OneScan, lister: ObjectLister | VersionLister) -> None:
    while not lister.done:
        rec = await scan.next()
        if rec is None:
            return
        jump = lister.feed(rec)
        if jump is not None:
            scan.seek(jump)


def _start(prefix: str, marker: str) -> tuple[str, bool]:
    return (marker, True) if marker >= prefix else (prefix, False)


async def list_objects(
    meta: MetaStore,
    bucket: BucketRecord,
    *,
    prefix: str = "",
    delimiter: str = "",
    start_after: str = "",
    max_keys: int = 1000,
) -> ListPage:
    """One page of ListObjects (V1 marker / V2 start-after or continuation position)."""
    lister = ObjectLister(
        prefix=prefix, delimiter=delimiter, max_keys=max_keys, start_after=start_after
    )
    if not lister.done:
        start_key, exclusive = _start(prefix, start_after)
        scan = _merged(
            meta,
            bucket,
            start_key=start_key,
            start_exclusive=exclusive,
            end_key=prefix_end(prefix),
            max_keys=max_keys,
            delimiter=delimiter,
        )
        await _drive(scan, lister)
    return lister.page()


async def list_versions(
    meta: MetaStore,
    bucket: BucketRecord,
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    version_id_marker: str = "",
    max_keys: int = 1000,
) -> VersionPage:
    """One page of ListObjectVersions."""
    lister = VersionLister(
        prefix=prefix,
        delimiter=delimiter,
        max_keys=max_keys,
        key_marker=key_marker,
        version_id_marker=version_id_marker,
    )
    if lister.done:
        return lister.page()
    version_at: tuple[str, int] | None = None
    if key_marker and version_id_marker:
        shard = shard_of(key_marker, bucket.shards)
        marker = await meta.get_object_by_version(
            bucket.bucket_id, shard, key_marker, version_id_marker
        )
        if marker is not None:
            # Start at the marker row itself: the lister skips it and lists the older ones.
            version_at = (key_marker, marker.seq + 1)
    start_key, exclusive = _start(prefix, key_marker)
    scan = _merged(
        meta,
        bucket,
        start_key=start_key,
        start_exclusive=exclusive,
        end_key=prefix_end(prefix),
        max_keys=max_keys,
        delimiter=delimiter,
        version_at=version_at,
    )
    await _drive(scan, lister)
    return lister.page()


# Greater than any upload id: (key, _AFTER_ALL) is after every upload of key.
_AFTER_ALL = "\U0010ffff"


async def list_uploads(
    meta: MetaStore,
    bucket: BucketRecord,
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    upload_id_marker: str = "",
    max_uploads: int = 1000,
) -> UploadPage:
    """One page of ListMultipartUploads (uploads live in one partition per bucket)."""
    lister = UploadLister(
        prefix=prefix,
        delimiter=delimiter,
        max_uploads=max_uploads,
        key_marker=key_marker,
        upload_id_marker=upload_id_marker,
    )
    if key_marker >= prefix:
        after = (key_marker, upload_id_marker or _AFTER_ALL) if key_marker else ("", "")
    else:
        after = (prefix, "") if prefix else ("", "")
    end = prefix_end(prefix)
    page = _first_page(clamp_max_keys(max_uploads), 1, delimiter)
    while not lister.done:
        limit, page = page, min(page * 2, _MAX_PAGE)
        rows = await meta.scan_uploads(
            bucket.bucket_id, after_key=after[0], after_upload_id=after[1], limit=limit
        )
        for rec in rows:
            if end is not None and rec.key >= end:
                return lister.page()
            after = (rec.key, rec.upload_id)
            jump = lister.feed(rec)
            if lister.done:
                break
            if jump is not None:
                # Strictly after (jump, "") is every upload of jump onwards (ids are never empty).
                after = (jump, "")
                break
        else:
            if len(rows) < limit:
                return lister.page()
    return lister.page()
