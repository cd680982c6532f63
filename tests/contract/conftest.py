"""Fixtures of the store contract suite, which runs unchanged on every backend: see
`tests/lib/s3front_store_fixtures.py`."""

from s3front_store_fixtures import *  # noqa: F403
