"""Fixtures of the GC and stats tests: the contract suite's store parametrisation (SQLite, and a
real Cassandra when marked `cassandra`), see `tests/lib/s3front_store_fixtures.py`.

Tests never assume an empty store: they make their own names with `prefix` and random contents,
and assert on their own rows and blocks (or on deltas).

On Cassandra they get a keyspace of their own (`cassandra_url` is overridden for this
directory): a GC pass keeps everything stamped after the oldest live write intent, and other
suites on the session's keyspace kill servers mid-upload on purpose (crash and shutdown tests),
leaving intents that hold every pass back until they expire (15 minutes). Then a test that
needs a pass to free its own garbage could not tell a safe pass from a broken one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from s3front_keyspaces import own_keyspace
from s3front_store_fixtures import *  # noqa: F403


@pytest.fixture(scope="session")
def cassandra_url(cassandra_url: str) -> Iterator[str]:
    with own_keyspace(cassandra_url, "s3gc") as url:
        yield url
