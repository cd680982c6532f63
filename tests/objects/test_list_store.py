"""Listing drivers on the real SQLite store: 8 shards merged (by SQLite, and by the listing as
on Cassandra), pages, jumps over prefixes."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from s3front.objects.keys import shard_of
from s3front.objects.listing import list_objects, list_uploads, list_versions
from s3front.store import open_store
from s3front.store.protocols import MetaStore, Store
from s3front.store.records import BucketRecord, ObjectRecord, UploadRecord

pytestmark = pytest.mark.anyio


def obj(key: str, seq: int, vid: str, dm: bool = False) -> ObjectRecord:
    return ObjectRecord(
        key=key, seq=seq, version_id=vid, size=0 if dm else 1, etag="e", last_modified_ms=0,
        owner="o", delete_marker=dm,
    )  # fmt: skip


def make_keys() -> list[str]:
    rng = random.Random(42)
    keys = {f"dir{rng.randrange(13)}/sub{rng.randrange(7)}/file{i:04d}" for i in range(1700)}
    keys |= {f"top{i}" for i in range(100)}
    keys |= {f"big/{i:05d}" for i in range(150)}
    keys |= {"\u65e5\u672c/\u6587\u5b57", "\U0001f600", "a//b", "/lead", "trail/", "x y/+&%"}
    return sorted(keys)


KEYS = make_keys()
# Some keys get history: older versions, and a newest delete marker for every 10th.
DELETED = set(KEYS[::10])


def rows_of(key: str, i: int) -> list[ObjectRecord]:
    rows = [obj(key, 1, f"v1-{i}")]
    if i % 3 == 0:
        rows.append(obj(key, 2, f"v2-{i}"))
    if key in DELETED:
        rows.append(obj(key, 3, f"dm-{i}", dm=True))
    return rows


class PerShardMeta:
    """The real metadata store, declining to merge shards: the listing merges per-shard scans,
    as it does on Cassandra."""

    max_merged_shards = 0

    def __init__(self, meta: MetaStore) -> None:
        self._inner = meta

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class MetaView:
    """Just the `meta` of a store, for the listing drivers."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta


@pytest.fixture(scope="module", params=["merged-by-store", "merged-by-listing"])
async def populated(
    request: pytest.FixtureRequest, filled: tuple[Store, BucketRecord]
) -> tuple[Store, BucketRecord]:
    store, bucket = filled
    if request.param == "merged-by-store":
        assert store.meta.max_merged_shards >= bucket.shards
        return store, bucket
    return cast(Store, MetaView(cast(MetaStore, PerShardMeta(store.meta)))), bucket


@pytest.fixture(scope="module")
async def filled(
    anyio_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Store, BucketRecord]]:
    store = await open_store(f"sqlite://{tmp_path_factory.mktemp('list') / 'store'}")
    bucket = BucketRecord(
        name="listing", bucket_id=uuid.uuid4().hex, owner="o", created_ms=0,
        region="us-east-1", shards=8, versioning="Enabled",
    )  # fmt: skip
    for i, key in enumerate(KEYS):
        for rec in rows_of(key, i):
            await store.meta.put_object(bucket.bucket_id, shard_of(key, 8), rec)
    for i, key in enumerate(KEYS[:60]):
        for u in range(1 + i % 2):
            up = UploadRecord(key=key, upload_id=f"up{u}-{i}", initiated_ms=0, owner="o")
            await store.meta.put_upload(bucket.bucket_id, up)
    yield store, bucket
    await store.close()


LIVE = [k for k in KEYS if k not in DELETED]


def reference(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    """Items (keys and common prefixes) of a listing, computed the obvious way."""
    items = set()
    for k in keys:
        if not k.startswith(prefix):
            continue
        i = k.find(delimiter, len(prefix)) if delimiter else -1
        items.add(k if i < 0 else k[: i + len(delimiter)])
    return sorted(items)


async def all_pages(
    meta: MetaStore, bucket: BucketRecord, prefix: str, delimiter: str, max_keys: int
) -> list[str]:
    seen: list[str] = []
    marker = ""
    while True:
        page = await list_objects(
            meta, bucket, prefix=prefix, delimiter=delimiter, start_after=marker, max_keys=max_keys
        )
        items = [r.key for r in page.contents] + page.common_prefixes
        assert len(items) <= max_keys
        assert page.is_truncated or page.next_marker is None
        seen += sorted(items)
        if not page.is_truncated:
            return seen
        assert page.next_marker == max(items)
        marker = page.next_marker


@pytest.mark.parametrize("max_keys", [1, 7, 1000])
async def test_every_key_once(populated: tuple[Store, BucketRecord], max_keys: int) -> None:
    store, bucket = populated
    assert await all_pages(store.meta, bucket, "", "", max_keys) == LIVE


@pytest.mark.parametrize(
    ("prefix", "delimiter"),
    [("", "/"), ("dir3/", "/"), ("dir3/sub4/", "/"), ("dir1", "/"), ("big/", ""), ("", "sub"),
     ("t", "/"), ("\u65e5", "/"), ("nothing/", "/")],
)  # fmt: skip
@pytest.mark.parametrize("max_keys", [1, 7, 1000])
async def test_delimiter_listings(
    populated: tuple[Store, BucketRecord], prefix: str, delimiter: str, max_keys: int
) -> None:
    store, bucket = populated
    got = await all_pages(store.meta, bucket, prefix, delimiter, max_keys)
    assert got == reference(LIVE, prefix, delimiter)


class CountingMeta:
    """The real metadata store, counting object-index rows read."""

    def __init__(self, meta: MetaStore) -> None:
        self.inner = meta
        self.rows = 0
        self.scans: list[str] = []
        self.max_merged_shards = meta.max_merged_shards

    async def scan_objects(self, *args: object, **kw: object) -> list[ObjectRecord]:
        rows = await self.inner.scan_objects(*args, **kw)  # type: ignore[arg-type]
        self.rows += len(rows)
        self.scans.append("shard")
        return rows

    async def scan_bucket(self, *args: object, **kw: object) -> list[ObjectRecord]:
        rows = await self.inner.scan_bucket(*args, **kw)  # type: ignore[arg-type]
        self.rows += len(rows)
        self.scans.append("bucket")
        return rows


async def test_a_page_is_one_merged_scan_where_the_store_merges(
    populated: tuple[Store, BucketRecord],
) -> None:
    store, bucket = populated
    meta = CountingMeta(store.meta)
    page = await list_objects(cast(MetaStore, meta), bucket, prefix="top", max_keys=50)
    assert [r.key for r in page.contents] == [k for k in LIVE if k.startswith("top")][:50]
    if store.meta.max_merged_shards:
        # Merged scans only: the first reads the page and two rows more; older versions and
        # delete markers among them (a third of these keys has some) take one more, twice
        # as long.
        assert meta.scans == ["bucket", "bucket"]
        assert meta.rows <= 52 * 3
    else:
        assert set(meta.scans) == {"shard"}
        assert len(meta.scans) >= bucket.shards


async def test_common_prefixes_are_jumped_over(populated: tuple[Store, BucketRecord]) -> None:
    store, bucket = populated
    meta = CountingMeta(store.meta)
    page = await list_objects(cast(MetaStore, meta), bucket, delimiter="/", max_keys=1000)
    assert page.common_prefixes == [i for i in reference(LIVE, "", "/") if i.endswith("/")]
    # Without jumps this reads every row; with them, a few rows per prefix and shard.
    total = sum(len(rows_of(k, i)) for i, k in enumerate(KEYS))
    assert meta.rows * 3 < total


def version_reference(prefix: str, delimiter: str) -> list[tuple[str, str]]:
    items: set[tuple[str, str]] = set()
    for i, key in enumerate(KEYS):
        if not key.startswith(prefix):
            continue
        cp = key.find(delimiter, len(prefix)) if delimiter else -1
        if cp >= 0:
            items.add((key[: cp + len(delimiter)], ""))
        else:
            items |= {(key, r.version_id) for r in rows_of(key, i)}
    return sorted(items)


@pytest.mark.parametrize(
    ("prefix", "delimiter", "max_keys"),
    # Not ("", "", 1): 4000 one-row pages add time and no case the others miss.
    [("", "", 7), ("", "", 1000), ("", "/", 1), ("", "/", 7), ("", "/", 1000),
     ("dir2/", "", 1), ("dir2/", "/", 1), ("dir2/", "/", 7), ("dir2/", "/", 1000)],
)  # fmt: skip
async def test_versions(
    populated: tuple[Store, BucketRecord], prefix: str, delimiter: str, max_keys: int
) -> None:
    store, bucket = populated
    seen: list[tuple[str, str]] = []
    latest: set[tuple[str, str]] = set()
    key_marker = vid_marker = ""
    while True:
        page = await list_versions(
            store.meta, bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
            version_id_marker=vid_marker, max_keys=max_keys,
        )  # fmt: skip
        assert len(page.versions) + len(page.common_prefixes) <= max_keys
        # Newest first within a key.
        for a, b in zip(page.versions, page.versions[1:], strict=False):
            assert (a.key, -a.seq) < (b.key, -b.seq)
        seen += [(r.key, r.version_id) for r in page.versions]
        seen += [(p, "") for p in page.common_prefixes]
        latest |= page.latest
        if not page.is_truncated:
            break
        assert page.next_key_marker is not None
        key_marker, vid_marker = page.next_key_marker, page.next_version_id_marker or ""
    assert sorted(seen) == version_reference(prefix, delimiter)
    assert len(seen) == len(set(seen))
    newest = {
        (k, rows_of(k, i)[-1].version_id)
        for i, k in enumerate(KEYS)
        if k.startswith(prefix) and not (delimiter and delimiter in k[len(prefix) :])
    }
    assert latest == newest


@pytest.mark.parametrize(("prefix", "delimiter"), [("", ""), ("", "/"), ("dir", "/")])
@pytest.mark.parametrize("max_uploads", [1, 7, 1000])
async def test_uploads(
    populated: tuple[Store, BucketRecord], prefix: str, delimiter: str, max_uploads: int
) -> None:
    store, bucket = populated
    expected: set[tuple[str, str]] = set()
    for i, key in enumerate(KEYS[:60]):
        if key.startswith(prefix):
            cp = key.find(delimiter, len(prefix)) if delimiter else -1
            if cp >= 0:
                expected.add((key[: cp + len(delimiter)], ""))
            else:
                expected |= {(key, f"up{u}-{i}") for u in range(1 + i % 2)}
    seen: list[tuple[str, str]] = []
    key_marker = upload_marker = ""
    while True:
        page = await list_uploads(
            store.meta, bucket, prefix=prefix, delimiter=delimiter, key_marker=key_marker,
            upload_id_marker=upload_marker, max_uploads=max_uploads,
        )  # fmt: skip
        assert len(page.uploads) + len(page.common_prefixes) <= max_uploads
        seen += [(u.key, u.upload_id) for u in page.uploads] + [
            (p, "") for p in page.common_prefixes
        ]
        if not page.is_truncated:
            break
        assert page.next_key_marker is not None
        key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker or ""
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(expected)


async def test_empty_bucket_and_max_keys_zero(tmp_path: Path, anyio_backend: str) -> None:
    store = await open_store(f"sqlite://{tmp_path / 's'}")
    try:
        bucket = BucketRecord(
            name="e", bucket_id="e", owner="o", created_ms=0, region="r", shards=4
        )
        page = await list_objects(store.meta, bucket, delimiter="/")
        assert (page.contents, page.common_prefixes, page.is_truncated) == ([], [], False)
        await store.meta.put_object("e", shard_of("k", 4), obj("k", 0, "null"))
        page = await list_objects(store.meta, bucket, max_keys=0)
        assert (page.contents, page.is_truncated) == ([], False)
        assert [r.key for r in (await list_objects(store.meta, bucket)).contents] == ["k"]
    finally:
        await store.close()
