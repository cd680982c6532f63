"""Store contract: write intents (what GC reads to keep off writes in progress)."""

from __future__ import annotations

import asyncio
import time

import pytest

from s3front.store.protocols import Store
from s3front.store.records import IntentRecord

pytestmark = pytest.mark.anyio


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _mine(store: Store, prefix: str) -> list[IntentRecord]:
    # The Cassandra keyspace is shared by the session: look only at this test's rows.
    mine = [i for i in await store.meta.list_intents() if i.intent_id.startswith(prefix)]
    return sorted(mine, key=lambda i: i.intent_id)


async def test_intent_roundtrip_refresh_and_delete(store: Store, prefix: str) -> None:
    now = _now_ms()
    a = IntentRecord(f"{prefix}-a", now, now + 60_000)
    b = IntentRecord(f"{prefix}-b", now + 5, now + 60_000)
    await store.meta.put_intent(a)
    await store.meta.put_intent(b)
    assert await _mine(store, prefix) == [a, b]

    refreshed = IntentRecord(a.intent_id, a.started_ms, now + 120_000)
    await store.meta.put_intent(refreshed)  # a refresh replaces the row, keeps one
    assert await _mine(store, prefix) == [refreshed, b]

    await store.meta.delete_intent(a.intent_id)
    await store.meta.delete_intent(f"{prefix}-never-written")  # a no-op
    assert await _mine(store, prefix) == [b]
    await store.meta.delete_intent(b.intent_id)
    assert await _mine(store, prefix) == []


async def test_intent_is_kept_until_it_expires(store: Store, prefix: str) -> None:
    """A backend may drop an expired intent (Cassandra's TTL) but never one that is live."""
    now = _now_ms()
    short = IntentRecord(f"{prefix}-short", now, now + 2500)
    await store.meta.put_intent(short)
    assert await _mine(store, prefix) == [short]
    await asyncio.sleep(1.5)  # a TTL counted in the wrong unit, or rounded down, loses it here
    assert await _mine(store, prefix) == [short]
    await store.meta.delete_intent(short.intent_id)
