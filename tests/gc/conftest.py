"""Fixtures of the GC and stats tests: the contract suite's store parametrisation (SQLite, and a
real Cassandra when marked `cassandra`), see `tests/lib/s3front_store_fixtures.py`.

Tests never assume an empty store: they make their own names with `prefix` and random contents,
and assert on their own rows and blocks (or on deltas).
"""

from s3front_store_fixtures import *  # noqa: F403
