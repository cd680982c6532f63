"""A Cassandra keyspace of a test's own, beside the session's shared one.

Suites take one when what they do would disturb, or be disturbed by, the others on the shared
keyspace: GC passes held back by intents that crash tests leave, the lifecycle sweep of
bucket-less rows, a master key that reseals every secret, a root key that revokes the suite's.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

from s3front.store.cassandra.schema import apply_schema_sync
from s3front.store.cassandra.session import Db, parse_url


@contextlib.contextmanager
def own_keyspace(base_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new keyspace (schema applied) on `base_url`'s cluster, dropped afterwards."""
    hosts, _, query = base_url.partition("?")
    keyspace = f"{prefix}_{secrets.token_hex(6)}"
    url = f"{hosts.rsplit('/', 1)[0]}/{keyspace}?{query}"
    apply_schema_sync(url)
    try:
        yield url
    finally:
        db = Db.connect(parse_url(url, require_keyspace=False))
        try:
            db.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        finally:
            db.shutdown()
