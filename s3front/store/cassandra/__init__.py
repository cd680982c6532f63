"""The Cassandra store: production backend of the store protocols.

    store = await open_cassandra("cassandra://h1,h2:9042/s3front?dc=dc1")

Modules: `session` (URL, driver cluster, asyncio bridge, error mapping), `meta` (buckets, object
index, manifests, uploads, parts), `blocks`, `keys`. The tables are created by
`s3front schema apply` (`schema`, CQL in schema/cassandra/); opening a store never
changes the schema, it only checks that the keyspace is recent enough.
"""

from __future__ import annotations

import asyncio

from cassandra import InvalidRequest

from s3front.store.cassandra.blocks import CassandraBlocks
from s3front.store.cassandra.keys import CassandraKeys
from s3front.store.cassandra.meta import CassandraMeta
from s3front.store.cassandra.schema import REQUIRED_VERSION, read_version
from s3front.store.cassandra.session import CassandraConfig, Db, parse_url
from s3front.store.errors import SchemaOutdated


class CassandraStore:
    """The Store protocol: the three table groups over one driver session."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._ping = db.prepare("SELECT release_version FROM system.local")
        self._meta = CassandraMeta(db)
        self._blocks = CassandraBlocks(db)
        self._keys = CassandraKeys(db)

    @property
    def meta(self) -> CassandraMeta:
        return self._meta

    @property
    def blocks(self) -> CassandraBlocks:
        return self._blocks

    @property
    def keys(self) -> CassandraKeys:
        return self._keys

    async def ping(self) -> None:
        await self._db.run(self._ping)

    async def close(self) -> None:
        await asyncio.to_thread(self._db.shutdown)


async def open_cassandra(url: str) -> CassandraStore:
    """Connect, check the schema version, prepare every statement.

    Raises StoreUnavailable / StoreTimeout when the cluster cannot be reached, SchemaOutdated
    when the keyspace is missing or older than this server needs, ValueError for a bad URL.
    """
    cfg = parse_url(url)
    return await asyncio.to_thread(_open, cfg)


def _open(cfg: CassandraConfig) -> CassandraStore:
    db = Db.connect(cfg)
    try:
        version = read_version(db, cfg.keyspace)
        if version is None or version < REQUIRED_VERSION:
            found = "does not exist" if version is None else f"is at version {version}"
            raise SchemaOutdated(
                f"keyspace {cfg.keyspace!r} {found}, this server needs schema version "
                f"{REQUIRED_VERSION}: run `s3front schema apply`"
            )
        try:
            db.prepare_in(cfg.keyspace)
        except InvalidRequest as exc:
            # The version is recorded but a table is not served yet: a schema job is still
            # spreading its changes over the cluster.
            raise SchemaOutdated(
                f"keyspace {cfg.keyspace!r} is being changed by a schema job: {exc}"
            ) from exc
        return CassandraStore(db)
    except BaseException:
        db.shutdown()
        raise


__all__ = ["CassandraConfig", "CassandraStore", "open_cassandra", "parse_url"]
