"""Fixtures of the lifecycle tests.

The worker sweeps rows of bucket ids that have no bucket row, across the whole store, so these
tests never share a Cassandra keyspace with other tests (the session's `cassandra_url` holds
the contract suite's bucket-less rows): `lc_cassandra_url` is a keyspace of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from s3front_keyspaces import own_keyspace

from s3front.store import open_store
from s3front.store.protocols import Store


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def lc_cassandra_url(cassandra_url: str) -> Iterator[str]:
    with own_keyspace(cassandra_url, "s3lc") as url:
        yield url


@pytest.fixture
async def lc_store(
    anyio_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    url = (
        request.getfixturevalue("lc_cassandra_url")
        if request.param == "cassandra"
        else f"sqlite://{tmp_path / 'store'}"
    )
    store = await open_store(url)
    yield store
    await store.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lc_store" in metafunc.fixturenames:
        metafunc.parametrize(
            "lc_store",
            ["sqlite", pytest.param("cassandra", marks=pytest.mark.cassandra)],
            indirect=True,
        )
