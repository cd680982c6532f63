"""Helpers for the Cassandra backend tests (the cluster itself comes from tests/conftest.py)."""

from __future__ import annotations

import secrets

import pytest

from s3front.store.cassandra.session import parse_url


@pytest.fixture
def fresh_keyspace_url(cassandra_url: str) -> str:
    """A URL on the session's cluster naming a keyspace that does not exist yet."""
    cfg = parse_url(cassandra_url)
    return cassandra_url.replace(f"/{cfg.keyspace}?", f"/s3t_{secrets.token_hex(6)}?")
