"""Fixtures of the objects-layer tests: a real SQLite store (anyio's pytest plugin, asyncio)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3front.store import open_store
from s3front.store.protocols import Store
from s3front.store.records import BucketRecord


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(anyio_backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(f"sqlite://{tmp_path / 'store'}")
    yield s
    await s.close()


@pytest.fixture
def bucket() -> BucketRecord:
    """A bucket row of 8 shards (the objects layer needs only its id and shard count)."""
    return BucketRecord(
        name="b-" + uuid.uuid4().hex[:8],
        bucket_id=uuid.uuid4().hex,
        owner="owner",
        created_ms=0,
        region="us-east-1",
        shards=8,
        versioning="Enabled",
    )
