"""Completed multipart uploads' results on Cassandra (schema/cassandra/0005_mp_completions.cql).

One single-row partition per completed upload, written with a TTL so that it lapses by itself;
`s3front.objects.completions` decides what goes in it.
"""

from __future__ import annotations

import time
from typing import Any

from s3front.store.cassandra.session import Db
from s3front.store.records import CompletionRecord

_COLS = "parts_digest, etag, version_id, expires_ms, checksums, headers"
_PUT = (
    f"INSERT INTO mp_completions (bucket_id, key, upload_id, {_COLS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
)
_GET = f"SELECT {_COLS} FROM mp_completions WHERE bucket_id = ? AND key = ? AND upload_id = ?"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _map(value: Any) -> dict[str, str]:
    return dict(value) if value else {}


class CassandraCompletions:
    def __init__(self, db: Db) -> None:
        self._db = db
        self._put = db.prepare(_PUT)
        self._get = db.prepare(_GET)

    async def put(self, bucket_id: str, rec: CompletionRecord) -> None:
        # The TTL is what drops the row; `get` also checks expires_ms, so a replica clock that
        # runs slow only keeps it a little longer, never serves it past its time.
        ttl = max(1, -(-(rec.expires_ms - _now_ms()) // 1000))
        params = (
            bucket_id, rec.key, rec.upload_id, rec.parts_digest, rec.etag, rec.version_id,
            rec.expires_ms, dict(rec.checksums), dict(rec.headers), ttl,
        )  # fmt: skip
        await self._db.run(self._put, params)

    async def get(self, bucket_id: str, key: str, upload_id: str) -> CompletionRecord | None:
        rows = await self._db.rows(self._get, (bucket_id, key, upload_id))
        if not rows or rows[0]["expires_ms"] <= _now_ms():
            return None
        r = rows[0]
        return CompletionRecord(
            key=key,
            upload_id=upload_id,
            parts_digest=r["parts_digest"],
            etag=r["etag"],
            version_id=r["version_id"],
            expires_ms=r["expires_ms"],
            checksums=_map(r["checksums"]),
            headers=_map(r["headers"]),
        )
