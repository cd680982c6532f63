"""Store contract: completed uploads' results (`put_completion` / `get_completion`), kept until
their expiry and then gone (Cassandra: a TTL; SQLite: the expiry column, swept on write)."""

from __future__ import annotations

import time

import anyio
import pytest

from s3front.store.protocols import Store
from s3front.store.records import CompletionRecord

pytestmark = pytest.mark.anyio


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def completion(prefix: str, expires_ms: int, n: int = 0) -> CompletionRecord:
    return CompletionRecord(
        key=f"{prefix}/key é",
        upload_id=f"{prefix}-upload-{n}",
        parts_digest="ab" * 32,
        etag="0123456789abcdef0123456789abcdef-2",
        version_id="v1",
        expires_ms=expires_ms,
        checksums={"CRC32": "AAAAAA==", "type": "FULL_OBJECT"},
        headers={"x-amz-version-id": "v1"},
    )


async def test_completion_kept_and_read_back(store: Store, prefix: str) -> None:
    rec = completion(prefix, now_ms() + 600_000)
    await store.meta.put_completion("bucket-" + prefix, rec)
    assert await store.meta.get_completion("bucket-" + prefix, rec.key, rec.upload_id) == rec
    # Another bucket, key or upload id: nothing.
    assert await store.meta.get_completion("other-" + prefix, rec.key, rec.upload_id) is None
    assert await store.meta.get_completion("bucket-" + prefix, rec.key + "x", rec.upload_id) is None
    assert await store.meta.get_completion("bucket-" + prefix, rec.key, rec.upload_id + "x") is None


async def test_completion_with_empty_maps(store: Store, prefix: str) -> None:
    rec = CompletionRecord(
        prefix, prefix + "-u", "cd" * 32, "e" * 32 + "-1", "null", now_ms() + 600_000
    )
    await store.meta.put_completion(prefix, rec)
    assert await store.meta.get_completion(prefix, rec.key, rec.upload_id) == rec


async def test_completion_gone_after_its_expiry(store: Store, prefix: str) -> None:
    rec = completion(prefix, now_ms() + 1500)
    await store.meta.put_completion(prefix, rec)
    assert await store.meta.get_completion(prefix, rec.key, rec.upload_id) == rec
    await anyio.sleep(2.6)  # past the expiry, and past a whole-second TTL
    assert await store.meta.get_completion(prefix, rec.key, rec.upload_id) is None
    # A later completion (which sweeps on SQLite) is unaffected, the expired one stays gone.
    later = completion(prefix, now_ms() + 600_000, n=1)
    await store.meta.put_completion(prefix, later)
    assert await store.meta.get_completion(prefix, rec.key, rec.upload_id) is None
    assert await store.meta.get_completion(prefix, later.key, later.upload_id) == later
