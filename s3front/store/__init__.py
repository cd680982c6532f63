"""Store backends behind the protocols in `s3front.store.protocols`.

A store is named by one URL:
  sqlite:///path/to/dir                 embedded (default ./data)
  cassandra://h1,h2:9042/keyspace?dc=dc1&consistency=LOCAL_QUORUM&...
"""

from __future__ import annotations

from s3front.store.protocols import BlockStore, KeyStore, MetaStore, Store


async def open_store(url: str) -> Store:
    """Connect to the store named by `url` (schema must already be in place for Cassandra)."""
    if url.startswith("sqlite:"):
        from s3front.store import sqlite

        return await sqlite.open_sqlite(url)
    if url.startswith("cassandra:"):
        from s3front.store import cassandra

        return await cassandra.open_cassandra(url)
    raise ValueError(
        f"unknown store URL scheme: {url.split(':', 1)[0]!r} (use sqlite: or cassandra:)"
    )


__all__ = ["BlockStore", "KeyStore", "MetaStore", "Store", "open_store"]
