"""Store contract: manifests, multipart uploads and parts."""

from __future__ import annotations

import hashlib

import pytest

from s3front.store.protocols import Store
from s3front.store.records import ManifestEntry, PartRecord, UploadRecord

pytestmark = pytest.mark.anyio


def bid(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(4, "big")).digest()


# A block, a child manifest, a block: bytes [0, 100), [100, 150), [150, 250).
ENTRIES = [
    ManifestEntry(0, 100, block_id=bid(0)),
    ManifestEntry(100, 50, child="part-manifest-1"),
    ManifestEntry(150, 100, block_id=bid(2)),
]


@pytest.mark.parametrize(
    ("from_offset", "limit", "want"),
    [
        (0, 1000, ENTRIES),
        (1, 1000, ENTRIES),
        (99, 1000, ENTRIES),
        (100, 1000, ENTRIES[1:]),  # boundary: the entry starting there
        (149, 1000, ENTRIES[1:]),
        (150, 1000, ENTRIES[2:]),
        (249, 1000, ENTRIES[2:]),
        # Beyond the end: still the entry with the largest offset <= from_offset.
        (250, 1000, ENTRIES[2:]),
        (10**12, 1000, ENTRIES[2:]),
        (0, 2, ENTRIES[:2]),
        (120, 1, ENTRIES[1:2]),
    ],
)
async def test_get_manifest_from_offset(
    store: Store, prefix: str, from_offset: int, limit: int, want: list[ManifestEntry]
) -> None:
    await store.meta.put_manifest(prefix, ENTRIES)
    assert await store.meta.get_manifest(prefix, from_offset, limit) == want


async def test_manifest_written_in_pieces_and_deleted(store: Store, prefix: str) -> None:
    many = [ManifestEntry(i * 10, 10, block_id=bid(i)) for i in range(2500)]
    await store.meta.put_manifest(prefix, many[1000:])
    await store.meta.put_manifest(prefix, many[:1000])
    await store.meta.put_manifest(f"{prefix}-other", ENTRIES)
    assert await store.meta.get_manifest(prefix) == many[:1000]  # default limit
    assert await store.meta.get_manifest(prefix, 12345, 3) == many[1234:1237]
    assert await store.meta.get_manifest(prefix, 0, 5000) == many
    await store.meta.put_manifest(prefix, [])  # nothing to write is fine
    await store.meta.delete_manifest(prefix)
    assert await store.meta.get_manifest(prefix) == []
    assert await store.meta.get_manifest(f"{prefix}-other") == ENTRIES
    assert await store.meta.get_manifest(f"{prefix}-never") == []
    await store.meta.delete_manifest(f"{prefix}-never")


async def all_manifest_ids(store: Store, limit: int) -> list[str]:
    ids: list[str] = []
    page = await store.meta.list_manifest_ids("", limit)
    while page:
        assert len(page) <= limit
        ids += page
        page = await store.meta.list_manifest_ids(page[-1], limit)
    return ids


async def test_list_manifest_ids_pages_each_id_once(store: Store, prefix: str) -> None:
    mine = [f"{prefix}-{i}" for i in range(7)]
    for m in mine:
        # Several entries each: an id is listed once however many entries it has.
        await store.meta.put_manifest(m, ENTRIES)
    ids = await all_manifest_ids(store, 3)
    assert len(ids) == len(set(ids))
    assert set(mine) <= set(ids)

    await store.meta.delete_manifest(mine[3])
    ids = await all_manifest_ids(store, 50)
    assert mine[3] not in ids
    assert set(mine) - {mine[3]} <= set(ids)


def upload(key: str, upload_id: str, **kw: object) -> UploadRecord:
    fields: dict[str, object] = {"initiated_ms": 1_700_000_000_000, "owner": "owner-1"}
    fields.update(kw)
    return UploadRecord(key=key, upload_id=upload_id, **fields)  # type: ignore[arg-type]


UPLOADS = [
    upload("a", "u1"),
    upload("a", "u2", headers={"content-type": "image/png"}, checksum_algorithm="CRC32C"),
    upload("a-b", "u0"),
    upload("a/b", "u9", attrs={"tagging": "<Tagging/>"}),
    upload("a/b", "ua"),
    upload("a0", "u1"),
    upload("é", "u5"),
]


@pytest.mark.parametrize(
    ("after_key", "after_upload_id", "limit", "want"),
    [
        ("", "", 100, UPLOADS),
        ("", "", 2, UPLOADS[:2]),
        ("a", "", 100, UPLOADS),  # ("a", "u1") > ("a", "")
        ("a", "u1", 100, UPLOADS[1:]),
        ("a", "u2", 100, UPLOADS[2:]),
        ("a", "zzz", 100, UPLOADS[2:]),
        ("a/b", "u9", 1, UPLOADS[4:5]),
        ("a/a", "", 100, UPLOADS[3:]),
        ("é", "u5", 100, []),
    ],
)
async def test_scan_uploads(
    store: Store,
    prefix: str,
    after_key: str,
    after_upload_id: str,
    limit: int,
    want: list[UploadRecord],
) -> None:
    for u in reversed(UPLOADS):
        await store.meta.put_upload(prefix, u)
    await store.meta.put_upload(f"{prefix}-other", upload("a", "u0"))
    got = await store.meta.scan_uploads(
        prefix, after_key=after_key, after_upload_id=after_upload_id, limit=limit
    )
    assert got == want


async def test_upload_get_replace_delete(store: Store, prefix: str) -> None:
    u = UPLOADS[1]
    await store.meta.put_upload(prefix, u)
    assert await store.meta.get_upload(prefix, "a", "u2") == u
    assert await store.meta.get_upload(prefix, "a", "u1") is None
    assert await store.meta.get_upload(f"{prefix}-other", "a", "u2") is None
    replaced = upload("a", "u2", owner="owner-2")
    await store.meta.put_upload(prefix, replaced)
    assert await store.meta.get_upload(prefix, "a", "u2") == replaced
    await store.meta.delete_upload(prefix, "a", "u2")
    assert await store.meta.get_upload(prefix, "a", "u2") is None
    assert await store.meta.scan_uploads(prefix, limit=10) == []


def part(n: int, **kw: object) -> PartRecord:
    fields: dict[str, object] = {
        "size": 5 * 2**20,
        "etag": hashlib.md5(str(n).encode()).hexdigest(),
        "last_modified_ms": 1_700_000_000_000 + n,
        "manifest_id": f"m{n}",
    }
    fields.update(kw)
    return PartRecord(part_number=n, **fields)  # type: ignore[arg-type]


async def test_parts(store: Store, prefix: str) -> None:
    up = f"{prefix}-up"
    for n in [10, 2, 10000, 1, 3]:
        await store.meta.put_part(up, part(n))
    await store.meta.put_part(f"{prefix}-other", part(1))
    m = store.meta
    assert [p.part_number for p in await m.list_parts(up)] == [1, 2, 3, 10, 10000]
    assert await m.list_parts(up, after=2) == [part(3), part(10), part(10000)]
    assert await m.list_parts(up, after=3, limit=1) == [part(10)]
    assert await m.list_parts(up, after=10000) == []

    again = part(2, size=7, etag="0" * 32, checksums={"CRC32": "AAAAAA=="}, manifest_id="m2b")
    await m.put_part(up, again)  # a part uploaded again replaces the first
    assert (await m.list_parts(up, after=1, limit=1)) == [again]

    await m.delete_parts(up)
    assert await m.list_parts(up) == []
    assert await m.list_parts(f"{prefix}-other") == [part(1)]
    await m.delete_parts(f"{prefix}-never")
