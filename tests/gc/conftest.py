"""Fixtures of the GC and stats tests: the contract suite's store parametrisation (SQLite, and a
real Cassandra when marked `cassandra`) on anyio's pytest plugin.

On Cassandra the session shares one keyspace: tests never assume an empty store, make their own
names with `prefix` and random contents, and assert on their own rows and blocks (or on deltas).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3front.store import open_store
from s3front.store.protocols import Store


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
async def cassandra_store(
    anyio_backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    store = await open_store(request.getfixturevalue("cassandra_url"))
    yield store
    await store.close()


@pytest.fixture
async def sqlite_store(anyio_backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(f"sqlite://{tmp_path / 'store'}")
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def store(request: pytest.FixtureRequest) -> Store:
    fixture: Store = request.getfixturevalue(f"{request.param}_store")
    return fixture


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:16]
