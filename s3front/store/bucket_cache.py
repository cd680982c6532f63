"""Bucket records for object requests, remembered for a moment.

Every object request needs its bucket's record (id, shards, versioning, ACL, policy): one store
read per request -- a quarter of a 4 KiB PUT's server time on SQLite (py-spy, bench/compare.py)
and a network round trip on Cassandra. Object requests and listings take the record from here
(`recent_bucket`), where one read in the last `seconds` is reused. Requests that change a bucket
(its configuration, or the bucket itself) read the store as before, and their writes go through
this wrapper, which drops the entry in this process at once: one server process never acts on
a configuration older than its own last change.

What another process (another worker, another server) changes is seen here within `seconds`:
versioning, policy, ACL and CORS changes apply after that long, and a deleted bucket may still
take requests for that long -- except writes of objects, which read the bucket from the store
again once their row is written (`s3front.objects.bucket_deletion`), so none lands in a
deleted bucket. S3 documents the same propagation delays for bucket configuration and deletion. Misses are not remembered, so a bucket created anywhere is usable at once.
`bucket_cache_seconds = 0` turns the cache off.
"""

from __future__ import annotations

import time
from typing import Any, cast

from s3front.store.protocols import BlockStore, KeyStore, MetaStore, Store
from s3front.store.records import BucketRecord

_MAX_ENTRIES = 10_000  # a process serving more buckets than this starts over (cleared)


class BucketCachingMeta:
    """A MetaStore that also answers `recent_bucket`; everything else passes through."""

    def __init__(self, meta: MetaStore, seconds: float) -> None:
        self._meta = meta
        self._seconds = seconds
        self._recent: dict[str, tuple[float, BucketRecord]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._meta, name)
        setattr(self, name, attr)  # later lookups skip __getattr__
        return attr

    async def recent_bucket(self, name: str) -> BucketRecord | None:
        """The bucket's record as read at most `seconds` ago (None: it does not exist now)."""
        now = time.monotonic()
        hit = self._recent.get(name)
        if hit is not None and now - hit[0] < self._seconds:
            return hit[1]
        rec = await self._meta.get_bucket(name)
        if rec is None:
            self._recent.pop(name, None)
        elif self._seconds > 0:
            if len(self._recent) >= _MAX_ENTRIES:
                self._recent.clear()
            self._recent[name] = (now, rec)
        return rec

    # Writes drop the entry once they are done (a read racing the write may have cached the
    # record it replaces), whether or not they succeeded.
    async def insert_bucket(self, rec: BucketRecord) -> bool:
        try:
            return await self._meta.insert_bucket(rec)
        finally:
            self._recent.pop(rec.name, None)

    async def update_bucket(self, rec: BucketRecord) -> None:
        try:
            await self._meta.update_bucket(rec)
        finally:
            self._recent.pop(rec.name, None)

    async def delete_bucket(self, name: str) -> None:
        try:
            await self._meta.delete_bucket(name)
        finally:
            self._recent.pop(name, None)

    async def delete_bucket_marked(self, name: str, mark: str) -> bool:
        try:
            return await self._meta.delete_bucket_marked(name, mark)
        finally:
            self._recent.pop(name, None)


class BucketCachingStore:
    """A Store whose `meta` is a `BucketCachingMeta`."""

    def __init__(self, store: Store, seconds: float) -> None:
        self._store = store
        self.buckets = BucketCachingMeta(store.meta, seconds)

    @property
    def meta(self) -> MetaStore:
        return cast(MetaStore, self.buckets)

    @property
    def blocks(self) -> BlockStore:
        return self._store.blocks

    @property
    def keys(self) -> KeyStore:
        return self._store.keys

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()


async def bucket_for_objects(store: Store, name: str) -> BucketRecord | None:
    """A bucket's record for a request that reads or writes objects (or lists them): a recent
    one where the store keeps them (`BucketCachingStore`), else read now."""
    meta = store.meta
    if isinstance(meta, BucketCachingMeta):
        return await meta.recent_bucket(name)
    return await meta.get_bucket(name)
