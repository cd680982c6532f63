"""Store contract: the object index (partition (bucket_id, shard), clustering key ASC, seq DESC)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import pytest

from s3front.objects.keys import shard_of
from s3front.store.protocols import Store
from s3front.store.records import NULL_VERSION, ObjectRecord

pytestmark = pytest.mark.anyio


def obj(key: str, seq: int = 0, **kw: object) -> ObjectRecord:
    fields: dict[str, object] = {
        "version_id": f"v{seq}" if seq else NULL_VERSION,
        "size": 3,
        "etag": hashlib.md5(key.encode()).hexdigest(),
        "last_modified_ms": 1_700_000_000_000 + seq,
        "owner": "owner-1",
        "inline": f"{key}#{seq}".encode(),
    }
    fields.update(kw)
    return ObjectRecord(key=key, seq=seq, **fields)  # type: ignore[arg-type]


def listed(rec: ObjectRecord) -> ObjectRecord:
    """What a scan without with_inline returns for rec."""
    return dataclasses.replace(rec, inline=None)


async def test_object_roundtrip_keeps_every_field(store: Store, prefix: str) -> None:
    rec = obj(
        "dir/ключ 😀.txt",
        seq=7,
        version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
        size=10 * 2**30,
        etag="d41d8cd98f00b204e9800998ecf8427e-3",
        manifest_id=f"{prefix}-m",
        inline=None,
        headers={"content-type": "text/plain; charset=utf-8", "x-amz-meta-ünï": "välue"},
        checksums={"CRC32": "AAAAAA==", "type": "COMPOSITE"},
        parts=3,
        attrs={"tagging": "<Tagging/>"},
    )
    await store.meta.put_object(prefix, 1, rec)
    assert await store.meta.get_object(prefix, 1, rec.key, 7) == rec
    assert await store.meta.get_object(prefix, 1, rec.key) == rec


@pytest.mark.parametrize(
    "rec",
    [
        obj("empty", inline=b""),
        obj("bytes", inline=bytes(range(256)) * 16),
        obj("marker", seq=2, delete_marker=True, inline=None, size=0, etag=""),
        obj("nothing", inline=None, manifest_id=None),
    ],
    ids=lambda r: r.key,
)
async def test_object_payload_kinds(store: Store, prefix: str, rec: ObjectRecord) -> None:
    await store.meta.put_object(prefix, 0, rec)
    assert await store.meta.get_object(prefix, 0, rec.key) == rec


async def test_put_object_overwrites_same_seq(store: Store, prefix: str) -> None:
    await store.meta.put_object(prefix, 0, obj("k", etag="old"))
    await store.meta.put_object(prefix, 0, obj("k", etag="new", inline=b"xyz"))
    assert await store.meta.get_object(prefix, 0, "k") == obj("k", etag="new", inline=b"xyz")
    assert len(await store.meta.scan_objects(prefix, 0, limit=10)) == 1


async def test_versions_newest_first(store: Store, prefix: str) -> None:
    for seq in [2, 5, 1, 3]:
        await store.meta.put_object(prefix, 0, obj("k", seq))
    await store.meta.put_object(prefix, 0, obj("k/longer", 9))  # a key with "k" as prefix
    m = store.meta
    assert await m.get_object(prefix, 0, "k") == obj("k", 5)
    assert await m.get_object(prefix, 0, "k", 3) == obj("k", 3)
    assert await m.get_object(prefix, 0, "k", 4) is None
    assert await m.get_object(prefix, 0, "missing") is None
    assert await m.get_object(prefix, 0, "k/") is None
    assert await m.get_object_by_version(prefix, 0, "k", "v2") == obj("k", 2)
    assert await m.get_object_by_version(prefix, 0, "k", "v9") is None
    assert await m.get_object_by_version(prefix, 0, "k/longer", "v9") == obj("k/longer", 9)
    scanned = await m.scan_objects(prefix, 0, limit=100)
    assert [(r.key, r.seq) for r in scanned] == [("k", s) for s in [5, 3, 2, 1]] + [("k/longer", 9)]

    await m.delete_object(prefix, 0, "k", 5)
    assert await m.get_object(prefix, 0, "k") == obj("k", 3)
    await m.delete_object(prefix, 0, "k", 5)  # again: no error
    for seq in [3, 2, 1]:
        await m.delete_object(prefix, 0, "k", seq)
    assert await m.get_object(prefix, 0, "k") is None
    assert await m.get_object(prefix, 0, "k/longer") == obj("k/longer", 9)


async def test_partitions_are_separate(store: Store, prefix: str) -> None:
    a, b = f"{prefix}-a", f"{prefix}-b"
    await store.meta.put_object(a, 0, obj("k", etag="a0"))
    await store.meta.put_object(a, 1, obj("k", etag="a1"))
    await store.meta.put_object(b, 0, obj("k", etag="b0"))
    for bucket_id, shard, etag in [(a, 0, "a0"), (a, 1, "a1"), (b, 0, "b0")]:
        got = await store.meta.get_object(bucket_id, shard, "k")
        assert got is not None and got.etag == etag
        assert [r.etag for r in await store.meta.scan_objects(bucket_id, shard, limit=9)] == [etag]
    assert await store.meta.get_object(b, 1, "k") is None
    await store.meta.delete_object(a, 0, "k", 0)
    assert await store.meta.get_object(a, 1, "k") is not None


# Keys that trip ordering: prefixes of one another, "-" (0x2d) < "/" (0x2f) < "0" (0x30), upper
# before lower case, multi-byte UTF-8, and a non-BMP character, which sorts after U+FFFD by code
# point / UTF-8 bytes (UTF-16 order would put it before).
KEYS = [
    "a",
    "a-b",
    "a/",
    "a/b",
    "a/b/c",
    "a0",
    "ab",
    "A",
    "b",
    "a b",
    "é",
    "中文",
    "\ufffd",
    "😀",
    "z",
]
# (key, seqs): some keys have several versions.
ROWS = [(k, [3, 2, 1] if k in ("a/b", "é") else [0]) for k in KEYS]
ALL = [obj(k, s) for k, seqs in sorted(ROWS, key=lambda r: r[0].encode()) for s in seqs]


def test_key_order_is_code_point_order() -> None:
    assert sorted(KEYS) == sorted(KEYS, key=lambda k: k.encode("utf-8"))
    assert [r.key for r in ALL][:9] == ["A", "a", "a b", "a-b", "a/", "a/b", "a/b", "a/b", "a/b/c"]


@pytest.fixture
async def filled(store: Store, prefix: str) -> tuple[Store, str]:
    # Written in scrambled order so that order comes from the store, not the insertion.
    await asyncio.gather(*(store.meta.put_object(prefix, 3, r) for r in reversed(ALL[::2])))
    await asyncio.gather(*(store.meta.put_object(prefix, 3, r) for r in ALL[1::2]))
    return store, prefix


def model(start_key: str, start_exclusive: bool, after_seq: int | None, end_key: str | None,
          limit: int) -> list[ObjectRecord]:  # fmt: skip
    """The scan_objects docstring, in Python."""

    def started(r: ObjectRecord) -> bool:
        if after_seq is not None:
            return (r.key == start_key and r.seq < after_seq) or r.key > start_key
        return r.key > start_key if start_exclusive else r.key >= start_key

    rows = [r for r in ALL if started(r) and (end_key is None or r.key < end_key)]
    return [listed(r) for r in rows[:limit]]


SCAN_CASES = [
    ("", False, None, None, 100, ["A", "a", "a b", "a-b"]),
    ("", True, None, None, 100, ["A", "a"]),
    ("a", False, None, None, 100, ["a", "a b"]),
    ("a", True, None, None, 100, ["a b", "a-b"]),
    ("a/b", False, None, None, 100, ["a/b", "a/b", "a/b", "a/b/c"]),
    ("a/b", True, None, None, 100, ["a/b/c", "a0"]),
    ("a/a", False, None, None, 100, ["a/b"]),  # start between keys
    ("a/a", True, None, None, 100, ["a/b"]),
    ("a/b", False, 3, None, 100, ["a/b", "a/b", "a/b/c"]),  # seqs 2, 1
    ("a/b", False, 2, None, 100, ["a/b", "a/b/c"]),
    ("a/b", False, 1, None, 100, ["a/b/c"]),
    ("a/b", True, 99, None, 100, ["a/b", "a/b", "a/b", "a/b/c"]),  # after_seq wins
    ("a/a", False, 5, None, 100, ["a/b"]),  # key absent: just keys > start_key
    ("", False, None, "a0", 100, ["A"]),
    ("a-b", False, None, "a/b", 100, ["a-b", "a/"]),
    ("a/b", False, 2, "a/b/c", 100, ["a/b"]),
    ("a/b", False, None, "a/b", 100, []),  # end == start
    ("a/b", False, 3, "a/", 100, []),  # end before start
    ("b", False, None, "a", 100, []),
    ("\u00e9", False, None, None, 100, ["é", "é", "é", "中文", "\ufffd"]),
    ("\ufffd", False, None, None, 100, ["\ufffd", "😀"]),
    ("😀", True, None, None, 100, []),
    ("a/b", False, None, None, 2, ["a/b", "a/b"]),  # limit inside one key's versions
    ("", False, None, None, 1, ["A"]),
    ("é", False, 3, None, 1, ["é"]),
    ("", False, None, None, 0, []),
]


@pytest.mark.parametrize(
    ("start_key", "start_exclusive", "after_seq", "end_key", "limit", "first_keys"),
    SCAN_CASES,
)
async def test_scan_objects_start_modes(
    filled: tuple[Store, str],
    start_key: str,
    start_exclusive: bool,
    after_seq: int | None,
    end_key: str | None,
    limit: int,
    first_keys: list[str],
) -> None:
    store, bucket_id = filled
    got = await store.meta.scan_objects(
        bucket_id, 3, start_key=start_key, start_exclusive=start_exclusive,
        after_seq=after_seq, end_key=end_key, limit=limit,
    )  # fmt: skip
    assert got == model(start_key, start_exclusive, after_seq, end_key, limit)
    assert [r.key for r in got[: len(first_keys)]] == first_keys
    if not first_keys:
        assert got == []


@pytest.mark.parametrize(
    ("start_key", "start_exclusive", "after_seq", "end_key", "limit", "first_keys"),
    SCAN_CASES,
)
# 5: one SQL statement on SQLite; 70: more shards than SQLite merges in one statement (and, as
# on Cassandra always, per-shard scans merged by `s3front.store.shard_merge`).
@pytest.mark.parametrize("shards", [5, 70])
async def test_scan_bucket_is_the_merge_of_its_shards(
    store: Store,
    prefix: str,
    shards: int,
    start_key: str,
    start_exclusive: bool,
    after_seq: int | None,
    end_key: str | None,
    limit: int,
    first_keys: list[str],
) -> None:
    """The merged scan is scan_objects over every shard at once: the same rows in the same
    order as if all were in one shard, with only what a listing shows."""
    # With the mappings a listing does not show, which the merged scan leaves out.
    extra = {"headers": {"content-type": "t/x"}, "checksums": {"CRC32": "AAAAAA=="}}
    rows = [dataclasses.replace(r, **extra, attrs={"tags": "a=b"}, parts=2) for r in ALL]
    await asyncio.gather(
        *(store.meta.put_object(prefix, shard_of(r.key, shards), r) for r in reversed(rows))
    )
    got = await store.meta.scan_bucket(
        prefix, shards, start_key=start_key, start_exclusive=start_exclusive,
        after_seq=after_seq, end_key=end_key, limit=limit,
    )  # fmt: skip
    want = model(start_key, start_exclusive, after_seq, end_key, limit)
    assert got == [dataclasses.replace(r, parts=2) for r in want]
    assert [r.key for r in got[: len(first_keys)]] == first_keys
    # Spread over several shards, so that the order came from the merge.
    assert len({shard_of(r.key, shards) for r in ALL}) >= 4


async def test_scan_objects_pages_through_everything(filled: tuple[Store, str]) -> None:
    store, bucket_id = filled
    for limit in [1, 2, 3, 7]:
        pages: list[ObjectRecord] = []
        page = await store.meta.scan_objects(bucket_id, 3, limit=limit)
        while page:
            assert len(page) <= limit
            pages += page
            last = page[-1]
            page = await store.meta.scan_objects(
                bucket_id, 3, start_key=last.key, after_seq=last.seq, limit=limit
            )
        assert pages == [listed(r) for r in ALL]


async def test_scan_objects_inline_only_on_request(filled: tuple[Store, str]) -> None:
    store, bucket_id = filled
    bare = await store.meta.scan_objects(bucket_id, 3, limit=100)
    assert all(r.inline is None for r in bare)
    full = await store.meta.scan_objects(bucket_id, 3, limit=100, with_inline=True)
    assert full == ALL
    assert full[0].inline == b"A#0"


async def test_concurrent_writes_all_land(store: Store, prefix: str) -> None:
    recs = [obj(f"k{i:04d}", inline=str(i).encode()) for i in range(300)]
    blocks = [hashlib.sha256(i.to_bytes(4, "big") * 1000).digest() for i in range(60)]
    data = {b: b * 1024 for b in blocks}
    await asyncio.gather(
        *(store.meta.put_object(prefix, 0, r) for r in recs),
        *(store.blocks.put_block(b, d) for b, d in data.items()),
    )
    got = await asyncio.gather(*(store.meta.get_object(prefix, 0, r.key) for r in recs))
    assert got == recs
    assert await asyncio.gather(*(store.blocks.get_block(b) for b in blocks)) == list(data.values())
    assert await store.meta.scan_objects(prefix, 0, limit=1000, with_inline=True) == recs


async def test_put_object_if_is_conditional(store: Store, prefix: str) -> None:
    from dataclasses import replace

    from s3front.store.records import ObjectRecord

    bid = f"{prefix}-cond"
    first = ObjectRecord(
        key="k", seq=0, version_id="null", size=1, etag="e1", last_modified_ms=1000, owner="o"
    )
    assert await store.meta.put_object_if(bid, 0, first, None)
    # A second "only if absent" write loses and leaves the first row.
    assert not await store.meta.put_object_if(bid, 0, replace(first, etag="e2"), None)
    assert await store.meta.get_object(bid, 0, "k") == first
    # "Only if it is still `first`": wins once, then the expectation is stale.
    second = replace(first, etag="e2", last_modified_ms=2000)
    assert await store.meta.put_object_if(bid, 0, second, first)
    assert not await store.meta.put_object_if(bid, 0, replace(first, etag="e3"), first)
    assert await store.meta.get_object(bid, 0, "k") == second
    # Same etag but another modification time is another version of the row.
    assert not await store.meta.put_object_if(
        bid, 0, replace(second, etag="e4"), replace(second, last_modified_ms=1)
    )


async def test_put_object_if_compares_attrs(store: Store, prefix: str) -> None:
    """Two attribute updates (tags, ACL, object lock) read from the same row: the second one
    must not write back its stale copy, which would drop the first (e.g. a legal hold)."""
    from dataclasses import replace

    from s3front.store.records import ObjectRecord

    bid = f"{prefix}-attrs"
    base = ObjectRecord(
        key="k", seq=0, version_id="null", size=1, etag="e", last_modified_ms=1, owner="o"
    )
    assert await store.meta.put_object_if(bid, 0, base, None)
    held = replace(base, attrs={"lock-legal-hold": "ON"})
    assert await store.meta.put_object_if(bid, 0, held, base)
    assert not await store.meta.put_object_if(bid, 0, replace(base, attrs={"tags": "{}"}), base)
    assert await store.meta.get_object(bid, 0, "k") == held
    both = replace(held, attrs={**held.attrs, "tags": "{}"})
    assert await store.meta.put_object_if(bid, 0, both, held)
    assert await store.meta.get_object(bid, 0, "k") == both


async def test_put_object_if_race_has_one_winner(store: Store, prefix: str) -> None:
    import asyncio
    from dataclasses import replace

    from s3front.store.records import ObjectRecord

    bid = f"{prefix}-race"
    base = ObjectRecord(
        key="k", seq=0, version_id="null", size=1, etag="e", last_modified_ms=1, owner="o"
    )
    results = await asyncio.gather(
        *(store.meta.put_object_if(bid, 0, replace(base, etag=f"w{i}"), None) for i in range(8))
    )
    assert sum(results) == 1
    winner = await store.meta.get_object(bid, 0, "k")
    assert winner is not None and winner.etag == f"w{results.index(True)}"
