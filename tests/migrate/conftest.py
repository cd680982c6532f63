"""Fixtures of the migration tests: a populated embedded source and a target store URL.

`target_url` runs each test against an embedded target and a real Cassandra one (the session's
keyspace: every test uses names and ids of its own, and the verification looks only at what the
source has). Tests that run GC or need a schema version of their own take `own_keyspace`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from migrate_sources import Populated, populate
from s3front_keyspaces import own_keyspace
from s3front_store_fixtures import anyio_backend, prefix  # noqa: F401


@pytest.fixture
async def source(anyio_backend: str, tmp_path: Path, prefix: str) -> Populated:  # noqa: F811
    return await populate(tmp_path / "source", prefix)


@pytest.fixture(params=["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'target'}"
    url: str = request.getfixturevalue("cassandra_url")
    return url


@pytest.fixture
def fresh_keyspace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A keyspace of this test's own (schema applied), dropped afterwards. Statements may take
    a minute: creating and dropping keyspaces on the shared, busy node can outlast 10 s."""
    base: str = request.getfixturevalue("cassandra_url")
    base += ("&" if "?" in base else "?") + "request_timeout=60"
    with own_keyspace(base, "s3mig") as url:
        yield url
