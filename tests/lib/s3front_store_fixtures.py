"""Store fixtures shared by the contract suite and the GC tests: `store` is parametrised over
SQLite and a real Cassandra (marked `cassandra`), on anyio's pytest plugin (it ships with anyio,
a starlette dependency) on asyncio. `anyio_backend` is session-scoped so that one event loop can
serve a session-scoped Cassandra store: the driver's connection is bound to the loop it was
opened on.

On Cassandra the whole session shares one keyspace, so every test makes its own names with
`prefix` and never assumes an empty store. A conftest takes these with
`from s3front_store_fixtures import *`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from s3front.store import open_store
from s3front.store.protocols import Store

__all__ = ["anyio_backend", "cassandra_store", "prefix", "sqlite_store", "store"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
async def cassandra_store(
    anyio_backend: str, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    # cassandra_url: session fixture in tests/conftest.py (a keyspace with the schema applied).
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
    # A plain fixture picking an async one: getfixturevalue must not run inside the event loop.
    fixture: Store = request.getfixturevalue(f"{request.param}_store")
    return fixture


@pytest.fixture
def prefix() -> str:
    """A prefix unique to this test for every name and id it makes (Cassandra shares one keyspace
    across the session). Bucket-name safe: lower-case letters and digits."""
    return "t" + uuid.uuid4().hex[:16]
