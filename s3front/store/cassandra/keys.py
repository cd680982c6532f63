"""KeyStore on Cassandra: table `access_keys`, one partition per access key id."""

from __future__ import annotations

from s3front.store.cassandra.session import Db, Row
from s3front.store.records import AccessKeyRecord

_KEY_COLS = "access_key, secret, tenant, display_name, created_ms, status"
_KEY_PUT = f"INSERT INTO access_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?)"
_KEY_GET = f"SELECT {_KEY_COLS} FROM access_keys WHERE access_key = ?"
_KEY_ALL = f"SELECT {_KEY_COLS} FROM access_keys"
_KEY_DELETE = "DELETE FROM access_keys WHERE access_key = ?"


class CassandraKeys:
    """The KeyStore protocol over the statements above."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._put = db.prepare(_KEY_PUT)
        self._get = db.prepare(_KEY_GET)
        self._all = db.prepare(_KEY_ALL)
        self._delete = db.prepare(_KEY_DELETE)

    async def put_key(self, rec: AccessKeyRecord) -> None:
        params = (
            rec.access_key,
            rec.secret,
            rec.tenant,
            rec.display_name,
            rec.created_ms,
            rec.status,
        )
        await self._db.run(self._put, params)

    async def get_key(self, access_key: str) -> AccessKeyRecord | None:
        rows = await self._db.rows(self._get, (access_key,))
        return _key(rows[0]) if rows else None

    async def list_keys(self) -> list[AccessKeyRecord]:
        # A full scan (paged by the driver) in token order; sorted so callers see a stable list.
        rows = await self._db.rows(self._all)
        return sorted((_key(r) for r in rows), key=lambda k: k.access_key)

    async def delete_key(self, access_key: str) -> None:
        await self._db.run(self._delete, (access_key,))


def _key(r: Row) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key=r["access_key"],
        secret=r["secret"],
        tenant=r["tenant"],
        display_name=r["display_name"],
        created_ms=r["created_ms"],
        status=r["status"] or "active",
    )
