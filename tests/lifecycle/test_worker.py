"""The lifecycle worker against real stores (SQLite, and Cassandra when marked): each rule kind,
the filters, versioned and unversioned buckets, aborted uploads, the sweep of deleted buckets'
rows, and two workers at once. Times are given explicitly (`now_ms`), so nothing waits."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import Any, cast

import pytest

from s3front.lifecycle_worker import LifecycleReport, run_lifecycle
from s3front.objects import lifecycle
from s3front.objects.listing import shard_of
from s3front.objects.versions import version_id_for
from s3front.store.protocols import Store
from s3front.store.records import (
    NULL_VERSION,
    BucketRecord,
    ObjectRecord,
    PartRecord,
    UploadRecord,
)

pytestmark = pytest.mark.anyio

DAY = 86_400_000
NOW = 1_800_000_000_000  # a fixed "now", well after every object below


def _config(*rules: str) -> str:
    body = "<LifecycleConfiguration>" + "".join(f"<Rule>{r}</Rule>" for r in rules)
    return lifecycle.dumps(
        lifecycle.parse_configuration(body.encode() + b"</LifecycleConfiguration>")
    )


async def _bucket(store: Store, *rules: str, versioning: str = "", shards: int = 4) -> BucketRecord:
    attrs = {"lifecycle": _config(*rules)} if rules else {}
    rec = BucketRecord(
        name="lc" + uuid.uuid4().hex[:20],
        bucket_id=uuid.uuid4().hex,
        owner="owner",
        created_ms=NOW - 100 * DAY,
        region="us-east-1",
        shards=shards,
        versioning=versioning,
        attrs=attrs,
    )
    assert await store.meta.insert_bucket(rec)
    return rec


_seq = [1000]


async def _put(
    store: Store,
    b: BucketRecord,
    key: str,
    *,
    age_days: float,
    size: int = 10,
    tags: dict[str, str] | None = None,
    marker: bool = False,
) -> ObjectRecord:
    _seq[0] += 1
    seq = 0 if not b.versioning else _seq[0]
    attrs = {"tags": json.dumps(tags)} if tags else {}
    rec = ObjectRecord(
        key=key,
        seq=seq,
        version_id=version_id_for(seq) if b.versioning == "Enabled" else NULL_VERSION,
        size=0 if marker else size,
        etag="" if marker else uuid.uuid4().hex,
        last_modified_ms=NOW - int(age_days * DAY),
        owner="owner",
        delete_marker=marker,
        attrs=attrs,
    )
    await store.meta.put_object(b.bucket_id, shard_of(key, b.shards), rec)
    return rec


async def _rows(store: Store, b: BucketRecord, key: str) -> list[ObjectRecord]:
    shard = shard_of(key, b.shards)
    rows = await store.meta.scan_objects(b.bucket_id, shard, start_key=key, limit=1000)
    return [r for r in rows if r.key == key]


async def _run(
    store: Store, *buckets: BucketRecord, now: int = NOW, holder: str | None = None
) -> LifecycleReport:
    """A pass over these buckets only (the Cassandra keyspace is shared by this module)."""
    return await run_lifecycle(store, now_ms=now, holder=holder, only=[b.name for b in buckets])


EXPIRE_LOGS = "<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration>"


async def test_expiration_days_unversioned(lc_store: Store) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS)
    await _put(lc_store, b, "logs/old", age_days=3)
    await _put(lc_store, b, "logs/young", age_days=1)
    await _put(lc_store, b, "data/old", age_days=30)
    # Created 1.5 days ago: expires at created + 2 days rounded up to midnight -- still ahead.
    await _put(lc_store, b, "logs/edge", age_days=1.5)
    report = await _run(lc_store, b, now=(NOW // DAY) * DAY + DAY // 4)
    assert report.expired == 1
    assert await _rows(lc_store, b, "logs/old") == []
    for key in ("logs/young", "data/old", "logs/edge"):
        assert len(await _rows(lc_store, b, key)) == 1, key


async def test_expiration_rounds_up_to_midnight(lc_store: Store) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS)
    created = (NOW // DAY) * DAY + DAY // 2  # noon
    rec = ObjectRecord("logs/noon", 0, NULL_VERSION, 1, "e", created, "owner")
    await lc_store.meta.put_object(b.bucket_id, shard_of(rec.key, b.shards), rec)
    due = lifecycle.next_midnight(created + 2 * DAY)
    assert due == (NOW // DAY) * DAY + 3 * DAY
    assert (await _run(lc_store, b, now=due - 1)).expired == 0
    assert len(await _rows(lc_store, b, rec.key)) == 1
    assert (await _run(lc_store, b, now=due)).expired == 1
    assert await _rows(lc_store, b, rec.key) == []


async def test_disabled_rule_and_date_rule(lc_store: Store) -> None:
    disabled = EXPIRE_LOGS.replace("Enabled", "Disabled")
    b = await _bucket(lc_store, disabled)
    await _put(lc_store, b, "logs/old", age_days=30)
    date_rule = (
        "<Filter/><Status>Enabled</Status><Expiration><Date>2026-01-01T00:00:00Z</Date>"
        "</Expiration>"
    )
    d = await _bucket(lc_store, date_rule)
    await _put(lc_store, d, "any", age_days=0)
    report = await _run(lc_store, b, d)
    assert len(await _rows(lc_store, b, "logs/old")) == 1
    assert await _rows(lc_store, d, "any") == []
    assert report.expired == 1


async def test_versioned_expiration_adds_one_marker(lc_store: Store) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS, versioning="Enabled")
    old = await _put(lc_store, b, "logs/a", age_days=5)
    young = await _put(lc_store, b, "logs/b", age_days=0)
    # Two workers at once, then another pass: still one marker.
    r1, r2 = await asyncio.gather(_run(lc_store, b, holder="one"), _run(lc_store, b, holder="two"))
    r3 = await _run(lc_store, b)
    assert r1.markers_added + r2.markers_added + r3.markers_added == 1
    rows = await _rows(lc_store, b, "logs/a")
    assert [r.delete_marker for r in rows] == [True, False]
    assert rows[1] == old  # the data stays, as a noncurrent version
    assert await _rows(lc_store, b, "logs/b") == [young]


async def test_suspended_expiration_replaces_null_version(lc_store: Store) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS, versioning="Suspended")
    rec = ObjectRecord("logs/s", 5, NULL_VERSION, 3, "e", NOW - 5 * DAY, "owner")
    await lc_store.meta.put_object(b.bucket_id, shard_of(rec.key, b.shards), rec)
    assert (await _run(lc_store, b)).markers_added == 1
    rows = await _rows(lc_store, b, "logs/s")
    assert len(rows) == 1 and rows[0].delete_marker and rows[0].version_id == NULL_VERSION


async def test_noncurrent_expiration_keeps_newer_noncurrent(lc_store: Store) -> None:
    rule = (
        "<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1"
        "</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions>"
        "</NoncurrentVersionExpiration>"
    )
    b = await _bucket(lc_store, rule, versioning="Enabled")
    written = [await _put(lc_store, b, "k", age_days=10 - i) for i in range(6)]  # oldest first
    # A version written 1 hour ago made its predecessor noncurrent too recently.
    other = [await _put(lc_store, b, "fresh", age_days=a) for a in (10, 1 / 24)]
    report = await _run(lc_store, b)
    rows = await _rows(lc_store, b, "k")
    # current + the 2 newest noncurrent stay; the 3 older ones go.
    assert rows == written[::-1][:3]
    assert report.noncurrent_removed == 3
    assert await _rows(lc_store, b, "fresh") == other[::-1]


async def test_expired_object_delete_marker(lc_store: Store) -> None:
    rule = (
        "<Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration>"
        "<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
    )
    b = await _bucket(lc_store, rule, versioning="Enabled")
    await _put(lc_store, b, "alone", age_days=1, marker=True)
    v = await _put(lc_store, b, "covering", age_days=2)
    m = await _put(lc_store, b, "covering", age_days=1, marker=True)
    report = await _run(lc_store, b)
    assert report.markers_removed == 1
    assert await _rows(lc_store, b, "alone") == []
    assert await _rows(lc_store, b, "covering") == [m, v]


async def test_filters_tag_size_and(lc_store: Store) -> None:
    tag = "<Filter><Tag><Key>tmp</Key><Value>yes</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
    big = "<Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>"
    both = (
        "<Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
        "<ObjectSizeLessThan>50</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration>"
    )
    b = await _bucket(lc_store, tag, big, both)
    gone = {
        "t1": dict(tags={"tmp": "yes"}),
        "big": dict(size=101),
        "a/small": dict(size=10, tags={"k": "v"}),
    }
    kept = {
        "t2": dict(tags={"tmp": "no"}),
        "size100": dict(size=100),
        "a/notag": dict(size=10),
        "a/large": dict(size=60, tags={"k": "v"}),
        "b/small": dict(size=10, tags={"k": "v"}),
    }
    for key, kw in {**gone, **kept}.items():
        await _put(lc_store, b, key, age_days=5, **kw)  # type: ignore[arg-type]
    report = await _run(lc_store, b)
    assert report.expired == len(gone)
    for key in gone:
        assert await _rows(lc_store, b, key) == [], key
    for key in kept:
        assert len(await _rows(lc_store, b, key)) == 1, key


async def test_abort_incomplete_uploads(lc_store: Store) -> None:
    rule = (
        "<Filter><Prefix>up/</Prefix></Filter><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>"
    )
    b = await _bucket(lc_store, rule)
    ups = {}
    for key, age in (("up/old", 3), ("up/new", 0), ("other/old", 3)):
        up = UploadRecord(key, uuid.uuid4().hex, NOW - age * DAY, "owner")
        await lc_store.meta.put_upload(b.bucket_id, up)
        await lc_store.meta.put_part(up.upload_id, PartRecord(1, 5, "e", NOW, uuid.uuid4().hex))
        ups[key] = up
    report = await _run(lc_store, b)
    assert report.uploads_aborted == 1
    left = await lc_store.meta.scan_uploads(b.bucket_id, limit=10)
    assert sorted(u.key for u in left) == ["other/old", "up/new"]
    assert await lc_store.meta.list_parts(ups["up/old"].upload_id) == []
    assert len(await lc_store.meta.list_parts(ups["up/new"].upload_id)) == 1


async def test_locked_versions_are_kept(lc_store: Store) -> None:
    """Expiry never removes a version under retention or a legal hold (object lock); an
    unlocked neighbour under the same rule goes, and a retention that has passed blocks
    nothing."""
    b = await _bucket(lc_store, EXPIRE_LOGS)
    held = await _put(lc_store, b, "logs/held", age_days=30)
    retained = await _put(lc_store, b, "logs/retained", age_days=30)
    lapsed = await _put(lc_store, b, "logs/lapsed", age_days=30)
    plain = await _put(lc_store, b, "logs/plain", age_days=30)
    future, past = NOW + 10 * DAY, NOW - DAY
    for rec, attrs in (
        (held, {"lock-legal-hold": "ON"}),
        (retained, {"lock-retention": f"COMPLIANCE {future}"}),
        (lapsed, {"lock-retention": f"GOVERNANCE {past}"}),
    ):
        shard = shard_of(rec.key, b.shards)
        await lc_store.meta.put_object(b.bucket_id, shard, replace(rec, attrs=attrs))
    report = await _run(lc_store, b)
    assert report.kept_locked == 2
    assert [r.key for r in await _rows(lc_store, b, "logs/held")] == ["logs/held"]
    assert [r.key for r in await _rows(lc_store, b, "logs/retained")] == ["logs/retained"]
    assert await _rows(lc_store, b, "logs/lapsed") == []
    assert await _rows(lc_store, b, plain.key) == []


async def test_a_hold_placed_after_judging_stops_the_removal(lc_store: Store) -> None:
    """The removal is conditional on the attributes the worker judged: a legal hold set
    between the judgement and the delete (same etag and time) keeps the version."""
    b = await _bucket(lc_store, EXPIRE_LOGS)
    judged = await _put(lc_store, b, "logs/raced", age_days=30)
    shard = shard_of(judged.key, b.shards)
    held = replace(judged, attrs={"lock-legal-hold": "ON"})
    await lc_store.meta.put_object(b.bucket_id, shard, held)
    assert not await lc_store.meta.delete_object_if(b.bucket_id, shard, judged)
    assert [r.attrs for r in await _rows(lc_store, b, judged.key)] == [held.attrs]
    assert await lc_store.meta.delete_object_if(b.bucket_id, shard, held)


async def test_deleted_bucket_rows_are_swept(lc_store: Store) -> None:
    live = await _bucket(lc_store)  # no rules: the worker must still leave its rows alone
    kept = await _put(lc_store, live, "kept", age_days=300)
    gone_id = uuid.uuid4().hex
    for i in range(7):
        rec = ObjectRecord(f"orphan{i}", 0, NULL_VERSION, 1, "e", NOW, "owner")
        await lc_store.meta.put_object(gone_id, i % 3, rec)
    up = UploadRecord("orphan-upload", uuid.uuid4().hex, NOW, "owner")
    await lc_store.meta.put_upload(gone_id, up)
    await lc_store.meta.put_part(up.upload_id, PartRecord(1, 5, "e", NOW, "m"))
    report = await run_lifecycle(lc_store, now_ms=NOW)  # every bucket, and the sweep
    assert report.orphan_rows_removed >= 8
    for shard in range(3):
        assert await lc_store.meta.scan_objects(gone_id, shard, limit=10) == []
    assert await lc_store.meta.scan_uploads(gone_id, limit=10) == []
    assert await lc_store.meta.list_parts(up.upload_id) == []
    assert await _rows(lc_store, live, "kept") == [kept]


async def test_two_workers_expire_each_object_once(lc_store: Store) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS, versioning="Enabled", shards=8)
    sem = asyncio.Semaphore(32)

    async def put(i: int) -> ObjectRecord:
        async with sem:
            return await _put(lc_store, b, f"logs/{i:05d}", age_days=5 if i % 2 else 0)

    recs = await asyncio.gather(*(put(i) for i in range(1200)))
    reports = await asyncio.gather(*(_run(lc_store, b, holder=h) for h in ("x", "y", "z")))
    assert sum(r.markers_added for r in reports) == 600
    for rec in recs:
        rows = await _rows(lc_store, b, rec.key)
        if int(rec.key[-5:]) % 2:
            assert [r.delete_marker for r in rows] == [True, False], rec.key
        else:
            assert rows == [rec], rec.key


async def test_days_rule_removes_old_sole_markers(lc_store: Store) -> None:
    """S3: with Days, expired object delete markers are cleaned up once old enough."""
    b = await _bucket(lc_store, EXPIRE_LOGS, versioning="Enabled")
    await _put(lc_store, b, "logs/old-marker", age_days=5, marker=True)
    young = await _put(lc_store, b, "logs/young-marker", age_days=0, marker=True)
    report = await _run(lc_store, b)
    assert report.markers_removed == 1
    assert await _rows(lc_store, b, "logs/old-marker") == []
    assert await _rows(lc_store, b, "logs/young-marker") == [young]


class _OpenLeases:
    """The store's meta with leases that never exclude anyone: what two servers see when a
    lease lapses in the middle of a pass (a stalled holder). The actions themselves must then
    still apply once."""

    def __init__(self, meta: Any) -> None:
        self._meta = meta

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meta, name)

    async def take_lease(self, lease_id: str, holder: str, ttl_seconds: int) -> bool:
        return True

    async def release_lease(self, lease_id: str, holder: str) -> None:
        return None


class _StoreOpenLeases:
    def __init__(self, store: Store) -> None:
        self.meta = _OpenLeases(store.meta)
        self.blocks, self.keys = store.blocks, store.keys


@pytest.mark.parametrize("versioning", ["", "Enabled", "Suspended"])
async def test_actions_apply_once_without_leases(lc_store: Store, versioning: str) -> None:
    b = await _bucket(lc_store, EXPIRE_LOGS, versioning=versioning, shards=2)
    recs = [
        await _put(lc_store, b, f"logs/{i:04d}", age_days=5 if i % 2 else 0) for i in range(300)
    ]
    open_store = cast(Store, _StoreOpenLeases(lc_store))
    reports = await asyncio.gather(
        *(run_lifecycle(open_store, now_ms=NOW, holder=h, only=[b.name]) for h in "abc")
    )
    done = sum(r.markers_added if versioning else r.expired for r in reports)
    assert done == 150
    for rec in recs:
        rows = await _rows(lc_store, b, rec.key)
        if not int(rec.key[-4:]) % 2:
            assert rows == [rec]
        elif not versioning:
            assert rows == []
        elif versioning == "Enabled":
            assert [r.delete_marker for r in rows] == [True, False]
        else:  # Suspended: the marker replaces the "null" version
            assert [r.delete_marker for r in rows] == [True]
