"""Server access log delivery (s3front.access_log_delivery) on a real SQLite store: records
become objects in the target bucket, memory stays under the cap (the rest is dropped and
counted), a store that fails is retried, and a target that changed hands gets nothing."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from typing import Any

import anyio
import pytest

from s3front import metrics
from s3front.access_log_delivery import AccessLogDelivery
from s3front.api import sse
from s3front.config import Settings
from s3front.objects.encryption import sealing_of
from s3front.objects.reader import read_all
from s3front.server_access_log import BUCKET_ATTR, AccessRecord, LoggingConfig
from s3front.store.errors import StoreUnavailable
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord, ObjectRecord

pytestmark = pytest.mark.anyio

OWNER = "a" * 64


def _bucket(name: str, owner: str = OWNER, attrs: dict[str, str] | None = None) -> BucketRecord:
    return BucketRecord(
        name=name,
        bucket_id=uuid.uuid4().hex,
        owner=owner,
        created_ms=0,
        region="us-east-1",
        shards=4,
        attrs=attrs or {},
    )


def _record(bucket: BucketRecord, n: int) -> AccessRecord:
    return AccessRecord(
        bucket_owner=bucket.owner,
        bucket=bucket.name,
        received=1_700_000_000.0,
        remote_ip="127.0.0.1",
        requester=OWNER,
        request_id=f"REQ{n:013d}",
        operation="REST.GET.OBJECT",
        key=f"k{n}",
        method="GET",
        raw_path=f"/{bucket.name}/k{n}",
        raw_query="",
        http_version="1.1",
        status=200,
        error_code="",
        bytes_sent=1,
        object_size=1,
        total_ms=1,
        turn_around_ms=1,
        referer="",
        user_agent="test",
        version_id="",
        host_id="h",
        signature_version="SigV4",
        authentication_type="AuthHeader",
        host_header="localhost",
    )


async def _pair(store: Store, prefix: str = "logs/") -> tuple[BucketRecord, BucketRecord]:
    target = _bucket("t-" + uuid.uuid4().hex[:8])
    config = LoggingConfig(target.name, prefix)
    source = _bucket("s-" + uuid.uuid4().hex[:8], attrs={BUCKET_ATTR: config.encode()})
    for b in (source, target):
        assert await store.meta.insert_bucket(b)
    return source, target


async def _objects(store: Store, bucket: BucketRecord) -> list[ObjectRecord]:
    found: list[ObjectRecord] = []
    for shard in range(bucket.shards):
        found += await store.meta.scan_objects(
            bucket.bucket_id, shard, limit=1000, with_inline=True
        )
    return found


async def _lines(store: Store, bucket: BucketRecord) -> list[str]:
    lines: list[str] = []
    for rec in await _objects(store, bucket):
        lines += (await read_all(store.meta, store.blocks, rec)).decode().splitlines()
    return lines


def _count(outcome: str) -> float:
    return metrics.ACCESS_LOG_RECORDS.values.get((outcome,), 0.0)


async def _note(d: AccessLogDelivery, source: BucketRecord, n: int) -> None:
    await d.note(source.name, lambda b: _record(b, n))


async def test_records_become_one_object_per_flush(store: Store) -> None:
    source, target = await _pair(store)
    d = AccessLogDelivery(store, Settings())
    delivered = _count("delivered")
    for n in range(5):
        await _note(d, source, n)
    assert await _objects(store, target) == []  # held until the flush
    await d.flush()
    objects = await _objects(store, target)
    assert len(objects) == 1
    assert objects[0].key.startswith("logs/") and objects[0].owner == OWNER
    assert objects[0].headers["content-type"] == "text/plain"
    lines = await _lines(store, target)
    assert [line.split()[6] for line in lines] == [f"REQ{n:013d}" for n in range(5)]
    assert _count("delivered") - delivered == 5
    assert d.held_bytes == 0


async def test_a_bucket_without_logging_gets_no_records(store: Store) -> None:
    plain = _bucket("p-" + uuid.uuid4().hex[:8])
    await store.meta.insert_bucket(plain)
    d = AccessLogDelivery(store, Settings())
    await _note(d, plain, 1)
    await d.note("no-such-bucket-" + uuid.uuid4().hex[:6], lambda b: _record(b, 2))
    assert d.held_bytes == 0


async def test_memory_is_capped_and_the_rest_is_dropped_and_counted(store: Store) -> None:
    source, target = await _pair(store)
    limit = 4096
    d = AccessLogDelivery(store, Settings(access_log_buffer_bytes=limit))
    dropped = _count("dropped_buffer_full")
    for n in range(200):  # ~250 bytes each: ~50 KB offered
        await _note(d, source, n)
        assert d.held_bytes <= limit
    kept = 200 - int(_count("dropped_buffer_full") - dropped)
    assert 0 < kept < 200
    await d.flush()
    assert len(await _lines(store, target)) == kept


async def test_a_full_batch_is_delivered_without_waiting_for_the_tick(store: Store) -> None:
    source, target = await _pair(store)
    d = AccessLogDelivery(store, Settings())
    n = 0
    while not await _objects(store, target):
        assert n < 20_000, "no early delivery after more than a batch of records"
        await _note(d, source, n)
        n += 1
        if n % 500 == 0:
            await anyio.sleep(0.01)  # let the write task run
    assert n > 1000  # a batch is ~1 MiB of lines, not a handful


class _FailingMeta:
    """The real MetaStore, but get_bucket fails `failures` times (the store is down)."""

    def __init__(self, meta: Any, failures: int) -> None:
        self._meta = meta
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meta, name)

    async def get_bucket(self, name: str) -> BucketRecord | None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("down")
        result: BucketRecord | None = await self._meta.get_bucket(name)
        return result


class _Store:
    def __init__(self, store: Store, meta: _FailingMeta) -> None:
        self.meta = meta
        self.blocks = store.blocks
        self.keys = store.keys


async def test_a_store_outage_is_retried_at_the_next_flush(store: Store) -> None:
    source, target = await _pair(store)
    d = AccessLogDelivery(store, Settings())
    failing = _FailingMeta(store.meta, failures=0)
    d._store = _Store(store, failing)  # type: ignore[assignment]
    for n in range(3):
        await _note(d, source, n)
        failing.failures = 1 if n < 2 else 0  # the first two deliveries find the store down
        await d.flush()
        if n < 2:
            assert await _objects(store, target) == []
            assert d.held_bytes > 0  # kept for a retry, within the cap
    # Retried and joined: one object holds the records of all three ticks, in order.
    objects = await _objects(store, target)
    assert len(objects) == 1
    lines = await _lines(store, target)
    assert [line.split()[6] for line in lines] == [f"REQ{n:013d}" for n in range(3)]
    assert d.held_bytes == 0


async def test_a_target_that_changed_hands_gets_nothing(store: Store) -> None:
    source, target = await _pair(store)
    d = AccessLogDelivery(store, Settings())
    await _note(d, source, 1)
    # The target is deleted and its name taken by another tenant before the delivery.
    await store.meta.delete_bucket(target.name)
    theirs = _bucket(target.name, owner="b" * 64)
    assert await store.meta.insert_bucket(theirs)
    dropped = _count("dropped_target_invalid")
    await d.flush()
    assert await _objects(store, theirs) == []
    assert _count("dropped_target_invalid") - dropped == 1
    assert d.held_bytes == 0


async def test_a_versioned_target_gets_a_new_version_per_object(store: Store) -> None:
    source, target = await _pair(store)
    versioned = replace(target, versioning="Enabled")
    await store.meta.update_bucket(versioned)
    d = AccessLogDelivery(store, Settings())
    for n in range(2):
        await _note(d, source, n)
        await d.flush()
    objects = await _objects(store, versioned)
    assert len(objects) == 2
    assert all(o.version_id != "null" for o in objects)
    assert len(await _lines(store, versioned)) == 2


async def test_the_targets_default_encryption_applies(store: Store) -> None:
    source, target = await _pair(store)
    default = '{"alg":"AES256","kid":"","bk":false}'
    encrypted = replace(target, attrs={sse.BUCKET_ATTR: default})
    await store.meta.update_bucket(encrypted)
    d = AccessLogDelivery(store, Settings(master_key=secrets.token_hex(32)))
    await _note(d, source, 1)
    await d.flush()
    (obj,) = await _objects(store, encrypted)
    assert sealing_of(obj.attrs) is not None
    assert obj.inline is not None and b"REQ" not in obj.inline  # sealed at rest
