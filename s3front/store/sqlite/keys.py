"""The SQLite access key table (the KeyStore protocol)."""

from __future__ import annotations

from s3front.store.records import AccessKeyRecord
from s3front.store.sqlite.session import Db, Rows, first, names

KEYS = Rows("access_keys", AccessKeyRecord, names(AccessKeyRecord))


class SqliteKeys:
    """KeyStore over the store's database."""

    def __init__(self, db: Db) -> None:
        self._db = db

    async def put_key(self, rec: AccessKeyRecord) -> None:
        await self._db.exec(KEYS.replace, KEYS.params(rec))

    async def get_key(self, access_key: str) -> AccessKeyRecord | None:
        return first(
            KEYS, await self._db.point(KEYS.select + " WHERE access_key = ?", (access_key,))
        )

    async def list_keys(self) -> list[AccessKeyRecord]:
        return [KEYS.load(r) for r in await self._db.rows(KEYS.select + " ORDER BY access_key", ())]

    async def delete_key(self, access_key: str) -> None:
        await self._db.exec("DELETE FROM access_keys WHERE access_key = ?", (access_key,))
